// Numeric tests of DogDoor's C layer, in C, for any architecture: the engine's kernels (im2col and Winograd
// convolutions, their weight and input gradients, pooling, RMSprop) against float64 references, the int8
// convolutions against exact integer sums on every instruction-set path the CPU has, OpenBLAS's GEMM
// check, and the image codec shims against the Pillow golden pixels of Tests/ImagingTests/Golden.
//
// The Swift tests cover the same code on the build machine; this program exists for the machines the Swift
// side cannot be built for here: Scripts/test-aarch64.sh cross-compiles it with Debian's aarch64 toolchain and
// runs it under qemu-user (a Raspberry Pi's instruction set). It also runs natively, so that it is itself
// checked wherever the Swift tests run.
//
// Usage: cnumerics GOLDEN_DIR   (decode cases read from GOLDEN_DIR/decode-cases.txt: "file width height tolerance")
// Exit status 0 when every check passes; every failure is printed.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dd_codecs.h"
#include "dd_kernels.h"
#include "dd_openblas.h"
#include "dd_quantized.h"

static int failures = 0, checks = 0;

static void expect(int ok, const char *what, double value, double limit) {
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s: %g (limit %g)\n", what, value, limit);
    }
}

static unsigned state = 12345u;
static float uniform(void) {
    state = state * 1664525u + 1013904223u;
    return (float)((int)(state >> 8) - (1 << 23)) / (float)(1 << 23);
}
static float *random_floats(size_t n, float scale) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = uniform() * scale;
    return p;
}

// max|a - b| / max|b|
static double relative_error(const float *a, const double *b, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

// float64 reference: out[n][y][x][co] = bias + sum x[n][y+ky-1][x+kx-1][ci] * w[ky][kx][ci][co] (same padding).
static double *reference_conv(const float *in, int N, int H, int W, int cin, const float *w, const float *bias, int cout,
                              int relu) {
    double *out = calloc((size_t)N * H * W * cout, sizeof(double));
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int co = 0; co < cout; co++) {
                    double s = bias ? bias[co] : 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int sy = y + ky - 1, sx = x + kx - 1;
                            if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                            for (int ci = 0; ci < cin; ci++)
                                s += (double)in[(((size_t)n * H + sy) * W + sx) * cin + ci] *
                                     w[((size_t)(ky * 3 + kx) * cin + ci) * cout + co];
                        }
                    out[(((size_t)n * H + y) * W + x) * cout + co] = relu && s < 0 ? 0 : s;
                }
    return out;
}

static double *reference_pool(const double *in, int N, int H, int W, int C) {
    double *out = malloc((size_t)N * (H / 2) * (W / 2) * C * sizeof(double));
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++)
                for (int c = 0; c < C; c++) {
                    double m = -INFINITY;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            m = fmax(m, in[(((size_t)n * H + 2 * y + dy) * W + 2 * x + dx) * C + c]);
                    out[(((size_t)n * (H / 2) + y) * (W / 2) + x) * C + c] = m;
                }
    return out;
}

typedef struct {
    int n, h, w, cin, cout;
} shape;

