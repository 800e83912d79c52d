/* httpauth.c — token table parsing and constant-time checks. */
#include "http/httpauth.h"

#include "base/hash.h"
#include "base/pb.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct user_token {
    char *user, *token;
};

struct httpauth {
    char *admin;
    struct user_token *users;
    size_t n_users;
};

void httpauth_free(httpauth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_users; i++) {
        free(a->users[i].user);
        free(a->users[i].token);
    }
    free(a->users);
    free(a->admin);
    free(a);
}

/* Adds one "user:token" item (spaces around it already trimmed). */
static pb_status add_user(httpauth *a, const char *item, char *err)
{
    const char *colon = strchr(item, ':');
    if (!colon || colon == item || !colon[1])
        return pb_errf(err, PB_ERR_INVALID, "server.user_tokens: entry %zu is not user:token",
                       a->n_users + 1);
    struct user_token *grown = realloc(a->users, (a->n_users + 1) * sizeof *grown);
    if (!grown)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    a->users = grown;
    struct user_token *u = &a->users[a->n_users++];
    u->user = strndup(item, (size_t)(colon - item));
    u->token = strdup(colon + 1);
    if (!u->user || !u->token)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    return PB_OK;
}

pb_status httpauth_new(const char *admin_token, const char *user_tokens, httpauth **out, char *err)
{
    pb_status rc = PB_OK;
    char *copy = NULL, *save = NULL;
    httpauth *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a || !(a->admin = strdup(admin_token ? admin_token : "")) ||
        !(copy = strdup(user_tokens ? user_tokens : ""))) {
        rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        for (char *end = item + strlen(item); end > item && end[-1] == ' ';)
            *--end = '\0';
        if (*item && (rc = add_user(a, item, err)) != PB_OK)
            goto cleanup;
    }
    *out = a;
    a = NULL;
cleanup:
    free(copy);
    httpauth_free(a);
    return rc;
}

const char *httpauth_bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    authorization += 7;
    while (*authorization == ' ')
        authorization++;
    return *authorization ? authorization : NULL;
}

static int is_admin(const httpauth *a, const char *token)
{
    return token && a->admin[0] && hash_secret_equal(token, a->admin);
}

const char *httpauth_user_of(const httpauth *a, const char *token)
{
    const char *user = NULL;
    if (!token)
        return NULL;
    for (size_t i = 0; i < a->n_users; i++)
        if (hash_secret_equal(token, a->users[i].token) && !user)
            user = a->users[i].user;
    return user;
}

pb_status httpauth_check_admin(const httpauth *a, const char *token, char *err)
{
    if (!a->admin[0])
        return pb_errf(err, PB_ERR_FORBIDDEN,
                       "admin endpoints are off: server.admin_token is not set");
    if (!token)
        return pb_errf(err, PB_ERR_FORBIDDEN, "admin token required: Authorization: Bearer ...");
    if (!is_admin(a, token))
        return pb_errf(err, PB_ERR_FORBIDDEN, "the admin token is wrong");
    return PB_OK;
}

pb_status httpauth_check_user(const httpauth *a, const char *token, const char *user_id, int open,
                              char *err)
{
    if (!token)
        return open ? PB_OK
                    : pb_errf(err, PB_ERR_FORBIDDEN,
                              "a user token is required: Authorization: Bearer ...");
    if (is_admin(a, token))
        return PB_OK;
    const char *user = httpauth_user_of(a, token);
    if (!user)
        return pb_errf(err, PB_ERR_FORBIDDEN, "the token is not valid");
    if (user_id && strcmp(user, user_id) != 0)
        return pb_errf(err, PB_ERR_FORBIDDEN, "the token does not belong to this user");
    return PB_OK;
}
