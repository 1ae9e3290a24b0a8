/* fetch: downloads an http(s) URL into memory with libcurl for the loader: redirects followed
 * (at most 10, http and https only), a 10 s connect timeout and a whole-transfer deadline
 * (opt.timeout_ms), and a size cap (opt.max_bytes, GSPBOT_MAX_FILE_MB) enforced both on the
 * announced Content-Length and on the bytes received. The file name for messages and the batch
 * comes from Content-Disposition, else the last path segment; when it has no extension one is
 * added from the Content-Type, so a Google Sheets "export?format=csv" link reads as CSV. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldr_internal.h"

struct dl {
    struct buf *body; /* capped at opt->max_bytes */
    bool too_big, oom;
    char disposition[256];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct dl *d = ud;
    size_t len = size * n;
    int rc = buf_append(d->body, p, len);
    if (rc != 0) {
        *(rc == BUF_ETOOBIG ? &d->too_big : &d->oom) = true;
        return 0; // aborts the transfer
    }
    return len;
}

/* Picks filename="..." (or filename=...) out of a Content-Disposition header. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct dl *d = ud;
    size_t len = size * n;
    if (len > 20 && strncasecmp(p, "Content-Disposition:", 20) == 0) {
        const char *end = p + len;
        for (const char *s = p; s + 9 < end; s++) {
            if (strncasecmp(s, "filename=", 9) != 0)
                continue;
            s += 9;
            bool q = *s == '"';
            s += q;
            size_t k = 0;
            while (s < end && k + 1 < sizeof d->disposition && *s != '\r' && *s != '\n' && *s != ';' &&
                   (q ? *s != '"' : *s != ' '))
                d->disposition[k++] = *s++;
            d->disposition[k] = '\0';
            break;
        }
    }
    return len;
}

static const char *ext_for_type(const char *ct, enum ldr_format *f)
{
    if (ct == NULL)
        return NULL;
    if (strncasecmp(ct, "text/csv", 8) == 0 || strncasecmp(ct, "text/plain", 10) == 0 ||
        strncasecmp(ct, "application/csv", 15) == 0)
        return *f = LDR_FORMAT_CSV, ".csv";
    if (strncasecmp(ct, "text/tab-separated-values", 25) == 0)
        return *f = LDR_FORMAT_CSV, ".tsv";
    if (strncasecmp(ct, "application/vnd.openxmlformats-officedocument.spreadsheetml", 59) == 0)
        return *f = LDR_FORMAT_XLSX, ".xlsx";
    if (strncasecmp(ct, "application/json", 16) == 0)
        return *f = LDR_FORMAT_JSON, ".json";
    if (strncasecmp(ct, "application/vnd.ms-excel", 24) == 0)
        return ".xls";
    if (strncasecmp(ct, "application/vnd.oasis.opendocument.spreadsheet", 46) == 0)
        return ".ods";
    if (strncasecmp(ct, "application/pdf", 15) == 0)
        return ".pdf";
    return NULL;
}

/* The last path segment of a URL, without query or fragment. */
static void url_name(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    size_t end = strcspn(s, "?#");
    const char *last = NULL;
    for (size_t i = 0; i < end; i++)
        if (s[i] == '/')
            last = s + i + 1;
    size_t len = last ? (size_t)(s + end - last) : 0;
    snprintf(out, n, "%.*s", (int)len, last ? last : "");
}

int ldr__fetch(const char *url, const struct ldr_options *opt, struct buf *out, char *name_out, size_t name_n,
               enum ldr_format *format, char *err, size_t errn)
{
    *format = LDR_FORMAT_AUTO;
    buf_init(out, (size_t)opt->max_bytes); // the cap is the size limit: on_body learns of it as BUF_ETOOBIG
    CURL *h = curl_easy_init();
    if (h == NULL)
        return LDR_ENOMEM;
    struct dl d = {.body = out};
    char cerr[CURL_ERROR_SIZE] = "";
    // Every option is checked: a protocol restriction or a timeout that silently did not take
    // (an old libcurl) must fail the download, not let it run unbounded.
    CURLcode cc = CURLE_OK;
#define SETOPT(opt, val)                                                                                               \
    do {                                                                                                               \
        if (cc == CURLE_OK)                                                                                            \
            cc = curl_easy_setopt(h, opt, val);                                                                        \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, 10L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SETOPT(CURLOPT_TIMEOUT_MS, opt->timeout_ms);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opt->max_bytes);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_USERAGENT, "gspbot-loader");
    SETOPT(CURLOPT_ERRORBUFFER, cerr);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &d);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, &d);
#undef SETOPT
    if (cc != CURLE_OK) {
        snprintf(err, errn, "download not attempted: libcurl refused an option: %s", curl_easy_strerror(cc));
        curl_easy_cleanup(h);
        buf_cleanup(out);
        return LDR_EIO;
    }
    cc = curl_easy_perform(h);
    long mb = (long)(opt->max_bytes >> 20);
    int rc = 0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (d.oom) {
        rc = LDR_ENOMEM;
    } else if (d.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, errn, "the download is larger than GSPBOT_MAX_FILE_MB (%ld MB)", mb);
        rc = LDR_EIO;
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, errn, "no complete answer within %ld s (timed out)", (opt->timeout_ms + 999) / 1000);
        rc = LDR_EIO;
    } else if (cc != CURLE_OK) {
        snprintf(err, errn, "download failed: %s", cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = LDR_EIO;
    } else if (status >= 400) {
        snprintf(err, errn, "download failed: HTTP %ld", status);
        rc = LDR_EIO;
    }
    if (rc == 0) {
        const char *eff = NULL, *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        char name[300];
        if (d.disposition[0] && !strchr(d.disposition, '/'))
            snprintf(name, sizeof name, "%s", d.disposition);
        else
            url_name(eff ? eff : url, name, sizeof name);
        if (name[0] == '\0')
            snprintf(name, sizeof name, "download");
        enum ldr_format f = LDR_FORMAT_AUTO;
        const char *ext = ext_for_type(ct, &f);
        if (strchr(name, '.') == NULL && ext != NULL)
            snprintf(name_out, name_n, "%s%s", name, ext);
        else
            snprintf(name_out, name_n, "%s", name);
    }
    curl_easy_cleanup(h);
    return rc;
}
