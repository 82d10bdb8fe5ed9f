/*
 * ag_heartbeat: AmazonSSM.UpdateInstanceInformation, the ping that makes the
 * instance "Online".  The body carries AgentName, AgentStatus "Active",
 * AgentVersion, InstanceId, PlatformType "Linux", PlatformName and
 * PlatformVersion (os-release NAME / VERSION_ID), IPAddress, ComputerName
 * and, once known, SSMConnectionChannel.  Sent on start and every
 * heartbeat interval by the daemon, SigV4-signed with the role credentials.
 */
#ifndef AG_HEARTBEAT_H
#define AG_HEARTBEAT_H

#include <cJSON.h>

#include "ag_platform.h"
#include "dh_err.h"

#define AG_AGENT_NAME "deckhand-agent"

struct dh_aws_client;

/* Build the request body; channel may be NULL or "" (omitted).  *out is
 * owned by the caller (cJSON_Delete). */
int ag_hb_build(const char *instance_id, const struct ag_platform *pl,
    const char *channel, cJSON **out, struct dh_err *err);

/* Send one heartbeat through aws (a SigV4 client holding the role
 * credentials) to ssm_url. */
int ag_hb_send(struct dh_aws_client *aws, const char *ssm_url,
    const char *region, const char *instance_id, const struct ag_platform *pl,
    const char *channel, struct dh_err *err);

#endif
