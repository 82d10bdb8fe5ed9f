/*
 * Unit tests for gw_docs against a temporary store: content validation as
 * a table (Session inputs, types, ranges, YAML refusal, size), then the
 * operations as the aws CLI sends them: create, duplicate, reserved names,
 * get/describe by version, update (new version, duplicate content, wrong
 * base version), default version, list with filters and paging, delete,
 * built-in AWS-Start* documents, and the session content a StartSession
 * resolves (preferences fallback, latest preferences, merged inputs).
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

#include "dh_json.h"
#include "gw_auth.h"
#include "gw_docs.h"
#include "gw_ssm.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define NOW_MS 1790000000000LL

struct vcase {
	const char *content;
	const char *type;
	const char *format;
	const char *code;           /* NULL = valid */
};

#define PREFS(inputs) "{\"schemaVersion\":\"1.0\",\"description\":\"d\"," \
	"\"sessionType\":\"Standard_Stream\",\"inputs\":{" inputs "}}"

static const struct vcase vcases[] = {
	{ PREFS("\"s3BucketName\":\"b\",\"s3KeyPrefix\":\"p/\","
	    "\"s3EncryptionEnabled\":true,\"cloudWatchLogGroupName\":\"/g\","
	    "\"cloudWatchStreamingEnabled\":true,"
	    "\"cloudWatchEncryptionEnabled\":\"false\",\"kmsKeyId\":\"k\","
	    "\"runAsEnabled\":false,\"runAsDefaultUser\":\"\","
	    "\"idleSessionTimeout\":\"20\",\"maxSessionDuration\":\"60\","
	    "\"shellProfile\":{\"linux\":\"cd ~\",\"windows\":\"\"}"),
	    "Session", NULL, NULL },
	{ PREFS(""), "Session", "JSON", NULL },
	{ PREFS("\"idleSessionTimeout\":\"0\""), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"idleSessionTimeout\":\"61\""), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"idleSessionTimeout\":5"), "Session", NULL, NULL },
	{ PREFS("\"maxSessionDuration\":\"1441\""), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"maxSessionDuration\":\"\""), "Session", NULL, NULL },
	{ PREFS("\"s3EncryptionEnabled\":\"yes\""), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"s3BucketName\":3"), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"shellProfile\":{\"mac\":\"x\"}"), "Session", NULL,
	    "InvalidDocumentContent" },
	{ PREFS("\"idleTimeout\":\"5\""), "Session", NULL,
	    "InvalidDocumentContent" },
	{ "{\"schemaVersion\":\"2.2\",\"sessionType\":\"Standard_Stream\"}",
	    "Session", NULL, "InvalidDocumentSchemaVersion" },
	{ "{\"schemaVersion\":\"1.0\",\"sessionType\":\"Shell\"}", "Session",
	    NULL, "InvalidDocumentContent" },
	{ "{\"schemaVersion\":\"1.0\",\"sessionType\":\"Port\",\"parameters\":"
	    "{\"portNumber\":{\"type\":\"String\"}},\"properties\":"
	    "{\"portNumber\":\"{{ portNumber }}\"}}", "Session", NULL, NULL },
	{ "{\"schemaVersion\":\"1.0\",\"sessionType\":\"Port\",\"parameters\":"
	    "{\"portNumber\":\"22\"}}", "Session", NULL,
	    "InvalidDocumentContent" },
	{ "schemaVersion: '1.0'\nsessionType: Standard_Stream\n", "Session",
	    "YAML", "InvalidDocumentContent" },
	{ "schemaVersion: '1.0'\n", "Session", NULL, "InvalidDocumentContent" },
	{ "[1,2]", "Session", NULL, "InvalidDocumentContent" },
	{ "{\"schemaVersion\":\"2.2\",\"mainSteps\":[]}", "Command", NULL,
	    NULL },
	{ "{\"mainSteps\":[]}", "Command", NULL, "InvalidDocumentContent" },
};

static void
test_validate_table(void **state)
{
	const char *code;
	struct dh_err e;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *v = &vcases[i];

		code = NULL;
		r = gw_docs_validate(v->content, strlen(v->content), v->type,
		    v->format, &code, &e);
		if (v->code == NULL && r != DH_OK)
			fail_msg("case %zu: refused: %s", i, e.msg);
		if (v->code != NULL && (r == DH_OK || strcmp(code, v->code) != 0))
			fail_msg("case %zu: want %s, got %s", i, v->code,
			    r == DH_OK ? "valid" : code);
	}
}

