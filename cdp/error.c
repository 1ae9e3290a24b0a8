/*
 * error.c - error codes, error text and clocks shared by the cdp files.
 * Error text is always written into the buffer of the object that failed
 * (browser or page), truncated to fit, never allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "cdp_internal.h"

const char *cdp_strerror(int code)
{
    switch (code) {
    case CDP_OK: return "ok";
    case CDP_ERR_NOMEM: return "out of memory";
    case CDP_ERR_ARG: return "bad argument";
    case CDP_ERR_LAUNCH: return "browser unavailable";
    case CDP_ERR_TIMEOUT: return "timeout";
    case CDP_ERR_GONE: return "browser gone";
    case CDP_ERR_PROTOCOL: return "protocol error";
    case CDP_ERR_JS: return "JavaScript error";
    case CDP_ERR_NAVIGATION: return "navigation failed";
    case CDP_ERR_GUARD: return "error detector matched";
    case CDP_ERR_IO: return "I/O error";
    case CDP_ERR_STOPPED: return "stopped";
    default: return "unknown error";
    }
}

int64_t cdp__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cdp__deadline(int timeout_ms, int dflt_ms)
{
    return cdp__now_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : dflt_ms) * 1000;
}

void cdp__seterr(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, CDP__ERRLEN, fmt, ap);
    va_end(ap);
}
