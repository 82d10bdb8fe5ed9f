/*
 * ss_worker: one shell session of the agent, in its own forked process
 * (a crash kills only that session), plus the agent-side manager that
 * starts workers from `interactive_shell`, cancels them on `channel_closed`
 * and reports their end with `agent_task_complete`.
 *
 * Worker (child process, its own libwebsockets loop):
 *  1. decide and resolve the account (ss_pty: Run As, ssm-user);
 *  2. open the transcript (ss_transcript) when a spool directory is set;
 *  3. CreateDataChannel (POST <ssmmessages>/v1/data-channel/<sid>, SigV4
 *     "ssmmessages", 201 + XML <TokenValue>), websocket
 *     wss://<host>/v1/data-channel/<sid>?role=publish_subscribe with a
 *     SigV4-signed upgrade, OpenDataChannel text frame, then
 *     agent_session_state Connected;
 *  4. with a KMS key: HandshakeRequest (SessionType + KMSEncryption with a
 *     random challenge), HandshakeResponse, KMS Decrypt of the client's
 *     64-byte data key under {aws:ssm:SessionId, aws:ssm:TargetId} (plus
 *     aws:ssm:RandomChallenge when the client acknowledged it),
 *     EncChallengeRequest/Response, HandshakeComplete; 15 s per step;
 *     without a key the plain shell skips the handshake;
 *  5. pty <-> stream, poll-driven: output read in chunks of up to
 *     max_chunk bytes (UTF-8 sequences never split), written to the
 *     transcript, encrypted when KMS is on, sequenced/acked/resent by
 *     dh_mgsrel; input (decrypted) written to the pty; Size payloads
 *     resize it; pause_publication / send-buffer / socket back-pressure stop
 *     reading the pty; the data channel reconnects with a new token;
 *  6. end: shell exit (drain up to 2 s, agent_session_state Terminating),
 *     channel_closed (cancel), Flag TerminateSession, maxSessionDuration or
 *     idleSessionTimeout (the service enforces them too); the result goes to
 *     the manager, which sends agent_task_complete (up to 3 times, 1 s
 *     apart, until agent_task_acknowledge).
 *
 * Workers are forked by the agent's dh_spawner, a fork server started
 * while the agent is still single-threaded, so no worker inherits a lock
 * that one of the agent's threads held; the manager hands it the
 * environment, credentials and interactive_shell payload as one start
 * request (ss_worker_req_*, tag SS_WORKER_SPAWN_TAG, run by
 * ss_worker_spawned), and learns of ends from its reports.  Without a
 * spawner, or once it is gone, the manager forks workers itself.
 *
 * Manager <-> worker IPC is a SOCK_SEQPACKET socketpair: credentials and
 * cancel requests go down, the task-complete payload comes up.
 *
 * Ownership: the manager copies its settings and credentials and owns the
 * workers' descriptors; ss_worker_mgr_free terminates running workers.
 * Not thread-safe: the agent's event loop drives it.
 */
#ifndef SS_WORKER_H
#define SS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "ss_transcript.h"

#define SS_WORKER_SID_MAX 128
#define SS_WORKER_TEXT_MAX 512
#define SS_WORKER_KEYID_MAX 2048
#define SS_WORKER_PROFILE_MAX 4096
#define SS_WORKER_COMMAND_MAX 8192        /* InteractiveCommands command */
#define SS_WORKER_PROPS_MAX 2048          /* Port properties (JSON) */
#define SS_WORKER_TASK_MAX (256 * 1024)   /* interactive_shell payload */
#define SS_WORKER_CHUNK_DEFAULT (128 * 1024)
#define SS_WORKER_CHUNK_MAX (256 * 1024)
#define SS_WORKER_MAX 64                  /* concurrent sessions */

/* One session, decoded from interactive_shell (mgs-protocol.md 8.3). */
struct ss_task {
	char session_id[SS_WORKER_SID_MAX];
	char document_name[SS_WORKER_TEXT_MAX];
	char run_as_user[64];                 /* payload RunAsUser */
	char session_owner[SS_WORKER_TEXT_MAX];
	char session_type[32];                /* default Standard_Stream */
	char command[SS_WORKER_COMMAND_MAX];  /* InteractiveCommands: the
	                                       * linux commands, parameters
	                                       * substituted */
	char port_props[SS_WORKER_PROPS_MAX]; /* Port: the document's
	                                       * properties, parameters
	                                       * substituted (JSON object) */
	char port_host[256];                  /* Port: destination host */
	int port_number;                      /* Port: destination port */
	char port_type[64];                   /* Port: "" (stdio) or
	                                       * LocalPortForwarding */
	char s3_bucket[SS_NAME_MAX];
	char s3_prefix[SS_NAME_MAX];
	int s3_encryption;
	char cw_group[SS_NAME_MAX];
	int cw_streaming;
	int cw_encryption;
	char kms_key_id[SS_WORKER_KEYID_MAX];
	int run_as_enabled;
	char run_as_default_user[64];
	char shell_profile[SS_WORKER_PROFILE_MAX];
	int idle_timeout_min;                 /* 0 = none */
	int max_duration_min;                 /* 0 = none */
};

