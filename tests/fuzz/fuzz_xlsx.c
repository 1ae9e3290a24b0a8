/* fuzz_xlsx: the XLSX path of the loader on arbitrary bytes (libzip + expat streaming reader, shared
 * strings, cell references, sheet selection, then validation and grouping). Seeds are real
 * workbooks (tests/fuzz/corpus/xlsx); libFuzzer's mutations of the zip reach the XML parts when
 * entries are stored uncompressed, which some seeds are. */
#include <stdint.h>
#include <stdlib.h>

#include "ldr_internal.h"
#include "loader.h"

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
    return 0;
}
