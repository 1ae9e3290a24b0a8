/* flow: flow files (README "Adapting the flow to your portal") — the portal walk described as JSON that staff edit
 * without recompiling. This header holds the parsed model, the checker behind `gspbot flow check`, and the context-safe
 * substitution of `${...}` variables. The engine that runs a flow in the browser is flow_run.h.
 *
 * Lifecycle: flow_load() parses and checks a file into a struct flow (flow_free) and lists every
 * problem it found in a struct flow_diags (flow_diags_cleanup). The model is immutable after load;
 * templates stay templates until flow_expand() substitutes them for one order and item. */
#ifndef GSPBOT_FLOW_H
#define GSPBOT_FLOW_H

#include <stdbool.h>
#include <stddef.h>

struct config;

enum flow_verb {
    FLOW_GOTO,       /* URL or path joined to base_url; waits for the load event */
    FLOW_CLICK,      /* selector; actionability checks, real mouse events */
    FLOW_FILL,       /* selector + value */
    FLOW_SELECT,     /* selector + value (option value or label) */
    FLOW_PRESS,      /* key name, optionally `on` a selector */
    FLOW_WAIT_FOR,   /* selector, state visible|hidden */
    FLOW_WAIT_URL,   /* substring of the page URL */
    FLOW_EVAL,       /* JS expression that must be truthy */
    FLOW_SCREENSHOT, /* label */
    FLOW_SLEEP_MS,   /* milliseconds */
    FLOW_CAPTURE,    /* selector: its text is kept on the order (`as`: portal_reference) */
    FLOW_VERB_COUNT
};

/* The verb names as written in flow files, indexed by enum flow_verb. */
extern const char *const FLOW_VERB_NAMES[FLOW_VERB_COUNT];

/* How a failure is handled (README "Adapting the flow to your portal"). */
enum flow_class {
    FLOW_CLASS_NONE,
    FLOW_CLASS_FATAL,       /* the order can never pass as it is: no retry */
    FLOW_CLASS_RECOVERABLE, /* retry with backoff */
    FLOW_CLASS_SESSION,     /* the portal session is gone: start again from the first step at once */
    FLOW_CLASS_ABORT,       /* nothing can pass until a person acts (rejected credentials, a locked
                               account, a bad GSP_BASE_URL): the whole run stops */
};

/* "fatal", "recoverable", "session", "abort" ("none" for FLOW_CLASS_NONE). */
const char *flow_class_name(enum flow_class c);

/* What an action does with a JS dialog (alert/confirm/prompt) it opens. */
enum flow_dialog {
    FLOW_DIALOG_NONE,    /* not expected: one that opens is dismissed and logged */
    FLOW_DIALOG_ACCEPT,  /* "dialog": "accept" */
    FLOW_DIALOG_DISMISS, /* "dialog": "dismiss" */
};

/* Pop-up windows. */
enum flow_popup {
    FLOW_POPUP_NONE,
    FLOW_POPUP_OPEN,  /* "popup": true: the action opens a window; the walk moves there */
    FLOW_POPUP_CLOSE, /* "popup": "close": after the action (or alone) the window is closed and the
                         walk goes back to the page that opened it */
};

/* A frame path: the iframes to enter, outermost first (selector templates). nframe 0 = the page. */
struct flow_frame {
    char **sel;
    size_t n;
};

/* One action. Strings are owned by the flow; the ones marked "template" hold `${...}` variables.
 * A target written as {"role": R, "name": N} is kept as the selector `role=R[name="N"]` (the
 * browser side resolves it by ARIA role and accessible name). */
struct flow_action {
    enum flow_verb verb;
    char *target;            /* template: the verb's argument (selector, URL, key, expression, label) */
    char *value;             /* template: fill/select value; NULL for other verbs */
    char *on;                /* template: press's optional selector; NULL when absent */
    char *text;              /* template: text filter ("the element whose text contains"); NULL when absent */
    bool hidden;             /* wait_for state: hidden */
    int timeout_ms;          /* 0 = the flow's timeout */
    int sleep_ms;            /* sleep_ms's argument */
    bool optional;           /* a failure (timeout, not found) is ignored */
    bool unless_here;        /* goto: on a step's first try, no navigation when the page is already there */
    bool secret;             /* the value is a secret: never logged, traced or put in an error message */
    bool frame_set;          /* "frame" given on the action (an empty list means the page itself) */
    struct flow_frame frame; /* iframes the action runs in; unset = the step's */
    enum flow_dialog dialog; /* the JS dialog this action opens */
    char *dialog_text;       /* template: the dialog's message must contain this; NULL = any */
    enum flow_popup popup;
    char *capture_as; /* capture: where the text goes ("portal_reference") */
    char path[96];    /* JSON path for messages, e.g. "steps[0].actions[2]" */
};

struct flow_actions {
    struct flow_action *v;
    size_t n;
};

/* An error detector: when `selector` is visible (and its text contains `text`, case-insensitively)
 * any waiting action fails at once with `cls` and the element's text. */
struct flow_detector {
    char *selector; /* plain CSS (no variables) */
    char *text;     /* NULL = any text */
    enum flow_class cls;
    char *outcome; /* what it means for an item ("not_found"); NULL = "failed" */
    char **steps;  /* step names it applies in; NULL/0 = every step */
    size_t nsteps;
    char path[48];
};

