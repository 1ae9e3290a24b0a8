/* The dashboard (GET / of `gspbot serve`) driven in real headless Chromium through gspbot's own
 * CDP client, against a real `gspbot serve` on a real PostgreSQL, with a real `gspbot worker` pool
 * walking the portal simulator so that the numbers move. It checks what a campaign lead relies on:
 * the token is asked and a bad one asked again; the batch list agrees with the database; the counts
 * move live (through /events, without a reload); a failed order's "retry" re-queues it; a file with
 * errors lists them line by line; HTML and script in batch and consultora names show as text and
 * never run; the page is usable at laptop and phone widths (screenshots kept as artifacts); and
 * nothing is left running afterwards.
 *
 * The tests share one server, one simulator and one browser page, and run in order: each builds on
 * the batch the first one loaded. Bounds are wide ("never hangs"), never precise timings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cdp.h"
#include "simproc.h"
#include "testdb.h"

#define TOKEN      "dashboard-test-token-0123456789abcdef"
#define CYCLE      "202605"
#define UI_WAIT_MS 30000 /* a page element or state: generous on two shared cores */
#define N_ORDERS   16    /* the main batch: long enough to watch it move */

static char g_tmp[64]; /* everything of this run: files, evidence, Chromium profiles */
static char *g_db;     /* this run's database */
static struct simproc g_sim;
static pid_t g_serve;  /* `gspbot serve` */
static pid_t g_pool;   /* `gspbot worker` (a session of its own) */
static char g_url[64]; /* the server's "http://127.0.0.1:PORT" */
static struct cdp_browser *g_browser;
static struct cdp_page *g_page;
static long long g_batch;     /* the main batch */
static long long g_bad_order; /* its order of consultora 99...: fails for good */

/* ------------------------------------------------------------------ helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A number from the database (-1 when the query returns no row). */
static long q(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long q(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = testdb_query_value(g_db, sql);
    long r = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return r;
}

/* Waits (at most timeout_s) until the SQL's number is at least want. */
static void wait_db(long want, int timeout_s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wait_db(long want, int timeout_s, const char *what, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long end = now_ms() + timeout_s * 1000LL;
    long v = -1;
    while (now_ms() < end) {
        char *s = testdb_query_value(g_db, sql);
        v = s ? strtol(s, NULL, 10) : -1;
        free(s);
        if (v >= want)
            return;
        sleep_ms(200);
    }
    fail_msg("%s: %ld after %d s, wanted at least %ld", what, v, timeout_s, want);
}

/* Waits for a child (at most timeout_ms); returns its exit status (128+signal) or -1. */
static int wait_child(pid_t pid, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 || now_ms() > end)
            return -1;
        sleep_ms(50);
    }
}

