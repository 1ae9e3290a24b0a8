/* chaos: the batch engine under chaos, checked the way Jepsen's total-queue checker checks a queue
 * — what goes in must come out, once — from the portal's own carts rather than from what gspbot
 * says about itself.
 *
 * A run: generate N orders (a known share of them invalid), load and start them, work them with
 * two `gspbot worker` pools of two workers each (two machines) against `gspbot-sim --fail-rate 0.1
 * --ghost-rate 0.05 --slow-rate 0.05 --session-ttl-s 60`, and meanwhile SIGKILL a random worker
 * every 5-10 s, SIGKILL a worker's Chromium twice, SIGSTOP a busy worker past its lease and
 * SIGCONT it, and restart PostgreSQL once. When the batch is over: stop the pools, run `gspbot
 * verify BATCH --status all --json`, read the simulator's /__sim/state and the database, check,
 * print the figures, exit 0 only when every rule below holds.
 *
 *     chaos [--orders N (60)] [--seed S] [--keep] [--self-test]   (needs GSPBOT_TEST_PG; README.md)
 *
 * --self-test checks the checker: after verify it changes the portal's carts behind everyone's
 * back (a lost order, a duplicate, two unexpected carts) and passes only when exactly those are
 * found.
 *
 * THE INPUT (what goes in) is the generator's own record, never the database: per order its
 * consultora and, per product, the summed quantity of its rows. Consultoras beginning "99" do not
 * exist in the portal (the whole order must fail, nothing in its cart); products ending "99" (not
 * found) or "98" (no stock) cannot go in (that item fails, the others go in, the order fails). An
 * order with neither is VALID: its whole input must end in its cart. want(p) is the input quantity
 * of a product that can go in, else 0.
 *
 * THE RULES. Each order is first given its FATE from the database — completed; failed as expected
 * (an invalid order, fatal, with the right item outcomes); gave up (failed as recoverable or
 * session after using every attempt: a loud failure, its cart partly filled at most); or something
 * the rules below flag. Then:
 *
 * LOST (an order that went in and did not come out):
 *   L1  an order of the input that is not in the database (not loaded);
 *   L2  gspbot says completed, but a product's cart quantity is below want(p);
 *   L3  the order is still pending, queued, in_progress or retrying when the run ends (stuck);
 *   L4  a valid order gspbot failed silently or early: cancelled, or failed without an error
 *       message, or failed fatal (a valid order cannot fail fatally; a cart holding more than the
 *       order would be a duplicate anyway), or failed recoverable/session with attempts left.
 *   A valid order that gave up after every attempt is NOT lost: gspbot says so loudly, its cart
 *   holds no more than the input and what it recorded is not contradicted (U5); `gspbot retry`
 *   would add exactly what is missing. Such orders are counted and listed apart ("gave up").
 * DUPLICATED: a (consultora, product) whose cart quantity is above the input's quantity — whatever
 *   the order's status: exactly once means never more than ordered.
 * UNEXPECTED (a result no correct run can give):
 *   U1  a cart of a consultora the input does not have, or of another cycle, holding anything;
 *   U2  a product in a cart that its order does not have;
 *   U3  anything in the cart of a consultora beginning 99, or a product ending 99/98 in a cart;
 *   U4  the database's orders or items differ from the input (an order not in the input, another
 *       product set, another summed quantity);
 *   U5  a status or outcome the cart contradicts: an invalid order completed; a completed order
 *       with an item not added/already_in_cart; an item added/already_in_cart whose cart quantity
 *       is not its quantity; an item not_found/no_stock/failed that is in the cart, or whose outcome
 *       is not the one its code calls for (…99 not_found, …98 no_stock; a good product of a failed
 *       fatal order must be added/already_in_cart); an invalid order failed fatal whose error or
 *       outcomes are wrong (unknown consultora: "no existe", no item added); the batch's status
 *       not completed/failed as its orders say.
 * ATTEMPTS: attempts above max_attempts, or a finished order with no attempt.
 * EVIDENCE: every "attempt N failed" row of the audit trail names its evidence, and its files
 *   exist: the console log always, the screenshot and HTML unless the browser was gone (the
 *   attempt failed because Chromium died: nothing left to capture). Attempts lost with their worker
 *   (SIGKILL, SIGSTOP) have no evidence by nature: their "worker_lost" rows are counted apart.
 * VERIFY: `gspbot verify` gave every order a result, and it is the one the checker derives from
 *   the cart and the database (expected = the quantity when completed or when the item's outcome
 *   is added/already_in_cart, else 0; then exact, missing, excess, unexpected or mismatch).
 * PROCESSES: both pools exit 0 on SIGTERM, and afterwards (and after verify) no process of their
 *   sessions and no Chromium with a profile under this run's temp folder is left; the simulator
 *   exits 0. CHAOS: every planned fault happened (the two Chromium kills, the SIGSTOP, whose order
 *   must be taken over within 60 s, the PostgreSQL restart); no pool died.
 *
 * The exit status is 0 when lost, duplicated, unexpected and every other count above are 0, else
 * 1 (2 for bad usage, 3 when the run could not be set up). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "simproc.h"
#include "testdb.h"

#define CYCLE          "202605"
#define MAX_ITEMS      6
#define POOLS          2
#define POOL_WORKERS   2
#define MAX_RETRIES    "10" /* GSPBOT_MAX_RETRIES: 11 attempts per order */
#define LEASE_S        8    /* GSPBOT_LEASE_S */
#define KILL_MIN_MS    5000 /* a random worker is killed every 5 to 10 s */
#define KILL_MAX_MS    10000
#define KILL_MIN_AGE_S 11   /* only workers older than the pool's "died at start" window (10 s) */
#define PG_DOWN_MS     3000 /* PostgreSQL stays down this long */
#define STOP_MAX_S     60   /* a SIGSTOPped worker's order must be taken over within this */

/* ------------------------------------------------------------------ the input */

struct item {
    char code[24];
    long qty; /* summed over its rows */
    int rows;
    /* from the database */
    bool in_db;
    long db_qty;
    char outcome[40];
};

struct order {
    char code[24];
    char name[64];
    struct item items[MAX_ITEMS];
    int nitems;
    bool bad_consultora;
    int bad_products;
    /* from the database */
    bool in_db;
    long long id;
    char status[16], error_class[16], last_error[512];
    int attempts, max_attempts;
    int extra_db_items; /* items in the database the input does not have */
    /* from gspbot verify */
    char verify[16];
    /* the checker's verdict */
    const char *fate;
};

struct row {
    int order, item;
    long qty;
};

