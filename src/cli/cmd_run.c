/* cmd_run: `gspbot run FILE [--concurrency N] [--output F]` — load, start, work the batch with a
 * pool of workers (children of this process) until it is finished, then the summary: what a cron
 * job or a campaign lead runs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "db.h"
#include "flow.h"
#include "loader.h"
#include "queue.h"
#include "stats.h"
#include "worker.h"

#define RUN_PROGRESS_TTY_MS   1000
#define RUN_PROGRESS_PLAIN_MS 15000

struct run_args {
    const char *input, *output, *flow_path;
    int concurrency;
    bool quiet;
    struct ldr_options opt;
};

struct run_watch {
    struct db *db;
    const char *conninfo;
    long long batch_id;
    bool tty, quiet;
    long long last_print;
    long last_finished;
    bool finished;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void progress_line(struct run_watch *w, const struct batch_stats *s, bool final)
{
    char bar[64], eta[32] = "";
    stats_progress_bar(s, 24, bar, sizeof bar);
    if (s->eta_s >= 0 && s->finished < s->total)
        snprintf(eta, sizeof eta, ", ETA %.0f s", s->eta_s);
    char line[256];
    snprintf(line, sizeof line, "%s %ld/%ld done: %ld completed, %ld failed, %ld in progress, %ld retrying; %.1f/min%s",
             bar, s->finished, s->total, s->counts[ORDER_COMPLETED], s->counts[ORDER_FAILED],
             s->counts[ORDER_IN_PROGRESS], s->counts[ORDER_RETRYING], s->rate_per_min, eta);
    if (w->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* The pool's done hook: is the batch finished (or paused by an abort)? Prints progress. */
static bool batch_done(void *arg)
{
    struct run_watch *w = arg;
    if (w->db == NULL || PQstatus(db_conn(w->db)) != CONNECTION_OK) {
        db_free(w->db);
        w->db = NULL;
        if (db_open(&w->db, w->conninfo) != 0) {
            db_free(w->db);
            w->db = NULL;
            return false;
        }
    }
    struct batch_stats s;
    if (stats_batch(w->db, w->batch_id, &s) != 1)
        return false;
    bool over = strcmp(s.status, "running") != 0; // completed, failed, cancelled, or paused (abort)
    long long now = mono_ms();
    if (!w->quiet && (over || now - w->last_print >= (w->tty ? RUN_PROGRESS_TTY_MS : RUN_PROGRESS_PLAIN_MS) ||
                      (!w->tty && s.finished != w->last_finished))) {
        progress_line(w, &s, over);
        w->last_print = now;
        w->last_finished = s.finished;
    }
    w->finished = over;
    return over;
}

