/* test_base_config.c — precedence (env over file over default), type checks, secrets hidden. */
#include "check.h"
#include "base/config.h"
#include "base/pb.h"

#include <stdlib.h>

static const char *write_tmp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_env_beats_file_beats_default(void)
{
    char err[PB_ERR_LEN];
    config *cfg;
    const char *path =
        write_tmp("c.json", "{\"server\":{\"port\":9000},\"llm\":{\"model\":\"m1\"}}");
    setenv("PB_LLM_MODEL", "m2", 1);
    CHECK_INT(config_load(path, &cfg, err), PB_OK);
    CHECK_INT(config_int(cfg, "server.port"), 9000);
    CHECK_STR(config_source(cfg, "server.port"), "file");
    CHECK_STR(config_str(cfg, "llm.model"), "m2");
    CHECK_STR(config_source(cfg, "llm.model"), "env");
    CHECK_STR(config_str(cfg, "db.path"), "db/promptbandit.db");
    config_free(cfg);
    unsetenv("PB_LLM_MODEL");
}

static void test_openai_variables_are_honoured_and_hidden(void)
{
    char err[PB_ERR_LEN];
    config *cfg;
    setenv("OPENAI_API_KEY", "sk-secret", 1);
    setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1", 1);
    CHECK_INT(config_load(NULL, &cfg, err), PB_OK);
    CHECK_STR(config_str(cfg, "llm.api_key"), "sk-secret");
    CHECK_STR(config_display(cfg, "llm.api_key"), "(set)");
    CHECK_STR(config_str(cfg, "llm.base_url"), "http://127.0.0.1:1/v1");
    config_free(cfg);
    unsetenv("OPENAI_API_KEY");
    unsetenv("OPENAI_BASE_URL");
}

static void test_bad_values_are_refused_with_the_key_named(void)
{
    char err[PB_ERR_LEN];
    config *cfg;
    setenv("PB_SERVER_PORT", "80x", 1);
    CHECK_INT(config_load(NULL, &cfg, err), PB_ERR_INVALID);
    CHECK(strstr(err, "server.port") != NULL);
    setenv("PB_SERVER_PORT", "70000", 1);
    CHECK_INT(config_load(NULL, &cfg, err), PB_ERR_INVALID);
    unsetenv("PB_SERVER_PORT");
    const char *path = write_tmp("u.json", "{\"server\":{\"prot\":1}}");
    CHECK_INT(config_load(path, &cfg, err), PB_ERR_INVALID);
    CHECK(strstr(err, "server.prot") != NULL);
    path = write_tmp("bad.json", "{\"server\":");
    CHECK_INT(config_load(path, &cfg, err), PB_ERR_INVALID);
    CHECK_INT(config_defaults(&cfg, err), PB_OK);
    CHECK_INT(config_set(cfg, "server.open_chat", "maybe", err), PB_ERR_INVALID);
    CHECK_INT(config_set(cfg, "server.open_chat", "false", err), PB_OK);
    CHECK_INT(config_bool(cfg, "server.open_chat"), 0);
    config_free(cfg);
}

int main(void)
{
    RUN(test_env_beats_file_beats_default);
    RUN(test_openai_variables_are_honoured_and_hidden);
    RUN(test_bad_values_are_refused_with_the_key_named);
    CHECK_DONE();
}
