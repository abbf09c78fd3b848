#ifndef DD_QUANTIZED_H
#define DD_QUANTIZED_H

/// The int8 inference path of the VGG16 engine: 3x3 convolutions of unsigned 8-bit activations (ReLU
/// outputs, zero point 0) with signed 8-bit weights (symmetric, one scale per output channel), accumulated
/// exactly in 32-bit integers.
///
/// Because the products are summed exactly, every instruction set gives bit-identical results: the
/// portable C loops, AVX-512 VNNI (`vpdpbusd`, Intel Cascade Lake and later, AMD Zen 4) and ARM's dot
/// product (`sdot`, Cortex-A76 / Raspberry Pi 5 and later). The epilogue is the same fused multiply-add and
/// round-to-nearest-even on every path, so outputs agree to the bit. `dd_q8_isa` tells which path runs.
///
/// Layouts: activations NHWC bytes; weights `[9*cin][cout]` (HWIO flattened, as the float path) packed by
/// `dd_q8_pack_weights` into 64-column panels. cin must be a multiple of 4 and cout of 64 (true of every
/// VGG16 layer but the first, which stays float: its input is the signed, centred image).
/// No function allocates or starts threads.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output columns per packed weight panel.
#define DD_Q8_PANEL 64
/// Output pixels the microkernels compute at once; im2col scratch is padded to a multiple of this.
#define DD_Q8_ROWS 6

/// The instruction set the int8 kernels use.
typedef enum {
    DD_Q8_PORTABLE = 0,
    DD_Q8_AVX512_VNNI = 1,
    DD_Q8_ARM_DOTPROD = 2,
} dd_q8_isa_kind;

/// The path the kernels take on this CPU (detected once), or the portable one when forced.
dd_q8_isa_kind dd_q8_isa(void);

/// Non-zero: use the portable loops whatever the CPU has (for tests and comparisons). Call before any
/// kernel runs, not while one does.
void dd_q8_force_portable(int force);

/// Bytes of packed weights for a `[9*cin][cout]` matrix.
size_t dd_q8_packed_bytes(int cin, int cout);

/// Packs `weights` (`[9*cin][cout]` signed bytes) into panels: for each 64-column panel, for each group of 4
/// rows, 64 columns of 4 consecutive rows' bytes. `column_sums[cout]` receives each column's sum (the ARM
/// path's correction for shifting activations into signed bytes).
void dd_q8_pack_weights(const int8_t *weights, int cin, int cout, int8_t *packed, int32_t *column_sums);

/// What happens to the 32-bit sums of one convolution: `v = float(sum) * scale[c] + offset[c]`, fused, then
///  - `out_u8` given: `round_half_even(v)` clamped to 0...255 (ReLU and requantisation to the next layer's
///    scale folded into `scale` and `offset`);
///  - else `out_f32`: `max(v, 0)` (ReLU), for the last layer, whose output leaves the int8 domain.
/// With `pooled` (u8 only), rows are max-pooled 2x2 into it instead of written to `out_u8`.
typedef struct {
    const float *scale;
    const float *offset;
    uint8_t *out_u8;
    float *out_f32;
    uint8_t *pooled;
} dd_q8_epilogue;

/// Bytes of scratch `dd_q8_conv3x3_rows` needs for `rows` output rows of width `width`.
size_t dd_q8_conv3x3_scratch(int rows, int width, int cin, int cout, int pooled);

/// Convolution of global output rows [g0, g1) of a batch of `height` x `width` x `cin` images (see
/// dd_kernels.h for global rows), output columns [c0, c1) (multiples of 64): im2col into `scratch`, integer
/// products, the epilogue. Pointers in `e` address the batch's first image. With pooling, g0 and g1 are even.
void dd_q8_conv3x3_rows(const uint8_t *images, int height, int width, int cin, int cout, const int8_t *packed,
                        const int32_t *column_sums, int g0, int g1, int c0, int c1, uint8_t *scratch,
                        dd_q8_epilogue e);

/// `out[i] = round_half_even(max(x[i], 0) * inverse_scale)` clamped to 255: float ReLU outputs into bytes.
void dd_q8_quantize_relu(const float *x, size_t count, float inverse_scale, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
