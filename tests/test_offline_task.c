/* test_offline_task.c — task files: templates with optional sections, value lists inline and
 * from files (paths relative to the task file), draws that depend only on the seed and the
 * iteration (the chat lines drawn exactly as bandit-run always drew its scenarios), every value
 * reachable, a hash that follows the data, refusals that name what is wrong, and the project's
 * own chat and diary tasks. */
#include "check.h"
#include "judge/judge.h"
#include "offline/task.h"

#include <sys/stat.h>

static char dir[512];

static void write_text(const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *path_of(const char *name)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void test_template_task_draws_from_lists_and_files(void)
{
    struct task t;
    struct task_message m;
    char err[PB_ERR_LEN];
    mkdir(path_of("lists"), 0755);
    write_text("lists/places.txt", "# places\n한강\n\n제주  \n부산\n");
    write_text("t.json",
               "{\"name\": \"day\", \"variables\": {\"place\": {\"file\": \"lists/places.txt\"},"
               " \"mood\": [\"기쁨\", \"슬픔\"]}, \"user\": \"장소: {place}\\n기분: {mood}\","
               " \"segment\": \"mood\", \"prompts\": \"arms\", \"judges\": [\"local\", \"llm\"]}");
    CHECK_INT(task_load(path_of("t.json"), NULL, &t, err), PB_OK);
    CHECK_STR(t.name, "day");
    CHECK_INT(t.n_vars, 2);
    CHECK_INT(t.vars[0].n, 3); /* comment and blank line skipped, trailing spaces trimmed */
    CHECK_STR(t.vars[0].values[1], "제주");
    CHECK_STR(t.prompts_dir, path_of("arms")); /* relative to the task file */
    CHECK_STR(t.context_template, t.user_template);
    CHECK_STR(t.segment_label, "mood");
    CHECK_INT(t.judges[0], JUDGE_LOCAL);
    CHECK(task_allows_judge(&t, JUDGE_LLM) && !task_allows_judge(&t, JUDGE_CONSTANT));
    char text[64];
    task_judges_text(&t, text, sizeof text);
    CHECK_STR(text, "local, llm");
    task_source_text(&t, text, sizeof text);
    CHECK_STR(text, "template over place (3), mood (2)");
    int seen[3] = {0}, moods[2] = {0};
    for (long i = 0; i < 300; i++) {
        CHECK_INT(task_message_of(&t, 11, i, &m, err), PB_OK);
        for (int k = 0; k < 3; k++)
            seen[k] += strstr(m.user, t.vars[0].values[k]) != NULL;
        moods[0] += !strcmp(m.segment, "기쁨");
        moods[1] += !strcmp(m.segment, "슬픔");
        CHECK(!strncmp(m.user, "장소: ", strlen("장소: ")) && strstr(m.user, "\n기분: "));
        task_message_clear(&m);
    }
    CHECK(seen[0] > 60 && seen[1] > 60 && seen[2] > 60); /* about 100 each */
    CHECK(moods[0] > 110 && moods[1] > 110 && moods[0] + moods[1] == 300);
    /* the same seed and iteration give the same message; another seed another sequence */
    struct task_message a, b;
    int differ = 0;
    for (long i = 0; i < 20; i++) {
        task_message_of(&t, 11, i, &a, err);
        task_message_of(&t, 11, i, &b, err);
        CHECK_STR(a.user, b.user);
        task_message_clear(&b);
        task_message_of(&t, 12, i, &b, err);
        differ += strcmp(a.user, b.user) != 0;
        task_message_clear(&a);
        task_message_clear(&b);
    }
    CHECK(differ > 5);
    task_free(&t);
}

static void test_lines_and_optional_sections(void)
{
    struct task t;
    struct task_message m;
    char err[PB_ERR_LEN];
    write_text("lines.txt", "합격했어!\t기쁨\n그냥 심심해.\n");
    CHECK_INT(task_builtin_chat(path_of("lines.txt"), &t, err), PB_OK);
    int with = 0, without = 0;
    for (long i = 0; i < 40; i++) {
        CHECK_INT(task_message_of(&t, 5, i, &m, err), PB_OK);
        /* the draw bandit-run has always used for the scenario of iteration i */
        size_t k = (size_t)(task_mix64(5 ^ task_mix64((uint64_t)i + 0x5ce7a210u)) % 2);
        if (k == 0) {
            CHECK_STR(m.user, "합격했어! ;; 기쁨");
            CHECK_STR(m.segment, "기쁨");
            with++;
        } else {
            CHECK_STR(m.user, "그냥 심심해."); /* no emotion: the [ ;; {emotion}] part is dropped */
            CHECK(m.segment == NULL);
            without++;
        }
        CHECK_STR(m.context, k == 0 ? "합격했어!" : "그냥 심심해.");
        task_message_clear(&m);
    }
    CHECK(with > 0 && without > 0);
    CHECK_STR(t.sha256, t.lines.sha256); /* older runs recorded the lines file's hash */
    task_free(&t);
}

static void test_hash_follows_the_data(void)
{
    struct task t;
    char err[PB_ERR_LEN], first[65];
    write_text("v.txt", "a\nb\n");
    write_text(
        "h.json",
        "{\"name\": \"h\", \"variables\": {\"x\": {\"file\": \"v.txt\"}}, \"user\": \"{x}\"}");
    CHECK_INT(task_load(path_of("h.json"), NULL, &t, err), PB_OK);
    snprintf(first, sizeof first, "%s", t.sha256);
    task_free(&t);
    CHECK_INT(task_load(path_of("h.json"), NULL, &t, err), PB_OK);
    CHECK_STR(t.sha256, first);
    task_free(&t);
    write_text("v.txt", "a\nc\n");
    CHECK_INT(task_load(path_of("h.json"), NULL, &t, err), PB_OK);
    CHECK(strcmp(t.sha256, first) != 0); /* a value changed: resume must refuse */
    task_free(&t);
    write_text(
        "h.json",
        "{\"name\": \"h\", \"variables\": {\"x\": {\"file\": \"v.txt\"}}, \"user\": \"[{x}]\"}");
    CHECK_INT(task_load(path_of("h.json"), NULL, &t, err), PB_OK);
    CHECK(strcmp(t.sha256, first) != 0);
    task_free(&t);
}

static void test_bad_task_files_are_refused_with_a_reason(void)
{
    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": [\"1\"]}, \"colour\": 1}",
         "unknown key 'colour'"},
        {"{\"name\": \"x\", \"user\": \"{a} {b}\", \"variables\": {\"a\": [\"1\"]}}",
         "unknown variable {b}"},
        {"{\"name\": \"x\", \"user\": \"[{a}\", \"variables\": {\"a\": [\"1\"]}}",
         "'[' without ']'"},
        {"{\"name\": \"x\", \"user\": \"[[{a}]]\", \"variables\": {\"a\": [\"1\"]}}", "inside"},
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": []}}", "non-empty list"},
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": {\"file\": \"none.txt\"}}}",
         "none.txt"},
        {"{\"name\": \"x\", \"user\": \"{A}\", \"variables\": {\"A\": [\"1\"]}}", "variable name"},
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": [\"1\"]}, \"judges\": "
         "[\"gpt\"]}",
         "judges"},
        /* a non-string entry (found by tests/fuzz/fuzz_task.c: it reached strcmp as NULL) */
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": [\"1\"]}, \"judges\": "
         "[\"llm\", 7]}",
         "entry 2"},
        {"{\"user\": \"{a}\", \"variables\": {\"a\": [\"1\"]}}", "needs a name"},
        {"{\"name\": \"x\", \"variables\": {\"a\": [\"1\"]}}", "scenarios or a user template"},
        {"{\"name\": \"x\", \"user\": \"{a}\", \"variables\": {\"a\": [\"1\"]}, \"segment\": "
         "\"b\"}",
         "segment: unknown variable"},
        {"[1, 2]", "must be an object"},
        {"{\"name\": \"x\", \"name\": \"y\"}", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct task t;
        char err[PB_ERR_LEN] = "";
        write_text("bad.json", bad[i].json);
        CHECK(task_load(path_of("bad.json"), NULL, &t, err) != PB_OK);
        if (!strstr(err, bad[i].message))
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK(strstr(err, bad[i].message) != NULL);
        CHECK(strstr(err, "bad.json") != NULL); /* the file is named */
        task_free(&t);
    }
    struct task t;
    char err[PB_ERR_LEN];
    CHECK_INT(task_load(path_of("missing.json"), NULL, &t, err), PB_ERR_NOT_FOUND);
    CHECK(strstr(err, "missing.json") != NULL);
    task_free(&t);
}

