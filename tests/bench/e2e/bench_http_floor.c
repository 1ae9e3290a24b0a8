/*
 * bench_http_floor.c - the floor of tests/bench/e2e/run.sh: the portal requests that a browser walk
 * of data/flows/gsp-sim.json makes gspbot-sim (classic UI) serve, replayed over plain HTTP with
 * libcurl, no browser and no waiting for the simulator's overlay and late-render delays.
 *
 *   bench_http_floor run URL N [WORKERS (2)]   N orders, WORKERS threads in parallel
 *   bench_http_floor stats URL                 the simulator's request counters, one JSON line
 *
 * The orders are those of bench_flow.c and bench_playwright.js: order i = consultora 10000001+i,
 * products 80000+10*i+k+1 (k = 0..2), quantity (i+k)%3+1; cycle $GSP_CYCLE (202605). User
 * $GSP_USER_CODE (demo), password $GSP_PASSWORD (environment only). Each thread has one curl
 * handle (one keep-alive connection, its own cookie jar) and takes the next order from a shared
 * counter, as gspbot's workers claim from the queue.
 *
 * Per thread, once (what a browser does to log in; images and fonts are blocked by the flow and
 * style.css/app.js come from the browser's cache afterwards): GET /login, GET /static/style.css,
 * GET /static/app.js, GET /favicon.ico (404), POST /login -> 303 -> GET /consultoras.
 * Per order: GET /consultoras; GET /api/consultoras?q=C; GET /consultoras/seleccionar?code=C ->
 * 303 -> GET /ciclo; POST /ciclo -> 303 -> GET /carrito; GET /api/cart (the cart page's late load);
 * per product POST /api/cart/add (the page renders the cart from that answer: no GET /api/cart).
 * Every answer is checked (status, the page reached, the consultora and cycle it shows), and the
 * cart of the last addition must hold exactly the order's products and quantities.
 *
 * It also adds up the delays the simulator drew for this walk that a browser has to wait out
 * and this program does not: the search's overlay_ms, max(data-overlay-ms, data-late-ms) of the
 * cycle and cart pages (the form / the cart appear after the late delay, a click needs the
 * overlay gone) and each addition's overlay_ms. The simulator draws them from one seeded
 * sequence, so their distribution is the same for every contender.
 *
 * Prints "MARK start" / "MARK end" around the whole run (for bench_sample; not with env
 * BENCH_NO_MARK=1, when the caller marks the window) and one JSON line.
 * Exit: 0 every order landed and checked, 1 some failed, 2 usage, 3 setup.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define ITEMS     3
#define BODY_MAX  (4 * 1024 * 1024)
#define MAX_WORKS 64

struct body {
    char *p;
    size_t len, cap;
    bool overflow;
};

struct worker {
    int id;
    CURL *h;
    struct curl_slist *json_hdrs;
    struct body b;
    char url[512];
    long requests; /* HTTP requests sent, redirects followed included */
    long done, failed;
    double wait_ms; /* simulator delays a browser would have waited for */
    char err[CURL_ERROR_SIZE];
};

static const char *g_base;
static const char *g_user;
static const char *g_password;
static const char *g_cycle;
static int g_n;
static atomic_int g_next;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
    struct body *b = user;
    size_t k = size * nmemb;
    if (b->len + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + k + 1)
            cap *= 2;
        char *np = cap <= BODY_MAX ? realloc(b->p, cap) : NULL;
        if (np == NULL) {
            b->overflow = true;
            return 0;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, k);
    b->len += k;
    b->p[b->len] = '\0';
    return k;
}

static void order_of(int i, char *consultora, size_t cn, char codes[ITEMS][24], int qty[ITEMS])
{
    snprintf(consultora, cn, "%d", 10000001 + i);
    for (int k = 0; k < ITEMS; k++) {
        snprintf(codes[k], sizeof codes[k], "%d", 80000 + 10 * i + k + 1);
        qty[k] = (i + k) % 3 + 1;
    }
}

/* One request (following redirects like a browser). ctype NULL: GET; "json": POST a JSON body
 * with Accept: application/json; "form": POST a urlencoded form. Returns the final status, or -1
 * (transport error, in w->err). The body is in w->b. */
