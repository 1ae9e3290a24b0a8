/* failalloc: fault injection for test programs, after SQLite's "fail the Nth malloc": a test arms it
 * with N, and the Nth allocation from then on returns NULL, so a parser's every out-of-memory path
 * can be walked (house style rule 6). The usual loop:
 *
 *     for (unsigned long n = 1;; n++) {
 *         failalloc_arm(n);
 *         int rc = parse(input);                  // must fail cleanly or succeed, never crash or leak
 *         bool fired = failalloc_fired();
 *         failalloc_disarm();
 *         ... assert rc is 0 or out-of-memory ...
 *         if (!fired) break;                      // the parse needed fewer than n allocations: done
 *     }
 *
 * How: the linker's --wrap. A test program linked with
 *
 *     gspbot_failalloc(test_x)        # tests/support/CMakeLists.txt: links this library and adds
 *                                     # -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 *                                     #         --wrap=strdup,--wrap=strndup
 *
 * has every call to those five functions from its own objects and from the static libraries it
 * links (loader, buf, ...) go through __wrap_malloc & co. here, which count, fail when told, and
 * otherwise call the real function (__real_malloc: libc's, or the sanitizer's under ASan). free is
 * not wrapped. Calls made inside shared libraries (libc itself, libzip, expat, cJSON) are not
 * seen: reach them through their allocator hooks set to malloc/realloc/free in code that is
 * wrapped (cJSON_InitHooks from the test; expat's XML_ParserCreate_MM with a suite naming malloc,
 * realloc and free, as loader/xlsx.c does). Only link this into a program of its own (ctest
 * target): the wraps apply to the whole executable.
 *
 * Contract:
 * - Counting starts at failalloc_arm() and stops at failalloc_disarm(); allocations are numbered
 *   from 1 (the first call after arming is number 1). Only the Nth fails (returns NULL, errno
 *   ENOMEM; realloc leaves the old block untouched); the ones after it succeed again. Disarmed,
 *   nothing fails (the initial state).
 * - Every allocation function counts once per call, whatever the size (malloc(0), realloc(p, 0)
 *   and strdup("") included).
 * - Counters are atomic, so threads do not corrupt them; which thread's call is the Nth is up to
 *   the scheduler: arm only around single-threaded code.
 * - Works with gcc and clang, with or without AddressSanitizer (LeakSanitizer then reports any
 *   block an error path forgot to free when the program exits). */
#ifndef GSPBOT_FAILALLOC_H
#define GSPBOT_FAILALLOC_H

#include <stdbool.h>

/* Makes the nth allocation from now fail (n >= 1; 0 = disarm) and resets the count and the fired
 * flag. */
void failalloc_arm(unsigned long n);

/* No allocation fails any more, and none is counted: the count and the fired flag keep their
 * values until the next arm. */
void failalloc_disarm(void);

/* Allocations made between the last failalloc_arm() and failalloc_disarm() (the failed one
 * included). */
unsigned long failalloc_count(void);

/* True when the armed failure has happened since the last failalloc_arm(). */
bool failalloc_fired(void);

#endif
