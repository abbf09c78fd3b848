import CKernels
import COpenBLAS

/// How much scratch one unit of work aims for: trades memory (and cache residency) against the overhead of
/// many small matrix products, each of which re-packs its weight operand.
public struct Chunking: Sendable, Equatable {
    /// A row-parallel chunk (one per thread at a time).
    public var privateBytes: Int
    /// A column-parallel chunk (one at a time, shared by the threads).
    public var sharedBytes: Int
    /// One chunk of a Winograd weight gradient.
    public var gradientBytes: Int

    public init(privateBytes: Int, sharedBytes: Int, gradientBytes: Int) {
        self.privateBytes = privateBytes
        self.sharedBytes = sharedBytes
        self.gradientBytes = gradientBytes
    }

    /// Inference: chunks that stay in a core's L2 cache, and little memory besides the weights.
    public static let inference = Chunking(privateBytes: 1 << 20, sharedBytes: 4 << 20, gradientBytes: 16 << 20)

    /// Training (batch 8): memory is plentiful and the weights change every step. Large chunks give the
    /// deep layers' matrix products hundreds of rows (block 4 at batch 8 had 28 per chunk with the inference
    /// sizes), which amortises packing the weights: the input gradients of blocks 4-5 took about 35% less
    /// time, for about 20 MiB more scratch.
    public static let training = Chunking(privateBytes: 2 << 20, sharedBytes: 32 << 20, gradientBytes: 32 << 20)
}

/// Scratch memory shared by all layers of a network: one buffer per thread plus one shared by all threads.
/// Grows to the largest need and stays.
public final class Workspace: @unchecked Sendable {
    public let threads: ComputeThreads
    public let chunking: Chunking
    private var buffers: [FloatBuffer]
    private var common = FloatBuffer(count: 0)

    public init(threads: ComputeThreads, chunking: Chunking = .inference) {
        self.threads = threads
        self.chunking = chunking
        buffers = (0..<threads.count).map { _ in FloatBuffer(count: 0) }
    }

    /// Makes every thread's scratch at least `floats` long. Call before a parallel section, never inside.
    func reserve(_ floats: Int) {
        for t in 0..<buffers.count where buffers[t].count < floats {
            buffers[t] = FloatBuffer(count: floats)
        }
    }

    /// Makes the shared scratch at least `floats` long and returns it. Call outside parallel sections.
    func shared(_ floats: Int) -> UnsafeMutablePointer<Float> {
        if common.count < floats { common = FloatBuffer(count: floats) }
        return common.pointer
    }

    func scratch(_ thread: Int) -> UnsafeMutablePointer<Float> { buffers[thread].pointer }

    /// Floats held.
    public var floatCount: Int { buffers.reduce(common.count) { $0 + $1.count } }
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
/// weights are the HWIO tensor itself (`[9*cin][cout]`), and so are they for streamed Winograd; for Winograd
/// F(m x m, 3x3) they are `U[(m+2)^2][cin][cout]`.
public final class ConvKernel: @unchecked Sendable {
    public let cin: Int
    public let cout: Int
    public let algorithm: ConvAlgorithm
    /// Prepared weights.
    let prepared: FloatBuffer

    /// Prepares HWIO weights `[3, 3, cin, cout]`.
    public init(hwio: UnsafePointer<Float>, cin: Int, cout: Int, algorithm: ConvAlgorithm) {
        self.cin = cin
        self.cout = cout
        self.algorithm = algorithm
        let a = algorithm.tile + 2
        let keepsHWIO = algorithm == .im2col || algorithm.streamsWeights
        prepared = FloatBuffer(count: keepsHWIO ? 9 * cin * cout : a * a * cin * cout)
        update(hwio: hwio)
    }

    /// Re-prepares after the HWIO weights changed (a training step), spread over `threads`.
    public func update(hwio: UnsafePointer<Float>, threads: ComputeThreads = ComputeThreads(1)) {
        if algorithm == .im2col || algorithm.streamsWeights {
            prepared.copy(from: hwio, count: 9 * cin * cout)
            return
        }
        let step = (cin + threads.count - 1) / threads.count
        let target = prepared.pointer
        let (cin, cout, m) = (self.cin, self.cout, Int32(algorithm.tile))
        threads.forEach((cin + step - 1) / step) { slice, _ in
            dd_wino_transform_weights_range(
                m, hwio, Int32(cin), Int32(cout), Int32(slice * step),
                Int32(min(cin, (slice + 1) * step)), target)
        }
    }

