/// How resized 0...255 RGB values are centred before they reach the network. The raw value is the name
/// model files record.
public enum Centering: String, Sendable, CaseIterable {
    /// Subtract one mean over all pixels and channels of the image (Keras `samplewise_center`). Channel
    /// order stays RGB. The mean is accumulated in double precision and subtracted as a Float.
    case samplewise
    /// The preprocessing VGG16 was originally trained with (Keras `preprocess_input`, mode "caffe"):
    /// reorder RGB to BGR and subtract the ImageNet channel means 103.939, 116.779, 123.68 (B, G, R).
    case caffe

    /// The ImageNet means in BGR order, as Keras's caffe preprocessing subtracts them.
    public static let caffeMeansBGR: (Float, Float, Float) = (103.939, 116.779, 123.68)

    /// The sum of `values` in double precision, over four interleaved partial sums (a fixed order, so the
    /// result is reproducible, without one long dependency chain).
    static func sum(_ values: UnsafeMutableBufferPointer<Float>) -> Double {
        var partial = (0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 4 <= values.count {
            partial.0 += Double(values[i])
            partial.1 += Double(values[i + 1])
            partial.2 += Double(values[i + 2])
            partial.3 += Double(values[i + 3])
            i += 4
        }
        while i < values.count {
            partial.0 += Double(values[i])
            i += 1
        }
        return (partial.0 + partial.1) + (partial.2 + partial.3)
    }

    /// Centres `values` (HWC, three channels, RGB 0...255) in place.
    public func apply(to values: UnsafeMutableBufferPointer<Float>) {
        precondition(values.count % 3 == 0, "centering expects three channels per pixel")
        switch self {
        case .samplewise:
            let mean = Float(Centering.sum(values) / Double(max(values.count, 1)))
            for i in values.indices { values[i] -= mean }
        case .caffe:
            let (b, g, r) = Centering.caffeMeansBGR
            var i = 0
            while i < values.count {
                let red = values[i]
                values[i] = values[i + 2] - b
                values[i + 1] -= g
                values[i + 2] = red - r
                i += 3
            }
        }
    }
}
