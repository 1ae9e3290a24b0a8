/* `gspbot serve` over real HTTP (libcurl) on a real database: every route's answer and error
 * codes, the token, uploads (CSV, XLSX, bad files, over the cap), the evidence files' fence, the
 * events stream, webhooks to a loopback receiver, and an OpenAPI description that lists every
 * route the server has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api.h"
#include "db.h"
#include "http.h"
#include "queue.h"
#include "testdb.h"

#define TOKEN "test-token-0123456789abcdef"

static char g_tmp[64];
static char *g_db;
static pid_t g_serve;
static char g_url[64];
static char g_evidence[128];
static char g_serve_log[128]; /* serve's stderr: its log */
static struct db *g_qdb;      /* a worker's connection: the queue's own functions */

/* ------------------------------------------------------------ the webhook */

static struct http_server *g_hook;
static pthread_t g_hook_thread;
static pthread_mutex_t g_hook_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_hooks[16][1024];
static int g_nhooks;

static void h_hook(struct http_request *req, void *user)
{
    (void)user;
    size_t len;
    const char *body = http_request_body(req, &len);
    pthread_mutex_lock(&g_hook_mu);
    if (g_nhooks < 16)
        snprintf(g_hooks[g_nhooks++], sizeof g_hooks[0], "%.*s", (int)len, body);
    pthread_mutex_unlock(&g_hook_mu);
    http_request_respond(req, 204, NULL, "", 0);
}

static void *hook_main(void *arg)
{
    (void)arg;
    if (http_server_run(g_hook) != 0)
        fprintf(stderr, "webhook receiver: run failed\n");
    return NULL;
}

/* -------------------------------------------------------------- requests */

struct resp {
    long status;
    char *body;
    size_t len;
    char ctype[128];
    char headers[4096];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (b == NULL)
        return 0;
    r->body = b;
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t used = strlen(r->headers);
    if (used + size * n + 1 < sizeof r->headers) {
        memcpy(r->headers + used, p, size * n);
        r->headers[used + size * n] = '\0';
    }
    return size * n;
}

/* One request. token NULL = none. body NULL = no body; ctype for the body. form: a curl_mime. */
static struct resp req(const char *method, const char *path, const char *token, const char *body, curl_mime *form)
{
    struct resp r = {0};
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    struct curl_slist *h = NULL;
    char auth[256];
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (body != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); // send ../ and %2e as written
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (form != NULL)
        curl_easy_setopt(c, CURLOPT_MIMEPOST, form);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        r.status = -1;
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r.ctype, sizeof r.ctype, "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body == NULL)
        r.body = strdup("");
    return r;
}

static cJSON *json_of(struct resp *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (j == NULL)
        fail_msg("not JSON (HTTP %ld): %.300s", r->status, r->body);
    return j;
}

static void expect(const char *method, const char *path, const char *token, const char *body, long status,
                   const char *contains)
{
    struct resp r = req(method, path, token, body, NULL);
    if (r.status != status || (contains != NULL && strstr(r.body, contains) == NULL))
        fail_msg("%s %s: HTTP %ld %.300s (wanted %ld with \"%s\")", method, path, r.status, r.body, status,
                 contains ? contains : "");
    free(r.body);
}

static long q(const char *sql)
{
    char *v = testdb_query_value(g_db, sql);
    long r = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return r;
}

static long long gspbot_load(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "DATABASE_URL='%s' %s load '%s' --allow-duplicate >/dev/null 2>&1", g_db, GSPBOT_PATH,
             path);
    assert_int_equal(system(cmd), 0);
    return q("SELECT max(id) FROM batches");
}

/* The (consultora, product, quantity) rows of a batch, sorted, as one string. */
static char *batch_rows(long long id)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(o.consultora_code || '/' || coalesce(o.consultora_name, '') || '/' || i.product_code "
             "|| '/' ||"
             " i.quantity, ' ' ORDER BY o.seq, i.id) FROM orders o JOIN order_items i ON i.order_id = o.id"
             " WHERE o.batch_id = %lld",
             id);
    return testdb_query_value(g_db, sql);
}

