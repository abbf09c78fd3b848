#include "dd_quantized.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define DD_Q8_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#define DD_Q8_ARM 1
#endif

// The portable loops are cloned for the x86-64 feature levels like the float kernels (kernels.c): the v3
// clone has fused multiply-add as an instruction (the SSE2 baseline calls libm's fmaf) and AVX2 for the
// compiler's vectorisation of the integer products.
#if defined(__x86_64__) && defined(__clang__) && !defined(DD_NO_CLONES)
#define DD_Q8_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DD_Q8_HOT
#endif

// MARK: - Which path

static int forced_portable = 0;
static int detected = -1;

static dd_q8_isa_kind detect(void) {
#if DD_Q8_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) return DD_Q8_AVX512_VNNI;
#elif DD_Q8_ARM
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return DD_Q8_ARM_DOTPROD;
#endif
    return DD_Q8_PORTABLE;
}

dd_q8_isa_kind dd_q8_isa(void) {
    if (forced_portable) return DD_Q8_PORTABLE;
    int isa = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = (int)detect();  // the same answer on every thread: a race only repeats the detection
        __atomic_store_n(&detected, isa, __ATOMIC_RELAXED);
    }
    return (dd_q8_isa_kind)isa;
}

void dd_q8_force_portable(int force) { forced_portable = force != 0; }

// MARK: - Weights

size_t dd_q8_packed_bytes(int cin, int cout) { return (size_t)9 * cin * cout; }

void dd_q8_pack_weights(const int8_t *weights, int cin, int cout, int8_t *packed, int32_t *column_sums) {
    const int K = 9 * cin;
    for (int p = 0; p < cout / DD_Q8_PANEL; p++) {
        int8_t *panel = packed + (size_t)p * K * DD_Q8_PANEL;
        for (int k4 = 0; k4 < K / 4; k4++)
            for (int n = 0; n < DD_Q8_PANEL; n++)
                for (int j = 0; j < 4; j++)
                    panel[((size_t)k4 * DD_Q8_PANEL + n) * 4 + j] =
                        weights[(size_t)(4 * k4 + j) * cout + p * DD_Q8_PANEL + n];
    }
    for (int n = 0; n < cout; n++) {
        int32_t sum = 0;
        for (int k = 0; k < K; k++) sum += weights[(size_t)k * cout + n];
        column_sums[n] = sum;
    }
}

// MARK: - im2col

/// im2col of global rows [g0, g1) in bytes; with `flip`, every byte's top bit is flipped (a - 128 as a signed
/// byte: the ARM path multiplies signed by signed). Rows after the last pixel, up to a multiple of
/// DD_Q8_ROWS, are zeroed.
static void im2col_u8(const uint8_t *images, int H, int W, int C, int g0, int g1, int flip, uint8_t *cols) {
    const size_t K = (size_t)9 * C;
    const uint8_t pad = flip ? 0x80 : 0;
    for (int g = g0; g < g1; g++) {
        const uint8_t *image = images + (size_t)(g / H) * H * W * C;
        const int y = g % H;
        for (int x = 0; x < W; x++) {
            uint8_t *dst = cols + ((size_t)(g - g0) * W + x) * K;
            for (int ky = 0; ky < 3; ky++) {
                const int sy = y + ky - 1;
                for (int kx = 0; kx < 3; kx++, dst += C) {
                    const int sx = x + kx - 1;
                    if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
                        memset(dst, pad, (size_t)C);
                    } else if (flip) {
                        const uint8_t *src = image + ((size_t)sy * W + sx) * C;
                        for (int c = 0; c < C; c++) dst[c] = src[c] ^ 0x80;
                    } else {
                        memcpy(dst, image + ((size_t)sy * W + sx) * C, (size_t)C);
                    }
                }
            }
        }
    }
    const size_t pixels = (size_t)(g1 - g0) * W;
    const size_t padded = (pixels + DD_Q8_ROWS - 1) / DD_Q8_ROWS * DD_Q8_ROWS;
    memset(cols + pixels * K, 0, (padded - pixels) * K);
}

// MARK: - Epilogue

/// Where one band's results go: row r (a pixel of the band), absolute column c lands at `u8` or `f32` +
/// r * stride + c.
typedef struct {
    const float *scale;
    const float *offset;
    uint8_t *u8;
    float *f32;
    int stride;
} band_out;

/// The epilogue for one value; every path computes exactly this.
static inline void store_one(int32_t sum, int row, int col, const band_out *o) {
    const float v = fmaf((float)sum, o->scale[col], o->offset[col]);
    if (o->u8) {
        const float clamped = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
        o->u8[(size_t)row * o->stride + col] = (uint8_t)nearbyintf(clamped);
    } else {
        o->f32[(size_t)row * o->stride + col] = v > 0.0f ? v : 0.0f;
    }
}

