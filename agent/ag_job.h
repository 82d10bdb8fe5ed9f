/*
 * ag_job: Run Command jobs for AWS-RunPatchBaseline (Operation=Scan) and
 * the agent's local patch-scan schedule.
 *
 * An "agent_job" control message is acknowledged at once ("agent_job_ack",
 * statusCode 200; 51403 for another document, 51408 for an unreadable
 * job, 51405 for a job already seen).  The scan runs in a forked child,
 * never in the event loop: it picks the baseline (the job's inline
 * BaselineOverride JSON, else patch.baseline_file, else
 * GetDeployablePatchSnapshotForInstance -- whose SnapshotDownloadUrl may be a
 * data: URL -- else the predefined default for the scanned OS), scans
 * patch.scan_root with pt_scan_root, evaluates with pt_baseline_eval, builds
 * PutComplianceItems / PutInventory(AWS:PatchSummary) bodies with pt_report
 * and uploads them with the agent's credentials.  Uploads that fail are
 * spooled to <state>/patch/spool/ and re-sent (again from a child) once the
 * control channel is up.  The child writes its outcome to
 * <state>/patch/jobs/<n>.json; the loop reaps it (ag_job_poll) and sends
 * "agent_job_reply" (documentStatus + runtimeStatus.PatchLinux).
 *
 * The local schedule (patch.scan_schedule) is any dh_sched expression:
 * cron(...) and at(...) in patch.scan_timezone (UTC when unset), or
 * rate(N minute(s)|hour(s)|day(s)) anchored at agent start.  A fire that
 * comes while another scan runs is taken once that scan ends; fires missed
 * meanwhile coalesce into one.  at() fires once; an at() already in the
 * past leaves no local schedule.  dh_sched_next sets TZ while it runs:
 * ag_job_new and ag_job_poll belong on the agent's single loop thread.
 *
 * Ownership: struct ag_job owns copies of its parameters; the environment
 * passed to ag_job_poll/ag_job_on_msg is borrowed for the call.
 */
#ifndef AG_JOB_H
#define AG_JOB_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"

#define AG_JOB_DOCUMENT "AWS-RunPatchBaseline"
#define AG_JOB_REPLY_MAX 120000
#define AG_JOB_SEEN 32

struct ag_ctrl;
struct ag_job;
struct dh_spawner;

/* A parsed agent_job (strings owned by the struct; ag_job_req_clear). */
struct ag_job_req {
	char *job_id;          /* aws.ssm.<command-id>.<instance-id> */
	char *command_id;
	char *document;
	char *operation;       /* "Scan" / "Install" */
	char *snapshot_id;     /* may be NULL */
	char *baseline;        /* inline BaselineOverride JSON; may be NULL */
};

/* What a job runner needs (all copied by ag_job_new). */
struct ag_job_params {
	const char *state_dir;
	const char *instance_id;
	const char *region;
	const char *scan_root;      /* NULL = "/" */
	const char *baseline_file;  /* NULL = ask the service */
	const char *scan_schedule;  /* NULL = no local schedule */
	const char *scan_timezone;  /* IANA zone of the schedule; NULL = UTC */
};

/* Per-call environment: endpoint, HTTP settings and credentials (borrowed). */
struct ag_job_env {
	const char *ssm_url;
	const char *ca_file;
	const char *proxy;
	const char *access_key;
	const char *secret_key;
	const char *session_token;
};

/* Parse an agent_job payload (JSON with a JSON-string Content). */
int ag_job_parse(const void *p, size_t n, struct ag_job_req *out,
    struct dh_err *err);
void ag_job_req_clear(struct ag_job_req *r);

/* Append the agent_job_ack JSON for job_id / the job message id. */
int ag_job_ack_body(const char *job_id, const struct dh_uuid *msg_id,
    uint64_t created_ms, const char *code, const char *msg,
    struct dh_buf *out);