struct flow_step {
    char *name;                  /* recorded as the order's step when it succeeds */
    struct flow_frame frame;     /* iframes the step's actions run in (each may override) */
    char *skip_if;               /* template selector: skip the step when visible; NULL */
    struct flow_actions actions; /* run first */
    char *cart;                  /* template JS returning [{code, quantity}]; NULL = no cart */
    bool cart_frame_set;         /* the cart's own "frame" (else the step's) */
    struct flow_frame cart_frame;
    struct flow_actions for_each_item;    /* run once per item still missing */
    struct flow_actions after_item_error; /* run after an item failed fatally */
    int retries;                          /* re-runs in place after a transient failure; -1 = flow's */
    int max_per_add;                      /* an item's quantity goes in adds of at most this; 0 = one add */
    char path[32];
};

/* An interruption (a cookie banner, a survey modal): when `selector` shows while an action waits,
 * `actions` run (in the frame of the selector) and the action resumes. */
struct flow_interrupt {
    char *selector; /* plain CSS or role= (no variables) */
    struct flow_frame frame;
    struct flow_actions actions;
    char path[32];
};

struct flow {
    char *name;
    char *base_url;    /* template */
    int timeout_ms;    /* default action deadline; 0 = GSPBOT_TIMEOUT_MS */
    int step_retries;  /* default re-runs of a step after a transient failure (2) */
    char **block_urls; /* URL patterns blocked in the browser (Network.setBlockedURLs) */
    size_t nblock;
    struct flow_detector *errors;
    size_t nerrors;
    struct flow_interrupt *interrupts;
    size_t ninterrupts;
    struct flow_step *steps;
    size_t nsteps;
    char *source; /* the file it came from */
};

/* One problem found in a flow file: where (JSON path) and what. */
struct flow_diag {
    char path[128];
    char message[300];
};

struct flow_diags {
    struct flow_diag *v;
    size_t n;
};

/* Reads and checks the flow file at `path`. On success stores a new flow in *out (caller frees
 * with flow_free) and returns 0. On any problem returns -1, *out stays NULL, and every problem
 * found is appended to *diags (caller-owned, zero-initialised; free with flow_diags_cleanup):
 * unreadable file, JSON syntax (with line and column), unknown verbs and options, wrong types,
 * unknown variables, variables out of their scope (item.* outside for_each_item), a secret
 * variable in an action not marked "secret", bad CSS selectors, duplicate step names, detectors
 * naming unknown steps. */
__attribute__((warn_unused_result)) int flow_load(const char *path, struct flow **out, struct flow_diags *diags);

/* The same from a JSON text in memory; `source` names it in messages. */
__attribute__((warn_unused_result)) int flow_parse(const char *json, const char *source, struct flow **out,
                                                   struct flow_diags *diags);

/* Frees a flow and everything it holds. NULL is a no-op. */
void flow_free(struct flow *flow);

/* Frees the diagnostics' storage and zeroes *diags. */
void flow_diags_cleanup(struct flow_diags *diags);

/* Checks CSS selector syntax (balanced brackets, parentheses and quotes; no dangling combinator;
 * no empty compound). Returns true, or false with the reason in why (size n). The browser stays
 * the judge of what matches; this catches the typos a flow author makes. */
bool flow_css_check(const char *selector, char *why, size_t n);

/* ---- variables ---- */

/* Where a substituted value lands; each escapes so that no value can break out of its context. */
enum flow_ctx {
    FLOW_CTX_TEXT, /* as is: fill values, text filters, key names */
    FLOW_CTX_CSS,  /* selectors: escaped as CSS.escape() does (a leading digit too): one identifier */
    FLOW_CTX_JS,   /* JS string content: \ ' " ` $ < > and control characters become \uXXXX */
    FLOW_CTX_ROLE, /* an accessible name inside role=R[name="..."]: \ and " escaped with \ */
    FLOW_CTX_URL   /* URLs: order and item values percent-encoded except unreserved characters;
                      configuration values (GSP_BASE_URL...) inserted as they are */
};

/* One item of an order as the engine sees it. */
struct flow_item {
    const char *product_code;
    int quantity;      /* the quantity of this add: ${item.quantity} (all that is missing, or at most
                          the step's max_per_add) */
    int cart_quantity; /* what the cart must hold for the product once this add is done:
                          ${item.cart_quantity} */
};

/* One order as the engine sees it (borrowed strings). */
struct flow_order {
    long long id;
    const char *consultora_code;
    const char *consultora_name;
};

/* What ${...} may name at the point of substitution. `item` is NULL outside for_each_item. */
struct flow_vars {
    const struct config *cfg;
    const struct flow_order *order;
    const struct flow_item *item;
};

/* Returns a new string (caller frees) with every ${NAME} of `tmpl` replaced by its value escaped
 * for `ctx`, or NULL with the reason in err (size n): an unknown or unset variable, an unclosed
 * "${", out of memory. */
__attribute__((warn_unused_result)) char *flow_expand(const char *tmpl, enum flow_ctx ctx, const struct flow_vars *vars,
                                                      char *err, size_t n);

/* Checks that every configuration variable the flow uses (${GSP_BASE_URL}, ${GSP_CYCLE}...) is set
 * in cfg. Returns 0, or -1 with "GSP_CYCLE is used by steps[2].actions[0] but not set" in err. */
__attribute__((warn_unused_result)) int flow_check_config(const struct flow *flow, const struct config *cfg, char *err,
                                                          size_t n);

/* JS contexts (`eval`, `cart`): true when every variable of the template stands inside a quoted
 * string literal ('...', "..." or `...`), where its escaped value is inert string content; else
 * false with why (size n) naming the variable. `flow check` rejects the others: a value pasted
 * into JS code (`f(${order.consultora_name})`) would run whatever a spreadsheet put there. */
bool flow_js_vars_quoted(const char *js, char *why, size_t n);

/* The longest expansion of one template, in bytes. */
#define FLOW_EXPAND_MAX (64 * 1024)

/* True when the template names a secret variable (${GSP_PASSWORD}). */
bool flow_template_has_secret(const char *tmpl);

#endif
