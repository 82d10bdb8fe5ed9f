/*
 * awscall: performs one HTTP, AWS JSON 1.1 or S3 call given on the command
 * line with dh_http / dh_aws and prints the outcome as one JSON object on
 * stdout (rc, error text, status, attempts, AWS error fields, response
 * headers and body).  Integration tests drive the client through it against
 * scripted TLS peers and moto_server.  Credentials come from the standard
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables.
 *
 *   awscall [options] http METHOD URL
 *   awscall [options] json ENDPOINT SERVICE TARGET [JSON]
 *   awscall [options] s3 ENDPOINT METHOD [BUCKET [KEY]]
 *   awscall [options] endpoint SERVICE        (prints the resolved URL)
 *
 * Exit status: 0 when the call returned DH_OK, 1 otherwise, 2 on usage.
 */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_aws.h"
#include "dh_buf.h"
#include "dh_err.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_rsasig.h"

#define MAX_QUERY 16
#define MAX_BODY_FILE (64u * 1024 * 1024)

struct opts {
	struct dh_http_config http;
	const char *region;
	int anon;
	struct dh_http_hdrs headers;
	struct dh_aws_param query[MAX_QUERY];
	char *query_store[MAX_QUERY];
	size_t n_query;
	struct dh_buf body;
	int unsigned_payload;
	int content_md5;
	const char *out_file;
	struct dh_aws_endpoint override;
	int have_override;
	const char *rsa_key_file;  /* base64 PKCS#1 DER private key */
	const char *instance_id;
};

static void
usage(void)
{
	fputs("usage: awscall [--ca FILE] [--proxy URL] [--no-proxy LIST]\n"
	    "  [--connect-timeout-ms N] [--timeout-ms N] [--max-body N]\n"
	    "  [--attempts N] [--backoff-base-ms N] [--backoff-cap-ms N]\n"
	    "  [--region R] [--anon] [--header 'N: V']... [--query K[=V]]...\n"
	    "  [--body TEXT | --body-file F | --body-size N]\n"
	    "  [--unsigned-payload] [--content-md5] [--out FILE]\n"
	    "  [--override SERVICE=URL] [--debug]\n"
	    "  [--rsa-key FILE --instance-id mi-...]\n"
	    "  http METHOD URL | json ENDPOINT SERVICE TARGET [JSON] |\n"
	    "  s3 ENDPOINT METHOD [BUCKET [KEY]] | endpoint SERVICE\n", stderr);
}

static int
parse_num(const char *s, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
read_file(const char *path, struct dh_buf *b)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (dh_buf_put(b, chunk, n) != DH_OK) {
			rc = -1;
			break;
		}
	}
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

static int
add_header(struct opts *o, const char *line)
{
	const char *colon = strchr(line, ':');
	char name[256];
	size_t nl;

	if (colon == NULL || colon == line)
		return -1;
	nl = (size_t)(colon - line);
	if (nl >= sizeof(name))
		return -1;
	memcpy(name, line, nl);
	name[nl] = '\0';
	colon++;
	while (*colon == ' ')
		colon++;
	return dh_http_hdrs_add(&o->headers, name, colon) == DH_OK ? 0 : -1;
}

static int
add_query(struct opts *o, const char *kv)
{
	char *copy, *eq;

	if (o->n_query >= MAX_QUERY)
		return -1;
	copy = strdup(kv);
	if (copy == NULL)
		return -1;
	o->query_store[o->n_query] = copy;
	eq = strchr(copy, '=');
	if (eq != NULL)
		*eq++ = '\0';
	o->query[o->n_query].name = copy;
	o->query[o->n_query].value = eq;
	o->n_query++;
	return 0;
}

