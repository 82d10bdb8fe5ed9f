/*
 * Unit tests for the gateway's pure-ish core against a temporary SQLite
 * store: gw_store migrations and records, gw_ssm handlers (activation ->
 * registration -> role token -> heartbeat -> describe; expiry, limit, bad
 * code, fingerprint), gw_auth (HMAC operator key, temporary credentials,
 * skew, expiry, RSA instance key) and gw_ctrl (path parsing, token check).
 * Also: Describe* paging (MaxResults bounds, NextToken round trip, tampered
 * and cross-operation tokens), RemoveTagsFromResource and activation tags
 * copied onto instances, nested store transactions, and gw_api's rule that
 * a call whose audit record cannot be written is answered 500 and leaves
 * no write behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_hash.h"
#include "dh_json.h"
#include "dh_rsasig.h"
#include "dh_sigv4.h"
#include "dh_time.h"
#include "dh_enc.h"
#include "gw_api.h"
#include "gw_audit.h"
#include "gw_auth.h"
#include "gw_ctrl.h"
#include "gw_ssm.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define NOW_MS 1790000000000LL

struct fx {
	char dir[64];
	char db[96];
	struct gw_store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (gw_test_store_open("/tmp/gwssmXXXXXX", f->dir, f->db, &f->st) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_test_store_close(f->st, f->dir, f->db);
	free(f);
	return 0;
}

/* Call target with JSON text; returns the result (caller frees). */
static struct gw_ssm_result
call(struct fx *f, const struct gw_principal *who, const char *target,
    const char *json, int64_t now_ms)
{
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	cJSON *in = NULL;

	assert_int_equal(dh_json_parse(json, strlen(json), 1 << 20, &in, NULL),
	    DH_OK);
	gw_test_ctx(&c, f->st, who, now_ms);
	assert_non_null(gw_ssm_find(target));
	(void)gw_ssm_call(&c, gw_ssm_find(target), in, &res);
	cJSON_Delete(in);
	return res;
}

static const char *
jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void
new_pubkey(struct dh_rsasig_key *k, char *out, size_t n)
{
	struct dh_buf b;

	assert_int_equal(dh_rsasig_generate(k, NULL), DH_OK);
	dh_buf_init(&b, 4096);
	assert_int_equal(dh_rsasig_export_public(k, &b, NULL), DH_OK);
	snprintf(out, n, "%s", dh_buf_cstr(&b));
	dh_buf_free(&b);
}

static void
test_store_migrations(void **state)
{
	struct fx *f = *state;
	struct gw_store *again;
	char v[32];

	assert_int_equal(gw_store_schema_version(f->st),
	    GW_STORE_SCHEMA_VERSION);
	assert_int_equal(gw_store_meta_put(f->st, "k", "v1", NULL), DH_OK);
	assert_int_equal(gw_store_open(f->db, &again, NULL), DH_OK);
	assert_int_equal(gw_store_meta_get(again, "k", v, sizeof(v), NULL),
	    DH_OK);
	assert_string_equal(v, "v1");
	assert_int_equal(gw_store_meta_get(again, "nope", v, sizeof(v), NULL),
	    DH_E_NOTFOUND);
	gw_store_close(again);
}