static long request(struct worker *w, const char *path, const char *ctype, const char *post)
{
    snprintf(w->url, sizeof w->url, "%s%s", g_base, path);
    w->b.len = 0;
    w->b.overflow = false;
    if (w->b.p)
        w->b.p[0] = '\0';
    curl_easy_setopt(w->h, CURLOPT_URL, w->url);
    bool json = ctype != NULL ? strcmp(ctype, "json") == 0 : strncmp(path, "/api/", 5) == 0;
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, json ? w->json_hdrs : NULL);
    if (post != NULL) {
        curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    } else {
        curl_easy_setopt(w->h, CURLOPT_HTTPGET, 1L);
    }
    w->err[0] = '\0';
    CURLcode rc = curl_easy_perform(w->h);
    long redirects = 0, status = 0;
    curl_easy_getinfo(w->h, CURLINFO_REDIRECT_COUNT, &redirects);
    w->requests += 1 + redirects;
    if (rc != CURLE_OK) {
        if (w->err[0] == '\0')
            snprintf(w->err, sizeof w->err, "%s", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* The final URL of the last request ends with path (no query). */
static bool landed_on(struct worker *w, const char *path)
{
    char *u = NULL;
    if (curl_easy_getinfo(w->h, CURLINFO_EFFECTIVE_URL, &u) != CURLE_OK || u == NULL)
        return false;
    size_t ul = strlen(u), pl = strlen(path);
    return ul >= pl && strcmp(u + ul - pl, path) == 0;
}

static bool body_has(const struct worker *w, const char *s)
{
    return w->b.p != NULL && strstr(w->b.p, s) != NULL;
}

/* The number in attribute name="N" of the page, or 0. */
static unsigned attr_ms(const struct worker *w, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s=\"", name);
    const char *p = w->b.p ? strstr(w->b.p, key) : NULL;
    if (p == NULL)
        return 0;
    unsigned long v = strtoul(p + strlen(key), NULL, 10);
    return v > 600000 ? 0 : (unsigned)v;
}

static double page_wait_ms(const struct worker *w)
{
    unsigned o = attr_ms(w, "data-overlay-ms"), l = attr_ms(w, "data-late-ms");
    return o > l ? o : l;
}

static double json_overlay_ms(const cJSON *o)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "overlay_ms");
    return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        fprintf(stderr, "bench_http_floor: worker %d: ", w->id);                                                       \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fputc('\n', stderr);                                                                                           \
        goto fail;                                                                                                     \
    } while (0)

static int login(struct worker *w)
{
    char *form = NULL, *u = NULL, *p = NULL;
    long st = request(w, "/login", NULL, NULL);
    if (st != 200 || !body_has(w, "id=\"login-form\""))
        FAIL("GET /login: %ld %s", st, w->err);
    /* The login page's own subresources (cached by the browser after this), and its favicon. */
    static const char *const sub[] = {"/static/style.css", "/static/app.js"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
        if ((st = request(w, sub[i], NULL, NULL)) != 200)
            FAIL("GET %s: %ld %s", sub[i], st, w->err);
    if ((st = request(w, "/favicon.ico", NULL, NULL)) < 0)
        FAIL("GET /favicon.ico: %s", w->err);
    u = curl_easy_escape(w->h, g_user, 0);
    p = curl_easy_escape(w->h, g_password, 0);
    size_t fl = (u ? strlen(u) : 0) + (p ? strlen(p) : 0) + 32;
    form = malloc(fl);
    if (u == NULL || p == NULL || form == NULL)
        FAIL("out of memory");
    snprintf(form, fl, "user=%s&password=%s", u, p);
    st = request(w, "/login", "form", form);
    if (st != 200 || !landed_on(w, "/consultoras") || !body_has(w, "id=\"logout\""))
        FAIL("POST /login: %ld %s (wrong credentials?)", st, w->err);
    free(form);
    curl_free(u);
    curl_free(p);
    return 0;
fail:
    free(form);
    curl_free(u);
    curl_free(p);
    return -1;
}

/* The cart answer o holds product code with quantity want (want 0: any quantity). Returns the
 * number of lines, or -1 when code is missing or has another quantity. */
static int cart_check(const cJSON *o, const char *consultora, const char *code, int want)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "consultora");
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(o, "cycle");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
    if (!cJSON_IsString(c) || strcmp(c->valuestring, consultora) != 0 || !cJSON_IsString(y) ||
        strcmp(y->valuestring, g_cycle) != 0 || !cJSON_IsArray(items))
        return -1;
    bool found = code == NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *ic = cJSON_GetObjectItemCaseSensitive(it, "code");
        const cJSON *iq = cJSON_GetObjectItemCaseSensitive(it, "qty");
        if (code != NULL && cJSON_IsString(ic) && strcmp(ic->valuestring, code) == 0)
            found = cJSON_IsNumber(iq) && (want == 0 || iq->valueint == want);
    }
    return found ? cJSON_GetArraySize(items) : -1;
}