static void test_the_project_tasks_load(void)
{
    struct task t;
    struct task_message m;
    char err[PB_ERR_LEN];
    CHECK_INT(task_load(check_source_path("tasks/diary.json"), NULL, &t, err), PB_OK);
    CHECK_STR(t.name, "diary");
    CHECK_INT(t.n_vars, 4);
    CHECK(t.rubric && strstr(t.rubric, "prompts/judge_diary.txt"));
    CHECK(t.local_model && strstr(t.local_model, "models/reward-diary.pbrm"));
    CHECK_INT(task_message_of(&t, 1, 0, &m, err), PB_OK);
    CHECK(strstr(m.user, "장소: ") && strstr(m.user, "\n기분: ") && m.segment);
    task_message_clear(&m);
    task_free(&t);
    CHECK_INT(task_load(check_source_path("tasks/chat.json"), NULL, &t, err), PB_OK);
    CHECK_INT(t.lines.n, 50);
    CHECK(t.prompts_dir == NULL); /* chat's arms are the live prompts (setting prompts.dir) */
    task_free(&t);
    /* --scenarios replaces the lines of a task file */
    write_text("two.txt", "하나\n둘\n");
    CHECK_INT(task_load(check_source_path("tasks/chat.json"), path_of("two.txt"), &t, err), PB_OK);
    CHECK_INT(t.lines.n, 2);
    task_free(&t);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", check_tmpdir());
    RUN(test_template_task_draws_from_lists_and_files);
    RUN(test_lines_and_optional_sections);
    RUN(test_hash_follows_the_data);
    RUN(test_bad_task_files_are_refused_with_a_reason);
    RUN(test_the_project_tasks_load);
    CHECK_DONE();
}
