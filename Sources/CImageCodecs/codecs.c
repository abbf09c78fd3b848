// C shims over libjpeg(-turbo), libpng and libwebp. See include/dd_codecs.h for the contract.
//
// Every libjpeg/libpng call that can fail runs after a setjmp; the error managers installed here format the
// library's message into the status and longjmp back, so the shim returns an error code instead of letting
// the library exit() or abort(). Variables that change between setjmp and a possible longjmp and are read
// afterwards are either volatile or owned by the library's own memory pools (freed by jpeg_destroy /
// png_destroy_read_struct).

#include "dd_codecs.h"

#include <limits.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/types.h>

_Static_assert(DD_CODEC_MESSAGE_CAPACITY >= JMSG_LENGTH_MAX, "status must hold a libjpeg message");

static int set_status(dd_codec_status *status, dd_codec_result result, const char *format, ...) {
    status->result = result;
    status->message[0] = 0;
    if (format != NULL) {
        va_list args;
        va_start(args, format);
        vsnprintf(status->message, sizeof status->message, format, args);
        va_end(args);
    }
    return (int)result;
}

static int set_ok(dd_codec_status *status) { return set_status(status, DD_CODEC_OK, NULL); }

void dd_codec_free(void *buffer) { free(buffer); }

// MARK: - JPEG

typedef struct dd_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    dd_codec_result result;
    int allow_truncated;
    int max_scans;
    char message[JMSG_LENGTH_MAX];
} dd_jpeg_error;

static void dd_jpeg_fail(j_common_ptr cinfo, dd_codec_result result) {
    dd_jpeg_error *error = (dd_jpeg_error *)cinfo->err;
    error->result = result;
    (*cinfo->err->format_message)(cinfo, error->message);
    longjmp(error->jump, 1);
}

static void dd_jpeg_error_exit(j_common_ptr cinfo) { dd_jpeg_fail(cinfo, DD_CODEC_CORRUPT); }

// Warnings (level -1) are counted; "Premature end of JPEG file" fails the decode unless truncation is
// allowed. Trace messages (level >= 0) are ignored.
static void dd_jpeg_emit_message(j_common_ptr cinfo, int level) {
    dd_jpeg_error *error = (dd_jpeg_error *)cinfo->err;
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !error->allow_truncated) {
        dd_jpeg_fail(cinfo, DD_CODEC_TRUNCATED);
    }
    cinfo->err->num_warnings++;
}

static void dd_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

// Bounds the number of scans of a progressive file: libjpeg would otherwise happily read thousands of
// tiny scans from a crafted file, each one a full pass over the coefficient buffer.
static void dd_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    dd_jpeg_error *error = (dd_jpeg_error *)cinfo->err;
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (error->max_scans > 0 && dinfo->input_scan_number > error->max_scans) {
        error->result = DD_CODEC_CORRUPT;
        snprintf(error->message, sizeof error->message, "more than %d progressive scans", error->max_scans);
        longjmp(error->jump, 1);
    }
}

static void dd_jpeg_init_error(dd_jpeg_error *error, int allow_truncated, int max_scans) {
    memset(error, 0, sizeof *error);
    jpeg_std_error(&error->base);
    error->base.error_exit = dd_jpeg_error_exit;
    error->base.emit_message = dd_jpeg_emit_message;
    error->base.output_message = dd_jpeg_output_message;
    error->allow_truncated = allow_truncated;
    error->max_scans = max_scans;
    error->result = DD_CODEC_OK;
}

static dd_jpeg_color_space dd_jpeg_space(J_COLOR_SPACE space) {
    switch (space) {
    case JCS_GRAYSCALE: return DD_JPEG_GRAYSCALE;
    case JCS_RGB: return DD_JPEG_RGB;
    case JCS_YCbCr: return DD_JPEG_YCBCR;
    case JCS_CMYK: return DD_JPEG_CMYK;
    case JCS_YCCK: return DD_JPEG_YCCK;
    default: return DD_JPEG_UNKNOWN;
    }
}

