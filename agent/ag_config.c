/*
 * ag_config: agent.json schema and endpoint resolution (see ag_config.h).
 */
#include "ag_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_log.h"

static const char *const log_levels[] = { "error", "warn", "info", "debug",
	NULL };

static const char *const svc_names[AG_SVC_COUNT] = { "ssm", "ssmmessages",
	"logs", "s3", "kms", "ec2messages" };

#define OFF(m) offsetof(struct ag_config, m)

static const struct dh_config_field schema[] = {
	{ "region", DH_CONFIG_STR, OFF(region), NULL, 0, 64, NULL, 0,
	  "AWS region; overrides the region recorded at registration" },
	{ "endpoints.ssm", DH_CONFIG_STR, OFF(endpoint[AG_SVC_SSM]), NULL, 0,
	  512, NULL, 0, "SSM API endpoint URL" },
	{ "endpoints.ssmmessages", DH_CONFIG_STR,
	  OFF(endpoint[AG_SVC_SSMMESSAGES]), NULL, 0, 512, NULL, 0,
	  "ssmmessages (control/data channel) endpoint URL" },
	{ "endpoints.logs", DH_CONFIG_STR, OFF(endpoint[AG_SVC_LOGS]), NULL,
	  0, 512, NULL, 0, "CloudWatch Logs endpoint URL" },
	{ "endpoints.s3", DH_CONFIG_STR, OFF(endpoint[AG_SVC_S3]), NULL, 0,
	  512, NULL, 0, "S3 endpoint URL" },
	{ "endpoints.kms", DH_CONFIG_STR, OFF(endpoint[AG_SVC_KMS]), NULL, 0,
	  512, NULL, 0, "KMS endpoint URL" },
	{ "endpoints.ec2messages", DH_CONFIG_STR,
	  OFF(endpoint[AG_SVC_EC2MESSAGES]), NULL, 0, 512, NULL, 0,
	  "ec2messages endpoint URL" },
	{ "ca_bundle", DH_CONFIG_STR, OFF(ca_bundle), NULL, 0, 1024, NULL, 0,
	  "PEM CA bundle trusted for every endpoint (AWS_CA_BUNDLE wins)" },
	{ "proxy.https", DH_CONFIG_STR, OFF(https_proxy), NULL, 0, 1024, NULL,
	  0, "proxy URL for HTTPS and websocket traffic (default: env)" },
	{ "proxy.no_proxy", DH_CONFIG_STR, OFF(no_proxy), NULL, 0, 1024, NULL,
	  0, "comma-separated hosts that bypass the proxy" },
	{ "log_level", DH_CONFIG_ENUM, OFF(log_level), "info", 0, 0,
	  log_levels, 0, "least important log level written" },
	{ "heartbeat.interval_seconds", DH_CONFIG_INT,
	  OFF(heartbeat_seconds), "300", 10, 3600, NULL, 0,
	  "seconds between UpdateInstanceInformation heartbeats" },
	{ "control_channel.initial_backoff_ms", DH_CONFIG_INT,
	  OFF(backoff_initial_ms), "1000", 100, 60000, NULL, 0,
	  "first reconnect delay (doubles per failure, jittered)" },
	{ "control_channel.max_backoff_seconds", DH_CONFIG_INT,
	  OFF(max_backoff_seconds), "300", 1, 3600, NULL, 0,
	  "ceiling of the reconnect/retry backoff" },
	{ "control_channel.ping_seconds", DH_CONFIG_INT, OFF(ping_seconds),
	  "54", 5, 600, NULL, 0, "websocket ping interval" },
	{ "credentials.key_rotate_days", DH_CONFIG_INT, OFF(key_rotate_days),
	  "0", 0, 365, NULL, 0,
	  "rotate the RSA key after this many days (0: only when asked)" },
	{ "state_dir", DH_CONFIG_STR, OFF(state_dir), AG_STATE_DEFAULT_DIR, 1,
	  1024, NULL, 0, "directory holding the identity" },
	{ "patch.scan_root", DH_CONFIG_STR, OFF(patch_scan_root), "/", 1,
	  1024, NULL, 0, "root filesystem AWS-RunPatchBaseline scans" },
	{ "patch.baseline_file", DH_CONFIG_STR, OFF(patch_baseline_file), NULL,
	  0, 1024, NULL, 0,
	  "patch baseline JSON used instead of asking the service" },
	{ "patch.scan_schedule", DH_CONFIG_STR, OFF(patch_scan_schedule), NULL,
	  0, 256, NULL, 0,
	  "local scan schedule cron(...), rate(...) or at(...), also offline" },
	{ "patch.scan_timezone", DH_CONFIG_STR, OFF(patch_scan_timezone), NULL,
	  0, 64, NULL, 0,
	  "IANA time zone of patch.scan_schedule (default UTC)" },
	{ "session.allow_root", DH_CONFIG_BOOL, OFF(session_allow_root),
	  "false", 0, 0, NULL, 0, "Session Manager sessions may run as root" },
	{ "session.ssm_user_sudo", DH_CONFIG_BOOL, OFF(session_ssm_user_sudo),
	  "false", 0, 0, NULL, 0,
	  "give the ssm-user account passwordless sudo when creating it" },
	{ "session.log_input", DH_CONFIG_BOOL, OFF(session_log_input), "false",
	  0, 0, NULL, 0, "session transcripts also record typed input" },
	{ "session.fail_closed", DH_CONFIG_BOOL, OFF(session_fail_closed),
	  "false", 0, 0, NULL, 0,
	  "refuse sessions whose transcript cannot be written" },
	{ "session.spool_dir", DH_CONFIG_STR, OFF(session_spool_dir), NULL, 0,
	  1024, NULL, 0,
	  "transcript spool directory (default <state_dir>/spool)" },
	{ "session.chunk_bytes", DH_CONFIG_INT, OFF(session_chunk_bytes), "0",
	  0, AG_SESSION_CHUNK_MAX, NULL, 0,
	  "largest session output frame in bytes (0: 131072)" },
	DH_CONFIG_END
};