/* Runs gspbot with args (NULL-terminated); its output goes to out. Returns the exit status. */
static int gspbot(const char *const *args, char *out, size_t outn)
{
    char path[128];
    snprintf(path, sizeof path, "%s/cmd.out", g_tmp);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *argv[16] = {GSPBOT_PATH};
        int n = 1;
        for (int i = 0; args[i] != NULL && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(GSPBOT_PATH, (char *const *)argv);
        _exit(127);
    }
    int rc = wait_child(pid, 120000);
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(out, 1, outn - 1, f) : 0;
    out[k] = '\0';
    if (f)
        fclose(f);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Loads a CSV (written to the temp dir as `file`) as a batch named `name` with `gspbot load`;
 * returns the new batch's id. */
static long long load_csv(const char *file, const char *csv, const char *name)
{
    char path[160], out[8192];
    snprintf(path, sizeof path, "%s/%s", g_tmp, file);
    write_file(path, csv);
    const char *args[] = {"load", path, "--name", name, "--allow-duplicate", NULL};
    int rc = gspbot(args, out, sizeof out);
    if (rc != 0)
        fail_msg("gspbot load %s: exit %d: %s", path, rc, out);
    return q("SELECT max(id) FROM batches");
}

/* s as a JavaScript string literal (JSON's quoting), into buf. */
static const char *js_str(const char *s, char *buf, size_t n)
{
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    assert_non_null(t);
    snprintf(buf, n, "%s", t);
    cJSON_free(t);
    cJSON_Delete(j);
    return buf;
}

/* Evaluates a JS expression in the page; the caller frees the result. */
static cJSON *js(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *js(const char *fmt, ...)
{
    char expr[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    cJSON *r = NULL;
    int rc = cdp_page_evaluate(g_page, expr, UI_WAIT_MS, &r);
    if (rc != 0)
        fail_msg("evaluate %.200s: %s", expr, cdp_page_errmsg(g_page));
    return r;
}

static bool js_true(const char *expr)
{
    cJSON *r = js("%s", expr);
    bool t = cJSON_IsTrue(r);
    cJSON_Delete(r);
    return t;
}

static long js_long(const char *expr)
{
    cJSON *r = js("%s", expr);
    long v = cJSON_IsNumber(r) ? (long)r->valuedouble : -1;
    cJSON_Delete(r);
    return v;
}

/* Waits until the JS expression is truthy; fails with what the page shows. */
static void wait_js(int timeout_ms, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void wait_js(int timeout_ms, const char *what, const char *fmt, ...)
{
    char expr[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    if (cdp_page_wait_function(g_page, expr, timeout_ms) != 0)
        fail_msg("%s: %s", what, cdp_page_errmsg(g_page));
}

static void wait_visible(const char *selector, const char *text)
{
    if (cdp_page_wait_for(g_page, selector, text, CDP_STATE_VISIBLE, UI_WAIT_MS) != 0)
        fail_msg("wait for %s%s%s: %s", selector, text ? " with " : "", text ? text : "", cdp_page_errmsg(g_page));
}

static void click(const char *selector, const char *text)
{
    if (cdp_page_click(g_page, selector, text, UI_WAIT_MS) != 0)
        fail_msg("click %s: %s", selector, cdp_page_errmsg(g_page));
}

static void fill(const char *selector, const char *value)
{
    if (cdp_page_fill(g_page, selector, NULL, value, UI_WAIT_MS) != 0)
        fail_msg("fill %s: %s", selector, cdp_page_errmsg(g_page));
}

/* Sets the files of an <input type=file> as a user's choice would (DOM.setFileInputFiles). */
static void set_file(const char *selector, const char *path)
{
    cJSON *doc = NULL, *found = NULL;
    if (cdp_page_call(g_page, "DOM.getDocument", NULL, UI_WAIT_MS, &doc) != 0)
        fail_msg("DOM.getDocument: %s", cdp_page_errmsg(g_page));
    cJSON *params = cJSON_CreateObject();
    cJSON_AddNumberToObject(params, "nodeId",
                            cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "root"), "nodeId")->valuedouble);
    cJSON_AddStringToObject(params, "selector", selector);
    if (cdp_page_call(g_page, "DOM.querySelector", params, UI_WAIT_MS, &found) != 0)
        fail_msg("DOM.querySelector %s: %s", selector, cdp_page_errmsg(g_page));
    cJSON_Delete(params);
    double node = cJSON_GetObjectItem(found, "nodeId")->valuedouble;
    if (node <= 0)
        fail_msg("no %s in the page", selector);
    params = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(params, "files");
    cJSON_AddItemToArray(files, cJSON_CreateString(path));
    cJSON_AddNumberToObject(params, "nodeId", node);
    if (cdp_page_call(g_page, "DOM.setFileInputFiles", params, UI_WAIT_MS, NULL) != 0)
        fail_msg("DOM.setFileInputFiles: %s", cdp_page_errmsg(g_page));
    cJSON_Delete(params);
    cJSON_Delete(found);
    cJSON_Delete(doc);
}

/* The page's count of `status` orders of a batch (its card's data-value), -1 when not shown. */
static long page_count(long long batch, const char *status)
{
    char expr[300];
    snprintf(expr, sizeof expr,
             "(() => { const e = document.querySelector('li.batch[data-batch-id=\"%lld\"] .count-%s');"
             " return e ? Number(e.dataset.value) : -1; })()",
             batch, status);
    return js_long(expr);
}

/* The page shows the login form; enters the token and waits for the dashboard. */
static void enter_token(const char *token)
{
    wait_visible("#token-form", NULL);
    fill("#token-input", token);
    click("#token-form button[type=\"submit\"]", NULL);
}

/* Width and height of a PNG file (its IHDR); fails when it is not a PNG. */
static void png_size(const char *path, unsigned *w, unsigned *h)
{
    unsigned char head[24];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    size_t k = fread(head, 1, sizeof head, f);
    fclose(f);
    static const unsigned char SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (k != sizeof head || memcmp(head, SIG, 8) != 0 || memcmp(head + 12, "IHDR", 4) != 0)
        fail_msg("%s is not a PNG", path);
    *w = (unsigned)head[16] << 24 | (unsigned)head[17] << 16 | (unsigned)head[18] << 8 | head[19];
    *h = (unsigned)head[20] << 24 | (unsigned)head[21] << 16 | (unsigned)head[22] << 8 | head[23];
}

/* Processes whose command line names this run's temp dir (Chromium profiles live there). */
static int leftovers(char *found, size_t n)
{
    int count = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < k; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[k] = '\0';
        if (k > 0 && strstr(cmd, g_tmp) != NULL) {
            count++;
            snprintf(found, n, "pid %s: %.200s", e->d_name, cmd);
        }
    }
    if (d)
        closedir(d);
    return count;
}

/* ------------------------------------------------------------------- setup */

static int start_serve(void)
{
    int out[2];
    if (pipe(out) != 0)
        return -1;
    char log[128];
    snprintf(log, sizeof log, "%s/serve.log", g_tmp);
    g_serve = fork();
    if (g_serve < 0)
        return -1;
    if (g_serve == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlives the test
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(out[1], 1);
        dup2(fd, 2);
        close(out[0]);
        setenv("GSPBOT_API_TOKEN", TOKEN, 1);
        execl(GSPBOT_PATH, GSPBOT_PATH, "serve", "--port", "0", "--host", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    // The first line says where it listens; read it with a deadline.
    char line[256];
    size_t got = 0;
    long long end = now_ms() + 20000;
    while (got < sizeof line - 1 && memchr(line, '\n', got) == NULL && now_ms() < end) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t k = read(out[0], line + got, sizeof line - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(out[0]); // serve writes nothing more to stdout
    line[got] = '\0';
    int port = 0;
    if (sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1) {
        fprintf(stderr, "gspbot serve said \"%s\" (see %s)\n", line, log);
        return -1;
    }
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", port);
    return 0;
}

/* `gspbot worker --concurrency 2` in a session of its own, logging to the temp dir. */
static void start_pool(void)
{
    char log[128];
    snprintf(log, sizeof log, "%s/pool.log", g_tmp);
    g_pool = fork();
    assert_true(g_pool >= 0);
    if (g_pool == 0) {
        setsid();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(GSPBOT_PATH, GSPBOT_PATH, "worker", "--concurrency", "2", (char *)NULL);
        _exit(127);
    }
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/gspbot-dash-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    if (mkdir(GSPBOT_ARTIFACTS_DIR, 0755) != 0 && errno != EEXIST) {
        perror(GSPBOT_ARTIFACTS_DIR);
        return -1;
    }
    g_db = testdb_create_migrated("dashboard");
    // Faster overlays (x0.2): this suite is about the page, not the portal's animations.
    const char *args[] = {"--seed", "7", "--ui-scale", "0.2", NULL};
    if (simproc_start(&g_sim, GSPBOT_SIM_PATH, args) != 0)
        return -1;
    char evidence[128];
    snprintf(evidence, sizeof evidence, "%s/evidence", g_tmp);
    mkdir(evidence, 0700);
    // Inherited by serve, the pool and `gspbot load`.
    setenv("DATABASE_URL", g_db, 1);
    setenv("GSP_BASE_URL", g_sim.url, 1);
    setenv("GSP_USER_CODE", "demo", 1);
    setenv("GSP_PASSWORD", "demo", 1);
    setenv("GSP_CYCLE", CYCLE, 1);
    setenv("GSPBOT_FLOW", GSPBOT_FLOW_PATH, 1);
    setenv("GSPBOT_SCREENSHOT_DIR", evidence, 1);
    setenv("GSPBOT_RETRY_DELAY_MS", "300", 1);
    setenv("GSPBOT_TIMEOUT_MS", "15000", 1);
    setenv("GSPBOT_MAX_RETRIES", "2", 1);
    setenv("GSPBOT_BREAKER_FAILURES", "1000", 1);
    setenv("GSPBOT_LOG_FORMAT", "text", 1);
    setenv("TMPDIR", g_tmp, 1); // every Chromium profile (ours, the workers') is found by this path
    unsetenv("GSPBOT_API_TOKEN");
    unsetenv("GSPBOT_WEBHOOK_URL");
    if (start_serve() != 0)
        return -1;
    g_browser = cdp_browser_new();
    if (g_browser == NULL || cdp_browser_launch(g_browser, NULL) != 0) {
        fprintf(stderr, "chromium: %s\n", g_browser ? cdp_browser_errmsg(g_browser) : "out of memory");
        return -1;
    }
    struct cdp_page_opts po = {.timeout_ms = UI_WAIT_MS, .width = 1366, .height = 768};
    if (cdp_page_new(g_browser, &po, &g_page) != 0) {
        fprintf(stderr, "page: %s\n", cdp_browser_errmsg(g_browser));
        return -1;
    }
    return 0;
}

/* Copies a log of the temp dir into the artifacts (it outlives the run, for whoever reads a failure). */
static void keep_log(const char *name)
{
    char from[160], to[600], chunk[8192];
    snprintf(from, sizeof from, "%s/%s", g_tmp, name);
    snprintf(to, sizeof to, "%s/dashboard-%s", GSPBOT_ARTIFACTS_DIR, name);
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    size_t k;
    while (out != NULL && (k = fread(chunk, 1, sizeof chunk, in)) > 0)
        fwrite(chunk, 1, k, out);
    if (out)
        fclose(out);
    if (in)
        fclose(in);
}

/* Stops whatever is still running (a test that failed half-way leaves things behind). */
static int group_teardown(void **state)
{
    (void)state;
    // The page's own errors, for whoever reads a failure.
    for (size_t i = 0; g_page != NULL && i < cdp_page_log_count(g_page); i++) {
        enum cdp_log_kind kind;
        const char *t = cdp_page_log_get(g_page, i, &kind);
        fprintf(stderr, "page %s: %s\n", kind == CDP_LOG_EXCEPTION ? "exception" : "log", t ? t : "");
    }
    cdp_browser_free(g_browser); // frees the page too
    g_browser = NULL;
    g_page = NULL;
    if (g_pool > 0) {
        kill(-g_pool, SIGKILL);
        waitpid(g_pool, NULL, 0);
        g_pool = 0;
    }
    if (g_serve > 0) {
        kill(g_serve, SIGKILL);
        waitpid(g_serve, NULL, 0);
        g_serve = 0;
    }
    int rc = simproc_stop(&g_sim);
    testdb_drop(g_db);
    g_db = NULL;
    char found[512] = "";
    if (leftovers(found, sizeof found) > 0)
        fprintf(stderr, "left running: %s\n", found);
    keep_log("serve.log");
    keep_log("pool.log");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 ? 0 : -1;
}

/* -------------------------------------------------------------------- tests */

static void test_token_is_asked_and_the_batch_list_matches_the_database(void **state)
{
    (void)state;
    // The main batch: N_ORDERS orders; the second one's consultora (99...) does not exist on the
    // portal, so it fails for good.
    char csv[8192] = "consultora_code,consultora_name,product_code,quantity\n";
    size_t used = strlen(csv);
    for (int i = 1; i <= N_ORDERS; i++)
        used += (size_t)snprintf(csv + used, sizeof csv - used, "%s%07d,Consultora %d,%d,%d\n", i == 2 ? "99" : "4", i,
                                 i, 80901 + (i % 3) * 11, 1 + i % 3);
    g_batch = load_csv("mayo.csv", csv, "Campaña mayo");
    g_bad_order = q("SELECT id FROM orders WHERE batch_id = %lld AND consultora_code LIKE '99%%'", g_batch);
    assert_true(g_bad_order > 0);

    char url[96];
    snprintf(url, sizeof url, "%s/", g_url);
    int status = 0;
    if (cdp_page_navigate(g_page, url, UI_WAIT_MS, &status) != 0)
        fail_msg("open %s: %s", url, cdp_page_errmsg(g_page));
    assert_int_equal(status, 200);
    // /health needs no token: the login form already says the server is up.
    wait_visible("#health", "en línea");
    // A wrong token is refused and asked again.
    enter_token("not-the-token-at-all-000000");
    wait_visible("#login-error", "Token incorrecto");
    assert_true(js_true("document.getElementById('app').hidden"));
    enter_token(TOKEN);
    char sel[128];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"]", g_batch);
    wait_visible(sel, "Campaña mayo");
    assert_true(js_true("sessionStorage.getItem('gspbot.token') === '" TOKEN "'"));

    // Every per-status count and the total, as the database has them.
    static const char *const STATUSES[] = {"pending",   "queued", "in_progress", "retrying",
                                           "completed", "failed", "cancelled"};
    for (size_t i = 0; i < sizeof STATUSES / sizeof STATUSES[0]; i++) {
        long db = q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = '%s'", g_batch, STATUSES[i]);
        long page = page_count(g_batch, STATUSES[i]);
        if (page != db)
            fail_msg("%s: the page shows %ld, the database has %ld", STATUSES[i], page, db);
    }
    assert_int_equal(page_count(g_batch, "pending"), N_ORDERS);
    char expr[256];
    snprintf(expr, sizeof expr, "document.querySelector('%s .fig-progress').textContent.includes('de %d pedidos')", sel,
             N_ORDERS);
    assert_true(js_true(expr));

    // A token that stops being valid (401) makes the page ask again, and the right one gets back in.
    cJSON_Delete(js("sessionStorage.setItem('gspbot.token', 'a-token-that-was-revoked-0000')"));
    if (cdp_page_navigate(g_page, url, UI_WAIT_MS, NULL) != 0)
        fail_msg("reload: %s", cdp_page_errmsg(g_page));
    wait_visible("#login-error", "no es válido");
    enter_token(TOKEN);
    wait_visible(sel, "Campaña mayo");
}

static void test_counts_move_live_while_workers_run(void **state)
{
    (void)state;
    char sel[160];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"] button[data-action=\"start\"]", g_batch);
    cJSON_Delete(js("window.__sameDocument = 42"));
    click(sel, "Iniciar");
    wait_db(1, 30, "the batch running", "SELECT count(*) FROM batches WHERE id = %lld AND status = 'running'", g_batch);
    wait_visible("#notice", "started");
    start_pool();
    long before = page_count(g_batch, "completed");
    assert_true(before >= 0);
    // Orders complete and the page's count follows on its own: no reload, no click.
    wait_js(240000, "the page's completed count grows",
            "Number(document.querySelector('li.batch[data-batch-id=\"%lld\"] .count-completed').dataset.value) >= %ld",
            g_batch, before + 3);
    assert_true(js_true("window.__sameDocument === 42"));
    // ... carried by the event stream, not by polling.
    assert_true(js_true("document.getElementById('live').dataset.mode === 'stream'"));
    assert_true(js_long("Number(document.getElementById('live').dataset.events || 0)") > 0);

    // When the batch ends, the page ends with the database's exact numbers.
    wait_db(1, 300, "the batch finished",
            "SELECT count(*) FROM batches WHERE id = %lld AND status IN ('completed', 'failed')", g_batch);
    long completed = q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'", g_batch);
    long failed = q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'failed'", g_batch);
    assert_int_equal(failed, 1); // the consultora 99...
    assert_int_equal(completed + failed, N_ORDERS);
    char expr[400];
    snprintf(expr, sizeof expr,
             "(() => { const li = document.querySelector('li.batch[data-batch-id=\"%lld\"]');"
             " return li.dataset.status + ' ' + li.querySelector('.count-completed').dataset.value + ' '"
             " + li.querySelector('.count-failed').dataset.value; })()",
             g_batch);
    char want[64];
    snprintf(want, sizeof want, "failed %ld 1", completed);
    long long end = now_ms() + UI_WAIT_MS;
    for (;;) {
        cJSON *shown = js("%s", expr);
        bool same = cJSON_IsString(shown) && strcmp(shown->valuestring, want) == 0;
        if (!same && now_ms() > end)
            fail_msg("the page ends at \"%s\", the database at \"%s\"",
                     cJSON_IsString(shown) ? shown->valuestring : "?", want);
        cJSON_Delete(shown);
        if (same)
            break;
        sleep_ms(200);
    }
    assert_true(js_true("window.__sameDocument === 42"));
}

static void test_retry_of_a_failed_order_requeues_it(void **state)
{
    (void)state;
    char sel[200];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"] button[data-action=\"view\"]", g_batch);
    click(sel, NULL);
    wait_visible("#batch-detail", NULL);
    // Failures grouped by error: one group of one order.
    wait_visible("#failures-body tr", NULL);
    assert_int_equal(js_long("document.querySelectorAll('#failures-body tr').length"), 1);
    if (cdp_page_select(g_page, "#status-filter", NULL, "failed", UI_WAIT_MS) != 0)
        fail_msg("filter: %s", cdp_page_errmsg(g_page));
    snprintf(sel, sizeof sel, "tr[data-order-id=\"%lld\"]", g_bad_order);
    wait_visible(sel, NULL);
    wait_js(UI_WAIT_MS, "only failed orders listed",
            "[...document.querySelectorAll('#orders-body tr')].every(r => r.dataset.status === 'failed')");

    // Its detail: products, the step log and the failure's screenshot (fetched with the token,
    // shown through a blob: URL).
    snprintf(sel, sizeof sel, "tr[data-order-id=\"%lld\"] button[data-action=\"open-order\"]", g_bad_order);
    click(sel, NULL);
    wait_visible("#order-detail", NULL);
    wait_visible("#products-body tr", NULL);
    wait_visible("#logs-body tr", NULL);
    if (q("SELECT count(*) FROM order_logs WHERE order_id = %lld AND screenshot IS NOT NULL", g_bad_order) > 0) {
        wait_js(UI_WAIT_MS, "the evidence screenshot",
                "(() => { const i = document.getElementById('evidence-img');"
                " return i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; })()");
        // An artifact of the order detail too (for people, not checked beyond being written).
        sleep_ms(1000); // the smooth scroll to the detail ends
        cJSON_Delete(js("document.getElementById('evidence').scrollIntoView({block: 'end', behavior: 'instant'})"));
        if (cdp_page_screenshot(g_page, GSPBOT_ARTIFACTS_DIR "/dashboard-order.png", false, UI_WAIT_MS) != 0)
            fail_msg("screenshot: %s", cdp_page_errmsg(g_page));
    } else {
        print_message("  (no evidence was saved for order %lld: screenshot not checked)\n", g_bad_order);
    }

    long attempts_before =
        q("SELECT count(*) FROM order_logs WHERE order_id = %lld AND message LIKE 'attempt %% started'", g_bad_order);
    snprintf(sel, sizeof sel, "tr[data-order-id=\"%lld\"] button[data-action=\"retry-order\"]", g_bad_order);
    click(sel, "Reintentar");
    wait_visible("#notice", NULL);
    // Queued again, then a new attempt runs (and fails again: the consultora still does not exist).
    wait_db(1, 30, "the order re-queued",
            "SELECT (status <> 'failed' OR (SELECT count(*) FROM order_logs WHERE order_id = %lld"
            " AND message LIKE 'attempt %% started') > %ld)::int FROM orders WHERE id = %lld",
            g_bad_order, attempts_before, g_bad_order);
    wait_db(attempts_before + 1, 120, "a new attempt of the order",
            "SELECT count(*) FROM order_logs WHERE order_id = %lld AND message LIKE 'attempt %% started'", g_bad_order);
}

static void test_an_upload_with_errors_lists_them_line_by_line(void **state)
{
    (void)state;
    char bad[160], good[160];
    snprintf(bad, sizeof bad, "%s/pedidos-malos.csv", g_tmp);
    write_file(bad, "consultora_code,consultora_name,product_code,quantity\n"
                    "40000101,Ana,80901,2\n"
                    "40000102,Berta,80902,dos\n"
                    "40000103,Carla,80903,-1\n");
    long batches = q("SELECT count(*) FROM batches");
    set_file("#upload-file", bad);
    wait_visible("#upload-chosen", "pedidos-malos.csv");
    click("#upload-submit", NULL);
    wait_visible("#upload-errors li", "pedidos-malos.csv:3");
    cJSON *lines = js("[...document.querySelectorAll('#upload-errors li')].map(li => li.textContent)");
    assert_true(cJSON_IsArray(lines));
    assert_int_equal(cJSON_GetArraySize(lines), 2);
    const char *first = cJSON_GetArrayItem(lines, 0)->valuestring;
    const char *second = cJSON_GetArrayItem(lines, 1)->valuestring;
    if (strcmp(first, "pedidos-malos.csv:3: quantity: \"dos\" is not a whole number") != 0)
        fail_msg("first error line: %s", first);
    if (strncmp(second, "pedidos-malos.csv:4: quantity: ", 31) != 0)
        fail_msg("second error line: %s", second);
    cJSON_Delete(lines);
    assert_int_equal(q("SELECT count(*) FROM batches"), batches); // all or nothing

    // A good file then creates its batch, which appears in the list.
    snprintf(good, sizeof good, "%s/pedidos-buenos.csv", g_tmp);
    write_file(good, "consultora_code,consultora_name,product_code,quantity\n"
                     "40000201,Dora,80901,2\n"
                     "40000202,Elena,80902,1\n"
                     "40000203,Fabiola,80903,3\n");
    set_file("#upload-file", good);
    fill("#upload-name", "Subida desde el panel");
    click("#upload-submit", NULL);
    wait_visible("#upload-message", "creado");
    assert_true(js_true("document.querySelectorAll('#upload-errors li').length === 0"));
    long long id = q("SELECT max(id) FROM batches");
    assert_int_equal(q("SELECT count(*) FROM batches WHERE id = %lld AND name = 'Subida desde el panel'", id), 1);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld", id), 3);
    char sel[96];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"]", id);
    wait_visible(sel, "Subida desde el panel");
    assert_int_equal(page_count(id, "pending"), 3);
}

static void test_html_and_script_in_names_show_as_text_and_never_run(void **state)
{
    (void)state;
    static const char NAME[] = "<img src=x onerror=\"window.__pwned=1\">";
    static const char SCRIPT[] = "<script>window.__pwned=2</script>";
    static const char IMG[] = "<img src=x onerror=\"window.__pwned=3\">";
    long long id = load_csv("xss.csv",
                            "consultora_code,consultora_name,product_code,quantity\n"
                            "40000301,<script>window.__pwned=2</script>,80901,1\n"
                            "40000302,\"<img src=x onerror=\"\"window.__pwned=3\"\">\",80902,2\n",
                            NAME);
    // The new batch arrives by itself (events), its name as text.
    char sel[128], lit[256];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"]", id);
    wait_visible(sel, "window.__pwned=1");
    char expr[600];
    snprintf(expr, sizeof expr, "document.querySelector('%s .batch-name').textContent === %s", sel,
             js_str(NAME, lit, sizeof lit));
    assert_true(js_true(expr));
    // Its orders, with the consultora names as text; then one order's detail.
    snprintf(expr, sizeof expr, "%s button[data-action=\"view\"]", sel);
    click(expr, NULL); // another batch: the status filter starts again at "all"
    wait_visible("#orders-body tr", "40000302");
    long long first = q("SELECT min(id) FROM orders WHERE batch_id = %lld", id);
    snprintf(expr, sizeof expr, "tr[data-order-id=\"%lld\"] button[data-action=\"open-order\"]", first);
    click(expr, NULL);
    wait_visible("#order-title", "40000301");
    sleep_ms(1000); // a handler that could fire has had its chance
    const char *const TEXTS[] = {NAME, SCRIPT, IMG};
    for (size_t i = 0; i < 3; i++) {
        snprintf(expr, sizeof expr, "document.getElementById('app').textContent.includes(%s)",
                 js_str(TEXTS[i], lit, sizeof lit));
        if (!js_true(expr))
            fail_msg("%s is not in the page's text", TEXTS[i]);
    }
    // None became an element (the CSP would also block the handlers: this checks the page itself),
    // and none ran.
    assert_int_equal(
        js_long("document.querySelectorAll('img[src=\"x\"], #app script, #app img:not(#evidence-img)').length"), 0);
    assert_true(js_true("typeof window.__pwned === 'undefined'"));
}

