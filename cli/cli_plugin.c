/*
 * cli_plugin: parser of the session-manager-plugin command line (see
 * cli_plugin.h).
 */
#include "cli_plugin.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "dh_hash.h"
#include "dh_json.h"

/* Copy s into out[outsz]; DH_E_TOOBIG when it does not fit. */
static int
copy(const char *what, const char *s, char *out, size_t outsz,
    struct dh_err *err)
{
	size_t n = strlen(s);

	if (n >= outsz)
		return dh_err_set(err, DH_E_TOOBIG, "%s is over %zu bytes",
		    what, outsz - 1);
	memcpy(out, s, n + 1);
	return DH_OK;
}

/* String member k of object j (non-empty unless may_be_empty). */
static int
member(const cJSON *j, const char *doc, const char *k, int may_be_empty,
    char *out, size_t outsz, struct dh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    (!may_be_empty && v->valuestring[0] == '\0'))
		return dh_err_set(err, DH_E_FORMAT, "%s has no %s", doc, k);
	return copy(k, v->valuestring, out, outsz, err);
}

/* Parse s, which must be a JSON object (doc names it in errors). */
static int
parse_object(const char *s, const char *doc, cJSON **j, struct dh_err *err)
{
	int rc;

	*j = NULL;
	rc = dh_json_parse(s, strlen(s), CLI_PLUGIN_JSON_MAX, j, err);
	if (rc == DH_OK && !cJSON_IsObject(*j))
		rc = dh_err_set(err, DH_E_FORMAT, "%s is not a JSON object",
		    doc);
	return rc;
}

static int
parse_response(const char *s, struct cli_plugin_args *out,
    struct dh_err *err)
{
	static const char doc[] = "the StartSession response";
	cJSON *j;
	int rc;

	rc = parse_object(s, doc, &j, err);
	if (rc == DH_OK)
		rc = member(j, doc, "SessionId", 0, out->session_id,
		    sizeof(out->session_id), err);
	if (rc == DH_OK)
		rc = member(j, doc, "TokenValue", 0, out->token,
		    sizeof(out->token), err);
	if (rc == DH_OK)
		rc = member(j, doc, "StreamUrl", 0, out->stream_url,
		    sizeof(out->stream_url), err);
	cJSON_Delete(j);
	return rc;
}

static int
parse_params(const char *s, struct cli_plugin_args *out, struct dh_err *err)
{
	static const char doc[] = "the StartSession request";
	cJSON *j;
	int rc;

	rc = parse_object(s, doc, &j, err);
	if (rc == DH_OK)
		rc = member(j, doc, "Target", 0, out->target,
		    sizeof(out->target), err);
	cJSON_Delete(j);
	return rc;
}

int
cli_plugin_parse(int argc, char **argv, enum cli_plugin_op *op,
    struct cli_plugin_args *out, struct dh_err *err)
{
	const char *resp;
	char *env = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (argc <= 1) {
		*op = CLI_PLUGIN_INSTALLED;
		return DH_OK;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		*op = CLI_PLUGIN_VERSION;
		return DH_OK;
	}
	if ((argc != 7 && argc != 4) || strcmp(argv[3], "StartSession") != 0)
		return dh_err_set(err, DH_E_ARG, "Unknown operation %.64s",
		    argv[argc >= 4 ? 3 : 1]);
	*op = CLI_PLUGIN_START;
	resp = argv[1];
	if (strncmp(resp, CLI_PLUGIN_ENV_PREFIX,
	    strlen(CLI_PLUGIN_ENV_PREFIX)) == 0) {
		resp = getenv(argv[1]);
		if (resp == NULL)
			return dh_err_set(err, DH_E_ARG, "environment variable"
			    " %.64s is not set", argv[1]);
		env = strdup(resp);
		if (env == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		(void)unsetenv(argv[1]);
		resp = env;
	}
	rc = parse_response(resp, out, err);
	if (rc == DH_OK)
		rc = copy("the region", argv[2], out->region,
		    sizeof(out->region), err);
	/* the legacy form (older aws CLIs) stops after the operation: no
	 * profile, no request (so no Target), the endpoint by region */
	if (rc == DH_OK && argc == 7)
		rc = copy("the profile", argv[4], out->profile,
		    sizeof(out->profile), err);
	if (rc == DH_OK && argc == 7)
		rc = parse_params(argv[5], out, err);
	if (rc == DH_OK && argc == 7)
		rc = copy("the endpoint", argv[6], out->endpoint,
		    sizeof(out->endpoint), err);
	if (rc == DH_OK && out->region[0] == '\0')
		rc = dh_err_set(err, DH_E_FORMAT, "the region is empty");
	if (env != NULL) {
		dh_wipe(env, strlen(env));
		free(env);
	}
	else
		/* the token is in our argv (ps shows it): blank it there */
		dh_wipe(argv[1], strlen(argv[1]));
	if (rc != DH_OK)
		dh_wipe(out, sizeof(*out));
	return rc;
}