// Forward convolution with bias, ReLU and pooling, by each algorithm (Winograd with transformed weights, or
// with `streamed` weights transformed per point and per block of 64 output channels), against the reference.
static void check_forward(shape sh, int m, int streamed) {
    const dd_conv_shape s = {sh.h, sh.w, sh.cin, sh.cout};
    float *in = random_floats((size_t)sh.n * sh.h * sh.w * sh.cin, 1);
    float *w = random_floats((size_t)9 * sh.cin * sh.cout, 0.3f);
    float *bias = random_floats(sh.cout, 0.1f);
    double *ref = reference_conv(in, sh.n, sh.h, sh.w, sh.cin, w, bias, sh.cout, 1);
    double *refPool = reference_pool(ref, sh.n, sh.h, sh.w, sh.cout);
    const size_t outCount = (size_t)sh.n * sh.h * sh.w * sh.cout, poolCount = outCount / 4;
    float *out = malloc(outCount * sizeof(float)), *pooled = malloc(poolCount * sizeof(float));
    for (size_t i = 0; i < outCount; i++) out[i] = NAN;
    for (size_t i = 0; i < poolCount; i++) pooled[i] = NAN;
    dd_epilogue e = {bias, 1, out, pooled, NULL};
    if (m == 0) {
        const int rows = sh.n * sh.h;
        float *scratch = malloc(dd_conv3x3_im2col_scratch(s, rows, 0) * sizeof(float));
        dd_conv3x3_im2col_rows(in, s, w, 0, rows, scratch, e);
        free(scratch);
    } else if (streamed) {
        const int A = dd_wino_alpha(m), tileRows = sh.n * ((sh.h + m - 1) / m);
        const size_t T = (size_t)tileRows * ((sh.w + m - 1) / m);
        float *V = malloc((size_t)A * A * T * sh.cin * sizeof(float));
        float *scratch = malloc(dd_wino_streamed_scratch(m, sh.cin, 64, T) * sizeof(float));
        dd_wino_input(m, in, sh.h, sh.w, sh.cin, 0, tileRows, V, T, 0);
        for (int c0 = 0; c0 < sh.cout; c0 += 64)
            dd_wino_streamed_columns(m, V, T, w, sh.cin, sh.cout, c0, c0 + 64 < sh.cout ? c0 + 64 : sh.cout, sh.h,
                                     sh.w, 0, tileRows, scratch, e);
        free(scratch), free(V);
    } else {
        const int A = dd_wino_alpha(m), tileRows = sh.n * ((sh.h + m - 1) / m);
        float *U = malloc((size_t)A * A * sh.cin * sh.cout * sizeof(float));
        dd_wino_transform_weights(m, w, sh.cin, sh.cout, U);
        float *scratch = malloc(dd_conv3x3_winograd_scratch(m, s, tileRows) * sizeof(float));
        dd_conv3x3_winograd_rows(m, in, s, U, 0, tileRows, scratch, e);
        free(scratch), free(U);
    }
    // float32 sums of 9*cin products (~1e-6 relative); F(4x4)'s transforms amplify rounding about 10x.
    const double limit = m == 4 ? 5e-5 : 1e-5;
    char what[160];
    snprintf(what, sizeof what, "conv forward m=%d%s n=%d %dx%d cin=%d cout=%d", m, streamed ? " streamed" : "", sh.n,
             sh.h, sh.w, sh.cin, sh.cout);
    double error = relative_error(out, ref, outCount);
    expect(error <= limit, what, error, limit);
    snprintf(what, sizeof what, "conv pooled m=%d%s n=%d %dx%d cin=%d cout=%d", m, streamed ? " streamed" : "", sh.n,
             sh.h, sh.w, sh.cin, sh.cout);
    error = relative_error(pooled, refPool, poolCount);
    expect(error <= limit, what, error, limit);
    free(in), free(w), free(bias), free(ref), free(refPool), free(out), free(pooled);
}

