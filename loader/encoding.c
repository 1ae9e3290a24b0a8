/* encoding: UTF-8 validation and the Windows-1252 -> UTF-8 conversion. Spreadsheets saved as "CSV"
 * by Excel on a Spanish Windows are Windows-1252; a file that is not valid UTF-8 is read as such.
 * The table is written out here rather than asking iconv: Windows-1252 leaves five bytes undefined
 * (0x81 0x8D 0x8F 0x90 0x9D), where iconv fails; here they become U+FFFD and the file still loads
 * (they cannot be in a code, and a name with one is readable). */
#include "ldr_internal.h"

bool ldr__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

size_t ldr__utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

// Windows-1252 0x80..0x9F; 0xFFFD where the code page defines nothing.
static const unsigned short CP1252_HIGH[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                               0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                               0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                               0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

int ldr__cp1252_to_utf8(const char *str, size_t n, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    if (buf_reserve(out, n + n / 2 + 16) != 0)
        return LDR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = s[i];
        if (cp >= 0x80 && cp < 0xA0)
            cp = CP1252_HIGH[cp - 0x80];
        char enc[3];
        size_t k;
        if (cp < 0x80) {
            enc[0] = (char)cp;
            k = 1;
        } else if (cp < 0x800) {
            enc[0] = (char)(0xC0 | (cp >> 6));
            enc[1] = (char)(0x80 | (cp & 0x3F));
            k = 2;
        } else {
            enc[0] = (char)(0xE0 | (cp >> 12));
            enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            enc[2] = (char)(0x80 | (cp & 0x3F));
            k = 3;
        }
        if (buf_append(out, enc, k) != 0)
            return LDR_ENOMEM;
    }
    return 0;
}
