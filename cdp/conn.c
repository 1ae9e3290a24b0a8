/*
 * conn.c - the CDP connection: one libwebsockets client context per browser,
 * owned by the calling thread. Outgoing messages are queued whole and written
 * one lws_write per WRITEABLE callback (Chromium rejects fragmented input);
 * incoming fragments are reassembled until lws_is_final_fragment. There is at
 * most one synchronous call in flight: cdp__call queues it and pumps
 * lws_service until its reply, its deadline (an lws_sul timer, because
 * lws_service's timeout argument is ignored in 4.1) or the browser's death.
 * Replies to ids nobody waits for (timed-out or fire-and-forget calls) are
 * dropped; events go to session.c. Once gone, every call fails at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cdp_internal.h"

#define CHILD_CHECK_US (200 * 1000) /* us between checks that Chromium lives */

static void conn_enqueue(struct cdp_browser *b, const char *json, size_t len, bool *ok)
{
    struct cdp__out *o = malloc(sizeof(*o) + LWS_PRE + len);
    if (!o) {
        *ok = false;
        return;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, json, len);
    if (b->out_tail)
        b->out_tail->next = o;
    else
        b->out_head = o;
    b->out_tail = o;
    if (b->wsi)
        lws_callback_on_writable(b->wsi);
    *ok = true;
}

static void conn_queue_free(struct cdp_browser *b)
{
    while (b->out_head) {
        struct cdp__out *n = b->out_head->next;
        free(b->out_head);
        b->out_head = n;
    }
    b->out_tail = NULL;
}

void cdp__conn_gone(struct cdp_browser *b, const char *why)
{
    if (b->gone)
        return;
    b->gone = true;
    snprintf(b->gone_why, sizeof(b->gone_why), "%s", why);
}

