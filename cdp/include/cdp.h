/*
 * cdp.h - a Chrome DevTools Protocol client that never hangs.
 *
 * Launches a private headless Chromium, talks CDP to it over one libwebsockets
 * connection, and offers a synchronous, Playwright-grade page API: isolated
 * browser contexts, navigate-and-wait-for-load, evaluate, actionable clicks,
 * fill/select/press, waits with "error detector" guards, cookies, blocked
 * URLs, dialogs, console errors, screenshots; for modern portals selectors
 * that pierce shadow roots, ARIA role targets, frames (also cross-origin),
 * ARIA listbox/combobox selects, expected dialogs and pop-up windows. Every
 * call has a deadline; a dead browser fails every pending and later call at
 * once with CDP_ERR_GONE.
 *
 * Threading: one thread owns a struct cdp_browser and every page made from it
 * (the thread that called cdp_browser_launch: Chromium gets PR_SET_PDEATHSIG
 * tied to that thread). A call pumps the connection until its reply or its
 * deadline; nothing runs in the background between calls.
 *
 * Errors: functions return 0 or a negative enum cdp_err; the text lives in the
 * object that failed (cdp_browser_errmsg / cdp_page_errmsg) until its next
 * call, and names the method or action: "Page.navigate: net::ERR_CONNECTION_REFUSED".
 * Timeouts: a timeout_ms <= 0 means the page's default (cdp_page_opts.timeout_ms).
 * See cdp/README.md for the full contract.
 */
#ifndef GSPBOT_CDP_H
#define GSPBOT_CDP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define CDP_WUR __attribute__((warn_unused_result))

struct cdp_browser;
struct cdp_page;

enum cdp_err {
    CDP_OK = 0,
    CDP_ERR_NOMEM = -1,      /* allocation failed */
    CDP_ERR_ARG = -2,        /* bad argument (NULL, empty selector, invalid CSS selector) */
    CDP_ERR_LAUNCH = -3,     /* Chromium not found, did not start, no DevTools endpoint */
    CDP_ERR_TIMEOUT = -4,    /* the deadline passed; message says what was awaited */
    CDP_ERR_GONE = -5,       /* browser gone: socket closed, Chromium died, target crashed */
    CDP_ERR_PROTOCOL = -6,   /* Chromium answered with an error, or the page with an impossible answer */
    CDP_ERR_JS = -7,         /* the page's JavaScript threw; message holds its text */
    CDP_ERR_NAVIGATION = -8, /* network error loading the main document (net::ERR_...) */
    CDP_ERR_GUARD = -9,      /* an error detector (guard) matched; see cdp_page_guard_hit */
    CDP_ERR_IO = -10,        /* writing a file failed */
    CDP_ERR_STOPPED = -11,   /* the browser's interrupt callback asked to stop (signal, cancel) */
};

/* Static text for a code ("browser gone", "timeout", ...). Never NULL. */
const char *cdp_strerror(int code);

/* ---------------------------------------------------------------- browser */

struct cdp_launch_opts {
    const char *chromium_path;     /* NULL: $CHROMIUM_PATH, /usr/bin/chromium, chromium-browser, google-chrome */
    bool headed;                   /* false (default): --headless */
    int launch_timeout_ms;         /* <= 0: 20000; start + DevToolsActivePort + WebSocket connect */
    const char *const *extra_args; /* NULL-terminated extra Chromium flags, borrowed for the call */
    /* Asked at least every CDP_INTERRUPT_SLICE_MS while any call waits; when it returns true the
     * call fails at once with CDP_ERR_STOPPED (Ctrl-C, SIGTERM, a cancelled order). Kept for the
     * browser's life; NULL = never. Not asked while the browser closes (that is bounded anyway). */
    bool (*interrupt)(void *arg);
    void *interrupt_arg;
};

#define CDP_INTERRUPT_SLICE_MS 200

/* New, unlaunched browser handle. Returns NULL only when out of memory.
 * Caller owns it; release with cdp_browser_free. */
struct cdp_browser *cdp_browser_new(void);

