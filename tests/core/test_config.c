/* Configuration precedence (environment over .env over default), every error message, the
 * password file, and secrets never reaching a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static char g_dir[64];

static const char *const VARS[] = {"DATABASE_URL",          "GSP_BASE_URL",
                                   "GSP_USER_CODE",         "GSP_PASSWORD",
                                   "GSP_PASSWORD_FILE",     "GSP_CYCLE",
                                   "GSPBOT_FLOW",           "GSPBOT_CONCURRENCY",
                                   "GSPBOT_MAX_RETRIES",    "GSPBOT_RETRY_DELAY_MS",
                                   "GSPBOT_TIMEOUT_MS",     "GSPBOT_SLOW_MO_MS",
                                   "GSPBOT_HEADLESS",       "GSPBOT_MAX_ORDERS_PER_BROWSER",
                                   "GSPBOT_SCREENSHOT_DIR", "GSPBOT_MAX_SESSIONS",
                                   "GSPBOT_API_TOKEN",      "CHROMIUM_PATH",
                                   "GSPBOT_LOG_FORMAT",     "GSPBOT_MAX_FILE_MB",
                                   "GSPBOT_MAX_QUANTITY",   "GSPBOT_MAX_BROWSER_RSS_MB",
                                   "GSPBOT_EVIDENCE_DAYS",  "GSPBOT_PORT"};

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++)
        unsetenv(VARS[i]);
    snprintf(g_dir, sizeof g_dir, "/tmp/gspbot-cfg-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    log_shutdown();
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` to a file in the test's folder and returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults_when_nothing_is_set(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(config_load(&c, NULL), 0);
    assert_int_equal(c.concurrency, 3);
    assert_int_equal(c.max_retries, 3);
    assert_int_equal(c.retry_delay_ms, 2000);
    assert_int_equal(c.timeout_ms, 60000);
    assert_int_equal(c.takeover_settle_ms, 60000); /* GSPBOT_TIMEOUT_MS */
    assert_int_equal(c.slow_mo_ms, 0);
    assert_true(c.headless);
    assert_int_equal(c.max_orders_per_browser, 10);
    assert_int_equal(c.max_file_mb, 50);
    assert_int_equal(c.max_quantity, 999);
    assert_int_equal(c.evidence_days, 14);
    assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
    assert_null(c.password);
    assert_null(c.database_url);
    assert_string_equal(c.screenshot_dir, "evidence");
    assert_non_null(strstr(c.flow_path, "flows/gsp-sim.json"));
    config_cleanup(&c);
}

static void test_environment_wins_over_env_file_which_wins_over_default(void **state)
{
    (void)state;
    const char *env = write_file(".env", "# comment\n"
                                         "GSPBOT_CONCURRENCY=5\n"
                                         "export GSPBOT_MAX_RETRIES = 7 # trailing comment\n"
                                         "GSP_CYCLE=\"2026 C05\"\n"
                                         "GSP_USER_CODE='ab#c'\n"
                                         "\n"
                                         "GSPBOT_HEADLESS=false\n");
    setenv("GSPBOT_CONCURRENCY", "9", 1);
    struct config c;
    assert_int_equal(config_load(&c, env), 0);
    assert_int_equal(c.concurrency, 9);    /* environment */
    assert_int_equal(c.max_retries, 7);    /* .env */
    assert_int_equal(c.timeout_ms, 60000); /* default */
    assert_string_equal(c.cycle, "2026 C05");
    assert_string_equal(c.user_code, "ab#c");
    assert_false(c.headless);
    config_cleanup(&c);
    unsetenv("GSPBOT_CONCURRENCY");
}

static void test_takeover_settle_time_follows_the_action_timeout_unless_set(void **state)
{
    (void)state;
    setenv("GSPBOT_TIMEOUT_MS", "15000", 1);
    struct config c;
    assert_int_equal(config_load(&c, NULL), 0);
    assert_int_equal(c.takeover_settle_ms, 15000);
    config_cleanup(&c);
    setenv("GSPBOT_TAKEOVER_SETTLE_MS", "0", 1);
    assert_int_equal(config_load(&c, NULL), 0);
    assert_int_equal(c.takeover_settle_ms, 0);
    config_cleanup(&c);
    setenv("GSPBOT_TAKEOVER_SETTLE_MS", "-1", 1);
    assert_int_equal(config_load(&c, NULL), -1);
    assert_non_null(strstr(c.err, "GSPBOT_TAKEOVER_SETTLE_MS"));
    config_cleanup(&c);
    unsetenv("GSPBOT_TAKEOVER_SETTLE_MS");
    unsetenv("GSPBOT_TIMEOUT_MS");
}

static void test_missing_env_file_is_not_an_error(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(config_load(&c, "/nonexistent/.env"), 0);
    config_cleanup(&c);
}

struct bad_case {
    const char *var, *value, *message;
};

