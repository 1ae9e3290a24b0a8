/* buf: the one growable byte buffer of the project (readers, the CDP connection, the HTTP server,
 * string builders), after curl's dynbuf. A buffer has a size cap set at init; the contents are
 * always NUL-terminated (the NUL is not counted in len). A failed append (out of memory, or past
 * the cap) frees the contents and leaves an empty buffer, so the caller's unwind path has nothing
 * left to free and no half-built value can be used by mistake.
 *
 *     struct buf b;
 *     buf_init(&b, 1 << 20);                 // at most 1 MiB
 *     if (buf_append(&b, p, n) != 0 || buf_printf(&b, "%d", x) != 0) return -1;  // b is empty
 *     char *s = buf_take(&b);               // caller frees s; b is empty and reusable
 *     buf_cleanup(&b);
 *
 * No dependencies: cdp/, loader/ and src/http/ link it without the rest of src/. */
#ifndef GSPBOT_BUF_H
#define GSPBOT_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_WUR __attribute__((warn_unused_result))

enum {
    BUF_ENOMEM = -1, /* allocation failed */
    BUF_ETOOBIG = -2 /* the append would pass the cap given to buf_init */
};

struct buf {
    char *data; /* owned; NULL while empty */
    size_t len; /* bytes in use, without the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the cap: len never exceeds it (0, as in a zeroed struct: SIZE_MAX / 2) */
};

/* Initialises an empty buffer that will never hold more than max bytes (0 = SIZE_MAX / 2). */
void buf_init(struct buf *b, size_t max);

/* Appends n bytes of p. Returns 0, or BUF_ENOMEM / BUF_ETOOBIG after freeing the contents. */
int buf_append(struct buf *b, const void *p, size_t n) BUF_WUR;

/* Appends a NUL-terminated string. Same returns as buf_append. */
int buf_append_str(struct buf *b, const char *s) BUF_WUR;

/* Appends formatted text. Same returns as buf_append. */
int buf_printf(struct buf *b, const char *fmt, ...) BUF_WUR __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) BUF_WUR __attribute__((format(printf, 2, 0)));

/* Makes room for `extra` more bytes without changing len (for readers that fill data + len
 * themselves, then call buf_commit). Same returns as buf_append. */
int buf_reserve(struct buf *b, size_t extra) BUF_WUR;

/* Counts n bytes written by the caller after data + len (n <= the room reserved). */
void buf_commit(struct buf *b, size_t n);

/* Forgets the contents but keeps the memory (len = 0). */
void buf_reset(struct buf *b);

/* The contents ("" when empty; never NULL), borrowed until the next call that changes b. */
const char *buf_str(const struct buf *b);

/* Hands the contents over: returns a malloc'd NUL-terminated string the caller frees (an empty
 * string when the buffer is empty; NULL only when that allocation fails) and leaves b empty. */
char *buf_take(struct buf *b);

/* Frees the contents; b is empty and may be reused. */
void buf_cleanup(struct buf *b);

#endif
