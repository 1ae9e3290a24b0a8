/*
 * test_sim.c — gspbot-sim as a black box: each test spawns the real binary on an
 * ephemeral port, reads "listening on URL" from its stdout and talks HTTP with libcurl
 * (cookie jar per simulated browser). Covers login, session expiry, the cart API and its
 * accumulation, catalogue rules, ghost and fail faults, /__sim endpoints, seeded
 * reproducibility, slow answers, 50 concurrent clients and graceful SIGTERM; then the modern UI
 * (--ui modern) as far as it can be seen without a browser: the one document for every route,
 * its API over the same state, rules and faults, order submission, the cross-origin cart
 * listener (frame tokens, no cookies, no CORS) and the interruption hooks. The modern UI in a
 * real browser: tests/sim/smoke/modern_smoke.js.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

extern char **environ;

/* Simulators still running, so a failed test (cmocka jumps out of it) leaves none behind. */
static pid_t live_pids[8];

static void track_pid(pid_t pid, bool add)
{
    for (size_t i = 0; i < 8; i++)
        if (add ? live_pids[i] == 0 : live_pids[i] == pid) {
            live_pids[i] = add ? pid : 0;
            return;
        }
}

static int kill_leftovers(void **state)
{
    for (size_t i = 0; i < 8; i++)
        if (live_pids[i] > 0) {
            kill(live_pids[i], SIGKILL);
            waitpid(live_pids[i], NULL, 0);
            live_pids[i] = 0;
        }
    return 0;
}

struct simproc {
    pid_t pid;
    char base[64];
    char cart[64]; /* with --cart-origin: the cart listener, as http://127.0.0.1:PORT */
    int cart_port;
    char errfile[64];
};