// Chooses the output colour space: RGB for colour, gray and CMYK as stored (converted to RGB here).
// Returns the number of output components, or 0 when the stored colour space is not decodable.
static int dd_jpeg_choose_output(j_decompress_ptr cinfo) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; return 1;
    case JCS_RGB:
    case JCS_YCbCr: cinfo->out_color_space = JCS_RGB; return 3;
    case JCS_CMYK:
    case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; return 4;
    case JCS_UNKNOWN:
        // No JFIF/Adobe marker and an unusual component count: pass samples through unconverted.
        if (cinfo->num_components == 1 || cinfo->num_components == 3 || cinfo->num_components == 4) {
            cinfo->out_color_space = JCS_UNKNOWN;
            return cinfo->num_components;
        }
        return 0;
    default: return 0;
    }
}

static void dd_jpeg_fill_header(j_decompress_ptr cinfo, dd_jpeg_header *header) {
    header->width = (int)cinfo->image_width;
    header->height = (int)cinfo->image_height;
    header->components = cinfo->num_components;
    header->color_space = dd_jpeg_space(cinfo->jpeg_color_space);
    header->progressive = cinfo->progressive_mode ? 1 : 0;
    header->adobe_marker = cinfo->saw_Adobe_marker ? 1 : 0;
    header->output_width = (int)cinfo->output_width;
    header->output_height = (int)cinfo->output_height;
}

int dd_jpeg_read_header(const uint8_t *data, size_t size, int scale_eighths, dd_jpeg_header *header,
                        dd_codec_status *status) {
    if (data == NULL || size == 0 || header == NULL || scale_eighths < 1 || scale_eighths > 8) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_jpeg_read_header");
    }
    struct jpeg_decompress_struct cinfo;
    dd_jpeg_error error;
    dd_jpeg_init_error(&error, 0, 0);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return set_status(status, error.result, "%s", error.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (dd_jpeg_choose_output(&cinfo) == 0) {
        int components = cinfo.num_components;
        jpeg_destroy_decompress(&cinfo);
        return set_status(status, DD_CODEC_UNSUPPORTED, "colour space with %d components", components);
    }
    cinfo.scale_num = (unsigned int)scale_eighths;
    cinfo.scale_denom = 8;
    jpeg_calc_output_dimensions(&cinfo);
    dd_jpeg_fill_header(&cinfo, header);
    jpeg_destroy_decompress(&cinfo);
    return set_ok(status);
}

// Pillow's MULDIV255: a * b / 255 rounded, in integers.
static inline int dd_muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static inline uint8_t dd_clip8(int v) { return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// Converts one row of libjpeg CMYK output to RGB the way Pillow does: Pillow always reads JPEG CMYK with
// Adobe polarity (stored values are 255 - ink, rawmode "CMYK;I") and then converts with
// R = (255 - K) - (C * (255 - K) / 255), and likewise for G (M) and B (Y).
static void dd_cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width) {
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int nk = cmyk[3];  // 255 - K, since K = 255 - stored
        for (int c = 0; c < 3; c++) {
            int ink = 255 - cmyk[c];
            rgb[c] = dd_clip8(nk - dd_muldiv255(ink, nk));
        }
    }
}

// Expands gray samples at the start of `row` to RGB triples in place (back to front).
static void dd_gray_row_to_rgb(uint8_t *row, int width) {
    for (int x = width - 1; x >= 0; x--) {
        uint8_t v = row[x];
        row[3 * x] = v;
        row[3 * x + 1] = v;
        row[3 * x + 2] = v;
    }
}

