import Support

/// Decodes JPEG, PNG and WebP files to upright 8-bit RGB, detecting the format from the bytes.
///
/// Colour handling follows Pillow's `convert("RGB")`, which is what Keras's `load_img` feeds a model:
/// gray is replicated to three channels, palettes are expanded, alpha (and PNG tRNS transparency) is
/// dropped without compositing onto a background, 16-bit PNG samples keep their high byte, and CMYK JPEGs
/// are read with Adobe's inverted polarity and converted as Pillow does.
public enum ImageDecoder {
    /// Reads and decodes the file at `path`.
    public static func decode(file path: String, options: DecodeOptions = DecodeOptions()) throws(ImagingError) -> Image
    {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, limit: options.maximumFileBytes)
        } catch {
            throw ImagingError(source: path, kind: .unreadable(error))
        }
        return try decode(bytes, source: path, options: options)
    }

    /// Decodes in-memory file contents; `source` names them in errors.
    public static func decode(
        _ bytes: [UInt8], source: String, options: DecodeOptions = DecodeOptions()
    ) throws(ImagingError) -> Image {
        try withBytes(bytes) { buffer throws(ImagingError) in try decode(buffer, source: source, options: options) }
    }

    /// Decodes in-memory file contents; `source` names them in errors.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, source: String, options: DecodeOptions = DecodeOptions()
    ) throws(ImagingError) -> Image {
        switch ImageFormat.detect(bytes) {
        case .empty:
            throw ImagingError(source: source, kind: .empty)
        case .unsupported(let found):
            throw ImagingError(source: source, kind: .unsupportedFormat(found))
        case .supported(.jpeg):
            return try JPEGCodec.decode(bytes, source: source, options: options)
        case .supported(.png):
            return try PNGCodec.decode(bytes, source: source, options: options)
        case .supported(.webp):
            return try WebPCodec.decode(bytes, source: source, options: options)
        }
    }
}
