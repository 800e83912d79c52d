/* fakellm.h — header-only helper for the C tests that run the fake LLM ($PB_FAKE_LLM, built
 * from tools/fake_llm.c): start it on a free port, read the port from its first stdout line,
 * call its introspection routes (/_stats, /_requests, /_reset), stop it with SIGTERM. Owns
 * only the child process it starts; it asserts nothing itself (callers decide what a failure
 * means for their test). The one way the C tests start the fake (svc_harness.h uses it too). */
#ifndef FAKELLM_H
#define FAKELLM_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAKELLM_MAX_ARGS 16

struct fakellm {
    pid_t pid;
    char root[64]; /* http://127.0.0.1:PORT */
    char v1[80];   /* root + /v1, the base URL for llm_options */
};

/* Starts fake-llm with `--port 0` plus args (NULL-terminated, may be NULL) and fills f from the
 * "listening on" line. A missing PB_FAKE_LLM or a server that does not start ends the test
 * with exit(2): no test could run without it. */
static inline void fakellm_start(struct fakellm *f, const char *const *args)
{
    const char *bin = getenv("PB_FAKE_LLM");
    if (!bin) {
        fprintf(stderr, "PB_FAKE_LLM is not set: build the fake-llm target and run via ctest\n");
        exit(2);
    }
    const char *argv[FAKELLM_MAX_ARGS] = {bin, "--port", "0"};
    size_t n = 3;
    for (; args && *args && n < FAKELLM_MAX_ARGS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    f->pid = fork();
    if (f->pid == 0) {
        /* Dies with the test: a test that aborts (a sanitizer report) must not leave a fake
         * holding ctest's output pipe open, which would hang the run. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        perror("exec fake-llm");
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[128] = "";
    unsigned port = 0;
    if (!out || !fgets(line, sizeof line, out) ||
        sscanf(line, "listening on http://127.0.0.1:%u", &port) != 1) {
        fprintf(stderr, "fake-llm did not start (first line: '%s')\n", line);
        exit(2);
    }
    fclose(out);
    snprintf(f->root, sizeof f->root, "http://127.0.0.1:%u", port);
    snprintf(f->v1, sizeof f->v1, "%s/v1", f->root);
}

/* Sends SIGTERM and reaps the server; returns 1 when it exited with status 0, else 0. */
static inline int fakellm_stop(struct fakellm *f)
{
    int st = 0;
    if (f->pid <= 0)
        return 0;
    kill(f->pid, SIGTERM);
    waitpid(f->pid, &st, 0);
    f->pid = 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static inline size_t fakellm_collect(char *p, size_t size, size_t n, void *user)
{
    return fwrite(p, size, n, user) * size;
}

/* GET or POST (empty body) an introspection route such as "/_stats"; the parsed JSON answer
 * (caller decrefs), or NULL when the request or the parse fails. Needs curl_global_init. */
static inline json_t *fakellm_call(const struct fakellm *f, const char *method, const char *route)
{
    char url[128], *data = NULL;
    size_t len = 0;
    json_t *root = NULL;
    FILE *mem = open_memstream(&data, &len);
    CURL *e = curl_easy_init();
    if (!mem || !e)
        goto cleanup;
    snprintf(url, sizeof url, "%s%s", f->root, route);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fakellm_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    CURLcode rc = curl_easy_perform(e);
    fclose(mem);
    mem = NULL;
    if (rc == CURLE_OK)
        root = json_loadb(data ? data : "", len, 0, NULL);
cleanup:
    if (mem)
        fclose(mem);
    if (e)
        curl_easy_cleanup(e);
    free(data);
    return root;
}

/* A number from /_stats, e.g. ("by_status", "500") or ("chat_requests", NULL); a missing key
 * reads 0; -1 when /_stats cannot be read. */
static inline long fakellm_stat(const struct fakellm *f, const char *key, const char *sub)
{
    json_t *s = fakellm_call(f, "GET", "/_stats");
    if (!s)
        return -1;
    json_t *v = json_object_get(s, key);
    if (sub)
        v = json_object_get(v, sub);
    long n = (long)json_integer_value(v);
    json_decref(s);
    return n;
}

#endif
