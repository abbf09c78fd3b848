/*
 * vivid-feed: plays raw frames into vivid's video output and loops them back to its video capture
 * device, so that a program capturing from /dev/videoN sees exactly those frames.
 *
 * vivid only loops an HDMI (or S-Video) output to an input of the same kind, with identical
 * resolution, pixel format and field order on both sides (Documentation/admin-guide/media/vivid.rst,
 * "Video, VBI and RDS Looping"). This program therefore:
 *   - selects the HDMI output and the HDMI input of one vivid instance,
 *   - picks the standard DV timings with the requested size (lowest frame rate if several) and
 *     sets them on both sides,
 *   - sets the pixel format and size on both sides (progressive, V4L2_FIELD_NONE),
 *   - turns on the capture device's "Loop Video" control and sets "OSD Text Mode" to "None", so
 *     that vivid draws no text over the looped frames,
 *   - streams the frames, in order and repeating, at the requested rate.
 * vivid keeps showing the most recent output buffer until a newer one is queued, so the capture
 * side always sees a whole frame from the files.
 *
 * Load vivid with an HDMI input and output, for example:
 *   modprobe vivid n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 \
 *                  num_outputs=1 output_types=0x1
 *
 * Built statically on the host (gcc -static) so the guest needs no libraries for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_COUNT 4

static const char *program = "vivid-feed";
static volatile sig_atomic_t stop_requested;

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: error: ", program);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

/* ioctl that retries on EINTR; returns 0 or -1 with errno set. */
static int xioctl(int fd, unsigned long request, void *argument)
{
    int result;
    do {
        result = ioctl(fd, request, argument);
    } while (result == -1 && errno == EINTR);
    return result;
}

static void checked_ioctl(int fd, const char *device, unsigned long request, const char *name,
                          void *argument)
{
    if (xioctl(fd, request, argument) == -1)
        fail("%s: %s failed: %s", device, name, strerror(errno));
}

#define IOCTL(fd, device, request, argument) checked_ioctl(fd, device, request, #request, argument)

static const char *fourcc_text(uint32_t fourcc)
{
    static char text[5];
    for (int i = 0; i < 4; i++)
        text[i] = (char)((fourcc >> (8 * i)) & 0xff);
    text[4] = '\0';
    return text;
}

/* ---------------------------------------------------------------------------------------------- */
/* Options                                                                                         */

struct options {
    unsigned width, height;
    uint32_t fourcc;
    double fps;
    unsigned long count;     /* 0: until a signal */
    const char *output;      /* NULL: find the vivid output node */
    const char *capture;     /* NULL: the capture node of the same vivid instance */
    const char *ready_file;  /* created once the first frame is queued */
    bool verbose;
    char **files;
    int file_count;
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] FRAMES...\n"
            "Loops raw frames into vivid's HDMI output and its capture device.\n"
            "Each FRAMES file holds one or more frames of exactly the driver's image size\n"
            "(e.g. 640*480*2 bytes for YUYV); they are played in order, repeating.\n"
            "\n"
            "  -s, --size WxH          frame size, must be a standard DV timing (default 640x480)\n"
            "  -f, --format FOURCC     pixel format, e.g. YUYV, RGB3, BGR3 (default YUYV)\n"
            "  -r, --fps RATE          frames written per second (default 5)\n"
            "  -n, --count N           stop after N frames (default: run until SIGTERM/SIGINT)\n"
            "  -o, --output DEVICE     vivid video output node (default: found by its caps)\n"
            "  -c, --capture DEVICE    vivid video capture node (default: same instance as output)\n"
            "  -R, --ready-file PATH   create PATH once frames are flowing\n"
            "  -v, --verbose           report every frame\n"
            "  -h, --help              show this help\n"
            "\n"
            "vivid needs an HDMI input and output, e.g.:\n"
            "  modprobe vivid n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 \\\n"
            "                 num_outputs=1 output_types=0x1\n"
            "Start vivid-feed before the program that captures: the capture side's DV timings\n"
            "and format can only be set while it is not streaming.\n",
            program);
}