// Weight gradient (im2col or Winograd domain) and input gradient (flipped, transposed weights).
static void check_gradients(shape sh, int m) {
    const dd_conv_shape s = {sh.h, sh.w, sh.cin, sh.cout};
    const size_t inCount = (size_t)sh.n * sh.h * sh.w * sh.cin, gCount = (size_t)sh.n * sh.h * sh.w * sh.cout;
    const size_t wCount = (size_t)9 * sh.cin * sh.cout;
    float *x = random_floats(inCount, 1), *g = random_floats(gCount, 1), *w = random_floats(wCount, 0.3f);
    double *refW = calloc(wCount, sizeof(double)), *refB = calloc(sh.cout, sizeof(double));
    double *refX = calloc(inCount, sizeof(double));
    for (int n = 0; n < sh.n; n++)
        for (int y = 0; y < sh.h; y++)
            for (int xx = 0; xx < sh.w; xx++) {
                const float *gp = g + (((size_t)n * sh.h + y) * sh.w + xx) * sh.cout;
                for (int co = 0; co < sh.cout; co++) refB[co] += gp[co];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        const int sy = y + ky - 1, sx = xx + kx - 1;
                        if (sy < 0 || sy >= sh.h || sx < 0 || sx >= sh.w) continue;
                        const size_t xi = (((size_t)n * sh.h + sy) * sh.w + sx) * sh.cin;
                        for (int ci = 0; ci < sh.cin; ci++)
                            for (int co = 0; co < sh.cout; co++) {
                                const size_t wi = ((size_t)(ky * 3 + kx) * sh.cin + ci) * sh.cout + co;
                                refW[wi] += (double)x[xi + ci] * gp[co];
                                refX[xi + ci] += (double)w[wi] * gp[co];
                            }
                    }
            }
    float *dW = malloc(wCount * sizeof(float)), *dB = calloc(sh.cout, sizeof(float));
    if (m == 0) {
        memset(dW, 0, wCount * sizeof(float));
        const int rows = sh.n * sh.h;
        float *cols = malloc((size_t)rows * sh.w * 9 * sh.cin * sizeof(float));
        dd_conv3x3_weight_grad_rows(x, s, g, 0, rows, cols, dW, dB);
        free(cols);
    } else {
        for (size_t i = 0; i < wCount; i++) dW[i] = NAN;  // must be written, not accumulated
        const int A = dd_wino_alpha(m), tileRows = sh.n * ((sh.h + m - 1) / m), T = tileRows * ((sh.w + m - 1) / m);
        float *V = malloc((size_t)A * A * T * sh.cin * sizeof(float)), *dM = malloc((size_t)A * A * T * sh.cout * sizeof(float));
        float *dU = malloc((size_t)A * A * sh.cin * sh.cout * sizeof(float));
        dd_wino_input(m, x, sh.h, sh.w, sh.cin, 0, tileRows, V, (size_t)T, 0);
        dd_wino_output_grad(m, g, sh.h, sh.w, sh.cout, 0, tileRows, dM, (size_t)T, 0);
        dd_wino_weight_grad_gemms(m, V, T, sh.cin, dM, sh.cout, 0, A * A, 0, dU);
        dd_wino_weight_grad_finish(m, dU, sh.cin, sh.cout, 0, sh.cin, dW);
        double *bias = calloc(sh.cout, sizeof(double));
        dd_bias_grad_rows(g, (size_t)sh.n * sh.h * sh.w, sh.cout, bias);
        for (int c = 0; c < sh.cout; c++) dB[c] = (float)bias[c];
        free(V), free(dM), free(dU), free(bias);
    }
    char what[160];
    const double limit = m == 4 ? 3e-5 : 3e-6;
    snprintf(what, sizeof what, "weight gradient m=%d n=%d %dx%d cin=%d cout=%d", m, sh.n, sh.h, sh.w, sh.cin, sh.cout);
    double error = relative_error(dW, refW, wCount);
    expect(error <= limit, what, error, limit);
    snprintf(what, sizeof what, "bias gradient m=%d cout=%d", m, sh.cout);
    error = relative_error(dB, refB, sh.cout);
    expect(error <= 1e-6, what, error, 1e-6);

    // Input gradient: a forward convolution of g with w flipped and transposed.
    float *flipped = malloc(wCount * sizeof(float));
    dd_flip_transpose_weights(w, sh.cin, sh.cout, flipped);
    double *viaReference = reference_conv(g, sh.n, sh.h, sh.w, sh.cout, flipped, NULL, sh.cin, 0);
    error = 0;
    double scale = 0;
    for (size_t i = 0; i < inCount; i++) error = fmax(error, fabs(viaReference[i] - refX[i])), scale = fmax(scale, fabs(refX[i]));
    snprintf(what, sizeof what, "flipped weights give the input gradient cin=%d cout=%d", sh.cin, sh.cout);
    expect(error <= 1e-12 * scale, what, error / scale, 1e-12);
    if (m == 0) {
        const dd_conv_shape back = {sh.h, sh.w, sh.cout, sh.cin};
        float *dX = malloc(inCount * sizeof(float));
        const int rows = sh.n * sh.h;
        float *scratch = malloc(dd_conv3x3_im2col_scratch(back, rows, 0) * sizeof(float));
        dd_conv3x3_im2col_rows(g, back, flipped, 0, rows, scratch, (dd_epilogue){NULL, 0, dX, NULL, NULL});
        snprintf(what, sizeof what, "input gradient n=%d %dx%d cin=%d cout=%d", sh.n, sh.h, sh.w, sh.cin, sh.cout);
        error = relative_error(dX, refX, inCount);
        expect(error <= 1e-5, what, error, 1e-5);
        free(dX), free(scratch);
    }
    free(x), free(g), free(w), free(refW), free(refB), free(refX), free(dW), free(dB), free(flipped), free(viaReference);
}