// MARK: - Portable

/// Rows [0, M) of the band times one 64-column panel (columns from `col0`).
DD_Q8_HOT static void panel_portable(const uint8_t *A, int M, int K, const int8_t *panel, int col0,
                                     const band_out *o) {
    for (int m = 0; m < M; m += DD_Q8_ROWS) {
        int32_t acc[DD_Q8_ROWS][DD_Q8_PANEL];
        memset(acc, 0, sizeof acc);
        for (int k4 = 0; k4 < K / 4; k4++) {
            const int8_t *b = panel + (size_t)k4 * DD_Q8_PANEL * 4;
            for (int r = 0; r < DD_Q8_ROWS; r++) {
                const uint8_t *a = A + (size_t)(m + r) * K + 4 * k4;
                const int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
                int32_t *restrict row = acc[r];
                for (int n = 0; n < DD_Q8_PANEL; n++)
                    row[n] += a0 * b[4 * n] + a1 * b[4 * n + 1] + a2 * b[4 * n + 2] + a3 * b[4 * n + 3];
            }
        }
        const int valid = M - m < DD_Q8_ROWS ? M - m : DD_Q8_ROWS;
        for (int r = 0; r < valid; r++)
            for (int n = 0; n < DD_Q8_PANEL; n++) store_one(acc[r][n], m + r, col0 + n, o);
    }
}

// MARK: - AVX-512 VNNI

#if DD_Q8_X86
#define DD_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

/// 6 pixels x 64 columns in 24 registers; per group of 4 input values, 4 panel loads and 24 `vpdpbusd`.
DD_VNNI static void panel_vnni(const uint8_t *A, int M, int K, const int8_t *panel, int col0, const band_out *o) {
    for (int m = 0; m < M; m += DD_Q8_ROWS) {
        __m512i acc[DD_Q8_ROWS][4];
        for (int r = 0; r < DD_Q8_ROWS; r++)
            for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_si512();
        const uint8_t *a = A + (size_t)m * K;
        const int8_t *b = panel;
        for (int k = 0; k < K; k += 4, b += 4 * DD_Q8_PANEL) {
            const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
            const __m512i b2 = _mm512_loadu_si512(b + 128), b3 = _mm512_loadu_si512(b + 192);
            for (int r = 0; r < DD_Q8_ROWS; r++) {
                int32_t word;
                memcpy(&word, a + (size_t)r * K + k, 4);
                const __m512i x = _mm512_set1_epi32(word);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, b0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, b1);
                acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], x, b2);
                acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], x, b3);
            }
        }
        const int valid = M - m < DD_Q8_ROWS ? M - m : DD_Q8_ROWS;
        const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
        for (int j = 0; j < 4; j++) {
            const int col = col0 + 16 * j;
            const __m512 scale = _mm512_loadu_ps(o->scale + col), offset = _mm512_loadu_ps(o->offset + col);
            for (int r = 0; r < valid; r++) {
                const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][j]), scale, offset);
                const size_t at = (size_t)(m + r) * o->stride + col;
                if (o->u8) {
                    // Clamp in float first (as store_one), then round to nearest even (the default MXCSR mode).
                    const __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, zero), top));
                    _mm_storeu_si128((__m128i *)(o->u8 + at), _mm512_cvtepi32_epi8(q));
                } else {
                    _mm512_storeu_ps(o->f32 + at, _mm512_max_ps(v, zero));
                }
            }
        }
    }
}
#endif

// MARK: - ARM dot product

#if DD_Q8_ARM
#define DD_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

