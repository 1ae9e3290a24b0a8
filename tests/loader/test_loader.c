/* test_loader: the loader against its contract (loader/README.md, README "Preparing the spreadsheet"): the CSV reader
 * on csv-spectrum (tests/loader/fixtures), Windows-1252, delimiters and Excel's "sep=;" line; every
 * validation rule with its exact message, and ldr_code_valid; grouping; XLSX written by LibreOffice
 * (committed fixture) and by libxlsxwriter (generated here), a 200k-row sheet within a memory
 * bound, zip bombs (built here with libzip, honest and lying about their sizes), the sheet list
 * when the first sheet is not the orders; --sheet on a CSV or JSON; JSON; formats that are not
 * read; URLs from a loopback server; and writing to a real PostgreSQL (GSPBOT_TEST_PG): all or
 * nothing, duplicates, --skip-invalid, dry runs. Out-of-memory paths: test_loader_alloc.c. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

#include <cmocka.h>

#include "http_stub.h"
#include "ldr_internal.h"
#include "loader.h"
#include "testdb.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- helpers ---- */

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
    if (len)
        *len = (size_t)n;
    return b;
}

static struct ldr_load *read_text(const char *name, const char *text, const struct ldr_options *opt, int want_rc)
{
    struct ldr_load *ld = ldr_load_new(opt);
    assert_non_null(ld);
    int rc = ldr_load_read_buffer(ld, name, text, strlen(text), LDR_FORMAT_AUTO);
    if (rc != want_rc) {
        char line[2200];
        for (size_t i = 0; i < ldr_load_errors_listed(ld); i++)
            fprintf(stderr, "  error: %s\n", ldr_issue_format(ldr_load_error(ld, i), line, sizeof line));
        fail_msg("read %s: rc %d, expected %d (%s)", name, rc, want_rc, ldr_load_errmsg(ld));
    }
    return ld;
}

static const char *err_line(const struct ldr_load *ld, size_t i, char *buf, size_t n)
{
    const struct ldr_issue *is = ldr_load_error(ld, i);
    assert_non_null(is);
    return ldr_issue_format(is, buf, n);
}

static const char *warn_line(const struct ldr_load *ld, size_t i, char *buf, size_t n)
{
    const struct ldr_issue *is = ldr_load_warning(ld, i);
    assert_non_null(is);
    return ldr_issue_format(is, buf, n);
}