static int walk_order(struct worker *w, int i)
{
    char consultora[24], codes[ITEMS][24], path[160], post[160];
    int qty[ITEMS];
    cJSON *o = NULL;
    double wait = 0;
    order_of(i, consultora, sizeof consultora, codes, qty);

    long st = request(w, "/consultoras", NULL, NULL);
    if (st != 200 || !body_has(w, "id=\"search-form\""))
        FAIL("order %d: GET /consultoras: %ld %s", i, st, w->err);

    snprintf(path, sizeof path, "/api/consultoras?q=%s", consultora);
    st = request(w, path, NULL, NULL);
    o = st == 200 ? cJSON_Parse(w->b.p) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "consultoras");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "code");
    if (!cJSON_IsString(code) || strcmp(code->valuestring, consultora) != 0)
        FAIL("order %d: GET %s: %ld %s", i, path, st, w->err);
    wait += json_overlay_ms(o);
    cJSON_Delete(o);
    o = NULL;

    char shows[96];
    snprintf(shows, sizeof shows, "id=\"current-consultora\" data-code=\"%s\"", consultora);
    snprintf(path, sizeof path, "/consultoras/seleccionar?code=%s", consultora);
    st = request(w, path, NULL, NULL);
    if (st != 200 || !landed_on(w, "/ciclo") || !body_has(w, shows) || !body_has(w, g_cycle))
        FAIL("order %d: GET %s -> /ciclo: %ld %s", i, path, st, w->err);
    wait += page_wait_ms(w);

    snprintf(post, sizeof post, "cycle=%s", g_cycle);
    st = request(w, "/ciclo", "form", post);
    char cyc[64];
    snprintf(cyc, sizeof cyc, "id=\"current-cycle\" data-cycle=\"%s\"", g_cycle);
    if (st != 200 || !landed_on(w, "/carrito") || !body_has(w, shows) || !body_has(w, cyc))
        FAIL("order %d: POST /ciclo -> /carrito: %ld %s", i, st, w->err);
    wait += page_wait_ms(w);

    st = request(w, "/api/cart", NULL, NULL);
    o = st == 200 ? cJSON_Parse(w->b.p) : NULL;
    if (cart_check(o, consultora, NULL, 0) < 0)
        FAIL("order %d: GET /api/cart: %ld %s", i, st, w->err);
    cJSON_Delete(o);
    o = NULL;

    for (int k = 0; k < ITEMS; k++) {
        snprintf(post, sizeof post, "{\"code\":\"%s\",\"qty\":%d}", codes[k], qty[k]);
        st = request(w, "/api/cart/add", "json", post);
        o = st == 200 ? cJSON_Parse(w->b.p) : NULL;
        if (cart_check(o, consultora, codes[k], qty[k]) < 0)
            FAIL("order %d: POST /api/cart/add %s: %ld %s", i, post, st, w->err);
        wait += json_overlay_ms(o);
        if (k < ITEMS - 1) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    /* The last answer is the whole cart: exactly the order's lines. */
    for (int k = 0; k < ITEMS; k++)
        if (cart_check(o, consultora, codes[k], qty[k]) != ITEMS)
            FAIL("order %d: the cart of %s does not hold exactly the order: %s", i, consultora, w->b.p);
    cJSON_Delete(o);
    w->wait_ms += wait;
    return 0;
fail:
    cJSON_Delete(o);
    return -1;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    if (login(w) != 0) {
        /* Without a session no order can land: count the rest as failed for this worker. */
        w->failed++;
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (i >= g_n)
            break;
        if (walk_order(w, i) == 0)
            w->done++;
        else
            w->failed++;
    }
    return NULL;
}

static int worker_init(struct worker *w, int id)
{
    *w = (struct worker){.id = id};
    w->h = curl_easy_init();
    w->json_hdrs = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *l = w->json_hdrs ? curl_slist_append(w->json_hdrs, "Content-Type: application/json") : NULL;
    if (w->h == NULL || l == NULL)
        return -1;
    w->json_hdrs = l;
    CURL *h = w->h;
    if (curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &w->b) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->err) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_COOKIEFILE, "") != CURLE_OK || /* cookie engine, no file */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return -1;
    return 0;
}

