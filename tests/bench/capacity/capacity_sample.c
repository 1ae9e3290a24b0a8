/*
 * capacity_sample.c - the time series behind tests/bench/capacity/run.sh: every INTERVAL ms, each
 * process of one tree (gspbot run, its workers, each worker's Chromium and its helpers), with its
 * CPU ticks, RSS and PSS, so the report can tell one worker from one Chromium and take the CPU of
 * the steady part of a run (bench_sample measures the whole run; this adds per-process memory).
 *
 *   capacity_sample [-i MS (500)] ROOT_PID
 *
 * The tree is ROOT_PID, every process whose parent chain reaches it, and every member of the process
 * group of any of those (gspbot's launcher starts Chromium in a group of its own, whose helpers may
 * be re-parented); the sampler's own group is never followed. Writes to stdout, until ROOT_PID is
 * gone or a zombie:
 *   T <CLOCK_REALTIME ms>
 *   P <pid> <ppid> <pgrp> <starttime ticks> <utime+stime ticks> <rss kB> <pss kB or -1> <comm>
 * (comm with spaces replaced by '_'). PSS comes from /proc/PID/smaps_rollup (-1 when unreadable).
 * Exit status 0, or 2 on a usage error.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PGIDS 256

struct snap {
    pid_t pid, ppid, pgrp;
    unsigned long long ticks, start;
    long rss_pages;
    char state;
    bool tracked;
    char comm[32];
};

static struct snap *g_snap;
static size_t g_cap;
static pid_t g_pgids[MAX_PGIDS];
static int g_npgids;

static bool pgid_known(pid_t g)
{
    for (int i = 0; i < g_npgids; i++)
        if (g_pgids[i] == g)
            return true;
    return false;
}

static void pgid_add(pid_t g)
{
    if (g > 0 && g != getpgrp() && !pgid_known(g) && g_npgids < MAX_PGIDS)
        g_pgids[g_npgids++] = g;
}

static int read_stat(pid_t pid, struct snap *s)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
        return -1;
    buf[k] = '\0';
    char *open_paren = strchr(buf, '(');
    char *p = strrchr(buf, ')'); // comm may hold spaces and parentheses
    if (open_paren == NULL || p == NULL || p < open_paren || p[1] == '\0')
        return -1;
    size_t cl = (size_t)(p - open_paren - 1);
    if (cl >= sizeof s->comm)
        cl = sizeof s->comm - 1;
    memcpy(s->comm, open_paren + 1, cl);
    s->comm[cl] = '\0';
    for (char *c = s->comm; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n')
            *c = '_';
    unsigned long long f[22] = {0};
    int nf = 0;
    char *tok = p + 2;
    while (nf < 22 && tok && *tok) {
        f[nf] = nf == 0 ? 0 : strtoull(tok, NULL, 10);
        nf++;
        tok = strchr(tok, ' ');
        if (tok)
            tok++;
    }
    if (nf < 22)
        return -1;
    s->pid = pid;
    s->state = p[2];
    s->ppid = (pid_t)f[1];
    s->pgrp = (pid_t)f[2];
    s->ticks = f[11] + f[12];
    s->start = f[19];
    s->rss_pages = (long)f[21];
    s->tracked = false;
    return 0;
}

static long pss_kb(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
        return -1;
    buf[k] = '\0';
    char *p = strstr(buf, "\nPss:");
    return p ? strtol(p + 5, NULL, 10) : -1;
}

static int64_t now_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One scan of /proc; prints the tree. Returns false once the root is gone. */
static bool sample(pid_t root, long page_kb)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return false;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (n == g_cap) {
            size_t cap = g_cap ? g_cap * 2 : 1024;
            struct snap *ns = realloc(g_snap, cap * sizeof *ns);
            if (ns == NULL)
                break;
            g_snap = ns;
            g_cap = cap;
        }
        if (read_stat((pid_t)pid, &g_snap[n]) == 0)
            n++;
    }
    closedir(d);
    bool root_alive = false;
    for (size_t i = 0; i < n; i++)
        if (g_snap[i].pid == root && g_snap[i].state != 'Z')
            root_alive = true;
    if (!root_alive)
        return false;
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            struct snap *s = &g_snap[i];
            if (s->tracked)
                continue;
            bool t = s->pid == root || pgid_known(s->pgrp);
            for (size_t j = 0; !t && j < n; j++)
                t = g_snap[j].tracked && g_snap[j].pid == s->ppid;
            if (t) {
                s->tracked = true;
                pgid_add(s->pgrp);
                changed = true;
            }
        }
    }
    printf("T %lld\n", (long long)now_realtime_ms());
    for (size_t i = 0; i < n; i++) {
        const struct snap *s = &g_snap[i];
        if (!s->tracked || s->state == 'Z')
            continue;
        printf("P %d %d %d %llu %llu %ld %ld %s\n", (int)s->pid, (int)s->ppid, (int)s->pgrp, s->start, s->ticks,
               s->rss_pages * page_kb, pss_kb(s->pid), s->comm);
    }
    fflush(stdout);
    return true;
}

int main(int argc, char **argv)
{
    int interval = 500;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "-i") == 0) {
        interval = (int)strtol(argv[a + 1], NULL, 10);
        a += 2;
    }
    if (a + 1 != argc || interval <= 0) {
        fprintf(stderr, "usage: capacity_sample [-i MS] ROOT_PID\n");
        return 2;
    }
    pid_t root = (pid_t)strtol(argv[a], NULL, 10);
    if (root <= 0) {
        fprintf(stderr, "capacity_sample: bad pid %s\n", argv[a]);
        return 2;
    }
    const long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    while (sample(root, page_kb)) {
        struct timespec ts = {interval / 1000, (long)(interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(g_snap);
    return 0;
}
