/*
 * pt_report: turn a baseline evaluation (struct pt_eval_result) into the
 * wire requests a patch scan uploads -- SSM PutComplianceItems with
 * ComplianceType "Patch" (split into calls of at most 10,000 items) and
 * PutInventory with one AWS:PatchSummary item -- and into the human table
 * or JSON document `deckhand scan` prints.  Also loads an inventory from
 * its JSON rendering (test fixtures, gateway-side evaluation).
 *
 * Ownership: request trees are returned as cJSON objects the caller frees
 * (pt_report_calls_free for the PutComplianceItems array); rendered text is
 * appended to a caller-owned struct dh_buf.
 */
#ifndef PT_REPORT_H
#define PT_REPORT_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "pt_baseline.h"
#include "pt_model.h"

#define PT_REPORT_MAX_ITEMS 10000

/* Who/what a report is about.  Strings are borrowed; NULL means the default
 * named in brackets. */
struct pt_report_ctx {
	const char *resource_id;      /* managed node id, "mi-..." / "i-..." (required) */
	const char *execution_id;     /* command / window execution id [""] */
	const char *execution_type;   /* ["Command"] */
	int64_t execution_time;       /* epoch seconds (required) */
	const char *baseline_id;      /* PatchBaselineId [result's baseline_id] */
	const char *patch_group;      /* [""] */
	const char *document_name;    /* ["AWS-RunPatchBaseline"] */
	const char *snapshot_id;      /* [""] */
	const char *owner_information; /* [""] */
	const char *install_override_list; /* [""] */
	const char *operation;        /* "Scan" / "Install" ["Scan"] */
	const char *reboot_option;    /* ["RebootIfNeeded"] */
	int64_t operation_start;      /* epoch seconds [execution_time] */
	int64_t operation_end;        /* epoch seconds [execution_time] */
	int64_t last_noreboot_install_time; /* 0: attribute left empty */
};

/* Build the PutComplianceItems request bodies: *calls is an owned array of
 * *n_calls objects, each with at most max_items (1..10,000) items; the first
 * call is UploadType COMPLETE, later ones PARTIAL so they add to it.
 * Non-compliant items come first.  ItemContentHash is the SHA-256 (hex) of
 * the call's serialised Items array. */
int pt_report_compliance_items(const struct pt_eval_result *r,
    const struct pt_report_ctx *ctx, size_t max_items, cJSON ***calls,
    size_t *n_calls, struct dh_err *err);
/* Free an array returned by pt_report_compliance_items. */
void pt_report_calls_free(cJSON **calls, size_t n_calls);

/* Build the PutInventory request body (InstanceId + one AWS:PatchSummary
 * item, schema 1.0, all attributes as strings); *out owned. */
int pt_report_patch_summary(const struct pt_eval_result *r,
    const struct pt_report_ctx *ctx, cJSON **out, struct dh_err *err);

/* Append a human table of r to out: one line per package (all packages
 * when all != 0, else only non-compliant and INSTALLED ones), then counts
 * and the overall status. */
int pt_report_render_table(const struct pt_eval_result *r, int all,
    struct dh_buf *out, struct dh_err *err);
/* Append r as a JSON document (overall status, counts, every patch). */
int pt_report_render_json(const struct pt_eval_result *r, struct dh_buf *out,
    struct dh_err *err);

/* Load an inventory from JSON ({"family":"deb","os_id":...,"packages":[...]},
 * the shape pt_report_inventory_to_json writes: every pt_model field under
 * its own name, e.g. packages[].installed_security/installed_severity,
 * packages[].update.arch/bugzilla_ids); *out owned. */
int pt_report_inventory_from_json(const void *json, size_t n,
    struct pt_inventory *out, struct dh_err *err);
/* Serialise an inventory in the shape pt_report_inventory_from_json reads. */
int pt_report_inventory_to_json(const struct pt_inventory *inv, cJSON **out,
    struct dh_err *err);

#endif