static void
test_registration_flow(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	struct gw_principal who;
	struct dh_rsasig_key key;
	char pk[1024], body[4096], code[64], aid[64], mi[24];
	const cJSON *list, *it;

	r = call(f, NULL, "AmazonSSM.CreateActivation",
	    "{\"IamRole\":\"r\",\"RegistrationLimit\":1}", NOW_MS);
	assert_null(r.error_code);
	snprintf(code, sizeof(code), "%s", jstr(r.body, "ActivationCode"));
	snprintf(aid, sizeof(aid), "%s", jstr(r.body, "ActivationId"));
	assert_int_equal(strlen(code), 20);
	gw_ssm_result_free(&r);

	new_pubkey(&key, pk, sizeof(pk));
	snprintf(body, sizeof(body), "{\"ActivationCode\":\"%s\",\"ActivationId\":"
	    "\"%s\",\"Fingerprint\":\"fp1\",\"PublicKey\":\"%s\","
	    "\"PublicKeyType\":\"Rsa\"}", "AAAAAAAAAAAAAAAAAAAA", aid, pk);
	r = call(f, NULL, "AmazonSSM.RegisterManagedInstance", body, NOW_MS);
	assert_string_equal(r.error_code, "InvalidActivation");
	gw_ssm_result_free(&r);

	snprintf(body, sizeof(body), "{\"ActivationCode\":\"%s\",\"ActivationId\":"
	    "\"%s\",\"Fingerprint\":\"fp1\",\"PublicKey\":\"%s\","
	    "\"PublicKeyType\":\"Rsa\"}", code, aid, pk);
	r = call(f, NULL, "AmazonSSM.RegisterManagedInstance", body,
	    NOW_MS + 2LL * 86400 * 1000);
	assert_string_equal(r.error_code, "ActivationExpired");
	gw_ssm_result_free(&r);

	r = call(f, NULL, "AmazonSSM.RegisterManagedInstance", body, NOW_MS);
	assert_null(r.error_code);
	snprintf(mi, sizeof(mi), "%s", jstr(r.body, "InstanceId"));
	assert_int_equal(strlen(mi), 20);
	gw_ssm_result_free(&r);

	r = call(f, NULL, "AmazonSSM.RegisterManagedInstance", body, NOW_MS);
	assert_string_equal(r.error_code, "ActivationLimitExceeded");
	gw_ssm_result_free(&r);

	memset(&who, 0, sizeof(who));
	who.kind = GW_AUTH_INSTANCE_KEY;
	snprintf(who.instance_id, sizeof(who.instance_id), "%s", mi);
	r = call(f, &who, "AmazonSSM.RequestManagedInstanceRoleToken",
	    "{\"Fingerprint\":\"other\"}", NOW_MS);
	assert_string_equal(r.error_code, "MachineFingerprintDoesNotMatch");
	gw_ssm_result_free(&r);
	r = call(f, &who, "AmazonSSM.RequestManagedInstanceRoleToken",
	    "{\"Fingerprint\":\"fp1\"}", NOW_MS);
	assert_null(r.error_code);
	assert_non_null(jstr(r.body, "SessionToken"));
	assert_memory_equal(jstr(r.body, "AccessKeyId"), "ASIA", 4);
	gw_ssm_result_free(&r);

	r = call(f, NULL, "AmazonSSM.DescribeInstanceInformation", "{}", NOW_MS);
	list = cJSON_GetObjectItemCaseSensitive(r.body,
	    "InstanceInformationList");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	it = cJSON_GetArrayItem(list, 0);
	assert_string_equal(jstr(it, "PingStatus"), "ConnectionLost");
	gw_ssm_result_free(&r);

	who.kind = GW_AUTH_INSTANCE;
	snprintf(body, sizeof(body), "{\"InstanceId\":\"%s\",\"AgentVersion\":"
	    "\"1.2.3\",\"PlatformType\":\"Linux\"}", mi);
	r = call(f, &who, "AmazonSSM.UpdateInstanceInformation", body, NOW_MS);
	assert_null(r.error_code);
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.DescribeInstanceInformation",
	    "{\"Filters\":[{\"Key\":\"PingStatus\",\"Values\":[\"Online\"]}]}",
	    NOW_MS + 1000);
	list = cJSON_GetObjectItemCaseSensitive(r.body,
	    "InstanceInformationList");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(jstr(cJSON_GetArrayItem(list, 0), "AgentVersion"),
	    "1.2.3");
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.DescribeInstanceInformation",
	    "{\"Filters\":[{\"Key\":\"Bogus\",\"Values\":[\"x\"]}]}", NOW_MS);
	assert_string_equal(r.error_code, "InvalidFilterKey");
	gw_ssm_result_free(&r);
	dh_rsasig_key_free(&key);
}