static uint64_t g_rng;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static long rnd_in(long lo, long hi)
{
    return lo + (long)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool product_bad(const char *code)
{
    size_t n = strlen(code);
    return n >= 2 && (strcmp(code + n - 2, "99") == 0 || strcmp(code + n - 2, "98") == 0);
}

static bool order_valid(const struct order *o)
{
    return !o->bad_consultora && o->bad_products == 0;
}

/* What the cart must end with for this product: its input quantity if it can go in, else 0. */
static long want(const struct order *o, const struct item *it)
{
    return o->bad_consultora || product_bad(it->code) ? 0 : it->qty;
}

/* N orders: about 10% with an unknown consultora, 10% with one product that cannot go in (not
 * found or no stock), the rest valid; 1 to MAX_ITEMS products each; a quarter of the products in
 * two or three rows (summed by the loader), a few summing above 999 (several adds of at most
 * max_per_add); every row shuffled, so an order's rows are not adjacent. */
static struct order *generate(int n, struct row **rows_out, int *nrows_out)
{
    struct order *o = calloc((size_t)n, sizeof *o);
    struct row *rows = calloc((size_t)n * MAX_ITEMS * 3, sizeof *rows);
    if (o == NULL || rows == NULL) {
        fprintf(stderr, "chaos: out of memory\n");
        exit(3);
    }
    int nrows = 0;
    for (int i = 0; i < n; i++) {
        struct order *x = &o[i];
        long kind = rnd_in(0, 99);
        x->bad_consultora = kind < 10;
        // Unique by construction: i times a prime coprime with the modulus.
        if (x->bad_consultora)
            snprintf(x->code, sizeof x->code, "99%06ld", ((long)i * 7919L + 17) % 1000000L);
        else
            snprintf(x->code, sizeof x->code, "%d%07ld", 1 + i % 8, ((long)i * 104729L + 4242) % 10000000L);
        if (i % 5 == 0)
            snprintf(x->name, sizeof x->name, "Pérez, Ana %d", i); // a comma and an accent: quoted
        else
            snprintf(x->name, sizeof x->name, "Consultora %d", i);
        x->nitems = (int)rnd_in(1, MAX_ITEMS);
        for (int k = 0; k < x->nitems; k++) {
            struct item *it = &x->items[k];
            bool dup;
            do {
                long c = rnd_in(10000, 97997);
                if (c % 100 >= 98)
                    c -= 2;
                snprintf(it->code, sizeof it->code, "%ld", c);
                dup = false;
                for (int j = 0; j < k; j++)
                    dup |= strcmp(x->items[j].code, it->code) == 0;
            } while (dup);
            it->qty = rnd_in(0, 9) == 0 ? rnd_in(100, 999) : rnd_in(1, 12);
            it->rows = 1;
        }
        if (kind >= 10 && kind < 20) {
            struct item *it = &x->items[rnd_in(0, x->nitems - 1)];
            snprintf(it->code, sizeof it->code, "%ld%s", rnd_in(100, 979), kind % 2 ? "99" : "98");
            x->bad_products = 1;
        }
        // Rows: most products in one; some in two or three; a few above 999 in total.
        for (int k = 0; k < x->nitems; k++) {
            struct item *it = &x->items[k];
            if (rnd_in(0, 99) < 3) {
                long a = rnd_in(500, 999), b = rnd_in(500, 999);
                it->qty = a + b;
                rows[nrows++] = (struct row){i, k, a};
                rows[nrows++] = (struct row){i, k, b};
                it->rows = 2;
            } else if (rnd_in(0, 3) == 0 && it->qty >= 3) {
                int parts = (int)rnd_in(2, 3);
                long left = it->qty;
                for (int p = 0; p < parts; p++) {
                    long q = p == parts - 1 ? left : rnd_in(1, left - (parts - 1 - p));
                    rows[nrows++] = (struct row){i, k, q};
                    left -= q;
                }
                it->rows = parts;
            } else {
                rows[nrows++] = (struct row){i, k, it->qty};
            }
        }
    }
    for (int i = nrows - 1; i > 0; i--) {
        int j = (int)rnd_in(0, i);
        struct row t = rows[i];
        rows[i] = rows[j];
        rows[j] = t;
    }
    *rows_out = rows;
    *nrows_out = nrows;
    return o;
}

static int write_csv(const char *path, const struct order *o, const struct row *rows, int nrows)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "consultora_code,consultora_name,product_code,quantity\n");
    for (int i = 0; i < nrows; i++) {
        const struct order *x = &o[rows[i].order];
        fprintf(f, "%s,\"%s\",%s,%ld\n", x->code, x->name, x->items[rows[i].item].code, rows[i].qty);
    }
    return fclose(f);
}

/* ------------------------------------------------------------------ helpers */

static char g_tmp[128];
static char g_evidence[160];
static char *g_db;
static PGconn *g_pg;
static struct simproc g_sim;
static pid_t g_pools[POOLS];
static pid_t g_stopped; /* a worker we SIGSTOPped and did not SIGCONT yet */
static bool g_pg_down;  /* we stopped PostgreSQL and did not start it again */
static char g_pg_dir[256];
static volatile sig_atomic_t g_interrupted;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_interrupted) {
    }
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long g_t0;
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[%6.1f s] ", (now_ms() - g_t0) / 1000.0);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

/* A query on the run's database that tolerates PostgreSQL being away (it is restarted on
 * purpose): NULL when it failed; reconnects next time. Caller PQclear()s. */
