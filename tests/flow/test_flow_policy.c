/* The retry policy's pieces that need no browser: the backoff delay and its jitter.
 *
 * Issue 8 #6: forked workers inherit one rand() seed, so jitter drawn from rand() would bring every
 * worker that failed together back together. flow_backoff_ms draws from the kernel (getrandom):
 * children forked one after another must not all compute the same delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "flow_run.h"

#define CHILDREN 8

static void test_backoff_jitter_differs_between_forked_workers(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    // What rand() would give every child: the parent's state, inherited by fork.
    srand(42);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            long ms = flow_backoff_ms(1000, 3);
            ssize_t w = write(fds[1], &ms, sizeof ms);
            _exit(w == (ssize_t)sizeof ms ? 0 : 1);
        }
    }
    close(fds[1]);
    long got[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        ssize_t r;
        do
            r = read(fds[0], &got[i], sizeof got[i]);
        while (r < 0 && errno == EINTR);
        assert_int_equal(r, (ssize_t)sizeof got[i]);
    }
    close(fds[0]);
    for (int i = 0; i < CHILDREN; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    bool all_equal = true;
    for (int i = 0; i < CHILDREN; i++) {
        // 1000 ms doubled twice (third failure) = 4000 ms, +-20 %.
        if (got[i] < 3200 || got[i] > 4800)
            fail_msg("child %d: backoff %ld ms, want 3200..4800", i, got[i]);
        all_equal &= got[i] == got[0];
    }
    if (all_equal)
        fail_msg("all %d forked children backed off exactly %ld ms: the jitter is inherited", CHILDREN, got[0]);
}

static void test_backoff_doubles_and_is_capped(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        long first = flow_backoff_ms(1000, 1), zero = flow_backoff_ms(1000, 0), far = flow_backoff_ms(1000, 40);
        assert_in_range(first, 800, 1200);
        assert_in_range(zero, 800, 1200);     // fewer than one failure counts as one
        assert_in_range(far, 240000, 360000); // capped at 5 minutes, +-20 %
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_jitter_differs_between_forked_workers),
        cmocka_unit_test(test_backoff_doubles_and_is_capped),
    };
    return cmocka_run_group_tests_name("flow_policy", tests, NULL, NULL);
}
