/*
 * Unit tests for dh_aws: the service-error parser (JSON 1.1 bodies, S3 and
 * query-style XML, headers, hostile input), the endpoint resolver, argument
 * checks, and the request each call builds, observed through a custom
 * signer hook that records what it would sign and then stops the call
 * before any network traffic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "dh_aws.h"
#include "dh_err.h"
#include "dh_hash.h"
#include "dh_http.h"

static void
test_parse_error_table(void **state)
{
	static const struct {
		int status;
		const char *body;
		int want_rc;
		const char *code, *message, *request_id;
	} t[] = {
		{ 400, "{\"__type\":\"com.amazonaws.ssm#InvalidInstanceId\","
		  "\"message\":\"dummy error\"}", DH_OK, "InvalidInstanceId",
		  "dummy error", "" },
		{ 400, "{\"__type\":\"ValidationException\",\"Message\":\"M\"}",
		  DH_OK, "ValidationException", "M", "" },
		{ 400, "  {\"__type\":\"a#b#ThrottlingException\"}", DH_OK,
		  "ThrottlingException", "", "" },
		{ 400, "{\"code\":\"BadRequestException\",\"message\":\"m\"}",
		  DH_OK, "BadRequestException", "m", "" },
		{ 400, "{\"message\":\"no type\"}", DH_E_FORMAT, "400",
		  "no type", "" },
		{ 500, "{\"__type\":42}", DH_E_FORMAT, "500",
		  "Internal Server Error", "" },
		{ 400, "[1,2,3]", DH_E_FORMAT, "400", "Bad Request", "" },
		{ 400, "{\"__type\":\"#\"}", DH_E_FORMAT, "400", "Bad Request",
		  "" },
		{ 404, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
		  "NoSuchKey</Code><Message>The specified key does not exist."
		  "</Message><Key>k</Key><RequestId>R1</RequestId><HostId>h"
		  "</HostId></Error>", DH_OK, "NoSuchKey",
		  "The specified key does not exist.", "R1" },
		{ 403, "<ErrorResponse><Errors><Error><Type>Sender</Type><Code>"
		  "SignatureDoesNotMatch</Code><Message>sig</Message></Error>"
		  "</Errors><RequestId>Q1</RequestId></ErrorResponse>", DH_OK,
		  "SignatureDoesNotMatch", "sig", "Q1" },
		{ 400, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/"
		  "2010-05-08/\"><Error><Code>NoSuchEntity</Code><Message>x"
		  "</Message></Error></ErrorResponse>", DH_OK, "NoSuchEntity",
		  "x", "" },
		{ 400, "\xef\xbb\xbf<Error><Code> SlowDown </Code></Error>",
		  DH_OK, "SlowDown", "", "" },
		/* Only the first <Error>'s fields. */
		{ 400, "<R><Error><Code>A</Code></Error><Error><Code>B</Code>"
		  "<Message>b</Message></Error></R>", DH_OK, "A", "", "" },
		/* Code outside an <Error> does not count. */
		{ 400, "<Other><Code>X</Code></Other>", DH_E_FORMAT, "400",
		  "Bad Request", "" },
		/* Truncated XML keeps what was complete. */
		{ 400, "<Error><Code>Truncated</Code><Message>cut", DH_OK,
		  "Truncated", "", "" },
		{ 400, "<Error><Code>Open", DH_E_FORMAT, "400", "Bad Request",
		  "" },
		{ 500, "<html><body>Internal error</body></html>", DH_E_FORMAT,
		  "500", "Internal Server Error", "" },
		{ 404, "", DH_E_FORMAT, "404", "Not Found", "" },
		{ 403, NULL, DH_E_FORMAT, "403", "Forbidden", "" },
		{ 418, "teapot", DH_E_FORMAT, "418", "HTTP error", "" },
		/* Control bytes never survive into the fields. */
		{ 400, "{\"__type\":\"Bad\\nCode\",\"message\":\"l1\\r\\nl2\"}",
		  DH_OK, "Bad?Code", "l1??l2", "" },
	};
	struct dh_aws_error e;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = dh_aws_parse_error(t[i].status, NULL, t[i].body,
		    t[i].body != NULL ? strlen(t[i].body) : 0, &e);
		if (rc != t[i].want_rc || strcmp(e.code, t[i].code) != 0 ||
		    strcmp(e.message, t[i].message) != 0 ||
		    strcmp(e.request_id, t[i].request_id) != 0 ||
		    e.http_status != t[i].status)
			fail_msg("row %zu: rc %d code '%s' message '%s' "
			    "rid '%s'", i, rc, e.code, e.message,
			    e.request_id);
	}
}

