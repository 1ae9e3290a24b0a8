/* bench_queue: the queue alone, without a browser, on the test PostgreSQL (GSPBOT_TEST_PG).
 *
 * 1. A table of 100,000 orders across 100 running batches; claim+finish cycles per second with 1,
 *    4 and 16 connections (one thread each, SECONDS seconds per run), and the claim's plan (it must
 *    stay an index scan).
 * 2. The latency from `start` to the first claim with idle workers waiting on LISTEN/NOTIFY:
 *    p50 and p99 over ROUNDS starts.
 *
 *   bench_queue [SECONDS (5)] [ROUNDS (200)]
 * Figures only; nothing is asserted. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "migrate.h"
#include "queue.h"
#include "testdb.h"

static char *g_db;
static int g_seconds = 5;
static atomic_long g_cycles;
static atomic_bool g_stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct db *open_db(void)
{
    struct db *db = NULL;
    if (db_open(&db, g_db) != 0) {
        fprintf(stderr, "bench_queue: %s\n", db_errmsg(db));
        exit(3);
    }
    return db;
}

static void *cycler(void *arg)
{
    long id = (long)arg;
    struct db *db = open_db();
    char owner[32];
    snprintf(owner, sizeof owner, "bench-%ld", id);
    while (!atomic_load(&g_stop)) {
        struct queue_claim c;
        int got = queue_claim(db, owner, 30, 0, &c);
        if (got != 1) {
            queue_claim_cleanup(&c);
            if (got < 0)
                fprintf(stderr, "claim: %s\n", db_errmsg(db));
            break;
        }
        struct queue_result r = {.outcome = QUEUE_DONE, .step = "products_added"};
        if (queue_finish(db, &c, &r, NULL) != 0)
            fprintf(stderr, "finish: %s\n", db_errmsg(db));
        queue_claim_cleanup(&c);
        atomic_fetch_add(&g_cycles, 1);
    }
    db_free(db);
    return NULL;
}

static void exec_or_die(struct db *db, const char *sql)
{
    if (db_exec(db, "bench", sql) != 0) {
        fprintf(stderr, "bench_queue: %s\n", db_errmsg(db));
        exit(3);
    }
}

static void cycles(int threads)
{
    atomic_store(&g_cycles, 0);
    atomic_store(&g_stop, false);
    pthread_t t[16];
    double t0 = now_s();
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, cycler, (void *)i);
    struct timespec ts = {g_seconds, 0};
    nanosleep(&ts, NULL);
    atomic_store(&g_stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now_s() - t0;
    printf("  %2d connection%s  %8.0f claim+finish cycles/s  (%ld in %.1f s)\n", threads, threads == 1 ? " " : "s",
           atomic_load(&g_cycles) / dt, atomic_load(&g_cycles), dt);
}

/* ---- start-to-claim latency ---- */

struct idle {
    long id;
    double claimed_at; /* set when it claimed (0 = not yet) */
    atomic_bool go;
};

