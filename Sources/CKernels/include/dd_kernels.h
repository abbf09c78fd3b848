#ifndef DD_KERNELS_H
#define DD_KERNELS_H

/// Hot loops of the VGG16 engine, kept in C so that they vectorise predictably on every target.
///
/// Conventions: activations are NHWC, `[N][height][width][channels]` with channels fastest. Convolution weights are HWIO `[3][3][cin][cout]`, which flattened is exactly the
/// `[9*cin][cout]` matrix an im2col row multiplies. Every 3x3 convolution uses "same" zero padding.
/// None of these functions allocate, and none use threads: callers split work into row bands and run
/// the bands on their own threads, each band with its own scratch buffers.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Geometry of one 3x3 same-padding convolution.
typedef struct {
    int height;
    int width;
    int cin;
    int cout;
} dd_conv_shape;

/// What happens to convolution results on their way out.
typedef struct {
    /// Added per output channel; may be NULL.
    const float *bias;
    /// Non-zero: clamp at zero (ReLU).
    int relu;
    /// Full-resolution output `[N][height][width][cout]`; may be NULL when only `pooled` is wanted.
    float *out;
    /// 2x2 stride-2 max-pooled output `[N][height/2][width/2][cout]`; may be NULL. Needs even bands.
    float *pooled;
    /// When not NULL (and `out` is given), `out` is zeroed wherever `mask` (same layout as `out`) is not
    /// positive: backpropagation applies the previous layer's ReLU derivative this way, in the same pass.
    const float *mask;
} dd_epilogue;

/// 1 when the hot loops run with fused multiply-add: on x86-64 this tells whether the loader picked an
/// AVX2/AVX-512 clone of them (see kernels.c) or the SSE2 baseline.
int dd_kernels_fused_multiply_add(void);

// MARK: - Batches and global rows
//
// A batch is `N` images back to back. Functions that take "global rows" [g0, g1) number the output rows of
// all images consecutively (row g is row g % height of image g / height), so one work chunk may span images;
// Winograd functions number tile rows the same way (tilesDown = ceil(height / m) per image).

// MARK: - im2col path (reference order of summation, lowest memory)

/// Writes the im2col rows of output rows [y0, y1) of one image: `(y1-y0)*width` rows of `9*channels` values
/// in (ky, kx, c) order, zeros where the 3x3 window leaves the image.
void dd_im2col3x3(const float *image, int height, int width, int channels, int y0, int y1, float *cols);

/// im2col of global rows [g0, g1) of a batch.
void dd_im2col3x3_batch(const float *images, int height, int width, int channels, int g0, int g1, float *cols);

/// Floats of scratch `dd_conv3x3_im2col_rows` needs for `rows` output rows.
size_t dd_conv3x3_im2col_scratch(dd_conv_shape s, int rows, int needsBand);

/// Bias, ReLU, optional ReLU-derivative mask (`maskRows`, same layout as `band`, may be NULL) and optional 2x2
/// max-pool of `rows` (even when pooling) full-resolution rows held in `band` (`[rows][width][cout]`, modified
/// in place); pooled rows go to `pooledRows` (may be NULL).
void dd_epilogue_rows(float *band, int rows, int width, int cout, const float *bias, int relu, float *pooledRows,
                      const float *maskRows);

/// Convolution of global output rows [g0, g1) by im2col + one sgemm, then the epilogue. `weights` is
/// `[9*cin][cout]`; `scratch` holds `dd_conv3x3_im2col_scratch(s, g1-g0, e.out == NULL)` floats; `e.out`
/// and `e.pooled` point at the batch's first image. With `e.pooled`, g0 and g1 must be even.
void dd_conv3x3_im2col_rows(const float *images, dd_conv_shape s, const float *weights, int g0, int g1,
                            float *scratch, dd_epilogue e);

/// Accumulates the weight gradient of global output rows [g0, g1): `dW[9*cin][cout] += cols^T * gradOut`
/// and `dB[cout] += column sums of gradOut` (dB may be NULL). `cols` holds `(g1-g0)*width*9*cin` floats.
void dd_conv3x3_weight_grad_rows(const float *images, dd_conv_shape s, const float *gradOut, int g0, int g1,
                                 float *cols, float *dW, float *dB);

// MARK: - Winograd F(m x m, 3 x 3), m = 2 or 4

/// Side of a Winograd tile: m + 2.
int dd_wino_alpha(int m);

/// Transforms HWIO weights into the Winograd domain: `U[alpha*alpha][cin][cout]`.
void dd_wino_transform_weights(int m, const float *hwio, int cin, int cout, float *U);

/// The same for input channels [ci0, ci1) only (so threads can share the work).
void dd_wino_transform_weights_range(int m, const float *hwio, int cin, int cout, int ci0, int ci1, float *U);

/// Writes HWIO weights for the input gradient: `out[ky][kx][co][ci] = w[2-ky][2-kx][ci][co]`.
/// Convolving the output gradient with these (same padding) gives the input gradient.
void dd_flip_transpose_weights(const float *hwio, int cin, int cout, float *out);

/// The same for kernel taps [tap0, tap1) of the 9 (tap = ky * 3 + kx of the output).
void dd_flip_transpose_weights_range(const float *hwio, int cin, int cout, int tap0, int tap1, float *out);