/* Starts Chromium (own process group, PR_SET_PDEATHSIG=SIGKILL, fresh profile
 * under $TMPDIR or /tmp named gspbot-cdp-<ownerpid>-XXXXXX), reads its
 * DevTools endpoint and connects. Chromium gets every signal at its default,
 * none blocked, and only these environment variables of the caller: PATH,
 * HOME, TMPDIR, LANG, LC_ALL, LC_CTYPE, TZ, DISPLAY, WAYLAND_DISPLAY,
 * XDG_RUNTIME_DIR, FONTCONFIG_PATH, FONTCONFIG_FILE (no secrets in
 * /proc/<renderer>/environ). Works when the caller ignores SIGCHLD. opts may
 * be NULL (all defaults). On failure everything started is torn down and
 * cdp_browser_errmsg says why. */
int cdp_browser_launch(struct cdp_browser *b, const struct cdp_launch_opts *opts) CDP_WUR;

/* Closes the browser: Browser.close, then SIGTERM, then SIGKILL to its process
 * group, reaps it and removes its profile. Frees every page still open (their
 * pointers become invalid) and the handle. NULL is a no-op. Bounded: < ~5 s. */
void cdp_browser_free(struct cdp_browser *b);

/* Last error text of the browser (launch, page creation, browser calls). Borrowed. */
const char *cdp_browser_errmsg(const struct cdp_browser *b);

/* true once the browser is gone (socket closed, Chromium exited). */
bool cdp_browser_is_gone(const struct cdp_browser *b);

/* PID of the Chromium main process (also its process group id); 0 if none. */
pid_t cdp_browser_pid(const struct cdp_browser *b);

/* Browser version string ("Chrome/156.0..."), borrowed; "" before launch. */
const char *cdp_browser_version(const struct cdp_browser *b);

/* Raw browser-level call (no session). params borrowed (may be NULL); on
 * success *result (if result != NULL) is a new object the caller frees with
 * cJSON_Delete. */
int cdp_browser_call(struct cdp_browser *b, const char *method, const cJSON *params, int timeout_ms,
                     cJSON **result) CDP_WUR;

/* ------------------------------------------------------------------- page */

struct cdp_page_opts {
    int timeout_ms;                /* default deadline of every page call; <= 0: 30000 */
    int width, height;             /* viewport in CSS px; <= 0: 1280 x 720 */
    int slow_mo_ms;                /* pause before each input action (click, fill, select, press) */
    const char *const *block_urls; /* NULL-terminated Network.setBlockedURLs patterns, borrowed */
};

/* New isolated browser context (own cookies and storage) with one page in it,
 * attached over a flattened session. opts may be NULL. On success *out is
 * owned by the caller (cdp_page_free); on failure cdp_browser_errmsg says why. */
int cdp_page_new(struct cdp_browser *b, const struct cdp_page_opts *opts, struct cdp_page **out) CDP_WUR;

/* Closes the page's target and disposes its browser context (a popup: closes
 * its window only). Frees its frame handles. NULL and a frame handle: no-op. */
void cdp_page_free(struct cdp_page *p);

/* Last error text of the page. Borrowed, valid until the next call on p. */
const char *cdp_page_errmsg(const struct cdp_page *p);

/* Navigates the main frame (a frame handle: its frame) and waits for its load
 * event. *http_status (may be NULL) gets the document's HTTP status, 0 when
 * there was none (about:, data:, same-document). Network errors give CDP_ERR_NAVIGATION
 * ("Page.navigate: net::ERR_CONNECTION_REFUSED"); an HTTP error status is not
 * an error here. */
int cdp_page_navigate(struct cdp_page *p, const char *url, int timeout_ms, int *http_status) CDP_WUR;

/* Evaluates a JS expression in the page's own (main) world, where its state
 * lives (window variables; a frame handle: the frame's), awaiting a returned
 * promise. On success *result (may be NULL to discard) is a new cJSON value
 * (JSON null for undefined) owned by the caller. A thrown exception gives CDP_ERR_JS with its text
 * ("Error: boom"). */
int cdp_page_evaluate(struct cdp_page *p, const char *expression, int timeout_ms, cJSON **result) CDP_WUR;

enum cdp_state {
    CDP_STATE_VISIBLE = 0, /* some element matching selector (+text) is visible */
    CDP_STATE_HIDDEN,      /* no element matching selector (+text) is visible */
    CDP_STATE_ATTACHED,    /* some element matches, visible or not */
    CDP_STATE_DETACHED,    /* no element matches */
};

