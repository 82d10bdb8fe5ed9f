/*
 * ss_handshake: HandshakeRequest/Response/Complete and EncChallenge JSON
 * (see ss_handshake.h).
 */
#include "ss_handshake.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"

#define T_SESSION "SessionType"
#define T_KMS "KMSEncryption"

/* Member by case-insensitive key; NULL when absent or JSON null. */
static const cJSON *
member(const cJSON *o, const char *key)
{
	const cJSON *v;

	if (!cJSON_IsObject(o))
		return NULL;
	v = cJSON_GetObjectItem(o, key);
	return cJSON_IsNull(v) ? NULL : v;
}

/* Optional string member copied into out[outsz]; too long is an error. */
static int
opt_str(const cJSON *o, const char *key, char *out, size_t outsz,
    struct dh_err *err)
{
	const cJSON *v = member(o, key);
	size_t n;

	out[0] = '\0';
	if (v == NULL)
		return DH_OK;
	if (!cJSON_IsString(v))
		return dh_err_set(err, DH_E_FORMAT, "%s is not a string", key);
	n = strlen(v->valuestring);
	if (n >= outsz)
		return dh_err_set(err, DH_E_TOOBIG, "%s longer than %zu bytes",
		    key, outsz - 1);
	memcpy(out, v->valuestring, n + 1);
	return DH_OK;
}

/* Optional integral number member in [lo, hi] (0 when absent). */
static int
opt_int(const cJSON *o, const char *key, double lo, double hi, int64_t *out,
    struct dh_err *err)
{
	const cJSON *v = member(o, key);

	*out = 0;
	if (v == NULL)
		return DH_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < lo || v->valuedouble > hi)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s is not an integer in range", key);
	*out = (int64_t)v->valuedouble;
	return DH_OK;
}

static int
parse_doc(const void *p, size_t n, cJSON **j, const char *what,
    struct dh_err *err)
{
	int rc = dh_json_parse(p, n, SS_HS_JSON_MAX, j, err);

	if (rc != DH_OK)
		return dh_err_wrap(err, rc, "%s", what);
	if (!cJSON_IsObject(*j)) {
		cJSON_Delete(*j);
		*j = NULL;
		return dh_err_set(err, DH_E_FORMAT, "%s is not an object", what);
	}
	return DH_OK;
}

/* The actions array: absent/null gives NULL; otherwise bounded. */
static int
actions_of(const cJSON *j, const char *key, const cJSON **arr,
    struct dh_err *err)
{
	const cJSON *a = member(j, key);

	*arr = NULL;
	if (a == NULL)
		return DH_OK;
	if (!cJSON_IsArray(a))
		return dh_err_set(err, DH_E_FORMAT, "%s is not an array", key);
	if (cJSON_GetArraySize(a) > SS_HS_ACTIONS_MAX)
		return dh_err_set(err, DH_E_TOOBIG, "more than %d %s",
		    SS_HS_ACTIONS_MAX, key);
	*arr = a;
	return DH_OK;
}

/* SessionType Properties: null/absent = "", an object = its JSON text
 * (bounded), anything else DH_E_FORMAT. */
static int
props_of(const cJSON *ap, char *out, size_t outsz, struct dh_err *err)
{
	const cJSON *p = member(ap, "Properties");
	struct dh_buf b;
	int rc;

	out[0] = '\0';
	if (p == NULL || cJSON_IsNull(p))
		return DH_OK;
	if (!cJSON_IsObject(p))
		return dh_err_set(err, DH_E_FORMAT, "Properties is not an"
		    " object");
	dh_buf_init(&b, outsz - 1);
	rc = dh_json_print(p, &b);
	if (rc == DH_OK) {
		memcpy(out, b.d, b.len);
		out[b.len] = '\0';
	}
	dh_buf_free(&b);
	return rc == DH_OK ? DH_OK : dh_err_set(err, DH_E_TOOBIG, "Properties"
	    " too long");
}

/* ------------------------------------------------------------ request */

