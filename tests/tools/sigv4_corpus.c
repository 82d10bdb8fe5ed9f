/*
 * sigv4_corpus: driver for tests/integration/test_sigv4_oracle.py, exposing
 * dh_rsasig to the RSA-PSS oracle checks (openssl, Python cryptography).
 *   sigv4_corpus genkey                       -> "PRIV_B64\nPUB_B64\n"
 *   sigv4_corpus sign PRIVFILE < msg          -> base64 RSA-PSS signature
 *   sigv4_corpus verify PUB_B64 SIG_B64 < msg -> exit 0 valid, 1 invalid
 *   sigv4_corpus sign-request PRIVFILE INSTANCE_ID REGION SERVICE DATE [TOKEN]
 *       < raw HTTP request -> sections as "deckhand sigv4 sign" prints them
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_rsasig.h"
#include "dh_sigv4.h"
#include "dh_time.h"

static int
read_all(FILE *f, struct dh_buf *b)
{
	unsigned char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (dh_buf_put(b, chunk, n) != DH_OK)
			return -1;
	return ferror(f) ? -1 : 0;
}

static int
load_priv(const char *path, struct dh_rsasig_key *k, struct dh_err *err)
{
	struct dh_buf b;
	FILE *f;
	int r;

	dh_buf_init_secret(&b, DH_RSASIG_MAX_B64);
	f = fopen(path, "rb");
	if (f == NULL)
		return dh_err_set(err, DH_E_IO, "cannot open %s", path);
	r = read_all(f, &b) == 0 ? DH_OK : DH_E_IO;
	fclose(f);
	while (r == DH_OK && b.len > 0 && (b.d[b.len - 1] == '\n' ||
	    b.d[b.len - 1] == '\r'))
		b.len--;
	if (r == DH_OK)
		r = dh_rsasig_load_private(k, (const char *)b.d, b.len, err);
	dh_buf_free(&b);
	return r;
}

static int
cmd_sign_request(char **argv, int argc, struct dh_err *err)
{
	struct dh_buf in;
	struct dh_sigv4_http http;
	struct dh_sigv4_creds c;
	struct dh_sigv4_params p;
	struct dh_sigv4_signed s;
	struct dh_rsasig_key k;
	size_t i, j;
	int r, skip;

	memset(&k, 0, sizeof(k));
	memset(&http, 0, sizeof(http));
	dh_sigv4_signed_init(&s);
	dh_buf_init(&in, 1 << 24);
	r = load_priv(argv[2], &k, err);
	if (r == DH_OK)
		r = read_all(stdin, &in) == 0 ? DH_OK : DH_E_IO;
	if (r == DH_OK)
		r = dh_sigv4_parse_http(in.d, in.len, &http, err);
	memset(&p, 0, sizeof(p));
	if (r == DH_OK)
		r = dh_time_parse_amz(argv[6], &p.t);
	if (r == DH_OK) {
		c.access_key = argv[3];
		c.secret_key = NULL;
		c.session_token = argc > 7 ? argv[7] : NULL;
		p.creds = &c;
		p.region = argv[4];
		p.service = argv[5];
		r = dh_rsasig_sign_request(&k, &http.req, &p, &s, err);
	}
	if (r == DH_OK) {
		printf("=== canonical request ===\n%s\n",
		    dh_buf_cstr(&s.canonical_request));
		printf("=== string to sign ===\n%s\n",
		    dh_buf_cstr(&s.string_to_sign));
		printf("=== authorization ===\n%s\n",
		    dh_buf_cstr(&s.authorization));
		printf("=== signed request ===\n%s %s%s%s HTTP/1.1\r\n",
		    http.req.method, http.req.path,
		    http.req.query[0] != '\0' ? "?" : "", http.req.query);
		for (i = 0; i < http.req.n_headers; i++) {
			skip = 0;
			for (j = 0; j < s.n_add; j++)
				if (strcasecmp(s.add[j].name,
				    http.headers[i].name) == 0)
					skip = 1;
			if (!skip)
				printf("%s: %s\r\n", http.headers[i].name,
				    http.headers[i].value);
		}
		for (j = 0; j < s.n_add; j++)
			printf("%s: %s\r\n", s.add[j].name, s.add[j].value);
		printf("\r\n");
		fwrite(http.req.body, 1, http.req.body_len, stdout);
	}
	dh_sigv4_signed_free(&s);
	dh_sigv4_http_free(&http);
	dh_rsasig_key_free(&k);
	dh_buf_free(&in);
	return r;
}

int
main(int argc, char **argv)
{
	struct dh_rsasig_key k;
	struct dh_buf a, b;
	struct dh_err err;
	int r = DH_E_ARG;

	memset(&k, 0, sizeof(k));
	dh_err_clear(&err);
	dh_buf_init_secret(&a, 1 << 24);
	dh_buf_init(&b, 1 << 16);
	if (argc == 2 && strcmp(argv[1], "genkey") == 0) {
		r = dh_rsasig_generate(&k, &err);
		if (r == DH_OK)
			r = dh_rsasig_export_private(&k, &a, &err);
		if (r == DH_OK)
			r = dh_rsasig_export_public(&k, &b, &err);
		if (r == DH_OK)
			printf("%s\n%s\n", dh_buf_cstr(&a), dh_buf_cstr(&b));
	} else if (argc == 3 && strcmp(argv[1], "sign") == 0) {
		r = load_priv(argv[2], &k, &err);
		if (r == DH_OK)
			r = read_all(stdin, &a) == 0 ? DH_OK : DH_E_IO;
		if (r == DH_OK)
			r = dh_rsasig_sign(&k, a.d, a.len, &b, &err);
		if (r == DH_OK)
			printf("%s\n", dh_buf_cstr(&b));
	} else if (argc == 4 && strcmp(argv[1], "verify") == 0) {
		r = dh_rsasig_load_public(&k, argv[2], strlen(argv[2]), &err);
		if (r == DH_OK)
			r = read_all(stdin, &a) == 0 ? DH_OK : DH_E_IO;
		if (r == DH_OK)
			r = dh_rsasig_verify(&k, a.d, a.len, argv[3], &err);
		if (r == DH_E_AUTH) {
			printf("invalid: %s\n", err.msg);
			r = 1;
			goto out;
		}
	} else if ((argc == 7 || argc == 8) &&
	    strcmp(argv[1], "sign-request") == 0) {
		r = cmd_sign_request(argv, argc, &err);
	} else {
		fprintf(stderr, "usage: sigv4_corpus genkey | sign PRIVFILE | "
		    "verify PUB SIG | sign-request PRIVFILE ID REGION SERVICE "
		    "DATE [TOKEN]\n");
		r = 2;
		goto out;
	}
	if (r != DH_OK) {
		fprintf(stderr, "sigv4_corpus: %s (%s)\n", err.msg,
		    dh_strerror(r));
		r = 2;
	}
out:
	dh_rsasig_key_free(&k);
	dh_buf_free(&b);
	dh_buf_free(&a);
	return r;
}
