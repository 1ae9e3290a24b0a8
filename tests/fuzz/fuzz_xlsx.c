/* fuzz_xlsx: the XLSX path of the loader on arbitrary bytes (libzip + expat streaming reader, shared
 * strings, cell references, sheet selection, then validation and grouping). Seeds are real
 * workbooks (tests/fuzz/corpus/xlsx); libFuzzer's mutations of the zip reach the XML parts when
 * entries are stored uncompressed, which some seeds are. The reader is also run alone under tiny
 * inflate limits, so the zip-bomb checks (declared and counted sizes) see every input. */
#include <stdint.h>
#include <stdlib.h>

#include "ldr_internal.h"
#include "loader.h"

static int count(void *ctx, const struct ldr__row *row)
{
    *(size_t *)ctx += row->n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.sheet = size > 0 && (data[size - 1] & 1) ? "Hoja1" : NULL;
    struct ldr_load *ld = ldr_load_new(&opt);
    if (ld == NULL)
        return 0;
    (void)ldr_load_read_buffer(ld, "fuzz.xlsx", data, size, LDR_FORMAT_XLSX);
    free(ldr_load_summary_json(ld, 0));
    ldr_load_free(ld);

    struct ldr__xlsx_limits lim = {.part = 4096, .total = 8192}; // bytes
    struct ldr__xlsx_sheets sheets;
    char err[512];
    size_t cells = 0;
    (void)ldr__xlsx_read(data, size, NULL, count, &cells, &sheets, &lim, err, sizeof err);
    return 0;
}
