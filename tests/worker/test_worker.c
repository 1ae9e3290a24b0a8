/* The batch engine end to end: real `gspbot worker` pools (forked workers, each with its own
 * Chromium) on a real PostgreSQL, walking the real simulator. Every test checks the outcome the way
 * a campaign lead would care about it — the simulator's own carts against the input, the database's
 * statuses and audit trail — and that no worker or Chromium process is left behind.
 *
 * Faults are real too: SIGKILL of a worker, of the supervisor, of a Chromium; SIGSTOP past the
 * lease; PostgreSQL stopped for 5 s; the portal failing every request; the wrong password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "simproc.h"
#include "testdb.h"

#define CYCLE "202605"

static struct simproc g_sim;
static char g_tmp[64];
static char g_flow[128];      /* the shipped flow */
static char g_slow_flow[128]; /* the shipped flow with a 1.5 s pause before each product */
static char *g_db;            /* this test's database */
static int g_case;
static pid_t g_pools[8]; /* pools started by the running test (killed by teardown if left) */
static long long g_t0;   /* when the running test started */
static int g_npools;

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

static char *qs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *qs(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return testdb_query_value(g_db, sql);
}

/* Runs the gspbot binary with args (NULL-terminated) and waits; returns its exit status. */
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
    int st;
    waitpid(pid, &st, 0);
    if (out != NULL) {
        FILE *f = fopen(path, "r");
        size_t k = f ? fread(out, 1, outn - 1, f) : 0;
        out[k] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Writes a CSV of n orders ("C<tag><i>") of 1-3 products each into the temp dir and loads it as
 * a batch; returns the batch id. bad_every > 0 makes every bad_every-th consultora unknown (99...). */
static long long load_batch(const char *tag, int n, int bad_every)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s.csv", g_tmp, tag);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "consultora_code,consultora_name,product_code,quantity\n");
    for (int i = 1; i <= n; i++) {
        bool bad = bad_every > 0 && i % bad_every == 0;
        for (int k = 0; k < 1 + i % 3; k++)
            fprintf(f, "%s%s%04d,Consultora %d,%d,%d\n", bad ? "99" : "4", tag, i, i, 80000 + k * 11 + i % 7,
                    1 + (i + k) % 4);
    }
    fclose(f);
    char out[8192];
    const char *args[] = {"load", path, "--name", tag, NULL};
    int rc = gspbot(args, out, sizeof out);
    if (rc != 0)
        fail_msg("load %s: exit %d: %s", path, rc, out);
    return q("SELECT max(id) FROM batches");
}

static void start_batch(long long id)
{
    char b[24], out[1024];
    snprintf(b, sizeof b, "%lld", id);
    const char *args[] = {"start", b, NULL};
    if (gspbot(args, out, sizeof out) != 0)
        fail_msg("start %lld: %s", id, out);
}

/* Starts `gspbot worker --concurrency n` in a session of its own (so that all of its workers can
 * be found by process group), with extra environment (NAME=VALUE, NULL-terminated). */
static pid_t spawn_pool(const char *tag, int n, const char *flow, const char *const *env)
{
    char log[128], conc[16];
    snprintf(log, sizeof log, "%s/%s.log", g_tmp, tag);
    snprintf(conc, sizeof conc, "%d", n);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        for (int i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        const char *argv[] = {GSPBOT_PATH, "worker", "--concurrency", conc, "--flow", flow, NULL};
        execv(GSPBOT_PATH, (char *const *)argv);
        _exit(127);
    }
    if (g_npools < 8)
        g_pools[g_npools++] = pid;
    return pid;
}

/* Waits (at most timeout_s) for the pool to exit; returns its exit status or -1 when it did not. */
static int wait_pool(pid_t pid, int timeout_s)
{
    long long end = now_ms() + timeout_s * 1000LL;
    while (now_ms() < end) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(100);
    }
    return -1;
}

static void stop_pool(pid_t pid)
{
    kill(pid, SIGTERM);
    int rc = wait_pool(pid, 60);
    if (rc != 0)
        fail_msg("the pool did not drain and exit 0 after SIGTERM (got %d)", rc);
}

/* Waits until the batch's status is one of `statuses` ("completed|failed"); returns it. */
static char *wait_batch(long long id, const char *statuses, int timeout_s)
{
    long long end = now_ms() + timeout_s * 1000LL;
    for (;;) {
        char *st = qs("SELECT status FROM batches WHERE id = %lld", id);
        if (st != NULL && strstr(statuses, st) != NULL)
            return st;
        if (now_ms() > end) {
            char *counts = qs("SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM orders"
                              " WHERE batch_id = %lld GROUP BY status) x",
                              id);
            fail_msg("batch %lld is %s (%s) after %d s; wanted %s", id, st ? st : "?", counts ? counts : "", timeout_s,
                     statuses);
        }
        free(st);
        sleep_ms(200);
    }
}

