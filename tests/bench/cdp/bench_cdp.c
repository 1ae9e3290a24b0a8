/*
 * bench_cdp.c - round-trip benchmark of the cdp client, the C half of
 * tests/bench/cdp/run.sh (the other half is bench_playwright.js, same
 * measurements with playwright-core against the same Chromium and server).
 *
 *   bench_cdp --serve DIR        serve DIR on loopback, print the port, run until stdin closes
 *   bench_cdp BASE_URL N_EVAL N_NAV
 *       median wall time and client CPU per call of N_EVAL Runtime.evaluate("1+1") and of
 *       N_NAV navigate-and-wait-for-load of BASE_URL/index.html; prints one JSON line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cdp.h"
#include "static_server.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double median_us(int64_t *ns, long n)
{
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    return (n % 2 ? (double)ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2.0) / 1000.0;
}

static long parse_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (end == s || *end || v < 1 || v > 10000000) ? -1 : v;
}

static int serve(const char *dir)
{
    struct static_server *s = static_server_start(dir);
    if (!s) {
        fprintf(stderr, "cannot serve %s\n", dir);
        return 1;
    }
    printf("%d\n", static_server_port(s));
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0) {
    }
    static_server_stop(s);
    return 0;
}

int main(int argc, char **argv)
{
    lws_set_log_level(LLL_ERR, NULL);
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2]);
    long n_eval = argc == 4 ? parse_count(argv[2]) : -1, n_nav = argc == 4 ? parse_count(argv[3]) : -1;
    if (n_eval < 1 || n_nav < 1) {
        fprintf(stderr, "usage: bench_cdp BASE_URL N_EVAL N_NAV | bench_cdp --serve DIR\n");
        return 2;
    }
    char url[512];
    snprintf(url, sizeof(url), "%s/index.html", argv[1]);
    struct cdp_browser *b = cdp_browser_new();
    if (cdp_browser_launch(b, NULL)) {
        fprintf(stderr, "%s\n", cdp_browser_errmsg(b));
        return 3;
    }
    struct cdp_page *p = NULL;
    if (cdp_page_new(b, NULL, &p) || cdp_page_navigate(p, url, 10000, NULL)) {
        fprintf(stderr, "%s %s\n", cdp_browser_errmsg(b), p ? cdp_page_errmsg(p) : "");
        cdp_browser_free(b);
        return 1;
    }
    long n = n_eval > n_nav ? n_eval : n_nav;
    int64_t *t = malloc(sizeof(*t) * (size_t)n);
    for (int i = 0; i < 200; i++) /* warm-up */
        if (cdp_page_evaluate(p, "1+1", 5000, NULL))
            goto fail;
    int64_t c0 = cpu_us();
    for (long i = 0; i < n_eval; i++) {
        int64_t s = now_ns();
        cJSON *v = NULL;
        if (cdp_page_evaluate(p, "1+1", 5000, &v) || !cJSON_IsNumber(v) || v->valueint != 2)
            goto fail;
        cJSON_Delete(v);
        t[i] = now_ns() - s;
    }
    double eval_cpu = (double)(cpu_us() - c0) / (double)n_eval;
    double eval_med = median_us(t, n_eval);
    c0 = cpu_us();
    for (long i = 0; i < n_nav; i++) {
        int64_t s = now_ns();
        int status = 0;
        if (cdp_page_navigate(p, url, 10000, &status) || status != 200)
            goto fail;
        t[i] = now_ns() - s;
    }
    double nav_cpu = (double)(cpu_us() - c0) / (double)n_nav;
    double nav_med = median_us(t, n_nav);
    printf("{\"impl\":\"gspbot-cdp\",\"browser\":\"%s\",\"eval_n\":%ld,\"eval_median_us\":%.1f,\"eval_cpu_us\":%.1f,"
           "\"nav_n\":%ld,\"nav_median_ms\":%.3f,\"nav_cpu_us\":%.1f}\n",
           cdp_browser_version(b), n_eval, eval_med, eval_cpu, n_nav, nav_med / 1000.0, nav_cpu);
    free(t);
    cdp_page_free(p);
    cdp_browser_free(b);
    return 0;
fail:
    fprintf(stderr, "bench failed: %s\n", cdp_page_errmsg(p));
    free(t);
    cdp_browser_free(b);
    return 1;
}