static PGresult *db(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *db(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (g_pg == NULL || PQstatus(g_pg) != CONNECTION_OK) {
        PQfinish(g_pg);
        const char *keys[] = {"dbname", "connect_timeout", NULL};
        const char *vals[] = {g_db, "5", NULL};
        g_pg = PQconnectdbParams(keys, vals, 1);
        if (PQstatus(g_pg) != CONNECTION_OK)
            return NULL;
    }
    PGresult *r = PQexec(g_pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The first value of a query as a number; `fail` when the query failed or gave no row. */
static long long db_num(long long fail, const char *sql)
{
    PGresult *r = db("%s", sql);
    long long v = fail;
    if (r != NULL && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Runs gspbot with args (NULL-terminated) in the temp folder, stdout into `out_path` and stderr
 * into `err_path` (either may be NULL: /dev/null), and waits. Returns its exit status. */
static int gspbot(const char *const *args, const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(g_tmp) != 0)
            _exit(127);
        int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        const char *argv[24] = {GSPBOT_PATH};
        int n = 1;
        for (int i = 0; args[i] != NULL && n < 23; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(GSPBOT_PATH, (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Prints the last lines of a file (for failures). */
static void print_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    static char ring[64][512];
    int n = 0;
    while (fgets(ring[n % 64], sizeof ring[0], f) != NULL)
        n++;
    fclose(f);
    if (lines > 64)
        lines = 64;
    printf("---- last lines of %s\n", path);
    for (int i = n > lines ? n - lines : 0; i < n; i++)
        fputs(ring[i % 64], stdout);
}

/* `gspbot worker --concurrency 2` in a session of its own (its workers and their Chromiums are
 * found by it), killed if this program dies. */
static pid_t spawn_pool(int i)
{
    char log[200], conc[8];
    snprintf(log, sizeof log, "%s/pool%d.log", g_tmp, i + 1);
    snprintf(conc, sizeof conc, "%d", POOL_WORKERS);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(g_tmp) != 0)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *argv[] = {GSPBOT_PATH, "worker", "--concurrency", conc, "--flow", GSPBOT_FLOW_PATH, NULL};
        execv(GSPBOT_PATH, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* ------------------------------------------------------------------ processes */

struct proc {
    pid_t pid, ppid;
    double age_s;
    char cmd[1024];
};

/* Every process of the machine with its parent, age and command line (NUL bytes as spaces). */
static int procs(struct proc *out, int max)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    double uptime = 0;
    FILE *u = fopen("/proc/uptime", "r");
    if (u != NULL) {
        if (fscanf(u, "%lf", &uptime) != 1)
            uptime = 0;
        fclose(u);
    }
    long hz = sysconf(_SC_CLK_TCK);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], stat[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[k] = '\0';
        const char *p = strrchr(stat, ')'); // the command name may hold spaces and parentheses
        if (p == NULL)
            continue;
        char state;
        long ppid;
        if (sscanf(p + 2, "%c %ld", &state, &ppid) != 2 || state == 'Z')
            continue;
        // Field 22 (starttime) is the 20th after the ')'.
        const char *q = p + 2;
        for (int field = 3; field < 22 && q != NULL; field++) {
            q = strchr(q, ' ');
            if (q != NULL)
                q++;
        }
        struct proc *x = &out[n];
        x->pid = (pid_t)strtol(e->d_name, NULL, 10);
        x->ppid = (pid_t)ppid;
        x->age_s = q != NULL && hz > 0 ? uptime - strtod(q, NULL) / (double)hz : 0;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        k = f != NULL ? fread(x->cmd, 1, sizeof x->cmd - 1, f) : 0;
        if (f != NULL)
            fclose(f);
        for (size_t i = 0; i < k; i++)
            if (x->cmd[i] == '\0')
                x->cmd[i] = ' ';
        x->cmd[k] = '\0';
        n++;
    }
    closedir(d);
    return n;
}

static struct proc g_procs[8192];

/* The live worker processes of our pools (children of a supervisor), at most max. */
static int workers(pid_t *out, double *age, int max)
{
    int n = procs(g_procs, 8192), k = 0;
    for (int i = 0; i < n && k < max; i++)
        for (int p = 0; p < POOLS; p++)
            if (g_pools[p] > 0 && g_procs[i].ppid == g_pools[p]) {
                out[k] = g_procs[i].pid;
                age[k++] = g_procs[i].age_s;
            }
    return k;
}

static bool is_our_worker(pid_t pid)
{
    pid_t w[16];
    double age[16];
    int n = workers(w, age, 16);
    for (int i = 0; i < n; i++)
        if (w[i] == pid)
            return true;
    return false;
}

/* The Chromium browser process of a worker (its profile is named after the worker's pid; the
 * browser is the one process of that profile without --type=). 0 when none. */
static pid_t chromium_of(pid_t worker)
{
    char needle[256];
    snprintf(needle, sizeof needle, "--user-data-dir=%s/gspbot-cdp-%d-", g_tmp, (int)worker);
    int n = procs(g_procs, 8192);
    for (int i = 0; i < n; i++)
        if (strstr(g_procs[i].cmd, needle) != NULL && strstr(g_procs[i].cmd, "--type=") == NULL)
            return g_procs[i].pid;
    return 0;
}

/* Processes left of this run: of the pools' sessions, or with a profile under the temp folder.
 * Describes the first in `what`. */
static int leftovers(char *what, size_t n)
{
    int count = 0, np = procs(g_procs, 8192);
    what[0] = '\0';
    for (int i = 0; i < np; i++) {
        bool ours = strstr(g_procs[i].cmd, g_tmp) != NULL && strstr(g_procs[i].cmd, "--user-data-dir") != NULL;
        for (int p = 0; p < POOLS; p++)
            ours |= g_pools[p] > 0 && getpgid(g_procs[i].pid) == g_pools[p];
        if (ours && count++ == 0)
            snprintf(what, n, "pid %d: %.300s", (int)g_procs[i].pid, g_procs[i].cmd);
    }
    return count;
}

/* Waits up to within_s for no process of this run to be left; returns how many are left. */
static int wait_nothing_left(int within_s, char *what, size_t n)
{
    long long end = now_ms() + within_s * 1000LL;
    int left;
    while ((left = leftovers(what, n)) > 0 && now_ms() < end)
        sleep_ms(250);
    return left;
}

/* A busy worker of our pools: the holder of an order's lease (the lease, not the worker's own
 * heartbeat row, says who holds what now). Returns its pid and the order, or 0. */
static pid_t busy_worker(long long *order, long long *token)
{
    PGresult *r = db("SELECT w.pid, o.id, o.lease_token FROM orders o JOIN workers w ON w.id = o.lease_owner"
                     " WHERE o.status = 'in_progress' AND o.started_at < now() - interval '1 second'"
                     " ORDER BY random()");
    pid_t pid = 0;
    for (int i = 0; r != NULL && i < PQntuples(r) && pid == 0; i++) {
        pid_t p = (pid_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
        if (p != g_stopped && is_our_worker(p)) {
            pid = p;
            *order = strtoll(PQgetvalue(r, i, 1), NULL, 10);
            *token = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        }
    }
    PQclear(r);
    return pid;
}

static int pg_ctl(const char *verb)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/pg.sh' %s '%s' >/dev/null 2>&1", GSPBOT_SOURCE_DIR, verb, g_pg_dir);
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the run */

struct chaos {
    int kills, chromium_kills, sigstops, pg_restarts, pool_deaths;
    double stop_takeover_s; /* how long the SIGSTOPped worker's order took to be taken over */
    char problems[16][256]; /* what went wrong outside the checker's counts */
    int nproblems;
};

static void problem(struct chaos *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct chaos *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    note("PROBLEM: %s", msg);
    if (c->nproblems < 16)
        snprintf(c->problems[c->nproblems++], sizeof c->problems[0], "%s", msg);
}

enum event { EV_CHROMIUM_1, EV_SIGSTOP, EV_CHROMIUM_2, EV_PG_RESTART, EV_COUNT };
static const double EVENT_AT[EV_COUNT] = {0.10, 0.25, 0.45, 0.60}; /* share of orders finished */
static const char *const EVENT_NAME[EV_COUNT] = {"Chromium SIGKILL 1", "SIGSTOP past the lease", "Chromium SIGKILL 2",
                                                 "PostgreSQL restart"};

/* The worker SIGSTOPped past its lease, until SIGCONT. */
struct stopped {
    long long order, token; /* its order, and the lease's fencing token when it was stopped */
    long long last_log;     /* the order's last audit row then: a newer worker_lost row is the reap */
    long long at;           /* when (ms) */
};

/* One planned fault; returns true when it happened (false: try again shortly). */
static bool do_event(struct chaos *c, enum event ev, struct stopped *st)
{
    long long order, token;
    if (ev == EV_PG_RESTART) {
        note("PostgreSQL: stopping it for %d ms", PG_DOWN_MS);
        g_pg_down = true;
        if (pg_ctl("stop") != 0)
            problem(c, "pg.sh stop failed");
        sleep_ms(PG_DOWN_MS);
        if (pg_ctl("start") != 0) {
            sleep_ms(2000);
            if (pg_ctl("start") != 0)
                problem(c, "pg.sh start failed");
        }
        g_pg_down = false;
        PQfinish(g_pg);
        g_pg = NULL;
        c->pg_restarts++;
        note("PostgreSQL: started again");
        return true;
    }
    pid_t w = busy_worker(&order, &token);
    if (w == 0)
        return false;
    if (ev == EV_SIGSTOP) {
        if (kill(w, SIGSTOP) != 0)
            return false;
        g_stopped = w;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) FROM order_logs WHERE order_id = %lld", order);
        *st = (struct stopped){.order = order, .token = token, .last_log = db_num(0, sql), .at = now_ms()};
        c->sigstops++;
        note("SIGSTOP worker %d (order %lld, lease token %lld): it must lose the order after %d s", (int)w, order,
             token, LEASE_S);
        return true;
    }
    pid_t chrome = chromium_of(w);
    if (chrome == 0 || kill(chrome, SIGKILL) != 0)
        return false;
    c->chromium_kills++;
    note("SIGKILL Chromium %d of worker %d (order %lld)", (int)chrome, (int)w, order);
    return true;
}

/* A random worker older than KILL_MIN_AGE_S (a younger one's death would count as "died at start",
 * five of which in a row stop a pool by design), not the SIGSTOPped one. */
static void kill_random_worker(struct chaos *c)
{
    pid_t w[16];
    double age[16];
    int n = workers(w, age, 16), k = 0;
    pid_t pick[16];
    for (int i = 0; i < n; i++)
        if (age[i] >= KILL_MIN_AGE_S && w[i] != g_stopped)
            pick[k++] = w[i];
    if (k == 0)
        return;
    pid_t victim = pick[rnd_in(0, k - 1)];
    if (kill(victim, SIGKILL) == 0) {
        c->kills++;
        note("SIGKILL worker %d", (int)victim);
    }
}

/* Works the batch under chaos until it is over (or the deadline). */
static void run_chaos(struct chaos *c, long long batch, int norders, int deadline_s)
{
    long long end = now_ms() + deadline_s * 1000LL;
    long long next_kill = now_ms() + rnd_in(KILL_MIN_MS, KILL_MAX_MS);
    int next_event = 0;
    struct stopped stop = {0};
    long long last_print = 0;
    char sql[512];
    for (;;) {
        sleep_ms(250);
        if (g_interrupted) {
            problem(c, "interrupted");
            return;
        }
        for (int p = 0; p < POOLS; p++) {
            int st;
            if (waitpid(g_pools[p], &st, WNOHANG) == g_pools[p]) {
                c->pool_deaths++;
                problem(c, "pool %d exited (%s %d) during the run; started again", p + 1,
                        WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                char log[200];
                snprintf(log, sizeof log, "%s/pool%d.log", g_tmp, p + 1);
                print_tail(log, 15);
                g_pools[p] = spawn_pool(p);
            }
        }
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'cancelled')) FROM orders"
                 " WHERE batch_id = %lld",
                 batch);
        long long done = db_num(-1, sql);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM batches WHERE id = %lld AND status IN ('completed', 'failed')",
                 batch);
        bool over = done == norders && db_num(0, sql) == 1;
        if (done >= 0 && now_ms() - last_print > 15000) {
            last_print = now_ms();
            note("progress: %lld of %d orders finished", done, norders);
        }
        if (over && g_stopped == 0) {
            note("batch %lld is over: %lld orders finished", batch, done);
            return;
        }
        if (now_ms() > end) {
            problem(c, "the batch was not over after %d s (%lld of %d orders finished)", deadline_s, done, norders);
            return;
        }
        // The SIGSTOPped worker: continued once its lease expired and the order was given back (a
        // worker_lost row) or claimed again (a newer fencing token), or after STOP_MAX_S.
        if (g_stopped != 0) {
            snprintf(sql, sizeof sql,
                     "SELECT (SELECT lease_token FROM orders WHERE id = %lld) > %lld OR EXISTS (SELECT 1 FROM"
                     " order_logs WHERE order_id = %lld AND step = 'worker_lost' AND id > %lld)",
                     stop.order, stop.token, stop.order, stop.last_log);
            PGresult *r = db("%s", sql);
            bool taken = r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            PQclear(r);
            double held = (now_ms() - stop.at) / 1000.0;
            if (taken || held > STOP_MAX_S) {
                if (!taken)
                    problem(c, "order %lld of the SIGSTOPped worker %d was not taken over within %d s", stop.order,
                            (int)g_stopped, STOP_MAX_S);
                else
                    c->stop_takeover_s = held;
                kill(g_stopped, SIGCONT);
                note("SIGCONT worker %d after %.1f s (order %lld %s)", (int)g_stopped, held, stop.order,
                     taken ? "taken over" : "NOT taken over");
                g_stopped = 0;
            }
        } else if (next_event < EV_COUNT && done >= 0 && done >= EVENT_AT[next_event] * norders) {
            if (do_event(c, (enum event)next_event, &stop))
                next_event++;
        }
        if (now_ms() >= next_kill) {
            kill_random_worker(c);
            next_kill = now_ms() + rnd_in(KILL_MIN_MS, KILL_MAX_MS);
        }
    }
}

/* ------------------------------------------------------------------ the check */

struct tally {
    int lost, duplicated, unexpected, attempts_bad, evidence_bad, verify_bad;
    int completed, failed_expected, gave_up, other;
    long long attempts, max_attempt;
    int failed_attempts, evidence_partial, worker_lost;
    int settled; /* orders taken over (or retried) only after the takeover settle time */
    long dup_units;
};

static int g_listed;

static void finding(const char *kind, const struct order *o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finding(const char *kind, const struct order *o, const char *fmt, ...)
{
    if (g_listed++ >= 60) {
        if (g_listed == 62)
            printf("  ... (more findings not listed)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("  %-10s ", kind);
    if (o != NULL)
        printf("order %lld (consultora %s, %s, attempts %d/%d): ", o->id, o->code, o->in_db ? o->status : "not loaded",
               o->attempts, o->max_attempts);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static struct order *find_order(struct order *o, int n, const char *code)
{
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].code, code) == 0)
            return &o[i];
    return NULL;
}

static struct item *find_item(struct order *o, const char *code)
{
    for (int k = 0; k < o->nitems; k++)
        if (strcmp(o->items[k].code, code) == 0)
            return &o->items[k];
    return NULL;
}

/* The portal's quantity of a product in a consultora's cart of CYCLE. */
static long cart_qty(const cJSON *carts, const char *consultora, const char *product)
{
    char key[64];
    snprintf(key, sizeof key, "%s|%s", consultora, CYCLE);
    const cJSON *cart = cJSON_GetObjectItemCaseSensitive(carts, key);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(cart, product);
    return cJSON_IsNumber(q) ? (long)q->valuedouble : 0;
}

/* Reads the database's view of every order into the input's records. */
static int read_db(struct order *o, int n, long long batch, struct tally *t)
{
    PGresult *r = db("SELECT id, consultora_code, status, coalesce(error_class, ''), coalesce(last_error, ''),"
                     " attempts, max_attempts FROM orders WHERE batch_id = %lld",
                     batch);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        struct order *x = find_order(o, n, PQgetvalue(r, i, 1));
        if (x == NULL) {
            t->unexpected++;
            finding("UNEXPECTED", NULL, "U4: order %s of consultora %s is in the database, not in the input",
                    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
            continue;
        }
        x->in_db = true;
        x->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(x->status, sizeof x->status, "%s", PQgetvalue(r, i, 2));
        snprintf(x->error_class, sizeof x->error_class, "%s", PQgetvalue(r, i, 3));
        snprintf(x->last_error, sizeof x->last_error, "%s", PQgetvalue(r, i, 4));
        x->attempts = (int)strtol(PQgetvalue(r, i, 5), NULL, 10);
        x->max_attempts = (int)strtol(PQgetvalue(r, i, 6), NULL, 10);
    }
    PQclear(r);
    r = db("SELECT o.consultora_code, i.product_code, i.quantity, i.outcome FROM order_items i"
           " JOIN orders o ON o.id = i.order_id WHERE o.batch_id = %lld",
           batch);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        struct order *x = find_order(o, n, PQgetvalue(r, i, 0));
        if (x == NULL)
            continue;
        struct item *it = find_item(x, PQgetvalue(r, i, 1));
        if (it == NULL) {
            x->extra_db_items++;
            continue;
        }
        it->in_db = true;
        it->db_qty = strtol(PQgetvalue(r, i, 2), NULL, 10);
        snprintf(it->outcome, sizeof it->outcome, "%s", PQgetvalue(r, i, 3));
    }
    PQclear(r);
    return 0;
}

static bool file_exists(const char *base, const char *ext)
{
    char path[1024];
    snprintf(path, sizeof path, "%s%s", base, ext);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* EVIDENCE: every failed attempt's files. */
static int check_evidence(const struct order *o, int n, long long batch, struct tally *t)
{
    PGresult *r =
        db("SELECT o.consultora_code, l.attempt, coalesce(l.screenshot, ''), l.message FROM order_logs l"
           " JOIN orders o ON o.id = l.order_id WHERE o.batch_id = %lld AND l.message LIKE 'attempt %% failed%%'",
           batch);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        t->failed_attempts++;
        const struct order *x = NULL;
        for (int k = 0; k < n && x == NULL; k++)
            if (strcmp(o[k].code, PQgetvalue(r, i, 0)) == 0)
                x = &o[k];
        const char *base = PQgetvalue(r, i, 2), *msg = PQgetvalue(r, i, 3);
        // When Chromium died under the attempt there is no page left to capture.
        bool browser_gone = strstr(msg, "browser") != NULL || strstr(msg, "Chromium") != NULL ||
                            strstr(msg, "connection closed") != NULL || strstr(msg, "crash") != NULL ||
                            strstr(msg, "WebSocket") != NULL;
        if (!*base) {
            t->evidence_bad++;
            finding("EVIDENCE", x, "attempt %s failed without evidence: %.200s", PQgetvalue(r, i, 1), msg);
            continue;
        }
        bool console = file_exists(base, ".console.txt"), png = file_exists(base, ".png"),
             html = file_exists(base, ".html");
        if (!console || (!browser_gone && (!png || !html))) {
            t->evidence_bad++;
            finding("EVIDENCE", x, "attempt %s: %s.{png %s, html %s, console.txt %s}: %.160s", PQgetvalue(r, i, 1),
                    base, png ? "ok" : "MISSING", html ? "ok" : "MISSING", console ? "ok" : "MISSING", msg);
        } else if (!png || !html) {
            t->evidence_partial++;
        }
    }
    PQclear(r);
    t->worker_lost = (int)db_num(0, "SELECT count(*) FROM order_logs WHERE step = 'worker_lost'");
    // The attempt may have changed the cart: the next one waited GSPBOT_TAKEOVER_SETTLE_MS.
    t->settled = (int)db_num(0, "SELECT count(*) FROM order_logs WHERE (step = 'worker_lost' AND message LIKE"
                                " '%queued again in %') OR message LIKE '%after the takeover settle time%'");
    return 0;
}

/* What gspbot verify must say of an order, derived from the cart and the database. */
static const char *derived_verify(const struct order *o, const cJSON *carts)
{
    bool missing = false, excess = false, unexpected = false;
    bool completed = strcmp(o->status, "completed") == 0;
    for (int k = 0; k < o->nitems; k++) {
        const struct item *it = &o->items[k];
        if (!it->in_db)
            continue;
        long expected =
            completed || !strcmp(it->outcome, "added") || !strcmp(it->outcome, "already_in_cart") ? it->db_qty : 0;
        long got = cart_qty(carts, o->code, it->code);
        missing |= got < expected;
        excess |= got > expected;
    }
    char key[64];
    snprintf(key, sizeof key, "%s|%s", o->code, CYCLE);
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(carts, key))
    {
        bool known = false;
        for (int k = 0; k < o->nitems; k++)
            known |= o->items[k].in_db && strcmp(o->items[k].code, p->string) == 0;
        unexpected |= !known && cJSON_IsNumber(p) && p->valuedouble != 0;
    }
    int kinds = missing + excess + unexpected;
    return kinds == 0 ? "exact" : kinds > 1 ? "mismatch" : missing ? "missing" : excess ? "excess" : "unexpected";
}

static int read_verify(struct order *o, int n, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    static char text[4 << 20];
    size_t k = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[k] = '\0';
    cJSON *j = cJSON_Parse(text);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "orders"))
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "consultora_code");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(e, "result");
        struct order *x = cJSON_IsString(code) ? find_order(o, n, code->valuestring) : NULL;
        if (x != NULL && cJSON_IsString(res))
            snprintf(x->verify, sizeof x->verify, "%s", res->valuestring);
    }
    bool ok = j != NULL;
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

