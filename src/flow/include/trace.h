/* trace: the `--trace DIR` timeline staff use to adapt a flow to a real portal: a screenshot
 * after every action and an index.html (action, duration, thumbnail, error) that opens offline
 * (no external assets, relative links only). */
#ifndef GSPBOT_TRACE_H
#define GSPBOT_TRACE_H

#include <stdbool.h>
#include <stddef.h>

struct trace;

/* Creates DIR (and parents, mode 0700) if needed and a new, empty trace writing into it. Returns NULL with the
 * reason in err (size n). Caller frees with trace_free(). */
__attribute__((warn_unused_result)) struct trace *trace_new(const char *dir, char *err, size_t n);

/* The path for the next screenshot ("DIR/0007.png"), static until the next call; the engine writes
 * the PNG there, then calls trace_add() with shot=true if it succeeded. */
const char *trace_next_shot(struct trace *t);

/* Records one row. Strings are copied (secrets redacted). error NULL = success. */
void trace_add(struct trace *t, const char *step, const char *action, long ms, const char *error, bool shot);

/* Records how long taking the last row's screenshot took (shown apart: not part of the walk). */
void trace_set_capture_ms(struct trace *t, long ms);

/* Writes DIR/index.html (again; cheap; mode 0600) with every row so far. Returns 0 or -1 with
 * errno. */
__attribute__((warn_unused_result)) int trace_write(struct trace *t);

/* The trace's folder, borrowed. */
const char *trace_dir(const struct trace *t);

/* Writes index.html one last time and frees. NULL is a no-op. */
void trace_free(struct trace *t);

#endif
