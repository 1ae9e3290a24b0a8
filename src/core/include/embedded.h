/* embedded: files compiled into the binary at build time (cmake/embed_files.cmake), so an
 * installed gspbot needs no source tree. */
#ifndef GSPBOT_EMBEDDED_H
#define GSPBOT_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name;          /* base name with the optional prefix: "001_init.sql", "/static/app.js" */
    const unsigned char *data; /* NUL-terminated; static storage */
    size_t size;               /* bytes, excluding the NUL */
};

/* The files of schema/ (*.sql) in name order; gsp_migrations[gsp_migrations_count] is {NULL, NULL, 0}. */
extern const struct embedded_file gsp_migrations[];
extern const size_t gsp_migrations_count;

#endif
