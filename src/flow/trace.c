/* trace: per-action screenshots and an offline HTML timeline (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct trace_row {
    char *step, *action, *error;
    long ms;         /* the action's own duration */
    long capture_ms; /* the screenshot taken after it (not part of the walk) */
    int shot;        /* screenshot number, 0 = none */
};

struct trace {
    char dir[PATH_MAX];
    char shot_path[PATH_MAX + 16];
    struct trace_row *rows;
    size_t n, cap;
    int next_shot;
    char started[32];
    struct timespec t0; /* when the trace began: the wall time it shows */
};

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

struct trace *trace_new(const char *dir, char *err, size_t n)
{
    if (strlen(dir) >= PATH_MAX - 32) {
        snprintf(err, n, "trace folder name too long");
        return NULL;
    }
    if (mkdir_p(dir) != 0) {
        snprintf(err, n, "cannot create trace folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct trace *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    t->next_shot = 1;
    clock_gettime(CLOCK_MONOTONIC, &t->t0);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(t->started, sizeof t->started, "%Y-%m-%d %H:%M:%S", &tm);
    return t;
}

const char *trace_dir(const struct trace *t)
{
    return t->dir;
}

const char *trace_next_shot(struct trace *t)
{
    snprintf(t->shot_path, sizeof t->shot_path, "%s/%04d.png", t->dir, t->next_shot);
    return t->shot_path;
}

static char *redacted_dup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) * 2 + 8;
    char *out = malloc(n);
    if (out != NULL)
        log_redact(s, out, n);
    return out;
}

void trace_set_capture_ms(struct trace *t, long ms)
{
    if (t->n > 0)
        t->rows[t->n - 1].capture_ms = ms;
}

void trace_add(struct trace *t, const char *step, const char *action, long ms, const char *error, bool shot)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct trace_row *nr = realloc(t->rows, cap * sizeof *nr);
        if (nr == NULL)
            return; // the trace is a debugging aid: a row lost to OOM is not an error of the order
        t->rows = nr;
        t->cap = cap;
    }
    struct trace_row *r = &t->rows[t->n++];
    r->step = redacted_dup(step ? step : "");
    r->action = redacted_dup(action ? action : "");
    r->error = redacted_dup(error);
    r->ms = ms;
    r->capture_ms = 0;
    r->shot = shot ? t->next_shot : 0;
    if (shot)
        t->next_shot++;
}

static void html_escape(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

int trace_write(struct trace *t)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/index.html", t->dir);
    snprintf(tmp, sizeof tmp, "%s/.index.html.tmp", t->dir);
    // The screenshots and the page show the portal as staff see it: private, like all evidence.
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    long total = 0, capture = 0;
    size_t failed = 0;
    for (size_t i = 0; i < t->n; i++) {
        total += t->rows[i].ms;
        capture += t->rows[i].capture_ms;
        failed += t->rows[i].error != NULL;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double wall = (double)(now.tv_sec - t->t0.tv_sec) + (now.tv_nsec - t->t0.tv_nsec) / 1e9;
    fprintf(f, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gspbot trace</title>\n"
               "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
               "table{border-collapse:collapse;width:100%%}td,th{border-bottom:1px solid #ddd;padding:6px;"
               "text-align:left;vertical-align:top}tr.err td{background:#fdecea}td.ms{text-align:right;"
               "font-variant-numeric:tabular-nums}img{width:240px;border:1px solid #ccc}code{font-size:13px}"
               ".err .msg{color:#a40000;font-weight:600}</style></head><body>\n");
    fprintf(f,
            "<h1>gspbot trace</h1><p>started %s &middot; %zu actions &middot; %zu failed &middot; actions %.1f s "
            "&middot; taking the screenshots %.1f s &middot; wall time %.1f s (the rest: steps' checks, the cart, "
            "waits between attempts)</p>\n",
            t->started, t->n, failed, total / 1000.0, capture / 1000.0, wall);
    fprintf(f, "<table><thead><tr><th>#</th><th>step</th><th>action</th><th>ms</th><th>result</th>"
               "<th>screenshot</th><th>capture ms</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_row *r = &t->rows[i];
        fprintf(f, "<tr%s><td>%zu</td><td>", r->error ? " class=\"err\"" : "", i + 1);
        html_escape(f, r->step);
        fputs("</td><td><code>", f);
        html_escape(f, r->action);
        fprintf(f, "</code></td><td class=\"ms\">%ld</td><td class=\"msg\">", r->ms);
        if (r->error)
            html_escape(f, r->error);
        else
            fputs("ok", f);
        fputs("</td><td>", f);
        if (r->shot)
            fprintf(f, "<a href=\"%04d.png\"><img src=\"%04d.png\" alt=\"after action %zu\"></a>", r->shot, r->shot,
                    i + 1);
        fprintf(f, "</td><td class=\"ms\">%ld</td></tr>\n", r->capture_ms);
    }
    fputs("</tbody></table></body></html>\n", f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

void trace_free(struct trace *t)
{
    if (t == NULL)
        return;
    if (trace_write(t) != 0)
        log_warn("trace", "cannot write %s/index.html: %s", t->dir, strerror(errno));
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].step);
        free(t->rows[i].action);
        free(t->rows[i].error);
    }
    free(t->rows);
    free(t);
}
