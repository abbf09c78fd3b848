#ifndef DD_CODECS_H
#define DD_CODECS_H
/// C shims over libjpeg(-turbo), libpng and libwebp that turn every codec failure into a return code.
///
/// libjpeg's and libpng's default error handlers print and call exit() (libjpeg) or abort (libpng without
/// a jump buffer); every entry point here installs an error manager that longjmps back into the shim, so a
/// corrupt or truncated file is a `dd_codec_status` with the library's own message, never a crash.
///
/// Decoders come in two steps so that Swift owns the pixel memory: a header call reports the output size,
/// then the decode call writes packed 8-bit RGB rows (`stride` bytes apart) into the caller's buffer.
/// Encoders allocate their output with malloc; release it with `dd_codec_free`.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Longest message a status carries (libjpeg's JMSG_LENGTH_MAX).
#define DD_CODEC_MESSAGE_CAPACITY 200

/// Outcome of a shim call. `message` is NUL-terminated and empty on success.
typedef enum dd_codec_result {
    DD_CODEC_OK = 0,
    /// The library rejected the data (libjpeg/libpng/libwebp message in `message`).
    DD_CODEC_CORRUPT = 1,
    /// The data ended before the image did.
    DD_CODEC_TRUNCATED = 2,
    /// Valid data this shim does not decode (for example an animated WebP).
    DD_CODEC_UNSUPPORTED = 3,
    /// An allocation failed.
    DD_CODEC_NO_MEMORY = 4,
    /// The caller passed inconsistent arguments (buffer too small, size mismatch).
    DD_CODEC_BAD_ARGUMENT = 5,
} dd_codec_result;

typedef struct dd_codec_status {
    dd_codec_result result;
    char message[DD_CODEC_MESSAGE_CAPACITY];
} dd_codec_status;

/// Releases a buffer returned by an encoder.
void dd_codec_free(void *buffer);

// MARK: JPEG

/// libjpeg's J_COLOR_SPACE values for the stored (not the output) colour space.
typedef enum dd_jpeg_color_space {
    DD_JPEG_UNKNOWN = 0,
    DD_JPEG_GRAYSCALE = 1,
    DD_JPEG_RGB = 2,
    DD_JPEG_YCBCR = 3,
    DD_JPEG_CMYK = 4,
    DD_JPEG_YCCK = 5,
} dd_jpeg_color_space;

typedef struct dd_jpeg_header {
    /// Size of the full-resolution image.
    int width, height;
    /// Components in the file (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK).
    int components;
    dd_jpeg_color_space color_space;
    int progressive;
    /// Whether an Adobe APP14 marker was present (Adobe CMYK/YCCK files store inverted ink values).
    int adobe_marker;
    /// Size produced at the requested DCT scale (`scale_eighths`/8).
    int output_width, output_height;
} dd_jpeg_header;

/// Reads the JPEG header and the output size at `scale_eighths`/8 (1...8).
/// The corresponding libjpeg calls are `jpeg_read_header` and `jpeg_calc_output_dimensions`.
int dd_jpeg_read_header(const uint8_t *data, size_t size, int scale_eighths, dd_jpeg_header *header,
                        dd_codec_status *status);

/// Decodes to 8-bit RGB at `scale_eighths`/8 with libjpeg's defaults (ISLOW IDCT, fancy upsampling), the
/// settings Pillow uses. Gray is replicated; CMYK/YCCK is converted as Pillow's convert("RGB") does.
/// `width`/`height` must equal the header's output size. With `allow_truncated` 0, data ending early is
/// DD_CODEC_TRUNCATED; otherwise libjpeg fills the missing part with gray and the call succeeds. Other
/// libjpeg warnings (corrupt entropy data that libjpeg resynchronises past) do not fail the call.
/// `max_scans` bounds the scans of a progressive file, and `max_memory` (bytes; 0 for libjpeg's default) the
/// memory libjpeg may take for its large buffers (both defences against crafted files).
int dd_jpeg_decode_rgb(const uint8_t *data, size_t size, int scale_eighths, int allow_truncated, int max_scans,
                       size_t max_memory, uint8_t *rgb, size_t stride, int width, int height,
                       dd_codec_status *status);

typedef struct dd_jpeg_encode_options {
    /// 1...100.
    int quality;
    int progressive;
    /// Luma sampling factors (1 or 2 each): 2,2 is 4:2:0, 2,1 is 4:2:2, 1,1 is 4:4:4. Used for RGB (stored
    /// as YCbCr) and YCCK (K sampled like luma); ignored for gray and plain CMYK.
    int luma_h, luma_v;
    /// For 4 components only: store YCCK instead of CMYK.
    int ycck;
    /// Compute optimal Huffman tables; 0 keeps the standard tables of ITU T.81 Annex K.3.
    int optimize_coding;
} dd_jpeg_encode_options;

/// Encodes `components` (1 gray, 3 RGB, 4 CMYK as given, with libjpeg's Adobe marker) 8-bit samples.
/// On success `*out` holds a malloc'd JPEG of `*out_size` bytes.
int dd_jpeg_encode(const uint8_t *pixels, int width, int height, size_t stride, int components,
                   const dd_jpeg_encode_options *options, uint8_t **out, size_t *out_size, dd_codec_status *status);

// MARK: PNG

typedef struct dd_png_header {
    int width, height;
    /// PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA) and bit depth.
    int color_type, bit_depth;
    int interlaced;
} dd_png_header;

/// Reads the PNG signature and IHDR. The corresponding libpng call is `png_read_info`.
int dd_png_read_header(const uint8_t *data, size_t size, dd_png_header *header, dd_codec_status *status);

/// Decodes any PNG to 8-bit RGB: palette expanded, gray replicated, 16-bit samples reduced to their high
/// byte, alpha (and tRNS transparency) dropped without compositing — what Pillow's convert("RGB") gives.
int dd_png_decode_rgb(const uint8_t *data, size_t size, uint8_t *rgb, size_t stride, int width, int height,
                      dd_codec_status *status);

/// Encodes a PNG. `pixels` rows hold samples as PNG stores them (16-bit samples big-endian). For colour
/// type 3, `palette` holds `palette_entries` RGB triples and `alpha` (optional) `alpha_entries` tRNS
/// values. On success `*out` holds a malloc'd PNG.
int dd_png_encode(const uint8_t *pixels, int width, int height, size_t stride, int color_type, int bit_depth,
                  const uint8_t *palette, int palette_entries, const uint8_t *alpha, int alpha_entries,
                  int interlaced, uint8_t **out, size_t *out_size, dd_codec_status *status);

// MARK: WebP

typedef struct dd_webp_header {
    int width, height;
    int has_alpha, has_animation;
    /// 0 mixed/undefined, 1 lossy, 2 lossless.
    int format;
} dd_webp_header;

/// Reads the WebP features. The corresponding libwebp call is `WebPGetFeatures`.
int dd_webp_read_header(const uint8_t *data, size_t size, dd_webp_header *header, dd_codec_status *status);

/// Decodes a still WebP to 8-bit RGB (alpha dropped). Animated files are DD_CODEC_UNSUPPORTED.
int dd_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *rgb, size_t stride, int width, int height,
                       dd_codec_status *status);

/// Encodes 8-bit RGB (`channels` 3) or RGBA (4) as lossy (`quality` 0...100) or lossless WebP. On
/// success `*out` holds a buffer to release with `dd_codec_free`.
int dd_webp_encode(const uint8_t *pixels, int width, int height, size_t stride, int channels, int lossless,
                   float quality, uint8_t **out, size_t *out_size, dd_codec_status *status);

#ifdef __cplusplus
}
#endif

#endif
