/* test_flow_alloc: the flow parser with every allocation failing in turn (failalloc, house style
 * rule 6; issue 8 #7). flow_load on the shipped flows (the richest ones: frames, role targets,
 * carts, detectors, interrupts, dialogs, pop-ups) and flow_parse on a flow full of mistakes (so the
 * diagnostics allocate too): with the Nth allocation failing, for N = 1, 2, ... until a load no
 * longer reaches N, the load must fail cleanly (-1, no flow, a diagnostic saying why) and never
 * crash; the sanitizer build's LeakSanitizer checks that no error path leaks. cJSON allocates in its
 * shared library: the hooks set in main() route it through the wrapped malloc, so its allocations
 * are walked too. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "flow.h"

#define MAX_ALLOCATIONS 200000 /* a runaway guard: these flows need far fewer */

/* A flow with a mistake of most kinds the checker reports. */
static const char BROKEN[] =
    "{\"name\": \"broken\", \"base_url\": \"${order.id}\", \"timeout_ms\": 0, \"oops\": 1,"
    " \"block_urls\": [\"*.png\", 3],"
    " \"errors\": [{\"selector\": \".err\", \"class\": \"fatal\", \"steps\": [\"nope\", 4]},"
    "              {\"selector\": \"a[\", \"class\": \"sometimes\", \"outcome\": \"Bad\"}, 7],"
    " \"interrupts\": [{\"selector\": {\"role\": \"dialog\", \"name\": \"Encuesta\"},"
    "                   \"actions\": [{\"goto\": \"/x\"}, {\"click\": \"#close\", \"frame\": [\"#f\", 2]}]}],"
    " \"steps\": [{\"name\": \"login\", \"actions\": [{\"fill\": \"#u\", \"value\": \"${GSP_PASSWORD}\"},"
    "             {\"clik\": \"#b\"}, {\"click\": {\"role\": \"buton\"}}, {\"press\": \"\"},"
    "             {\"eval\": \"f(${order.consultora_name})\"}, {\"click\": \"#a\", \"text\": \"${item.quantity}\"}]},"
    "           {\"name\": \"login\", \"cart\": \"x\", \"max_per_add\": 0, \"skip_if\": {\"selector\": \"#a >\"},"
    "            \"for_each_item\": [], \"dialog_text\": 1}, 5]}";

struct diags_copy {
    size_t n;
    char text[8192];
};

static void diags_text(const struct flow_diags *d, struct diags_copy *out)
{
    out->n = d->n;
    size_t o = 0;
    out->text[0] = '\0';
    for (size_t i = 0; i < d->n && o < sizeof out->text; i++)
        o += (size_t)snprintf(out->text + o, sizeof out->text - o, "%s: %s\n", d->v[i].path, d->v[i].message);
}

static bool has_message(const struct flow_diags *d, const char *prefix)
{
    for (size_t i = 0; i < d->n; i++)
        if (strncmp(d->v[i].message, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

/* One load: flow_load(path) when path is set, else flow_parse(text). */
static int load(const char *path, const char *text, struct flow **f, struct flow_diags *d)
{
    return path != NULL ? flow_load(path, f, d) : flow_parse(text, "broken.json", f, d);
}

/* Loads with every allocation failing in turn; `want` is the result without a failure. Returns the
 * allocations a load makes. */
static unsigned long load_failing_each(const char *name, const char *path, const char *text, int want)
{
    struct flow *ref = NULL;
    struct flow_diags refd = {0};
    assert_int_equal(load(path, text, &ref, &refd), want);
    struct diags_copy want_diags;
    diags_text(&refd, &want_diags);
    flow_free(ref);
    flow_diags_cleanup(&refd);
    for (unsigned long n = 1; n < MAX_ALLOCATIONS; n++) {
        struct flow *f = NULL;
        struct flow_diags d = {0};
        failalloc_arm(n);
        int rc = load(path, text, &f, &d);
        bool fired = failalloc_fired();
        unsigned long used = failalloc_count();
        failalloc_disarm();
        if (!fired) { // the load needed fewer than n allocations: all walked
            struct diags_copy got;
            diags_text(&d, &got);
            if (rc != want || strcmp(got.text, want_diags.text) != 0)
                fail_msg("%s: no allocation failed, rc %d, diagnostics:\n%s", name, rc, got.text);
            if (want == 0)
                assert_non_null(f);
            flow_free(f);
            flow_diags_cleanup(&d);
            return used;
        }
        if (rc != -1 || f != NULL)
            fail_msg("%s: allocation %lu failed, yet the load returned %d with %s flow", name, n, rc, f ? "a" : "no");
        // Why: out of memory; or, when cJSON itself ran out (it cannot tell), "invalid JSON".
        if (!has_message(&d, "out of memory") && !has_message(&d, "invalid JSON")) {
            struct diags_copy got;
            diags_text(&d, &got);
            fail_msg("%s: allocation %lu failed, diagnostics do not say so:\n%s", name, n, got.text);
        }
        flow_diags_cleanup(&d);
    }
    fail_msg("%s: more than %d allocations", name, MAX_ALLOCATIONS);
    return 0;
}

static void run_file(const char *file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", GSPBOT_FLOWS_DIR, file);
    unsigned long n = load_failing_each(file, path, NULL, 0);
    fprintf(stderr, "  %-22s %5lu allocations, each failed in turn\n", file, n);
}

static void test_flow_load_survives_every_failed_allocation(void **state)
{
    (void)state;
    run_file("gsp-sim-modern.json");
    run_file("gsp-sim.json");
}

static void test_flow_check_survives_every_failed_allocation(void **state)
{
    (void)state;
    unsigned long n = load_failing_each("broken.json", NULL, BROKEN, -1);
    fprintf(stderr, "  %-22s %5lu allocations, each failed in turn\n", "broken.json", n);
}

int main(void)
{
    // cJSON allocates inside its shared library; hooks naming malloc here go through the wrap.
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_load_survives_every_failed_allocation),
        cmocka_unit_test(test_flow_check_survives_every_failed_allocation),
    };
    return cmocka_run_group_tests_name("flow_alloc", tests, NULL, NULL);
}