static void
test_validation(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;

	r = call(f, NULL, "AmazonSSM.CreateActivation", "{}", NOW_MS);
	assert_string_equal(r.error_code, "ValidationException");
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.CreateActivation",
	    "{\"IamRole\":\"r\",\"RegistrationLimit\":0}", NOW_MS);
	assert_string_equal(r.error_code, "ValidationException");
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.CreateActivation",
	    "{\"IamRole\":\"r\",\"ExpirationDate\":1}", NOW_MS);
	assert_string_equal(r.error_code, "InvalidParameters");
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.DeleteActivation",
	    "{\"ActivationId\":\"nope\"}", NOW_MS);
	assert_string_equal(r.error_code, "InvalidActivationId");
	gw_ssm_result_free(&r);
	r = call(f, NULL, "AmazonSSM.AddTagsToResource", "{\"ResourceType\":"
	    "\"Document\",\"ResourceId\":\"x\",\"Tags\":[]}", NOW_MS);
	assert_string_equal(r.error_code, "InvalidResourceType");
	gw_ssm_result_free(&r);
	assert_null(gw_ssm_find("AmazonSSM.Nope"));
	assert_string_equal(gw_ssm_ping_status(NOW_MS - 1000, NOW_MS), "Online");
	assert_string_equal(gw_ssm_ping_status(NOW_MS - GW_SSM_PING_LOST_MS - 1,
	    NOW_MS), "ConnectionLost");
	assert_string_equal(gw_ssm_ping_status(0, NOW_MS), "ConnectionLost");
}

/* Sign a JSON 1.1 request with dh_sigv4 and verify it with gw_auth. */
static int
sign_verify(struct fx *f, const char *akid, const char *secret,
    const char *token, time_t sign_t, time_t now, enum gw_auth_code *code,
    struct gw_principal *p)
{
	struct dh_sigv4_header h[8];
	struct dh_sigv4_request req;
	struct dh_sigv4_creds cr = { akid, secret, token };
	struct dh_sigv4_params prm = { &cr, "us-east-1", "ssm", sign_t, 0 };
	struct dh_sigv4_signed sg;
	const char *body = "{}";
	size_t n = 0, i;
	int r;

	h[n++] = (struct dh_sigv4_header){ "Host", "127.0.0.1:8443" };
	h[n++] = (struct dh_sigv4_header){ "Content-Type",
	    "application/x-amz-json-1.1" };
	h[n++] = (struct dh_sigv4_header){ "X-Amz-Target",
	    "AmazonSSM.DescribeActivations" };
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/";
	req.headers = h;
	req.n_headers = n;
	req.body = body;
	req.body_len = 2;
	dh_sigv4_signed_init(&sg);
	assert_int_equal(dh_sigv4_sign(&req, &prm, &sg, NULL), DH_OK);
	for (i = 0; i < sg.n_add; i++)
		h[n++] = sg.add[i];
	req.n_headers = n;
	r = gw_auth_verify(f->st, &req, "us-east-1", "ssm", now, 0, p, code,
	    NULL);
	dh_sigv4_signed_free(&sg);
	return r;
}