/* Reads one line (without its newline) from fd. */
static void read_line(int fd, char *line, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t r = read(fd, line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
}

/* Starts gspbot-sim with `args` (NULL-terminated) and GSP_PASSWORD=env_password (unset
 * when NULL); fails the test if it does not report its URL. */
static void sim_start(struct simproc *s, const char *env_password, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = GSPBOT_SIM_PATH;
    argv[n++] = "--port";
    argv[n++] = "0";
    for (int i = 0; args && args[i] && n < 30; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    char *envp[256];
    int e = 0;
    for (char **p = environ; *p && e < 250; p++)
        if (strncmp(*p, "GSP_PASSWORD=", 13) != 0)
            envp[e++] = *p;
    char pwenv[160];
    if (env_password) {
        snprintf(pwenv, sizeof(pwenv), "GSP_PASSWORD=%s", env_password);
        envp[e++] = pwenv;
    }
    envp[e] = NULL;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    snprintf(s->errfile, sizeof(s->errfile), "/tmp/gspbot-sim-test-XXXXXX");
    int errfd = mkstemp(s->errfile);
    assert_true(errfd >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    close(errfd);
    assert_int_equal(rc, 0);
    track_pid(s->pid, true);
    char line[256];
    read_line(fds[0], line, sizeof(line));
    const char *prefix = "listening on ";
    if (strncmp(line, prefix, strlen(prefix)) != 0) {
        close(fds[0]);
        fail_msg("gspbot-sim did not report its URL; first line: \"%s\"", line);
    }
    snprintf(s->base, sizeof(s->base), "%s", line + strlen(prefix));
    s->cart[0] = '\0';
    s->cart_port = 0;
    bool cross = false;
    for (int i = 0; args && args[i]; i++)
        cross |= !strcmp(args[i], "--cart-origin") && args[i + 1] && strcmp(args[i + 1], "same") != 0;
    if (cross) {
        read_line(fds[0], line, sizeof(line));
        const char *p2 = "cart origin http://";
        const char *colon = strncmp(line, p2, strlen(p2)) == 0 ? strrchr(line, ':') : NULL;
        if (!colon) {
            close(fds[0]);
            fail_msg("gspbot-sim did not report its cart origin; second line: \"%s\"", line);
        }
        s->cart_port = (int)strtol(colon + 1, NULL, 10);
        snprintf(s->cart, sizeof(s->cart), "http://127.0.0.1:%d", s->cart_port);
    }
    close(fds[0]);
}

/* SIGTERM and wait; returns the exit status (the simulator exits 0 on a graceful stop). */
static int sim_stop(struct simproc *s)
{
    int status = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &status, 0);
        track_pid(s->pid, false);
        s->pid = 0;
    }
    unlink(s->errfile);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* ---------------------------------------------------------------- HTTP client */

struct browser {
    CURL *c;
    const struct simproc *sim;
};

struct reply {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    size_t hlen;
    double seconds;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = sz * n;
    char *nb = realloc(r->body, r->len + len + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = sz * n;
    size_t room = sizeof(r->headers) - 1 - r->hlen;
    size_t c = len < room ? len : room;
    memcpy(r->headers + r->hlen, p, c);
    r->hlen += c;
    r->headers[r->hlen] = '\0';
    return len;
}

static void reply_free(struct reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void browser_init(struct browser *b, const struct simproc *sim)
{
    b->sim = sim;
    b->c = curl_easy_init();
    curl_easy_setopt(b->c, CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine */
}

static void browser_cleanup(struct browser *b)
{
    curl_easy_cleanup(b->c);
}

/* method NULL = GET (or POST when body given); ctype NULL = form when body given. `base` is the
 * server's URL (the simulator's, or its cart listener's); `extra` more request headers
 * ("Name: value", NULL-terminated) or NULL. The cookie jar is the browser's either way (cookies
 * do not care about ports, as in a real browser). */
static long request_to(struct browser *b, const char *base, const char *method, const char *path, const char *ctype,
                       const char *body, const char *const *extra, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    CURL *c = b->c;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    struct curl_slist *h = NULL;
    for (int i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    char ct[128];
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/x-www-form-urlencoded");
        h = curl_slist_append(h, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_slist_free_all(h);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method ? method : "GET", path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    if (!r->body)
        r->body = strdup("");
    return r->status;
}

static long request(struct browser *b, const char *method, const char *path, const char *ctype, const char *body,
                    struct reply *r)
{
    return request_to(b, b->sim->base, method, path, ctype, body, NULL, r);
}

static void login(struct browser *b, const char *user, const char *password)
{
    char form[256];
    snprintf(form, sizeof(form), "user=%s&password=%s", user, password);
    struct reply r;
    assert_int_equal(request(b, NULL, "/login", NULL, form, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /consultoras"));
    reply_free(&r);
}

/* Logs in, selects consultora and cycle: the browser is then on the cart page. */
static void walk_to_cart(struct browser *b, const char *consultora, const char *cycle)
{
    login(b, "demo", "demo");
    struct reply r;
    char path[128];
    snprintf(path, sizeof(path), "/consultoras/seleccionar?code=%s", consultora);
    assert_int_equal(request(b, NULL, path, NULL, NULL, &r), 303);
    reply_free(&r);
    char form[64];
    snprintf(form, sizeof(form), "cycle=%s", cycle);
    assert_int_equal(request(b, NULL, "/ciclo", NULL, form, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /carrito"));
    reply_free(&r);
}

static long add_item(struct browser *b, const char *code, int qty, struct reply *r)
{
    char js[128];
    snprintf(js, sizeof(js), "{\"code\":\"%s\",\"qty\":%d}", code, qty);
    return request(b, NULL, "/api/cart/add", "application/json", js, r);
}

/* GET /__sim/state parsed; caller frees. */
static cJSON *sim_state(struct browser *b)
{
    struct reply r;
    assert_int_equal(request(b, NULL, "/__sim/state", NULL, NULL, &r), 200);
    cJSON *j = cJSON_Parse(r.body);
    reply_free(&r);
    assert_non_null(j);
    return j;
}

static double state_qty(cJSON *st, const char *cart, const char *product)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "carts"), cart);
    cJSON *q = cJSON_GetObjectItemCaseSensitive(c, product);
    return cJSON_IsNumber(q) ? q->valuedouble : -1;
}

static double state_stat(cJSON *st, const char *name)
{
    cJSON *q = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "stats"), name);
    return cJSON_IsNumber(q) ? q->valuedouble : -1;
}

/* ---------------------------------------------------------------- tests */

static void test_login_wrong_then_right_sets_session_cookie(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--user", "sup01", NULL});
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/login", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "id=\"login-form\""));
    assert_non_null(strstr(r.body, "id=\"user\""));
    assert_non_null(strstr(r.body, "id=\"password\""));
    assert_non_null(strstr(r.body, "button type=\"submit\""));
    assert_null(strstr(r.body, "id=\"logout\""));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/login", NULL, "user=sup01&password=wrong", &r), 200);
    assert_non_null(strstr(r.body, "id=\"login-error\""));
    assert_non_null(strstr(r.body, "Usuario o contraseña incorrectos"));
    assert_null(strcasestr(r.headers, "set-cookie"));
    reply_free(&r);
    login(&b, "sup01", "demo");
    assert_int_equal(request(&b, NULL, "/consultoras", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "id=\"logout\""));
    assert_non_null(strstr(r.body, "id=\"consultora-search\""));
    reply_free(&r);
    /* logout ends the session */
    assert_int_equal(request(&b, NULL, "/logout", NULL, NULL, &r), 303);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/consultoras", NULL, NULL, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /login"));
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "logins"), 1);
    assert_int_equal((int)state_stat(st, "login_failures"), 1);
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_password_from_env_is_used_and_never_printed(void **state)
{
    struct simproc s;
    sim_start(&s, "s3cr3t-Pw!x", NULL);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/login", NULL, "user=demo&password=demo", &r), 200);
    assert_non_null(strstr(r.body, "login-error"));
    reply_free(&r);
    login(&b, "demo", "s3cr3t-Pw%21x");
    assert_int_equal(request(&b, NULL, "/__sim/config", NULL, NULL, &r), 200);
    assert_null(strstr(r.body, "s3cr3t"));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_pages_without_session_redirect_to_login(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, NULL);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    const char *pages[] = {"/", "/consultoras", "/ciclo", "/carrito"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(request(&b, NULL, pages[i], NULL, NULL, &r), 303);
        assert_non_null(strcasestr(r.headers, "location: /login"));
        reply_free(&r);
    }
    assert_int_equal(request(&b, NULL, "/api/cart", NULL, NULL, &r), 401);
    reply_free(&r);
    /* logged in but no consultora yet: the cart sends you to choose one */
    login(&b, "demo", "demo");
    assert_int_equal(request(&b, NULL, "/carrito", NULL, NULL, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /consultoras"));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_session_cookie_expires_after_ttl(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--session-ttl-s", "1", NULL});
    struct browser b;
    browser_init(&b, &s);
    walk_to_cart(&b, "12345", "202406");
    struct reply r;
    assert_int_equal(request(&b, NULL, "/carrito", NULL, NULL, &r), 200);
    reply_free(&r);
    usleep(1200 * 1000);
    assert_int_equal(request(&b, NULL, "/carrito", NULL, NULL, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /login?expired=1"));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/login?expired=1", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "id=\"session-expired\""));
    assert_non_null(strstr(r.body, "id=\"login-form\""));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 1, &r), 401);
    reply_free(&r);
    /* /__sim/expire-sessions ends a fresh session at once */
    walk_to_cart(&b, "12345", "202406");
    assert_int_equal(request(&b, "POST", "/__sim/expire-sessions", NULL, "", &r), 200);
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 1, &r), 401);
    assert_non_null(strstr(r.body, "Sesión expirada"));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_cart_add_accumulates_and_survives_relogin(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, NULL);
    struct browser b;
    browser_init(&b, &s);
    walk_to_cart(&b, "12345678", "202406");
    struct reply r;
    assert_int_equal(request(&b, NULL, "/carrito", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "id=\"code\""));
    assert_non_null(strstr(r.body, "id=\"qty\""));
    assert_non_null(strstr(r.body, "id=\"add\""));
    assert_non_null(strstr(r.body, "id=\"cart\""));
    assert_non_null(strstr(r.body, "data-cycle=\"202406\""));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 2, &r), 200);
    assert_non_null(strstr(r.body, "\"qty\":2"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 3, &r), 200);
    assert_non_null(strstr(r.body, "\"qty\":5"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "A-77", 1, &r), 200);
    reply_free(&r);
    /* new login, same consultora and cycle: the cart is still there */
    struct browser b2;
    browser_init(&b2, &s);
    walk_to_cart(&b2, "12345678", "202406");
    assert_int_equal(request(&b2, NULL, "/api/cart", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"code\":\"80901\""));
    assert_non_null(strstr(r.body, "\"total\":6"));
    reply_free(&r);
    /* another cycle is another cart */
    walk_to_cart(&b2, "12345678", "202407");
    assert_int_equal(request(&b2, NULL, "/api/cart", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"items\":[]"));
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "12345678|202406", "80901"), 5);
    assert_int_equal((int)state_qty(st, "12345678|202406", "A-77"), 1);
    assert_int_equal((int)state_stat(st, "adds"), 3);
    cJSON_Delete(st);
    browser_cleanup(&b);
    browser_cleanup(&b2);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_catalogue_rules_99_and_98(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, NULL);
    struct browser b;
    browser_init(&b, &s);
    login(&b, "demo", "demo");
    struct reply r;
    assert_int_equal(request(&b, NULL, "/api/consultoras?q=99123", NULL, NULL, &r), 404);
    assert_non_null(strstr(r.body, "La consultora 99123 no existe"));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/consultoras?q=12399", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"code\":\"12399\""));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/consultoras/seleccionar?code=99123", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "id=\"search-error\" class=\"alert alert-error\">La consultora 99123 no existe"));
    reply_free(&r);
    /* an unknown cycle is refused on the page */
    assert_int_equal(request(&b, NULL, "/consultoras/seleccionar?code=555", NULL, NULL, &r), 303);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/ciclo", NULL, "cycle=199901", &r), 200);
    assert_non_null(strstr(r.body, "id=\"cycle-error\""));
    reply_free(&r);
    walk_to_cart(&b, "555", "202406");
    assert_int_equal(add_item(&b, "12399", 1, &r), 404);
    assert_non_null(strstr(r.body, "El producto 12399 no existe"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "12398", 1, &r), 409);
    assert_non_null(strstr(r.body, "Producto 12398 sin stock"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "12397", 0, &r), 400);
    reply_free(&r);
    assert_int_equal(add_item(&b, "12397", 1000, &r), 400);
    reply_free(&r);
    assert_int_equal(add_item(&b, "bad code", 1, &r), 400);
    reply_free(&r);
    assert_int_equal(add_item(&b, "99123", 1, &r), 200); /* 99 only matters at the end */
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "555|202406", "12399"), -1);
    assert_int_equal((int)state_qty(st, "555|202406", "12398"), -1);
    assert_int_equal((int)state_qty(st, "555|202406", "99123"), 1);
    assert_int_equal((int)state_stat(st, "add_errors"), 5);
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_ghost_rate_applies_then_answers_error(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--ghost-rate", "1", "--seed", "3", NULL});
    struct browser b;
    browser_init(&b, &s);
    walk_to_cart(&b, "4242", "202406");
    struct reply r;
    assert_int_equal(add_item(&b, "80901", 2, &r), 504);
    assert_non_null(strstr(r.body, "Intente nuevamente"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 2, &r), 504);
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "4242|202406", "80901"), 4); /* both applied */
    assert_int_equal((int)state_stat(st, "ghosts"), 2);
    assert_int_equal((int)state_stat(st, "adds"), 2);
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_fail_rate_answers_503_on_pages_and_api_only(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--fail-rate", "1", NULL});
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/login", NULL, NULL, &r), 503);
    assert_non_null(strstr(r.body, "<h1>Servicio no disponible</h1>"));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/cart", NULL, NULL, &r), 503);
    assert_non_null(strstr(r.body, "\"error\":\"Servicio no disponible\""));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/static/app.js", NULL, NULL, &r), 200);
    assert_non_null(strcasestr(r.headers, "content-type: application/javascript"));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/static/logo.png", NULL, NULL, &r), 200);
    assert_int_equal(memcmp(r.body, "\x89PNG", 4), 0);
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "failures"), 2);
    assert_int_equal((int)state_stat(st, "requests"), 4);
    cJSON_Delete(st);
    /* faults can be switched off at run time */
    assert_int_equal(request(&b, NULL, "/__sim/config", "application/json", "{\"fail_rate\": 0}", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/login", NULL, NULL, &r), 200);
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_state_prefill_and_reset(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, NULL);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    const char *fill = "{\"consultora\":\"777\",\"cycle\":\"202406\",\"products\":{\"80901\":1,\"80902\":2}}";
    assert_int_equal(request(&b, NULL, "/__sim/cart", "application/json", fill, &r), 200);
    reply_free(&r);
    /* the portal shows the pre-filled cart, and adds on top of it */
    walk_to_cart(&b, "777", "202406");
    assert_int_equal(add_item(&b, "80901", 1, &r), 200);
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "777|202406", "80901"), 2);
    assert_int_equal((int)state_qty(st, "777|202406", "80902"), 2);
    cJSON_Delete(st);
    assert_int_equal(request(&b, NULL, "/__sim/cart", "application/json", "{\"consultora\":\"777\"}", &r), 400);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/__sim/overlay-click", NULL, "", &r), 204);
    reply_free(&r);
    st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "overlay_clicks"), 1);
    cJSON_Delete(st);
    assert_int_equal(request(&b, NULL, "/__sim/reset", NULL, "", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/__sim/state", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"carts\":{}"));
    assert_non_null(strstr(r.body, "\"requests\":0"));
    assert_non_null(strstr(r.body, "\"overlay_clicks\":0"));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

