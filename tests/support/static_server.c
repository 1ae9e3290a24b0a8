/*
 * static_server.c - see static_server.h. One thread owns the lws context
 * from creation to destruction; the owner only flips `stop`, which the
 * thread notices within TICK_US (a self-rescheduling lws_sul timer keeps
 * lws_service from sleeping longer), so no lws call crosses threads.
 */
#include "static_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#define TICK_US 20000 /* us between checks of `stop` */

struct static_server {
    const char *root;
    char iface[64];
    struct lws_http_mount mount;
    struct lws_context *ctx;
    pthread_t thread;
    atomic_bool stop;
    atomic_int port; /* 0 until listening, -1 on failure */
    lws_sorted_usec_list_t tick;
};

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct static_server *s = lws_container_of(sul, struct static_server, tick);
    lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
}

static const struct lws_protocols protocols[] = {
    {.name = "http", .callback = lws_callback_http_dummy},
    {.name = NULL},
};

static void *serve(void *arg)
{
    struct static_server *s = arg;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = 0; /* kernel picks */
    info.iface = s->iface;
    info.protocols = protocols;
    info.mounts = &s->mount;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 256;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    s->ctx = lws_create_context(&info);
    struct lws_vhost *vh = s->ctx ? lws_get_vhost_by_name(s->ctx, "default") : NULL;
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (port > 0)
        lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
    atomic_store(&s->port, port > 0 ? port : -1);
    while (port > 0 && !atomic_load(&s->stop))
        lws_service(s->ctx, 0);
    if (s->ctx) {
        lws_sul_cancel(&s->tick);
        lws_context_destroy(s->ctx);
    }
    return NULL;
}

struct static_server *static_server_start(const char *root)
{
    return static_server_start_on(root, "127.0.0.1");
}

struct static_server *static_server_start_on(const char *root, const char *address)
{
    struct static_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (!address || snprintf(s->iface, sizeof(s->iface), "%s", address) >= (int)sizeof(s->iface)) {
        free(s);
        return NULL;
    }
    s->root = root;
    s->mount.mountpoint = "/";
    s->mount.mountpoint_len = 1;
    s->mount.origin = root;
    s->mount.def = "index.html";
    s->mount.origin_protocol = LWSMPRO_FILE;
    atomic_init(&s->stop, false);
    atomic_init(&s->port, 0);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        free(s);
        return NULL;
    }
    while (atomic_load(&s->port) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->port) < 0) {
        pthread_join(s->thread, NULL);
        free(s);
        return NULL;
    }
    return s;
}

int static_server_port(const struct static_server *s)
{
    return atomic_load(&((struct static_server *)s)->port);
}

void static_server_stop(struct static_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    free(s);
}
