/* fuzz_net: the in-process server thread and the loopback exchanges of the HTTP fuzz targets
 * (see fuzz_net.h). */
#include "fuzz_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *serve(void *arg)
{
    struct http_server *srv = arg;
    if (http_server_run(srv) != 0) {
        fprintf(stderr, "fuzz_net: the server stopped: %s\n", http_server_errmsg(srv));
        abort();
    }
    return NULL;
}

int fuzz_net_start(struct http_server *srv, void (*before_run)(int port, void *arg), void *arg)
{
    if (http_server_start(srv) != 0) {
        fprintf(stderr, "fuzz_net: cannot start the server: %s\n", http_server_errmsg(srv));
        abort();
    }
    if (before_run != NULL)
        before_run(http_server_port(srv), arg);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, srv) != 0) {
        fprintf(stderr, "fuzz_net: cannot start the service thread\n");
        abort();
    }
    pthread_detach(t);
    return http_server_port(srv);
}

static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

/* One non-blocking read; keeps what fits of it in out after the `got` bytes already there.
 * Returns the bytes read, 0 at the end of the stream or on an error, -1 when nothing is there yet. */
static long read_some(int fd, char *out, size_t outn, long got)
{
    char b[4096];
    ssize_t r;
    while ((r = recv(fd, b, sizeof b, 0)) < 0 && errno == EINTR) {
    }
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
    if (r > 0 && out != NULL && (size_t)got + 1 < outn) {
        size_t keep = (size_t)r < outn - 1 - (size_t)got ? (size_t)r : outn - 1 - (size_t)got;
        memcpy(out + got, b, keep);
        out[(size_t)got + keep] = '\0';
    }
    return (long)r;
}

long fuzz_net_exchange(int port, const void *req, size_t len, char *out, size_t outn, int deadline_ms)
{
    return fuzz_net_exchange_pieces(port, req, len, NULL, 0, out, outn, deadline_ms);
}

long fuzz_net_exchange_pieces(int port, const void *req, size_t len, const size_t *cuts, size_t ncuts, char *out,
                              size_t outn, int deadline_ms)
{
    long long deadline = now_ms() + deadline_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    // Non-blocking from here: a server that stops reading (a refused request, a held one) must
    // not hang the fuzzer; what it did not read is simply not sent.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    const char *p = req;
    size_t done = 0, cut = 0;
    long got = 0;
    if (out != NULL && outn > 0)
        out[0] = '\0';
    while (done < len) {
        size_t end = len;
        while (cut < ncuts && cuts[cut] <= done)
            cut++;
        if (cut < ncuts && cuts[cut] < len)
            end = cuts[cut];
        ssize_t w = send(fd, p + done, end - done, MSG_NOSIGNAL);
        if (w > 0 && done + (size_t)w == end && end < len) {
            // A piece is out: let the server read it on its own before the next one, by waiting
            // for its answer to begin (at most a second: some requests are not answered at once).
            long long piece_end = now_ms() + 1000 < deadline ? now_ms() + 1000 : deadline;
            long r = wait_fd(fd, POLLIN, piece_end) > 0 ? read_some(fd, out, outn, got) : -1;
            if (r > 0)
                got += r;
        }
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT, deadline) > 0)
            continue;
        break; // closed by the server, or the deadline
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        long r = read_some(fd, out, outn, got);
        if (r > 0) {
            got += r;
            continue;
        }
        if (r < 0 && wait_fd(fd, POLLIN, deadline) > 0)
            continue;
        break; // closed, reset, or the deadline
    }
    close(fd);
    return got;
}

int fuzz_net_wait_idle(const struct http_server *srv, int deadline_ms)
{
    long long deadline = now_ms() + deadline_ms;
    for (;;) {
        struct http_stats st;
        http_server_stats(srv, &st);
        if (st.connections == 0)
            return 0;
        if (now_ms() > deadline)
            return -1;
        struct timespec ts = {0, 200000}; // 0.2 ms
        nanosleep(&ts, NULL);
    }
}

void fuzz_net_die_not_idle(int port, const char *target)
{
    static const char probe[] = "GET /no-such-page HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";
    char answer[64];
    long got = fuzz_net_exchange(port, probe, sizeof probe - 1, answer, sizeof answer, 5000);
    if (got <= 0 || strncmp(answer, "HTTP/1.1 ", 9) != 0)
        fprintf(stderr,
                "%s: the server no longer answers anyone (a fresh request got no answer in 5 s): its service thread "
                "is stuck since this input\n",
                target);
    else
        fprintf(stderr, "%s: the server still holds the input's connection %d s after the client closed it\n", target,
                FUZZ_NET_IDLE_MS / 1000);
    abort();
}
