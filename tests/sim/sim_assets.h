/*
 * sim_assets.h — the simulator's static files (CSS, JS, font, images), embedded into the
 * binary at build time by cmake/embed_files.cmake; served under /static/ with no file access at
 * run time. Each entry's name is its URL path ("/static/app.js").
 */
#ifndef GSPBOT_SIM_ASSETS_H
#define GSPBOT_SIM_ASSETS_H

#include <stddef.h>

#include "embedded.h"

extern const struct embedded_file sim_assets[];
extern const size_t sim_assets_count;

#endif
