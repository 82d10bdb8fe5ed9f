/*
 * Fuzz target: gw_policy_parse on arbitrary bytes; every policy that parses
 * is evaluated against a fixed set of actions and resources (the result
 * must be one of the three decisions), and a failed parse must leave *out
 * NULL.  The wildcard matcher is also run on the input split at its first
 * newline (pattern before, text after), in both case modes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "gw_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const actions[] = {
	"ssm:CreateActivation", "ssm:DescribeInstanceInformation",
	"SSM:deleteactivation", "kms:Decrypt", "logs:PutLogEvents",
};
static const char *const resources[] = {
	"*", "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0abc",
	"arn:aws:s3:::bucket/key", "arn:",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_policy *p = NULL;
	struct dh_err err;
	size_t i, j;
	char *copy, *nl;

	if (gw_policy_parse((const char *)data, size, &p, &err) == DH_OK) {
		for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
			for (j = 0; j < sizeof(resources) / sizeof(resources[0]);
			    j++) {
				enum gw_decision d = gw_policy_eval(p, actions[i],
				    resources[j]);

				if (d != GW_POLICY_IMPLICIT_DENY &&
				    d != GW_POLICY_ALLOW &&
				    d != GW_POLICY_EXPLICIT_DENY)
					abort();
			}
		gw_policy_free(p);
	} else if (p != NULL) {
		abort();
	}
	if (size > 8192)
		return 0;
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	nl = strchr(copy, '\n');
	if (nl != NULL) {
		*nl = '\0';
		(void)gw_policy_wildcard_match(copy, nl + 1, 0);
		(void)gw_policy_wildcard_match(copy, nl + 1, 1);
	}
	free(copy);
	return 0;
}
