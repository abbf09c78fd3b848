import Support

/// Random-augmentation ranges with Keras `ImageDataGenerator` semantics. What a door camera adds (night,
/// blur, JPEG, partial views) is `DoorConditions`, drawn and applied after these.
public struct Augmentation: Sendable, Equatable {
    /// Rotation drawn uniformly from [-r, r] degrees.
    public var rotationRange: Double
    /// Zoom factors x and y drawn independently from [1 - z, 1 + z] (z < 1).
    public var zoomRange: Double
    /// Horizontal shift as a fraction of the width, drawn from [-s, s] (s < 1).
    public var widthShiftRange: Double
    /// Vertical shift as a fraction of the height, drawn from [-s, s] (s < 1).
    public var heightShiftRange: Double
    /// Mirror left-right with probability 0.5.
    public var horizontalFlip: Bool
    /// Mirror top-bottom with probability 0.5.
    public var verticalFlip: Bool

    public init(
        rotationRange: Double = 10, zoomRange: Double = 0.1, widthShiftRange: Double = 0.1,
        heightShiftRange: Double = 0.1, horizontalFlip: Bool = true, verticalFlip: Bool = false
    ) {
        self.rotationRange = rotationRange
        self.zoomRange = zoomRange
        self.widthShiftRange = widthShiftRange
        self.heightShiftRange = heightShiftRange
        self.horizontalFlip = horizontalFlip
        self.verticalFlip = verticalFlip
    }

    /// The tutorial's ImageDataGenerator: rotation 10, zoom 0.1, shifts 0.1, horizontal flips.
    public static let tutorial = Augmentation()

    /// No augmentation.
    public static let none = Augmentation(
        rotationRange: 0, zoomRange: 0, widthShiftRange: 0, heightShiftRange: 0,
        horizontalFlip: false, verticalFlip: false)

    /// Throws unless every range is finite and within what the semantics allow.
    public func validate() throws(PreprocessingError) {
        func check(_ ok: Bool, _ reason: String) throws(PreprocessingError) {
            if !ok { throw .invalidAugmentation(reason) }
        }
        try check(
            rotationRange.isFinite && rotationRange >= 0 && rotationRange <= 180,
            "rotation range \(rotationRange) is not within 0...180 degrees")
        try check(zoomRange.isFinite && zoomRange >= 0 && zoomRange < 1, "zoom range \(zoomRange) is not within 0..<1")
        try check(
            widthShiftRange.isFinite && widthShiftRange >= 0 && widthShiftRange < 1,
            "width shift range \(widthShiftRange) is not within 0..<1")
        try check(
            heightShiftRange.isFinite && heightShiftRange >= 0 && heightShiftRange < 1,
            "height shift range \(heightShiftRange) is not within 0..<1")
    }

    /// Draws one sample's parameters for an image of `height` x `width`, in Keras's order (rotation, the
    /// height shift tx, the width shift ty, zoom x, zoom y, horizontal flip, vertical flip). Every draw is
    /// made even when its range is zero, so a given seed yields the same stream whatever the ranges.
    public func randomParameters(height: Int, width: Int, using random: inout SeededRandom) -> AugmentationParameters {
        let theta = random.uniform(-rotationRange, rotationRange)
        let tx = random.uniform(-heightShiftRange, heightShiftRange) * Double(height)
        let ty = random.uniform(-widthShiftRange, widthShiftRange) * Double(width)
        let zx = random.uniform(1 - zoomRange, 1 + zoomRange)
        let zy = random.uniform(1 - zoomRange, 1 + zoomRange)
        let flipH = random.nextDouble() < 0.5
        let flipV = random.nextDouble() < 0.5
        return AugmentationParameters(
            theta: rotationRange == 0 ? 0 : theta, tx: heightShiftRange == 0 ? 0 : tx,
            ty: widthShiftRange == 0 ? 0 : ty, zx: zoomRange == 0 ? 1 : zx,
            zy: zoomRange == 0 ? 1 : zy, flipHorizontal: horizontalFlip && flipH,
            flipVertical: verticalFlip && flipV)
    }
}

/// One sample's augmentation, exactly as Keras's `ImageDataGenerator.apply_transform` applies it:
/// an affine resampling (`apply_affine_transform`: scipy.ndimage.affine_transform, order 1, mode
/// "nearest") followed by the flips.
///
/// Keras builds M = R(theta) · T(tx, ty) · Z(zx, zy) about the centre (h/2 - 0.5, w/2 - 0.5), then swaps
/// both axes of M because its matrix is written for (x, y) while arrays index (row, column). So the first
/// coordinate of T and Z ends up on the column axis: `tx` (drawn from the height shift range and the row
/// count) moves the image horizontally and `zx` scales columns; the centre's first component (from the
/// height) also lands on the column axis, which only matters for non-square images. These quirks are
/// reproduced, not fixed, so that a Keras-trained model and DogDoor see the same augmented images.
public struct AugmentationParameters: Sendable, Equatable {
    /// Rotation in degrees.
    public var theta: Double
    /// Keras's tx, in pixels (see the type's discussion for its axis).
    public var tx: Double
    /// Keras's ty, in pixels.
    public var ty: Double
    /// Keras's zx and zy zoom factors (> 1 shows more of the scene, smaller).
    public var zx: Double
    public var zy: Double
    public var flipHorizontal: Bool
    public var flipVertical: Bool

