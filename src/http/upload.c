/*
 * upload.c — multipart/form-data uploads streamed to a temp file, for routes registered with
 * http_route_opts.upload. The body is parsed as it arrives by lws's stateful form parser
 * (lws_spa, libwebsockets 4.1.6): the first file part named file_field is written chunk by
 * chunk to a new temp file (counted against max_file), the text parts named in `fields` are
 * kept (counted against max_fields), every other part is dropped. Nothing of the body is held
 * in memory beyond the parser's one buffer. The handler runs once the whole form arrived and
 * ended with its closing boundary; the temp file goes when the request is freed.
 *
 * lws_spa facts this file is built on (lib/roles/http/server/lws-spa.c of 4.1.6):
 * - It reads the Content-Type itself (lws_hdr_copy into 205 bytes), treats the body as
 *   multipart only when it starts with "multipart/form-data" (case-sensitive), and takes the
 *   boundary after the first "boundary=" (quotes dropped, up to ' ', ';' or '"'). We check
 *   the same bytes the same way before creating it, so we never feed it a body it would parse
 *   as something else.
 * - Part names are cut to 31 bytes, file names to 255.
 * - With its own fixed storage, text values eat the buffer file data also goes through, and
 *   a value that fills it while a boundary is half-matched makes it write past its end. We
 *   give it an lwsac instead (lws_spa_create_info.ac): the buffer keeps its size and each
 *   value is copied out; the total is bounded by our max_fields check after every call.
 * - lws_spa_finalize() does not say whether the form ended properly, so we check the body's
 *   last bytes for the closing delimiter ourselves (upload_closed).
 * - When it reads the closing "--" it sets the connection's remaining body length to 0, so
 *   lws would take the bytes after it for a next request. We hold the last UPLOAD_TAIL bytes
 *   of the body back until all of it arrived, so that for a well-formed body this happens
 *   only when nothing is left; a body whose closing boundary comes earlier is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"

#define UPLOAD_CHUNK          65536 /* bytes: the parser's buffer, so the size of a file write */
#define UPLOAD_TAIL           128   /* bytes of the body's end held back (see the file comment) */
#define UPLOAD_FIELDS_DEFAULT 16384 /* bytes of text fields when the route says 0 */
#define UPLOAD_FIELDS_LIMIT   (1024 * 1024)
#define UPLOAD_NAME_MAX       31  /* bytes of a part name lws_spa keeps */
#define UPLOAD_BOUNDARY_MAX   70  /* bytes of a boundary (RFC 2046) */
#define UPLOAD_CTYPE_BUF      205 /* bytes: what lws_spa copies the Content-Type into */

struct http__upload {
    struct http_request *req;
    const struct http__upload_route *cfg;
    struct lws_spa *spa;
    struct lwsac *ac; /* the parser's allocations; freed by lws_spa_destroy */
    char boundary[UPLOAD_BOUNDARY_MAX + 1];
    size_t expected, received; /* the Content-Length, and the bytes of it received */
    unsigned char tail[UPLOAD_TAIL];
    /* the file */
    int fd;     /* open while its part is being written, else -1 */
    char *path; /* the temp file once created; removed at free unless renamed away */
    dev_t dev;  /* ... and its identity, to remove that file and no other */
    ino_t ino;
    char *filename; /* sanitised */
    size_t size;
    bool writing;  /* its part is open */
    bool complete; /* its part ended (the parser saw the boundary after it) */
    /* an error met inside the parser's callback, answered when lws_spa_process returns */
    int err_status;
    char err[160];
};

/* ---------------------------------------------------------------- route settings */

static bool name_ok(const char *n)
{
    return n && *n && strlen(n) <= UPLOAD_NAME_MAX;
}

void http__upload_route_free(struct http__upload_route *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfields; i++)
        free(r->fields[i]);
    free(r->fields);
    free(r->file_field);
    free(r->tmp_dir);
    free(r);
}