static void worker_cleanup(struct worker *w)
{
    curl_easy_cleanup(w->h);
    curl_slist_free_all(w->json_hdrs);
    free(w->b.p);
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int cmd_run(int workers)
{
    g_user = env_or("GSP_USER_CODE", "demo");
    g_cycle = env_or("GSP_CYCLE", "202605");
    g_password = getenv("GSP_PASSWORD");
    if (g_password == NULL || *g_password == '\0') {
        fprintf(stderr, "bench_http_floor: set GSP_PASSWORD\n");
        return 2;
    }
    struct worker ws[MAX_WORKS];
    for (int j = 0; j < workers; j++)
        if (worker_init(&ws[j], j) != 0) {
            fprintf(stderr, "bench_http_floor: cannot set up curl\n");
            for (int k = 0; k <= j; k++)
                worker_cleanup(&ws[k]);
            return 3;
        }
    bool marks = getenv("BENCH_NO_MARK") == NULL;
    if (marks) {
        puts("MARK start");
        fflush(stdout);
    }
    double t0 = now_s();
    pthread_t th[MAX_WORKS];
    int started = 0;
    for (int j = 0; j < workers; j++) {
        if (pthread_create(&th[j], NULL, work, &ws[j]) != 0) {
            fprintf(stderr, "bench_http_floor: cannot start a thread\n");
            break;
        }
        started++;
    }
    for (int j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    double wall = now_s() - t0;
    if (marks) {
        puts("MARK end");
        fflush(stdout);
    }
    long done = 0, failed = 0, requests = 0;
    double wait = 0;
    for (int j = 0; j < workers; j++) {
        done += ws[j].done;
        failed += ws[j].failed;
        requests += ws[j].requests;
        wait += ws[j].wait_ms;
        worker_cleanup(&ws[j]);
    }
    if (done + failed < g_n)
        failed = g_n - done; /* orders never walked (a worker could not log in) */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    printf("{\"impl\": \"plain HTTP, libcurl %s, %d threads\", \"orders\": %d, \"done\": %ld, "
           "\"failed_orders\": %ld, \"wall_s\": %.4f, \"orders_per_min\": %.1f, \"cpu_self_s\": %.4f, "
           "\"client_requests\": %ld, \"sim_wait_ms_per_order\": %.1f}\n",
           curl_version_info(CURLVERSION_NOW)->version, workers, g_n, done, failed, wall,
           wall > 0 ? (double)done * 60.0 / wall : 0.0, cpu, requests, done ? wait / (double)done : 0.0);
    return failed ? 1 : 0;
}

static int cmd_stats(void)
{
    struct worker w;
    if (worker_init(&w, 0) != 0) {
        fprintf(stderr, "bench_http_floor: cannot set up curl\n");
        worker_cleanup(&w);
        return 3;
    }
    long st = request(&w, "/__sim/state", NULL, NULL);
    cJSON *o = st == 200 ? cJSON_Parse(w.b.p) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "stats");
    int rc = 0;
    if (!cJSON_IsObject(s)) {
        fprintf(stderr, "bench_http_floor: GET /__sim/state: %ld %s\n", st, w.err);
        rc = 1;
    } else {
        static const char *const names[] = {"requests", "pages", "api", "assets", "logins", "adds", "overlay_clicks"};
        fputc('{', stdout);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, names[i]);
            printf("%s\"%s\": %.0f", i ? ", " : "", names[i], cJSON_IsNumber(x) ? x->valuedouble : -1.0);
        }
        puts("}");
    }
    cJSON_Delete(o);
    worker_cleanup(&w);
    return rc;
}

int main(int argc, char **argv)
{
    int workers = 2;
    bool run = argc >= 4 && argc <= 5 && strcmp(argv[1], "run") == 0 && parse_int(argv[3], 1, 1000000, &g_n) == 0 &&
               (argc == 4 || parse_int(argv[4], 1, MAX_WORKS, &workers) == 0);
    bool stats = argc == 3 && strcmp(argv[1], "stats") == 0;
    if (!run && !stats) {
        fprintf(stderr, "usage: GSP_PASSWORD=... bench_http_floor run URL N [WORKERS] | stats URL\n");
        return 2;
    }
    g_base = argv[2];
    if (strncmp(g_base, "http://", 7) != 0 && strncmp(g_base, "https://", 8) != 0) {
        fprintf(stderr, "bench_http_floor: URL must be http(s)://...\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "bench_http_floor: curl_global_init failed\n");
        return 3;
    }
    int rc = run ? cmd_run(workers) : cmd_stats();
    curl_global_cleanup();
    return rc;
}