/* Parse options; returns the index of the first operand or -1. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	long long v;
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--anon") == 0) {
			o->anon = 1;
			continue;
		}
		if (strcmp(a, "--unsigned-payload") == 0) {
			o->unsigned_payload = 1;
			continue;
		}
		if (strcmp(a, "--content-md5") == 0) {
			o->content_md5 = 1;
			continue;
		}
		if (strcmp(a, "--debug") == 0) {
			dh_log_set_level(DH_LOG_DEBUG);
			continue;
		}
		if (val == NULL)
			return -1;
		i++;
		if (strcmp(a, "--ca") == 0) {
			o->http.ca_file = val;
		} else if (strcmp(a, "--proxy") == 0) {
			o->http.proxy = val;
		} else if (strcmp(a, "--no-proxy") == 0) {
			o->http.no_proxy = val;
		} else if (strcmp(a, "--region") == 0) {
			o->region = val;
		} else if (strcmp(a, "--rsa-key") == 0) {
			o->rsa_key_file = val;
		} else if (strcmp(a, "--instance-id") == 0) {
			o->instance_id = val;
		} else if (strcmp(a, "--out") == 0) {
			o->out_file = val;
		} else if (strcmp(a, "--header") == 0) {
			if (add_header(o, val) != 0)
				return -1;
		} else if (strcmp(a, "--query") == 0) {
			if (add_query(o, val) != 0)
				return -1;
		} else if (strcmp(a, "--override") == 0) {
			char *eq = strchr(val, '=');

			if (eq == NULL)
				return -1;
			*eq = '\0';
			o->override.service = val;
			o->override.url = eq + 1;
			o->have_override = 1;
		} else if (strcmp(a, "--body") == 0) {
			if (dh_buf_put_str(&o->body, val) != DH_OK)
				return -1;
		} else if (strcmp(a, "--body-file") == 0) {
			if (read_file(val, &o->body) != 0)
				return -1;
		} else if (strcmp(a, "--body-size") == 0) {
			if (parse_num(val, MAX_BODY_FILE, &v) != 0 ||
			    dh_buf_reserve(&o->body, (size_t)v) != DH_OK)
				return -1;
			memset(o->body.d + o->body.len, 'x', (size_t)v);
			o->body.len += (size_t)v;
			o->body.d[o->body.len] = '\0';
		} else {
			if (parse_num(val, 1LL << 40, &v) != 0)
				return -1;
			if (strcmp(a, "--connect-timeout-ms") == 0)
				o->http.connect_timeout_ms = (long)v;
			else if (strcmp(a, "--timeout-ms") == 0)
				o->http.timeout_ms = (long)v;
			else if (strcmp(a, "--max-body") == 0)
				o->http.max_body = (size_t)v;
			else if (strcmp(a, "--attempts") == 0)
				o->http.max_attempts = (int)v;
			else if (strcmp(a, "--backoff-base-ms") == 0)
				o->http.backoff_base_ms = (long)v;
			else if (strcmp(a, "--backoff-cap-ms") == 0)
				o->http.backoff_cap_ms = (long)v;
			else
				return -1;
		}
	}
	return i;
}

/* The hybrid-instance signer: RSA-PSS over the SigV4 string-to-sign. */
static int
rsa_signer(void *arg, const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err)
{
	return dh_rsasig_sign_request(arg, req, p, out, err);
}

static int
load_rsa_key(const char *path, struct dh_rsasig_key *k, struct dh_err *err)
{
	struct dh_buf text;
	int rc;

	dh_buf_init_secret(&text, DH_RSASIG_MAX_B64);
	if (read_file(path, &text) != 0) {
		rc = dh_err_set(err, DH_E_IO, "cannot read %s", path);
		goto out;
	}
	while (text.len > 0 && (text.d[text.len - 1] == '\n' ||
	    text.d[text.len - 1] == '\r'))
		text.len--;
	rc = dh_rsasig_load_private(k, (const char *)text.d, text.len, err);
out:
	dh_buf_free(&text);
	return rc;
}

static void
add_headers_json(cJSON *obj, const struct dh_http_hdrs *h)
{
	cJSON *hs = cJSON_AddObjectToObject(obj, "headers");
	char name[256];
	size_t i, j;

	if (hs == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		for (j = 0; h->v[i].name[j] != '\0' && j + 1 < sizeof(name);
		    j++)
			name[j] = (char)tolower((unsigned char)h->v[i].name[j]);
		name[j] = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(hs, name);
		cJSON_AddStringToObject(hs, name, h->v[i].value);
	}
}

