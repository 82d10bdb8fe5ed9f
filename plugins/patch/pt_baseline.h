/*
 * pt_baseline: AWS patch baselines and their evaluation against a scanned
 * inventory.  Parses the CreatePatchBaseline / GetPatchBaseline /
 * BaselineOverride JSON shape (OperatingSystem, GlobalFilters,
 * ApprovalRules.PatchRules[], ApprovedPatches, RejectedPatches...) with the
 * service's limits and per-OS filter keys and values, provides the
 * predefined AWS-owned default baselines, and evaluates a baseline over a
 * struct pt_inventory into per-patch states (INSTALLED, INSTALLED_OTHER,
 * INSTALLED_PENDING_REBOOT, INSTALLED_REJECTED, MISSING, FAILED) with the
 * node's overall COMPLIANT / NON_COMPLIANT status and highest severity.
 *
 * Evaluation is deterministic (reference notes, patch-compliance §2.1):
 * a rejected package is INSTALLED_REJECTED (BLOCK) or INSTALLED_OTHER
 * (ALLOW_AS_DEPENDENCY); an installed package whose candidate update is
 * approved (by the first matching rule or the ApprovedPatches list) is
 * MISSING; an installed package approved as it stands is INSTALLED (a rule
 * whose filters match the installed version, which is in a security pocket
 * or named by a Security advisory (pt_pkg.installed_security) or the rule
 * has EnableNonSecurity; or the ApprovedPatches list naming it);
 * everything else is INSTALLED_OTHER.  RPM ApprovedPatches entries that
 * are all digits are Bugzilla ids matched against pt_update.bugzilla_ids.
 *
 * Ownership: a parsed struct pt_baseline owns all its strings and arrays
 * (pt_baseline_free).  A struct pt_eval_result owns copies of every string
 * it shows, so it outlives the inventory it was computed from
 * (pt_eval_result_free).
 */
#ifndef PT_BASELINE_H
#define PT_BASELINE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "pt_model.h"

/* Baseline list and filter limits from the SSM model. */
#define PT_BL_MAX_RULES 10
#define PT_BL_MAX_FILTERS 4
#define PT_BL_MAX_VALUES 20
#define PT_BL_MAX_VALUE_LEN 64
#define PT_BL_MAX_PATCHES 50
#define PT_BL_MAX_PATCH_LEN 100
#define PT_BL_MAX_APPROVE_DAYS 360
#define PT_BL_MAX_JSON (256 * 1024)

/* OperatingSystem enum of the SSM API. */
enum pt_os {
	PT_OS_WINDOWS = 0, /* the API's default when OperatingSystem is absent */
	PT_OS_AMAZON_LINUX,
	PT_OS_AMAZON_LINUX_2,
	PT_OS_AMAZON_LINUX_2022,
	PT_OS_AMAZON_LINUX_2023,
	PT_OS_UBUNTU,
	PT_OS_DEBIAN,
	PT_OS_RASPBIAN,
	PT_OS_REDHAT_ENTERPRISE_LINUX,
	PT_OS_CENTOS,
	PT_OS_ORACLE_LINUX,
	PT_OS_ROCKY_LINUX,
	PT_OS_ALMA_LINUX,
	PT_OS_SUSE,
	PT_OS_MACOS,
	PT_OS_COUNT
};

/* ComplianceLevel / severity, ordered so that a larger value is more severe. */
enum pt_level {
	PT_LEVEL_UNSPECIFIED = 0,
	PT_LEVEL_INFORMATIONAL,
	PT_LEVEL_LOW,
	PT_LEVEL_MEDIUM,
	PT_LEVEL_HIGH,
	PT_LEVEL_CRITICAL
};

enum pt_reject_action {
	PT_REJECT_ALLOW_AS_DEPENDENCY = 0, /* the API's default */
	PT_REJECT_BLOCK
};

/* Baseline filter keys (PatchFilter.Key). */
enum pt_filter_key {
	PT_FK_PRODUCT = 0,
	PT_FK_CLASSIFICATION,
	PT_FK_SEVERITY,
	PT_FK_PRIORITY,
	PT_FK_SECTION,
	PT_FK_PRODUCT_FAMILY,
	PT_FK_MSRC_SEVERITY,
	PT_FK_PATCH_SET
};

