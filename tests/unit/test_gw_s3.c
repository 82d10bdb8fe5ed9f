/*
 * Unit tests for gw_s3's pure parts, as tables: path-style paths, bucket
 * names, query parameters, Range headers, CompleteMultipartUpload /
 * encryption / location XML, the multipart ETag, XML error rendering and
 * escaping, ListObjectsV2 pagination (prefix, delimiter, max-keys,
 * continuation), request classification and the upload spool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw_s3.h"

static void
test_paths(void **state)
{
	static const struct { const char *path; int r; const char *b, *k; }
	    cases[] = {
		{ "/", DH_OK, "", "" },
		{ "/bkt", DH_OK, "bkt", "" },
		{ "/bkt/", DH_OK, "bkt", "" },
		{ "/bkt/run/small.txt", DH_OK, "bkt", "run/small.txt" },
		{ "/bkt/a%20b/c%2Fd", DH_OK, "bkt", "a b/c/d" },
		{ "/bkt/a+b", DH_OK, "bkt", "a+b" },
		{ "/bkt/a//b/../c", DH_OK, "bkt", "a//b/../c" },
		{ "/bkt/%zz", DH_E_FORMAT, NULL, NULL },
		{ "/bkt/%2", DH_E_FORMAT, NULL, NULL },
		{ "/bkt/%00", DH_E_FORMAT, NULL, NULL },
		{ "bkt/key", DH_E_FORMAT, NULL, NULL },
	};
	char b[64], k[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = gw_s3_parse_path(cases[i].path, b, sizeof(b), k,
		    sizeof(k));

		if (r != cases[i].r)
			fail_msg("%s: %d", cases[i].path, r);
		if (r != DH_OK)
			continue;
		assert_string_equal(b, cases[i].b);
		assert_string_equal(k, cases[i].k);
	}
	assert_int_equal(gw_s3_parse_path("/b/0123456789", b, sizeof(b), k, 8),
	    DH_E_TOOBIG);
}

static void
test_buckets(void **state)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "hybrid-bucket", 1 }, { "abc", 1 }, { "a.b.c", 1 },
		{ "ab", 0 }, { "Upper", 0 }, { "-abc", 0 }, { "abc-", 0 },
		{ "a..b", 0 }, { "192.168.1.1", 0 }, { "under_score", 0 },
		{ ".tmp", 0 },
		{ "a234567890123456789012345678901234567890123456789012345678901"
		    "23", 1 },
		{ "a234567890123456789012345678901234567890123456789012345678901"
		    "234", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gw_s3_valid_bucket(cases[i].name) != cases[i].ok)
			fail_msg("%s", cases[i].name);
}

static void
test_query(void **state)
{
	char v[32];

	(void)state;
	assert_int_equal(gw_s3_query("uploads", "uploads", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(gw_s3_query("uploadId=X1&partNumber=2", "partNumber",
	    v, sizeof(v)), 1);
	assert_string_equal(v, "2");
	assert_int_equal(gw_s3_query("list-type=2&prefix=a%2Fb+c", "prefix", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "a/b c");
	assert_int_equal(gw_s3_query("uploadIdX=1", "uploadId", v, sizeof(v)),
	    0);
	assert_int_equal(gw_s3_query("", "x", v, sizeof(v)), 0);
	assert_int_equal(gw_s3_query(NULL, "x", v, sizeof(v)), 0);
	assert_int_equal(gw_s3_query("x=%g0", "x", v, sizeof(v)), -1);
	assert_int_equal(gw_s3_query("x=0123456789012345678901234567890123",
	    "x", v, sizeof(v)), -1);
}

static void
test_ranges(void **state)
{
	static const struct {
		const char *h; uint64_t size; int r; uint64_t a, b;
	} cases[] = {
		{ "bytes=0-4", 13, DH_OK, 0, 4 },
		{ "bytes=5-", 13, DH_OK, 5, 12 },
		{ "bytes=-3", 13, DH_OK, 10, 12 },
		{ "bytes=-30", 13, DH_OK, 0, 12 },
		{ "bytes=0-100", 13, DH_OK, 0, 12 },
		{ "bytes=13-", 13, DH_E_ARG, 0, 0 },
		{ "bytes=-0", 13, DH_E_ARG, 0, 0 },
		{ "bytes=5-4", 13, DH_E_NOTFOUND, 0, 0 },
		{ "bytes=0-1,3-4", 13, DH_E_NOTFOUND, 0, 0 },
		{ "items=0-1", 13, DH_E_NOTFOUND, 0, 0 },
		{ "bytes=x-1", 13, DH_E_NOTFOUND, 0, 0 },
		{ NULL, 13, DH_E_NOTFOUND, 0, 0 },
	};
	uint64_t a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = gw_s3_parse_range(cases[i].h, cases[i].size, &a, &b);

		if (r != cases[i].r)
			fail_msg("%s: %d", cases[i].h ? cases[i].h : "NULL", r);
		if (r == DH_OK) {
			assert_int_equal(a, cases[i].a);
			assert_int_equal(b, cases[i].b);
		}
	}
}

static void
test_complete_xml(void **state)
{
	static const char good[] = "<CompleteMultipartUpload xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\"><Part><ETag>\"2d1f09ac50cffff3c3c2"
	    "55d81a7b2729\"</ETag><PartNumber>1</PartNumber></Part><Part>"
	    "<PartNumber>2</PartNumber><ETag>&quot;8b73e8981261408245cdf07d86f4"
	    "e0c3&quot;</ETag></Part></CompleteMultipartUpload>";
	static const char *const bad[] = {
		"",
		"<CompleteMultipartUpload/>",
		"<CompleteMultipartUpload><Part><ETag>x</ETag></Part>"
		    "</CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber>"
		    "<ETag>x</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
		    "<ETag>x</ETag></Part>",
		"<Other><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
		    "</Other>",
		"<!DOCTYPE a [<!ENTITY e \"x\">]><CompleteMultipartUpload><Part>"
		    "<PartNumber>1</PartNumber><ETag>&e;</ETag></Part>"
		    "</CompleteMultipartUpload>",
	};
	struct gw_s3_part parts[4];
	size_t n = 0, i;

	(void)state;
	assert_int_equal(gw_s3_parse_complete(good, strlen(good), parts, 4, &n,
	    NULL), DH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].number, 1);
	assert_string_equal(parts[0].etag, "2d1f09ac50cffff3c3c255d81a7b2729");
	assert_int_equal(parts[1].number, 2);
	assert_string_equal(parts[1].etag, "8b73e8981261408245cdf07d86f4e0c3");
	assert_int_equal(gw_s3_parse_complete(good, strlen(good), parts, 1, &n,
	    NULL), DH_E_TOOBIG);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (gw_s3_parse_complete(bad[i], strlen(bad[i]), parts, 4, &n,
		    NULL) == DH_OK)
			fail_msg("accepted %s", bad[i]);
}

static void
test_other_xml(void **state)
{
	static const char enc[] = "<ServerSideEncryptionConfiguration><Rule>"
	    "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms"
	    "</SSEAlgorithm><KMSMasterKeyID>alias/x</KMSMasterKeyID>"
	    "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true"
	    "</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
	static const char enc_bad[] = "<ServerSideEncryptionConfiguration><Rule>"
	    "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES"
	    "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
	    "</ServerSideEncryptionConfiguration>";
	static const char loc[] = "<CreateBucketConfiguration xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1"
	    "</LocationConstraint></CreateBucketConfiguration>";
	char a[32], k[64], l[32];
	int bk = 0;

	(void)state;
	assert_int_equal(gw_s3_parse_encryption(enc, strlen(enc), a, sizeof(a),
	    k, sizeof(k), &bk, NULL), DH_OK);
	assert_string_equal(a, "aws:kms");
	assert_string_equal(k, "alias/x");
	assert_int_equal(bk, 1);
	assert_int_equal(gw_s3_parse_encryption(enc_bad, strlen(enc_bad), a,
	    sizeof(a), k, sizeof(k), &bk, NULL), DH_E_FORMAT);
	assert_int_equal(gw_s3_parse_location(loc, strlen(loc), l, sizeof(l),
	    NULL), DH_OK);
	assert_string_equal(l, "eu-west-1");
	assert_int_equal(gw_s3_parse_location("", 0, l, sizeof(l), NULL),
	    DH_OK);
	assert_string_equal(l, "");
	assert_int_equal(gw_s3_parse_location("<x>", 3, l, sizeof(l), NULL),
	    DH_E_FORMAT);
}

static void
test_etag_and_errors(void **state)
{
	const char *tags[] = { "2d1f09ac50cffff3c3c255d81a7b2729",
	    "8b73e8981261408245cdf07d86f4e0c3" };
	const char *badtag[] = { "xyz" };
	struct dh_buf b;
	char out[64];

	(void)state;
	assert_int_equal(gw_s3_multipart_etag(tags, 2, out, sizeof(out)),
	    DH_OK);
	assert_string_equal(out, "ee526cd1e4ac59281f53b423c78a6e2f-2");
	assert_int_not_equal(gw_s3_multipart_etag(badtag, 1, out, sizeof(out)),
	    DH_OK);
	dh_buf_init(&b, 4096);
	assert_int_equal(gw_s3_error_xml("NoSuchKey", "The <key> & \"it\"",
	    "/b/k", "rid", &b), DH_OK);
	assert_string_equal(dh_buf_cstr(&b), "<?xml version=\"1.0\" encoding="
	    "\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The &lt;key&gt;"
	    " &amp; &quot;it&quot;</Message><Resource>/b/k</Resource>"
	    "<RequestId>rid</RequestId><HostId>rid</HostId></Error>");
	dh_buf_reset(&b);
	assert_int_equal(gw_s3_xml_escape("a\x01'b", &b), DH_OK);
	assert_string_equal(dh_buf_cstr(&b), "a&#x1;&apos;b");
	dh_buf_free(&b);
}

/* Keys of a small bucket, sorted. */
static const char *const keys[] = {
	"a.txt", "logs/2026/01.txt", "logs/2026/02.txt", "logs/2027/01.txt",
	"logs/top.txt", "run/big.bin", "run/small.txt", "z",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct page_case {
	const char *prefix, *delim, *after;
	size_t max;
	const char *expect;     /* "k:..." and "p:..." joined by ' ' */
	int truncated;
	const char *next;
};

static const struct page_case page_cases[] = {
	{ "", NULL, NULL, 1000, "k:a.txt k:logs/2026/01.txt k:logs/2026/02.txt"
	    " k:logs/2027/01.txt k:logs/top.txt k:run/big.bin k:run/small.txt"
	    " k:z", 0, NULL },
	{ "", "/", NULL, 1000, "k:a.txt p:logs/ p:run/ k:z", 0, NULL },
	{ "logs/", "/", NULL, 1000, "p:logs/2026/ p:logs/2027/ k:logs/top.txt",
	    0, NULL },
	{ "", "/", NULL, 2, "k:a.txt p:logs/", 1, "logs/" },
	{ "", "/", "logs/", 2, "p:run/ k:z", 0, NULL },
	{ "", NULL, NULL, 3, "k:a.txt k:logs/2026/01.txt k:logs/2026/02.txt", 1,
	    "logs/2026/02.txt" },
	{ "", NULL, "logs/2026/02.txt", 3, "k:logs/2027/01.txt k:logs/top.txt"
	    " k:run/big.bin", 1, "run/big.bin" },
	{ "run/", NULL, NULL, 0, "", 1, NULL },
	{ "nothing/", "/", NULL, 10, "", 0, NULL },
};

static void
test_list_pages(void **state)
{
	char got[1024];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(page_cases) / sizeof(page_cases[0]); i++) {
		const struct page_case *c = &page_cases[i];
		const char *sel[NKEYS];
		struct gw_s3_page pg;
		size_t n = 0, off = 0, ci = 0, pi = 0;

		/* What the store query hands over: prefix and after applied. */
		for (j = 0; j < NKEYS; j++)
			if (strncmp(keys[j], c->prefix, strlen(c->prefix)) == 0 &&
			    (c->after == NULL || strcmp(keys[j], c->after) > 0))
				sel[n++] = keys[j];
		assert_int_equal(gw_s3_list_page(sel, n, c->prefix, c->delim,
		    c->max, c->after, &pg), DH_OK);
		got[0] = '\0';
		/* Merge contents and prefixes back into key order. */
		while (ci < pg.n_contents || pi < pg.n_prefixes) {
			int take_key = pi == pg.n_prefixes || (ci <
			    pg.n_contents && strcmp(sel[pg.contents[ci]],
			    pg.prefixes[pi]) < 0);

			off += (size_t)snprintf(got + off, sizeof(got) - off,
			    "%s%s:%s", off > 0 ? " " : "", take_key ? "k" : "p",
			    take_key ? sel[pg.contents[ci]] : pg.prefixes[pi]);
			if (take_key)
				ci++;
			else
				pi++;
		}
		if (strcmp(got, c->expect) != 0)
			fail_msg("case %zu: got '%s'", i, got);
		assert_int_equal(pg.truncated, c->truncated);
		if (c->next != NULL)
			assert_string_equal(pg.next, c->next);
		gw_s3_page_free(&pg);
	}
}

