/* httpauth.h — the service's bearer tokens: one admin token and per-user tokens parsed from
 * "user:token,user2:token2". Every comparison goes through hash_secret_equal (constant time).
 * Owns the parsed token table; knows nothing of HTTP connections and never logs or prints a
 * token (its messages name no secret). */
#ifndef HTTPAUTH_H
#define HTTPAUTH_H

#include "base/pb.h"
typedef struct httpauth httpauth;

/* Parses the tokens (admin may be empty: admin is off). PB_ERR_INVALID names the entry of
 * user_tokens that is not user:token. Caller frees with httpauth_free. */
pb_status httpauth_new(const char *admin_token, const char *user_tokens, httpauth **out, char *err);
void httpauth_free(httpauth *a);

/* The token of an Authorization header value "Bearer T", or NULL (no header, other scheme). */
const char *httpauth_bearer(const char *authorization);

/* PB_OK when token is the admin token; PB_ERR_FORBIDDEN with a message otherwise. */
pb_status httpauth_check_admin(const httpauth *a, const char *token, char *err);

/* PB_OK when the holder of token may act as user_id (NULL: as any user): the admin token,
 * user_id's own token, or no token at all when open is set. PB_ERR_FORBIDDEN otherwise. */
pb_status httpauth_check_user(const httpauth *a, const char *token, const char *user_id, int open,
                              char *err);

/* The user a token belongs to, or NULL. Compares against every entry whatever matches. */
const char *httpauth_user_of(const httpauth *a, const char *token);

#endif