static PGconn *connect_db(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static long count(const char *ci, const char *sql)
{
    char *v = testdb_query_value(ci, sql);
    assert_non_null(v);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

static void assert_db_empty(const char *ci)
{
    assert_int_equal(count(ci, "SELECT count(*) FROM batches"), 0);
    assert_int_equal(count(ci, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(count(ci, "SELECT count(*) FROM order_items"), 0);
}

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* ---- CSV reader ---- */

struct rows {
    cJSON *arr;
    cJSON *header;
};

static int collect(void *ctx, const struct ldr__row *row)
{
    struct rows *r = ctx;
    if (r->header == NULL) {
        r->header = cJSON_CreateArray();
        for (size_t i = 0; i < row->n; i++)
            cJSON_AddItemToArray(r->header, cJSON_CreateString(row->field[i]));
        return 0;
    }
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < row->n; i++) {
        // Field bytes may hold a NUL-free copy only; compare the length too.
        assert_int_equal(strlen(row->field[i]), row->len[i]);
        cJSON_AddStringToObject(o, cJSON_GetArrayItem(r->header, (int)i)->valuestring, row->field[i]);
    }
    cJSON_AddItemToArray(r->arr, o);
    return 0;
}

static void test_csv_spectrum_every_file_parses_to_its_json(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/csv-spectrum/csvs", LOADER_FIXTURES);
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("csv-spectrum corpus missing at %s", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".csv") != 0)
            continue;
        char p[1200], jp[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        snprintf(jp, sizeof jp, "%s/csv-spectrum/json/%.*s.json", LOADER_FIXTURES, (int)(l - 4), e->d_name);
        size_t n;
        char *csv = slurp(p, &n), *js = slurp(jp, NULL);
        struct rows r = {.arr = cJSON_CreateArray()};
        char err[256] = "";
        unsigned long eline = 0;
        assert_int_equal(
            ldr__csv_parse(csv, n, ldr__csv_detect_delimiter(csv, n), collect, &r, err, sizeof err, &eline), 0);
        cJSON *want = cJSON_Parse(js);
        assert_non_null(want);
        if (cJSON_IsObject(want)) { // upstream's location_coordinates.json is one object, not a list
            cJSON *a = cJSON_CreateArray();
            cJSON_AddItemToArray(a, want);
            want = a;
        }
        if (strcmp(e->d_name, "location_coordinates.csv") == 0) {
            // Known upstream erratum (csv-spectrum 2.0.0): the JSON says "1234567890" where the CSV
            // has 2095257564. We check the CSV's value here, and that the erratum is still there, so
            // this exception goes away if the corpus is fixed.
            cJSON *o = cJSON_GetArrayItem(want, 0);
            assert_string_equal(cJSON_GetObjectItem(o, "Contact Phone Number")->valuestring, "1234567890");
            cJSON_ReplaceItemInObject(o, "Contact Phone Number", cJSON_CreateString("2095257564"));
        }
        if (!cJSON_Compare(want, r.arr, /* case_sensitive= */ 1)) {
            char *got = cJSON_Print(r.arr);
            fail_msg("%s: got %s, want %s", e->d_name, got, js);
        }
        cJSON_Delete(want);
        cJSON_Delete(r.arr);
        cJSON_Delete(r.header);
        free(csv);
        free(js);
        files++;
    }
    closedir(d);
    assert_true(files >= 12);
}

static void test_csv_semicolon_windows1252_is_converted(void **state)
{
    (void)state;
    size_t n;
    char *data = slurp(LOADER_FIXTURES "/cp1252_semicolon.csv", &n);
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_buffer(ld, "pedidos.csv", data, n, LDR_FORMAT_AUTO), 0);
    assert_int_equal(ldr_load_rows(ld), 3);
    assert_int_equal(ldr_load_orders(ld), 2);
    assert_int_equal(ldr_load_items(ld), 3);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_string_equal(v.consultora_name, "María González");
    assert_int_equal(ldr_load_order(ld, 1, &v), 0);
    assert_string_equal(v.consultora_name, "José Muñoz – Ñuñoa"); // 0x96 is an en dash in 1252
    char line[600];
    assert_string_equal(warn_line(ld, 0, line, sizeof line), "pedidos.csv: not UTF-8: read as Windows-1252");
    ldr_load_free(ld);
    free(data);
}

static void test_csv_tab_crlf_bom_blank_lines_and_quotes(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF"
                       "Consultora\tNombre\tSKU\tQty\r\n\r\n"
                       "111\t\"Pérez, \"\"La Negra\"\"\nAna\"\t5\t2\r\n"
                       "\t\t\t\r\n"
                       "222\tBea\t6\t1\r\n";
    struct ldr_load *ld = read_text("o.tsv", text, NULL, 0);
    assert_int_equal(ldr_load_rows(ld), 2);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_string_equal(v.consultora_name, "Pérez, \"La Negra\" Ana"); // inner line break squeezed
    assert_int_equal(v.first_line, 3);
    assert_int_equal(ldr_load_order(ld, 1, &v), 0);
    assert_int_equal(v.first_line, 6); // the quoted line break counts as a line
    ldr_load_free(ld);
}

static void test_csv_unclosed_quote_names_its_line(void **state)
{
    (void)state;
    struct ldr_load *ld =
        read_text("o.csv", "consultora_code,product_code,quantity\n1,2,3\n4,\"5,6\n", NULL, LDR_EINVALID);
    char line[600];
    assert_string_equal(err_line(ld, 0, line, sizeof line), "o.csv:3: a quoted field is not closed (a \" is missing)");
    ldr_load_free(ld);
}

/* Excel writes "sep=;" as the first line of a CSV to declare its delimiter: honoured, and not read
 * as the header; line numbers stay physical. */
static void test_csv_excel_sep_line_sets_the_delimiter(void **state)
{
    (void)state;
    static const char *const TEXTS[] = {
        // The header would say ',' (2 commas, no ';'): the declaration wins.
        "sep=;\nconsultora_code;consultora_name;product_code;quantity\n100;Pérez, Ana, María;1;x\n",
        "\xEF\xBB\xBFsep=,\r\nconsultora_code,consultora_name,product_code,quantity\r\n100,Ana;Bea;Eva,1,x\r\n",
        "sep=\t\nconsultora_code\tconsultora_name\tproduct_code\tquantity\n100\tAna, Bea; Eva\t1\tx\n",
    };
    static const char *const NAMES[] = {"Pérez, Ana, María", "Ana;Bea;Eva", "Ana, Bea; Eva"};
    for (size_t i = 0; i < 3; i++) {
        struct ldr_load *ld = read_text("o.csv", TEXTS[i], NULL, LDR_EINVALID);
        char line[600];
        assert_int_equal(ldr_load_error_count(ld), 1);
        assert_string_equal(err_line(ld, 0, line, sizeof line), "o.csv:3: quantity: \"x\" is not a whole number");
        assert_int_equal(ldr_load_warning_count(ld), 0); // no "column 1 "sep=;" is not used"
        ldr_load_free(ld);
        char fixed[300];
        snprintf(fixed, sizeof fixed, "%.*s2%s", (int)(strrchr(TEXTS[i], 'x') - TEXTS[i]), TEXTS[i],
                 strrchr(TEXTS[i], 'x') + 1);
        ld = read_text("o.csv", fixed, NULL, 0);
        struct ldr_order_view v;
        assert_int_equal(ldr_load_order(ld, 0, &v), 0);
        assert_string_equal(v.consultora_name, NAMES[i]);
        assert_int_equal(v.first_line, 3);
        ldr_load_free(ld);
    }
    assert_int_equal(ldr__csv_detect_delimiter("sep=;\na,b,c\n", 12), ';');
    assert_int_equal(ldr__csv_detect_delimiter("sep=|", 5), '|');
    assert_int_equal(ldr__csv_detect_delimiter("sep=;x,y,z\n", 11), ','); // not a declaration
    assert_int_equal(ldr__csv_detect_delimiter("sep=a,b,c;d\n", 12), ',');
}

/* ---- header and rules ---- */

static void test_header_aliases_match_case_accents_and_spaces(void **state)
{
    (void)state;
    assert_int_equal(ldr__header_column("Código Consultora", strlen("Código Consultora")), 0);
    assert_int_equal(ldr__header_column("NOMBRE_CONSULTORA", 17), 1);
    assert_int_equal(ldr__header_column(" Cód. Producto ", strlen(" Cód. Producto ")), 2);
    assert_int_equal(ldr__header_column("CANTIDAD", 8), 3);
    assert_int_equal(ldr__header_column("quantity", 8), 3);
    assert_int_equal(ldr__header_column("notas", 5), -1);
    struct ldr_load *ld = read_text("o.csv", "codigo_consultora;cantidad;notas;codigo producto\n1;2;x;3\n", NULL, 0);
    char line[600];
    assert_string_equal(warn_line(ld, 0, line, sizeof line), "o.csv:1: header: column 3 \"notas\" is not used");
    ldr_load_free(ld);
}

static void test_header_missing_and_repeated_columns_are_errors(void **state)
{
    (void)state;
    struct ldr_load *ld = read_text("o.csv", "consultora_code,cantidad,codigo_consultora\n1,2,3\n", NULL, LDR_EINVALID);
    char line[600];
    assert_int_equal(ldr_load_error_count(ld), 2);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "o.csv:1: header: column 1 and column 3 both name consultora_code");
    assert_string_equal(err_line(ld, 1, line, sizeof line),
                        "o.csv:1: header: no product_code column (also accepted: codigo_producto, producto, sku)");
    ldr_load_free(ld);
}

static void test_code_valid_is_the_one_definition(void **state)
{
    (void)state;
    static const char *const GOOD[] = {"1", "12345678", "AB-12-cd", "-", "ABCDEFGHIJKLMNOPQRST"};
    static const char *const BAD[] = {"", "ABCDEFGHIJKLMNOPQRSTU", "12.345", "12 34", "ñ", "a_b", "1\n", "1,2"};
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
        assert_true(ldr_code_valid(GOOD[i]));
        assert_true(ldr__code_valid(GOOD[i], strlen(GOOD[i])));
    }
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        if (ldr_code_valid(BAD[i]))
            fail_msg("\"%s\" taken for a code", BAD[i]);
        assert_false(ldr__code_valid(BAD[i], strlen(BAD[i])));
    }
    assert_false(ldr_code_valid(NULL));
    char longer[100];
    memset(longer, '7', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_false(ldr_code_valid(longer));
}

static void test_every_rule_has_its_exact_message(void **state)
{
    (void)state;
    char longname[260];
    memset(longname, 'a', 201);
    longname[201] = '\0';
    char text[2000];
    snprintf(text, sizeof text,
             "consultora_code,consultora_name,product_code,quantity\n"
             "12345678,Ana,80901,dos\n"
             "12345678,Ana,80902,0\n"
             "12345678,Ana,80903,1000\n"
             ",Ana,80904,1\n"
             "12.345.678-9,Ana,80905,1\n"
             "12345678,Ana,,1\n"
             "12345678,Ana,ABCDEFGHIJKLMNOPQRSTU,1\n"
             "12345678,Ana,80906,\n"
             "12345678,%s,80907,1\n"
             "12345678,Ana,80908,2.5\n"
             "12345678,Ana,80909,-3\n"
             "12345678,Ana,80910,4.0\n",
             longname);
    struct ldr_load *ld = read_text("orders.csv", text, NULL, LDR_EINVALID);
    static const char *const WANT[] = {
        "orders.csv:2: quantity: \"dos\" is not a whole number",
        "orders.csv:3: quantity: \"0\" is not between 1 and 999",
        "orders.csv:4: quantity: \"1000\" is not between 1 and 999",
        "orders.csv:5: consultora_code: missing value",
        "orders.csv:6: consultora_code: \"12.345.678-9\" is not a valid code (1 to 20 letters, digits or -)",
        "orders.csv:7: product_code: missing value",
        "orders.csv:8: product_code: \"ABCDEFGHIJKLMNOPQRSTU\" is not a valid code (1 to 20 letters, digits or -)",
        "orders.csv:9: quantity: missing value",
        "orders.csv:10: consultora_name: 201 characters, at most 200",
        "orders.csv:11: quantity: \"2.5\" is not a whole number",
        "orders.csv:12: quantity: \"-3\" is not between 1 and 999",
    };
    char line[600];
    assert_int_equal(ldr_load_error_count(ld), sizeof WANT / sizeof *WANT);
    for (size_t i = 0; i < sizeof WANT / sizeof *WANT; i++)
        assert_string_equal(err_line(ld, i, line, sizeof line), WANT[i]);
    assert_string_equal(ldr_load_errmsg(ld), "orders.csv: 11 errors, nothing loaded");
    ldr_load_free(ld);
}