static void parse_options(int argc, char **argv, struct options *options)
{
    static const struct option long_options[] = {
        {"size", required_argument, NULL, 's'},    {"format", required_argument, NULL, 'f'},
        {"fps", required_argument, NULL, 'r'},     {"count", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},  {"capture", required_argument, NULL, 'c'},
        {"ready-file", required_argument, NULL, 'R'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *options = (struct options){
        .width = 640, .height = 480, .fourcc = V4L2_PIX_FMT_YUYV, .fps = 5.0,
    };
    int option;
    while ((option = getopt_long(argc, argv, "s:f:r:n:o:c:R:vh", long_options, NULL)) != -1) {
        char *end = NULL;
        switch (option) {
        case 's':
            if (sscanf(optarg, "%ux%u", &options->width, &options->height) != 2 ||
                options->width == 0 || options->height == 0)
                fail("--size wants WIDTHxHEIGHT, got '%s'", optarg);
            break;
        case 'f': {
            size_t length = strlen(optarg);
            if (length == 0 || length > 4)
                fail("--format wants a four-character code such as YUYV, got '%s'", optarg);
            char code[4] = {' ', ' ', ' ', ' '};
            memcpy(code, optarg, length);
            options->fourcc = v4l2_fourcc(code[0], code[1], code[2], code[3]);
            break;
        }
        case 'r':
            options->fps = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(options->fps > 0.0) || options->fps > 1000.0)
                fail("--fps wants a rate between 0 and 1000, got '%s'", optarg);
            break;
        case 'n':
            errno = 0;
            options->count = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end != '\0' || options->count == 0)
                fail("--count wants a positive number, got '%s'", optarg);
            break;
        case 'o': options->output = optarg; break;
        case 'c': options->capture = optarg; break;
        case 'R': options->ready_file = optarg; break;
        case 'v': options->verbose = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        fail("no frame files given");
    }
    options->files = argv + optind;
    options->file_count = argc - optind;
}

/* ---------------------------------------------------------------------------------------------- */
/* Finding and configuring the devices                                                              */

struct node {
    char path[64];
    int fd;
};

static uint32_t node_caps(const struct v4l2_capability *caps)
{
    return (caps->capabilities & V4L2_CAP_DEVICE_CAPS) ? caps->device_caps : caps->capabilities;
}

static int open_node(const char *path)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd == -1)
        fail("cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* Checks that PATH is a vivid node with the wanted capability; returns its bus_info. */
static void check_node(const struct node *node, uint32_t wanted, const char *role, char *bus_info)
{
    struct v4l2_capability caps = {0};
    IOCTL(node->fd, node->path, VIDIOC_QUERYCAP, &caps);
    if (strcmp((const char *)caps.driver, "vivid") != 0)
        fail("%s is driven by '%s', not vivid", node->path, (const char *)caps.driver);
    if (!(node_caps(&caps) & wanted)) {
        const char *hint = (node_caps(&caps) & (V4L2_CAP_VIDEO_OUTPUT_MPLANE | V4L2_CAP_VIDEO_CAPTURE_MPLANE))
                               ? " (multiplanar; load vivid with multiplanar=1)"
                               : "";
        fail("%s is not a single-planar video %s node%s", node->path, role, hint);
    }
    memcpy(bus_info, caps.bus_info, sizeof caps.bus_info);
}

/* Finds the first vivid node with capability WANTED, on bus BUS_INFO if that is not empty. */
static bool find_node(uint32_t wanted, const char *bus_info, struct node *node)
{
    for (int index = 0; index < 64; index++) {
        char path[64];
        snprintf(path, sizeof path, "/dev/video%d", index);
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd == -1)
            continue;
        struct v4l2_capability caps = {0};
        if (xioctl(fd, VIDIOC_QUERYCAP, &caps) == 0 && strcmp((const char *)caps.driver, "vivid") == 0 &&
            (node_caps(&caps) & wanted) &&
            (bus_info[0] == '\0' || strcmp((const char *)caps.bus_info, bus_info) == 0)) {
            snprintf(node->path, sizeof node->path, "%s", path);
            node->fd = fd;
            return true;
        }
        close(fd);
    }
    return false;
}