/* In every call below, selector is a target and text (may be NULL) keeps only
 * elements whose text contains it (case-insensitive, whitespace normalised).
 * A target is
 * - a CSS selector that pierces OPEN shadow roots like Playwright's: a
 *   descendant combinator (" ") crosses shadow boundaries ("gsp-picker
 *   button.pick" finds the button in gsp-picker's shadow root); ">", "+" and
 *   "~" stay within one tree;
 * - or role=ROLE / role=ROLE[name="NAME"] (\" and \\ escape inside NAME): the
 *   ARIA role, explicit or implicit (button, a[href] link, input textbox /
 *   checkbox / radio / spinbutton / slider / searchbox, select combobox or
 *   listbox, option, textarea textbox, h1-h6 heading, li listitem, table /
 *   row / cell / columnheader, ...; role=textbox also matches a searchbox),
 *   and the accessible name (aria-labelledby, aria-label, <label for> or a
 *   wrapping label, a button's value, alt, the text content for buttons,
 *   links, options, headings, cells, tabs..., title, placeholder), compared
 *   WHOLE, case-insensitively, after collapsing whitespace. Elements inside
 *   aria-hidden="true" are not matched.
 * Matches come in document order, a shadow tree's right after its host; the
 * first visible one is acted on. An invalid target fails at once with
 * CDP_ERR_ARG ('click "div[": not a valid CSS selector (<the browser's
 * SyntaxError>)', 'click "role=buton": not a valid role selector (unknown ARIA
 * role "buton")'). All of them poll until done or the deadline and race the
 * page's guards (see cdp_page_set_guards) on every poll. They run in an
 * isolated JavaScript world (shared DOM, own globals), so page scripts that
 * override DOM or built-in prototypes cannot steer them. On a frame handle
 * (cdp_page_frame) they act inside that frame. */

/* Waits until selector (+text) reaches state. */
int cdp_page_wait_for(struct cdp_page *p, const char *selector, const char *text, enum cdp_state state,
                      int timeout_ms) CDP_WUR;

/* Waits until the JS expression is truthy (a promise is awaited). The
 * expression runs in the page's own world, like cdp_page_evaluate. */
int cdp_page_wait_function(struct cdp_page *p, const char *expression, int timeout_ms) CDP_WUR;

/* Waits until location.href contains substring. */
int cdp_page_wait_url(struct cdp_page *p, const char *substring, int timeout_ms) CDP_WUR;

/* One look, no waiting and no guards: *visible is true when an element
 * matching selector (+text) is visible now. On a frame handle whose frame is
 * not there (yet), *visible is false. Returns 0, CDP_ERR_ARG (invalid target)
 * or an error of the round trip (bounded by timeout_ms). For "skip_if". */
int cdp_page_is_visible(struct cdp_page *p, const char *selector, const char *text, int timeout_ms,
                        bool *visible) CDP_WUR;

/* Clicks like a user: waits until the element is attached, visible, enabled,
 * scrolled into view, stable over two animation frames and hit by a test at
 * its centre (not covered by an overlay; the test descends into open shadow
 * roots, and in a frame every ancestor document must hit the iframe there),
 * re-resolving the selector on every try; then real mouse move, press and
 * release at the centre. In a frame the events go to the innermost
 * out-of-process frame's session (or the page's), and a click that did not
 * arrive in the frame (Chromium drops input to a just-loaded frame now and
 * then) is made again. */
int cdp_page_click(struct cdp_page *p, const char *selector, const char *text, int timeout_ms) CDP_WUR;

/* Fills an input, textarea or contenteditable: waits until visible, enabled
 * and editable, focuses, selects its content and replaces it with value
 * typed with Input.insertText (trusted `beforeinput`/`input` events, so
 * framework-controlled inputs see it), then checks that the field shows what
 * was typed, comparing letters and digits only (accents and case ignored:
 * "(011) 4555-1234" shows "01145551234"), and fires `change`. When it does
 * not (a mask that takes one key at a time, a framework that re-rendered the
 * old value), it selects all and types again one key at a time; still not:
 * CDP_ERR_ARG ("the field does not show what was typed"; values never appear
 * in messages). value may be "" (clears). Date/time/color/range inputs are
 * set directly. */
