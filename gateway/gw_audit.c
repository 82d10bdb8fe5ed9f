/*
 * gw_audit: CloudTrail-style audit trail for the gateway (see gw_audit.h).
 * Records are built as CloudTrail JSON at record time (secrets redacted,
 * request-parameter keys in CloudTrail's lowerCamelCase, strings forced to
 * valid UTF-8) and stored with the columns LookupEvents filters on.  Delivery
 * assigns pending records to a batch row naming the target file in one
 * transaction, writes the gzip file (temp name, fsync, rename, directory
 * fsync), then marks the batch done; an unfinished batch found later is
 * completed, rewriting its file only if the rename never happened, so every
 * record lands in exactly one delivered file.
 */
#include "gw_audit.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"
#include "dh_uuid.h"

#define STR_CAP 1024            /* bytes kept of any peer-supplied string */
#define RECORD_MAX (128 * 1024) /* one serialised CloudTrail record */
#define PARAM_DEPTH 32          /* deeper request parameters become null */
#define MAX_RESOURCES 16
#define TOKEN_MAX 128

struct gw_audit {
	sqlite3 *db;     /* borrowed */
	char *state_dir;
	char *account;
	char *region;
	const char *lookup_code;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS gw_audit_events("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_id TEXT NOT NULL UNIQUE,"
    " time_ms INTEGER NOT NULL,"
    " event_name TEXT NOT NULL,"
    " event_source TEXT NOT NULL,"
    " username TEXT,"
    " access_key_id TEXT,"
    " read_only INTEGER NOT NULL,"
    " resources TEXT NOT NULL,"
    " record TEXT NOT NULL,"
    " batch INTEGER);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_time"
    " ON gw_audit_events(time_ms, seq);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_name"
    " ON gw_audit_events(event_name, time_ms);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_user"
    " ON gw_audit_events(username, time_ms);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_akid"
    " ON gw_audit_events(access_key_id, time_ms);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_source"
    " ON gw_audit_events(event_source, time_ms);"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_pending"
    " ON gw_audit_events(seq) WHERE batch IS NULL;"
    "CREATE INDEX IF NOT EXISTS gw_audit_events_batch"
    " ON gw_audit_events(batch, seq);"
    "CREATE TABLE IF NOT EXISTS gw_audit_resources("
    " seq INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS gw_audit_resources_name"
    " ON gw_audit_resources(name);"
    "CREATE INDEX IF NOT EXISTS gw_audit_resources_type"
    " ON gw_audit_resources(type);"
    "CREATE TABLE IF NOT EXISTS gw_audit_batches("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " path TEXT NOT NULL UNIQUE,"
    " records INTEGER NOT NULL,"
    " done INTEGER NOT NULL DEFAULT 0);";

/* ---------- small helpers ---------- */

static int
db_fail(struct gw_audit *a, struct dh_err *err, const char *what)
{
	return dh_err_set(err, DH_E_IO, "audit: %s: %s", what,
	    sqlite3_errmsg(a->db));
}

static int
exec_sql(struct gw_audit *a, const char *sql, struct dh_err *err)
{
	if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(a, err, sql);
	return DH_OK;
}

/* Undo a savepoint after a failure; the error already recorded wins. */
static void
rollback_to(struct gw_audit *a, const char *name)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "ROLLBACK TO %s; RELEASE %s;", name, name);
	(void)sqlite3_exec(a->db, sql, NULL, NULL, NULL);
}

static int
valid_account(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 12)
		return 0;
	for (i = 0; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int
valid_region(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Copy at most cap bytes of s as valid UTF-8 (bad bytes become '?'),
 * never splitting a character; caller frees. */
static char *
clean_str(const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, l;
	char *out;

	if (n > cap)
		n = cap;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	while (i < n) {
		l = utf8_len(p + i, n - i);
		if (l == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, p + i, l);
		o += l;
		i += l;
	}
	out[o] = '\0';
	return out;
}

/* Add a cleaned copy of s under key (skipped when s is NULL). */
static int
add_str(cJSON *obj, const char *key, const char *s)
{
	char *c;
	cJSON *item;

	if (s == NULL)
		return DH_OK;
	c = clean_str(s, STR_CAP);
	if (c == NULL)
		return DH_E_NOMEM;
	item = cJSON_AddStringToObject(obj, key, c);
	free(c);
	return item != NULL ? DH_OK : DH_E_NOMEM;
}

/* ---------- redaction ---------- */

static int
is_secret_key(const char *key)
{
	static const char *const words[] = {
		"secret", "password", "passphrase", "privatekey", "plaintext",
		"activationcode", "token", "credential", "keymaterial",
		"signature", "authorization",
	};
	static const char *const allowed[] = { "nexttoken", "clienttoken" };
	char low[128];
	size_t i, n = strlen(key);

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (i = 0; i < n; i++)
		low[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ?
		    key[i] - 'A' + 'a' : key[i]);
	low[n] = '\0';
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(low, allowed[i]) == 0)
			return 0;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]) != NULL)
			return 1;
	return 0;
}

/* CloudTrail spells request keys in lowerCamelCase ("InstanceId" ->
 * "instanceId"); caller frees. */
static char *
camel_key(const char *k)
{
	char *c = clean_str(k, 256);

	if (c != NULL && c[0] >= 'A' && c[0] <= 'Z')
		c[0] = (char)(c[0] - 'A' + 'a');
	return c;
}

/* Deep copy of v with secret-named members replaced, strings cleaned and
 * keys camel-cased; NULL on allocation failure. */