int dd_jpeg_decode_rgb(const uint8_t *data, size_t size, int scale_eighths, int allow_truncated, int max_scans,
                       size_t max_memory, uint8_t *rgb, size_t stride, int width, int height,
                       dd_codec_status *status) {
    if (data == NULL || size == 0 || rgb == NULL || scale_eighths < 1 || scale_eighths > 8 || width <= 0 ||
        height <= 0 || stride < (size_t)width * 3) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_jpeg_decode_rgb");
    }
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    dd_jpeg_error error;
    dd_jpeg_init_error(&error, allow_truncated, max_scans);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return set_status(status, error.result, "%s", error.message);
    }
    jpeg_create_decompress(&cinfo);
    // libjpeg's large buffers (a progressive file's coefficients) may not exceed this; without a backing
    // store, a file that needs more is an error ("Backing store not supported") instead of a huge allocation.
    if (max_memory > 0) cinfo.mem->max_memory_to_use = (long)(max_memory > (size_t)LONG_MAX ? (size_t)LONG_MAX : max_memory);
    memset(&progress, 0, sizeof progress);
    progress.progress_monitor = dd_jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int components = dd_jpeg_choose_output(&cinfo);
    if (components == 0) {
        int stored = cinfo.num_components;
        jpeg_destroy_decompress(&cinfo);
        return set_status(status, DD_CODEC_UNSUPPORTED, "colour space with %d components", stored);
    }
    cinfo.scale_num = (unsigned int)scale_eighths;
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_width != width || (int)cinfo.output_height != height ||
        cinfo.output_components != components) {
        int got_width = (int)cinfo.output_width, got_height = (int)cinfo.output_height;
        jpeg_destroy_decompress(&cinfo);
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "output is %dx%d, caller expected %dx%d", got_width,
                          got_height, width, height);
    }
    JSAMPARRAY cmyk_row = NULL;
    if (components == 4) {
        cmyk_row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, (JDIMENSION)width * 4, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *out = rgb + (size_t)cinfo.output_scanline * stride;
        if (components == 4) {
            jpeg_read_scanlines(&cinfo, cmyk_row, 1);
            dd_cmyk_row_to_rgb(cmyk_row[0], out, width);
        } else {
            JSAMPROW row = out;
            jpeg_read_scanlines(&cinfo, &row, 1);
            if (components == 1) dd_gray_row_to_rgb(out, width);
        }
    }
    // jpeg_finish_decompress is not called: it would read on to the EOI marker, and trailing bytes after
    // the last scan do not matter to the image (many camera frames are padded or lack EOI).
    jpeg_destroy_decompress(&cinfo);
    return set_ok(status);
}

// A growing malloc'd output buffer. libjpeg's jpeg_mem_dest only publishes its (reallocated) buffer when
// compression finishes, so after an error mid-way the caller could not free it; this sink always can.
typedef struct dd_jpeg_sink {
    struct jpeg_destination_mgr base;
    uint8_t *data;
    size_t capacity;
    size_t size;
} dd_jpeg_sink;

static void dd_jpeg_sink_grow(j_compress_ptr cinfo, size_t capacity) {
    dd_jpeg_sink *sink = (dd_jpeg_sink *)cinfo->dest;
    uint8_t *grown = realloc(sink->data, capacity);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    size_t used = sink->capacity - (sink->data == NULL ? 0 : sink->base.free_in_buffer);
    sink->data = grown;
    sink->base.next_output_byte = grown + used;
    sink->base.free_in_buffer = capacity - used;
    sink->capacity = capacity;
}

static void dd_jpeg_sink_init(j_compress_ptr cinfo) {
    dd_jpeg_sink *sink = (dd_jpeg_sink *)cinfo->dest;
    if (sink->data == NULL) dd_jpeg_sink_grow(cinfo, 65536);
}

static boolean dd_jpeg_sink_empty(j_compress_ptr cinfo) {
    dd_jpeg_sink *sink = (dd_jpeg_sink *)cinfo->dest;
    // libjpeg calls this with the whole buffer full (free_in_buffer is stale by contract): mark it used.
    sink->base.free_in_buffer = 0;
    dd_jpeg_sink_grow(cinfo, sink->capacity * 2);
    return TRUE;
}

static void dd_jpeg_sink_term(j_compress_ptr cinfo) {
    dd_jpeg_sink *sink = (dd_jpeg_sink *)cinfo->dest;
    sink->size = sink->capacity - sink->base.free_in_buffer;
}