/// Activations arrive as signed bytes a - 128 (im2col flips the top bit); `sdot` sums four signed products
/// per lane, and 128 * column sum restores the unsigned product: sum (a - 128) w + 128 sum w = sum a w.
/// 6 pixels x 16 columns in 24 registers, four times per panel.
DD_DOTPROD static void panel_dotprod(const uint8_t *A, int M, int K, const int8_t *panel, int col0,
                                     const int32_t *column_sums, const band_out *o) {
    for (int m = 0; m < M; m += DD_Q8_ROWS) {
        const int valid = M - m < DD_Q8_ROWS ? M - m : DD_Q8_ROWS;
        for (int q = 0; q < 4; q++) {
            int32x4_t acc[DD_Q8_ROWS][4];
            for (int j = 0; j < 4; j++) {
                const int32x4_t correction = vshlq_n_s32(vld1q_s32(column_sums + col0 + 16 * q + 4 * j), 7);
                for (int r = 0; r < DD_Q8_ROWS; r++) acc[r][j] = correction;
            }
            const int8_t *b = panel + 64 * q;
            for (int k = 0; k < K; k += 4, b += 4 * DD_Q8_PANEL) {
                const int8x16_t b0 = vld1q_s8(b), b1 = vld1q_s8(b + 16), b2 = vld1q_s8(b + 32),
                                b3 = vld1q_s8(b + 48);
                for (int r = 0; r < DD_Q8_ROWS; r++) {
                    int32_t word;
                    memcpy(&word, A + (size_t)(m + r) * K + k, 4);
                    const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(word));
                    acc[r][0] = vdotq_s32(acc[r][0], x, b0);
                    acc[r][1] = vdotq_s32(acc[r][1], x, b1);
                    acc[r][2] = vdotq_s32(acc[r][2], x, b2);
                    acc[r][3] = vdotq_s32(acc[r][3], x, b3);
                }
            }
            for (int r = 0; r < valid; r++)
                for (int j = 0; j < 4; j++) {
                    int32_t sums[4];
                    vst1q_s32(sums, acc[r][j]);
                    for (int i = 0; i < 4; i++) store_one(sums[i], m + r, col0 + 16 * q + 4 * j + i, o);
                }
        }
    }
}
#endif

// MARK: - Convolution

size_t dd_q8_conv3x3_scratch(int rows, int width, int cin, int cout, int pooled) {
    const size_t pixels = (size_t)rows * width;
    const size_t padded = (pixels + DD_Q8_ROWS - 1) / DD_Q8_ROWS * DD_Q8_ROWS;
    return padded * 9 * cin + (pooled ? pixels * cout : 0);
}

/// 2x2 max pooling of band rows (pairs) into pooled rows, columns [c0, c1).
static void pool_band_u8(const uint8_t *band, int rows, int W, int cout, int c0, int c1, uint8_t *pooled) {
    for (int y = 0; y + 1 < rows; y += 2)
        for (int x = 0; x + 1 < W; x += 2) {
            const uint8_t *a = band + ((size_t)y * W + x) * cout, *b = a + cout;
            const uint8_t *c = a + (size_t)W * cout, *d = c + cout;
            uint8_t *dst = pooled + ((size_t)(y / 2) * (W / 2) + x / 2) * cout;
            for (int k = c0; k < c1; k++) {
                const uint8_t ab = a[k] > b[k] ? a[k] : b[k], cd = c[k] > d[k] ? c[k] : d[k];
                dst[k] = ab > cd ? ab : cd;
            }
        }
}

void dd_q8_conv3x3_rows(const uint8_t *images, int height, int width, int cin, int cout, const int8_t *packed,
                        const int32_t *column_sums, int g0, int g1, int c0, int c1, uint8_t *scratch,
                        dd_q8_epilogue e) {
    const int rows = g1 - g0;
    if (rows <= 0 || c1 <= c0) return;
    const dd_q8_isa_kind isa = dd_q8_isa();
    const int K = 9 * cin;
    const int M = rows * width;
    const size_t padded = ((size_t)M + DD_Q8_ROWS - 1) / DD_Q8_ROWS * DD_Q8_ROWS;
    uint8_t *cols = scratch;
    im2col_u8(images, height, width, cin, g0, g1, isa == DD_Q8_ARM_DOTPROD, cols);

    band_out o = {.scale = e.scale, .offset = e.offset, .u8 = NULL, .f32 = NULL, .stride = cout};
    uint8_t *band = NULL;
    if (e.pooled) {
        band = scratch + padded * K;
        o.u8 = band;
    } else if (e.out_u8) {
        o.u8 = e.out_u8 + (size_t)g0 * width * cout;
    } else {
        o.f32 = e.out_f32 + (size_t)g0 * width * cout;
    }
    for (int c = c0; c < c1; c += DD_Q8_PANEL) {
        const int8_t *panel = packed + (size_t)(c / DD_Q8_PANEL) * K * DD_Q8_PANEL;
        switch (isa) {
#if DD_Q8_X86
        case DD_Q8_AVX512_VNNI: panel_vnni(cols, M, K, panel, c, &o); break;
#endif
#if DD_Q8_ARM
        case DD_Q8_ARM_DOTPROD: panel_dotprod(cols, M, K, panel, c, column_sums, &o); break;
#endif
        default: panel_portable(cols, M, K, panel, c, &o); break;
        }
    }
    if (band) pool_band_u8(band, rows, width, cout, c0, c1, e.pooled + (size_t)(g0 / 2) * (width / 2) * cout);
}

DD_Q8_HOT void dd_q8_quantize_relu(const float *x, size_t count, float inverse_scale, uint8_t *out) {
    for (size_t i = 0; i < count; i++) {
        const float v = x[i] * inverse_scale;
        out[i] = (uint8_t)nearbyintf(v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f);
    }
}
