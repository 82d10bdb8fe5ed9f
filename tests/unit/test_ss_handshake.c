/*
 * Unit tests for ss_handshake: build/parse round trips of every payload,
 * the reference's example documents (case-insensitive keys, nulls, the
 * plugin's SessionType-only response), action failures reported as data,
 * and a table of malformed or oversized inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_handshake.h"

static void
test_request_round_trip(void **state)
{
	struct ss_hs_request r, back;
	struct dh_buf b;
	struct dh_err e;

	memset(&r, 0, sizeof(r));
	snprintf(r.agent_version, sizeof(r.agent_version), "3.3.987.0");
	snprintf(r.session_type, sizeof(r.session_type), "Standard_Stream");
	r.kms = 1;
	snprintf(r.kms_key_id, sizeof(r.kms_key_id), "alias/\"quoted\"");
	snprintf(r.challenge, sizeof(r.challenge), "q83vEjRWeJCrze8SNFZ4kA==");
	dh_buf_init(&b, 1 << 16);
	assert_int_equal(ss_hs_request_build(&r, &b, &e), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&b), "\"Properties\":null"));
	assert_int_equal(ss_hs_request_parse(b.d, b.len, &back, &e), DH_OK);
	assert_string_equal(back.agent_version, "3.3.987.0");
	assert_string_equal(back.session_type, "Standard_Stream");
	assert_int_equal(back.kms, 1);
	assert_string_equal(back.kms_key_id, "alias/\"quoted\"");
	assert_string_equal(back.challenge, "q83vEjRWeJCrze8SNFZ4kA==");
	/* without KMS: only the SessionType action */
	r.kms = 0;
	dh_buf_reset(&b);
	assert_int_equal(ss_hs_request_build(&r, &b, &e), DH_OK);
	assert_null(strstr(dh_buf_cstr(&b), "KMSEncryption"));
	assert_int_equal(ss_hs_request_parse(b.d, b.len, &back, &e), DH_OK);
	assert_int_equal(back.kms, 0);
	dh_buf_free(&b);
}

static void
test_request_reference(void **state)
{
	static const char doc[] =
	    "{\"agentVersion\":\"3.3.987.0\",\"requestedClientActions\":["
	    "{\"actionType\":\"SessionType\",\"actionParameters\":"
	    "{\"sessionType\":\"Port\",\"properties\":{\"portNumber\":\"22\"}}},"
	    "{\"ActionType\":\"SomethingNew\",\"ActionParameters\":{}},"
	    "{\"ActionType\":\"KMSEncryption\",\"ActionParameters\":"
	    "{\"KMSKeyId\":\"arn:aws:kms:eu-west-1:111122223333:key/1\"}}]}";
	struct ss_hs_request r;
	struct dh_err e;

	assert_int_equal(ss_hs_request_parse(doc, strlen(doc), &r, &e), DH_OK);
	assert_string_equal(r.session_type, "Port");
	assert_int_equal(r.kms, 1);
	assert_string_equal(r.challenge, "");
	assert_int_equal(r.unknown_actions, 1);
}

static void
test_response_round_trip(void **state)
{
	struct ss_hs_response r, back;
	struct dh_buf b;
	struct dh_err e;
	size_t i;

	memset(&r, 0, sizeof(r));
	snprintf(r.client_version, sizeof(r.client_version), "1.2.677.0");
	r.has_session_type = 1;
	r.session_type_status = SS_HS_STATUS_SUCCESS;
	r.has_kms = 1;
	r.kms_status = SS_HS_STATUS_SUCCESS;
	r.kms_ct_len = 200;
	for (i = 0; i < r.kms_ct_len; i++)
		r.kms_ct[i] = (unsigned char)(i * 13);
	dh_buf_init(&b, 1 << 16);
	assert_int_equal(ss_hs_response_build(&r, &b, &e), DH_OK);
	assert_int_equal(ss_hs_response_parse(b.d, b.len, &back, &e), DH_OK);
	assert_string_equal(back.client_version, "1.2.677.0");
	assert_int_equal(back.failed, 0);
	assert_int_equal(back.has_session_type, 1);
	assert_int_equal(back.has_kms, 1);
	assert_int_equal(back.kms_ct_len, 200);
	assert_memory_equal(back.kms_ct, r.kms_ct, 200);
	assert_int_equal(back.challenge_ack, 0);
	r.challenge_ack = 1;
	dh_buf_reset(&b);
	assert_int_equal(ss_hs_response_build(&r, &b, &e), DH_OK);
	assert_int_equal(ss_hs_response_parse(b.d, b.len, &back, &e), DH_OK);
	assert_int_equal(back.challenge_ack, 1);
	/* a failed KMS action carries its error and no result */
	r.kms_status = SS_HS_STATUS_FAILED;
	snprintf(r.error, sizeof(r.error), "GenerateDataKey: AccessDenied");
	dh_buf_reset(&b);
	assert_int_equal(ss_hs_response_build(&r, &b, &e), DH_OK);
	assert_int_equal(ss_hs_response_parse(b.d, b.len, &back, &e), DH_OK);
	assert_int_equal(back.failed, 1);
	assert_int_equal(back.kms_ct_len, 0);
	assert_string_equal(back.error, "GenerateDataKey: AccessDenied");
	dh_buf_free(&b);
}

