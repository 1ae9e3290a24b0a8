/* Migrations and schema constraints against a real PostgreSQL (the cluster of scripts/test.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "embedded.h"
#include "migrate.h"
#include "testdb.h"

static int migrate_once(const char *ci, struct migrate_report *rep, char *err, size_t n)
{
    struct db *db = NULL;
    int rc = db_open(&db, ci);
    if (rc == 0)
        rc = migrate_run(db, rep);
    if (rc != 0)
        snprintf(err, n, "%s", db_errmsg(db));
    db_free(db);
    return rc;
}

static void test_migrate_applies_all_then_is_a_noop(void **state)
{
    (void)state;
    char *ci = testdb_create("mig");
    struct migrate_report rep;
    char err[512] = "";
    assert_int_equal(migrate_once(ci, &rep, err, sizeof err), 0);
    assert_int_equal(rep.applied_count, gsp_migrations_count);
    assert_string_equal(rep.applied[0], "001_init.sql");
    assert_int_equal(migrate_once(ci, &rep, err, sizeof err), 0);
    assert_int_equal(rep.applied_count, 0);
    char *n = testdb_query_value(ci, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(strtol(n, NULL, 10), (long)gsp_migrations_count);
    free(n);
    testdb_drop(ci);
}

static void test_migrate_two_at_once_apply_each_migration_once(void **state)
{
    (void)state;
    char *ci = testdb_create("migpar");
    enum { RUNS = 4 };
    pid_t pids[RUNS];
    for (int i = 0; i < RUNS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct migrate_report rep;
            char err[512];
            _exit(migrate_once(ci, &rep, err, sizeof err) == 0 ? (int)rep.applied_count : 100);
        }
    }
    int applied_total = 0;
    for (int i = 0; i < RUNS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_not_equal(WEXITSTATUS(st), 100);
        applied_total += WEXITSTATUS(st);
    }
    assert_int_equal(applied_total, (int)gsp_migrations_count);
    char *n = testdb_query_value(ci, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(strtol(n, NULL, 10), (long)gsp_migrations_count);
    free(n);
    testdb_drop(ci);
}

static void test_migrate_refuses_a_changed_migration(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("migchg");
    char err[512];
    assert_int_equal(
        testdb_exec(ci, "UPDATE schema_migrations SET sha256 = 'x' WHERE name = '001_init'", err, sizeof err), 0);
    struct migrate_report rep;
    assert_int_equal(migrate_once(ci, &rep, err, sizeof err), -1);
    assert_non_null(strstr(err, "migration 001_init was changed after it was applied"));
    testdb_drop(ci);
}

static void test_migrate_is_current_tells_pending_from_applied(void **state)
{
    (void)state;
    char *ci = testdb_create("migcur");
    struct db *db = NULL;
    assert_int_equal(db_open(&db, ci), 0);
    assert_int_equal(migrate_is_current(db), 0);
    struct migrate_report rep;
    assert_int_equal(migrate_run(db, &rep), 0);
    assert_int_equal(migrate_is_current(db), 1);
    db_free(db);
    testdb_drop(ci);
}

static void test_db_open_names_the_unreachable_server(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(&db, "host=/nonexistent-gspbot port=5999 user=x dbname=y"), -1);
    assert_non_null(strstr(db_errmsg(db), "database unavailable"));
    assert_non_null(strstr(db_errmsg(db), "/nonexistent-gspbot"));
    db_free(db);
}

/* Issue 8 #6: a heartbeat or a claim on a half-open TCP connection must not block forever, so every
 * connection gspbot opens asks for TCP keepalives and a tcp_user_timeout (libpq's own record of the
 * options of the opened connection). */
static void test_db_open_sets_keepalives_and_tcp_user_timeout(void **state)
{
    (void)state;
    char *ci = testdb_create("keepalive");
    struct db *db = NULL;
    assert_int_equal(db_open(&db, ci), 0);
    PQconninfoOption *opts = PQconninfo(db_conn(db));
    assert_non_null(opts);
    const char *keepalives = NULL, *user_timeout = NULL, *idle = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "keepalives") == 0)
            keepalives = o->val;
        else if (strcmp(o->keyword, "tcp_user_timeout") == 0)
            user_timeout = o->val;
        else if (strcmp(o->keyword, "keepalives_idle") == 0)
            idle = o->val;
    }
    assert_non_null(keepalives);
    assert_string_equal(keepalives, "1");
    assert_non_null(idle);
    assert_true(strtol(idle, NULL, 10) > 0);
    assert_non_null(user_timeout);
    assert_true(strtol(user_timeout, NULL, 10) > 0); // milliseconds; 0 = the kernel's default (none)
    PQconninfoFree(opts);
    db_free(db);
    testdb_drop(ci);
}