/* Per-patch compliance state (PatchComplianceDataState). */
enum pt_state {
	PT_STATE_INSTALLED = 0,
	PT_STATE_INSTALLED_OTHER,
	PT_STATE_INSTALLED_PENDING_REBOOT,
	PT_STATE_INSTALLED_REJECTED,
	PT_STATE_MISSING,
	PT_STATE_FAILED,
	PT_STATE_COUNT
};

struct pt_filter {
	enum pt_filter_key key;
	char **values;     /* n_values owned strings; "*" matches everything */
	size_t n_values;
};

struct pt_filter_group {
	struct pt_filter *filters; /* AND-ed; values inside one filter OR-ed */
	size_t n_filters;
};

struct pt_rule {
	struct pt_filter_group group;
	enum pt_level level;        /* ComplianceLevel */
	int has_after_days;         /* ApproveAfterDays present */
	int after_days;             /* 0..360 */
	int has_until;              /* ApproveUntilDate present */
	int64_t until_end;          /* epoch of YYYY-MM-DDT23:59:59Z */
	char until_date[11];        /* "YYYY-MM-DD" as given */
	int enable_non_security;
};

struct pt_baseline {
	char *id;            /* BaselineId (pb-... or ARN); may be NULL */
	char *name;          /* Name; may be NULL (BaselineOverride) */
	char *description;   /* may be NULL */
	enum pt_os os;
	struct pt_filter_group global;
	struct pt_rule *rules;
	size_t n_rules;
	char **approved;     /* ApprovedPatches, n_approved owned strings */
	size_t n_approved;
	enum pt_level approved_level;
	int approved_enable_non_security;
	char **rejected;     /* RejectedPatches, n_rejected owned strings */
	size_t n_rejected;
	enum pt_reject_action rejected_action;
};

/* Static API spelling of an OS ("DEBIAN"); never NULL. */
const char *pt_os_name(enum pt_os os);
/* Parse an OperatingSystem enum string; DH_E_FORMAT when unknown. */
int pt_os_parse(const char *s, enum pt_os *out);
/* OS enum for a scanned inventory (os_id/os_version); DH_E_NOTFOUND when unknown. */
int pt_os_of_inventory(const struct pt_inventory *inv, enum pt_os *out);
/* Package family the OS uses (PT_FAMILY_DEB/RPM); 0 for Windows/macOS. */
int pt_os_family(enum pt_os os);

/* Static API spelling of a level ("CRITICAL"); never NULL. */
const char *pt_level_name(enum pt_level l);
/* Parse a ComplianceLevel enum string; DH_E_FORMAT when unknown. */
int pt_level_parse(const char *s, enum pt_level *out);

/* Static API spelling of a state ("INSTALLED_OTHER"); never NULL. */
const char *pt_state_name(enum pt_state s);
/* Static CLI spelling used by describe-instance-patches ("InstalledOther"). */
const char *pt_state_cli_name(enum pt_state s);
/* 1 when a state counts as COMPLIANT (INSTALLED, INSTALLED_OTHER). */
int pt_state_compliant(enum pt_state s);

/* Parse baseline JSON (n bytes, at most PT_BL_MAX_JSON) into *out (owned).
 * Errors name the key path, e.g. "ApprovalRules.PatchRules[1].ComplianceLevel". */
int pt_baseline_parse(const void *json, size_t n, struct pt_baseline *out,
    struct dh_err *err);
/* Same from an already parsed object (the gateway's request body). */
int pt_baseline_from_cjson(const cJSON *obj, struct pt_baseline *out,
    struct dh_err *err);
/* Serialise a baseline in the GetPatchBaseline shape; *out owned (cJSON_Delete). */
int pt_baseline_to_cjson(const struct pt_baseline *b, cJSON **out,
    struct dh_err *err);
/* Release everything a baseline owns and zero it. */
void pt_baseline_free(struct pt_baseline *b);

