/* stats: progress figures of batches, shared by `gspbot status` and the API's /stats endpoints:
 * counts per order status, throughput over a recent window and an ETA. */
#ifndef GSPBOT_STATS_H
#define GSPBOT_STATS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "db.h"

enum order_status {
    ORDER_PENDING,
    ORDER_QUEUED,
    ORDER_IN_PROGRESS,
    ORDER_RETRYING,
    ORDER_COMPLETED,
    ORDER_FAILED,
    ORDER_CANCELLED,
    ORDER_STATUS_COUNT
};

/* The status names as stored in orders.status, indexed by enum order_status. */
extern const char *const ORDER_STATUS_NAMES[ORDER_STATUS_COUNT];

#define STATS_RATE_WINDOW_S     300 /* throughput is measured over the last 5 minutes */
#define STATS_RATE_MIN_WINDOW_S 10  /* below 10 s of history the rate is unknown */

struct batch_stats {
    long long id;
    char name[201];
    char status[16];
    char created_at[40];
    long counts[ORDER_STATUS_COUNT];
    long total;
    long finished;       /* completed + failed + cancelled */
    double rate_per_min; /* orders finished per minute over the window; 0 when none */
    double eta_s;        /* seconds until the rest is finished at that rate; -1 unknown */
};

/* Reads one batch's figures into *out. Returns 1 found, 0 no such batch, -1 database error
 * (db_errmsg). */
__attribute__((warn_unused_result)) int stats_batch(struct db *db, long long batch_id, struct batch_stats *out);

/* Reads every batch (newest first, at most `max`) into out[]; returns how many, or -1. */
__attribute__((warn_unused_result)) int stats_batches(struct db *db, struct batch_stats *out, int max);

/* The figures as a new JSON object (caller frees with cJSON_Delete); NULL when memory runs out. */
cJSON *stats_to_json(const struct batch_stats *s);

/* A text progress bar of `width` cells into buf (size n): "[#####.....]  50.0%". */
void stats_progress_bar(const struct batch_stats *s, int width, char *buf, size_t n);

#endif