static void
test_parse_error_headers(void **state)
{
	struct dh_http_hdrs h;
	struct dh_aws_error e;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(dh_http_hdrs_set(&h, "x-amzn-ErrorType",
	    "AccessDeniedException:http://internal.amazon.com/coral/"), DH_OK);
	assert_int_equal(dh_http_hdrs_set(&h, "X-Amzn-RequestId", "abc-123"),
	    DH_OK);
	assert_int_equal(dh_aws_parse_error(403, &h, "", 0, &e), DH_OK);
	assert_string_equal(e.code, "AccessDeniedException");
	assert_string_equal(e.request_id, "abc-123");
	/* The body's code wins over the header. */
	assert_int_equal(dh_aws_parse_error(400, &h,
	    "{\"__type\":\"FromBody\"}", 21, &e), DH_OK);
	assert_string_equal(e.code, "FromBody");
	dh_http_hdrs_free(&h);
	assert_int_equal(dh_http_hdrs_set(&h, "x-amz-request-id", "S3RID"),
	    DH_OK);
	assert_int_equal(dh_aws_parse_error(404, &h, NULL, 0, &e),
	    DH_E_FORMAT);
	assert_string_equal(e.code, "404");
	assert_string_equal(e.request_id, "S3RID");
	dh_http_hdrs_free(&h);
}

