#include "dd_kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "dd_openblas.h"

// On x86-64 every hot loop is compiled three times and the loader picks the best the CPU runs: the
// x86-64 feature levels v4 (AVX-512), v3 (AVX2 + FMA) and the SSE2 baseline. Levels are chosen by the CPU's
// features; `arch=<cpu name>` clones would be chosen only on exactly that CPU model (and never under a
// hypervisor that hides the model), leaving every other CPU on SSE2. Elsewhere (aarch64 boards) the
// compiler's default vector unit is used.
#if defined(__x86_64__) && defined(__clang__) && !defined(DD_NO_CLONES)
#define DD_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DD_HOT
#endif

/// Runs in the clone the loader chose: 1 when it contracts `a * b + c` into a fused multiply-add (the
/// x86-64-v3 and v4 clones, and aarch64), 0 on the SSE2 baseline, where the product is rounded first.
DD_HOT int dd_kernels_fused_multiply_add(void) {
    volatile float probe = 1.0f + 0x1p-12f;  // volatile: computed at run time, in this clone
    const float x = probe;
    // x * x = 1 + 2^-11 + 2^-24 exactly; rounded to float it is 1 + 2^-11, so only a fused operation keeps 2^-24.
    return x * x - (1.0f + 0x1p-11f) != 0.0f;
}
#define DD_INLINE static inline __attribute__((always_inline))

/// Channel block for the Winograd transforms: keeps a tile's intermediate values in L1.
#define CB 64

static const float zeros[CB] __attribute__((aligned(64)));

// MARK: - im2col

DD_INLINE void im2col_rows(const float *image, int H, int W, int C, int y0, int y1, float *cols) {
    const size_t rowLen = (size_t)9 * C;
    const size_t cBytes = (size_t)C * sizeof(float);
    for (int y = y0; y < y1; y++) {
        for (int x = 0; x < W; x++) {
            float *dst = cols + ((size_t)(y - y0) * W + x) * rowLen;
            for (int ky = 0; ky < 3; ky++) {
                const int sy = y + ky - 1;
                if (sy < 0 || sy >= H) {
                    memset(dst, 0, 3 * cBytes);
                    dst += 3 * C;
                    continue;
                }
                const float *srcRow = image + (size_t)sy * W * C;
                for (int kx = 0; kx < 3; kx++, dst += C) {
                    const int sx = x + kx - 1;
                    if (sx < 0 || sx >= W) memset(dst, 0, cBytes);
                    else memcpy(dst, srcRow + (size_t)sx * C, cBytes);
                }
            }
        }
    }
}

void dd_im2col3x3(const float *image, int height, int width, int channels, int y0, int y1, float *cols) {
    im2col_rows(image, height, width, channels, y0, y1, cols);
}

void dd_im2col3x3_batch(const float *images, int height, int width, int channels, int g0, int g1, float *cols) {
    const size_t imageFloats = (size_t)height * width * channels;
    const size_t rowFloats = (size_t)width * 9 * channels;
    for (int g = g0; g < g1;) {
        const int n = g / height, y = g % height;
        const int end = (n + 1) * height < g1 ? (n + 1) * height : g1;
        im2col_rows(images + (size_t)n * imageFloats, height, width, channels, y, y + (end - g),
                    cols + (size_t)(g - g0) * rowFloats);
        g = end;
    }
}

DD_HOT void dd_relu_backward(const float *activation, float *grad, size_t count) {
    for (size_t i = 0; i < count; i++) grad[i] = activation[i] > 0.0f ? grad[i] : 0.0f;
}

DD_HOT void dd_bias_relu(float *x, size_t pixels, int channels, const float *bias, int relu) {
    for (size_t p = 0; p < pixels; p++) {
        float *restrict row = x + p * channels;
        if (bias) for (int c = 0; c < channels; c++) row[c] += bias[c];
        if (relu) for (int c = 0; c < channels; c++) row[c] = row[c] > 0.0f ? row[c] : 0.0f;
    }
}

DD_HOT static void pool_rows(const float *in, int W, int C, int rows, float *out) {
    // `rows` (even) input rows of width W -> rows/2 pooled rows of width W/2.
    const int Wo = W / 2;
    for (int r = 0; r < rows; r += 2) {
        const float *a = in + (size_t)r * W * C;
        const float *b = a + (size_t)W * C;
        float *o = out + (size_t)(r / 2) * Wo * C;
        for (int x = 0; x < Wo; x++) {
            const float *restrict a0 = a + (size_t)(2 * x) * C, *restrict a1 = a0 + C;
            const float *restrict b0 = b + (size_t)(2 * x) * C, *restrict b1 = b0 + C;
            float *restrict dst = o + (size_t)x * C;
            for (int c = 0; c < C; c++) {
                float m0 = a0[c] > a1[c] ? a0[c] : a1[c];
                float m1 = b0[c] > b1[c] ? b0[c] : b1[c];
                dst[c] = m0 > m1 ? m0 : m1;
            }
        }
    }
}