/* A predefined AWS-owned baseline. */
struct pt_default_baseline {
	const char *name;        /* "AWS-DebianDefaultPatchBaseline" */
	const char *id;          /* "pb-..." as in the us-east-1 ARN */
	const char *owner;       /* AWS account owning the ARN */
	enum pt_os os;
	const char *json;        /* baseline JSON (GetPatchBaseline shape) */
};

/* The table of predefined baselines (n_out entries, static storage). */
const struct pt_default_baseline *pt_baseline_defaults(size_t *n_out);
/* The default baseline for an OS; DH_E_NOTFOUND when none. */
int pt_baseline_default_for_os(enum pt_os os, struct pt_baseline *out,
    struct dh_err *err);
/* A predefined baseline by name, "pb-..." id or ARN (any region); parsed into *out. */
int pt_baseline_default_by_id(const char *id, struct pt_baseline *out,
    struct dh_err *err);
/* Write the ARN of a predefined baseline for a region into buf (size n). */
int pt_baseline_default_arn(const struct pt_default_baseline *d,
    const char *region, char *buf, size_t n, struct dh_err *err);

/* One evaluated package.  All strings owned by the result; NULL when absent. */
struct pt_patch_result {
	char *name;
	char *arch;
	char *installed_version;
	char *available_version;  /* candidate update when one exists */
	char *classification;     /* rpm advisory type, only for MISSING/FAILED
	                           * (blank for INSTALLED_OTHER as AWS does) */
	char *severity;           /* vendor severity, only for MISSING/FAILED */
	char *advisory_id;        /* only for MISSING/FAILED */
	char *repository;         /* candidate's repository, when one exists */
	char **cves;              /* only for MISSING/FAILED */
	size_t n_cves;
	int64_t installed_time;   /* epoch seconds, 0 unknown */
	enum pt_state state;
	enum pt_level level;      /* ComplianceLevel of the approving rule/list */
	int security;             /* candidate is a security update */
	int held;                 /* deb: selection "hold" (still MISSING) */
	int rule;                 /* approving rule index, -1 list, -2 none */
};

struct pt_eval_result {
	char *baseline_id;        /* copy of baseline id/name; may be NULL */
	enum pt_os os;
	char *product;            /* copy of inventory product; may be NULL */
	struct pt_patch_result *patches; /* one per installed package, inventory order */
	size_t n_patches;
	size_t counts[PT_STATE_COUNT];
	size_t security_noncompliant; /* non-compliant items that are security updates */
	size_t critical_noncompliant; /* non-compliant items at CRITICAL */
	size_t other_noncompliant;    /* the remaining non-compliant items */
	int compliant;            /* 1 COMPLIANT, 0 NON_COMPLIANT */
	enum pt_level highest;    /* highest level among non-compliant items */
	int64_t eval_time;        /* the "now" used */
};

/* Extra inputs an agent that also installs can give (all optional). */
struct pt_eval_opts {
	int64_t now;                 /* evaluation instant, epoch seconds (UTC) */
	int64_t noreboot_install_time; /* last Install with NoReboot; 0 none */
	const char *const *failed;   /* names whose last Install failed */
	size_t n_failed;
};

/* Evaluate b over inv at instant now (epoch seconds, UTC); *out owned.
 * DH_E_ARG when the baseline's OS does not fit the inventory's family. */
int pt_baseline_eval(const struct pt_baseline *b,
    const struct pt_inventory *inv, int64_t now, struct pt_eval_result *out,
    struct dh_err *err);
/* As pt_baseline_eval with install history: packages installed at or after
 * opts->noreboot_install_time while inv->reboot_required are
 * INSTALLED_PENDING_REBOOT; approved missing names in opts->failed are FAILED. */
int pt_baseline_eval_opts(const struct pt_baseline *b,
    const struct pt_inventory *inv, const struct pt_eval_opts *opts,
    struct pt_eval_result *out, struct dh_err *err);
/* Release everything a result owns and zero it. */
void pt_eval_result_free(struct pt_eval_result *r);

#endif