static void
test_response_reference(void **state)
{
	/* the plugin's SessionType-only answer, and its unknown-type quirk */
	static const char ok[] =
	    "{\"ClientVersion\":\"1.2.677.0\",\"ProcessedClientActions\":"
	    "[{\"ActionType\":\"SessionType\",\"ActionStatus\":1,"
	    "\"ActionResult\":null,\"Error\":\"\"}],\"Errors\":null}";
	static const char quirk[] =
	    "{\"ClientVersion\":\"1.2.677.0\",\"ProcessedClientActions\":"
	    "[{\"ActionType\":\"New\",\"ActionStatus\":0,"
	    "\"ActionResult\":3,\"Error\":\"\"}],\"Errors\":null}";
	struct ss_hs_response r;
	struct dh_err e;

	assert_int_equal(ss_hs_response_parse(ok, strlen(ok), &r, &e), DH_OK);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.has_session_type, 1);
	assert_int_equal(r.has_kms, 0);
	assert_int_equal(ss_hs_response_parse(quirk, strlen(quirk), &r, &e),
	    DH_OK);
	assert_int_equal(r.failed, 1);
	assert_non_null(strstr(r.error, "New"));
}

static void
test_complete_and_challenge(void **state)
{
	struct dh_buf b, blob;
	struct dh_err e;
	unsigned char raw[92];
	char msg[64];
	int64_t ns;
	size_t i;

	dh_buf_init(&b, 1 << 16);
	dh_buf_init(&blob, 4096);
	assert_int_equal(ss_hs_complete_build(12000000,
	    "This session is encrypted using AWS KMS.", &b, &e), DH_OK);
	assert_int_equal(ss_hs_complete_parse(b.d, b.len, &ns, msg,
	    sizeof(msg), &e), DH_OK);
	assert_int_equal(ns, 12000000);
	assert_string_equal(msg, "This session is encrypted using AWS KMS.");
	assert_int_equal(ss_hs_complete_parse("{}", 2, &ns, msg, sizeof(msg),
	    &e), DH_OK);
	assert_string_equal(msg, "");
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(255 - i);
	dh_buf_reset(&b);
	assert_int_equal(ss_hs_challenge_build(raw, sizeof(raw), &b, &e),
	    DH_OK);
	assert_int_equal(ss_hs_challenge_parse(b.d, b.len, &blob, &e), DH_OK);
	assert_int_equal(blob.len, sizeof(raw));
	assert_memory_equal(blob.d, raw, sizeof(raw));
	dh_buf_free(&b);
	dh_buf_free(&blob);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *doc;
		int which; /* 0 request, 1 response, 2 complete, 3 challenge */
		int rc;
	} t[] = {
		{ "", 0, DH_E_FORMAT },
		{ "[]", 0, DH_E_FORMAT },
		{ "{\"RequestedClientActions\":{}}", 0, DH_E_FORMAT },
		{ "{\"RequestedClientActions\":[{\"ActionType\":1}]}", 0,
		  DH_E_FORMAT },
		{ "{\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
		  "\"ActionParameters\":{}}]}", 0, DH_E_FORMAT },
		{ "{\"RequestedClientActions\":[{\"ActionType\":\"KMSEncryption\","
		  "\"ActionParameters\":[]}]}", 0, DH_E_FORMAT },
		{ "{\"AgentVersion\":\"1234567890123456789012345678901234\"}", 0,
		  DH_E_TOOBIG },
		{ "{\"RequestedClientActions\":[{},{},{},{},{},{},{},{},{},{},{},"
		  "{},{},{},{},{},{}]}", 0, DH_E_TOOBIG },
		{ "{\"ProcessedClientActions\":[{\"ActionStatus\":1.5}]}", 1,
		  DH_E_FORMAT },
		{ "{\"ProcessedClientActions\":[{\"ActionStatus\":\"1\"}]}", 1,
		  DH_E_FORMAT },
		{ "{\"ProcessedClientActions\":[{\"ActionType\":\"KMSEncryption\","
		  "\"ActionStatus\":1,\"ActionResult\":{\"KMSCipherTextKey\":"
		  "\"!!!\"}}]}", 1, DH_E_FORMAT },
		{ "{\"ProcessedClientActions\":[{\"ActionType\":\"KMSEncryption\","
		  "\"ActionStatus\":1,\"ActionResult\":{\"ChallengeAcknowledgement\""
		  ":\"yes\"}}]}", 1, DH_E_FORMAT },
		{ "{\"ClientVersion\":7}", 1, DH_E_FORMAT },
		{ "{\"CustomerMessage\":5}", 2, DH_E_FORMAT },
		{ "{\"HandshakeTimeToComplete\":\"x\"}", 2, DH_E_FORMAT },
		{ "{}", 3, DH_E_FORMAT },
		{ "{\"Challenge\":\"a\"}", 3, DH_E_FORMAT },
		{ "{\"Challenge\":null}", 3, DH_E_FORMAT },
		{ "{\"Challenge\":\"AA==\"} x", 3, DH_E_FORMAT },
	};
	struct ss_hs_request rq;
	struct ss_hs_response rs;
	struct dh_buf blob;
	struct dh_err e;
	char msg[16];
	int64_t ns;
	size_t i;
	int rc = 0;

	dh_buf_init(&blob, 4096);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].doc);

		switch (t[i].which) {
		case 0: rc = ss_hs_request_parse(t[i].doc, n, &rq, &e); break;
		case 1: rc = ss_hs_response_parse(t[i].doc, n, &rs, &e); break;
		case 2: rc = ss_hs_complete_parse(t[i].doc, n, &ns, msg,
		    sizeof(msg), &e); break;
		default: rc = ss_hs_challenge_parse(t[i].doc, n, &blob, &e);
		}
		if (rc != t[i].rc)
			fail_msg("case %zu (%s): got %d want %d", i, t[i].doc, rc,
			    t[i].rc);
	}
	dh_buf_free(&blob);
}