static void
test_parse_error_hostile_xml(void **state)
{
	static const char laughs[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
	    "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
	    "<Error><Code>&c;</Code></Error>";
	static const char xxe[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
	struct dh_aws_error e;
	char *deep, *big;
	size_t i, n;

	(void)state;
	assert_int_equal(dh_aws_parse_error(400, NULL, laughs, strlen(laughs),
	    &e), DH_E_FORMAT);
	assert_string_equal(e.code, "400");
	assert_int_equal(dh_aws_parse_error(400, NULL, xxe, strlen(xxe), &e),
	    DH_E_FORMAT);
	assert_null(strstr(e.code, "root"));
	/* An <Error> nested deeper than the parser follows is not read. */
	n = 20 * 3 + 20 * 4 + 64;
	deep = malloc(n);
	assert_non_null(deep);
	deep[0] = '\0';
	for (i = 0; i < 20; i++)
		strncat(deep, "<a>", n - strlen(deep) - 1);
	strncat(deep, "<Error><Code>Deep</Code></Error>", n - strlen(deep) - 1);
	for (i = 0; i < 20; i++)
		strncat(deep, "</a>", n - strlen(deep) - 1);
	assert_int_equal(dh_aws_parse_error(400, NULL, deep, strlen(deep), &e),
	    DH_E_FORMAT);
	free(deep);
	/* An over-long code is truncated, still terminated. */
	big = malloc(4096);
	assert_non_null(big);
	memcpy(big, "<Error><Code>", 13);
	memset(big + 13, 'C', 3000);
	memcpy(big + 3013, "</Code></Error>", 16);
	assert_int_equal(dh_aws_parse_error(400, NULL, big, strlen(big), &e),
	    DH_OK);
	assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
	free(big);
	/* Bodies beyond the error ceiling are not parsed. */
	n = DH_AWS_MAX_ERROR_BODY + 100;
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"__type\":\"X\"", 13);
	big[n - 1] = '}';
	assert_int_equal(dh_aws_parse_error(400, NULL, big, n, &e),
	    DH_E_FORMAT);
	free(big);
}

static void
test_endpoint_url(void **state)
{
	static const struct dh_aws_endpoint ov[] = {
		{ "ssm", "https://127.0.0.1:8443/" },
		{ "s3", "https://s3.internal:9000" },
		{ "bad", "http://plain.example/" },
		{ "query", "https://h/?x=1" },
	};
	char out[256];
	struct dh_err err;

	(void)state;
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "ssm", "us-east-1", out,
	    sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://ssm.us-east-1.amazonaws.com");
	assert_int_equal(dh_aws_endpoint_url(ov, 4, "ec2messages",
	    "eu-west-3", out, sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://ec2messages.eu-west-3.amazonaws.com");
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "s3", "eu-central-1",
	    out, sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://s3.eu-central-1.amazonaws.com");
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "logs", "cn-north-1",
	    out, sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://logs.cn-north-1.amazonaws.com.cn");
	assert_int_equal(dh_aws_endpoint_url(ov, 4, "ssm", "us-east-1", out,
	    sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://127.0.0.1:8443");
	assert_int_equal(dh_aws_endpoint_url(ov, 4, "s3", "x", out,
	    sizeof(out), &err), DH_OK);
	assert_string_equal(out, "https://s3.internal:9000");
	assert_int_equal(dh_aws_endpoint_url(ov, 4, "bad", "us-east-1", out,
	    sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(ov, 4, "query", "us-east-1", out,
	    sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "SSM", "us-east-1", out,
	    sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "ssm", "us-east-1/x",
	    out, sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "ssm", "", out,
	    sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "ssm", "evil.com#",
	    out, sizeof(out), &err), DH_E_ARG);
	assert_int_equal(dh_aws_endpoint_url(NULL, 0, "ssm", "us-east-1", out,
	    10, &err), DH_E_ARG);
}

/* What the custom signer saw; it then stops the call with DH_E_CRYPTO. */
struct seen {
	int calls;
	char method[16];
	char path[256];
	char query[256];
	char host[128];
	char target[128];
	char content_type[128];
	char payload_hash[80];
	char body[256];
	char access_key[64];
	char service[32];
	char region[32];
	unsigned flags;
	size_t n_headers;
	int has_auth;
};

static void
copy_opt(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s != NULL ? s : "(null)");
}

static int
recording_signer(void *arg, const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err)
{
	struct seen *s = arg;
	size_t i;

	(void)out;
	s->calls++;
	copy_opt(s->method, sizeof(s->method), req->method);
	copy_opt(s->path, sizeof(s->path), req->path);
	copy_opt(s->query, sizeof(s->query), req->query);
	copy_opt(s->payload_hash, sizeof(s->payload_hash), req->payload_hash);
	snprintf(s->body, sizeof(s->body), "%.*s", (int)req->body_len,
	    req->body != NULL ? (const char *)req->body : "");
	copy_opt(s->access_key, sizeof(s->access_key), p->creds->access_key);
	copy_opt(s->service, sizeof(s->service), p->service);
	copy_opt(s->region, sizeof(s->region), p->region);
	s->flags = p->flags;
	s->n_headers = req->n_headers;
	s->host[0] = s->target[0] = s->content_type[0] = '\0';
	s->has_auth = 0;
	for (i = 0; i < req->n_headers; i++) {
		const char *n = req->headers[i].name, *v = req->headers[i].value;

		if (strcasecmp(n, "Host") == 0)
			copy_opt(s->host, sizeof(s->host), v);
		else if (strcasecmp(n, "X-Amz-Target") == 0)
			copy_opt(s->target, sizeof(s->target), v);
		else if (strcasecmp(n, "Content-Type") == 0)
			copy_opt(s->content_type, sizeof(s->content_type), v);
		else if (strcasecmp(n, "Authorization") == 0)
			s->has_auth = 1;
	}
	return dh_err_set(err, DH_E_CRYPTO, "recording signer stops here");
}

static struct dh_http_client *
new_http(void)
{
	struct dh_http_config cfg;
	struct dh_http_client *c = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_attempts = 1;
	assert_int_equal(dh_http_client_new(&cfg, &c, NULL), DH_OK);
	return c;
}

static void
test_json_call_builds_request(void **state)
{
	struct dh_http_client *h = new_http();
	struct dh_aws_client c;
	struct dh_aws_error ae;
	struct dh_err err;
	struct seen s;
	cJSON *req, *resp = NULL;

	(void)state;
	memset(&s, 0, sizeof(s));
	dh_aws_client_init(&c, h);
	c.auth = DH_AWS_AUTH_CUSTOM;
	c.signer = recording_signer;
	c.signer_arg = &s;
	c.creds.access_key = "mi-0123456789abcdef0";
	req = cJSON_CreateObject();
	assert_non_null(cJSON_AddStringToObject(req, "Fingerprint", "f"));
	assert_int_equal(dh_aws_json_call(&c, "https://SSM.Example:8443", "ssm",
	    "eu-west-1", "AmazonSSM.RequestManagedInstanceRoleToken", req,
	    &resp, &ae, &err), DH_E_CRYPTO);
	assert_null(resp);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.method, "POST");
	assert_string_equal(s.path, "/");
	assert_string_equal(s.query, "");
	assert_string_equal(s.host, "ssm.example:8443");
	assert_string_equal(s.target,
	    "AmazonSSM.RequestManagedInstanceRoleToken");
	assert_string_equal(s.content_type, "application/x-amz-json-1.1");
	assert_string_equal(s.body, "{\"Fingerprint\":\"f\"}");
	assert_string_equal(s.payload_hash, "(null)");
	assert_string_equal(s.access_key, "mi-0123456789abcdef0");
	assert_string_equal(s.service, "ssm");
	assert_string_equal(s.region, "eu-west-1");
	assert_int_equal(s.flags, 0);
	assert_int_equal(s.n_headers, 3);
	assert_int_equal(s.has_auth, 0);
	assert_non_null(strstr(err.msg, "recording signer"));
	/* A NULL request posts "{}"; an endpoint path is kept. */
	assert_int_equal(dh_aws_json_call(&c, "https://h/base/", "logs",
	    "us-east-1", "Logs_20140328.DescribeLogGroups", NULL, &resp, &ae,
	    &err), DH_E_CRYPTO);
	assert_string_equal(s.body, "{}");
	assert_string_equal(s.path, "/base/");
	assert_string_equal(s.host, "h");
	cJSON_Delete(req);
	dh_http_client_free(h);
}

static void
test_s3_call_builds_request(void **state)
{
	static const struct dh_aws_param q[] = {
		{ "partNumber", "2" }, { "uploadId", "a/b+c d" },
	};
	static const struct dh_aws_param uploads[] = { { "uploads", NULL } };
	struct dh_http_client *h = new_http();
	struct dh_http_response resp;
	struct dh_aws_s3_request r;
	struct dh_aws_client c;
	struct dh_err err;
	struct seen s;
	char hex[65];

	(void)state;
	memset(&s, 0, sizeof(s));
	dh_aws_client_init(&c, h);
	c.auth = DH_AWS_AUTH_CUSTOM;
	c.signer = recording_signer;
	c.signer_arg = &s;
	c.creds.access_key = "AKID";
	dh_http_response_init(&resp);
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.bucket = "hybrid-bucket";
	r.key = "run/a b+c~d.txt";
	r.query = q;
	r.n_query = 2;
	r.body = "part";
	r.body_len = 4;
	r.payload = DH_AWS_PAYLOAD_UNSIGNED;
	assert_int_equal(dh_aws_s3_call(&c, "https://127.0.0.1:9000/", "us-east-1",
	    &r, &resp, NULL, &err), DH_E_CRYPTO);
	assert_string_equal(s.method, "PUT");
	assert_string_equal(s.path, "/hybrid-bucket/run/a%20b%2Bc~d.txt");
	assert_string_equal(s.query, "partNumber=2&uploadId=a%2Fb%2Bc%20d");
	assert_string_equal(s.host, "127.0.0.1:9000");
	assert_string_equal(s.payload_hash, "UNSIGNED-PAYLOAD");
	assert_string_equal(s.service, "s3");
	assert_int_equal(s.flags, DH_SIGV4_S3);
	/* Signed payload: the real hash, the empty hash without a body. */
	r.payload = DH_AWS_PAYLOAD_SIGNED;
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_CRYPTO);
	dh_sha256_hex("part", 4, hex);
	assert_string_equal(s.payload_hash, hex);
	r.method = "POST";
	r.body = NULL;
	r.body_len = 0;
	r.query = uploads;
	r.n_query = 1;
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_CRYPTO);
	assert_string_equal(s.payload_hash, DH_SIGV4_EMPTY_SHA256);
	assert_string_equal(s.query, "uploads");
	/* Bucket-level and service-level requests. */
	r.query = NULL;
	r.n_query = 0;
	r.key = NULL;
	r.method = "GET";
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_CRYPTO);
	assert_string_equal(s.path, "/hybrid-bucket");
	r.bucket = NULL;
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_CRYPTO);
	assert_string_equal(s.path, "/");
	dh_http_response_free(&resp);
	dh_http_client_free(h);
}