int http__upload_route_new(struct http_server *srv, const char *pattern, const struct http_upload *in,
                           struct http__upload_route **out)
{
    *out = NULL;
    if (!name_ok(in->file_field)) {
        http__set_err(srv, "route %s: upload file_field must be 1 to %d bytes", pattern, UPLOAD_NAME_MAX);
        return HTTP_ERR_ARG;
    }
    size_t nfields = 0;
    for (; in->fields && in->fields[nfields]; nfields++)
        if (!name_ok(in->fields[nfields])) {
            http__set_err(srv, "route %s: upload field names must be 1 to %d bytes", pattern, UPLOAD_NAME_MAX);
            return HTTP_ERR_ARG;
        }
    if (!in->max_file || in->max_fields > UPLOAD_FIELDS_LIMIT) {
        http__set_err(srv, "route %s: upload max_file must be > 0 and max_fields at most %d", pattern,
                      UPLOAD_FIELDS_LIMIT);
        return HTTP_ERR_ARG;
    }
    const char *dir = in->tmp_dir;
    if (!dir) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        http__set_err(srv, "route %s: upload tmp_dir %s: %s", pattern, dir, strerror(errno));
        return HTTP_ERR_ARG;
    }
    if (!S_ISDIR(st.st_mode)) {
        http__set_err(srv, "route %s: upload tmp_dir %s: not a directory", pattern, dir);
        return HTTP_ERR_ARG;
    }
    struct http__upload_route *r = calloc(1, sizeof(*r));
    if (!r)
        goto nomem;
    r->fields = calloc(nfields + 1, sizeof(*r->fields));
    r->file_field = strdup(in->file_field);
    r->tmp_dir = strdup(dir);
    if (!r->fields || !r->file_field || !r->tmp_dir)
        goto nomem;
    for (; r->nfields < nfields; r->nfields++)
        if (!(r->fields[r->nfields] = strdup(in->fields[r->nfields])))
            goto nomem;
    r->max_file = in->max_file;
    r->max_fields = in->max_fields ? in->max_fields : UPLOAD_FIELDS_DEFAULT;
    *out = r;
    return 0;
nomem:
    http__upload_route_free(r);
    http__set_err(srv, "route %s: out of memory", pattern);
    return HTTP_ERR_NOMEM;
}

/* ---------------------------------------------------------------- the file part */

/* Records why the upload is refused: "<what><detail>" answered with `status`. Returns -1. */
static int fail(struct http__upload *up, int status, const char *what, const char *detail)
{
    up->err_status = status;
    snprintf(up->err, sizeof(up->err), "%s%s", what, detail);
    return -1;
}

/* The client's file name reduced to something a handler may show or keep: its last path
 * component (clients have sent "C:\dir\x.csv" and "../../x.csv"), control bytes replaced. */