static void check_pooling_and_optimizer(void) {
    const int H = 6, W = 8, C = 19;
    const size_t count = (size_t)H * W * C;
    float *in = random_floats(count, 1), *out = malloc(count / 4 * sizeof(float));
    double *in64 = malloc(count * sizeof(double));
    for (size_t i = 0; i < count; i++) in[i] = fabsf(in[i]), in64[i] = in[i];
    dd_maxpool2x2(in, H, W, C, out);
    double *ref = reference_pool(in64, 1, H, W, C);
    double error = relative_error(out, ref, count / 4);
    expect(error == 0, "max pooling", error, 0);
    // Backward: the gradient goes to each window's first maximum.
    float *g = random_floats(count / 4, 1), *gin = malloc(count * sizeof(float));
    dd_maxpool2x2_backward(in, g, H, W, C, gin);
    int wrong = 0;
    for (int y = 0; y < H / 2; y++)
        for (int x = 0; x < W / 2; x++)
            for (int c = 0; c < C; c++) {
                int best = -1;
                float bestValue = -1;
                for (int k = 0; k < 4; k++) {
                    const size_t i = ((size_t)(2 * y + k / 2) * W + 2 * x + k % 2) * C + c;
                    if (in[i] > bestValue) best = k, bestValue = in[i];
                }
                for (int k = 0; k < 4; k++) {
                    const size_t i = ((size_t)(2 * y + k / 2) * W + 2 * x + k % 2) * C + c;
                    const float expected = k == best ? g[((size_t)y * (W / 2) + x) * C + c] : 0;
                    wrong += gin[i] != expected;
                }
            }
    expect(wrong == 0, "max pooling backward (elements wrong)", wrong, 0);
    // RMSprop (Keras 3): v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps).
    const size_t n = 1000;
    float *w = random_floats(n, 1), *grad = random_floats(n, 1), *v = random_floats(n, 1);
    double *expectW = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        v[i] = fabsf(v[i]);
        const double vi = 0.9 * v[i] + 0.1 * (double)grad[i] * grad[i];
        expectW[i] = w[i] - 1e-3 * grad[i] / sqrt(vi + 1e-7);
    }
    dd_rmsprop_update(w, grad, v, n, 1e-3f, 0.9f, 1e-7f);
    error = relative_error(w, expectW, n);
    expect(error <= 1e-6, "rmsprop", error, 1e-6);
    free(in), free(out), free(in64), free(ref), free(g), free(gin), free(w), free(grad), free(v), free(expectW);
}