size_t dd_conv3x3_im2col_scratch(dd_conv_shape s, int rows, int needsBand) {
    size_t pixels = (size_t)rows * s.width;
    return pixels * 9 * s.cin + (needsBand ? pixels * s.cout : 0);
}

void dd_epilogue_rows(float *band, int rows, int width, int cout, const float *bias, int relu, float *pooledRows,
                      const float *maskRows) {
    dd_bias_relu(band, (size_t)rows * width, cout, bias, relu);
    if (maskRows) dd_relu_backward(maskRows, band, (size_t)rows * width * cout);
    if (pooledRows) pool_rows(band, width, cout, rows, pooledRows);
}

void dd_conv3x3_im2col_rows(const float *images, dd_conv_shape s, const float *weights, int g0, int g1,
                            float *scratch, dd_epilogue e) {
    const int rows = g1 - g0;
    if (rows <= 0) return;
    const size_t pixels = (size_t)rows * s.width;
    float *cols = scratch;
    float *band = e.out ? e.out + (size_t)g0 * s.width * s.cout : scratch + pixels * 9 * s.cin;
    dd_im2col3x3_batch(images, s.height, s.width, s.cin, g0, g1, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pixels, s.cout, 9 * s.cin, 1.0f, cols,
                9 * s.cin, weights, s.cout, 0.0f, band, s.cout);
    dd_epilogue_rows(band, rows, s.width, s.cout, e.bias, e.relu,
                     e.pooled ? e.pooled + (size_t)(g0 / 2) * (s.width / 2) * s.cout : NULL,
                     e.mask ? e.mask + (size_t)g0 * s.width * s.cout : NULL);
}

DD_HOT static void column_sums(const float *g, size_t pixels, int C, float *dB) {
    for (size_t p = 0; p < pixels; p++) {
        const float *restrict row = g + p * C;
        for (int c = 0; c < C; c++) dB[c] += row[c];
    }
}

void dd_conv3x3_weight_grad_rows(const float *images, dd_conv_shape s, const float *gradOut, int g0, int g1,
                                 float *cols, float *dW, float *dB) {
    const int rows = g1 - g0;
    if (rows <= 0) return;
    const size_t pixels = (size_t)rows * s.width;
    const float *g = gradOut + (size_t)g0 * s.width * s.cout;
    dd_im2col3x3_batch(images, s.height, s.width, s.cin, g0, g1, cols);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 9 * s.cin, s.cout, (int)pixels, 1.0f, cols, 9 * s.cin,
                g, s.cout, 1.0f, dW, s.cout);
    if (dB) column_sums(g, pixels, s.cout, dB);
}

// MARK: - Winograd transforms
//
// The arrays of row pointers below are zero-initialised only because GCC cannot prove that the loops filling them
// for the tile size in use cover every entry a transform reads (-Wmaybe-uninitialized, seen on aarch64).
//
// F(2x2, 3x3) uses Lavin's matrices (points 0, 1, -1). F(4x4, 3x3) uses the points 0, 1, -1, 1/2, -2,
// which in float32 give about 3x less error than the common 0, +-1, +-2 (measured against float64).
// Each 1-D transform maps `alpha` (or 3) vectors of `n` channels to its outputs; the 2-D transforms apply
// it along columns, then along rows.

DD_INLINE void bt2(const float *const in[4], float *const out[4], int n) {
    const float *restrict d0 = in[0], *restrict d1 = in[1], *restrict d2 = in[2], *restrict d3 = in[3];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2], *restrict o3 = out[3];
    for (int c = 0; c < n; c++) {
        o0[c] = d0[c] - d2[c];
        o1[c] = d1[c] + d2[c];
        o2[c] = d2[c] - d1[c];
        o3[c] = d1[c] - d3[c];
    }
}

DD_INLINE void at2(const float *const in[4], float *const out[2], int n) {
    const float *restrict m0 = in[0], *restrict m1 = in[1], *restrict m2 = in[2], *restrict m3 = in[3];
    float *restrict o0 = out[0], *restrict o1 = out[1];
    for (int c = 0; c < n; c++) {
        o0[c] = m0[c] + m1[c] + m2[c];
        o1[c] = m1[c] - m2[c] - m3[c];
    }
}