int dd_jpeg_encode(const uint8_t *pixels, int width, int height, size_t stride, int components,
                   const dd_jpeg_encode_options *options, uint8_t **out, size_t *out_size, dd_codec_status *status) {
    if (pixels == NULL || options == NULL || out == NULL || out_size == NULL || width <= 0 || height <= 0 ||
        (components != 1 && components != 3 && components != 4) || stride < (size_t)width * (size_t)components ||
        options->quality < 1 || options->quality > 100) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_jpeg_encode");
    }
    struct jpeg_compress_struct cinfo;
    dd_jpeg_error error;
    // volatile: its buffer pointer changes inside libjpeg calls and is freed on the error path.
    dd_jpeg_sink volatile sink;
    memset((void *)&sink, 0, sizeof sink);
    dd_jpeg_init_error(&error, 0, 0);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(sink.data);
        return set_status(status, error.result, "%s", error.message);
    }
    jpeg_create_compress(&cinfo);
    sink.base.init_destination = dd_jpeg_sink_init;
    sink.base.empty_output_buffer = dd_jpeg_sink_empty;
    sink.base.term_destination = dd_jpeg_sink_term;
    cinfo.dest = (struct jpeg_destination_mgr *)&sink;
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : (components == 3 ? JCS_RGB : JCS_CMYK);
    jpeg_set_defaults(&cinfo);
    if (components == 4 && options->ycck) jpeg_set_colorspace(&cinfo, JCS_YCCK);
    jpeg_set_quality(&cinfo, options->quality, TRUE);
    if (components == 3 || (components == 4 && options->ycck)) {
        // Luma (and for YCCK the K channel, which libjpeg samples like luma) carry the sampling factors;
        // the chroma components stay at 1x1.
        int h = options->luma_h == 2 ? 2 : 1, v = options->luma_v == 2 ? 2 : 1;
        cinfo.comp_info[0].h_samp_factor = h;
        cinfo.comp_info[0].v_samp_factor = v;
        if (components == 4) {
            cinfo.comp_info[3].h_samp_factor = h;
            cinfo.comp_info[3].v_samp_factor = v;
        }
    }
    cinfo.optimize_coding = options->optimize_coding ? TRUE : FALSE;
    if (options->progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = sink.data;
    *out_size = sink.size;
    return set_ok(status);
}

// MARK: - PNG

typedef struct dd_png_source {
    const uint8_t *data;
    size_t size;
    size_t offset;
} dd_png_source;

typedef struct dd_png_context {
    jmp_buf jump;
    dd_codec_result result;
    char message[DD_CODEC_MESSAGE_CAPACITY];
} dd_png_context;

static void dd_png_error(png_structp png, png_const_charp message) {
    dd_png_context *context = (dd_png_context *)png_get_error_ptr(png);
    if (context->result == DD_CODEC_OK) {
        context->result = DD_CODEC_CORRUPT;
        snprintf(context->message, sizeof context->message, "%s", message);
    }
    png_longjmp(png, 1);
}

static void dd_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void dd_png_read(png_structp png, png_bytep out, png_size_t count) {
    dd_png_source *source = (dd_png_source *)png_get_io_ptr(png);
    if (count > source->size - source->offset) {
        dd_png_context *context = (dd_png_context *)png_get_error_ptr(png);
        context->result = DD_CODEC_TRUNCATED;
        snprintf(context->message, sizeof context->message, "data ends %zu bytes into the file",
                 source->size);
        png_error(png, "truncated");
    }
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

static int dd_png_begin(png_structp png, png_infop info, dd_png_source *source) {
    png_set_read_fn(png, source, dd_png_read);
    // Ancillary chunks with known-bad profiles and the like are warnings, not failures.
    png_set_benign_errors(png, 1);
    png_read_info(png, info);
    return 0;
}

int dd_png_read_header(const uint8_t *data, size_t size, dd_png_header *header, dd_codec_status *status) {
    if (data == NULL || header == NULL) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_png_read_header");
    }
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        return set_status(status, DD_CODEC_CORRUPT, "not a PNG signature");
    }
    dd_png_context context;
    memset(&context, 0, sizeof context);
    dd_png_source source = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, dd_png_error, dd_png_warning);
    if (png == NULL) return set_status(status, DD_CODEC_NO_MEMORY, "png_create_read_struct failed");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return set_status(status, DD_CODEC_NO_MEMORY, "png_create_info_struct failed");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return set_status(status, context.result, "%s", context.message);
    }
    dd_png_begin(png, info, &source);
    header->width = (int)png_get_image_width(png, info);
    header->height = (int)png_get_image_height(png, info);
    header->color_type = png_get_color_type(png, info);
    header->bit_depth = png_get_bit_depth(png, info);
    header->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    png_destroy_read_struct(&png, &info, NULL);
    return set_ok(status);
}

