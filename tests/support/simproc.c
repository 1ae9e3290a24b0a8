/* simproc: the simulator as a child process, and its test endpoints (see simproc.h). */
#include "simproc.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIMPROC_HTTP_TIMEOUT_S 10

int simproc_start(struct simproc *s, const char *binary, const char *const *args)
{
    memset(s, 0, sizeof *s);
    int fd[2];
    if (pipe(fd) != 0) {
        perror("pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); // the simulator never outlives its test
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        const char *argv[32] = {binary, "--port", "0"};
        int n = 3;
        for (int i = 0; args != NULL && args[i] != NULL && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        setenv("GSP_PASSWORD", "demo", 1);
        execv(binary, (char *const *)argv);
        perror(binary);
        _exit(127);
    }
    close(fd[1]);
    s->pid = pid;
    char buf[256];
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < sizeof buf - 1 && memchr(buf, '\n', got) == NULL) {
        struct pollfd p = {.fd = fd[0], .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t k = read(fd[0], buf + got, sizeof buf - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd[0]);
    buf[got] = '\0';
    const char *u = strstr(buf, "http://");
    if (u == NULL) {
        fprintf(stderr, "simproc: %s did not say where it listens (got \"%s\")\n", binary, buf);
        simproc_stop(s);
        return -1;
    }
    size_t len = strcspn(u, "\r\n");
    snprintf(s->url, sizeof s->url, "%.*s", (int)len, u);
    return 0;
}

int simproc_stop(struct simproc *s)
{
    if (s->pid <= 0)
        return 0;
    kill(s->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return 137;
}

struct body {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t k = size * nmemb;
    char *np = realloc(b->p, b->n + k + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->n, ptr, k);
    b->p = np;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

static long request(const struct simproc *s, const char *path, const char *post, struct body *out)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SIMPROC_HTTP_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out) != CURLE_OK) {
        fprintf(stderr, "simproc: libcurl refused an option\n");
        curl_easy_cleanup(c);
        return -1;
    }
    struct curl_slist *h = NULL;
    if (post != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        if (h == NULL || curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post) != CURLE_OK) {
            curl_slist_free_all(h);
            curl_easy_cleanup(c);
            return -1;
        }
    }
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "simproc: %s: %s\n", url, curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

cJSON *simproc_get_json(const struct simproc *s, const char *path)
{
    struct body b = {0};
    long st = request(s, path, NULL, &b);
    cJSON *j = st == 200 && b.p ? cJSON_Parse(b.p) : NULL;
    if (j == NULL)
        fprintf(stderr, "simproc: GET %s: status %ld, body %.200s\n", path, st, b.p ? b.p : "");
    free(b.p);
    return j;
}

int simproc_post(const struct simproc *s, const char *path, const char *json)
{
    struct body b = {0};
    long st = request(s, path, json ? json : "{}", &b);
    free(b.p);
    return (int)st;
}

long simproc_cart_qty(const struct simproc *s, const char *consultora, const char *cycle, const char *product)
{
    cJSON *st = simproc_get_json(s, "/__sim/state");
    char key[128];
    snprintf(key, sizeof key, "%s|%s", consultora, cycle);
    const cJSON *cart = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "carts"), key);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(cart, product);
    long v = cJSON_IsNumber(q) ? (long)q->valuedouble : 0;
    cJSON_Delete(st);
    return v;
}

long simproc_stat(const struct simproc *s, const char *name)
{
    cJSON *st = simproc_get_json(s, "/__sim/state");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "stats"), name);
    long r = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
    cJSON_Delete(st);
    return r;
}