static void test_error_list_is_capped_and_counts_the_rest(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_str(&b, "consultora_code,product_code,quantity\n"), 0);
    for (int i = 0; i < 250; i++)
        assert_int_equal(buf_append_str(&b, "1,2,x\n"), 0);
    struct ldr_load *ld = read_text("o.csv", buf_str(&b), NULL, LDR_EINVALID);
    assert_int_equal(ldr_load_error_count(ld), 250);
    assert_int_equal(ldr_load_errors_listed(ld), 100);
    char *js = ldr_load_summary_json(ld, 0);
    cJSON *o = cJSON_Parse(js);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "batch_id")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "errors")), 100);
    assert_int_equal(cJSON_GetObjectItem(o, "errors_total")->valueint, 250);
    cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "errors"), 0);
    assert_string_equal(cJSON_GetObjectItem(e0, "place")->valuestring, "o.csv:2");
    assert_string_equal(cJSON_GetObjectItem(e0, "column")->valuestring, "quantity");
    assert_string_equal(cJSON_GetObjectItem(e0, "message")->valuestring, "\"x\" is not a whole number");
    cJSON_Delete(o);
    free(js);
    buf_cleanup(&b);
    ldr_load_free(ld);
}

static void test_grouping_first_appearance_sums_repeats_keeps_first_name(void **state)
{
    (void)state;
    const char *text = "consultora_code,consultora_name,product_code,quantity\n"
                       "200,Bea,1,1\n"
                       "100,Ana,1,2\n"
                       "200,Bea,2,1\n"
                       "100,Ana Maria,1,3\n"
                       "300,,5,1\n"
                       "300,Carla,6,1\n";
    struct ldr_load *ld = read_text("o.csv", text, NULL, 0);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_orders(ld), 3);
    assert_int_equal(ldr_load_items(ld), 5);
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_string_equal(v.consultora_code, "200");
    assert_int_equal(ldr_load_order(ld, 1, &v), 0);
    assert_string_equal(v.consultora_code, "100");
    assert_string_equal(v.consultora_name, "Ana");
    assert_int_equal(v.items, 1);
    assert_int_equal(v.quantity, 5);
    assert_int_equal(ldr_load_order(ld, 2, &v), 0);
    assert_string_equal(v.consultora_name, "Carla"); // an empty name is no conflict
    char line[600];
    assert_int_equal(ldr_load_warning_count(ld), 2);
    assert_string_equal(warn_line(ld, 0, line, sizeof line),
                        "o.csv:5: consultora_name: \"Ana Maria\" differs from \"Ana\" given for consultora 100 "
                        "(line 3): the first is kept");
    assert_string_equal(warn_line(ld, 1, line, sizeof line),
                        "o.csv:5: product_code: product 1 repeated for consultora 100 (first on line 3): "
                        "quantities summed to 5");
    ldr_load_free(ld);
}

/* ---- formats that are not read ---- */

static void test_xls_ods_pdf_truncated_zip_name_the_formats_read(void **state)
{
    (void)state;
    size_t n;
    char *xlsx = slurp(LOADER_FIXTURES "/libreoffice.xlsx", &n);
    struct {
        const char *name;
        const void *data;
        size_t len;
        const char *want;
    } cases[] = {
        {"orders.xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", 12,
         "orders.xls: an Excel 97-2003 workbook (.xls) is not read: save it as .xlsx or CSV (formats read: CSV "
         "(.csv, .txt, .tsv), XLSX (.xlsx) and JSON (.json))"},
        {"orders.ods", "PK\x03\x04rest", 8,
         "orders.ods: an OpenDocument spreadsheet (.ods) is not read: save it as .xlsx or CSV (formats read: CSV "
         "(.csv, .txt, .tsv), XLSX (.xlsx) and JSON (.json))"},
        {"report.pdf", "%PDF-1.4\n", 9,
         "report.pdf: a PDF is not read (formats read: CSV (.csv, .txt, .tsv), XLSX "
         "(.xlsx) and JSON (.json))"},
        {"orders.xlsx", xlsx, n / 2, NULL},
        {"orders.xlsx", "hello", 5,
         "orders.xlsx: not a valid XLSX file (not a zip archive) (formats read: CSV "
         "(.csv, .txt, .tsv), XLSX (.xlsx) and JSON (.json))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct ldr_load *ld = ldr_load_new(NULL);
        assert_int_equal(ldr_load_read_buffer(ld, cases[i].name, cases[i].data, cases[i].len, LDR_FORMAT_AUTO),
                         LDR_EINVALID);
        char line[800];
        err_line(ld, 0, line, sizeof line);
        if (cases[i].want)
            assert_string_equal(line, cases[i].want);
        else // truncated: libzip's own words follow, the start and the end are ours
            assert_non_null(
                strstr(line, "orders.xlsx: not a valid XLSX file (the zip archive is damaged or truncated"));
        assert_non_null(strstr(line, "formats read: CSV"));
        ldr_load_free(ld);
    }
    free(xlsx);
}

/* ---- XLSX ---- */

static void test_xlsx_libreoffice_numbers_formulas_empty_rows_second_sheet(void **state)
{
    (void)state;
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, LOADER_FIXTURES "/libreoffice.xlsx"), 0);
    assert_int_equal(ldr_load_rows(ld), 3);
    assert_int_equal(ldr_load_orders(ld), 2);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_string_equal(v.consultora_code, "12345678"); // a number, without ".0"
    assert_string_equal(v.consultora_name, "María González");
    assert_int_equal(v.items, 2);
    assert_int_equal(ldr_load_order(ld, 1, &v), 0);
    assert_int_equal(v.quantity, 3); // =1+2, its cached value
    assert_int_equal(v.first_line, 4);
    ldr_load_free(ld);

    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.sheet = "pedidos mayo"; // case does not matter
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, LOADER_FIXTURES "/libreoffice.xlsx"), 0);
    assert_int_equal(ldr_load_orders(ld), 2);
    assert_int_equal(ldr_load_order(ld, 1, &v), 0);
    assert_string_equal(v.consultora_name, "Águeda Ríos");
    assert_int_equal(v.quantity, 4);
    ldr_load_free(ld);

    opt.sheet = "Junio";
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, LOADER_FIXTURES "/libreoffice.xlsx"), LDR_EINVALID);
    char line[600];
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "libreoffice.xlsx: no sheet named \"Junio\" (sheets: Hoja1, Pedidos Mayo)");
    ldr_load_free(ld);
}