static int parse_args(int argc, char **argv, const struct config *cfg, struct run_args *a)
{
    static const struct option opts[] = {{"concurrency", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"sheet", required_argument, NULL, 's'},
                                         {"skip-invalid", no_argument, NULL, 'k'},
                                         {"allow-duplicate", no_argument, NULL, 'd'},
                                         {"flow", required_argument, NULL, 'f'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    a->concurrency = cfg->concurrency;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+c:o:n:s:kdf:q", opts, NULL)) != -1 || optind < argc) {
        if (c == -1) { // options may follow FILE
            if (a->input != NULL) {
                cli_error("run", "unexpected argument \"%s\"", argv[optind]);
                return -1;
            }
            a->input = argv[optind++];
            continue;
        }
        switch (c) {
        case 'c': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 64) {
                cli_error("run", "--concurrency \"%s\": a whole number in 1..64", optarg);
                return -1;
            }
            a->concurrency = (int)v;
            break;
        }
        case 'o': a->output = optarg; break;
        case 'n': a->opt.name = optarg; break;
        case 's': a->opt.sheet = optarg; break;
        case 'k': a->opt.skip_invalid = true; break;
        case 'd': a->opt.allow_duplicate = true; break;
        case 'f': a->flow_path = optarg; break;
        case 'q': a->quiet = true; break;
        default:
            cli_error("run", "unknown option or missing value \"%s\" (see gspbot run --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (a->input == NULL) {
        cli_error("run", "usage: gspbot run FILE [--concurrency N] [--output results.json]");
        return -1;
    }
    return 0;
}

/* Loads the file as a new batch; prints the loader's problems. Returns the batch id, or 0 with
 * *code set. */
static long long load_batch(struct db *db, struct run_args *a, int *code)
{
    struct ldr_load *ld = ldr_load_new(&a->opt);
    if (ld == NULL) {
        *code = EXIT_UNAVAILABLE;
        return 0;
    }
    int rc = ldr_is_url(a->input) ? ldr_load_read_url(ld, a->input) : ldr_load_read_file(ld, a->input);
    long long batch_id = 0;
    if (rc == 0)
        rc = ldr_load_write(ld, db_conn(db), &batch_id);
    char line[2048];
    for (size_t i = 0; i < ldr_load_warnings_listed(ld); i++)
        fprintf(stderr, "warning: %s\n", ldr_issue_format(ldr_load_warning(ld, i), line, sizeof line));
    if (rc != 0) {
        for (size_t i = 0; i < ldr_load_errors_listed(ld); i++)
            fprintf(stderr, "%s\n", ldr_issue_format(ldr_load_error(ld, i), line, sizeof line));
        if (ldr_load_error_count(ld) > ldr_load_errors_listed(ld))
            fprintf(stderr, "... and %zu more\n", ldr_load_error_count(ld) - ldr_load_errors_listed(ld));
        cli_error("run", "%s", ldr_load_errmsg(ld));
        *code = rc == LDR_EDB || rc == LDR_ENOMEM ? EXIT_UNAVAILABLE : EXIT_USAGE;
        ldr_load_free(ld);
        return 0;
    }
    printf("batch %lld \"%s\": %zu orders, %zu items from %s\n", batch_id, ldr_load_name(ld), ldr_load_orders(ld),
           ldr_load_items(ld), a->input);
    ldr_load_free(ld);
    return batch_id;
}

/* The summary (README "Command reference") on stdout, and as JSON into *out (caller frees). */
static int summary(struct db *db, long long batch_id, double wall_s, cJSON **out)
{
    *out = NULL;
    struct batch_stats s;
    if (stats_batch(db, batch_id, &s) != 1)
        return -1;
    cJSON *page = NULL;
    if (queue_orders_json(db, batch_id, "failed", 1, 100000, &page) != 0)
        return -1;
    double rate = s.total > 0 ? 100.0 * s.counts[ORDER_COMPLETED] / s.total : 0;
    printf("\n==== batch %lld \"%s\": %s in %.0f s\n", batch_id, s.name, s.status, wall_s);
    printf("total      %ld\ncompleted  %ld\nfailed     %ld\n", s.total, s.counts[ORDER_COMPLETED],
           s.counts[ORDER_FAILED]);
    long other = s.total - s.counts[ORDER_COMPLETED] - s.counts[ORDER_FAILED];
    if (other > 0)
        printf("unfinished %ld (cancelled, or waiting in a paused batch)\n", other);
    printf("success    %.1f%%\n", rate);
    cJSON *failed = cJSON_DetachItemFromObject(page, "orders");
    cJSON_Delete(page);
    if (cJSON_GetArraySize(failed) > 0)
        printf("\nfailed orders:\n");
    cJSON *o;
    cJSON_ArrayForEach(o, failed)
    {
        long long oid = (long long)cJSON_GetObjectItem(o, "id")->valuedouble;
        const cJSON *err = cJSON_GetObjectItem(o, "last_error");
        printf("  order %lld consultora %s: %s\n", oid, cJSON_GetObjectItem(o, "consultora_code")->valuestring,
               cJSON_IsString(err) ? err->valuestring : "(no message)");
        cJSON *detail = NULL;
        if (queue_order_json(db, oid, &detail) == 0) {
            const cJSON *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItem(detail, "products"))
            {
                const cJSON *msg = cJSON_GetObjectItem(p, "message");
                printf("      %-20s x%-5.0f %s%s%s\n", cJSON_GetObjectItem(p, "product_code")->valuestring,
                       cJSON_GetObjectItem(p, "quantity")->valuedouble, cJSON_GetObjectItem(p, "outcome")->valuestring,
                       cJSON_IsString(msg) ? ": " : "", cJSON_IsString(msg) ? msg->valuestring : "");
            }
            cJSON_AddItemToObject(o, "products", cJSON_DetachItemFromObject(detail, "products"));
            cJSON_Delete(detail);
        }
    }
    // The confirmation numbers the portal gave (a flow's `capture`): staff are asked for them.
    cJSON *refs = cJSON_CreateArray();
    cJSON *done = NULL;
    if (refs != NULL && queue_orders_json(db, batch_id, "completed", 1, 100000, &done) == 0) {
        cJSON_ArrayForEach(o, cJSON_GetObjectItem(done, "orders"))
        {
            const cJSON *ref = cJSON_GetObjectItem(o, "portal_reference");
            if (!cJSON_IsString(ref))
                continue;
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "id", cJSON_GetObjectItem(o, "id")->valuedouble);
            cJSON_AddStringToObject(r, "consultora_code", cJSON_GetObjectItem(o, "consultora_code")->valuestring);
            cJSON_AddStringToObject(r, "portal_reference", ref->valuestring);
            cJSON_AddItemToArray(refs, r);
        }
    }
    cJSON_Delete(done);
    if (cJSON_GetArraySize(refs) > 0)
        printf("\n%d order%s with a portal reference (see --output or gspbot export)\n", cJSON_GetArraySize(refs),
               cJSON_GetArraySize(refs) == 1 ? "" : "s");
    cJSON *j = stats_to_json(&s);
    cJSON_AddNumberToObject(j, "completed", (double)s.counts[ORDER_COMPLETED]);
    cJSON_AddNumberToObject(j, "failed", (double)s.counts[ORDER_FAILED]);
    cJSON_AddNumberToObject(j, "success_rate", rate);
    cJSON_AddNumberToObject(j, "wall_s", wall_s);
    cJSON_AddItemToObject(j, "failed_orders", failed);
    cJSON_AddItemToObject(j, "portal_references", refs);
    *out = j;
    return 0;
}