static void
test_validate_size(void **state)
{
	size_t n = GW_DOCS_MAX_CONTENT + 10;
	char *big = malloc(n + 1);
	const char *code;

	(void)state;
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(gw_docs_validate(big, n, "Session", NULL, &code, NULL),
	    DH_E_FORMAT);
	assert_string_equal(code, "MaxDocumentSizeExceeded");
	free(big);
}

/* ------------------------------------------------------------ handlers */

struct fx {
	char dir[64], db[96];
	struct gw_store *st;
	struct gw_principal who;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (gw_test_store_open("/tmp/gwdocsXXXXXX", f->dir, f->db, &f->st) != 0)
		return -1;
	f->who.kind = GW_AUTH_OPERATOR;
	snprintf(f->who.name, sizeof(f->who.name), "alice");
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

static const struct gw_ssm_op *
op(const char *name)
{
	size_t i;

	for (i = 0; i < gw_docs_n_ops; i++)
		if (strcmp(gw_docs_ops[i].name, name) == 0)
			return &gw_docs_ops[i];
	fail_msg("no op %s", name);
	return NULL;
}

/* Run op name on a request object; returns the error code or "" (ok). */
static const char *
run(struct fx *f, const char *name, cJSON *in, cJSON **body)
{
	static char code[64];
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;

	gw_test_ctx(&c, f->st, &f->who, NOW_MS);
	memset(&res, 0, sizeof(res));
	(void)op(name)->fn(&c, in, &res);
	cJSON_Delete(in);
	snprintf(code, sizeof(code), "%s", res.error_code != NULL ?
	    res.error_code : "");
	if (body != NULL) {
		*body = res.body;
		res.body = NULL;
	}
	gw_ssm_result_free(&res);
	return code;
}

static cJSON *
req(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cJSON *
req(const char *fmt, ...)
{
	char text[8192];
	cJSON *j = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_int_equal(dh_json_parse(text, strlen(text), sizeof(text), &j,
	    NULL), DH_OK);
	return j;
}

/* Request with a Content string member holding content. */
static cJSON *
with_content(const char *name, const char *type, const char *content,
    const char *extra_key, const char *extra)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "Name", name);
	if (type != NULL)
		cJSON_AddStringToObject(j, "DocumentType", type);
	cJSON_AddStringToObject(j, "Content", content);
	if (extra_key != NULL)
		cJSON_AddStringToObject(j, extra_key, extra);
	return j;
}

