/* fuzz_net: what the HTTP fuzz targets (fuzz_http, fuzz_upload) share — one gsphttp server
 * serviced on a thread of the fuzzing process, and one exchange per input over a real loopback
 * TCP connection, so that each input goes through libwebsockets' own request parsing and then
 * through ours (headers, routing, authorizer, bodies, uploads) exactly as a client's would.
 *
 * An exchange writes the input, half-closes the connection (end of input: no waiting for a
 * timeout on an incomplete request) and reads until the server closes. Then the target waits
 * until the server holds no connection, so that the work an input caused is finished — and
 * counted for that input's coverage — before the next one starts. */
#ifndef GSPBOT_FUZZ_NET_H
#define GSPBOT_FUZZ_NET_H

#include <stddef.h>

#include "http.h"

/* Starts `srv` (configured, routes registered; borrowed for the life of the process) and
 * services it on a new thread; `before_run(port, arg)` (may be NULL) runs once it listens and
 * before it is serviced. Returns its port; aborts the process when it cannot start. */
int fuzz_net_start(struct http_server *srv, void (*before_run)(int port, void *arg), void *arg);

/* One connection to 127.0.0.1:port: writes `len` bytes of `req` (a server that closes early is
 * not an error), half-closes, reads until the server closes or `deadline_ms` passed. Keeps the
 * first outn - 1 bytes of the answer in `out` (NUL-terminated; out may be NULL). Returns the
 * bytes read, or -1 when it could not connect. */
long fuzz_net_exchange(int port, const void *req, size_t len, char *out, size_t outn, int deadline_ms);

/* The same, writing `req` in pieces that end at the ascending offsets cuts[0..ncuts-1], with a
 * short pause after each, so that the server reads them apart (one request per read). */
long fuzz_net_exchange_pieces(int port, const void *req, size_t len, const size_t *cuts, size_t ncuts, char *out,
                              size_t outn, int deadline_ms);

/* How long a target waits for the server to let go of an input's connections before it calls
 * that a hang: generous, since long runs are niced and share the machine (a starved process
 * may not run for seconds), while every legitimate close here takes milliseconds. */
#define FUZZ_NET_IDLE_MS 10000

/* Waits until `srv` holds no client connection, at most deadline_ms. Returns 0, or -1 when
 * connections remain. */
int fuzz_net_wait_idle(const struct http_server *srv, int deadline_ms);

/* After fuzz_net_wait_idle(FUZZ_NET_IDLE_MS) failed: aborts with what is wrong — the server no
 * longer answers a fresh request (its service thread is stuck), or it only held on to the
 * input's connection.
 * `target` names the fuzz target in the message. */
void fuzz_net_die_not_idle(int port, const char *target) __attribute__((noreturn));

#endif
