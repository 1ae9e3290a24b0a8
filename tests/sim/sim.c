/*
 * sim.c — the simulator's state and cross-cutting behaviour: seeded random streams,
 * sessions with a TTL (and the cart frame's tokens), carts per consultora|cycle, submitted
 * orders, statistics, the request filter that injects failures (--fail-rate) and slow
 * answers (--slow-rate/--slow-ms, on timers, never sleeping), the locking trampoline every
 * handler runs through, and the test-only /__sim endpoints (state, reset, cart, config,
 * sessions).
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "sim_assets.h"

/* ---------------------------------------------------------------- random */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_reseed(struct sim *sim)
{
    sim->fault_rng = sim->opt.seed;
    sim->ui_rng = sim->opt.seed ^ 0x5deece66dULL;
    sim->interrupt_rng = sim->opt.seed ^ 0x2545f4914f6cdd1dULL;
}

double sim_rand_fault(struct sim *sim)
{
    return (double)(splitmix64(&sim->fault_rng) >> 11) / 9007199254740992.0;
}

unsigned sim_rand_ui(struct sim *sim, unsigned lo, unsigned hi)
{
    unsigned v = lo + (unsigned)(splitmix64(&sim->ui_rng) % (uint64_t)(hi - lo + 1));
    return (unsigned)(v * sim->opt.ui_scale);
}

double sim_rand_interrupt(struct sim *sim)
{
    return (double)(splitmix64(&sim->interrupt_rng) >> 11) / 9007199254740992.0;
}

void sim_token_new(struct sim *sim, char out[33])
{
    uint64_t a = splitmix64(&sim->token_rng), b = splitmix64(&sim->token_rng);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

double sim_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- catalogue */

bool sim_code_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > SIM_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
            return false;
    }
    return true;
}