static bool outcome_in_cart(const char *outcome)
{
    return strcmp(outcome, "added") == 0 || strcmp(outcome, "already_in_cart") == 0;
}

/* Every rule of the file comment, order by order, then the carts nobody ordered. */
static void check(struct order *o, int n, const cJSON *state, const char *batch_status, struct tally *t)
{
    const cJSON *carts = cJSON_GetObjectItemCaseSensitive(state, "carts");
    int nfailed = 0;
    for (int i = 0; i < n; i++) {
        struct order *x = &o[i];
        bool valid = order_valid(x);
        if (!x->in_db) {
            t->lost++;
            x->fate = "lost";
            finding("LOST", x, "L1: not in the database");
            continue;
        }
        t->attempts += x->attempts;
        if (x->attempts > t->max_attempt)
            t->max_attempt = x->attempts;
        bool completed = !strcmp(x->status, "completed"), failed = !strcmp(x->status, "failed");
        nfailed += !completed;
        bool fatal = !strcmp(x->error_class, "fatal");
        bool gave_up = failed && (!strcmp(x->error_class, "recoverable") || !strcmp(x->error_class, "session")) &&
                       x->attempts >= x->max_attempts && x->last_error[0];
        // ATTEMPTS
        if (x->attempts > x->max_attempts || ((completed || failed) && x->attempts == 0)) {
            t->attempts_bad++;
            finding("ATTEMPTS", x, "%d attempts of at most %d", x->attempts, x->max_attempts);
        }
        // U4: the loader kept the input as it was.
        if (x->extra_db_items > 0) {
            t->unexpected++;
            finding("UNEXPECTED", x, "U4: %d products in the database the input does not have", x->extra_db_items);
        }
        for (int k = 0; k < x->nitems; k++)
            if (!x->items[k].in_db || x->items[k].db_qty != x->items[k].qty) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U4: product %s: input %ld, database %ld%s", x->items[k].code, x->items[k].qty,
                        x->items[k].db_qty, x->items[k].in_db ? "" : " (missing)");
            }
        // The cart against the input, product by product.
        bool below = false;
        for (int k = 0; k < x->nitems; k++) {
            const struct item *it = &x->items[k];
            long got = cart_qty(carts, x->code, it->code), w = want(x, it);
            if (got > it->qty) {
                t->duplicated++;
                t->dup_units += got - it->qty;
                finding("DUPLICATE", x, "product %s: the cart holds %ld, the input %ld", it->code, got, it->qty);
            } else if (got > 0 && (x->bad_consultora || product_bad(it->code))) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U3: product %s is in the cart (%ld), it cannot be", it->code, got);
            }
            below |= got < w;
            // U5: outcomes against the cart.
            if (!it->in_db)
                continue;
            if (outcome_in_cart(it->outcome) && got != it->qty) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U5: product %s is %s, the cart holds %ld of %ld", it->code, it->outcome, got,
                        it->qty);
            }
            if (!outcome_in_cart(it->outcome) && strcmp(it->outcome, "pending") != 0 && got > 0) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U5: product %s is %s, yet the cart holds %ld", it->code, it->outcome, got);
            }
            if (completed && !outcome_in_cart(it->outcome)) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U5: a completed order with product %s %s", it->code, it->outcome);
            }
            const char *right = !product_bad(it->code)                  ? NULL
                                : it->code[strlen(it->code) - 1] == '9' ? "not_found"
                                                                        : "no_stock";
            bool wrong = false;
            if (right != NULL && strcmp(it->outcome, "pending") != 0 && strcmp(it->outcome, right) != 0)
                wrong = true; // a bad product's outcome names why
            if (right == NULL && !x->bad_consultora &&
                (!strcmp(it->outcome, "not_found") || !strcmp(it->outcome, "no_stock")))
                wrong = true; // a good product cannot be "not found"
            if (failed && fatal && !x->bad_consultora && right == NULL && !outcome_in_cart(it->outcome))
                wrong = true; // a fatal order went on past its bad products: the others went in
            if (failed && fatal && x->bad_products > 0 && right != NULL && strcmp(it->outcome, right) != 0)
                wrong = true;
            if (wrong) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U5: product %s: outcome %s", it->code, it->outcome);
            }
        }
        // U2: products in the cart that the order does not have.
        char key[64];
        snprintf(key, sizeof key, "%s|%s", x->code, CYCLE);
        const cJSON *cart = cJSON_GetObjectItemCaseSensitive(carts, key);
        const cJSON *p;
        cJSON_ArrayForEach(p, cart)
        {
            if (find_item(x, p->string) == NULL && cJSON_IsNumber(p) && p->valuedouble != 0) {
                t->unexpected++;
                finding("UNEXPECTED", x, "U2: product %s (%g) in the cart, not in the order", p->string,
                        p->valuedouble);
            }
        }
        // The fate, and LOST.
        if (!completed && !failed) {
            t->lost++;
            x->fate = "stuck";
            finding("LOST", x, "L3: left %s", x->status);
        } else if (completed) {
            if (!valid) {
                t->unexpected++;
                x->fate = "unexpected";
                finding("UNEXPECTED", x, "U5: an invalid order completed");
            } else if (below) {
                t->lost++;
                x->fate = "lost";
                finding("LOST", x, "L2: completed, but the cart lacks products");
            } else {
                t->completed++;
                x->fate = "completed";
            }
        } else if (valid) {
            if (gave_up) {
                t->gave_up++;
                x->fate = "gave up";
                finding("GAVE UP", x, "after every attempt (%s): %.200s", x->error_class, x->last_error);
            } else {
                t->lost++;
                x->fate = "lost";
                finding("LOST", x, "L4: a valid order failed (%s) with attempts left or no reason: %.200s",
                        x->error_class[0] ? x->error_class : "no class", x->last_error);
            }
        } else if (fatal) {
            bool ok = true;
            if (x->bad_consultora) {
                ok = strstr(x->last_error, "no existe") != NULL;
                for (int k = 0; k < x->nitems; k++)
                    ok &= !outcome_in_cart(x->items[k].outcome);
            }
            if (ok) {
                t->failed_expected++;
                x->fate = "failed as expected";
            } else {
                t->unexpected++;
                x->fate = "unexpected";
                finding("UNEXPECTED", x, "U5: failed fatal, but not as it should: %.200s", x->last_error);
            }
        } else if (gave_up) {
            t->gave_up++;
            x->fate = "gave up";
            finding("GAVE UP", x, "an invalid order, after every attempt (%s): %.200s", x->error_class, x->last_error);
        } else {
            t->unexpected++;
            x->fate = "unexpected";
            finding("UNEXPECTED", x, "U5: an invalid order failed %s with attempts left: %.200s", x->error_class,
                    x->last_error);
        }
        // VERIFY
        const char *want_v = derived_verify(x, carts);
        if (strcmp(x->verify, want_v) != 0) {
            t->verify_bad++;
            finding("VERIFY", x, "gspbot verify says \"%s\", the cart and the database say \"%s\"",
                    x->verify[0] ? x->verify : "(nothing)", want_v);
        }
    }
    // U1: carts nobody ordered.
    const cJSON *c;
    cJSON_ArrayForEach(c, carts)
    {
        char consultora[64];
        snprintf(consultora, sizeof consultora, "%s", c->string);
        char *bar = strchr(consultora, '|');
        bool ours = bar != NULL && strcmp(bar + 1, CYCLE) == 0;
        if (bar != NULL)
            *bar = '\0';
        ours &= find_order(o, n, consultora) != NULL;
        bool empty = true;
        const cJSON *p;
        cJSON_ArrayForEach(p, c) empty &= cJSON_IsNumber(p) && p->valuedouble == 0;
        if (!ours && !empty) {
            t->unexpected++;
            finding("UNEXPECTED", NULL, "U1: a cart %s that no order of the input has", c->string);
        }
    }
    const char *want_batch = nfailed > 0 ? "failed" : "completed";
    if (strcmp(batch_status, want_batch) != 0) {
        t->unexpected++;
        finding("UNEXPECTED", NULL, "U5: the batch is %s, its orders say %s", batch_status, want_batch);
    }
}