int cdp_page_fill(struct cdp_page *p, const char *selector, const char *text, const char *value,
                  int timeout_ms) CDP_WUR;

/* Selects value in
 * - a native <select>: the <option> whose value equals value, else whose
 *   label (trimmed text) equals it; fires `input` and `change`;
 * - an ARIA role=listbox: clicks (real mouse) the role=option whose
 *   data-value or value attribute equals value, else whose accessible name
 *   equals it (case-insensitive), then waits for aria-selected="true";
 * - an ARIA role=combobox: opens it with a click unless its listbox (found by
 *   aria-controls, aria-owns or inside it) is shown, clicks the option as
 *   above, then waits until the option is aria-selected or the combobox shows
 *   it (its data-value/value is value, or its text holds the option's name).
 * Already selected: nothing is clicked. Waits for the option to exist. */
int cdp_page_select(struct cdp_page *p, const char *selector, const char *text, const char *value,
                    int timeout_ms) CDP_WUR;

/* Presses a key ("Enter", "Tab", "Escape", "Backspace", "ArrowDown", "a"...)
 * with keyDown/keyUp; if selector is not NULL, first waits for it to be
 * visible and focuses it. */
int cdp_page_press(struct cdp_page *p, const char *selector, const char *key, int timeout_ms) CDP_WUR;

/* Waits for selector (+text) to be attached and returns its innerText in *out
 * (caller frees with free). */
int cdp_page_text(struct cdp_page *p, const char *selector, const char *text, int timeout_ms, char **out) CDP_WUR;

/* PNG screenshot to path (written to path.tmp with mode 0600, then renamed):
 * the viewport, or the whole scrollable page when full_page (a frame handle:
 * of its page). */
int cdp_page_screenshot(struct cdp_page *p, const char *path, bool full_page, int timeout_ms) CDP_WUR;

/* The page's current HTML (doctype + outerHTML of a copy of the document) to
 * path, mode 0600 like the screenshot. Password inputs (type=password, or
 * autocomplete current-password/new-password) carry no value attribute in the
 * file, even when the page mirrors what was typed into it; the live page is
 * not changed. */
int cdp_page_html(struct cdp_page *p, const char *path, int timeout_ms) CDP_WUR;

/* Waits until the page has settled: no DOM mutation and no network request in
 * flight (Network events of this page; EventSource streams are not counted)
 * for quiet_ms (<= 0: 500), for content that arrives after the load event.
 * The DOM is watched from the moment of the call, so it takes at least
 * quiet_ms. Returns 0; CDP_ERR_TIMEOUT at the cap timeout_ms, with what was
 * still busy ("wait_settled: timeout after 10000 ms: 2 requests in flight
 * (https://...)"); CDP_ERR_GONE or CDP_ERR_STOPPED. Guards are not checked. */
int cdp_page_wait_settled(struct cdp_page *p, int quiet_ms, int timeout_ms) CDP_WUR;

/* Waits ms milliseconds while still serving the connection's events (a crash is noticed). Returns
 * 0, CDP_ERR_STOPPED when the interrupt callback asked to stop, or CDP_ERR_GONE. */
int cdp_page_sleep(struct cdp_page *p, int ms) CDP_WUR;

/* Sets the viewport size in CSS pixels (device scale factor 1). */
int cdp_page_set_viewport(struct cdp_page *p, int width, int height) CDP_WUR;

/* Network.setBlockedURLs: patterns is NULL-terminated ("*.png"); NULL clears. */
int cdp_page_block_urls(struct cdp_page *p, const char *const *patterns) CDP_WUR;

/* Cookies of the page's browser context. get: *out is a new cJSON array of
 * CDP Network.Cookie objects (caller frees). set: cookies is a borrowed array
 * of CDP Network.CookieParam objects ({"name","value","url"} or
 * {"name","value","domain","path"}, ...). clear: removes them all. */
int cdp_page_cookies_get(struct cdp_page *p, cJSON **out) CDP_WUR;
int cdp_page_cookies_set(struct cdp_page *p, const cJSON *cookies) CDP_WUR;
int cdp_page_cookies_clear(struct cdp_page *p) CDP_WUR;

