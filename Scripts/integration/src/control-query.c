/*
 * control-query: sends one request line to dogdoord's control socket and prints the answer line.
 *
 *   control-query SOCKET '{"command":"status"}'
 *
 * What `dogdoor status --json` does, for scenarios that poll: under TCG, starting the Swift `dogdoor`
 * (its Swift runtime and OpenBLAS libraries, and the restart that picks OpenBLAS's kernel) costs about
 * half a second of the one vCPU that the daemon needs for its frames, while this static program costs
 * next to nothing. Exit status 0 when a line came back, 1 otherwise (the reason on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what)
{
    fprintf(stderr, "control-query: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: control-query SOCKET REQUEST-JSON\n");
        return 2;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof address.sun_path) {
        fprintf(stderr, "control-query: socket path too long\n");
        return 2;
    }
    strcpy(address.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return fail("socket");
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == -1)
        return fail(argv[1]);
    char request[4096];
    int length = snprintf(request, sizeof request, "%s\n", argv[2]);
    if (length < 0 || (size_t)length >= sizeof request) {
        fprintf(stderr, "control-query: request too long\n");
        return 2;
    }
    for (int sent = 0; sent < length;) {
        ssize_t n = write(fd, request + sent, (size_t)(length - sent));
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail("write");
        sent += (int)n;
    }
    /* The answer is one line; 15 s at most, as dogdoor waits. */
    static char answer[65536];
    size_t used = 0;
    while (used < sizeof answer - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, 15000);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready == 0) {
            fprintf(stderr, "control-query: no answer within 15 s\n");
            return 1;
        }
        if (ready == -1)
            return fail("poll");
        ssize_t n = read(fd, answer + used, sizeof answer - 1 - used);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return fail("read");
        if (n == 0)
            break;
        used += (size_t)n;
        if (memchr(answer, '\n', used))
            break;
    }
    close(fd);
    char *end = memchr(answer, '\n', used);
    if (!end) {
        fprintf(stderr, "control-query: the answer is not a complete line\n");
        return 1;
    }
    fwrite(answer, 1, (size_t)(end - answer) + 1, stdout);
    return 0;
}