static cJSON *
redact(const cJSON *v, int depth)
{
	const cJSON *it;
	cJSON *out, *child;
	char *s;

	if (depth > PARAM_DEPTH)
		return cJSON_CreateNull();
	if (cJSON_IsString(v)) {
		s = clean_str(v->valuestring != NULL ? v->valuestring : "",
		    STR_CAP * 4);
		if (s == NULL)
			return NULL;
		out = cJSON_CreateString(s);
		free(s);
		return out;
	}
	if (cJSON_IsArray(v)) {
		out = cJSON_CreateArray();
		if (out == NULL)
			return NULL;
		cJSON_ArrayForEach(it, v) {
			child = redact(it, depth + 1);
			if (child == NULL || !cJSON_AddItemToArray(out, child)) {
				cJSON_Delete(child);
				cJSON_Delete(out);
				return NULL;
			}
		}
		return out;
	}
	if (cJSON_IsObject(v)) {
		out = cJSON_CreateObject();
		if (out == NULL)
			return NULL;
		cJSON_ArrayForEach(it, v) {
			const char *k = it->string != NULL ? it->string : "";

			child = is_secret_key(k) ?
			    cJSON_CreateString(GW_AUDIT_HIDDEN) :
			    redact(it, depth + 1);
			s = camel_key(k);
			if (child == NULL || s == NULL ||
			    !cJSON_AddItemToObject(out, s, child)) {
				free(s);
				cJSON_Delete(child);
				cJSON_Delete(out);
				return NULL;
			}
			free(s);
		}
		return out;
	}
	return cJSON_Duplicate(v, 0);
}

/* ---------- resources and identity ---------- */

static const struct {
	const char *key, *type;
} resource_keys[] = {
	{ "InstanceId", "AWS::SSM::ManagedInstance" },
	{ "InstanceIds", "AWS::SSM::ManagedInstance" },
	{ "Target", "AWS::SSM::ManagedInstance" },
	{ "ResourceId", "AWS::SSM::ManagedInstance" },
	{ "ActivationId", "AWS::SSM::Activation" },
	{ "SessionId", "AWS::SSM::Session" },
	{ "DocumentName", "AWS::SSM::Document" },
	{ "LogGroupName", "AWS::Logs::LogGroup" },
	{ "Bucket", "AWS::S3::Bucket" },
	{ "BucketName", "AWS::S3::Bucket" },
	{ "KeyId", "AWS::KMS::Key" },
};

static int
add_resource(cJSON *list, const char *type, const char *name)
{
	cJSON *r;

	if (name == NULL || *name == '\0' || strlen(name) > 256 ||
	    cJSON_GetArraySize(list) >= MAX_RESOURCES)
		return DH_OK;
	if (strcmp(type, "AWS::SSM::ManagedInstance") == 0 &&
	    strncmp(name, "i-", 2) == 0)
		type = "AWS::EC2::Instance";
	r = cJSON_CreateObject();
	if (r == NULL || !cJSON_AddItemToArray(list, r)) {
		cJSON_Delete(r);
		return DH_E_NOMEM;
	}
	if (add_str(r, "ResourceType", type) != DH_OK ||
	    add_str(r, "ResourceName", name) != DH_OK)
		return DH_E_NOMEM;
	return DH_OK;
}

/* The LookupEvents Resources list derived from well-known request keys. */
static cJSON *
derive_resources(const cJSON *params)
{
	const cJSON *m, *it;
	cJSON *list = cJSON_CreateArray();
	size_t i;

	if (list == NULL || !cJSON_IsObject(params))
		return list;
	cJSON_ArrayForEach(m, params) {
		if (m->string == NULL || is_secret_key(m->string))
			continue;
		for (i = 0; i < sizeof(resource_keys) / sizeof(resource_keys[0]);
		    i++) {
			if (strcasecmp(m->string, resource_keys[i].key) != 0)
				continue;
			if (cJSON_IsString(m) &&
			    add_resource(list, resource_keys[i].type,
			    m->valuestring) != DH_OK)
				goto fail;
			if (cJSON_IsArray(m))
				cJSON_ArrayForEach(it, m)
					if (cJSON_IsString(it) &&
					    add_resource(list,
					    resource_keys[i].type,
					    it->valuestring) != DH_OK)
						goto fail;
		}
	}
	return list;
fail:
	cJSON_Delete(list);
	return NULL;
}

