/*
 * gw_docs: SSM document operations over the documents / document_meta
 * tables of gw_store (see gw_docs.h).  Statements are prepared and bound
 * from a format string ('s' text, 'i' int64); no SQL text is built from
 * request data.
 */
#include "gw_docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_hash.h"
#include "dh_json.h"
#include "gw_res.h"

static int op_create(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_update(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_get(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_delete(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_list(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_default(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);

#define SRC "ssm.amazonaws.com"
#define OPR GW_SSM_OPERATOR

const struct gw_ssm_op gw_docs_ops[] = {
	{ "AmazonSSM.CreateDocument", "CreateDocument", "ssm", SRC,
	    "ssm:CreateDocument", OPR, op_create },
	{ "AmazonSSM.UpdateDocument", "UpdateDocument", "ssm", SRC,
	    "ssm:UpdateDocument", OPR, op_update },
	{ "AmazonSSM.GetDocument", "GetDocument", "ssm", SRC,
	    "ssm:GetDocument", OPR | GW_SSM_INSTANCE, op_get },
	{ "AmazonSSM.DescribeDocument", "DescribeDocument", "ssm", SRC,
	    "ssm:DescribeDocument", OPR, op_describe },
	{ "AmazonSSM.DeleteDocument", "DeleteDocument", "ssm", SRC,
	    "ssm:DeleteDocument", OPR, op_delete },
	{ "AmazonSSM.ListDocuments", "ListDocuments", "ssm", SRC,
	    "ssm:ListDocuments", OPR, op_list },
	{ "AmazonSSM.UpdateDocumentDefaultVersion",
	    "UpdateDocumentDefaultVersion", "ssm", SRC,
	    "ssm:UpdateDocumentDefaultVersion", OPR, op_default },
};

const size_t gw_docs_n_ops = sizeof(gw_docs_ops) / sizeof(gw_docs_ops[0]);

/* ------------------------------------------------------------ built-ins */

#define PORT_PATTERN "^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|" \
	"65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
#define LPORT_PATTERN "^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|" \
	"65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"

struct builtin {
	const char *name;
	const char *content;
};

static const struct builtin builtins[] = {
	{ "AWS-StartSSHSession",
	    "{\"schemaVersion\":\"1.0\",\"description\":\"Document to start SSH"
	    " session\",\"sessionType\":\"Port\",\"parameters\":{\"portNumber\":"
	    "{\"type\":\"String\",\"description\":\"(Optional) Port number of"
	    " SSH server on the instance\",\"allowedPattern\":\"" PORT_PATTERN
	    "\",\"default\":\"22\"}},\"properties\":{\"portNumber\":"
	    "\"{{ portNumber }}\"}}" },
	{ "AWS-StartPortForwardingSession",
	    "{\"schemaVersion\":\"1.0\",\"description\":\"Document to start port"
	    " forwarding session over Session Manager\",\"sessionType\":"
	    "\"Port\",\"parameters\":{\"portNumber\":{\"type\":\"String\","
	    "\"description\":\"(Optional) Port number of the server on the"
	    " instance\",\"allowedPattern\":\"" PORT_PATTERN "\",\"default\":"
	    "\"80\"},\"localPortNumber\":{\"type\":\"String\",\"description\":"
	    "\"(Optional) Port number on local machine to forward traffic to."
	    " An open port is chosen at run-time if not provided\","
	    "\"allowedPattern\":\"" LPORT_PATTERN "\",\"default\":\"0\"}},"
	    "\"properties\":{\"portNumber\":\"{{ portNumber }}\",\"type\":"
	    "\"LocalPortForwarding\",\"localPortNumber\":"
	    "\"{{ localPortNumber }}\"}}" },
	{ "AWS-StartPortForwardingSessionToRemoteHost",
	    "{\"schemaVersion\":\"1.0\",\"description\":\"Document to start port"
	    " forwarding session over Session Manager to a remote host\","
	    "\"sessionType\":\"Port\",\"parameters\":{\"host\":{\"type\":"
	    "\"String\",\"description\":\"(Optional) Hostname or IP address of"
	    " the destination server\",\"default\":\"localhost\"},"
	    "\"portNumber\":{\"type\":\"String\",\"description\":\"(Optional)"
	    " Port number of the server on the instance\",\"allowedPattern\":\""
	    PORT_PATTERN "\",\"default\":\"80\"},\"localPortNumber\":{\"type\":"
	    "\"String\",\"description\":\"(Optional) Port number on local"
	    " machine to forward traffic to. An open port is chosen at run-time"
	    " if not provided\",\"allowedPattern\":\"" LPORT_PATTERN "\","
	    "\"default\":\"0\"}},\"properties\":{\"host\":\"{{ host }}\","
	    "\"portNumber\":\"{{ portNumber }}\",\"type\":"
	    "\"LocalPortForwarding\",\"localPortNumber\":"
	    "\"{{ localPortNumber }}\"}}" },
	{ "AWS-StartInteractiveCommand",
	    "{\"schemaVersion\":\"1.0\",\"description\":\"Document to run single"
	    " interactive command on an instance\",\"sessionType\":"
	    "\"InteractiveCommands\",\"parameters\":{\"command\":{\"type\":"
	    "\"String\",\"description\":\"The command to run on the instance\"}},"
	    "\"properties\":{\"windows\":{\"commands\":\"{{command}}\","
	    "\"runAsElevated\":false},\"linux\":{\"commands\":\"{{command}}\","
	    "\"runAsElevated\":false},\"macos\":{\"commands\":\"{{command}}\","
	    "\"runAsElevated\":false}}}" },
};

#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* The preferences used while the account has none. */
static const char default_prefs[] =
    "{\"schemaVersion\":\"1.0\",\"description\":\"Document to hold regional"
    " settings for Session Manager\",\"sessionType\":\"Standard_Stream\","
    "\"inputs\":{\"s3BucketName\":\"\",\"s3KeyPrefix\":\"\","
    "\"s3EncryptionEnabled\":true,\"cloudWatchLogGroupName\":\"\","
    "\"cloudWatchEncryptionEnabled\":true,\"cloudWatchStreamingEnabled\":true,"
    "\"kmsKeyId\":\"\",\"runAsEnabled\":false,\"runAsDefaultUser\":\"\","
    "\"idleSessionTimeout\":\"20\",\"maxSessionDuration\":\"\","
    "\"shellProfile\":{\"windows\":\"\",\"linux\":\"\"}}}";

static const struct builtin *
builtin_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_BUILTINS; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

/* ---------------------------------------------------------- validation */

static const char *const doc_types[] = {
	"Command", "Policy", "Automation", "Session", "Package",
	"ApplicationConfiguration", "ApplicationConfigurationSchema",
	"DeploymentStrategy", "ChangeCalendar", "Automation.ChangeTemplate",
	"ProblemAnalysis", "ProblemAnalysisTemplate", "CloudFormation",
	"ConformancePackTemplate", "QuickSetup", NULL
};

static int
in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* A bool input: JSON bool or "true"/"false". */
static int
is_boolish(const cJSON *v)
{
	return cJSON_IsBool(v) || (cJSON_IsString(v) &&
	    (strcmp(v->valuestring, "true") == 0 ||
	    strcmp(v->valuestring, "false") == 0));
}

/* A minutes input: "" (unset) or an integer string/number in [lo, hi]. */
static int
minutes_ok(const cJSON *v, long lo, long hi)
{
	char *end = NULL;
	long n;

	if (cJSON_IsNumber(v))
		return v->valuedouble == (double)(long)v->valuedouble &&
		    v->valuedouble >= lo && v->valuedouble <= hi;
	if (!cJSON_IsString(v))
		return 0;
	if (v->valuestring[0] == '\0')
		return 1;
	n = strtol(v->valuestring, &end, 10);
	return end != v->valuestring && *end == '\0' && n >= lo && n <= hi;
}

static int
check_inputs(const cJSON *inputs, struct dh_err *err)
{
	static const char *const strs[] = {
		"s3BucketName", "s3KeyPrefix", "cloudWatchLogGroupName",
		"kmsKeyId", "runAsDefaultUser", NULL
	};
	static const char *const bools[] = {
		"s3EncryptionEnabled", "cloudWatchStreamingEnabled",
		"cloudWatchEncryptionEnabled", "runAsEnabled", NULL
	};
	const cJSON *v, *p;

	if (inputs == NULL || cJSON_IsNull(inputs))
		return DH_OK;
	if (!cJSON_IsObject(inputs))
		return dh_err_set(err, DH_E_FORMAT, "inputs must be an object");
	cJSON_ArrayForEach(v, inputs) {
		const char *k = v->string;

		if (in_list(k, strs)) {
			if (!cJSON_IsString(v))
				return dh_err_set(err, DH_E_FORMAT,
				    "inputs.%s must be a string", k);
		} else if (in_list(k, bools)) {
			if (!is_boolish(v))
				return dh_err_set(err, DH_E_FORMAT,
				    "inputs.%s must be true or false", k);
		} else if (strcmp(k, "idleSessionTimeout") == 0) {
			if (!minutes_ok(v, 1, 60))
				return dh_err_set(err, DH_E_FORMAT,
				    "inputs.idleSessionTimeout must be 1 to 60"
				    " minutes");
		} else if (strcmp(k, "maxSessionDuration") == 0) {
			if (!minutes_ok(v, 1, 1440))
				return dh_err_set(err, DH_E_FORMAT,
				    "inputs.maxSessionDuration must be 1 to"
				    " 1440 minutes");
		} else if (strcmp(k, "shellProfile") == 0) {
			if (!cJSON_IsObject(v))
				return dh_err_set(err, DH_E_FORMAT,
				    "inputs.shellProfile must be an object");
			cJSON_ArrayForEach(p, v)
				if ((strcmp(p->string, "linux") != 0 &&
				    strcmp(p->string, "windows") != 0) ||
				    !cJSON_IsString(p))
					return dh_err_set(err, DH_E_FORMAT,
					    "inputs.shellProfile takes linux"
					    " and windows strings");
		} else
			return dh_err_set(err, DH_E_FORMAT, "unknown input"
			    " '%s'", k);
	}
	return DH_OK;
}

static int
check_session(const cJSON *doc, const char **code, struct dh_err *err)
{
	static const char *const types[] = {
		"Standard_Stream", "InteractiveCommands",
		"NonInteractiveCommands", "Port", NULL
	};
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(doc, "schemaVersion");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "sessionType");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "description");
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(doc, "parameters");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(doc, "properties");
	const cJSON *p, *t;

	if (!cJSON_IsString(sv) || strcmp(sv->valuestring, "1.0") != 0) {
		*code = "InvalidDocumentSchemaVersion";
		return dh_err_set(err, DH_E_FORMAT, "Session documents need"
		    " schemaVersion \"1.0\"");
	}
	if (!cJSON_IsString(st) || !in_list(st->valuestring, types))
		return dh_err_set(err, DH_E_FORMAT, "sessionType must be"
		    " Standard_Stream, InteractiveCommands,"
		    " NonInteractiveCommands or Port");
	if (d != NULL && !cJSON_IsString(d))
		return dh_err_set(err, DH_E_FORMAT, "description must be a"
		    " string");
	if (pa != NULL && !cJSON_IsNull(pa)) {
		if (!cJSON_IsObject(pa))
			return dh_err_set(err, DH_E_FORMAT, "parameters must be"
			    " an object");
		cJSON_ArrayForEach(p, pa) {
			t = cJSON_GetObjectItemCaseSensitive(p, "type");
			if (!cJSON_IsObject(p) || !cJSON_IsString(t))
				return dh_err_set(err, DH_E_FORMAT, "parameter"
				    " '%s' needs a type", p->string);
		}
	}
	if (pr != NULL && !cJSON_IsNull(pr) && !cJSON_IsObject(pr))
		return dh_err_set(err, DH_E_FORMAT, "properties must be an"
		    " object");
	return check_inputs(cJSON_GetObjectItemCaseSensitive(doc, "inputs"),
	    err);
}

int
gw_docs_validate(const char *content, size_t len, const char *doc_type,
    const char *format, const char **code, struct dh_err *err)
{
	const cJSON *sv;
	cJSON *doc = NULL;
	int r;

	*code = "InvalidDocumentContent";
	if (len > GW_DOCS_MAX_CONTENT) {
		*code = "MaxDocumentSizeExceeded";
		return dh_err_set(err, DH_E_FORMAT, "document content is %zu"
		    " bytes; the limit is %d", len, GW_DOCS_MAX_CONTENT);
	}
	if (format != NULL && strcmp(format, "JSON") != 0)
		return dh_err_set(err, DH_E_FORMAT, "%s documents are not"
		    " supported by this gateway; send the content as JSON"
		    " (--document-format JSON)", format);
	if (dh_json_parse(content, len, GW_DOCS_MAX_CONTENT, &doc, err) !=
	    DH_OK)
		return dh_err_wrap(err, DH_E_FORMAT, "content is not valid JSON"
		    " (YAML is not supported)");
	if (!cJSON_IsObject(doc)) {
		r = dh_err_set(err, DH_E_FORMAT, "document content must be a"
		    " JSON object");
		goto done;
	}
	if (strcmp(doc_type, "Session") == 0) {
		r = check_session(doc, code, err);
		goto done;
	}
	sv = cJSON_GetObjectItemCaseSensitive(doc, "schemaVersion");
	r = cJSON_IsString(sv) ? DH_OK : dh_err_set(err, DH_E_FORMAT,
	    "document needs a schemaVersion string");
done:
	cJSON_Delete(doc);
	return r;
}

/* ------------------------------------------------------------- storage */

struct doc {
	char name[129];
	int64_t version;
	char *content;            /* owned */
	char type[48];
	char format[8];
	char version_name[129];
	char target_type[201];
	char hash[65];
	char owner[64];
	int64_t created_ms;
	int64_t default_version;
	int64_t latest_version;
	int builtin;
};

static void
doc_clear(struct doc *d)
{
	free(d->content);
	d->content = NULL;
}




#define DOC_COLS "d.name, d.version, d.content, d.doc_type, d.doc_format," \
	" d.version_name, d.target_type, d.hash, d.created_ms, m.owner," \
	" m.default_version, m.latest_version"

static int
row_doc(sqlite3_stmt *s, struct doc *d)
{
	const unsigned char *c;

	memset(d, 0, sizeof(*d));
	gw_store_col_copy(s, 0, d->name, sizeof(d->name));
	d->version = sqlite3_column_int64(s, 1);
	c = sqlite3_column_text(s, 2);
	d->content = strdup(c != NULL ? (const char *)c : "");
	if (d->content == NULL)
		return DH_E_NOMEM;
	gw_store_col_copy(s, 3, d->type, sizeof(d->type));
	gw_store_col_copy(s, 4, d->format, sizeof(d->format));
	gw_store_col_copy(s, 5, d->version_name, sizeof(d->version_name));
	gw_store_col_copy(s, 6, d->target_type, sizeof(d->target_type));
	gw_store_col_copy(s, 7, d->hash, sizeof(d->hash));
	d->created_ms = sqlite3_column_int64(s, 8);
	gw_store_col_copy(s, 9, d->owner, sizeof(d->owner));
	d->default_version = sqlite3_column_int64(s, 10);
	d->latest_version = sqlite3_column_int64(s, 11);
	return DH_OK;
}

static void
fill_builtin(const struct builtin *b, struct doc *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", b->name);
	d->version = d->default_version = d->latest_version = 1;
	d->content = strdup(b->content);
	snprintf(d->type, sizeof(d->type), "Session");
	snprintf(d->format, sizeof(d->format), "JSON");
	dh_sha256_hex(b->content, strlen(b->content), d->hash);
	snprintf(d->owner, sizeof(d->owner), "Amazon");
	d->created_ms = 1546300800000LL;
	d->builtin = 1;
}

/* Which version a request names: 0 = default, -1 = latest, else n. */
static int
parse_version(const char *v, int64_t *out)
{
	char *end = NULL;
	long long n;

	if (v == NULL || strcmp(v, "$DEFAULT") == 0) {
		*out = 0;
		return 0;
	}
	if (strcmp(v, "$LATEST") == 0) {
		*out = -1;
		return 0;
	}
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > 1000000)
		return -1;
	*out = n;
	return 0;
}

/* Load name at version selector sel (0 default, -1 latest, n); builtins
 * included.  DH_E_NOTFOUND when absent. */
static int
doc_load(struct gw_store *st, const char *name, int64_t sel,
    const char *version_name, struct doc *d, struct dh_err *err)
{
	const struct builtin *b = builtin_find(name);
	sqlite3_stmt *s;
	int r, rc;

	memset(d, 0, sizeof(*d));
	if (b != NULL) {
		if (sel > 1 || (version_name != NULL && version_name[0] != '\0'))
			return dh_err_set(err, DH_E_NOTFOUND, "no such version");
		fill_builtin(b, d);
		return d->content != NULL ? DH_OK : DH_E_NOMEM;
	}
	if (version_name != NULL)
		r = gw_store_prep(st, &s, err, "SELECT " DOC_COLS " FROM documents d JOIN"
		    " document_meta m ON m.name = d.name WHERE d.name = ? AND"
		    " d.version_name = ?", "ss", name, version_name);
	else
		r = gw_store_prep(st, &s, err, "SELECT " DOC_COLS " FROM documents d JOIN"
		    " document_meta m ON m.name = d.name WHERE d.name = ? AND"
		    " d.version = CASE ? WHEN 0 THEN m.default_version"
		    " WHEN -1 THEN m.latest_version ELSE ? END", "sii", name,
		    sel, sel);
	if (r != DH_OK)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = row_doc(s, d);
	else if (rc == SQLITE_DONE)
		r = dh_err_set(err, DH_E_NOTFOUND, "no such document");
	else
		r = dh_err_set(err, DH_E_IO, "sqlite step: %s",
		    sqlite3_errmsg(gw_store_db(st)));
	sqlite3_finalize(s);
	return r;
}

/* ------------------------------------------------------------- output */

static int
add_params(cJSON *o, const char *content)
{
	const cJSON *pa, *p, *v;
	cJSON *doc = NULL, *arr, *e;

	arr = cJSON_AddArrayToObject(o, "Parameters");
	if (arr == NULL)
		return -1;
	if (dh_json_parse(content, strlen(content), GW_DOCS_MAX_CONTENT, &doc,
	    NULL) != DH_OK)
		return 0;
	pa = cJSON_GetObjectItemCaseSensitive(doc, "parameters");
	cJSON_ArrayForEach(p, pa) {
		e = cJSON_CreateObject();
		if (e == NULL || !cJSON_AddItemToArray(arr, e))
			break;
		cJSON_AddStringToObject(e, "Name", p->string);
		v = cJSON_GetObjectItemCaseSensitive(p, "type");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(e, "Type", v->valuestring);
		v = cJSON_GetObjectItemCaseSensitive(p, "description");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(e, "Description",
			    v->valuestring);
		v = cJSON_GetObjectItemCaseSensitive(p, "default");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(e, "DefaultValue",
			    v->valuestring);
	}
	cJSON_Delete(doc);
	return 0;
}

static const char *
doc_field(const char *content, const char *key, char *out, size_t n)
{
	const cJSON *v;
	cJSON *doc = NULL;

	out[0] = '\0';
	if (dh_json_parse(content, strlen(content), GW_DOCS_MAX_CONTENT, &doc,
	    NULL) == DH_OK) {
		v = cJSON_GetObjectItemCaseSensitive(doc, key);
		if (cJSON_IsString(v))
			snprintf(out, n, "%s", v->valuestring);
	}
	cJSON_Delete(doc);
	return out;
}

static void
add_vstr(cJSON *o, const char *key, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%lld", (long long)v);
	cJSON_AddStringToObject(o, key, b);
}

static cJSON *
add_platforms(cJSON *o)
{
	static const char *const p[] = { "Windows", "Linux", "MacOS" };

	return cJSON_AddItemToObject(o, "PlatformTypes",
	    cJSON_CreateStringArray(p, 3)) ? o : NULL;
}

static cJSON *
description(const struct doc *d)
{
	cJSON *o = cJSON_CreateObject();
	char buf[1024];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "Hash", d->hash);
	cJSON_AddStringToObject(o, "HashType", "Sha256");
	cJSON_AddStringToObject(o, "Name", d->name);
	if (d->version_name[0] != '\0')
		cJSON_AddStringToObject(o, "VersionName", d->version_name);
	cJSON_AddStringToObject(o, "Owner", d->owner);
	cJSON_AddNumberToObject(o, "CreatedDate", (double)d->created_ms /
	    1000.0);
	cJSON_AddStringToObject(o, "Status", "Active");
	add_vstr(o, "DocumentVersion", d->version);
	cJSON_AddStringToObject(o, "Description", doc_field(d->content,
	    "description", buf, sizeof(buf)));
	add_params(o, d->content);
	add_platforms(o);
	cJSON_AddStringToObject(o, "DocumentType", d->type);
	cJSON_AddStringToObject(o, "SchemaVersion", doc_field(d->content,
	    "schemaVersion", buf, sizeof(buf)));
	add_vstr(o, "LatestVersion", d->latest_version);
	add_vstr(o, "DefaultVersion", d->default_version);
	cJSON_AddStringToObject(o, "DocumentFormat", d->format);
	if (d->target_type[0] != '\0')
		cJSON_AddStringToObject(o, "TargetType", d->target_type);
	cJSON_AddItemToObject(o, "Tags", cJSON_CreateArray());
	return o;
}

/* ---------------------------------------------------------- operations */

static int
name_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (len < 3 || len > 128)
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' &&
		    n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9') ||
		    n[i] == '_' || n[i] == '-' || n[i] == '.'))
			return 0;
	return 1;
}

