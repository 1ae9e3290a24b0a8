/*
 * test_cdp_lifecycle.c - Chromium never outlives its owner: launch/close
 * cycles leave no process, zombie child or profile behind; an owner killed
 * with SIGKILL takes its Chromium with it, and the next launch sweeps the
 * profile it left.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "cdp.h"

/* 100 in the normal build; the sanitizer build runs fewer (GSPBOT_LIFECYCLE_CYCLES): the same code
 * paths, and a leak shows in one cycle as well as in a hundred. */
#ifndef GSPBOT_LIFECYCLE_CYCLES
#define GSPBOT_LIFECYCLE_CYCLES 100
#endif
#define CYCLES GSPBOT_LIFECYCLE_CYCLES

/* Process state letter from /proc/PID/stat, or 0 if there is no such process. */
static char proc_state(pid_t pid)
{
    char fn[64], buf[512];
    snprintf(fn, sizeof(fn), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(fn, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* Live (non-zombie) processes whose command line mentions needle. */
static int live_with_arg(const char *needle)
{
    DIR *d = opendir("/proc");
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char fn[64], buf[8192];
        snprintf(fn, sizeof(fn), "/proc/%ld/cmdline", pid);
        FILE *f = fopen(fn, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[n] = '\0';
        char st = proc_state((pid_t)pid);
        if (strstr(buf, needle) && st && st != 'Z')
            count++;
    }
    closedir(d);
    return count;
}

static int profiles_of(pid_t owner)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "gspbot-cdp-%d-", (int)owner);
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    DIR *d = opendir(tmp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_launch_close_cycles_leave_nothing_behind(void **state)
{
    (void)state;
    char needle[64];
    snprintf(needle, sizeof(needle), "gspbot-cdp-%d-", (int)getpid());
    for (int i = 0; i < CYCLES; i++) {
        struct cdp_browser *b = cdp_browser_new();
        int rc = cdp_browser_launch(b, NULL);
        if (rc)
            fail_msg("cycle %d: launch: %s", i, cdp_browser_errmsg(b));
        pid_t pid = cdp_browser_pid(b);
        if (i % 10 == 0) { /* some cycles also open a page */
            struct cdp_page *p = NULL;
            if (cdp_page_new(b, NULL, &p))
                fail_msg("cycle %d: page: %s", i, cdp_browser_errmsg(b));
            cdp_page_free(p);
        }
        cdp_browser_free(b);
        /* our child is reaped: no zombie of ours */
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        char st = proc_state(pid);
        if (st && st != 'Z')
            fail_msg("cycle %d: Chromium %d still alive (state %c)", i, (int)pid, st);
        /* helpers got SIGKILL from cdp_browser_free; give the kernel a moment (up to 5 s: the
         * property is "they die", not how fast on a loaded machine) */
        int live = 1;
        for (int k = 0; k < 250 && (live = live_with_arg(needle)); k++)
            usleep(20000);
        if (live)
            fail_msg("cycle %d: %d Chromium helper(s) still alive", i, live);
        assert_int_equal(profiles_of(getpid()), 0);
    }
    /* nothing that is our child at all */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static void test_owner_sigkill_takes_chromium_down(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t owner = fork();
    if (owner == 0) {
        close(fds[0]);
        struct cdp_browser *b = cdp_browser_new();
        if (cdp_browser_launch(b, NULL))
            _exit(3);
        pid_t pid = cdp_browser_pid(b);
        if (write(fds[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(4);
        pause(); /* until SIGKILLed */
        _exit(0);
    }
    close(fds[1]);
    pid_t chromium = 0;
    assert_int_equal(read(fds[0], &chromium, sizeof(chromium)), sizeof(chromium));
    close(fds[0]);
    assert_true(chromium > 0);
    char needle[64];
    snprintf(needle, sizeof(needle), "gspbot-cdp-%d-", (int)owner);
    assert_true(live_with_arg(needle) > 0);
    assert_int_equal(profiles_of(owner), 1);
    kill(owner, SIGKILL);
    assert_int_equal(waitpid(owner, NULL, 0), owner);
    /* PR_SET_PDEATHSIG kills the browser; its helpers follow it */
    int live = 1;
    for (int i = 0; i < 200 && (live = live_with_arg(needle)); i++) /* up to 10 s */
        usleep(50000);
    assert_int_equal(live, 0);
    /* the next launch on this machine sweeps the orphaned profile */
    struct cdp_browser *b = cdp_browser_new();
    if (cdp_browser_launch(b, NULL))
        fail_msg("launch: %s", cdp_browser_errmsg(b));
    assert_int_equal(profiles_of(owner), 0);
    cdp_browser_free(b);
}

int main(void)
{
    lws_set_log_level(LLL_ERR, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_sigkill_takes_chromium_down),
        cmocka_unit_test(test_launch_close_cycles_leave_nothing_behind),
    };
    return cmocka_run_group_tests_name("cdp_lifecycle", tests, NULL, NULL);
}