static void
test_classify_and_spool(void **state)
{
	static const struct dh_sigv4_header s3h[] = {
		{ "authorization", "AWS4-HMAC-SHA256 Credential=AK/20261127/"
		    "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00" },
	};
	static const struct dh_sigv4_header logsh[] = {
		{ "authorization", "AWS4-HMAC-SHA256 Credential=AK/20261127/"
		    "us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0" },
	};
	struct gw_api_req r;
	struct gw_s3_spool *sp = NULL;
	char dir[64], p[128];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.path = "/b/k";
	r.query = "";
	r.headers = s3h;
	r.n_headers = 1;
	assert_int_equal(gw_s3_is_s3(&r), 1);
	assert_int_equal(gw_s3_wants_spool(&r), 1);
	r.path = "/b";
	assert_int_equal(gw_s3_wants_spool(&r), 0);
	r.method = "GET";
	r.path = "/b/k";
	assert_int_equal(gw_s3_wants_spool(&r), 0);
	r.headers = logsh;
	assert_int_equal(gw_s3_is_s3(&r), 0);
	r.headers = NULL;
	r.n_headers = 0;
	r.query = "X-Amz-Credential=AK%2F20261127%2Fus-east-1%2Fs3%2Faws4_request";
	assert_int_equal(gw_s3_is_s3(&r), 1);

	snprintf(dir, sizeof(dir), "/tmp/gws3XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(gw_s3_spool_open(dir, 10, &sp, NULL), DH_OK);
	assert_int_equal(gw_s3_spool_write(sp, "0123456789", 10, NULL), DH_OK);
	assert_int_equal(gw_s3_spool_write(sp, "x", 1, NULL), DH_E_TOOBIG);
	assert_int_equal(gw_s3_spool_len(sp), 10);
	gw_s3_spool_free(sp);
	snprintf(p, sizeof(p), "%s/s3/.tmp", dir);
	assert_int_equal(rmdir(p), 0);   /* the spool file was removed */
	snprintf(p, sizeof(p), "%s/s3", dir);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_complete_xml),
		cmocka_unit_test(test_other_xml),
		cmocka_unit_test(test_etag_and_errors),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_classify_and_spool),
	};

	return cmocka_run_group_tests_name("gw_s3", tests, NULL, NULL);
}
