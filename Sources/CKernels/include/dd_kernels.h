#ifndef DD_KERNELS_H
#define DD_KERNELS_H

/// Hot loops of the VGG16 engine, kept in C so that they vectorise predictably on every target.
///
/// Conventions: activations are one image at a time, NHWC without the N, i.e. `[height][width][channels]`
/// with channels fastest. Convolution weights are HWIO `[3][3][cin][cout]`, which flattened is exactly the
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
    /// Full-resolution output image `[height][width][cout]`; may be NULL when only `pooled` is wanted.
    float *out;
    /// 2x2 stride-2 max-pooled output `[height/2][width/2][cout]`; may be NULL. Needs even bands.
    float *pooled;
} dd_epilogue;

// MARK: - im2col path (exact reference order, lowest memory)

/// Writes the im2col rows of output rows [y0, y1): `(y1-y0)*width` rows of `9*channels` values in
/// (ky, kx, c) order, zeros where the 3x3 window leaves the image.
void dd_im2col3x3(const float *image, int height, int width, int channels, int y0, int y1, float *cols);

/// Floats of scratch `dd_conv3x3_im2col_rows` needs for `rows` output rows.
size_t dd_conv3x3_im2col_scratch(dd_conv_shape s, int rows, int needsBand);

/// Convolution of output rows [y0, y1) by im2col + one sgemm per band, then the epilogue.
/// `weights` is `[9*cin][cout]`. `scratch` holds `dd_conv3x3_im2col_scratch(s, y1-y0, e.out == NULL)` floats.
/// With `e.pooled`, y0 and y1 must be even.
void dd_conv3x3_im2col_rows(const float *image, dd_conv_shape s, const float *weights, int y0, int y1,
                            float *scratch, dd_epilogue e);

/// Accumulates the weight gradient of output rows [y0, y1): `dW[9*cin][cout] += cols^T * gradOut` and
/// `dB[cout] += column sums of gradOut` (dB may be NULL). `cols` holds `(y1-y0)*width*9*cin` floats.
void dd_conv3x3_weight_grad_rows(const float *image, dd_conv_shape s, const float *gradOut, int y0, int y1,
                                 float *cols, float *dW, float *dB);

// MARK: - Winograd F(m x m, 3 x 3), m = 2 or 4

/// Side of a Winograd tile: m + 2.
int dd_wino_alpha(int m);

/// Transforms HWIO weights into the Winograd domain: `U[alpha*alpha][cin][cout]`.
void dd_wino_transform_weights(int m, const float *hwio, int cin, int cout, float *U);

/// Writes HWIO weights for the input gradient: `out[ky][kx][co][ci] = w[2-ky][2-kx][ci][co]`.
/// Convolving the output gradient with these (same padding) gives the input gradient.
void dd_flip_transpose_weights(const float *hwio, int cin, int cout, float *out);

/// Floats of scratch `dd_conv3x3_winograd_rows` needs for tile rows [tr0, tr1).
size_t dd_conv3x3_winograd_scratch(int m, dd_conv_shape s, int tileRows);

/// Convolution of the output rows covered by tile rows [tr0, tr1) (tile row r covers output rows
/// [r*m, r*m+m)): input transform, alpha^2 sgemm calls against `U`, output transform, epilogue.
void dd_conv3x3_winograd_rows(int m, const float *image, dd_conv_shape s, const float *U, int tr0, int tr1,
                              float *scratch, dd_epilogue e);

// MARK: - Element-wise and pooling

/// `x[p][c] = max(0?, x[p][c] + bias[c])` over `pixels` rows of `channels`.
void dd_bias_relu(float *x, size_t pixels, int channels, const float *bias, int relu);

/// 2x2 stride-2 max pooling of one image with even height and width.
void dd_maxpool2x2(const float *in, int height, int width, int channels, float *out);

/// Gradient of 2x2 max pooling for one image: each pooled gradient goes to the first maximum of its window
/// (row-major), every other input position gets zero. `gradIn` is overwritten.
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
