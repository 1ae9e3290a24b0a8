/*
 * sim_assets.h — the simulator's static files (CSS, JS, font, images), embedded into the
 * binary at build time by embed.cmake; served under /static/ with no file access at run time.
 */
#ifndef GSPBOT_SIM_ASSETS_H
#define GSPBOT_SIM_ASSETS_H

#include <stddef.h>

struct sim_asset {
    const char *path;          /* URL path, "/static/<file name>" */
    const unsigned char *data; /* static, NUL-terminated copy of the file */
    size_t len;                /* bytes, without the terminating NUL */
};

extern const struct sim_asset sim_assets[];
extern const size_t sim_assets_count;

#endif