    /// Prepares the kernel whose convolution of an output gradient gives the input gradient
    /// (weights rotated by 180 degrees, input and output channels swapped).
    public static func inputGradient(
        ofHWIO hwio: UnsafePointer<Float>, cin: Int, cout: Int,
        algorithm: ConvAlgorithm, scratch: FloatBuffer
    ) -> ConvKernel {
        precondition(scratch.count >= 9 * cin * cout)
        dd_flip_transpose_weights(hwio, Int32(cin), Int32(cout), scratch.pointer)
        return ConvKernel(hwio: scratch.pointer, cin: cout, cout: cin, algorithm: algorithm)
    }

    /// Re-prepares an input-gradient kernel (see `inputGradient`) from updated forward weights.
    public func updateAsInputGradient(
        ofHWIO hwio: UnsafePointer<Float>, scratch: FloatBuffer,
        threads: ComputeThreads = ComputeThreads(1)
    ) {
        let (forwardCin, forwardCout) = (cout, cin)
        let out = scratch.pointer
        threads.forEach(9) { tap, _ in
            dd_flip_transpose_weights_range(
                hwio, Int32(forwardCin), Int32(forwardCout), Int32(tap), Int32(tap + 1), out)
        }
        update(hwio: scratch.pointer, threads: threads)
    }

    /// Bytes of prepared weights.
    public var preparedBytes: Int { prepared.count * MemoryLayout<Float>.stride }