static void check_gemm(void) {
    dd_gemm_check_failure failure;
    const int count = dd_blas_check_gemm(2, &failure);
    checks++;
    if (count) {
        failures++;
        printf("FAIL OpenBLAS %s GEMM check: trans_a %d m %d n %d k %d beta %g relative error %g\n", dd_openblas_corename(),
               failure.trans_a, failure.m, failure.n, failure.k, failure.beta, failure.relative_error);
    }
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(data, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    return data;
}

static void check_decode(const char *dir, const char *name, int width, int height, int tolerance) {
    char path[2048];
    size_t size = 0, expectedSize = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *data = read_file(path, &size);
    snprintf(path, sizeof path, "%s/%s.rgb.u8", dir, name);
    unsigned char *expected = read_file(path, &expectedSize);
    checks++;
    if (!data || !expected || expectedSize != (size_t)width * height * 3) {
        failures++;
        printf("FAIL decode %s: cannot read the case\n", name);
        free(data), free(expected);
        return;
    }
    uint8_t *rgb = malloc(expectedSize);
    dd_codec_status status = {0};
    int result = DD_CODEC_BAD_ARGUMENT;
    if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8) {
        result = dd_jpeg_decode_rgb(data, size, 8, 0, 1000, 64u << 20, rgb, (size_t)width * 3, width, height, &status);
    } else if (size >= 8 && data[0] == 0x89 && data[1] == 'P') {
        result = dd_png_decode_rgb(data, size, rgb, (size_t)width * 3, width, height, &status);
    } else if (size >= 12 && memcmp(data, "RIFF", 4) == 0) {
        result = dd_webp_decode_rgb(data, size, rgb, (size_t)width * 3, width, height, &status);
    }
    int worst = 0;
    for (size_t i = 0; result == DD_CODEC_OK && i < expectedSize; i++) {
        const int d = abs((int)rgb[i] - (int)expected[i]);
        if (d > worst) worst = d;
    }
    if (result != DD_CODEC_OK || worst > tolerance) {
        failures++;
        printf("FAIL decode %s: result %d (%s), differs from Pillow by up to %d (allowed %d)\n", name, result, status.message,
               worst, tolerance);
    }
    free(data), free(expected), free(rgb);
}

// MARK: - int8 convolutions

// The epilogue of dd_quantized.h for one exact sum, written out again here.
static float q8_expected(long long sum, float scale, float offset, int to_u8) {
    const float v = fmaf((float)sum, scale, offset);
    if (!to_u8) return v > 0.0f ? v : 0.0f;
    return nearbyintf(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f);
}

// Runs one int8 convolution over all rows in chunks of `chunk` rows and column slices of `slice` columns.
static void q8_run(const uint8_t *in, shape sh, const int8_t *packed, const int32_t *sums, const float *scale,
                   const float *offset, int chunk, int slice, int pooled, int to_u8, uint8_t *out_u8, float *out_f32) {
    const int total = sh.n * sh.h;
    uint8_t *scratch = malloc(dd_q8_conv3x3_scratch(chunk, sh.w, sh.cin, sh.cout, pooled));
    for (int g0 = 0; g0 < total; g0 += chunk) {
        const int g1 = g0 + chunk < total ? g0 + chunk : total;
        for (int c0 = 0; c0 < sh.cout; c0 += slice) {
            dd_q8_epilogue e = {.scale = scale, .offset = offset, .out_u8 = (pooled || !to_u8) ? NULL : out_u8,
                                .out_f32 = to_u8 ? NULL : out_f32, .pooled = pooled ? out_u8 : NULL};
            dd_q8_conv3x3_rows(in, sh.h, sh.w, sh.cin, sh.cout, packed, sums, g0, g1, c0, c0 + slice, scratch, e);
        }
    }
    free(scratch);
}