static void
test_auth(void **state)
{
	struct fx *f = *state;
	struct gw_store_key k;
	struct gw_store_token t;
	struct gw_principal p;
	enum gw_auth_code code;
	time_t now = (time_t)(NOW_MS / 1000);
	char tok[] = "session-token-value";

	memset(&k, 0, sizeof(k));
	snprintf(k.access_key_id, sizeof(k.access_key_id), "AKIATESTKEY000000001");
	snprintf(k.secret, sizeof(k.secret), "secret/one");
	snprintf(k.name, sizeof(k.name), "ops");
	k.policy = (char *)"{}";
	assert_int_equal(gw_store_key_put(f->st, &k, NULL), DH_OK);
	assert_int_equal(sign_verify(f, k.access_key_id, "secret/one", NULL, now,
	    now, &code, &p), DH_OK);
	assert_int_equal(p.kind, GW_AUTH_OPERATOR);
	assert_string_equal(p.name, "ops");
	assert_string_equal(p.policy, "{}");
	gw_auth_clear(&p);
	assert_int_equal(sign_verify(f, k.access_key_id, "wrong", NULL, now, now,
	    &code, &p), DH_E_AUTH);
	assert_string_equal(gw_auth_code_name(code), "InvalidSignatureException");
	assert_int_equal(sign_verify(f, k.access_key_id, "secret/one", NULL,
	    now - 301, now, &code, &p), DH_E_AUTH);
	assert_string_equal(gw_auth_code_name(code), "InvalidSignatureException");
	assert_int_equal(sign_verify(f, "AKIAUNKNOWN000000000", "x", NULL, now,
	    now, &code, &p), DH_E_AUTH);
	assert_string_equal(gw_auth_code_name(code),
	    "UnrecognizedClientException");

	memset(&t, 0, sizeof(t));
	snprintf(t.access_key_id, sizeof(t.access_key_id), "ASIATESTTOKEN0000001");
	snprintf(t.secret, sizeof(t.secret), "tmpsecret");
	dh_sha256_hex(tok, strlen(tok), t.token_hash);
	snprintf(t.instance_id, sizeof(t.instance_id), "mi-0123456789abcdef0");
	t.expires_ms = NOW_MS + 60000;
	assert_int_equal(gw_store_token_put(f->st, &t, NULL), DH_OK);
	assert_int_equal(sign_verify(f, t.access_key_id, "tmpsecret", tok, now,
	    now, &code, &p), DH_OK);
	assert_int_equal(p.kind, GW_AUTH_INSTANCE);
	assert_string_equal(p.instance_id, "mi-0123456789abcdef0");
	gw_auth_clear(&p);
	assert_int_equal(sign_verify(f, t.access_key_id, "tmpsecret", "other",
	    now, now, &code, &p), DH_E_AUTH);
	assert_string_equal(gw_auth_code_name(code),
	    "UnrecognizedClientException");
	assert_int_equal(sign_verify(f, t.access_key_id, "tmpsecret", tok,
	    now + 120, now + 120, &code, &p), DH_E_AUTH);
	assert_string_equal(gw_auth_code_name(code), "ExpiredTokenException");
	assert_int_equal(gw_auth_code_of(DH_SIGV4_FAIL_MISSING), GW_AUTH_MISSING);
}

static void
test_ctrl(void **state)
{
	struct fx *f = *state;
	struct gw_ctrl *c;
	struct gw_ctrl_conn *conn;
	struct dh_buf xml;
	char id[24], msg[256];
	const char *tv, *end;
	int handle = 1;

	assert_int_equal(gw_ctrl_parse_path("/v1/control-channel/mi-0123456789"
	    "abcdef0", id, sizeof(id), NULL), DH_OK);
	assert_string_equal(id, "mi-0123456789abcdef0");
	assert_int_equal(gw_ctrl_parse_path("/v1/control-channel/../etc", id,
	    sizeof(id), NULL), DH_E_FORMAT);
	assert_int_equal(gw_ctrl_parse_path("/v1/data-channel/mi-0", id,
	    sizeof(id), NULL), DH_E_FORMAT);
	assert_int_equal(gw_ctrl_new(f->st, &c, NULL), DH_OK);
	dh_buf_init(&xml, 4096);
	assert_int_equal(gw_ctrl_create_channel(c, "mi-0123456789abcdef0", NULL,
	    NOW_MS, &xml, NULL), DH_OK);
	tv = strstr(dh_buf_cstr(&xml), "<TokenValue>") + 12;
	end = strstr(tv, "</TokenValue>");
	assert_int_equal(gw_ctrl_ws_attach(c, "mi-0123456789abcdef0", &handle,
	    NOW_MS, &conn, NULL), DH_OK);
	assert_int_equal(gw_ctrl_ws_text(c, conn, "{\"TokenValue\":\"bad\"}", 20,
	    NOW_MS, NULL), DH_E_AUTH);
	assert_null(gw_ctrl_lookup(c, "mi-0123456789abcdef0"));
	snprintf(msg, sizeof(msg), "{\"TokenValue\":\"%.*s\"}", (int)(end - tv),
	    tv);
	assert_int_equal(gw_ctrl_ws_text(c, conn, msg, strlen(msg), NOW_MS,
	    NULL), DH_OK);
	assert_ptr_equal(gw_ctrl_lookup(c, "mi-0123456789abcdef0"), &handle);
	assert_int_equal(gw_ctrl_count(c), 1);
	gw_ctrl_ws_detach(c, conn);
	assert_int_equal(gw_ctrl_count(c), 0);
	dh_buf_free(&xml);
	gw_ctrl_free(c);
}