static int
reserved(const char *n)
{
	return strncasecmp(n, "aws", 3) == 0 ||
	    strncasecmp(n, "amazon", 6) == 0 || strncasecmp(n, "amzn", 4) == 0;
}

/* Shared input checks of Create/Update: content validated, hash set. */
static int
check_content(const cJSON *in, const char *doc_type, const char **content,
    const char **format, char hash[65], struct gw_ssm_result *res)
{
	const char *code;
	struct dh_err e;

	if (gw_res_req_str(in, "Content", 1, 10 * GW_DOCS_MAX_CONTENT, content,
	    res) != 0 || gw_res_opt_str(in, "DocumentFormat", 1, 8, format,
	    res) != 0)
		return -1;
	if (*format == NULL)
		*format = "JSON";
	if (strcmp(*format, "JSON") != 0 && strcmp(*format, "YAML") != 0 &&
	    strcmp(*format, "TEXT") != 0)
		return gw_res_bad(res, 400, "ValidationException",
		    "DocumentFormat"
		    " must be JSON, YAML or TEXT");
	if (gw_docs_validate(*content, strlen(*content), doc_type, *format,
	    &code, &e) != DH_OK)
		return gw_res_bad(res, 400, code, "%s", e.msg);
	dh_sha256_hex(*content, strlen(*content), hash);
	return 0;
}