// Every path the CPU has against exact integer sums: weights at the int8 extremes, activations over all of 0..255,
// an image width that leaves a partial group of pixels, chunks that span images, column slices, pooling, and
// outputs that saturate at both ends. The portable loops and the CPU's own path must agree to the bit.
static void check_q8(shape sh) {
    const int K = 9 * sh.cin;
    const size_t inCount = (size_t)sh.n * sh.h * sh.w * sh.cin, outCount = (size_t)sh.n * sh.h * sh.w * sh.cout;
    uint8_t *in = malloc(inCount);
    int8_t *w = malloc((size_t)K * sh.cout);
    for (size_t i = 0; i < inCount; i++) in[i] = (uint8_t)(state = state * 1664525u + 1013904223u, state >> 24);
    for (size_t i = 0; i < (size_t)K * sh.cout; i++) w[i] = (int8_t)((int)((uniform() + 1.0f) * 127.5f) - 127);
    w[0] = -127, w[1] = 127;
    float *scale = malloc(sh.cout * sizeof(float)), *offset = malloc(sh.cout * sizeof(float));
    for (int c = 0; c < sh.cout; c++) {
        scale[c] = (0.5f + 0.5f * fabsf(uniform())) / (255.0f * 127.0f * sqrtf((float)K)) * 400.0f;
        offset[c] = uniform() * 60.0f;
    }
    long long *sums = calloc(outCount, sizeof(long long));
    for (int n = 0; n < sh.n; n++)
        for (int y = 0; y < sh.h; y++)
            for (int x = 0; x < sh.w; x++)
                for (int co = 0; co < sh.cout; co++) {
                    long long s = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int sy = y + ky - 1, sx = x + kx - 1;
                            if (sy < 0 || sy >= sh.h || sx < 0 || sx >= sh.w) continue;
                            for (int ci = 0; ci < sh.cin; ci++)
                                s += (long long)in[(((size_t)n * sh.h + sy) * sh.w + sx) * sh.cin + ci] *
                                     w[((size_t)(ky * 3 + kx) * sh.cin + ci) * sh.cout + co];
                        }
                    sums[(((size_t)n * sh.h + y) * sh.w + x) * sh.cout + co] = s;
                }
    int8_t *packed = malloc(dd_q8_packed_bytes(sh.cin, sh.cout));
    int32_t *colsums = malloc(sh.cout * sizeof(int32_t));
    dd_q8_pack_weights(w, sh.cin, sh.cout, packed, colsums);
    const int pooled = sh.h % 2 == 0 && sh.w % 2 == 0;
    const size_t pooledCount = outCount / 4;
    uint8_t *u8[2] = {malloc(outCount), malloc(outCount)};
    float *f32[2] = {malloc(outCount * sizeof(float)), malloc(outCount * sizeof(float))};
    uint8_t *pool[2] = {malloc(pooledCount + 1), malloc(pooledCount + 1)};
    for (int path = 0; path < 2; path++) {
        dd_q8_force_portable(path == 0);
        const int chunk = path == 0 ? 2 : 3 + pooled;  // odd chunks where nothing pools; both span images
        const int slice = path == 0 ? sh.cout : 64;
        q8_run(in, sh, packed, colsums, scale, offset, chunk, slice, 0, 1, u8[path], NULL);
        q8_run(in, sh, packed, colsums, scale, offset, chunk, slice, 0, 0, NULL, f32[path]);
        if (pooled) q8_run(in, sh, packed, colsums, scale, offset, chunk + chunk % 2, slice, 1, 1, pool[path], NULL);
    }
    dd_q8_force_portable(0);
    size_t wrongU8 = 0, wrongF32 = 0, wrongPool = 0, differ = 0, low = 0, high = 0;
    for (size_t i = 0; i < outCount; i++) {
        const int c = (int)(i % sh.cout);
        const float eu = q8_expected(sums[i], scale[c], offset[c], 1), ef = q8_expected(sums[i], scale[c], offset[c], 0);
        wrongU8 += u8[0][i] != eu;
        wrongF32 += f32[0][i] != ef;
        differ += u8[0][i] != u8[1][i] || memcmp(&f32[0][i], &f32[1][i], sizeof(float)) != 0;
        low += eu == 0.0f;
        high += eu == 255.0f;
    }
    for (size_t i = 0; pooled && i < pooledCount; i++) {
        const int c = (int)(i % sh.cout);
        const size_t pw = sh.w / 2, px = (i / sh.cout) % pw, py = (i / sh.cout / pw) % (sh.h / 2),
                     pn = i / sh.cout / pw / (sh.h / 2);
        float m = 0;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
                const size_t at = (((pn * sh.h + 2 * py + dy) * sh.w) + 2 * px + dx) * sh.cout + c;
                m = fmaxf(m, q8_expected(sums[at], scale[c], offset[c], 1));
            }
        wrongPool += pool[0][i] != m || pool[1][i] != pool[0][i];
    }
    char what[160];
    snprintf(what, sizeof what, "int8 conv %dx%dx%dx%d->%d: bytes unlike the exact sums' epilogue", sh.n, sh.h, sh.w,
             sh.cin, sh.cout);
    expect(wrongU8 == 0, what, (double)wrongU8, 0);
    snprintf(what, sizeof what, "int8 conv %dx%dx%dx%d->%d: floats unlike the exact sums' epilogue", sh.n, sh.h,
             sh.w, sh.cin, sh.cout);
    expect(wrongF32 == 0, what, (double)wrongF32, 0);
    snprintf(what, sizeof what, "int8 conv %dx%dx%dx%d->%d: the CPU's path (isa %d) differs from the portable one",
             sh.n, sh.h, sh.w, sh.cin, sh.cout, (int)dd_q8_isa());
    expect(differ == 0, what, (double)differ, 0);
    snprintf(what, sizeof what, "int8 conv %dx%dx%dx%d->%d: pooled bytes wrong", sh.n, sh.h, sh.w, sh.cin, sh.cout);
    expect(wrongPool == 0, what, (double)wrongPool, 0);
    // The test must exercise both ends of the byte range, or it proves nothing about clamping.
    expect(low > 0 && high > 0, "int8 conv: outputs reach 0 and 255", (double)(low < high ? low : high), 1);
    free(in), free(w), free(scale), free(offset), free(sums), free(packed), free(colsums);
    for (int p = 0; p < 2; p++) free(u8[p]), free(f32[p]), free(pool[p]);
}

