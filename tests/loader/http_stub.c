/* http_stub: see http_stub.h. Paths: /orders.csv (200, text/csv), /export?format=csv (200,
 * text/csv, no extension), /redirect (302 to /orders.csv), /missing.csv (404), /big.csv
 * (Content-Length 8 MiB), /stream.csv (no length, 3 MiB of rows), /slow.csv (answers after 3 s). */
#include "http_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_stub {
    int fd, port;
    const char *csv;
    atomic_bool stop;
    pthread_t thread;
};

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void answer(struct http_stub *s, int c, const char *path)
{
    char head[512];
    if (strcmp(path, "/orders.csv") == 0 || strncmp(path, "/export?", 8) == 0) {
        int n = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: text/csv; charset=utf-8\r\n"
                                            "Content-Length: %zu\r\n\r\n", strlen(s->csv));
        send_all(c, head, (size_t)n);
        send_all(c, s->csv, strlen(s->csv));
    } else if (strcmp(path, "/redirect") == 0) {
        const char *r = "HTTP/1.0 302 Found\r\nLocation: /orders.csv\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (strcmp(path, "/big.csv") == 0) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 8388608\r\n\r\n";
        send_all(c, r, strlen(r));
    } else if (strcmp(path, "/stream.csv") == 0) {
        const char *r = "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\nconsultora_code,product_code,quantity\n";
        send_all(c, r, strlen(r));
        char line[64];
        int n = snprintf(line, sizeof line, "12345678,80901,1\n");
        for (int i = 0; i < (3 << 20) / n && !s->stop; i++)
            send_all(c, line, (size_t)n);
    } else if (strcmp(path, "/slow.csv") == 0) {
        for (int i = 0; i < 30 && !s->stop; i++)
            usleep(100 * 1000);
        const char *r = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        send_all(c, r, strlen(r));
    } else {
        const char *r = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found";
        send_all(c, r, strlen(r));
    }
}

static void *serve(void *arg)
{
    struct http_stub *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[2048];
        size_t n = 0;
        while (n + 1 < sizeof req) { // read the head; the request line is all we need
            ssize_t k = recv(c, req + n, sizeof req - 1 - n, 0);
            if (k <= 0)
                break;
            n += (size_t)k;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[n] = '\0';
        char path[512] = "";
        sscanf(req, "GET %511s", path);
        answer(s, c, path);
        close(c);
    }
    return NULL;
}

struct http_stub *http_stub_start(const char *csv_body)
{
    struct http_stub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->csv = csv_body;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        goto err;
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        goto err;
    return s;
err:
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return NULL;
}

int http_stub_port(const struct http_stub *s) { return s->port; }

void http_stub_stop(struct http_stub *s)
{
    if (s == NULL)
        return;
    s->stop = true;
    pthread_join(s->thread, NULL);
    close(s->fd);
    free(s);
}