static void select_hdmi_output(const struct node *node)
{
    for (struct v4l2_output output = {.index = 0}; xioctl(node->fd, VIDIOC_ENUMOUTPUT, &output) == 0;
         output.index++) {
        if (output.capabilities & V4L2_OUT_CAP_DV_TIMINGS) {
            IOCTL(node->fd, node->path, VIDIOC_S_OUTPUT, &output.index);
            return;
        }
    }
    fail("%s has no HDMI output; load vivid with num_outputs=1 output_types=0x1", node->path);
}

/* Selects the HDMI input; a node already streaming from it is left as it is. */
static void select_hdmi_input(const struct node *node)
{
    for (struct v4l2_input input = {.index = 0}; xioctl(node->fd, VIDIOC_ENUMINPUT, &input) == 0;
         input.index++) {
        if (input.capabilities & V4L2_IN_CAP_DV_TIMINGS) {
            if (xioctl(node->fd, VIDIOC_S_INPUT, &input.index) == -1) {
                unsigned current = 0;
                if (errno == EBUSY && xioctl(node->fd, VIDIOC_G_INPUT, &current) == 0 &&
                    current == input.index)
                    return; /* streaming already, from the right input */
                fail("%s: cannot select input %u (%s): %s", node->path, input.index,
                     (const char *)input.name, strerror(errno));
            }
            return;
        }
    }
    fail("%s has no HDMI input; load vivid with num_inputs=1 input_types=0x3", node->path);
}

static double timings_fps(const struct v4l2_bt_timings *bt)
{
    double total = (double)V4L2_DV_BT_FRAME_WIDTH(bt) * V4L2_DV_BT_FRAME_HEIGHT(bt);
    return total > 0 ? (double)bt->pixelclock / total : 0.0;
}

/* The progressive standard timings of WIDTHxHEIGHT with the lowest frame rate. */
static struct v4l2_dv_timings find_timings(const struct node *node, unsigned width, unsigned height)
{
    struct v4l2_dv_timings best = {0};
    double best_fps = 0.0;
    for (struct v4l2_enum_dv_timings entry = {.index = 0};
         xioctl(node->fd, VIDIOC_ENUM_DV_TIMINGS, &entry) == 0; entry.index++) {
        const struct v4l2_bt_timings *bt = &entry.timings.bt;
        if (bt->width != width || bt->height != height || bt->interlaced)
            continue;
        double fps = timings_fps(bt);
        if (best_fps == 0.0 || fps < best_fps) {
            best = entry.timings;
            best_fps = fps;
        }
    }
    if (best_fps == 0.0)
        fail("vivid knows no progressive DV timings of %ux%u; use a standard size such as 640x480, "
             "800x600, 1024x768 or 1280x720", width, height);
    return best;
}

static bool same_timings(const struct v4l2_dv_timings *a, const struct v4l2_dv_timings *b)
{
    return a->bt.width == b->bt.width && a->bt.height == b->bt.height &&
           a->bt.interlaced == b->bt.interlaced && a->bt.pixelclock == b->bt.pixelclock &&
           V4L2_DV_BT_FRAME_WIDTH(&a->bt) == V4L2_DV_BT_FRAME_WIDTH(&b->bt) &&
           V4L2_DV_BT_FRAME_HEIGHT(&a->bt) == V4L2_DV_BT_FRAME_HEIGHT(&b->bt);
}

/* Sets TIMINGS; a capture node that is already streaming may keep identical ones. */
static void set_timings(const struct node *node, struct v4l2_dv_timings timings)
{
    struct v4l2_dv_timings requested = timings;
    if (xioctl(node->fd, VIDIOC_S_DV_TIMINGS, &timings) == 0)
        return;
    if (errno == EBUSY) {
        struct v4l2_dv_timings current = {0};
        if (xioctl(node->fd, VIDIOC_G_DV_TIMINGS, &current) == 0 && same_timings(&current, &requested))
            return;
        fail("%s is streaming with other DV timings; start vivid-feed before the capturing program",
             node->path);
    }
    fail("%s: VIDIOC_S_DV_TIMINGS %ux%u failed: %s", node->path, requested.bt.width,
         requested.bt.height, strerror(errno));
}