static void test_xlsx_libxlsxwriter_places_name_sheet_and_cell(void **state)
{
    (void)state;
    const char *path = tmp_path("writer.xlsx");
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *a = workbook_add_worksheet(wb, "Resumen");
    worksheet_write_string(a, 0, 0, "nada que ver aquí", NULL);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Hoja1");
    worksheet_write_string(ws, 0, 0, "Cantidad", NULL);
    worksheet_write_string(ws, 0, 1, "Código Producto", NULL);
    worksheet_write_string(ws, 0, 2, "Código Consultora", NULL);
    worksheet_write_number(ws, 1, 0, 2, NULL);
    worksheet_write_number(ws, 1, 1, 80901, NULL);
    worksheet_write_number(ws, 1, 2, 12345678, NULL);
    worksheet_write_formula_num(ws, 3, 0, "=1+1", NULL, 2); // row 4; row 3 empty
    worksheet_write_string(ws, 3, 1, "80902", NULL);
    worksheet_write_number(ws, 3, 2, 12345678, NULL);
    worksheet_write_string(ws, 4, 0, "dos", NULL);
    worksheet_write_number(ws, 4, 1, 80903.5, NULL);
    worksheet_write_number(ws, 4, 2, 5, NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);

    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.sheet = "Hoja1";
    struct ldr_load *ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    char line[600];
    assert_int_equal(ldr_load_error_count(ld), 2);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "writer.xlsx:Hoja1!B5: product_code: \"80903.5\" is not a valid code (1 to 20 letters, "
                        "digits or -)");
    assert_string_equal(err_line(ld, 1, line, sizeof line),
                        "writer.xlsx:Hoja1!A5: quantity: \"dos\" is not a whole number");
    ldr_load_free(ld);

    opt.skip_invalid = true;
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, path), 0);
    assert_int_equal(ldr_load_orders(ld), 1);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_int_equal(v.quantity, 4);
    assert_string_equal(warn_line(ld, 0, line, sizeof line),
                        "writer.xlsx:Hoja1!C5: consultora_code: order of consultora 5 skipped: 1 invalid row");
    ldr_load_free(ld);
}

static void test_sheet_option_on_csv_or_json_is_an_error(void **state)
{
    (void)state;
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.sheet = "Hoja1";
    struct ldr_load *ld = read_text("orders.csv", "consultora_code,product_code,quantity\n1,2,3\n", &opt, LDR_EINVALID);
    char line[600];
    assert_int_equal(ldr_load_error_count(ld), 1);
    assert_string_equal(err_line(ld, 0, line, sizeof line), "orders.csv: --sheet applies to XLSX files only");
    assert_string_equal(ldr_load_errmsg(ld), "orders.csv: --sheet applies to XLSX files only");
    ldr_load_free(ld);
    ld = read_text("orders.json",
                   "{\"orders\": [{\"consultora_code\": \"1\", \"products\": [{\"product_code\": \"2\", "
                   "\"quantity\": 3}]}]}",
                   &opt, LDR_EINVALID);
    assert_string_equal(ldr_load_errmsg(ld), "orders.json: --sheet applies to XLSX files only");
    ldr_load_free(ld);
}

/* The first sheet is a cover page: the message names the sheets and the option to pick one. */
static void test_xlsx_first_sheet_without_columns_lists_the_sheets(void **state)
{
    (void)state;
    const char *path = tmp_path("cover.xlsx");
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *cover = workbook_add_worksheet(wb, "Hoja1");
    worksheet_write_string(cover, 0, 0, "Campaña 7", NULL);
    worksheet_write_string(cover, 1, 0, "ver la hoja Pedidos", NULL);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Pedidos");
    worksheet_write_string(ws, 0, 0, "consultora", NULL);
    worksheet_write_string(ws, 0, 1, "producto", NULL);
    worksheet_write_string(ws, 0, 2, "cantidad", NULL);
    worksheet_write_number(ws, 1, 0, 12345678, NULL);
    worksheet_write_number(ws, 1, 1, 80901, NULL);
    worksheet_write_number(ws, 1, 2, 2, NULL);
    lxw_worksheet *empty = workbook_add_worksheet(wb, "Vacía");
    (void)empty;
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);

    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    char line[900];
    assert_int_equal(ldr_load_error_count(ld), 3);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "cover.xlsx:Hoja1!A1: header: no consultora_code column (also accepted: codigo_consultora, "
                        "consultora) (sheets: Hoja1, Pedidos, Vacía; use --sheet NAME to read another)");
    assert_string_equal(err_line(ld, 1, line, sizeof line),
                        "cover.xlsx:Hoja1!A1: header: no product_code column (also accepted: codigo_producto, "
                        "producto, sku)");
    ldr_load_free(ld);

    // A sheet asked for by name: no hint, even when it is empty.
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.sheet = "Vacía";
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "cover.xlsx: sheet Vacía is empty (a header row and order lines are expected)");
    ldr_load_free(ld);

    opt.sheet = "Pedidos";
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, path), 0);
    assert_int_equal(ldr_load_orders(ld), 1);
    ldr_load_free(ld);

    // An empty first sheet, and a first sheet with some of the columns (the right sheet with a
    // wrong header: no hint there).
    path = tmp_path("cover2.xlsx");
    wb = workbook_new(path);
    workbook_add_worksheet(wb, "Vacía");
    ws = workbook_add_worksheet(wb, "Pedidos");
    worksheet_write_string(ws, 0, 0, "consultora", NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "cover2.xlsx: sheet Vacía is empty (a header row and order lines are expected) (sheets: "
                        "Vacía, Pedidos; use --sheet NAME to read another)");
    ldr_load_free(ld);
    path = tmp_path("partial.xlsx");
    wb = workbook_new(path);
    ws = workbook_add_worksheet(wb, "Hoja1");
    worksheet_write_string(ws, 0, 0, "consultora", NULL);
    worksheet_write_string(ws, 0, 1, "producto", NULL);
    worksheet_write_string(ws, 0, 2, "unidades pedidas", NULL);
    workbook_add_worksheet(wb, "Otra");
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    assert_int_equal(ldr_load_error_count(ld), 1);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "partial.xlsx:Hoja1!A1: header: no quantity column (also accepted: cantidad)");
    ldr_load_free(ld);
}

