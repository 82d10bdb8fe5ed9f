/*
 * gw_store: the gateway's durable state in one SQLite database (WAL mode,
 * synchronous=FULL, a schema_migrations table applied in order at open).
 * One process-wide connection owner: the gateway's event loop holds the
 * only handle and calls every function from that thread.  Each write
 * function commits before it returns (or runs inside an explicit
 * gw_store_begin/gw_store_commit transaction), so an API answers success
 * only after its write is durable; kill -9 loses nothing committed.
 *
 * Records: meta (account id, admin key id), operator access keys (secret +
 * IAM policy JSON), activations (SHA-256 hash of the code, never the code),
 * managed instances (public key, fingerprint, heartbeat fields), issued
 * temporary credentials (secret, SHA-256 of the session token, expiry) and
 * resource tags.
 *
 * Ownership: struct gw_store owns the sqlite3 handle.  Record structs are
 * caller-owned plain data; secret fields are wiped with gw_store_wipe_* or
 * dh_wipe by the caller after use.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"

#define GW_STORE_SCHEMA_VERSION 4

struct gw_store;

struct gw_store_key {
	char access_key_id[33];
	char secret[65];
	char name[129];
	char *policy;       /* owned, NUL-terminated JSON; free() it */
	int64_t created_ms;
};

struct gw_store_activation {
	char id[37];
	char code_hash[65];     /* hex SHA-256 of the activation code */
	char description[257];
	char default_name[257];
	char iam_role[129];
	int64_t limit;
	int64_t count;
	int64_t expires_ms;
	int64_t created_ms;
};

struct gw_store_instance {
	char id[24];
	char activation_id[37];
	char fingerprint[129];
	char public_key[4097];
	char public_key_type[16];
	char name[257];
	char iam_role[129];
	int64_t registered_ms;
	int64_t last_ping_ms;       /* 0 = never */
	char agent_name[65];
	char agent_version[65];
	char agent_status[33];
	char platform_type[33];
	char platform_name[129];
	char platform_version[65];
	char ip_address[64];
	char computer_name[256];
	char availability_zone[64];
	char connection_channel[33];
};

struct gw_store_token {
	char access_key_id[33];
	char secret[65];
	char token_hash[65];    /* hex SHA-256 of the session token */
	char instance_id[24];
	int64_t expires_ms;
};

/* Open (creating 0600 if missing) the database at path, set WAL and apply
 * pending migrations; *out owned by caller (gw_store_close). */
int gw_store_open(const char *path, struct gw_store **out, struct dh_err *err);
/* Close the database (NULL is fine). */
void gw_store_close(struct gw_store *st);
/* The underlying handle (borrowed; for gw_audit, which shares it). */
sqlite3 *gw_store_db(struct gw_store *st);
/* Applied schema version. */
int gw_store_schema_version(struct gw_store *st);

/* Explicit transactions, nestable: the outermost is BEGIN IMMEDIATE /
 * COMMIT / ROLLBACK, inner ones are SAVEPOINTs (an inner commit releases,
 * an inner rollback undoes only its own writes; nothing is durable before
 * the outermost COMMIT).  Every begin must be paired with one commit or
 * rollback. */
int gw_store_begin(struct gw_store *st, struct dh_err *err);
int gw_store_commit(struct gw_store *st, struct dh_err *err);
void gw_store_rollback(struct gw_store *st);
/* Number of open gw_store_begin levels (0 = autocommit). */
int gw_store_txn_depth(const struct gw_store *st);

/* Prepare sql and bind its parameters from fmt, one letter each: 's' a
 * const char * (NULL binds NULL), any other letter an int64_t.  On success
 * *out is a statement the caller finalizes (or passes to gw_store_done). */
int gw_store_prep(struct gw_store *st, sqlite3_stmt **out, struct dh_err *err,
    const char *sql, const char *fmt, ...);

/* Step a prepared write statement once and finalize it; DH_E_IO unless the
 * step reported SQLITE_DONE. */
int gw_store_done(struct gw_store *st, sqlite3_stmt *q, struct dh_err *err);

/* Column i of the current row as text; "" for NULL. */
const char *gw_store_col(sqlite3_stmt *q, int i);

/* Column i of the current row parsed as JSON (at most max bytes, depth
 * limited); NULL when it is not JSON.  The caller deletes it. */
cJSON *gw_store_col_json(sqlite3_stmt *q, int i, size_t max);

/* Column i of the current row copied into out[n] (truncated); "" for NULL. */
void gw_store_col_copy(sqlite3_stmt *q, int i, char *out, size_t n);

/* Meta key/value: get copies into out[n] (DH_E_NOTFOUND when absent). */
int gw_store_meta_get(struct gw_store *st, const char *key, char *out,
    size_t n, struct dh_err *err);
int gw_store_meta_put(struct gw_store *st, const char *key, const char *value,
    struct dh_err *err);

/* Operator access keys. */
int gw_store_key_put(struct gw_store *st, const struct gw_store_key *k,
    struct dh_err *err);
/* Fill *k (k->policy allocated; free with gw_store_key_clear). */
int gw_store_key_get(struct gw_store *st, const char *akid,
    struct gw_store_key *k, struct dh_err *err);
/* Wipe the secret and free the policy of a key record. */
void gw_store_key_clear(struct gw_store_key *k);

/* Activations. */
int gw_store_activation_put(struct gw_store *st,
    const struct gw_store_activation *a, struct dh_err *err);
int gw_store_activation_get(struct gw_store *st, const char *id,
    struct gw_store_activation *a, struct dh_err *err);
/* DH_E_NOTFOUND when no such activation. */
int gw_store_activation_delete(struct gw_store *st, const char *id,
    struct dh_err *err);
/* Call fn for each activation in creation order; a non-zero return stops. */
int gw_store_activation_each(struct gw_store *st,
    int (*fn)(void *ctx, const struct gw_store_activation *a), void *ctx,
    struct dh_err *err);

/* Managed instances (put = insert or replace). */
int gw_store_instance_put(struct gw_store *st,
    const struct gw_store_instance *in, struct dh_err *err);
int gw_store_instance_get(struct gw_store *st, const char *id,
    struct gw_store_instance *in, struct dh_err *err);
/* Delete an instance, its tags and its tokens; DH_E_NOTFOUND if absent. */
int gw_store_instance_delete(struct gw_store *st, const char *id,
    struct dh_err *err);
int gw_store_instance_each(struct gw_store *st,
    int (*fn)(void *ctx, const struct gw_store_instance *in), void *ctx,
    struct dh_err *err);

/* Temporary credentials issued to instances. */
int gw_store_token_put(struct gw_store *st, const struct gw_store_token *t,
    struct dh_err *err);
int gw_store_token_get(struct gw_store *st, const char *akid,
    struct gw_store_token *t, struct dh_err *err);
/* Drop tokens that expired before now_ms (housekeeping). */
int gw_store_token_prune(struct gw_store *st, int64_t now_ms,
    struct dh_err *err);

/* Tags on a resource (put = insert or replace one key). */
int gw_store_tag_put(struct gw_store *st, const char *resource_id,
    const char *key, const char *value, struct dh_err *err);
int gw_store_tag_each(struct gw_store *st, const char *resource_id,
    int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
    struct dh_err *err);
/* Remove one tag key (absent keys are not an error). */
int gw_store_tag_delete(struct gw_store *st, const char *resource_id,
    const char *key, struct dh_err *err);
/* Number of tags on resource_id into *n. */
int gw_store_tag_count(struct gw_store *st, const char *resource_id,
    int64_t *n, struct dh_err *err);

#endif
