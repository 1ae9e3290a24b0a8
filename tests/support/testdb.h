/* testdb: a fresh, private PostgreSQL database per test, on the throwaway cluster that
 * scripts/test.sh starts and names in the environment variable GSPBOT_TEST_PG (a libpq conninfo of
 * its `postgres` database). A test that needs the database and finds no cluster fails: it never
 * skips silently. */
#ifndef GSPBOT_TESTDB_H
#define GSPBOT_TESTDB_H

#include <stddef.h>

/* Creates an empty database named after `tag` (letters, digits, underscore), the process id and a
 * counter, and returns the conninfo of it. The caller owns the string; pass it to testdb_drop().
 * Aborts the test program with a message when GSPBOT_TEST_PG is unset or the cluster unreachable. */
char *testdb_create(const char *tag);

/* Creates a database as testdb_create() does and applies every migration (gspbot's own migrate). */
char *testdb_create_migrated(const char *tag);

/* Drops the database created by testdb_create() (terminating its connections) and frees the
 * conninfo. NULL is a no-op. */
void testdb_drop(char *conninfo);

/* Runs one SQL statement on `conninfo` and returns the first column of the first row as a new
 * string (caller frees), or NULL when the query returns no row. Aborts on an error. */
char *testdb_query_value(const char *conninfo, const char *sql);

/* Runs SQL and returns 0 on success, or -1 with the server's message copied into err (size n). */
int testdb_exec(const char *conninfo, const char *sql, char *err, size_t n);

#endif
