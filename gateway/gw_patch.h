/*
 * gw_patch: the compliance, inventory and Patch Manager operations of the
 * gateway, as gw_ssm-style handlers over gw_store (migration 2 tables).
 *
 * Compliance: PutComplianceItems (<= 10,000 items per call; UploadType
 * COMPLETE replaces every item of that type for the resource, PARTIAL
 * upserts; an ItemContentHash equal to the stored one makes the call a
 * no-op), ListComplianceItems, ListComplianceSummaries (per type: resources
 * compliant / non-compliant, by the resource's highest severity) and
 * ListResourceComplianceSummaries.  Inventory: PutInventory (any AWS: or
 * Custom: type; AWS:PatchSummary and AWS:ComplianceItem are what patch
 * scans send; an unchanged ContentHash without Content keeps the stored
 * content) and GetInventory.  Baselines: Create/Get/Describe/Update/Delete
 * PatchBaseline (the predefined AWS baselines of pt_baseline are listed and
 * readable by name, id or ARN), Register/Deregister/GetPatchBaselineForPatchGroup,
 * Register/GetDefaultPatchBaseline, GetDeployablePatchSnapshotForInstance
 * (patch group from the instance's "Patch Group" or "PatchGroup" tag, then
 * the group's baseline for the OS, else the default; SnapshotDownloadUrl is
 * a data: URL holding the snapshot JSON {"patchBaseline":<GetPatchBaseline
 * shape>,"baselineId","patchGroup","product","operatingSystem"}).  Patch
 * state: DescribeInstancePatchStates(ForPatchGroup) from the AWS:PatchSummary
 * inventory item, DescribeInstancePatches from the "Patch" compliance items
 * (State rendered as the CLI shows it: Installed, InstalledOther, Missing...).
 *
 * Ownership: the operation table is static; helpers return owned cJSON.
 */
#ifndef GW_PATCH_H
#define GW_PATCH_H

#include <cJSON.h>
#include <stddef.h>

#include "dh_err.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define GW_PATCH_MAX_ITEMS 10000
#define GW_PATCH_MAX_INV_ITEMS 30

/* The compliance/inventory/patch operation table (gw_patch_n_ops entries). */
extern const struct gw_ssm_op gw_patch_ops[];
extern const size_t gw_patch_n_ops;

/* The baseline that applies to instance_id (patch-group tag, then group
 * registration for os, then the registered default, then the predefined
 * default) as a GetPatchBaseline-shaped object (*out owned), with the patch
 * group into group[gn] ("" when none).  os: the API OperatingSystem name. */
int gw_patch_baseline_for(struct gw_store *st, const char *region,
    const char *instance_id, const char *os, cJSON **out, char *group,
    size_t gn, struct dh_err *err);

#endif
