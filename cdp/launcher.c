/*
 * launcher.c - starts Chromium and makes sure it never outlives its owner.
 *
 * The child gets its own process group (so the whole tree can be signalled),
 * PR_SET_PDEATHSIG=SIGKILL (so it dies with the owner's launching thread,
 * even on SIGKILL of the owner; Chromium's helpers follow their browser), a
 * fresh profile named gspbot-cdp-<ownerpid>-XXXXXX under $TMPDIR or /tmp, and
 * --remote-debugging-port=0; the endpoint is read from DevToolsActivePort
 * under the launch deadline. Chromium starts with every signal at its default
 * and none blocked (an owner started with SIGCHLD or SIGPIPE ignored must not
 * hand that on), and with an environment built from an allow-list (the
 * owner's passwords, tokens and database URL would be readable in
 * /proc/<renderer>/environ). Stopping is TERM, then KILL to the group, reap,
 * remove the profile. Profiles left by an owner that was SIGKILLed are swept
 * by the next launch on the machine (owner pid no longer alive).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdp_internal.h"

#define PROFILE_PREFIX "gspbot-cdp-"
#define POLL_US        10000 /* us between DevToolsActivePort / exit polls */
#define GRACE_MS       300   /* ms given to each polite stop (Browser.close, SIGTERM) */

static const char *const default_flags[] = {
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-hang-monitor",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-dev-shm-usage",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--remote-debugging-port=0",
};

/* The only variables Chromium gets (when the owner has them): where programs, home, temporary
 * files, locale, time zone, display and fonts are. Nothing else: no name with PASSWORD, TOKEN,
 * SECRET, DATABASE or PG in it can pass. */
static const char *const env_allowed[] = {
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "FONTCONFIG_PATH",
    "FONTCONFIG_FILE",
};
#define ENV_SLOTS        (sizeof(env_allowed) / sizeof(env_allowed[0]) + 2) /* + default PATH + NULL */
#define ENV_DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"                /* Debian's wrapper needs one */

/* Fills envp[ENV_SLOTS] with the allowed entries of the environment (borrowed pointers, the first
 * of each name), NULL-terminated. */
static void child_env(const char **envp)
{
    size_t n = 0;
    bool path = false;
    for (size_t k = 0; k < sizeof(env_allowed) / sizeof(env_allowed[0]); k++) {
        size_t len = strlen(env_allowed[k]);
        for (char **e = environ; e && *e; e++)
            if (strncmp(*e, env_allowed[k], len) == 0 && (*e)[len] == '=') {
                envp[n++] = *e;
                path |= k == 0;
                break;
            }
    }
    if (!path)
        envp[n++] = ENV_DEFAULT_PATH;
    envp[n] = NULL;
}

static const char *tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    for (int i = 0; i < 3; i++) {
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (access(path, F_OK) != 0)
            return;
        usleep(50000); /* a dying helper may still be writing; try again */
    }
}

/* Removes profiles whose owner process no longer exists. */
static void sweep_stale_profiles(void)
{
    DIR *d = opendir(tmp_base());
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, PROFILE_PREFIX, strlen(PROFILE_PREFIX)) != 0)
            continue;
        char *end;
        errno = 0;
        long pid = strtol(e->d_name + strlen(PROFILE_PREFIX), &end, 10);
        if (errno || *end != '-' || pid <= 0 || pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", tmp_base(), e->d_name);
        rm_tree(path);
    }
    closedir(d);
}

static bool executable(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static const char *find_chromium(const struct cdp_launch_opts *o, char *buf, size_t len)
{
    if (o && o->chromium_path)
        return executable(o->chromium_path) ? o->chromium_path : NULL;
    const char *env = getenv("CHROMIUM_PATH");
    if (env && *env)
        return executable(env) ? env : NULL;
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"};
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(buf, len, "/usr/bin/%s", names[i]);
        if (executable(buf))
            return buf;
        for (const char *p = path; *p;) {
            const char *c = strchr(p, ':');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            if (n && n < len) {
                snprintf(buf, len, "%.*s/%s", (int)n, p, names[i]);
                if (executable(buf))
                    return buf;
            }
            p += n + (c ? 1 : 0);
        }
    }
    return NULL;
}

