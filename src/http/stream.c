/*
 * stream.c — streaming responses (server-sent events). A handler turns its request into a
 * stream with http_request_stream_begin; data written with http_request_stream_write is copied
 * into the connection's queue (capped at stream_queue_max) and written one lws_write per
 * WRITEABLE; the stream ends once, by the owner's http_request_stream_end or by the layer after
 * the close callback (client gone, cap passed, server stopping). The response has no
 * Content-Length: its end is the connection's close, after the queue was flushed.
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* ---------------------------------------------------------------- owner's side */

int http_request_stream_begin(struct http_request *req, int status, const char *content_type)
{
    if (!req)
        return HTTP_ERR_ARG;
    if (req->streaming)
        return HTTP_ERR_STATE;
    struct http_conn *conn = req->conn;
    if (!conn) {
        /* The client is gone, or the request timed out and was answered 503 for it. */
        http__request_free(req);
        return HTTP_ERR_CLOSED;
    }
    struct http_server *srv = req->srv;
    if (srv->stopping) { /* stopping ended the streams already: no new ones */
        http_request_respond_error(req, 503, "server is stopping");
        return HTTP_ERR_CLOSED;
    }
    struct http_response *resp = calloc(1, sizeof(*resp));
    if (!resp)
        goto nomem;
    resp->content_type = strdup(content_type ? content_type : "text/event-stream");
    if (!resp->content_type)
        goto nomem;
    /* Intermediaries and browsers must not cache or hold back an event stream. */
    if (!http__kv_get(&req->resp_headers, "cache-control", true) &&
        http__kv_add(&req->resp_headers, "Cache-Control", 13, "no-cache", 8) != 0)
        goto nomem;
    resp->status = status;
    resp->stream = true;
    buf_init(&resp->queue, srv->cfg.stream_queue_max);
    resp->headers = req->resp_headers;
    req->resp_headers = (struct http_kvlist){0};
    req->streaming = true;

    /* The connection keeps both: the request (to tell its owner when the connection goes)
     * and the stream's response (the queue). Streams are not bound by request_timeout_ms. */
    lws_sul_cancel(&conn->timeout_sul);
    lws_sul_cancel(&conn->body_sul);
    conn->send_continue = false;
    http__response_free(conn->resp);
    conn->resp = resp;
    atomic_fetch_add(&srv->stats.streams, 1);
    http__conn_writable(conn);
    http__conn_probe_start(conn);
    return 0;
nomem:
    http__response_free(resp);
    http_request_respond_error(req, 500, "out of memory");
    return HTTP_ERR_NOMEM;
}

/* Stops a stream taking data and has its connection closed without flushing (lws closes it
 * on its next service round): a client that does not read gets no more memory. */