/* Writes a minimal workbook by hand: inline strings, prefixed element names, cells without r. */
static void test_xlsx_inline_strings_prefixes_and_missing_refs(void **state)
{
    (void)state;
    const char *path = tmp_path("inline.xlsx");
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    static const char wbx[] = "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
                              "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>"
                              "<sheet name=\"Datos\" sheetId=\"1\" r:id=\"rId7\"/></sheets></workbook>";
    static const char rels[] =
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId7\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
        "worksheet\" Target=\"/xl/worksheets/datos.xml\"/></Relationships>";
    static const char sheet[] =
        "<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><x:sheetData>"
        "<x:row><x:c t=\"inlineStr\"><x:is><x:t>consultora</x:t></x:is></x:c><x:c t=\"inlineStr\"><x:is>"
        "<x:r><x:t>pro</x:t></x:r><x:r><x:t>ducto</x:t></x:r></x:is></x:c><x:c t=\"inlineStr\"><x:is><x:t>"
        "cantidad</x:t></x:is></x:c></x:row>"
        "<x:row><x:c><x:v>777</x:v></x:c><x:c t=\"str\"><x:f>\"A\"&amp;\"1\"</x:f><x:v>A1</x:v></x:c>"
        "<x:c><x:v>3.0</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>";
    zip_source_t *s1 = zip_source_buffer(z, wbx, strlen(wbx), 0);
    zip_source_t *s2 = zip_source_buffer(z, rels, strlen(rels), 0);
    zip_source_t *s3 = zip_source_buffer(z, sheet, strlen(sheet), 0);
    assert_true(zip_file_add(z, "xl/workbook.xml", s1, 0) >= 0);
    assert_true(zip_file_add(z, "xl/_rels/workbook.xml.rels", s2, 0) >= 0);
    assert_true(zip_file_add(z, "xl/worksheets/datos.xml", s3, 0) >= 0);
    assert_int_equal(zip_close(z), 0);
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, path), 0);
    struct ldr_order_view v;
    assert_int_equal(ldr_load_order(ld, 0, &v), 0);
    assert_string_equal(v.consultora_code, "777");
    assert_int_equal(v.quantity, 3);
    assert_int_equal(v.first_line, 2);
    ldr_load_free(ld);
}

static int count_rows(void *ctx, const struct ldr__row *row)
{
    (void)row;
    ++*(size_t *)ctx;
    return 0;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtol(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void test_xlsx_200k_rows_stream_in_bounded_memory(void **state)
{
    (void)state;
    const char *path = tmp_path("big.xlsx");
    lxw_workbook_options wo = {.constant_memory = LXW_TRUE, .tmpdir = tmpdir};
    lxw_workbook *wb = workbook_new_opt(path, &wo);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Pedidos");
    worksheet_write_string(ws, 0, 0, "consultora_code", NULL);
    worksheet_write_string(ws, 0, 1, "consultora_name", NULL);
    worksheet_write_string(ws, 0, 2, "product_code", NULL);
    worksheet_write_string(ws, 0, 3, "quantity", NULL);
    const lxw_row_t rows = 200000;
    for (lxw_row_t r = 1; r <= rows; r++) {
        char name[64];
        snprintf(name, sizeof name, "Consultora Número %u", (unsigned)(r / 5));
        worksheet_write_number(ws, r, 0, 10000000 + r / 5, NULL);
        worksheet_write_string(ws, r, 1, name, NULL); // inline strings in constant_memory mode
        worksheet_write_number(ws, r, 2, 80000 + r % 5, NULL);
        worksheet_write_number(ws, r, 3, 1 + r % 9, NULL);
    }
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    size_t len;
    char *data = slurp(path, &len);
    zip_t *z = zip_open(path, ZIP_RDONLY, NULL);
    zip_stat_t zs;
    assert_int_equal(zip_stat(z, "xl/worksheets/sheet1.xml", 0, &zs), 0);
    zip_close(z);

    // The reader alone: peak RSS growth must stay far below the size of the sheet's XML.
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) {
        fputs("5", cr); // resets VmHWM to the current RSS
        fclose(cr);
    }
    long before = status_kb("VmRSS:");
    size_t n = 0;
    char err[256];
    struct ldr__xlsx_sheets sheets;
    assert_int_equal(ldr__xlsx_read(data, len, NULL, count_rows, &n, &sheets, NULL, err, sizeof err), 0);
    long grown_kb = status_kb("VmHWM:") - before;
    assert_int_equal(n, rows + 1);
    fprintf(stderr, "  200k rows: sheet XML %llu MB, zip %zu MB, reader peak RSS growth %ld KB\n",
            (unsigned long long)zs.size >> 20, len >> 20, grown_kb);
#ifndef UNDER_ASAN
    assert_true(zs.size > (32ull << 20));
    assert_true(grown_kb < 16 * 1024);
#endif
    // The whole load: 40k orders of 5 items.
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_buffer(ld, "big.xlsx", data, len, LDR_FORMAT_AUTO), 0);
    assert_int_equal(ldr_load_rows(ld), rows);
    assert_int_equal(ldr_load_orders(ld), rows / 5 + 1);
    ldr_load_free(ld);
    free(data);
}

/* ---- zip bombs ---- */

/* A one-sheet workbook (header consultora_code, product_code, quantity and one order line) whose
 * shared strings and sheet parts carry sst_fill and sheet_fill bytes of blanks between their tags:
 * deflate squeezes them about 1000 to 1, and the reader ignores them, so only the inflated size is
 * at stake, not the memory a parsed value would take. */
static void write_bomb(const char *path, size_t sst_fill, size_t sheet_fill)
{
    static const char wbx[] = "<workbook xmlns:r=\"r\"><sheets><sheet name=\"Hoja1\" sheetId=\"1\" r:id=\"rId1\"/>"
                              "</sheets></workbook>";
    static const char rels[] =
        "<Relationships><Relationship Id=\"rId1\" Type=\"x/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"x/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>";
    static const char sst_head[] = "<sst><si><t>consultora_code</t></si><si><t>product_code</t></si>"
                                   "<si><t>quantity</t></si>";
    static const char sst_tail[] = "</sst>";
    static const char sheet_head[] =
        "<worksheet><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
        "<c r=\"C1\" t=\"s\"><v>2</v></c></row><row r=\"2\"><c r=\"A2\"><v>12345678</v></c>"
        "<c r=\"B2\"><v>80901</v></c><c r=\"C2\"><v>2</v></c></row>";
    static const char sheet_tail[] = "</sheetData></worksheet>";
    int zerr;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    assert_non_null(z);
    const char *parts[2][3] = {{"xl/sharedStrings.xml", sst_head, sst_tail},
                               {"xl/worksheets/sheet1.xml", sheet_head, sheet_tail}};
    for (size_t i = 0; i < 2; i++) {
        size_t fill = i == 0 ? sst_fill : sheet_fill;
        size_t h = strlen(parts[i][1]), t = strlen(parts[i][2]);
        char *b = malloc(h + fill + t);
        assert_non_null(b);
        memcpy(b, parts[i][1], h);
        memset(b + h, ' ', fill);
        memcpy(b + h + fill, parts[i][2], t);
        zip_source_t *src = zip_source_buffer(z, b, h + fill + t, /* freep= */ 1);
        assert_non_null(src);
        assert_true(zip_file_add(z, parts[i][0], src, 0) >= 0);
    }
    assert_true(zip_file_add(z, "xl/workbook.xml", zip_source_buffer(z, wbx, strlen(wbx), 0), 0) >= 0);
    assert_true(zip_file_add(z, "xl/_rels/workbook.xml.rels", zip_source_buffer(z, rels, strlen(rels), 0), 0) >= 0);
    assert_int_equal(zip_close(z), 0);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites the uncompressed size the zip declares for `part` (local header and central directory)
 * to `size`: a lying archive, the kind a crafted zip bomb is. */
static void patch_declared_size(const char *path, const char *part, uint32_t size)
{
    size_t n;
    unsigned char *d = (unsigned char *)slurp(path, &n);
    size_t pl = strlen(part);
    int patched = 0;
    for (size_t i = 0; i + 46 + pl <= n; i++) {
        uint32_t sig = le32(d + i);
        size_t size_at, len_at, name_at;
        if (sig == 0x04034b50) { // local file header
            size_at = 22;
            len_at = 26;
            name_at = 30;
        } else if (sig == 0x02014b50) { // central directory header
            size_at = 24;
            len_at = 28;
            name_at = 46;
        } else {
            continue;
        }
        size_t name_len = d[i + len_at] | (size_t)d[i + len_at + 1] << 8;
        if (name_len != pl || memcmp(d + i + name_at, part, pl) != 0)
            continue;
        for (int k = 0; k < 4; k++)
            d[i + size_at + k] = (unsigned char)(size >> (8 * k));
        patched++;
    }
    assert_int_equal(patched, 2);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    free(d);
}

static void expect_xlsx_error(const char *path, const char *want)
{
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, path), LDR_EINVALID);
    char line[800];
    assert_int_equal(ldr_load_error_count(ld), 1);
    assert_string_equal(err_line(ld, 0, line, sizeof line), want);
    ldr_load_free(ld);
}