/* Follow DescribeActivations pages of max_results; returns the row count
 * and the number of pages. */
static int
walk_activations(struct fx *f, int max_results, int *pages)
{
	struct gw_ssm_result r;
	char body[2048], tok[1024] = "";
	int total = 0;

	*pages = 0;
	for (;;) {
		if (tok[0] != '\0')
			snprintf(body, sizeof(body), "{\"MaxResults\":%d,"
			    "\"NextToken\":\"%s\"}", max_results, tok);
		else
			snprintf(body, sizeof(body), "{\"MaxResults\":%d}",
			    max_results);
		r = call(f, NULL, "AmazonSSM.DescribeActivations", body, NOW_MS);
		assert_null(r.error_code);
		total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		    r.body, "ActivationList"));
		(*pages)++;
		if (jstr(r.body, "NextToken") == NULL) {
			gw_ssm_result_free(&r);
			break;
		}
		snprintf(tok, sizeof(tok), "%s", jstr(r.body, "NextToken"));
		gw_ssm_result_free(&r);
		assert_true(*pages < 100);
	}
	return total;
}

static void
test_paging(void **state)
{
	static const struct { const char *target, *body, *code; } bad[] = {
		{ "AmazonSSM.DescribeActivations", "{\"MaxResults\":0}",
		  "ValidationException" },
		{ "AmazonSSM.DescribeActivations", "{\"MaxResults\":51}",
		  "ValidationException" },
		{ "AmazonSSM.DescribeInstanceInformation", "{\"MaxResults\":4}",
		  "ValidationException" },
		{ "AmazonSSM.DescribeInstanceInformation", "{\"MaxResults\":51}",
		  "ValidationException" },
		{ "AmazonSSM.DescribeActivations", "{\"NextToken\":\"%%%\"}",
		  "InvalidNextToken" },
		{ "AmazonSSM.DescribeActivations", "{\"NextToken\":\"djE6MTox\"}",
		  "InvalidNextToken" },
		{ "AmazonSSM.DescribeInstanceInformation",
		  "{\"NextToken\":\"bm9wZQ==\"}", "InvalidNextToken" },
	};
	struct fx *f = *state;
	struct gw_ssm_result r;
	struct dh_buf raw, enc;
	char body[2048], tok[1024];
	int i, pages, n;
	size_t k;

	for (i = 0; i < 12; i++) {
		r = call(f, NULL, "AmazonSSM.CreateActivation",
		    "{\"IamRole\":\"r\"}", NOW_MS + (i % 3));
		assert_null(r.error_code);
		gw_ssm_result_free(&r);
	}
	assert_int_equal(walk_activations(f, 5, &pages), 12);
	assert_int_equal(pages, 3);
	assert_int_equal(walk_activations(f, 1, &pages), 12);
	assert_int_equal(pages, 12);
	assert_int_equal(walk_activations(f, 12, &pages), 12);
	assert_int_equal(pages, 1);
	assert_int_equal(walk_activations(f, 50, &pages), 12);
	/* Default page: everything here (50). */
	r = call(f, NULL, "AmazonSSM.DescribeActivations", "{}", NOW_MS);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	    r.body, "ActivationList")), 12);
	assert_null(jstr(r.body, "NextToken"));
	gw_ssm_result_free(&r);

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		r = call(f, NULL, bad[k].target, bad[k].body, NOW_MS);
		assert_non_null(r.error_code);
		assert_string_equal(r.error_code, bad[k].code);
		assert_int_equal(r.status, 400);
		gw_ssm_result_free(&r);
	}

	r = call(f, NULL, "AmazonSSM.DescribeActivations", "{\"MaxResults\":2}",
	    NOW_MS);
	snprintf(tok, sizeof(tok), "%s", jstr(r.body, "NextToken"));
	gw_ssm_result_free(&r);
	/* A token of DescribeActivations is refused by another operation. */
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", tok);
	r = call(f, NULL, "AmazonSSM.DescribeInstanceInformation", body, NOW_MS);
	assert_string_equal(r.error_code, "InvalidNextToken");
	gw_ssm_result_free(&r);
	/* Every single-byte edit of the decoded token is refused. */
	dh_buf_init(&raw, 1024);
	assert_int_equal(dh_b64_decode(tok, strlen(tok), &raw), DH_OK);
	for (k = 0; k < raw.len; k++) {
		raw.d[k] ^= 0x01;
		dh_buf_init(&enc, 2048);
		assert_int_equal(dh_b64_encode(raw.d, raw.len, &enc), DH_OK);
		snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}",
		    dh_buf_cstr(&enc));
		r = call(f, NULL, "AmazonSSM.DescribeActivations", body, NOW_MS);
		assert_non_null(r.error_code);
		assert_string_equal(r.error_code, "InvalidNextToken");
		gw_ssm_result_free(&r);
		dh_buf_free(&enc);
		raw.d[k] ^= 0x01;
	}
	dh_buf_free(&raw);
	/* The untouched token still works (the key is kept in the store). */
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", tok);
	r = call(f, NULL, "AmazonSSM.DescribeActivations", body, NOW_MS);
	assert_null(r.error_code);
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.body,
	    "ActivationList"));
	assert_int_equal(n, 10);
	gw_ssm_result_free(&r);
}