/* ------------------------------------------------------------------ self-test */

/* --self-test: after verify, changes the portal's carts behind everyone's back so that the
 * checker must find one lost order (a product of a completed order taken out: L2, and verify then
 * disagrees), one duplicate (a product of another completed order doubled: also U5), a product
 * nobody ordered in a third order's cart (U2) and a cart of a consultora nobody has (U1). Returns
 * how many faults were planted (4), or -1 when the run has too few completed orders. */
static int plant_faults(const struct order *o, int n)
{
    const struct order *done[3];
    int k = 0;
    for (int i = 0; i < n && k < 3; i++)
        if (o[i].in_db && strcmp(o[i].status, "completed") == 0 && order_valid(&o[i]))
            done[k++] = &o[i];
    if (k < 3)
        return -1;
    char body[512];
    snprintf(body, sizeof body, "{\"consultora\": \"%s\", \"cycle\": \"%s\", \"products\": {\"%s\": 0}}", done[0]->code,
             CYCLE, done[0]->items[0].code);
    int ok = simproc_post(&g_sim, "/__sim/cart", body) == 200;
    snprintf(body, sizeof body, "{\"consultora\": \"%s\", \"cycle\": \"%s\", \"products\": {\"%s\": %ld}}",
             done[1]->code, CYCLE, done[1]->items[0].code, 2 * done[1]->items[0].qty);
    ok &= simproc_post(&g_sim, "/__sim/cart", body) == 200;
    snprintf(body, sizeof body, "{\"consultora\": \"%s\", \"cycle\": \"%s\", \"products\": {\"55555\": 1}}",
             done[2]->code, CYCLE);
    ok &= simproc_post(&g_sim, "/__sim/cart", body) == 200;
    snprintf(body, sizeof body, "{\"consultora\": \"77777777\", \"cycle\": \"%s\", \"products\": {\"80901\": 2}}",
             CYCLE);
    ok &= simproc_post(&g_sim, "/__sim/cart", body) == 200;
    printf("self-test: planted in the portal: order %lld lacks %s, order %lld holds %s twice, order %lld holds"
           " 55555, consultora 77777777 has a cart\n",
           done[0]->id, done[0]->items[0].code, done[1]->id, done[1]->items[0].code, done[2]->id);
    return ok ? 4 : -1;
}

