/* verify: `gspbot verify` — for each order of a batch, the read-only walk up to the portal's cart
 * (nothing is added: the flow stops once its cart expression has read the cart), then the cart
 * compared with what the database says it must hold: exact, missing, excess, unexpected products.
 * N processes share the orders (each with its own Chromium and database connection, forked like
 * the workers); each records its orders' results in the database; the parent builds the report.
 * Staff cannot see the portal's database: this is how they know what really went in. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "flow_order.h"
#include "log.h"
#include "portal.h"
#include "queue.h"
#include "worker.h"
#include "worker_internal.h"

#define VERIFY_MAX_PROCS 16
#define VERIFY_CART_MAX  2000 /* lines of one cart read back */

struct line {
    char code[64];
    long qty;
};

struct reading {
    struct line lines[VERIFY_CART_MAX];
    size_t n;
};

static void on_cart(void *arg, const char *code, long qty)
{
    struct reading *rd = arg;
    for (size_t i = 0; i < rd->n; i++)
        if (strcmp(rd->lines[i].code, code) == 0) {
            rd->lines[i].qty += qty;
            return;
        }
    if (rd->n < VERIFY_CART_MAX) {
        snprintf(rd->lines[rd->n].code, sizeof rd->lines[rd->n].code, "%s", code);
        rd->lines[rd->n++].qty = qty;
    }
}

static bool stop_cb(void *arg)
{
    (void)arg;
    return worker__stop_signal != 0;
}

/* Compares what the portal holds with what the order says; fills result and detail. */
static void compare(const struct queue_verify_order *o, const struct reading *rd, char result[16], struct buf *detail)
{
    bool missing = false, excess = false, unexpected = false;
    for (size_t i = 0; i < o->nitems; i++) {
        long portal = 0;
        for (size_t k = 0; k < rd->n; k++)
            if (strcmp(rd->lines[k].code, o->items[i].product_code) == 0)
                portal = rd->lines[k].qty;
        if (portal == o->items[i].expected)
            continue;
        if (portal < o->items[i].expected)
            missing = true;
        else
            excess = true;
        db_ignore(buf_printf(detail, "%s%s: portal %ld, database %d", detail->len ? "; " : "", o->items[i].product_code,
                             portal, o->items[i].expected));
    }
    for (size_t k = 0; k < rd->n; k++) {
        bool known = false;
        for (size_t i = 0; i < o->nitems && !known; i++)
            known = strcmp(rd->lines[k].code, o->items[i].product_code) == 0;
        if (!known && rd->lines[k].qty != 0) {
            unexpected = true;
            db_ignore(buf_printf(detail, "%s%s: portal %ld, not in the order", detail->len ? "; " : "",
                                 rd->lines[k].code, rd->lines[k].qty));
        }
    }
    int kinds = missing + excess + unexpected;
    snprintf(result, 16, "%s",
             kinds == 0 ? "exact" : kinds > 1 ? "mismatch" : missing ? "missing" : excess ? "excess" : "unexpected");
}

/* One child: verifies orders[i] for i = index, index + nprocs, ... Returns its exit code. */
static int child(const struct verify_opts *o, const struct queue_verify_order *orders, size_t n, int index,
                 int nprocs)
{
    struct db *db = NULL;
    if (db_open(&db, o->cfg->database_url) != 0) {
        log_error("verify", "%s", db_errmsg(db));
        db_free(db);
        return WORKER_EXIT_UNAVAILABLE;
    }
    struct portal *portal = portal_new(o->cfg, o->flow);
    if (portal == NULL) {
        db_free(db);
        return WORKER_EXIT_UNAVAILABLE;
    }
    portal_set_interrupt(portal, stop_cb, NULL);
    static struct reading rd;
    int code = 0;
    for (size_t i = (size_t)index; i < n && worker__stop_signal == 0; i += (size_t)nprocs) {
        const struct queue_verify_order *ord = &orders[i];
        memset(&rd, 0, sizeof rd);
        struct flow_order fo = {.id = ord->id, .consultora_code = ord->consultora_code,
                                .consultora_name = ord->consultora_name};
        struct flow_run_opts ro = {.cfg = o->cfg,
                                   .flow = o->flow,
                                   .evidence_dir = o->cfg->screenshot_dir,
                                   .event_arg = &rd,
                                   .should_stop = stop_cb,
                                   .on_cart = on_cart};
        struct flow_result res;
        enum flow_next next =
            flow_order_run(portal, &ro, o->cfg->max_retries + 1, o->cfg->retry_delay_ms, &fo, NULL, 0, NULL, &res, NULL);
        char result[16];
        struct buf detail;
        buf_init(&detail, 4096);
        if (next == FLOW_NEXT_DONE) {
            compare(ord, &rd, result, &detail);
        } else if (next == FLOW_NEXT_STOPPED) {
            buf_cleanup(&detail);
            break;
        } else {
            bool expects_nothing = true;
            for (size_t k = 0; k < ord->nitems; k++)
                expects_nothing &= ord->items[k].expected == 0;
            if (next == FLOW_NEXT_FAIL && res.cls == FLOW_CLASS_FATAL && expects_nothing) {
                // The portal refuses the consultora itself: nothing can be in its cart, and the
                // database expects nothing either.
                snprintf(result, sizeof result, "exact");
                db_ignore(buf_printf(&detail, "nothing expected, and the portal refuses the consultora (%s)",
                                     res.error));
            } else {
                snprintf(result, sizeof result, "error");
                db_ignore(buf_printf(&detail, "cannot read the cart: %s at %s: %s", flow_class_name(res.cls),
                                     res.failed_step[0] ? res.failed_step : "-", res.error));
            }
            if (next == FLOW_NEXT_ABORT) {
                log_error("verify", "stopped: %s", res.error);
                code = WORKER_EXIT_UNAVAILABLE;
            }
        }
        char red[4096];
        log_redact(buf_str(&detail), red, sizeof red);
        if (queue_verify_record(db, ord->id, result, red) != 0)
            log_warn("verify", "order %lld: %s", ord->id, db_errmsg(db));
        buf_cleanup(&detail);
        if (code != 0)
            break;
    }
    portal_free(portal);
    db_free(db);
    return code != 0 ? code : worker__stop_signal != 0 ? 130 : 0;
}

