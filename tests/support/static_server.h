/*
 * static_server.h - a loopback static file server for tests and benchmarks:
 * serves one directory over HTTP on 127.0.0.1 (or another loopback address)
 * at a kernel-chosen port, from its own thread (its own libwebsockets
 * context), so a test can drive a browser synchronously from the main thread
 * while pages are served.
 */
#ifndef GSPBOT_TEST_STATIC_SERVER_H
#define GSPBOT_TEST_STATIC_SERVER_H

struct static_server;

/* Starts serving root (borrowed; must outlive the server) at
 * http://127.0.0.1:PORT/. Returns NULL on failure. Caller frees with
 * static_server_stop. */
struct static_server *static_server_start(const char *root);

/* Same, listening on address (borrowed for the call) instead: another loopback address such as
 * "127.0.0.2" is another site for a browser (cross-origin iframes run in their own process). */
struct static_server *static_server_start_on(const char *root, const char *address);

/* The port the server listens on. */
int static_server_port(const struct static_server *s);

/* Stops the thread, closes the socket, frees s. NULL is a no-op. */
void static_server_stop(struct static_server *s);

#endif
