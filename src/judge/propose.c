/* propose.c — meta-prompt assembly from the best- and worst-rated texts, one LLM call,
 * tolerant extraction of the JSON array of candidates, and content-hash de-duplication
 * against the prompt folder. Owns only the files it writes. */
#include "judge/propose.h"

#include "base/hash.h"
#include "judge/promptbuf.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROPOSE_MAX_CANDIDATES 20

/* Whitespace-trimmed span of s; prompts are compared and hashed trimmed. */
static void trimmed(const char *s, const char **begin, size_t *len)
{
    const char *e = s + strlen(s);
    while (*s && strchr(" \t\r\n", *s))
        s++;
    while (e > s && strchr(" \t\r\n", e[-1]))
        e--;
    *begin = s;
    *len = (size_t)(e - s);
}

static void content_hash(const char *s, char hex[HASH_HEX_LEN])
{
    const char *b;
    size_t n;
    trimmed(s, &b, &n);
    hash_sha256_hex(b, n, hex);
}

struct ranked_item {
    const struct ratings_item *item;
};

static int by_rate_desc(const void *a, const void *b)
{
    const struct ratings_item *x = ((const struct ranked_item *)a)->item;
    const struct ratings_item *y = ((const struct ranked_item *)b)->item;
    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* "- (rating r) text" lines for the k best (from_top) or k worst rated texts. */
static void add_examples(struct promptbuf *b, struct ranked_item *r, size_t n, size_t k,
                         int from_top)
{
    for (size_t i = 0; i < k; i++) {
        const struct ratings_item *it = r[from_top ? i : n - 1 - i].item;
        char head[48];
        snprintf(head, sizeof head, "- (rating %g) ", it->rate);
        promptbuf_add(b, head, strlen(head));
        promptbuf_add(b, it->text, strlen(it->text));
        promptbuf_add(b, "\n", 1);
    }
}

/* The meta-prompt with every placeholder filled. Caller frees. */
static char *build_meta_prompt(const struct propose_request *req)
{
    struct promptbuf b = {0};
    size_t n = req->rated->n, k = req->n_examples ? req->n_examples : 3;
    struct ranked_item *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i].item = &req->rated->items[i];
    qsort(r, n, sizeof *r, by_rate_desc);
    if (k > n / 2)
        k = n / 2;
    char num[16];
    snprintf(num, sizeof num, "%d", req->n_candidates);
    for (const char *p = req->meta_prompt; *p;) {
        if (!strncmp(p, "{{BASE_PROMPT}}", 15)) {
            promptbuf_add(&b, req->base_prompt, strlen(req->base_prompt));
            p += 15;
        } else if (!strncmp(p, "{{BEST}}", 8)) {
            add_examples(&b, r, n, k, 1);
            p += 8;
        } else if (!strncmp(p, "{{WORST}}", 9)) {
            add_examples(&b, r, n, k, 0);
            p += 9;
        } else if (!strncmp(p, "{{N}}", 5)) {
            promptbuf_add(&b, num, strlen(num));
            p += 5;
        } else {
            promptbuf_add(&b, p++, 1);
        }
    }
    free(r);
    return promptbuf_take(&b);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* The array from root: root itself, or root["prompts"]. */
static json_t *candidates_array(json_t *root)
{
    if (json_is_object(root))
        return json_object_get(root, "prompts");
    return root;
}

pb_status propose_parse_answer(const char *answer, char ***out, size_t *n, char *err)
{
    json_t *root = NULL;
    char **v = NULL;
    size_t m = 0;
    pb_status rc = PB_OK;
    *out = NULL;
    *n = 0;
    const char *open = answer ? strpbrk(answer, "[{") : NULL;
    const char *close = open ? strrchr(answer, *open == '[' ? ']' : '}') : NULL;
    if (!open || !close || close < open)
        return pb_errf(err, PB_ERR_PROVIDER, "the proposer's answer holds no JSON array");
    root = json_loadb(open, (size_t)(close - open) + 1, 0, NULL);
    json_t *arr = candidates_array(root);
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > PROPOSE_MAX_CANDIDATES) {
        rc = pb_errf(err, PB_ERR_PROVIDER,
                     "the proposer's answer is not a JSON array of 1 to %d "
                     "prompts",
                     PROPOSE_MAX_CANDIDATES);
        goto cleanup;
    }
    if (!(v = calloc(json_array_size(arr), sizeof *v))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *s = json_array_get(arr, i);
        const char *b;
        size_t len;
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
            rc = pb_errf(err, PB_ERR_PROVIDER, "proposal %zu is not a string", i + 1);
            goto cleanup;
        }
        trimmed(json_string_value(s), &b, &len);
        if (len == 0)
            continue;
        if (!(v[m] = strndup(b, len))) {
            rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        m++;
    }
    if (m == 0) { /* ["", " "] proposes no more than [] does */
        rc = pb_errf(err, PB_ERR_PROVIDER, "the proposer's answer holds only empty prompts");
        goto cleanup;
    }
    *out = v;
    *n = m;
    v = NULL;
cleanup:
    free_strings(v, m);
    json_decref(root);
    return rc;
}

