/* Values from the spreadsheet substituted into selectors and scripts, judged by the real browser:
 * a flow's `#${order.consultora_code}` or `[data-name='${order.consultora_name}']` must select
 * exactly the element whose id or attribute is that value — leading digits, quotes, backslashes,
 * brackets, spaces and non-ASCII included — and a name substituted into an `eval` or `cart`
 * script stays inert string content whatever it holds. Our own CSS checker is not the judge here:
 * Chromium's querySelector is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdp.h"
#include "config.h"
#include "flow.h"

static struct cdp_browser *g_browser;
static struct cdp_page *g_page;

static const char *const VALUES[] = {
    "12345678", "0",   "-1",         "-",      "--x",  "-abc", "_x",        "a'b",  "a\"b", "a\\b", "a b", "x]y",
    "#id",      "1.5", "María José", "日本語", "a\tb", "a\nb", "</script>", "${x}", "`t`",  "a,b",  "a>b", "9é",
};
#define NVALUES (sizeof VALUES / sizeof VALUES[0])

static int setup(void **state)
{
    (void)state;
    g_browser = cdp_browser_new();
    if (g_browser == NULL || cdp_browser_launch(g_browser, NULL) != 0) {
        fprintf(stderr, "launch: %s\n", cdp_browser_errmsg(g_browser));
        return -1;
    }
    if (cdp_page_new(g_browser, NULL, &g_page) != 0)
        return -1;
    return cdp_page_navigate(g_page, "about:blank", 10000, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cdp_browser_free(g_browser);
    return 0;
}

/* A JSON string literal of s (caller frees). */
static char *json_str(const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return out;
}

/* Evaluates js in the page and returns its boolean result (fails the test on an error). */
static bool eval_bool(const char *js)
{
    cJSON *res = NULL;
    int rc = cdp_page_evaluate(g_page, js, 10000, &res);
    if (rc != 0)
        fail_msg("evaluate failed (%d): %s\n  script: %s", rc, cdp_page_errmsg(g_page), js);
    bool v = cJSON_IsTrue(res);
    cJSON_Delete(res);
    return v;
}

/* Builds one element per value: <div id=VALUE data-name=VALUE data-i=I>. */
static void build_page(void)
{
    char js[16384];
    size_t n = (size_t)snprintf(js, sizeof js, "document.body.innerHTML = ''; for (const [i, v] of [");
    for (size_t i = 0; i < NVALUES; i++) {
        char *lit = json_str(VALUES[i]);
        n += (size_t)snprintf(js + n, sizeof js - n, "%s[%zu, %s]", i ? ", " : "", i, lit);
        free(lit);
    }
    snprintf(js + n, sizeof js - n,
             "]) { const d = document.createElement('div'); d.id = v; d.dataset.name = v; d.dataset.i = i;"
             " d.textContent = v; document.body.appendChild(d); } true");
    assert_true(eval_bool(js));
}

/* Expands tmpl for a consultora whose code and name are v, in the CSS context, and asks Chromium
 * whether it selects exactly element i (and no other). */
static void assert_selects(const char *tmpl, size_t i)
{
    struct flow_order order = {.id = 1, .consultora_code = VALUES[i], .consultora_name = VALUES[i]};
    struct flow_vars vars = {.order = &order};
    char err[256];
    char *sel = flow_expand(tmpl, FLOW_CTX_CSS, &vars, err, sizeof err);
    if (sel == NULL)
        fail_msg("expand %s for \"%s\": %s", tmpl, VALUES[i], err);
    char *lit = json_str(sel);
    char js[2048];
    snprintf(js, sizeof js,
             "(() => { try { const m = document.querySelectorAll(%s); return m.length === 1 && m[0].dataset.i === "
             "'%zu'; } catch (e) { return false; } })()",
             lit, i);
    if (!eval_bool(js))
        fail_msg("%s with \"%s\" expanded to %s, which does not select exactly its element", tmpl, VALUES[i], sel);
    free(lit);
    free(sel);
}

static void test_css_values_select_exactly_their_element_in_chromium(void **state)
{
    (void)state;
    build_page();
    for (size_t i = 0; i < NVALUES; i++) {
        assert_selects("#${order.consultora_code}", i);
        assert_selects("div#${order.consultora_code}", i);
        assert_selects("[data-name='${order.consultora_name}']", i);
        assert_selects("[data-name=\"${order.consultora_name}\"]", i);
        assert_selects("body > [data-name=${order.consultora_name}]", i);
    }
}