static void check_q8_quantize(void) {
    const float x[] = {-3.0f, 0.0f, 0.49f, 0.5f, 1.5f, 2.5f, 254.4f, 254.5f, 300.0f, 1e30f};
    const uint8_t expected[] = {0, 0, 0, 0, 2, 2, 254, 254, 255, 255};  // halves round to even
    uint8_t out[10];
    dd_q8_quantize_relu(x, 10, 1.0f, out);
    int wrong = 0;
    for (int i = 0; i < 10; i++) wrong += out[i] != expected[i];
    expect(wrong == 0, "int8 quantize: ReLU, round half to even, clamp", wrong, 0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: cnumerics GOLDEN_DIR\n");
        return 2;
    }
    dd_openblas_set_num_threads(1);
    printf("OpenBLAS %s, engine loops %s fused multiply-add\n", dd_openblas_corename(),
           dd_kernels_fused_multiply_add() ? "with" : "without");
    check_gemm();
    const shape shapes[] = {{2, 10, 6, 5, 7},    {1, 7, 9, 17, 64}, {2, 8, 8, 70, 33},
                            {1, 16, 16, 64, 64}, {2, 13, 11, 3, 16}, {2, 8, 6, 20, 150}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int m = 0; m <= 4; m += 2) {
            // Pooling needs even sides.
            if (shapes[i].h % 2 == 0 && shapes[i].w % 2 == 0) {
                check_forward(shapes[i], m, 0);
                if (m > 0) check_forward(shapes[i], m, 1);
            }
            check_gradients(shapes[i], m);
        }
    }
    check_pooling_and_optimizer();
    printf("int8 convolutions: %s path\n",
           (const char *[]){"portable", "AVX-512 VNNI", "ARM dot product"}[dd_q8_isa()]);
    const shape q8shapes[] = {{2, 6, 7, 8, 128}, {1, 4, 4, 64, 64}, {3, 8, 10, 4, 192}, {1, 14, 14, 32, 64}};
    for (size_t i = 0; i < sizeof q8shapes / sizeof q8shapes[0]; i++) check_q8(q8shapes[i]);
    check_q8_quantize();
    char path[1024];
    snprintf(path, sizeof path, "%s/decode-cases.txt", argv[1]);
    FILE *list = fopen(path, "r");
    if (!list) {
        printf("FAIL cannot open %s\n", path);
        return 1;
    }
    char name[256];
    int width, height, tolerance;
    while (fscanf(list, "%255s %d %d %d", name, &width, &height, &tolerance) == 4) {
        snprintf(path, sizeof path, "%s/imaging", argv[1]);
        check_decode(path, name, width, height, tolerance);
    }
    fclose(list);
    printf("%d of %d checks passed\n", checks - failures, checks);
    return failures ? 1 : 0;
}
