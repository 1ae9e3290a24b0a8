/* flow_internal: what the flow files share between themselves (not for other modules). */
#ifndef GSPBOT_FLOW_INTERNAL_H
#define GSPBOT_FLOW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

enum flow_var_scope {
    FLOW_VAR_CONFIG, /* anywhere */
    FLOW_VAR_ORDER,  /* inside steps */
    FLOW_VAR_ITEM    /* inside for_each_item and after_item_error */
};

struct flow_var_def {
    const char *name;
    enum flow_var_scope scope;
    bool secret;
};

/* True when d is a whole number a double holds exactly (|d| <= 2^53), stored in *out. False for
 * fractions, NaN, infinities and larger magnitudes — which must never be cast to an integer type
 * (undefined behaviour, found by fuzz_flow). */
bool flow__whole_number(double d, long long *out);

/* The definition of the variable named by name[0..len), or NULL. Static storage. */
const struct flow_var_def *flow__var_find(const char *name, size_t len);

#endif