/* Each statement must be refused by the schema, with the constraint named in the message. */
struct rejection {
    const char *sql;
    const char *expect; /* substring of the server's message */
};

static void test_constraints_reject_invalid_states(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("cons");
    char err[1024];
    assert_int_equal(testdb_exec(ci,
                                 "INSERT INTO batches (id, name) VALUES (1, 'b');"
                                 "INSERT INTO orders (id, batch_id, seq, consultora_code) VALUES (1, 1, 1, 'C1');",
                                 err, sizeof err),
                     0);
    static const struct rejection cases[] = {
        {"INSERT INTO batches (name, status) VALUES ('x', 'done')", "batches_status_check"},
        {"INSERT INTO batches (name) VALUES ('')", "batches_name_check"},
        {"INSERT INTO batches (name, source_sha256) VALUES ('x', 'abc')", "batches_source_sha256_check"},
        {"INSERT INTO orders (batch_id, seq, consultora_code, status) VALUES (1, 2, 'C2', 'bogus')",
         "orders_status_check"},
        {"INSERT INTO orders (batch_id, seq, consultora_code) VALUES (1, 2, 'C1')",
         "orders_batch_id_consultora_code_key"},
        {"INSERT INTO orders (batch_id, seq, consultora_code) VALUES (1, 2, 'bad code!')",
         "orders_consultora_code_check"},
        {"INSERT INTO orders (batch_id, seq, consultora_code) VALUES (99, 2, 'C3')", "orders_batch_id_fkey"},
        {"INSERT INTO orders (batch_id, seq, consultora_code, status) VALUES (1, 2, 'C3', 'in_progress')",
         "orders_check"},
        {"INSERT INTO orders (batch_id, seq, consultora_code, status) VALUES (1, 2, 'C3', 'retrying')", "orders_check"},
        {"INSERT INTO orders (batch_id, seq, consultora_code, attempts) VALUES (1, 2, 'C3', -1)",
         "orders_attempts_check"},
        {"INSERT INTO order_items (order_id, product_code, quantity) VALUES (1, 'P1', 0)",
         "order_items_quantity_check"},
        {"INSERT INTO order_items (order_id, product_code, quantity) VALUES (1, 'P 1', 1)",
         "order_items_product_code_check"},
        {"INSERT INTO order_items (order_id, product_code, quantity) VALUES (1, NULL, 1)", "null value"},
        {"INSERT INTO order_items (order_id, product_code, quantity) VALUES (42, 'P1', 1)",
         "order_items_order_id_fkey"},
        {"INSERT INTO order_logs (order_id, attempt, step, level, message) VALUES (1, 0, 'x', 'loud', 'm')",
         "order_logs_level_check"},
        {"INSERT INTO circuit_breaker (name, state) VALUES ('b', 'ajar')", "circuit_breaker_state_check"},
        {"INSERT INTO circuit_breaker (name, state) VALUES ('b', 'open')", "circuit_breaker_check"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = testdb_exec(ci, cases[i].sql, err, sizeof err);
        if (rc == 0 || strstr(err, cases[i].expect) == NULL)
            fail_msg("not rejected as expected (%s): %s -> %s", cases[i].expect, cases[i].sql, rc ? err : "accepted");
    }
    // And the valid counterparts are accepted, so the checks are not simply rejecting everything.
    assert_int_equal(testdb_exec(ci,
                                 "INSERT INTO order_items (order_id, product_code, quantity) VALUES (1, 'P-1', 999);"
                                 "UPDATE orders SET status = 'in_progress', lease_owner = 'w1',"
                                 " lease_expires_at = now() WHERE id = 1;"
                                 "UPDATE orders SET status = 'retrying', lease_owner = NULL, lease_expires_at = NULL,"
                                 " next_attempt_at = now() WHERE id = 1;",
                                 err, sizeof err),
                     0);
    testdb_drop(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_applies_all_then_is_a_noop),
        cmocka_unit_test(test_migrate_two_at_once_apply_each_migration_once),
        cmocka_unit_test(test_migrate_refuses_a_changed_migration),
        cmocka_unit_test(test_migrate_is_current_tells_pending_from_applied),
        cmocka_unit_test(test_db_open_names_the_unreachable_server),
        cmocka_unit_test(test_db_open_sets_keepalives_and_tcp_user_timeout),
        cmocka_unit_test(test_constraints_reject_invalid_states),
    };
    return cmocka_run_group_tests_name("core_db", tests, NULL, NULL);
}