static int
is_read_only(const char *name)
{
	static const char *const prefixes[] = {
		"Describe", "Get", "List", "Lookup", "Head", "Search",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static int
build_identity(const struct gw_audit *a, const struct gw_audit_event *ev,
    cJSON *rec)
{
	cJSON *id = cJSON_AddObjectToObject(rec, "userIdentity");
	struct dh_buf arn;
	char *pid = NULL;
	int r = DH_E_NOMEM;

	dh_buf_init(&arn, 2 * STR_CAP);
	if (id == NULL)
		goto out;
	if (ev->principal == NULL && ev->access_key_id == NULL) {
		r = add_str(id, "type", "Unknown");
		if (r == DH_OK)
			r = add_str(id, "accountId", a->account);
		goto out;
	}
	pid = clean_str(ev->principal != NULL ? ev->principal :
	    ev->access_key_id, STR_CAP);
	if (pid == NULL)
		goto out;
	if (strncmp(pid, "mi-", 3) == 0) {
		if (add_str(id, "type", "AssumedRole") != DH_OK ||
		    dh_buf_printf(&arn, "%s:%s", a->account, pid) != DH_OK ||
		    add_str(id, "principalId", dh_buf_cstr(&arn)) != DH_OK)
			goto out;
		dh_buf_reset(&arn);
		if (dh_buf_printf(&arn, "arn:aws:ssm:%s:%s:managed-instance/%s",
		    a->region, a->account, pid) != DH_OK)
			goto out;
	} else {
		if (add_str(id, "type", "IAMUser") != DH_OK ||
		    add_str(id, "principalId", ev->access_key_id != NULL ?
		    ev->access_key_id : pid) != DH_OK)
			goto out;
		if (dh_buf_printf(&arn, "arn:aws:iam::%s:user/%s", a->account,
		    pid) != DH_OK)
			goto out;
	}
	if (add_str(id, "arn", dh_buf_cstr(&arn)) != DH_OK ||
	    add_str(id, "accountId", a->account) != DH_OK ||
	    add_str(id, "accessKeyId", ev->access_key_id) != DH_OK ||
	    add_str(id, "userName", pid) != DH_OK)
		goto out;
	r = DH_OK;
out:
	free(pid);
	dh_buf_free(&arn);
	return r;
}

/* ---------- open / close ---------- */

int
gw_audit_open(sqlite3 *db, const char *state_dir, const char *account,
    const char *region, struct gw_audit **out, struct dh_err *err)
{
	struct gw_audit *a = NULL;
	int r;

	*out = NULL;
	if (db == NULL || state_dir == NULL || *state_dir == '\0')
		return dh_err_set(err, DH_E_ARG, "audit: database and state "
		    "directory are required");
	if (!valid_account(account))
		return dh_err_set(err, DH_E_ARG,
		    "audit: account must be 12 digits");
	if (!valid_region(region))
		return dh_err_set(err, DH_E_ARG,
		    "audit: region must be 1-32 of [a-z0-9-]");
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	a->db = db;
	a->lookup_code = "InvalidParameterException";
	a->state_dir = strdup(state_dir);
	a->account = strdup(account);
	a->region = strdup(region);
	if (a->state_dir == NULL || a->account == NULL || a->region == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	r = exec_sql(a, "SAVEPOINT gw_audit_schema;", err);
	if (r != DH_OK)
		goto out;
	r = exec_sql(a, schema_sql, err);
	if (r != DH_OK) {
		rollback_to(a, "gw_audit_schema");
		goto out;
	}
	r = exec_sql(a, "RELEASE gw_audit_schema;", err);
	if (r != DH_OK) {
		rollback_to(a, "gw_audit_schema");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	gw_audit_close(a);
	return r;
}

void
gw_audit_close(struct gw_audit *a)
{
	if (a == NULL)
		return;
	free(a->state_dir);
	free(a->account);
	free(a->region);
	free(a);
}

/* ---------- record ---------- */

static int
valid_name(const char *s, size_t max)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
build_record(struct gw_audit *a, const struct gw_audit_event *ev,
    int64_t time_ms, const char *event_id, int read_only, cJSON *params,
    struct dh_buf *json)
{
	cJSON *rec = cJSON_CreateObject();
	char iso[21], uuid[DH_UUID_STRLEN + 1];
	struct dh_uuid u;
	int r = DH_E_NOMEM;

	if (rec == NULL)
		goto out;
	dh_time_iso((time_t)(time_ms / 1000), iso);
	if (add_str(rec, "eventVersion", "1.08") != DH_OK ||
	    build_identity(a, ev, rec) != DH_OK ||
	    add_str(rec, "eventTime", iso) != DH_OK ||
	    add_str(rec, "eventSource", ev->event_source) != DH_OK ||
	    add_str(rec, "eventName", ev->event_name) != DH_OK ||
	    add_str(rec, "awsRegion", a->region) != DH_OK ||
	    add_str(rec, "sourceIPAddress", ev->source_ip) != DH_OK ||
	    add_str(rec, "userAgent", ev->user_agent) != DH_OK)
		goto out;
	if (ev->error_code != NULL &&
	    (add_str(rec, "errorCode", ev->error_code) != DH_OK ||
	    add_str(rec, "errorMessage", ev->error_message != NULL ?
	    ev->error_message : "") != DH_OK))
		goto out;
	if (params != NULL) {
		if (!cJSON_AddItemToObject(rec, "requestParameters", params))
			goto out;
	} else if (cJSON_AddNullToObject(rec, "requestParameters") == NULL) {
		goto out;
	}
	if (ev->request_id == NULL) {
		if (dh_uuid_v4(&u) != DH_OK) {
			r = DH_E_CRYPTO;
			goto out;
		}
		dh_uuid_fmt(&u, uuid);
	}
	if (cJSON_AddNullToObject(rec, "responseElements") == NULL ||
	    add_str(rec, "requestID", ev->request_id != NULL ?
	    ev->request_id : uuid) != DH_OK ||
	    add_str(rec, "eventID", event_id) != DH_OK ||
	    cJSON_AddBoolToObject(rec, "readOnly", read_only) == NULL ||
	    add_str(rec, "eventType", "AwsApiCall") != DH_OK ||
	    cJSON_AddTrueToObject(rec, "managementEvent") == NULL ||
	    add_str(rec, "recipientAccountId", a->account) != DH_OK ||
	    add_str(rec, "eventCategory", "Management") != DH_OK)
		goto out;
	r = dh_json_print(rec, json);
out:
	if (params != NULL && rec != NULL &&
	    cJSON_GetObjectItemCaseSensitive(rec, "requestParameters") ==
	    params)
		cJSON_DetachItemViaPointer(rec, params);
	cJSON_Delete(rec);
	return r;
}

static int
insert_resources(struct gw_audit *a, sqlite3_int64 seq, const cJSON *res,
    struct dh_err *err)
{
	sqlite3_stmt *st = NULL;
	const cJSON *it;
	int r = DH_OK;

	if (sqlite3_prepare_v2(a->db, "INSERT INTO gw_audit_resources"
	    "(seq, type, name) VALUES (?1, ?2, ?3)", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(a, err, "prepare resource insert");
	cJSON_ArrayForEach(it, res) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it,
		    "ResourceType");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it,
		    "ResourceName");

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_text(st, 2, t->valuestring, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, n->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = db_fail(a, err, "insert resource");
			break;
		}
	}
	sqlite3_finalize(st);
	return r;
}

int
gw_audit_record(struct gw_audit *a, const struct gw_audit_event *ev,
    struct dh_err *err)
{
	struct dh_buf json, resjson;
	sqlite3_stmt *st = NULL;
	cJSON *params = NULL, *res = NULL;
	char event_id[DH_UUID_STRLEN + 1], *user = NULL, *akid = NULL;
	struct dh_uuid u;
	int64_t time_ms;
	int r, ro, in_tx = 0;

	dh_buf_init(&json, RECORD_MAX);
	dh_buf_init(&resjson, RECORD_MAX);
	if (a == NULL || ev == NULL || !valid_name(ev->event_source, 128) ||
	    !valid_name(ev->event_name, 128)) {
		r = dh_err_set(err, DH_E_ARG, "audit: event source and name "
		    "are required (printable ASCII, at most 128 bytes)");
		goto out;
	}
	time_ms = ev->time_ms > 0 ? ev->time_ms : dh_time_now_ms();
	ro = is_read_only(ev->event_name);
	if (dh_uuid_v4(&u) != DH_OK) {
		r = dh_err_set(err, DH_E_CRYPTO, "audit: no randomness for "
		    "event id");
		goto out;
	}
	dh_uuid_fmt(&u, event_id);
	res = derive_resources(ev->request_params);
	if (res == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (ev->request_params != NULL) {
		params = redact(ev->request_params, 0);
		if (params == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	r = build_record(a, ev, time_ms, event_id, ro, params, &json);
	if (r == DH_E_TOOBIG) {
		/* Oversized parameters are dropped, never truncated mid-way. */
		dh_buf_reset(&json);
		r = build_record(a, ev, time_ms, event_id, ro, NULL, &json);
	}
	if (r == DH_OK)
		r = dh_json_print(res, &resjson);
	if (r != DH_OK) {
		r = dh_err_set(err, r, "audit: cannot build record: %s",
		    dh_strerror(r));
		goto out;
	}
	if (ev->principal != NULL || ev->access_key_id != NULL) {
		user = clean_str(ev->principal != NULL ? ev->principal :
		    ev->access_key_id, STR_CAP);
		if (user == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ev->access_key_id != NULL) {
		akid = clean_str(ev->access_key_id, STR_CAP);
		if (akid == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	r = exec_sql(a, "SAVEPOINT gw_audit_rec;", err);
	if (r != DH_OK)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO gw_audit_events(event_id,"
	    " time_ms, event_name, event_source, username, access_key_id,"
	    " read_only, resources, record) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
	    -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(a, err, "prepare insert");
		goto out;
	}
	sqlite3_bind_text(st, 1, event_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time_ms);
	sqlite3_bind_text(st, 3, ev->event_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ev->event_source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, akid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, ro);
	sqlite3_bind_text(st, 8, dh_buf_cstr(&resjson), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, dh_buf_cstr(&json), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(a, err, "insert event");
		goto out;
	}
	r = insert_resources(a, sqlite3_last_insert_rowid(a->db), res, err);
	if (r != DH_OK)
		goto out;
	r = exec_sql(a, "RELEASE gw_audit_rec;", err);
	if (r == DH_OK)
		in_tx = 0;
out:
	sqlite3_finalize(st);
	if (in_tx)
		rollback_to(a, "gw_audit_rec");
	free(akid);
	free(user);
	cJSON_Delete(res);
	cJSON_Delete(params);
	dh_buf_free(&resjson);
	dh_buf_free(&json);
	return r;
}

/* ---------- lookup ---------- */

enum attr_kind {
	ATTR_NONE, ATTR_EVENT_ID, ATTR_EVENT_NAME, ATTR_READ_ONLY,
	ATTR_USERNAME, ATTR_RESOURCE_TYPE, ATTR_RESOURCE_NAME,
	ATTR_EVENT_SOURCE, ATTR_ACCESS_KEY_ID
};

static const struct {
	const char *key;
	enum attr_kind kind;
	const char *clause;
} attrs[] = {
	{ "EventId", ATTR_EVENT_ID, " AND event_id = ?5" },
	{ "EventName", ATTR_EVENT_NAME, " AND event_name = ?5" },
	{ "ReadOnly", ATTR_READ_ONLY, " AND read_only = ?5" },
	{ "Username", ATTR_USERNAME, " AND username = ?5" },
	{ "ResourceType", ATTR_RESOURCE_TYPE, " AND seq IN (SELECT seq FROM"
	    " gw_audit_resources WHERE type = ?5)" },
	{ "ResourceName", ATTR_RESOURCE_NAME, " AND seq IN (SELECT seq FROM"
	    " gw_audit_resources WHERE name = ?5)" },
	{ "EventSource", ATTR_EVENT_SOURCE, " AND event_source = ?5" },
	{ "AccessKeyId", ATTR_ACCESS_KEY_ID, " AND access_key_id = ?5" },
};

struct lookup_query {
	size_t attr;           /* index into attrs, or SIZE_MAX */
	const char *value;
	int64_t lo_ms, hi_ms;  /* inclusive window on time_ms */
	int64_t max;
	int64_t cur_ms, cur_seq; /* page cursor: strictly older than this */
	char qhash[17];
};

static int
lookup_fail(struct gw_audit *a, const char *code, struct dh_err *err,
    const char *msg)
{
	a->lookup_code = code;
	return dh_err_set(err, DH_E_ARG, "%s", msg);
}

/* Epoch seconds (integer or fractional) from a Date member. */
static int
get_time(const cJSON *req, const char *key, double *out, int *present)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, key);

	*present = 0;
	if (m == NULL || cJSON_IsNull(m))
		return DH_OK;
	if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) ||
	    m->valuedouble < 0 || m->valuedouble > 253402300799.0)
		return DH_E_FORMAT;
	*out = m->valuedouble;
	*present = 1;
	return DH_OK;
}

static void
query_hash(const struct lookup_query *q, const char *key, char out[17])
{
	struct dh_buf b;
	char hex[2 * DH_SHA256_LEN + 1];

	dh_buf_init(&b, 4096);
	(void)dh_buf_printf(&b, "%s|%s|%lld|%lld", key != NULL ? key : "",
	    q->value != NULL ? q->value : "", (long long)q->lo_ms,
	    (long long)q->hi_ms);
	dh_sha256_hex(b.d != NULL ? b.d : (const unsigned char *)"", b.len,
	    hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
	dh_buf_free(&b);
}

/* Strictly parse a decimal int64 occupying all of s[0..n). */
static int
parse_i64(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return DH_E_FORMAT;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DH_E_FORMAT;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return DH_OK;
}

/* Token text is hex("<time_ms>.<seq>.<qhash>"). */
static int
parse_token(const char *tok, struct lookup_query *q)
{
	struct dh_buf raw;
	const char *s, *d1, *d2;
	size_t n = strlen(tok);
	int r = DH_E_FORMAT;

	dh_buf_init(&raw, TOKEN_MAX);
	if (n == 0 || n > 2 * TOKEN_MAX || dh_hex_decode(tok, n, &raw) != DH_OK)
		goto out;
	s = dh_buf_cstr(&raw);
	if (strlen(s) != raw.len)
		goto out;
	d1 = strchr(s, '.');
	d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	if (d1 == NULL || d2 == NULL ||
	    parse_i64(s, (size_t)(d1 - s), &q->cur_ms) != DH_OK ||
	    parse_i64(d1 + 1, (size_t)(d2 - d1 - 1), &q->cur_seq) != DH_OK ||
	    strcmp(d2 + 1, q->qhash) != 0)
		goto out;
	r = DH_OK;
out:
	dh_buf_free(&raw);
	return r;
}

static int
parse_lookup(struct gw_audit *a, const cJSON *req, struct lookup_query *q,
    struct dh_err *err)
{
	const cJSON *la, *m, *tok, *cat;
	double start = 0, end = 0;
	int have_start, have_end;
	size_t i;

	memset(q, 0, sizeof(*q));
	q->attr = SIZE_MAX;
	q->lo_ms = INT64_MIN;
	q->hi_ms = INT64_MAX;
	q->max = GW_AUDIT_MAX_RESULTS;
	q->cur_ms = INT64_MAX;
	q->cur_seq = INT64_MAX;
	if (req != NULL && !cJSON_IsObject(req))
		return lookup_fail(a, "SerializationException", err,
		    "request body must be a JSON object");
	la = cJSON_GetObjectItemCaseSensitive(req, "LookupAttributes");
	if (la != NULL && !cJSON_IsNull(la)) {
		const cJSON *k, *v;

		if (!cJSON_IsArray(la))
			return lookup_fail(a, "InvalidLookupAttributesException",
			    err, "LookupAttributes must be a list");
		if (cJSON_GetArraySize(la) > 1)
			return lookup_fail(a, "InvalidLookupAttributesException",
			    err, "You can only specify one lookup attribute.");
		m = cJSON_GetArrayItem(la, 0);
		if (m != NULL) {
			k = cJSON_GetObjectItemCaseSensitive(m, "AttributeKey");
			v = cJSON_GetObjectItemCaseSensitive(m,
			    "AttributeValue");
			if (!cJSON_IsString(k) || !cJSON_IsString(v) ||
			    v->valuestring[0] == '\0' ||
			    strlen(v->valuestring) > 2000)
				return lookup_fail(a,
				    "InvalidLookupAttributesException", err,
				    "A lookup attribute needs an AttributeKey "
				    "and an AttributeValue of 1 to 2000 "
				    "characters.");
			for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
				if (strcmp(k->valuestring, attrs[i].key) == 0)
					q->attr = i;
			if (q->attr == SIZE_MAX)
				return lookup_fail(a,
				    "InvalidLookupAttributesException", err,
				    "Unsupported AttributeKey.");
			q->value = v->valuestring;
			if (attrs[q->attr].kind == ATTR_READ_ONLY &&
			    strcmp(q->value, "true") != 0 &&
			    strcmp(q->value, "false") != 0)
				return lookup_fail(a,
				    "InvalidLookupAttributesException", err,
				    "ReadOnly must be \"true\" or \"false\".");
		}
	}
	if (get_time(req, "StartTime", &start, &have_start) != DH_OK ||
	    get_time(req, "EndTime", &end, &have_end) != DH_OK)
		return lookup_fail(a, "InvalidTimeRangeException", err,
		    "StartTime and EndTime must be epoch-second timestamps.");
	if (have_start && have_end && start > end)
		return lookup_fail(a, "InvalidTimeRangeException", err,
		    "Start time must not be after end time.");
	/* EventTime has whole-second resolution: compare on seconds. */
	if (have_start)
		q->lo_ms = (int64_t)ceil(start) * 1000;
	if (have_end)
		q->hi_ms = (int64_t)floor(end) * 1000 + 999;
	m = cJSON_GetObjectItemCaseSensitive(req, "MaxResults");
	if (m != NULL && !cJSON_IsNull(m)) {
		if (!cJSON_IsNumber(m) || m->valuedouble != floor(m->valuedouble)
		    || m->valuedouble < 1 ||
		    m->valuedouble > GW_AUDIT_MAX_RESULTS)
			return lookup_fail(a, "InvalidMaxResultsException", err,
			    "MaxResults must be between 1 and 50.");
		q->max = (int64_t)m->valuedouble;
	}
	cat = cJSON_GetObjectItemCaseSensitive(req, "EventCategory");
	if (cat != NULL && !cJSON_IsNull(cat) && (!cJSON_IsString(cat) ||
	    strcmp(cat->valuestring, "insight") != 0))
		return lookup_fail(a, "InvalidEventCategoryException", err,
		    "EventCategory must be \"insight\".");
	query_hash(q, q->attr != SIZE_MAX ? attrs[q->attr].key : NULL,
	    q->qhash);
	tok = cJSON_GetObjectItemCaseSensitive(req, "NextToken");
	if (tok != NULL && !cJSON_IsNull(tok) && (!cJSON_IsString(tok) ||
	    parse_token(tok->valuestring, q) != DH_OK))
		return lookup_fail(a, "InvalidNextTokenException", err,
		    "Invalid NextToken, or it does not match the other "
		    "request parameters.");
	return DH_OK;
}

static int
add_event(cJSON *events, sqlite3_stmt *st)
{
	cJSON *e = cJSON_CreateObject(), *res;
	const char *rs;
	int r = DH_E_NOMEM;

	if (e == NULL || !cJSON_AddItemToArray(events, e)) {
		cJSON_Delete(e);
		return DH_E_NOMEM;
	}
	if (add_str(e, "EventId", (const char *)sqlite3_column_text(st, 1)) !=
	    DH_OK ||
	    add_str(e, "EventName", (const char *)sqlite3_column_text(st, 3)) !=
	    DH_OK ||
	    add_str(e, "ReadOnly", sqlite3_column_int(st, 7) ? "true" :
	    "false") != DH_OK ||
	    add_str(e, "AccessKeyId",
	    (const char *)sqlite3_column_text(st, 6)) != DH_OK ||
	    cJSON_AddNumberToObject(e, "EventTime",
	    (double)(sqlite3_column_int64(st, 2) / 1000)) == NULL ||
	    add_str(e, "EventSource",
	    (const char *)sqlite3_column_text(st, 4)) != DH_OK ||
	    add_str(e, "Username", (const char *)sqlite3_column_text(st, 5)) !=
	    DH_OK)
		return r;
	rs = (const char *)sqlite3_column_text(st, 8);
	res = rs != NULL ? cJSON_Parse(rs) : NULL;
	if (res == NULL)
		res = cJSON_CreateArray();
	if (res == NULL || !cJSON_AddItemToObject(e, "Resources", res)) {
		cJSON_Delete(res);
		return r;
	}
	/* Stored records are already clean UTF-8: no length cap here. */
	rs = (const char *)sqlite3_column_text(st, 9);
	if (cJSON_AddStringToObject(e, "CloudTrailEvent",
	    rs != NULL ? rs : "{}") == NULL)
		return r;
	return DH_OK;
}

int
gw_audit_lookup(struct gw_audit *a, const cJSON *request, cJSON **response,
    struct dh_err *err)
{
	struct lookup_query q;
	struct dh_buf sql, tok;
	sqlite3_stmt *st = NULL;
	cJSON *resp = NULL, *events;
	int64_t n = 0, last_ms = 0, last_seq = 0;
	int r, rc;

	*response = NULL;
	dh_buf_init(&sql, 2048);
	dh_buf_init(&tok, 2 * TOKEN_MAX + 1);
	if (a == NULL)
		return dh_err_set(err, DH_E_ARG, "audit: no handle");
	a->lookup_code = "InvalidParameterException";
	r = parse_lookup(a, request, &q, err);
	if (r != DH_OK)
		goto out;
	resp = cJSON_CreateObject();
	events = resp != NULL ? cJSON_AddArrayToObject(resp, "Events") : NULL;
	if (events == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(request,
	    "EventCategory"))) {
		/* Insights events are never produced by the gateway. */
		*response = resp;
		resp = NULL;
		r = DH_OK;
		goto out;
	}
	r = dh_buf_put_str(&sql, "SELECT seq, event_id, time_ms, event_name,"
	    " event_source, username, access_key_id, read_only, resources,"
	    " record FROM gw_audit_events WHERE time_ms >= ?1 AND"
	    " time_ms <= ?2 AND (time_ms < ?3 OR (time_ms = ?3 AND seq < ?4))");
	if (r == DH_OK && q.attr != SIZE_MAX)
		r = dh_buf_put_str(&sql, attrs[q.attr].clause);
	if (r == DH_OK)
		r = dh_buf_put_str(&sql,
		    " ORDER BY time_ms DESC, seq DESC LIMIT ?6");
	if (r != DH_OK) {
		r = dh_err_set(err, r, "audit: query too long");
		goto out;
	}
	if (sqlite3_prepare_v2(a->db, dh_buf_cstr(&sql), -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_fail(a, err, "prepare lookup");
		goto out;
	}
	sqlite3_bind_int64(st, 1, q.lo_ms);
	sqlite3_bind_int64(st, 2, q.hi_ms);
	sqlite3_bind_int64(st, 3, q.cur_ms);
	sqlite3_bind_int64(st, 4, q.cur_seq);
	if (q.attr != SIZE_MAX) {
		if (attrs[q.attr].kind == ATTR_READ_ONLY)
			sqlite3_bind_int(st, 5, strcmp(q.value, "true") == 0);
		else
			sqlite3_bind_text(st, 5, q.value, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 6, q.max + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == q.max)
			break;
		if (add_event(events, st) != DH_OK) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		last_seq = sqlite3_column_int64(st, 0);
		last_ms = sqlite3_column_int64(st, 2);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = db_fail(a, err, "lookup");
		goto out;
	}
	if (rc == SQLITE_ROW) {
		char text[96];
		int len = snprintf(text, sizeof(text), "%lld.%lld.%s",
		    (long long)last_ms, (long long)last_seq, q.qhash);

		r = dh_buf_reserve(&tok, 2 * (size_t)len + 1);
		if (r != DH_OK || len <= 0 || (size_t)len >= sizeof(text)) {
			r = dh_err_set(err, DH_E_TOOBIG, "audit: token");
			goto out;
		}
		dh_hex_encode(text, (size_t)len, (char *)tok.d);
		if (cJSON_AddStringToObject(resp, "NextToken",
		    (const char *)tok.d) == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	*response = resp;
	resp = NULL;
	r = DH_OK;
out:
	sqlite3_finalize(st);
	cJSON_Delete(resp);
	dh_buf_free(&tok);
	dh_buf_free(&sql);
	return r;
}

const char *
gw_audit_lookup_error_code(const struct gw_audit *a)
{
	return a != NULL && a->lookup_code != NULL ? a->lookup_code :
	    "InvalidParameterException";
}

/* ---------- delivery ---------- */

/* mkdir -p for the directory part of full (which ends in a file name). */
static int
mkdirs_for(const char *full, size_t base_len, struct dh_err *err)
{
	char *p = strdup(full), *s;
	int r = DH_OK;

	if (p == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	for (s = p + base_len + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			r = dh_err_set(err, DH_E_IO, "audit: mkdir %s: %s", p,
			    strerror(errno));
			break;
		}
		*s = '/';
	}
	free(p);
	return r;
}

static int
fsync_dir_of(const char *full, struct dh_err *err)
{
	char *p = strdup(full), *slash;
	int fd, r = DH_OK;

	if (p == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	slash = strrchr(p, '/');
	if (slash != NULL)
		*slash = '\0';
	fd = open(slash != NULL ? p : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		r = dh_err_set(err, DH_E_IO, "audit: fsync directory: %s",
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	free(p);
	return r;
}

static int
ar_put(struct archive *ar, const char *s, size_t n, struct dh_err *err)
{
	if (n > 0 && archive_write_data(ar, s, n) != (la_ssize_t)n)
		return dh_err_set(err, DH_E_IO, "audit: gzip write: %s",
		    archive_error_string(ar) != NULL ?
		    archive_error_string(ar) : "short write");
	return DH_OK;
}

/* Write the records of batch id to full via a temp file, fsync, rename. */
static int
write_batch(struct gw_audit *a, sqlite3_int64 id, const char *full,
    struct dh_err *err)
{
	struct archive *ar = NULL;
	struct archive_entry *ent = NULL;
	sqlite3_stmt *st = NULL;
	struct dh_buf tmp;
	const char *base;
	int fd = -1, r, rc = SQLITE_DONE, first = 1;

	dh_buf_init(&tmp, 8192);
	r = dh_buf_printf(&tmp, "%s.tmp", full);
	if (r != DH_OK) {
		r = dh_err_set(err, r, "audit: path too long");
		goto out;
	}
	fd = open(dh_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640);
	if (fd < 0) {
		r = dh_err_set(err, DH_E_IO, "audit: create %s: %s",
		    dh_buf_cstr(&tmp), strerror(errno));
		goto out;
	}
	ar = archive_write_new();
	ent = archive_entry_new();
	if (ar == NULL || ent == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	base = strrchr(full, '/');
	archive_entry_set_pathname(ent, base != NULL ? base + 1 : full);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0640);
	if (archive_write_add_filter_gzip(ar) != ARCHIVE_OK ||
	    archive_write_set_format_raw(ar) != ARCHIVE_OK ||
	    archive_write_open_fd(ar, fd) != ARCHIVE_OK ||
	    archive_write_header(ar, ent) != ARCHIVE_OK) {
		r = dh_err_set(err, DH_E_IO, "audit: gzip setup: %s",
		    archive_error_string(ar) != NULL ?
		    archive_error_string(ar) : "libarchive failure");
		goto out;
	}
	if (sqlite3_prepare_v2(a->db, "SELECT record FROM gw_audit_events"
	    " WHERE batch = ?1 ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(a, err, "prepare batch read");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	r = ar_put(ar, "{\"Records\":[", 12, err);
	while (r == DH_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rec = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		if (!first)
			r = ar_put(ar, ",", 1, err);
		if (r == DH_OK && rec != NULL)
			r = ar_put(ar, rec, n, err);
		first = 0;
	}
	if (r != DH_OK)
		goto out;
	if (rc != SQLITE_DONE) {
		r = db_fail(a, err, "read batch");
		goto out;
	}
	r = ar_put(ar, "]}", 2, err);
	if (r != DH_OK)
		goto out;
	if (archive_write_close(ar) != ARCHIVE_OK) {
		r = dh_err_set(err, DH_E_IO, "audit: gzip close: %s",
		    archive_error_string(ar) != NULL ?
		    archive_error_string(ar) : "libarchive failure");
		goto out;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		r = dh_err_set(err, DH_E_IO, "audit: fsync %s: %s",
		    dh_buf_cstr(&tmp), strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(dh_buf_cstr(&tmp), full) != 0) {
		r = dh_err_set(err, DH_E_IO, "audit: rename to %s: %s", full,
		    strerror(errno));
		goto out;
	}
	r = fsync_dir_of(full, err);
out:
	sqlite3_finalize(st);
	if (ar != NULL)
		archive_write_free(ar);
	archive_entry_free(ent);
	if (fd >= 0)
		close(fd);
	if (r != DH_OK && tmp.len > 0)
		(void)unlink(dh_buf_cstr(&tmp));
	dh_buf_free(&tmp);
	return r;
}

static int
mark_done(struct gw_audit *a, sqlite3_int64 id, struct dh_err *err)
{
	sqlite3_stmt *st = NULL;
	int r = DH_OK;

	if (sqlite3_prepare_v2(a->db, "UPDATE gw_audit_batches SET done = 1"
	    " WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_fail(a, err, "prepare batch done");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(a, err, "mark batch done");
	sqlite3_finalize(st);
	return r;
}

/* Finish (or write) the file of batch id at relative path rel. */
static int
complete_batch(struct gw_audit *a, sqlite3_int64 id, const char *rel,
    struct dh_err *err)
{
	struct dh_buf full;
	struct stat sb;
	int r;

	dh_buf_init(&full, 8192);
	r = dh_buf_printf(&full, "%s/%s", a->state_dir, rel);
	if (r != DH_OK) {
		r = dh_err_set(err, r, "audit: path too long");
		goto out;
	}
	if (stat(dh_buf_cstr(&full), &sb) != 0) {
		r = mkdirs_for(dh_buf_cstr(&full), strlen(a->state_dir), err);
		if (r == DH_OK)
			r = write_batch(a, id, dh_buf_cstr(&full), err);
		if (r != DH_OK)
			goto out;
	}
	r = mark_done(a, id, err);
out:
	dh_buf_free(&full);
	return r;
}

/* Finish batches a crash left behind; adds their record counts. */
static int
recover_batches(struct gw_audit *a, size_t *files, size_t *records,
    struct dh_err *err)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	char *rel;
	int64_t nrec;
	int r = DH_OK, rc;

	for (;;) {
		if (sqlite3_prepare_v2(a->db, "SELECT id, path, records FROM"
		    " gw_audit_batches WHERE done = 0 ORDER BY id LIMIT 1", -1,
		    &st, NULL) != SQLITE_OK)
			return db_fail(a, err, "prepare batch scan");
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			r = db_fail(a, err, "scan batches");
			break;
		}
		id = sqlite3_column_int64(st, 0);
		rel = strdup((const char *)sqlite3_column_text(st, 1));
		nrec = sqlite3_column_int64(st, 2);
		sqlite3_finalize(st);
		st = NULL;
		if (rel == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		r = complete_batch(a, id, rel, err);
		free(rel);
		if (r != DH_OK)
			break;
		(*files)++;
		*records += (size_t)nrec;
	}
	sqlite3_finalize(st);
	return r;
}

/* Assign up to GW_AUDIT_MAX_DELIVER pending records to a new batch in one
 * transaction; *id = 0 when nothing is pending. */
static int
claim_batch(struct gw_audit *a, int64_t now_ms, sqlite3_int64 *id,
    char **rel, int64_t *count, struct dh_err *err)
{
	sqlite3_stmt *st = NULL;
	struct dh_buf path;
	unsigned char rnd[8];
	char rhex[17], amz[17];
	sqlite3_int64 lo, hi;
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	int r, in_tx = 0;

	*id = 0;
	*rel = NULL;
	dh_buf_init(&path, 1024);
	if (sqlite3_prepare_v2(a->db, "SELECT min(seq), max(seq), count(*)"
	    " FROM (SELECT seq FROM gw_audit_events WHERE batch IS NULL"
	    " ORDER BY seq LIMIT ?1)", -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(a, err, "prepare pending scan");
		goto out;
	}
	sqlite3_bind_int(st, 1, GW_AUDIT_MAX_DELIVER);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(a, err, "pending scan");
		goto out;
	}
	*count = sqlite3_column_int64(st, 2);
	lo = sqlite3_column_int64(st, 0);
	hi = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if (*count == 0) {
		r = DH_OK;
		goto out;
	}
	if (gmtime_r(&t, &tm) == NULL || dh_random(rnd, sizeof(rnd)) != DH_OK) {
		r = dh_err_set(err, DH_E_CRYPTO, "audit: clock or randomness "
		    "unavailable");
		goto out;
	}
	dh_hex_encode(rnd, sizeof(rnd), rhex);
	dh_time_amz(t, amz);
	/* YYYYMMDDTHHMMZ: the SigV4 stamp without seconds. */
	amz[13] = 'Z';
	amz[14] = '\0';
	r = dh_buf_printf(&path, "AWSLogs/%s/CloudTrail/%s/%04d/%02d/%02d/"
	    "%s_CloudTrail_%s_%s_%s.json.gz", a->account, a->region,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, a->account,
	    a->region, amz, rhex);
	if (r != DH_OK) {
		r = dh_err_set(err, r, "audit: path too long");
		goto out;
	}
	r = exec_sql(a, "SAVEPOINT gw_audit_claim;", err);
	if (r != DH_OK)
		goto out;
	in_tx = 1;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO gw_audit_batches(path,"
	    " records) VALUES (?1, ?2)", -1, &st, NULL) != SQLITE_OK) {
		r = db_fail(a, err, "prepare batch insert");
		goto out;
	}
	sqlite3_bind_text(st, 1, dh_buf_cstr(&path), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, *count);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(a, err, "insert batch");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(a->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(a->db, "UPDATE gw_audit_events SET batch = ?1"
	    " WHERE batch IS NULL AND seq BETWEEN ?2 AND ?3", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_fail(a, err, "prepare claim");
		goto out;
	}
	sqlite3_bind_int64(st, 1, *id);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = db_fail(a, err, "claim records");
		goto out;
	}
	r = exec_sql(a, "RELEASE gw_audit_claim;", err);
	if (r != DH_OK)
		goto out;
	in_tx = 0;
	*rel = (char *)dh_buf_steal(&path, NULL);
	if (*rel == NULL)
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
out:
	sqlite3_finalize(st);
	if (in_tx) {
		rollback_to(a, "gw_audit_claim");
		*id = 0;
	}
	dh_buf_free(&path);
	return r;
}

int
gw_audit_deliver_stats(struct gw_audit *a, int64_t now_ms, size_t *files,
    size_t *records, struct dh_err *err)
{
	sqlite3_int64 id;
	char *rel;
	int64_t count;
	size_t nf = 0, nr = 0;
	int r;

	if (a == NULL)
		return dh_err_set(err, DH_E_ARG, "audit: no handle");
	if (!sqlite3_get_autocommit(a->db))
		return dh_err_set(err, DH_E_STATE, "audit: delivery must run "
		    "outside a transaction (its claims must commit before "
		    "files are written)");
	if (now_ms <= 0)
		now_ms = dh_time_now_ms();
	r = recover_batches(a, &nf, &nr, err);
	while (r == DH_OK) {
		r = claim_batch(a, now_ms, &id, &rel, &count, err);
		if (r != DH_OK || id == 0)
			break;
		r = complete_batch(a, id, rel, err);
		free(rel);
		if (r == DH_OK) {
			nf++;
			nr += (size_t)count;
		}
	}
	if (files != NULL)
		*files = nf;
	if (records != NULL)
		*records = nr;
	return r;
}

int
gw_audit_deliver(struct gw_audit *a, int64_t now_ms, struct dh_err *err)
{
	return gw_audit_deliver_stats(a, now_ms, NULL, NULL, err);
}
