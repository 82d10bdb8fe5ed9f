/*
 * ag_heartbeat: UpdateInstanceInformation body and call (see
 * ag_heartbeat.h).
 */
#include "ag_heartbeat.h"

#include <string.h>

#include "dh_aws.h"

int
ag_hb_build(const char *instance_id, const struct ag_platform *pl,
    const char *channel, cJSON **out, struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject();

	*out = NULL;
	if (j == NULL ||
	    cJSON_AddStringToObject(j, "AgentName", AG_AGENT_NAME) == NULL ||
	    cJSON_AddStringToObject(j, "AgentStatus", "Active") == NULL ||
	    cJSON_AddStringToObject(j, "AgentVersion", DH_VERSION) == NULL ||
	    cJSON_AddStringToObject(j, "InstanceId", instance_id) == NULL ||
	    cJSON_AddStringToObject(j, "PlatformType", "Linux") == NULL ||
	    cJSON_AddStringToObject(j, "PlatformName", pl->name) == NULL ||
	    cJSON_AddStringToObject(j, "PlatformVersion", pl->version) ==
	    NULL ||
	    cJSON_AddStringToObject(j, "ComputerName", pl->hostname) == NULL ||
	    cJSON_AddStringToObject(j, "IPAddress", pl->ip) == NULL)
		goto fail;
	if (channel != NULL && channel[0] != '\0' &&
	    cJSON_AddStringToObject(j, "SSMConnectionChannel", channel) ==
	    NULL)
		goto fail;
	*out = j;
	return DH_OK;
fail:
	cJSON_Delete(j);
	return dh_err_set(err, DH_E_NOMEM, "out of memory");
}

int
ag_hb_send(struct dh_aws_client *aws, const char *ssm_url,
    const char *region, const char *instance_id, const struct ag_platform *pl,
    const char *channel, struct dh_err *err)
{
	struct dh_aws_error aerr;
	cJSON *body = NULL, *resp = NULL;
	int rc;

	memset(&aerr, 0, sizeof(aerr));
	rc = ag_hb_build(instance_id, pl, channel, &body, err);
	if (rc != DH_OK)
		goto out;
	rc = dh_aws_json_call(aws, ssm_url, "ssm", region,
	    "AmazonSSM.UpdateInstanceInformation", body, &resp, &aerr, err);
	if (rc == DH_E_SERVICE)
		dh_err_set(err, rc, "UpdateInstanceInformation: %s: %s",
		    aerr.code, aerr.message);
	else if (rc != DH_OK)
		dh_err_wrap(err, rc, "UpdateInstanceInformation");
out:
	cJSON_Delete(resp);
	cJSON_Delete(body);
	return rc;
}