/* Status codes of 40 GET /login as a string of 'o' (200) and 'x' (503). */
static void fault_sequence(struct browser *b, char *out)
{
    struct reply r;
    for (int i = 0; i < 40; i++) {
        long st = request(b, NULL, "/login", NULL, NULL, &r);
        out[i] = st == 200 ? 'o' : st == 503 ? 'x' : '?';
        reply_free(&r);
    }
    out[40] = '\0';
}

static void test_seed_reproduces_fault_sequence(void **state)
{
    const char *const args42[] = {"--fail-rate", "0.5", "--seed", "42", NULL};
    const char *const args43[] = {"--fail-rate", "0.5", "--seed", "43", NULL};
    char a[41], a2[41], b2s[41], c[41];
    struct simproc s1, s2, s3;
    struct browser b;
    sim_start(&s1, NULL, args42);
    browser_init(&b, &s1);
    fault_sequence(&b, a);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/__sim/reset", NULL, "", &r), 200);
    reply_free(&r);
    fault_sequence(&b, a2);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s1), 0);
    sim_start(&s2, NULL, args42);
    browser_init(&b, &s2);
    fault_sequence(&b, b2s);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s2), 0);
    sim_start(&s3, NULL, args43);
    browser_init(&b, &s3);
    fault_sequence(&b, c);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s3), 0);
    print_message("seed 42: %s\nseed 43: %s\n", a, c);
    assert_string_equal(a, b2s);
    assert_string_equal(a, a2);
    assert_string_not_equal(a, c);
    assert_non_null(strchr(a, 'x'));
    assert_non_null(strchr(a, 'o'));
}