    public init(
        theta: Double = 0, tx: Double = 0, ty: Double = 0, zx: Double = 1, zy: Double = 1,
        flipHorizontal: Bool = false, flipVertical: Bool = false
    ) {
        self.theta = theta
        self.tx = tx
        self.ty = ty
        self.zx = zx
        self.zy = zy
        self.flipHorizontal = flipHorizontal
        self.flipVertical = flipVertical
    }

    public static let identity = AugmentationParameters()

    /// Whether Keras would skip the affine resampling (its matrix would be None).
    public var isAffineIdentity: Bool { theta == 0 && tx == 0 && ty == 0 && zx == 1 && zy == 1 }

    /// The sampling map: input (row, column) = A · (row, column) + b for each output (row, column).
    public func affine(height: Int, width: Int) -> (a: [[Double]], b: [Double]) {
        typealias M = [[Double]]
        func dot(_ p: M, _ q: M) -> M {
            var result: M = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
            for i in 0..<3 {
                for j in 0..<3 {
                    var sum: Double = p[i][0] * q[0][j]
                    sum += p[i][1] * q[1][j]
                    sum += p[i][2] * q[2][j]
                    result[i][j] = sum
                }
            }
            return result
        }
        let radians = theta * Double.pi / 180
        let rotation: M = [[cos(radians), -sin(radians), 0], [sin(radians), cos(radians), 0], [0, 0, 1]]
        let shift: M = [[1, 0, tx], [0, 1, ty], [0, 0, 1]]
        let zoom: M = [[zx, 0, 0], [0, zy, 0], [0, 0, 1]]
        // As Keras: start from the first non-trivial factor and multiply on the right.
        var m: M? = nil
        if theta != 0 { m = rotation }
        if tx != 0 || ty != 0 { m = m.map { dot($0, shift) } ?? shift }
        if zx != 1 || zy != 1 { m = m.map { dot($0, zoom) } ?? zoom }
        guard let matrix = m else { return ([[1, 0], [0, 1]], [0, 0]) }
        let ox = Double(height) / 2 - 0.5, oy = Double(width) / 2 - 0.5
        let offset: M = [[1, 0, ox], [0, 1, oy], [0, 0, 1]]
        let reset: M = [[1, 0, -ox], [0, 1, -oy], [0, 0, 1]]
        let c = dot(dot(offset, matrix), reset)
        // Swap columns 0 and 1, then rows 0 and 1.
        let swapped = [[c[1][1], c[1][0], c[1][2]], [c[0][1], c[0][0], c[0][2]]]
        return ([[swapped[0][0], swapped[0][1]], [swapped[1][0], swapped[1][1]]], [swapped[0][2], swapped[1][2]])
    }

    /// Writes the augmented image. `input` and `output` hold `height * width * channels` floats (HWC) and
    /// must not overlap. Values are interpolated in double precision and stored as Float, as scipy does
    /// for float32 input.
    public func apply(
        to input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
        into output: UnsafeMutablePointer<Float>
    ) {
        precondition(height > 0 && width > 0 && channels > 0, "augmentation needs a non-empty image")
        let (a, b) = affine(height: height, width: width)
        let identity = isAffineIdentity
        let maxRow = Double(height - 1), maxColumn = Double(width - 1)
        for r in 0..<height {
            let outRow = flipVertical ? height - 1 - r : r
            for c in 0..<width {
                let outColumn = flipHorizontal ? width - 1 - c : c
                let out = output + (outRow * width + outColumn) * channels
                if identity {
                    let inp = input + (r * width + c) * channels
                    for ch in 0..<channels { out[ch] = inp[ch] }
                    continue
                }
                // mode "nearest": coordinates outside the image are clamped to its edge.
                let y = min(max(Double(r) * a[0][0] + Double(c) * a[0][1] + b[0], 0), maxRow)
                let x = min(max(Double(r) * a[1][0] + Double(c) * a[1][1] + b[1], 0), maxColumn)
                let r0 = Int(y), c0 = Int(x)  // non-negative, so truncation is floor
                let r1 = min(r0 + 1, height - 1), c1 = min(c0 + 1, width - 1)
                let ty = y - Double(r0), tx = x - Double(c0)
                let w00 = (1 - ty) * (1 - tx), w01 = (1 - ty) * tx, w10 = ty * (1 - tx), w11 = ty * tx
                let p00 = input + (r0 * width + c0) * channels, p01 = input + (r0 * width + c1) * channels
                let p10 = input + (r1 * width + c0) * channels, p11 = input + (r1 * width + c1) * channels
                for ch in 0..<channels {
                    var v = w00 * Double(p00[ch])
                    v += w01 * Double(p01[ch])
                    v += w10 * Double(p10[ch])
                    v += w11 * Double(p11[ch])
                    out[ch] = Float(v)
                }
            }
        }
    }

    /// `apply(to:height:width:channels:into:)` on an array.
    public func applied(to values: [Float], height: Int, width: Int, channels: Int) -> [Float] {
        precondition(
            values.count == height * width * channels, "\(values.count) values for \(height)x\(width)x\(channels)")
        return [Float](unsafeUninitializedCapacity: values.count) { out, count in
            values.withUnsafeBufferPointer {
                apply(to: $0.baseAddress!, height: height, width: width, channels: channels, into: out.baseAddress!)
            }
            count = values.count
        }
    }
}