/* Sets the format on a node; returns what the driver settled on. */
static struct v4l2_pix_format set_format(const struct node *node, enum v4l2_buf_type type,
                                         const struct options *options)
{
    struct v4l2_format format = {.type = type};
    format.fmt.pix.width = options->width;
    format.fmt.pix.height = options->height;
    format.fmt.pix.pixelformat = options->fourcc;
    format.fmt.pix.field = V4L2_FIELD_NONE;
    if (xioctl(node->fd, VIDIOC_S_FMT, &format) == -1) {
        if (errno != EBUSY)
            fail("%s: VIDIOC_S_FMT failed: %s", node->path, strerror(errno));
        /* Streaming already: accept the current format if it is the one we want. */
        IOCTL(node->fd, node->path, VIDIOC_G_FMT, &format);
    }
    const struct v4l2_pix_format *pix = &format.fmt.pix;
    if (pix->width != options->width || pix->height != options->height ||
        pix->pixelformat != options->fourcc || pix->field != V4L2_FIELD_NONE) {
        char wanted[5];
        memcpy(wanted, fourcc_text(options->fourcc), sizeof wanted);
        fail("%s: wanted %ux%u %s progressive, the driver has %ux%u %s field %u%s", node->path,
             options->width, options->height, wanted, pix->width, pix->height,
             fourcc_text(pix->pixelformat), pix->field,
             type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? " (is another program streaming from it?)" : "");
    }
    return format.fmt.pix;
}

/* Finds a control of the capture node by its name; returns false if there is none. */
static bool find_control(const struct node *node, const char *name, struct v4l2_query_ext_ctrl *found)
{
    struct v4l2_query_ext_ctrl query = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
    while (xioctl(node->fd, VIDIOC_QUERY_EXT_CTRL, &query) == 0) {
        if (strcmp(query.name, name) == 0) {
            *found = query;
            return true;
        }
        query.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
    }
    return false;
}

static void set_control(const struct node *node, const char *name, int32_t value)
{
    struct v4l2_query_ext_ctrl query;
    if (!find_control(node, name, &query))
        fail("%s has no '%s' control; is it a vivid capture node?", node->path, name);
    struct v4l2_control control = {.id = query.id, .value = value};
    if (xioctl(node->fd, VIDIOC_S_CTRL, &control) == -1)
        fail("%s: setting '%s' to %d failed: %s", node->path, name, value, strerror(errno));
}

/* Index of the menu item called ITEM of control NAME. */
static int32_t menu_index(const struct node *node, const char *name, const char *item)
{
    struct v4l2_query_ext_ctrl query;
    if (!find_control(node, name, &query) || query.type != V4L2_CTRL_TYPE_MENU)
        fail("%s has no '%s' menu control", node->path, name);
    for (int64_t index = query.minimum; index <= query.maximum; index++) {
        struct v4l2_querymenu menu = {.id = query.id, .index = (uint32_t)index};
        if (xioctl(node->fd, VIDIOC_QUERYMENU, &menu) == 0 && strcmp((const char *)menu.name, item) == 0)
            return (int32_t)index;
    }
    fail("%s: control '%s' has no item '%s'", node->path, name, item);
}

/* ---------------------------------------------------------------------------------------------- */
/* Frames and streaming                                                                            */

struct frames {
    unsigned char **data;
    size_t count;
};

static void load_frames(const struct options *options, size_t frame_size, struct frames *frames)
{
    *frames = (struct frames){0};
    for (int index = 0; index < options->file_count; index++) {
        const char *path = options->files[index];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1)
            fail("cannot open %s: %s", path, strerror(errno));
        struct stat status;
        if (fstat(fd, &status) == -1)
            fail("cannot stat %s: %s", path, strerror(errno));
        if (status.st_size == 0 || (size_t)status.st_size % frame_size != 0)
            fail("%s is %lld bytes, not a whole number of %zu-byte frames (%ux%u %s)", path,
                 (long long)status.st_size, frame_size, options->width, options->height,
                 fourcc_text(options->fourcc));
        size_t in_file = (size_t)status.st_size / frame_size;
        frames->data = realloc(frames->data, (frames->count + in_file) * sizeof *frames->data);
        if (!frames->data)
            fail("out of memory for %zu frames", frames->count + in_file);
        for (size_t frame = 0; frame < in_file; frame++) {
            unsigned char *bytes = malloc(frame_size);
            if (!bytes)
                fail("out of memory for %s", path);
            for (size_t done = 0; done < frame_size;) {
                ssize_t got = read(fd, bytes + done, frame_size - done);
                if (got == -1 && errno == EINTR)
                    continue;
                if (got <= 0)
                    fail("reading %s failed: %s", path, got == 0 ? "unexpected end" : strerror(errno));
                done += (size_t)got;
            }
            frames->data[frames->count++] = bytes;
        }
        close(fd);
    }
}

