/// How `ImageDecoder` turns bytes into an `Image`.
public struct DecodeOptions: Sendable, Equatable {
    /// JPEG only: when set, decode with libjpeg's DCT scaling at the smallest scale n/8 (n = 1...8) whose
    /// output keeps both sides at least this long (or at full size when even 8/8 does not). Decoding a
    /// 4000x3000 photo at 1/8 is an order of magnitude faster than at full size, and the scaled IDCT is a
    /// clean low-pass reduction. nil decodes every pixel, as Pillow (and so Keras's `load_img`) does.
    public var minimumSide: Int?
    /// Apply the EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF) so that the image is upright.
    /// Pillow's `open` (and so Keras's `load_img`) does not.
    public var applyOrientation: Bool
    /// Accept JPEG data that ends early, decoding what is there (libjpeg fills the rest with gray).
    /// By default a truncated file is an error, as it is for Pillow.
    public var allowTruncated: Bool
    /// Images with more pixels than this are refused before any pixel memory is allocated.
    public var maximumPixels: Int
    /// Progressive JPEGs with more scans than this are refused (crafted files can hold thousands).
    public var maximumProgressiveScans: Int
    /// Files larger than this are not read.
    public var maximumFileBytes: Int
    /// Images wider or taller than this are refused before any pixel memory is allocated (a camera frame
    /// may not be larger than the size negotiated with the camera).
    public var maximumWidth: Int = .max
    public var maximumHeight: Int = .max

    public init(
        minimumSide: Int? = nil, applyOrientation: Bool = true, allowTruncated: Bool = false,
        maximumPixels: Int = 100_000_000, maximumProgressiveScans: Int = 500,
        maximumFileBytes: Int = 256 << 20
    ) {
        self.minimumSide = minimumSide
        self.applyOrientation = applyOrientation
        self.allowTruncated = allowTruncated
        self.maximumPixels = maximumPixels
        self.maximumProgressiveScans = maximumProgressiveScans
        self.maximumFileBytes = maximumFileBytes
    }

    /// Memory libjpeg may take for its large buffers: 8 bytes per allowed pixel (a progressive file keeps 2
    /// bytes per DCT coefficient for every component of the whole image), at least 64 MiB.
    public var maximumDecoderMemory: Int {
        let (bytes, overflow) = maximumPixels.multipliedReportingOverflow(by: 8)
        return overflow ? Int.max : max(64 << 20, bytes)
    }

    /// The DCT scale numerator (over 8) for a JPEG of the given full size.
    public func jpegScaleEighths(width: Int, height: Int) -> Int {
        guard let minimumSide, minimumSide > 0 else { return 8 }
        for n in 1...8 {
            // libjpeg rounds scaled dimensions up (jdiv_round_up).
            let w = (width * n + 7) / 8, h = (height * n + 7) / 8
            if w >= minimumSide && h >= minimumSide { return n }
        }
        return 8
    }
}