bool sim_cycle_offered(const struct sim *sim, const char *cycle)
{
    size_t n = strlen(cycle);
    if (!n)
        return false;
    const char *p = sim->opt.cycles;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, cycle, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

const char *sim_consultora_name(const char *code, char *buf, size_t len)
{
    static const char *const first[] = {"María",     "Ana",     "Carolina",  "Francisca", "Javiera",
                                        "Constanza", "Daniela", "Valentina", "Camila",    "Paula"};
    static const char *const last[] = {"González", "Muñoz",     "Rojas", "Díaz",     "Pérez",
                                       "Soto",     "Contreras", "Silva", "Martínez", "Sepúlveda"};
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = code; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    snprintf(buf, len, "%s %s", first[h % 10], last[(h / 10) % 10]);
    return buf;
}

/* ---------------------------------------------------------------- sessions */

static void session_remove_at(struct sim *sim, size_t i)
{
    sim->sessions[i] = sim->sessions[--sim->nsessions];
}

struct sim_session *sim_session_get(struct sim *sim, struct http_request *req, bool *expired)
{
    if (expired)
        *expired = false;
    const char *tok = http_request_cookie(req, SIM_SESSION_COOKIE);
    if (!tok)
        return NULL;
    double now = sim_now_s();
    for (size_t i = 0; i < sim->nsessions; i++) {
        if (strcmp(sim->sessions[i].token, tok) != 0)
            continue;
        if (now - sim->sessions[i].created_s >= (double)sim->opt.session_ttl_s) {
            session_remove_at(sim, i);
            sim->stats.sessions_expired++;
            if (expired)
                *expired = true;
            return NULL;
        }
        return &sim->sessions[i];
    }
    /* An unknown token is a session that expired earlier (or was dropped by the tests). */
    if (expired)
        *expired = true;
    return NULL;
}

struct sim_session *sim_session_create(struct sim *sim)
{
    /* Purge expired sessions first, so a long benchmark does not grow the table. */
    double now = sim_now_s();
    for (size_t i = 0; i < sim->nsessions;)
        if (now - sim->sessions[i].created_s >= (double)sim->opt.session_ttl_s)
            session_remove_at(sim, i);
        else
            i++;
    if (sim->nsessions == sim->sessions_cap) {
        size_t cap = sim->sessions_cap ? sim->sessions_cap * 2 : 16;
        struct sim_session *n = realloc(sim->sessions, cap * sizeof(*n));
        if (!n)
            return NULL;
        sim->sessions = n;
        sim->sessions_cap = cap;
    }
    struct sim_session *s = &sim->sessions[sim->nsessions++];
    memset(s, 0, sizeof(*s));
    sim_token_new(sim, s->token);
    s->created_s = now;
    return s;
}

struct sim_session *sim_session_by_frame_token(struct sim *sim, struct http_request *req, bool *expired)
{
    if (expired)
        *expired = false;
    const char *tok = http_request_bearer(req);
    if (!tok)
        return NULL;
    double now = sim_now_s();
    for (size_t i = 0; i < sim->nsessions; i++) {
        struct sim_session *s = &sim->sessions[i];
        if (!s->frame_token[0] || strcmp(s->frame_token, tok) != 0)
            continue;
        if (now - s->created_s >= (double)sim->opt.session_ttl_s) {
            session_remove_at(sim, i);
            sim->stats.sessions_expired++;
            break;
        }
        if (now - s->frame_token_s >= SIM_FRAME_TOKEN_S)
            break;
        return s;
    }
    /* A token nobody holds any more: its session ended or a newer frame replaced it. */
    if (expired)
        *expired = true;
    return NULL;
}

void sim_session_drop(struct sim *sim, struct sim_session *s)
{
    size_t i = (size_t)(s - sim->sessions);
    if (i < sim->nsessions)
        session_remove_at(sim, i);
}

/* ---------------------------------------------------------------- carts */

struct sim_cart *sim_cart_get(struct sim *sim, const char *consultora, const char *cycle, bool create)
{
    char key[sizeof(((struct sim_cart *)0)->key)];
    snprintf(key, sizeof(key), "%s|%s", consultora, cycle);
    for (size_t i = 0; i < sim->ncarts; i++)
        if (!strcmp(sim->carts[i].key, key))
            return &sim->carts[i];
    if (!create)
        return NULL;
    if (sim->ncarts == sim->carts_cap) {
        size_t cap = sim->carts_cap ? sim->carts_cap * 2 : 16;
        struct sim_cart *n = realloc(sim->carts, cap * sizeof(*n));
        if (!n)
            return NULL;
        sim->carts = n;
        sim->carts_cap = cap;
    }
    struct sim_cart *c = &sim->carts[sim->ncarts++];
    memset(c, 0, sizeof(*c));
    snprintf(c->key, sizeof(c->key), "%s", key);
    return c;
}

long sim_cart_add(struct sim_cart *cart, const char *code, long qty)
{
    cart->order[0] = '\0'; /* changed since its last submission */
    for (size_t i = 0; i < cart->n; i++)
        if (!strcmp(cart->items[i].code, code))
            return cart->items[i].qty += qty;
    if (cart->n == cart->cap) {
        size_t cap = cart->cap ? cart->cap * 2 : 8;
        struct sim_item *n = realloc(cart->items, cap * sizeof(*n));
        if (!n)
            return -1;
        cart->items = n;
        cart->cap = cap;
    }
    struct sim_item *it = &cart->items[cart->n++];
    snprintf(it->code, sizeof(it->code), "%s", code);
    it->qty = qty;
    return qty;
}

void sim_cart_set(struct sim_cart *cart, const char *code, long qty)
{
    cart->order[0] = '\0';
    for (size_t i = 0; i < cart->n; i++)
        if (!strcmp(cart->items[i].code, code)) {
            if (qty > 0) {
                cart->items[i].qty = qty;
            } else {
                memmove(&cart->items[i], &cart->items[i + 1], (cart->n - i - 1) * sizeof(*cart->items));
                cart->n--;
            }
            return;
        }
    if (qty > 0)
        (void)sim_cart_add(cart, code, qty);
}

static void carts_clear(struct sim *sim)
{
    for (size_t i = 0; i < sim->ncarts; i++)
        free(sim->carts[i].items);
    sim->ncarts = 0;
}

/* ---------------------------------------------------------------- orders */

struct sim_order *sim_order_submit(struct sim *sim, struct sim_cart *cart)
{
    if (sim->norders == sim->orders_cap) {
        size_t cap = sim->orders_cap ? sim->orders_cap * 2 : 16;
        struct sim_order *n = realloc(sim->orders, cap * sizeof(*n));
        if (!n)
            return NULL;
        sim->orders = n;
        sim->orders_cap = cap;
    }
    struct sim_order *o = &sim->orders[sim->norders];
    memset(o, 0, sizeof(*o));
    if (cart->n) {
        o->items = malloc(cart->n * sizeof(*o->items));
        if (!o->items)
            return NULL;
        memcpy(o->items, cart->items, cart->n * sizeof(*o->items));
    }
    o->n = cart->n;
    for (size_t i = 0; i < cart->n; i++)
        o->units += cart->items[i].qty;
    snprintf(o->key, sizeof(o->key), "%s", cart->key);
    snprintf(o->number, sizeof(o->number), "GSP-%06llu", (unsigned long long)(sim->next_order++ % 1000000));
    snprintf(cart->order, sizeof(cart->order), "%s", o->number);
    sim->norders++;
    return o;
}

static void orders_clear(struct sim *sim)
{
    for (size_t i = 0; i < sim->norders; i++)
        free(sim->orders[i].items);
    sim->norders = 0;
}

/* ---------------------------------------------------------------- buffers */

void sim_buf_puts(struct sim_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

void sim_buf_printf(struct sim_buf *b, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        sim_buf_puts(b, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sim_buf_puts(b, big);
    free(big);
}

void sim_buf_escape(struct sim_buf *b, const char *s)
{
    char one[2] = {0};
    for (; *s; s++) {
        switch (*s) {
        case '&': sim_buf_puts(b, "&amp;"); break;
        case '<': sim_buf_puts(b, "&lt;"); break;
        case '>': sim_buf_puts(b, "&gt;"); break;
        case '"': sim_buf_puts(b, "&quot;"); break;
        case '\'': sim_buf_puts(b, "&#39;"); break;
        default: one[0] = *s; sim_buf_puts(b, one);
        }
    }
}

void sim_buf_cleanup(struct sim_buf *b)
{
    free(b->p);
    *b = (struct sim_buf){0};
}

/* ---------------------------------------------------------------- faults */

static const char unavailable_html[] =
    "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>503 Servicio no disponible</title>"
    "<link rel=\"stylesheet\" href=\"/static/style.css\"></head><body><div class=\"error-page card\">"
    "<h1>Servicio no disponible</h1><p>El portal está temporalmente fuera de servicio. "
    "Intente nuevamente en unos minutos.</p></div></body></html>\n";

static bool is_api(const char *path)
{
    return !strncmp(path, "/api/", 5);
}

void sim_respond_unavailable(struct sim *sim, struct http_request *req)
{
    if (is_api(http_request_path(req)))
        http_request_respond_error(req, 503, "Servicio no disponible");
    else
        http_request_respond_static(req, 503, "text/html; charset=utf-8", unavailable_html,
                                    sizeof(unavailable_html) - 1);
}

static void slow_then_fail(struct http_request *req, void *arg)
{
    sim_respond_unavailable(arg, req);
}

static void slow_then_route(struct http_request *req, void *arg)
{
    http_request_resume(req);
}

static enum http_filter_result sim_filter_locked(struct sim *sim, struct http_request *req)
{
    const char *path = http_request_path(req);
    if (!strncmp(path, "/__sim/", 7))
        return HTTP_FILTER_CONTINUE;
    sim->stats.requests++;
    if (!strncmp(path, "/static/", 8)) {
        sim->stats.assets++;
        return HTTP_FILTER_CONTINUE;
    }
    /* Both draws happen on every page/API request so the fault sequence depends only on
     * the seed and the order of requests, not on the rates' effects. */
    bool fail = sim_rand_fault(sim) < sim->opt.fail_rate;
    bool slow = sim_rand_fault(sim) < sim->opt.slow_rate;
    if (fail)
        sim->stats.failures++;
    if (slow && sim->opt.slow_ms) {
        sim->stats.slow++;
        if (http_request_after(req, sim->opt.slow_ms, fail ? slow_then_fail : slow_then_route, sim) != 0)
            http_request_respond_error(req, 500, "cannot schedule slow answer");
        return HTTP_FILTER_HANDLED;
    }
    if (fail) {
        sim_respond_unavailable(sim, req);
        return HTTP_FILTER_HANDLED;
    }
    return HTTP_FILTER_CONTINUE;
}

static enum http_filter_result sim_filter(struct http_request *req, void *user)
{
    struct sim *sim = user;
    pthread_mutex_lock(&sim->lock);
    enum http_filter_result r = sim_filter_locked(sim, req);
    pthread_mutex_unlock(&sim->lock);
    return r;
}

/* ---------------------------------------------------------------- routes */

static void locked_handler(struct http_request *req, void *user)
{
    const struct sim_route *r = user;
    pthread_mutex_lock(&r->sim->lock);
    r->fn(req, r->sim);
    pthread_mutex_unlock(&r->sim->lock);
}

int sim_route(struct sim *sim, struct http_server *srv, const char *method, const char *path, http_handler_fn fn)
{
    if (sim->nroutes == SIM_ROUTES_MAX)
        return HTTP_ERR_NOMEM;
    struct sim_route *r = &sim->routes[sim->nroutes++];
    *r = (struct sim_route){.sim = sim, .fn = fn};
    return http_server_route(srv, method, path, locked_handler, r, NULL);
}

/* ---------------------------------------------------------------- /__sim */

static cJSON *stats_json(const struct sim *sim)
{
    const struct sim_stats *s = &sim->stats;
    cJSON *o = cJSON_CreateObject();
#define STAT(name) cJSON_AddNumberToObject(o, #name, (double)s->name)
    STAT(requests);
    STAT(pages);
    STAT(api);
    STAT(assets);
    STAT(logins);
    STAT(login_failures);
    STAT(logouts);
    STAT(adds);
    STAT(add_errors);
    STAT(ghosts);
    STAT(failures);
    STAT(slow);
    STAT(overlay_clicks);
    STAT(sessions_expired);
    STAT(route_changes);
    STAT(interrupts_shown);
    STAT(blocked_clicks);
    STAT(consents);
    STAT(confirms);
    STAT(confirms_dismissed);
    STAT(orders_submitted);
#undef STAT
    cJSON_AddNumberToObject(o, "sessions_active", (double)sim->nsessions);
    return o;
}

static void h_state(struct http_request *req, void *user)
{
    struct sim *sim = user;
    cJSON *o = cJSON_CreateObject();
    cJSON *carts = cJSON_AddObjectToObject(o, "carts");
    for (size_t i = 0; i < sim->ncarts; i++) {
        const struct sim_cart *c = &sim->carts[i];
        if (!c->n)
            continue;
        cJSON *items = cJSON_AddObjectToObject(carts, c->key);
        for (size_t k = 0; k < c->n; k++)
            cJSON_AddNumberToObject(items, c->items[k].code, (double)c->items[k].qty);
    }
    cJSON *orders = cJSON_AddArrayToObject(o, "orders");
    for (size_t i = 0; i < sim->norders; i++) {
        const struct sim_order *od = &sim->orders[i];
        cJSON *j = cJSON_CreateObject();
        const char *bar = strchr(od->key, '|');
        size_t clen = bar ? (size_t)(bar - od->key) : strlen(od->key);
        char consultora[SIM_CODE_MAX + 1];
        snprintf(consultora, sizeof(consultora), "%.*s", (int)clen, od->key);
        cJSON_AddStringToObject(j, "number", od->number);
        cJSON_AddStringToObject(j, "consultora", consultora);
        cJSON_AddStringToObject(j, "cycle", bar ? bar + 1 : "");
        cJSON_AddNumberToObject(j, "units", (double)od->units);
        cJSON *p = cJSON_AddObjectToObject(j, "products");
        for (size_t k = 0; k < od->n; k++)
            cJSON_AddNumberToObject(p, od->items[k].code, (double)od->items[k].qty);
        cJSON_AddItemToArray(orders, j);
    }
    cJSON_AddItemToObject(o, "stats", stats_json(sim));
    http_request_respond_json(req, 200, o);
}

static void h_reset(struct http_request *req, void *user)
{
    struct sim *sim = user;
    carts_clear(sim);
    orders_clear(sim);
    memset(&sim->stats, 0, sizeof(sim->stats));
    sim_reseed(sim);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    http_request_respond_json(req, 200, o);
}

/* POST /__sim/cart {"consultora": C, "cycle": Y, "products": {"P": qty, ...}}: sets those
 * quantities (0 removes) in the cart, bypassing catalogue rules and faults. */
static void h_cart_fill(struct http_request *req, void *user)
{
    struct sim *sim = user;
    cJSON *in = http_request_body_json(req);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(in, "consultora");
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(in, "cycle");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(in, "products");
    if (!cJSON_IsString(c) || !sim_code_valid(c->valuestring) || !cJSON_IsString(y) ||
        !sim_code_valid(y->valuestring) || strlen(y->valuestring) >= 16 || !cJSON_IsObject(p)) {
        cJSON_Delete(in);
        http_request_respond_error(req, 400,
                                   "expected {\"consultora\": CODE, \"cycle\": CYCLE, \"products\": {CODE: QTY}}");
        return;
    }
    struct sim_cart *cart = sim_cart_get(sim, c->valuestring, y->valuestring, true);
    if (!cart) {
        cJSON_Delete(in);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, p)
    {
        if (!sim_code_valid(it->string) || !cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e6) {
            cJSON_Delete(in);
            http_request_respond_error(req, 400, "bad product entry");
            return;
        }
        sim_cart_set(cart, it->string, (long)it->valuedouble);
    }
    cJSON_Delete(in);
    cJSON *o = cJSON_CreateObject();
    cJSON *items = cJSON_AddObjectToObject(o, "products");
    for (size_t k = 0; k < cart->n; k++)
        cJSON_AddNumberToObject(items, cart->items[k].code, (double)cart->items[k].qty);
    http_request_respond_json(req, 200, o);
}

static cJSON *config_json(const struct sim *sim)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", sim->opt.user);
    cJSON_AddNumberToObject(o, "fail_rate", sim->opt.fail_rate);
    cJSON_AddNumberToObject(o, "ghost_rate", sim->opt.ghost_rate);
    cJSON_AddNumberToObject(o, "slow_rate", sim->opt.slow_rate);
    cJSON_AddNumberToObject(o, "slow_ms", sim->opt.slow_ms);
    cJSON_AddNumberToObject(o, "session_ttl_s", sim->opt.session_ttl_s);
    cJSON_AddNumberToObject(o, "seed", (double)sim->opt.seed);
    cJSON_AddStringToObject(o, "cycles", sim->opt.cycles);
    cJSON_AddStringToObject(o, "ui", sim->opt.ui == SIM_UI_MODERN ? "modern" : "classic");
    cJSON_AddNumberToObject(o, "interrupt_rate", sim->opt.interrupt_rate);
    if (sim->opt.cart_mode == SIM_CART_CROSS) {
        char origin[128];
        snprintf(origin, sizeof(origin), "http://%s:%d", sim->opt.cart_host[0] ? sim->opt.cart_host : "localhost",
                 sim->cart_port);
        cJSON_AddStringToObject(o, "cart_origin", origin);
    } else {
        cJSON_AddStringToObject(o, "cart_origin", "same");
    }
    return o;
}

static void h_config_get(struct http_request *req, void *user)
{
    http_request_respond_json(req, 200, config_json(user));
}

/* POST /__sim/config {"fail_rate": F, "ghost_rate": F, "slow_rate": F, "interrupt_rate": F,
 * "slow_ms": N, "session_ttl_s": N}: changes the fault settings of a running simulator. */
static void h_config_set(struct http_request *req, void *user)
{
    struct sim *sim = user;
    cJSON *in = http_request_body_json(req);
    if (!cJSON_IsObject(in)) {
        cJSON_Delete(in);
        http_request_respond_error(req, 400, "expected a JSON object");
        return;
    }
    struct sim_options o = sim->opt;
    const struct {
        const char *name;
        double *rate;
    } rates[] = {{"fail_rate", &o.fail_rate},
                 {"ghost_rate", &o.ghost_rate},
                 {"slow_rate", &o.slow_rate},
                 {"interrupt_rate", &o.interrupt_rate}};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, rates[i].name);
        if (!v)
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1) {
            cJSON_Delete(in);
            http_request_respond_error(req, 400, "%s must be a number in 0..1", rates[i].name);
            return;
        }
        *rates[i].rate = v->valuedouble;
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(in, "slow_ms");
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(in, "session_ttl_s");
    if ((ms && (!cJSON_IsNumber(ms) || ms->valuedouble < 0 || ms->valuedouble > 600000)) ||
        (ttl && (!cJSON_IsNumber(ttl) || ttl->valuedouble < 1 || ttl->valuedouble > 86400 * 30))) {
        cJSON_Delete(in);
        http_request_respond_error(req, 400, "slow_ms must be 0..600000 and session_ttl_s 1..2592000");
        return;
    }
    if (ms)
        o.slow_ms = (unsigned)ms->valuedouble;
    if (ttl)
        o.session_ttl_s = (unsigned)ttl->valuedouble;
    cJSON_Delete(in);
    sim->opt = o;
    http_request_respond_json(req, 200, config_json(sim));
}

