import CKernels
import Support

/// Gradients of a 3x3 same-padding convolution with respect to its weights and bias.
/// (The gradient with respect to its input is a forward convolution: see `ConvKernel.inputGradient`.)
public enum ConvBackward {
    /// Writes `dW[3][3][cin][cout] = sum over pixels of x[p + k][ci] * g[p][co]` and `dB[co] = sum_p g[p][co]`
    /// for the convolution of `input` (shape `shape`) whose output gradient is `gradOut`
    /// (`[batch][h][w][cout]`, already multiplied by the activation's derivative).
    ///
    /// Winograd algorithms compute the gradient in the Winograd domain: `G^T (sum over tiles V . dM) G` with
    /// `V` the input transform and `dM = A dY A^T`, so the big products have the tiles as inner dimension.
    /// Work is split deterministically: results do not depend on scheduling, only on the thread count.
    /// `winogradScratch` must hold `(m+2)^2 * cin * cout` floats for Winograd algorithms.
    public static func weightGradient(
        algorithm: ConvAlgorithm, input: UnsafePointer<Float>, shape: ActivationShape, cout: Int,
        gradOut: UnsafePointer<Float>, kernelGradient: UnsafeMutablePointer<Float>,
        biasGradient: UnsafeMutablePointer<Float>, winogradScratch: FloatBuffer?, workspace: Workspace
    ) {
        let cin = shape.channels
        let threads = workspace.threads
        let s = dd_conv_shape(
            height: Int32(shape.height), width: Int32(shape.width), cin: Int32(cin), cout: Int32(cout))
        let totalPixels = shape.batch * shape.height * shape.width

        // Bias: per-thread double sums over contiguous pixel ranges, combined in thread order.
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: threads.count * cout)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: threads.count * cout)
        let pixelStep = (totalPixels + threads.count - 1) / threads.count
        threads.forEach(threads.count) { t, _ in
            let p0 = t * pixelStep, p1 = min(totalPixels, p0 + pixelStep)
            if p1 > p0 { dd_bias_grad_rows(gradOut + p0 * cout, p1 - p0, Int32(cout), partials + t * cout) }
        }
        for c in 0..<cout {
            var sum = 0.0
            for t in 0..<threads.count { sum += partials[t * cout + c] }
            biasGradient[c] = Float(sum)
        }

        let m = algorithm.tile
        if m == 0 {
            // im2col: per-thread partial dW over its own bands, summed in thread order.
            let totalRows = shape.batch * shape.height
            let rowFloats = shape.width * 9 * cin
            let rows = max(
                1,
                min(workspace.chunking.privateBytes / (rowFloats * 4), (totalRows + threads.count - 1) / threads.count))
            let kernelFloats = 9 * cin * cout
            workspace.reserve(rows * rowFloats + kernelFloats)
            let chunks = (totalRows + rows - 1) / rows
            for t in 0..<threads.count { memset(workspace.scratch(t) + rows * rowFloats, 0, kernelFloats * 4) }
            threads.forEach(chunks) { chunk, thread in
                let scratch = workspace.scratch(thread)
                dd_conv3x3_weight_grad_rows(
                    input, s, gradOut, Int32(chunk * rows), Int32(min(totalRows, (chunk + 1) * rows)),
                    scratch, scratch + rows * rowFloats, nil)
            }
            sumInThreadOrder(
                (0..<min(threads.count, chunks)).map { workspace.scratch($0) + rows * rowFloats },
                count: kernelFloats, into: kernelGradient, threads: threads)
            return
        }

        let a = m + 2
        let totalRows = shape.batch * ((shape.height + m - 1) / m)
        let tilesAcross = (shape.width + m - 1) / m
        let floatsPerRow = a * a * tilesAcross * (cin + cout)
        let rows = max(1, min(workspace.chunking.gradientBytes / (floatsPerRow * 4), totalRows))
        guard let winogradScratch, winogradScratch.count >= a * a * cin * cout else {
            preconditionFailure("Winograd weight gradient needs (m+2)^2 * cin * cout floats of scratch")
        }
        let dU = winogradScratch.pointer
        let points = a * a
        let planeFloats = points * cin * cout

        // Few channels (block 1): each thread transforms and multiplies its own small chunks of rows, which
        // stay in its cache, into its own partial dU; the partials are then summed in thread order. (With
        // shared chunks the threads split the Winograd points, so each reads every tile from memory.)
        let privateRows = max(
            1,
            min(
                workspace.chunking.privateBytes / (floatsPerRow * 4),
                (totalRows + threads.count - 1) / threads.count))
        if threads.count > 1 && privateRows * tilesAcross >= max(cin, cout) {
            let chunkFloats = privateRows * floatsPerRow
            workspace.reserve(chunkFloats + planeFloats)
            let chunks = (totalRows + privateRows - 1) / privateRows
            threads.forEach(chunks) { chunk, thread in
                let r0 = chunk * privateRows, r1 = min(totalRows, r0 + privateRows)
                let T = (r1 - r0) * tilesAcross
                let V = workspace.scratch(thread)
                let dM = V + points * T * cin
                dd_wino_input(Int32(m), input, s.height, s.width, s.cin, Int32(r0), Int32(r1), V, T, 0)
                dd_wino_output_grad(Int32(m), gradOut, s.height, s.width, s.cout, Int32(r0), Int32(r1), dM, T, 0)
                // A thread's first chunk (chunk == thread) writes its partial, later ones add to it.
                dd_wino_weight_grad_gemms(
                    Int32(m), V, Int32(T), s.cin, dM, s.cout, 0, Int32(points),
                    chunk >= threads.count ? 1 : 0, V + chunkFloats)
            }
            sumInThreadOrder(
                (0..<min(threads.count, chunks)).map { workspace.scratch($0) + chunkFloats },
                count: planeFloats, into: dU, threads: threads)
        } else {
            sharedChunks(
                m: m, input: input, s: s, gradOut: gradOut, totalRows: totalRows, rows: rows,
                tilesAcross: tilesAcross, floatsPerRow: floatsPerRow, dU: dU, workspace: workspace)
        }
        let channelStep = (cin + threads.count - 1) / threads.count
        threads.forEach((cin + channelStep - 1) / channelStep) { slice, _ in
            let c0 = slice * channelStep, c1 = min(cin, c0 + channelStep)
            dd_wino_weight_grad_finish(Int32(m), dU, s.cin, s.cout, Int32(c0), Int32(c1), kernelGradient)
        }
    }

    /// `destination = partials[0] + partials[1] + ...`, added in that order (so the result depends on the
    /// thread count only), element ranges spread over the threads.
    private static func sumInThreadOrder(
        _ partials: [UnsafeMutablePointer<Float>], count: Int,
        into destination: UnsafeMutablePointer<Float>, threads: ComputeThreads
    ) {
        let sliceFloats = (count + threads.count - 1) / threads.count
        threads.forEach(threads.count) { slice, _ in
            let k0 = slice * sliceFloats, k1 = min(count, k0 + sliceFloats)
            guard k1 > k0 else { return }
            (destination + k0).update(from: partials[0] + k0, count: k1 - k0)
            for partial in partials.dropFirst() {
                for k in k0..<k1 { destination[k] += partial[k] }
            }
        }
    }

    /// Winograd dU over chunks of `rows` tile rows shared by all threads: rows split for the transforms,
    /// Winograd points split for the products.
    private static func sharedChunks(
        m: Int, input: UnsafePointer<Float>, s: dd_conv_shape, gradOut: UnsafePointer<Float>, totalRows: Int, rows: Int,
        tilesAcross: Int, floatsPerRow: Int, dU: UnsafeMutablePointer<Float>, workspace: Workspace
    ) {
        let threads = workspace.threads
        let a = m + 2
        let cin = Int(s.cin)
        let scratch = workspace.shared(rows * floatsPerRow)
        var g0 = 0
        while g0 < totalRows {
            let g1 = min(totalRows, g0 + rows)
            let chunkRows = g1 - g0
            let T = chunkRows * tilesAcross
            let V = scratch
            let dM = scratch + a * a * T * cin
            let accumulate: Int32 = g0 > 0 ? 1 : 0
            let step = (chunkRows + threads.count - 1) / threads.count
            threads.forEach((chunkRows + step - 1) / step) { slice, _ in
                let r0 = g0 + slice * step, r1 = min(g1, r0 + step)
                dd_wino_input(
                    Int32(m), input, s.height, s.width, s.cin, Int32(r0), Int32(r1), V, T, (r0 - g0) * tilesAcross)
                dd_wino_output_grad(
                    Int32(m), gradOut, s.height, s.width, s.cout, Int32(r0), Int32(r1), dM, T, (r0 - g0) * tilesAcross)
            }
            let points = a * a
            let pointStep = (points + threads.count - 1) / threads.count
            threads.forEach((points + pointStep - 1) / pointStep) { slice, _ in
                let x0 = slice * pointStep, x1 = min(points, x0 + pointStep)
                // The first chunk writes dU, later ones add to it: no separate pass to clear it.
                dd_wino_weight_grad_gemms(
                    Int32(m), V, Int32(T), s.cin, dM, s.cout, Int32(x0), Int32(x1), accumulate, dU)
            }
            g0 = g1
        }
    }
}
