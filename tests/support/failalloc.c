/* failalloc: the --wrap allocation interposer behind failalloc.h. Each __wrap_X counts the call,
 * returns NULL when it is the armed one, else calls __real_X (which the linker binds to the real
 * X). Only built into programs linked with the matching --wrap options (gspbot_failalloc() in
 * CMakeLists.txt): __real_X does not exist otherwise. */
#include "failalloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_ulong armed; /* the allocation number that fails; 0 = none */
static atomic_ulong counted;
static atomic_bool fired;

void failalloc_arm(unsigned long n)
{
    atomic_store(&armed, 0);
    atomic_store(&counted, 0);
    atomic_store(&fired, false);
    atomic_store(&armed, n);
}

void failalloc_disarm(void)
{
    atomic_store(&armed, 0);
}

unsigned long failalloc_count(void)
{
    return atomic_load(&counted);
}

bool failalloc_fired(void)
{
    return atomic_load(&fired);
}

/* Counts one allocation while armed; true when it is the one to fail. */
static bool should_fail(void)
{
    unsigned long a = atomic_load(&armed);
    if (a == 0) // disarmed: not counted either
        return false;
    unsigned long n = atomic_fetch_add(&counted, 1) + 1;
    if (n != a)
        return false;
    atomic_store(&fired, true);
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    return should_fail() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}