DD_INLINE void bt4(const float *const in[6], float *const out[6], int n) {
    const float *restrict d0 = in[0], *restrict d1 = in[1], *restrict d2 = in[2];
    const float *restrict d3 = in[3], *restrict d4 = in[4], *restrict d5 = in[5];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2];
    float *restrict o3 = out[3], *restrict o4 = out[4], *restrict o5 = out[5];
    for (int c = 0; c < n; c++) {
        const float a = d0[c], b = d1[c], cc = d2[c], d = d3[c], e = d4[c], f = d5[c];
        o0[c] = a - 1.5f * b - 2.0f * cc + 1.5f * d + e;
        o1[c] = -b + 0.5f * cc + 2.5f * d + e;
        o2[c] = b - 2.5f * cc + 0.5f * d + e;
        o3[c] = -2.0f * b - cc + 2.0f * d + e;
        o4[c] = 0.5f * b - cc - 0.5f * d + e;
        o5[c] = b - 1.5f * cc - 2.0f * d + 1.5f * e + f;
    }
}

DD_INLINE void at4(const float *const in[6], float *const out[4], int n) {
    const float *restrict m0 = in[0], *restrict m1 = in[1], *restrict m2 = in[2];
    const float *restrict m3 = in[3], *restrict m4 = in[4], *restrict m5 = in[5];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2], *restrict o3 = out[3];
    for (int c = 0; c < n; c++) {
        const float a = m0[c], b = m1[c], cc = m2[c], d = m3[c], e = m4[c], f = m5[c];
        const float p = b + cc, q = b - cc;
        o0[c] = a + p + d + e;
        o1[c] = q + 0.5f * d - 2.0f * e;
        o2[c] = p + 0.25f * d + 4.0f * e;
        o3[c] = q + 0.125f * d - 8.0f * e + f;
    }
}

DD_INLINE void g2(const float *const in[3], float *const out[4], int n) {
    const float *restrict a = in[0], *restrict b = in[1], *restrict c3 = in[2];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2], *restrict o3 = out[3];
    for (int c = 0; c < n; c++) {
        o0[c] = a[c];
        o1[c] = 0.5f * (a[c] + b[c] + c3[c]);
        o2[c] = 0.5f * (a[c] - b[c] + c3[c]);
        o3[c] = c3[c];
    }
}

DD_INLINE void g4(const float *const in[3], float *const out[6], int n) {
    const float *restrict a = in[0], *restrict b = in[1], *restrict c3 = in[2];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2];
    float *restrict o3 = out[3], *restrict o4 = out[4], *restrict o5 = out[5];
    for (int c = 0; c < n; c++) {
        // Evaluated in double: the thirds and fifteenths are not exact in binary.
        const double x = a[c], y = b[c], z = c3[c];
        o0[c] = (float)x;
        o1[c] = (float)((x + y + z) / 3.0);
        o2[c] = (float)((-x + y - z) / 3.0);
        o3[c] = (float)((-16.0 * x - 8.0 * y - 4.0 * z) / 15.0);
        o4[c] = (float)((x - 2.0 * y + 4.0 * z) / 15.0);
        o5[c] = (float)z;
    }
}

int dd_wino_alpha(int m) { return m + 2; }


DD_HOT void dd_wino_transform_weights_range(int m, const float *hwio, int cin, int cout, int ci0, int ci1, float *U) {
    const int A = m + 2;
    const size_t plane = (size_t)cin * cout;
    float tmp[6 * 3][CB] __attribute__((aligned(64)));
    for (int ci = ci0; ci < ci1; ci++) {
        for (int c0 = 0; c0 < cout; c0 += CB) {
            const int n = cout - c0 < CB ? cout - c0 : CB;
            // Columns: tmp[i][l] = sum_k G[i][k] g[k][l]
            for (int l = 0; l < 3; l++) {
                const float *in[3] = {0};
                float *out[6] = {0};
                for (int k = 0; k < 3; k++) in[k] = hwio + ((size_t)(k * 3 + l) * cin + ci) * cout + c0;
                for (int i = 0; i < A; i++) out[i] = tmp[i * 3 + l];
                if (m == 2) g2(in, out, n); else g4(in, out, n);
            }
            // Rows: U[i][j] = sum_l tmp[i][l] G[j][l]
            for (int i = 0; i < A; i++) {
                const float *in[3] = {tmp[i * 3], tmp[i * 3 + 1], tmp[i * 3 + 2]};
                float *out[6] = {0};
                for (int j = 0; j < A; j++) out[j] = U + (size_t)(i * A + j) * plane + (size_t)ci * cout + c0;
                if (m == 2) g2(in, out, n); else g4(in, out, n);
            }
        }
    }
}

void dd_wino_transform_weights(int m, const float *hwio, int cin, int cout, float *U) {
    dd_wino_transform_weights_range(m, hwio, cin, cout, 0, cin, U);
}

void dd_flip_transpose_weights(const float *hwio, int cin, int cout, float *out) {
    dd_flip_transpose_weights_range(hwio, cin, cout, 0, 9, out);
}

