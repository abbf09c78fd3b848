#ifndef DD_V4L2_H
#define DD_V4L2_H

/// Thin typed shim over the Video4Linux2 capture ioctls DogDoor uses. The VIDIOC_* request codes are
/// function-like macros Swift cannot import, and ioctl is variadic, so every call lives here.
/// All functions return 0 (or a count) on success and -errno on failure; EINTR is retried.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char driver[16];
    char card[32];
    char bus[32];
    uint32_t capabilities;  // device_caps when set, else capabilities
    int canCapture;         // V4L2_CAP_VIDEO_CAPTURE
    int canStream;          // V4L2_CAP_STREAMING
} dd_v4l2_capability;

typedef struct {
    uint32_t pixelformat;
    uint32_t width;
    uint32_t height;
    uint32_t bytesperline;
    uint32_t sizeimage;
} dd_v4l2_format;

typedef struct {
    uint32_t index;
    uint32_t bytesused;
    uint32_t flags;
    uint32_t sequence;
} dd_v4l2_buffer;

/// The character device number of an open device node (to find it in /sys/dev/char/MAJOR:MINOR).
/// Returns 0 or -errno. The corresponding C calls are `fstat` and `major`/`minor`.
int dd_v4l2_device_number(int fd, unsigned int *major_number, unsigned int *minor_number);

/// Opens a device node non-blocking, close-on-exec. Returns the descriptor or -errno.
int dd_v4l2_open(const char *path);
int dd_v4l2_close(int fd);

/// VIDIOC_QUERYCAP.
int dd_v4l2_query_capability(int fd, dd_v4l2_capability *out);

/// VIDIOC_ENUM_FMT for capture: the `index`th pixel format and its description. -EINVAL past the end.
int dd_v4l2_enum_format(int fd, uint32_t index, uint32_t *pixelformat, char description[32]);

/// VIDIOC_ENUM_FRAMESIZES: discrete sizes (`stepwise` = 0) or the stepwise maximum (`stepwise` = 1).
int dd_v4l2_enum_size(int fd, uint32_t pixelformat, uint32_t index, uint32_t *width, uint32_t *height, int *stepwise);

/// VIDIOC_S_FMT (progressive capture); `format` is updated with what the driver granted.
int dd_v4l2_set_format(int fd, dd_v4l2_format *format);

/// VIDIOC_S_PARM: requests `numerator/denominator` seconds per frame; writes back what was granted
/// (0/0 if the driver does not support setting it).
int dd_v4l2_set_frame_interval(int fd, uint32_t *numerator, uint32_t *denominator);

/// VIDIOC_REQBUFS with memory-mapped buffers; returns the number granted (0 frees them).
int dd_v4l2_request_buffers(int fd, uint32_t count);

/// VIDIOC_QUERYBUF: the mmap offset and length of buffer `index`.
int dd_v4l2_query_buffer(int fd, uint32_t index, uint32_t *offset, uint32_t *length);

/// Maps a buffer (PROT_READ, MAP_SHARED). Returns NULL on failure (errno set).
void *dd_v4l2_map(int fd, uint32_t offset, uint32_t length);
int dd_v4l2_unmap(void *address, uint32_t length);

/// VIDIOC_QBUF of buffer `index`.
int dd_v4l2_queue(int fd, uint32_t index);

/// VIDIOC_DQBUF; -EAGAIN when no buffer is ready.
int dd_v4l2_dequeue(int fd, dd_v4l2_buffer *out);

/// VIDIOC_STREAMON / VIDIOC_STREAMOFF.
int dd_v4l2_stream(int fd, int on);

/// poll() for readability: 1 ready, 0 timeout, -errno; -ENODEV style errors come back as POLLERR -> -EIO.
int dd_v4l2_wait(int fd, int timeoutMilliseconds);

/// The fourcc code of four characters.
uint32_t dd_v4l2_fourcc(char a, char b, char c, char d);

#ifdef __cplusplus
}
#endif
#endif
