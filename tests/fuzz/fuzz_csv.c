/* fuzz_csv: the CSV path of the loader on arbitrary bytes: encoding detection (UTF-8 / Windows-1252),
 * delimiter detection, the RFC 4180 reader, header mapping, validation and grouping, and the JSON
 * summary. The first byte picks options (skip_invalid, a small error cap) so both paths run. */
#include <stdint.h>
#include <stdlib.h>

#include "ldr_internal.h"
#include "loader.h"

static int touch(void *ctx, const struct ldr__row *row)
{
    size_t *n = ctx;
    for (size_t i = 0; i < row->n; i++)
        *n += row->len[i] + (row->field[i][row->len[i]] == '\0');
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldr_options opt;
    ldr_options_init(&opt);
    if (size > 0) {
        opt.skip_invalid = data[0] & 1;
        opt.max_listed = (data[0] & 2) ? 3 : 100;
    }
    struct ldr_load *ld = ldr_load_new(&opt);
    if (ld == NULL)
        return 0;
    if (ldr_load_read_buffer(ld, "fuzz.csv", data, size, LDR_FORMAT_CSV) == 0) {
        struct ldr_order_view v;
        for (size_t i = 0; ldr_load_order(ld, i, &v) == 0; i++)
            (void)v;
    }
    free(ldr_load_summary_json(ld, 0));
    ldr_load_free(ld);

    // The raw reader too, with each delimiter.
    static const char DELIMS[3] = {',', ';', '\t'};
    char err[256];
    unsigned long line;
    size_t n = 0;
    (void)ldr__csv_parse((const char *)data, size, DELIMS[size % 3], touch, &n, err, sizeof err, &line);
    return 0;
}
