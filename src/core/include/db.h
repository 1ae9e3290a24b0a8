/* db: a PostgreSQL connection with gspbot's defaults (connect timeout, application name,
 * statement timeout) and the error text of the last failure. Thin on purpose: modules use
 * libpq directly through db_conn(). */
#ifndef GSPBOT_DB_H
#define GSPBOT_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

struct db;

/* Connects to `conninfo` (a libpq conninfo or URI; NULL or "" means libpq's defaults and PG*
 * environment variables) with a 10 s connect timeout and a 60 s statement timeout.
 * Always stores a new handle in *out (NULL only when memory runs out); on failure returns -1 and
 * db_errmsg(*out) says why. The caller frees the handle with db_free() in both cases. */
__attribute__((warn_unused_result)) int db_open(struct db **out, const char *conninfo);

/* Closes the connection and frees the handle. NULL is a no-op. */
void db_free(struct db *db);

/* The libpq connection, borrowed for the lifetime of the handle. */
PGconn *db_conn(struct db *db);

/* The message of the last failure on this handle, without a trailing newline; borrowed until the
 * next call on the handle. db_errmsg(NULL) is "out of memory". */
const char *db_errmsg(const struct db *db);

/* Records a failure message (printf-style) on the handle; returns -1 for `return db_fail(...)`. */
int db_fail(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a statement without parameters that returns no rows. Returns 0, or -1 with db_errmsg set
 * to "<what>: <server message>". */
__attribute__((warn_unused_result)) int db_exec(struct db *db, const char *what, const char *sql);

/* Runs a parameterised statement (text parameters, NULL = SQL NULL). Returns the result, owned
 * by the caller (PQclear), when its status is COMMAND_OK or TUPLES_OK; else NULL with db_errmsg
 * set to "<what>: <server message>". */
__attribute__((warn_unused_result)) PGresult *db_query(struct db *db, const char *what, const char *sql, int nparams,
                                                       const char *const *params);

/* The same as db_query() for a statement run many times on one connection (claims, heartbeats):
 * prepared under `name` (a string literal, also used as `what`) on first use, then executed
 * without being parsed and planned again. */
__attribute__((warn_unused_result)) PGresult *db_query_prepared(struct db *db, const char *name, const char *sql,
                                                                int nparams, const char *const *params);

/* Explicitly ignores a fallible call's result (a ROLLBACK after a failure, a best-effort write):
 * gcc does not let a (void) cast silence warn_unused_result. */
static inline void db_ignore(int rc)
{
    (void)rc;
}

#endif
