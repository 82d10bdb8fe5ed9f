/*
 * gw_ops: the registry of every JSON 1.1 operation table the gateway serves
 * (SSM and ec2messages in gw_ssm.c; each further service adds its table
 * here).  gw_api looks operations up through gw_ssm_find.
 */
#include <string.h>

#include "gw_cmd.h"
#include "gw_docs.h"
#include "gw_kms.h"
#include "gw_logs.h"
#include "gw_mw.h"
#include "gw_patch.h"
#include "gw_session.h"
#include "gw_ssm.h"

struct op_table {
	const struct gw_ssm_op *ops;
	const size_t *n;
};

static const struct op_table tables[] = {
	{ gw_ssm_ops, &gw_ssm_n_ops },
	{ gw_patch_ops, &gw_patch_n_ops },
	{ gw_cmd_ops, &gw_cmd_n_ops },
	{ gw_mw_ops, &gw_mw_n_ops },
	{ gw_logs_ops, &gw_logs_n_ops },
	{ gw_kms_ops, &gw_kms_n_ops },
	{ gw_docs_ops, &gw_docs_n_ops },
	{ gw_session_ops, &gw_session_n_ops },
};

const struct gw_ssm_op *
gw_ssm_find(const char *target)
{
	size_t t, i;

	if (target == NULL)
		return NULL;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (i = 0; i < *tables[t].n; i++)
			if (strcmp(tables[t].ops[i].target, target) == 0)
				return &tables[t].ops[i];
	return NULL;
}
