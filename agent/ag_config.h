/*
 * ag_config: the agent's configuration (/etc/deckhand/agent.json), declared
 * as a dh_config schema, plus endpoint resolution per service.
 *
 * Every key is optional.  Environment overrides use the prefix DECKHAND
 * (e.g. DECKHAND_LOG_LEVEL, DECKHAND_ENDPOINTS_SSM).  An endpoint override
 * may be a full https:// URL or a bare host[:port] (https:// is assumed).
 * Without an override the SSM endpoint is the one recorded at registration,
 * the other services reuse that endpoint's origin when one was recorded (the
 * gateway serves every service on one port), and otherwise the AWS default
 * https://<service>.<region>.amazonaws.com is used.
 *
 * Ownership: struct ag_config owns its strings; release with
 * ag_config_free.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_config.h"
#include "dh_err.h"

/* Largest session.chunk_bytes (equals SS_WORKER_CHUNK_MAX). */
#define AG_SESSION_CHUNK_MAX (256 * 1024)

#define AG_CONFIG_DEFAULT_PATH "/etc/deckhand/agent.json"
#define AG_STATE_DEFAULT_DIR "/var/lib/deckhand"
#define AG_CONFIG_ENV_PREFIX "DECKHAND"

enum ag_service {
	AG_SVC_SSM = 0,
	AG_SVC_SSMMESSAGES,
	AG_SVC_LOGS,
	AG_SVC_S3,
	AG_SVC_KMS,
	AG_SVC_EC2MESSAGES,
	AG_SVC_COUNT
};

struct ag_config {
	char *region;                  /* overrides the registered region */
	char *endpoint[AG_SVC_COUNT];  /* per-service overrides */
	char *ca_bundle;               /* PEM file */
	char *https_proxy;             /* proxy URL for HTTPS and wss */
	char *no_proxy;
	int log_level;                 /* index: error, warn, info, debug */
	int64_t heartbeat_seconds;
	int64_t backoff_initial_ms;
	int64_t max_backoff_seconds;
	int64_t ping_seconds;
	int64_t key_rotate_days;
	char *state_dir;
	char *patch_scan_root;         /* root scanned by patch jobs ("/") */
	char *patch_baseline_file;     /* local baseline JSON; NULL = service */
	char *patch_scan_schedule;     /* local scan schedule (dh_sched) */
	char *patch_scan_timezone;     /* IANA zone of it; NULL = UTC */
	int session_allow_root;        /* sessions may run as root */
	int session_ssm_user_sudo;     /* ssm-user gets passwordless sudo */
	int session_log_input;         /* transcripts include keystrokes */
	int session_fail_closed;       /* refuse sessions when logging fails */
	char *session_spool_dir;       /* transcript spool; NULL = <state>/spool */
	int64_t session_chunk_bytes;   /* output frame size; 0 = worker default */
};

/* The schema (for dh_config_describe and tests). */
const struct dh_config_field *ag_config_schema(void);

/* Load path (NULL = AG_CONFIG_DEFAULT_PATH, where a missing file means
 * defaults) and the environment into cfg; an explicitly named file must
 * exist.  DH_E_CONFIG names the offending key. */
int ag_config_load(const char *path, int explicit_path, struct ag_config *cfg,
    struct dh_err *err);

/* Load from memory (tests). */
int ag_config_load_mem(const char *json, struct ag_config *cfg,
    struct dh_err *err);

/* Release the strings cfg owns. */
void ag_config_free(struct ag_config *cfg);

/* Append the effective configuration as JSON to out. */
int ag_config_dump(const struct ag_config *cfg, struct dh_buf *out);

/* Static service name ("ssm", "ssmmessages", ...) of svc. */
const char *ag_config_service_name(enum ag_service svc);

/* The dh_log level for cfg->log_level. */
int ag_config_log_level(const struct ag_config *cfg);

/*
 * Resolve the https:// base URL (no trailing '/') for svc into out[outsz]:
 * the config override, else (for ssm) registered, else the origin of
 * registered, else the AWS default for region.  registered may be NULL or
 * "".  DH_E_ARG when the result does not fit or an override is not https.
 */
int ag_config_endpoint(const struct ag_config *cfg, enum ag_service svc,
    const char *registered, const char *region, char *out, size_t outsz,
    struct dh_err *err);

/* The CA bundle to use: explicit (non-NULL, non-empty) wins, then
 * $AWS_CA_BUNDLE, then cfg->ca_bundle, then registered; NULL means the
 * system store.  Returned pointer borrows one of the inputs or the env. */
const char *ag_config_ca(const struct ag_config *cfg, const char *explicit_ca,
    const char *registered);

#endif
