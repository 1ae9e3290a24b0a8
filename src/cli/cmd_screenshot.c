/*
 * cmd_screenshot.c - `gspbot screenshot URL -o FILE.png [--full-page] [--width W --height H]`:
 * launches the configured Chromium (CHROMIUM_PATH, GSPBOT_HEADLESS), opens a fresh page of the
 * given viewport, navigates and waits for the load event (GSPBOT_TIMEOUT_MS), and writes a PNG of
 * the viewport or of the whole page. Exit codes: 0 written; 1 the page could not be loaded or
 * captured; 2 bad usage; 3 browser unavailable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "cdp.h"
#include "cli.h"

#define SHOT_DEFAULT_W 1280
#define SHOT_DEFAULT_H 720

static void screenshot_usage(FILE *f)
{
    fprintf(f,
            "usage: gspbot screenshot URL -o FILE.png [--full-page] [--width W --height H]\n"
            "  -o, --output FILE   PNG file to write (required)\n"
            "  --full-page         capture the whole scrollable page, not only the viewport\n"
            "  --width W           viewport width in CSS pixels (default %d)\n"
            "  --height H          viewport height in CSS pixels (default %d)\n",
            SHOT_DEFAULT_W, SHOT_DEFAULT_H);
}

static bool parse_dim(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 16384)
        return false;
    *out = (int)v;
    return true;
}

static int cmd_screenshot(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"full-page", no_argument, NULL, 'f'},
        {"width", required_argument, NULL, 'w'},  {"height", required_argument, NULL, 'h'},
        {"help", no_argument, NULL, 'H'},         {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool full = false;
    int width = SHOT_DEFAULT_W, height = SHOT_DEFAULT_H;
    optind = 0; /* GNU: full re-initialisation for this argv */
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': full = true; break;
        case 'w':
        case 'h':
            if (!parse_dim(optarg, c == 'w' ? &width : &height)) {
                cli_error("screenshot", "--%s: \"%s\" is not a size in pixels (1..16384)",
                          c == 'w' ? "width" : "height", optarg);
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
        rc = cdp_page_screenshot(p, out, full, 0);
    if (rc) {
        cli_error("screenshot", "%s", cdp_page_errmsg(p));
        code = rc == CDP_ERR_GONE ? EXIT_UNAVAILABLE : 1;
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
    .usage = "screenshot URL -o FILE.png [--full-page] [--width W --height H]",
    .summary = "PNG screenshot of a page in headless Chromium",
    .help = "",
};
