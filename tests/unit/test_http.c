/*
 * Unit tests for dh_http's pure parts: backoff schedule (with an injected
 * random source), retry decision, throttling codes, curl error mapping,
 * Retry-After, URL splitting, header lists, argument checks, and the retry
 * loop itself against a refused loopback port with injected sleep/random
 * hooks (no peer needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "dh_err.h"
#include "dh_http.h"

static uint32_t
rnd_zero(void *arg, uint32_t bound)
{
	(void)arg;
	(void)bound;
	return 0;
}

static uint32_t
rnd_max(void *arg, uint32_t bound)
{
	(void)arg;
	return bound - 1;
}

static void
test_backoff_schedule(void **state)
{
	static const struct {
		int attempt;
		long base, cap, lo, hi;
	} t[] = {
		{ 0, 100, 20000, 50, 100 },
		{ 1, 100, 20000, 100, 200 },
		{ 2, 100, 20000, 200, 400 },
		{ 7, 100, 20000, 6400, 12800 },
		{ 8, 100, 20000, 10000, 20000 },   /* 25600 capped */
		{ 30, 100, 20000, 10000, 20000 },
		{ 1000, 100, 20000, 10000, 20000 }, /* no overflow */
		{ 0, 5000, 1000, 500, 1000 },       /* base above cap */
		{ 3, 1, 5, 3, 5 },                  /* 8 capped to 5 */
		{ 0, 0, 0, 50, 100 },               /* defaults */
		{ 0, 1, 1, 1, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(dh_http_backoff_ms(t[i].attempt, t[i].base,
		    t[i].cap, rnd_zero, NULL), t[i].lo);
		assert_int_equal(dh_http_backoff_ms(t[i].attempt, t[i].base,
		    t[i].cap, rnd_max, NULL), t[i].hi);
	}
}

static void
test_backoff_real_jitter_in_bounds(void **state)
{
	long v, seen_lo = 1 << 30, seen_hi = 0;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		v = dh_http_backoff_ms(4, 100, 20000, NULL, NULL);
		assert_true(v >= 800 && v <= 1600);
		if (v < seen_lo)
			seen_lo = v;
		if (v > seen_hi)
			seen_hi = v;
	}
	/* Jitter actually spreads the delays. */
	assert_true(seen_hi - seen_lo > 400);
}