/* Waits until the SQL count reaches at least `want`. */
static void wait_count(long want, int timeout_s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wait_count(long want, int timeout_s, const char *what, const char *fmt, ...)
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
        sleep_ms(100);
    }
    fail_msg("%s: %ld after %d s, wanted %ld", what, v, timeout_s, want);
}

/* Every valid order of the batch: the simulator's cart equals its items exactly. */
static void assert_carts_exact(long long batch)
{
    char *list = qs("SELECT string_agg(o.consultora_code || ':' || i.product_code || ':' || i.quantity, ' ')"
                    " FROM orders o JOIN order_items i ON i.order_id = o.id"
                    " WHERE o.batch_id = %lld AND o.consultora_code NOT LIKE '99%%'",
                    batch);
    assert_non_null(list);
    int checked = 0;
    for (char *tok = list, *end; tok != NULL && *tok; tok = end ? end + 1 : NULL) {
        end = strchr(tok, ' ');
        if (end)
            *end = '\0';
        char code[32], product[32];
        long qty;
        if (sscanf(tok, "%31[^:]:%31[^:]:%ld", code, product, &qty) != 3)
            fail_msg("bad row %s", tok);
        long got = simproc_cart_qty(&g_sim, code, CYCLE, product);
        if (got != qty)
            fail_msg("consultora %s product %s: the portal's cart holds %ld, the order %ld", code, product, got, qty);
        checked++;
    }
    free(list);
    assert_true(checked > 0);
}

/* No process of the pool's session and no Chromium of this suite's profiles is left. */
static void assert_nothing_left(pid_t pool, int within_s)
{
    long long end = now_ms() + within_s * 1000LL;
    for (;;) {
        bool left = pool > 0 && kill(-pool, 0) == 0;
        char found[512] = "";
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
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
            if (strstr(cmd, g_tmp) != NULL && strstr(cmd, "--user-data-dir") != NULL) {
                left = true;
                snprintf(found, sizeof found, "pid %s: %.200s", e->d_name, cmd);
            }
        }
        if (d)
            closedir(d);
        if (!left)
            return;
        if (now_ms() > end)
            fail_msg("processes left %d s after the pool ended: %s", within_s, found[0] ? found : "the pool's group");
        sleep_ms(200);
    }
}

/* The pid of a worker process that is busy with an order, and the order (waits for one). The
 * order's lease names its worker: that, not the worker's heartbeat row (which lags a little), says
 * who holds what right now. */
static pid_t busy_worker(long long *order, int timeout_s)
{
    wait_count(1, timeout_s, "orders in progress",
               "SELECT count(*) FROM orders o JOIN workers w ON w.id = o.lease_owner WHERE o.status = 'in_progress'");
    char *v = qs("SELECT w.pid || ' ' || o.id FROM orders o JOIN workers w ON w.id = o.lease_owner"
                 " WHERE o.status = 'in_progress' ORDER BY o.started_at DESC LIMIT 1");
    assert_non_null(v);
    long pid = 0;
    assert_int_equal(sscanf(v, "%ld %lld", &pid, order), 2);
    free(v);
    return (pid_t)pid;
}

