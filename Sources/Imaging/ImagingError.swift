import Support

/// Why an image could not be turned into pixels. `source` names the file (or "camera frame", or the name
/// the caller gave in-memory bytes), so the message alone says which input failed and how.
public struct ImagingError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        /// The file could not be read at all.
        case unreadable(SystemError)
        /// Zero bytes.
        case empty
        /// The bytes are not a format DogDoor decodes; the text says what they look like
        /// ("GIF image", "HEIF/AVIF image (brand 'heic')", "unknown bytes 0x47 0x49 ...").
        case unsupportedFormat(String)
        /// The codec rejected the data; `reason` is the codec's own message.
        case corrupt(ImageFormat, reason: String)
        /// The data ends before the image does.
        case truncated(ImageFormat, reason: String)
        /// An animation (DogDoor classifies still images; extract a frame first).
        case animated(ImageFormat)
        /// A valid file using a feature the decoder does not handle.
        case unsupportedFeature(ImageFormat, reason: String)
        /// Larger than the decoder's pixel limit (a defence against decompression bombs).
        case tooLarge(width: Int, height: Int, maximumPixels: Int)
        /// Wider or taller than the caller allows (a camera frame larger than the negotiated size).
        case largerThanExpected(width: Int, height: Int, maximumWidth: Int, maximumHeight: Int)
        /// A camera frame whose size does not match its declared format and dimensions.
        case invalidFrame(String)
        /// An encoder was called with inconsistent arguments (sample count, quality).
        case invalidArgument(String)
    }

    /// The file path, or a caller-chosen name for in-memory data.
    public var source: String
    public var kind: Kind

    public init(source: String, kind: Kind) {
        self.source = source
        self.kind = kind
    }

    public var description: String {
        let what: String
        switch kind {
        case .unreadable(let error): return error.description
        case .empty: what = "empty file"
        case .unsupportedFormat(let found): what = "not a JPEG, PNG or WebP image: \(found)"
        case .corrupt(let format, let reason): what = "corrupt \(format.name) data: \(reason)"
        case .truncated(let format, let reason): what = "truncated \(format.name) data: \(reason)"
        case .animated(let format): what = "animated \(format.name) is not supported (use a still image)"
        case .unsupportedFeature(let format, let reason): what = "unsupported \(format.name): \(reason)"
        case .tooLarge(let width, let height, let limit):
            what = "\(width)x\(height) image exceeds the limit of \(limit) pixels"
        case .largerThanExpected(let width, let height, let maximumWidth, let maximumHeight):
            what = "\(width)x\(height) image is larger than the expected \(maximumWidth)x\(maximumHeight)"
        case .invalidFrame(let reason): what = "invalid frame: \(reason)"
        case .invalidArgument(let reason): what = "invalid argument: \(reason)"
        }
        return "\(source): \(what)"
    }
}

/// Runs `body` on the bytes of `array` with a typed error (the standard library's `withUnsafeBytes`
/// only rethrows untyped errors).
func withBytes<R>(
    _ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ImagingError) -> R
) throws(ImagingError) -> R {
    try array.withUnsafeBytes { bytes in Result { () throws(ImagingError) -> R in try body(bytes) } }.get()
}
