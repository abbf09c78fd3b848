import CKernels

/// Per-thread scratch memory shared by all layers of a network; grows to the largest need and stays.
public final class Workspace: @unchecked Sendable {
    public let threads: ComputeThreads
    private var buffers: [FloatBuffer]

    public init(threads: ComputeThreads) {
        self.threads = threads
        buffers = (0..<threads.count).map { _ in FloatBuffer(count: 0) }
    }

    /// Makes every thread's scratch at least `floats` long. Call before a parallel section, never inside.
    func reserve(_ floats: Int) {
        for t in 0..<buffers.count where buffers[t].count < floats {
            buffers[t] = FloatBuffer(count: floats)
        }
    }

    func scratch(_ thread: Int) -> UnsafeMutablePointer<Float> { buffers[thread].pointer }

    /// Floats held.
    public var floatCount: Int { buffers.reduce(0) { $0 + $1.count } }
}

/// Activation geometry: `batch` NHWC images of `height` x `width` x `channels`.
public struct ActivationShape: Sendable, Equatable {
    public var batch: Int
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(batch: Int, height: Int, width: Int, channels: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
    }

    public var imageFloats: Int { height * width * channels }
    public var floats: Int { batch * imageFloats }
}

/// A 3x3 same-padding convolution with its weights prepared for one algorithm.
///
/// Layout: input and output NHWC; weights given as HWIO `[3, 3, cin, cout]`. For im2col the prepared
/// weights are the HWIO tensor itself (`[9*cin][cout]`); for Winograd F(m x m, 3x3) they are
/// `U[(m+2)^2][cin][cout]`.
public final class ConvKernel: @unchecked Sendable {
    public let cin: Int
    public let cout: Int
    public let algorithm: ConvAlgorithm
    /// Prepared weights.
    let prepared: FloatBuffer

    /// Bytes of scratch a work chunk aims for: im2col bands and Winograd tile rows that fit in L2.
    static let im2colChunkBytes = 1_536 * 1024
    static let winogradChunkBytes = 3 * 1024 * 1024

    /// Prepares HWIO weights `[3, 3, cin, cout]`.
    public init(hwio: UnsafePointer<Float>, cin: Int, cout: Int, algorithm: ConvAlgorithm) {
        self.cin = cin
        self.cout = cout
        self.algorithm = algorithm
        let a = algorithm.tile + 2
        prepared = FloatBuffer(count: algorithm == .im2col ? 9 * cin * cout : a * a * cin * cout)
        update(hwio: hwio)
    }

    /// Re-prepares after the HWIO weights changed (a training step).
    public func update(hwio: UnsafePointer<Float>) {
        if algorithm == .im2col {
            prepared.copy(from: hwio, count: 9 * cin * cout)
        } else {
            dd_wino_transform_weights(Int32(algorithm.tile), hwio, Int32(cin), Int32(cout), prepared.pointer)
        }
    }

    /// Prepares the kernel whose convolution of an output gradient gives the input gradient
    /// (weights rotated by 180 degrees, input and output channels swapped).
    public static func inputGradient(ofHWIO hwio: UnsafePointer<Float>, cin: Int, cout: Int,
                                     algorithm: ConvAlgorithm, scratch: FloatBuffer) -> ConvKernel {
        precondition(scratch.count >= 9 * cin * cout)
        dd_flip_transpose_weights(hwio, Int32(cin), Int32(cout), scratch.pointer)
        return ConvKernel(hwio: scratch.pointer, cin: cout, cout: cin, algorithm: algorithm)
    }

    /// Re-prepares an input-gradient kernel (see `inputGradient`) from updated forward weights.
    public func updateAsInputGradient(ofHWIO hwio: UnsafePointer<Float>, scratch: FloatBuffer) {
        dd_flip_transpose_weights(hwio, Int32(cout), Int32(cin), scratch.pointer)
        update(hwio: scratch.pointer)
    }

    /// Bytes of prepared weights.
    public var preparedBytes: Int { prepared.count * MemoryLayout<Float>.stride }

    /// Convolves `input` (shape `shape`, `shape.channels == cin`), then adds `bias`, applies ReLU if asked,
    /// and writes the full output (`output`, `[batch][h][w][cout]`) and/or its 2x2 max-pool (`pooled`,
    /// `[batch][h/2][w/2][cout]`). At least one of the two must be given.
    public func forward(
        _ input: UnsafePointer<Float>, shape: ActivationShape, bias: UnsafePointer<Float>?, relu: Bool,
        output: UnsafeMutablePointer<Float>?, pooled: UnsafeMutablePointer<Float>?, workspace: Workspace
    ) {
        precondition(shape.channels == cin, "input has \(shape.channels) channels, kernel expects \(cin)")
        precondition(output != nil || pooled != nil, "nowhere to write")
        precondition(pooled == nil || (shape.height % 2 == 0 && shape.width % 2 == 0), "pooling needs even sizes")
        let s = dd_conv_shape(height: Int32(shape.height), width: Int32(shape.width), cin: Int32(cin), cout: Int32(cout))
        let threads = workspace.threads.count
        let m = algorithm.tile
        let totalRows = m == 0 ? shape.height : (shape.height + m - 1) / m
        let needsBand = output == nil
        let floatsPerRow = m == 0
            ? dd_conv3x3_im2col_scratch(s, 1, needsBand ? 1 : 0)
            : dd_conv3x3_winograd_scratch(Int32(m), s, 1)
        let chunkBytes = m == 0 ? Self.im2colChunkBytes : Self.winogradChunkBytes
        var rows = max(1, chunkBytes / (floatsPerRow * MemoryLayout<Float>.stride))
        // Enough chunks to keep every thread busy.
        let chunksWanted = (2 * threads + shape.batch - 1) / shape.batch
        rows = min(rows, max(1, (totalRows + chunksWanted - 1) / chunksWanted))
        if m == 0 && pooled != nil && rows % 2 == 1 { rows += 1 }  // pooling windows must not straddle bands
        let chunks = (totalRows + rows - 1) / rows
        let scratchFloats = m == 0
            ? dd_conv3x3_im2col_scratch(s, Int32(rows), needsBand ? 1 : 0)
            : dd_conv3x3_winograd_scratch(Int32(m), s, Int32(rows))
        workspace.reserve(scratchFloats)

        let inFloats = shape.imageFloats
        let outFloats = shape.height * shape.width * cout
        let pooledFloats = outFloats / 4
        let weights = UnsafePointer(prepared.pointer)
        workspace.threads.forEach(shape.batch * chunks) { item, thread in
            let n = item / chunks
            let r0 = (item % chunks) * rows
            let r1 = min(totalRows, r0 + rows)
            let e = dd_epilogue(bias: bias, relu: relu ? 1 : 0,
                                out: output.map { $0 + n * outFloats },
                                pooled: pooled.map { $0 + n * pooledFloats })
            let image = input + n * inFloats
            if m == 0 {
                dd_conv3x3_im2col_rows(image, s, weights, Int32(r0), Int32(r1), workspace.scratch(thread), e)
            } else {
                dd_conv3x3_winograd_rows(Int32(m), image, s, weights, Int32(r0), Int32(r1), workspace.scratch(thread), e)
            }
        }
    }
}
