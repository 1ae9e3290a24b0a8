/* test_loader_alloc: every allocation of a read, made to fail in turn (failalloc, house style rule
 * 6). For the CSV, XLSX and JSON readers on small inputs (valid ones, and ones with errors and
 * warnings so the issue lists allocate too), and for the JSON summary: with the Nth allocation
 * failing, for N = 1, 2, ... until a read no longer reaches N, the load must report out of memory
 * (LDR_ENOMEM, "out of memory") and never crash; the sanitizer build's LeakSanitizer checks that no
 * error path leaks. Allocations inside libzip are out of reach (a shared library without hooks);
 * expat's go through the loader's malloc (XML_ParserCreate_MM) and cJSON's through the hooks set
 * below, so both are walked. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "loader.h"

#define MAX_ALLOCATIONS 200000 /* a read of these small inputs needs far fewer: a runaway guard */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Reads `data` as `name` with every allocation failing in turn; `want` is the result without a
 * failure (0, or LDR_EINVALID for an input with errors). A failed allocation must make the read
 * return LDR_ENOMEM, except that an input with errors may still be refused for the same reason
 * (invalid JSON stays invalid when cJSON also ran out of memory). Returns the allocations a read
 * makes. */
static unsigned long read_failing_each(const char *name, const void *data, size_t len, const char *sheet, int want)
{
    char want_msg[1024] = "";
    for (unsigned long n = 1; n < MAX_ALLOCATIONS; n++) {
        struct ldr_options opt;
        ldr_options_init(&opt);
        opt.sheet = sheet;
        failalloc_arm(n);
        struct ldr_load *ld = ldr_load_new(&opt);
        int rc = ld ? ldr_load_read_buffer(ld, name, data, len, LDR_FORMAT_AUTO) : LDR_ENOMEM;
        bool fired = failalloc_fired();
        unsigned long used = failalloc_count();
        failalloc_disarm();
        if (!fired) { // the read needed fewer than n allocations: all walked
            if (rc != want)
                fail_msg("%s: no allocation failed, rc %d (%s), want %d", name, rc, ld ? ldr_load_errmsg(ld) : "",
                         want);
            ldr_load_free(ld);
            return used;
        }
        if (rc == want && want != 0) {
            if (want_msg[0] == '\0') { // the message without a failure, once
                struct ldr_load *ref = ldr_load_new(&opt);
                assert_int_equal(ldr_load_read_buffer(ref, name, data, len, LDR_FORMAT_AUTO), want);
                snprintf(want_msg, sizeof want_msg, "%s", ldr_load_errmsg(ref));
                ldr_load_free(ref);
            }
            assert_string_equal(ldr_load_errmsg(ld), want_msg);
        } else if (rc != LDR_ENOMEM) {
            fail_msg("%s: allocation %lu failed, rc %d (%s), want LDR_ENOMEM", name, n, rc,
                     ld ? ldr_load_errmsg(ld) : "");
        } else if (ld != NULL) {
            assert_string_equal(ldr_load_errmsg(ld), "out of memory");
        }
        ldr_load_free(ld);
    }
    fail_msg("%s: more than %d allocations", name, MAX_ALLOCATIONS);
    return 0;
}

/* The JSON summary of a read load, with every allocation failing in turn: NULL, or the whole. */
static void summary_failing_each(const char *name, const void *data, size_t len)
{
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_non_null(ld);
    int rc = ldr_load_read_buffer(ld, name, data, len, LDR_FORMAT_AUTO);
    assert_true(rc == 0 || rc == LDR_EINVALID);
    char *whole = ldr_load_summary_json(ld, 7);
    assert_non_null(whole);
    for (unsigned long n = 1; n < MAX_ALLOCATIONS; n++) {
        failalloc_arm(n);
        char *s = ldr_load_summary_json(ld, 7);
        bool fired = failalloc_fired();
        failalloc_disarm();
        if (!fired) {
            assert_non_null(s);
            assert_string_equal(s, whole);
            free(s);
            break;
        }
        if (s != NULL)
            fail_msg("%s: summary allocation %lu failed, yet a summary came back: %s", name, n, s);
    }
    free(whole);
    ldr_load_free(ld);
}

static void run_text(const char *name, const char *text, const char *sheet, int want)
{
    unsigned long n = read_failing_each(name, text, strlen(text), sheet, want);
    fprintf(stderr, "  %-22s %5lu allocations, each failed in turn\n", name, n);
    summary_failing_each(name, text, strlen(text));
}

static void run_fixture(const char *name, const char *sheet, int want)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", LOADER_FIXTURES, name);
    size_t len;
    char *data = slurp(path, &len);
    unsigned long n = read_failing_each(name, data, len, sheet, want);
    fprintf(stderr, "  %-22s %5lu allocations, each failed in turn%s%s\n", name, n, sheet ? ", sheet " : "",
            sheet ? sheet : "");
    summary_failing_each(name, data, len);
    free(data);
}

static void test_csv_reader_survives_every_failed_allocation(void **state)
{
    (void)state;
    // Quotes, a BOM, CRLF, a blank line, an unused column, a repeated product, a differing name.
    run_text("orders.csv",
             "\xEF\xBB\xBF"
             "consultora_code,consultora_name,product_code,quantity,notas\r\n"
             "100,\"Pérez, Ana\",80901,2,x\r\n\r\n"
             "200,Bea,80902,1,\r\n"
             "100,\"Pérez, Ana María\",80901,3,\"a \"\"b\"\"\nc\"\r\n",
             NULL, 0);
    run_text("sep.csv", "sep=;\nconsultora_code;product_code;quantity\n100;1;2\n", NULL, 0);
    run_text("errors.csv", "consultora_code,product_code,quantity\n100,1,dos\n,2,1\n300,ABCDEFGHIJKLMNOPQRSTUV,0\n",
             NULL, LDR_EINVALID);
    run_text("unclosed.csv", "consultora_code,product_code,quantity\n100,\"1,2\n", NULL, LDR_EINVALID);
    run_text("sheet.csv", "consultora_code,product_code,quantity\n100,1,2\n", "Hoja1", LDR_EINVALID);
    run_fixture("cp1252_semicolon.csv", NULL, 0); // Windows-1252: converted first
}