static void test_leading_digit_is_escaped_as_css_escape_does(void **state)
{
    (void)state;
    struct flow_order order = {.id = 1, .consultora_code = "12345678", .consultora_name = "-1"};
    struct flow_vars vars = {.order = &order};
    char err[128];
    char *s = flow_expand("#${order.consultora_code}", FLOW_CTX_CSS, &vars, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "#\\31 2345678"); // what CSS.escape('12345678') gives
    free(s);
    s = flow_expand("#${order.consultora_name}", FLOW_CTX_CSS, &vars, err, sizeof err);
    assert_non_null(s);
    assert_string_equal(s, "#-\\31 ");
    free(s);
    // And the browser agrees with us on every value.
    for (size_t i = 0; i < NVALUES; i++) {
        struct flow_order o = {.id = 1, .consultora_code = VALUES[i], .consultora_name = VALUES[i]};
        struct flow_vars v = {.order = &o};
        char *ours = flow_expand("${order.consultora_name}", FLOW_CTX_CSS, &v, err, sizeof err);
        assert_non_null(ours);
        char *lit = json_str(VALUES[i]), *ourlit = json_str(ours);
        char js[1024];
        // CSS.escape may pick another spelling (\' where we write \27 ): compare what they mean.
        snprintf(js, sizeof js,
                 "(() => { const c = document.createElement('section'), a = document.createElement('i'); a.id = %s;"
                 " c.appendChild(a); document.body.appendChild(c);"
                 " const ok = c.querySelector('#' + CSS.escape(%s)) === a && c.querySelector('#' + %s)"
                 " === c.querySelector('#' + CSS.escape(%s)); c.remove(); return ok; })()",
                 lit, lit, ourlit, lit);
        if (!eval_bool(js))
            fail_msg("\"%s\": ours %s means something else than CSS.escape", VALUES[i], ours);
        free(lit);
        free(ourlit);
        free(ours);
    }
}

static void test_js_values_stay_string_content(void **state)
{
    (void)state;
    static const char *const NAMES[] = {
        "'); window.__pwned = 1; ('", "\"); window.__pwned = 1; (\"", "`; window.__pwned = 1; `",
        "${window.__pwned = 1}",      "\\'; window.__pwned = 1; //",  "</script><script>window.__pwned = 1</script>",
        "line\nbreak\u2028sep",       "María \"La Flaca\" O'Brien",
    };
    static const char *const TEMPLATES[] = {
        "window.__got = '${order.consultora_name}'",
        "window.__got = \"${order.consultora_name}\"",
        "window.__got = `${order.consultora_name}`",
    };
    for (size_t t = 0; t < sizeof TEMPLATES / sizeof TEMPLATES[0]; t++) {
        char why[300];
        assert_true(flow_js_vars_quoted(TEMPLATES[t], why, sizeof why));
        for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
            struct flow_order order = {.id = 1, .consultora_code = "1", .consultora_name = NAMES[i]};
            struct flow_vars vars = {.order = &order};
            char err[128];
            char *js = flow_expand(TEMPLATES[t], FLOW_CTX_JS, &vars, err, sizeof err);
            assert_non_null(js);
            assert_true(eval_bool("window.__pwned = 0; window.__got = null; true"));
            cJSON *res = NULL;
            if (cdp_page_evaluate(g_page, js, 10000, &res) != 0)
                fail_msg("%s: %s", js, cdp_page_errmsg(g_page));
            cJSON_Delete(res);
            assert_true(eval_bool("window.__pwned === 0"));
            char *lit = json_str(NAMES[i]);
            char check[512];
            snprintf(check, sizeof check, "window.__got === %s", lit);
            if (!eval_bool(check))
                fail_msg("template %s with %s did not give the name back", TEMPLATES[t], lit);
            free(lit);
            free(js);
        }
    }
}

static void test_flow_check_rejects_a_variable_outside_a_js_string(void **state)
{
    (void)state;
    char why[300];
    assert_false(flow_js_vars_quoted("f(${order.consultora_name})", why, sizeof why));
    assert_non_null(strstr(why, "${order.consultora_name} must stand inside a quoted JS string"));
    assert_false(flow_js_vars_quoted("x === ${item.quantity}", why, sizeof why));
    assert_false(flow_js_vars_quoted("// '${order.id}'\n1", why, sizeof why)); // a comment is no string
    assert_false(flow_js_vars_quoted("'a' + ${order.id} + 'b'", why, sizeof why));
    assert_true(flow_js_vars_quoted("f('${order.consultora_name}', \"${order.id}\")", why, sizeof why));
    assert_true(flow_js_vars_quoted("'it\\'s ${order.id}'", why, sizeof why));
    assert_true(flow_js_vars_quoted("Number('${item.quantity}') === 2", why, sizeof why));
    assert_true(flow_js_vars_quoted("document.title", why, sizeof why));

    // Through the parser: the action's and the cart's JSON paths are named.
    const char *flow =
        "{\"steps\": [{\"name\": \"s\", \"actions\": [{\"eval\": \"f(${order.consultora_name})\"}]},"
        " {\"name\": \"t\", \"cart\": \"[].concat(${order.id})\", \"for_each_item\": [{\"eval\": \"1\"}]}]}";
    struct flow *f = NULL;
    struct flow_diags d = {0};
    assert_int_equal(flow_parse(flow, "t.json", &f, &d), -1);
    bool eval_seen = false, cart_seen = false;
    for (size_t i = 0; i < d.n; i++) {
        eval_seen |= strcmp(d.v[i].path, "steps[0].actions[0].eval") == 0 && strstr(d.v[i].message, "quoted JS string");
        cart_seen |= strcmp(d.v[i].path, "steps[1].cart") == 0 && strstr(d.v[i].message, "quoted JS string");
    }
    flow_diags_cleanup(&d);
    assert_true(eval_seen);
    assert_true(cart_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_css_values_select_exactly_their_element_in_chromium),
        cmocka_unit_test(test_leading_digit_is_escaped_as_css_escape_does),
        cmocka_unit_test(test_js_values_stay_string_content),
        cmocka_unit_test(test_flow_check_rejects_a_variable_outside_a_js_string),
    };
    return cmocka_run_group_tests_name("flow_escape", tests, setup, teardown);
}
