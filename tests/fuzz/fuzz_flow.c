/* libFuzzer target for the flow-file parser and checker (flow_parse) and, on every flow it
 * accepts, the check of its configuration variables: any input must give a flow or a list of
 * problems, never a crash, a leak or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    struct flow *f = NULL;
    struct flow_diags d = {0};
    if (flow_parse(json, "fuzz.json", &f, &d) == 0) {
        struct config cfg = {.base_url = "http://127.0.0.1:1", .user_code = "u", .password = "p", .cycle = "c"};
        char err[256];
        (void)flow_check_config(f, &cfg, err, sizeof err);
        flow_free(f);
    }
    flow_diags_cleanup(&d);
    free(json);
    return 0;
}
