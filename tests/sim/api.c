/*
 * api.c — the JSON API the portal's pages call with fetch(): consultora search, reading
 * the cart of the session's consultora|cycle and adding a product to it. It applies the
 * catalogue rules (consultora 99..., product ...99 unknown, ...98 out of stock) and the
 * ghost fault (the addition is applied, then an error is answered anyway). Answers carry
 * "overlay_ms", how long the page keeps its loading overlay after the answer. Both UIs use
 * it; on the cross-origin cart listener the cart routes authenticate by frame token.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

void sim_api_error(struct sim *sim, struct http_request *req, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddNumberToObject(o, "overlay_ms", sim_rand_ui(sim, 100, 600));
    http_request_respond_json(req, status, o);
}

/* Session of an API request, or NULL after answering 401 (the page then goes to /login).
 * The cart listener (another origin) knows no cookie: only the frame's bearer token. */
struct sim_session *sim_api_session(struct sim *sim, struct http_request *req)
{
    sim->stats.api++;
    bool expired;
    struct sim_session *s = http_request_server(req) == sim->cart_srv && sim->cart_srv
                                ? sim_session_by_frame_token(sim, req, &expired)
                                : sim_session_get(sim, req, &expired);
    if (!s)
        sim_api_error(sim, req, 401, expired ? "Sesión expirada" : "No autenticado");
    return s;
}

static void h_consultoras(struct http_request *req, void *user)
{
    struct sim *sim = user;
    if (!sim_api_session(sim, req))
        return;
    const char *q = http_request_query(req, "q");
    char msg[96];
    if (!q || !sim_code_valid(q)) {
        sim_api_error(sim, req, 400, "Ingrese un código de consultora válido");
        return;
    }
    if (!strncmp(q, "99", 2)) {
        snprintf(msg, sizeof(msg), "La consultora %s no existe", q);
        sim_api_error(sim, req, 404, msg);
        return;
    }
    char name[96];
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "consultoras");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "code", q);
    cJSON_AddStringToObject(c, "name", sim_consultora_name(q, name, sizeof(name)));
    cJSON_AddItemToArray(list, c);
    cJSON_AddNumberToObject(o, "overlay_ms", sim_rand_ui(sim, 100, 600));
    http_request_respond_json(req, 200, o);
}

static cJSON *cart_json(struct sim *sim, const struct sim_session *s)
{
    const struct sim_cart *cart = sim_cart_get(sim, s->consultora, s->cycle, false);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "consultora", s->consultora);
    cJSON_AddStringToObject(o, "cycle", s->cycle);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    long total = 0;
    for (size_t i = 0; cart && i < cart->n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "Producto %s", cart->items[i].code);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "code", cart->items[i].code);
        cJSON_AddStringToObject(it, "name", name);
        cJSON_AddNumberToObject(it, "qty", (double)cart->items[i].qty);
        cJSON_AddItemToArray(items, it);
        total += cart->items[i].qty;
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "overlay_ms", sim_rand_ui(sim, 100, 600));
    return o;
}

struct sim_session *sim_api_cart_session(struct sim *sim, struct http_request *req)
{
    struct sim_session *s = sim_api_session(sim, req);
    if (s && (!s->consultora[0] || !s->cycle[0])) {
        sim_api_error(sim, req, 409, "Seleccione consultora y ciclo antes de usar el carrito");
        return NULL;
    }
    return s;
}

static void h_cart(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_cart_session(sim, req);
    if (s)
        http_request_respond_json(req, 200, cart_json(sim, s));
}

/* POST /api/cart/add {"code": "P", "qty": N} */
static void h_cart_add(struct http_request *req, void *user)
{
    struct sim *sim = user;
    struct sim_session *s = sim_api_cart_session(sim, req);
    if (!s)
        return;
    cJSON *in = http_request_body_json(req);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(in, "code");
    const cJSON *qty = cJSON_GetObjectItemCaseSensitive(in, "qty");
    char msg[128];
    if (!cJSON_IsString(code) || !sim_code_valid(code->valuestring)) {
        cJSON_Delete(in);
        sim->stats.add_errors++;
        sim_api_error(sim, req, 400, "Código de producto inválido");
        return;
    }
    char pcode[SIM_CODE_MAX + 1];
    snprintf(pcode, sizeof(pcode), "%s", code->valuestring);
    double q = cJSON_IsNumber(qty) ? qty->valuedouble : 0;
    cJSON_Delete(in);
    if (q < 1 || q > SIM_QTY_MAX || q != (double)(long)q) {
        sim->stats.add_errors++;
        snprintf(msg, sizeof(msg), "Cantidad inválida para el producto %s (1 a %d)", pcode, SIM_QTY_MAX);
        sim_api_error(sim, req, 400, msg);
        return;
    }
    size_t n = strlen(pcode);
    if (n >= 2 && !strcmp(pcode + n - 2, "99")) {
        sim->stats.add_errors++;
        snprintf(msg, sizeof(msg), "El producto %s no existe", pcode);
        sim_api_error(sim, req, 404, msg);
        return;
    }
    if (n >= 2 && !strcmp(pcode + n - 2, "98")) {
        sim->stats.add_errors++;
        snprintf(msg, sizeof(msg), "Producto %s sin stock", pcode);
        sim_api_error(sim, req, 409, msg);
        return;
    }
    struct sim_cart *cart = sim_cart_get(sim, s->consultora, s->cycle, true);
    if (!cart || sim_cart_add(cart, pcode, (long)q) < 0) {
        sim_api_error(sim, req, 500, "out of memory");
        return;
    }
    sim->stats.adds++;
    if (sim_rand_fault(sim) < sim->opt.ghost_rate) {
        /* Applied, but the answer says otherwise: the lost response of a real portal. */
        sim->stats.ghosts++;
        sim_api_error(sim, req, 504, "No se pudo confirmar la operación. Intente nuevamente.");
        return;
    }
    http_request_respond_json(req, 200, cart_json(sim, s));
}

int sim_api_register(struct sim *sim)
{
    struct {
        const char *method, *path;
        http_handler_fn fn;
    } routes[] = {
        {"GET", "/api/consultoras", h_consultoras},
        {"GET", "/api/cart", h_cart},
        {"POST", "/api/cart/add", h_cart_add},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = sim_route(sim, sim->srv, routes[i].method, routes[i].path, routes[i].fn);
        if (rc)
            return rc;
    }
    return 0;
}

/* The cart routes again, on the cross-origin cart listener. */
int sim_api_register_cart(struct sim *sim, struct http_server *cart_srv)
{
    int rc = sim_route(sim, cart_srv, "GET", "/api/cart", h_cart);
    return rc ? rc : sim_route(sim, cart_srv, "POST", "/api/cart/add", h_cart_add);
}
