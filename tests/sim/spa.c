/*
 * spa.c — the modern UI (--ui modern): one HTML document for every /app route (the app then
 * routes with the history API and talks JSON only), the cart iframe's document, the API the
 * app needs beyond the classic one (login, session, consultora and cycle choice, the frame's
 * address, order submission) and the /__sim hooks its script reports to (route changes that
 * may open the survey, consent, confirm answers, clicks that hit an interruption). With
 * --cart-origin the cart frame and the cart API are also served by a second listener, another
 * origin, where the session is a short-lived frame token passed in the iframe's URL fragment
 * instead of the cookie. Same state, rules and faults as the classic UI; the DOM contract is
 * tests/sim/README.md, "Modern UI".
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "sim_assets.h"

static const struct embedded_file *asset(const char *name)
{
    for (size_t i = 0; i < sim_assets_count; i++)
        if (!strcmp(sim_assets[i].name, name))
            return &sim_assets[i];
    return NULL;
}

/* Serves an embedded HTML document (never cached), counted as a page. */
static void send_document(struct sim *sim, struct http_request *req, const char *name, const char *csp)
{
    sim->stats.pages++;
    const struct embedded_file *f = asset(name);
    if (!f || http_request_add_header(req, "Cache-Control", "no-store") != 0 ||
        (csp && http_request_add_header(req, "Content-Security-Policy", csp) != 0)) {
        http_request_respond_error(req, 500, "cannot serve %s", name);
        return;
    }
    http_request_respond_static(req, 200, "text/html; charset=utf-8", f->data, f->size);
}

/* ---------------------------------------------------------------- documents */

static void h_root(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.pages++;
    http_request_redirect(req, 303, "/app");
}

static const char *const VIEWS[] = {"login", "consultora", "ciclo", "carrito", "confirmacion"};

/* GET /app and GET /app/{view}: the same document; the app's router reads the path. */
static void h_app(struct http_request *req, void *user)
{
    struct sim *sim = user;
    const char *view = http_request_param(req, "view");
    bool known = !view;
    for (size_t i = 0; view && i < sizeof(VIEWS) / sizeof(VIEWS[0]); i++)
        known |= !strcmp(view, VIEWS[i]);
    if (!known) {
        sim->stats.pages++;
        static const char nf[] = "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>404</title>"
                                 "</head><body><h1>Página no encontrada</h1><p><a href=\"/app\">Ir al portal</a></p>"
                                 "</body></html>\n";
        http_request_respond_static(req, 404, "text/html; charset=utf-8", nf, sizeof(nf) - 1);
        return;
    }
    send_document(sim, req, "/static/spa.html", NULL);
}

/* GET /frame/carrito on the main server (same-origin cart): only this origin may embed it. */
static void h_frame_same(struct http_request *req, void *user)
{
    send_document(user, req, "/static/cart.html", "frame-ancestors 'self'");
}

/* GET /frame/carrito on the cart listener: only the app's origins (either loopback name) may
 * embed it. The document needs no session: its script reads the token from its fragment. */
static void h_frame_cross(struct http_request *req, void *user)
{
    struct sim *sim = user;
    char csp[160];
    snprintf(csp, sizeof(csp), "frame-ancestors http://127.0.0.1:%d http://localhost:%d", sim->main_port,
             sim->main_port);
    send_document(sim, req, "/static/cart.html", csp);
}

/* ---------------------------------------------------------------- API */

/* Compares without an early exit on the first difference. */
static bool secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void respond_with_overlay(struct sim *sim, struct http_request *req, cJSON *o)
{
    cJSON_AddNumberToObject(o, "overlay_ms", sim_rand_ui(sim, 100, 600));
    http_request_respond_json(req, 200, o);
}

/* POST /api/login {"user", "password"}: 200 and the session cookie, or 403. */
static void h_login(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.api++;
    cJSON *in = http_request_body_json(req);
    const char *u = json_str(in, "user"), *p = json_str(in, "password");
    bool ok = u && p && !strcmp(u, sim->opt.user) && secret_equal(p, sim->opt.password);
    cJSON_Delete(in);
    if (!ok) {
        sim->stats.login_failures++;
        sim_api_error(sim, req, 403, "Usuario o contraseña incorrectos");
        return;
    }
    struct sim_session *old = sim_session_get(sim, req, NULL);
    if (old)
        sim_session_drop(sim, old);
    struct sim_session *s = sim_session_create(sim);
    if (!s || http_request_set_cookie(req, SIM_SESSION_COOKIE, s->token, -1) != 0) {
        sim_api_error(sim, req, 500, "No se pudo crear la sesión");
        return;
    }
    sim->stats.logins++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", sim->opt.user);
    respond_with_overlay(sim, req, o);
}

