/*
 * gw_session: the Session Manager APIs of SSM and the session records.
 * StartSession (Target, DocumentName default SSM-SessionManagerRunShell,
 * Reason, Parameters) checks that the target is a registered instance with
 * an open control channel (else TargetNotConnected), resolves the session
 * document and preferences (gw_docs), records the session, has gw_relay
 * send interactive_shell, and returns SessionId ("<caller>-<17 hex>"),
 * TokenValue and StreamUrl
 * "wss://<Host of the request>/v1/data-channel/<id>?role=publish_subscribe".
 * ResumeSession hands the owner a fresh token (an empty TokenValue once the
 * session ended, which the plugin reports as timed out); TerminateSession
 * ends it; DescribeSessions lists State Active (Connecting, Connected,
 * Disconnected, Terminating) or History (Terminated, Failed), newest
 * first, with the filters InvokedAfter, InvokedBefore, Target, Owner,
 * Status and SessionId, MaxResults 1..200 and NextToken paging.
 *
 * Records live in the sessions table of gw_store; gw_relay reads and
 * updates them through hooks this module provides (status changes, the
 * agent's agent_task_complete with its S3 and CloudWatch locations).
 *
 * Ownership: gw_session borrows the store and ctrl; it owns its relay.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <cJSON.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_ctrl.h"
#include "gw_relay.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define GW_SESSION_IDLE_DEFAULT_MIN 20  /* when the preferences say nothing */

/* The session operations (gw_session_n_ops entries). */
extern const struct gw_ssm_op gw_session_ops[];
extern const size_t gw_session_n_ops;

/* New Session Manager over st and ctrl (borrowed; strings copied); adopts
 * the stored live sessions so their timeouts run.  *out freed with
 * gw_session_free (after the transport is gone). */
int gw_session_new(struct gw_store *st, struct gw_ctrl *ctrl,
    const char *region, const char *account, int64_t now_ms,
    struct gw_session **out, struct dh_err *err);
void gw_session_free(struct gw_session *s);

/* Its data-channel relay (owned by s). */
struct gw_relay *gw_session_relay(struct gw_session *s);

/* The interactive_shell payload (double-encoded: {"Content": "<JSON
 * text>", "TaskId", "Topic", "SchemaVersion": 1}) for session sid running
 * document doc_name with content (the merged document), params (the
 * StartSession Parameters map, may be NULL; one-element lists become
 * strings), owner ARN and RunAs user; appended to out. */
int gw_session_shell_payload(const char *sid, const char *doc_name,
    const char *owner, const char *run_as, const cJSON *params,
    const cJSON *content, struct dh_buf *out, struct dh_err *err);

/* Minutes of a preference input (string or number; "" or absent: dflt)
 * into *out; DH_E_FORMAT when it is not a whole number in [0, 1440]. */
int gw_session_minutes(const cJSON *inputs, const char *key, int64_t dflt,
    int64_t *out);

#endif
