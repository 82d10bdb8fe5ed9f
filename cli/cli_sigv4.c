/*
 * cli_sigv4: "deckhand sigv4 sign" and "deckhand sigv4 verify".  Both read a
 * raw HTTP/1.1 request on stdin (parsed by dh_sigv4_parse_http) and print
 * clearly separated sections, so a signature mismatch can be traced to the
 * exact canonical-request line that differs.  Credentials default to the
 * usual AWS_* environment variables.
 */
#include "cli_sigv4.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_rsasig.h"
#include "dh_sigv4.h"
#include "dh_time.h"

#define STDIN_MAX (64u * 1024 * 1024)

struct opts {
	const char *access_key;
	const char *secret_key;
	const char *token;
	const char *region;
	const char *service;
	const char *date;
	const char *public_key;
	long max_skew;
	int no_normalize;
	int unsigned_payload;
	int all_headers;
	int s3;
};

void
cli_sigv4_usage(void)
{
	printf(
"usage: deckhand sigv4 sign --access-key AK --secret-key SK [--token T]\n"
"           --region R --service S [--date YYYYMMDDTHHMMSSZ]\n"
"           [--no-normalize] [--unsigned-payload] [--all-headers] < request\n"
"       deckhand sigv4 verify [--secret-key SK | --public-key B64SPKI]\n"
"           [--region R] [--service S] [--s3] [--no-normalize]\n"
"           [--now YYYYMMDDTHHMMSSZ] [--max-skew SECONDS] < signed-request\n"
"\n"
"sign: reads a raw HTTP/1.1 request on stdin and prints the canonical\n"
"request, the string to sign and the signed request.  Defaults come from\n"
"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION\n"
"(or AWS_DEFAULT_REGION).  The time is --date, else the request's\n"
"X-Amz-Date, else now.  Service s3 signs as S3 does (no path normalisation\n"
"or re-encoding, X-Amz-Content-SHA256 added).  When the input already has an\n"
"Authorization header only its SignedHeaders are signed again (so captured\n"
"requests reproduce), unless --all-headers.\n"
"\n"
"verify: checks the signature of a signed request with the secret key (or,\n"
"for mi-... credentials, the instance's base64 SPKI public key) and prints\n"
"the rebuilt canonical request and string to sign.  Skew is checked against\n"
"--now (default: the current time).\n"
"\n"
"exit status: 0 ok, 1 signature does not verify, 2 usage or parse error\n");
}