/* Append the agent_job_reply JSON (content = SendReplyPayload string). */
int ag_job_reply_body(const char *job_id, const char *status, int code,
    const char *output, int64_t start_ms, int64_t end_ms,
    struct dh_buf *out);

/* Decode a snapshot (data:...;base64, URL body) into the baseline object
 * at "patchBaseline" (*out owned).  DH_E_FORMAT for other URLs. */
int ag_job_snapshot_baseline(const char *url, cJSON **out,
    struct dh_err *err);

/* Scan, evaluate and report in this process (what the child runs): the
 * result summary goes to out_json ({"status","code","output"}).  Uploads
 * that fail are spooled.  req may be NULL for a local scheduled scan. */
int ag_job_run_scan(const struct ag_job_params *p,
    const struct ag_job_env *env, const struct ag_job_req *req,
    struct dh_buf *out_json, struct dh_err *err);

/* Re-send spooled uploads; sent files are removed.  *left = files kept. */
int ag_job_flush_spool(const struct ag_job_params *p,
    const struct ag_job_env *env, size_t *left, struct dh_err *err);

/* New runner; *out freed with ag_job_free (which kills no child: it waits
 * for none either; a running scan finishes on its own).  now_ms is the
 * wall clock (epoch ms).  DH_E_CONFIG when p->scan_schedule does not parse
 * or p->scan_timezone is not a zone. */
int ag_job_new(const struct ag_job_params *p, int64_t now_ms,
    struct ag_job **out, struct dh_err *err);
void ag_job_free(struct ag_job *j);

/* Fork children through sp (borrowed, NULL = fork directly), which must
 * serve AG_JOB_SPAWN_TAG with ag_job_spawned and outlive j. */
#define AG_JOB_SPAWN_TAG 'J'
void ag_job_set_spawner(struct ag_job *j, struct dh_spawner *sp);

/* A child's start request as the spawner hands it over: what it runs
 * (AG_JOB_CHILD_*), where its result goes, and its parameters,
 * environment and job.  Owns every string. */
enum { AG_JOB_CHILD_JOB = 1, AG_JOB_CHILD_LOCAL, AG_JOB_CHILD_FLUSH };
struct ag_job_spawn {
	int kind;
	const char *result_path;
	struct ag_job_params p;
	struct ag_job_env env;
	struct ag_job_req req;
	int has_req;
	char *strs[12];
};

/* Encode a start request into out (appended); req may be NULL. */
int ag_job_spawn_encode(int kind, const char *result_path,
    const struct ag_job_params *p, const struct ag_job_env *env,
    const struct ag_job_req *req, struct dh_buf *out, struct dh_err *err);

/* Decode p[0..n) into s (zeroed first; free with ag_job_spawn_free even on
 * failure).  DH_E_SHORT / DH_E_FORMAT / DH_E_TOOBIG on bad input. */
int ag_job_spawn_decode(const void *p, size_t n, struct ag_job_spawn *s,
    struct dh_err *err);
void ag_job_spawn_free(struct ag_job_spawn *s);

/* The spawner's child entry for AG_JOB_SPAWN_TAG (never returns). */
void ag_job_spawned(const void *req, size_t n, int fd)
    __attribute__((noreturn));

/* Epoch milliseconds of the local schedule's next scan; 0 when there is
 * none (no schedule, or it never fires again). */
int64_t ag_job_next_scan_ms(const struct ag_job *j);

/* Handle a control message (agent_job, agent_job_reply_ack; others are
 * ignored): ack, start the child. */
void ag_job_on_msg(struct ag_job *j, struct ag_ctrl *c,
    const struct dh_mgs_msg *m, const struct ag_job_env *env,
    int64_t now_ms);

/* Reap a finished child and send its reply, start the local schedule's
 * scan when due, flush the spool when the channel is up.  Call about
 * once a second from the loop. */
void ag_job_poll(struct ag_job *j, struct ag_ctrl *c,
    const struct ag_job_env *env, int64_t now_ms);

#endif
