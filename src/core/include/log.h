/* log: process-wide logging to stderr (and optionally a file) as text or JSON lines.
 *
 * Secrets registered with log_add_secret() are replaced by "***" in every line, whatever the
 * caller formats, so a password or token that slips into a message never reaches a log. */
#ifndef GSPBOT_LOG_H
#define GSPBOT_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Sets the format and the lowest level printed (LOG_DEBUG when verbose, else LOG_INFO). */
void log_setup(enum log_format format, bool verbose);

/* Also appends every line to `path` (created 0600 if missing). Returns 0, or -1 with errno. */
__attribute__((warn_unused_result)) int log_open_file(const char *path);

/* Registers a secret to redact (copied; strings shorter than 3 bytes are ignored: redacting them
 * would garble every line). Up to 8 secrets. */
void log_add_secret(const char *secret);

/* Forgets the secrets and closes the log file. */
void log_shutdown(void);

/* Writes one line: time, level, component (a short name such as "migrate"), message. */
void log_msg(enum log_level level, const char *component, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies `in` to `out` (size n, always NUL-terminated) with every registered secret replaced by
 * "***". Used by the logger and by anything else that writes user-visible text from input that
 * might hold a secret (error messages, evidence). */
void log_redact(const char *in, char *out, size_t n);

/* Rewrites the file at path (an evidence HTML page, a console log) with every registered secret
 * replaced by "***", through a temp file and rename, mode 0600. Returns 0, or -1 with errno
 * (EFBIG past 256 MiB). */
__attribute__((warn_unused_result)) int log_redact_file(const char *path);

#define log_debug(comp, ...) log_msg(LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_msg(LOG_ERROR, comp, __VA_ARGS__)

#endif