static void
register_with(struct fx *f, const char *act_json, char *mi, size_t n)
{
	struct gw_ssm_result r;
	struct dh_rsasig_key key;
	char pk[1024], body[4096], code[64], aid[64];

	r = call(f, NULL, "AmazonSSM.CreateActivation", act_json, NOW_MS);
	assert_null(r.error_code);
	snprintf(code, sizeof(code), "%s", jstr(r.body, "ActivationCode"));
	snprintf(aid, sizeof(aid), "%s", jstr(r.body, "ActivationId"));
	gw_ssm_result_free(&r);
	new_pubkey(&key, pk, sizeof(pk));
	snprintf(body, sizeof(body), "{\"ActivationCode\":\"%s\",\"ActivationId\":"
	    "\"%s\",\"Fingerprint\":\"fp1\",\"PublicKey\":\"%s\","
	    "\"PublicKeyType\":\"Rsa\",\"Tags\":[{\"Key\":\"extra\","
	    "\"Value\":\"1\"}]}", code, aid, pk);
	r = call(f, NULL, "AmazonSSM.RegisterManagedInstance", body, NOW_MS);
	assert_null(r.error_code);
	snprintf(mi, n, "%s", jstr(r.body, "InstanceId"));
	gw_ssm_result_free(&r);
	dh_rsasig_key_free(&key);
}

/* The tag list of mi as "k=v,k=v". */
static void
tag_text(struct fx *f, const char *mi, char *out, size_t n)
{
	struct gw_ssm_result r;
	const cJSON *t;
	char body[256];
	size_t len = 0;

	snprintf(body, sizeof(body), "{\"ResourceType\":\"ManagedInstance\","
	    "\"ResourceId\":\"%s\"}", mi);
	r = call(f, NULL, "AmazonSSM.ListTagsForResource", body, NOW_MS);
	assert_null(r.error_code);
	out[0] = '\0';
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r.body,
	    "TagList"))
		len += (size_t)snprintf(out + len, n - len, "%s%s=%s",
		    len > 0 ? "," : "", jstr(t, "Key"), jstr(t, "Value"));
	gw_ssm_result_free(&r);
}