static void
test_call_argument_checks(void **state)
{
	static const struct dh_aws_param noname[] = { { "", "v" } };
	struct dh_http_client *h = new_http();
	struct dh_http_response resp;
	struct dh_aws_s3_request r;
	struct dh_aws_client c;
	struct dh_err err;
	cJSON *out = NULL;

	(void)state;
	dh_http_response_init(&resp);
	dh_aws_client_init(&c, h);
	/* SigV4 without credentials. */
	assert_int_equal(dh_aws_json_call_raw(&c, "https://h", "ssm",
	    "us-east-1", "T", "{}", 2, &out, NULL, &err), DH_E_ARG);
	c.creds.access_key = "AKID";
	c.creds.secret_key = "secret";
	assert_int_equal(dh_aws_json_call_raw(&c, "http://h", "ssm",
	    "us-east-1", "T", "{}", 2, &out, NULL, &err), DH_E_ARG);
	assert_null(strstr(err.msg, "secret"));
	assert_int_equal(dh_aws_json_call_raw(&c, NULL, "ssm", "us-east-1",
	    "T", "{}", 2, &out, NULL, &err), DH_E_ARG);
	c.auth = DH_AWS_AUTH_CUSTOM;
	assert_int_equal(dh_aws_json_call_raw(&c, "https://h", "ssm",
	    "us-east-1", "T", "{}", 2, &out, NULL, &err), DH_E_ARG);
	c.auth = DH_AWS_AUTH_SIGV4;
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.bucket = "b";
	r.query = noname;
	r.n_query = 1;
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_ARG);
	r.n_query = 0;
	assert_int_equal(dh_aws_s3_call(&c, "https://h/?x=1", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_ARG);
	r.body_len = 3;
	assert_int_equal(dh_aws_s3_call(&c, "https://h", "us-east-1", &r,
	    &resp, NULL, &err), DH_E_ARG);
	assert_null(out);
	dh_http_response_free(&resp);
	dh_http_client_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_error_table),
		cmocka_unit_test(test_parse_error_headers),
		cmocka_unit_test(test_parse_error_hostile_xml),
		cmocka_unit_test(test_endpoint_url),
		cmocka_unit_test(test_json_call_builds_request),
		cmocka_unit_test(test_s3_call_builds_request),
		cmocka_unit_test(test_call_argument_checks),
	};

	return cmocka_run_group_tests_name("dh_aws", tests, NULL, NULL);
}
