#ifndef DD_SYSTEM_H
#define DD_SYSTEM_H
/// GNU-only system calls that Swift's Glibc module does not import (they need _GNU_SOURCE), behind
/// prefixed functions, in the manner of swift-nio's CNIOLinux.
///
/// The shims' one error convention (every Sources/C*/include header): a function returns a non-negative
/// value on success (0, or the count or file descriptor it documents) and a negative errno on failure; the
/// reason is never left in errno alone. (Functions that return a pointer return NULL and describe the failure
/// in a status the caller passes: the codecs and libgpiod, whose failures errno cannot describe.)

#include <pthread.h>

/// Names the thread (at most 15 bytes are kept): 0 or -errno. The corresponding C function is `pthread_setname_np`.
int dd_sys_set_thread_name(pthread_t thread, const char *name);

/// Accepts a connection as a non-blocking, close-on-exec socket: the descriptor or -errno. The
/// corresponding C function is `accept4`.
int dd_sys_accept_nonblocking(int listener);

/// A pipe whose ends are non-blocking and close-on-exec: 0 or -errno. The corresponding C function is `pipe2`.
int dd_sys_pipe_nonblocking(int fds[2]);

/// An anonymous in-memory file, close-on-exec: the descriptor or -errno. The corresponding C function is
/// `memfd_create`.
int dd_sys_memfd(const char *name);

#endif
