/* log: text or JSON lines to stderr and an optional file, with secrets redacted. Process-wide
 * state: one logger per process (workers re-open their file after fork). */
#include "log.h"

#include "buf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_SECRETS     8
#define LOG_LINE_MAX        8192         /* bytes of one message; longer ones are cut */
#define LOG_REDACT_FILE_MAX (256u << 20) /* bytes: the largest file log_redact_file() rewrites */

static struct {
    enum log_format format;
    enum log_level min;
    FILE *file;
    char *secrets[LOG_MAX_SECRETS];
} g_log = {.format = LOG_FORMAT_TEXT, .min = LOG_INFO};

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_format format, bool verbose)
{
    g_log.format = format;
    g_log.min = verbose ? LOG_DEBUG : LOG_INFO;
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "a");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    if (g_log.file != NULL)
        fclose(g_log.file);
    g_log.file = f;
    return 0;
}

void log_add_secret(const char *secret)
{
    if (secret == NULL || strlen(secret) < 3)
        return;
    for (int i = 0; i < LOG_MAX_SECRETS; i++) {
        if (g_log.secrets[i] != NULL && strcmp(g_log.secrets[i], secret) == 0)
            return;
        if (g_log.secrets[i] == NULL) {
            g_log.secrets[i] = strdup(secret);
            return;
        }
    }
}

void log_shutdown(void)
{
    for (int i = 0; i < LOG_MAX_SECRETS; i++) {
        if (g_log.secrets[i] != NULL) {
            explicit_bzero(g_log.secrets[i], strlen(g_log.secrets[i]));
            free(g_log.secrets[i]);
            g_log.secrets[i] = NULL;
        }
    }
    if (g_log.file != NULL) {
        fclose(g_log.file);
        g_log.file = NULL;
    }
}

void log_redact(const char *in, char *out, size_t n)
{
    if (n == 0)
        return;
    size_t o = 0;
    while (*in != '\0' && o + 1 < n) {
        size_t matched = 0;
        for (int i = 0; i < LOG_MAX_SECRETS && matched == 0; i++) {
            const char *s = g_log.secrets[i];
            if (s != NULL && strncmp(in, s, strlen(s)) == 0)
                matched = strlen(s);
        }
        if (matched > 0) {
            for (const char *r = "***"; *r != '\0' && o + 1 < n; r++)
                out[o++] = *r;
            in += matched;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

int log_redact_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    struct buf in;
    buf_init(&in, LOG_REDACT_FILE_MAX);
    char chunk[65536];
    size_t k;
    int rc = 0;
    while (rc == 0 && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&in, chunk, k);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (rc != 0 || bad) {
        buf_cleanup(&in);
        errno = rc == BUF_ETOOBIG ? EFBIG : rc ? ENOMEM : EIO;
        return -1;
    }
    // Every registered secret out, whatever the length of the text (log_redact works in bounded
    // buffers): copy the runs between matches.
    struct buf out;
    buf_init(&out, 0);
    const char *p = buf_str(&in);
    size_t len = in.len, i = 0, from = 0;
    while (rc == 0 && i < len) {
        size_t matched = 0;
        for (int s = 0; s < LOG_MAX_SECRETS && matched == 0; s++) {
            const char *sec = g_log.secrets[s];
            size_t sl = sec ? strlen(sec) : 0;
            if (sl > 0 && sl <= len - i && memcmp(p + i, sec, sl) == 0)
                matched = sl;
        }
        if (matched == 0) {
            i++;
            continue;
        }
        rc = buf_append(&out, p + from, i - from);
        if (rc == 0)
            rc = buf_append_str(&out, "***");
        i += matched;
        from = i;
    }
    if (rc == 0)
        rc = buf_append(&out, p + from, len - from);
    buf_cleanup(&in);
    if (rc != 0) {
        errno = ENOMEM;
        return -1;
    }
    // Written to a temp file and renamed, with the mode of everything that holds personal data.
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.redact", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        buf_cleanup(&out);
        return -1;
    }
    const char *w = buf_str(&out);
    size_t left = out.len;
    while (left > 0) {
        ssize_t n = write(fd, w, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            buf_cleanup(&out);
            errno = e;
            return -1;
        }
        w += n;
        left -= (size_t)n;
    }
    buf_cleanup(&out);
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

static void emit(FILE *f, const char *line)
{
    fputs(line, f);
    fflush(f);
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
    if (level < g_log.min)
        return;
    char raw[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    log_redact(raw, msg, sizeof msg);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03ldZ", (long)(tv.tv_usec / 1000));

    char line[LOG_LINE_MAX + 256];
    if (g_log.format == LOG_FORMAT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ts", ts);
        cJSON_AddStringToObject(o, "level", LEVEL_NAMES[level]);
        cJSON_AddStringToObject(o, "component", component);
        cJSON_AddStringToObject(o, "msg", msg);
        cJSON_AddNumberToObject(o, "pid", (double)getpid());
        char *s = cJSON_PrintUnformatted(o);
        snprintf(line, sizeof line, "%s\n", s ? s : "{}");
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        snprintf(line, sizeof line, "%s %-5s %s: %s\n", ts, LEVEL_NAMES[level], component, msg);
    }
    emit(stderr, line);
    if (g_log.file != NULL)
        emit(g_log.file, line);
}