struct slow_arg {
    const struct simproc *sim;
    long status;
    double seconds;
};

static void *slow_client(void *arg)
{
    struct slow_arg *a = arg;
    struct browser b;
    browser_init(&b, a->sim);
    struct reply r;
    a->status = request(&b, NULL, "/login", NULL, NULL, &r);
    a->seconds = r.seconds;
    reply_free(&r);
    browser_cleanup(&b);
    return NULL;
}

static void test_slow_answers_do_not_block_other_clients(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--slow-rate", "1", "--slow-ms", "1500", NULL});
    struct slow_arg a = {.sim = &s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_client, &a), 0);
    usleep(150 * 1000);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(request(&b, NULL, "/static/style.css", NULL, NULL, &r), 200);
        assert_true(r.seconds < 0.5);
        reply_free(&r);
    }
    pthread_join(t, NULL);
    assert_int_equal(a.status, 200);
    assert_true(a.seconds >= 1.4);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "slow"), 1);
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_fifty_concurrent_clients_are_served(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--slow-rate", "1", "--slow-ms", "300", NULL});
    CURLM *m = curl_multi_init();
    struct reply rs[50];
    CURL *e[50];
    char url[128];
    snprintf(url, sizeof(url), "%s/login", s.base);
    for (int i = 0; i < 50; i++) {
        memset(&rs[i], 0, sizeof(rs[i]));
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &rs[i]);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        long st = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &st);
        ok += st == 200 && rs[i].body && strstr(rs[i].body, "login-form");
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
        reply_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("50 concurrent slow (300 ms) page loads in %.2f s\n", took);
    assert_int_equal(ok, 50);
    assert_true(took < 3.0); /* serially: 15 s */
    assert_int_equal(sim_stop(&s), 0);
}

