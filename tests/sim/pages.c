/*
 * pages.c — the simulator's HTML pages: login (form post, session cookie), logout,
 * consultora search and selection, cycle choice and the cart page. Pages share one layout
 * (top bar with #logout when logged in, the loading #overlay, the #error-dialog) and one
 * script, /static/app.js. Pages that need a session send the browser to /login when it is
 * missing or expired; the ids and classes here are the contract of tests/sim/README.md.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

struct layout {
    const char *title;
    const char *page; /* body data-page: which part of app.js runs */
    bool logged_in;
    unsigned overlay_ms; /* overlay shown on load for this long (0 = none) */
    unsigned late_ms;    /* delay before late-rendered parts appear */
    int step;            /* highlighted step in the breadcrumb (0 = none) */
};

static void page_open(struct sim *sim, struct sim_buf *b, const struct layout *l)
{
    sim_buf_printf(b,
                   "<!doctype html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>GSP · %s</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n"
                   "<body data-page=\"%s\" data-overlay-ms=\"%u\" data-late-ms=\"%u\">\n"
                   "<header class=\"topbar\"><img class=\"logo\" src=\"/static/logo.png\" alt=\"GSP\">"
                   "<span class=\"brand\">GSP · Gestión de Pedidos</span>",
                   l->title, l->page, l->overlay_ms, l->late_ms);
    if (l->logged_in) {
        sim_buf_puts(b, "<span class=\"who\" id=\"user-name\">");
        sim_buf_escape(b, sim->opt.user);
        sim_buf_puts(b, "</span><a id=\"logout\" href=\"/logout\">Cerrar sesión</a>");
    }
    sim_buf_puts(b, "</header>\n");
    if (l->step) {
        static const char *const steps[] = {"1. Consultora", "2. Ciclo", "3. Carrito"};
        sim_buf_puts(b, "<nav class=\"steps\">");
        for (int i = 0; i < 3; i++)
            sim_buf_printf(b, "<span%s>%s</span>", i + 1 == l->step ? " class=\"on\"" : "", steps[i]);
        sim_buf_puts(b, "</nav>\n");
    }
    sim_buf_puts(b, "<main>\n");
}

static void page_close(struct sim_buf *b)
{
    sim_buf_puts(b, "</main>\n"
                    "<div id=\"overlay\" class=\"overlay\" hidden><div class=\"box\">Cargando…</div></div>\n"
                    "<div id=\"dialog-backdrop\" class=\"backdrop\" hidden></div>\n"
                    "<div id=\"error-dialog\" class=\"dialog\" role=\"alertdialog\" hidden><h2>Error</h2>"
                    "<p id=\"error-message\" class=\"alert alert-error\"></p>"
                    "<button id=\"close-error\" type=\"button\">Cerrar</button></div>\n"
                    "<script src=\"/static/app.js\"></script>\n</body></html>\n");
}

