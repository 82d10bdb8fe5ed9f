/*
 * ag_creds: the instance's temporary AWS credentials.
 *
 * RequestManagedInstanceRoleToken is an AWS JSON 1.1 call to SSM whose
 * SigV4-shaped signature is RSA-PSS over the string-to-sign with the
 * instance key (dh_rsasig); the answer carries AccessKeyId, SecretAccessKey,
 * SessionToken, TokenExpirationDate (epoch seconds) and UpdateKeyPair.
 * Credentials are refreshed at half their lifetime.  The key is rotated
 * with UpdateManagedInstancePublicKey (signed with the old key) when the
 * service sets UpdateKeyPair or the key is older than key_rotate_days; the
 * identity file is replaced atomically only after the service accepted the
 * new key, and if saving fails the old public key is put back.
 *
 * The pure pieces (response parser, refresh time, rotation decision) have no
 * I/O and are unit-tested and fuzzed.
 *
 * Ownership: struct ag_creds owns secret_key and session_token (wiped by
 * ag_creds_clear).  Secrets are registered with dh_log_secret_add when
 * fetched so they never reach a log line.
 */
#ifndef AG_CREDS_H
#define AG_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "ag_identity.h"
#include "dh_err.h"

#define AG_CREDS_RESPONSE_MAX (64 * 1024)

struct dh_aws_client;

struct ag_creds {
	char access_key[128];
	char *secret_key;      /* owned, secret */
	char *session_token;   /* owned, secret */
	time_t retrieved;
	time_t expires;
	int update_key_pair;   /* service asked for a new key */
};

/* Wipe and free the secrets and zero c. */
void ag_creds_clear(struct ag_creds *c);

/* Parse a RequestManagedInstanceRoleToken response body p[0..n) received at
 * time now into c (zeroed by the caller; cleared on failure).  Requires the
 * three credential strings and an expiry later than now. */
int ag_creds_parse(const void *p, size_t n, time_t now, struct ag_creds *c,
    struct dh_err *err);

/* Same from an already parsed response object j. */
int ag_creds_from_json(const cJSON *j, time_t now, struct ag_creds *c,
    struct dh_err *err);

/* When to refresh: retrieved + (expires - retrieved) / 2. */
time_t ag_creds_refresh_at(const struct ag_creds *c);

/* 1 when the key should be rotated now: the service asked, or days > 0 and
 * the key (created at key_created; 0 = unknown, counted as very old) is at
 * least days old. */
int ag_creds_should_rotate(int service_asked, time_t key_created, time_t now,
    int64_t days);

/* Fetch credentials for id from the SSM endpoint ssm_url (https base URL)
 * into c (cleared first).  DH_E_SERVICE/DH_E_AUTH carry the AWS error code
 * in err. */
int ag_creds_fetch(struct dh_aws_client *aws, const char *ssm_url,
    const struct ag_identity *id, struct ag_creds *c, struct dh_err *err);

/* Rotate id's key: generate a new one, UpdateManagedInstancePublicKey signed
 * with the old, save the identity (in state_dir) with the new key; on a save
 * failure put the old public key back.  id is updated on success only. */
int ag_creds_rotate(struct dh_aws_client *aws, const char *ssm_url,
    const char *state_dir, struct ag_identity *id, struct dh_err *err);

#endif