/* ------------------------------------------------------------------ setup */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/gspbot-api-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    snprintf(g_evidence, sizeof g_evidence, "%s/evidence", g_tmp);
    mkdir(g_evidence, 0700);
    g_db = testdb_create_migrated("api");
    // The webhook receiver: our own HTTP layer, on its own thread.
    struct http_config hc = {.port = 0};
    g_hook = http_server_new(&hc);
    if (g_hook == NULL || http_server_route(g_hook, "POST", "/hook", h_hook, NULL, NULL) != 0 ||
        http_server_start(g_hook) != 0 || pthread_create(&g_hook_thread, NULL, hook_main, NULL) != 0)
        return -1;
    char hook_url[64], upload_tmp[128];
    snprintf(hook_url, sizeof hook_url, "http://127.0.0.1:%d/hook", http_server_port(g_hook));
    snprintf(upload_tmp, sizeof upload_tmp, "%s/uploads", g_tmp);
    mkdir(upload_tmp, 0700);
    snprintf(g_serve_log, sizeof g_serve_log, "%s/serve.log", g_tmp);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    g_serve = fork();
    if (g_serve == 0) {
        dup2(out[1], 1);
        close(out[0]);
        int log = open(g_serve_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0)
            dup2(log, 2);
        setenv("DATABASE_URL", g_db, 1);
        setenv("GSPBOT_API_TOKEN", TOKEN, 1);
        setenv("GSPBOT_SCREENSHOT_DIR", g_evidence, 1);
        setenv("GSPBOT_MAX_FILE_MB", "2", 1);
        setenv("GSPBOT_WEBHOOK_URL", hook_url, 1);
        setenv("TMPDIR", upload_tmp, 1);
        execl(GSPBOT_PATH, GSPBOT_PATH, "--verbose", "serve", "--port", "0", "--host", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    FILE *f = fdopen(out[0], "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL)
        return -1;
    int port = 0;
    if (sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1) {
        fprintf(stderr, "serve said: %s\n", line);
        return -1;
    }
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    db_free(g_qdb);
    kill(g_serve, SIGTERM);
    int st = 0;
    waitpid(g_serve, &st, 0);
    http_server_stop(g_hook);
    pthread_join(g_hook_thread, NULL);
    http_server_free(g_hook);
    testdb_drop(g_db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0)
        return -1;
    curl_global_cleanup();
    // serve drains and exits 0 on SIGTERM (a crash or a sanitizer report fails here).
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ tests */

static void test_health_needs_no_token_everything_else_does(void **state)
{
    (void)state;
    expect("GET", "/health", NULL, NULL, 200, "\"database\":\"ok\"");
    expect("GET", "/batches", NULL, NULL, 401, "\"error\"");
    expect("GET", "/batches", "wrong-token-0123456789abcdef", NULL, 401, "\"error\"");
    expect("GET", "/stats", TOKEN, NULL, 200, "\"orders_total\"");
    expect("GET", "/nope", NULL, NULL, 401, NULL); // unknown routes are not revealed without a token
    expect("GET", "/nope", TOKEN, NULL, 404, "\"error\"");
    expect("PUT", "/batches", TOKEN, NULL, 405, "\"error\"");
    struct resp r = req("GET", "/batches", NULL, NULL, NULL);
    assert_non_null(strcasestr(r.headers, "WWW-Authenticate: Bearer"));
    free(r.body);
}

static void test_json_batches_load_all_or_nothing(void **state)
{
    (void)state;
    long before = q("SELECT count(*) FROM batches");
    expect("POST", "/batches", TOKEN, "{not json", 400, "\"error\"");
    expect("POST", "/batches", TOKEN,
           "{\"name\": \"bad\", \"orders\": [{\"consultora_code\": \"1\", \"products\": [{\"product_code\": \"80901\","
           " \"quantity\": \"dos\"}]}]}",
           400, "is not a whole number");
    assert_int_equal(q("SELECT count(*) FROM batches"), before);
    expect("POST", "/batches?dry_run=1", TOKEN,
           "{\"name\": \"dry\", \"orders\": [{\"consultora_code\": \"1\", \"products\": [{\"product_code\": \"80901\","
           " \"quantity\": 2}]}]}",
           200, "\"dry_run\":true");
    assert_int_equal(q("SELECT count(*) FROM batches"), before);
    struct resp r = req("POST", "/batches", TOKEN,
                        "{\"name\": \"Pedido urgente\", \"orders\": [{\"consultora_code\": \"12345678\","
                        " \"consultora_name\": \"María González\", \"products\": [{\"product_code\": \"80901\","
                        " \"quantity\": 2}]}]}",
                        NULL);
    assert_int_equal(r.status, 201);
    cJSON *j = json_of(&r);
    assert_true(cJSON_GetObjectItem(j, "batch_id")->valuedouble > 0);
    assert_int_equal((int)cJSON_GetObjectItem(j, "orders")->valuedouble, 1);
    cJSON_Delete(j);
    free(r.body);
}

static void test_upload_creates_the_same_batch_as_load(void **state)
{
    (void)state;
    static const char *const FILES[] = {GSPBOT_DATA_DIR "/sample_orders.csv", GSPBOT_DATA_DIR "/sample_orders.xlsx"};
    for (size_t i = 0; i < 2; i++) {
        long long by_cli = gspbot_load(FILES[i]);
        curl_mime *form = curl_mime_init(NULL);
        curl_mimepart *p = curl_mime_addpart(form);
        curl_mime_name(p, "file");
        curl_mime_filedata(p, FILES[i]);
        p = curl_mime_addpart(form);
        curl_mime_name(p, "name");
        curl_mime_data(p, "Día de la Madre", CURL_ZERO_TERMINATED);
        p = curl_mime_addpart(form);
        curl_mime_name(p, "allow_duplicate");
        curl_mime_data(p, "1", CURL_ZERO_TERMINATED);
        struct resp r = req("POST", "/batches/upload", TOKEN, NULL, form);
        curl_mime_free(form);
        if (r.status != 201)
            fail_msg("upload %s: HTTP %ld %.400s", FILES[i], r.status, r.body);
        cJSON *j = json_of(&r);
        long long id = (long long)cJSON_GetObjectItem(j, "batch_id")->valuedouble;
        assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "Día de la Madre");
        assert_int_equal((int)cJSON_GetObjectItem(j, "orders")->valuedouble, 25);
        cJSON_Delete(j);
        free(r.body);
        char *a = batch_rows(by_cli), *b = batch_rows(id);
        assert_non_null(a);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
}

static void test_upload_with_errors_creates_nothing_and_over_the_cap_gets_413(void **state)
{
    (void)state;
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.csv", g_tmp);
    FILE *f = fopen(bad, "w");
    fputs("consultora_code,product_code,quantity\n123,80901,dos\n456,ABC.1,1\n", f);
    fclose(f);
    long before = q("SELECT count(*) FROM batches");
    curl_mime *form = curl_mime_init(NULL);
    curl_mimepart *p = curl_mime_addpart(form);
    curl_mime_name(p, "file");
    curl_mime_filedata(p, bad);
    struct resp r = req("POST", "/batches/upload", TOKEN, NULL, form);
    curl_mime_free(form);
    assert_int_equal(r.status, 400);
    cJSON *j = json_of(&r);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")), 2);
    assert_non_null(strstr(r.body, "bad.csv:2"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "batch_id")));
    cJSON_Delete(j);
    free(r.body);
    assert_int_equal(q("SELECT count(*) FROM batches"), before);

    // Over GSPBOT_MAX_FILE_MB (2 MB here): 413, and no temp file stays behind.
    char big[128];
    snprintf(big, sizeof big, "%s/big.csv", g_tmp);
    f = fopen(big, "w");
    fputs("consultora_code,product_code,quantity\n", f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "%d,80901,1\n", 10000000 + i);
    fclose(f);
    form = curl_mime_init(NULL);
    p = curl_mime_addpart(form);
    curl_mime_name(p, "file");
    curl_mime_filedata(p, big);
    r = req("POST", "/batches/upload", TOKEN, NULL, form);
    curl_mime_free(form);
    assert_int_equal(r.status, 413);
    free(r.body);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/uploads", g_tmp);
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while (d != NULL && (e = readdir(d)) != NULL)
        files += e->d_name[0] != '.';
    if (d)
        closedir(d);
    assert_int_equal(files, 0);
    assert_int_equal(q("SELECT count(*) FROM batches"), before);
}

static void test_batch_routes_and_their_errors(void **state)
{
    (void)state;
    long long id = gspbot_load(GSPBOT_DATA_DIR "/sample_orders.csv");
    char path[128];
    snprintf(path, sizeof path, "/batches/%lld/stats", id);
    expect("GET", path, TOKEN, NULL, 200, "\"status\":\"pending\"");
    expect("GET", "/batches/999999/stats", TOKEN, NULL, 404, "no batch 999999");
    expect("GET", "/batches/abc/stats", TOKEN, NULL, 400, "is not an id");
    snprintf(path, sizeof path, "/batches/%lld/orders?status=nope", id);
    expect("GET", path, TOKEN, NULL, 400, "not an order status");
    snprintf(path, sizeof path, "/batches/%lld/orders?per_page=0", id);
    expect("GET", path, TOKEN, NULL, 400, "per_page");
    snprintf(path, sizeof path, "/batches/%lld/orders?per_page=10&page=3", id);
    expect("GET", path, TOKEN, NULL, 200, "\"total\":25");
    snprintf(path, sizeof path, "/batches/%lld/pause", id);
    expect("POST", path, TOKEN, NULL, 409, "only a running batch can be paused");
    snprintf(path, sizeof path, "/batches/%lld/start", id);
    expect("POST", path, TOKEN, "{\"at\": \"garbage\"}", 400, "the body must be");
    expect("POST", path, TOKEN, NULL, 200, "started: 25 orders queued");
    snprintf(path, sizeof path, "/batches/%lld", id);
    expect("DELETE", path, TOKEN, NULL, 409, "pause or cancel it"); // running
    snprintf(path, sizeof path, "/batches/%lld/pause", id);
    expect("POST", path, TOKEN, NULL, 200, "\"status\":\"paused\"");
    snprintf(path, sizeof path, "/batches/%lld/cancel", id);
    expect("POST", path, TOKEN, NULL, 200, "\"status\":\"cancelled\"");
    snprintf(path, sizeof path, "/batches/%lld/retry", id);
    expect("POST", path, TOKEN, NULL, 409, "was cancelled");
    snprintf(path, sizeof path, "/batches/%lld/failures", id);
    expect("GET", path, TOKEN, NULL, 200, "\"groups\":[]");
    long long order = q("SELECT min(id) FROM orders WHERE batch_id = (SELECT max(id) FROM batches)");
    snprintf(path, sizeof path, "/orders/%lld", order);
    expect("GET", path, TOKEN, NULL, 200, "\"products\"");
    snprintf(path, sizeof path, "/orders/%lld/logs", order);
    expect("GET", path, TOKEN, NULL, 200, "\"logs\":[]");
    expect("GET", "/orders/999999", TOKEN, NULL, 404, "no order 999999");
    expect("GET", "/orders/999999/logs", TOKEN, NULL, 404, "no order");
    expect("POST", "/orders/999999/retry", TOKEN, NULL, 404, "no order");
    snprintf(path, sizeof path, "/batches/%lld", id);
    expect("DELETE", path, TOKEN, NULL, 200, "\"deleted\"");
    expect("GET", "/batches?per_page=2", TOKEN, NULL, 200, "\"per_page\":2");
    expect("GET", "/workers", TOKEN, NULL, 200, "\"workers\":[]");
    expect("GET", "/breaker", TOKEN, NULL, 200, "\"state\":\"closed\"");
    expect("POST", "/breaker/reset", TOKEN, NULL, 200, "\"state\":\"closed\"");
    struct resp r = req("GET", "/metrics", TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    assert_non_null(strstr(r.body, "gspbot_breaker_state{state=\"closed\"} 1"));
    assert_non_null(strstr(r.body, "# TYPE gspbot_orders gauge"));
    free(r.body);
}

static void test_screenshots_serve_only_evidence_files(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/order-1-123-a1-login_ok.png", g_evidence);
    FILE *f = fopen(path, "wb");
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/order-1-123-a1-login_ok.html", g_evidence);
    f = fopen(path, "w");
    fputs("<script>window.pwned = 1</script><p>portal page</p>", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/secret.txt", g_tmp);
    f = fopen(path, "w");
    fputs("outside the evidence folder", f);
    fclose(f);
    char link[256];
    snprintf(link, sizeof link, "%s/link.png", g_evidence);
    assert_int_equal(symlink(path, link), 0);

    struct resp r = req("GET", "/screenshots/order-1-123-a1-login_ok.png", TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "image/png");
    free(r.body);
    r = req("GET", "/screenshots/order-1-123-a1-login_ok.html", TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain")); // never rendered on our origin
    assert_non_null(strcasestr(r.headers, "Content-Security-Policy: sandbox"));
    assert_non_null(strcasestr(r.headers, "attachment"));
    free(r.body);
    expect("GET", "/screenshots/order-1-123-a1-login_ok.png", NULL, NULL, 401, NULL);
    static const char *const BAD[] = {
        "/screenshots/../secret.txt",
        "/screenshots/%2e%2e%2fsecret.txt",
        "/screenshots/..%2fsecret.txt",
        "/screenshots/%2e%2e/secret.txt",
        "/screenshots/%2Ftmp%2Fsecret.txt",
        "/screenshots//etc/passwd",
        "/screenshots/link.png",
        "/screenshots/secret.txt",
        "/screenshots/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        r = req("GET", BAD[i], TOKEN, NULL, NULL);
        if (r.status != 404)
            fail_msg("%s: HTTP %ld (want 404): %.200s", BAD[i], r.status, r.body);
        assert_null(strstr(r.body, "outside the evidence folder"));
        free(r.body);
    }
}

static void test_openapi_describes_every_route(void **state)
{
    (void)state;
    struct resp r = req("GET", "/openapi.json", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    cJSON *spec = json_of(&r);
    free(r.body);
    const cJSON *paths = cJSON_GetObjectItem(spec, "paths");
    assert_non_null(paths);
    // The server's own table of routes: every one must be described with its method.
    size_t n = 0;
    const struct api_route_info *routes = api_routes(&n);
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(paths, routes[i].pattern);
        char method[16];
        size_t k = 0;
        for (; routes[i].method[k] != '\0' && k < sizeof method - 1; k++)
            method[k] = (char)(routes[i].method[k] | 0x20);
        method[k] = '\0';
        if (p == NULL || cJSON_GetObjectItemCaseSensitive(p, method) == NULL)
            fail_msg("%s %s is not in openapi.json", routes[i].method, routes[i].pattern);
    }
    // Every list is paged: its page and per_page are described.
    static const char *const LISTS[] = {"/batches", "/batches/{id}/orders", "/batches/{id}/failures",
                                        "/orders/{id}/logs", "/workers"};
    for (size_t i = 0; i < sizeof LISTS / sizeof LISTS[0]; i++) {
        const cJSON *get = cJSON_GetObjectItem(cJSON_GetObjectItemCaseSensitive(paths, LISTS[i]), "get");
        int found = 0;
        const cJSON *prm;
        cJSON_ArrayForEach(prm, cJSON_GetObjectItem(get, "parameters"))
        {
            const cJSON *name = cJSON_GetObjectItem(prm, "name");
            found += cJSON_IsString(name) &&
                     (strcmp(name->valuestring, "page") == 0 || strcmp(name->valuestring, "per_page") == 0);
        }
        if (found != 2)
            fail_msg("GET %s: page and per_page are not in openapi.json", LISTS[i]);
    }
    cJSON_Delete(spec);
}

static void test_dashboard_is_served_with_a_strict_policy(void **state)
{
    (void)state;
    struct resp r = req("GET", "/", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/html"));
    assert_non_null(strcasestr(r.headers, "Content-Security-Policy: default-src 'self'; script-src 'self'"));
    assert_null(strstr(r.body, "<script>")); // no inline script
    free(r.body);
    r = req("GET", "/static/app.js", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
}

/* Webhook messages received about batch `id` (and of `kind`, when not NULL). */
static int hooks_for(long long id, const char *kind)
{
    int n = 0;
    pthread_mutex_lock(&g_hook_mu);
    for (int k = 0; k < g_nhooks; k++) {
        cJSON *j = cJSON_Parse(g_hooks[k]);
        const cJSON *b = cJSON_GetObjectItem(j, "batch_id"), *e = cJSON_GetObjectItem(j, "event");
        n += cJSON_IsNumber(b) && (long long)b->valuedouble == id &&
             (kind == NULL || (cJSON_IsString(e) && strcmp(e->valuestring, kind) == 0));
        cJSON_Delete(j);
    }
    pthread_mutex_unlock(&g_hook_mu);
    return n;
}

static void test_webhook_gets_one_message_per_finished_batch(void **state)
{
    (void)state;
    // A batch of one order, worked by hand through the queue's own commands: cancelled is one of
    // the ends a webhook reports.
    struct resp r = req("POST", "/batches", TOKEN,
                        "{\"name\": \"hook\", \"orders\": [{\"consultora_code\": \"777\", \"products\":"
                        " [{\"product_code\": \"80901\", \"quantity\": 1}]}]}",
                        NULL);
    assert_int_equal(r.status, 201);
    cJSON *j = json_of(&r);
    long long id = (long long)cJSON_GetObjectItem(j, "batch_id")->valuedouble;
    cJSON_Delete(j);
    free(r.body);
    char path[64];
    snprintf(path, sizeof path, "/batches/%lld/start", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
    snprintf(path, sizeof path, "/batches/%lld/cancel", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
    // Delivered within a few seconds, exactly once.
    int seen = 0;
    for (int i = 0; i < 150 && seen == 0; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        seen = hooks_for(id, "batch.cancelled");
    }
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);
    assert_int_equal(hooks_for(id, NULL), 1);
    assert_int_equal(q("SELECT count(*) FROM events WHERE webhook AND delivered_at IS NULL"), 0);
}

/* /events: a client receives batch events as they happen. */
struct sse {
    char buf[65536];
    size_t len;
};

struct sse_run {
    struct sse s;
    long status;
    const char *want[4]; /* the client stops once every one has arrived (none: paused and progress) */
};

static size_t on_sse(char *p, size_t size, size_t n, void *arg)
{
    struct sse_run *run = arg;
    struct sse *s = &run->s;
    size_t k = size * n;
    if (s->len + k < sizeof s->buf) {
        memcpy(s->buf + s->len, p, k);
        s->len += k;
        s->buf[s->len] = '\0';
    }
    if (run->want[0] == NULL) // enough once a pause event and a progress event arrived
        return strstr(s->buf, "event: batch.paused") && strstr(s->buf, "event: batch.progress") ? 0 : k;
    for (size_t i = 0; i < sizeof run->want / sizeof run->want[0] && run->want[i] != NULL; i++)
        if (strstr(s->buf, run->want[i]) == NULL)
            return k;
    return 0;
}

static void *sse_client(void *arg)
{
    struct sse_run *run = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/events", g_url);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, run);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &run->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_events_stream_batch_changes(void **state)
{
    (void)state;
    static struct sse_run run;
    memset(&run, 0, sizeof run);
    pthread_t t;
    pthread_create(&t, NULL, sse_client, &run);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    long long id = gspbot_load(GSPBOT_DATA_DIR "/sample_orders.json");
    char path[64];
    snprintf(path, sizeof path, "/batches/%lld/start", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
    snprintf(path, sizeof path, "/batches/%lld/pause", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
    pthread_join(t, NULL);
    assert_int_equal(run.status, 200);
    assert_non_null(strstr(run.s.buf, "event: batch.started"));
    assert_non_null(strstr(run.s.buf, "event: batch.paused"));
    assert_non_null(strstr(run.s.buf, "event: batch.progress"));
    snprintf(path, sizeof path, "/batches/%lld/cancel", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
}

/* ------------------------------------------- the queue's own functions, no browser */

static struct db *qdb(void)
{
    if (g_qdb == NULL && db_open(&g_qdb, g_db) != 0)
        fail_msg("cannot connect: %s", db_errmsg(g_qdb));
    return g_qdb;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* GET path with the token: 200 and its JSON. */
static cJSON *get_json(const char *path)
{
    struct resp r = req("GET", path, TOKEN, NULL, NULL);
    if (r.status != 200)
        fail_msg("GET %s: HTTP %ld %.300s", path, r.status, r.body);
    cJSON *j = json_of(&r);
    free(r.body);
    return j;
}

static long num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is not a number", key);
    return (long)v->valuedouble;
}

/* A page's own figures and the length of its list. */
static void expect_page(const cJSON *j, const char *key, long page, long per_page, long total, long pages, int len)
{
    assert_int_equal(num(j, "page"), page);
    assert_int_equal(num(j, "per_page"), per_page);
    assert_int_equal(num(j, "total"), total);
    assert_int_equal(num(j, "pages"), pages);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, key)), len);
}

static void test_workers_lists_live_workers_a_page_at_a_time(void **state)
{
    (void)state;
    // Two workers registered and beating the way `gspbot worker` does (queue_worker_*).
    struct db *db = qdb();
    struct queue_worker_info w1 = {"apitest-a:4242:1", "apitest-a", 4242, NULL};
    struct queue_worker_info w2 = {"apitest-b:4343:1", "apitest-b", 4343, NULL};
    assert_int_equal(queue_worker_register(db, &w1), 0);
    assert_int_equal(queue_worker_register(db, &w2), 0);
    struct queue_worker_beat b = {.status = "busy",
                                  .current_step = "login",
                                  .orders_done = 3,
                                  .orders_failed = 1,
                                  .browser_rss_mb = 321,
                                  .browser_launches = 2};
    assert_int_equal(queue_worker_heartbeat(db, w1.id, &b), 0);

    cJSON *j = get_json("/workers");
    expect_page(j, "workers", 1, 50, 2, 1, 2);
    const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "workers"), 0);
    assert_string_equal(cJSON_GetObjectItem(w, "id")->valuestring, w1.id);
    assert_string_equal(cJSON_GetObjectItem(w, "host")->valuestring, "apitest-a");
    assert_int_equal(num(w, "pid"), 4242);
    assert_string_equal(cJSON_GetObjectItem(w, "status")->valuestring, "busy");
    assert_string_equal(cJSON_GetObjectItem(w, "current_step")->valuestring, "login");
    assert_int_equal(num(w, "orders_done"), 3);
    assert_int_equal(num(w, "orders_failed"), 1);
    assert_int_equal(num(w, "browser_rss_mb"), 321);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(w, "heartbeat_at")));
    cJSON_Delete(j);

    j = get_json("/workers?per_page=1&page=2");
    expect_page(j, "workers", 2, 1, 2, 2, 1);
    w = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "workers"), 0);
    assert_string_equal(cJSON_GetObjectItem(w, "id")->valuestring, w2.id);
    cJSON_Delete(j);
    j = get_json("/workers?per_page=1&page=3");
    expect_page(j, "workers", 3, 1, 2, 2, 0);
    cJSON_Delete(j);
    expect("GET", "/workers?page=0", TOKEN, NULL, 400, "page");
    expect("GET", "/workers?per_page=1001", TOKEN, NULL, 400, "per_page");
    expect("GET", "/health", NULL, NULL, 200, "\"workers_alive\":2");

    // Stopped workers leave the live list, and stay in ?all=1.
    assert_int_equal(queue_worker_stopped(db, w1.id, "test over"), 0);
    assert_int_equal(queue_worker_stopped(db, w2.id, "test over"), 0);
    j = get_json("/workers");
    expect_page(j, "workers", 1, 50, 0, 0, 0);
    cJSON_Delete(j);
    j = get_json("/workers?all=1");
    expect_page(j, "workers", 1, 50, 2, 1, 2);
    cJSON_Delete(j);
}

/* A batch of three orders worked by hand through the queue (claim, log, finish), as a worker
 * would without its browser: one completed, two failed with different errors. */
static void test_a_batch_worked_through_the_queue(void **state)
{
    (void)state;
    static struct sse_run run;
    memset(&run, 0, sizeof run);
    run.want[0] = "event: order.finished";
    run.want[1] = "event: breaker.opened";
    pthread_t t;
    pthread_create(&t, NULL, sse_client, &run);
    sleep_ms(1000);

    struct resp r =
        req("POST", "/batches", TOKEN,
            "{\"name\": \"by hand\", \"orders\": ["
            "{\"consultora_code\": \"901\", \"products\": [{\"product_code\": \"80901\", \"quantity\": 1}]},"
            "{\"consultora_code\": \"902\", \"products\": [{\"product_code\": \"80902\", \"quantity\": 1}]},"
            "{\"consultora_code\": \"903\", \"products\": [{\"product_code\": \"80903\", \"quantity\": 1}]}]}",
            NULL);
    assert_int_equal(r.status, 201);
    cJSON *j = json_of(&r);
    long long id = (long long)cJSON_GetObjectItem(j, "batch_id")->valuedouble;
    cJSON_Delete(j);
    free(r.body);
    char path[128];
    snprintf(path, sizeof path, "/batches/%lld/start", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);

    struct db *db = qdb();
    struct queue_worker_info w = {"apitest-c:4444:1", "apitest-c", 4444, NULL};
    assert_int_equal(queue_worker_register(db, &w), 0);
    static const char *const ERRORS[] = {NULL, "el portal rechazó el producto por falta de stock",
                                         "la sesión expiró antes de confirmar"};
    long long orders[3];
    char batch_status[16] = "";
    for (int i = 0; i < 3; i++) {
        struct queue_claim c = {0};
        assert_int_equal(queue_claim(db, w.id, 60, id, &c), 1);
        orders[i] = c.order_id;
        for (int k = 0; i == 0 && k < 3; k++) {
            char step[16];
            snprintf(step, sizeof step, "step_%d", k);
            assert_int_equal(queue_log(db, &c, w.id, step, "info", "ok", 10, NULL), 0);
        }
        struct queue_result res = {.outcome = ERRORS[i] ? QUEUE_FAIL : QUEUE_DONE,
                                   .step = "login",
                                   .error = ERRORS[i],
                                   .error_class = ERRORS[i] ? "fatal" : NULL};
        assert_int_equal(queue_finish(db, &c, &res, batch_status), 0);
        queue_claim_cleanup(&c);
    }
    assert_string_equal(batch_status, "failed"); // finished, with failures

    // Exactly one "batch.finished" webhook for it (and nothing else: a start sends none).
    for (int i = 0; i < 150 && hooks_for(id, "batch.finished") == 0; i++)
        sleep_ms(100);
    sleep_ms(2000);
    assert_int_equal(hooks_for(id, "batch.finished"), 1);
    assert_int_equal(hooks_for(id, NULL), 1);

    // The breaker opens (threshold 1): /events says so, as it said each order finished.
    bool opened = false;
    assert_int_equal(queue_breaker_failure(db, 1, "portal caído (prueba)", &opened), 0);
    assert_true(opened);
    pthread_join(t, NULL);
    assert_int_equal(run.status, 200);
    assert_non_null(strstr(run.s.buf, "event: order.finished"));
    assert_non_null(strstr(run.s.buf, "\"status\":\"completed\""));
    assert_non_null(strstr(run.s.buf, "event: breaker.opened"));
    expect("GET", "/breaker", TOKEN, NULL, 200, "\"state\":\"open\"");
    expect("POST", "/breaker/reset", TOKEN, NULL, 200, "\"state\":\"closed\"");

    // An order's logs and a batch's failure groups are paged like every list.
    snprintf(path, sizeof path, "/orders/%lld/logs", orders[0]);
    j = get_json(path);
    expect_page(j, "logs", 1, 50, 3, 1, 3);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/orders/%lld/logs?per_page=2&page=2", orders[0]);
    j = get_json(path);
    expect_page(j, "logs", 2, 2, 3, 2, 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "logs"), 0), "step")->valuestring,
                        "step_2");
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/orders/%lld/logs?per_page=abc", orders[0]);
    expect("GET", path, TOKEN, NULL, 400, "per_page");
    snprintf(path, sizeof path, "/batches/%lld/failures", id);
    j = get_json(path);
    expect_page(j, "groups", 1, 50, 2, 1, 2);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/batches/%lld/failures?per_page=1&page=2", id);
    j = get_json(path);
    expect_page(j, "groups", 2, 1, 2, 2, 1);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/batches/%lld/failures?page=x", id);
    expect("GET", path, TOKEN, NULL, 400, "page");

    // POST /orders/{id}/retry: the failed order is queued again, attempts reset; the other stays.
    snprintf(path, sizeof path, "/orders/%lld/retry", orders[1]);
    expect("POST", path, TOKEN, NULL, 200, "\"message\"");
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = %lld AND status = 'queued' AND attempts = 0",
             orders[1]);
    assert_int_equal(q(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders WHERE id = %lld AND status = 'failed'", orders[2]);
    assert_int_equal(q(sql), 1);
    snprintf(path, sizeof path, "/orders/%lld/retry", orders[0]); // completed: nothing to retry
    expect("POST", path, TOKEN, NULL, 409, "\"error\"");

    assert_int_equal(queue_worker_stopped(db, w.id, "test over"), 0);
    snprintf(path, sizeof path, "/batches/%lld/cancel", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
}

static void test_a_scheduled_start_lets_no_worker_claim(void **state)
{
    (void)state;
    struct resp r = req("POST", "/batches", TOKEN,
                        "{\"name\": \"later\", \"orders\": [{\"consultora_code\": \"904\", \"products\":"
                        " [{\"product_code\": \"80901\", \"quantity\": 1}]}]}",
                        NULL);
    assert_int_equal(r.status, 201);
    cJSON *j = json_of(&r);
    long long id = (long long)cJSON_GetObjectItem(j, "batch_id")->valuedouble;
    cJSON_Delete(j);
    free(r.body);
    char path[64], body[64];
    snprintf(path, sizeof path, "/batches/%lld/start", id);
    snprintf(body, sizeof body, "{\"at\": %lld}", (long long)time(NULL) + 7200);
    expect("POST", path, TOKEN, body, 200, "scheduled");
    struct db *db = qdb();
    struct queue_worker_info w = {"apitest-d:4545:1", "apitest-d", 4545, NULL};
    assert_int_equal(queue_worker_register(db, &w), 0);
    struct queue_claim c = {0};
    assert_int_equal(queue_claim(db, w.id, 60, id, &c), 0); // nothing due before the time given
    queue_claim_cleanup(&c);
    assert_int_equal(queue_worker_stopped(db, w.id, "test over"), 0);
    snprintf(path, sizeof path, "/batches/%lld/stats", id);
    expect("GET", path, TOKEN, NULL, 200, "\"queued\":1");
    snprintf(path, sizeof path, "/batches/%lld/cancel", id);
    expect("POST", path, TOKEN, NULL, 200, NULL);
}

static curl_mime *upload_form(const char *file, bool dry_run)
{
    curl_mime *form = curl_mime_init(NULL);
    curl_mimepart *p = curl_mime_addpart(form);
    curl_mime_name(p, "file");
    curl_mime_filedata(p, file);
    p = curl_mime_addpart(form);
    curl_mime_name(p, "allow_duplicate");
    curl_mime_data(p, "1", CURL_ZERO_TERMINATED);
    if (dry_run) {
        p = curl_mime_addpart(form);
        curl_mime_name(p, "dry_run");
        curl_mime_data(p, "1", CURL_ZERO_TERMINATED);
    }
    return form;
}

static void test_upload_dry_run_creates_nothing_and_answers_like_an_upload(void **state)
{
    (void)state;
    const char *file = GSPBOT_DATA_DIR "/sample_orders.csv";
    long batches = q("SELECT count(*) FROM batches"), orders = q("SELECT count(*) FROM orders");
    cJSON *dry[2];
    for (int k = 0; k < 2; k++) { // ?dry_run=1 in the query, then as a form field
        curl_mime *form = upload_form(file, k == 1);
        struct resp r = req("POST", k == 0 ? "/batches/upload?dry_run=1" : "/batches/upload", TOKEN, NULL, form);
        curl_mime_free(form);
        if (r.status != 200)
            fail_msg("dry run: HTTP %ld %.300s", r.status, r.body);
        dry[k] = json_of(&r);
        free(r.body);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(dry[k], "dry_run")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(dry[k], "batch_id")));
    }
    assert_int_equal(q("SELECT count(*) FROM batches"), batches);
    assert_int_equal(q("SELECT count(*) FROM orders"), orders);
    // The real upload's answer: the same summary, field by field, but for batch_id and dry_run.
    curl_mime *form = upload_form(file, false);
    struct resp r = req("POST", "/batches/upload", TOKEN, NULL, form);
    curl_mime_free(form);
    assert_int_equal(r.status, 201);
    cJSON *real = json_of(&r);
    free(r.body);
    for (int k = 0; k < 2; k++) {
        const cJSON *f;
        cJSON_ArrayForEach(f, real)
        {
            if (strcmp(f->string, "batch_id") == 0)
                continue;
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(dry[k], f->string);
            if (d == NULL || !cJSON_Compare(f, d, true))
                fail_msg("dry run: \"%s\" differs from the upload's", f->string);
        }
        assert_int_equal(cJSON_GetArraySize(dry[k]), cJSON_GetArraySize(real) + 1); // + dry_run
        cJSON_Delete(dry[k]);
    }
    assert_int_equal(num(real, "orders"), 25);
    cJSON_Delete(real);
    assert_int_equal(q("SELECT count(*) FROM batches"), batches + 1);
}

