/*
 * Unit tests for ag_ctrl's pure parts: the CreateControlChannel XML token
 * parser (table-driven: entities, missing/empty/unterminated tokens,
 * markup) and the OpenControlChannel frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ag_ctrl.h"
#include "dh_json.h"

struct tok_case {
	const char *xml;
	int rc;
	const char *want;
};

static const struct tok_case cases[] = {
	{ "<CreateControlChannelOutput><MessageSchemaVersion>1.0"
	  "</MessageSchemaVersion><TokenValue>abc.def</TokenValue>"
	  "</CreateControlChannelOutput>", DH_OK, "abc.def" },
	{ "<X><TokenValue>a&amp;b&lt;&gt;&quot;&apos;</TokenValue></X>", DH_OK,
	  "a&b<>\"'" },
	{ "<X><TokenValue></TokenValue></X>", DH_E_FORMAT, NULL },
	{ "<X><TokenValue>abc</X>", DH_E_FORMAT, NULL },
	{ "<X><Token>abc</Token></X>", DH_E_FORMAT, NULL },
	{ "<X><TokenValue>a<b/>c</TokenValue></X>", DH_E_FORMAT, NULL },
	{ "<X><TokenValue>a&nbsp;</TokenValue></X>", DH_E_FORMAT, NULL },
	{ "<X><TokenValue>a\x01</TokenValue></X>", DH_E_FORMAT, NULL },
	{ "<AccessDeniedException><Message>no</Message></AccessDeniedException>",
	  DH_E_FORMAT, NULL },
	{ "", DH_E_FORMAT, NULL },
};

static void
test_token_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dh_buf b;
		int rc;

		dh_buf_init_secret(&b, AG_CTRL_TOKEN_MAX + 1);
		rc = ag_ctrl_parse_token(cases[i].xml, strlen(cases[i].xml), &b,
		    NULL);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d", i, rc);
		if (rc == DH_OK)
			assert_string_equal(dh_buf_cstr(&b), cases[i].want);
		dh_buf_free(&b);
	}
}

static void
test_open_frame(void **state)
{
	struct dh_buf b;
	cJSON *j = NULL;
	const cJSON *v;

	dh_buf_init(&b, 4096);
	assert_int_equal(ag_ctrl_open_frame("tok", "6a8e0000-0000-4000-8000-"
	    "000000000000", &b, NULL), DH_OK);
	assert_int_equal(dh_json_parse(b.d, b.len, 4096, &j, NULL), DH_OK);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j,
	    "Cookie")));
	v = cJSON_GetObjectItemCaseSensitive(j, "TokenValue");
	assert_string_equal(v->valuestring, "tok");
	v = cJSON_GetObjectItemCaseSensitive(j, "MessageSchemaVersion");
	assert_string_equal(v->valuestring, "1.0");
	v = cJSON_GetObjectItemCaseSensitive(j, "PlatformType");
	assert_string_equal(v->valuestring, "linux");
	v = cJSON_GetObjectItemCaseSensitive(j, "AgentVersion");
	assert_string_equal(v->valuestring, DH_VERSION);
	cJSON_Delete(j);
	dh_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_table),
		cmocka_unit_test(test_open_frame),
	};

	return cmocka_run_group_tests_name("ag_ctrl", tests, NULL, NULL);
}
