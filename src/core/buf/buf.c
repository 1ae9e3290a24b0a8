/* buf: the growable byte buffer (see buf.h). Capacity doubles; every failure frees. */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    *b = (struct buf){.max = max ? max : SIZE_MAX / 2};
}

static int fail(struct buf *b, int code)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    return code;
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->max == 0)
        b->max = SIZE_MAX / 2;
    if (extra > b->max - b->len)
        return fail(b, BUF_ETOOBIG);
    if (b->cap > b->len + extra) // room for the bytes and the NUL
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap <= b->len + extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
        return fail(b, BUF_ENOMEM);
    b->data = d;
    b->cap = cap;
    return 0;
}

void buf_commit(struct buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    buf_commit(b, n);
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return fail(b, BUF_ENOMEM);
    int rc = buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

char *buf_take(struct buf *b)
{
    char *s = b->data ? b->data : strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void buf_cleanup(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