static void h_logout(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.api++;
    struct sim_session *s = sim_session_get(sim, req, NULL);
    if (s) {
        sim_session_drop(sim, s);
        sim->stats.logouts++;
    }
    if (http_request_set_cookie(req, SIM_SESSION_COOKIE, "", 0) != 0) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    http_request_respond_json(req, 200, o);
}

static void add_consultora(cJSON *o, const char *key, const char *code)
{
    if (!code[0]) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char name[96];
    cJSON *c = cJSON_AddObjectToObject(o, key);
    cJSON_AddStringToObject(c, "code", code);
    cJSON_AddStringToObject(c, "name", sim_consultora_name(code, name, sizeof(name)));
}

/* GET /api/session: who is logged in and what is chosen, or 401. */
static void h_session(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_session(sim, req);
    if (!s)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", sim->opt.user);
    add_consultora(o, "consultora", s->consultora);
    if (s->cycle[0])
        cJSON_AddStringToObject(o, "cycle", s->cycle);
    else
        cJSON_AddNullToObject(o, "cycle");
    respond_with_overlay(sim, req, o);
}

/* POST /api/consultora {"code"}: chooses the consultora (and forgets the cycle). */
static void h_consultora(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_session(sim, req);
    if (!s)
        return;
    cJSON *in = http_request_body_json(req);
    const char *code = json_str(in, "code");
    char c[SIM_CODE_MAX + 1] = "";
    bool valid = code && sim_code_valid(code);
    if (valid)
        snprintf(c, sizeof(c), "%s", code);
    cJSON_Delete(in);
    if (!valid) {
        sim_api_error(sim, req, 400, "Ingrese un código de consultora válido");
        return;
    }
    if (!strncmp(c, "99", 2)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "La consultora %s no existe", c);
        sim_api_error(sim, req, 404, msg);
        return;
    }
    snprintf(s->consultora, sizeof(s->consultora), "%s", c);
    s->cycle[0] = '\0';
    cJSON *o = cJSON_CreateObject();
    add_consultora(o, "consultora", c);
    respond_with_overlay(sim, req, o);
}

static struct sim_session *consultora_session(struct sim *sim, struct http_request *req)
{
    struct sim_session *s = sim_api_session(sim, req);
    if (s && !s->consultora[0]) {
        sim_api_error(sim, req, 409, "Seleccione una consultora");
        return NULL;
    }
    return s;
}

/* GET /api/ciclos: the cycles offered, value YYYYMM and label "Ciclo MM/YYYY". */
static void h_ciclos(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = consultora_session(sim, req);
    if (!s)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "cycles");
    const char *p = sim->opt.cycles;
    while (*p) {
        size_t len = strcspn(p, ",");
        char v[32], label[48];
        snprintf(v, sizeof(v), "%.*s", (int)(len < 31 ? len : 31), p);
        if (strlen(v) == 6)
            snprintf(label, sizeof(label), "Ciclo %.2s/%.4s", v + 4, v);
        else
            snprintf(label, sizeof(label), "Ciclo %s", v);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "value", v);
        cJSON_AddStringToObject(c, "label", label);
        cJSON_AddItemToArray(list, c);
        p += len;
        if (*p == ',')
            p++;
    }
    if (s->cycle[0])
        cJSON_AddStringToObject(o, "selected", s->cycle);
    else
        cJSON_AddNullToObject(o, "selected");
    add_consultora(o, "consultora", s->consultora);
    respond_with_overlay(sim, req, o);
}