static void test_text_evidence_is_served_as_a_sandboxed_attachment(void **state)
{
    (void)state;
    static const char *const FILES[] = {"order-2-456-a1-cart.html", "order-2-456-a1-cart.console.txt"};
    for (size_t i = 0; i < 2; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", g_evidence, FILES[i]);
        FILE *f = fopen(path, "w");
        fputs("<script>alert(1)</script> console: error at cart", f);
        fclose(f);
        char url[128];
        snprintf(url, sizeof url, "/screenshots/%s", FILES[i]);
        struct resp r = req("GET", url, TOKEN, NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.ctype, "text/plain; charset=utf-8");
        assert_non_null(strcasestr(r.headers, "\nContent-Security-Policy: sandbox"));
        char disp[200];
        snprintf(disp, sizeof disp, "Content-Disposition: attachment; filename=\"%s\"", FILES[i]);
        assert_non_null(strcasestr(r.headers, disp));
        assert_non_null(strcasestr(r.headers, "X-Content-Type-Options: nosniff"));
        assert_string_equal(r.body, "<script>alert(1)</script> console: error at cart");
        free(r.body);
    }
}

static void test_metrics_has_every_series_of_the_readme(void **state)
{
    (void)state;
    static const char *const SERIES[] = {
        "gspbot_orders",
        "gspbot_attempts_total",
        "gspbot_step_duration_seconds",
        "gspbot_attempt_duration_seconds",
        "gspbot_breaker_state",
        "gspbot_breaker_opened_total",
        "gspbot_workers_live",
        "gspbot_workers_busy",
        "gspbot_browser_relaunches_total",
        "gspbot_browser_rss_megabytes",
    };
    struct resp r = req("GET", "/metrics", TOKEN, NULL, NULL);
    assert_int_equal(r.status, 200);
    for (size_t i = 0; i < sizeof SERIES / sizeof SERIES[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "# TYPE %s ", SERIES[i]);
        if (strstr(r.body, line) == NULL)
            fail_msg("/metrics has no %s", SERIES[i]);
    }
    free(r.body);
}