static void test_screenshots_at_laptop_and_phone_widths(void **state)
{
    (void)state;
    // The main batch's orders open, the order detail closed: what a lead looks at.
    char sel[160];
    snprintf(sel, sizeof sel, "li.batch[data-batch-id=\"%lld\"] button[data-action=\"view\"]", g_batch);
    click(sel, NULL);
    wait_visible("#batch-detail", NULL);
    if (!js_true("document.getElementById('order-detail').hidden")) {
        click("#order-close", NULL);
        if (cdp_page_wait_for(g_page, "#order-detail", NULL, CDP_STATE_HIDDEN, UI_WAIT_MS) != 0)
            fail_msg("close the order: %s", cdp_page_errmsg(g_page));
    }
    sleep_ms(1500); // the smooth scroll to the orders ends before the page is put back at its top
    static const struct {
        const char *file;
        int w, h;
    } SHOTS[] = {{"dashboard-laptop", 1366, 768}, {"dashboard-phone", 390, 844}};
    for (size_t i = 0; i < 2; i++) {
        if (cdp_page_set_viewport(g_page, SHOTS[i].w, SHOTS[i].h) != 0)
            fail_msg("viewport: %s", cdp_page_errmsg(g_page));
        cJSON_Delete(js("window.scrollTo({top: 0, behavior: 'instant'})"));
        wait_js(UI_WAIT_MS, "the viewport", "window.innerWidth === %d", SHOTS[i].w);
        // Nothing wider than the screen: wide tables scroll inside their own box.
        if (cdp_page_wait_function(g_page, "document.documentElement.scrollWidth <= window.innerWidth", UI_WAIT_MS) !=
            0) {
            cJSON *wide =
                js("JSON.stringify({scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,"
                   " wider: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
                   " > innerWidth + 1).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' '"
                   " + Math.round(e.getBoundingClientRect().right))})");
            fail_msg("%d px wide: the page is wider than the screen: %s", SHOTS[i].w,
                     cJSON_IsString(wide) ? wide->valuestring : "?");
        }
        char path[512];
        for (int full = 0; full < 2; full++) {
            snprintf(path, sizeof path, "%s/%s%s.png", GSPBOT_ARTIFACTS_DIR, SHOTS[i].file, full ? "-full" : "");
            if (cdp_page_screenshot(g_page, path, full == 1, UI_WAIT_MS) != 0)
                fail_msg("screenshot %s: %s", path, cdp_page_errmsg(g_page));
            unsigned w, h;
            png_size(path, &w, &h);
            assert_int_equal(w, (unsigned)SHOTS[i].w);
            if (!full)
                assert_int_equal(h, (unsigned)SHOTS[i].h);
        }
        print_message("  saved %s/%s.png\n", GSPBOT_ARTIFACTS_DIR, SHOTS[i].file);
    }
    // Touch-size buttons on the phone.
    assert_true(js_long("Math.round(document.querySelector('li.batch button[data-action=\"view\"]')"
                        ".getBoundingClientRect().height)") >= 40);
    if (cdp_page_set_viewport(g_page, 1366, 768) != 0)
        fail_msg("viewport: %s", cdp_page_errmsg(g_page));
}