static void stream_cut(struct http_request *req)
{
    struct http_response *resp = req->conn->resp;
    req->stream_closed = true;
    buf_cleanup(&resp->queue);
    resp->qoff = 0;
    lws_set_timeout(req->conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int http_request_stream_write(struct http_request *req, const void *data, size_t len)
{
    if (!req || (!data && len))
        return HTTP_ERR_ARG;
    if (!req->streaming)
        return HTTP_ERR_STATE;
    if (req->stream_closed || !req->conn)
        return HTTP_ERR_CLOSED;
    if (!len)
        return 0;
    struct http_response *resp = req->conn->resp;
    struct buf *q = &resp->queue;
    size_t max = req->srv->cfg.stream_queue_max;
    size_t pending = q->len - resp->qoff;
    if (len > max - pending) {
        stream_cut(req);
        return HTTP_ERR_FULL;
    }
    if (len > max - q->len) {
        /* Room only once the bytes already written are dropped from the front: move the
         * pending ones into a fresh buffer (at most once per stream_queue_max bytes). */
        struct buf fresh;
        buf_init(&fresh, max);
        if (buf_append(&fresh, q->data + resp->qoff, pending) != 0) {
            stream_cut(req);
            return HTTP_ERR_NOMEM;
        }
        buf_cleanup(q);
        *q = fresh;
        resp->qoff = 0;
    }
    if (buf_append(q, data, len) != 0) { /* out of memory: the queue is gone with it */
        stream_cut(req);
        return HTTP_ERR_NOMEM;
    }
    http__conn_writable(req->conn);
    return 0;
}

size_t http_request_stream_pending(const struct http_request *req)
{
    if (!req || !req->streaming || req->stream_closed || !req->conn)
        return 0;
    const struct http_response *resp = req->conn->resp;
    return resp->queue.len - resp->qoff;
}

void http_request_stream_end(struct http_request *req)
{
    if (!req)
        return;
    if (!req->streaming) {
        http_request_respond_error(req, 500, "handler ended a stream it never began");
        return;
    }
    if (req->in_close_cb)
        return;              /* the layer frees it when the callback returns */
    http__request_free(req); /* detaches it: the connection flushes, then closes */
}

void http_request_on_close(struct http_request *req, http_close_fn fn, void *arg)
{
    if (!req)
        return;
    req->close_fn = fn;
    req->close_arg = arg;
}

/* ---------------------------------------------------------------- layer's side */

void http__stream_detach(struct http_request *req)
{
    struct http_conn *conn = req->conn;
    if (!conn)
        return;
    req->conn = NULL;
    if (conn->req == req)
        conn->req = NULL;
    struct http_response *resp = conn->resp;
    if (!resp || !resp->stream)
        return;
    resp->ending = true;
    /* A cut stream is being killed already; an ended one gives its client a while to read
     * what is queued (lws closes the connection when that runs out). */
    if (!req->stream_closed)
        lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, HTTP__STREAM_LINGER_S);
    http__conn_writable(conn);
}

/* Runs the close callback (once) and frees the request after it. Without a callback the
 * request stays, closed, until its owner ends it. Not during http_server_free. */
static void stream_notify(struct http_request *req)
{
    http_close_fn fn = req->close_fn;
    if (!fn || req->srv->freeing)
        return;
    req->close_fn = NULL;
    req->in_close_cb = true;
    fn(req, req->close_arg);
    http__request_free(req);
}

void http__stream_conn_gone(struct http_request *req)
{
    req->stream_closed = true;
    stream_notify(req);
}

void http__streams_stop(struct http_server *srv)
{
    /* A callback may end (free) any stream, so start over from the list's head each time;
     * each round closes one stream for good. */
    for (;;) {
        struct http_request *r = srv->live;
        while (r && !(r->streaming && !r->stream_closed))
            r = r->next;
        if (!r)
            return;
        r->stream_closed = true;
        http__stream_detach(r); /* its connection flushes, then closes */
        stream_notify(r);
    }
}

/* Nothing to write on an open stream: pause its rx (server.c, "waiting clients") once lws
 * has flushed what it buffered of the last write. */
static void stream_idle(struct http_conn *conn, struct lws *wsi)
{
    if (lws_partial_buffered(wsi))
        lws_callback_on_writable(wsi); /* called again once flushed */
    else
        http__conn_pause(conn);
}

/* WRITEABLE of a stream: the headers first, then one piece of the queue per call; once the
 * stream ended and its queue is empty, wait for lws to flush, then close. */
int http__stream_writeable(struct http_conn *conn, struct lws *wsi)
{
    struct http_response *resp = conn->resp;
    size_t pending = resp->queue.len - resp->qoff;
    if (!resp->headers_sent) {
        if (http__write_headers(conn, resp))
            return -1;
        resp->headers_sent = true;
        /* From now on the stream needs no header table: release it to the pool, and so out
         * of lws's "excessive ah" check, which drops a connection holding one for minutes. */
        lws_http_headers_detach(wsi);
        if (pending || resp->ending)
            lws_callback_on_writable(wsi);
        else
            stream_idle(conn, wsi);
        return 0;
    }
    if (pending) {
        size_t n = pending > HTTP__CHUNK ? HTTP__CHUNK : pending;
        unsigned char *start = conn->srv->scratch + LWS_PRE;
        memcpy(start, resp->queue.data + resp->qoff, n);
        if (lws_write(wsi, start, n, LWS_WRITE_HTTP) != (int)n)
            return -1;
        resp->qoff += n;
        if (resp->qoff == resp->queue.len) {
            buf_reset(&resp->queue);
            resp->qoff = 0;
        }
        if (n < pending || resp->ending)
            lws_callback_on_writable(wsi);
        else
            stream_idle(conn, wsi);
        return 0;
    }
    if (resp->ending) {
        resp->flushing = true;
        lws_callback_on_writable(wsi);
    } else {
        stream_idle(conn, wsi);
    }
    return 0;
}