    /// Convolves `input` (shape `shape`, `shape.channels == cin`), then adds `bias`, applies ReLU if asked,
    /// and writes the full output (`output`, `[batch][h][w][cout]`) and/or its 2x2 max-pool (`pooled`,
    /// `[batch][h/2][w/2][cout]`). At least one of the two must be given.
    ///
    /// Work is cut into chunks of consecutive rows (tile rows for Winograd), which may span images. When a
    /// chunk's matrix product has at least as many rows as the weights have columns, threads take whole chunks
    /// (everything stays in each core's cache). Otherwise (deep layers, small images) the weight matrix is
    /// the bigger operand, and re-packing it for many small chunks would dominate: then all threads work on
    /// one large chunk at a time, each multiplying its own slice of the weight columns (im2col) or its own
    /// share of the Winograd points.
    ///
    /// `mask` (same layout as `output`) zeroes the output wherever it is not positive (backpropagation's ReLU
    /// derivative of the layer this output feeds, applied in the same pass).
    ///
    /// `rows` restricts a single image's computation to those output rows (a multiple of the Winograd tile
    /// at the start, even where pooling); the rest of `output`/`pooled` is left untouched.
    public func forward(
        _ input: UnsafePointer<Float>, shape: ActivationShape, bias: UnsafePointer<Float>?, relu: Bool,
        output: UnsafeMutablePointer<Float>?, pooled: UnsafeMutablePointer<Float>?, workspace: Workspace,
        rows outputRows: Range<Int>? = nil, mask: UnsafePointer<Float>? = nil
    ) {
        precondition(mask == nil || (output != nil && pooled == nil), "a mask applies to the full output only")
        precondition(shape.channels == cin, "input has \(shape.channels) channels, kernel expects \(cin)")
        precondition(output != nil || pooled != nil, "nowhere to write")
        precondition(pooled == nil || (shape.height % 2 == 0 && shape.width % 2 == 0), "pooling needs even sizes")
        let s = dd_conv_shape(
            height: Int32(shape.height), width: Int32(shape.width), cin: Int32(cin), cout: Int32(cout))
        let threads = workspace.threads.count
        let m = algorithm.tile
        let rowsPerImage = m == 0 ? shape.height : (shape.height + m - 1) / m
        // Global (tile) rows [firstRow, totalRows) are computed.
        var firstRow = 0
        var totalRows = shape.batch * rowsPerImage
        if let outputRows {
            precondition(shape.batch == 1 && outputRows.lowerBound >= 0 && outputRows.upperBound <= shape.height)
            precondition(outputRows.lowerBound % max(m, pooled == nil ? 1 : 2) == 0, "row range must start on a tile")
            firstRow = m == 0 ? outputRows.lowerBound : outputRows.lowerBound / m
            totalRows = m == 0 ? outputRows.upperBound : (outputRows.upperBound + m - 1) / m
        }
        let gemmRowsPerRow = m == 0 ? shape.width : (shape.width + m - 1) / m
        let needsBand = output == nil
        let floatsPerRow =
            m == 0
            ? dd_conv3x3_im2col_scratch(s, 1, needsBand ? 1 : 0)
            : dd_conv3x3_winograd_scratch(Int32(m), s, 1)
        let evenRows = m == 0 && pooled != nil  // pooling windows must not straddle im2col bands
        func chunkRows(_ bytes: Int, parts: Int) -> Int {
            var rows = max(1, bytes / (floatsPerRow * MemoryLayout<Float>.stride))
            rows = min(rows, max(1, (totalRows - firstRow + parts - 1) / parts))
            if evenRows && rows % 2 == 1 { rows += 1 }
            return rows
        }
        let rows = chunkRows(workspace.chunking.privateBytes, parts: 2 * threads)
        let epilogue = dd_epilogue(bias: bias, relu: relu ? 1 : 0, out: output, pooled: pooled, mask: mask)
        let weights = UnsafePointer(prepared.pointer)
        if algorithm.streamsWeights {
            forwardStreamed(
                input, shape: shape, rows: firstRow..<totalRows, epilogue: epilogue, weights: weights,
                workspace: workspace)
            return
        }

        if threads == 1 || rows * gemmRowsPerRow >= cout {
            // Row-parallel: every thread runs the whole pipeline on its own chunks.
            let chunks = (totalRows - firstRow + rows - 1) / rows
            workspace.reserve(
                m == 0
                    ? dd_conv3x3_im2col_scratch(s, Int32(rows), needsBand ? 1 : 0)
                    : dd_conv3x3_winograd_scratch(Int32(m), s, Int32(rows)))
            workspace.threads.forEach(chunks) { chunk, thread in
                let g0 = Int32(firstRow + chunk * rows), g1 = Int32(min(totalRows, firstRow + (chunk + 1) * rows))
                if m == 0 {
                    dd_conv3x3_im2col_rows(input, s, weights, g0, g1, workspace.scratch(thread), epilogue)
                } else {
                    dd_conv3x3_winograd_rows(Int32(m), input, s, weights, g0, g1, workspace.scratch(thread), epilogue)
                }
            }
            return
        }

        // Column-parallel: one big chunk at a time; split rows for the transforms, columns for the products.
        let bigRows = chunkRows(workspace.chunking.sharedBytes, parts: 1)
        let scratch = workspace.shared(
            m == 0
                ? dd_conv3x3_im2col_scratch(s, Int32(bigRows), needsBand ? 1 : 0)
                : dd_conv3x3_winograd_scratch(Int32(m), s, Int32(bigRows)))
        let pooledWidth = shape.width / 2
        var g0 = firstRow
        while g0 < totalRows {
            let g1 = min(totalRows, g0 + bigRows)
            let chunkRows = g1 - g0
            let gemmRows = chunkRows * gemmRowsPerRow
            let a = scratch  // im2col rows or V
            let c =
                m == 0
                ? (output.map { $0 + g0 * shape.width * cout } ?? scratch + gemmRows * 9 * cin)
                : scratch + (m + 2) * (m + 2) * gemmRows * cin  // M
            // Row slices for the transforms; even for pooled im2col epilogues.
            var step = (chunkRows + threads - 1) / threads
            if evenRows && step % 2 == 1 { step += 1 }
            let slices = (chunkRows + step - 1) / step
            workspace.threads.forEach(slices) { slice, _ in
                let r0 = g0 + slice * step, r1 = min(g1, r0 + step)
                if m == 0 {
                    dd_im2col3x3_batch(
                        input, s.height, s.width, s.cin, Int32(r0), Int32(r1),
                        a + (r0 - g0) * shape.width * 9 * cin)
                } else {
                    dd_wino_input(
                        Int32(m), input, s.height, s.width, s.cin, Int32(r0), Int32(r1), a,
                        gemmRows, (r0 - g0) * gemmRowsPerRow)
                }
            }
            // im2col: column slices of the weights (multiples of 16 floats); Winograd: slices of the points.
            let parts = m == 0 ? cout : (m + 2) * (m + 2)
            let partStep = m == 0 ? ((cout + threads - 1) / threads + 15) / 16 * 16 : (parts + threads - 1) / threads
            let partSlices = (parts + partStep - 1) / partStep
            workspace.threads.forEach(partSlices) { slice, _ in
                let p0 = slice * partStep, p1 = min(parts, p0 + partStep)
                if m == 0 {
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(gemmRows), Int32(p1 - p0), Int32(9 * cin),
                        1, a, Int32(9 * cin), weights + p0, Int32(cout), 0, c + p0, Int32(cout))
                } else {
                    dd_wino_gemms(
                        Int32(m), a, Int32(gemmRows), Int32(cin), weights, Int32(cout), Int32(p0), Int32(p1), c)
                }
            }
            workspace.threads.forEach(slices) { slice, _ in
                let r0 = g0 + slice * step, r1 = min(g1, r0 + step)
                if m == 0 {
                    dd_epilogue_rows(
                        c + (r0 - g0) * shape.width * cout, Int32(r1 - r0), s.width, s.cout, bias, relu ? 1 : 0,
                        pooled.map { $0 + (r0 / 2) * pooledWidth * cout },
                        mask.map { $0 + r0 * shape.width * cout })
                } else {
                    dd_wino_output(
                        Int32(m), c, gemmRows, (r0 - g0) * gemmRowsPerRow, s.height, s.width, s.cout,
                        Int32(r0), Int32(r1), epilogue)
                }
            }
            g0 = g1
        }
    }