static int
read_stdin(struct dh_buf *in)
{
	unsigned char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (dh_buf_put(in, chunk, n) != DH_OK)
			return -1;
	return ferror(stdin) ? -1 : 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o, int verify)
{
	static const struct option lopts[] = {
		{ "access-key", required_argument, NULL, 'a' },
		{ "secret-key", required_argument, NULL, 'k' },
		{ "token", required_argument, NULL, 't' },
		{ "region", required_argument, NULL, 'r' },
		{ "service", required_argument, NULL, 's' },
		{ "date", required_argument, NULL, 'd' },
		{ "now", required_argument, NULL, 'n' },
		{ "public-key", required_argument, NULL, 'p' },
		{ "max-skew", required_argument, NULL, 'm' },
		{ "no-normalize", no_argument, NULL, 'N' },
		{ "unsigned-payload", no_argument, NULL, 'U' },
		{ "all-headers", no_argument, NULL, 'A' },
		{ "s3", no_argument, NULL, '3' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->access_key = getenv("AWS_ACCESS_KEY_ID");
	o->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	o->token = getenv("AWS_SESSION_TOKEN");
	o->region = getenv("AWS_REGION");
	if (o->region == NULL || o->region[0] == '\0')
		o->region = getenv("AWS_DEFAULT_REGION");
	if (verify) {
		o->region = NULL;
		o->access_key = NULL;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->access_key = optarg; break;
		case 'k': o->secret_key = optarg; break;
		case 't': o->token = optarg; break;
		case 'r': o->region = optarg; break;
		case 's': o->service = optarg; break;
		case 'd': case 'n': o->date = optarg; break;
		case 'p': o->public_key = optarg; break;
		case 'm':
			o->max_skew = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o->max_skew <= 0) {
				fprintf(stderr, "deckhand sigv4: --max-skew "
				    "needs a positive number of seconds\n");
				return -1;
			}
			break;
		case 'N': o->no_normalize = 1; break;
		case 'U': o->unsigned_payload = 1; break;
		case 'A': o->all_headers = 1; break;
		case '3': o->s3 = 1; break;
		case 'h': cli_sigv4_usage(); exit(0);
		default:
			fprintf(stderr, "deckhand sigv4: unknown or incomplete "
			    "option '%s'\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "deckhand sigv4: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

/* Read and parse the request on stdin; prints the reason on failure. */
static int
read_request(struct dh_buf *in, struct dh_sigv4_http *http)
{
	struct dh_err err;

	dh_err_clear(&err);
	if (read_stdin(in) != 0) {
		fprintf(stderr, "deckhand sigv4: cannot read stdin (over %u "
		    "bytes or read error)\n", STDIN_MAX);
		return -1;
	}
	if (dh_sigv4_parse_http(in->d, in->len, http, &err) != DH_OK) {
		fprintf(stderr, "deckhand sigv4: malformed request: %s\n",
		    err.msg);
		return -1;
	}
	return 0;
}

static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list, *e;

	while (*p != '\0') {
		e = p + strcspn(p, ";");
		if ((size_t)(e - p) == n && strncasecmp(p, name, n) == 0)
			return 1;
		p = *e == ';' ? e + 1 : e;
	}
	return 0;
}

static int
replaced(const char *name, const struct dh_sigv4_signed *s)
{
	size_t i;

	for (i = 0; i < s->n_add; i++)
		if (strcasecmp(name, s->add[i].name) == 0)
			return 1;
	return strcasecmp(name, "authorization") == 0;
}

static void
print_request(const struct dh_sigv4_http *h, const struct dh_sigv4_signed *s)
{
	size_t i;

	printf("%s %s%s%s %s\r\n", h->req.method, h->req.path,
	    h->req.query[0] != '\0' ? "?" : "", h->req.query, h->version);
	for (i = 0; i < h->req.n_headers; i++)
		if (!replaced(h->headers[i].name, s))
			printf("%s: %s\r\n", h->headers[i].name,
			    h->headers[i].value);
	for (i = 0; i < s->n_add; i++)
		printf("%s: %s\r\n", s->add[i].name, s->add[i].value);
	printf("\r\n");
	if (h->req.body_len > 0)
		fwrite(h->req.body, 1, h->req.body_len, stdout);
}

static int
cmd_sign(int argc, char **argv)
{
	struct opts o;
	struct dh_buf in;
	struct dh_sigv4_http http;
	struct dh_sigv4_header *sel = NULL;
	struct dh_sigv4_request req;
	struct dh_sigv4_creds creds;
	struct dh_sigv4_params p;
	struct dh_sigv4_signed s;
	struct dh_sigv4_auth prior;
	struct dh_err err;
	const char *d, *authz;
	size_t i, n = 0;
	int rc = 2;

	dh_buf_init(&in, STDIN_MAX);
	memset(&http, 0, sizeof(http));
	dh_sigv4_signed_init(&s);
	dh_err_clear(&err);
	if (parse_opts(argc, argv, &o, 0) != 0)
		goto out;
	if (o.access_key == NULL || o.secret_key == NULL || o.region == NULL ||
	    o.service == NULL) {
		fprintf(stderr, "deckhand sigv4 sign: --access-key, "
		    "--secret-key, --region and --service are required (or "
		    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)\n");
		goto out;
	}
	if (read_request(&in, &http) != 0)
		goto out;
	memset(&p, 0, sizeof(p));
	d = o.date != NULL ? o.date : dh_sigv4_header_get(&http.req,
	    "x-amz-date");
	if (d != NULL) {
		if (dh_time_parse_amz(d, &p.t) != DH_OK) {
			fprintf(stderr, "deckhand sigv4 sign: date '%s' is not "
			    "YYYYMMDDTHHMMSSZ\n", d);
			goto out;
		}
	} else {
		p.t = dh_time_now();
	}
	req = http.req;
	authz = dh_sigv4_header_get(&http.req, "authorization");
	if (authz != NULL && !o.all_headers &&
	    dh_sigv4_parse_authorization(authz, &prior, NULL) == DH_OK) {
		sel = calloc(http.req.n_headers + 1, sizeof(*sel));
		if (sel == NULL) {
			fprintf(stderr, "deckhand sigv4 sign: out of memory\n");
			goto out;
		}
		for (i = 0; i < http.req.n_headers; i++)
			if (in_list(prior.signed_headers, http.headers[i].name))
				sel[n++] = http.headers[i];
		req.headers = sel;
		req.n_headers = n;
	}
	creds.access_key = o.access_key;
	creds.secret_key = o.secret_key;
	creds.session_token = o.token;
	p.creds = &creds;
	p.region = o.region;
	p.service = o.service;
	if (strcmp(o.service, "s3") == 0)
		p.flags |= DH_SIGV4_S3;
	if (o.no_normalize)
		p.flags |= DH_SIGV4_NO_NORMALIZE;
	if (o.unsigned_payload) {
		req.payload_hash = DH_SIGV4_UNSIGNED_PAYLOAD;
		p.flags |= DH_SIGV4_ADD_CONTENT_SHA256;
	}
	if (dh_sigv4_sign(&req, &p, &s, &err) != DH_OK) {
		fprintf(stderr, "deckhand sigv4 sign: %s\n", err.msg);
		goto out;
	}
	printf("=== canonical request ===\n%s\n", dh_buf_cstr(
	    &s.canonical_request));
	printf("=== string to sign ===\n%s\n", dh_buf_cstr(&s.string_to_sign));
	printf("=== authorization ===\n%s\n", dh_buf_cstr(&s.authorization));
	printf("=== signed request ===\n");
	print_request(&http, &s);
	fflush(stdout);
	rc = 0;
out:
	dh_sigv4_signed_free(&s);
	free(sel);
	dh_sigv4_http_free(&http);
	dh_buf_free(&in);
	return rc;
}

static int
cmd_verify(int argc, char **argv)
{
	struct opts o;
	struct dh_buf in;
	struct dh_sigv4_http http;
	struct dh_sigv4_verify_opts vo;
	struct dh_sigv4_verify v;
	struct dh_rsasig_key key;
	struct dh_err err;
	int rc = 2, r;

	dh_buf_init(&in, STDIN_MAX);
	memset(&http, 0, sizeof(http));
	memset(&v, 0, sizeof(v));
	memset(&key, 0, sizeof(key));
	dh_err_clear(&err);
	if (parse_opts(argc, argv, &o, 1) != 0)
		goto out;
	if (o.secret_key == NULL && o.public_key == NULL) {
		fprintf(stderr, "deckhand sigv4 verify: --secret-key (or "
		    "AWS_SECRET_ACCESS_KEY) or --public-key is required\n");
		goto out;
	}
	memset(&vo, 0, sizeof(vo));
	vo.region = o.region;
	vo.service = o.service;
	vo.max_skew = o.max_skew;
	vo.now = dh_time_now();
	if (o.date != NULL && dh_time_parse_amz(o.date, &vo.now) != DH_OK) {
		fprintf(stderr, "deckhand sigv4 verify: --now '%s' is not "
		    "YYYYMMDDTHHMMSSZ\n", o.date);
		goto out;
	}
	if (o.s3 || (o.service != NULL && strcmp(o.service, "s3") == 0))
		vo.flags |= DH_SIGV4_S3;
	if (o.no_normalize)
		vo.flags |= DH_SIGV4_NO_NORMALIZE;
	if (o.public_key != NULL && dh_rsasig_load_public(&key, o.public_key,
	    strlen(o.public_key), &err) != DH_OK) {
		fprintf(stderr, "deckhand sigv4 verify: --public-key: %s\n",
		    err.msg);
		goto out;
	}
	if (read_request(&in, &http) != 0)
		goto out;
	r = dh_sigv4_verify_begin(&http.req, &vo, &v, &err);
	if (v.canonical_request.len > 0) {
		printf("=== canonical request ===\n%s\n",
		    dh_buf_cstr(&v.canonical_request));
		printf("=== string to sign ===\n%s\n",
		    dh_buf_cstr(&v.string_to_sign));
	}
	if (r == DH_OK) {
		if (key.pkey != NULL)
			r = dh_rsasig_verify_sigv4(&v, &key, &err);
		else
			r = dh_sigv4_verify_hmac(&v, o.secret_key, &err);
	}
	printf("=== result ===\n");
	if (r == DH_OK) {
		printf("OK access-key=%s scope=%s/%s/%s\n", v.auth.access_key,
		    v.auth.date8, v.auth.region, v.auth.service);
		rc = 0;
	} else {
		printf("FAIL %s: %s\n", dh_sigv4_fail_name(v.fail), err.msg);
		rc = 1;
	}
out:
	dh_rsasig_key_free(&key);
	dh_sigv4_verify_free(&v);
	dh_sigv4_http_free(&http);
	dh_buf_free(&in);
	return rc;
}

int
cli_sigv4_main(int argc, char **argv)
{
	if (argc < 2) {
		cli_sigv4_usage();
		return 2;
	}
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		cli_sigv4_usage();
		return 0;
	}
	fprintf(stderr, "deckhand sigv4: unknown subcommand '%s' (sign, "
	    "verify)\n", argv[1]);
	return 2;
}