static void
test_oversized(void **state)
{
	struct dh_buf big;
	struct ss_hs_request r;
	struct dh_err e;
	size_t i;

	dh_buf_init(&big, 2 * SS_HS_JSON_MAX);
	assert_int_equal(dh_buf_put_str(&big, "{\"AgentVersion\":\""), DH_OK);
	for (i = 0; i < SS_HS_JSON_MAX; i++)
		assert_int_equal(dh_buf_put_u8(&big, 'a'), DH_OK);
	assert_int_equal(dh_buf_put_str(&big, "\"}"), DH_OK);
	assert_int_not_equal(ss_hs_request_parse(big.d, big.len, &r, &e),
	    DH_OK);
	dh_buf_free(&big);
}

/* A Port request carries the session document's properties as an object
 * and parses back to the same text; Properties that is not an object or
 * null is refused. */
static void
test_request_port_properties(void **state)
{
	static const char bad[] = "{\"AgentVersion\":\"0.1.0.0\","
	    "\"RequestedClientActions\":[{\"ActionType\":\"SessionType\","
	    "\"ActionParameters\":{\"SessionType\":\"Port\","
	    "\"Properties\":\"x\"}}]}";
	struct ss_hs_request r, q;
	struct dh_buf b;
	struct dh_err e;

	(void)state;
	memset(&r, 0, sizeof(r));
	snprintf(r.agent_version, sizeof(r.agent_version), "0.1.0.0");
	snprintf(r.session_type, sizeof(r.session_type), "Port");
	snprintf(r.properties, sizeof(r.properties), "{\"portNumber\":\"80\","
	    "\"type\":\"LocalPortForwarding\",\"localPortNumber\":\"0\"}");
	dh_buf_init(&b, SS_HS_JSON_MAX);
	assert_int_equal(ss_hs_request_build(&r, &b, &e), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&b), "\"Properties\":{\"portNumber\""));
	assert_int_equal(ss_hs_request_parse(b.d, b.len, &q, &e), DH_OK);
	assert_string_equal(q.session_type, "Port");
	assert_string_equal(q.properties, r.properties);
	assert_int_equal(q.kms, 0);
	assert_int_equal(ss_hs_request_parse(bad, strlen(bad), &q, &e),
	    DH_E_FORMAT);
	dh_buf_reset(&b);
	snprintf(r.properties, sizeof(r.properties), "[1]");
	assert_int_not_equal(ss_hs_request_build(&r, &b, &e), DH_OK);
	dh_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_reference),
		cmocka_unit_test(test_request_port_properties),
		cmocka_unit_test(test_response_round_trip),
		cmocka_unit_test(test_response_reference),
		cmocka_unit_test(test_complete_and_challenge),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversized),
	};

	return cmocka_run_group_tests_name("ss_handshake", tests, NULL, NULL);
}
