/* bench_load: `gspbot load FILE` without the rest of gspbot (used when the gspbot binary is not
 * built): the same library calls as src/cmd_load.c, then one line "rows orders items batch_id".
 * Usage: bench_load CONNINFO FILE */
#include <libpq-fe.h>
#include <stdio.h>

#include "loader.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return fprintf(stderr, "usage: bench_load CONNINFO FILE\n"), 2;
    struct ldr_load *ld = ldr_load_new(NULL);
    if (ld == NULL)
        return 3;
    long long id = 0;
    int rc = ldr_load_read_file(ld, argv[2]);
    if (rc == 0) {
        PGconn *c = PQconnectdb(argv[1]);
        rc = PQstatus(c) == CONNECTION_OK ? ldr_load_write(ld, c, &id) : LDR_EDB;
        PQfinish(c);
    }
    if (rc != 0)
        fprintf(stderr, "bench_load: %s\n", ldr_load_errmsg(ld));
    else
        printf("%zu %zu %zu %lld\n", ldr_load_rows(ld), ldr_load_orders(ld), ldr_load_items(ld), id);
    ldr_load_free(ld);
    return rc == 0 ? 0 : 2;
}
