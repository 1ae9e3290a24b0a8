/* flow_css: a syntax check of CSS selectors for `gspbot flow check`: catches the typos a flow
 * author makes (unbalanced brackets, quotes and parentheses, dangling combinators, "#" or "."
 * without a name, characters CSS has no use for) without a browser. It accepts a superset of CSS:
 * the browser remains the judge of what a selector matches. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"

static bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '\\' || c >= 0x80;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_combinator(char c)
{
    return c == '>' || c == '+' || c == '~' || c == ',';
}

bool flow_css_check(const char *sel, char *why, size_t n)
{
    int brackets = 0, parens = 0;
    char quote = 0;
    // The last significant character outside [] and (): 0 at the start, ',' or a combinator.
    char last = 0;
    size_t i = 0;
    for (; sel[i] != '\0'; i++) {
        char c = sel[i];
        if (quote) {
            if (c == '\\' && sel[i + 1] != '\0')
                i++;
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '\\') {
            if (sel[i + 1] == '\0') {
                snprintf(why, n, "ends with a backslash");
                return false;
            }
            i++;
            last = 'a';
            continue;
        }
        if (c == '"' || c == '\'') {
            if (brackets == 0 && parens == 0) {
                snprintf(why, n, "quote outside [...] or (...) at position %zu", i + 1);
                return false;
            }
            quote = c;
            continue;
        }
        if (c == '[') {
            if (brackets > 0) {
                snprintf(why, n, "\"[\" inside [...] at position %zu", i + 1);
                return false;
            }
            brackets++;
            size_t j = i + 1;
            while (is_space(sel[j]))
                j++;
            if (sel[j] == '\0') {
                snprintf(why, n, "unclosed [");
                return false;
            }
            if (!ident_start((unsigned char)sel[j]) && sel[j] != '*' && sel[j] != '|') {
                snprintf(why, n, "[...] at position %zu does not start with an attribute name", i + 1);
                return false;
            }
            continue;
        }
        if (c == ']') {
            if (brackets == 0) {
                snprintf(why, n, "\"]\" without \"[\" at position %zu", i + 1);
                return false;
            }
            brackets--;
            last = 'a';
            continue;
        }
        if (brackets > 0)
            continue;
        if (c == '(') {
            parens++;
            continue;
        }
        if (c == ')') {
            if (parens == 0) {
                snprintf(why, n, "\")\" without \"(\" at position %zu", i + 1);
                return false;
            }
            parens--;
            last = 'a';
            continue;
        }
        if (parens > 0)
            continue;
        if (is_space(c))
            continue;
        if (strchr("{};!@%&`?<=^$", c) != NULL) {
            snprintf(why, n, "unexpected \"%c\" at position %zu", c, i + 1);
            return false;
        }
        if (is_combinator(c)) {
            // A leading combinator ("> a") or two in a row ("a > + b", "a,,b") is invalid in
            // querySelector.
            if (last == 0 || is_combinator(last)) {
                snprintf(why, n, "\"%c\" at position %zu has nothing before it", c, i + 1);
                return false;
            }
            last = c;
            continue;
        }
        if ((c == '#' || c == '.') && !ident_start((unsigned char)sel[i + 1])) {
            snprintf(why, n, "\"%c\" at position %zu is not followed by a name", c, i + 1);
            return false;
        }
        if (c == ':' && sel[i + 1] != ':' && !ident_start((unsigned char)sel[i + 1])) {
            snprintf(why, n, "\":\" at position %zu is not followed by a pseudo-class", i + 1);
            return false;
        }
        last = 'a';
    }
    if (quote) {
        snprintf(why, n, "unclosed %c", quote);
        return false;
    }
    if (brackets > 0) {
        snprintf(why, n, "unclosed [");
        return false;
    }
    if (parens > 0) {
        snprintf(why, n, "unclosed (");
        return false;
    }
    if (last == 0) {
        snprintf(why, n, "empty");
        return false;
    }
    if (is_combinator(last)) {
        snprintf(why, n, "ends with \"%c\"", last);
        return false;
    }
    return true;
}
