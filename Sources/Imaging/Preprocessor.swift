import Support

/// A preprocessing configuration that cannot be used.
public enum PreprocessingError: Error, Equatable, CustomStringConvertible {
    /// A model asks for a resize method this build does not implement.
    case unknownResizeMethod(String)
    /// A model asks for a centering this build does not implement.
    case unknownCentering(String)
    case invalidSide(Int)
    case invalidAugmentation(String)

    public var description: String {
        switch self {
        case .unknownResizeMethod(let name):
            "unknown resize method '\(name)' (this build implements \(ResizeMethod.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .unknownCentering(let name):
            "unknown centering '\(name)' (this build implements \(Centering.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .invalidSide(let side): "input side \(side) is not between 1 and 4096"
        case .invalidAugmentation(let reason): "invalid augmentation: \(reason)"
        }
    }
}

/// Everything between an image and the network's input: resize to `side` x `side`, optional augmentation
/// (training only), centering. Input layout: `side * side * 3` Float32, HWC (NHWC without N), RGB for
/// samplewise centering (BGR for caffe).
///
/// The trainer and the daemon build this from the same recorded names, so the daemon feeds the network
/// exactly what it was trained on.
public struct Preprocessor: Sendable, Equatable {
    public var resize: ResizeMethod
    public var centering: Centering
    public var side: Int
    /// Decode JPEGs at full size and ignore EXIF orientation, exactly as Keras's `load_img` does, so that
    /// `.nearest` or `.bilinear` reproduce a Keras pipeline bit for bit. Off (the default), JPEGs are
    /// decoded with DCT scaling to the smallest size that still covers `side` on both axes, and photos are
    /// turned upright. Both the trainer and the daemon must use the same setting.
    public var exactKerasDecode: Bool

    public init(
        resize: ResizeMethod = .default, centering: Centering = .samplewise, side: Int = 224,
        exactKerasDecode: Bool = false
    ) {
        precondition(side > 0 && side <= 4096, "input side must be between 1 and 4096")
        self.resize = resize
        self.centering = centering
        self.side = side
        self.exactKerasDecode = exactKerasDecode
    }

    /// The preprocessing a model file names; throws for names this build does not implement (the daemon
    /// refuses such models).
    public init(
        resizeName: String, centeringName: String, side: Int = 224, exactKerasDecode: Bool = false
    ) throws(PreprocessingError) {
        guard let resize = ResizeMethod(rawValue: resizeName) else { throw .unknownResizeMethod(resizeName) }
        guard let centering = Centering(rawValue: centeringName) else { throw .unknownCentering(centeringName) }
        guard side > 0 && side <= 4096 else { throw .invalidSide(side) }
        self.init(resize: resize, centering: centering, side: side, exactKerasDecode: exactKerasDecode)
    }

    /// Floats per input image.
    public var valueCount: Int { side * side * 3 }

    /// How files and MJPEG frames are decoded for this preprocessing.
    public var decodeOptions: DecodeOptions {
        exactKerasDecode
            ? DecodeOptions(minimumSide: nil, applyOrientation: false)
            : DecodeOptions(minimumSide: side, applyOrientation: true)
    }

    /// Writes the network input for `image` into `output` (`valueCount` floats), applying `augmentation`
    /// after the resize and before centering.
    public func write(
        _ image: Image, augmentation: AugmentationParameters? = nil, into output: UnsafeMutablePointer<Float>
    ) {
        if let augmentation, augmentation != .identity {
            let resized = UnsafeMutablePointer<Float>.allocate(capacity: valueCount)
            defer { resized.deallocate() }
            resize.resize(image, width: side, height: side, into: resized)
            augmentation.apply(to: resized, height: side, width: side, channels: 3, into: output)
        } else {
            resize.resize(image, width: side, height: side, into: output)
        }
        centering.apply(to: UnsafeMutableBufferPointer(start: output, count: valueCount))
    }

    /// The network input for `image`.
    public func input(from image: Image, augmentation: AugmentationParameters? = nil) -> [Float] {
        [Float](unsafeUninitializedCapacity: valueCount) { buffer, count in
            write(image, augmentation: augmentation, into: buffer.baseAddress!)
            count = valueCount
        }
    }

    /// Decodes the file at `path` with `decodeOptions` and returns its network input.
    public func input(file path: String) throws(ImagingError) -> [Float] {
        input(from: try ImageDecoder.decode(file: path, options: decodeOptions))
    }

    /// Converts a camera frame (MJPEG frames decoded with `decodeOptions`) and returns its network input.
    public func input(from frame: CameraFrame) throws(ImagingError) -> [Float] {
        input(from: try frame.image(options: decodeOptions))
    }
}