/* POST /__sim/expire-sessions: every session ends now (the next request sees it expired). */
static void h_expire_sessions(struct http_request *req, void *user)
{
    struct sim *sim = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "expired", (double)sim->nsessions);
    sim->stats.sessions_expired += sim->nsessions;
    sim->nsessions = 0;
    http_request_respond_json(req, 200, o);
}

static void h_overlay_click(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.overlay_clicks++;
    http_request_respond(req, 204, NULL, NULL, 0);
}

/* ---------------------------------------------------------------- lifecycle */

struct sim *sim_new(const struct sim_options *opt, struct http_server *srv)
{
    struct sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim->opt = *opt;
    sim->srv = srv;
    sim->next_order = 1;
    if (pthread_mutex_init(&sim->lock, NULL) != 0) {
        free(sim);
        return NULL;
    }
    sim_reseed(sim);
    /* Session tokens must not be guessable from --seed: take them from the kernel. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &sim->token_rng, sizeof(sim->token_rng)) != (ssize_t)sizeof(sim->token_rng))
        sim->token_rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (fd >= 0)
        close(fd);
    http_server_set_filter(srv, sim_filter, sim);
    struct {
        const char *method, *path;
        http_handler_fn fn;
    } routes[] = {
        {"GET", "/__sim/state", h_state},
        {"POST", "/__sim/reset", h_reset},
        {"POST", "/__sim/cart", h_cart_fill},
        {"GET", "/__sim/config", h_config_get},
        {"POST", "/__sim/config", h_config_set},
        {"POST", "/__sim/expire-sessions", h_expire_sessions},
        {"POST", "/__sim/overlay-click", h_overlay_click},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (sim_route(sim, srv, routes[i].method, routes[i].path, routes[i].fn) != 0)
            goto err;
    for (size_t i = 0; i < sim_assets_count; i++)
        if (http_server_asset(srv, sim_assets[i].name, NULL, sim_assets[i].data, sim_assets[i].size) != 0)
            goto err;
    if (opt->ui == SIM_UI_MODERN) {
        if (sim_spa_register(sim) != 0 || sim_api_register(sim) != 0)
            goto err;
    } else if (sim_pages_register(sim) != 0 || sim_api_register(sim) != 0) {
        goto err;
    }
    return sim;
err:
    sim_free(sim);
    return NULL;
}

int sim_cart_server_attach(struct sim *sim, struct http_server *cart_srv)
{
    sim->cart_srv = cart_srv;
    http_server_set_filter(cart_srv, sim_filter, sim);
    int rc = sim_route(sim, cart_srv, "POST", "/__sim/overlay-click", h_overlay_click);
    for (size_t i = 0; !rc && i < sim_assets_count; i++)
        rc = http_server_asset(cart_srv, sim_assets[i].name, NULL, sim_assets[i].data, sim_assets[i].size);
    return rc ? rc : sim_spa_register_cart_server(sim, cart_srv);
}

void sim_set_ports(struct sim *sim, int main_port, int cart_port)
{
    pthread_mutex_lock(&sim->lock);
    sim->main_port = main_port;
    sim->cart_port = cart_port;
    pthread_mutex_unlock(&sim->lock);
}

void sim_free(struct sim *sim)
{
    if (!sim)
        return;
    carts_clear(sim);
    free(sim->carts);
    orders_clear(sim);
    free(sim->orders);
    free(sim->sessions);
    pthread_mutex_destroy(&sim->lock);
    free(sim);
}
