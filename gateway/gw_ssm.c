/*
 * gw_ssm: SSM / ec2messages operation handlers (see gw_ssm.h).  Each
 * handler validates its input shape the way the AWS models bound it, reads
 * and writes gw_store, and builds the response object the botocore models
 * expect (timestamps as epoch seconds).
 */
#include "gw_ssm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_rsasig.h"
#include "dh_uuid.h"
#include "gw_res.h"

static int op_create_activation(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe_activations(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_delete_activation(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_register(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_role_token(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_update_key(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_update_info(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe_instances(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_deregister(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_add_tags(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_list_tags(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_remove_tags(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_list_assoc(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_get_messages(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_message_ack(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);

#define SSM_SRC "ssm.amazonaws.com"
#define EC2M_SRC "ec2messages.amazonaws.com"
#define OPR GW_SSM_OPERATOR
#define INST GW_SSM_INSTANCE

const struct gw_ssm_op gw_ssm_ops[] = {
	{ "AmazonSSM.CreateActivation", "CreateActivation", "ssm", SSM_SRC,
	    "ssm:CreateActivation", OPR, op_create_activation },
	{ "AmazonSSM.DescribeActivations", "DescribeActivations", "ssm",
	    SSM_SRC, "ssm:DescribeActivations", OPR, op_describe_activations },
	{ "AmazonSSM.DeleteActivation", "DeleteActivation", "ssm", SSM_SRC,
	    "ssm:DeleteActivation", OPR, op_delete_activation },
	{ "AmazonSSM.RegisterManagedInstance", "RegisterManagedInstance", "ssm",
	    SSM_SRC, "ssm:RegisterManagedInstance", GW_SSM_ANON, op_register },
	{ "AmazonSSM.RequestManagedInstanceRoleToken",
	    "RequestManagedInstanceRoleToken", "ssm", SSM_SRC,
	    "ssm:RequestManagedInstanceRoleToken", GW_SSM_KEY, op_role_token },
	{ "AmazonSSM.UpdateManagedInstancePublicKey",
	    "UpdateManagedInstancePublicKey", "ssm", SSM_SRC,
	    "ssm:UpdateManagedInstancePublicKey", GW_SSM_KEY, op_update_key },
	{ "AmazonSSM.UpdateInstanceInformation", "UpdateInstanceInformation",
	    "ssm", SSM_SRC, "ssm:UpdateInstanceInformation", INST | OPR, op_update_info },
	{ "AmazonSSM.DescribeInstanceInformation",
	    "DescribeInstanceInformation", "ssm", SSM_SRC,
	    "ssm:DescribeInstanceInformation", OPR, op_describe_instances },
	{ "AmazonSSM.DeregisterManagedInstance", "DeregisterManagedInstance",
	    "ssm", SSM_SRC, "ssm:DeregisterManagedInstance", OPR, op_deregister },
	{ "AmazonSSM.AddTagsToResource", "AddTagsToResource", "ssm", SSM_SRC,
	    "ssm:AddTagsToResource", OPR, op_add_tags },
	{ "AmazonSSM.ListTagsForResource", "ListTagsForResource", "ssm",
	    SSM_SRC, "ssm:ListTagsForResource", OPR, op_list_tags },
	{ "AmazonSSM.RemoveTagsFromResource", "RemoveTagsFromResource", "ssm",
	    SSM_SRC, "ssm:RemoveTagsFromResource", OPR, op_remove_tags },
	{ "AmazonSSM.ListInstanceAssociations", "ListInstanceAssociations",
	    "ssm", SSM_SRC, "ssm:ListInstanceAssociations", INST | OPR, op_list_assoc },
	{ "EC2WindowsMessageDeliveryService.GetMessages", "GetMessages",
	    "ec2messages", EC2M_SRC, "ec2messages:GetMessages", INST, op_get_messages },
	{ "EC2WindowsMessageDeliveryService.AcknowledgeMessage",
	    "AcknowledgeMessage", "ec2messages", EC2M_SRC,
	    "ec2messages:AcknowledgeMessage", INST, op_message_ack },
	{ "EC2WindowsMessageDeliveryService.SendReply", "SendReply",
	    "ec2messages", EC2M_SRC, "ec2messages:SendReply", INST, op_message_ack },
	{ "EC2WindowsMessageDeliveryService.FailMessage", "FailMessage",
	    "ec2messages", EC2M_SRC, "ec2messages:FailMessage", INST, op_message_ack },
	{ "EC2WindowsMessageDeliveryService.DeleteMessage", "DeleteMessage",
	    "ec2messages", EC2M_SRC, "ec2messages:DeleteMessage", INST, op_message_ack },
};

const size_t gw_ssm_n_ops = sizeof(gw_ssm_ops) / sizeof(gw_ssm_ops[0]);

const char *
gw_ssm_ping_status(int64_t last_ping_ms, int64_t now_ms)
{
	if (last_ping_ms > 0 && now_ms - last_ping_ms <= GW_SSM_PING_LOST_MS)
		return "Online";
	return "ConnectionLost";
}

void
gw_ssm_result_free(struct gw_ssm_result *res)
{
	cJSON_Delete(res->body);
	memset(res, 0, sizeof(*res));
}

/* Optional epoch-seconds timestamp (JSON number, may be fractional). */
static int
opt_time(const cJSON *in, const char *key, int64_t *ms, int *present,
    struct gw_ssm_result *res)
{
	const cJSON *m = cJSON_IsObject(in) ?
	    cJSON_GetObjectItemCaseSensitive(in, key) : NULL;

	*present = 0;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsNumber(m) || m->valuedouble < 0 ||
	    m->valuedouble > 32503680000.0) {
		gw_res_fail(res, 400, "ValidationException",
		    "'%s' must be a timestamp",
		    key);
		return -1;
	}
	*ms = (int64_t)(m->valuedouble * 1000.0);
	*present = 1;
	return 0;
}

static int
random_text(const char *alphabet, size_t alen, char *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = alphabet[dh_random_uniform((uint32_t)alen)];
	out[n] = '\0';
	return 0;
}

static const char b62[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char hexd[] = "0123456789abcdef";

/* -------------------------------------------------------------- paging */

/*
 * Describe* paging.  Rows come from the store in a stable order (creation
 * time, then id); a page holds up to MaxResults matching rows and, when
 * another matching row exists, NextToken names the last row returned:
 * base64("v1:<ms>:<id>:<mac>") where mac is the first 16 bytes (hex) of
 * HMAC-SHA256(gateway paging key, "<operation>\n<ms>:<id>").  The key is 32
 * random bytes made once and kept in the store's meta table, so tokens
 * survive restarts, cannot be forged or edited, and a token of one
 * operation is refused by another (InvalidNextToken).
 */
#define PAGE_KEY_META "ssm_paging_key"
#define PAGE_DEFAULT 50
#define PAGE_TOKEN_MAX 1024
#define PAGE_ID_MAX 64

struct page {
	const char *op;
	int has_cursor;
	int64_t after_ms;
	char after_id[PAGE_ID_MAX + 1];
	int64_t max;
	int64_t n;
	int more;
	int64_t last_ms;
	char last_id[PAGE_ID_MAX + 1];
	unsigned char key[32];
};

static int
page_key(const struct gw_ssm_ctx *c, struct page *pg,
    struct gw_ssm_result *res)
{
	char hex[2 * sizeof(pg->key) + 1];
	struct dh_buf raw;
	struct dh_err e;
	int r;

	dh_buf_init_secret(&raw, sizeof(pg->key));
	r = gw_store_meta_get(c->st, PAGE_KEY_META, hex, sizeof(hex), &e);
	if (r == DH_E_NOTFOUND) {
		r = dh_random(pg->key, sizeof(pg->key));
		if (r == DH_OK) {
			dh_hex_encode(pg->key, sizeof(pg->key), hex);
			r = gw_store_meta_put(c->st, PAGE_KEY_META, hex, &e);
		}
	} else if (r == DH_OK) {
		r = dh_hex_decode(hex, strlen(hex), &raw);
		if (r == DH_OK && raw.len != sizeof(pg->key))
			r = DH_E_FORMAT;
		if (r == DH_OK)
			memcpy(pg->key, raw.d, sizeof(pg->key));
	}
	dh_wipe(hex, sizeof(hex));
	dh_buf_free(&raw);
	if (r != DH_OK)
		gw_res_internal(res, r, &e);
	return r;
}

static void
page_mac(const struct page *pg, int64_t ms, const char *id, char out[33])
{
	unsigned char mac[DH_SHA256_LEN];
	char msg[192];
	int n;

	n = snprintf(msg, sizeof(msg), "%s\n%lld:%s", pg->op, (long long)ms,
	    id);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	dh_hmac_sha256(pg->key, sizeof(pg->key), msg, (size_t)n, mac);
	dh_hex_encode(mac, 16, out);
}

/* Decode and verify a NextToken into the cursor; -1 (res filled) if bad. */
static int
page_cursor(struct page *pg, const char *tok, struct gw_ssm_result *res)
{
	char text[PAGE_TOKEN_MAX], mac[33], *p, *q, *end = NULL;
	struct dh_buf raw;
	int ok = 0;
	size_t i;

	dh_buf_init(&raw, PAGE_TOKEN_MAX);
	if (dh_b64_decode(tok, strlen(tok), &raw) != DH_OK ||
	    raw.len == 0 || raw.len >= sizeof(text))
		goto done;
	memcpy(text, raw.d, raw.len);
	text[raw.len] = '\0';
	for (i = 0; i < raw.len; i++)
		if (text[i] < 0x21 || text[i] > 0x7e)
			goto done;
	if (strncmp(text, "v1:", 3) != 0)
		goto done;
	p = text + 3;
	pg->after_ms = strtoll(p, &end, 10);
	if (end == p || *end != ':' || pg->after_ms < 0)
		goto done;
	p = end + 1;
	q = strchr(p, ':');
	if (q == NULL || q == p || (size_t)(q - p) > PAGE_ID_MAX ||
	    strlen(q + 1) != 32)
		goto done;
	memcpy(pg->after_id, p, (size_t)(q - p));
	pg->after_id[q - p] = '\0';
	page_mac(pg, pg->after_ms, pg->after_id, mac);
	ok = dh_ct_equal(mac, q + 1, 32);
done:
	dh_buf_free(&raw);
	if (!ok) {
		gw_res_fail(res, 400, "InvalidNextToken",
		    "The specified token is not"
		    " valid");
		return -1;
	}
	pg->has_cursor = 1;
	return 0;
}

/* MaxResults within [min, max] (default PAGE_DEFAULT) and NextToken. */
static int
page_init(const struct gw_ssm_ctx *c, const cJSON *in, const char *op,
    int64_t min, int64_t max, struct page *pg, struct gw_ssm_result *res)
{
	const char *tok;
	struct dh_err e;
	int present;

	memset(pg, 0, sizeof(*pg));
	pg->op = op;
	if (dh_json_opt_int(in, "MaxResults", min, max, &pg->max, &present,
	    &e) != DH_OK) {
		gw_res_fail(res, 400, "ValidationException",
		    "1 validation error"
		    " detected: Value at 'maxResults' failed to satisfy"
		    " constraint: Member must have value between %lld and %lld",
		    (long long)min, (long long)max);
		return -1;
	}
	if (!present)
		pg->max = PAGE_DEFAULT;
	if (gw_res_opt_str(in, "NextToken", 0, PAGE_TOKEN_MAX, &tok, res) != 0)
		return -1;
	if (page_key(c, pg, res) != DH_OK)
		return -1;
	if (tok != NULL && tok[0] != '\0' && page_cursor(pg, tok, res) != 0)
		return -1;
	return 0;
}

/* 1 when row (ms, id) comes after the cursor. */
static int
page_after(const struct page *pg, int64_t ms, const char *id)
{
	if (!pg->has_cursor)
		return 1;
	return ms > pg->after_ms || (ms == pg->after_ms &&
	    strcmp(id, pg->after_id) > 0);
}

/* A matching row: 1 = emit it (recorded as the page's last), 0 = page full
 * (more rows exist; stop iterating). */
static int
page_admit(struct page *pg, int64_t ms, const char *id)
{
	if (pg->n >= pg->max) {
		pg->more = 1;
		return 0;
	}
	pg->n++;
	pg->last_ms = ms;
	snprintf(pg->last_id, sizeof(pg->last_id), "%s", id);
	return 1;
}

/* Add NextToken to body when another page exists. */
static int
page_finish(struct page *pg, cJSON *body)
{
	char text[PAGE_TOKEN_MAX / 2], mac[33];
	struct dh_buf b64;
	int n, r = DH_OK;

	if (!pg->more)
		goto done;
	page_mac(pg, pg->last_ms, pg->last_id, mac);
	n = snprintf(text, sizeof(text), "v1:%lld:%s:%s",
	    (long long)pg->last_ms, pg->last_id, mac);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		r = DH_E_TOOBIG;
		goto done;
	}
	dh_buf_init(&b64, PAGE_TOKEN_MAX);
	r = dh_b64_encode(text, (size_t)n, &b64);
	if (r == DH_OK && gw_res_add_str(body, "NextToken",
	    dh_buf_cstr(&b64)) != 0)
		r = DH_E_NOMEM;
	dh_buf_free(&b64);
done:
	dh_wipe(pg->key, sizeof(pg->key));
	return r;
}

/* ---------------------------------------------------------------- tags */

/* Validate a Tags list; returns count or -1 (res filled). */
static int
check_tags(const cJSON *tags, struct gw_ssm_result *res)
{
	const cJSON *t;
	const char *k, *v;
	int n = 0;

	if (tags == NULL || cJSON_IsNull(tags))
		return 0;
	if (!cJSON_IsArray(tags)) {
		gw_res_fail(res, 400, "ValidationException",
		    "Tags must be a list");
		return -1;
	}
	cJSON_ArrayForEach(t, tags) {
		if (gw_res_req_str(t, "Key", 1, 128, &k, res) != 0 ||
		    gw_res_req_str(t, "Value", 0, 256, &v, res) != 0)
			return -1;
		if (strncmp(k, "aws:", 4) == 0) {
			gw_res_fail(res, 400, "InvalidParameters",
			    "Tag keys may not"
			    " start with aws:");
			return -1;
		}
		n++;
	}
	if (n > GW_SSM_MAX_TAGS) {
		gw_res_fail(res, 400, "TooManyTagsError",
		    "At most %d tags per resource",
		    GW_SSM_MAX_TAGS);
		return -1;
	}
	return n;
}

static int
put_tags(struct gw_store *st, const char *rid, const cJSON *tags,
    struct dh_err *e)
{
	const cJSON *t;
	int r = DH_OK;

	if (!cJSON_IsArray(tags))
		return DH_OK;
	cJSON_ArrayForEach(t, tags) {
		r = gw_store_tag_put(st, rid,
		    cJSON_GetObjectItemCaseSensitive(t, "Key")->valuestring,
		    cJSON_GetObjectItemCaseSensitive(t, "Value")->valuestring, e);
		if (r != DH_OK)
			break;
	}
	return r;
}

static int
tag_cb(void *ctx, const char *k, const char *v)
{
	cJSON *list = ctx, *t = cJSON_CreateObject();

	if (t == NULL)
		return 1;
	cJSON_AddItemToArray(list, t);
	return gw_res_add_str(t, "Key", k) != 0 || gw_res_add_str(t, "Value",
	    v) != 0;
}

/* Copy every tag of resource from onto resource to (collected first: the
 * store's tag cursor must not see its own inserts). */
static int
copy_tags(struct gw_store *st, const char *from, const char *to,
    struct dh_err *e)
{
	cJSON *list = cJSON_CreateArray();
	int r;

	if (list == NULL)
		return dh_err_set(e, DH_E_NOMEM, "out of memory");
	r = gw_store_tag_each(st, from, tag_cb, list, e);
	if (r == DH_OK && cJSON_GetArraySize(list) > 0)
		r = put_tags(st, to, list, e);
	cJSON_Delete(list);
	return r;
}

/* ---------------------------------------------------------- activations */

static int
op_create_activation(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_activation a;
	struct dh_uuid u;
	struct dh_err e;
	const char *desc, *name, *role;
	char code[21];
	int64_t limit = 1, exp_ms = 0;
	int present, r;
	cJSON *o;

	memset(&a, 0, sizeof(a));
	if (gw_res_opt_str(in, "Description", 0, 256, &desc, res) != 0 ||
	    gw_res_opt_str(in, "DefaultInstanceName", 0, 256, &name,
	    res) != 0 ||
	    gw_res_req_str(in, "IamRole", 1, 64, &role, res) != 0 ||
	    opt_time(in, "ExpirationDate", &exp_ms, &present, res) != 0 ||
	    check_tags(cJSON_GetObjectItemCaseSensitive(in, "Tags"), res) < 0)
		return DH_OK;
	if (dh_json_opt_int(in, "RegistrationLimit", 1, 1000, &limit, &present,
	    &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException",
		    "RegistrationLimit"
		    " must be an integer between 1 and 1000");
	if (!present)
		limit = 1;
	if (exp_ms == 0)
		exp_ms = c->now_ms + (int64_t)GW_SSM_ACTIVATION_TTL_S * 1000;
	if (exp_ms <= c->now_ms)
		return gw_res_fail(res, 400, "InvalidParameters",
		    "ExpirationDate must"
		    " be in the future");
	if (exp_ms > c->now_ms + (int64_t)GW_SSM_ACTIVATION_MAX_S * 1000)
		return gw_res_fail(res, 400, "InvalidParameters",
		    "ExpirationDate can"
		    " be at most 30 days in the future");
	if (dh_uuid_v4(&u) != DH_OK || random_text(b62, 62, code, 20) != 0)
		return gw_res_internal(res, DH_E_CRYPTO, NULL);
	dh_uuid_fmt(&u, a.id);
	dh_sha256_hex(code, strlen(code), a.code_hash);
	snprintf(a.description, sizeof(a.description), "%s",
	    desc != NULL ? desc : "");
	snprintf(a.default_name, sizeof(a.default_name), "%s",
	    name != NULL ? name : "");
	snprintf(a.iam_role, sizeof(a.iam_role), "%s", role);
	a.limit = limit;
	a.expires_ms = exp_ms;
	a.created_ms = c->now_ms;
	r = gw_store_begin(c->st, &e);
	if (r == DH_OK)
		r = gw_store_activation_put(c->st, &a, &e);
	if (r == DH_OK)
		r = put_tags(c->st, a.id, cJSON_GetObjectItemCaseSensitive(in,
		    "Tags"), &e);
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		dh_wipe(code, sizeof(code));
		return gw_res_internal(res, r, &e);
	}
	o = gw_res_ok(res);
	if (o == NULL || gw_res_add_str(o, "ActivationId", a.id) != 0 ||
	    gw_res_add_str(o, "ActivationCode", code) != 0)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
	dh_wipe(code, sizeof(code));
	return r;
}

struct act_list {
	const struct gw_ssm_ctx *c;
	const cJSON *filters;
	cJSON *list;
	int oom;
	struct page pg;
};

static int
filter_match(const cJSON *filters, const char *key, const char *value)
{
	const cJSON *f, *vals, *v;
	const char *fk;
	int any;

	cJSON_ArrayForEach(f, filters) {
		fk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f,
		    "FilterKey"));
		if (fk == NULL || strcmp(fk, key) != 0)
			continue;
		vals = cJSON_GetObjectItemCaseSensitive(f, "FilterValues");
		any = 0;
		cJSON_ArrayForEach(v, vals)
			if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
				any = 1;
		if (!any)
			return 0;
	}
	return 1;
}

static int
act_cb(void *ctx, const struct gw_store_activation *a)
{
	struct act_list *l = ctx;
	cJSON *o, *tags;

	if (!page_after(&l->pg, a->created_ms, a->id) ||
	    !filter_match(l->filters, "ActivationIds", a->id) ||
	    !filter_match(l->filters, "DefaultInstanceName", a->default_name) ||
	    !filter_match(l->filters, "IamRole", a->iam_role))
		return 0;
	if (!page_admit(&l->pg, a->created_ms, a->id))
		return 1;
	o = cJSON_CreateObject();
	tags = cJSON_CreateArray();
	if (o == NULL || tags == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(tags);
		l->oom = 1;
		return 1;
	}
	cJSON_AddItemToArray(l->list, o);
	gw_res_add_str(o, "ActivationId", a->id);
	gw_res_add_str(o, "Description", a->description);
	gw_res_add_str(o, "DefaultInstanceName", a->default_name);
	gw_res_add_str(o, "IamRole", a->iam_role);
	cJSON_AddNumberToObject(o, "RegistrationLimit", (double)a->limit);
	cJSON_AddNumberToObject(o, "RegistrationsCount", (double)a->count);
	gw_res_add_time(o, "ExpirationDate", a->expires_ms);
	cJSON_AddBoolToObject(o, "Expired", a->expires_ms <= l->c->now_ms);
	gw_res_add_time(o, "CreatedDate", a->created_ms);
	cJSON_AddItemToObject(o, "Tags", tags);
	(void)gw_store_tag_each(l->c->st, a->id, tag_cb, tags, NULL);
	return 0;
}

static int
op_describe_activations(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = cJSON_GetObjectItemCaseSensitive(in, "Filters");
	const cJSON *f;
	struct act_list l;
	struct dh_err e;
	const char *k;
	int r = DH_OK;

	if (filters != NULL && !cJSON_IsNull(filters) && !cJSON_IsArray(filters))
		return gw_res_fail(res, 400, "ValidationException",
		    "Filters must be a list");
	cJSON_ArrayForEach(f, filters) {
		k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f,
		    "FilterKey"));
		if (k == NULL || (strcmp(k, "ActivationIds") != 0 &&
		    strcmp(k, "DefaultInstanceName") != 0 &&
		    strcmp(k, "IamRole") != 0))
			return gw_res_fail(res, 400, "InvalidFilter",
			    "Invalid filter"
			    " key");
	}
	memset(&l, 0, sizeof(l));
	l.c = c;
	l.filters = filters;
	if (page_init(c, in, "DescribeActivations", 1, 50, &l.pg, res) != 0)
		goto done;
	if (gw_res_ok(res) == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto done;
	}
	l.list = cJSON_AddArrayToObject(res->body, "ActivationList");
	if (l.list == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto done;
	}
	r = gw_store_activation_each(c->st, act_cb, &l, &e);
	if (r != DH_OK)
		gw_res_internal(res, r, &e);
	else if (l.oom || page_finish(&l.pg, res->body) != DH_OK)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
done:
	dh_wipe(l.pg.key, sizeof(l.pg.key));
	return r;
}

static int
op_delete_activation(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id;
	struct dh_err e;
	int r;

	if (gw_res_req_str(in, "ActivationId", 1, 64, &id, res) != 0)
		return DH_OK;
	r = gw_store_activation_delete(c->st, id, &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "InvalidActivationId",
		    "Activation ID %s"
		    " does not exist", id);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	gw_res_ok(res);
	return DH_OK;
}

/* ---------------------------------------------------------- registration */

static int
check_public_key(const char *b64, const char *type, struct gw_ssm_result *res)
{
	struct dh_rsasig_key k;
	struct dh_err e;
	int r;

	if (type != NULL && strcmp(type, "Rsa") != 0) {
		gw_res_fail(res, 400, "ValidationException",
		    "PublicKeyType must be"
		    " Rsa");
		return -1;
	}
	memset(&k, 0, sizeof(k));
	r = dh_rsasig_load_public(&k, b64, strlen(b64), &e);
	dh_rsasig_key_free(&k);
	if (r != DH_OK) {
		gw_res_fail(res, 400, "InvalidParameters", "PublicKey is not a"
		    " base64 RSA SubjectPublicKeyInfo");
		return -1;
	}
	return 0;
}

static int
op_register(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst = NULL;
	struct gw_store_activation a;
	struct dh_err e;
	const char *code, *aid, *fp, *pk, *pkt, *role;
	char hash[2 * DH_SHA256_LEN + 1], suffix[18];
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
	int64_t ntags = 0;
	int r = DH_OK, txn = 0;

	if (gw_res_req_str(in, "ActivationCode", 20, 250, &code, res) != 0 ||
	    gw_res_req_str(in, "ActivationId", 36, 36, &aid, res) != 0 ||
	    gw_res_req_str(in, "Fingerprint", 1, 128, &fp, res) != 0 ||
	    gw_res_req_str(in, "PublicKey", 392, 4096, &pk, res) != 0 ||
	    gw_res_opt_str(in, "PublicKeyType", 1, 15, &pkt, res) != 0 ||
	    gw_res_opt_str(in, "IamRole", 0, 64, &role, res) != 0 ||
	    check_tags(tags, res) < 0 || check_public_key(pk, pkt, res) != 0)
		return DH_OK;
	inst = calloc(1, sizeof(*inst));
	if (inst == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_begin(c->st, &e);
	if (r != DH_OK)
		goto fail_int;
	txn = 1;
	dh_sha256_hex(code, strlen(code), hash);
	r = gw_store_activation_get(c->st, aid, &a, &e);
	if (r == DH_E_NOTFOUND || (r == DH_OK &&
	    !dh_ct_equal(hash, a.code_hash, sizeof(hash) - 1))) {
		gw_res_fail(res, 400, "InvalidActivation",
		    "Activation ID or code is"
		    " not valid");
		r = DH_OK;
		goto done;
	}
	if (r != DH_OK)
		goto fail_int;
	if (a.expires_ms <= c->now_ms) {
		gw_res_fail(res, 400, "ActivationExpired",
		    "Activation %s has expired",
		    aid);
		goto done;
	}
	if (a.count >= a.limit) {
		gw_res_fail(res, 400, "ActivationLimitExceeded",
		    "Activation %s has"
		    " reached its registration limit of %lld", aid,
		    (long long)a.limit);
		goto done;
	}
	if (random_text(hexd, 16, suffix, 17) != 0) {
		r = DH_E_CRYPTO;
		goto fail_int;
	}
	snprintf(inst->id, sizeof(inst->id), "mi-%s", suffix);
	snprintf(inst->activation_id, sizeof(inst->activation_id), "%s", aid);
	snprintf(inst->fingerprint, sizeof(inst->fingerprint), "%s", fp);
	snprintf(inst->public_key, sizeof(inst->public_key), "%s", pk);
	snprintf(inst->public_key_type, sizeof(inst->public_key_type), "Rsa");
	snprintf(inst->name, sizeof(inst->name), "%s", a.default_name);
	snprintf(inst->iam_role, sizeof(inst->iam_role), "%s",
	    role != NULL && role[0] != '\0' ? role : a.iam_role);
	inst->registered_ms = c->now_ms;
	a.count++;
	r = gw_store_activation_put(c->st, &a, &e);
	if (r == DH_OK)
		r = gw_store_instance_put(c->st, inst, &e);
	if (r == DH_OK)
		r = copy_tags(c->st, a.id, inst->id, &e);
	if (r == DH_OK)
		r = put_tags(c->st, inst->id, tags, &e);
	if (r == DH_OK)
		r = gw_store_tag_count(c->st, inst->id, &ntags, &e);
	if (r == DH_OK && ntags > GW_SSM_MAX_TAGS) {
		gw_res_fail(res, 400, "TooManyTagsError",
		    "The activation's and the"
		    " request's tags together exceed %d", GW_SSM_MAX_TAGS);
		goto done;
	}
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK)
		goto fail_int;
	txn = 0;
	if (gw_res_ok(res) == NULL || gw_res_add_str(res->body, "InstanceId",
	    inst->id) != 0)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
	goto done;
fail_int:
	gw_res_internal(res, r, &e);
done:
	if (txn)
		gw_store_rollback(c->st);
	free(inst);
	return r;
}

/* Load the calling instance (principal must be an instance). */
static int
caller_instance(const struct gw_ssm_ctx *c, struct gw_store_instance **out,
    struct gw_ssm_result *res)
{
	struct dh_err e;
	int r;

	*out = NULL;
	if (c->who == NULL || c->who->instance_id[0] == '\0') {
		gw_res_fail(res, 400, "AccessDeniedException",
		    "This operation needs"
		    " managed-instance credentials");
		return -1;
	}
	*out = malloc(sizeof(**out));
	if (*out == NULL) {
		gw_res_internal(res, DH_E_NOMEM, NULL);
		return -1;
	}
	r = gw_store_instance_get(c->st, c->who->instance_id, *out, &e);
	if (r != DH_OK) {
		free(*out);
		*out = NULL;
		if (r == DH_E_NOTFOUND)
			gw_res_fail(res, 400, "InvalidInstanceId",
			    "Not existing"
			    " InstanceId %s", c->who->instance_id);
		else
			gw_res_internal(res, r, &e);
		return -1;
	}
	return 0;
}

static int
op_role_token(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst = NULL;
	struct gw_store_token t;
	unsigned char raw[96];
	struct dh_buf tok;
	struct dh_err e;
	const char *fp;
	char secret[41];
	cJSON *o;
	int r = DH_OK;

	memset(&t, 0, sizeof(t));
	dh_buf_init_secret(&tok, 256);
	if (gw_res_req_str(in, "Fingerprint", 1, 128, &fp, res) != 0 ||
	    caller_instance(c, &inst, res) != 0)
		goto done;
	if (strcmp(fp, inst->fingerprint) != 0) {
		gw_res_fail(res, 400, "MachineFingerprintDoesNotMatch",
		    "Fingerprint"
		    " does not match the registered machine");
		goto done;
	}
	memcpy(t.access_key_id, "ASIA", 4);
	if (random_text(b32, 32, t.access_key_id + 4, 16) != 0 ||
	    random_text(b62, 62, secret, 40) != 0 ||
	    dh_random(raw, sizeof(raw)) != DH_OK ||
	    dh_b64_encode(raw, sizeof(raw), &tok) != DH_OK) {
		r = gw_res_internal(res, DH_E_CRYPTO, NULL);
		goto done;
	}
	snprintf(t.secret, sizeof(t.secret), "%s", secret);
	dh_sha256_hex(tok.d, tok.len, t.token_hash);
	snprintf(t.instance_id, sizeof(t.instance_id), "%s", inst->id);
	t.expires_ms = c->now_ms + (c->token_ttl_s > 0 ? c->token_ttl_s :
	    (int64_t)GW_SSM_TOKEN_TTL_S) * 1000;
	(void)gw_store_token_prune(c->st, c->now_ms, NULL);
	r = gw_store_token_put(c->st, &t, &e);
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		goto done;
	}
	o = gw_res_ok(res);
	if (o == NULL || gw_res_add_str(o, "AccessKeyId",
	    t.access_key_id) != 0 ||
	    gw_res_add_str(o, "SecretAccessKey", secret) != 0 ||
	    gw_res_add_str(o, "SessionToken", dh_buf_cstr(&tok)) != 0 ||
	    gw_res_add_time(o, "TokenExpirationDate", t.expires_ms) != 0 ||
	    cJSON_AddBoolToObject(o, "UpdateKeyPair", 0) == NULL)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
done:
	dh_wipe(raw, sizeof(raw));
	dh_wipe(secret, sizeof(secret));
	dh_wipe(&t, sizeof(t));
	dh_buf_free(&tok);
	free(inst);
	return r;
}

static int
op_update_key(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst = NULL;
	struct dh_err e;
	const char *pk, *pkt;
	int r = DH_OK;

	if (gw_res_req_str(in, "NewPublicKey", 392, 4096, &pk, res) != 0 ||
	    gw_res_req_str(in, "NewPublicKeyType", 1, 15, &pkt, res) != 0 ||
	    check_public_key(pk, pkt, res) != 0 ||
	    caller_instance(c, &inst, res) != 0)
		goto done;
	snprintf(inst->public_key, sizeof(inst->public_key), "%s", pk);
	r = gw_store_instance_put(c->st, inst, &e);
	if (r != DH_OK)
		gw_res_internal(res, r, &e);
	else
		gw_res_ok(res);
done:
	free(inst);
	return r;
}

#define COPY_FIELD(key, field, max) do {                                   \
	if (gw_res_opt_str(in, key, 0, max, &s, res) != 0)                   \
		goto done;                                                   \
	if (s != NULL)                                                       \
		snprintf(inst->field, sizeof(inst->field), "%s", s);         \
} while (0)

static int
op_update_info(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst = NULL;
	struct dh_err e;
	const char *id, *s;
	int r = DH_OK;

	if (gw_res_req_str(in, "InstanceId", 10, 124, &id, res) != 0)
		return DH_OK;
	if (c->who != NULL && c->who->kind != GW_AUTH_OPERATOR &&
	    strcmp(c->who->instance_id, id) != 0)
		return gw_res_fail(res, 400, "InvalidInstanceId",
		    "Credentials belong"
		    " to a different instance than %s", id);
	inst = malloc(sizeof(*inst));
	if (inst == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_instance_get(c->st, id, inst, &e);
	if (r == DH_E_NOTFOUND) {
		r = DH_OK;
		gw_res_fail(res, 400, "InvalidInstanceId",
		    "Not existing InstanceId %s",
		    id);
		goto done;
	}
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		goto done;
	}
	COPY_FIELD("AgentName", agent_name, 64);
	COPY_FIELD("AgentVersion", agent_version, 64);
	COPY_FIELD("AgentStatus", agent_status, 32);
	COPY_FIELD("PlatformType", platform_type, 32);
	COPY_FIELD("PlatformName", platform_name, 128);
	COPY_FIELD("PlatformVersion", platform_version, 64);
	COPY_FIELD("IPAddress", ip_address, 46);
	COPY_FIELD("ComputerName", computer_name, 255);
	COPY_FIELD("AvailabilityZone", availability_zone, 63);
	COPY_FIELD("SSMConnectionChannel", connection_channel, 32);
	inst->last_ping_ms = c->now_ms;
	r = gw_store_instance_put(c->st, inst, &e);
	if (r != DH_OK)
		gw_res_internal(res, r, &e);
	else
		gw_res_ok(res);
done:
	free(inst);
	return r;
}

/* ------------------------------------------------------ describe instances */

struct inst_list {
	const struct gw_ssm_ctx *c;
	const cJSON *filters;     /* normalised: [{Key, Values}] */
	cJSON *list;
	int oom;
	struct page pg;
};

static int
values_have(const cJSON *vals, const char *v)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, vals)
		if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
			return 1;
	return 0;
}

static int
inst_matches(const struct inst_list *l, const struct gw_store_instance *in)
{
	const char *ping = gw_ssm_ping_status(in->last_ping_ms, l->c->now_ms);
	const cJSON *f, *vals;
	const char *k;

	cJSON_ArrayForEach(f, l->filters) {
		k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f,
		    "Key"));
		vals = cJSON_GetObjectItemCaseSensitive(f, "Values");
		if (strcmp(k, "InstanceIds") == 0 && !values_have(vals, in->id))
			return 0;
		if (strcmp(k, "PingStatus") == 0 && !values_have(vals, ping))
			return 0;
		if (strcmp(k, "ActivationIds") == 0 &&
		    !values_have(vals, in->activation_id))
			return 0;
		if (strcmp(k, "PlatformTypes") == 0 &&
		    !values_have(vals, in->platform_type))
			return 0;
		if (strcmp(k, "IamRole") == 0 && !values_have(vals, in->iam_role))
			return 0;
		if (strcmp(k, "AgentVersion") == 0 &&
		    !values_have(vals, in->agent_version))
			return 0;
		if (strcmp(k, "ResourceType") == 0 &&
		    !values_have(vals, "ManagedInstance"))
			return 0;
	}
	return 1;
}

static int
inst_cb(void *ctx, const struct gw_store_instance *in)
{
	struct inst_list *l = ctx;
	cJSON *o;

	if (!page_after(&l->pg, in->registered_ms, in->id) ||
	    !inst_matches(l, in))
		return 0;
	if (!page_admit(&l->pg, in->registered_ms, in->id))
		return 1;
	o = cJSON_CreateObject();
	if (o == NULL) {
		l->oom = 1;
		return 1;
	}
	cJSON_AddItemToArray(l->list, o);
	gw_res_add_str(o, "InstanceId", in->id);
	gw_res_add_str(o, "PingStatus", gw_ssm_ping_status(in->last_ping_ms,
	    l->c->now_ms));
	if (in->last_ping_ms > 0)
		gw_res_add_time(o, "LastPingDateTime", in->last_ping_ms);
	if (in->agent_version[0] != '\0')
		gw_res_add_str(o, "AgentVersion", in->agent_version);
	cJSON_AddBoolToObject(o, "IsLatestVersion", 0);
	if (in->platform_type[0] != '\0')
		gw_res_add_str(o, "PlatformType", in->platform_type);
	if (in->platform_name[0] != '\0')
		gw_res_add_str(o, "PlatformName", in->platform_name);
	if (in->platform_version[0] != '\0')
		gw_res_add_str(o, "PlatformVersion", in->platform_version);
	gw_res_add_str(o, "ActivationId", in->activation_id);
	gw_res_add_str(o, "IamRole", in->iam_role);
	gw_res_add_time(o, "RegistrationDate", in->registered_ms);
	gw_res_add_str(o, "ResourceType", "ManagedInstance");
	if (in->name[0] != '\0')
		gw_res_add_str(o, "Name", in->name);
	if (in->ip_address[0] != '\0')
		gw_res_add_str(o, "IPAddress", in->ip_address);
	if (in->computer_name[0] != '\0')
		gw_res_add_str(o, "ComputerName", in->computer_name);
	gw_res_add_str(o, "SourceId", in->id);
	gw_res_add_str(o, "SourceType", "AWS::SSM::ManagedInstance");
	return 0;
}

static const char *const inst_filter_keys[] = {
	"InstanceIds", "PingStatus", "ActivationIds", "PlatformTypes",
	"IamRole", "AgentVersion", "ResourceType", NULL
};

static int
known_filter_key(const char *k)
{
	size_t i;

	for (i = 0; inst_filter_keys[i] != NULL; i++)
		if (strcmp(inst_filter_keys[i], k) == 0)
			return 1;
	return 0;
}

/* Merge InstanceInformationFilterList {key,valueSet} and Filters
 * {Key,Values} into one [{Key, Values}] list. */
static int
norm_filters(const cJSON *in, cJSON *out, struct gw_ssm_result *res)
{
	static const char *const lists[2][3] = {
		{ "InstanceInformationFilterList", "key", "valueSet" },
		{ "Filters", "Key", "Values" },
	};
	const cJSON *l, *f, *k, *v;
	cJSON *o;
	size_t i;

	for (i = 0; i < 2; i++) {
		l = cJSON_GetObjectItemCaseSensitive(in, lists[i][0]);
		if (l == NULL || cJSON_IsNull(l))
			continue;
		if (!cJSON_IsArray(l))
			return gw_res_fail(res, 400, "ValidationException",
			    "%s must be a list", lists[i][0]), -1;
		cJSON_ArrayForEach(f, l) {
			k = cJSON_GetObjectItemCaseSensitive(f, lists[i][1]);
			v = cJSON_GetObjectItemCaseSensitive(f, lists[i][2]);
			if (!cJSON_IsString(k) || !cJSON_IsArray(v))
				return gw_res_fail(res, 400,
				    "ValidationException",
				    "malformed filter"), -1;
			if (!known_filter_key(k->valuestring))
				return gw_res_fail(res, 400, i == 0 ?
				    "InvalidInstanceInformationFilterValue" :
				    "InvalidFilterKey", "Unsupported filter key"
				    " %.64s", k->valuestring), -1;
			o = cJSON_CreateObject();
			if (o == NULL)
				return gw_res_internal(res, DH_E_NOMEM, NULL),
				    -1;
			cJSON_AddItemToArray(out, o);
			cJSON_AddStringToObject(o, "Key", k->valuestring);
			cJSON_AddItemToObject(o, "Values",
			    cJSON_Duplicate(v, 1));
		}
	}
	return 0;
}

static int
op_describe_instances(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct inst_list l;
	struct dh_err e;
	cJSON *filters;
	int r = DH_OK;

	filters = cJSON_CreateArray();
	if (filters == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	memset(&l, 0, sizeof(l));
	if (norm_filters(in, filters, res) != 0)
		goto done;
	l.c = c;
	l.filters = filters;
	if (page_init(c, in, "DescribeInstanceInformation", 5, 50, &l.pg,
	    res) != 0)
		goto done;
	if (gw_res_ok(res) == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto done;
	}
	l.list = cJSON_AddArrayToObject(res->body, "InstanceInformationList");
	if (l.list == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto done;
	}
	r = gw_store_instance_each(c->st, inst_cb, &l, &e);
	if (r != DH_OK)
		gw_res_internal(res, r, &e);
	else if (l.oom || page_finish(&l.pg, res->body) != DH_OK)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
done:
	dh_wipe(l.pg.key, sizeof(l.pg.key));
	cJSON_Delete(filters);
	return r;
}

static int
op_deregister(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct dh_err e;
	const char *id;
	int r;

	if (gw_res_req_str(in, "InstanceId", 10, 124, &id, res) != 0)
		return DH_OK;
	r = gw_store_instance_delete(c->st, id, &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "InvalidInstanceId", "Not existing"
		    " InstanceId %s", id);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	gw_res_ok(res);
	return DH_OK;
}

/* ResourceType/ResourceId of a tag call; 0 when the instance exists. */
static int
tag_target(const struct gw_ssm_ctx *c, const cJSON *in, const char **rid,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst;
	const char *type;
	struct dh_err e;
	int r;

	if (gw_res_req_str(in, "ResourceType", 1, 64, &type, res) != 0 ||
	    gw_res_req_str(in, "ResourceId", 1, 256, rid, res) != 0)
		return -1;
	if (strcmp(type, "ManagedInstance") != 0) {
		gw_res_fail(res, 400, "InvalidResourceType",
		    "Resource type %.64s is"
		    " not supported by this gateway", type);
		return -1;
	}
	inst = malloc(sizeof(*inst));
	if (inst == NULL) {
		gw_res_internal(res, DH_E_NOMEM, NULL);
		return -1;
	}
	r = gw_store_instance_get(c->st, *rid, inst, &e);
	free(inst);
	if (r == DH_E_NOTFOUND) {
		gw_res_fail(res, 400, "InvalidResourceId",
		    "Resource %.128s not found",
		    *rid);
		return -1;
	}
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		return -1;
	}
	return 0;
}

static int
op_add_tags(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
	const char *rid;
	struct dh_err e;
	int64_t have;
	int n, r;

	if (tag_target(c, in, &rid, res) != 0)
		return DH_OK;
	n = check_tags(tags, res);
	if (n < 0)
		return DH_OK;
	if (n == 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "Tags must not be"
		    " empty");
	r = gw_store_begin(c->st, &e);
	if (r == DH_OK)
		r = put_tags(c->st, rid, tags, &e);
	if (r == DH_OK)
		r = gw_store_tag_count(c->st, rid, &have, &e);
	if (r == DH_OK && have > GW_SSM_MAX_TAGS) {
		gw_store_rollback(c->st);
		return gw_res_fail(res, 400, "TooManyTagsError",
		    "At most %d tags per"
		    " resource", GW_SSM_MAX_TAGS);
	}
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		return gw_res_internal(res, r, &e);
	}
	gw_res_ok(res);
	return DH_OK;
}

static int
op_list_tags(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *rid;
	struct dh_err e;
	cJSON *list;
	int r;

	if (tag_target(c, in, &rid, res) != 0)
		return DH_OK;
	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body, "TagList");
	if (list == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_tag_each(c->st, rid, tag_cb, list, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	return DH_OK;
}

static int
op_remove_tags(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(in, "TagKeys");
	const cJSON *k;
	const char *rid;
	struct dh_err e;
	int r;

	if (tag_target(c, in, &rid, res) != 0)
		return DH_OK;
	if (!cJSON_IsArray(keys))
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation error"
		    " detected: Value null at 'tagKeys' failed to satisfy"
		    " constraint: Member must not be null");
	cJSON_ArrayForEach(k, keys) {
		if (!cJSON_IsString(k) || strlen(k->valuestring) < 1 ||
		    strlen(k->valuestring) > 128)
			return gw_res_fail(res, 400, "ValidationException",
			    "TagKeys"
			    " members must be strings of 1 to 128 characters");
	}
	r = gw_store_begin(c->st, &e);
	cJSON_ArrayForEach(k, keys) {
		if (r != DH_OK)
			break;
		r = gw_store_tag_delete(c->st, rid, k->valuestring, &e);
	}
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		return gw_res_internal(res, r, &e);
	}
	gw_res_ok(res);
	return DH_OK;
}

static int
op_list_assoc(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	if (gw_res_ok(res) == NULL ||
	    cJSON_AddArrayToObject(res->body, "Associations") == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_get_messages(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *dest, *rid;
	cJSON *o;

	if (gw_res_req_str(in, "Destination", 1, 124, &dest, res) != 0 ||
	    gw_res_opt_str(in, "MessagesRequestId", 0, 64, &rid, res) != 0)
		return DH_OK;
	if (c->who != NULL && c->who->kind == GW_AUTH_INSTANCE &&
	    strcmp(c->who->instance_id, dest) != 0)
		return gw_res_fail(res, 400, "AccessDeniedException",
		    "Destination is"
		    " not the calling instance");
	o = gw_res_ok(res);
	if (o == NULL || gw_res_add_str(o, "Destination", dest) != 0 ||
	    cJSON_AddArrayToObject(o, "Messages") == NULL ||
	    gw_res_add_str(o, "MessagesRequestId", rid != NULL ? rid : "") != 0)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_message_ack(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	gw_res_ok(res);
	return DH_OK;
}

int
gw_ssm_call(const struct gw_ssm_ctx *c, const struct gw_ssm_op *op,
    const cJSON *in, struct gw_ssm_result *res)
{
	cJSON *empty = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	if (op->fn == NULL)
		return gw_res_internal(res, DH_E_ARG, NULL);
	if (in == NULL) {
		empty = cJSON_CreateObject();
		if (empty == NULL)
			return gw_res_internal(res, DH_E_NOMEM, NULL);
		in = empty;
	}
	if (!cJSON_IsObject(in)) {
		cJSON_Delete(empty);
		return gw_res_fail(res, 400, "SerializationException",
		    "request body must be a JSON object");
	}
	r = op->fn(c, in, res);
	cJSON_Delete(empty);
	if (res->error_code == NULL && res->body == NULL && r == DH_OK)
		gw_res_ok(res);
	return r;
}

void
gw_ssm_resource(const struct gw_ssm_ctx *c, const struct gw_ssm_op *op,
    const cJSON *in, char *out, size_t n)
{
	const char *id;

	id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
	    "InstanceId"));
	if (id == NULL)
		id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "ResourceId"));
	if (id == NULL || strchr(id, '*') != NULL)
		snprintf(out, n, "*");
	else
		snprintf(out, n, "arn:aws:ssm:%s:%s:managed-instance/%s",
		    c->region, c->account, id);
}