static void test_each_bad_value_has_a_clear_message(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"GSPBOT_CONCURRENCY", "abc", "GSPBOT_CONCURRENCY (environment): \"abc\" is not a whole number"},
        {"GSPBOT_CONCURRENCY", "0", "GSPBOT_CONCURRENCY (environment): 0 is out of range 1..64"},
        {"GSPBOT_CONCURRENCY", "3x", "GSPBOT_CONCURRENCY (environment): \"3x\" is not a whole number"},
        {"GSPBOT_TIMEOUT_MS", "99999999999",
         "GSPBOT_TIMEOUT_MS (environment): 99999999999 is out of range 100..3600000"},
        {"GSPBOT_MAX_RETRIES", "-1", "GSPBOT_MAX_RETRIES (environment): -1 is out of range 0..20"},
        {"GSPBOT_HEADLESS", "maybe", "GSPBOT_HEADLESS (environment): \"maybe\" is not true or false"},
        {"GSPBOT_LOG_FORMAT", "xml", "GSPBOT_LOG_FORMAT (environment): \"xml\" is not text or json"},
        {"GSP_PASSWORD_FILE", "/nonexistent/pw",
         "GSP_PASSWORD_FILE (environment): cannot read /nonexistent/pw: No such file or directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        struct config c;
        int rc = config_load(&c, NULL);
        if (rc != -1 || strcmp(c.err, cases[i].message) != 0)
            fail_msg("%s=%s: rc %d, message \"%s\", expected \"%s\"", cases[i].var, cases[i].value, rc, c.err,
                     cases[i].message);
        config_cleanup(&c);
        unsetenv(cases[i].var);
    }
}

static void test_env_file_errors_name_file_and_line(void **state)
{
    (void)state;
    struct config c;
    const char *p = write_file("bad1.env", "GSPBOT_PORT=80\nthis line has no equals\n");
    assert_int_equal(config_load(&c, p), -1);
    assert_non_null(strstr(c.err, "bad1.env:2: expected KEY=VALUE"));
    config_cleanup(&c);
    p = write_file("bad2.env", "GSP_CYCLE=\"open\n");
    assert_int_equal(config_load(&c, p), -1);
    assert_non_null(strstr(c.err, "bad2.env:1: GSP_CYCLE: unclosed quote"));
    config_cleanup(&c);
    p = write_file("bad3.env", "\n\nGSPBOT_MAX_FILE_MB=lots\n");
    assert_int_equal(config_load(&c, p), -1);
    assert_non_null(strstr(c.err, "GSPBOT_MAX_FILE_MB ("));
    assert_non_null(strstr(c.err, "bad3.env:3): \"lots\" is not a whole number"));
    config_cleanup(&c);
    p = write_file("bad4.env", "1ABC=x\n");
    assert_int_equal(config_load(&c, p), -1);
    assert_non_null(strstr(c.err, "bad4.env:1: \"1ABC\" is not a variable name"));
    config_cleanup(&c);
}

static void test_password_file_is_read_without_its_newline(void **state)
{
    (void)state;
    const char *p = write_file("pw", "s3cr3t-pw\n");
    setenv("GSP_PASSWORD_FILE", p, 1);
    struct config c;
    assert_int_equal(config_load(&c, NULL), 0);
    assert_string_equal(c.password, "s3cr3t-pw");
    config_cleanup(&c);
    setenv("GSP_PASSWORD", "other", 1);
    assert_int_equal(config_load(&c, NULL), -1);
    assert_non_null(strstr(c.err, "GSP_PASSWORD and GSP_PASSWORD_FILE are both set"));
    config_cleanup(&c);
    unsetenv("GSP_PASSWORD");
    p = write_file("empty", "\n");
    setenv("GSP_PASSWORD_FILE", p, 1);
    assert_int_equal(config_load(&c, NULL), -1);
    assert_non_null(strstr(c.err, "is empty or binary"));
    config_cleanup(&c);
    unsetenv("GSP_PASSWORD_FILE");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_secrets_never_reach_a_log_line(void **state)
{
    (void)state;
    setenv("GSP_PASSWORD", "Tr0ub4dor&3", 1);
    setenv("GSPBOT_API_TOKEN", "tok-123456789", 1);
    struct config c;
    assert_int_equal(config_load(&c, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/log.txt", g_dir);
    for (int fmt = LOG_FORMAT_TEXT; fmt <= LOG_FORMAT_JSON; fmt++) {
        log_setup((enum log_format)fmt, /* verbose= */ true);
        assert_int_equal(log_open_file(path), 0);
        log_info("test", "login with %s and Bearer %s", c.password, c.api_token);
        log_debug("test", "password=%s;", c.password);
    }
    const char *out = slurp(path);
    assert_null(strstr(out, "Tr0ub4dor"));
    assert_null(strstr(out, "tok-123456789"));
    assert_non_null(strstr(out, "login with *** and Bearer ***"));
    assert_non_null(strstr(out, "\"msg\":\"password=***;\""));
    config_cleanup(&c);
    unsetenv("GSP_PASSWORD");
    unsetenv("GSPBOT_API_TOKEN");
}

static void test_secret_in_a_wrong_variable_is_not_echoed_in_the_error(void **state)
{
    (void)state;
    setenv("GSP_PASSWORD", "hunter2hunter2", 1);
    setenv("GSPBOT_CONCURRENCY", "hunter2hunter2", 1);
    struct config c;
    assert_int_equal(config_load(&c, NULL), -1);
    char red[512];
    log_redact(c.err, red, sizeof red);
    assert_null(strstr(red, "hunter2"));
    assert_non_null(strstr(red, "\"***\" is not a whole number"));
    config_cleanup(&c);
    unsetenv("GSP_PASSWORD");
    unsetenv("GSPBOT_CONCURRENCY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_when_nothing_is_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_wins_over_env_file_which_wins_over_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_settle_time_follows_the_action_timeout_unless_set, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_env_file_is_not_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_bad_value_has_a_clear_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_errors_name_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_file_is_read_without_its_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_never_reach_a_log_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_in_a_wrong_variable_is_not_echoed_in_the_error, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_config", tests, NULL, NULL);
}
