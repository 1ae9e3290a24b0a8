/* http_stub: a tiny HTTP/1.0 server on 127.0.0.1 (an ephemeral port) in a thread, for the loader's
 * URL tests. One connection at a time; each path gives one canned answer (see http_stub.c). */
#ifndef LOADER_TEST_HTTP_STUB_H
#define LOADER_TEST_HTTP_STUB_H

struct http_stub;

/* Starts the server; `csv_body` (borrowed for the server's life) is what /orders.csv returns.
 * Returns NULL on failure. */
struct http_stub *http_stub_start(const char *csv_body);
/* The port it listens on. */
int http_stub_port(const struct http_stub *s);
/* Stops the thread and frees the server. NULL is a no-op. */
void http_stub_stop(struct http_stub *s);

#endif