/* Last non-empty line of the Chromium log, for launch errors. */
static void log_tail(const struct cdp_browser *b, char *out, size_t len)
{
    out[0] = '\0';
    char path[600];
    snprintf(path, sizeof(path), "%s/chromium.log", b->profile);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, len, "%s", line);
    }
    fclose(f);
}

/* State letter and start time (clock ticks after boot) of pid from /proc/PID/stat; false if there
 * is no such process (or no /proc). */
static bool proc_stat(pid_t pid, char *state, unsigned long long *start)
{
    char fn[64], buf[1024];
    snprintf(fn, sizeof(fn), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(fn, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
     * starttime is field 22, i.e. the 20th after the state. */
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return false;
    *state = rp[2];
    char *p = rp + 3;
    for (int field = 4; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    char *end;
    errno = 0;
    *start = p ? strtoull(p + 1, &end, 10) : 0;
    return p && !errno && end != p + 1;
}

/* Without waitpid's word (ECHILD): is our Chromium still running? Gone when kill says so, when it
 * is a zombie someone else will reap, or when the pid now belongs to a process started later. */
static bool process_alive(const struct cdp_browser *b)
{
    if (kill(b->pid, 0) != 0 && errno == ESRCH)
        return false;
    char st;
    unsigned long long start;
    if (!proc_stat(b->pid, &st, &start))
        return kill(b->pid, 0) == 0; /* no /proc: kill's word */
    if (st == 'Z' || st == 'X')
        return false;
    return !b->start_ticks || start == b->start_ticks;
}

bool cdp__process_exited(struct cdp_browser *b)
{
    if (b->pid <= 0 || b->reaped)
        return true;
    int st;
    pid_t r = waitpid(b->pid, &st, WNOHANG);
    if (r == b->pid) {
        b->reaped = true;
        b->exit_status = st;
        return true;
    }
    // ECHILD: not waitable, which does not mean gone. With SIGCHLD = SIG_IGN (or SA_NOCLDWAIT),
    // inherited from a parent, the kernel reaps our children itself; someone else's waitpid(-1)
    // may have reaped it. Ask the process itself; its exit status is then unknown (0).
    if (r < 0 && errno == ECHILD && !process_alive(b)) {
        b->reaped = true;
        b->exit_status = 0;
        return true;
    }
    return false;
}

static bool wait_exit(struct cdp_browser *b, int ms)
{
    int64_t end = cdp__now_us() + (int64_t)ms * 1000;
    while (!cdp__process_exited(b)) {
        if (cdp__now_us() >= end)
            return false;
        usleep(POLL_US / 2);
    }
    return true;
}

void cdp__process_stop(struct cdp_browser *b)
{
    if (b->pid > 0) {
        /* After Browser.close Chromium takes ~1.5 s to exit on its own; its
         * profile is thrown away, so there is nothing to wait for. */
        if (!wait_exit(b, GRACE_MS)) {
            kill(-b->pid, SIGTERM);
            if (!wait_exit(b, GRACE_MS)) {
                kill(-b->pid, SIGKILL);
                wait_exit(b, 3000);
            }
        }
        /* Helpers (renderers, GPU, network) share the group: make sure none
         * stays. They are not our children: once dead, init reaps them, so
         * there is nothing to wait for (kill(-pgid, 0) would see the zombies). */
        kill(-b->pid, SIGKILL);
        b->pid = 0;
    }
    if (b->profile[0]) {
        rm_tree(b->profile);
        b->profile[0] = '\0';
    }
}

/* Reads "PORT\n/devtools/browser/ID\n"; returns true once complete. */
static bool read_active_port(const struct cdp_browser *b, int *port, char *path, size_t pathlen)
{
    char fn[600];
    snprintf(fn, sizeof(fn), "%s/DevToolsActivePort", b->profile);
    FILE *f = fopen(fn, "r");
    if (!f)
        return false;
    char l1[32] = "", l2[256] = "";
    bool ok = fgets(l1, sizeof(l1), f) && fgets(l2, sizeof(l2), f);
    fclose(f);
    if (!ok)
        return false;
    char *end;
    errno = 0;
    long p = strtol(l1, &end, 10);
    if (errno || p <= 0 || p > 65535 || (*end != '\n' && *end != '\0'))
        return false;
    l2[strcspn(l2, "\r\n")] = '\0';
    if (strncmp(l2, "/devtools/", 10) != 0 || strlen(l2) >= pathlen)
        return false;
    *port = (int)p;
    memcpy(path, l2, strlen(l2) + 1);
    return true;
}

int cdp__launch_process(struct cdp_browser *b, const struct cdp_launch_opts *o, int64_t deadline_us, int *port,
                        char *path, size_t pathlen)
{
    char found[512];
    const char *exe = find_chromium(o, found, sizeof(found));
    if (!exe) {
        const char *asked = o && o->chromium_path ? o->chromium_path : getenv("CHROMIUM_PATH");
        if (asked && *asked)
            cdp__seterr(b->err, "launch: Chromium not found or not executable at %s", asked);
        else
            cdp__seterr(b->err, "launch: Chromium not found (set CHROMIUM_PATH; looked for chromium, "
                                "chromium-browser, google-chrome in /usr/bin and PATH)");
        return CDP_ERR_LAUNCH;
    }
    sweep_stale_profiles();
    snprintf(b->profile, sizeof(b->profile), "%s/" PROFILE_PREFIX "%ld-XXXXXX", tmp_base(), (long)getpid());
    if (!mkdtemp(b->profile)) {
        cdp__seterr(b->err, "launch: cannot create profile directory %s: %s", b->profile, strerror(errno));
        b->profile[0] = '\0';
        return CDP_ERR_LAUNCH;
    }

    /* Everything the child needs is built before fork: after fork only
     * async-signal-safe calls are allowed (the owner may have threads). */
    size_t nextra = 0;
    while (o && o->extra_args && o->extra_args[nextra])
        nextra++;
    size_t nflags = sizeof(default_flags) / sizeof(default_flags[0]);
    const char **argv = calloc(nflags + nextra + 8, sizeof(*argv));
    char udd[600];
    snprintf(udd, sizeof(udd), "--user-data-dir=%s", b->profile);
    char logfn[600];
    snprintf(logfn, sizeof(logfn), "%s/chromium.log", b->profile);
    if (!argv) {
        cdp__seterr(b->err, "launch: out of memory");
        return CDP_ERR_NOMEM;
    }
    size_t n = 0;
    argv[n++] = exe;
    if (!(o && o->headed))
        argv[n++] = "--headless";
    if (geteuid() == 0)
        argv[n++] = "--no-sandbox"; /* Chromium refuses to run sandboxed as root */
    for (size_t i = 0; i < nflags; i++)
        argv[n++] = default_flags[i];
    argv[n++] = udd;
    for (size_t i = 0; i < nextra; i++)
        argv[n++] = o->extra_args[i];
    argv[n++] = "about:blank";
    argv[n] = NULL;

    const char *envp[ENV_SLOTS];
    child_env(envp);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigset_t none;
    sigemptyset(&none);

    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int logfd = open(logfn, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* owner died before prctl took effect */
            _exit(127);
        // exec keeps ignored signals and the mask: give Chromium defaults for all (sigaction fails
        // harmlessly for SIGKILL, SIGSTOP and the C library's own), then unblock.
        for (int sig = 1; sig < NSIG; sig++)
            sigaction(sig, &dfl, NULL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        closefrom(3);
        execve(exe, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    int fork_errno = errno;
    free(argv);
    if (devnull >= 0)
        close(devnull);
    if (logfd >= 0)
        close(logfd);
    if (pid < 0) {
        cdp__seterr(b->err, "launch: fork: %s", strerror(fork_errno));
        return CDP_ERR_LAUNCH;
    }
    setpgid(pid, pid); /* also in the parent: no window where the group does not exist */
    b->pid = pid;
    b->reaped = false;
    char state;
    if (!proc_stat(pid, &state, &b->start_ticks)) /* the start time tells a reused pid apart */
        b->start_ticks = 0;

    for (;;) {
        if (read_active_port(b, port, path, pathlen))
            return 0;
        if (cdp__process_exited(b)) {
            char tail[300];
            log_tail(b, tail, sizeof(tail));
            int st = b->exit_status;
            cdp__seterr(b->err, "launch: %s %s %d before DevTools was ready%s%s", exe,
                        WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), tail[0] ? ": " : "", tail);
            return CDP_ERR_LAUNCH;
        }
        if (cdp__now_us() >= deadline_us) {
            cdp__seterr(b->err, "launch: no DevToolsActivePort from %s within the launch timeout", exe);
            return CDP_ERR_LAUNCH;
        }
        usleep(POLL_US);
    }
}