/* ------------------------------------------------------------------ main */

/* A counter of the simulator's /__sim/state "stats" (-1 when missing). */
static long stat_of(const cJSON *stats, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(stats, name);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1L;
}

static void cleanup(bool keep)
{
    if (g_stopped != 0)
        kill(g_stopped, SIGCONT);
    for (int p = 0; p < POOLS; p++)
        if (g_pools[p] > 0) {
            kill(-g_pools[p], SIGKILL);
            waitpid(g_pools[p], NULL, 0);
        }
    int n = procs(g_procs, 8192);
    for (int i = 0; i < n && g_tmp[0]; i++)
        if (strstr(g_procs[i].cmd, g_tmp) != NULL && strstr(g_procs[i].cmd, "--user-data-dir") != NULL)
            kill(g_procs[i].pid, SIGKILL);
    if (g_pg_down)
        (void)pg_ctl("start");
    PQfinish(g_pg);
    g_pg = NULL;
    if (g_sim.pid > 0)
        (void)simproc_stop(&g_sim);
    if (!keep) {
        testdb_drop(g_db);
        g_db = NULL;
        if (g_tmp[0]) {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
            if (system(cmd) != 0)
                fprintf(stderr, "chaos: could not remove %s\n", g_tmp);
        }
    } else {
        printf("kept: %s (database %s)\n", g_tmp, g_db);
    }
}