/* Raw call on the page's session (a frame handle: the session hosting its
 * frame). Same ownership as cdp_browser_call. */
int cdp_page_call(struct cdp_page *p, const char *method, const cJSON *params, int timeout_ms, cJSON **result) CDP_WUR;

/* ----------------------------------------------------------------- frames */

/* A handle for the frame of an <iframe>, same-origin or cross-origin (an
 * out-of-process iframe: Chromium isolates sites), nested:
 * iframe_selectors[0..n) are targets, outermost first, each in the document
 * of the frame before it (the first in p's; p may itself be a frame handle).
 * Waits (up to timeout_ms) until each iframe exists and its document has
 * loaded (not the initial about:blank). On success *out is a frame handle on
 * which every page call works inside that frame: evaluate and wait_function
 * in the frame's own world (flow and cart expressions), waits, click (through
 * every ancestor's hit test, see cdp_page_click), fill, select, press, text,
 * is_visible, html, wait_settled, wait_url (the frame's URL), navigate (the
 * frame), its own guards (set_guards/check_guards race in that frame) and its
 * own errmsg; screenshot, viewport, blocked URLs, cookies, dialogs, popups,
 * the log and is_closed act on its page.
 *
 * Lifetime: the handle is owned by its page: it stays valid until the page
 * is freed (cdp_page_free on a frame handle does nothing), and the same
 * selectors under the same parent give the same handle (at most 256 per
 * page). It follows its frame: when the frame is removed or replaced, its
 * parent navigates, or it moves to another process, the next call on the
 * handle finds the iframe again by its selectors (waiting, within that
 * call's deadline) and acts in the new one; if it never comes the call fails
 * with CDP_ERR_TIMEOUT ("click #add in frame #cart: timeout after 5000 ms:
 * frame #cart: no element matches"). On failure *out is NULL and p's errmsg
 * says why (CDP_ERR_TIMEOUT, CDP_ERR_ARG for an invalid selector or an
 * element that is not an iframe). */
int cdp_page_frame(struct cdp_page *p, const char *const *iframe_selectors, size_t n, int timeout_ms,
                   struct cdp_page **out) CDP_WUR;

/* ---------------------------------------------------------------- dialogs */

/* Arms p's page for the next JavaScript dialog (alert, confirm, prompt,
 * beforeunload) of any of its frames: it is accepted (accept, with
 * prompt_text as a prompt's answer when not NULL; copied) or dismissed, and
 * its message kept; afterwards dialogs are dismissed again. Call it before
 * the action that opens the dialog. Re-arming replaces the previous arming
 * and forgets a dialog seen. Every dialog is logged (CDP_LOG_DIALOG); an
 * expected one with " (accepted, expected)" / " (dismissed, expected)". */
int cdp_page_expect_dialog(struct cdp_page *p, bool accept, const char *prompt_text) CDP_WUR;

/* The same, and the dialog is accepted only when its message contains expect
 * (case-insensitive; NULL = any message): another message is dismissed and
 * cdp_page_dialog_mismatch() says so. A question the caller did not expect is
 * never answered yes. */
int cdp_page_expect_dialog_text(struct cdp_page *p, bool accept, const char *prompt_text, const char *expect) CDP_WUR;

/* true when the armed dialog was seen and dismissed because its message did
 * not contain the expected text. */
bool cdp_page_dialog_mismatch(const struct cdp_page *p);

/* true when a dialog was handled as armed since cdp_page_expect_dialog; its
 * message is copied into message[0..n) (may be NULL). Dialogs are handled
 * while calls run: this serves what already arrived (~1 ms) but does not wait. */
bool cdp_page_dialog_seen(struct cdp_page *p, char *message, size_t n);

/* ----------------------------------------------------------------- popups */

/* Arms p's page for a new window it opens (window.open, target=_blank, in any
 * of its frames). Call it before the action. Turns on target discovery for
 * the browser (one round trip, the first time). */
int cdp_page_expect_popup(struct cdp_page *p) CDP_WUR;

