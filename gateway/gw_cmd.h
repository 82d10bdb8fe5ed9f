/*
 * gw_cmd: Run Command for the built-in document AWS-RunPatchBaseline.
 *
 * Operations (gw_ssm-style handlers): SendCommand (targets by InstanceIds
 * or Targets Key=InstanceIds / tag:<key> / tag-key; Parameters Operation
 * Scan|Install, SnapshotId, BaselineOverride, RebootOption), ListCommands,
 * ListCommandInvocations (Details adds CommandPlugins) and
 * GetCommandInvocation.  A command is stored with one invocation per
 * target, Pending until delivered.
 *
 * Delivery (struct gw_cmd): every Pending invocation whose instance has an
 * open control channel is sent as an MGS "agent_job" message
 * ({"Content": <SendCommand payload JSON as a string>, "JobId":
 * "aws.ssm.<command-id>.<instance-id>", "Topic": "aws.ssm.sendCommand",
 * "SchemaVersion": 1}); offline instances get theirs when their channel
 * opens, until the invocation's delivery deadline (TimeoutSeconds for
 * SendCommand, the window cutoff for maintenance windows) turns it into
 * TimedOut / DeliveryTimedOut.  "agent_job_ack" (statusCode 200) moves it
 * to InProgress, another code to Failed; "agent_job_reply" (content:
 * documentStatus, runtimeStatus.<plugin>.{status, code, output,
 * standardOutput, standardError}) records the result and is answered with
 * "agent_job_reply_ack".  Unacknowledged jobs are re-sent after
 * GW_CMD_RESEND_MS.
 *
 * Ownership: struct gw_cmd borrows the store and the control registry.
 */
#ifndef GW_CMD_H
#define GW_CMD_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_ctrl.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define GW_CMD_DOCUMENT "AWS-RunPatchBaseline"
#define GW_CMD_RESEND_MS (60 * 1000)
#define GW_CMD_DEFAULT_TIMEOUT_S 3600
#define GW_CMD_MAX_OUTPUT 24000      /* StandardOutputContent limit */
#define GW_CMD_MAX_TARGETS 1000

struct gw_cmd;

/* The Run Command operation table (gw_cmd_n_ops entries). */
extern const struct gw_ssm_op gw_cmd_ops[];
extern const size_t gw_cmd_n_ops;

/* Create a command for document doc (must be GW_CMD_DOCUMENT) with
 * Parameters params (map of string lists, borrowed) over n instance ids,
 * deliverable until deliver_by_ms; the id goes to out_id[37].  Used by
 * maintenance windows; DH_E_ARG for a bad document or parameters. */
int gw_cmd_create(struct gw_store *st, const char *doc, const cJSON *params,
    const char *const *ids, size_t n, const char *comment, int64_t now_ms,
    int64_t deliver_by_ms, char out_id[37], struct dh_err *err);

/* Check AWS-RunPatchBaseline Parameters (map of one-string lists); 0, or
 * DH_E_ARG with the reason in err. */
int gw_cmd_check_params(const cJSON *params, struct dh_err *err);

/* Status of a command derived from its invocations ("Pending",
 * "InProgress", "Success", "Failed", "TimedOut") into out[n]. */
int gw_cmd_status(struct gw_store *st, const char *command_id, char *out,
    size_t n, struct dh_err *err);

/* New dispatcher over st and ctrl (both borrowed); registers its control
 * channel hooks.  *out freed with gw_cmd_free. */
int gw_cmd_new(struct gw_store *st, struct gw_ctrl *ctrl, struct gw_cmd **out,
    struct dh_err *err);
void gw_cmd_free(struct gw_cmd *d);

/* Deliver pending invocations to connected instances and expire overdue
 * ones.  Returns the number of agent_job messages queued. */
int gw_cmd_pump(struct gw_cmd *d, int64_t now_ms);

/* Handle one control-channel message from instance_id (what the hook
 * does; exposed for tests). */
void gw_cmd_on_msg(struct gw_cmd *d, const char *instance_id,
    const struct dh_mgs_msg *m, int64_t now_ms);

#endif