static void usage(FILE *f)
{
    fputs("usage: chaos [--orders N] [--seed S] [--deadline-s S] [--keep]\n"
          "  --orders N      orders to generate (default 60)\n"
          "  --seed S        the generator's and the chaos schedule's seed (default: from the clock)\n"
          "  --deadline-s S  give up when the batch is not over by then (default 240 + 6 per order)\n"
          "  --keep          keep the temp folder and the database (kept anyway on failure)\n"
          "  --self-test     plant a lost order, a duplicate and two unexpected carts in the portal\n"
          "                  after verify: passes when the checker finds exactly those\n"
          "Needs GSPBOT_TEST_PG (scripts/pg.sh start DIR). See tests/chaos/README.md.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"orders", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"deadline-s", required_argument, NULL, 'd'},
                                         {"keep", no_argument, NULL, 'k'},
                                         {"self-test", no_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int norders = 60, deadline_s = 0;
    uint64_t seed = 0;
    bool keep = false, self_test = false;
    int c;
    while ((c = getopt_long(argc, argv, "n:s:d:kth", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n':
            norders = (int)strtol(optarg, &end, 10);
            if (*end || norders < 1 || norders > 100000) {
                usage(stderr);
                return 2;
            }
            break;
        case 's': seed = strtoull(optarg, &end, 10); break;
        case 'd': deadline_s = (int)strtol(optarg, &end, 10); break;
        case 'k': keep = true; break;
        case 't': self_test = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
        seed %= 1000000000u;
        seed += seed == 0;
    }
    if (deadline_s <= 0)
        deadline_s = 240 + 6 * norders;
    g_rng = seed * 0x9E3779B97F4A7C15ull + 1;
    const char *pg = getenv("GSPBOT_TEST_PG");
    const char *host = pg != NULL ? strstr(pg, "host=") : NULL;
    if (host == NULL || sscanf(host + 5, "%255s", g_pg_dir) != 1) {
        fprintf(stderr, "chaos: GSPBOT_TEST_PG must name a cluster started by scripts/pg.sh (host=DIR ...)\n");
        return 3;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_t0 = now_ms();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *base = getenv("GSPBOT_TEST_TMP");
    snprintf(g_tmp, sizeof g_tmp, "%s/gspbot-chaos-XXXXXX", base && *base && strlen(base) < 64 ? base : "/tmp");
    if (mkdtemp(g_tmp) == NULL) {
        perror("chaos: mkdtemp");
        return 3;
    }
    chmod(g_tmp, 0755);
    snprintf(g_evidence, sizeof g_evidence, "%s/evidence", g_tmp);
    printf("chaos: %d orders, seed %llu, folder %s\n", norders, (unsigned long long)seed, g_tmp);

    // Generate and write the input.
    struct row *rows;
    int nrows;
    struct order *o = generate(norders, &rows, &nrows);
    int nbad_c = 0, nbad_p = 0, nrepeat = 0, nbig = 0;
    for (int i = 0; i < norders; i++) {
        nbad_c += o[i].bad_consultora;
        nbad_p += !o[i].bad_consultora && o[i].bad_products > 0;
        for (int k = 0; k < o[i].nitems; k++) {
            nrepeat += o[i].items[k].rows > 1;
            nbig += o[i].items[k].qty > 999;
        }
    }
    char csv[200];
    snprintf(csv, sizeof csv, "%s/orders.csv", g_tmp);
    if (write_csv(csv, o, rows, nrows) != 0) {
        perror("chaos: orders.csv");
        return 3;
    }
    printf("input: %d orders (%d valid, %d unknown consultora, %d with a product not found or out of stock),"
           " %d rows, %d products in several rows, %d above 999 in total\n",
           norders, norders - nbad_c - nbad_p, nbad_c, nbad_p, nrows, nrepeat, nbig);

    // The database, the simulator, the configuration every gspbot process reads.
    g_db = testdb_create_migrated("chaos");
    char seedarg[32];
    snprintf(seedarg, sizeof seedarg, "%llu", (unsigned long long)seed);
    // clang-format off
    const char *simargs[] = {"--fail-rate", "0.1", "--ghost-rate", "0.05", "--slow-rate", "0.05",
                             "--session-ttl-s", "60", "--seed", seedarg, "--ui-scale", "0.2", NULL};
    // clang-format on
    if (simproc_start(&g_sim, GSPBOT_SIM_PATH, simargs) != 0) {
        cleanup(true);
        return 3;
    }
    setenv("DATABASE_URL", g_db, 1);
    setenv("GSP_BASE_URL", g_sim.url, 1);
    setenv("GSP_USER_CODE", "demo", 1);
    setenv("GSP_PASSWORD", "demo", 1);
    setenv("GSP_CYCLE", CYCLE, 1);
    setenv("GSPBOT_SCREENSHOT_DIR", g_evidence, 1);
    setenv("GSPBOT_MAX_RETRIES", MAX_RETRIES, 1);
    setenv("GSPBOT_RETRY_DELAY_MS", "200", 1);
    char lease[8];
    snprintf(lease, sizeof lease, "%d", LEASE_S);
    setenv("GSPBOT_LEASE_S", lease, 1);
    setenv("GSPBOT_TIMEOUT_MS", "30000", 1);
    // The breaker still works (25 recoverable failures in a row open it) but cannot stall the run:
    // it probes again after 5 s.
    setenv("GSPBOT_BREAKER_FAILURES", "25", 1);
    setenv("GSPBOT_BREAKER_COOLDOWN_S", "5", 1);
    setenv("GSPBOT_LOG_FORMAT", "text", 1);
    setenv("TMPDIR", g_tmp, 1); // Chromium profiles: a leftover browser is found by its path
    unsetenv("GSPBOT_MAX_SESSIONS");

    // Load and start.
    char out[256], err[256];
    snprintf(out, sizeof out, "%s/load.out", g_tmp);
    snprintf(err, sizeof err, "%s/load.err", g_tmp);
    const char *load[] = {"load", csv, "--name", "chaos", NULL};
    int rc = gspbot(load, out, err);
    if (rc != 0) {
        printf("chaos: gspbot load exited %d\n", rc);
        print_tail(out, 20);
        print_tail(err, 20);
        cleanup(true);
        return 3;
    }
    long long batch = db_num(-1, "SELECT max(id) FROM batches");
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch);
    const char *start[] = {"start", bid, NULL};
    if ((rc = gspbot(start, out, err)) != 0) {
        printf("chaos: gspbot start exited %d\n", rc);
        print_tail(err, 20);
        cleanup(true);
        return 3;
    }

    // Work it under chaos.
    struct chaos ch = {0};
    for (int p = 0; p < POOLS; p++)
        g_pools[p] = spawn_pool(p);
    long long t_work = now_ms();
    run_chaos(&ch, batch, norders, deadline_s);
    double work_s = (now_ms() - t_work) / 1000.0;
    if (g_stopped != 0) {
        kill(g_stopped, SIGCONT);
        g_stopped = 0;
    }
    for (int e = 0; e < EV_COUNT; e++) {
        bool done = e == EV_SIGSTOP      ? ch.sigstops > 0
                    : e == EV_PG_RESTART ? ch.pg_restarts > 0
                    : e == EV_CHROMIUM_1 ? ch.chromium_kills > 0
                                         : ch.chromium_kills > 1;
        if (!done)
            problem(&ch, "planned fault not done: %s (the batch was over before a busy worker was found)",
                    EVENT_NAME[e]);
    }

    // Stop the pools: each drains and exits 0; then nothing of them is left.
    for (int p = 0; p < POOLS; p++)
        kill(g_pools[p], SIGTERM);
    for (int p = 0; p < POOLS; p++) {
        long long end = now_ms() + 90000;
        int st = 0;
        pid_t r = 0;
        while ((r = waitpid(g_pools[p], &st, WNOHANG)) == 0 && now_ms() < end)
            sleep_ms(100);
        if (r != g_pools[p]) {
            problem(&ch, "pool %d did not exit within 90 s of SIGTERM", p + 1);
            kill(-g_pools[p], SIGKILL);
            waitpid(g_pools[p], NULL, 0);
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            problem(&ch, "pool %d ended with %s %d after SIGTERM (want exit 0)", p + 1,
                    WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    char what[512];
    int left = wait_nothing_left(15, what, sizeof what);
    if (left > 0)
        problem(&ch, "%d processes left after the pools stopped, e.g. %s", left, what);
    for (int p = 0; p < POOLS; p++)
        g_pools[p] = 0;
    long long stale = db_num(-1, "SELECT count(*) FROM workers WHERE status NOT IN ('stopped', 'dead')");
    if (stale != 0)
        problem(&ch, "%lld workers rows still live after the pools stopped", stale);

    // gspbot verify reads every cart back (the portal still failing as before).
    char vout[256], verr[256];
    snprintf(vout, sizeof vout, "%s/verify.json", g_tmp);
    snprintf(verr, sizeof verr, "%s/verify.log", g_tmp);
    const char *verify[] = {"verify", bid,      "--status",       "all", "--json", "--concurrency",
                            "4",      "--flow", GSPBOT_FLOW_PATH, NULL};
    long long t_verify = now_ms();
    rc = gspbot(verify, vout, verr);
    double verify_s = (now_ms() - t_verify) / 1000.0;
    if (rc != 0 && rc != 1) {
        problem(&ch, "gspbot verify exited %d", rc);
        print_tail(verr, 20);
    }
    left = wait_nothing_left(15, what, sizeof what);
    if (left > 0)
        problem(&ch, "%d processes left after verify, e.g. %s", left, what);

    // The portal's carts, the database, the check.
    struct tally t = {0};
    int planted = 0;
    if (self_test && read_db(o, norders, batch, &t) == 0) {
        planted = plant_faults(o, norders);
        if (planted < 0)
            problem(&ch, "self-test: fewer than 3 completed valid orders to plant faults in");
        t = (struct tally){0};
        for (int i = 0; i < norders; i++) { // read again below
            o[i].extra_db_items = 0;
            for (int k = 0; k < o[i].nitems; k++)
                o[i].items[k].in_db = false;
        }
    }
    cJSON *state = simproc_get_json(&g_sim, "/__sim/state");
    char batch_status[32] = "?";
    PGresult *br = db("SELECT status FROM batches WHERE id = %lld", batch);
    if (br != NULL && PQntuples(br) == 1)
        snprintf(batch_status, sizeof batch_status, "%s", PQgetvalue(br, 0, 0));
    PQclear(br);
    if (state == NULL || read_db(o, norders, batch, &t) != 0 || check_evidence(o, norders, batch, &t) != 0) {
        problem(&ch, "cannot read the simulator's state or the database");
    } else {
        if (read_verify(o, norders, vout) != 0)
            problem(&ch, "gspbot verify printed no JSON report");
        printf("findings:\n");
        check(o, norders, state, batch_status, &t);
        if (g_listed == 0)
            printf("  none\n");
    }
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(state, "stats");
    printf("portal: %ld requests, %ld failed on purpose (503), %ld slow, %ld ghost adds of %ld, %ld logins,"
           " %ld sessions expired, %ld overlay clicks\n",
           stat_of(stats, "requests"), stat_of(stats, "failures"), stat_of(stats, "slow"), stat_of(stats, "ghosts"),
           stat_of(stats, "adds"), stat_of(stats, "logins"), stat_of(stats, "sessions_expired"),
           stat_of(stats, "overlay_clicks"));
    cJSON_Delete(state);
    int sim_rc = simproc_stop(&g_sim);
    g_sim.pid = 0;
    if (sim_rc != 0)
        problem(&ch, "the simulator exited %d", sim_rc);

    printf("chaos: %d worker SIGKILLs, %d Chromium SIGKILLs, %d SIGSTOP (order taken over after %.1f s),"
           " %d PostgreSQL restart, %d pool deaths\n",
           ch.kills, ch.chromium_kills, ch.sigstops, ch.stop_takeover_s, ch.pg_restarts, ch.pool_deaths);
    printf("orders: %d completed, %d failed as expected, %d gave up after every attempt, batch %s\n", t.completed,
           t.failed_expected, t.gave_up, batch_status);
    printf("attempts: %lld in all (%.2f per order, at most %lld of %s); %d failed attempts with evidence"
           " (%d without screenshot: browser gone), %d lost with their worker; %d next attempts waited the"
           " takeover settle time\n",
           t.attempts, norders ? (double)t.attempts / norders : 0.0, t.max_attempt, MAX_RETRIES " + 1",
           t.failed_attempts, t.evidence_partial, t.worker_lost, t.settled);
    int bad = t.lost + t.duplicated + t.unexpected + t.attempts_bad + t.evidence_bad + t.verify_bad + ch.nproblems;
    if (self_test) {
        // Planted: a lost order (L2, its item's U5, verify), a duplicate (its U5, verify), U2 (verify), U1.
        bool caught = planted == 4 && t.lost == 1 && t.duplicated == 1 && t.unexpected == 4 && t.verify_bad == 3 &&
                      t.attempts_bad + t.evidence_bad + ch.nproblems == 0;
        printf("self-test: lost %d (want 1), duplicated %d (want 1), unexpected %d (want 4), verify disagreements"
               " %d (want 3): %s\n",
               t.lost, t.duplicated, t.unexpected, t.verify_bad,
               caught ? "the checker caught every planted fault" : "FAIL");
        bad = caught ? 0 : 1;
    }
    double wall = (now_ms() - g_t0) / 1000.0;
    printf("RESULT: orders %d, lost %d, duplicated %d, unexpected %d, attempts %lld, wall %.1f s"
           " (work %.1f s, verify %.1f s); attempts violations %d, evidence missing %d, verify disagreements %d,"
           " problems %d: %s\n",
           norders, t.lost, t.duplicated, t.unexpected, t.attempts, wall, work_s, verify_s, t.attempts_bad,
           t.evidence_bad, t.verify_bad, ch.nproblems,
           self_test  ? (bad == 0 ? "self-test PASS" : "self-test FAIL")
           : bad == 0 ? "PASS"
                      : "FAIL");
    for (int i = 0; i < ch.nproblems; i++)
        printf("  problem: %s\n", ch.problems[i]);
    if (bad != 0) {
        for (int p = 0; p < POOLS; p++) {
            char log[200];
            snprintf(log, sizeof log, "%s/pool%d.log", g_tmp, p + 1);
            print_tail(log, 20);
        }
    }
    cleanup(keep || bad != 0);
    free(o);
    free(rows);
    return bad == 0 ? 0 : 1;
}
