/* fuzz_upload: multipart/form-data uploads (src/http/upload.c on lws_spa) on arbitrary bodies,
 * through a real gsphttp server in this process over loopback TCP (fuzz_net.h): lws_spa cannot be
 * driven without a live connection, since it reads the Content-Type from the connection itself.
 *
 * Input: the first line (up to '\n', CR dropped, at most 300 bytes) is the Content-Type header's
 * value; the rest is the body, sent with a matching Content-Length to POST /upload, whose route
 * keeps a file part "file" (at most UPLOAD_MAX_FILE bytes, so 413 is reachable) and text fields
 * "name" and "note" (at most UPLOAD_MAX_FIELDS bytes). An input without '\n' is all body, under
 * "multipart/form-data; boundary=B".
 *
 * Besides "no crash, leak or undefined behaviour", it checks the layer's promises: the handler
 * sees a complete temp file (mode 0600, the size it was told, within the cap), a file name without
 * a path or control bytes, fields within their cap and an empty body; and once the exchange is
 * over no temp file is left — except the one a handler renamed away (kept when the "name" field is
 * "keep"), which the layer must not remove. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_net.h"
#include "http.h"

#define UPLOAD_MAX_FILE   3000 /* bytes */
#define UPLOAD_MAX_FIELDS 200  /* bytes */
#define CTYPE_MAX         300  /* bytes of the Content-Type taken from the input's first line */

static struct http_server *g_srv;
static int g_port;
static char g_dir[64];        /* the route's temp folder */
static char g_kept[96];       /* where a handler put the file it kept */
static atomic_bool g_renamed; /* set by the handler (service thread), read after the exchange */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_upload: broken promise: %s\n", what);
        abort();
    }
}

static void on_upload(struct http_request *req, void *user)
{
    (void)user;
    const char *path, *filename;
    size_t size;
    size_t blen = 99;
    const char *body = http_request_body(req, &blen);
    check(blen == 0 && body[0] == '\0', "an upload's body is empty");
    const char *name = http_request_upload_field(req, "name");
    const char *note = http_request_form(req, "note");
    check(name == NULL || (*name && strlen(name) <= UPLOAD_MAX_FIELDS), "field within its cap");
    check(note == NULL || (*note && strlen(note) <= UPLOAD_MAX_FIELDS), "field within its cap");
    if (http_request_upload_file(req, &path, &filename, &size)) {
        struct stat st;
        check(stat(path, &st) == 0 && S_ISREG(st.st_mode), "the temp file exists");
        check((st.st_mode & 0777) == 0600, "the temp file is 0600");
        check((size_t)st.st_size == size && size <= UPLOAD_MAX_FILE, "the temp file is complete, within the cap");
        check(*filename && !strpbrk(filename, "/\\") && strcmp(filename, ".") && strcmp(filename, ".."),
              "the file name is one path component");
        for (const char *p = filename; *p; p++)
            check((unsigned char)*p >= 0x20 && *p != 0x7f, "no control byte in the file name");
        if (name != NULL && strcmp(name, "keep") == 0) {
            check(rename(path, g_kept) == 0, "rename the temp file");
            g_renamed = true;
        }
    } else {
        check(path == NULL && filename == NULL && size == 0, "no file: NULLs and 0");
    }
    char msg[128];
    int n =
        snprintf(msg, sizeof msg, "file %zu name %zu note %zu", size, name ? strlen(name) : 0, note ? strlen(note) : 0);
    http_request_respond(req, 200, NULL, msg, (size_t)n);
}

/* Files in the temp folder, the kept one apart. */
static int leftovers(char *first, size_t n)
{
    DIR *d = opendir(g_dir);
    int count = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "kept") == 0)
            continue;
        if (count++ == 0)
            snprintf(first, n, "%s", e->d_name);
    }
    if (d != NULL)
        closedir(d);
    return count;
}

static void remove_dir(void)
{
    unlink(g_kept);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/fuzz-upload-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    check(mkdtemp(g_dir) != NULL, "mkdtemp");
    atexit(remove_dir);
    snprintf(g_kept, sizeof g_kept, "%s/kept", g_dir);
    struct http_config cfg = {.header_timeout_s = 2, .body_timeout_s = 2, .keepalive_s = 1, .request_timeout_ms = 2000};
    g_srv = http_server_new(&cfg);
    check(g_srv != NULL, "server");
    static const char *const fields[] = {"name", "note", NULL};
    struct http_upload up = {.file_field = "file",
                             .fields = fields,
                             .tmp_dir = g_dir,
                             .max_file = UPLOAD_MAX_FILE,
                             .max_fields = UPLOAD_MAX_FIELDS};
    struct http_route_opts opts = {.upload = &up};
    check(http_server_route(g_srv, "POST", "/upload", on_upload, NULL, &opts) == 0, "route");
    g_port = fuzz_net_start(g_srv, NULL, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < CTYPE_MAX ? size : CTYPE_MAX);
    char ctype[CTYPE_MAX + 1] = "multipart/form-data; boundary=B";
    const uint8_t *body = data;
    size_t blen = size;
    if (nl != NULL) {
        size_t k = 0;
        for (const uint8_t *p = data; p < nl; p++)
            if (*p != '\r')
                ctype[k++] = (char)*p;
        ctype[k] = '\0';
        body = nl + 1;
        blen = size - (size_t)(body - data);
    }
    char head[CTYPE_MAX + 160];
    int hn =
        snprintf(head, sizeof head,
                 "POST /upload HTTP/1.1\r\nHost: fuzz\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, blen);
    char *req = malloc((size_t)hn + blen);
    if (req == NULL)
        return 0;
    memcpy(req, head, (size_t)hn);
    memcpy(req + hn, body, blen);
    g_renamed = false;
    char answer[256];
    (void)fuzz_net_exchange(g_port, req, (size_t)hn + blen, answer, sizeof answer, 3000);
    free(req);
    if (fuzz_net_wait_idle(g_srv, FUZZ_NET_IDLE_MS) != 0)
        fuzz_net_die_not_idle(g_port, "fuzz_upload");
    // The request is freed with its connection; its temp file goes with it.
    char first[256] = "";
    for (int i = 0; i < 100 && leftovers(first, sizeof first) > 0; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (leftovers(first, sizeof first) > 0) {
        fprintf(stderr, "fuzz_upload: a temp file was left: %s/%s (answer: %.200s)\n", g_dir, first, answer);
        abort();
    }
    if (g_renamed) {
        struct stat st;
        check(stat(g_kept, &st) == 0, "the layer never removes a file the handler renamed away");
        unlink(g_kept);
    }
    return 0;
}
