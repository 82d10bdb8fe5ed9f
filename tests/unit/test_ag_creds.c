/*
 * Unit tests for ag_creds' pure parts: the token response parser
 * (table-driven), half-life refresh time and the rotation decision; plus
 * the heartbeat body and registration error explanations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ag_creds.h"
#include "ag_heartbeat.h"
#include "ag_register.h"

#define NOW 1700000000

struct tok_case {
	const char *name;
	const char *json;
	int rc;
	int update;
};

static const struct tok_case tok_cases[] = {
	{ "ok", "{\"AccessKeyId\":\"ASIAXX\",\"SecretAccessKey\":\"sk\","
	  "\"SessionToken\":\"tok\",\"TokenExpirationDate\":1700001800}",
	  DH_OK, 0 },
	{ "ok fractional, rotate", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "\"s\",\"SessionToken\":\"t\",\"TokenExpirationDate\":1700001800.5,"
	  "\"UpdateKeyPair\":true}", DH_OK, 1 },
	{ "ok iso", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	  "\"SessionToken\":\"t\",\"TokenExpirationDate\":"
	  "\"2023-11-14T23:13:20Z\"}", DH_OK, 0 },
	{ "expired", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	  "\"SessionToken\":\"t\",\"TokenExpirationDate\":1600000000}",
	  DH_E_FORMAT, 0 },
	{ "no secret", "{\"AccessKeyId\":\"A\",\"SessionToken\":\"t\","
	  "\"TokenExpirationDate\":1700001800}", DH_E_FORMAT, 0 },
	{ "empty secret", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\","
	  "\"SessionToken\":\"t\",\"TokenExpirationDate\":1700001800}",
	  DH_E_FORMAT, 0 },
	{ "no expiry", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	  "\"SessionToken\":\"t\"}", DH_E_FORMAT, 0 },
	{ "expiry string junk", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
	  "\"s\",\"SessionToken\":\"t\",\"TokenExpirationDate\":\"soon\"}",
	  DH_E_FORMAT, 0 },
	{ "huge expiry", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	  "\"SessionToken\":\"t\",\"TokenExpirationDate\":1e300}",
	  DH_E_FORMAT, 0 },
	{ "update not bool", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	  "\"SessionToken\":\"t\",\"TokenExpirationDate\":1700001800,"
	  "\"UpdateKeyPair\":\"yes\"}", DH_E_FORMAT, 0 },
	{ "not json", "AccessKeyId", DH_E_FORMAT, 0 },
	{ "array", "[1]", DH_E_FORMAT, 0 },
};

static void
test_parse_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(tok_cases) / sizeof(tok_cases[0]); i++) {
		struct ag_creds c;
		int rc;

		memset(&c, 0, sizeof(c));
		rc = ag_creds_parse(tok_cases[i].json, strlen(tok_cases[i].json),
		    NOW, &c, NULL);
		if (rc != tok_cases[i].rc)
			fail_msg("case %s: rc %d", tok_cases[i].name, rc);
		if (rc == DH_OK) {
			assert_non_null(c.secret_key);
			assert_non_null(c.session_token);
			assert_int_equal(c.retrieved, NOW);
			assert_int_equal(c.update_key_pair,
			    tok_cases[i].update);
		} else {
			assert_null(c.secret_key);
			assert_null(c.session_token);
		}
		ag_creds_clear(&c);
	}
}

static void
test_refresh_at(void **state)
{
	struct ag_creds c;

	memset(&c, 0, sizeof(c));
	c.retrieved = NOW;
	c.expires = NOW + 1800;
	assert_int_equal(ag_creds_refresh_at(&c), NOW + 900);
	c.expires = NOW + 3600;
	assert_int_equal(ag_creds_refresh_at(&c), NOW + 1800);
	c.expires = NOW - 5;
	assert_int_equal(ag_creds_refresh_at(&c), NOW);
}

static void
test_should_rotate(void **state)
{
	assert_int_equal(ag_creds_should_rotate(1, NOW, NOW, 0), 1);
	assert_int_equal(ag_creds_should_rotate(0, NOW, NOW + 86400 * 365, 0),
	    0);
	assert_int_equal(ag_creds_should_rotate(0, NOW, NOW + 86400 * 29, 30),
	    0);
	assert_int_equal(ag_creds_should_rotate(0, NOW, NOW + 86400 * 30, 30),
	    1);
	assert_int_equal(ag_creds_should_rotate(0, 0, NOW, 30), 1);
}

static void
test_heartbeat_body(void **state)
{
	struct ag_platform pl;
	cJSON *j = NULL;
	const cJSON *v;

	memset(&pl, 0, sizeof(pl));
	snprintf(pl.name, sizeof(pl.name), "Debian GNU/Linux");
	snprintf(pl.version, sizeof(pl.version), "12");
	snprintf(pl.hostname, sizeof(pl.hostname), "host1");
	snprintf(pl.ip, sizeof(pl.ip), "10.0.0.5");
	assert_int_equal(ag_hb_build("mi-0123456789abcdef0", &pl, NULL, &j,
	    NULL), DH_OK);
	v = cJSON_GetObjectItemCaseSensitive(j, "PlatformType");
	assert_string_equal(v->valuestring, "Linux");
	v = cJSON_GetObjectItemCaseSensitive(j, "PlatformName");
	assert_string_equal(v->valuestring, "Debian GNU/Linux");
	v = cJSON_GetObjectItemCaseSensitive(j, "AgentVersion");
	assert_string_equal(v->valuestring, DH_VERSION);
	v = cJSON_GetObjectItemCaseSensitive(j, "IPAddress");
	assert_string_equal(v->valuestring, "10.0.0.5");
	v = cJSON_GetObjectItemCaseSensitive(j, "ComputerName");
	assert_string_equal(v->valuestring, "host1");
	assert_null(cJSON_GetObjectItemCaseSensitive(j,
	    "SSMConnectionChannel"));
	cJSON_Delete(j);
	assert_int_equal(ag_hb_build("mi-1", &pl, "ssmmessages", &j, NULL),
	    DH_OK);
	v = cJSON_GetObjectItemCaseSensitive(j, "SSMConnectionChannel");
	assert_string_equal(v->valuestring, "ssmmessages");
	cJSON_Delete(j);
}

static void
test_register_explain(void **state)
{
	assert_non_null(strstr(ag_register_explain("InvalidActivation",
	    "Activation has expired"), "expired"));
	assert_non_null(strstr(ag_register_explain("ActivationExpired", ""),
	    "expired"));
	assert_non_null(strstr(ag_register_explain("InvalidActivation",
	    "registration limit exceeded"), "limit"));
	assert_non_null(strstr(ag_register_explain("InvalidActivation",
	    "not found"), "wrong"));
	assert_non_null(ag_register_explain(NULL, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_refresh_at),
		cmocka_unit_test(test_should_rotate),
		cmocka_unit_test(test_heartbeat_body),
		cmocka_unit_test(test_register_explain),
	};

	return cmocka_run_group_tests_name("ag_creds", tests, NULL, NULL);
}