int dd_png_decode_rgb(const uint8_t *data, size_t size, uint8_t *rgb, size_t stride, int width, int height,
                      dd_codec_status *status) {
    if (data == NULL || rgb == NULL || width <= 0 || height <= 0 || stride < (size_t)width * 3) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_png_decode_rgb");
    }
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        return set_status(status, DD_CODEC_CORRUPT, "not a PNG signature");
    }
    dd_png_context context;
    memset(&context, 0, sizeof context);
    dd_png_source source = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, dd_png_error, dd_png_warning);
    if (png == NULL) return set_status(status, DD_CODEC_NO_MEMORY, "png_create_read_struct failed");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return set_status(status, DD_CODEC_NO_MEMORY, "png_create_info_struct failed");
    }
    // Row pointers come from libpng's allocator through png_malloc and are released on both paths.
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        if (rows != NULL) png_free(png, rows);
        png_destroy_read_struct(&png, &info, NULL);
        return set_status(status, context.result, "%s", context.message);
    }
    dd_png_begin(png, info, &source);
    if ((int)png_get_image_width(png, info) != width || (int)png_get_image_height(png, info) != height) {
        png_destroy_read_struct(&png, &info, NULL);
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "size differs from the header the caller read");
    }
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    // Expanding a palette also turns tRNS into an alpha channel; strip every alpha channel afterwards.
    png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        return set_status(status, DD_CODEC_UNSUPPORTED, "PNG transformations did not yield 8-bit RGB");
    }
    rows = (png_bytepp)png_malloc(png, sizeof(png_bytep) * (size_t)height);
    for (int y = 0; y < height; y++) rows[y] = rgb + (size_t)y * stride;
    png_read_image(png, rows);
    // png_read_end is not called: chunks after the image data do not change the pixels.
    png_free(png, rows);
    rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    return set_ok(status);
}

typedef struct dd_png_sink {
    uint8_t *data;
    size_t size;
    size_t capacity;
} dd_png_sink;

static void dd_png_write(png_structp png, png_bytep bytes, png_size_t count) {
    dd_png_sink *sink = (dd_png_sink *)png_get_io_ptr(png);
    if (count > sink->capacity - sink->size) {
        size_t capacity = sink->capacity ? sink->capacity : 4096;
        while (capacity - sink->size < count) capacity *= 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (grown == NULL) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, bytes, count);
    sink->size += count;
}

static void dd_png_flush(png_structp png) { (void)png; }

int dd_png_encode(const uint8_t *pixels, int width, int height, size_t stride, int color_type, int bit_depth,
                  const uint8_t *palette, int palette_entries, const uint8_t *alpha, int alpha_entries,
                  int interlaced, uint8_t **out, size_t *out_size, dd_codec_status *status) {
    if (pixels == NULL || out == NULL || out_size == NULL || width <= 0 || height <= 0 ||
        (color_type == PNG_COLOR_TYPE_PALETTE && (palette == NULL || palette_entries < 1 || palette_entries > 256))) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_png_encode");
    }
    dd_png_context context;
    memset(&context, 0, sizeof context);
    // volatile: the sink's buffer pointer changes inside libpng calls and is freed on the error path.
    dd_png_sink volatile sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, dd_png_error, dd_png_warning);
    if (png == NULL) return set_status(status, DD_CODEC_NO_MEMORY, "png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return set_status(status, DD_CODEC_NO_MEMORY, "png_create_info_struct failed");
    }
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        if (rows != NULL) png_free(png, rows);
        png_destroy_write_struct(&png, &info);
        free(sink.data);
        return set_status(status, context.result, "%s", context.message);
    }
    png_set_write_fn(png, (void *)&sink, dd_png_write, dd_png_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color colors[256];
        for (int i = 0; i < palette_entries; i++) {
            colors[i].red = palette[3 * i];
            colors[i].green = palette[3 * i + 1];
            colors[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, palette_entries);
        if (alpha != NULL && alpha_entries > 0) png_set_tRNS(png, info, alpha, alpha_entries, NULL);
    }
    png_write_info(png, info);
    rows = (png_bytepp)png_malloc(png, sizeof(png_bytep) * (size_t)height);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_free(png, rows);
    rows = NULL;
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *out_size = sink.size;
    return set_ok(status);
}

