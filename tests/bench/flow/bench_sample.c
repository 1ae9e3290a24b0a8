/*
 * bench_sample.c - runs one benchmark contender and measures the CPU and memory of its whole
 * process tree, Chromium included (tests/bench/flow/run.sh).
 *
 *   bench_sample -- CMD ARGS...
 *
 * CMD runs in its own process group with its stdout on a pipe. Lines "MARK start" and "MARK end"
 * are swallowed and mark the measured window (the order loop); every other line is passed through.
 * Every 100 ms (and at each mark) /proc is scanned and the tree is recomputed: CMD, every process
 * whose parent chain reaches it, and every process in the process group of any of those (Chromium
 * re-parents helpers and Playwright starts it with setsid: its group still names it). For each
 * process (pid + start time) the largest utime+stime seen is kept, so helpers that exited between
 * samples still count up to their last sample. The window's CPU is the sum of those maxima at
 * "MARK end" minus the sum at "MARK start"; the peak RSS is the largest sum of RSS over the tree
 * seen inside the window (shared pages count once per process, as `ps` would).
 *
 * Cross-check: when CMD exits, wait4()'s rusage is the CPU of CMD and every descendant that was
 * reaped under it (Chromium reaps its helpers, CMD reaps Chromium): the whole run, exactly. It is
 * printed next to the sampled whole-run sum, so a sampling loss shows.
 *
 * Prints, after CMD's output, one JSON line: {"cpu_s", "cpu_client_s", "cpu_browser_s",
 * "peak_rss_mb", "procs", "samples", "run_cpu_sampled_s", "run_cpu_rusage_s", "leftover", "exit"}.
 * Exit status: CMD's. Processes of the tree still alive after CMD exited are killed (SIGKILL, by
 * pid) and counted in "leftover".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 8192   /* distinct processes remembered in one run */
#define MAX_PGIDS 256
#define SAMPLE_MS 100

struct proc_rec {
    pid_t pid;
    unsigned long long start; /* starttime, clock ticks after boot: tells a reused pid apart */
    unsigned long long ticks; /* max utime+stime seen */
    bool client;              /* the contender itself (not Chromium) */
    char kind[24];            /* "client", "browser" (group leader), Chromium's --type= when readable, or "helper" */
};

struct snap {
    pid_t pid, ppid, pgrp;
    unsigned long long ticks, start;
    long rss_pages;
    char state; /* R S D Z ... */
    bool tracked;
};

static struct proc_rec g_recs[MAX_PROCS];
static int g_nrecs;
static pid_t g_pgids[MAX_PGIDS];
static int g_npgids;
static pid_t g_root;
static struct snap *g_snap;
static size_t g_snap_cap;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* Reads /proc/PID/stat into *s. Returns 0, or -1 (gone, unreadable). */
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
    char *p = strrchr(buf, ')'); // comm may hold spaces and parentheses
    if (p == NULL || p[1] == '\0')
        return -1;
    // after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    // cutime cstime priority nice threads itreal starttime vsize rss
    unsigned long long f[22] = {0};
    int nf = 0;
    char *tok = p + 2;
    while (nf < 22 && tok && *tok) {
        f[nf] = nf == 0 ? 0 : strtoull(tok, NULL, 10); // [0] is the state letter
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

/* Names a process by Chromium's --type= argument; helpers that hid their command line (renderers
 * forked by the zygote) are "helper". */
static void kind_of(struct proc_rec *r, pid_t pgrp)
{
    snprintf(r->kind, sizeof r->kind, "%s", r->client ? "client" : r->pid == pgrp ? "browser" : "helper");
    if (r->client)
        return;
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)r->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0; i + 7 < k; i++) {
        if ((i == 0 || buf[i - 1] == '\0') && memcmp(buf + i, "--type=", 7) == 0) {
            snprintf(r->kind, sizeof r->kind, "%s", buf + i + 7); // NUL-terminated by cmdline
            return;
        }
    }
}

static void rec_update(const struct snap *s)
{
    for (int i = 0; i < g_nrecs; i++)
        if (g_recs[i].pid == s->pid && g_recs[i].start == s->start) {
            if (s->ticks > g_recs[i].ticks)
                g_recs[i].ticks = s->ticks;
            return;
        }
    if (g_nrecs == MAX_PROCS)
        return;
    struct proc_rec *r = &g_recs[g_nrecs++];
    *r = (struct proc_rec){.pid = s->pid, .start = s->start, .ticks = s->ticks, .client = s->pid == g_root};
    kind_of(r, s->pgrp);
}