static void test_bad_arguments_exit_2(void **state)
{
    const char *cases[][4] = {
        {"--fail-rate", "1.5", NULL, NULL},   {"--port", "70000", NULL, NULL}, {"--seed", "abc", NULL, NULL},
        {"--session-ttl-s", "0", NULL, NULL}, {"extra", NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[6] = {GSPBOT_SIM_PATH, cases[i][0], cases[i][1], cases[i][2], NULL, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
    }
}

static void test_stderr_banner_has_seed_not_password(void **state)
{
    struct simproc s;
    sim_start(&s, "Very-Secret-77", (const char *const[]){"--seed", "99", NULL});
    usleep(100 * 1000);
    char path[64];
    snprintf(path, sizeof(path), "%s", s.errfile);
    char *err = slurp(path);
    assert_non_null(strstr(err, "seed 99"));
    assert_null(strstr(err, "Very-Secret-77"));
    free(err);
    assert_int_equal(sim_stop(&s), 0);
}

/* ---------------------------------------------------------------- modern UI */

static const char *const MODERN[] = {"--ui", "modern", NULL};

/* The JSON body of a reply; caller frees. Fails the test when it is not JSON. */
static cJSON *reply_json(const struct reply *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j)
        fail_msg("not JSON: %s", r->body);
    return j;
}

/* POST a JSON body to the simulator; returns the status. */
static long post_json(struct browser *b, const char *path, const char *json, struct reply *r)
{
    return request(b, NULL, path, "application/json", json, r);
}

static void modern_login(struct browser *b)
{
    struct reply r;
    assert_int_equal(post_json(b, "/api/login", "{\"user\":\"demo\",\"password\":\"demo\"}", &r), 200);
    assert_non_null(strcasestr(r.headers, "set-cookie: GSPSESSID="));
    reply_free(&r);
}

/* Logs in through the modern API and chooses consultora and cycle: the app is then on its cart. */
static void modern_walk_to_cart(struct browser *b, const char *consultora, const char *cycle)
{
    modern_login(b);
    struct reply r;
    char js[96];
    snprintf(js, sizeof(js), "{\"code\":\"%s\"}", consultora);
    assert_int_equal(post_json(b, "/api/consultora", js, &r), 200);
    reply_free(&r);
    snprintf(js, sizeof(js), "{\"cycle\":\"%s\"}", cycle);
    assert_int_equal(post_json(b, "/api/ciclo", js, &r), 200);
    reply_free(&r);
}

static const char *json_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_modern_serves_one_document_for_every_route(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, MODERN);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/app", NULL, NULL, &r), 200);
    char *doc = strdup(r.body);
    assert_non_null(strstr(doc, "<main id=\"view\""));
    assert_non_null(strstr(doc, "<script src=\"/static/spa.js\"></script>"));
    assert_non_null(strstr(doc, "id=\"consent\""));
    assert_non_null(strstr(doc, "<dialog id=\"survey\""));
    assert_non_null(strcasestr(r.headers, "cache-control: no-store"));
    reply_free(&r);
    const char *routes[] = {"/app/login", "/app/consultora", "/app/ciclo", "/app/carrito", "/app/confirmacion"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        assert_int_equal(request(&b, NULL, routes[i], NULL, NULL, &r), 200);
        assert_string_equal(r.body, doc); /* no session needed: the app asks /api/session */
        reply_free(&r);
    }
    free(doc);
    assert_int_equal(request(&b, NULL, "/app/nada", NULL, NULL, &r), 404);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/", NULL, NULL, &r), 303);
    assert_non_null(strcasestr(r.headers, "location: /app\r\n"));
    reply_free(&r);
    /* one UI per process: the classic pages are not there */
    assert_int_equal(request(&b, NULL, "/login", NULL, NULL, &r), 404);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/consultoras", NULL, NULL, &r), 404);
    reply_free(&r);
    const char *assets[] = {"/static/spa.js", "/static/spa.css", "/static/cart.js"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(request(&b, NULL, assets[i], NULL, NULL, &r), 200);
        reply_free(&r);
    }
    /* the same-origin cart frame: only this origin may embed it */
    assert_int_equal(request(&b, NULL, "/frame/carrito", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "<table id=\"cart\""));
    assert_non_null(strstr(r.body, "<script src=\"/static/cart.js\"></script>"));
    assert_non_null(strcasestr(r.headers, "content-security-policy: frame-ancestors 'self'"));
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "pages"), 9); /* unrouted 404s are no pages */
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_modern_api_walk_has_the_classic_rules(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, MODERN);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/api/session", NULL, NULL, &r), 401);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/login", "{\"user\":\"demo\",\"password\":\"nope\"}", &r), 403);
    assert_non_null(strstr(r.body, "Usuario o contraseña incorrectos"));
    assert_null(strcasestr(r.headers, "set-cookie"));
    reply_free(&r);
    modern_login(&b);
    assert_int_equal(request(&b, NULL, "/api/session", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"user\":\"demo\",\"consultora\":null,\"cycle\":null"));
    reply_free(&r);
    /* the cart needs consultora and cycle, as in classic */
    assert_int_equal(request(&b, NULL, "/api/cart", NULL, NULL, &r), 409);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/ciclos", NULL, NULL, &r), 409);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/consultoras?q=99123", NULL, NULL, &r), 404);
    assert_non_null(strstr(r.body, "La consultora 99123 no existe"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/consultora", "{\"code\":\"99123\"}", &r), 404);
    assert_non_null(strstr(r.body, "La consultora 99123 no existe"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/consultora", "{\"code\":\"bad code\"}", &r), 400);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/consultora", "{\"code\":\"12345678\"}", &r), 200);
    assert_non_null(strstr(r.body, "\"code\":\"12345678\""));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/ciclos", NULL, NULL, &r), 200);
    cJSON *j = reply_json(&r);
    cJSON *cycles = cJSON_GetObjectItemCaseSensitive(j, "cycles");
    assert_int_equal(cJSON_GetArraySize(cycles), 36);
    assert_string_equal(json_string(cJSON_GetArrayItem(cycles, 5), "value"), "202406");
    assert_string_equal(json_string(cJSON_GetArrayItem(cycles, 5), "label"), "Ciclo 06/2024");
    cJSON_Delete(j);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/ciclo", "{\"cycle\":\"199901\"}", &r), 400);
    assert_non_null(strstr(r.body, "El ciclo 199901 no está habilitado"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/ciclo", "{\"cycle\":\"202406\"}", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/cart/frame", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"src\":\"/frame/carrito\""));
    reply_free(&r);
    /* the frame's cart API is the classic one */
    assert_int_equal(add_item(&b, "80901", 2, &r), 200);
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 3, &r), 200);
    assert_non_null(strstr(r.body, "\"qty\":5"));
    assert_non_null(strstr(r.body, "\"consultora\":\"12345678\",\"cycle\":\"202406\""));
    reply_free(&r);
    assert_int_equal(add_item(&b, "12399", 1, &r), 404);
    assert_non_null(strstr(r.body, "El producto 12399 no existe"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "12398", 1, &r), 409);
    assert_non_null(strstr(r.body, "Producto 12398 sin stock"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "12397", 1000, &r), 400);
    reply_free(&r);
    /* the same cart as classic: per consultora|cycle, across logins */
    struct browser b2;
    browser_init(&b2, &s);
    modern_walk_to_cart(&b2, "12345678", "202406");
    assert_int_equal(request(&b2, NULL, "/api/cart", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"total\":5"));
    reply_free(&r);
    assert_int_equal(post_json(&b2, "/api/logout", "{}", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b2, NULL, "/api/cart", NULL, NULL, &r), 401);
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "12345678|202406", "80901"), 5);
    assert_int_equal((int)state_stat(st, "logins"), 2);
    assert_int_equal((int)state_stat(st, "login_failures"), 1);
    assert_int_equal((int)state_stat(st, "logouts"), 1);
    assert_int_equal((int)state_stat(st, "adds"), 2);
    assert_int_equal((int)state_stat(st, "add_errors"), 3);
    cJSON_Delete(st);
    browser_cleanup(&b);
    browser_cleanup(&b2);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_modern_faults_ghost_fail_and_expiry(void **state)
{
    struct simproc s;
    sim_start(
        &s, NULL,
        (const char *const[]){"--ui", "modern", "--ghost-rate", "1", "--seed", "3", "--session-ttl-s", "1", NULL});
    struct browser b;
    browser_init(&b, &s);
    modern_walk_to_cart(&b, "4242", "202406");
    struct reply r;
    assert_int_equal(add_item(&b, "80901", 2, &r), 504);
    assert_non_null(strstr(r.body, "Intente nuevamente"));
    reply_free(&r);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "4242|202406", "80901"), 2); /* applied */
    assert_int_equal((int)state_stat(st, "ghosts"), 1);
    cJSON_Delete(st);
    /* the session ends after its TTL: the API says 401 (the app shows its login view) */
    usleep(1200 * 1000);
    assert_int_equal(request(&b, NULL, "/api/session", NULL, NULL, &r), 401);
    assert_non_null(strstr(r.body, "Sesión expirada"));
    reply_free(&r);
    /* every page and API request fails; /static and /__sim never do */
    assert_int_equal(post_json(&b, "/__sim/config", "{\"fail_rate\": 1, \"ghost_rate\": 0}", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/app/carrito", NULL, NULL, &r), 503);
    assert_non_null(strstr(r.body, "<h1>Servicio no disponible</h1>"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/api/login", "{\"user\":\"demo\",\"password\":\"demo\"}", &r), 503);
    assert_non_null(strstr(r.body, "\"error\":\"Servicio no disponible\""));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/static/spa.js", NULL, NULL, &r), 200);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/route", "{\"view\":\"login\"}", &r), 200);
    reply_free(&r);
    st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "failures"), 2);
    assert_int_equal((int)state_stat(st, "sessions_expired"), 1);
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_modern_submit_records_order_numbers(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, MODERN);
    struct browser b;
    browser_init(&b, &s);
    modern_walk_to_cart(&b, "777", "202406");
    struct reply r;
    assert_int_equal(request(&b, "POST", "/api/cart/submit", NULL, "", &r), 409);
    assert_non_null(strstr(r.body, "El carrito está vacío"));
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/order", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"number\":null"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 2, &r), 200);
    reply_free(&r);
    assert_int_equal(add_item(&b, "A-77", 1, &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/api/cart/submit", NULL, "", &r), 200);
    cJSON *j = reply_json(&r);
    assert_string_equal(json_string(j, "number"), "GSP-000001");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(j, "units")->valuedouble, 3);
    cJSON_Delete(j);
    reply_free(&r);
    /* the cart view learns that this cart was sent */
    assert_int_equal(request(&b, NULL, "/api/order", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"number\":\"GSP-000001\""));
    reply_free(&r);
    cJSON *st = sim_state(&b);
    cJSON *orders = cJSON_GetObjectItemCaseSensitive(st, "orders");
    assert_int_equal(cJSON_GetArraySize(orders), 1);
    cJSON *o = cJSON_GetArrayItem(orders, 0);
    assert_string_equal(json_string(o, "number"), "GSP-000001");
    assert_string_equal(json_string(o, "consultora"), "777");
    assert_string_equal(json_string(o, "cycle"), "202406");
    assert_int_equal(
        (int)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "products"), "80901")->valuedouble,
        2);
    assert_int_equal((int)state_stat(st, "orders_submitted"), 1);
    cJSON_Delete(st);
    /* a change after sending forgets the number; every submission is a new order */
    assert_int_equal(add_item(&b, "A-77", 1, &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/order", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"number\":null"));
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/api/cart/submit", NULL, "", &r), 200);
    assert_non_null(strstr(r.body, "\"number\":\"GSP-000002\""));
    reply_free(&r);
    st = sim_state(&b);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "orders")), 2);
    cJSON_Delete(st);
    /* reset clears the orders, numbers never repeat */
    assert_int_equal(request(&b, NULL, "/__sim/reset", NULL, "", &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/__sim/state", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"orders\":[]"));
    reply_free(&r);
    assert_int_equal(add_item(&b, "80901", 1, &r), 200);
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/api/cart/submit", NULL, "", &r), 200);
    assert_non_null(strstr(r.body, "\"number\":\"GSP-000003\""));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