/* The production limits: a 20 MiB shared strings part in a 20 KB file passes the 16 MiB floor of
 * the inflated-size budget (100 times the file, at least 16 MiB); refused on its declared size
 * before anything is inflated, and, when the zip lies about the size, by counting the bytes as
 * they come out. A part declaring more than the 256 MiB per-part cap is refused on sight. */
static void test_xlsx_zip_bomb_is_refused_on_declared_and_counted_size(void **state)
{
    (void)state;
    const char *path = tmp_path("bomb.xlsx");
    write_bomb(path, 20u << 20, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < 100 * 1024); // 20 MiB of blanks deflate to about 20 KB
    expect_xlsx_error(path, "bomb.xlsx: not a valid XLSX file: xl/sharedStrings.xml: the parts read inflate past "
                            "16 MB in all (a zip bomb?)");
    patch_declared_size(path, "xl/sharedStrings.xml", 1000); // a lie: counted, not trusted
    expect_xlsx_error(path, "bomb.xlsx: not a valid XLSX file: xl/sharedStrings.xml: the parts read inflate past "
                            "16 MB in all (a zip bomb?)");

    path = tmp_path("bomb-sheet.xlsx");
    write_bomb(path, 0, 20u << 20);
    patch_declared_size(path, "xl/worksheets/sheet1.xml", 1000);
    expect_xlsx_error(path, "bomb-sheet.xlsx: not a valid XLSX file: xl/worksheets/sheet1.xml: the parts read "
                            "inflate past 16 MB in all (a zip bomb?)");

    path = tmp_path("huge-part.xlsx");
    write_bomb(path, 0, 0);
    patch_declared_size(path, "xl/worksheets/sheet1.xml", 300u << 20);
    expect_xlsx_error(path, "huge-part.xlsx: not a valid XLSX file: xl/worksheets/sheet1.xml inflates past 256 MB "
                            "(a zip bomb?)");
}

/* The limits themselves, lowered through the reader's parameter: bytes are counted per part and
 * across parts, whatever the zip declares. */
static void test_xlsx_inflate_limits_count_each_part_and_the_sum(void **state)
{
    (void)state;
    struct ldr__xlsx_limits lim = ldr__xlsx_limits_for(0);
    assert_int_equal(lim.part, 256ull << 20);
    assert_int_equal(lim.total, 16ull << 20); // the floor
    assert_int_equal(ldr__xlsx_limits_for(1u << 20).total, 100ull << 20);
    assert_int_equal(ldr__xlsx_limits_for(50u << 20).total, 1024ull << 20); // the ceiling

    const char *path = tmp_path("limits.xlsx");
    char err[600], want[600];
    struct ldr__xlsx_sheets sheets;
    size_t rows, len;
    char *data;
    for (int lie = 0; lie < 2; lie++) {
        write_bomb(path, 0, 200u << 10);
        if (lie)
            patch_declared_size(path, "xl/worksheets/sheet1.xml", 100);
        data = slurp(path, &len);
        lim = (struct ldr__xlsx_limits){.part = 64u << 10, .total = 1u << 20};
        rows = 0;
        assert_int_equal(ldr__xlsx_read(data, len, NULL, count_rows, &rows, &sheets, &lim, err, sizeof err),
                         LDR_EINVALID);
        assert_string_equal(err, "not a valid XLSX file: xl/worksheets/sheet1.xml inflates past 64 KB (a zip bomb?)");
        assert_int_equal(rows, lie ? 2 : 0); // counted: the rows before the blanks went through
        free(data);

        write_bomb(path, 40u << 10, 40u << 10);
        if (lie) {
            patch_declared_size(path, "xl/sharedStrings.xml", 100);
            patch_declared_size(path, "xl/worksheets/sheet1.xml", 100);
        }
        data = slurp(path, &len);
        lim = (struct ldr__xlsx_limits){.part = 64u << 10, .total = 64u << 10};
        assert_int_equal(ldr__xlsx_read(data, len, NULL, count_rows, &rows, &sheets, &lim, err, sizeof err),
                         LDR_EINVALID);
        snprintf(want, sizeof want,
                 "not a valid XLSX file: xl/worksheets/sheet1.xml: the parts read inflate past "
                 "64 KB in all (a zip bomb?)");
        assert_string_equal(err, want);
        lim.total = 128u << 10; // both fit
        rows = 0;
        // libzip itself does not hold a part to its declared size: only the count stops a liar.
        assert_int_equal(ldr__xlsx_read(data, len, NULL, count_rows, &rows, &sheets, &lim, err, sizeof err), 0);
        assert_int_equal(rows, 2);
        free(data);
    }
}

/* ---- JSON ---- */

static void test_json_shape_numbers_and_paths(void **state)
{
    (void)state;
    const char *text =
        "{\"name\": \"Campaña 7\", \"orders\": ["
        "{\"consultora_code\": 12345678, \"consultora_name\": \"Ana\", \"products\": "
        "[{\"product_code\": \"80901\", \"quantity\": 2}, {\"codigo_producto\": 80902, \"cantidad\": \"3\"}]},"
        "{\"consultora_code\": \"X-1\", \"products\": [{\"product_code\": \"1\", \"quantity\": 1.5}]},"
        "{\"consultora_code\": \"X-2\", \"products\": []}]}";
    struct ldr_load *ld = read_text("pedidos.json", text, NULL, LDR_EINVALID);
    char line[600];
    assert_int_equal(ldr_load_error_count(ld), 2);
    assert_string_equal(err_line(ld, 0, line, sizeof line),
                        "pedidos.json:orders[1].products[0]: quantity: \"1.5\" is not a whole number");
    assert_string_equal(err_line(ld, 1, line, sizeof line), "pedidos.json:orders[2]: products: empty list");
    ldr_load_free(ld);

    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.skip_invalid = true;
    ld = read_text("pedidos.json", text, &opt, 0);
    assert_string_equal(ldr_load_name(ld), "Campaña 7");
    assert_int_equal(ldr_load_orders(ld), 1);
    assert_int_equal(ldr_load_items(ld), 2);
    ldr_load_free(ld);

    ld = read_text("bad.json", "{\"orders\": [1,2", NULL, LDR_EINVALID);
    assert_string_equal(err_line(ld, 0, line, sizeof line), "bad.json: not valid JSON (line 1)");
    ldr_load_free(ld);
}