int verify_batch(const struct verify_opts *o, cJSON **report)
{
    if (report != NULL)
        *report = NULL;
    struct db *db = NULL;
    if (db_open(&db, o->cfg->database_url) != 0) {
        log_error("verify", "%s", db_errmsg(db));
        db_free(db);
        return 3;
    }
    struct queue_verify_order *orders = NULL;
    size_t n = 0;
    int rc = queue_verify_orders(db, o->batch_id, o->status, &orders, &n);
    if (rc < 0) {
        log_error("verify", "%s", db_errmsg(db));
        db_free(db);
        return rc == QUEUE_ENOENT ? 2 : 3;
    }
    PGresult *t = db_query(db, "verify: now", "SELECT now()::text", 0, NULL);
    char since[64] = "";
    if (t != NULL)
        snprintf(since, sizeof since, "%s", PQgetvalue(t, 0, 0));
    PQclear(t);
    int nprocs = o->concurrency < 1 ? 1 : o->concurrency > VERIFY_MAX_PROCS ? VERIFY_MAX_PROCS : o->concurrency;
    if ((size_t)nprocs > n)
        nprocs = n > 0 ? (int)n : 1;
    worker__stop_signal = 0;
    struct sigaction sa = {.sa_handler = SIG_IGN}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int); // the children stop; the parent waits for them
    sigaction(SIGTERM, &sa, &old_term);
    pid_t pids[VERIFY_MAX_PROCS] = {0};
    int worst = 0;
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < nprocs && n > 0; i++) {
        pid_t parent = getpid();
        pids[i] = fork();
        if (pids[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            worker__signals_reset();
            int fd = PQsocket(db_conn(db)); // the parent's connection: forgotten, never closed from here
            FILE *nul = fopen("/dev/null", "r+");
            if (fd >= 0 && nul != NULL)
                dup2(fileno(nul), fd);
            if (nul != NULL)
                fclose(nul);
            db_free(db);
            _exit(child(o, orders, n, i, nprocs));
        }
    }
    for (int i = 0; i < nprocs && n > 0; i++) {
        int st;
        if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i]) {
            int c = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
            if (c > worst)
                worst = c;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    // The report: every order's result as recorded in this run.
    cJSON *rep = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(rep, "orders");
    int counts[6] = {0}, differ = 0, unverified = 0;
    static const char *const KINDS[] = {"exact", "missing", "excess", "unexpected", "mismatch", "error"};
    for (size_t i = 0; i < n; i++) {
        char oid[24];
        snprintf(oid, sizeof oid, "%lld", orders[i].id);
        const char *p[] = {oid, since};
        PGresult *r = db_query(db, "verify: result",
                               "SELECT verify_result, coalesce(verify_detail, '') FROM orders"
                               " WHERE id = $1 AND verified_at >= $2::timestamptz",
                               2, p);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "order_id", (double)orders[i].id);
        cJSON_AddStringToObject(e, "consultora_code", orders[i].consultora_code);
        cJSON_AddStringToObject(e, "status", orders[i].status);
        if (r != NULL && PQntuples(r) > 0) {
            const char *res = PQgetvalue(r, 0, 0);
            cJSON_AddStringToObject(e, "result", res);
            cJSON_AddStringToObject(e, "detail", PQgetvalue(r, 0, 1));
            for (int k = 0; k < 6; k++)
                counts[k] += strcmp(res, KINDS[k]) == 0;
            differ += strcmp(res, "exact") != 0;
        } else {
            cJSON_AddStringToObject(e, "result", "not verified");
            unverified++;
        }
        PQclear(r);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON *sum = cJSON_AddObjectToObject(rep, "summary");
    cJSON_AddNumberToObject(sum, "orders", (double)n);
    for (int k = 0; k < 6; k++)
        cJSON_AddNumberToObject(sum, KINDS[k], counts[k]);
    cJSON_AddNumberToObject(sum, "not_verified", unverified);
    cJSON_AddNumberToObject(rep, "batch_id", (double)o->batch_id);
    queue_verify_orders_free(orders, n);
    db_free(db);
    if (report != NULL)
        *report = rep;
    else
        cJSON_Delete(rep);
    if (worst == 130 || worst == 3)
        return worst;
    return differ > 0 || unverified > 0 ? 1 : 0;
}