/* The token in a frame URL "...#t=TOKEN&p=..." copied to out. */
static void frame_token(const char *body, char *out, size_t size)
{
    const char *t = strstr(body, "#t=");
    assert_non_null(t);
    t += 3;
    size_t n = strspn(t, "0123456789abcdef");
    assert_int_equal(n, 32);
    snprintf(out, size, "%.*s", (int)n, t);
}

static void test_modern_cross_origin_cart_listener(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--ui", "modern", "--cart-origin", "cross", NULL});
    assert_true(s.cart_port > 0);
    struct browser b;
    browser_init(&b, &s);
    modern_walk_to_cart(&b, "12345678", "202406");
    struct reply r;
    assert_int_equal(request(&b, NULL, "/api/cart/frame", NULL, NULL, &r), 200);
    char want[128];
    snprintf(want, sizeof(want), "\"src\":\"http://localhost:%d/frame/carrito#t=", s.cart_port);
    assert_non_null(strstr(r.body, want));
    int main_port = (int)strtol(strrchr(s.base, ':') + 1, NULL, 10);
    snprintf(want, sizeof(want), "&p=http%%3A%%2F%%2F127.0.0.1%%3A%d\"", main_port);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof(want), "\"origin\":\"http://localhost:%d\"", s.cart_port);
    assert_non_null(strstr(r.body, want));
    char token[40];
    frame_token(r.body, token, sizeof(token));
    reply_free(&r);
    /* opened as localhost, the app gets its cart on 127.0.0.1: always the other site */
    struct simproc as_localhost = s;
    snprintf(as_localhost.base, sizeof(as_localhost.base), "http://localhost:%d", main_port);
    struct browser bl;
    browser_init(&bl, &as_localhost);
    modern_walk_to_cart(&bl, "555", "202406");
    assert_int_equal(request(&bl, NULL, "/api/cart/frame", NULL, NULL, &r), 200);
    snprintf(want, sizeof(want), "\"src\":\"http://127.0.0.1:%d/frame/carrito#t=", s.cart_port);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof(want), "&p=http%%3A%%2F%%2Flocalhost%%3A%d\"", main_port);
    assert_non_null(strstr(r.body, want));
    reply_free(&r);
    browser_cleanup(&bl);

    /* the frame document: no session needed, only the app's origins may embed it */
    assert_int_equal(request_to(&b, s.cart, NULL, "/frame/carrito", NULL, NULL, NULL, &r), 200);
    snprintf(want, sizeof(want), "content-security-policy: frame-ancestors http://127.0.0.1:%d http://localhost:%d",
             main_port, main_port);
    assert_non_null(strcasestr(r.headers, want));
    assert_non_null(strstr(r.body, "<table id=\"cart\""));
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/static/cart.js", NULL, NULL, NULL, &r), 200);
    reply_free(&r);
    /* the app's session cookie reaches this port (cookies ignore ports) and counts for nothing */
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, NULL, &r), 401);
    assert_non_null(strstr(r.body, "No autenticado"));
    reply_free(&r);
    /* the token works; a new frame's token replaces it */
    char bearer[80];
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, (const char *const[]){bearer, NULL}, &r),
                     200);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/api/cart/frame", NULL, NULL, &r), 200);
    frame_token(r.body, token, sizeof(token));
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, (const char *const[]){bearer, NULL}, &r),
                     401);
    assert_non_null(strstr(r.body, "Sesión expirada"));
    reply_free(&r);
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
    const char *const auth[] = {bearer, "Origin: http://127.0.0.1:1", NULL};
    assert_int_equal(
        request_to(&b, s.cart, NULL, "/api/cart/add", "application/json", "{\"code\":\"80901\",\"qty\":4}", auth, &r),
        200);
    assert_non_null(strstr(r.body, "\"consultora\":\"12345678\",\"cycle\":\"202406\""));
    assert_null(strcasestr(r.headers, "access-control-allow-origin"));
    assert_null(strcasestr(r.headers, "set-cookie"));
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, auth, &r), 200);
    assert_non_null(strstr(r.body, "\"qty\":4"));
    assert_null(strcasestr(r.headers, "access-control-allow-origin"));
    reply_free(&r);
    /* no CORS: a preflight from another origin is not answered with a grant */
    const char *const preflight[] = {"Origin: http://127.0.0.1:1", "Access-Control-Request-Method: POST", NULL};
    assert_true(request_to(&b, s.cart, "OPTIONS", "/api/cart/add", NULL, NULL, preflight, &r) >= 400);
    assert_null(strcasestr(r.headers, "access-control-allow"));
    reply_free(&r);
    /* the cart listener serves the cart only; the token is no session on the app's origin */
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/session", NULL, NULL, auth, &r), 404);
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/__sim/state", NULL, NULL, NULL, &r), 404);
    reply_free(&r);
    struct browser nocookie;
    browser_init(&nocookie, &s);
    assert_int_equal(request_to(&nocookie, s.base, NULL, "/api/cart", NULL, NULL, auth, &r), 401);
    reply_free(&r);
    browser_cleanup(&nocookie);
    cJSON *st = sim_state(&b);
    assert_int_equal((int)state_qty(st, "12345678|202406", "80901"), 4);
    assert_int_equal((int)state_stat(st, "adds"), 1);
    cJSON_Delete(st);
    /* faults apply on the cart listener too */
    assert_int_equal(post_json(&b, "/__sim/config", "{\"fail_rate\": 1}", &r), 200);
    assert_non_null(strstr(r.body, "\"cart_origin\":\"http://localhost:"));
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, auth, &r), 503);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/config", "{\"fail_rate\": 0}", &r), 200);
    reply_free(&r);
    /* a token dies with its session */
    assert_int_equal(request(&b, "POST", "/__sim/expire-sessions", NULL, "", &r), 200);
    reply_free(&r);
    assert_int_equal(request_to(&b, s.cart, NULL, "/api/cart", NULL, NULL, auth, &r), 401);
    assert_non_null(strstr(r.body, "Sesión expirada"));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