/// Input transform of global tile rows [g0, g1) into `V[alpha^2][planeTiles][C]`, tiles numbered from
/// `tileOffset` (so several calls can fill one V in parallel).
void dd_wino_input(int m, const float *images, int height, int width, int channels, int g0, int g1, float *V,
                   size_t planeTiles, size_t tileOffset);

/// The products `M[xi][T][cout] = V[xi][T][cin] * U[xi][cin][cout]` for Winograd points xi0 <= xi < xi1
/// (one sgemm each; alpha^2 points in all).
void dd_wino_gemms(int m, const float *V, int T, int cin, const float *U, int cout, int xi0, int xi1, float *M);

/// Output transform of global tile rows [g0, g1) from `M[alpha^2][planeTiles][cout]` (tiles from
/// `tileOffset`), then the epilogue; `e.out`/`e.pooled` point at the batch's first image.
void dd_wino_output(int m, const float *M, size_t planeTiles, size_t tileOffset, int height, int width, int cout,
                    int g0, int g1, dd_epilogue e);

/// Floats of scratch `dd_conv3x3_winograd_rows` needs for `tileRows` tile rows.
size_t dd_conv3x3_winograd_scratch(int m, dd_conv_shape s, int tileRows);

/// The whole Winograd pipeline for global tile rows [g0, g1) (tile row r of an image covers output rows
/// [r*m, r*m+m)): input transform, alpha^2 sgemm calls against `U`, output transform, epilogue.
void dd_conv3x3_winograd_rows(int m, const float *images, dd_conv_shape s, const float *U, int g0, int g1,
                              float *scratch, dd_epilogue e);

// MARK: - Winograd with streamed weights

/// Point `xi` (0 ..< alpha^2) of the Winograd weight transform for output channels [c0, c1) only:
/// `U[cin][c1-c0]`, computed from the HWIO weights as a linear combination of their 9 taps.
void dd_wino_weight_point(int m, const float *hwio, int cin, int cout, int xi, int c0, int c1, float *U);

/// Floats of scratch `dd_wino_streamed_columns` needs for `columns` output channels and `planeTiles` tiles.
size_t dd_wino_streamed_scratch(int m, int cin, int columns, size_t planeTiles);

/// Output channels [c0, c1) of global tile rows [g0, g1), from their input transform `V[alpha^2][planeTiles][cin]`
/// (tiles from 0; see `dd_wino_input`) and the untransformed HWIO weights: per Winograd point, that point's
/// weights for these channels, one sgemm, then the output transform and epilogue for these channels
/// (`e`'s pointers are for all `cout` channels). Different channel ranges may run at once on different threads,
/// each with its own scratch.
void dd_wino_streamed_columns(int m, const float *V, size_t planeTiles, const float *hwio, int cin, int cout,
                              int c0, int c1, int height, int width, int g0, int g1, float *scratch, dd_epilogue e);

// MARK: - Winograd weight gradient

/// Output gradient of global tile rows [g0, g1) taken back through the output transform:
/// `dM[alpha^2][planeTiles][cout]` (tiles from `tileOffset`); positions outside the image count as zero.
void dd_wino_output_grad(int m, const float *gradOut, int height, int width, int cout, int g0, int g1, float *dM,
                         size_t planeTiles, size_t tileOffset);

/// `dU[xi][cin][cout] = V[xi]^T * dM[xi]` for Winograd points xi0 <= xi < xi1 (T tiles), or `+=` when
/// `accumulate` is non-zero.
void dd_wino_weight_grad_gemms(int m, const float *V, int T, int cin, const float *dM, int cout, int xi0, int xi1,
                               int accumulate, float *dU);

/// Writes the HWIO weight gradient of input channels [ci0, ci1) from the Winograd-domain gradient:
/// `dW = G^T dU G` (evaluated in double).
void dd_wino_weight_grad_finish(int m, const float *dU, int cin, int cout, int ci0, int ci1, float *dW);

/// `dB[c] += sum over pixels of grad[p][c]`, accumulated in double.
void dd_bias_grad_rows(const float *grad, size_t pixels, int channels, double *dB);

// MARK: - Optimizer

/// One RMSprop step with Keras 3 semantics, in float32: `v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + eps)`.
void dd_rmsprop_update(float *w, const float *g, float *v, size_t n, float lr, float rho, float epsilon);

// MARK: - Element-wise and pooling

/// `x[p][c] = max(0?, x[p][c] + bias[c])` over `pixels` rows of `channels`.
void dd_bias_relu(float *x, size_t pixels, int channels, const float *bias, int relu);

/// 2x2 stride-2 max pooling of one image with even height and width.
void dd_maxpool2x2(const float *in, int height, int width, int channels, float *out);

/// Gradient of 2x2 max pooling of a ReLU output, for one image: each pooled gradient goes to the first maximum
/// of its window (row-major) unless that maximum is 0 (the ReLU was off: no gradient); every other input
/// position gets zero. So the ReLU derivative needs no pass of its own. `gradIn` is overwritten.
void dd_maxpool2x2_backward(const float *in, const float *gradPooled, int height, int width, int channels,
                            float *gradIn);

/// `grad[i] = (activation[i] > 0) ? grad[i] : 0`, the ReLU derivative applied in place.
void dd_relu_backward(const float *activation, float *grad, size_t count);

/// Mean over the pixels of one image: `out[c] = mean_p in[p][c]`, accumulated in double.
void dd_global_average_pool(const float *in, size_t pixels, int channels, float *out);

#ifdef __cplusplus
}
#endif
#endif