static void test_the_page_threw_nothing_and_nothing_is_left_running(void **state)
{
    (void)state;
    for (size_t i = 0; i < cdp_page_log_count(g_page); i++) {
        enum cdp_log_kind kind;
        const char *t = cdp_page_log_get(g_page, i, &kind);
        if (kind == CDP_LOG_EXCEPTION)
            fail_msg("the page threw: %s", t);
    }
    cdp_browser_free(g_browser);
    g_browser = NULL;
    g_page = NULL;
    // The pool drains on SIGTERM; serve stops cleanly (0) on SIGTERM.
    if (g_pool > 0) {
        kill(g_pool, SIGTERM);
        int rc = wait_child(g_pool, 90000);
        if (rc != 0)
            fail_msg("the worker pool did not exit 0 after SIGTERM (got %d)", rc);
        g_pool = 0;
    }
    kill(g_serve, SIGTERM);
    int rc = wait_child(g_serve, 30000);
    if (rc != 0)
        fail_msg("gspbot serve did not exit 0 after SIGTERM (got %d)", rc);
    g_serve = 0;
    long long end = now_ms() + 20000;
    char found[512] = "";
    while (leftovers(found, sizeof found) > 0) {
        if (now_ms() > end)
            fail_msg("left running: %s", found);
        sleep_ms(200);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_is_asked_and_the_batch_list_matches_the_database),
        cmocka_unit_test(test_counts_move_live_while_workers_run),
        cmocka_unit_test(test_retry_of_a_failed_order_requeues_it),
        cmocka_unit_test(test_an_upload_with_errors_lists_them_line_by_line),
        cmocka_unit_test(test_html_and_script_in_names_show_as_text_and_never_run),
        cmocka_unit_test(test_screenshots_at_laptop_and_phone_widths),
        cmocka_unit_test(test_the_page_threw_nothing_and_nothing_is_left_running),
    };
    return cmocka_run_group_tests_name("api_dashboard", tests, group_setup, group_teardown);
}
