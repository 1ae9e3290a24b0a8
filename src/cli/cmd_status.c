/* cmd_status: `gspbot status [BATCH] [--watch] [--json]`: progress of one batch or all batches. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "queue.h"
#include "stats.h"

#define STATUS_LIST_MAX   50 /* batches listed without BATCH */
#define WATCH_INTERVAL_MS 2000

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static void format_eta(double s, char *buf, size_t n)
{
    if (s < 0)
        snprintf(buf, n, "unknown");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%ldm%02lds", (long)s / 60, (long)s % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", (long)s / 3600, ((long)s % 3600) / 60);
}

static void print_batch(const struct batch_stats *s)
{
    char bar[64], eta[32];
    stats_progress_bar(s, 30, bar, sizeof bar);
    format_eta(s->eta_s, eta, sizeof eta);
    printf("batch %lld \"%s\" (%s)\n%s  %ld/%ld orders\n", s->id, s->name, s->status, bar, s->finished, s->total);
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        printf("  %-12s %ld\n", ORDER_STATUS_NAMES[i], s->counts[i]);
    printf("rate %.1f orders/min, ETA %s\n", s->rate_per_min, eta);
}

/* The engine's state under the figures: the shared breaker and the live workers. */
static void print_engine(struct db *db, const struct config *cfg)
{
    struct queue_breaker b;
    cJSON *workers = NULL;
    if (queue_breaker_get(db, &b) != 0 || queue_workers_json(db, false, &workers) != 0) {
        cJSON_Delete(workers);
        return;
    }
    int live = cJSON_GetArraySize(workers), busy = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, workers)
    {
        const cJSON *st = cJSON_GetObjectItem(w, "status");
        busy += cJSON_IsString(st) && strcmp(st->valuestring, "busy") == 0;
    }
    cJSON_Delete(workers);
    printf("workers %d live (%d busy); breaker %s", live, busy, queue_breaker_state_name(b.state));
    if (b.state == QUEUE_BREAKER_OPEN)
        printf(" for %.0f s of %d: %s", b.open_for_s, cfg->breaker_cooldown_s, b.reason);
    else if (b.state == QUEUE_BREAKER_HALF_OPEN)
        printf(" (one probe running)");
    printf("\n");
}

static int print_json(cJSON *o)
{
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (txt == NULL)
        return -1;
    puts(txt);
    cJSON_free(txt);
    return 0;
}

static int show_all(struct db *db, bool json, const struct config *cfg)
{
    static struct batch_stats list[STATUS_LIST_MAX];
    int n = stats_batches(db, list, STATUS_LIST_MAX);
    if (n < 0) {
        cli_error("status", "%s", db_errmsg(db));
        return EXIT_UNAVAILABLE;
    }
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, stats_to_json(&list[i]));
        return print_json(arr) == 0 ? EXIT_OK : EXIT_UNAVAILABLE;
    }
    if (n == 0) {
        printf("no batches yet (load one with `gspbot load FILE`)\n");
        return EXIT_OK;
    }
    printf("%6s  %-24s %-10s %-40s %s\n", "BATCH", "NAME", "STATUS", "PROGRESS", "FAILED");
    for (int i = 0; i < n; i++) {
        char bar[64];
        stats_progress_bar(&list[i], 20, bar, sizeof bar);
        char name[128];
        cli_pad(list[i].name, 24, name, sizeof name); // by characters: "Día de la Madre" keeps its column
        printf("%6lld  %s %-10s %s %5ld/%-5ld %ld\n", list[i].id, name, list[i].status, bar, list[i].finished,
               list[i].total, list[i].counts[ORDER_FAILED]);
    }
    print_engine(db, cfg);
    return EXIT_OK;
}

static bool batch_finished(const struct batch_stats *s)
{
    return strcmp(s->status, "completed") == 0 || strcmp(s->status, "failed") == 0 ||
           strcmp(s->status, "cancelled") == 0;
}

static int show_one(struct db *db, long long id, bool json, bool watch, const struct config *cfg)
{
    bool tty = isatty(STDOUT_FILENO);
    for (;;) {
        struct batch_stats s;
        int found = stats_batch(db, id, &s);
        if (found < 0) {
            cli_error("status", "%s", db_errmsg(db));
            return EXIT_UNAVAILABLE;
        }
        if (found == 0) {
            cli_error("status", "no batch %lld", id);
            return EXIT_USAGE;
        }
        if (json) {
            if (print_json(stats_to_json(&s)) != 0)
                return EXIT_UNAVAILABLE;
        } else {
            if (watch && tty)
                fputs("\033[H\033[J", stdout);
            print_batch(&s);
            char st[16], reason[512] = "";
            if (queue_batch_status(db, id, st, reason, sizeof reason) == 1 && reason[0] != '\0')
                printf("paused: %s\n", reason);
            print_engine(db, cfg);
        }
        fflush(stdout);
        if (!watch || batch_finished(&s))
            return EXIT_OK;
        struct timespec ts = {WATCH_INTERVAL_MS / 1000, (WATCH_INTERVAL_MS % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_interrupted) {
        }
        if (g_interrupted)
            return EXIT_INTERRUPTED;
    }
}

static int cmd_status(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {
        {"watch", no_argument, NULL, 'w'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    bool watch = false, json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "wj", opts, NULL)) != -1) {
        switch (c) {
        case 'w': watch = true; break;
        case 'j': json = true; break;
        default:
            cli_error("status", "unknown option \"%s\" (see gspbot status --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    long long id = 0;
    if (optind < argc) {
        char *end;
        errno = 0;
        id = strtoll(argv[optind], &end, 10);
        if (*end != '\0' || errno != 0 || id <= 0) {
            cli_error("status", "\"%s\" is not a batch id", argv[optind]);
            return EXIT_USAGE;
        }
        if (optind + 1 < argc) {
            cli_error("status", "unexpected argument \"%s\"", argv[optind + 1]);
            return EXIT_USAGE;
        }
    } else if (watch) {
        cli_error("status", "--watch needs a BATCH");
        return EXIT_USAGE;
    }
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    int rc = id ? show_one(db, id, json, watch, cfg) : show_all(db, json, cfg);
    db_free(db);
    return rc;
}

const struct cli_command cli_cmd_status = {
    .name = "status",
    .fn = cmd_status,
    .usage = "status [BATCH] [--watch] [--json]",
    .summary = "progress, counts per status, rate, ETA",
    .help = "Without BATCH: one line per batch. With BATCH: a progress bar, counts per status, the rate of\n"
            "the last 5 minutes and an ETA, why it is paused, the live workers and the breaker.\n"
            "  --watch   redraw every 2 seconds until the batch finishes (Ctrl-C to stop)\n"
            "  --json    print the figures as JSON\n",
};
