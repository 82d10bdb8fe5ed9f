/*
 * pt_model: destructors for the shared patch data model (see pt_model.h).
 */
#include "pt_model.h"

#include <stdlib.h>
#include <string.h>

void
pt_update_free(struct pt_update *u)
{
	size_t i;

	if (u == NULL)
		return;
	free(u->version);
	free(u->arch);
	free(u->repository);
	free(u->section);
	free(u->priority);
	free(u->classification);
	free(u->severity);
	free(u->advisory_id);
	for (i = 0; i < u->n_cves; i++)
		free(u->cves[i]);
	free(u->cves);
	for (i = 0; i < u->n_bugzilla_ids; i++)
		free(u->bugzilla_ids[i]);
	free(u->bugzilla_ids);
	free(u);
}

void
pt_inventory_free(struct pt_inventory *inv)
{
	size_t i;

	for (i = 0; i < inv->n_pkgs; i++) {
		free(inv->pkgs[i].name);
		free(inv->pkgs[i].arch);
		free(inv->pkgs[i].version);
		free(inv->pkgs[i].source);
		free(inv->pkgs[i].section);
		free(inv->pkgs[i].priority);
		free(inv->pkgs[i].installed_severity);
		pt_update_free(inv->pkgs[i].update);
	}
	free(inv->pkgs);
	free(inv->os_id);
	free(inv->os_version);
	free(inv->os_codename);
	free(inv->product);
	memset(inv, 0, sizeof(*inv));
}