void dd_flip_transpose_weights_range(const float *hwio, int cin, int cout, int tap0, int tap1, float *out) {
    enum { B = 32 };  // transpose in B x B blocks: both sides stay in cache
    for (int tap = tap0; tap < tap1; tap++) {
        const int ky = tap / 3, kx = tap % 3;
        const float *src = hwio + (size_t)((2 - ky) * 3 + (2 - kx)) * cin * cout;
        float *dst = out + (size_t)tap * cin * cout;
        for (int ci0 = 0; ci0 < cin; ci0 += B)
            for (int co0 = 0; co0 < cout; co0 += B) {
                const int ci1 = ci0 + B < cin ? ci0 + B : cin, co1 = co0 + B < cout ? co0 + B : cout;
                for (int co = co0; co < co1; co++)
                    for (int ci = ci0; ci < ci1; ci++) dst[(size_t)co * cin + ci] = src[(size_t)ci * cout + co];
            }
    }
}

/// Input transform of global tile rows [g0, g1) (tile row g is row g % tilesDown of image g / tilesDown)
/// into V[alpha^2][planeTiles][C], starting at tile index `tileOffset`.
DD_HOT void dd_wino_input(int m, const float *images, int H, int W, int C, int g0, int g1, float *V,
                          size_t planeTiles, size_t tileOffset) {
    const int A = m + 2;
    const int tilesAcross = (W + m - 1) / m, tilesDown = (H + m - 1) / m;
    const size_t plane = planeTiles * C;
    float tmp[36][CB] __attribute__((aligned(64)));
    const float *px[36];
    for (int g = g0; g < g1; g++) {
        const float *image = images + (size_t)(g / tilesDown) * H * W * C;
        const int tr = g % tilesDown;
        for (int tc = 0; tc < tilesAcross; tc++) {
            const size_t t = tileOffset + (size_t)(g - g0) * tilesAcross + tc;
            for (int c0 = 0; c0 < C; c0 += CB) {
                const int n = C - c0 < CB ? C - c0 : CB;
                for (int i = 0; i < A; i++) {
                    const int y = tr * m - 1 + i;
                    for (int j = 0; j < A; j++) {
                        const int x = tc * m - 1 + j;
                        px[i * A + j] = (y < 0 || y >= H || x < 0 || x >= W)
                                            ? zeros
                                            : image + ((size_t)y * W + x) * C + c0;
                    }
                }
                for (int j = 0; j < A; j++) {
                    const float *in[6] = {0};
                    float *out[6] = {0};
                    for (int k = 0; k < A; k++) in[k] = px[k * A + j];
                    for (int i = 0; i < A; i++) out[i] = tmp[i * A + j];
                    if (m == 2) bt2(in, out, n); else bt4(in, out, n);
                }
                for (int i = 0; i < A; i++) {
                    const float *in[6] = {0};
                    float *out[6] = {0};
                    for (int k = 0; k < A; k++) in[k] = tmp[i * A + k];
                    for (int j = 0; j < A; j++) out[j] = V + (size_t)(i * A + j) * plane + t * C + c0;
                    if (m == 2) bt2(in, out, n); else bt4(in, out, n);
                }
            }
        }
    }
}