static void test_sample_files_hold_the_same_orders(void **state)
{
    (void)state;
    static const char *const FILES[] = {GSPBOT_DATA_DIR "/sample_orders.csv", GSPBOT_DATA_DIR "/sample_orders.xlsx",
                                        GSPBOT_DATA_DIR "/sample_orders.json"};
    char *first = NULL;
    for (size_t f = 0; f < 3; f++) {
        struct ldr_load *ld = ldr_load_new(NULL);
        assert_int_equal(ldr_load_read_file(ld, FILES[f]), 0);
        assert_int_equal(ldr_load_orders(ld), 25);
        assert_int_equal(ldr_load_warning_count(ld), 0);
        struct buf b;
        buf_init(&b, 0);
        struct ldr_order_view v;
        for (size_t i = 0; ldr_load_order(ld, i, &v) == 0; i++)
            assert_int_equal(
                buf_printf(&b, "%s|%s|%zu|%lld\n", v.consultora_code, v.consultora_name, v.items, v.quantity), 0);
        if (first == NULL)
            first = buf_take(&b);
        else
            assert_string_equal(buf_str(&b), first);
        buf_cleanup(&b);
        ldr_load_free(ld);
    }
    free(first);
}

/* ---- URL ---- */

static void test_url_download_404_oversize_and_slow_server(void **state)
{
    (void)state;
    const char *csv = "consultora_code,product_code,quantity\n12345678,80901,2\n";
    struct http_stub *s = http_stub_start(csv);
    assert_non_null(s);
    char url[256], line[900];
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.max_bytes = 1 << 20;
    opt.timeout_ms = 1000;
    static const char *const OK_PATHS[] = {"/orders.csv", "/export?format=csv&gid=0", "/redirect"};
    static const char *const OK_NAMES[] = {"orders.csv", "export.csv", "orders.csv"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_stub_port(s), OK_PATHS[i]);
        struct ldr_load *ld = ldr_load_new(&opt);
        assert_true(ldr_is_url(url));
        assert_int_equal(ldr_load_read_url(ld, url), 0);
        assert_int_equal(ldr_load_orders(ld), 1);
        assert_string_equal(ldr_load_name(ld), OK_NAMES[i]);
        ldr_load_free(ld);
    }
    struct {
        const char *path, *want;
    } bad[] = {
        {"/missing.csv", "download failed: HTTP 404"},
        {"/big.csv", "the download is larger than GSPBOT_MAX_FILE_MB (1 MB)"},
        {"/stream.csv", "the download is larger than GSPBOT_MAX_FILE_MB (1 MB)"},
        {"/slow.csv", "no complete answer within 1 s (timed out)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_stub_port(s), bad[i].path);
        struct ldr_load *ld = ldr_load_new(&opt);
        assert_int_equal(ldr_load_read_url(ld, url), LDR_EIO);
        char want[600];
        snprintf(want, sizeof want, "%s: %s", url, bad[i].want);
        assert_string_equal(err_line(ld, 0, line, sizeof line), want);
        assert_string_equal(ldr_load_errmsg(ld), want);
        ldr_load_free(ld);
    }
    http_stub_stop(s);
}

/* ---- PostgreSQL ---- */

static void test_write_fills_batches_orders_and_items(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("ldr_write");
    const char *text = "consultora_code,consultora_name,product_code,quantity\n"
                       "200,Bea\\Tab,1,1\n"
                       "100,Ana,1,2\n"
                       "200,Bea\\Tab,2,1\n"
                       "100,Ana,1,3\n";
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.name = "Día de la Madre";
    struct ldr_load *ld = read_text("orders.csv", text, &opt, 0);
    PGconn *c = connect_db(ci);
    long long id = 0;
    assert_int_equal(ldr_load_write(ld, c, &id), 0);
    assert_true(id > 0);
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT name || '|' || status || '|' || source_file || '|' || source_sha256 || '|' || orders_total || "
             "'|' || items_total FROM batches WHERE id = %lld",
             id);
    char *v = testdb_query_value(ci, sql);
    char want[400];
    snprintf(want, sizeof want, "Día de la Madre|pending|orders.csv|%s|2|3", ldr_load_sha256(ld));
    assert_string_equal(v, want);
    free(v);
    v = testdb_query_value(ci, "SELECT string_agg(seq || ':' || consultora_code || ':' || consultora_name || ':' || "
                               "status, ',' ORDER BY seq) FROM orders");
    assert_string_equal(v, "1:200:Bea\\Tab:pending,2:100:Ana:pending");
    free(v);
    v = testdb_query_value(ci, "SELECT string_agg(o.consultora_code || '/' || i.product_code || 'x' || i.quantity || "
                               "i.source_lines::text, ',' ORDER BY i.id) FROM order_items i JOIN orders o ON "
                               "o.id = i.order_id");
    assert_string_equal(v, "200/1x1{2},200/2x1{4},100/1x5{3,5}");
    free(v);
    char *js = ldr_load_summary_json(ld, id);
    cJSON *o = cJSON_Parse(js);
    assert_int_equal((long long)cJSON_GetObjectItem(o, "batch_id")->valuedouble, id);
    assert_int_equal(cJSON_GetObjectItem(o, "orders")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(o, "items")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(o, "rows")->valueint, 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "warnings")), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "errors")), 0);
    cJSON_Delete(o);
    free(js);
    ldr_load_free(ld);
    PQfinish(c);
    testdb_drop(ci);
}

static void test_three_errors_are_all_listed_and_nothing_is_written(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("ldr_three");
    const char *text = "consultora_code,product_code,quantity\n1,2,3\n1,x y,3\n2,3,dos\n3,4,5\n,5,1\n";
    struct ldr_load *ld = read_text("orders.csv", text, NULL, LDR_EINVALID);
    assert_int_equal(ldr_load_error_count(ld), 3);
    PGconn *c = connect_db(ci);
    long long id = 7;
    assert_int_equal(ldr_load_write(ld, c, &id), LDR_ESTATE); // refuses: the read failed
    assert_db_empty(ci);
    ldr_load_free(ld);
    PQfinish(c);
    testdb_drop(ci);
}