static int write_output(const char *path, cJSON *j)
{
    char *txt = cJSON_Print(j);
    if (txt == NULL)
        return -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = f != NULL && fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    cJSON_free(txt);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv, const struct config *cfg)
{
    struct run_args a = {0};
    ldr_options_init(&a.opt);
    if (cfg->max_quantity > 0)
        a.opt.max_quantity = cfg->max_quantity;
    if (cfg->max_file_mb > 0)
        a.opt.max_bytes = (long long)cfg->max_file_mb << 20;
    if (parse_args(argc, argv, cfg, &a) != 0)
        return EXIT_USAGE;
    // Everything that can refuse the run is checked before a batch is created.
    int code = EXIT_OK;
    struct flow *flow = cli_pool_flow(cfg, a.flow_path, &code);
    if (flow == NULL)
        return code;
    struct db *db = cli_db_open(cfg);
    if (db == NULL) {
        flow_free(flow);
        return EXIT_UNAVAILABLE;
    }
    long long batch_id = load_batch(db, &a, &code);
    if (batch_id == 0) {
        db_free(db);
        flow_free(flow);
        return code;
    }
    char msg[512];
    int rc = queue_batch_start(db, batch_id, cfg->max_retries + 1, 0, msg, sizeof msg);
    if (rc != 0) {
        code = cli_queue_error("run", db, rc);
        db_free(db);
        flow_free(flow);
        return code;
    }
    printf("%s; %d worker%s\n", msg, a.concurrency, a.concurrency == 1 ? "" : "s");
    fflush(stdout);
    long long t0 = mono_ms();
    struct run_watch w = {
        .batch_id = batch_id, .conninfo = cfg->database_url, .tty = isatty(STDERR_FILENO), .quiet = a.quiet};
    // The watcher's own connection: the pool's children never touch it.
    if (db_open(&w.db, cfg->database_url) != 0) {
        db_free(w.db);
        w.db = NULL;
    }
    struct pool_opts po = {.cfg = cfg,
                           .flow = flow,
                           .concurrency = a.concurrency,
                           .batch_id = batch_id,
                           .hooks = {.done = batch_done, .arg = &w}};
    int pool_rc = pool_run(&po);
    (void)batch_done(&w); // the final line
    db_free(w.db);
    double wall = (mono_ms() - t0) / 1000.0;
    if (PQstatus(db_conn(db)) != CONNECTION_OK) {
        db_free(db);
        db = cli_db_open(cfg);
    }
    cJSON *j = NULL;
    char status[16] = "", reason[512] = "";
    if (db == NULL || summary(db, batch_id, wall, &j) != 0 ||
        queue_batch_status(db, batch_id, status, reason, sizeof reason) != 1) {
        cli_error("run", "cannot read the batch's results: %s", db ? db_errmsg(db) : "database unavailable");
        db_free(db);
        flow_free(flow);
        return EXIT_UNAVAILABLE;
    }
    // The batch's end is a webhook event: posted here, not left for a `serve` that may not run.
    if (cfg->webhook_url != NULL && cfg->webhook_url[0] != '\0' && api_webhooks_deliver(db, cfg->webhook_url, 50) < 0)
        cli_error("run", "webhook: %s", db_errmsg(db));
    if (a.output != NULL) {
        if (write_output(a.output, j) != 0)
            cli_error("run", "cannot write %s: %s", a.output, strerror(errno));
        else
            printf("\nresults: %s\n", a.output);
    }
    cJSON_Delete(j);
    db_free(db);
    flow_free(flow);
    if (pool_rc == 130 || pool_stop_signal() != 0) {
        printf("interrupted: the batch stays %s; `gspbot worker` (or run again with start) finishes it\n", status);
        return pool_rc == 130 ? EXIT_INTERRUPTED : EXIT_OK;
    }
    if (pool_rc != 0)
        return EXIT_UNAVAILABLE;
    if (strcmp(status, "paused") == 0) {
        cli_error("run", "the batch was paused: %s", reason[0] ? reason : "(no reason given)");
        return EXIT_UNAVAILABLE;
    }
    return strcmp(status, "completed") == 0 ? EXIT_OK : EXIT_SOME_FAILED;
}

const struct cli_command cli_cmd_run = {
    .name = "run",
    .fn = cmd_run,
    .usage = "run FILE [--concurrency N] [--output F] [--name N] [--sheet S] [--skip-invalid] [--flow F] [--quiet]",
    .summary = "load + start + work until done + summary",
    .help = "Loads FILE (as `gspbot load`), starts the batch and works it with N worker processes of this\n"
            "command until every order is completed or failed, showing the progress; then prints the\n"
            "summary (total, completed, failed, success rate, each failed order with its error and products)\n"
            "and exits 0 when every order completed, 1 when some failed, 3 when the run had to stop (the\n"
            "portal refused the login: the batch is paused with the reason), 130 on Ctrl-C.\n"
            "  --concurrency N   worker processes (default GSPBOT_CONCURRENCY, 3)\n"
            "  --output F        also write the summary as JSON to F\n"
            "  --name, --sheet, --skip-invalid, --allow-duplicate   as for `gspbot load`\n"
            "  --flow F          flow file (default GSPBOT_FLOW)\n"
            "  --quiet           no progress line\n"
            "Example: gspbot run pedidos.csv --concurrency 2 --output results.json\n",
};