/* Last: serve has logged every request above (with --verbose), and never the token. */
static void test_the_token_is_never_logged(void **state)
{
    (void)state;
    FILE *f = fopen(g_serve_log, "r");
    assert_non_null(f);
    static char log[1 << 20];
    size_t n = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[n] = '\0';
    assert_non_null(strstr(log, "serving on")); // the log is the one serve wrote
    assert_null(strstr(log, TOKEN));
    assert_null(strstr(log, "0123456789abcdef")); // nor a part of it
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_needs_no_token_everything_else_does),
        cmocka_unit_test(test_json_batches_load_all_or_nothing),
        cmocka_unit_test(test_upload_creates_the_same_batch_as_load),
        cmocka_unit_test(test_upload_with_errors_creates_nothing_and_over_the_cap_gets_413),
        cmocka_unit_test(test_batch_routes_and_their_errors),
        cmocka_unit_test(test_screenshots_serve_only_evidence_files),
        cmocka_unit_test(test_openapi_describes_every_route),
        cmocka_unit_test(test_dashboard_is_served_with_a_strict_policy),
        cmocka_unit_test(test_webhook_gets_one_message_per_finished_batch),
        cmocka_unit_test(test_events_stream_batch_changes),
        cmocka_unit_test(test_workers_lists_live_workers_a_page_at_a_time),
        cmocka_unit_test(test_a_batch_worked_through_the_queue),
        cmocka_unit_test(test_a_scheduled_start_lets_no_worker_claim),
        cmocka_unit_test(test_upload_dry_run_creates_nothing_and_answers_like_an_upload),
        cmocka_unit_test(test_text_evidence_is_served_as_a_sandboxed_attachment),
        cmocka_unit_test(test_metrics_has_every_series_of_the_readme),
        cmocka_unit_test(test_the_token_is_never_logged),
    };
    return cmocka_run_group_tests_name("api", tests, group_setup, group_teardown);
}