static char *sanitize_filename(const char *name)
{
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        base = "upload";
    char *out = strdup(base);
    for (char *p = out; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    return out;
}

static int file_open(struct http__upload *up, const char *name, const char *filename)
{
    if (up->path || strcmp(name, up->cfg->file_field) != 0)
        return 0; /* not the file part, or a second one: dropped */
    struct buf path;
    buf_init(&path, 4096);
    if (buf_printf(&path, "%s/gspbot-upload-XXXXXX", up->cfg->tmp_dir) != 0)
        return fail(up, 500, "cannot create a temp file for the upload: ", "path too long");
    up->path = buf_take(&path);
    up->filename = sanitize_filename(filename);
    if (!up->path || !up->filename)
        return fail(up, 500, "out of memory", "");
    /* 0600, and not inherited by the processes this program forks. */
    up->fd = mkostemp(up->path, O_CLOEXEC);
    if (up->fd < 0) {
        int e = errno;
        free(up->path);
        up->path = NULL;
        return fail(up, 500, "cannot create a temp file for the upload: ", strerror(e));
    }
    struct stat st;
    if (fstat(up->fd, &st) != 0)
        return fail(up, 500, "cannot create a temp file for the upload: ", strerror(errno));
    up->dev = st.st_dev;
    up->ino = st.st_ino;
    up->writing = true;
    return 0;
}

/* Appends to the temp file. A local file written in UPLOAD_CHUNK pieces: the one blocking
 * call this module makes on the service thread, as short as a disk write. */
static int file_write(struct http__upload *up, const char *p, size_t n)
{
    if (n > up->cfg->max_file - up->size) {
        char lim[48];
        snprintf(lim, sizeof(lim), "%zu bytes", up->cfg->max_file);
        return fail(up, 413, "uploaded file exceeds the limit of ", lim);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(up->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(up, 500, "cannot store the uploaded file: ", w < 0 ? strerror(errno) : "short write");
        done += (size_t)w;
    }
    up->size += n;
    atomic_fetch_add(&up->req->srv->stats.upload_bytes, n);
    return 0;
}

/* lws_spa's file callback: called for every part that has a filename (OPEN, then CONTENT
 * pieces, then FINAL_CONTENT at the boundary after it), and with CLOSE when the parser is
 * finalized or destroyed. Returning -1 stops lws_spa_process; the reason is in up->err. */
static int on_file(void *data, const char *name, const char *filename, char *buf, int len,
                   enum lws_spa_fileupload_states state)
{
    struct http__upload *up = data;
    switch (state) {
    case LWS_UFS_OPEN: return file_open(up, name, filename);
    case LWS_UFS_CONTENT:
    case LWS_UFS_FINAL_CONTENT:
        if (!up->writing)
            return 0;
        if (len > 0 && file_write(up, buf, (size_t)len) != 0)
            return -1;
        if (state == LWS_UFS_FINAL_CONTENT) {
            up->writing = false;
            up->complete = true;
            if (close(up->fd) != 0) {
                up->fd = -1;
                return fail(up, 500, "cannot store the uploaded file: ", strerror(errno));
            }
            up->fd = -1;
        }
        return 0;
    case LWS_UFS_CLOSE: return 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- the body */

/* Checks the Content-Type exactly as lws_spa will read it and keeps its boundary. Returns 0
 * or a status with msg. */
static int read_content_type(struct http__upload *up, struct lws *wsi, char *msg, size_t msglen)
{
    char ct[UPLOAD_CTYPE_BUF];
    int n = lws_hdr_copy(wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (n < 0) {
        snprintf(msg, msglen, "Content-Type longer than %d bytes", UPLOAD_CTYPE_BUF - 1);
        return 400;
    }
    if (n == 0 || strncmp(ct, "multipart/form-data", 19) != 0 || (ct[19] && ct[19] != ';' && ct[19] != ' ')) {
        snprintf(msg, msglen, "expected Content-Type: multipart/form-data; boundary=...");
        return 415;
    }
    const char *b = strstr(ct, "boundary=");
    size_t len = 0;
    if (b) {
        b += 9;
        b += *b == '"';
        len = strcspn(b, " ;\"");
    }
    if (len == 0 || len > UPLOAD_BOUNDARY_MAX) {
        snprintf(msg, msglen, "multipart/form-data without a boundary of 1 to %d characters", UPLOAD_BOUNDARY_MAX);
        return 400;
    }
    memcpy(up->boundary, b, len);
    up->boundary[len] = '\0';
    return 0;
}

int http__upload_begin(struct http_request *req, struct lws *wsi, size_t content_length, char *msg, size_t msglen)
{
    struct http__upload *up = calloc(1, sizeof(*up));
    if (!up) {
        snprintf(msg, msglen, "out of memory");
        return 500;
    }
    up->req = req;
    up->cfg = req->route->upload;
    up->fd = -1;
    up->expected = content_length;
    req->upload = up;
    int status = read_content_type(up, wsi, msg, msglen);
    if (status)
        return status;
    /* The buffer stays larger than any accepted text value, so that none is ever split. */
    size_t storage = up->cfg->max_fields + 1024 > UPLOAD_CHUNK ? up->cfg->max_fields + 1024 : UPLOAD_CHUNK;
    lws_spa_create_info_t info = {
        .param_names = (const char *const *)up->cfg->fields,
        .count_params = (int)up->cfg->nfields,
        .max_storage = (int)storage,
        .opt_cb = on_file,
        .opt_data = up,
        .ac = &up->ac,
    };
    up->spa = lws_spa_create_via_info(wsi, &info);
    if (!up->spa) {
        snprintf(msg, msglen, "out of memory");
        return 500;
    }
    return 0;
}

/* Feeds n bytes to the parser and checks what it did. 0 or a status with msg. */
static int parse(struct http__upload *up, const unsigned char *p, size_t n, char *msg, size_t msglen)
{
    if (lws_spa_process(up->spa, (const char *)p, (int)n) < 0 || up->err_status) {
        snprintf(msg, msglen, "%s", up->err_status ? up->err : "malformed multipart/form-data body");
        return up->err_status ? up->err_status : 400;
    }
    size_t fields = 0;
    for (size_t i = 0; i < up->cfg->nfields; i++)
        fields += (size_t)lws_spa_get_length(up->spa, (int)i);
    if (fields > up->cfg->max_fields) {
        snprintf(msg, msglen, "form fields exceed the limit of %zu bytes", up->cfg->max_fields);
        return 413;
    }
    return 0;
}

int http__upload_feed(struct http_request *req, const void *in, size_t len, char *msg, size_t msglen)
{
    struct http__upload *up = req->upload;
    const unsigned char *p = in;
    if (len > up->expected - up->received) { /* lws stops at the Content-Length: never */
        snprintf(msg, msglen, "request body longer than its Content-Length");
        return 400;
    }
    /* Bytes from hold_from on wait in `tail` until the body is complete (file comment). */
    size_t hold_from = up->expected > UPLOAD_TAIL ? up->expected - UPLOAD_TAIL : 0;
    size_t pos = up->received, now = 0;
    up->received += len;
    if (pos < hold_from) {
        now = hold_from - pos < len ? hold_from - pos : len;
        int status = parse(up, p, now, msg, msglen);
        if (status)
            return status;
    }
    if (now < len)
        memcpy(up->tail + (pos + now - hold_from), p + now, len - now);
    if (up->received == up->expected)
        return parse(up, up->tail, up->expected - hold_from, msg, msglen);
    return 0;
}

/* True when the body ends with the closing delimiter "CRLF--boundary--" (or is only
 * "--boundary--", a form without parts), ignoring trailing whitespace. */
static bool upload_closed(const struct http__upload *up)
{
    size_t n = up->expected < UPLOAD_TAIL ? up->expected : UPLOAD_TAIL;
    while (n && strchr(" \t\r\n", up->tail[n - 1]))
        n--;
    char delim[UPLOAD_BOUNDARY_MAX + 8];
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%s--", up->boundary);
    if (n >= (size_t)dlen && !memcmp(up->tail + n - (size_t)dlen, delim, (size_t)dlen))
        return true;
    return up->expected <= UPLOAD_TAIL && n == (size_t)dlen - 2 && !memcmp(up->tail, delim + 2, n);
}

int http__upload_finish(struct http_request *req, char *msg, size_t msglen)
{
    struct http__upload *up = req->upload;
    if (up->received != up->expected) {
        /* lws_spa ended the body at a closing boundary before its Content-Length. */
        snprintf(msg, msglen, "data after the closing boundary of the multipart/form-data body");
        return 400;
    }
    if (!upload_closed(up)) {
        snprintf(msg, msglen, "multipart/form-data body ended before its closing boundary");
        return 400;
    }
    lws_spa_finalize(up->spa);
    if (up->writing || up->err_status) {
        snprintf(msg, msglen, "%s", up->err_status ? up->err : "multipart/form-data body ended inside its file");
        return up->err_status ? up->err_status : 400;
    }
    for (size_t i = 0; i < up->cfg->nfields; i++) {
        const char *v = lws_spa_get_string(up->spa, (int)i);
        if (v && *v && http__kv_add(&req->form, up->cfg->fields[i], strlen(up->cfg->fields[i]), v, strlen(v)) != 0) {
            snprintf(msg, msglen, "out of memory");
            return 500;
        }
    }
    req->form_parsed = true;
    lws_spa_destroy(up->spa);
    up->spa = NULL;
    return 0;
}

void http__upload_free(struct http__upload *up)
{
    if (!up)
        return;
    if (up->spa)
        lws_spa_destroy(up->spa);
    if (up->fd >= 0)
        close(up->fd);
    /* Only the file we created: a handler may have renamed it away, and the name may since
     * belong to another upload's file. */
    struct stat st;
    if (up->path && lstat(up->path, &st) == 0 && st.st_dev == up->dev && st.st_ino == up->ino)
        unlink(up->path);
    free(up->path);
    free(up->filename);
    free(up);
}

/* ---------------------------------------------------------------- accessors */

bool http_request_upload_file(const struct http_request *req, const char **path, const char **filename, size_t *size)
{
    const struct http__upload *up = req ? req->upload : NULL;
    bool have = up && up->complete && up->path;
    if (path)
        *path = have ? up->path : NULL;
    if (filename)
        *filename = have ? up->filename : NULL;
    if (size)
        *size = have ? up->size : 0;
    return have;
}

const char *http_request_upload_field(struct http_request *req, const char *name)
{
    if (!req || !req->upload || !name)
        return NULL;
    return http__kv_get(&req->form, name, false);
}
