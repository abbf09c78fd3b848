/*
 * jpeg-to-raw: converts JPEG images (such as the frames `dogdoor samples replay` writes) to the raw
 * frames vivid-feed plays into vivid's output, and optionally writes back, as PNG, the RGB image a
 * program capturing those raw frames gets after converting them the way dogdoord does. Host-side
 * only (the integration tests' preparation); links libjpeg and libpng, which Scripts/setup.sh installs.
 *
 *   jpeg-to-raw --format YUYV|RGB3 [--check-png OUT.png] INPUT.jpg OUTPUT.raw
 *
 * YUYV is BT.601 limited range ("studio swing", what V4L2 means by YUYV with the sRGB colorspace that
 * vivid reports), each chroma pair taken from the mean of the two pixels it is shared by. The check
 * image decodes it back with exactly the fixed-point formula of Sources/Imaging/CameraFrame.swift
 * (YUV.convertYUYV), so that `dogdoor classify` on it scores what the daemon will see. RGB3 is packed
 * R, G, B bytes and comes back unchanged.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h and stddef.h, which it needs */
#include <png.h>

static void fail(const char *message, const char *path)
{
    fprintf(stderr, "jpeg-to-raw: error: %s: %s\n", path, message);
    exit(1);
}

struct error_manager {
    struct jpeg_error_mgr base;
    jmp_buf escape;
};

static void on_jpeg_error(j_common_ptr info)
{
    longjmp(((struct error_manager *)info->err)->escape, 1);
}

/* Decodes `path` to packed RGB; returns the pixels (malloc'ed) and the size. */
static unsigned char *decode_jpeg(const char *path, int *width, int *height)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        fail(strerror(errno), path);
    struct jpeg_decompress_struct info;
    struct error_manager errors;
    unsigned char *pixels = NULL;
    info.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = on_jpeg_error;
    if (setjmp(errors.escape)) {
        char message[JMSG_LENGTH_MAX];
        errors.base.format_message((j_common_ptr)&info, message);
        fail(message, path);
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    size_t row_bytes = (size_t)*width * 3;
    pixels = malloc(row_bytes * (size_t)*height);
    if (!pixels)
        fail("out of memory", path);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + row_bytes * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    fclose(file);
    return pixels;
}

static unsigned char clamp(int value)
{
    return (unsigned char)(value < 0 ? 0 : value > 255 ? 255 : value);
}

/* RGB to YUYV, BT.601 limited range, in 8.8 fixed point (the usual integer approximation). */
static void rgb_to_yuyv(const unsigned char *rgb, unsigned char *yuyv, int width, int height)
{
    for (long i = 0; i < (long)width * height; i += 2) {
        const unsigned char *p = rgb + i * 3, *q = p + 3;
        int r = (p[0] + q[0] + 1) / 2, g = (p[1] + q[1] + 1) / 2, b = (p[2] + q[2] + 1) / 2;
        unsigned char *out = yuyv + i * 2;
        out[0] = clamp(((66 * p[0] + 129 * p[1] + 25 * p[2] + 128) >> 8) + 16);
        out[1] = clamp(((-38 * r - 74 * g + 112 * b + 128 + (128 << 8)) >> 8));
        out[2] = clamp(((66 * q[0] + 129 * q[1] + 25 * q[2] + 128) >> 8) + 16);
        out[3] = clamp(((112 * r - 94 * g - 18 * b + 128 + (128 << 8)) >> 8));
    }
}

/* YUYV to RGB exactly as dogdoord converts camera frames (YUV.convertYUYV). */
static void yuyv_to_rgb(const unsigned char *yuyv, unsigned char *rgb, int width, int height)
{
    for (long i = 0; i < (long)width * height; i += 2) {
        const unsigned char *s = yuyv + i * 2;
        unsigned char *d = rgb + i * 3;
        int c0 = 298 * (s[0] - 16) + 128, c1 = 298 * (s[2] - 16) + 128;
        int u = s[1] - 128, v = s[3] - 128;
        int r = 409 * v, g = -100 * u - 208 * v, b = 516 * u;
        d[0] = clamp((c0 + r) >> 8);
        d[1] = clamp((c0 + g) >> 8);
        d[2] = clamp((c0 + b) >> 8);
        d[3] = clamp((c1 + r) >> 8);
        d[4] = clamp((c1 + g) >> 8);
        d[5] = clamp((c1 + b) >> 8);
    }
}

static void write_file(const char *path, const unsigned char *bytes, size_t count)
{
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(bytes, 1, count, file) != count || fclose(file) != 0)
        fail(strerror(errno), path);
}

static void write_png(const char *path, const unsigned char *rgb, int width, int height)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path, 0, rgb, 0, NULL))
        fail(image.message, path);
}

int main(int argc, char **argv)
{
    const char *format = "YUYV", *check = NULL;
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"check-png", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "f:c:h", options, NULL)) != -1) {
        switch (option) {
        case 'f': format = optarg; break;
        case 'c': check = optarg; break;
        case 'h':
            printf("usage: jpeg-to-raw --format YUYV|RGB3 [--check-png OUT.png] INPUT.jpg OUTPUT.raw\n");
            return 0;
        default: return 2;
        }
    }
    if (argc - optind != 2 || (strcmp(format, "YUYV") != 0 && strcmp(format, "RGB3") != 0)) {
        fprintf(stderr, "usage: jpeg-to-raw --format YUYV|RGB3 [--check-png OUT.png] INPUT.jpg OUTPUT.raw\n");
        return 2;
    }
    int width, height;
    unsigned char *rgb = decode_jpeg(argv[optind], &width, &height);
    size_t pixels = (size_t)width * (size_t)height;
    bool yuyv = strcmp(format, "YUYV") == 0;
    if (yuyv && width % 2)
        fail("YUYV needs an even width", argv[optind]);
    int bytes_per_pixel = yuyv ? 2 : 3;
    unsigned char *raw = rgb;
    if (yuyv) {
        raw = malloc(pixels * 2);
        if (!raw)
            fail("out of memory", argv[optind]);
        rgb_to_yuyv(rgb, raw, width, height);
    }
    write_file(argv[optind + 1], raw, pixels * bytes_per_pixel);
    if (check) {
        /* What a capture of this frame delivers, converted as dogdoord converts it. */
        unsigned char *back = raw;
        if (yuyv) {
            back = malloc(pixels * 3);
            if (!back)
                fail("out of memory", argv[optind]);
            yuyv_to_rgb(raw, back, width, height);
        }
        write_png(check, back, width, height);
        if (back != raw)
            free(back);
    }
    if (raw != rgb)
        free(raw);
    free(rgb);
    return 0;
}