/// Output transform of global tile rows [g0, g1) from M[alpha^2][planeTiles][cout] (starting at tile
/// `tileOffset`) plus the epilogue, for `cout` channels of outputs that hold `stride` channels per pixel:
/// `e`'s pointers (bias, out, pooled, mask) already point at the first of those channels.
DD_INLINE void wino_output(int m, const float *M, size_t planeTiles, size_t tileOffset, int H, int W, int cout,
                           int stride, int g0, int g1, dd_epilogue e) {
    const int A = m + 2;
    const int tilesAcross = (W + m - 1) / m, tilesDown = (H + m - 1) / m;
    const size_t plane = planeTiles * cout;
    const int Wo = W / 2;
    float tmp[6 * 4][CB] __attribute__((aligned(64)));
    float y[16][CB] __attribute__((aligned(64)));
    for (int g = g0; g < g1; g++) {
        const int img = g / tilesDown, tr = g % tilesDown;
        float *out = e.out ? e.out + (size_t)img * H * W * stride : NULL;
        const float *mask = e.mask ? e.mask + (size_t)img * H * W * stride : NULL;
        float *pooled = e.pooled ? e.pooled + (size_t)img * (H / 2) * Wo * stride : NULL;
        for (int tc = 0; tc < tilesAcross; tc++) {
            const size_t t = tileOffset + (size_t)(g - g0) * tilesAcross + tc;
            for (int c0 = 0; c0 < cout; c0 += CB) {
                const int n = cout - c0 < CB ? cout - c0 : CB;
                for (int j = 0; j < A; j++) {
                    const float *in[6] = {0};
                    float *out[4] = {0};
                    for (int k = 0; k < A; k++) in[k] = M + (size_t)(k * A + j) * plane + t * cout + c0;
                    for (int i = 0; i < m; i++) out[i] = tmp[i * A + j];
                    if (m == 2) at2(in, out, n); else at4(in, out, n);
                }
                for (int i = 0; i < m; i++) {
                    const float *in[6] = {0};
                    float *out[4] = {0};
                    for (int k = 0; k < A; k++) in[k] = tmp[i * A + k];
                    for (int j = 0; j < m; j++) out[j] = y[i * m + j];
                    if (m == 2) at2(in, out, n); else at4(in, out, n);
                }
                for (int p = 0; p < m * m; p++) {
                    float *restrict v = y[p];
                    if (e.bias) for (int c = 0; c < n; c++) v[c] += e.bias[c0 + c];
                    if (e.relu) for (int c = 0; c < n; c++) v[c] = v[c] > 0.0f ? v[c] : 0.0f;
                }
                if (out) {
                    for (int i = 0; i < m; i++) {
                        const int oy = tr * m + i;
                        if (oy >= H) break;
                        for (int j = 0; j < m; j++) {
                            const int ox = tc * m + j;
                            if (ox >= W) break;
                            float *restrict dst = out + ((size_t)oy * W + ox) * stride + c0;
                            if (mask) {
                                const float *restrict keep = mask + ((size_t)oy * W + ox) * stride + c0;
                                const float *restrict v = y[i * m + j];
                                for (int c = 0; c < n; c++) dst[c] = keep[c] > 0.0f ? v[c] : 0.0f;
                            } else {
                                memcpy(dst, y[i * m + j], (size_t)n * sizeof(float));
                            }
                        }
                    }
                }
                if (pooled) {
                    for (int i = 0; i < m; i += 2) {
                        const int oy = tr * m + i;
                        if (oy >= H) break;
                        for (int j = 0; j < m; j += 2) {
                            const int ox = tc * m + j;
                            if (ox >= W) break;
                            const float *restrict a0 = y[i * m + j], *restrict a1 = y[i * m + j + 1];
                            const float *restrict b0 = y[(i + 1) * m + j], *restrict b1 = y[(i + 1) * m + j + 1];
                            float *restrict dst = pooled + ((size_t)(oy / 2) * Wo + ox / 2) * stride + c0;
                            for (int c = 0; c < n; c++) {
                                float m0 = a0[c] > a1[c] ? a0[c] : a1[c];
                                float m1 = b0[c] > b1[c] ? b0[c] : b1[c];
                                dst[c] = m0 > m1 ? m0 : m1;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Output transform of global tile rows [g0, g1) from M[alpha^2][planeTiles][cout] (starting at tile
/// `tileOffset`) plus the epilogue; `e.out` and `e.pooled` point at the batch's first image.
DD_HOT void dd_wino_output(int m, const float *M, size_t planeTiles, size_t tileOffset, int H, int W, int cout,
                           int g0, int g1, dd_epilogue e) {
    wino_output(m, M, planeTiles, tileOffset, H, W, cout, cout, g0, g1, e);
}

size_t dd_conv3x3_winograd_scratch(int m, dd_conv_shape s, int tileRows) {
    const int A = m + 2;
    const size_t T = (size_t)tileRows * ((s.width + m - 1) / m);
    return (size_t)A * A * T * ((size_t)s.cin + s.cout);
}

// MARK: - Winograd with weights transformed as they are used
//
// Deep layers hold most of the weights, and their transformed form is 16/9x (F(2x2)) or 4x (F(4x4)) larger.
// The streamed form keeps only the HWIO weights and transforms them while convolving: one Winograd point
// (alpha^2 of them) for one block of output channels at a time, a few hundred KiB that stay in cache between
// the transform and the product that uses them. Per point the transform is a linear combination of the 9
// taps' [cin][columns] planes, so it reads nothing but HWIO rows and needs no other scratch.

/// G, the weight transform's matrix, row by row: `G[i][k]` for Winograd point row i and kernel row k.
static const double wino_g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double wino_g4[6][3] = {
    {1, 0, 0},
    {1.0 / 3, 1.0 / 3, 1.0 / 3},
    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
    {1.0 / 15, -2.0 / 15, 4.0 / 15},
    {0, 0, 1},
};

DD_HOT void dd_wino_weight_point(int m, const float *hwio, int cin, int cout, int xi, int c0, int c1, float *U) {
    const int A = m + 2, i = xi / A, j = xi % A, n = c1 - c0;
    const double(*G)[3] = m == 2 ? wino_g2 : wino_g4;
    // The taps this point uses, with their products G[i][k] G[j][l] (zero products skipped: about half of them).
    float coefficient[9];
    size_t offset[9];
    int taps = 0;
    for (int k = 0; k < 3; k++)
        for (int l = 0; l < 3; l++) {
            const double c = G[i][k] * G[j][l];
            if (c == 0) continue;
            coefficient[taps] = (float)c;
            offset[taps++] = (size_t)(k * 3 + l) * cin * cout + c0;
        }
    for (int ci = 0; ci < cin; ci++) {
        float *restrict dst = U + (size_t)ci * n;
        const size_t row = (size_t)ci * cout;
        const float *restrict w0 = hwio + offset[0] + row;
        const float a0 = coefficient[0];
        for (int c = 0; c < n; c++) dst[c] = a0 * w0[c];
        for (int t = 1; t < taps; t++) {
            const float *restrict w = hwio + offset[t] + row;
            const float a = coefficient[t];
            for (int c = 0; c < n; c++) dst[c] += a * w[c];
        }
    }
}

size_t dd_wino_streamed_scratch(int m, int cin, int columns, size_t planeTiles) {
    const int A = m + 2;
    return (size_t)cin * columns + (size_t)A * A * planeTiles * columns;
}

DD_HOT void dd_wino_streamed_columns(int m, const float *V, size_t planeTiles, const float *hwio, int cin, int cout,
                                     int c0, int c1, int H, int W, int g0, int g1, float *scratch, dd_epilogue e) {
    if (g1 <= g0 || c1 <= c0) return;
    const int A = m + 2, n = c1 - c0;
    const int T = (int)planeTiles;
    float *U = scratch;
    float *M = scratch + (size_t)cin * n;
    for (int xi = 0; xi < A * A; xi++) {
        dd_wino_weight_point(m, hwio, cin, cout, xi, c0, c1, U);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, n, cin, 1.0f, V + (size_t)xi * T * cin, cin, U, n,
                    0.0f, M + (size_t)xi * T * n, n);
    }
    dd_epilogue columns = e;
    if (columns.bias) columns.bias += c0;
    if (columns.out) columns.out += c0;
    if (columns.pooled) columns.pooled += c0;
    if (columns.mask) columns.mask += c0;
    wino_output(m, M, planeTiles, 0, H, W, n, cout, g0, g1, columns);
}

void dd_wino_gemms(int m, const float *V, int T, int cin, const float *U, int cout, int xi0, int xi1, float *M) {
    if (T <= 0) return;
    for (int xi = xi0; xi < xi1; xi++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, cout, cin, 1.0f, V + (size_t)xi * T * cin, cin,
                    U + (size_t)xi * cin * cout, cout, 0.0f, M + (size_t)xi * T * cout, cout);
    }
}

void dd_conv3x3_winograd_rows(int m, const float *images, dd_conv_shape s, const float *U, int g0, int g1,
                              float *scratch, dd_epilogue e) {
    if (g1 <= g0) return;
    const int A = m + 2;
    const int T = (g1 - g0) * ((s.width + m - 1) / m);
    float *V = scratch;
    float *M = scratch + (size_t)A * A * T * s.cin;
    dd_wino_input(m, images, s.height, s.width, s.cin, g0, g1, V, (size_t)T, 0);
    dd_wino_gemms(m, V, T, s.cin, U, s.cout, 0, A * A, M);
    dd_wino_output(m, M, (size_t)T, 0, s.height, s.width, s.cout, g0, g1, e);
}

// MARK: - Winograd weight gradient
//
// Forward, per tile and channel pair: Y = A^T [ (G g G^T) . (B^T d B) ] A. The gradient with respect to g
// is G^T [ sum over tiles of (B^T d B) . (A dY A^T) ] G: the same input transform V, the output gradient
// taken back through the output transform (A dY A^T), a product per Winograd point summed over tiles
// (one sgemm with the tiles as the inner dimension), and the weight transform taken back (G^T dU G).

/// out[k] = sum_i AT[i][k] in[i]: m output-gradient vectors to alpha.
DD_INLINE void at2_t(const float *const in[2], float *const out[4], int n) {
    const float *restrict a = in[0], *restrict b = in[1];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2], *restrict o3 = out[3];
    for (int c = 0; c < n; c++) {
        o0[c] = a[c];
        o1[c] = a[c] + b[c];
        o2[c] = a[c] - b[c];
        o3[c] = -b[c];
    }
}

DD_INLINE void at4_t(const float *const in[4], float *const out[6], int n) {
    const float *restrict a = in[0], *restrict b = in[1], *restrict cc = in[2], *restrict d = in[3];
    float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2];
    float *restrict o3 = out[3], *restrict o4 = out[4], *restrict o5 = out[5];
    for (int c = 0; c < n; c++) {
        const float x = a[c], y = b[c], z = cc[c], w = d[c];
        o0[c] = x;
        o1[c] = x + y + z + w;
        o2[c] = x - y + z - w;
        o3[c] = x + 0.5f * y + 0.25f * z + 0.125f * w;
        o4[c] = x - 2.0f * y + 4.0f * z - 8.0f * w;
        o5[c] = w;
    }
}

/// out[k] = sum_i G[i][k] in[i]: alpha Winograd-domain vectors back to 3 taps, in double.
DD_INLINE void g2_t(const double *const in[4], double *const out[3], int n) {
    const double *restrict a = in[0], *restrict b = in[1], *restrict cc = in[2], *restrict d = in[3];
    double *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2];
    for (int c = 0; c < n; c++) {
        o0[c] = a[c] + 0.5 * (b[c] + cc[c]);
        o1[c] = 0.5 * (b[c] - cc[c]);
        o2[c] = 0.5 * (b[c] + cc[c]) + d[c];
    }
}

DD_INLINE void g4_t(const double *const in[6], double *const out[3], int n) {
    const double *restrict a = in[0], *restrict b = in[1], *restrict cc = in[2];
    const double *restrict d = in[3], *restrict e = in[4], *restrict f = in[5];
    double *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2];
    for (int c = 0; c < n; c++) {
        o0[c] = a[c] + (b[c] - cc[c]) / 3.0 + (-16.0 * d[c] + e[c]) / 15.0;
        o1[c] = (b[c] + cc[c]) / 3.0 + (-8.0 * d[c] - 2.0 * e[c]) / 15.0;
        o2[c] = (b[c] - cc[c]) / 3.0 + (-4.0 * d[c] + 4.0 * e[c]) / 15.0 + f[c];
    }
}

DD_HOT void dd_wino_output_grad(int m, const float *gradOut, int H, int W, int cout, int g0, int g1, float *dM,
                                size_t planeTiles, size_t tileOffset) {
    const int A = m + 2;
    const int tilesAcross = (W + m - 1) / m, tilesDown = (H + m - 1) / m;
    const size_t plane = planeTiles * cout;
    float tmp[6 * 4][CB] __attribute__((aligned(64)));
    const float *px[16];
    for (int g = g0; g < g1; g++) {
        const float *image = gradOut + (size_t)(g / tilesDown) * H * W * cout;
        const int tr = g % tilesDown;
        for (int tc = 0; tc < tilesAcross; tc++) {
            const size_t t = tileOffset + (size_t)(g - g0) * tilesAcross + tc;
            for (int c0 = 0; c0 < cout; c0 += CB) {
                const int n = cout - c0 < CB ? cout - c0 : CB;
                for (int i = 0; i < m; i++) {
                    const int y = tr * m + i;
                    for (int j = 0; j < m; j++) {
                        const int x = tc * m + j;
                        px[i * m + j] = (y >= H || x >= W) ? zeros : image + ((size_t)y * W + x) * cout + c0;
                    }
                }
                // Columns: tmp[k][j] = sum_i AT[i][k] dY[i][j]  (alpha x m)
                for (int j = 0; j < m; j++) {
                    const float *in[4] = {0};
                    float *out[6] = {0};
                    for (int i = 0; i < m; i++) in[i] = px[i * m + j];
                    for (int k = 0; k < A; k++) out[k] = tmp[k * m + j];
                    if (m == 2) at2_t(in, out, n); else at4_t(in, out, n);
                }
                // Rows: dM[k][l] = sum_j tmp[k][j] AT[j][l]
                for (int k = 0; k < A; k++) {
                    const float *in[4] = {0};
                    float *out[6] = {0};
                    for (int j = 0; j < m; j++) in[j] = tmp[k * m + j];
                    for (int l = 0; l < A; l++) out[l] = dM + (size_t)(k * A + l) * plane + t * cout + c0;
                    if (m == 2) at2_t(in, out, n); else at4_t(in, out, n);
                }
            }
        }
    }
}

void dd_wino_weight_grad_gemms(int m, const float *V, int T, int cin, const float *dM, int cout, int xi0, int xi1,
                               int accumulate, float *dU) {
    if (T <= 0) return;
    for (int xi = xi0; xi < xi1; xi++) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, cout, T, 1.0f, V + (size_t)xi * T * cin, cin,
                    dM + (size_t)xi * T * cout, cout, accumulate ? 1.0f : 0.0f, dU + (size_t)xi * cin * cout, cout);
    }
}

DD_HOT void dd_wino_weight_grad_finish(int m, const float *dU, int cin, int cout, int ci0, int ci1, float *dW) {
    const int A = m + 2;
    const size_t plane = (size_t)cin * cout;
    double u[36][CB] __attribute__((aligned(64)));
    double tmp[3 * 6][CB] __attribute__((aligned(64)));
    double w[9][CB] __attribute__((aligned(64)));
    for (int ci = ci0; ci < ci1; ci++) {
        for (int c0 = 0; c0 < cout; c0 += CB) {
            const int n = cout - c0 < CB ? cout - c0 : CB;
            for (int xi = 0; xi < A * A; xi++) {
                const float *src = dU + (size_t)xi * plane + (size_t)ci * cout + c0;
                for (int c = 0; c < n; c++) u[xi][c] = src[c];
            }
            // Columns: tmp[k][j] = sum_i G[i][k] u[i][j]   (3 x alpha)
            for (int j = 0; j < A; j++) {
                const double *in[6] = {0};
                double *out[3] = {0};
                for (int i = 0; i < A; i++) in[i] = u[i * A + j];
                for (int k = 0; k < 3; k++) out[k] = tmp[k * A + j];
                if (m == 2) g2_t(in, out, n); else g4_t(in, out, n);
            }
            // Rows: w[k][l] = sum_j tmp[k][j] G[j][l]
            for (int k = 0; k < 3; k++) {
                const double *in[6] = {0};
                for (int j = 0; j < A; j++) in[j] = tmp[k * A + j];
                double *out[3] = {w[k * 3], w[k * 3 + 1], w[k * 3 + 2]};
                if (m == 2) g2_t(in, out, n); else g4_t(in, out, n);
            }
            for (int k = 0; k < 9; k++) {
                float *restrict dst = dW + ((size_t)k * cin + ci) * cout + c0;
                for (int c = 0; c < n; c++) dst[c] = (float)w[k][c];
            }
        }
    }
}

DD_HOT void dd_bias_grad_rows(const float *grad, size_t pixels, int channels, double *dB) {
    for (size_t p = 0; p < pixels; p++) {
        const float *restrict row = grad + p * channels;
        for (int c = 0; c < channels; c++) dB[c] += row[c];
    }
}

// MARK: - Optimizer

DD_HOT void dd_rmsprop_update(float *w, const float *g, float *v, size_t n, float lr, float rho, float epsilon) {
    const float oneMinusRho = 1.0f - rho;
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i];
        const float vi = rho * v[i] + oneMinusRho * (gi * gi);
        v[i] = vi;
        w[i] -= lr * gi / sqrtf(vi + epsilon);
    }
}