int
ss_hs_request_build(const struct ss_hs_request *r, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject(), *arr, *a, *ap;
	int rc = DH_E_NOMEM;

	if (j == NULL || cJSON_AddStringToObject(j, "AgentVersion",
	    r->agent_version) == NULL)
		goto out;
	arr = cJSON_AddArrayToObject(j, "RequestedClientActions");
	if (arr == NULL)
		goto out;
	if (r->session_type[0] != '\0') {
		a = cJSON_CreateObject();
		if (a == NULL)
			goto out;
		cJSON_AddItemToArray(arr, a);
		if (cJSON_AddStringToObject(a, "ActionType", T_SESSION) ==
		    NULL)
			goto out;
		ap = cJSON_AddObjectToObject(a, "ActionParameters");
		if (ap == NULL || cJSON_AddStringToObject(ap, "SessionType",
		    r->session_type) == NULL)
			goto out;
		if (r->properties[0] == '\0') {
			if (cJSON_AddNullToObject(ap, "Properties") == NULL)
				goto out;
		} else {
			cJSON *pr = cJSON_ParseWithLength(r->properties,
			    strnlen(r->properties, sizeof(r->properties)));

			if (!cJSON_IsObject(pr)) {
				cJSON_Delete(pr);
				rc = DH_E_FORMAT;
				goto out;
			}
			cJSON_AddItemToObject(ap, "Properties", pr);
		}
	}
	if (r->kms) {
		a = cJSON_CreateObject();
		if (a == NULL)
			goto out;
		cJSON_AddItemToArray(arr, a);
		if (cJSON_AddStringToObject(a, "ActionType", T_KMS) == NULL)
			goto out;
		ap = cJSON_AddObjectToObject(a, "ActionParameters");
		if (ap == NULL || cJSON_AddStringToObject(ap, "KMSKeyId",
		    r->kms_key_id) == NULL)
			goto out;
		if (r->challenge[0] != '\0' && cJSON_AddStringToObject(ap,
		    "Challenge", r->challenge) == NULL)
			goto out;
	}
	rc = dh_json_print(j, out);
out:
	cJSON_Delete(j);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build HandshakeRequest");
	return DH_OK;
}

int
ss_hs_request_parse(const void *p, size_t n, struct ss_hs_request *r,
    struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *arr, *a;
	char type[64];
	int rc;

	memset(r, 0, sizeof(*r));
	rc = parse_doc(p, n, &j, "HandshakeRequest", err);
	if (rc != DH_OK)
		return rc;
	rc = opt_str(j, "AgentVersion", r->agent_version,
	    sizeof(r->agent_version), err);
	if (rc == DH_OK)
		rc = actions_of(j, "RequestedClientActions", &arr, err);
	if (rc != DH_OK)
		goto out;
	cJSON_ArrayForEach(a, arr) {
		const cJSON *ap;

		rc = opt_str(a, "ActionType", type, sizeof(type), err);
		if (rc != DH_OK)
			goto out;
		ap = member(a, "ActionParameters");
		if (ap != NULL && !cJSON_IsObject(ap)) {
			rc = dh_err_set(err, DH_E_FORMAT,
			    "ActionParameters is not an object");
			goto out;
		}
		if (strcmp(type, T_SESSION) == 0) {
			rc = opt_str(ap, "SessionType", r->session_type,
			    sizeof(r->session_type), err);
			if (rc == DH_OK && r->session_type[0] == '\0')
				rc = dh_err_set(err, DH_E_FORMAT,
				    "SessionType action without a type");
			if (rc == DH_OK)
				rc = props_of(ap, r->properties,
				    sizeof(r->properties), err);
		} else if (strcmp(type, T_KMS) == 0) {
			r->kms = 1;
			rc = opt_str(ap, "KMSKeyId", r->kms_key_id,
			    sizeof(r->kms_key_id), err);
			if (rc == DH_OK)
				rc = opt_str(ap, "Challenge", r->challenge,
				    sizeof(r->challenge), err);
			if (rc == DH_OK && r->kms_key_id[0] == '\0')
				rc = dh_err_set(err, DH_E_FORMAT,
				    "KMSEncryption action without KMSKeyId");
		} else
			r->unknown_actions++;
		if (rc != DH_OK)
			goto out;
	}
out:
	cJSON_Delete(j);
	return rc;
}

/* ----------------------------------------------------------- response */

static cJSON *
add_action(cJSON *arr, const char *type, int status)
{
	cJSON *a = cJSON_CreateObject();

	if (a == NULL)
		return NULL;
	cJSON_AddItemToArray(arr, a);
	if (cJSON_AddStringToObject(a, "ActionType", type) == NULL ||
	    cJSON_AddNumberToObject(a, "ActionStatus", status) == NULL)
		return NULL;
	return a;
}