    /// Output channels per block of streamed Winograd: a block's weights for one Winograd point are
    /// `cin x 64` floats (128 KiB at 512 channels), which stay in a core's L2 cache from transform to product.
    static let streamedColumns = 64

    /// Streamed Winograd (see `ConvAlgorithm.winograd2Streamed`) over global tile rows `tileRows`.
    ///
    /// The input transform covers as many tile rows as the shared chunk allows (a whole 28x28 or 14x14 map
    /// at batch 1, where the weights are large; a chunk's worth of a larger map, where they are small enough
    /// to transform again per chunk); then the threads take blocks of output channels, each transforming and
    /// multiplying its own block's weights point by point and finishing its channels of the output.
    private func forwardStreamed(
        _ input: UnsafePointer<Float>, shape: ActivationShape, rows tileRows: Range<Int>, epilogue: dd_epilogue,
        weights: UnsafePointer<Float>, workspace: Workspace
    ) {
        let m = algorithm.tile
        let a2 = (m + 2) * (m + 2)
        let tilesAcross = (shape.width + m - 1) / m
        let floatsPerTileRow = a2 * tilesAcross * cin
        let budgetRows = workspace.chunking.sharedBytes / (floatsPerTileRow * MemoryLayout<Float>.stride)
        let chunkRows = max(1, min(tileRows.count, budgetRows))
        let columns = min(cout, Self.streamedColumns)
        let blocks = (cout + columns - 1) / columns
        let threads = workspace.threads.count
        workspace.reserve(dd_wino_streamed_scratch(Int32(m), Int32(cin), Int32(columns), chunkRows * tilesAcross))
        let v = workspace.shared(chunkRows * floatsPerTileRow)
        var g0 = tileRows.lowerBound
        while g0 < tileRows.upperBound {
            let g1 = min(tileRows.upperBound, g0 + chunkRows)
            let tiles = (g1 - g0) * tilesAcross
            let step = (g1 - g0 + threads - 1) / threads
            workspace.threads.forEach((g1 - g0 + step - 1) / step) { slice, _ in
                let r0 = g0 + slice * step, r1 = min(g1, r0 + step)
                dd_wino_input(
                    Int32(m), input, Int32(shape.height), Int32(shape.width), Int32(cin), Int32(r0), Int32(r1), v,
                    tiles, (r0 - g0) * tilesAcross)
            }
            workspace.threads.forEach(blocks) { block, thread in
                let c0 = block * columns
                dd_wino_streamed_columns(
                    Int32(m), v, tiles, weights, Int32(cin), Int32(cout), Int32(c0), Int32(min(cout, c0 + columns)),
                    Int32(shape.height), Int32(shape.width), Int32(g0), Int32(g1), workspace.scratch(thread), epilogue)
            }
            g0 = g1
        }
    }
}