static const char *
sget(const cJSON *o, const char *path1, const char *key)
{
	const cJSON *v = path1 != NULL ? cJSON_GetObjectItem(o, path1) : o;

	v = cJSON_GetObjectItem(v, key);
	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

#define P1 PREFS("\"idleSessionTimeout\":\"5\",\"s3BucketName\":\"b\"")
#define P2 PREFS("\"idleSessionTimeout\":\"7\",\"maxSessionDuration\":\"9\"")

static void
test_document_lifecycle(void **state)
{
	struct fx *f = *state;
	cJSON *b = NULL;

	assert_string_equal(run(f, "CreateDocument", with_content(
	    GW_DOCS_PREFS, "Session", P1, NULL, NULL), &b), "");
	assert_string_equal(sget(b, "DocumentDescription", "Name"),
	    GW_DOCS_PREFS);
	assert_string_equal(sget(b, "DocumentDescription", "DocumentVersion"),
	    "1");
	assert_string_equal(sget(b, "DocumentDescription", "DocumentType"),
	    "Session");
	assert_string_equal(sget(b, "DocumentDescription", "Owner"),
	    "123456789012");
	assert_string_equal(sget(b, "DocumentDescription", "HashType"),
	    "Sha256");
	cJSON_Delete(b);
	assert_string_equal(run(f, "CreateDocument", with_content(
	    GW_DOCS_PREFS, "Session", P1, NULL, NULL), NULL),
	    "DocumentAlreadyExists");
	assert_string_equal(run(f, "CreateDocument", with_content(
	    "AWS-Mine", "Session", P1, NULL, NULL), NULL),
	    "ValidationException");
	assert_string_equal(run(f, "CreateDocument", with_content(
	    "x", "Session", P1, NULL, NULL), NULL), "ValidationException");
	assert_string_equal(run(f, "CreateDocument", with_content(
	    "Yaml-Doc", "Session", "schemaVersion: '1.0'", "DocumentFormat",
	    "YAML"), NULL), "InvalidDocumentContent");
	/* Update: needs $LATEST or the latest number; makes version 2 but the
	 * default stays 1. */
	assert_string_equal(run(f, "UpdateDocument", with_content(
	    GW_DOCS_PREFS, NULL, P2, "DocumentVersion", "$LATEST"), &b), "");
	assert_string_equal(sget(b, "DocumentDescription", "DocumentVersion"),
	    "2");
	assert_string_equal(sget(b, "DocumentDescription", "DefaultVersion"),
	    "1");
	assert_string_equal(sget(b, "DocumentDescription", "LatestVersion"),
	    "2");
	cJSON_Delete(b);
	assert_string_equal(run(f, "UpdateDocument", with_content(
	    GW_DOCS_PREFS, NULL, P2, "DocumentVersion", "2"), NULL),
	    "DuplicateDocumentContent");
	assert_string_equal(run(f, "UpdateDocument", with_content(
	    GW_DOCS_PREFS, NULL, P1, "DocumentVersion", "1"), NULL),
	    "InvalidDocumentVersion");
	assert_string_equal(run(f, "UpdateDocument", with_content(
	    "Nope-Doc", NULL, P1, "DocumentVersion", "$LATEST"), NULL),
	    "InvalidDocument");
	/* Get: default version unless asked. */
	assert_string_equal(run(f, "GetDocument", req("{\"Name\":\"%s\"}",
	    GW_DOCS_PREFS), &b), "");
	assert_string_equal(sget(b, NULL, "Content"), P1);
	assert_string_equal(sget(b, NULL, "DocumentFormat"), "JSON");
	cJSON_Delete(b);
	assert_string_equal(run(f, "GetDocument", req("{\"Name\":\"%s\","
	    "\"DocumentVersion\":\"$LATEST\"}", GW_DOCS_PREFS), &b), "");
	assert_string_equal(sget(b, NULL, "Content"), P2);
	cJSON_Delete(b);
	assert_string_equal(run(f, "GetDocument", req("{\"Name\":\"%s\","
	    "\"DocumentVersion\":\"9\"}", GW_DOCS_PREFS), NULL),
	    "InvalidDocumentVersion");
	assert_string_equal(run(f, "GetDocument", req("{\"Name\":\"Missing\"}"),
	    NULL), "InvalidDocument");
	assert_string_equal(run(f, "DescribeDocument", req("{\"Name\":\"%s\","
	    "\"DocumentVersion\":\"2\"}", GW_DOCS_PREFS), &b), "");
	assert_string_equal(sget(b, "Document", "DocumentVersion"), "2");
	cJSON_Delete(b);
	/* Default version. */
	assert_string_equal(run(f, "UpdateDocumentDefaultVersion", req(
	    "{\"Name\":\"%s\",\"DocumentVersion\":\"2\"}", GW_DOCS_PREFS), &b),
	    "");
	assert_string_equal(sget(b, "Description", "DefaultVersion"), "2");
	cJSON_Delete(b);
	/* Deleting the default version is refused; another version is not. */
	assert_string_equal(run(f, "DeleteDocument", req("{\"Name\":\"%s\","
	    "\"DocumentVersion\":\"2\"}", GW_DOCS_PREFS), NULL),
	    "InvalidDocumentOperation");
	assert_string_equal(run(f, "DeleteDocument", req("{\"Name\":\"%s\","
	    "\"DocumentVersion\":\"1\"}", GW_DOCS_PREFS), NULL), "");
	assert_string_equal(run(f, "DeleteDocument", req("{\"Name\":\"%s\"}",
	    GW_DOCS_PREFS), NULL), "");
	assert_string_equal(run(f, "GetDocument", req("{\"Name\":\"%s\"}",
	    GW_DOCS_PREFS), NULL), "InvalidDocument");
	/* Built-ins: readable, not writable. */
	assert_string_equal(run(f, "GetDocument", req(
	    "{\"Name\":\"AWS-StartPortForwardingSession\"}"), &b), "");
	assert_non_null(strstr(sget(b, NULL, "Content"), "LocalPortForwarding"));
	cJSON_Delete(b);
	assert_string_equal(run(f, "DeleteDocument", req(
	    "{\"Name\":\"AWS-StartSSHSession\"}"), NULL),
	    "InvalidDocumentOperation");
}

static void
test_list(void **state)
{
	struct fx *f = *state;
	const cJSON *ids;
	cJSON *b = NULL;
	char name[32];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "Mine-%d", i);
		assert_string_equal(run(f, "CreateDocument", with_content(name,
		    "Session", P1, NULL, NULL), NULL), "");
	}
	assert_string_equal(run(f, "ListDocuments", req("{\"Filters\":[{\"Key\":"
	    "\"Owner\",\"Values\":[\"Self\"]}],\"MaxResults\":2}"), &b), "");
	ids = cJSON_GetObjectItem(b, "DocumentIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 2);
	assert_string_equal(sget(cJSON_GetArrayItem(ids, 0), NULL, "Name"),
	    "Mine-0");
	assert_string_equal(sget(b, NULL, "NextToken"), "2");
	cJSON_Delete(b);
	assert_string_equal(run(f, "ListDocuments", req("{\"Filters\":[{\"Key\":"
	    "\"Owner\",\"Values\":[\"Self\"]}],\"MaxResults\":2,\"NextToken\":"
	    "\"4\"}"), &b), "");
	ids = cJSON_GetObjectItem(b, "DocumentIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 1);
	assert_null(cJSON_GetObjectItem(b, "NextToken"));
	cJSON_Delete(b);
	assert_string_equal(run(f, "ListDocuments", req("{\"DocumentFilterList\":"
	    "[{\"key\":\"Owner\",\"value\":\"Amazon\"}]}"), &b), "");
	ids = cJSON_GetObjectItem(b, "DocumentIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 4);
	cJSON_Delete(b);
	assert_string_equal(run(f, "ListDocuments", req("{\"Filters\":[{\"Key\":"
	    "\"Bogus\",\"Values\":[\"x\"]}]}"), NULL), "InvalidFilterKey");
}

static void
test_session_content(void **state)
{
	struct fx *f = *state;
	cJSON *c = NULL;
	const cJSON *in;

	/* No preferences: the defaults (idle 20). */
	assert_int_equal(gw_docs_session_content(f->st, NULL, &c, NULL), DH_OK);
	in = cJSON_GetObjectItem(c, "inputs");
	assert_string_equal(sget(in, NULL, "idleSessionTimeout"), "20");
	cJSON_Delete(c);
	/* Preferences: the latest version counts. */
	assert_string_equal(run(f, "CreateDocument", with_content(
	    GW_DOCS_PREFS, "Session", P1, NULL, NULL), NULL), "");
	assert_string_equal(run(f, "UpdateDocument", with_content(
	    GW_DOCS_PREFS, NULL, P2, "DocumentVersion", "$LATEST"), NULL), "");
	assert_int_equal(gw_docs_session_content(f->st, GW_DOCS_PREFS, &c,
	    NULL), DH_OK);
	in = cJSON_GetObjectItem(c, "inputs");
	assert_string_equal(sget(in, NULL, "idleSessionTimeout"), "7");
	cJSON_Delete(c);
	/* Another document gets the preference inputs merged in. */
	assert_int_equal(gw_docs_session_content(f->st,
	    "AWS-StartPortForwardingSession", &c, NULL), DH_OK);
	assert_string_equal(sget(c, NULL, "sessionType"), "Port");
	in = cJSON_GetObjectItem(c, "inputs");
	assert_string_equal(sget(in, NULL, "maxSessionDuration"), "9");
	cJSON_Delete(c);
	assert_int_equal(gw_docs_session_content(f->st, "Nope", &c, NULL),
	    DH_E_NOTFOUND);
	assert_string_equal(run(f, "CreateDocument", with_content("Cmd-Doc",
	    "Command", "{\"schemaVersion\":\"2.2\",\"mainSteps\":[]}", NULL,
	    NULL), NULL), "");
	assert_int_equal(gw_docs_session_content(f->st, "Cmd-Doc", &c, NULL),
	    DH_E_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_table),
		cmocka_unit_test(test_validate_size),
		cmocka_unit_test_setup_teardown(test_document_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_content, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("gw_docs", tests, NULL, NULL);
}