static void
test_tags(void **state)
{
	static const struct { const char *body, *code; } bad[] = {
		{ "{\"ResourceType\":\"ManagedInstance\",\"ResourceId\":"
		  "\"mi-00000000000000000\",\"TagKeys\":[\"a\"]}",
		  "InvalidResourceId" },
		{ "{\"ResourceType\":\"Document\",\"ResourceId\":\"d\","
		  "\"TagKeys\":[\"a\"]}", "InvalidResourceType" },
		{ "{\"ResourceType\":\"ManagedInstance\"}",
		  "ValidationException" },
	};
	struct fx *f = *state;
	struct gw_ssm_result r;
	char mi[24], body[512], tags[512];
	size_t k;

	register_with(f, "{\"IamRole\":\"r\",\"Tags\":[{\"Key\":\"env\","
	    "\"Value\":\"prod\"},{\"Key\":\"team\",\"Value\":\"ops\"}]}", mi,
	    sizeof(mi));
	tag_text(f, mi, tags, sizeof(tags));
	assert_string_equal(tags, "env=prod,extra=1,team=ops");

	snprintf(body, sizeof(body), "{\"ResourceType\":\"ManagedInstance\","
	    "\"ResourceId\":\"%s\",\"TagKeys\":[\"env\",\"absent\"]}", mi);
	r = call(f, NULL, "AmazonSSM.RemoveTagsFromResource", body, NOW_MS);
	assert_null(r.error_code);
	gw_ssm_result_free(&r);
	tag_text(f, mi, tags, sizeof(tags));
	assert_string_equal(tags, "extra=1,team=ops");

	snprintf(body, sizeof(body), "{\"ResourceType\":\"ManagedInstance\","
	    "\"ResourceId\":\"%s\",\"TagKeys\":[\"\"]}", mi);
	r = call(f, NULL, "AmazonSSM.RemoveTagsFromResource", body, NOW_MS);
	assert_string_equal(r.error_code, "ValidationException");
	gw_ssm_result_free(&r);
	snprintf(body, sizeof(body), "{\"ResourceType\":\"ManagedInstance\","
	    "\"ResourceId\":\"%s\"}", mi);
	r = call(f, NULL, "AmazonSSM.RemoveTagsFromResource", body, NOW_MS);
	assert_string_equal(r.error_code, "ValidationException");
	gw_ssm_result_free(&r);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		r = call(f, NULL, "AmazonSSM.RemoveTagsFromResource",
		    bad[k].body, NOW_MS);
		assert_non_null(r.error_code);
		assert_string_equal(r.error_code, bad[k].code);
		gw_ssm_result_free(&r);
	}
}

static int
meta_is(struct gw_store *st, const char *k, const char *want)
{
	char v[64];

	if (gw_store_meta_get(st, k, v, sizeof(v), NULL) != DH_OK)
		return want == NULL;
	return want != NULL && strcmp(v, want) == 0;
}