static int
insert_version(struct gw_store *st, const char *name, int64_t version,
    const char *content, const char *type, const char *format,
    const char *vname, const char *target, const char *hash, int64_t now_ms,
    struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	r = gw_store_prep(st, &s, err, "INSERT INTO documents (name, version, content,"
	    " doc_type, doc_format, version_name, target_type, hash,"
	    " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "sissssssi",
	    name, version, content, type, format, vname != NULL ? vname : "",
	    target != NULL ? target : "", hash, now_ms);
	if (r == DH_OK)
		r = gw_store_done(st, s, err);
	return r;
}

/* Answer {key: DocumentDescription of name at sel}. */
static int
respond_desc(const struct gw_ssm_ctx *c, const char *name, int64_t sel,
    const char *key, struct gw_ssm_result *res)
{
	struct dh_err e;
	struct doc d;
	cJSON *desc;
	int r;

	dh_err_clear(&e);
	r = doc_load(c->st, name, sel, NULL, &d, &e);
	if (r != DH_OK) {
		doc_clear(&d);
		return gw_res_internal(res, r, &e);
	}
	desc = description(&d);
	doc_clear(&d);
	if (desc == NULL || !cJSON_AddItemToObject(gw_res_ok(res), key, desc)) {
		cJSON_Delete(desc);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	return DH_OK;
}

static int
op_create(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *content, *type, *format, *vname, *target;
	sqlite3_stmt *s;
	struct dh_err e;
	struct doc d;
	char hash[65];
	int r;

	if (gw_res_req_str(in, "Name", 1, 128, &name, res) != 0 ||
	    gw_res_opt_str(in, "DocumentType", 1, 64, &type, res) != 0 ||
	    gw_res_opt_str(in, "VersionName", 1, 128, &vname, res) != 0 ||
	    gw_res_opt_str(in, "TargetType", 1, 200, &target, res) != 0)
		return DH_OK;
	if (!name_ok(name))
		return gw_res_fail(res, 400, "ValidationException",
		    "Value '%s' at"
		    " 'name' failed to satisfy constraint: Member must satisfy"
		    " regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$",
		    name);
	if (reserved(name))
		return gw_res_fail(res, 400, "ValidationException",
		    "Document names"
		    " beginning with AWS, Amazon or Amzn are reserved");
	if (type == NULL)
		type = "Command";
	if (!in_list(type, doc_types))
		return gw_res_fail(res, 400, "ValidationException", "Unknown"
		    " DocumentType %s", type);
	if (check_content(in, type, &content, &format, hash, res) != 0)
		return DH_OK;
	dh_err_clear(&e);
	r = doc_load(c->st, name, 0, NULL, &d, &e);
	doc_clear(&d);
	if (r == DH_OK)
		return gw_res_fail(res, 400, "DocumentAlreadyExists",
		    "Document with"
		    " same name %s already exists", name);
	if (r != DH_E_NOTFOUND)
		return gw_res_internal(res, r, &e);
	r = gw_store_begin(c->st, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	r = gw_store_prep(c->st, &s, &e, "INSERT INTO document_meta (name,"
	    " default_version, latest_version, owner, created_ms)"
	    " VALUES (?, 1, 1, ?, ?)", "ssi", name, c->account, c->now_ms);
	if (r == DH_OK)
		r = gw_store_done(c->st, s, &e);
	if (r == DH_OK)
		r = insert_version(c->st, name, 1, content, type, format, vname,
		    target, hash, c->now_ms, &e);
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		return gw_res_internal(res, r, &e);
	}
	return respond_desc(c, name, 1, "DocumentDescription", res);
}

/* Name (required) and version selector (DocumentVersion). */
static int
name_version(const cJSON *in, const char **name, int64_t *sel,
    const char **vname, struct gw_ssm_result *res)
{
	const char *v;

	if (gw_res_req_str(in, "Name", 1, 200, name, res) != 0 ||
	    gw_res_opt_str(in, "DocumentVersion", 1, 16, &v, res) != 0 ||
	    gw_res_opt_str(in, "VersionName", 1, 128, vname, res) != 0)
		return -1;
	if (parse_version(v, sel) != 0)
		return gw_res_bad(res, 400, "InvalidDocumentVersion",
		    "The document"
		    " version is not valid or does not exist.");
	return 0;
}

/* Load for a read operation; -1 with res filled on failure. */
static int
load_for(const struct gw_ssm_ctx *c, const char *name, int64_t sel,
    const char *vname, struct doc *d, struct gw_ssm_result *res)
{
	struct dh_err e;
	int r;

	dh_err_clear(&e);
	r = doc_load(c->st, name, sel, vname, d, &e);
	if (r == DH_OK)
		return 0;
	doc_clear(d);
	if (r != DH_E_NOTFOUND) {
		gw_res_internal(res, r, &e);
		return -1;
	}
	if (sel != 0 || vname != NULL) {
		r = doc_load(c->st, name, 0, NULL, d, &e);
		doc_clear(d);
		if (r == DH_OK)
			return gw_res_bad(res, 400, "InvalidDocumentVersion",
			    "The"
			    " document version is not valid or does not"
			    " exist.");
	}
	return gw_res_bad(res, 400, "InvalidDocument",
	    "Document with name %s does"
	    " not exist.", name);
}

static int
op_update(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *content, *format, *vname, *target, *ver;
	sqlite3_stmt *s;
	struct dh_err e;
	struct doc d;
	int64_t sel;
	char hash[65];
	int r;

	if (gw_res_req_str(in, "Name", 1, 128, &name, res) != 0 ||
	    gw_res_opt_str(in, "DocumentVersion", 1, 16, &ver, res) != 0 ||
	    gw_res_opt_str(in, "VersionName", 1, 128, &vname, res) != 0 ||
	    gw_res_opt_str(in, "TargetType", 1, 200, &target, res) != 0)
		return DH_OK;
	if (builtin_find(name) != NULL)
		return gw_res_fail(res, 400, "InvalidDocumentOperation",
		    "Document %s"
		    " is owned by Amazon and cannot be updated.", name);
	if (load_for(c, name, 0, NULL, &d, res) != 0)
		return DH_OK;
	if (parse_version(ver, &sel) != 0 || (sel > 0 &&
	    sel != d.latest_version) || sel == 0) {
		doc_clear(&d);
		if (ver == NULL)
			return gw_res_fail(res, 400, "ValidationException", "1"
			    " validation error detected: DocumentVersion must"
			    " be $LATEST or the latest version number");
		return gw_res_fail(res, 400, "InvalidDocumentVersion",
		    "The document"
		    " version is not valid or does not exist.");
	}
	if (check_content(in, d.type, &content, &format, hash, res) != 0) {
		doc_clear(&d);
		return DH_OK;
	}
	if (d.latest_version >= GW_DOCS_MAX_VERSIONS) {
		doc_clear(&d);
		return gw_res_fail(res, 400, "DocumentVersionLimitExceeded",
		    "The"
		    " document has too many versions.");
	}
	doc_clear(&d);
	r = doc_load(c->st, name, -1, NULL, &d, &e);
	if (r != DH_OK) {
		doc_clear(&d);
		return gw_res_internal(res, r, &e);
	}
	if (strcmp(d.hash, hash) == 0) {
		doc_clear(&d);
		return gw_res_fail(res, 400, "DuplicateDocumentContent",
		    "The content"
		    " of the association document matches another document."
		    " Change the content of the document and try again.");
	}
	sel = d.latest_version + 1;
	r = gw_store_begin(c->st, &e);
	if (r == DH_OK)
		r = insert_version(c->st, name, sel, content, d.type, format,
		    vname, target, hash, c->now_ms, &e);
	doc_clear(&d);
	if (r == DH_OK)
		r = gw_store_prep(c->st, &s, &e, "UPDATE document_meta SET latest_version ="
		    " ? WHERE name = ?", "is", sel, name);
	if (r == DH_OK)
		r = gw_store_done(c->st, s, &e);
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		return gw_res_internal(res, r, &e);
	}
	return respond_desc(c, name, sel, "DocumentDescription", res);
}

