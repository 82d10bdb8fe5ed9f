/*
 * ag_register: RegisterManagedInstance and identity creation (see
 * ag_register.h).
 */
#include "ag_register.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ag_config.h"
#include "dh_aws.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_rsasig.h"
#include "dh_time.h"
#include "dh_uuid.h"

#define ACT_FIELD_MAX 512

static int
contains(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; s != NULL && *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return 1;
	return 0;
}

const char *
ag_register_explain(const char *code, const char *message)
{
	if (contains(code, "expire") || contains(message, "expire"))
		return "the activation has expired; create a new activation";
	if (contains(code, "limit") || contains(message, "limit") ||
	    contains(code, "exceeded") || contains(message, "exceeded") ||
	    contains(message, "used up"))
		return "the activation's registration limit is used up;"
		    " create a new activation or raise its limit";
	if (contains(code, "InvalidActivation") ||
	    contains(code, "NotFound"))
		return "the activation code or id is wrong, or the activation"
		    " was deleted";
	if (contains(code, "Throttl") || contains(code, "TooMany"))
		return "the service is throttling requests; try again later";
	return "the service refused the registration";
}

static int
check_arg(const char *what, const char *v, struct dh_err *err)
{
	if (v == NULL || v[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "%s is required", what);
	if (strlen(v) > ACT_FIELD_MAX)
		return dh_err_set(err, DH_E_ARG, "%s is too long", what);
	return DH_OK;
}

int
ag_register_run(const struct ag_register_opts *o, struct ag_identity *id,
    struct dh_err *err)
{
	struct dh_http_config hc;
	struct dh_http_client *http = NULL;
	struct dh_aws_client aws;
	struct dh_aws_error aerr;
	struct dh_rsasig_key key;
	struct dh_buf priv, pub;
	struct dh_uuid u;
	cJSON *body = NULL, *resp = NULL;
	const char *iid = NULL;
	char url[AG_ENDPOINT_MAX];
	int rc;

	memset(&key, 0, sizeof(key));
	memset(&aerr, 0, sizeof(aerr));
	dh_buf_init_secret(&priv, DH_RSASIG_MAX_B64);
	dh_buf_init(&pub, DH_RSASIG_MAX_B64);
	rc = check_arg("activation code", o->code, err);
	if (rc == DH_OK)
		rc = check_arg("activation id", o->activation_id, err);
	if (rc == DH_OK)
		rc = check_arg("region", o->region, err);
	if (rc == DH_OK)
		rc = check_arg("state directory", o->state_dir, err);
	if (rc != DH_OK)
		goto out;
	if (strlen(o->region) >= AG_REGION_MAX) {
		rc = dh_err_set(err, DH_E_ARG, "region is too long");
		goto out;
	}
	if (ag_identity_exists(o->state_dir) && !o->force) {
		rc = dh_err_set(err, DH_E_EXISTS,
		    "%s/%s already holds an identity; use --force to"
		    " register again", o->state_dir, AG_IDENTITY_FILE);
		goto out;
	}
	rc = ag_config_endpoint(NULL, AG_SVC_SSM, o->endpoint, o->region, url,
	    sizeof(url), err);
	if (rc != DH_OK)
		goto out;
	(void)dh_log_secret_add(o->code);

	rc = dh_rsasig_generate(&key, err);
	if (rc == DH_OK)
		rc = dh_rsasig_export_private(&key, &priv, err);
	if (rc == DH_OK)
		rc = dh_rsasig_export_public(&key, &pub, err);
	if (rc == DH_OK)
		rc = dh_uuid_v4(&u);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "key generation");
		goto out;
	}
	dh_uuid_fmt(&u, id->fingerprint);
	ag_fp_collect(NULL, &id->hw);

	rc = DH_E_NOMEM;
	body = cJSON_CreateObject();
	if (body == NULL ||
	    cJSON_AddStringToObject(body, "ActivationCode", o->code) == NULL ||
	    cJSON_AddStringToObject(body, "ActivationId", o->activation_id) ==
	    NULL ||
	    cJSON_AddStringToObject(body, "Fingerprint", id->fingerprint) ==
	    NULL ||
	    cJSON_AddStringToObject(body, "PublicKey", dh_buf_cstr(&pub)) ==
	    NULL ||
	    cJSON_AddStringToObject(body, "PublicKeyType", "Rsa") == NULL) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = o->ca;
	hc.proxy = o->proxy;
	rc = dh_http_client_new(&hc, &http, err);
	if (rc != DH_OK)
		goto out;
	dh_aws_client_init(&aws, http);
	aws.auth = DH_AWS_AUTH_ANON;
	rc = dh_aws_json_call(&aws, url, "ssm", o->region,
	    "AmazonSSM.RegisterManagedInstance", body, &resp, &aerr, err);
	if (rc == DH_E_SERVICE) {
		dh_err_set(err, rc, "registration refused: %s (%s: %s)",
		    ag_register_explain(aerr.code, aerr.message), aerr.code,
		    aerr.message);
		goto out;
	}
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "RegisterManagedInstance at %s", url);
		goto out;
	}
	rc = dh_json_get_str(resp, "InstanceId", &iid, err);
	if (rc != DH_OK)
		goto out;
	if (strncmp(iid, "mi-", 3) != 0 || strlen(iid) < 10 ||
	    strlen(iid) >= sizeof(id->instance_id)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "RegisterManagedInstance returned a malformed InstanceId");
		goto out;
	}
	snprintf(id->instance_id, sizeof(id->instance_id), "%s", iid);
	snprintf(id->region, sizeof(id->region), "%s", o->region);
	snprintf(id->endpoint, sizeof(id->endpoint), "%s",
	    o->endpoint != NULL ? o->endpoint : "");
	snprintf(id->ca_bundle, sizeof(id->ca_bundle), "%s",
	    o->ca != NULL ? o->ca : "");
	id->key_created = dh_time_now();
	rc = ag_identity_set_key(id, dh_buf_cstr(&priv), priv.len, err);
	if (rc == DH_OK)
		rc = ag_identity_save(o->state_dir, id, err);
out:
	cJSON_Delete(resp);
	cJSON_Delete(body);
	dh_http_client_free(http);
	dh_rsasig_key_free(&key);
	dh_buf_free(&pub);
	dh_buf_free(&priv);
	return rc;
}
