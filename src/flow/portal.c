/* portal: browser + page lifecycle for running orders (see portal.h). */
#include "portal.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdp.h"
#include "config.h"
#include "flow.h"
#include "flow_run.h"
#include "log.h"

struct portal {
    const struct config *cfg;
    const struct flow *flow;
    struct cdp_browser *browser;
    struct cdp_page *page;
    int orders_on_browser;
    int launches;
    bool (*interrupt)(void *arg);
    void *interrupt_arg;
};

struct portal *portal_new(const struct config *cfg, const struct flow *flow)
{
    struct portal *p = calloc(1, sizeof *p);
    if (p != NULL) {
        p->cfg = cfg;
        p->flow = flow;
    }
    return p;
}

static void close_browser(struct portal *p, const char *why)
{
    if (p->browser == NULL)
        return;
    log_debug("portal", "closing the browser (%s)", why);
    cdp_browser_free(p->browser); // frees its pages too
    p->browser = NULL;
    p->page = NULL;
    p->orders_on_browser = 0;
}

int portal_page(struct portal *p, struct cdp_page **out, char *err, size_t n)
{
    *out = NULL;
    if (p->browser != NULL && cdp_browser_is_gone(p->browser))
        close_browser(p, "it is gone");
    if (p->browser == NULL) {
        p->browser = cdp_browser_new();
        if (p->browser == NULL) {
            snprintf(err, n, "out of memory");
            return -1;
        }
        struct cdp_launch_opts lo = {.chromium_path = p->cfg->chromium_path,
                                     .headed = !p->cfg->headless,
                                     .interrupt = p->interrupt,
                                     .interrupt_arg = p->interrupt_arg};
        if (cdp_browser_launch(p->browser, &lo) != 0) {
            snprintf(err, n, "cannot start Chromium: %s", cdp_browser_errmsg(p->browser));
            cdp_browser_free(p->browser);
            p->browser = NULL;
            return -1;
        }
        p->launches++;
        log_debug("portal", "Chromium %s started (pid %d)", cdp_browser_version(p->browser),
                  (int)cdp_browser_pid(p->browser));
    }
    if (p->page == NULL) {
        struct cdp_page_opts po;
        flow_page_opts(p->flow, p->cfg, &po);
        if (cdp_page_new(p->browser, &po, &p->page) != 0) {
            snprintf(err, n, "cannot open a page: %s", cdp_browser_errmsg(p->browser));
            p->page = NULL;
            close_browser(p, "no page could be opened");
            return -1;
        }
    }
    *out = p->page;
    return 0;
}

void portal_after_failure(struct portal *p)
{
    if (p->browser != NULL && cdp_browser_is_gone(p->browser)) {
        close_browser(p, "it is gone");
        return;
    }
    cdp_page_free(p->page);
    p->page = NULL;
}

long portal_browser_rss_mb(const struct portal *p)
{
    if (p->browser == NULL)
        return 0;
    pid_t pgid = cdp_browser_pid(p->browser);
    if (pgid <= 0)
        return 0;
    // Every process of Chromium's process group: the browser, its zygotes, renderers, GPU/utility.
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    long pages = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        // Fields after the ")" that closes comm: state ppid pgrp ... (rss is field 24).
        char *rp = strrchr(buf, ')');
        if (rp == NULL)
            continue;
        long fields[24] = {0};
        int nf = 0;
        for (char *tok = rp + 2; *tok != '\0' && nf < 24;) {
            fields[nf++] = strtol(tok, &end, 10);
            tok = strchr(tok, ' ');
            if (tok == NULL)
                break;
            tok++;
        }
        // fields[0] is the state letter (parsed as 0), [2] pgrp, [21] rss in pages.
        if (nf >= 22 && fields[2] == pgid)
            pages += fields[21];
    }
    closedir(d);
    return pages * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

void portal_order_done(struct portal *p)
{
    p->orders_on_browser++;
    if (p->browser == NULL)
        return;
    if (p->orders_on_browser >= p->cfg->max_orders_per_browser) {
        close_browser(p, "GSPBOT_MAX_ORDERS_PER_BROWSER reached");
        return;
    }
    long rss = portal_browser_rss_mb(p);
    if (rss > p->cfg->max_browser_rss_mb) {
        log_info("portal", "Chromium uses %ld MiB (> GSPBOT_MAX_BROWSER_RSS_MB %d): relaunching", rss,
                 p->cfg->max_browser_rss_mb);
        close_browser(p, "memory limit");
    }
}

void portal_set_interrupt(struct portal *p, bool (*interrupt)(void *arg), void *arg)
{
    p->interrupt = interrupt;
    p->interrupt_arg = arg;
}

int portal_launches(const struct portal *p)
{
    return p->launches;
}

void portal_free(struct portal *p)
{
    if (p == NULL)
        return;
    close_browser(p, "done");
    free(p);
}