static struct idle g_idle[2];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *idle_worker(void *arg)
{
    struct idle *w = arg;
    struct db *db = open_db();
    exec_or_die(db, "LISTEN " QUEUE_CHANNEL);
    char owner[32];
    snprintf(owner, sizeof owner, "idle-%ld", w->id);
    while (!atomic_load(&g_stop)) {
        struct queue_claim c;
        int got = queue_claim(db, owner, 30, 0, &c);
        if (got == 1) {
            double t = now_s();
            pthread_mutex_lock(&g_mu);
            if (w->claimed_at == 0)
                w->claimed_at = t;
            pthread_mutex_unlock(&g_mu);
            struct queue_result r = {.outcome = QUEUE_DONE};
            if (queue_finish(db, &c, &r, NULL) != 0)
                fprintf(stderr, "finish: %s\n", db_errmsg(db));
            queue_claim_cleanup(&c);
            continue;
        }
        queue_claim_cleanup(&c);
        // Idle exactly as a worker is: wait on the socket for a NOTIFY (2 s poll fallback).
        int fd = PQsocket(db_conn(db));
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(fd, &rf);
        struct timeval tv = {0, 200000};
        if (select(fd + 1, &rf, NULL, NULL, &tv) > 0) {
            PQconsumeInput(db_conn(db));
            PGnotify *n;
            while ((n = PQnotifies(db_conn(db))) != NULL)
                PQfreemem(n);
        }
    }
    db_free(db);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void start_latency(int rounds)
{
    struct db *db = open_db();
    atomic_store(&g_stop, false);
    pthread_t t[2];
    for (long i = 0; i < 2; i++) {
        g_idle[i].id = i;
        pthread_create(&t[i], NULL, idle_worker, &g_idle[i]);
    }
    struct timespec settle = {0, 300000000};
    nanosleep(&settle, NULL);
    double *lat = calloc((size_t)rounds, sizeof *lat);
    int n = 0;
    for (int r = 0; r < rounds; r++) {
        char sql[256];
        exec_or_die(db, "INSERT INTO batches (name) VALUES ('latency')");
        snprintf(sql, sizeof sql,
                 "INSERT INTO orders (batch_id, seq, consultora_code) SELECT max(id), 1, 'L%d' FROM batches", r);
        exec_or_die(db, sql);
        PGresult *res = db_query(db, "id", "SELECT max(id) FROM batches", 0, NULL);
        long long bid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        pthread_mutex_lock(&g_mu);
        g_idle[0].claimed_at = g_idle[1].claimed_at = 0;
        pthread_mutex_unlock(&g_mu);
        // Both idle workers are asleep on their sockets now (no runnable order for 100 ms).
        struct timespec gap = {0, 100000000};
        nanosleep(&gap, NULL);
        char msg[256];
        double t0 = now_s();
        if (queue_batch_start(db, bid, 4, 0, msg, sizeof msg) != 0) {
            fprintf(stderr, "start: %s\n", db_errmsg(db));
            break;
        }
        double claimed = 0;
        for (int spin = 0; spin < 3000 && claimed == 0; spin++) {
            pthread_mutex_lock(&g_mu);
            double a = g_idle[0].claimed_at, b = g_idle[1].claimed_at;
            pthread_mutex_unlock(&g_mu);
            claimed = a > 0 && (b == 0 || a < b) ? a : b;
            if (claimed == 0) {
                struct timespec tick = {0, 1000000};
                nanosleep(&tick, NULL);
            }
        }
        if (claimed > 0)
            lat[n++] = (claimed - t0) * 1000.0;
    }
    atomic_store(&g_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    if (n > 0)
        printf("  start -> first claim, 2 idle workers, %d starts: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", n,
               lat[n / 2], lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], lat[n - 1]);
    free(lat);
    db_free(db);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_seconds = (int)strtol(argv[1], NULL, 10);
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 200;
    g_db = testdb_create_migrated("bench_queue");
    struct db *db = open_db();
    printf("queue benchmark (PostgreSQL %s)\n", PQparameterStatus(db_conn(db), "server_version"));
    double t0 = now_s();
    exec_or_die(db, "INSERT INTO batches (name, status, started_at) SELECT 'bench ' || b, 'running', now()"
                    " FROM generate_series(1, 100) b");
    exec_or_die(db, "INSERT INTO orders (batch_id, seq, consultora_code, status)"
                    " SELECT b.id, s, 'C' || b.id || '-' || s, 'queued' FROM batches b, generate_series(1, 1000) s");
    exec_or_die(db, "INSERT INTO order_items (order_id, product_code, quantity) SELECT id, '80901', 1 FROM orders");
    exec_or_die(db, "ANALYZE");
    printf("  100,000 orders in 100 running batches loaded in %.1f s\n", now_s() - t0);
    // The claim's plan, from the statement the workers run (EXPLAIN of the UPDATE, rolled back).
    exec_or_die(db, "BEGIN");
    char sql[4096];
    snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) %s", queue_claim_sql());
    const char *p[] = {"explain", "30", "0"};
    PGresult *r = db_query(db, "explain", sql, 3, p);
    if (r != NULL) {
        printf("  claim plan:\n");
        for (int i = 0; i < PQntuples(r); i++)
            printf("    %s\n", PQgetvalue(r, i, 0));
        PQclear(r);
    }
    exec_or_die(db, "ROLLBACK");
    int conns[] = {1, 4, 16};
    for (size_t i = 0; i < 3; i++)
        cycles(conns[i]);
    // Leave the latency test an empty queue.
    exec_or_die(db, "UPDATE batches SET status = 'completed', finished_at = now() WHERE status = 'running'");
    start_latency(rounds);
    db_free(db);
    testdb_drop(g_db);
    return 0;
}