/* POST /api/ciclo {"cycle"} */
static void h_ciclo(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = consultora_session(sim, req);
    if (!s)
        return;
    cJSON *in = http_request_body_json(req);
    const char *cycle = json_str(in, "cycle");
    char msg[96] = "";
    if (!cycle || !*cycle)
        snprintf(msg, sizeof(msg), "Seleccione un ciclo");
    else if (strlen(cycle) >= sizeof(s->cycle) || !sim_cycle_offered(sim, cycle))
        snprintf(msg, sizeof(msg), "El ciclo %.20s no está habilitado", cycle);
    else
        snprintf(s->cycle, sizeof(s->cycle), "%s", cycle);
    cJSON_Delete(in);
    if (msg[0]) {
        sim_api_error(sim, req, 400, msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cycle", s->cycle);
    respond_with_overlay(sim, req, o);
}

/* "http://" + the Host the app was opened with, when it is a plain host[:port]; else the
 * main listener's 127.0.0.1 address. */
static void app_origin(struct sim *sim, struct http_request *req, char *out, size_t len)
{
    const char *host = http_request_header(req, "host");
    bool ok = host && *host && strlen(host) < 100;
    for (const char *c = host; ok && *c; c++)
        ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '.' ||
             *c == '-' || *c == ':';
    if (ok)
        snprintf(out, len, "http://%s", host);
    else
        snprintf(out, len, "http://127.0.0.1:%d", sim->main_port);
}

static void percent_encode(struct sim_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
            c == '_' || c == '~')
            sim_buf_printf(b, "%c", c);
        else
            sim_buf_printf(b, "%%%02X", c);
    }
}

/* GET /api/cart/frame: the address of the cart iframe (and its origin, for postMessage).
 * Cross-origin: a new frame token for this session (replacing the previous one), valid for
 * SIM_FRAME_TOKEN_S seconds and never past the session, in the URL fragment (never sent to
 * a server, never in a Referer) together with the app's origin. */
static void h_cart_frame(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_cart_session(sim, req);
    if (!s)
        return;
    char parent[128];
    app_origin(sim, req, parent, sizeof(parent));
    cJSON *o = cJSON_CreateObject();
    if (sim->opt.cart_mode != SIM_CART_CROSS) {
        cJSON_AddStringToObject(o, "src", "/frame/carrito");
        cJSON_AddStringToObject(o, "origin", parent);
        respond_with_overlay(sim, req, o);
        return;
    }
    sim_token_new(sim, s->frame_token);
    s->frame_token_s = sim_now_s();
    /* The other loopback name than the app's: another site, so Chromium puts the frame in
     * its own process and no cookie of the app's origin reaches it. */
    const char *host = sim->opt.cart_host[0]                      ? sim->opt.cart_host
                       : !strncmp(parent, "http://localhost", 16) ? "127.0.0.1"
                                                                  : "localhost";
    char origin[128];
    snprintf(origin, sizeof(origin), "http://%s:%d", host, sim->cart_port);
    struct sim_buf b = {0};
    sim_buf_printf(&b, "%s/frame/carrito#t=%s&p=", origin, s->frame_token);
    percent_encode(&b, parent);
    if (b.oom) {
        sim_buf_cleanup(&b);
        cJSON_Delete(o);
        sim_api_error(sim, req, 500, "out of memory");
        return;
    }
    cJSON_AddStringToObject(o, "src", b.p);
    cJSON_AddStringToObject(o, "origin", origin);
    sim_buf_cleanup(&b);
    respond_with_overlay(sim, req, o);
}

static const struct sim_order *order_by_number(const struct sim *sim, const char *number)
{
    for (size_t i = sim->norders; i-- > 0;)
        if (!strcmp(sim->orders[i].number, number))
            return &sim->orders[i];
    return NULL;
}

static cJSON *order_json(const struct sim_session *s, const struct sim_order *od)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "number", od->number);
    add_consultora(o, "consultora", s->consultora);
    cJSON_AddStringToObject(o, "cycle", s->cycle);
    cJSON_AddNumberToObject(o, "units", (double)od->units);
    cJSON_AddNumberToObject(o, "lines", (double)od->n);
    return o;
}

/* GET /api/order: the last submission of the session's cart, if the cart has not changed
 * since ({"number": null} otherwise). */
static void h_order(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_cart_session(sim, req);
    if (!s)
        return;
    const struct sim_cart *cart = sim_cart_get(sim, s->consultora, s->cycle, false);
    const struct sim_order *od = cart && cart->order[0] ? order_by_number(sim, cart->order) : NULL;
    cJSON *o;
    if (od) {
        o = order_json(s, od);
    } else {
        o = cJSON_CreateObject();
        cJSON_AddNullToObject(o, "number");
    }
    respond_with_overlay(sim, req, o);
}