/* Content hashes of every *.txt in dir, as one newline-separated string. Caller frees. */
static pb_status existing_hashes(const char *dir, struct promptbuf *set, char *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return pb_errf(err, PB_ERR_NOT_FOUND, "cannot open prompt folder %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4096], *text = NULL, hex[HASH_HEX_LEN], msg[PB_ERR_LEN];
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (pb_read_file(path, 1 << 20, &text, NULL, msg) != PB_OK)
            continue; /* not a regular file or too big: not a prompt we could duplicate */
        content_hash(text, hex);
        free(text);
        promptbuf_add(set, hex, strlen(hex));
        promptbuf_add(set, "\n", 1);
    }
    closedir(d);
    return set->failed ? pb_errf(err, PB_ERR_NOMEM, "out of memory") : PB_OK;
}

static pb_status write_candidate(const char *dir, const char *prompt, struct promptbuf *seen,
                                 struct propose_result *out, char *err)
{
    char hex[HASH_HEX_LEN], path[4096], line[HASH_HEX_LEN + 1];
    content_hash(prompt, hex);
    snprintf(line, sizeof line, "%s\n", hex);
    if (seen->buf.data && strstr(seen->buf.data, line)) {
        out->n_duplicates++;
        return PB_OK;
    }
    snprintf(path, sizeof path, "%s/P%.8s.txt", dir, hex);
    size_t len = strlen(prompt);
    char *body = malloc(len + 2);
    char **grown = realloc(out->written, (out->n_written + 1) * sizeof *grown);
    if (grown)
        out->written = grown;
    if (!body || !grown) {
        free(body);
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    }
    memcpy(body, prompt, len);
    memcpy(body + len, "\n", 2);
    pb_status rc = pb_write_file_atomic(path, body, len + 1, err);
    free(body);
    if (rc != PB_OK)
        return rc;
    if (!(out->written[out->n_written] = strdup(path)))
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    out->n_written++;
    promptbuf_add(seen, line, strlen(line));
    return PB_OK;
}

pb_status propose_prompts(llm_client *llm, const struct propose_request *req,
                          struct propose_result *out, char *err)
{
    struct llm_response resp = {0};
    struct promptbuf seen = {0};
    char *meta = NULL, **cands = NULL;
    size_t n = 0;
    pb_status rc;
    memset(out, 0, sizeof *out);
    if (!req->base_prompt || !req->rated || !req->meta_prompt || !req->out_dir ||
        req->n_candidates < 1 || req->n_candidates > PROPOSE_MAX_CANDIDATES)
        return pb_errf(err, PB_ERR_INVALID,
                       "a proposal needs a base prompt, rated texts, a "
                       "meta-prompt, a folder and 1 to %d candidates",
                       PROPOSE_MAX_CANDIDATES);
    if (req->rated->n < 2)
        return pb_errf(err, PB_ERR_INVALID, "a proposal needs at least 2 rated texts");
    if ((rc = existing_hashes(req->out_dir, &seen, err)) != PB_OK)
        goto cleanup;
    if (!(meta = build_meta_prompt(req))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    struct llm_message msg = {"user", meta};
    struct llm_request lr = {&msg, 1, NULL, -1, 300 * req->n_candidates + 200};
    if ((rc = llm_chat(llm, &lr, &resp, err)) != PB_OK ||
        (rc = propose_parse_answer(resp.text, &cands, &n, err)) != PB_OK)
        goto cleanup;
    out->n_proposed = n;
    for (size_t i = 0; i < n; i++)
        if ((rc = write_candidate(req->out_dir, cands[i], &seen, out, err)) != PB_OK)
            goto cleanup;
cleanup:
    if (rc != PB_OK)
        propose_result_free(out);
    free_strings(cands, n);
    free(meta);
    promptbuf_free(&seen);
    llm_response_clear(&resp);
    return rc;
}

void propose_result_free(struct propose_result *r)
{
    free_strings(r->written, r->n_written);
    memset(r, 0, sizeof *r);
}
