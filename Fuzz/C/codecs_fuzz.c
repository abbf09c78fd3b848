// libFuzzer target for the C image-codec shim on its own (Sources/CImageCodecs), built by Scripts/fuzz.sh
// with clang and AddressSanitizer plus UndefinedBehaviorSanitizer. The Swift `image` target runs the same
// shim through the decoders' Swift side; this one calls it directly, with every scale and flag the shim
// takes, then encodes what decoded (the encoders are the daemon's snapshot writers).
//
// Input: byte 0 chooses the codec (low 2 bits), the JPEG scale (next 3 bits), truncated JPEG acceptance
// (bit 5) and whether to re-encode (bit 6); the rest is the file.
#include "dd_codecs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/// Decoded images are bounded as the Swift side bounds them for fuzzing (DecodeOptions' maximumPixels).
enum { MAX_PIXELS = 1 << 20, MAX_SCANS = 100 };
/// Only images up to this size are encoded again: the encoders' paths are the same for larger ones, and
/// encoding a megapixel PNG per input would slow the fuzzer tenfold.
enum { MAX_REENCODE_PIXELS = 1 << 16 };

static void check_status(const dd_codec_status *status) {
    // The message is NUL-terminated within its buffer whatever the library said.
    if (memchr(status->message, 0, DD_CODEC_MESSAGE_CAPACITY) == NULL) abort();
}

static void encode_again(const uint8_t *rgb, int width, int height, size_t stride) {
    dd_codec_status status;
    uint8_t *out = NULL;
    size_t size = 0;
    dd_jpeg_encode_options options = {.quality = 75, .progressive = 0, .luma_h = 2, .luma_v = 2, .ycck = 0,
                                       .optimize_coding = 0};
    if (dd_jpeg_encode(rgb, width, height, stride, 3, &options, &out, &size, &status) != DD_CODEC_OK || size == 0) abort();
    dd_codec_free(out);
    out = NULL;
    if (dd_png_encode(rgb, width, height, stride, 2, 8, NULL, 0, NULL, 0, 0, &out, &size, &status) != DD_CODEC_OK) abort();
    dd_codec_free(out);
}

static void decode(int codec, int scale, int allow_truncated, int reencode, const uint8_t *data, size_t size) {
    dd_codec_status status;
    int width = 0, height = 0, result;
    switch (codec) {
    case 0: {
        dd_jpeg_header header;
        if (dd_jpeg_read_header(data, size, scale, &header, &status) != DD_CODEC_OK) { check_status(&status); return; }
        width = header.output_width;
        height = header.output_height;
        break;
    }
    case 1: {
        dd_png_header header;
        if (dd_png_read_header(data, size, &header, &status) != DD_CODEC_OK) { check_status(&status); return; }
        width = header.width;
        height = header.height;
        break;
    }
    default: {
        dd_webp_header header;
        if (dd_webp_read_header(data, size, &header, &status) != DD_CODEC_OK) { check_status(&status); return; }
        width = header.width;
        height = header.height;
        break;
    }
    }
    if (width <= 0 || height <= 0 || (int64_t)width * height > MAX_PIXELS) return;
    size_t stride = (size_t)width * 3;
    uint8_t *rgb = malloc(stride * (size_t)height);
    if (rgb == NULL) abort();
    switch (codec) {
    case 0:
        result = dd_jpeg_decode_rgb(data, size, scale, allow_truncated, MAX_SCANS, 64u << 20, rgb, stride, width, height, &status);
        break;
    case 1: result = dd_png_decode_rgb(data, size, rgb, stride, width, height, &status); break;
    default: result = dd_webp_decode_rgb(data, size, rgb, stride, width, height, &status); break;
    }
    check_status(&status);
    if (result == DD_CODEC_OK && reencode && (int64_t)width * height <= MAX_REENCODE_PIXELS) encode_again(rgb, width, height, stride);
    free(rgb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int codec = data[0] & 3;
    int scale = 1 + ((data[0] >> 2) & 7);
    decode(codec == 3 ? 0 : codec, scale, (data[0] >> 5) & 1, (data[0] >> 6) & 1, data + 1, size - 1);
    return 0;
}