static void
test_should_retry(void **state)
{
	static const struct {
		int rc;
		long status;
		const char *code;
		int want;
	} t[] = {
		{ DH_OK, 200, NULL, 0 },
		{ DH_OK, 204, NULL, 0 },
		{ DH_OK, 301, NULL, 0 },
		{ DH_OK, 400, NULL, 0 },
		{ DH_OK, 400, "ValidationException", 0 },
		{ DH_OK, 400, "ThrottlingException", 1 },
		{ DH_OK, 400, "TooManyRequestsException", 1 },
		{ DH_OK, 400, "TooManyUpdates", 1 },
		{ DH_OK, 503, "RequestLimitExceeded", 1 },
		{ DH_OK, 503, "SlowDown", 1 },
		{ DH_OK, 400, "RequestTimeout", 1 },
		{ DH_OK, 401, NULL, 0 },
		{ DH_OK, 403, "AccessDeniedException", 0 },
		{ DH_OK, 403, "SignatureDoesNotMatch", 0 },
		{ DH_OK, 404, "NoSuchKey", 0 },
		{ DH_OK, 409, NULL, 0 },
		{ DH_OK, 429, NULL, 1 },
		{ DH_OK, 429, "", 1 },
		{ DH_OK, 500, NULL, 1 },
		{ DH_OK, 501, NULL, 0 },
		{ DH_OK, 502, NULL, 1 },
		{ DH_OK, 503, NULL, 1 },
		{ DH_OK, 504, NULL, 1 },
		{ DH_OK, 505, NULL, 0 },
		{ DH_E_NET, 0, NULL, 1 },
		{ DH_E_TIMEOUT, 0, NULL, 1 },
		{ DH_E_TLS, 0, NULL, 0 },
		{ DH_E_TOOBIG, 200, NULL, 0 },
		{ DH_E_ARG, 0, NULL, 0 },
		{ DH_E_NOMEM, 0, NULL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (dh_http_should_retry(t[i].rc, t[i].status, t[i].code) !=
		    t[i].want)
			fail_msg("row %zu: rc %d status %ld code %s", i,
			    t[i].rc, t[i].status,
			    t[i].code != NULL ? t[i].code : "(null)");
	}
}

static void
test_throttle_codes(void **state)
{
	(void)state;
	assert_true(dh_http_is_throttle_code("ThrottlingException"));
	assert_true(dh_http_is_throttle_code("Throttling"));
	assert_true(dh_http_is_throttle_code("SlowDown"));
	assert_true(dh_http_is_throttle_code("RequestLimitExceeded"));
	assert_false(dh_http_is_throttle_code("throttlingexception"));
	assert_false(dh_http_is_throttle_code("ThrottlingExceptionX"));
	assert_false(dh_http_is_throttle_code(""));
	assert_false(dh_http_is_throttle_code(NULL));
	assert_false(dh_http_is_throttle_code("LimitExceededException"));
}

static void
test_map_curl(void **state)
{
	static const struct {
		int cc;
		int want;
	} t[] = {
		{ CURLE_OK, DH_OK },
		{ CURLE_OPERATION_TIMEDOUT, DH_E_TIMEOUT },
		{ CURLE_PEER_FAILED_VERIFICATION, DH_E_TLS },
		{ CURLE_SSL_CONNECT_ERROR, DH_E_TLS },
		{ CURLE_SSL_CACERT_BADFILE, DH_E_TLS },
		{ CURLE_SSL_CERTPROBLEM, DH_E_TLS },
		{ CURLE_SSL_ISSUER_ERROR, DH_E_TLS },
		{ CURLE_COULDNT_CONNECT, DH_E_NET },
		{ CURLE_COULDNT_RESOLVE_HOST, DH_E_NET },
		{ CURLE_COULDNT_RESOLVE_PROXY, DH_E_NET },
		{ CURLE_GOT_NOTHING, DH_E_NET },
		{ CURLE_RECV_ERROR, DH_E_NET },
		{ CURLE_SEND_ERROR, DH_E_NET },
		{ CURLE_PARTIAL_FILE, DH_E_NET },
		{ CURLE_PROXY, DH_E_NET },
		{ CURLE_FILESIZE_EXCEEDED, DH_E_TOOBIG },
		{ CURLE_OUT_OF_MEMORY, DH_E_NOMEM },
		{ CURLE_URL_MALFORMAT, DH_E_ARG },
		{ CURLE_UNSUPPORTED_PROTOCOL, DH_E_ARG },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(dh_http_map_curl(t[i].cc), t[i].want);
}

static void
test_retry_after(void **state)
{
	long ms = -1;

	(void)state;
	assert_int_equal(dh_http_parse_retry_after("3", &ms), DH_OK);
	assert_int_equal(ms, 3000);
	assert_int_equal(dh_http_parse_retry_after(" 0 ", &ms), DH_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(dh_http_parse_retry_after("86400", &ms), DH_OK);
	assert_int_equal(ms, 86400000);
	assert_int_equal(dh_http_parse_retry_after("86401", &ms), DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after("99999999999999999999", &ms),
	    DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after("-1", &ms), DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after("", &ms), DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after("1.5", &ms), DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after(
	    "Wed, 21 Oct 2015 07:28:00 GMT", &ms), DH_E_FORMAT);
	assert_int_equal(dh_http_parse_retry_after(NULL, &ms), DH_E_FORMAT);
}

static void
test_url_split(void **state)
{
	static const struct {
		const char *url, *host, *path, *query;
	} ok[] = {
		{ "https://ssm.us-east-1.amazonaws.com",
		  "ssm.us-east-1.amazonaws.com", "/", "" },
		{ "https://127.0.0.1:8443/", "127.0.0.1:8443", "/", "" },
		{ "https://127.0.0.1:443/x", "127.0.0.1", "/x", "" },
		{ "HTTPS://Example.COM/A%20b?x=1&y", "example.com", "/A%20b",
		  "x=1&y" },
		{ "https://h/b/k?uploads", "h", "/b/k", "uploads" },
		{ "https://h?q=1", "h", "/", "q=1" },
		{ "https://[::1]:9000/p", "[::1]:9000", "/p", "" },
		{ "https://[::1]/p", "[::1]", "/p", "" },
		{ "https://h/a//b/../c", "h", "/a//b/../c", "" },
	};
	static const char *const bad[] = {
		NULL, "", "http://h/", "ftp://h/", "https://", "https:///x",
		"https://user@h/", "https://h/#frag", "https://h:0/",
		"https://h:65536/", "https://h:/", "https://h:8x/",
		"https://h/a b", "https://[::1/", "https://[::1]x/",
		"https://h\xc3\xa9/", "https://h!/", "https://h/\r\n",
	};
	char host[64], path[64], query[64];
	struct dh_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(dh_http_url_split(ok[i].url, host,
		    sizeof(host), path, sizeof(path), query, sizeof(query),
		    &err), DH_OK);
		assert_string_equal(host, ok[i].host);
		assert_string_equal(path, ok[i].path);
		assert_string_equal(query, ok[i].query);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dh_err_clear(&err);
		if (dh_http_url_split(bad[i], host, sizeof(host), path,
		    sizeof(path), query, sizeof(query), &err) != DH_E_ARG)
			fail_msg("accepted bad URL %zu", i);
		assert_true(err.msg[0] != '\0');
	}
	/* Output buffers too small. */
	assert_int_equal(dh_http_url_split("https://averylonghostname/", host,
	    8, path, sizeof(path), query, sizeof(query), NULL), DH_E_ARG);
	assert_int_equal(dh_http_url_split("https://h/averylongpath", host,
	    sizeof(host), path, 8, query, sizeof(query), NULL), DH_E_ARG);
}

static void
test_header_list(void **state)
{
	struct dh_http_hdrs h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(dh_http_hdrs_set(&h, "Content-Type", "a"), DH_OK);
	assert_int_equal(dh_http_hdrs_set(&h, "content-type", "b"), DH_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(dh_http_hdrs_get(&h, "CONTENT-TYPE"), "b");
	assert_int_equal(dh_http_hdrs_add(&h, "X-Dup", "1"), DH_OK);
	assert_int_equal(dh_http_hdrs_add(&h, "x-dup", "2"), DH_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(dh_http_hdrs_get(&h, "X-DUP"), "1");
	assert_int_equal(dh_http_hdrs_set(&h, "Empty", ""), DH_OK);
	assert_string_equal(dh_http_hdrs_get(&h, "empty"), "");
	dh_http_hdrs_del(&h, "x-dup");
	assert_int_equal(h.n, 2);
	assert_null(dh_http_hdrs_get(&h, "X-Dup"));
	assert_null(dh_http_hdrs_get(&h, "missing"));
	/* Header injection and malformed names are refused. */
	assert_int_equal(dh_http_hdrs_set(&h, "X-A", "v\r\nEvil: 1"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_set(&h, "X-A", "v\n"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_set(&h, "X A", "v"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_set(&h, "X:A", "v"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_set(&h, "", "v"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_add(&h, NULL, "v"), DH_E_ARG);
	assert_int_equal(dh_http_hdrs_add(&h, "X-A", NULL), DH_E_ARG);
	assert_int_equal(h.n, 2);
	dh_http_hdrs_free(&h);
	assert_int_equal(h.n, 0);
	assert_null(h.v);
	dh_http_hdrs_free(&h);
}

static void
test_client_args(void **state)
{
	struct dh_http_config cfg;
	struct dh_http_client *c = NULL;
	struct dh_http_request req;
	struct dh_http_response resp;
	struct dh_err err;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_attempts = DH_HTTP_MAX_ATTEMPTS + 1;
	assert_int_equal(dh_http_client_new(&cfg, &c, &err), DH_E_ARG);
	assert_null(c);
	cfg.max_attempts = 0;
	cfg.timeout_ms = -1;
	assert_int_equal(dh_http_client_new(&cfg, &c, &err), DH_E_ARG);
	assert_int_equal(dh_http_client_new(NULL, &c, &err), DH_OK);
	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	req.method = "GET";
	req.url = "http://127.0.0.1:1/";
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_ARG);
	assert_non_null(strstr(err.msg, "https"));
	req.url = "https://127.0.0.1:1/";
	req.method = "get";
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_ARG);
	req.method = "G ET";
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_ARG);
	req.method = "PUT";
	req.body_len = 5;
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_ARG);
	assert_int_equal(resp.attempts, 0);
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
	dh_http_client_free(c);
	dh_http_client_free(NULL);
}

struct loop_probe {
	long sleeps[DH_HTTP_MAX_ATTEMPTS];
	int n_sleeps;
	int n_signs;
	int fail_sign_at;
};

static void
record_sleep(void *arg, long ms)
{
	struct loop_probe *p = arg;

	p->sleeps[p->n_sleeps++] = ms;
}

static int
count_sign(void *arg, struct dh_http_request *req, struct dh_err *err)
{
	struct loop_probe *p = arg;

	p->n_signs++;
	if (p->n_signs == p->fail_sign_at)
		return dh_err_set(err, DH_E_CRYPTO, "signer refused");
	return dh_http_hdrs_set(&req->headers, "X-Attempt",
	    p->n_signs == 1 ? "1" : "n");
}

/* Connection refused on loopback: every attempt fails with DH_E_NET, the
 * loop backs off with the injected schedule and re-signs each time. */
static void
test_retry_loop_connection_refused(void **state)
{
	struct dh_http_config cfg;
	struct dh_http_client *c = NULL;
	struct dh_http_request req;
	struct dh_http_response resp;
	struct loop_probe probe;
	struct dh_err err;

	(void)state;
	memset(&probe, 0, sizeof(probe));
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_attempts = 4;
	cfg.backoff_base_ms = 100;
	cfg.backoff_cap_ms = 300;
	cfg.rnd = rnd_max;
	cfg.sleep_ms = record_sleep;
	cfg.sleep_arg = &probe;
	cfg.connect_timeout_ms = 2000;
	assert_int_equal(dh_http_client_new(&cfg, &c, &err), DH_OK);
	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	req.method = "POST";
	req.url = "https://127.0.0.1:1/";
	req.body = "{}";
	req.body_len = 2;
	req.sign = count_sign;
	req.sign_arg = &probe;
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_NET);
	assert_int_equal(err.code, DH_E_NET);
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_non_null(strstr(err.msg, "after 4 attempts"));
	assert_int_equal(resp.attempts, 4);
	assert_int_equal(probe.n_signs, 4);
	assert_int_equal(probe.n_sleeps, 3);
	assert_int_equal(probe.sleeps[0], 100);
	assert_int_equal(probe.sleeps[1], 200);
	assert_int_equal(probe.sleeps[2], 300);
	assert_int_equal(resp.status, 0);
	/* The signer's error ends the call at once. */
	memset(&probe, 0, sizeof(probe));
	probe.fail_sign_at = 2;
	assert_int_equal(dh_http_do(c, &req, &resp, &err), DH_E_CRYPTO);
	assert_int_equal(probe.n_signs, 2);
	assert_int_equal(resp.attempts, 1);
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
	dh_http_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_backoff_real_jitter_in_bounds),
		cmocka_unit_test(test_should_retry),
		cmocka_unit_test(test_throttle_codes),
		cmocka_unit_test(test_map_curl),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_url_split),
		cmocka_unit_test(test_header_list),
		cmocka_unit_test(test_client_args),
		cmocka_unit_test(test_retry_loop_connection_refused),
	};

	return cmocka_run_group_tests_name("dh_http", tests, NULL, NULL);
}