const struct dh_config_field *
ag_config_schema(void)
{
	return schema;
}

int
ag_config_load(const char *path, int explicit_path, struct ag_config *cfg,
    struct dh_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	return dh_config_load(schema, cfg,
	    path != NULL ? path : AG_CONFIG_DEFAULT_PATH, AG_CONFIG_ENV_PREFIX,
	    explicit_path ? 0 : DH_CONFIG_MISSING_OK, err);
}

int
ag_config_load_mem(const char *json, struct ag_config *cfg,
    struct dh_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	return dh_config_load_mem(schema, cfg, json, strlen(json), "agent.json",
	    NULL, err);
}

void
ag_config_free(struct ag_config *cfg)
{
	dh_config_free(schema, cfg);
}

int
ag_config_dump(const struct ag_config *cfg, struct dh_buf *out)
{
	return dh_config_dump(schema, cfg, out);
}

const char *
ag_config_service_name(enum ag_service svc)
{
	if ((int)svc < 0 || svc >= AG_SVC_COUNT)
		return "?";
	return svc_names[svc];
}

int
ag_config_log_level(const struct ag_config *cfg)
{
	static const int lv[] = { DH_LOG_ERROR, DH_LOG_WARN, DH_LOG_INFO,
		DH_LOG_DEBUG };

	if (cfg->log_level < 0 || cfg->log_level > 3)
		return DH_LOG_INFO;
	return lv[cfg->log_level];
}

/* Write url as "https://host[:port][/path]" without trailing '/'. */
static int
normalise(const char *url, char *out, size_t outsz, struct dh_err *err)
{
	const char *rest = url;
	size_t n;

	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strstr(url, "://") != NULL)
		return dh_err_set(err, DH_E_ARG,
		    "endpoint %.200s: only https:// is supported", url);
	if (rest[0] == '\0' || rest[0] == '/')
		return dh_err_set(err, DH_E_ARG, "endpoint %.200s has no host",
		    url);
	if ((size_t)snprintf(out, outsz, "https://%s", rest) >= outsz)
		return dh_err_set(err, DH_E_ARG, "endpoint URL too long");
	n = strlen(out);
	while (n > 8 && out[n - 1] == '/')
		out[--n] = '\0';
	return DH_OK;
}

int
ag_config_endpoint(const struct ag_config *cfg, enum ag_service svc,
    const char *registered, const char *region, char *out, size_t outsz,
    struct dh_err *err)
{
	const char *ov = NULL;
	char *slash;
	int rc;

	if ((int)svc < 0 || svc >= AG_SVC_COUNT)
		return dh_err_set(err, DH_E_ARG, "unknown service");
	if (cfg != NULL)
		ov = cfg->endpoint[svc];
	if (ov != NULL && ov[0] != '\0')
		return normalise(ov, out, outsz, err);
	if (registered != NULL && registered[0] != '\0') {
		rc = normalise(registered, out, outsz, err);
		if (rc != DH_OK || svc == AG_SVC_SSM)
			return rc;
		slash = strchr(out + 8, '/');
		if (slash != NULL)
			*slash = '\0';
		return DH_OK;
	}
	if (region == NULL || region[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "no region for the %s endpoint",
		    svc_names[svc]);
	if ((size_t)snprintf(out, outsz, "https://%s.%s.amazonaws.com",
	    svc_names[svc], region) >= outsz)
		return dh_err_set(err, DH_E_ARG, "endpoint URL too long");
	return DH_OK;
}

const char *
ag_config_ca(const struct ag_config *cfg, const char *explicit_ca,
    const char *registered)
{
	const char *env = getenv("AWS_CA_BUNDLE");

	if (explicit_ca != NULL && explicit_ca[0] != '\0')
		return explicit_ca;
	if (env != NULL && env[0] != '\0')
		return env;
	if (cfg != NULL && cfg->ca_bundle != NULL && cfg->ca_bundle[0] != '\0')
		return cfg->ca_bundle;
	if (registered != NULL && registered[0] != '\0')
		return registered;
	return NULL;
}
