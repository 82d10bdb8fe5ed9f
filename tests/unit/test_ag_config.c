/*
 * Unit tests for ag_config: defaults, overrides, rejections naming the key,
 * endpoint resolution (override, registered endpoint, AWS default) and the
 * CA precedence (explicit, AWS_CA_BUNDLE, config, registered).
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

#include "ag_config.h"
#include "dh_log.h"

static void
test_defaults(void **state)
{
	struct ag_config c;

	assert_int_equal(ag_config_load_mem("{}", &c, NULL), DH_OK);
	assert_int_equal(c.heartbeat_seconds, 300);
	assert_int_equal(c.max_backoff_seconds, 300);
	assert_int_equal(c.key_rotate_days, 0);
	assert_int_equal(ag_config_log_level(&c), DH_LOG_INFO);
	assert_string_equal(c.state_dir, AG_STATE_DEFAULT_DIR);
	assert_null(c.endpoint[AG_SVC_SSM]);
	ag_config_free(&c);
}

static void
test_values_and_rejects(void **state)
{
	struct ag_config c;
	struct dh_err e;

	assert_int_equal(ag_config_load_mem("{\"endpoints\":{\"ssm\":"
	    "\"https://gw:8443\",\"ssmmessages\":\"gw2:9443\"},"
	    "\"log_level\":\"debug\",\"heartbeat\":{\"interval_seconds\":60},"
	    "\"control_channel\":{\"max_backoff_seconds\":30}}", &c, &e),
	    DH_OK);
	assert_string_equal(c.endpoint[AG_SVC_SSM], "https://gw:8443");
	assert_int_equal(ag_config_log_level(&c), DH_LOG_DEBUG);
	assert_int_equal(c.heartbeat_seconds, 60);
	assert_int_equal(c.max_backoff_seconds, 30);
	ag_config_free(&c);
	assert_int_equal(ag_config_load_mem("{\"heartbeat\":"
	    "{\"interval_seconds\":1}}", &c, &e), DH_E_CONFIG);
	assert_non_null(strstr(e.msg, "heartbeat.interval_seconds"));
	assert_int_equal(ag_config_load_mem("{\"bogus\":1}", &c, &e),
	    DH_E_CONFIG);
	assert_int_equal(ag_config_load_mem("{\"log_level\":\"loud\"}", &c, &e),
	    DH_E_CONFIG);
}

/* session.* keys: defaults, typed values, bounds, and the env override
 * names the session worker's settings used before (DECKHAND_SESSION_*). */
static void
test_session(void **state)
{
	static const char *const keys[][2] = {
		{ "session.allow_root", "DECKHAND_SESSION_ALLOW_ROOT" },
		{ "session.ssm_user_sudo", "DECKHAND_SESSION_SSM_USER_SUDO" },
		{ "session.log_input", "DECKHAND_SESSION_LOG_INPUT" },
		{ "session.fail_closed", "DECKHAND_SESSION_FAIL_CLOSED" },
		{ "session.spool_dir", "DECKHAND_SESSION_SPOOL_DIR" },
		{ "session.chunk_bytes", "DECKHAND_SESSION_CHUNK_BYTES" },
	};
	struct ag_config c;
	struct dh_err e;
	char name[128], path[] = "/tmp/test_ag_config_XXXXXX";
	size_t i;
	int fd;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(dh_config_env_name(AG_CONFIG_ENV_PREFIX,
		    keys[i][0], name, sizeof(name)), DH_OK);
		assert_string_equal(name, keys[i][1]);
	}
	assert_int_equal(ag_config_load_mem("{}", &c, NULL), DH_OK);
	assert_int_equal(c.session_allow_root, 0);
	assert_int_equal(c.session_fail_closed, 0);
	assert_null(c.session_spool_dir);
	assert_int_equal(c.session_chunk_bytes, 0);
	ag_config_free(&c);
	assert_int_equal(ag_config_load_mem("{\"session\":{\"allow_root\":"
	    "true,\"ssm_user_sudo\":true,\"log_input\":true,"
	    "\"fail_closed\":true,\"spool_dir\":\"/var/spool/dh\","
	    "\"chunk_bytes\":4096}}", &c, &e), DH_OK);
	assert_int_equal(c.session_allow_root, 1);
	assert_int_equal(c.session_ssm_user_sudo, 1);
	assert_int_equal(c.session_log_input, 1);
	assert_int_equal(c.session_fail_closed, 1);
	assert_string_equal(c.session_spool_dir, "/var/spool/dh");
	assert_int_equal(c.session_chunk_bytes, 4096);
	ag_config_free(&c);
	assert_int_equal(ag_config_load_mem("{\"session\":{\"chunk_bytes\":"
	    "262145}}", &c, &e), DH_E_CONFIG);
	assert_non_null(strstr(e.msg, "session.chunk_bytes"));
	assert_int_equal(ag_config_load_mem("{\"session\":{\"allow_root\":"
	    "\"yes please\"}}", &c, &e), DH_E_CONFIG);
	assert_non_null(strstr(e.msg, "session.allow_root"));

	/* the environment overrides the file */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"session\":{\"fail_closed\":true}}",
	    32), 32);
	close(fd);
	setenv("DECKHAND_SESSION_FAIL_CLOSED", "false", 1);
	setenv("DECKHAND_SESSION_CHUNK_BYTES", "8192", 1);
	assert_int_equal(ag_config_load(path, 1, &c, &e), DH_OK);
	assert_int_equal(c.session_fail_closed, 0);
	assert_int_equal(c.session_chunk_bytes, 8192);
	ag_config_free(&c);
	setenv("DECKHAND_SESSION_CHUNK_BYTES", "0x10", 1);
	assert_int_equal(ag_config_load(path, 1, &c, &e), DH_E_CONFIG);
	assert_non_null(strstr(e.msg, "DECKHAND_SESSION_CHUNK_BYTES"));
	unsetenv("DECKHAND_SESSION_FAIL_CLOSED");
	unsetenv("DECKHAND_SESSION_CHUNK_BYTES");
	unlink(path);
}

