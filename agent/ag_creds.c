/*
 * ag_creds: role-token credentials, refresh timing and key rotation (see
 * ag_creds.h).
 */
#include "ag_creds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_aws.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_rsasig.h"
#include "dh_time.h"

#define SECRET_MAX 4096

void
ag_creds_clear(struct ag_creds *c)
{
	if (c->secret_key != NULL) {
		dh_wipe(c->secret_key, strlen(c->secret_key));
		free(c->secret_key);
	}
	if (c->session_token != NULL) {
		dh_wipe(c->session_token, strlen(c->session_token));
		free(c->session_token);
	}
	dh_wipe(c, sizeof(*c));
}

static int
dup_secret(const char *s, char **out, const char *what, struct dh_err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > SECRET_MAX)
		return dh_err_set(err, DH_E_FORMAT,
		    "token response %s has a bad length (%zu)", what, n);
	*out = malloc(n + 1);
	if (*out == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	memcpy(*out, s, n + 1);
	return DH_OK;
}

/* TokenExpirationDate: epoch seconds (JSON number, maybe fractional) or,
 * leniently, an ISO 8601 string. */
static int
parse_expiry(const cJSON *j, time_t *out, struct dh_err *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j,
	    "TokenExpirationDate");

	if (cJSON_IsNumber(e)) {
		double d = e->valuedouble;

		if (!isfinite(d) || d < 1 || d > 253402300799.0)
			return dh_err_set(err, DH_E_FORMAT,
			    "token response TokenExpirationDate out of range");
		*out = (time_t)d;
		return DH_OK;
	}
	if (cJSON_IsString(e) && dh_time_parse_iso(e->valuestring, out) ==
	    DH_OK)
		return DH_OK;
	return dh_err_set(err, DH_E_FORMAT,
	    "token response lacks a valid TokenExpirationDate");
}

int
ag_creds_from_json(const cJSON *j, time_t now, struct ag_creds *c,
    struct dh_err *err)
{
	const char *ak = NULL, *sk = NULL, *tok = NULL;
	int upd = 0, rc;

	rc = dh_json_get_str(j, "AccessKeyId", &ak, err);
	if (rc == DH_OK)
		rc = dh_json_get_str(j, "SecretAccessKey", &sk, err);
	if (rc == DH_OK)
		rc = dh_json_get_str(j, "SessionToken", &tok, err);
	if (rc == DH_OK)
		rc = dh_json_opt_bool(j, "UpdateKeyPair", &upd, err);
	if (rc == DH_OK)
		rc = parse_expiry(j, &c->expires, err);
	if (rc != DH_OK)
		goto out;
	if (ak[0] == '\0' || strlen(ak) >= sizeof(c->access_key)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "token response AccessKeyId has a bad length");
		goto out;
	}
	memcpy(c->access_key, ak, strlen(ak) + 1);
	rc = dup_secret(sk, &c->secret_key, "SecretAccessKey", err);
	if (rc == DH_OK)
		rc = dup_secret(tok, &c->session_token, "SessionToken", err);
	if (rc != DH_OK)
		goto out;
	if (c->expires <= now) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "token response credentials already expired");
		goto out;
	}
	c->retrieved = now;
	c->update_key_pair = upd;
out:
	if (rc != DH_OK)
		ag_creds_clear(c);
	return rc;
}

/* Wipe every string value of a parsed response (it held secrets). */
static void
wipe_tree(cJSON *j)
{
	cJSON *it;

	cJSON_ArrayForEach(it, j) {
		if (cJSON_IsString(it) && it->valuestring != NULL)
			dh_wipe(it->valuestring, strlen(it->valuestring));
	}
}

int
ag_creds_parse(const void *p, size_t n, time_t now, struct ag_creds *c,
    struct dh_err *err)
{
	cJSON *j = NULL;
	int rc;

	rc = dh_json_parse(p, n, AG_CREDS_RESPONSE_MAX, &j, err);
	if (rc == DH_OK)
		rc = ag_creds_from_json(j, now, c, err);
	if (j != NULL) {
		wipe_tree(j);
		cJSON_Delete(j);
	}
	return rc;
}

time_t
ag_creds_refresh_at(const struct ag_creds *c)
{
	if (c->expires <= c->retrieved)
		return c->retrieved;
	return c->retrieved + (c->expires - c->retrieved) / 2;
}

int
ag_creds_should_rotate(int service_asked, time_t key_created, time_t now,
    int64_t days)
{
	if (service_asked)
		return 1;
	if (days <= 0)
		return 0;
	if (key_created <= 0)
		return 1;
	return (int64_t)(now - key_created) >= days * 86400;
}

/* dh_aws custom signer: RSA-PSS with the instance key (arg). */
static int
rsa_signer(void *arg, const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err)
{
	return dh_rsasig_sign_request(arg, req, p, out, err);
}

/* One SSM JSON call signed with key as instance id; DH_E_SERVICE carries
 * "Operation: Code: message" in err. */
static int
rsa_call(struct dh_aws_client *aws, const char *ssm_url,
    const struct ag_identity *id, const struct dh_rsasig_key *key,
    const char *op, const cJSON *body, cJSON **resp, struct dh_err *err)
{
	struct dh_aws_client a = *aws;
	struct dh_aws_error aerr;
	char target[96];
	int rc;

	memset(&aerr, 0, sizeof(aerr));
	a.auth = DH_AWS_AUTH_CUSTOM;
	memset(&a.creds, 0, sizeof(a.creds));
	a.creds.access_key = id->instance_id;
	a.signer = rsa_signer;
	a.signer_arg = (void *)key;
	snprintf(target, sizeof(target), "AmazonSSM.%s", op);
	rc = dh_aws_json_call(&a, ssm_url, "ssm", id->region, target, body,
	    resp, &aerr, err);
	if (rc == DH_E_SERVICE)
		dh_err_set(err, rc, "%s: %s: %s", op, aerr.code,
		    aerr.message);
	else if (rc != DH_OK)
		dh_err_wrap(err, rc, "%s", op);
	return rc;
}

