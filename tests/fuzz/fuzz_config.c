/*
 * Fuzz target: dh_config_load_mem on arbitrary bytes as the JSON document,
 * then the same bytes (up to the first NUL) as the environment value of
 * every field, against a schema with one field of each type.  A successful
 * load must dump to JSON that dh_json_parse accepts, and free cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_config.h"
#include "dh_err.h"
#include "dh_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fcfg {
	char *name;
	char *url;
	int level;
	int64_t timeout;
	int64_t big;
	int flag;
	char *secret;
	struct dh_config_list users;
	struct dh_config_list tokens;
};

static const char *const levels[] = { "error", "warn", "info", "debug", NULL };

#define OFF(m) offsetof(struct fcfg, m)

static const struct dh_config_field schema[] = {
	{ "name", DH_CONFIG_STR, OFF(name), "host", 0, 64, NULL, 0, "name" },
	{ "endpoints.ssm", DH_CONFIG_STR, OFF(url), NULL, 1, 0, NULL, 0, "url" },
	{ "log.level", DH_CONFIG_ENUM, OFF(level), "info", 0, 0, levels, 0,
	  "level" },
	{ "session.idle_timeout", DH_CONFIG_INT, OFF(timeout), "1200", 1, 3600,
	  NULL, 0, "timeout" },
	{ "session.limits.big", DH_CONFIG_INT, OFF(big), NULL, INT64_MIN,
	  INT64_MAX, NULL, 0, "full int64 range" },
	{ "tls.verify", DH_CONFIG_BOOL, OFF(flag), "true", 0, 0, NULL, 0, "flag" },
	{ "credentials.secret_key", DH_CONFIG_STR, OFF(secret), NULL, 0, 0,
	  NULL, 1, "secret" },
	{ "session.allow_users", DH_CONFIG_STRLIST, OFF(users), "root", 0, 8,
	  NULL, 0, "users" },
	{ "credentials.tokens", DH_CONFIG_STRLIST, OFF(tokens), NULL, 0, 0,
	  NULL, 1, "tokens" },
	DH_CONFIG_END
};

static const char *const env_names[] = {
	"FZ_NAME", "FZ_ENDPOINTS_SSM", "FZ_LOG_LEVEL",
	"FZ_SESSION_IDLE_TIMEOUT", "FZ_SESSION_LIMITS_BIG", "FZ_TLS_VERIFY",
	"FZ_CREDENTIALS_SECRET_KEY", "FZ_SESSION_ALLOW_USERS",
	"FZ_CREDENTIALS_TOKENS",
};

static void
check_loaded(struct fcfg *c)
{
	struct dh_buf out;
	cJSON *j = NULL;

	dh_buf_init(&out, 1 << 22);
	if (dh_config_dump(schema, c, &out) != DH_OK)
		abort();
	if (dh_json_parse(out.d, out.len, out.len, &j, NULL) != DH_OK)
		abort();
	cJSON_Delete(j);
	dh_buf_free(&out);
	dh_config_free(schema, c);
	if (c->name != NULL || c->users.v != NULL || c->tokens.n != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* putenv with our own buffer: glibc's setenv never frees old values */
	static char envbuf[8192 + 64];
	struct dh_err err;
	struct fcfg c;
	size_t i, n, nl;

	memset(&c, 0, sizeof(c));
	if (dh_config_load_mem(schema, &c, data, size, "fuzz", NULL, &err) ==
	    DH_OK)
		check_loaded(&c);
	else if (c.name != NULL || c.users.v != NULL)
		abort();

	n = size < 8192 ? size : 8192;
	for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
		nl = strlen(env_names[i]);
		memcpy(envbuf, env_names[i], nl);
		envbuf[nl] = '=';
		memcpy(envbuf + nl + 1, data, n);
		envbuf[nl + 1 + n] = '\0';
		if (putenv(envbuf) != 0)
			abort();
		if (dh_config_load_mem(schema, &c, "{}", 2, "fuzz", "FZ", &err) ==
		    DH_OK)
			check_loaded(&c);
		unsetenv(env_names[i]);
	}
	return 0;
}