/* 20 answers of /__sim/route as 's' (survey) and '.' */
static void route_sequence(struct browser *b, char *out)
{
    struct reply r;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(post_json(b, "/__sim/route", "{\"view\":\"consultora\"}", &r), 200);
        out[i] = strstr(r.body, "\"survey\":true") ? 's' : '.';
        reply_free(&r);
    }
    out[20] = '\0';
}

static void test_modern_interrupt_rate_and_page_hooks(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, (const char *const[]){"--ui", "modern", "--interrupt-rate", "0.5", "--seed", "5", NULL});
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    assert_int_equal(request(&b, NULL, "/__sim/config", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"ui\":\"modern\",\"interrupt_rate\":0.5,\"cart_origin\":\"same\""));
    reply_free(&r);
    char a[21], a2[21];
    route_sequence(&b, a);
    assert_int_equal(request(&b, NULL, "/__sim/reset", NULL, "", &r), 200);
    reply_free(&r);
    route_sequence(&b, a2);
    print_message("interrupts at 0.5, seed 5: %s\n", a);
    assert_string_equal(a, a2); /* seeded */
    assert_non_null(strchr(a, 's'));
    assert_non_null(strchr(a, '.'));
    cJSON *st = sim_state(&b);
    int shown = 0;
    for (int i = 0; i < 20; i++)
        shown += a2[i] == 's';
    assert_int_equal((int)state_stat(st, "route_changes"), 20);
    assert_int_equal((int)state_stat(st, "interrupts_shown"), shown);
    cJSON_Delete(st);
    /* settable at run time; never over an open survey */
    assert_int_equal(post_json(&b, "/__sim/config", "{\"interrupt_rate\": 1}", &r), 200);
    assert_non_null(strstr(r.body, "\"interrupt_rate\":1"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/route", "{\"view\":\"ciclo\"}", &r), 200);
    assert_non_null(strstr(r.body, "\"survey\":true"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/route", "{\"view\":\"ciclo\",\"survey_open\":true}", &r), 200);
    assert_non_null(strstr(r.body, "\"survey\":false"));
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/config", "{\"interrupt_rate\": 1.5}", &r), 400);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/config", "{\"interrupt_rate\": 0}", &r), 200);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/route", "{\"view\":\"ciclo\"}", &r), 200);
    assert_non_null(strstr(r.body, "\"survey\":false"));
    reply_free(&r);
    /* what the page reports */
    assert_int_equal(request(&b, "POST", "/__sim/consent", NULL, "", &r), 204);
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/__sim/confirm", "text/plain", "accept", &r), 204);
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/__sim/confirm", "text/plain", "dismiss", &r), 204);
    reply_free(&r);
    assert_int_equal(request(&b, "POST", "/__sim/blocked-click", NULL, "", &r), 204);
    reply_free(&r);
    st = sim_state(&b);
    assert_int_equal((int)state_stat(st, "consents"), 1);
    assert_int_equal((int)state_stat(st, "confirms"), 2);
    assert_int_equal((int)state_stat(st, "confirms_dismissed"), 1);
    assert_int_equal((int)state_stat(st, "blocked_clicks"), 1);
    assert_int_equal((int)state_stat(st, "requests"), 0); /* /__sim is never counted */
    cJSON_Delete(st);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_classic_has_no_modern_routes(void **state)
{
    struct simproc s;
    sim_start(&s, NULL, NULL);
    struct browser b;
    browser_init(&b, &s);
    struct reply r;
    const char *gets[] = {"/app", "/app/login", "/frame/carrito", "/api/session", "/api/order"};
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        assert_int_equal(request(&b, NULL, gets[i], NULL, NULL, &r), 404);
        reply_free(&r);
    }
    assert_int_equal(post_json(&b, "/api/login", "{\"user\":\"demo\",\"password\":\"demo\"}", &r), 404);
    reply_free(&r);
    assert_int_equal(post_json(&b, "/__sim/route", "{}", &r), 404);
    reply_free(&r);
    assert_int_equal(request(&b, NULL, "/__sim/config", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"ui\":\"classic\""));
    reply_free(&r);
    browser_cleanup(&b);
    assert_int_equal(sim_stop(&s), 0);
}

