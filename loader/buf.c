/* buf: the growable byte buffer used by every reader and the writer (see internal.h). It doubles
 * its capacity; a failed append frees nothing and changes nothing, so the caller's unwind path
 * frees it once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

int ldr__buf_reserve(struct ldr__buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return LDR_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
        return LDR_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int ldr__buf_append(struct ldr__buf *b, const void *p, size_t n)
{
    int rc = ldr__buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void ldr__buf_cleanup(struct ldr__buf *b)
{
    free(b->data);
    *b = (struct ldr__buf){0};
}