int
ag_creds_fetch(struct dh_aws_client *aws, const char *ssm_url,
    const struct ag_identity *id, struct ag_creds *c, struct dh_err *err)
{
	struct dh_rsasig_key key;
	cJSON *body = NULL, *resp = NULL;
	int rc;

	memset(&key, 0, sizeof(key));
	ag_creds_clear(c);
	if (id->private_key == NULL)
		return dh_err_set(err, DH_E_STATE, "identity has no key");
	rc = dh_rsasig_load_private(&key, id->private_key,
	    strlen(id->private_key), err);
	if (rc != DH_OK)
		goto out;
	rc = DH_E_NOMEM;
	body = cJSON_CreateObject();
	if (body == NULL || cJSON_AddStringToObject(body, "Fingerprint",
	    id->fingerprint) == NULL) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	rc = rsa_call(aws, ssm_url, id, &key,
	    "RequestManagedInstanceRoleToken", body, &resp, err);
	if (rc != DH_OK)
		goto out;
	rc = ag_creds_from_json(resp, dh_time_now(), c, err);
	if (rc != DH_OK)
		goto out;
	(void)dh_log_secret_add(c->secret_key);
	(void)dh_log_secret_add(c->session_token);
out:
	if (resp != NULL) {
		wipe_tree(resp);
		cJSON_Delete(resp);
	}
	cJSON_Delete(body);
	dh_rsasig_key_free(&key);
	return rc;
}

/* UpdateManagedInstancePublicKey with new_pub, signed with signer_key. */
static int
update_public_key(struct dh_aws_client *aws, const char *ssm_url,
    const struct ag_identity *id, const struct dh_rsasig_key *signer_key,
    const char *new_pub, struct dh_err *err)
{
	cJSON *body = NULL, *resp = NULL;
	int rc = DH_E_NOMEM;

	body = cJSON_CreateObject();
	if (body == NULL ||
	    cJSON_AddStringToObject(body, "NewPublicKey", new_pub) == NULL ||
	    cJSON_AddStringToObject(body, "NewPublicKeyType", "Rsa") == NULL) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	rc = rsa_call(aws, ssm_url, id, signer_key,
	    "UpdateManagedInstancePublicKey", body, &resp, err);
out:
	cJSON_Delete(resp);
	cJSON_Delete(body);
	return rc;
}

int
ag_creds_rotate(struct dh_aws_client *aws, const char *ssm_url,
    const char *state_dir, struct ag_identity *id, struct dh_err *err)
{
	struct dh_rsasig_key oldk, newk;
	struct dh_buf newpriv, newpub, oldpub;
	struct ag_identity next;
	struct dh_err e2;
	int rc;

	memset(&oldk, 0, sizeof(oldk));
	memset(&newk, 0, sizeof(newk));
	dh_buf_init_secret(&newpriv, DH_RSASIG_MAX_B64);
	dh_buf_init(&newpub, DH_RSASIG_MAX_B64);
	dh_buf_init(&oldpub, DH_RSASIG_MAX_B64);
	ag_identity_init(&next);
	if (id->private_key == NULL) {
		rc = dh_err_set(err, DH_E_STATE, "identity has no key");
		goto out;
	}
	rc = dh_rsasig_load_private(&oldk, id->private_key,
	    strlen(id->private_key), err);
	if (rc == DH_OK)
		rc = dh_rsasig_export_public(&oldk, &oldpub, err);
	if (rc == DH_OK)
		rc = dh_rsasig_generate(&newk, err);
	if (rc == DH_OK)
		rc = dh_rsasig_export_private(&newk, &newpriv, err);
	if (rc == DH_OK)
		rc = dh_rsasig_export_public(&newk, &newpub, err);
	if (rc != DH_OK)
		goto out;
	rc = update_public_key(aws, ssm_url, id, &oldk, dh_buf_cstr(&newpub),
	    err);
	if (rc != DH_OK)
		goto out;
	/* The service now holds the new key: persist it, or roll back. */
	next = *id;
	next.private_key = NULL;
	rc = ag_identity_set_key(&next, dh_buf_cstr(&newpriv), newpriv.len,
	    err);
	if (rc == DH_OK) {
		next.key_created = dh_time_now();
		rc = ag_identity_save(state_dir, &next, err);
	}
	if (rc != DH_OK) {
		dh_err_clear(&e2);
		if (update_public_key(aws, ssm_url, id, &newk,
		    dh_buf_cstr(&oldpub), &e2) != DH_OK)
			dh_err_wrap(err, rc,
			    "key rotation: saving failed and the rollback"
			    " failed too (%s)", e2.msg);
		else
			dh_err_wrap(err, rc,
			    "key rotation rolled back: saving failed");
		goto out;
	}
	ag_identity_clear(id);
	*id = next;
	ag_identity_init(&next);
out:
	ag_identity_clear(&next);
	dh_buf_free(&oldpub);
	dh_buf_free(&newpub);
	dh_buf_free(&newpriv);
	dh_rsasig_key_free(&newk);
	dh_rsasig_key_free(&oldk);
	return rc;
}