struct buffer {
    void *start;
    size_t length;
    bool queued;
};

static void on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    /* No SA_RESTART: a signal must cut the sleep short. */
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

static double seconds(const struct timespec *time)
{
    return (double)time->tv_sec + (double)time->tv_nsec / 1e9;
}

static void add_seconds(struct timespec *time, double delta)
{
    double whole = (double)(long long)delta;
    time->tv_sec += (time_t)whole;
    time->tv_nsec += (long)((delta - whole) * 1e9);
    while (time->tv_nsec >= 1000000000L) {
        time->tv_nsec -= 1000000000L;
        time->tv_sec++;
    }
}

/* Takes back every buffer the driver has finished with. */
static void reclaim_buffers(const struct node *output, struct buffer *buffers)
{
    for (;;) {
        struct v4l2_buffer buffer = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
        if (xioctl(output->fd, VIDIOC_DQBUF, &buffer) == -1) {
            if (errno == EAGAIN)
                return;
            fail("%s: VIDIOC_DQBUF failed: %s", output->path, strerror(errno));
        }
        buffers[buffer.index].queued = false;
    }
}

/* A buffer the driver does not hold, waiting for one if need be; -1 if a signal came first. */
static int free_buffer(const struct node *output, struct buffer *buffers, bool streaming)
{
    for (int waited_ms = 0;;) {
        if (streaming) /* VIDIOC_DQBUF fails with EINVAL before VIDIOC_STREAMON */
            reclaim_buffers(output, buffers);
        for (int index = 0; index < BUFFER_COUNT; index++)
            if (!buffers[index].queued)
                return index;
        if (stop_requested)
            return -1;
        if (waited_ms >= 5000)
            fail("%s: the driver has held all %d buffers for 5 s", output->path, BUFFER_COUNT);
        struct pollfd poll_fd = {.fd = output->fd, .events = POLLOUT};
        if (poll(&poll_fd, 1, 100) == -1 && errno != EINTR)
            fail("%s: poll failed: %s", output->path, strerror(errno));
        waited_ms += 100;
    }
}