/* POST /api/cart/submit: records the cart as an order with a new number. Every submission is
 * a new order (a portal that sends the same cart twice ships it twice): tests assert one per
 * cart in /__sim/state "orders". */
static void h_submit(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_cart_session(sim, req);
    if (!s)
        return;
    struct sim_cart *cart = sim_cart_get(sim, s->consultora, s->cycle, false);
    if (!cart || !cart->n) {
        sim_api_error(sim, req, 409, "El carrito está vacío");
        return;
    }
    const struct sim_order *od = sim_order_submit(sim, cart);
    if (!od) {
        sim_api_error(sim, req, 500, "out of memory");
        return;
    }
    sim->stats.orders_submitted++;
    respond_with_overlay(sim, req, order_json(s, od));
}

/* ---------------------------------------------------------------- /__sim hooks of the app */

/* POST /__sim/route {"view", "survey_open"}: the app changed route. One draw of the
 * interrupt stream per route change (so the sequence depends on the seed and the number of
 * route changes only); the survey opens when the draw is under interrupt_rate and it is not
 * open already. Answers {"survey": bool}. */
static void h_sim_route(struct http_request *req, void *user)
{
    struct sim *sim = user;
    cJSON *in = http_request_body_json(req);
    bool open = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "survey_open"));
    cJSON_Delete(in);
    sim->stats.route_changes++;
    bool survey = sim_rand_interrupt(sim) < sim->opt.interrupt_rate && !open;
    if (survey)
        sim->stats.interrupts_shown++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "survey", survey);
    http_request_respond_json(req, 200, o);
}

static void h_sim_consent(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.consents++;
    http_request_respond(req, 204, NULL, NULL, 0);
}

/* POST /__sim/confirm, body "accept" or "dismiss": the answer to the submit confirm(). */
static void h_sim_confirm(struct http_request *req, void *user)
{
    struct sim *sim = user;
    size_t n;
    const char *body = http_request_body(req, &n);
    sim->stats.confirms++;
    if (n >= 7 && !strncmp(body, "dismiss", 7))
        sim->stats.confirms_dismissed++;
    http_request_respond(req, 204, NULL, NULL, 0);
}

static void h_sim_blocked_click(struct http_request *req, void *user)
{
    struct sim *sim = user;
    sim->stats.blocked_clicks++;
    http_request_respond(req, 204, NULL, NULL, 0);
}

/* ---------------------------------------------------------------- registration */

struct route_def {
    const char *method, *path;
    http_handler_fn fn;
};

static int register_all(struct sim *sim, struct http_server *srv, const struct route_def *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = sim_route(sim, srv, r[i].method, r[i].path, r[i].fn);
        if (rc)
            return rc;
    }
    return 0;
}

int sim_spa_register(struct sim *sim)
{
    static const struct route_def routes[] = {
        {"GET", "/", h_root},
        {"GET", "/app", h_app},
        {"GET", "/app/{view}", h_app},
        {"POST", "/api/login", h_login},
        {"POST", "/api/logout", h_logout},
        {"GET", "/api/session", h_session},
        {"POST", "/api/consultora", h_consultora},
        {"GET", "/api/ciclos", h_ciclos},
        {"POST", "/api/ciclo", h_ciclo},
        {"GET", "/api/cart/frame", h_cart_frame},
        {"GET", "/api/order", h_order},
        {"POST", "/api/cart/submit", h_submit},
        {"POST", "/__sim/route", h_sim_route},
        {"POST", "/__sim/consent", h_sim_consent},
        {"POST", "/__sim/confirm", h_sim_confirm},
        {"POST", "/__sim/blocked-click", h_sim_blocked_click},
    };
    int rc = register_all(sim, sim->srv, routes, sizeof(routes) / sizeof(routes[0]));
    if (!rc && sim->opt.cart_mode != SIM_CART_CROSS)
        rc = sim_route(sim, sim->srv, "GET", "/frame/carrito", h_frame_same);
    return rc;
}

int sim_spa_register_cart_server(struct sim *sim, struct http_server *cart_srv)
{
    int rc = sim_route(sim, cart_srv, "GET", "/frame/carrito", h_frame_cross);
    return rc ? rc : sim_api_register_cart(sim, cart_srv);
}