static void test_xlsx_reader_survives_every_failed_allocation(void **state)
{
    (void)state;
    run_fixture("libreoffice.xlsx", NULL, 0);
    run_fixture("libreoffice.xlsx", "pedidos mayo", 0);
    run_fixture("libreoffice.xlsx", "Junio", LDR_EINVALID); // no such sheet
}

static void test_json_reader_survives_every_failed_allocation(void **state)
{
    (void)state;
    run_text("orders.json",
             "{\"name\": \"Campaña 7\", \"orders\": [{\"consultora_code\": 12345678, \"consultora_name\": \"Ana\", "
             "\"products\": [{\"product_code\": \"80901\", \"quantity\": 2}, {\"codigo_producto\": 80902, "
             "\"cantidad\": \"3\"}]}, {\"consultora_code\": \"X-1\", \"products\": [{\"product_code\": \"1\", "
             "\"quantity\": 1}]}]}",
             NULL, 0);
    run_text("errors.json",
             "{\"orders\": [{\"consultora_code\": \"X-1\", \"products\": [{\"product_code\": \"1\", \"quantity\": "
             "1.5}]}, {\"consultora_code\": \"X-2\", \"products\": []}, 7]}",
             NULL, LDR_EINVALID);
    run_text("bad.json", "{\"orders\": [1, 2", NULL, LDR_EINVALID);
}

/* The syntax check behind "out of memory" versus "not valid JSON" (json.c) must refuse whatever
 * the cJSON linked refuses when memory suffices: such a file must read as "not valid JSON". */
static void test_json_invalid_text_is_never_out_of_memory(void **state)
{
    (void)state;
    static const char *const TEXTS[] = {
        "",
        "   ",
        "{\"orders\": [1, 2",
        "{\"orders\": [1,]}",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "{\"a\": \"\\uDC00\"}",  // a lone low surrogate
        "{\"a\": \"\\uD800x\"}", // a high one without its pair
        "{\"a\": \"\\uD800\\u0041\"}",
        "{\"a\": \"\\q\"}", // no such escape
        "{\"a\": \"abc}",
        "{\"a\": \"abc\\",
        "{\"a\": -}",
        "{\"a\": tru}",
        "{\"a\": 1e}",
        "{\"a\": [}",
        "{\"a\": 12345678901234567890123456789012345678901234567890123456789012345678901234567890x}",
        // cJSON before 1.7.18 reads a number through a 64-byte buffer and refuses longer ones.
        "{\"a\": 12345678901234567890123456789012345678901234567890123456789012345678901234567890}",
    };
    size_t refused = 0;
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        const char *end;
        cJSON *root = cJSON_ParseWithLengthOpts(TEXTS[i], strlen(TEXTS[i]), &end, 0);
        cJSON_Delete(root);
        struct ldr_load *ld = ldr_load_new(NULL);
        int rc = ldr_load_read_buffer(ld, "t.json", TEXTS[i], strlen(TEXTS[i]), LDR_FORMAT_JSON);
        if (root == NULL) {
            refused++;
            assert_int_equal(rc, LDR_EINVALID);
            const struct ldr_issue *is = ldr_load_error(ld, 0);
            assert_non_null(is);
            if (strncmp(is->message, "not valid JSON", 14) != 0)
                fail_msg("%s: %s", TEXTS[i], is->message);
        }
        ldr_load_free(ld);
    }
    assert_true(refused >= sizeof TEXTS / sizeof *TEXTS - 1);
    // Nesting: cJSON takes 1000 levels, not 1001.
    for (int depth = 1000; depth <= 1001; depth++) {
        char *s = malloc(2 * (size_t)depth + 40);
        assert_non_null(s);
        int k = snprintf(s, 40, "{\"orders\": ");
        for (int i = 1; i < depth; i++)
            s[k++] = '[';
        for (int i = 1; i < depth; i++)
            s[k++] = ']';
        s[k++] = '}';
        struct ldr_load *ld = ldr_load_new(NULL);
        assert_int_equal(ldr_load_read_buffer(ld, "deep.json", s, (size_t)k, LDR_FORMAT_JSON), LDR_EINVALID);
        assert_string_equal(ldr_issue_format(ldr_load_error(ld, 0), s, 2 * (size_t)depth + 40),
                            depth == 1000 ? "deep.json:orders[0]: not an object"
                                          : "deep.json: not valid JSON (line 1)");
        ldr_load_free(ld);
        free(s);
    }
}

int main(void)
{
    // cJSON allocates inside its shared library; hooks naming malloc here go through the wrap.
    cJSON_Hooks hooks = {.malloc_fn = malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_reader_survives_every_failed_allocation),
        cmocka_unit_test(test_xlsx_reader_survives_every_failed_allocation),
        cmocka_unit_test(test_json_reader_survives_every_failed_allocation),
        cmocka_unit_test(test_json_invalid_text_is_never_out_of_memory),
    };
    return cmocka_run_group_tests_name("loader_alloc", tests, NULL, NULL);
}