int main(int argc, char **argv)
{
    struct options options;
    parse_options(argc, argv, &options);

    struct node output = {.fd = -1}, capture = {.fd = -1};
    char output_bus[32] = "", capture_bus[32] = "";
    if (options.output) {
        snprintf(output.path, sizeof output.path, "%s", options.output);
        output.fd = open_node(output.path);
        check_node(&output, V4L2_CAP_VIDEO_OUTPUT, "output", output_bus);
    } else if (!find_node(V4L2_CAP_VIDEO_OUTPUT, "", &output)) {
        fail("no vivid video output node; load vivid with node_types including 0x100 "
             "(e.g. node_types=0x101)");
    } else {
        check_node(&output, V4L2_CAP_VIDEO_OUTPUT, "output", output_bus);
    }
    if (options.capture) {
        snprintf(capture.path, sizeof capture.path, "%s", options.capture);
        capture.fd = open_node(capture.path);
        check_node(&capture, V4L2_CAP_VIDEO_CAPTURE, "capture", capture_bus);
        if (strcmp(capture_bus, output_bus) != 0)
            fail("%s and %s belong to different vivid instances; vivid loops only within one",
                 capture.path, output.path);
    } else if (!find_node(V4L2_CAP_VIDEO_CAPTURE, output_bus, &capture)) {
        fail("no vivid video capture node on %s", output_bus);
    }

    select_hdmi_output(&output);
    select_hdmi_input(&capture);
    struct v4l2_dv_timings timings = find_timings(&output, options.width, options.height);
    set_timings(&output, timings);
    set_timings(&capture, timings);
    struct v4l2_pix_format output_format = set_format(&output, V4L2_BUF_TYPE_VIDEO_OUTPUT, &options);
    set_format(&capture, V4L2_BUF_TYPE_VIDEO_CAPTURE, &options);
    set_control(&capture, "OSD Text Mode", menu_index(&capture, "OSD Text Mode", "None"));
    set_control(&capture, "Loop Video", 1);

    struct frames frames;
    load_frames(&options, output_format.sizeimage, &frames);

    struct v4l2_requestbuffers request = {
        .count = BUFFER_COUNT, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP,
    };
    IOCTL(output.fd, output.path, VIDIOC_REQBUFS, &request);
    if (request.count != BUFFER_COUNT)
        fail("%s: asked for %d buffers, got %u", output.path, BUFFER_COUNT, request.count);
    struct buffer buffers[BUFFER_COUNT];
    for (unsigned index = 0; index < BUFFER_COUNT; index++) {
        struct v4l2_buffer buffer = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP,
                                     .index = index};
        IOCTL(output.fd, output.path, VIDIOC_QUERYBUF, &buffer);
        if (buffer.length < output_format.sizeimage)
            fail("%s: buffer %u holds %u bytes, a frame needs %u", output.path, index, buffer.length,
                 output_format.sizeimage);
        buffers[index].length = buffer.length;
        buffers[index].queued = false;
        buffers[index].start = mmap(NULL, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED, output.fd,
                                    buffer.m.offset);
        if (buffers[index].start == MAP_FAILED)
            fail("%s: mmap of buffer %u failed: %s", output.path, index, strerror(errno));
    }

    fprintf(stderr,
            "%s: %s -> %s: %ux%u %s, DV timings %ux%up%.2f (capture delivers that rate), "
            "%zu frame(s) at %.2f fps\n",
            program, output.path, capture.path, options.width, options.height,
            fourcc_text(options.fourcc), timings.bt.width, timings.bt.height, timings_fps(&timings.bt),
            frames.count, options.fps);

    install_signal_handlers();
    struct timespec started, deadline;
    clock_gettime(CLOCK_MONOTONIC, &started);
    deadline = started;
    double period = 1.0 / options.fps;
    unsigned long written = 0;
    bool streaming = false;
    while (!stop_requested && (options.count == 0 || written < options.count)) {
        int index = free_buffer(&output, buffers, streaming);
        if (index < 0)
            break;
        memcpy(buffers[index].start, frames.data[written % frames.count], output_format.sizeimage);
        struct v4l2_buffer buffer = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP,
                                     .index = (unsigned)index, .bytesused = output_format.sizeimage,
                                     .field = V4L2_FIELD_NONE};
        IOCTL(output.fd, output.path, VIDIOC_QBUF, &buffer);
        buffers[index].queued = true;
        if (options.verbose)
            fprintf(stderr, "%s: frame %lu (file frame %lu) in buffer %d\n", program, written,
                    written % frames.count, index);
        written++;
        if (!streaming) {
            int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
            IOCTL(output.fd, output.path, VIDIOC_STREAMON, &type);
            streaming = true;
            if (options.ready_file) {
                int fd = open(options.ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd == -1)
                    fail("cannot create %s: %s", options.ready_file, strerror(errno));
                close(fd);
            }
        }

        add_seconds(&deadline, period);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seconds(&now) - seconds(&deadline) > period)
            deadline = now; /* fell behind (slow guest): do not burst to catch up */
        while (!stop_requested &&
               clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {
        }
    }

    if (streaming) {
        int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
        IOCTL(output.fd, output.path, VIDIOC_STREAMOFF, &type);
    }
    struct timespec finished;
    clock_gettime(CLOCK_MONOTONIC, &finished);
    fprintf(stderr, "%s: wrote %lu frame(s) in %.2f s\n", program, written,
            seconds(&finished) - seconds(&started));
    return 0;
}