// MARK: - Pooling, ReLU, averages

void dd_maxpool2x2(const float *in, int height, int width, int channels, float *out) {
    pool_rows(in, width, channels, height, out);
}

DD_HOT void dd_maxpool2x2_backward(const float *in, const float *gradPooled, int height, int width, int channels,
                                   float *gradIn) {
    const int Wo = width / 2;
    const size_t C = (size_t)channels;
    for (int yo = 0; yo < height / 2; yo++)
        for (int xo = 0; xo < Wo; xo++) {
            const size_t top = ((size_t)(2 * yo) * width + 2 * xo) * C;
            const size_t bottom = top + (size_t)width * C;
            const float *restrict a = in + top, *restrict b = a + C, *restrict c = in + bottom, *restrict d = c + C;
            float *restrict ga = gradIn + top, *restrict gb = ga + C, *restrict gc = gradIn + bottom, *restrict gd = gc + C;
            const float *restrict g = gradPooled + ((size_t)yo * Wo + xo) * C;
            for (size_t k = 0; k < C; k++) {
                // First maximum in row-major order wins: a, b, c, d.
                const float va = a[k], vb = b[k], vc = c[k], vd = d[k];
                const int pickB = vb > va;
                const float mab = pickB ? vb : va;
                const int pickC = vc > mab;
                const float mabc = pickC ? vc : mab;
                const int pickD = vd > mabc;
                // The window's maximum is a ReLU output: where it is 0 the ReLU was off and passes no gradient.
                const float gk = (pickD ? vd : mabc) > 0.0f ? g[k] : 0.0f;
                ga[k] = (!pickB && !pickC && !pickD) ? gk : 0.0f;
                gb[k] = (pickB && !pickC && !pickD) ? gk : 0.0f;
                gc[k] = (pickC && !pickD) ? gk : 0.0f;
                gd[k] = pickD ? gk : 0.0f;
            }
        }
}


void dd_global_average_pool(const float *in, size_t pixels, int channels, float *out) {
    double acc[1024];
    for (int c0 = 0; c0 < channels; c0 += 1024) {
        const int n = channels - c0 < 1024 ? channels - c0 : 1024;
        for (int c = 0; c < n; c++) acc[c] = 0.0;
        for (size_t p = 0; p < pixels; p++) {
            const float *row = in + p * channels + c0;
            for (int c = 0; c < n; c++) acc[c] += row[c];
        }
        for (int c = 0; c < n; c++) out[c0 + c] = (float)(acc[c] / (double)pixels);
    }
}