static void test_modern_bad_arguments_exit_2(void **state)
{
    const char *cases[][4] = {
        {"--ui", "retro", NULL, NULL},
        {"--interrupt-rate", "2", NULL, NULL},
        {"--cart-origin", "cross", NULL, NULL}, /* classic has no cart iframe */
        {"--ui", "modern", "--cart-origin", "http://example.com:80"},
        {"--ui", "modern", "--cart-origin", "http://localhost:99999"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[6] = {GSPBOT_SIM_PATH, cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_login_wrong_then_right_sets_session_cookie, kill_leftovers),
        cmocka_unit_test_teardown(test_password_from_env_is_used_and_never_printed, kill_leftovers),
        cmocka_unit_test_teardown(test_pages_without_session_redirect_to_login, kill_leftovers),
        cmocka_unit_test_teardown(test_session_cookie_expires_after_ttl, kill_leftovers),
        cmocka_unit_test_teardown(test_cart_add_accumulates_and_survives_relogin, kill_leftovers),
        cmocka_unit_test_teardown(test_catalogue_rules_99_and_98, kill_leftovers),
        cmocka_unit_test_teardown(test_ghost_rate_applies_then_answers_error, kill_leftovers),
        cmocka_unit_test_teardown(test_fail_rate_answers_503_on_pages_and_api_only, kill_leftovers),
        cmocka_unit_test_teardown(test_state_prefill_and_reset, kill_leftovers),
        cmocka_unit_test_teardown(test_seed_reproduces_fault_sequence, kill_leftovers),
        cmocka_unit_test_teardown(test_slow_answers_do_not_block_other_clients, kill_leftovers),
        cmocka_unit_test_teardown(test_fifty_concurrent_clients_are_served, kill_leftovers),
        cmocka_unit_test_teardown(test_bad_arguments_exit_2, kill_leftovers),
        cmocka_unit_test_teardown(test_stderr_banner_has_seed_not_password, kill_leftovers),
        cmocka_unit_test_teardown(test_classic_has_no_modern_routes, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_serves_one_document_for_every_route, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_api_walk_has_the_classic_rules, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_faults_ghost_fail_and_expiry, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_submit_records_order_numbers, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_cross_origin_cart_listener, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_interrupt_rate_and_page_hooks, kill_leftovers),
        cmocka_unit_test_teardown(test_modern_bad_arguments_exit_2, kill_leftovers),
    };
    int rc = cmocka_run_group_tests_name("sim", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
