/*
 * cmd_screenshot.c - `gspbot screenshot URL -o FILE.png [--full-page] [--width W --height H]
 * [--wait-for SELECTOR] [--delay MS]`: launches the configured Chromium (CHROMIUM_PATH,
 * GSPBOT_HEADLESS), opens a fresh page of the given viewport, navigates and waits for the load
 * event (GSPBOT_TIMEOUT_MS), then for SELECTOR to be visible (if given), then for the page to
 * settle (no DOM change and no request in flight for 500 ms, at most 10 s: a page that renders
 * after load, a single-page app, would otherwise come out blank or short; still busy at the cap is
 * a warning, not an error), then MS more (if given), and writes a PNG (mode 0600) of the viewport
 * or of the whole page. Exit codes: 0 written; 1 the page could not be loaded or captured, or
 * SELECTOR never became visible; 2 bad usage (an invalid CSS selector too); 3 browser unavailable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "cdp.h"
#include "cli.h"

#define SHOT_DEFAULT_W 1280
#define SHOT_DEFAULT_H 720
#define SHOT_QUIET_MS  500    /* settled: no DOM change and no request in flight for this long */
#define SHOT_SETTLE_MS 10000  /* at most this long waiting for that (then shoot anyway) */
#define SHOT_DELAY_MAX 600000 /* ms: the longest --delay */
#define SHOT_STR_(x)   #x
#define SHOT_STR(x)    SHOT_STR_(x)

// clang-format off
#define SHOT_USAGE "screenshot URL -o FILE.png [--full-page] [--width W --height H] [--wait-for SELECTOR] [--delay MS]"
#define SHOT_OPTIONS \
    "  -o, --output FILE      PNG file to write (required; mode 0600)\n" \
    "  --full-page            capture the whole scrollable page, not only the viewport\n" \
    "  --width W              viewport width in CSS pixels (default " SHOT_STR(SHOT_DEFAULT_W) ")\n" \
    "  --height H             viewport height in CSS pixels (default " SHOT_STR(SHOT_DEFAULT_H) ")\n" \
    "  --wait-for SELECTOR    after the load event, wait until an element matching the CSS\n" \
    "                         SELECTOR is visible (up to GSPBOT_TIMEOUT_MS; never visible: exit 1)\n" \
    "  --delay MS             wait MS milliseconds more just before shooting (0.." SHOT_STR(SHOT_DELAY_MAX) ")\n" \
    "Before shooting, the page must also settle: no DOM change and no network request in flight\n" \
    "for 500 ms (content rendered after load, as single-page apps do), for at most 10 s; a page\n" \
    "still busy then is shot anyway, with a warning on stderr.\n"
// clang-format on

static void screenshot_usage(FILE *f)
{
    fputs("usage: gspbot " SHOT_USAGE "\n" SHOT_OPTIONS, f);
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* After the load event: --wait-for, settling (its cap is only a warning), --delay. */
static int screenshot_wait(struct cdp_page *p, const char *wait_for, int delay_ms, int timeout_ms)
{
    int rc;
    if (wait_for && (rc = cdp_page_wait_for(p, wait_for, NULL, CDP_STATE_VISIBLE, 0)))
        return rc;
    int cap = timeout_ms > 0 && timeout_ms < SHOT_SETTLE_MS ? timeout_ms : SHOT_SETTLE_MS;
    rc = cdp_page_wait_settled(p, SHOT_QUIET_MS, cap);
    if (rc == CDP_ERR_TIMEOUT)
        fprintf(stderr, "gspbot screenshot: warning: shooting a page that has not settled (%s)\n", cdp_page_errmsg(p));
    else if (rc)
        return rc;
    return delay_ms > 0 ? cdp_page_sleep(p, delay_ms) : 0;
}

static int cmd_screenshot(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"full-page", no_argument, NULL, 'f'},
        {"width", required_argument, NULL, 'w'},    {"height", required_argument, NULL, 'h'},
        {"wait-for", required_argument, NULL, 's'}, {"delay", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'H'},           {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *wait_for = NULL;
    bool full = false;
    int width = SHOT_DEFAULT_W, height = SHOT_DEFAULT_H, delay_ms = 0;
    optind = 0; /* GNU: full re-initialisation for this argv */
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': full = true; break;
        case 'w':
        case 'h':
            if (!parse_int(optarg, 1, 16384, c == 'w' ? &width : &height)) {
                cli_error("screenshot", "--%s: \"%s\" is not a size in pixels (1..16384)",
                          c == 'w' ? "width" : "height", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (!*optarg) {
                cli_error("screenshot", "--wait-for: empty selector");
                return EXIT_USAGE;
            }
            wait_for = optarg;
            break;
        case 'd':
            if (!parse_int(optarg, 0, SHOT_DELAY_MAX, &delay_ms)) {
                cli_error("screenshot", "--delay: \"%s\" is not a number of milliseconds (0..%d)", optarg,
                          SHOT_DELAY_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'H': screenshot_usage(stdout); return EXIT_OK;
        default: screenshot_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out || !*out) {
        screenshot_usage(stderr);
        return EXIT_USAGE;
    }
    const char *url = argv[optind];

    struct cdp_browser *b = cdp_browser_new();
    if (!b) {
        cli_error("screenshot", "out of memory");
        return EXIT_UNAVAILABLE;
    }
    struct cdp_launch_opts lo = {.chromium_path = cfg->chromium_path, .headed = !cfg->headless};
    if (cdp_browser_launch(b, &lo)) {
        cli_error("screenshot", "%s", cdp_browser_errmsg(b));
        cdp_browser_free(b);
        return EXIT_UNAVAILABLE;
    }
    struct cdp_page_opts po = {
        .timeout_ms = cfg->timeout_ms, .width = width, .height = height, .slow_mo_ms = cfg->slow_mo_ms};
    struct cdp_page *p = NULL;
    int rc = cdp_page_new(b, &po, &p);
    if (rc) {
        cli_error("screenshot", "%s", cdp_browser_errmsg(b));
        cdp_browser_free(b);
        return EXIT_UNAVAILABLE;
    }
    int status = 0, code = EXIT_OK;
    rc = cdp_page_navigate(p, url, 0, &status);
    if (!rc)
        rc = screenshot_wait(p, wait_for, delay_ms, cfg->timeout_ms);
    if (!rc)
        rc = cdp_page_screenshot(p, out, full, 0);
    if (rc) {
        cli_error("screenshot", "%s", cdp_page_errmsg(p));
        code = rc == CDP_ERR_GONE ? EXIT_UNAVAILABLE : rc == CDP_ERR_ARG ? EXIT_USAGE : 1;
    } else {
        if (status >= 400)
            fprintf(stderr, "gspbot screenshot: warning: %s answered HTTP %d\n", url, status);
        printf("%s\n", out);
    }
    cdp_page_free(p);
    cdp_browser_free(b);
    return code;
}

const struct cli_command cli_cmd_screenshot = {
    .name = "screenshot",
    .fn = cmd_screenshot,
    .usage = SHOT_USAGE,
    .summary = "PNG screenshot of a page in headless Chromium",
    .help = "Loads URL in a fresh headless Chromium page and writes a PNG of it. Exit 0 written, 1 the page\n"
            "could not be loaded or captured (or SELECTOR never became visible), 2 bad usage, 3 Chromium\n"
            "unavailable.\n" SHOT_OPTIONS,
};
