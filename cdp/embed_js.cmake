# Turns a JavaScript file into a C header holding it as a NUL-terminated char array, at build time:
#   cmake -DIN=js/helper.js -DOUT=cdp_helper_js.h -DSYMBOL=cdp__helper_js -P embed_js.cmake
# Generates:  static const char SYMBOL[] = {0x.., ..., 0x00};
# (an array, not a string literal: C11 compilers need not accept literals over 4095 bytes).
file(READ "${IN}" _hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REGEX REPLACE "((0x..,){20})" "\\1\n" _bytes "${_bytes}")
# Written whole every time it runs (only when the .js changed), so its timestamp moves on with it.
file(WRITE "${OUT}" "/* Generated from ${IN} by cdp/embed_js.cmake: do not edit. */\nstatic const char ${SYMBOL}[] = {\n${_bytes}0x00};\n")