/* Waits for the window armed for, attaches to it and waits until its
 * document has loaded (readyState "complete" at a URL other than the initial
 * about:blank, or about:blank for 1 s). On success *popup is a new page
 * handle (same helpers, guards, frames, dialogs as any page; the opener's
 * viewport and blocked URLs) sharing the opener's browser context (cookies,
 * session). Owned like any page: cdp_page_free closes that window only; the
 * browser frees it otherwise; freeing the opener closes it too (its calls then
 * fail with CDP_ERR_GONE, "page detached"). CDP_ERR_TIMEOUT ("no new window
 * was opened"), CDP_ERR_ARG without cdp_page_expect_popup. */
int cdp_page_wait_popup(struct cdp_page *p, int timeout_ms, struct cdp_page **popup) CDP_WUR;

/* true once p's window is closed (window.close, Target.targetDestroyed, its
 * target detached) or the browser is gone. Serves what already arrived (~1 ms).
 * Calls on a closed window fail with CDP_ERR_GONE ("window closed") while
 * cdp_browser_is_gone stays false. */
bool cdp_page_is_closed(struct cdp_page *p);

/* Waits until p's window is closed: 0, CDP_ERR_TIMEOUT ("the window is still open"). */
int cdp_page_wait_closed(struct cdp_page *p, int timeout_ms) CDP_WUR;

/* ----------------------------------------------------------------- guards */

/* An error detector raced against every waiting action. It matches when an
 * element matching selector is visible and, if text is set, its text contains
 * text (case-insensitive); or, when selector is NULL, when the JS expression
 * js is truthy. Selector guards are checked in the isolated world (a page
 * cannot fake a match); JS guards in the page's own world (they read its
 * state). */
struct cdp_guard {
    const char *selector; /* CSS selector, or NULL to use js */
    const char *text;     /* optional text filter for selector */
    const char *js;       /* optional JS expression (used when selector is NULL) */
};

/* Replaces the page's guards with a copy of guards[0..n) (n == 0 clears; at
 * most 1000). Selectors are checked by the browser's CSS parser at once (one
 * round trip): an invalid one gives CDP_ERR_ARG ('guards: guard 1 "div[": not
 * a valid CSS selector (...)') and leaves the page without guards, as does
 * any other failure. While set, every wait/click/fill/select/press/text call
 * checks them first on every poll and fails at once with CDP_ERR_GUARD when
 * one matches; cdp_page_guard_hit then gives its index and cdp_page_errmsg the
 * matched element's text. A guard index the page answers that is not one of
 * these guards is CDP_ERR_PROTOCOL. */
int cdp_page_set_guards(struct cdp_page *p, const struct cdp_guard *guards, size_t n) CDP_WUR;

/* Checks the guards once (e.g. right after a navigation): 0 if none matches,
 * CDP_ERR_GUARD if one does, or another error. */
int cdp_page_check_guards(struct cdp_page *p, int timeout_ms) CDP_WUR;

/* Index of the guard that made the last call fail with CDP_ERR_GUARD, else -1. */
int cdp_page_guard_hit(const struct cdp_page *p);

/* The handle whose guard stopped the last waiting call on p: p itself, or — p being a frame
 * handle — the page or frame above it (a frame's waits also race the guards set on the pages and
 * frames that hold it, looked at every 200 ms); NULL when no guard matched. Its
 * cdp_page_guard_hit() is the index. */
struct cdp_page *cdp_page_guard_hit_on(const struct cdp_page *p);

/* ------------------------------------------------------------ page events */

enum cdp_log_kind {
    CDP_LOG_CONSOLE_ERROR = 0, /* console.error(...) and Log.entryAdded errors (failed loads) */
    CDP_LOG_EXCEPTION,         /* uncaught exception / unhandled rejection */
    CDP_LOG_DIALOG,            /* alert/confirm/prompt handled ("confirm: Sure?": dismissed) */
};

/* The page's event log (all its frames; a frame handle reads its page's),
 * oldest first, capped at 500 entries of 2 KiB each (later entries are
 * dropped and counted in cdp_page_log_dropped). */
size_t cdp_page_log_count(const struct cdp_page *p);
/* Text of entry i (borrowed, valid until cdp_page_log_clear/free); *kind set
 * if kind != NULL. NULL if i is out of range. */
const char *cdp_page_log_get(const struct cdp_page *p, size_t i, enum cdp_log_kind *kind);
size_t cdp_page_log_dropped(const struct cdp_page *p);
void cdp_page_log_clear(struct cdp_page *p);

#endif
