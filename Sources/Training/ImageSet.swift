import Imaging
import NeuralNet
import Support

/// A file the trainer could not use, and why.
public struct SkippedFile: Sendable, Equatable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// Decoded images, resized to the network's side and kept in memory as floats in 0...255 (HWC, RGB):
/// the state every augmentation starts from (Keras resizes when it loads, then augments the resized image).
/// A few hundred photos at 224x224 take 600 KiB each.
public final class ImageSet: @unchecked Sendable {
    public let files: [LabelledFile]
    public let skipped: [SkippedFile]
    public let side: Int
    private let pixels: FloatBuffer

    public var count: Int { files.count }

    /// Decodes and resizes `candidates` with `preprocessor`'s decoding and resize method, in parallel.
    /// Unreadable files are skipped and listed with the decoder's reason.
    public init(_ candidates: [LabelledFile], preprocessor: Preprocessor, threads: ComputeThreads) {
        side = preprocessor.side
        let floats = side * side * 3
        let staging = FloatBuffer(count: candidates.count * floats)
        var errors = [String?](repeating: nil, count: candidates.count)
        errors.withUnsafeMutableBufferPointer { errorSlots in
            let slots = UncheckedBox(errorSlots)
            threads.forEach(candidates.count) { i, _ in
                do {
                    let image = try ImageDecoder.decode(file: candidates[i].path, options: preprocessor.decodeOptions)
                    preprocessor.resize.resize(
                        image, width: preprocessor.side, height: preprocessor.side,
                        into: staging.pointer + i * floats)
                } catch {
                    slots.value[i] = "\(error)"
                }
            }
        }
        // Compact in place: kept images move down over the slots of skipped ones.
        var kept: [LabelledFile] = []
        var skipped: [SkippedFile] = []
        for (i, file) in candidates.enumerated() {
            if let reason = errors[i] {
                skipped.append(SkippedFile(path: file.path, reason: reason))
            } else {
                if kept.count != i {
                    (staging.pointer + kept.count * floats).update(from: staging.pointer + i * floats, count: floats)
                }
                kept.append(file)
            }
        }
        pixels = staging
        files = kept
        self.skipped = skipped
    }

    /// The resized image `index` (`side * side * 3` floats in 0...255).
    public func image(_ index: Int) -> UnsafePointer<Float> {
        precondition(index >= 0 && index < files.count)
        return UnsafePointer(pixels.pointer + index * side * side * 3)
    }

    /// Images per class: (positive, negative).
    public var classCounts: (positive: Int, negative: Int) {
        let positive = files.filter(\.isPositive).count
        return (positive, files.count - positive)
    }

    /// Writes the network input for image `index` into `output`: augmented with `augmentation` (if any), then
    /// made to look as a door camera might see it (`conditions`, if any), then centred.
    public func writeInput(
        _ index: Int, augmentation: AugmentationParameters?, conditions: DoorConditionParameters? = nil,
        centering: Centering, into output: UnsafeMutablePointer<Float>
    ) {
        let floats = side * side * 3
        if let augmentation, augmentation != .identity {
            augmentation.apply(to: image(index), height: side, width: side, channels: 3, into: output)
        } else {
            output.update(from: image(index), count: floats)
        }
        if let conditions, !conditions.isIdentity { conditions.apply(to: output, side: side) }
        centering.apply(to: UnsafeMutableBufferPointer(start: output, count: floats))
    }
}

/// Exclusive access to a value from worker threads that each touch their own elements.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