static void test_duplicate_file_is_refused_unless_allowed(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("ldr_dup");
    PGconn *c = connect_db(ci);
    long long id1 = 0, id2 = 0, id3 = 0;
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, GSPBOT_DATA_DIR "/sample_orders.csv"), 0);
    assert_int_equal(ldr_load_write(ld, c, &id1), 0);
    ldr_load_free(ld);

    ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, GSPBOT_DATA_DIR "/sample_orders.csv"), 0);
    assert_int_equal(ldr_load_write(ld, c, &id2), LDR_EDUPLICATE);
    char prefix[200];
    snprintf(prefix, sizeof prefix, "sample_orders.csv: already loaded as batch %lld \"sample_orders.csv\" on ", id1);
    assert_memory_equal(ldr_load_errmsg(ld), prefix, strlen(prefix));
    assert_non_null(strstr(ldr_load_errmsg(ld), "(same SHA-256); use --allow-duplicate to load it again"));
    ldr_load_free(ld);
    assert_int_equal(count(ci, "SELECT count(*) FROM batches"), 1);

    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.allow_duplicate = true;
    ld = ldr_load_new(&opt);
    assert_int_equal(ldr_load_read_file(ld, GSPBOT_DATA_DIR "/sample_orders.csv"), 0);
    assert_int_equal(ldr_load_write(ld, c, &id3), 0);
    assert_true(id3 > id1);
    ldr_load_free(ld);
    assert_int_equal(count(ci, "SELECT count(*) FROM orders"), 50);
    PQfinish(c);
    testdb_drop(ci);
}

static void test_skip_invalid_drops_whole_orders_and_lists_them(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("ldr_skip");
    const char *text = "consultora_code,product_code,quantity\n"
                       "100,1,1\n"
                       "200,1,1\n"
                       "100,2,cero\n"
                       "300,1,1\n"
                       "bad code,1,1\n";
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.skip_invalid = true;
    struct ldr_load *ld = read_text("o.csv", text, &opt, 0);
    assert_int_equal(ldr_load_error_count(ld), 2);
    char line[600];
    assert_string_equal(warn_line(ld, 0, line, sizeof line),
                        "o.csv:2: consultora_code: order of consultora 100 skipped: 1 invalid row");
    PGconn *c = connect_db(ci);
    long long id;
    assert_int_equal(ldr_load_write(ld, c, &id), 0);
    char *v = testdb_query_value(ci, "SELECT string_agg(seq || ':' || consultora_code, ',' ORDER BY seq) FROM orders");
    assert_string_equal(v, "1:200,2:300");
    free(v);
    ldr_load_free(ld);
    PQfinish(c);
    testdb_drop(ci);
}

static void test_dry_run_reads_and_writes_nothing(void **state)
{
    (void)state;
    // A dry run is a read without ldr_load_write: the command never opens the database. Here the
    // read succeeds, the tables stay empty, and the summary has batch_id null.
    char *ci = testdb_create_migrated("ldr_dry");
    struct ldr_load *ld = ldr_load_new(NULL);
    assert_int_equal(ldr_load_read_file(ld, GSPBOT_DATA_DIR "/sample_orders.json"), 0);
    assert_string_equal(ldr_load_name(ld), "Muestra Día de la Madre");
    char *js = ldr_load_summary_json(ld, 0);
    cJSON *o = cJSON_Parse(js);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "batch_id")));
    assert_int_equal(cJSON_GetObjectItem(o, "orders")->valueint, 25);
    cJSON_Delete(o);
    free(js);
    assert_db_empty(ci);
    ldr_load_free(ld);
    testdb_drop(ci);
}

static void test_database_failure_rolls_back_everything(void **state)
{
    (void)state;
    char *ci = testdb_create_migrated("ldr_fail");
    char err[256];
    // A trigger that rejects one product makes the items COPY fail after orders went in.
    assert_int_equal(testdb_exec(ci,
                                 "CREATE FUNCTION no_666() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                 "IF NEW.product_code = '666' THEN RAISE EXCEPTION 'product 666 refused'; END IF; "
                                 "RETURN NEW; END $$; CREATE TRIGGER t BEFORE INSERT ON order_items FOR EACH ROW "
                                 "EXECUTE FUNCTION no_666()",
                                 err, sizeof err),
                     0);
    struct ldr_load *ld = read_text("o.csv", "consultora_code,product_code,quantity\n1,1,1\n2,666,1\n", NULL, 0);
    PGconn *c = connect_db(ci);
    long long id = 0;
    assert_int_equal(ldr_load_write(ld, c, &id), LDR_EDB);
    assert_int_equal(id, 0);
    assert_non_null(strstr(ldr_load_errmsg(ld), "database: COPY order_items: ERROR:  product 666 refused"));
    assert_db_empty(ci);
    ldr_load_free(ld);
    PQfinish(c);
    testdb_drop(ci);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_loader_XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_spectrum_every_file_parses_to_its_json),
        cmocka_unit_test(test_csv_semicolon_windows1252_is_converted),
        cmocka_unit_test(test_csv_tab_crlf_bom_blank_lines_and_quotes),
        cmocka_unit_test(test_csv_unclosed_quote_names_its_line),
        cmocka_unit_test(test_csv_excel_sep_line_sets_the_delimiter),
        cmocka_unit_test(test_header_aliases_match_case_accents_and_spaces),
        cmocka_unit_test(test_header_missing_and_repeated_columns_are_errors),
        cmocka_unit_test(test_code_valid_is_the_one_definition),
        cmocka_unit_test(test_every_rule_has_its_exact_message),
        cmocka_unit_test(test_error_list_is_capped_and_counts_the_rest),
        cmocka_unit_test(test_grouping_first_appearance_sums_repeats_keeps_first_name),
        cmocka_unit_test(test_xls_ods_pdf_truncated_zip_name_the_formats_read),
        cmocka_unit_test(test_xlsx_libreoffice_numbers_formulas_empty_rows_second_sheet),
        cmocka_unit_test(test_xlsx_libxlsxwriter_places_name_sheet_and_cell),
        cmocka_unit_test(test_sheet_option_on_csv_or_json_is_an_error),
        cmocka_unit_test(test_xlsx_first_sheet_without_columns_lists_the_sheets),
        cmocka_unit_test(test_xlsx_inline_strings_prefixes_and_missing_refs),
        cmocka_unit_test(test_xlsx_200k_rows_stream_in_bounded_memory),
        cmocka_unit_test(test_xlsx_zip_bomb_is_refused_on_declared_and_counted_size),
        cmocka_unit_test(test_xlsx_inflate_limits_count_each_part_and_the_sum),
        cmocka_unit_test(test_json_shape_numbers_and_paths),
        cmocka_unit_test(test_sample_files_hold_the_same_orders),
        cmocka_unit_test(test_url_download_404_oversize_and_slow_server),
        cmocka_unit_test(test_write_fills_batches_orders_and_items),
        cmocka_unit_test(test_three_errors_are_all_listed_and_nothing_is_written),
        cmocka_unit_test(test_duplicate_file_is_refused_unless_allowed),
        cmocka_unit_test(test_skip_invalid_drops_whole_orders_and_lists_them),
        cmocka_unit_test(test_dry_run_reads_and_writes_nothing),
        cmocka_unit_test(test_database_failure_rolls_back_everything),
    };
    int failed = cmocka_run_group_tests_name("loader", tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed;
}