static int
op_get(const struct gw_ssm_ctx *c, const cJSON *in, struct gw_ssm_result *res)
{
	const char *name, *vname, *format;
	cJSON *o;
	struct doc d;
	int64_t sel;

	if (name_version(in, &name, &sel, &vname, res) != 0 ||
	    gw_res_opt_str(in, "DocumentFormat", 1, 8, &format, res) != 0)
		return DH_OK;
	if (format != NULL && strcmp(format, "JSON") != 0)
		return gw_res_fail(res, 400, "InvalidDocumentContent",
		    "this gateway"
		    " returns documents as JSON only");
	if (load_for(c, name, sel, vname, &d, res) != 0)
		return DH_OK;
	o = gw_res_ok(res);
	if (o == NULL) {
		doc_clear(&d);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	cJSON_AddStringToObject(o, "Name", d.name);
	cJSON_AddNumberToObject(o, "CreatedDate", (double)d.created_ms /
	    1000.0);
	if (d.version_name[0] != '\0')
		cJSON_AddStringToObject(o, "VersionName", d.version_name);
	add_vstr(o, "DocumentVersion", d.version);
	cJSON_AddStringToObject(o, "Status", "Active");
	cJSON_AddStringToObject(o, "Content", d.content);
	cJSON_AddStringToObject(o, "DocumentType", d.type);
	cJSON_AddStringToObject(o, "DocumentFormat", d.format);
	doc_clear(&d);
	return DH_OK;
}

static int
op_describe(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *vname;
	struct doc d;
	int64_t sel, v;

	if (name_version(in, &name, &sel, &vname, res) != 0)
		return DH_OK;
	if (load_for(c, name, sel, vname, &d, res) != 0)
		return DH_OK;
	v = d.version;
	doc_clear(&d);
	return respond_desc(c, name, v, "Document", res);
}

static int
op_delete(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *vname;
	sqlite3_stmt *s;
	struct dh_err e;
	struct doc d;
	int64_t sel, def;
	int r;

	if (name_version(in, &name, &sel, &vname, res) != 0)
		return DH_OK;
	if (builtin_find(name) != NULL)
		return gw_res_fail(res, 400, "InvalidDocumentOperation",
		    "Document %s"
		    " is owned by Amazon and cannot be deleted.", name);
	if (load_for(c, name, sel, vname, &d, res) != 0)
		return DH_OK;
	def = d.default_version;
	sel = (sel != 0 || vname != NULL) ? d.version : 0;
	doc_clear(&d);
	if (sel != 0 && sel == def)
		return gw_res_fail(res, 400, "InvalidDocumentOperation",
		    "You can't"
		    " delete the default version of a document.");
	r = gw_store_begin(c->st, &e);
	if (r == DH_OK && sel != 0)
		r = gw_store_prep(c->st, &s, &e, "DELETE FROM documents WHERE name = ? AND"
		    " version = ?", "si", name, sel);
	else if (r == DH_OK)
		r = gw_store_prep(c->st, &s, &e, "DELETE FROM documents WHERE name = ?",
		    "s", name);
	if (r == DH_OK)
		r = gw_store_done(c->st, s, &e);
	if (r == DH_OK && sel == 0) {
		r = gw_store_prep(c->st, &s, &e, "DELETE FROM document_meta WHERE name = ?",
		    "s", name);
		if (r == DH_OK)
			r = gw_store_done(c->st, s, &e);
	} else if (r == DH_OK) {
		r = gw_store_prep(c->st, &s, &e, "UPDATE document_meta SET latest_version ="
		    " (SELECT MAX(version) FROM documents WHERE name = ?) WHERE"
		    " name = ?", "ss", name, name);
		if (r == DH_OK)
			r = gw_store_done(c->st, s, &e);
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
op_default(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *vname, *ver;
	sqlite3_stmt *s;
	struct dh_err e;
	struct doc d;
	int64_t sel;
	cJSON *o;
	int r;

	if (gw_res_req_str(in, "Name", 1, 128, &name, res) != 0 ||
	    gw_res_req_str(in, "DocumentVersion", 1, 16, &ver, res) != 0)
		return DH_OK;
	vname = NULL;
	if (parse_version(ver, &sel) != 0 || sel == 0)
		return gw_res_fail(res, 400, "InvalidDocumentVersion",
		    "The document"
		    " version is not valid or does not exist.");
	if (builtin_find(name) != NULL)
		return gw_res_fail(res, 400, "InvalidDocumentOperation",
		    "Document %s"
		    " is owned by Amazon.", name);
	if (load_for(c, name, sel, vname, &d, res) != 0)
		return DH_OK;
	sel = d.version;
	doc_clear(&d);
	r = gw_store_prep(c->st, &s, &e, "UPDATE document_meta SET default_version = ?"
	    " WHERE name = ?", "is", sel, name);
	if (r == DH_OK)
		r = gw_store_done(c->st, s, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddItemToObject(gw_res_ok(res), "Description",
	    o)) {
		cJSON_Delete(o);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	cJSON_AddStringToObject(o, "Name", name);
	add_vstr(o, "DefaultVersion", sel);
	return DH_OK;
}

/* ---------------------------------------------------------------- list */

struct filter {
	const char *owner;      /* Self | Amazon | All | NULL */
	const char *name;       /* prefix */
	const char *type;
};

static int
filter_set(struct filter *f, const char *key, const char *value)
{
	if (strcasecmp(key, "Owner") == 0)
		f->owner = value;
	else if (strcasecmp(key, "Name") == 0)
		f->name = value;
	else if (strcasecmp(key, "DocumentType") == 0)
		f->type = value;
	else if (strcasecmp(key, "PlatformTypes") != 0 &&
	    strcasecmp(key, "TargetType") != 0 &&
	    strcasecmp(key, "SearchKeyword") != 0)
		return -1;
	return 0;
}

static int
parse_filters(const cJSON *in, struct filter *f, struct gw_ssm_result *res)
{
	const cJSON *l, *e, *k, *v;

	memset(f, 0, sizeof(*f));
	l = cJSON_GetObjectItemCaseSensitive(in, "DocumentFilterList");
	cJSON_ArrayForEach(e, l) {
		k = cJSON_GetObjectItemCaseSensitive(e, "key");
		v = cJSON_GetObjectItemCaseSensitive(e, "value");
		if (!cJSON_IsString(k) || !cJSON_IsString(v) ||
		    filter_set(f, k->valuestring, v->valuestring) != 0)
			return gw_res_bad(res, 400, "InvalidFilterKey",
			    "The specified"
			    " key is not valid.");
	}
	l = cJSON_GetObjectItemCaseSensitive(in, "Filters");
	cJSON_ArrayForEach(e, l) {
		k = cJSON_GetObjectItemCaseSensitive(e, "Key");
		v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e,
		    "Values"), 0);
		if (!cJSON_IsString(k) || !cJSON_IsString(v) ||
		    filter_set(f, k->valuestring, v->valuestring) != 0)
			return gw_res_bad(res, 400, "InvalidFilterKey",
			    "The specified"
			    " key is not valid.");
	}
	return 0;
}

static int
filter_match(const struct filter *f, const struct doc *d)
{
	if (f->owner != NULL && strcmp(f->owner, "All") != 0 &&
	    strcmp(f->owner, "Public") != 0 &&
	    (strcmp(f->owner, "Amazon") == 0) != d->builtin)
		return 0;
	if (f->name != NULL && strncmp(d->name, f->name, strlen(f->name)) != 0)
		return 0;
	if (f->type != NULL && strcmp(d->type, f->type) != 0)
		return 0;
	return 1;
}

static cJSON *
identifier(const struct doc *d)
{
	cJSON *o = cJSON_CreateObject();
	char buf[32];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "Name", d->name);
	cJSON_AddNumberToObject(o, "CreatedDate", (double)d->created_ms /
	    1000.0);
	cJSON_AddStringToObject(o, "Owner", d->owner);
	if (d->version_name[0] != '\0')
		cJSON_AddStringToObject(o, "VersionName", d->version_name);
	add_platforms(o);
	add_vstr(o, "DocumentVersion", d->version);
	cJSON_AddStringToObject(o, "DocumentType", d->type);
	cJSON_AddStringToObject(o, "SchemaVersion", doc_field(d->content,
	    "schemaVersion", buf, sizeof(buf)));
	cJSON_AddStringToObject(o, "DocumentFormat", d->format);
	if (d->target_type[0] != '\0')
		cJSON_AddStringToObject(o, "TargetType", d->target_type);
	cJSON_AddItemToObject(o, "Tags", cJSON_CreateArray());
	return o;
}

static int
op_list(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *next;
	struct filter f;
	struct dh_err e;
	sqlite3_stmt *s;
	int64_t max = 50, skip = 0, seen = 0, n = 0;
	int present, r, rc;
	struct doc d;
	cJSON *arr, *o;
	size_t i;

	if (in != NULL && dh_json_opt_int(in, "MaxResults", 1, 50, &max,
	    &present, &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "%s",
		    e.msg);
	if (gw_res_opt_str(in, "NextToken", 1, 32, &next, res) != 0 ||
	    parse_filters(in, &f, res) != 0)
		return DH_OK;
	if (next != NULL) {
		char *end = NULL;

		skip = strtoll(next, &end, 10);
		if (end == next || *end != '\0' || skip < 0)
			return gw_res_fail(res, 400, "InvalidNextToken", "The"
			    " specified token is not valid.");
	}
	o = gw_res_ok(res);
	arr = o != NULL ? cJSON_AddArrayToObject(o, "DocumentIdentifiers") :
	    NULL;
	if (arr == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	for (i = 0; i < N_BUILTINS && n <= max; i++) {
		fill_builtin(&builtins[i], &d);
		if (d.content != NULL && filter_match(&f, &d) && seen++ >= skip &&
		    n++ < max)
			cJSON_AddItemToArray(arr, identifier(&d));
		doc_clear(&d);
	}
	r = gw_store_prep(c->st, &s, &e, "SELECT " DOC_COLS " FROM documents d JOIN"
	    " document_meta m ON m.name = d.name AND d.version ="
	    " m.default_version ORDER BY d.name", "");
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	while (n <= max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (row_doc(s, &d) == DH_OK && filter_match(&f, &d) &&
		    seen++ >= skip && n++ < max)
			cJSON_AddItemToArray(arr, identifier(&d));
		doc_clear(&d);
	}
	sqlite3_finalize(s);
	if (n > max) {
		char tok[24];

		snprintf(tok, sizeof(tok), "%lld", (long long)(skip + max));
		cJSON_AddStringToObject(o, "NextToken", tok);
	}
	return DH_OK;
}

/* ------------------------------------------------------------ sessions */

static int
parse_content(const char *text, cJSON **out, struct dh_err *err)
{
	return dh_json_parse(text, strlen(text), GW_DOCS_MAX_CONTENT, out, err);
}

int
gw_docs_session_content(struct gw_store *st, const char *name, cJSON **out,
    struct dh_err *err)
{
	cJSON *prefs = NULL, *doc = NULL, *pin, *din, *v, *dup;
	struct doc d;
	int r;

	*out = NULL;
	r = doc_load(st, GW_DOCS_PREFS, -1, NULL, &d, err);
	if (r == DH_OK)
		r = parse_content(d.content, &prefs, err);
	else if (r == DH_E_NOTFOUND)
		r = parse_content(default_prefs, &prefs, err);
	doc_clear(&d);
	if (r != DH_OK)
		return r;
	if (name == NULL || strcmp(name, GW_DOCS_PREFS) == 0) {
		*out = prefs;
		return DH_OK;
	}
	r = doc_load(st, name, 0, NULL, &d, err);
	if (r == DH_OK && strcmp(d.type, "Session") != 0)
		r = dh_err_set(err, DH_E_FORMAT, "document %s is not a Session"
		    " document", name);
	if (r == DH_OK)
		r = parse_content(d.content, &doc, err);
	doc_clear(&d);
	if (r != DH_OK)
		goto fail;
	/* The preferences apply to every session; the document's own inputs
	 * win. */
	pin = cJSON_GetObjectItemCaseSensitive(prefs, "inputs");
	din = cJSON_GetObjectItemCaseSensitive(doc, "inputs");
	if (din == NULL) {
		din = cJSON_AddObjectToObject(doc, "inputs");
		if (din == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	cJSON_ArrayForEach(v, pin) {
		if (cJSON_GetObjectItemCaseSensitive(din, v->string) != NULL)
			continue;
		dup = cJSON_Duplicate(v, 1);
		if (dup == NULL || !cJSON_AddItemToObject(din, v->string, dup)) {
			cJSON_Delete(dup);
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	cJSON_Delete(prefs);
	*out = doc;
	return DH_OK;
fail:
	cJSON_Delete(prefs);
	cJSON_Delete(doc);
	return r;
}