struct ep_case {
	const char *override;
	int svc;
	const char *registered;
	const char *want;
	int rc;
};

static const struct ep_case ep_cases[] = {
	{ NULL, AG_SVC_SSM, NULL, "https://ssm.eu-west-1.amazonaws.com", 0 },
	{ NULL, AG_SVC_SSMMESSAGES, NULL,
	  "https://ssmmessages.eu-west-1.amazonaws.com", 0 },
	{ NULL, AG_SVC_SSM, "https://127.0.0.1:8443/", "https://127.0.0.1:8443",
	  0 },
	{ NULL, AG_SVC_SSMMESSAGES, "https://127.0.0.1:8443/api",
	  "https://127.0.0.1:8443", 0 },
	{ NULL, AG_SVC_SSM, "127.0.0.1:8443", "https://127.0.0.1:8443", 0 },
	{ "gw:1", AG_SVC_SSMMESSAGES, "https://127.0.0.1:8443",
	  "https://gw:1", 0 },
	{ "http://gw:1", AG_SVC_SSM, NULL, NULL, DH_E_ARG },
	{ NULL, AG_SVC_COUNT, NULL, NULL, DH_E_ARG },
};

static void
test_endpoints(void **state)
{
	struct ag_config c;
	char out[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ep_cases) / sizeof(ep_cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		if (ep_cases[i].svc < AG_SVC_COUNT)
			c.endpoint[ep_cases[i].svc] =
			    (char *)ep_cases[i].override;
		rc = ag_config_endpoint(&c, (enum ag_service)ep_cases[i].svc,
		    ep_cases[i].registered, "eu-west-1", out, sizeof(out),
		    NULL);
		if (rc != ep_cases[i].rc)
			fail_msg("case %zu rc %d", i, rc);
		if (rc == DH_OK)
			assert_string_equal(out, ep_cases[i].want);
	}
	assert_int_equal(ag_config_endpoint(NULL, AG_SVC_SSM, NULL, "", out,
	    sizeof(out), NULL), DH_E_ARG);
}

static void
test_ca(void **state)
{
	struct ag_config c;

	memset(&c, 0, sizeof(c));
	unsetenv("AWS_CA_BUNDLE");
	assert_null(ag_config_ca(&c, NULL, NULL));
	assert_string_equal(ag_config_ca(&c, NULL, "/reg.pem"), "/reg.pem");
	c.ca_bundle = (char *)"/cfg.pem";
	assert_string_equal(ag_config_ca(&c, NULL, "/reg.pem"), "/cfg.pem");
	setenv("AWS_CA_BUNDLE", "/env.pem", 1);
	assert_string_equal(ag_config_ca(&c, NULL, "/reg.pem"), "/env.pem");
	assert_string_equal(ag_config_ca(&c, "/flag.pem", "/reg.pem"),
	    "/flag.pem");
	unsetenv("AWS_CA_BUNDLE");
	assert_string_equal(ag_config_service_name(AG_SVC_EC2MESSAGES),
	    "ec2messages");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_rejects),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests_name("ag_config", tests, NULL, NULL);
}
