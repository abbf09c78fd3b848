import CImageCodecs

extension dd_codec_status {
    /// The shim's NUL-terminated message.
    var text: String {
        withUnsafeBytes(of: message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The error for a failed shim call.
    func error(_ format: ImageFormat, source: String) -> ImagingError {
        let reason = text.isEmpty ? "unspecified codec failure" : text
        switch result {
        case DD_CODEC_TRUNCATED: return ImagingError(source: source, kind: .truncated(format, reason: reason))
        case DD_CODEC_UNSUPPORTED:
            return ImagingError(source: source, kind: .unsupportedFeature(format, reason: reason))
        case DD_CODEC_NO_MEMORY:
            return ImagingError(source: source, kind: .corrupt(format, reason: "out of memory (\(reason))"))
        default: return ImagingError(source: source, kind: .corrupt(format, reason: reason))
        }
    }
}

/// Checks a decoded size against the pixel limit before any pixel memory is allocated.
func checkSize(
    width: Int, height: Int, options: DecodeOptions, format: ImageFormat, source: String
) throws(ImagingError) {
    guard width > 0, height > 0 else {
        throw ImagingError(source: source, kind: .corrupt(format, reason: "image has size \(width)x\(height)"))
    }
    guard width.multipliedReportingOverflow(by: height).partialValue <= options.maximumPixels,
        width <= Int(Int32.max) / 3
    else {
        throw ImagingError(
            source: source, kind: .tooLarge(width: width, height: height, maximumPixels: options.maximumPixels))
    }
    guard width <= options.maximumWidth, height <= options.maximumHeight else {
        throw ImagingError(
            source: source,
            kind: .largerThanExpected(
                width: width, height: height, maximumWidth: options.maximumWidth,
                maximumHeight: options.maximumHeight))
    }
}

/// Takes ownership of a malloc'd encoder output.
func adoptEncoded(_ pointer: UnsafeMutablePointer<UInt8>?, count: Int) -> [UInt8] {
    guard let pointer else { return [] }
    defer { dd_codec_free(pointer) }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}