/* Parse an interactive_shell payload (outer JSON with a double-encoded
 * Content string; keys case-insensitive; booleans as bool or "true"/
 * "false"; numbers as number or string).  t is zeroed first.  For
 * sessionType InteractiveCommands, properties.linux.commands has its
 * {{ name }} references replaced by Parameters[name] (a string, or a list
 * joined by newlines); a reference to a missing or non-string parameter,
 * or an empty command, is DH_E_FORMAT.  For sessionType Port, the string
 * members of properties are substituted the same way (a parameter the
 * payload omits takes the document parameter's default); portNumber must
 * be 1-65535, host defaults to localhost. */
int ss_worker_parse_task(const void *p, size_t n, struct ss_task *t,
    struct dh_err *err);

/* Build the agent_task_complete payload (mgs-protocol.md 8.5) into out. */
int ss_worker_task_complete_json(const struct ss_task *t,
    const char *instance_id, const char *status, const char *output,
    struct dh_buf *out, struct dh_err *err);

/* Agent-wide settings for sessions (copied by ss_worker_mgr_new). */
struct ss_worker_env {
	const char *instance_id;
	const char *region;
	const char *mgs_url;          /* https base URL of ssmmessages */
	const char *kms_url;          /* https base URL of KMS */
	const char *logs_url;         /* CloudWatch Logs; NULL = by region */
	const char *s3_url;           /* S3; NULL = by region */
	const char *ca_file;          /* PEM; NULL = system store */
	const char *proxy_addr;       /* "" / NULL = none */
	unsigned proxy_port;
	const char *spool_dir;        /* NULL/"" = no transcript */
	const char *agent_version;    /* four components, e.g. "3.3.0.0" */
	int allow_root;               /* Run As root permitted */
	int ssm_user_sudo;            /* a newly created ssm-user gets sudo */
	int log_input;                /* transcript keeps INPUT records */
	int fail_closed;              /* transcript policy */
	size_t max_chunk;             /* 0 = SS_WORKER_CHUNK_DEFAULT */
};

/* Send hook: transmit m on the control channel; 0 or a DH_E_* code. */
typedef int (*ss_worker_send_fn)(void *arg, const struct dh_mgs_msg *m);

struct ss_worker_mgr;
struct dh_spawner;

/* New manager; *out freed with ss_worker_mgr_free.  sp (borrowed, NULL =
 * fork directly) must serve SS_WORKER_SPAWN_TAG with ss_worker_spawned
 * and outlive the manager. */
int ss_worker_mgr_new(const struct ss_worker_env *env, struct dh_spawner *sp,
    ss_worker_send_fn send, void *arg, struct ss_worker_mgr **out,
    struct dh_err *err);

/* Replace the settings for sessions started from now on. */
int ss_worker_mgr_set_env(struct ss_worker_mgr *m,
    const struct ss_worker_env *env, struct dh_err *err);

/* New credentials: kept for new workers and pushed to running ones. */
void ss_worker_mgr_set_creds(struct ss_worker_mgr *m, const struct ss_creds *c);

/* Handle a control-channel message: interactive_shell starts a worker,
 * channel_closed cancels one, agent_task_acknowledge stops a retry.
 * Returns 1 when the message was for sessions, 0 otherwise. */
int ss_worker_mgr_on_message(struct ss_worker_mgr *m,
    const struct dh_mgs_msg *msg, int64_t now_ms);

/* Reap workers, read their reports, retry task completions.  Returns the
 * delay in ms until the next call is useful. */
long ss_worker_mgr_poll(struct ss_worker_mgr *m, int64_t now_ms);

/* Running workers. */
int ss_worker_mgr_count(const struct ss_worker_mgr *m);

/* SIGTERM running workers, wait up to 2 s for them, free m (NULL ok). */
void ss_worker_mgr_free(struct ss_worker_mgr *m);

/* A worker's start request, as the manager hands it to the spawner
 * (dh_spawner): the environment, the credentials and the interactive_shell
 * payload, which the child parses again (so a request is checked exactly
 * like a control-channel message).  Owns every string it points to. */
struct ss_worker_req {
	struct ss_worker_env env;
	struct ss_creds creds;
	struct ss_task task;
	char *strs[10];
};

/* Encode a start request into out (appended). */
int ss_worker_req_encode(const struct ss_worker_env *env,
    const struct ss_creds *creds, const void *payload, size_t n,
    struct dh_buf *out, struct dh_err *err);

/* Decode and check p[0..n) into r (zeroed first; free with
 * ss_worker_req_free even on failure).  DH_E_SHORT / DH_E_FORMAT /
 * DH_E_TOOBIG on bad input, and whatever ss_worker_parse_task says. */
int ss_worker_req_decode(const void *p, size_t n, struct ss_worker_req *r,
    struct dh_err *err);

/* Free the strings of r and wipe its credentials (NULL ok). */
void ss_worker_req_free(struct ss_worker_req *r);

/* The spawner's child entry for SS_WORKER_SPAWN_TAG: decode the start
 * request and run the worker (never returns). */
#define SS_WORKER_SPAWN_TAG 'W'
void ss_worker_spawned(const void *req, size_t n, int fd)
    __attribute__((noreturn));

/* The worker itself (child side): run session t until it ends, then exit
 * the process.  ipc is the worker's end of the socketpair. */
void ss_worker_run(const struct ss_worker_env *env, const struct ss_task *t,
    const struct ss_creds *creds, int ipc) __attribute__((noreturn));

#endif
