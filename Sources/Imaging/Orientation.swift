/// The EXIF orientation of a stored image, named by the transform that makes it upright. The raw value is
/// the EXIF tag 0x0112 value (1...8).
public enum Orientation: Int, Sendable, CaseIterable {
    /// 1: stored upright.
    case up = 1
    /// 2: mirror left-right.
    case flipHorizontal = 2
    /// 3: rotate 180°.
    case rotate180 = 3
    /// 4: mirror top-bottom.
    case flipVertical = 4
    /// 5: transpose (mirror across the top-left/bottom-right diagonal).
    case transpose = 5
    /// 6: rotate 90° clockwise.
    case rotate90Clockwise = 6
    /// 7: transverse (mirror across the top-right/bottom-left diagonal).
    case transverse = 7
    /// 8: rotate 90° counter-clockwise.
    case rotate90CounterClockwise = 8

    /// Whether the upright image has width and height swapped.
    public var swapsAxes: Bool { rawValue >= 5 }
}

extension Image {
    /// The upright image for a stored image with the given EXIF orientation.
    public func applying(_ orientation: Orientation) -> Image {
        if orientation == .up { return self }
        let outWidth = orientation.swapsAxes ? height : width
        let outHeight = orientation.swapsAxes ? width : height
        let w = width, h = height
        // For output pixel (x, y): the source column and row, as start + x * dx + y * dy.
        let (start, dx, dy): ((Int, Int), (Int, Int), (Int, Int))
        switch orientation {
        case .up: (start, dx, dy) = ((0, 0), (1, 0), (0, 1))
        case .flipHorizontal: (start, dx, dy) = ((w - 1, 0), (-1, 0), (0, 1))
        case .rotate180: (start, dx, dy) = ((w - 1, h - 1), (-1, 0), (0, -1))
        case .flipVertical: (start, dx, dy) = ((0, h - 1), (1, 0), (0, -1))
        case .transpose: (start, dx, dy) = ((0, 0), (0, 1), (1, 0))
        case .rotate90Clockwise: (start, dx, dy) = ((0, h - 1), (0, -1), (1, 0))
        case .transverse: (start, dx, dy) = ((w - 1, h - 1), (0, -1), (-1, 0))
        case .rotate90CounterClockwise: (start, dx, dy) = ((w - 1, 0), (0, 1), (-1, 0))
        }
        let stepX = (dx.1 * w + dx.0) * 3
        let stepY = (dy.1 * w + dy.0) * 3
        let origin = (start.1 * w + start.0) * 3
        return pixels.withUnsafeBufferPointer { source in
            Image.filling(width: outWidth, height: outHeight) { out in
                var o = 0
                for y in 0..<outHeight {
                    var s = origin + y * stepY
                    for _ in 0..<outWidth {
                        out[o] = source[s]
                        out[o + 1] = source[s + 1]
                        out[o + 2] = source[s + 2]
                        o += 3
                        s += stepX
                    }
                }
                return true
            }!
        }
    }
}

/// Reads the orientation tag from EXIF metadata (a TIFF structure, both byte orders), bounds-checking
/// every offset. Malformed or absent metadata yields nil: a broken EXIF block never fails a decode.
enum EXIF {
    /// `tiff` starts at the TIFF header ("II*\0" or "MM\0*"); an "Exif\0\0" prefix is skipped.
    static func orientation(tiff: UnsafeRawBufferPointer) -> Orientation? {
        var data = tiff
        if data.count >= 6, Array(data[0..<6]) == [0x45, 0x78, 0x69, 0x66, 0x00, 0x00] {
            data = UnsafeRawBufferPointer(rebasing: data[6...])
        }
        guard data.count >= 8 else { return nil }
        let little: Bool
        switch (data[0], data[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= data.count else { return nil }
            let a = Int(data[at]), b = Int(data[at + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return lo | hi << 16
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<count {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at), let type = u16(at + 2), let n = u32(at + 4) else { return nil }
            guard tag == 0x0112 else { continue }
            // SHORT (3) is the type the standard prescribes; LONG (4) appears in the wild.
            let value: Int?
            switch type {
            case 3 where n >= 1: value = u16(at + 8)
            case 4 where n >= 1: value = u32(at + 8)
            default: value = nil
            }
            return value.flatMap(Orientation.init(rawValue:))
        }
        return nil
    }
}