static void page_send(struct sim *sim, struct http_request *req, int status, struct sim_buf *b)
{
    sim->stats.pages++;
    if (b->oom) {
        sim_buf_cleanup(b);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    if (http_request_add_header(req, "Cache-Control", "no-store") != 0) {
        sim_buf_cleanup(b);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    http_request_respond(req, status, "text/html; charset=utf-8", b->p, b->len);
    sim_buf_cleanup(b);
}

/* Session of a page request, or NULL after redirecting the browser to the login page. */
static struct sim_session *require_session(struct sim *sim, struct http_request *req)
{
    bool expired;
    struct sim_session *s = sim_session_get(sim, req, &expired);
    if (!s) {
        sim->stats.pages++;
        http_request_redirect(req, 303, expired ? "/login?expired=1" : "/login");
    }
    return s;
}

/* ---------------------------------------------------------------- login */

static void render_login(struct sim *sim, struct http_request *req, int status, bool bad, bool expired)
{
    struct sim_buf b = {0};
    struct layout l = {.title = "Ingreso", .page = "login"};
    page_open(sim, &b, &l);
    sim_buf_puts(&b, "<div class=\"card narrow\"><h1>Ingreso al portal</h1>\n");
    if (bad)
        sim_buf_puts(&b,
                     "<div id=\"login-error\" class=\"alert alert-error\">Usuario o contraseña incorrectos</div>\n");
    if (expired)
        sim_buf_puts(
            &b, "<div id=\"session-expired\" class=\"alert alert-info\">Su sesión expiró. Ingrese nuevamente.</div>\n");
    sim_buf_puts(&b, "<form id=\"login-form\" method=\"post\" action=\"/login\">"
                     "<label for=\"user\">Código de usuario</label>"
                     "<input id=\"user\" name=\"user\" autocomplete=\"username\">"
                     "<label for=\"password\">Contraseña</label>"
                     "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">"
                     "<button type=\"submit\" class=\"primary\">Ingresar</button></form></div>\n");
    page_close(&b);
    page_send(sim, req, status, &b);
}

static void h_login_get(struct http_request *req, void *user)
{
    render_login(user, req, 200, false, http_request_query(req, "expired") != NULL);
}

/* Compares without an early exit on the first difference. */
static bool secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static void h_login_post(struct http_request *req, void *user)
{
    struct sim *sim = user;
    const char *u = http_request_form(req, "user");
    const char *p = http_request_form(req, "password");
    if (!u || !p || strcmp(u, sim->opt.user) != 0 || !secret_equal(p, sim->opt.password)) {
        sim->stats.login_failures++;
        render_login(sim, req, 200, true, false);
        return;
    }
    /* A new login replaces the browser's previous session, if any. */
    struct sim_session *old = sim_session_get(sim, req, NULL);
    if (old)
        sim_session_drop(sim, old);
    struct sim_session *s = sim_session_create(sim);
    if (!s || http_request_set_cookie(req, SIM_SESSION_COOKIE, s->token, -1) != 0) {
        http_request_respond_error(req, 500, "cannot create session");
        return;
    }
    sim->stats.logins++;
    sim->stats.pages++;
    http_request_redirect(req, 303, "/consultoras");
}

static void h_logout(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_session_get(sim, req, NULL);
    if (s) {
        sim_session_drop(sim, s);
        sim->stats.logouts++;
    }
    sim->stats.pages++;
    if (http_request_set_cookie(req, SIM_SESSION_COOKIE, "", 0) != 0) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    http_request_redirect(req, 303, "/login");
}

static void h_root(struct http_request *req, void *user)
{
    struct sim *sim = user;
    if (require_session(sim, req)) {
        sim->stats.pages++;
        http_request_redirect(req, 303, "/consultoras");
    }
}

/* ---------------------------------------------------------------- consultoras */

static void render_consultoras(struct sim *sim, struct http_request *req, const struct sim_session *s,
                               const char *error)
{
    struct sim_buf b = {0};
    struct layout l = {.title = "Consultoras", .page = "consultoras", .logged_in = true, .step = 1};
    page_open(sim, &b, &l);
    sim_buf_puts(&b, "<div class=\"card\"><h1>Seleccionar consultora</h1>\n");
    if (s->consultora[0]) {
        char name[96];
        sim_buf_printf(
            &b, "<p class=\"context\">Consultora actual: <strong id=\"current-consultora\" data-code=\"%s\">%s · ",
            s->consultora, s->consultora);
        sim_buf_escape(&b, sim_consultora_name(s->consultora, name, sizeof(name)));
        sim_buf_puts(&b, "</strong></p>\n");
    }
    sim_buf_puts(
        &b, "<form id=\"search-form\" class=\"row\"><div><label for=\"consultora-search\">Código de consultora</label>"
            "<input id=\"consultora-search\" name=\"q\" inputmode=\"numeric\" autocomplete=\"off\"></div>"
            "<div><button id=\"search\" type=\"submit\" class=\"primary\">Buscar</button></div></form>\n");
    sim_buf_puts(&b, "<div id=\"search-error\" class=\"alert alert-error\"");
    if (error) {
        sim_buf_puts(&b, ">");
        sim_buf_escape(&b, error);
    } else {
        sim_buf_puts(&b, " hidden>");
    }
    sim_buf_puts(&b, "</div>\n<table id=\"results\" class=\"grid\"><thead><tr><th>Código</th><th>Nombre</th>"
                     "<th></th></tr></thead><tbody></tbody></table></div>\n");
    page_close(&b);
    page_send(sim, req, 200, &b);
}

static void h_consultoras(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = require_session(sim, req);
    if (s)
        render_consultoras(sim, req, s, NULL);
}

/* GET /consultoras/seleccionar?code=C: selects the consultora for this session. */
static void h_consultora_select(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = require_session(sim, req);
    if (!s)
        return;
    const char *code = http_request_query(req, "code");
    char msg[96];
    if (!code || !sim_code_valid(code)) {
        render_consultoras(sim, req, s, "Código de consultora inválido");
        return;
    }
    if (!strncmp(code, "99", 2)) {
        snprintf(msg, sizeof(msg), "La consultora %s no existe", code);
        render_consultoras(sim, req, s, msg);
        return;
    }
    snprintf(s->consultora, sizeof(s->consultora), "%s", code);
    s->cycle[0] = '\0';
    sim->stats.pages++;
    http_request_redirect(req, 303, "/ciclo");
}

/* ---------------------------------------------------------------- cycle */

static void render_ciclo(struct sim *sim, struct http_request *req, const struct sim_session *s, const char *error)
{
    struct sim_buf b = {0};
    struct layout l = {.title = "Ciclo",
                       .page = "ciclo",
                       .logged_in = true,
                       .step = 2,
                       .overlay_ms = sim_rand_ui(sim, 100, 600),
                       .late_ms = sim_rand_ui(sim, 100, 400)};
    page_open(sim, &b, &l);
    char name[96];
    sim_buf_printf(&b,
                   "<div class=\"card\"><h1>Ciclo de venta</h1>\n<p class=\"context\">Consultora: "
                   "<strong id=\"current-consultora\" data-code=\"%s\">%s · ",
                   s->consultora, s->consultora);
    sim_buf_escape(&b, sim_consultora_name(s->consultora, name, sizeof(name)));
    sim_buf_puts(&b, "</strong> <a href=\"/consultoras\" id=\"change-consultora\">Cambiar</a></p>\n");
    if (error) {
        sim_buf_puts(&b, "<div id=\"cycle-error\" class=\"alert alert-error\">");
        sim_buf_escape(&b, error);
        sim_buf_puts(&b, "</div>\n");
    }
    sim_buf_printf(&b, "<div id=\"cycle-area\" data-cycles=\"%s\"></div></div>\n", sim->opt.cycles);
    page_close(&b);
    page_send(sim, req, 200, &b);
}

static struct sim_session *require_consultora(struct sim *sim, struct http_request *req)
{
    struct sim_session *s = require_session(sim, req);
    if (s && !s->consultora[0]) {
        sim->stats.pages++;
        http_request_redirect(req, 303, "/consultoras");
        return NULL;
    }
    return s;
}

static void h_ciclo_get(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = require_consultora(sim, req);
    if (s)
        render_ciclo(sim, req, s, NULL);
}

static void h_ciclo_post(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = require_consultora(sim, req);
    if (!s)
        return;
    const char *cycle = http_request_form(req, "cycle");
    if (!cycle || !*cycle) {
        render_ciclo(sim, req, s, "Seleccione un ciclo");
        return;
    }
    if (strlen(cycle) >= sizeof(s->cycle) || !sim_cycle_offered(sim, cycle)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "El ciclo %.20s no está habilitado", cycle);
        render_ciclo(sim, req, s, msg);
        return;
    }
    snprintf(s->cycle, sizeof(s->cycle), "%s", cycle);
    sim->stats.pages++;
    http_request_redirect(req, 303, "/carrito");
}

/* ---------------------------------------------------------------- cart */

static void h_carrito(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = require_consultora(sim, req);
    if (!s)
        return;
    if (!s->cycle[0]) {
        sim->stats.pages++;
        http_request_redirect(req, 303, "/ciclo");
        return;
    }
    struct sim_buf b = {0};
    struct layout l = {.title = "Carrito",
                       .page = "carrito",
                       .logged_in = true,
                       .step = 3,
                       .overlay_ms = sim_rand_ui(sim, 100, 600),
                       .late_ms = sim_rand_ui(sim, 100, 400)};
    page_open(sim, &b, &l);
    char name[96];
    sim_buf_printf(&b,
                   "<div class=\"card\"><h1>Carrito de pedido</h1>\n<p class=\"context\">Consultora "
                   "<strong id=\"current-consultora\" data-code=\"%s\">%s · ",
                   s->consultora, s->consultora);
    sim_buf_escape(&b, sim_consultora_name(s->consultora, name, sizeof(name)));
    sim_buf_printf(&b, "</strong> · Ciclo <strong id=\"current-cycle\" data-cycle=\"%s\">%s</strong></p>\n", s->cycle,
                   s->cycle);
    sim_buf_puts(&b, "<form id=\"add-form\" class=\"row\">"
                     "<div><label for=\"code\">Código de producto</label><input id=\"code\" name=\"code\" "
                     "autocomplete=\"off\"></div>"
                     "<div><label for=\"qty\">Cantidad</label><input id=\"qty\" name=\"qty\" type=\"number\" min=\"1\" "
                     "max=\"999\" value=\"1\"></div>"
                     "<div><button id=\"add\" type=\"submit\" class=\"primary\">Agregar</button></div></form>\n"
                     "<div id=\"add-status\" class=\"alert alert-ok\" hidden></div>\n"
                     "<table id=\"cart\" class=\"grid\" data-loaded=\"0\"><thead><tr><th></th><th>Código</th>"
                     "<th>Producto</th><th>Cantidad</th></tr></thead><tbody></tbody></table>\n"
                     "<p class=\"total\">Total de unidades: <span id=\"cart-total\">0</span></p></div>\n");
    page_close(&b);
    page_send(sim, req, 200, &b);
}

int sim_pages_register(struct sim *sim)
{
    struct {
        const char *method, *path;
        http_handler_fn fn;
    } routes[] = {
        {"GET", "/", h_root},
        {"GET", "/login", h_login_get},
        {"POST", "/login", h_login_post},
        {"GET", "/logout", h_logout},
        {"GET", "/consultoras", h_consultoras},
        {"GET", "/consultoras/seleccionar", h_consultora_select},
        {"GET", "/ciclo", h_ciclo_get},
        {"POST", "/ciclo", h_ciclo_post},
        {"GET", "/carrito", h_carrito},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = sim_route(sim, sim->srv, routes[i].method, routes[i].path, routes[i].fn);
        if (rc)
            return rc;
    }
    return 0;
}
