#ifndef DD_SYSTEM_H
#define DD_SYSTEM_H
/// GNU-only system calls that Swift's Glibc module does not import (they need _GNU_SOURCE), behind
/// prefixed functions, in the manner of swift-nio's CNIOLinux. Each returns what the C call returns and
/// leaves errno as it set it.

#include <pthread.h>

/// Names the thread (at most 15 bytes are kept). The corresponding C function is `pthread_setname_np`.
int dd_sys_set_thread_name(pthread_t thread, const char *name);

/// Accepts a connection as a non-blocking, close-on-exec socket. The corresponding C function is `accept4`.
int dd_sys_accept_nonblocking(int listener);

/// A pipe whose ends are non-blocking and close-on-exec. The corresponding C function is `pipe2`.
int dd_sys_pipe_nonblocking(int fds[2]);

/// An anonymous in-memory file, close-on-exec. The corresponding C function is `memfd_create`.
int dd_sys_memfd(const char *name);

#endif