static int
write_out(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (f == NULL)
		return -1;
	if (n > 0 && fwrite(p, 1, n, f) != n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct dh_http_client *hc = NULL;
	struct dh_aws_client ac;
	struct dh_http_request req;
	struct dh_http_response resp;
	struct dh_aws_error ae;
	struct dh_rsasig_key key;
	struct dh_err err;
	cJSON *out = NULL, *jresp = NULL;
	char *printed = NULL, *jtext = NULL;
	const char *mode;
	char url[DH_AWS_URL_MAX];
	size_t i;
	int first, nargs, rc = DH_E_ARG, status = 2;

	memset(&o, 0, sizeof(o));
	memset(&ae, 0, sizeof(ae));
	memset(&key, 0, sizeof(key));
	dh_err_clear(&err);
	dh_buf_init(&o.body, MAX_BODY_FILE);
	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	dh_log_set_ident("awscall");
	o.region = "us-east-1";
	first = parse_opts(argc, argv, &o);
	if (first < 0 || first >= argc) {
		usage();
		goto done;
	}
	mode = argv[first];
	nargs = argc - first - 1;
	if (strcmp(mode, "endpoint") == 0) {
		if (nargs != 1) {
			usage();
			goto done;
		}
		rc = dh_aws_endpoint_url(o.have_override ? &o.override : NULL,
		    o.have_override ? 1 : 0, argv[first + 1], o.region, url,
		    sizeof(url), &err);
		if (rc == DH_OK)
			printf("%s\n", url);
		else
			fprintf(stderr, "awscall: %s\n", err.msg);
		status = rc == DH_OK ? 0 : 1;
		goto done;
	}
	rc = dh_http_client_new(&o.http, &hc, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "awscall: %s\n", err.msg);
		status = 1;
		goto done;
	}
	dh_aws_client_init(&ac, hc);
	ac.max_response = o.http.max_body;
	ac.creds.access_key = getenv("AWS_ACCESS_KEY_ID");
	ac.creds.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	ac.creds.session_token = getenv("AWS_SESSION_TOKEN");
	if (o.anon)
		ac.auth = DH_AWS_AUTH_ANON;
	if (o.rsa_key_file != NULL) {
		if (o.instance_id == NULL ||
		    load_rsa_key(o.rsa_key_file, &key, &err) != DH_OK) {
			fprintf(stderr, "awscall: %s\n", o.instance_id == NULL ?
			    "--rsa-key needs --instance-id" : err.msg);
			status = 2;
			goto done;
		}
		ac.auth = DH_AWS_AUTH_CUSTOM;
		ac.signer = rsa_signer;
		ac.signer_arg = &key;
		ac.creds.access_key = o.instance_id;
		ac.creds.secret_key = NULL;
	}
	if (strcmp(mode, "http") == 0 && nargs == 2) {
		req.method = argv[first + 1];
		req.url = argv[first + 2];
		for (i = 0; i < o.headers.n; i++)
			dh_http_hdrs_add(&req.headers, o.headers.v[i].name,
			    o.headers.v[i].value);
		req.body = o.body.d;
		req.body_len = o.body.len;
		rc = dh_http_do(hc, &req, &resp, &err);
	} else if (strcmp(mode, "json") == 0 && (nargs == 3 || nargs == 4)) {
		const char *body = nargs == 4 ? argv[first + 4] :
		    o.body.len > 0 ? dh_buf_cstr(&o.body) : "{}";

		rc = dh_aws_json_call_raw(&ac, argv[first + 1],
		    argv[first + 2], o.region, argv[first + 3], body,
		    strlen(body), &jresp, &ae, &err);
	} else if (strcmp(mode, "s3") == 0 && nargs >= 2 && nargs <= 4) {
		struct dh_aws_s3_request sr;

		memset(&sr, 0, sizeof(sr));
		sr.method = argv[first + 2];
		sr.bucket = nargs >= 3 ? argv[first + 3] : NULL;
		sr.key = nargs >= 4 ? argv[first + 4] : NULL;
		sr.query = o.query;
		sr.n_query = o.n_query;
		sr.headers = &o.headers;
		sr.body = o.body.d;
		sr.body_len = o.body.len;
		sr.payload = o.unsigned_payload ? DH_AWS_PAYLOAD_UNSIGNED :
		    DH_AWS_PAYLOAD_SIGNED;
		sr.content_md5 = o.content_md5;
		rc = dh_aws_s3_call(&ac, argv[first + 1], o.region, &sr, &resp,
		    &ae, &err);
	} else {
		usage();
		goto done;
	}
	out = cJSON_CreateObject();
	if (out == NULL) {
		status = 1;
		goto done;
	}
	cJSON_AddNumberToObject(out, "rc", rc);
	cJSON_AddStringToObject(out, "rc_name", dh_strerror(rc));
	cJSON_AddStringToObject(out, "error", rc != DH_OK ? err.msg : "");
	cJSON_AddNumberToObject(out, "status",
	    (double)(ae.http_status != 0 ? ae.http_status : resp.status));
	cJSON_AddNumberToObject(out, "attempts",
	    ae.attempts != 0 ? ae.attempts : resp.attempts);
	cJSON_AddStringToObject(out, "code", ae.code);
	cJSON_AddStringToObject(out, "message", ae.message);
	cJSON_AddStringToObject(out, "request_id", ae.request_id);
	add_headers_json(out, &resp.headers);
	if (jresp != NULL) {
		jtext = cJSON_PrintUnformatted(jresp);
		cJSON_AddStringToObject(out, "body", jtext != NULL ? jtext : "");
		cJSON_AddItemReferenceToObject(out, "json", jresp);
	} else {
		cJSON_AddStringToObject(out, "body", dh_buf_cstr(&resp.body));
	}
	cJSON_AddNumberToObject(out, "body_len", (double)resp.body.len);
	if (o.out_file != NULL && write_out(o.out_file, resp.body.d,
	    resp.body.len) != 0)
		fprintf(stderr, "awscall: cannot write %s\n", o.out_file);
	printed = cJSON_PrintUnformatted(out);
	if (printed != NULL)
		printf("%s\n", printed);
	status = rc == DH_OK ? 0 : 1;
done:
	free(printed);
	free(jtext);
	cJSON_Delete(out);
	cJSON_Delete(jresp);
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
	dh_http_client_free(hc);
	dh_rsasig_key_free(&key);
	for (i = 0; i < o.n_query; i++)
		free(o.query_store[i]);
	dh_http_hdrs_free(&o.headers);
	dh_buf_free(&o.body);
	return status;
}
