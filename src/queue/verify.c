/* verify: what the database says each order's cart must hold, and where `gspbot verify` records
 * what the portal said (see queue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_internal.h"

void queue_verify_orders_free(struct queue_verify_order *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].items);
    free(v);
}

int queue_verify_orders(struct db *db, long long batch_id, const char *status, struct queue_verify_order **out,
                        size_t *n)
{
    *out = NULL;
    *n = 0;
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *st = status == NULL ? "completed" : strcmp(status, "all") == 0 ? NULL : status;
    const char *p[] = {bid, st};
    PGresult *r = db_query(db, "verify: batch", "SELECT 1 FROM batches WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found) {
        db_fail(db, "no batch %s", bid);
        return QUEUE_ENOENT;
    }
    r = db_query(db, "verify: orders",
                 "SELECT o.id, o.consultora_code, coalesce(o.consultora_name, ''), o.status, i.product_code,"
                 " CASE WHEN o.status = 'completed' OR i.outcome IN ('added', 'already_in_cart') THEN i.quantity"
                 " ELSE 0 END"
                 " FROM orders o JOIN order_items i ON i.order_id = o.id"
                 " WHERE o.batch_id = $1 AND ($2::text IS NULL OR o.status = $2) ORDER BY o.seq, i.id",
                 2, p);
    if (r == NULL)
        return QUEUE_EDB;
    int rows = PQntuples(r);
    struct queue_verify_order *v = calloc((size_t)rows + 1, sizeof *v);
    if (v == NULL) {
        PQclear(r);
        return QUEUE_ENOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (k == 0 || v[k - 1].id != id) {
            struct queue_verify_order *o = &v[k++];
            o->id = id;
            snprintf(o->consultora_code, sizeof o->consultora_code, "%s", PQgetvalue(r, i, 1));
            snprintf(o->consultora_name, sizeof o->consultora_name, "%s", PQgetvalue(r, i, 2));
            snprintf(o->status, sizeof o->status, "%s", PQgetvalue(r, i, 3));
            int count = 0;
            for (int j = i; j < rows && strtoll(PQgetvalue(r, j, 0), NULL, 10) == id; j++)
                count++;
            o->items = calloc((size_t)count, sizeof *o->items);
            if (o->items == NULL) {
                PQclear(r);
                queue_verify_orders_free(v, k);
                return QUEUE_ENOMEM;
            }
        }
        struct queue_verify_order *o = &v[k - 1];
        struct queue_verify_item *it = &o->items[o->nitems++];
        snprintf(it->product_code, sizeof it->product_code, "%s", PQgetvalue(r, i, 4));
        it->expected = (int)strtol(PQgetvalue(r, i, 5), NULL, 10);
    }
    PQclear(r);
    *out = v;
    *n = k;
    return (int)k;
}

int queue_verify_record(struct db *db, long long order_id, const char *result, const char *detail)
{
    char oid[24];
    snprintf(oid, sizeof oid, "%lld", order_id);
    const char *p[] = {oid, result, detail};
    PGresult *r = db_query(db, "verify: record",
                           "UPDATE orders SET verified_at = now(), verify_result = $2, verify_detail = $3 WHERE id = $1",
                           3, p);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    return 0;
}
