/* files: the evidence files (GET /screenshots/{file}) and the dashboard's own files (GET /,
 * /static/{file}, /openapi.json).
 *
 * Evidence comes from the portal and may hold anything; only regular files directly inside the
 * evidence folder are served: the name is one path segment of [A-Za-z0-9._-] that is not "." or
 * "..", opened with O_NOFOLLOW relative to the folder (no symlink leads out), checked to be a
 * regular file. A PNG is served as an image; evidence HTML and text as plain text, with a sandbox
 * policy and as an attachment: a portal page's scripts never run next to the API token. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "config.h"
#include "embedded.h"

#define API_EVIDENCE_MAX (64u << 20) /* bytes: the largest evidence file served */

/* The dashboard's files, compiled in (src/api/assets). */
extern const struct embedded_file api_assets[];
extern const size_t api_assets_count;

static const struct embedded_file *asset(const char *name)
{
    for (size_t i = 0; i < api_assets_count; i++)
        if (strcmp(api_assets[i].name, name) == 0)
            return &api_assets[i];
    return NULL;
}

static void respond_asset(struct http_request *req, const char *name)
{
    const struct embedded_file *f = asset(name);
    if (f == NULL) {
        http_request_respond_error(req, 404, "no such file");
        return;
    }
    if (api__security_headers(req) != 0 || http_request_add_header(req, "Cache-Control", "no-cache") != 0) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    http_request_respond_static(req, 200, http_content_type(name), f->data, f->size);
}

void api__h_index(struct http_request *req, void *user)
{
    (void)user;
    respond_asset(req, "index.html");
}

void api__h_static(struct http_request *req, void *user)
{
    (void)user;
    const char *name = http_request_param(req, "file");
    if (name == NULL || strcmp(name, "index.html") == 0 || strcmp(name, "openapi.json") == 0) {
        http_request_respond_error(req, 404, "no such file");
        return;
    }
    respond_asset(req, name);
}

void api__h_openapi(struct http_request *req, void *user)
{
    (void)user;
    respond_asset(req, "openapi.json");
}

static bool safe_name(const char *s)
{
    if (s == NULL || *s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 255)
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void api__h_screenshot(struct http_request *req, void *user)
{
    struct api *a = user;
    const char *name = http_request_param(req, "file");
    if (!safe_name(name)) {
        http_request_respond_error(req, 404, "no such evidence file");
        return;
    }
    const char *type = ends_with(name, ".png")           ? "image/png"
                       : ends_with(name, ".html")        ? "text/plain; charset=utf-8"
                       : ends_with(name, ".console.txt") ? "text/plain; charset=utf-8"
                                                         : NULL;
    if (type == NULL) {
        http_request_respond_error(req, 404, "no such evidence file");
        return;
    }
    int dir = open(a->cfg->screenshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = dir >= 0 ? openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) : -1;
    if (dir >= 0)
        close(dir);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > API_EVIDENCE_MAX) {
        if (fd >= 0)
            close(fd);
        http_request_respond_error(req, 404, "no such evidence file");
        return;
    }
    char *data = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (data != NULL && got < (size_t)st.st_size) {
        ssize_t k = read(fd, data + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (data == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    int hrc = api__security_headers(req);
    if (strcmp(type, "image/png") != 0) {
        // The portal's page, as text: never rendered on this origin.
        char disp[300];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
        hrc |= http_request_add_header(req, "Content-Disposition", disp);
        hrc |= http_request_add_header(req, "Content-Security-Policy", "sandbox");
    }
    hrc |= http_request_add_header(req, "Cache-Control", "private, max-age=60");
    if (hrc != 0) {
        free(data);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    http_request_respond(req, 200, type, data, got);
    free(data);
}