/* The Chromium main process launched by worker `pid` (its profile is named after it). */
static pid_t chromium_of(pid_t worker)
{
    char needle[128];
    snprintf(needle, sizeof needle, "--user-data-dir=%s/gspbot-cdp-%d-", g_tmp, (int)worker);
    for (int tries = 0; tries < 100; tries++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t best = 0;
        while (d != NULL && (e = readdir(d)) != NULL) {
            char path[300], cmd[8192];
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
            // The browser process is the one without --type= (renderers, GPU and utilities have it).
            if (strstr(cmd, needle) != NULL && strstr(cmd, "--type=") == NULL)
                best = (pid_t)strtol(e->d_name, NULL, 10);
        }
        if (d)
            closedir(d);
        if (best > 0)
            return best;
        sleep_ms(100);
    }
    fail_msg("no Chromium of worker %d", (int)worker);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    char tag[32];
    snprintf(tag, sizeof tag, "worker%d", ++g_case);
    g_t0 = now_ms();
    g_db = testdb_create_migrated(tag);
    setenv("DATABASE_URL", g_db, 1);
    simproc_post(&g_sim, "/__sim/config", "{\"fail_rate\": 0, \"ghost_rate\": 0, \"slow_rate\": 0}");
    return simproc_post(&g_sim, "/__sim/reset", NULL) == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    // A test that failed half-way leaves its pools running: they must not disturb the next one.
    for (int i = 0; i < g_npools; i++) {
        if (kill(-g_pools[i], 0) == 0) {
            kill(-g_pools[i], SIGKILL);
            sleep_ms(500);
        }
        waitpid(g_pools[i], NULL, WNOHANG);
    }
    g_npools = 0;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "pkill -KILL -f -- '--user-data-dir=%s' 2>/dev/null", g_tmp);
    if (system(cmd) < 0)
        return -1;
    testdb_drop(g_db);
    g_db = NULL;
    print_message("  (%.1f s)\n", (now_ms() - g_t0) / 1000.0);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/gspbot-wk-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    // Faster overlays (x0.2): the tests are about the queue, not the portal's animations.
    const char *args[] = {"--seed", "11", "--ui-scale", "0.2", NULL};
    if (simproc_start(&g_sim, GSPBOT_SIM_PATH, args) != 0)
        return -1;
    snprintf(g_flow, sizeof g_flow, "%s", GSPBOT_FLOW_PATH);
    // A slower variant: each product waits 1.5 s first, so that an order is surely in flight when a
    // test strikes.
    snprintf(g_slow_flow, sizeof g_slow_flow, "%s/slow-flow.json", g_tmp);
    FILE *in = fopen(GSPBOT_FLOW_PATH, "r"), *out = fopen(g_slow_flow, "w");
    if (in == NULL || out == NULL)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, in) != NULL) {
        char *p = strstr(line, "{\"fill\": \"#code\"");
        if (p != NULL) {
            fwrite(line, 1, (size_t)(p - line), out);
            fputs("{\"sleep_ms\": 1500}, ", out);
            fputs(p, out);
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    char evidence[128];
    snprintf(evidence, sizeof evidence, "%s/evidence", g_tmp);
    setenv("GSP_BASE_URL", g_sim.url, 1);
    setenv("GSP_USER_CODE", "demo", 1);
    setenv("GSP_PASSWORD", "demo", 1);
    setenv("GSP_CYCLE", CYCLE, 1);
    setenv("GSPBOT_SCREENSHOT_DIR", evidence, 1);
    setenv("GSPBOT_RETRY_DELAY_MS", "300", 1);
    setenv("GSPBOT_TIMEOUT_MS", "15000", 1);
    setenv("GSPBOT_LEASE_S", "6", 1);
    setenv("GSPBOT_MAX_RETRIES", "3", 1);
    setenv("GSPBOT_BREAKER_FAILURES", "1000", 1);
    setenv("GSPBOT_LOG_FORMAT", "text", 1);
    setenv("TMPDIR", g_tmp, 1); // Chromium profiles: a leftover browser is found by its path
    unsetenv("GSPBOT_MAX_SESSIONS");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = simproc_stop(&g_sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 ? 0 : -1;
}

/* -------------------------------------------------------------------- tests */

static void test_forty_orders_two_workers_land_exactly_in_the_carts(void **state)
{
    (void)state;
    long long b = load_batch("forty", 40, 0);
    start_batch(b);
    pid_t pool = spawn_pool("forty", 2, g_flow, NULL);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'", b), 40);
    assert_int_equal(q("SELECT count(DISTINCT worker) FROM order_logs l JOIN orders o ON o.id = l.order_id"
                       " WHERE o.batch_id = %lld AND l.worker IS NOT NULL",
                       b),
                     2); // both workers took a share
    assert_carts_exact(b);
    assert_int_equal(simproc_stat(&g_sim, "overlay_clicks"), 0);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
    assert_int_equal(q("SELECT count(*) FROM workers WHERE status NOT IN ('stopped', 'dead')"), 0);
}

static void test_pause_stops_claims_and_resume_finishes(void **state)
{
    (void)state;
    long long b = load_batch("pause", 12, 0);
    start_batch(b);
    pid_t pool = spawn_pool("pause", 2, g_slow_flow, NULL);
    wait_count(2, 120, "completed orders", "SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'",
               b);
    char bid[24], out[512];
    snprintf(bid, sizeof bid, "%lld", b);
    const char *pause[] = {"pause", bid, NULL};
    assert_int_equal(gspbot(pause, out, sizeof out), 0);
    // Orders in flight finish; then nothing starts while paused.
    wait_count(0, 60, "in progress", "SELECT -count(*) FROM orders WHERE batch_id = %lld AND status = 'in_progress'",
               b);
    long started = q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld"
                     " AND l.message LIKE 'attempt %% started'",
                     b);
    sleep_ms(4000);
    assert_int_equal(q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld"
                       " AND l.message LIKE 'attempt %% started'",
                       b),
                     started);
    assert_true(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'queued'", b) > 0);
    start_batch(b); // resume
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_cancel_stops_orders_in_flight_at_their_next_step(void **state)
{
    (void)state;
    long long b = load_batch("cancel", 10, 0);
    start_batch(b);
    pid_t pool = spawn_pool("cancel", 2, g_slow_flow, NULL);
    long long order;
    (void)busy_worker(&order, 60);
    char bid[24], out[512];
    snprintf(bid, sizeof bid, "%lld", b);
    const char *cancel[] = {"cancel", bid, NULL};
    long long t0 = now_ms();
    assert_int_equal(gspbot(cancel, out, sizeof out), 0);
    // In-flight orders stop at their next step (a heartbeat, then the step): well within the lease.
    wait_count(0, 30, "in progress", "SELECT -count(*) FROM orders WHERE batch_id = %lld AND status = 'in_progress'",
               b);
    assert_true(now_ms() - t0 < 30000);
    char *st = qs("SELECT status FROM batches WHERE id = %lld", b);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_int_equal(
        q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status NOT IN ('completed', 'cancelled')", b), 0);
    assert_true(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'cancelled'", b) >= 7);
    // Nothing further runs.
    long logs = q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld", b);
    sleep_ms(3000);
    assert_int_equal(
        q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld", b), logs);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_fatal_is_not_retried_and_retry_runs_only_failed_orders(void **state)
{
    (void)state;
    long long b = load_batch("retry", 9, 3); // orders 3, 6, 9: unknown consultoras (fatal)
    start_batch(b);
    pid_t pool = spawn_pool("retry", 2, g_flow, NULL);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "failed");
    free(st);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'failed'", b), 3);
    // Fatal: one attempt each, no retry; the error names the portal's message.
    assert_int_equal(q("SELECT max(attempts) FROM orders WHERE batch_id = %lld AND status = 'failed'", b), 1);
    assert_int_equal(
        q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'failed' AND error_class = 'fatal'"
          " AND last_error LIKE '%%no existe%%'",
          b),
        3);
    long completed_logs = q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id"
                            " WHERE o.batch_id = %lld AND o.status = 'completed'",
                            b);
    char bid[24], out[512];
    snprintf(bid, sizeof bid, "%lld", b);
    const char *retry[] = {"retry", bid, NULL};
    assert_int_equal(gspbot(retry, out, sizeof out), 0);
    assert_non_null(strstr(out, "3 failed orders queued again"));
    wait_count(2, 60, "second attempts",
               "SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id"
               " WHERE o.batch_id = %lld AND l.message LIKE 'attempt 1 of %% started' AND o.status <> 'completed'"
               " GROUP BY o.id ORDER BY 1 LIMIT 1",
               b);
    st = wait_batch(b, "completed|failed", 120);
    assert_string_equal(st, "failed");
    free(st);
    // Only the failed ones ran again: the completed orders' trails did not grow.
    assert_int_equal(q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id"
                       " WHERE o.batch_id = %lld AND o.status = 'completed'",
                       b),
                     completed_logs);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_recoverable_failures_are_retried_with_growing_delays(void **state)
{
    (void)state;
    assert_int_equal(simproc_post(&g_sim, "/__sim/config", "{\"fail_rate\": 1}"), 200);
    long long b = load_batch("backoff", 1, 0);
    setenv("GSPBOT_MAX_RETRIES", "2", 1); // max_attempts is fixed when the batch starts
    start_batch(b);
    setenv("GSPBOT_MAX_RETRIES", "3", 1);
    const char *env[] = {"GSPBOT_RETRY_DELAY_MS=1000", "GSPBOT_MAX_RETRIES=2", NULL};
    pid_t pool = spawn_pool("backoff", 1, g_flow, env);
    char *st = wait_batch(b, "completed|failed", 180);
    assert_string_equal(st, "failed");
    free(st);
    assert_int_equal(q("SELECT attempts FROM orders WHERE batch_id = %lld", b), 3);
    char *cls = qs("SELECT error_class FROM orders WHERE batch_id = %lld", b);
    assert_string_equal(cls, "recoverable");
    free(cls);
    // The gaps between the end of one attempt and the start of the next grow: 1 s, then 2 s (+-20%).
    char *gaps = qs("WITH a AS (SELECT l.attempt,"
                    "  min(l.created_at) FILTER (WHERE l.message LIKE 'attempt %% started') s,"
                    "  max(l.created_at) FILTER (WHERE l.message LIKE 'attempt %% failed%%') e"
                    "  FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld GROUP BY l.attempt)"
                    " SELECT string_agg(round(extract(epoch FROM a2.s - a1.e) * 1000)::text, ' ' ORDER BY a1.attempt)"
                    " FROM a a1 JOIN a a2 ON a2.attempt = a1.attempt + 1",
                    b);
    assert_non_null(gaps);
    long g1 = 0, g2 = 0;
    assert_int_equal(sscanf(gaps, "%ld %ld", &g1, &g2), 2);
    free(gaps);
    if (!(g1 >= 700 && g2 >= 1500 && g2 > g1))
        fail_msg("delays between attempts: %ld ms then %ld ms (want about 1000 then 2000)", g1, g2);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_sigkill_of_a_worker_gives_its_order_back_within_5s(void **state)
{
    (void)state;
    long long b = load_batch("kill", 6, 0);
    start_batch(b);
    pid_t pool = spawn_pool("kill", 2, g_slow_flow, NULL);
    long long order;
    pid_t w = busy_worker(&order, 60);
    long long t0 = now_ms();
    assert_int_equal(kill(w, SIGKILL), 0);
    // Claimed again (a second attempt started) within 5 s, long before the 6 s lease would expire
    // and well before a reaper relying on it: the advisory lock died with the worker.
    wait_count(1, 5, "order given back",
               "SELECT count(*) FROM orders WHERE id = %lld AND (attempts >= 2 OR"
               " status = 'retrying')",
               order);
    long long took = now_ms() - t0;
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    assert_int_equal(q("SELECT count(*) FROM order_logs WHERE order_id = %lld AND step = 'worker_lost'", order), 1);
    print_message("order %lld given back %lld ms after SIGKILL\n", order, took);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_sigkill_of_the_supervisor_leaves_no_worker_or_chromium(void **state)
{
    (void)state;
    long long b = load_batch("killsup", 6, 0);
    start_batch(b);
    pid_t pool = spawn_pool("killsup", 2, g_slow_flow, NULL);
    long long order;
    (void)busy_worker(&order, 60);
    assert_int_equal(kill(pool, SIGKILL), 0);
    assert_int_equal(wait_pool(pool, 10), 128 + SIGKILL);
    assert_nothing_left(pool, 15);
    // And the orders come back: a new pool finishes the batch.
    pool = spawn_pool("killsup2", 2, g_flow, NULL);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_sigkill_of_chromium_fails_the_attempt_at_once_and_the_order_completes(void **state)
{
    (void)state;
    long long b = load_batch("chrome", 4, 0);
    start_batch(b);
    pid_t pool = spawn_pool("chrome", 1, g_slow_flow, NULL);
    // Finding the browser takes a /proc scan: the order is looked up again just before the kill,
    // and a kill that landed between two orders (nothing to fail) is tried again on the next one.
    bool struck = false;
    for (int round = 0; round < 3 && !struck; round++) {
        long long order;
        pid_t w = busy_worker(&order, 60);
        pid_t chromium = chromium_of(w);
        order = q("SELECT coalesce(max(o.id), 0) FROM orders o JOIN workers k ON k.id = o.lease_owner"
                  " WHERE k.pid = %d AND o.status = 'in_progress'",
                  (int)w);
        if (order == 0)
            continue;
        long long t0 = now_ms();
        assert_int_equal(kill(chromium, SIGKILL), 0);
        // The attempt fails at once (a closed WebSocket), not after a timeout...
        long long end = now_ms() + 10000;
        long failed = 0, done_before = 0;
        while (now_ms() < end && failed == 0 && done_before == 0) {
            failed = q("SELECT count(*) FROM order_logs WHERE order_id = %lld AND level = 'error'"
                       " AND message LIKE 'attempt %% failed%%'",
                       order);
            // ...unless it had just finished: its last step came before the kill.
            done_before = q("SELECT count(*) FROM orders WHERE id = %lld AND status = 'completed' AND"
                            " attempts = 1 AND NOT EXISTS (SELECT 1 FROM order_logs WHERE order_id = %lld AND"
                            " level = 'error')",
                            order, order);
            sleep_ms(100);
        }
        if (failed > 0) {
            assert_true(now_ms() - t0 < 10000);
            struck = true;
        } else if (done_before == 0) {
            fail_msg("order %lld: no failed attempt 10 s after its Chromium was killed", order);
        }
    }
    assert_true(struck);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    stop_pool(pool);
    // The worker relaunched its browser.
    assert_true(q("SELECT max(browser_launches) FROM workers") >= 2);
    assert_nothing_left(pool, 10);
}

static void test_a_worker_stopped_past_its_lease_cannot_overwrite_the_newer_attempt(void **state)
{
    (void)state;
    long long b = load_batch("stale", 4, 0);
    start_batch(b);
    pid_t pool = spawn_pool("stale", 2, g_slow_flow, NULL);
    long long order;
    pid_t w = busy_worker(&order, 60);
    long token = q("SELECT lease_token FROM orders WHERE id = %lld", order);
    assert_int_equal(kill(w, SIGSTOP), 0);
    // The lease (6 s) expires; another worker reaps it and claims the order again.
    wait_count(token + 1, 30, "newer claim", "SELECT lease_token FROM orders WHERE id = %lld", order);
    sleep_ms(500);
    assert_int_equal(kill(w, SIGCONT), 0);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    // The stale worker wrote nothing after the new claim: every row of the order after the reap
    // comes from another worker.
    char wid[64];
    char *v = qs("SELECT id FROM workers WHERE pid = %d", (int)w);
    assert_non_null(v);
    snprintf(wid, sizeof wid, "%s", v);
    free(v);
    assert_int_equal(q("SELECT count(*) FROM order_logs WHERE order_id = %lld AND worker = '%s' AND id >"
                       " (SELECT min(id) FROM order_logs WHERE order_id = %lld AND step = 'worker_lost')",
                       order, wid, order),
                     0);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

/* What a cut database connection does to a live worker (the reaper sees its lock free and gives its
 * order away while its browser goes on), done by hand between two products, with a heartbeat too
 * slow to notice in time (a 30 s lease: a renewal every 10 s). The worker confirms its lease with
 * the database before every cart action, so it sends no further addition for an order it lost. */
static void test_a_worker_whose_order_was_given_away_sends_no_further_addition(void **state)
{
    (void)state;
    long long b = load_batch("guard", 2, 0); // the second order has three products
    start_batch(b);
    long long order = q("SELECT id FROM orders WHERE batch_id = %lld AND consultora_code = '4guard0002'", b);
    assert_true(q("SELECT count(*) FROM order_items WHERE order_id = %lld", order) == 3);
    assert_int_equal(q("UPDATE orders SET next_attempt_at = now() + interval '1 hour' WHERE batch_id = %lld"
                       " AND id <> %lld RETURNING 1",
                       b, order),
                     1); // the three-product order goes first
    const char *env[] = {"GSPBOT_LEASE_S=30", NULL};
    pid_t pool = spawn_pool("guard", 1, g_slow_flow, env);
    // The first product is in; the worker now pauses 1.5 s before the second one.
    wait_count(1, 90, "first product added",
               "SELECT count(*) FROM order_logs WHERE order_id = %lld AND message LIKE 'item %% added'", order);
    assert_int_equal(q("UPDATE orders SET status = 'retrying', lease_owner = NULL, lease_expires_at = NULL,"
                       " lease_token = lease_token + 1, next_attempt_at = now() + interval '1 hour'"
                       " WHERE id = %lld AND status = 'in_progress' RETURNING 1",
                       order),
                     1);
    char *second = qs("SELECT product_code FROM order_items WHERE order_id = %lld ORDER BY id OFFSET 1 LIMIT 1", order);
    char *third = qs("SELECT product_code FROM order_items WHERE order_id = %lld ORDER BY id OFFSET 2 LIMIT 1", order);
    assert_non_null(second);
    assert_non_null(third);
    // Well past the pause and an addition's time: nothing more went in.
    sleep_ms(6000);
    long got2 = simproc_cart_qty(&g_sim, "4guard0002", CYCLE, second);
    long got3 = simproc_cart_qty(&g_sim, "4guard0002", CYCLE, third);
    free(second);
    free(third);
    if (got2 != 0 || got3 != 0)
        fail_msg("the worker added to the cart of an order it no longer held (%ld, %ld)", got2, got3);
    // Given back for real, the orders complete exactly: the first product is not added twice.
    assert_int_equal(q("UPDATE orders SET next_attempt_at = now() WHERE batch_id = %lld RETURNING 1", b) > 0, 1);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_carts_exact(b);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_postgres_down_for_5s_mid_batch_loses_nothing(void **state)
{
    (void)state;
    long long b = load_batch("pgdown", 10, 0);
    start_batch(b);
    pid_t pool = spawn_pool("pgdown", 2, g_slow_flow, NULL);
    wait_count(2, 120, "completed", "SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'", b);
    // The cluster's directory is the socket host of GSPBOT_TEST_PG.
    const char *pg = getenv("GSPBOT_TEST_PG");
    const char *h = strstr(pg, "host=");
    assert_non_null(h);
    char dir[256];
    assert_int_equal(sscanf(h + 5, "%255s", dir), 1);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "bash %s/scripts/pg.sh stop %s >/dev/null 2>&1", GSPBOT_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    sleep_ms(5000);
    snprintf(cmd, sizeof cmd, "bash %s/scripts/pg.sh start %s >/dev/null", GSPBOT_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'", b), 10);
    assert_carts_exact(b);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_breaker_opens_at_total_failure_and_one_probe_closes_it(void **state)
{
    (void)state;
    assert_int_equal(simproc_post(&g_sim, "/__sim/config", "{\"fail_rate\": 1}"), 200);
    long long b = load_batch("breaker", 8, 0);
    setenv("GSPBOT_MAX_RETRIES", "20", 1); // enough attempts to outlast the outage
    start_batch(b);
    setenv("GSPBOT_MAX_RETRIES", "3", 1);
    const char *env[] = {"GSPBOT_BREAKER_FAILURES=3", "GSPBOT_BREAKER_COOLDOWN_S=4", "GSPBOT_RETRY_DELAY_MS=200", NULL};
    pid_t pool = spawn_pool("breaker", 2, g_flow, env);
    wait_count(1, 120, "breaker open", "SELECT count(*) FROM circuit_breaker WHERE state <> 'closed'");
    char out[1024];
    const char *show[] = {"breaker", NULL};
    assert_int_equal(gspbot(show, out, sizeof out), 0);
    assert_true(strstr(out, "breaker: open") != NULL || strstr(out, "breaker: half_open") != NULL);
    // While open and then half-open, at most one attempt runs at a time (the probe).
    for (int i = 0; i < 20; i++) {
        long running = q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'in_progress'", b);
        long state_open = q("SELECT count(*) FROM circuit_breaker WHERE state = 'open' AND"
                            " opened_at > now() - interval '3 seconds'");
        if (state_open == 1 && running > 0) {
            // Attempts claimed before it opened may still be finishing; none is claimed anew.
            long fresh = q("SELECT count(*) FROM orders o WHERE o.batch_id = %lld AND o.status = 'in_progress' AND"
                           " o.started_at > (SELECT opened_at FROM circuit_breaker) + interval '200 milliseconds'"
                           " AND o.attempts = 1",
                           b);
            assert_int_equal(fresh, 0);
        }
        sleep_ms(200);
    }
    assert_int_equal(simproc_post(&g_sim, "/__sim/config", "{\"fail_rate\": 0}"), 200);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "completed");
    free(st);
    char *bs = qs("SELECT state FROM circuit_breaker");
    assert_string_equal(bs, "closed");
    free(bs);
    assert_true(q("SELECT opened_count FROM circuit_breaker") >= 1);
    assert_carts_exact(b);
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

static void test_two_pools_never_hold_one_order_twice_and_max_sessions_keeps_one_session(void **state)
{
    (void)state;
    long long b = load_batch("pools", 8, 0);
    start_batch(b);
    const char *env[] = {"GSPBOT_MAX_SESSIONS=1", NULL};
    pid_t p1 = spawn_pool("pools1", 2, g_flow, env);
    pid_t p2 = spawn_pool("pools2", 2, g_flow, env);
    long max_running = 0;
    for (;;) {
        long running = q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'in_progress'", b);
        if (running > max_running)
            max_running = running;
        char *st = qs("SELECT status FROM batches WHERE id = %lld", b);
        bool done = strcmp(st, "running") != 0;
        free(st);
        if (done)
            break;
        sleep_ms(50);
    }
    assert_int_equal(max_running, 1); // one portal session open at a time, across both pools
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'completed'", b), 8);
    // Never two attempts of one order: every order ran once.
    assert_int_equal(q("SELECT count(*) FROM order_logs l JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld"
                       " AND l.message LIKE 'attempt %% started'",
                       b),
                     8);
    assert_carts_exact(b);
    stop_pool(p1);
    stop_pool(p2);
    assert_nothing_left(p1, 10);
    assert_nothing_left(p2, 10);
}

static void test_sigterm_drains_releasing_the_order_in_flight(void **state)
{
    (void)state;
    long long b = load_batch("drain", 4, 0);
    start_batch(b);
    pid_t pool = spawn_pool("drain", 1, g_slow_flow, NULL);
    long long order;
    (void)busy_worker(&order, 60);
    long long t0 = now_ms();
    kill(pool, SIGTERM);
    assert_int_equal(wait_pool(pool, 30), 0);
    assert_true(now_ms() - t0 < 15000); // GSPBOT_TIMEOUT_MS (15 s here) at most
    // Released: back in the queue with the attempt not counted.
    char *st = qs("SELECT status || ' ' || attempts FROM orders WHERE id = %lld", order);
    assert_string_equal(st, "queued 0");
    free(st);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'in_progress'", b), 0);
    assert_nothing_left(pool, 10);
    char *ws = qs("SELECT string_agg(DISTINCT status, ',') FROM workers");
    assert_string_equal(ws, "stopped");
    free(ws);
}

static void test_rejected_password_pauses_every_batch_after_one_login(void **state)
{
    (void)state;
    long long b = load_batch("abort", 6, 0);
    start_batch(b);
    long before = simproc_stat(&g_sim, "login_failures");
    const char *env[] = {"GSP_PASSWORD=wrong-password", NULL};
    pid_t pool = spawn_pool("abort", 2, g_flow, env);
    char *st = wait_batch(b, "paused", 60);
    free(st);
    sleep_ms(2000);
    // One failed login per worker that was already walking at most, never one per order.
    long failures = simproc_stat(&g_sim, "login_failures") - before;
    assert_true(failures >= 1 && failures <= 2);
    char *reason = qs("SELECT paused_reason FROM batches WHERE id = %lld", b);
    assert_non_null(strstr(reason, "Usuario o contraseña incorrectos"));
    free(reason);
    // Nothing counted against the orders: they wait, queued, for the fix.
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND status = 'queued' AND attempts = 0", b),
                     6);
    // The password is in no row of the database (the audit trail, errors, reasons, events).
    char cmd[600], line[64] = "";
    snprintf(cmd, sizeof cmd, "pg_dump --data-only '%s' | grep -c 'wrong-password'", g_db);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(line, sizeof line, p) == NULL)
        line[0] = '\0';
    pclose(p);
    assert_int_equal(strtol(line, NULL, 10), 0);
    assert_true(q("SELECT count(*) FROM order_logs") > 0); // there were rows to look through
    stop_pool(pool);
    assert_nothing_left(pool, 10);
}

/* gspbot verify: every cart read back from the portal; the ones changed behind gspbot's back are
 * flagged, the others exact, and the results are kept on the orders. */
static void test_verify_reads_every_cart_back_and_flags_the_differences(void **state)
{
    (void)state;
    long long b = load_batch("verify", 6, 5); // order 5: a consultora the portal does not know
    start_batch(b);
    pid_t pool = spawn_pool("verify", 2, g_flow, NULL);
    char *st = wait_batch(b, "completed|failed", 300);
    assert_string_equal(st, "failed");
    free(st);
    stop_pool(pool);
    assert_carts_exact(b);
    // Behind gspbot's back: a product nobody ordered in order 1's cart, and one of order 2's
    // products taken out.
    assert_int_equal(simproc_post(&g_sim, "/__sim/cart",
                                  "{\"consultora\": \"4verify0001\", \"cycle\": \"" CYCLE
                                  "\", \"products\": {\"55555\": 1}}"),
                     200);
    assert_int_equal(simproc_post(&g_sim, "/__sim/cart",
                                  "{\"consultora\": \"4verify0002\", \"cycle\": \"" CYCLE
                                  "\", \"products\": {\"80002\": 0}}"),
                     200);
    long adds = simproc_stat(&g_sim, "adds");
    char bid[24], out[16384];
    snprintf(bid, sizeof bid, "%lld", b);
    const char *args[] = {"verify", bid, "--status", "all", "--concurrency", "2", "--flow", g_flow, "--json", NULL};
    int rc = gspbot(args, out, sizeof out);
    if (rc != 1)
        fail_msg("verify: exit %d (want 1: differences): %.2000s", rc, out);
    assert_int_equal(simproc_stat(&g_sim, "adds"), adds); // read-only: nothing was added
    char *r1 = qs("SELECT verify_result FROM orders WHERE consultora_code = '4verify0001' AND batch_id = %lld", b);
    char *r2 = qs("SELECT verify_result FROM orders WHERE consultora_code = '4verify0002' AND batch_id = %lld", b);
    assert_string_equal(r1, "unexpected");
    assert_string_equal(r2, "missing");
    free(r1);
    free(r2);
    assert_int_equal(q("SELECT count(*) FROM orders WHERE batch_id = %lld AND verify_result = 'exact'", b), 4);
    char *d = qs("SELECT verify_detail FROM orders WHERE consultora_code = '4verify0002' AND batch_id = %lld", b);
    assert_non_null(strstr(d, "80002: portal 0, database"));
    free(d);
    // The JSON report's summary counts the one cart with a product nobody ordered.
    const char *u = strstr(out, "\"unexpected\":");
    assert_non_null(u);
    assert_int_equal(strtol(u + strlen("\"unexpected\":"), NULL, 10), 1);
    assert_nothing_left(pool, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forty_orders_two_workers_land_exactly_in_the_carts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_stops_claims_and_resume_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_stops_orders_in_flight_at_their_next_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_is_not_retried_and_retry_runs_only_failed_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recoverable_failures_are_retried_with_growing_delays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_of_a_worker_gives_its_order_back_within_5s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_of_the_supervisor_leaves_no_worker_or_chromium, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_of_chromium_fails_the_attempt_at_once_and_the_order_completes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_worker_stopped_past_its_lease_cannot_overwrite_the_newer_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_worker_whose_order_was_given_away_sends_no_further_addition, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_postgres_down_for_5s_mid_batch_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breaker_opens_at_total_failure_and_one_probe_closes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_pools_never_hold_one_order_twice_and_max_sessions_keeps_one_session,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drains_releasing_the_order_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_password_pauses_every_batch_after_one_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_reads_every_cart_back_and_flags_the_differences, setup, teardown),
    };
    // GSPBOT_TEST_FILTER=test_verify* runs the matching cases only (a developer's loop).
    if (getenv("GSPBOT_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("GSPBOT_TEST_FILTER"));
    return cmocka_run_group_tests_name("worker", tests, group_setup, group_teardown);
}
