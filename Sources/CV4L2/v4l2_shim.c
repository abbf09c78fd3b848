#include "dd_v4l2.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

_Static_assert(sizeof(struct v4l2_buffer) > 0, "videodev2.h usable");

static int xioctl(int fd, unsigned long request, void *arg) {
    int r;
    do { r = ioctl(fd, request, arg); } while (r == -1 && errno == EINTR);
    return r == -1 ? -errno : r;
}

static void copy_string(char *dst, size_t size, const unsigned char *src, size_t srcSize) {
    size_t n = strnlen((const char *)src, srcSize);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

int dd_v4l2_open(const char *path) {
    int fd;
    do { fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC); } while (fd == -1 && errno == EINTR);
    return fd == -1 ? -errno : fd;
}

int dd_v4l2_close(int fd) { return close(fd) == -1 ? -errno : 0; }

int dd_v4l2_query_capability(int fd, dd_v4l2_capability *out) {
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    int r = xioctl(fd, VIDIOC_QUERYCAP, &cap);
    if (r < 0) return r;
    copy_string(out->driver, sizeof out->driver, cap.driver, sizeof cap.driver);
    copy_string(out->card, sizeof out->card, cap.card, sizeof cap.card);
    copy_string(out->bus, sizeof out->bus, cap.bus_info, sizeof cap.bus_info);
    uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
    out->capabilities = caps;
    out->canCapture = (caps & V4L2_CAP_VIDEO_CAPTURE) != 0;
    out->canStream = (caps & V4L2_CAP_STREAMING) != 0;
    return 0;
}

int dd_v4l2_enum_format(int fd, uint32_t index, uint32_t *pixelformat, char description[32]) {
    struct v4l2_fmtdesc d;
    memset(&d, 0, sizeof d);
    d.index = index;
    d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    int r = xioctl(fd, VIDIOC_ENUM_FMT, &d);
    if (r < 0) return r;
    *pixelformat = d.pixelformat;
    copy_string(description, 32, d.description, sizeof d.description);
    return 0;
}

int dd_v4l2_enum_size(int fd, uint32_t pixelformat, uint32_t index, uint32_t *width, uint32_t *height, int *stepwise) {
    struct v4l2_frmsizeenum s;
    memset(&s, 0, sizeof s);
    s.index = index;
    s.pixel_format = pixelformat;
    int r = xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &s);
    if (r < 0) return r;
    if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
        *width = s.discrete.width;
        *height = s.discrete.height;
        *stepwise = 0;
    } else {
        *width = s.stepwise.max_width;
        *height = s.stepwise.max_height;
        *stepwise = 1;
    }
    return 0;
}

int dd_v4l2_set_format(int fd, dd_v4l2_format *format) {
    struct v4l2_format f;
    memset(&f, 0, sizeof f);
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    f.fmt.pix.width = format->width;
    f.fmt.pix.height = format->height;
    f.fmt.pix.pixelformat = format->pixelformat;
    f.fmt.pix.field = V4L2_FIELD_NONE;
    int r = xioctl(fd, VIDIOC_S_FMT, &f);
    if (r < 0) return r;
    format->pixelformat = f.fmt.pix.pixelformat;
    format->width = f.fmt.pix.width;
    format->height = f.fmt.pix.height;
    format->bytesperline = f.fmt.pix.bytesperline;
    format->sizeimage = f.fmt.pix.sizeimage;
    return 0;
}

int dd_v4l2_set_frame_interval(int fd, uint32_t *numerator, uint32_t *denominator) {
    struct v4l2_streamparm p;
    memset(&p, 0, sizeof p);
    p.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    int r = xioctl(fd, VIDIOC_G_PARM, &p);
    if (r < 0) return r;
    if (!(p.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
        *numerator = 0;
        *denominator = 0;
        return 0;
    }
    p.parm.capture.timeperframe.numerator = *numerator;
    p.parm.capture.timeperframe.denominator = *denominator;
    r = xioctl(fd, VIDIOC_S_PARM, &p);
    if (r < 0) return r;
    *numerator = p.parm.capture.timeperframe.numerator;
    *denominator = p.parm.capture.timeperframe.denominator;
    return 0;
}

int dd_v4l2_request_buffers(int fd, uint32_t count) {
    struct v4l2_requestbuffers req;
    memset(&req, 0, sizeof req);
    req.count = count;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    int r = xioctl(fd, VIDIOC_REQBUFS, &req);
    return r < 0 ? r : (int)req.count;
}

int dd_v4l2_query_buffer(int fd, uint32_t index, uint32_t *offset, uint32_t *length) {
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    int r = xioctl(fd, VIDIOC_QUERYBUF, &b);
    if (r < 0) return r;
    *offset = b.m.offset;
    *length = b.length;
    return 0;
}

void *dd_v4l2_map(int fd, uint32_t offset, uint32_t length) {
    void *p = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
    return p == MAP_FAILED ? NULL : p;
}

int dd_v4l2_unmap(void *address, uint32_t length) { return munmap(address, length) == -1 ? -errno : 0; }

int dd_v4l2_queue(int fd, uint32_t index) {
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    return xioctl(fd, VIDIOC_QBUF, &b);
}

int dd_v4l2_dequeue(int fd, dd_v4l2_buffer *out) {
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    int r = xioctl(fd, VIDIOC_DQBUF, &b);
    if (r < 0) return r;
    out->index = b.index;
    out->bytesused = b.bytesused;
    out->flags = b.flags;
    out->sequence = b.sequence;
    return 0;
}

int dd_v4l2_stream(int fd, int on) {
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return xioctl(fd, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type);
}

int dd_v4l2_wait(int fd, int timeoutMilliseconds) {
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLPRI};
    int r;
    do { r = poll(&p, 1, timeoutMilliseconds); } while (r == -1 && errno == EINTR);
    if (r < 0) return -errno;
    if (r == 0) return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return -EIO;
    return 1;
}

uint32_t dd_v4l2_fourcc(char a, char b, char c, char d) { return v4l2_fourcc(a, b, c, d); }

int dd_v4l2_device_number(int fd, unsigned int *major_number, unsigned int *minor_number) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -errno;
    if (!S_ISCHR(st.st_mode)) return -ENOTTY;
    *major_number = major(st.st_rdev);
    *minor_number = minor(st.st_rdev);
    return 0;
}