static int on_writeable(struct cdp_browser *b, struct lws *wsi)
{
    struct cdp__out *o = b->out_head;
    if (!o)
        return 0;
    b->out_head = o->next;
    if (!b->out_head)
        b->out_tail = NULL;
    int n = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
    free(o);
    if (n < 0) {
        cdp__conn_gone(b, "websocket write failed");
        return -1;
    }
    if (b->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_message(struct cdp_browser *b, const char *buf, size_t len)
{
    cJSON *msg = cJSON_ParseWithLength(buf, len);
    if (!msg)
        return; /* not JSON: Chromium never sends that; ignore rather than die */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (cJSON_IsNumber(id)) {
        if (b->wait_id && (uint32_t)id->valuedouble == b->wait_id && !b->wait_reply) {
            b->wait_reply = msg;
            return;
        }
        cJSON_Delete(msg);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(msg, "method"))
        cdp__dispatch_event(b, msg);
    cJSON_Delete(msg);
}

#define IN_KEEP_MAX (4u << 20) /* bytes: a larger reassembly buffer is given back after its message */

static int on_receive(struct cdp_browser *b, struct lws *wsi, const void *in, size_t len)
{
    int rc = buf_append(&b->in, in, len);
    if (rc) { /* the buffer is empty again (buf frees on failure) */
        cdp__conn_gone(b, rc == BUF_ETOOBIG ? "message from Chromium over 512 MiB"
                                            : "out of memory reassembling a message");
        return -1;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    on_message(b, b->in.data, b->in.len);
    /* Give a screenshot-sized buffer back instead of keeping it per browser. */
    if (b->in.cap > IN_KEEP_MAX)
        buf_cleanup(&b->in);
    else
        buf_reset(&b->in);
    return 0;
}

static int cb_cdp(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct cdp_browser *b = ctx ? lws_context_user(ctx) : NULL;
    if (!b)
        return 0;
    char why[200];
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        b->connected = true;
        if (b->out_head)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        snprintf(why, sizeof(why), "websocket connect failed: %.*s", in ? (int)len : 7,
                 in ? (const char *)in : "unknown");
        cdp__conn_gone(b, why);
        b->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: return on_receive(b, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(b, wsi);
    case LWS_CALLBACK_CLIENT_CLOSED:
        cdp__conn_gone(b, "websocket closed by Chromium");
        b->wsi = NULL;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (wsi == b->wsi) {
            cdp__conn_gone(b, "websocket closed");
            b->wsi = NULL;
        }
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {.name = "cdp", .callback = cb_cdp, .rx_buffer_size = 256 * 1024},
    {.name = NULL},
};

static void on_deadline(lws_sorted_usec_list_t *sul)
{
    struct cdp_browser *b = lws_container_of(sul, struct cdp_browser, sul_deadline);
    b->deadline_hit = true;
}

static void on_child_check(lws_sorted_usec_list_t *sul)
{
    struct cdp_browser *b = lws_container_of(sul, struct cdp_browser, sul_child);
    if (cdp__process_exited(b)) {
        char why[128];
        if (WIFSIGNALED(b->exit_status))
            snprintf(why, sizeof(why), "Chromium was killed by signal %d", WTERMSIG(b->exit_status));
        else
            snprintf(why, sizeof(why), "Chromium exited with status %d", WEXITSTATUS(b->exit_status));
        cdp__conn_gone(b, why);
        return;
    }
    lws_sul_schedule(b->ctx, 0, &b->sul_child, on_child_check, CHILD_CHECK_US);
}

int cdp__pump(struct cdp_browser *b, int64_t deadline_us, bool (*done)(void *arg), void *arg)
{
    for (;;) {
        if (done && done(arg))
            return 0;
        if (b->gone || !b->ctx)
            return CDP_ERR_GONE;
        if (b->interrupt && b->interrupt(b->interrupt_arg))
            return CDP_ERR_STOPPED;
        int64_t left = deadline_us - cdp__now_us();
        if (left <= 0)
            return done ? CDP_ERR_TIMEOUT : 0;
        // Serve in slices so that a stop request (a signal only sets a flag) is seen in time.
        if (b->interrupt && left > CDP_INTERRUPT_SLICE_MS * 1000)
            left = CDP_INTERRUPT_SLICE_MS * 1000;
        b->deadline_hit = false;
        lws_sul_schedule(b->ctx, 0, &b->sul_deadline, on_deadline, left);
        int n = lws_service(b->ctx, 0);
        lws_sul_cancel(&b->sul_deadline);
        if (n < 0)
            cdp__conn_gone(b, "libwebsockets service failed");
    }
}

static bool conn_ready(void *arg)
{
    struct cdp_browser *b = arg;
    return b->connected;
}

int cdp__conn_open(struct cdp_browser *b, int port, const char *path, int64_t deadline_us)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = b;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 16; /* one socket and lws internals; default is ulimit -n */
    b->ctx = lws_create_context(&info);
    if (!b->ctx) {
        cdp__seterr(b->err, "launch: cannot create libwebsockets context");
        return CDP_ERR_LAUNCH;
    }
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = b->ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = path;
    ci.host = host; /* Chromium checks Host; no Origin header (rejected since 111) */
    ci.pwsi = &b->wsi;
    if (!lws_client_connect_via_info(&ci)) {
        cdp__seterr(b->err, "launch: websocket connect to %s failed", host);
        return CDP_ERR_LAUNCH;
    }
    int rc = cdp__pump(b, deadline_us, conn_ready, b);
    if (rc) {
        cdp__seterr(b->err, "launch: websocket to ws://%s%s: %s", host, path,
                    rc == CDP_ERR_TIMEOUT ? "timeout" : b->gone_why);
        return CDP_ERR_LAUNCH;
    }
    lws_sul_schedule(b->ctx, 0, &b->sul_child, on_child_check, CHILD_CHECK_US);
    return 0;
}

void cdp__conn_close(struct cdp_browser *b)
{
    if (b->ctx) {
        lws_sul_cancel(&b->sul_child);
        lws_sul_cancel(&b->sul_deadline);
        struct lws_context *ctx = b->ctx;
        lws_context_destroy(ctx);
        b->ctx = NULL;
    }
    b->wsi = NULL;
    b->connected = false;
    cdp__conn_gone(b, "connection closed by the client");
    conn_queue_free(b);
    buf_cleanup(&b->in);
    cJSON_Delete(b->wait_reply);
    b->wait_reply = NULL;
}

static bool reply_arrived(void *arg)
{
    struct cdp_browser *b = arg;
    return b->wait_reply != NULL || b->wait_aborted;
}

/* Builds and queues {"id","method","params","sessionId"}; consumes params. */
static int conn_send(struct cdp_browser *b, uint32_t id, const char *session, const char *method, cJSON *params)
{
    cJSON *m = cJSON_CreateObject();
    if (!m) {
        cJSON_Delete(params);
        return CDP_ERR_NOMEM;
    }
    cJSON_AddNumberToObject(m, "id", id);
    cJSON_AddStringToObject(m, "method", method);
    if (params)
        cJSON_AddItemToObject(m, "params", params);
    if (session)
        cJSON_AddStringToObject(m, "sessionId", session);
    char *text = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    if (!text)
        return CDP_ERR_NOMEM;
    bool ok;
    conn_enqueue(b, text, strlen(text), &ok);
    cJSON_free(text);
    return ok ? 0 : CDP_ERR_NOMEM;
}

static uint32_t conn_next_id(struct cdp_browser *b)
{
    if (++b->next_id == 0)
        b->next_id = 1;
    return b->next_id;
}

void cdp__send_async(struct cdp_browser *b, const char *session, const char *method, cJSON *params)
{
    if (b->gone || !b->wsi) {
        cJSON_Delete(params);
        return;
    }
    (void)conn_send(b, conn_next_id(b), session, method, params);
}

int cdp__call(struct cdp_browser *b, const char *session, const char *method, cJSON *params, int64_t deadline_us,
              cJSON **result, char *errbuf)
{
    if (result)
        *result = NULL;
    if (b->gone || !b->wsi) {
        cJSON_Delete(params);
        cdp__seterr(errbuf, "%s: browser gone (%s)", method, b->gone ? b->gone_why : "not launched");
        return CDP_ERR_GONE;
    }
    int64_t start = cdp__now_us();
    uint32_t id = conn_next_id(b);
    int rc = conn_send(b, id, session, method, params);
    if (rc) {
        cdp__seterr(errbuf, "%s: out of memory", method);
        return rc;
    }
    b->wait_id = id;
    rc = cdp__pump(b, deadline_us, reply_arrived, b);
    b->wait_id = 0;
    cJSON *reply = b->wait_reply;
    b->wait_reply = NULL;
    if (rc == CDP_ERR_TIMEOUT) {
        cdp__seterr(errbuf, "%s: timeout after %lld ms", method, (long long)((deadline_us - start) / 1000));
        return rc;
    }
    if (rc == CDP_ERR_STOPPED) { /* its reply, if it comes, is dropped as unknown */
        cJSON_Delete(reply);
        cdp__seterr(errbuf, "%s: stopped (interrupted)", method);
        return rc;
    }
    if (rc) {
        cJSON_Delete(reply);
        cdp__seterr(errbuf, "%s: browser gone (%s)", method, b->gone_why);
        return CDP_ERR_GONE;
    }
    if (!reply) { /* wait_aborted: the page crashed or was detached under the call */
        cdp__seterr(errbuf, "%s: browser gone (page crashed or closed)", method);
        return CDP_ERR_GONE;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
    if (err) {
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(err, "message");
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(err, "data");
        cdp__seterr(errbuf, "%s: %s%s%s", method, cJSON_IsString(em) ? em->valuestring : "error",
                    cJSON_IsString(ed) ? ": " : "", cJSON_IsString(ed) ? ed->valuestring : "");
        cJSON_Delete(reply);
        return CDP_ERR_PROTOCOL;
    }
    if (result) {
        cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
        *result = r ? r : cJSON_CreateObject();
    }
    cJSON_Delete(reply);
    return 0;
}