static void
test_nested_txn(void **state)
{
	struct fx *f = *state;

	assert_int_equal(gw_store_txn_depth(f->st), 0);
	/* inner rollback undoes only the inner write */
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_meta_put(f->st, "outer", "1", NULL), DH_OK);
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_txn_depth(f->st), 2);
	assert_int_equal(gw_store_meta_put(f->st, "inner", "1", NULL), DH_OK);
	gw_store_rollback(f->st);
	assert_int_equal(gw_store_txn_depth(f->st), 1);
	assert_true(meta_is(f->st, "inner", NULL));
	assert_true(meta_is(f->st, "outer", "1"));
	assert_int_equal(gw_store_commit(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_txn_depth(f->st), 0);
	assert_true(meta_is(f->st, "outer", "1"));
	/* inner commit is undone by an outer rollback */
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_meta_put(f->st, "inner2", "1", NULL), DH_OK);
	assert_int_equal(gw_store_commit(f->st, NULL), DH_OK);
	assert_true(meta_is(f->st, "inner2", "1"));
	gw_store_rollback(f->st);
	assert_int_equal(gw_store_txn_depth(f->st), 0);
	assert_true(meta_is(f->st, "inner2", NULL));
	/* a handler's own begin/commit inside still works at depth 3 */
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_begin(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_meta_put(f->st, "deep", "1", NULL), DH_OK);
	assert_int_equal(gw_store_commit(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_commit(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_commit(f->st, NULL), DH_OK);
	assert_int_equal(gw_store_txn_depth(f->st), 0);
	assert_true(meta_is(f->st, "deep", "1"));
}

static int64_t
count_rows(struct fx *f, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(gw_store_db(f->st), sql, -1, &s,
	    NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* RegisterManagedInstance (anonymous, so no signing needed) through
 * gw_api_handle; returns the HTTP status. */
static int
api_register(struct gw_api *api, const char *code, const char *aid,
    const char *pk, char *type, size_t tn)
{
	struct dh_sigv4_header h[2] = {
		{ "x-amz-target", "AmazonSSM.RegisterManagedInstance" },
		{ "content-type", "application/x-amz-json-1.1" },
	};
	struct gw_api_req req;
	struct gw_api_resp resp;
	char body[4096];
	cJSON *o = NULL;
	int st;

	snprintf(body, sizeof(body), "{\"ActivationCode\":\"%s\",\"ActivationId\":"
	    "\"%s\",\"Fingerprint\":\"fp1\",\"PublicKey\":\"%s\","
	    "\"PublicKeyType\":\"Rsa\"}", code, aid, pk);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/";
	req.query = "";
	req.headers = h;
	req.n_headers = 2;
	req.body = body;
	req.body_len = strlen(body);
	req.source_ip = "127.0.0.1";
	gw_api_resp_init(&resp);
	assert_int_equal(gw_api_handle(api, &req, &resp), DH_OK);
	st = resp.status;
	type[0] = '\0';
	if (dh_json_parse(resp.body.d, resp.body.len, 1 << 16, &o, NULL) ==
	    DH_OK && jstr(o, "__type") != NULL)
		snprintf(type, tn, "%s", jstr(o, "__type"));
	cJSON_Delete(o);
	gw_api_resp_free(&resp);
	return st;
}

static void
test_audit_same_transaction(void **state)
{
	struct fx *f = *state;
	struct gw_api_config cfg;
	struct gw_audit *audit = NULL;
	struct gw_ctrl *ctrl = NULL;
	struct gw_api *api = NULL;
	struct gw_ssm_result r;
	struct dh_rsasig_key key;
	char pk[1024], code[64], aid[64], type[64];
	sqlite3 *db = gw_store_db(f->st);

	assert_int_equal(gw_audit_open(db, f->dir, "123456789012", "us-east-1",
	    &audit, NULL), DH_OK);
	assert_int_equal(gw_ctrl_new(f->st, &ctrl, NULL), DH_OK);
	memset(&cfg, 0, sizeof(cfg));
	cfg.st = f->st;
	cfg.audit = audit;
	cfg.ctrl = ctrl;
	cfg.region = "us-east-1";
	cfg.account = "123456789012";
	assert_int_equal(gw_api_new(&cfg, &api, NULL), DH_OK);
	r = call(f, NULL, "AmazonSSM.CreateActivation",
	    "{\"IamRole\":\"r\",\"RegistrationLimit\":5}", dh_time_now_ms());
	snprintf(code, sizeof(code), "%s", jstr(r.body, "ActivationCode"));
	snprintf(aid, sizeof(aid), "%s", jstr(r.body, "ActivationId"));
	gw_ssm_result_free(&r);
	new_pubkey(&key, pk, sizeof(pk));

	/* The audit table refuses inserts: the call is answered 500 and its
	 * registration (instance row, activation count) is not kept. */
	assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER audit_ro BEFORE INSERT"
	    " ON gw_audit_events BEGIN SELECT RAISE(ABORT, 'read-only'); END;",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(api_register(api, code, aid, pk, type, sizeof(type)),
	    500);
	assert_string_equal(type, "InternalServerError");
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM instances"), 0);
	assert_int_equal(count_rows(f, "SELECT SUM(reg_count) FROM"
	    " activations"), 0);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM gw_audit_events"),
	    0);
	assert_int_equal(gw_store_txn_depth(f->st), 0);
	/* A refused call (bad code) is not recorded either: also 500. */
	assert_int_equal(api_register(api, "AAAAAAAAAAAAAAAAAAAA", aid, pk, type,
	    sizeof(type)), 500);

	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER audit_ro", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(api_register(api, code, aid, pk, type, sizeof(type)),
	    200);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM instances"), 1);
	assert_int_equal(count_rows(f, "SELECT SUM(reg_count) FROM"
	    " activations"), 1);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM gw_audit_events"),
	    1);
	assert_int_equal(api_register(api, "AAAAAAAAAAAAAAAAAAAA", aid, pk, type,
	    sizeof(type)), 400);
	assert_string_equal(type, "InvalidActivation");
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM gw_audit_events"),
	    2);
	assert_int_equal(gw_store_txn_depth(f->st), 0);

	dh_rsasig_key_free(&key);
	gw_api_free(api);
	gw_ctrl_free(ctrl);
	gw_audit_close(audit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_migrations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_registration_flow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_txn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_same_transaction,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("gw_ssm", tests, NULL, NULL);
}