int
ss_hs_response_build(const struct ss_hs_response *r, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject(), *arr, *a, *res;
	struct dh_buf b64;
	int rc = DH_E_NOMEM;

	dh_buf_init(&b64, 2 * SS_HS_CT_MAX);
	if (r->kms_ct_len > SS_HS_CT_MAX) {
		rc = DH_E_TOOBIG;
		goto out;
	}
	if (j == NULL || cJSON_AddStringToObject(j, "ClientVersion",
	    r->client_version) == NULL)
		goto out;
	arr = cJSON_AddArrayToObject(j, "ProcessedClientActions");
	if (arr == NULL)
		goto out;
	if (r->has_session_type) {
		a = add_action(arr, T_SESSION, r->session_type_status);
		if (a == NULL || cJSON_AddNullToObject(a, "ActionResult") ==
		    NULL || cJSON_AddStringToObject(a, "Error", r->error) ==
		    NULL)
			goto out;
	}
	if (r->has_kms) {
		a = add_action(arr, T_KMS, r->kms_status);
		if (a == NULL)
			goto out;
		if (r->kms_status == SS_HS_STATUS_SUCCESS) {
			if (dh_b64_encode(r->kms_ct, r->kms_ct_len, &b64) !=
			    DH_OK)
				goto out;
			res = cJSON_AddObjectToObject(a, "ActionResult");
			if (res == NULL || cJSON_AddStringToObject(res,
			    "KMSCipherTextKey", dh_buf_cstr(&b64)) == NULL ||
			    cJSON_AddNullToObject(res, "KMSCipherTextHash") ==
			    NULL)
				goto out;
			if (r->challenge_ack && cJSON_AddTrueToObject(res,
			    "ChallengeAcknowledgement") == NULL)
				goto out;
		} else if (cJSON_AddNullToObject(a, "ActionResult") == NULL)
			goto out;
		if (cJSON_AddStringToObject(a, "Error", r->error) == NULL)
			goto out;
	}
	if (cJSON_AddNullToObject(j, "Errors") == NULL)
		goto out;
	rc = dh_json_print(j, out);
out:
	cJSON_Delete(j);
	dh_buf_free(&b64);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build HandshakeResponse");
	return DH_OK;
}

/* ActionResult of a KMSEncryption action. */
static int
parse_kms_result(const cJSON *res, struct ss_hs_response *r,
    struct dh_err *err)
{
	const cJSON *k, *ack;
	struct dh_buf b;
	int rc;

	if (res == NULL)
		return DH_OK;
	if (!cJSON_IsObject(res))
		return dh_err_set(err, DH_E_FORMAT,
		    "KMSEncryption ActionResult is not an object");
	ack = member(res, "ChallengeAcknowledgement");
	if (ack != NULL && !cJSON_IsBool(ack))
		return dh_err_set(err, DH_E_FORMAT,
		    "ChallengeAcknowledgement is not a boolean");
	r->challenge_ack = cJSON_IsTrue(ack);
	k = member(res, "KMSCipherTextKey");
	if (k == NULL)
		return DH_OK;
	if (!cJSON_IsString(k))
		return dh_err_set(err, DH_E_FORMAT,
		    "KMSCipherTextKey is not a string");
	if (strlen(k->valuestring) > 4 * ((SS_HS_CT_MAX + 2) / 3))
		return dh_err_set(err, DH_E_TOOBIG, "KMSCipherTextKey too long");
	dh_buf_init(&b, SS_HS_CT_MAX);
	rc = dh_b64_decode(k->valuestring, strlen(k->valuestring), &b);
	if (rc == DH_OK) {
		memcpy(r->kms_ct, b.d, b.len);
		r->kms_ct_len = b.len;
	} else
		dh_err_set(err, rc, "KMSCipherTextKey is not base64");
	dh_buf_free(&b);
	return rc;
}