/* One scan of /proc: updates the records and returns the tree's RSS in pages. */
static long sample(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (n == g_snap_cap) {
            size_t cap = g_snap_cap ? g_snap_cap * 2 : 1024;
            struct snap *ns = realloc(g_snap, cap * sizeof *ns);
            if (ns == NULL)
                break;
            g_snap = ns;
            g_snap_cap = cap;
        }
        if (read_stat((pid_t)pid, &g_snap[n]) == 0)
            n++;
    }
    closedir(d);
    // Fixpoint: the root, children of tracked processes, members of tracked process groups.
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            struct snap *s = &g_snap[i];
            if (s->tracked)
                continue;
            bool t = s->pid == g_root || pgid_known(s->pgrp);
            for (size_t j = 0; !t && j < n; j++)
                t = g_snap[j].tracked && g_snap[j].pid == s->ppid;
            if (t) {
                s->tracked = true;
                pgid_add(s->pgrp);
                changed = true;
            }
        }
    }
    long rss = 0;
    for (size_t i = 0; i < n; i++)
        if (g_snap[i].tracked) {
            rec_update(&g_snap[i]);
            rss += g_snap[i].rss_pages;
        }
    return rss;
}

static void totals(unsigned long long *client, unsigned long long *browser)
{
    *client = *browser = 0;
    for (int i = 0; i < g_nrecs; i++)
        *(g_recs[i].client ? client : browser) += g_recs[i].ticks;
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "usage: bench_sample -- CMD ARGS...\n");
        return 2;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("pipe");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fds[1], STDOUT_FILENO);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "bench_sample: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); // also here: no window where the group does not exist
    close(fds[1]);
    g_root = pid;
    pgid_add(pid);

    const long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    const double tick_s = 1.0 / (double)sysconf(_SC_CLK_TCK);
    unsigned long long c0 = 0, b0 = 0, c1 = 0, b1 = 0;
    int in_window = 0, samples = 0; // 0 before, 1 inside, 2 after
    long peak_rss = 0;
    char line[4096];
    size_t len = 0;
    int64_t next = now_ms();
    bool eof = false;
    while (!eof) {
        int64_t wait = next - now_ms();
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pf, 1, wait > 0 ? (int)wait : 0);
        if (pr > 0) {
            char buf[4096];
            ssize_t k = read(fds[0], buf, sizeof buf);
            if (k <= 0) {
                eof = k == 0 || errno != EINTR;
                k = 0;
            }
            for (ssize_t i = 0; i < k; i++) {
                if (buf[i] != '\n') {
                    if (len + 1 < sizeof line)
                        line[len++] = buf[i];
                    continue;
                }
                line[len] = '\0';
                len = 0;
                if (strcmp(line, "MARK start") == 0 || strcmp(line, "MARK end") == 0) {
                    long rss = sample();
                    samples++;
                    if (line[5] == 's') {
                        totals(&c0, &b0);
                        in_window = 1;
                        peak_rss = rss;
                    } else {
                        totals(&c1, &b1);
                        in_window = 2;
                    }
                    continue;
                }
                puts(line);
                fflush(stdout);
            }
        }
        if (now_ms() >= next) {
            long rss = sample();
            samples++;
            if (in_window == 1 && rss > peak_rss)
                peak_rss = rss;
            next = now_ms() + SAMPLE_MS;
        }
    }
    int status = 0;
    struct rusage ru;
    sample(); // the last look at the tree before the root is reaped
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    unsigned long long call = 0, ball = 0;
    totals(&call, &ball);
    // Anything of the tree still alive 2 s after its owner exited outlived it: end it (by pid, only
    // ours). Helpers the owner SIGKILLed are re-parented to init and may need a moment to go.
    int leftover = 0;
    for (int round = 0; round < 21; round++) {
        leftover = 0;
        for (int i = 0; i < g_nrecs; i++) {
            struct snap s;
            if (read_stat(g_recs[i].pid, &s) == 0 && s.start == g_recs[i].start && s.state != 'Z' &&
                pgid_known(s.pgrp)) {
                if (round == 20)
                    kill(g_recs[i].pid, SIGKILL);
                leftover++;
            }
        }
        if (leftover == 0)
            break;
        if (round < 20)
            usleep(100000);
    }
    // Where the CPU went over the whole run, by kind of process (stderr: for findings).
    fprintf(stderr, "bench_sample: CPU by process over the whole run:\n");
    for (int i = 0; i < g_nrecs; i++)
        if (g_recs[i].ticks > 0)
            fprintf(stderr, "  pid %-7d %-22s %8.2f s\n", (int)g_recs[i].pid, g_recs[i].kind,
                    (double)g_recs[i].ticks * tick_s);
    double ru_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                  ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    if (in_window != 2)
        fprintf(stderr, "bench_sample: no complete MARK start/end window\n");
    printf("{\"cpu_s\": %.3f, \"cpu_client_s\": %.3f, \"cpu_browser_s\": %.3f, \"peak_rss_mb\": %.1f, "
           "\"procs\": %d, \"samples\": %d, \"run_cpu_sampled_s\": %.3f, \"run_cpu_rusage_s\": %.3f, "
           "\"leftover\": %d, \"exit\": %d}\n",
           (double)(c1 + b1 - c0 - b0) * tick_s, (double)(c1 - c0) * tick_s, (double)(b1 - b0) * tick_s,
           (double)peak_rss * (double)page_kb / 1024.0, g_nrecs, samples, (double)(call + ball) * tick_s, ru_s,
           leftover, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    free(g_snap);
    if (in_window != 2)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