// MARK: - WebP

static const char *dd_webp_reason(VP8StatusCode code) {
    switch (code) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "user abort";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
    }
    return "unknown error";
}

static int dd_webp_status(dd_codec_status *status, VP8StatusCode code) {
    dd_codec_result result = DD_CODEC_CORRUPT;
    if (code == VP8_STATUS_NOT_ENOUGH_DATA) result = DD_CODEC_TRUNCATED;
    if (code == VP8_STATUS_OUT_OF_MEMORY) result = DD_CODEC_NO_MEMORY;
    if (code == VP8_STATUS_UNSUPPORTED_FEATURE) result = DD_CODEC_UNSUPPORTED;
    return set_status(status, result, "libwebp: %s", dd_webp_reason(code));
}

int dd_webp_read_header(const uint8_t *data, size_t size, dd_webp_header *header, dd_codec_status *status) {
    if (data == NULL || header == NULL) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_webp_read_header");
    }
    WebPBitstreamFeatures features;
    VP8StatusCode code = WebPGetFeatures(data, size, &features);
    if (code != VP8_STATUS_OK) return dd_webp_status(status, code);
    header->width = features.width;
    header->height = features.height;
    header->has_alpha = features.has_alpha;
    header->has_animation = features.has_animation;
    header->format = features.format;
    return set_ok(status);
}

int dd_webp_decode_rgb(const uint8_t *data, size_t size, uint8_t *rgb, size_t stride, int width, int height,
                       dd_codec_status *status) {
    if (data == NULL || rgb == NULL || width <= 0 || height <= 0 || stride < (size_t)width * 3) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_webp_decode_rgb");
    }
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return set_status(status, DD_CODEC_BAD_ARGUMENT, "libwebp version mismatch");
    VP8StatusCode code = WebPGetFeatures(data, size, &config.input);
    if (code != VP8_STATUS_OK) return dd_webp_status(status, code);
    if (config.input.has_animation) {
        return set_status(status, DD_CODEC_UNSUPPORTED, "animated WebP");
    }
    if (config.input.width != width || config.input.height != height) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "size differs from the header the caller read");
    }
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = rgb;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = stride * (size_t)(height - 1) + (size_t)width * 3;
    code = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    if (code != VP8_STATUS_OK) return dd_webp_status(status, code);
    return set_ok(status);
}

int dd_webp_encode(const uint8_t *pixels, int width, int height, size_t stride, int channels, int lossless,
                   float quality, uint8_t **out, size_t *out_size, dd_codec_status *status) {
    if (pixels == NULL || out == NULL || out_size == NULL || width <= 0 || height <= 0 ||
        (channels != 3 && channels != 4) || stride < (size_t)width * (size_t)channels) {
        return set_status(status, DD_CODEC_BAD_ARGUMENT, "invalid arguments to dd_webp_encode");
    }
    uint8_t *encoded = NULL;
    size_t size;
    int s = (int)stride;
    if (lossless) {
        size = channels == 3 ? WebPEncodeLosslessRGB(pixels, width, height, s, &encoded)
                             : WebPEncodeLosslessRGBA(pixels, width, height, s, &encoded);
    } else {
        size = channels == 3 ? WebPEncodeRGB(pixels, width, height, s, quality, &encoded)
                             : WebPEncodeRGBA(pixels, width, height, s, quality, &encoded);
    }
    if (size == 0 || encoded == NULL) {
        WebPFree(encoded);
        return set_status(status, DD_CODEC_CORRUPT, "libwebp could not encode the image");
    }
    uint8_t *copy = malloc(size);
    if (copy == NULL) {
        WebPFree(encoded);
        return set_status(status, DD_CODEC_NO_MEMORY, "out of memory");
    }
    memcpy(copy, encoded, size);
    WebPFree(encoded);
    *out = copy;
    *out_size = size;
    return set_ok(status);
}