int
ss_hs_response_parse(const void *p, size_t n, struct ss_hs_response *r,
    struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *arr, *a;
	char type[64], msg[SS_HS_MSG_MAX];
	int64_t st;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = parse_doc(p, n, &j, "HandshakeResponse", err);
	if (rc != DH_OK)
		return rc;
	rc = opt_str(j, "ClientVersion", r->client_version,
	    sizeof(r->client_version), err);
	if (rc == DH_OK)
		rc = actions_of(j, "ProcessedClientActions", &arr, err);
	if (rc != DH_OK)
		goto out;
	cJSON_ArrayForEach(a, arr) {
		rc = opt_str(a, "ActionType", type, sizeof(type), err);
		if (rc == DH_OK)
			rc = opt_int(a, "ActionStatus", 0, 1000, &st, err);
		if (rc == DH_OK)
			rc = opt_str(a, "Error", msg, sizeof(msg), err);
		if (rc != DH_OK)
			goto out;
		if (st != SS_HS_STATUS_SUCCESS) {
			r->failed = 1;
			if (r->error[0] == '\0' && msg[0] == '\0')
				snprintf(r->error, sizeof(r->error),
				    "%s action status %d", type[0] != '\0' ?
				    type : "unnamed", (int)st);
		}
		if (r->error[0] == '\0' && msg[0] != '\0')
			memcpy(r->error, msg, sizeof(r->error));
		if (strcmp(type, T_SESSION) == 0) {
			r->has_session_type = 1;
			r->session_type_status = (int)st;
		} else if (strcmp(type, T_KMS) == 0) {
			r->has_kms = 1;
			r->kms_status = (int)st;
			rc = parse_kms_result(member(a, "ActionResult"), r, err);
			if (rc != DH_OK)
				goto out;
		}
	}
out:
	cJSON_Delete(j);
	return rc;
}

/* ----------------------------------------------------------- complete */

int
ss_hs_complete_build(int64_t time_ns, const char *customer_message,
    struct dh_buf *out, struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject();
	int rc = DH_E_NOMEM;

	if (j != NULL && cJSON_AddNumberToObject(j, "HandshakeTimeToComplete",
	    (double)time_ns) != NULL && cJSON_AddStringToObject(j,
	    "CustomerMessage", customer_message != NULL ? customer_message :
	    "") != NULL)
		rc = dh_json_print(j, out);
	cJSON_Delete(j);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build HandshakeComplete");
	return DH_OK;
}

int
ss_hs_complete_parse(const void *p, size_t n, int64_t *time_ns, char *msg,
    size_t msgsz, struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *m;
	int rc;

	*time_ns = 0;
	if (msgsz > 0)
		msg[0] = '\0';
	rc = parse_doc(p, n, &j, "HandshakeComplete", err);
	if (rc != DH_OK)
		return rc;
	rc = opt_int(j, "HandshakeTimeToComplete", -9.0e18, 9.0e18, time_ns,
	    err);
	m = member(j, "CustomerMessage");
	if (rc == DH_OK && m != NULL && !cJSON_IsString(m))
		rc = dh_err_set(err, DH_E_FORMAT,
		    "CustomerMessage is not a string");
	if (rc == DH_OK && m != NULL && msgsz > 0)
		snprintf(msg, msgsz, "%s", m->valuestring);
	cJSON_Delete(j);
	return rc;
}

/* ---------------------------------------------------------- challenge */

int
ss_hs_challenge_build(const void *blob, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	struct dh_buf b64;
	cJSON *j = NULL;
	int rc = DH_E_TOOBIG;

	dh_buf_init(&b64, 2 * SS_HS_BLOB_MAX);
	if (n > SS_HS_BLOB_MAX)
		goto out;
	rc = dh_b64_encode(blob, n, &b64);
	if (rc != DH_OK)
		goto out;
	rc = DH_E_NOMEM;
	j = cJSON_CreateObject();
	if (j != NULL && cJSON_AddStringToObject(j, "Challenge",
	    dh_buf_cstr(&b64)) != NULL)
		rc = dh_json_print(j, out);
out:
	cJSON_Delete(j);
	dh_buf_free(&b64);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build EncChallenge");
	return DH_OK;
}

int
ss_hs_challenge_parse(const void *p, size_t n, struct dh_buf *blob,
    struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *c;
	struct dh_buf tmp;
	int rc;

	dh_buf_init(&tmp, SS_HS_BLOB_MAX);
	rc = parse_doc(p, n, &j, "EncChallenge", err);
	if (rc != DH_OK)
		goto out;
	c = member(j, "Challenge");
	if (!cJSON_IsString(c)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "EncChallenge has no Challenge string");
		goto out;
	}
	if (strlen(c->valuestring) > 4 * ((SS_HS_BLOB_MAX + 2) / 3)) {
		rc = dh_err_set(err, DH_E_TOOBIG, "Challenge too long");
		goto out;
	}
	rc = dh_b64_decode(c->valuestring, strlen(c->valuestring), &tmp);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "Challenge is not base64");
		goto out;
	}
	rc = dh_buf_put(blob, tmp.d, tmp.len);
	if (rc != DH_OK)
		dh_err_set(err, rc, "no room for the challenge");
out:
	dh_buf_free(&tmp);
	cJSON_Delete(j);
	return rc;
}
