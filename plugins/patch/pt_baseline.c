/*
 * pt_baseline: parse and validate AWS patch baselines, the predefined
 * AWS-owned baselines, and the deterministic evaluation of a baseline over
 * a scanned inventory (see pt_baseline.h for the contract and the rules).
 */
#include "pt_baseline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dh_json.h"

#define DAY_SECONDS 86400
#define FORM_MAX 512

static const char *const os_names[PT_OS_COUNT] = {
	"WINDOWS", "AMAZON_LINUX", "AMAZON_LINUX_2", "AMAZON_LINUX_2022",
	"AMAZON_LINUX_2023", "UBUNTU", "DEBIAN", "RASPBIAN",
	"REDHAT_ENTERPRISE_LINUX", "CENTOS", "ORACLE_LINUX", "ROCKY_LINUX",
	"ALMA_LINUX", "SUSE", "MACOS"
};

static const char *const level_names[] = {
	"UNSPECIFIED", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"
};
#define N_LEVELS (sizeof(level_names) / sizeof(level_names[0]))

static const char *const state_names[PT_STATE_COUNT] = {
	"INSTALLED", "INSTALLED_OTHER", "INSTALLED_PENDING_REBOOT",
	"INSTALLED_REJECTED", "MISSING", "FAILED"
};

static const char *const state_cli_names[PT_STATE_COUNT] = {
	"Installed", "InstalledOther", "InstalledPendingReboot",
	"InstalledRejected", "Missing", "Failed"
};

/* Baseline filter keys this module models, indexed by enum pt_filter_key. */
static const char *const key_names[] = {
	"PRODUCT", "CLASSIFICATION", "SEVERITY", "PRIORITY", "SECTION",
	"PRODUCT_FAMILY", "MSRC_SEVERITY", "PATCH_SET"
};
#define N_KEYS (sizeof(key_names) / sizeof(key_names[0]))

/* Every PatchFilterKey of the SSM model (for "valid key, wrong place"). */
static const char *const api_keys[] = {
	"ARCH", "ADVISORY_ID", "BUGZILLA_ID", "PATCH_SET", "PRODUCT",
	"PRODUCT_FAMILY", "CLASSIFICATION", "CVE_ID", "EPOCH", "MSRC_SEVERITY",
	"NAME", "PATCH_ID", "SECTION", "PRIORITY", "REPOSITORY", "RELEASE",
	"SEVERITY", "SECURITY", "VERSION"
};

static const char *const deb_priorities[] = {
	"Required", "Important", "Standard", "Optional", "Extra"
};
static const char *const rpm_classes[] = {
	"Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"
};
static const char *const al_severities[] = {
	"Critical", "Important", "Medium", "Low"
};
static const char *const rhel_severities[] = {
	"Critical", "Important", "Medium", "Moderate", "Low"
};
static const char *const suse_classes[] = {
	"Security", "Recommended", "Optional", "Feature", "Document", "Yast"
};
static const char *const suse_severities[] = {
	"Critical", "Important", "Moderate", "Low"
};
static const char *const win_classes[] = {
	"CriticalUpdates", "DefinitionUpdates", "Drivers", "FeaturePacks",
	"SecurityUpdates", "ServicePacks", "Tools", "UpdateRollups", "Updates",
	"Upgrades"
};
static const char *const msrc_severities[] = {
	"Critical", "Important", "Moderate", "Low", "Unspecified"
};
static const char *const patch_sets[] = { "OS", "APPLICATION" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Top-level members accepted (CreatePatchBaseline, GetPatchBaseline,
 * UpdatePatchBaseline and BaselineOverride shapes). */
static const char *const top_keys[] = {
	"OperatingSystem", "Name", "Description", "GlobalFilters",
	"ApprovalRules", "ApprovedPatches", "ApprovedPatchesComplianceLevel",
	"ApprovedPatchesEnableNonSecurity", "RejectedPatches",
	"RejectedPatchesAction", "Sources",
	"AvailableSecurityUpdatesComplianceStatus", "ClientToken", "Tags",
	"BaselineId", "PatchGroups", "CreatedDate", "ModifiedDate"
};

const char *
pt_os_name(enum pt_os os)
{
	if ((int)os < 0 || os >= PT_OS_COUNT)
		return "UNKNOWN";
	return os_names[os];
}

int
pt_os_parse(const char *s, enum pt_os *out)
{
	int i;

	for (i = 0; i < PT_OS_COUNT; i++) {
		if (s != NULL && strcmp(s, os_names[i]) == 0) {
			*out = (enum pt_os)i;
			return DH_OK;
		}
	}
	return DH_E_FORMAT;
}

int
pt_os_family(enum pt_os os)
{
	switch (os) {
	case PT_OS_UBUNTU:
	case PT_OS_DEBIAN:
	case PT_OS_RASPBIAN:
		return PT_FAMILY_DEB;
	case PT_OS_AMAZON_LINUX:
	case PT_OS_AMAZON_LINUX_2:
	case PT_OS_AMAZON_LINUX_2022:
	case PT_OS_AMAZON_LINUX_2023:
	case PT_OS_REDHAT_ENTERPRISE_LINUX:
	case PT_OS_CENTOS:
	case PT_OS_ORACLE_LINUX:
	case PT_OS_ROCKY_LINUX:
	case PT_OS_ALMA_LINUX:
	case PT_OS_SUSE:
		return PT_FAMILY_RPM;
	default:
		return 0;
	}
}

int
pt_os_of_inventory(const struct pt_inventory *inv, enum pt_os *out)
{
	const char *id = inv->os_id;
	const char *ver = inv->os_version != NULL ? inv->os_version : "";

	if (id == NULL)
		return DH_E_NOTFOUND;
	if (strcmp(id, "debian") == 0)
		*out = PT_OS_DEBIAN;
	else if (strcmp(id, "ubuntu") == 0)
		*out = PT_OS_UBUNTU;
	else if (strcmp(id, "raspbian") == 0)
		*out = PT_OS_RASPBIAN;
	else if (strcmp(id, "amzn") == 0) {
		if (strcmp(ver, "2") == 0)
			*out = PT_OS_AMAZON_LINUX_2;
		else if (strcmp(ver, "2022") == 0)
			*out = PT_OS_AMAZON_LINUX_2022;
		else if (strcmp(ver, "2023") == 0)
			*out = PT_OS_AMAZON_LINUX_2023;
		else
			*out = PT_OS_AMAZON_LINUX;
	} else if (strcmp(id, "rhel") == 0)
		*out = PT_OS_REDHAT_ENTERPRISE_LINUX;
	else if (strcmp(id, "centos") == 0)
		*out = PT_OS_CENTOS;
	else if (strcmp(id, "ol") == 0)
		*out = PT_OS_ORACLE_LINUX;
	else if (strcmp(id, "rocky") == 0)
		*out = PT_OS_ROCKY_LINUX;
	else if (strcmp(id, "almalinux") == 0)
		*out = PT_OS_ALMA_LINUX;
	else if (strcmp(id, "sles") == 0 || strcmp(id, "sled") == 0 ||
	    strncmp(id, "opensuse", 8) == 0)
		*out = PT_OS_SUSE;
	else
		return DH_E_NOTFOUND;
	return DH_OK;
}

const char *
pt_level_name(enum pt_level l)
{
	if ((int)l < 0 || (size_t)l >= N_LEVELS)
		return "UNSPECIFIED";
	return level_names[l];
}

int
pt_level_parse(const char *s, enum pt_level *out)
{
	size_t i;

	for (i = 0; i < N_LEVELS; i++) {
		if (s != NULL && strcmp(s, level_names[i]) == 0) {
			*out = (enum pt_level)i;
			return DH_OK;
		}
	}
	return DH_E_FORMAT;
}

const char *
pt_state_name(enum pt_state s)
{
	if ((int)s < 0 || s >= PT_STATE_COUNT)
		return "UNKNOWN";
	return state_names[s];
}

const char *
pt_state_cli_name(enum pt_state s)
{
	if ((int)s < 0 || s >= PT_STATE_COUNT)
		return "Unknown";
	return state_cli_names[s];
}

int
pt_state_compliant(enum pt_state s)
{
	return s == PT_STATE_INSTALLED || s == PT_STATE_INSTALLED_OTHER;
}

/* ---- freeing ---- */

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
group_free(struct pt_filter_group *g)
{
	size_t i;

	for (i = 0; i < g->n_filters; i++)
		strv_free(g->filters[i].values, g->filters[i].n_values);
	free(g->filters);
	g->filters = NULL;
	g->n_filters = 0;
}

void
pt_baseline_free(struct pt_baseline *b)
{
	size_t i;

	if (b == NULL)
		return;
	free(b->id);
	free(b->name);
	free(b->description);
	group_free(&b->global);
	for (i = 0; i < b->n_rules; i++)
		group_free(&b->rules[i].group);
	free(b->rules);
	strv_free(b->approved, b->n_approved);
	strv_free(b->rejected, b->n_rejected);
	memset(b, 0, sizeof(*b));
}

/* ---- validation helpers ---- */

static int
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static int
in_list_exact(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* Which modelled keys an OS accepts in baseline rules (bit per key). */
static unsigned
keys_for_os(enum pt_os os)
{
	unsigned deb = 1u << PT_FK_PRODUCT | 1u << PT_FK_PRIORITY |
	    1u << PT_FK_SECTION;
	unsigned rpm = 1u << PT_FK_PRODUCT | 1u << PT_FK_CLASSIFICATION |
	    1u << PT_FK_SEVERITY;

	switch (pt_os_family(os)) {
	case PT_FAMILY_DEB:
		return deb;
	case PT_FAMILY_RPM:
		return rpm;
	default:
		break;
	}
	if (os == PT_OS_MACOS)
		return 1u << PT_FK_PRODUCT | 1u << PT_FK_CLASSIFICATION;
	return 1u << PT_FK_PRODUCT | 1u << PT_FK_PRODUCT_FAMILY |
	    1u << PT_FK_CLASSIFICATION | 1u << PT_FK_MSRC_SEVERITY |
	    1u << PT_FK_PATCH_SET;
}

/* Enumerated values for (os, key); NULL when the value is free text. */
static const char *const *
values_for(enum pt_os os, enum pt_filter_key k, size_t *n)
{
	int suse = os == PT_OS_SUSE;
	int amzn = os == PT_OS_AMAZON_LINUX || os == PT_OS_AMAZON_LINUX_2 ||
	    os == PT_OS_AMAZON_LINUX_2022 || os == PT_OS_AMAZON_LINUX_2023;

	switch (k) {
	case PT_FK_PRIORITY:
		*n = NELEM(deb_priorities);
		return deb_priorities;
	case PT_FK_CLASSIFICATION:
		if (os == PT_OS_WINDOWS) {
			*n = NELEM(win_classes);
			return win_classes;
		}
		if (os == PT_OS_MACOS)
			return NULL;
		*n = suse ? NELEM(suse_classes) : NELEM(rpm_classes);
		return suse ? suse_classes : rpm_classes;
	case PT_FK_SEVERITY:
		if (suse) {
			*n = NELEM(suse_severities);
			return suse_severities;
		}
		*n = amzn ? NELEM(al_severities) : NELEM(rhel_severities);
		return amzn ? al_severities : rhel_severities;
	case PT_FK_MSRC_SEVERITY:
		*n = NELEM(msrc_severities);
		return msrc_severities;
	case PT_FK_PATCH_SET:
		*n = NELEM(patch_sets);
		return patch_sets;
	default:
		return NULL;
	}
}

static int
key_parse(const char *s, enum pt_filter_key *out)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(s, key_names[i]) == 0) {
			*out = (enum pt_filter_key)i;
			return DH_OK;
		}
	}
	return DH_E_FORMAT;
}

static int
check_members(const cJSON *obj, const char *const *allowed, size_t n,
    const char *path, struct dh_err *err)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		if (m->string == NULL || !in_list_exact(m->string, allowed, n))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s%s%s: unknown member", path, *path ? "." : "",
			    m->string != NULL ? m->string : "?");
	}
	return DH_OK;
}

/* Duplicate a JSON string array member (count and length limited). */
static int
parse_strv(const cJSON *arr, const char *path, size_t max_n, size_t max_len,
    char ***out, size_t *n_out, struct dh_err *err)
{
	const cJSON *e;
	char **v = NULL;
	size_t n = 0, cnt, len;
	int r = DH_OK;

	*out = NULL;
	*n_out = 0;
	if (!cJSON_IsArray(arr))
		return dh_err_set(err, DH_E_FORMAT, "%s: expected a list", path);
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt > max_n)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s: %zu entries exceed the limit of %zu", path, cnt, max_n);
	if (cnt == 0)
		return DH_OK;
	v = calloc(cnt, sizeof(*v));
	if (v == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e) || e->valuestring == NULL) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu]: expected a string", path, n);
			goto out;
		}
		len = strlen(e->valuestring);
		if (len < 1 || len > max_len) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu]: length %zu outside 1..%zu", path, n, len,
			    max_len);
			goto out;
		}
		v[n] = strdup(e->valuestring);
		if (v[n] == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	*out = v;
	*n_out = n;
	v = NULL;
out:
	if (v != NULL)
		strv_free(v, n);
	return r;
}

static int
parse_group(const cJSON *g, enum pt_os os, const char *path,
    struct pt_filter_group *out, struct dh_err *err)
{
	static const char *const group_keys[] = { "PatchFilters" };
	static const char *const filter_keys[] = { "Key", "Values" };
	const cJSON *filters, *f, *jk, *jv;
	const char *const *allowed;
	char fpath[160];
	size_t cnt, i, j, n_allowed = 0;
	unsigned seen = 0, ok_keys = keys_for_os(os);
	enum pt_filter_key key;
	struct pt_filter *pf;
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(g))
		return dh_err_set(err, DH_E_FORMAT, "%s: expected an object",
		    path);
	r = check_members(g, group_keys, NELEM(group_keys), path, err);
	if (r != DH_OK)
		return r;
	filters = cJSON_GetObjectItemCaseSensitive(g, "PatchFilters");
	if (filters == NULL)
		return DH_OK;
	if (!cJSON_IsArray(filters))
		return dh_err_set(err, DH_E_FORMAT,
		    "%s.PatchFilters: expected a list", path);
	cnt = (size_t)cJSON_GetArraySize(filters);
	if (cnt > PT_BL_MAX_FILTERS)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s.PatchFilters: %zu filters exceed the limit of %d", path,
		    cnt, PT_BL_MAX_FILTERS);
	if (cnt == 0)
		return DH_OK;
	out->filters = calloc(cnt, sizeof(*out->filters));
	if (out->filters == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	i = 0;
	cJSON_ArrayForEach(f, filters) {
		snprintf(fpath, sizeof(fpath), "%s.PatchFilters[%zu]", path, i);
		if (!cJSON_IsObject(f)) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s: expected an object", fpath);
			goto fail;
		}
		r = check_members(f, filter_keys, NELEM(filter_keys), fpath,
		    err);
		if (r != DH_OK)
			goto fail;
		jk = cJSON_GetObjectItemCaseSensitive(f, "Key");
		jv = cJSON_GetObjectItemCaseSensitive(f, "Values");
		if (!cJSON_IsString(jk) || jk->valuestring == NULL) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s.Key: required string", fpath);
			goto fail;
		}
		if (key_parse(jk->valuestring, &key) != DH_OK ||
		    (ok_keys & (1u << key)) == 0) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s.Key: %s\"%s\" is not a patch baseline filter key "
			    "for %s", fpath,
			    in_list_exact(jk->valuestring, api_keys,
			    NELEM(api_keys)) ? "" : "unknown key ",
			    jk->valuestring, pt_os_name(os));
			goto fail;
		}
		if ((seen & (1u << key)) != 0) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s.Key: %s appears twice in one filter group",
			    fpath, key_names[key]);
			goto fail;
		}
		seen |= 1u << key;
		if (jv == NULL) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s.Values: required", fpath);
			goto fail;
		}
		pf = &out->filters[i];
		pf->key = key;
		strncat(fpath, ".Values", sizeof(fpath) - strlen(fpath) - 1);
		r = parse_strv(jv, fpath, PT_BL_MAX_VALUES, PT_BL_MAX_VALUE_LEN,
		    &pf->values, &pf->n_values, err);
		out->n_filters = i + 1;
		if (r != DH_OK)
			goto fail;
		if (pf->n_values == 0) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "%s: needs 1..%d values", fpath, PT_BL_MAX_VALUES);
			goto fail;
		}
		allowed = values_for(os, key, &n_allowed);
		for (j = 0; allowed != NULL && j < pf->n_values; j++) {
			if (strcmp(pf->values[j], "*") != 0 &&
			    !in_list(pf->values[j], allowed, n_allowed)) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "%s[%zu]: \"%s\" is not a %s value for %s",
				    fpath, j, pf->values[j], key_names[key],
				    pt_os_name(os));
				goto fail;
			}
		}
		i++;
	}
	return DH_OK;
fail:
	group_free(out);
	return r;
}

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DD" -> epoch of 23:59:59Z that day. */
static int
parse_date_end(const char *s, int64_t *out)
{
	static const unsigned mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	unsigned y = 0, m, d, lim;
	int i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return DH_E_FORMAT;
	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7)
			continue;
		if (!isdigit((unsigned char)s[i]))
			return DH_E_FORMAT;
	}
	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return DH_E_FORMAT;
	lim = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		lim = 29;
	if (d > lim)
		return DH_E_FORMAT;
	*out = days_from_civil(y, m, d) * DAY_SECONDS + DAY_SECONDS - 1;
	return DH_OK;
}

static int
parse_level(const cJSON *obj, const char *key, const char *path,
    enum pt_level *out, struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = PT_LEVEL_UNSPECIFIED;
	if (j == NULL)
		return DH_OK;
	if (!cJSON_IsString(j) || pt_level_parse(j->valuestring, out) != DH_OK)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s%s%s: expected one of CRITICAL, HIGH, MEDIUM, LOW, "
		    "INFORMATIONAL, UNSPECIFIED", path, *path ? "." : "", key);
	return DH_OK;
}

static int
parse_bool(const cJSON *obj, const char *key, const char *path, int *out,
    struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (j == NULL)
		return DH_OK;
	if (!cJSON_IsBool(j))
		return dh_err_set(err, DH_E_FORMAT, "%s%s%s: expected a boolean",
		    path, *path ? "." : "", key);
	*out = cJSON_IsTrue(j);
	return DH_OK;
}

static int
parse_rule(const cJSON *jr, enum pt_os os, const char *path,
    struct pt_rule *out, struct dh_err *err)
{
	static const char *const rule_keys[] = {
		"PatchFilterGroup", "ComplianceLevel", "ApproveAfterDays",
		"ApproveUntilDate", "EnableNonSecurity"
	};
	const cJSON *g, *ad, *ud;
	char gpath[128];
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(jr))
		return dh_err_set(err, DH_E_FORMAT, "%s: expected an object",
		    path);
	r = check_members(jr, rule_keys, NELEM(rule_keys), path, err);
	if (r != DH_OK)
		return r;
	r = parse_level(jr, "ComplianceLevel", path, &out->level, err);
	if (r != DH_OK)
		return r;
	r = parse_bool(jr, "EnableNonSecurity", path,
	    &out->enable_non_security, err);
	if (r != DH_OK)
		return r;
	ad = cJSON_GetObjectItemCaseSensitive(jr, "ApproveAfterDays");
	ud = cJSON_GetObjectItemCaseSensitive(jr, "ApproveUntilDate");
	if (ad != NULL && ud != NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s: ApproveAfterDays and ApproveUntilDate are mutually "
		    "exclusive", path);
	if (ad == NULL && ud == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s: one of ApproveAfterDays or ApproveUntilDate is "
		    "required", path);
	if (ad != NULL) {
		/* Range first: casting an out-of-range double is undefined. */
		if (!cJSON_IsNumber(ad) || !(ad->valuedouble >= 0) ||
		    ad->valuedouble > PT_BL_MAX_APPROVE_DAYS ||
		    ad->valuedouble != (double)(int)ad->valuedouble)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.ApproveAfterDays: expected an integer in 0..%d",
			    path, PT_BL_MAX_APPROVE_DAYS);
		out->has_after_days = 1;
		out->after_days = (int)ad->valuedouble;
	} else {
		if (!cJSON_IsString(ud) || ud->valuestring == NULL ||
		    parse_date_end(ud->valuestring, &out->until_end) != DH_OK)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.ApproveUntilDate: expected a date YYYY-MM-DD",
			    path);
		out->has_until = 1;
		memcpy(out->until_date, ud->valuestring, 10);
		out->until_date[10] = '\0';
	}
	g = cJSON_GetObjectItemCaseSensitive(jr, "PatchFilterGroup");
	if (g == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s.PatchFilterGroup: required", path);
	snprintf(gpath, sizeof(gpath), "%s.PatchFilterGroup", path);
	return parse_group(g, os, gpath, &out->group, err);
}

static int
valid_name_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

/* Per-OS format of an ApprovedPatches / RejectedPatches entry. */
static int
check_patch_entry(enum pt_os os, const char *s, const char *path, size_t i,
    struct dh_err *err)
{
	const char *star;
	size_t k;

	switch (pt_os_family(os)) {
	case PT_FAMILY_DEB:
		if (!isalnum((unsigned char)s[0]) || !valid_name_chars(s, "+.-"))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu]: \"%s\" is not a bare package name (%s "
			    "lists take names only, no version or arch)", path,
			    i, s, pt_os_name(os));
		return DH_OK;
	case PT_FAMILY_RPM:
		for (k = 0; s[k] != '\0'; k++)
			if (!isgraph((unsigned char)s[k]))
				return dh_err_set(err, DH_E_FORMAT,
				    "%s[%zu]: \"%s\" contains whitespace or "
				    "control characters", path, i, s);
		star = strchr(s, '*');
		if (star != NULL && strchr(star + 1, '*') != NULL)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu]: \"%s\" has more than one '*' wildcard",
			    path, i, s);
		return DH_OK;
	default:
		if (os == PT_OS_MACOS && strchr(s, '*') != NULL)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu]: wildcards are not accepted for MACOS",
			    path, i);
		return DH_OK;
	}
}

static int
parse_patch_list(const cJSON *obj, const char *key, enum pt_os os,
    char ***out, size_t *n_out, struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t i;
	int r;

	*out = NULL;
	*n_out = 0;
	if (j == NULL)
		return DH_OK;
	r = parse_strv(j, key, PT_BL_MAX_PATCHES, PT_BL_MAX_PATCH_LEN, out,
	    n_out, err);
	if (r != DH_OK)
		return r;
	for (i = 0; i < *n_out; i++) {
		r = check_patch_entry(os, (*out)[i], key, i, err);
		if (r != DH_OK)
			return r;
	}
	return DH_OK;
}

static int
opt_string(const cJSON *obj, const char *key, size_t min, size_t max,
    const char *extra, char **out, struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t len;

	*out = NULL;
	if (j == NULL)
		return DH_OK;
	if (!cJSON_IsString(j) || j->valuestring == NULL)
		return dh_err_set(err, DH_E_FORMAT, "%s: expected a string", key);
	len = strlen(j->valuestring);
	if (len < min || len > max)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s: length %zu outside %zu..%zu", key, len, min, max);
	if (extra != NULL && !valid_name_chars(j->valuestring, extra))
		return dh_err_set(err, DH_E_FORMAT,
		    "%s: \"%s\" has characters outside [a-zA-Z0-9%s]", key,
		    j->valuestring, extra);
	*out = strdup(j->valuestring);
	if (*out == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	return DH_OK;
}

static int
check_sources(const cJSON *obj, struct dh_err *err)
{
	static const char *const src_keys[] = {
		"Name", "Products", "Configuration"
	};
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "Sources");
	const cJSON *e, *name, *prods, *conf;
	char path[48];
	size_t i = 0, len;
	int r;

	if (s == NULL)
		return DH_OK;
	if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > 20)
		return dh_err_set(err, DH_E_FORMAT,
		    "Sources: expected a list of at most 20 sources");
	cJSON_ArrayForEach(e, s) {
		snprintf(path, sizeof(path), "Sources[%zu]", i);
		if (!cJSON_IsObject(e))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s: expected an object", path);
		r = check_members(e, src_keys, NELEM(src_keys), path, err);
		if (r != DH_OK)
			return r;
		name = cJSON_GetObjectItemCaseSensitive(e, "Name");
		prods = cJSON_GetObjectItemCaseSensitive(e, "Products");
		conf = cJSON_GetObjectItemCaseSensitive(e, "Configuration");
		if (!cJSON_IsString(name) || strlen(name->valuestring) < 3 ||
		    strlen(name->valuestring) > 50 ||
		    !valid_name_chars(name->valuestring, "_.-"))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.Name: expected 3..50 of [a-zA-Z0-9_.-]", path);
		if (!cJSON_IsArray(prods) || cJSON_GetArraySize(prods) < 1 ||
		    cJSON_GetArraySize(prods) > 20)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.Products: expected 1..20 product strings", path);
		if (!cJSON_IsString(conf))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.Configuration: required string", path);
		len = strlen(conf->valuestring);
		if (len < 1 || len > 1024)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.Configuration: length %zu outside 1..1024", path,
			    len);
		i++;
	}
	return DH_OK;
}

int
pt_baseline_from_cjson(const cJSON *obj, struct pt_baseline *out,
    struct dh_err *err)
{
	static const char *const rules_keys[] = { "PatchRules" };
	const cJSON *j, *rules, *jr;
	char path[64];
	size_t cnt, i;
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj))
		return dh_err_set(err, DH_E_FORMAT,
		    "baseline: expected a JSON object");
	r = check_members(obj, top_keys, NELEM(top_keys), "", err);
	if (r != DH_OK)
		goto fail;
	j = cJSON_GetObjectItemCaseSensitive(obj, "OperatingSystem");
	out->os = PT_OS_WINDOWS;
	if (j != NULL && (!cJSON_IsString(j) ||
	    pt_os_parse(j->valuestring, &out->os) != DH_OK)) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "OperatingSystem: \"%s\" is not a known operating system",
		    cJSON_IsString(j) ? j->valuestring : "?");
		goto fail;
	}
	r = opt_string(obj, "Name", 3, 128, "_.-", &out->name, err);
	if (r != DH_OK)
		goto fail;
	r = opt_string(obj, "Description", 1, 1024, NULL, &out->description,
	    err);
	if (r != DH_OK)
		goto fail;
	r = opt_string(obj, "BaselineId", 20, 128, "_-:/", &out->id, err);
	if (r != DH_OK)
		goto fail;
	j = cJSON_GetObjectItemCaseSensitive(obj, "GlobalFilters");
	if (j != NULL) {
		r = parse_group(j, out->os, "GlobalFilters", &out->global, err);
		if (r != DH_OK)
			goto fail;
	}
	j = cJSON_GetObjectItemCaseSensitive(obj, "ApprovalRules");
	if (j != NULL) {
		if (!cJSON_IsObject(j)) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "ApprovalRules: expected an object");
			goto fail;
		}
		r = check_members(j, rules_keys, NELEM(rules_keys),
		    "ApprovalRules", err);
		if (r != DH_OK)
			goto fail;
		rules = cJSON_GetObjectItemCaseSensitive(j, "PatchRules");
		if (!cJSON_IsArray(rules)) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "ApprovalRules.PatchRules: required list");
			goto fail;
		}
		cnt = (size_t)cJSON_GetArraySize(rules);
		if (cnt > PT_BL_MAX_RULES) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "ApprovalRules.PatchRules: %zu rules exceed the "
			    "limit of %d", cnt, PT_BL_MAX_RULES);
			goto fail;
		}
		if (cnt > 0) {
			out->rules = calloc(cnt, sizeof(*out->rules));
			if (out->rules == NULL) {
				r = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto fail;
			}
		}
		i = 0;
		cJSON_ArrayForEach(jr, rules) {
			snprintf(path, sizeof(path),
			    "ApprovalRules.PatchRules[%zu]", i);
			r = parse_rule(jr, out->os, path, &out->rules[i], err);
			if (r != DH_OK)
				goto fail;
			out->n_rules = ++i;
		}
	}
	r = parse_patch_list(obj, "ApprovedPatches", out->os, &out->approved,
	    &out->n_approved, err);
	if (r != DH_OK)
		goto fail;
	r = parse_patch_list(obj, "RejectedPatches", out->os, &out->rejected,
	    &out->n_rejected, err);
	if (r != DH_OK)
		goto fail;
	r = parse_level(obj, "ApprovedPatchesComplianceLevel", "",
	    &out->approved_level, err);
	if (r != DH_OK)
		goto fail;
	r = parse_bool(obj, "ApprovedPatchesEnableNonSecurity", "",
	    &out->approved_enable_non_security, err);
	if (r != DH_OK)
		goto fail;
	j = cJSON_GetObjectItemCaseSensitive(obj, "RejectedPatchesAction");
	out->rejected_action = PT_REJECT_ALLOW_AS_DEPENDENCY;
	if (j != NULL) {
		if (cJSON_IsString(j) && strcmp(j->valuestring, "BLOCK") == 0)
			out->rejected_action = PT_REJECT_BLOCK;
		else if (!cJSON_IsString(j) ||
		    strcmp(j->valuestring, "ALLOW_AS_DEPENDENCY") != 0) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "RejectedPatchesAction: expected ALLOW_AS_DEPENDENCY "
			    "or BLOCK");
			goto fail;
		}
	}
	j = cJSON_GetObjectItemCaseSensitive(obj,
	    "AvailableSecurityUpdatesComplianceStatus");
	if (j != NULL && (!cJSON_IsString(j) ||
	    (strcmp(j->valuestring, "COMPLIANT") != 0 &&
	    strcmp(j->valuestring, "NON_COMPLIANT") != 0))) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "AvailableSecurityUpdatesComplianceStatus: expected "
		    "COMPLIANT or NON_COMPLIANT");
		goto fail;
	}
	r = check_sources(obj, err);
	if (r != DH_OK)
		goto fail;
	return DH_OK;
fail:
	pt_baseline_free(out);
	return r;
}

int
pt_baseline_parse(const void *json, size_t n, struct pt_baseline *out,
    struct dh_err *err)
{
	cJSON *root = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = dh_json_parse(json, n, PT_BL_MAX_JSON, &root, err);
	if (r != DH_OK)
		goto out;
	r = pt_baseline_from_cjson(root, out, err);
out:
	cJSON_Delete(root);
	return r;
}

/* ---- serialisation ---- */

static int
add_strv(cJSON *obj, const char *key, char *const *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	size_t i;

	if (arr == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(v[i])))
			return DH_E_NOMEM;
	return DH_OK;
}

static int
add_group(cJSON *obj, const char *key, const struct pt_filter_group *g)
{
	cJSON *grp = cJSON_AddObjectToObject(obj, key);
	cJSON *arr, *f;
	size_t i;

	if (grp == NULL)
		return DH_E_NOMEM;
	arr = cJSON_AddArrayToObject(grp, "PatchFilters");
	if (arr == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < g->n_filters; i++) {
		f = cJSON_CreateObject();
		if (f == NULL || !cJSON_AddItemToArray(arr, f))
			return DH_E_NOMEM;
		if (cJSON_AddStringToObject(f, "Key",
		    key_names[g->filters[i].key]) == NULL)
			return DH_E_NOMEM;
		if (add_strv(f, "Values", g->filters[i].values,
		    g->filters[i].n_values) != DH_OK)
			return DH_E_NOMEM;
	}
	return DH_OK;
}

static int
build_json(const struct pt_baseline *b, cJSON *o)
{
	cJSON *ar, *rules, *rj;
	const struct pt_rule *ru;
	size_t i;

	if ((b->id != NULL && !cJSON_AddStringToObject(o, "BaselineId", b->id)) ||
	    (b->name != NULL && !cJSON_AddStringToObject(o, "Name", b->name)) ||
	    !cJSON_AddStringToObject(o, "OperatingSystem", pt_os_name(b->os)) ||
	    add_group(o, "GlobalFilters", &b->global) != DH_OK)
		return DH_E_NOMEM;
	ar = cJSON_AddObjectToObject(o, "ApprovalRules");
	rules = ar != NULL ? cJSON_AddArrayToObject(ar, "PatchRules") : NULL;
	if (rules == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < b->n_rules; i++) {
		ru = &b->rules[i];
		rj = cJSON_CreateObject();
		if (rj == NULL || !cJSON_AddItemToArray(rules, rj))
			return DH_E_NOMEM;
		if (add_group(rj, "PatchFilterGroup", &ru->group) != DH_OK ||
		    !cJSON_AddStringToObject(rj, "ComplianceLevel",
		    pt_level_name(ru->level)))
			return DH_E_NOMEM;
		if (ru->has_after_days &&
		    !cJSON_AddNumberToObject(rj, "ApproveAfterDays",
		    ru->after_days))
			return DH_E_NOMEM;
		if (ru->has_until &&
		    !cJSON_AddStringToObject(rj, "ApproveUntilDate",
		    ru->until_date))
			return DH_E_NOMEM;
		if (!cJSON_AddBoolToObject(rj, "EnableNonSecurity",
		    ru->enable_non_security))
			return DH_E_NOMEM;
	}
	if (add_strv(o, "ApprovedPatches", b->approved, b->n_approved) ||
	    !cJSON_AddStringToObject(o, "ApprovedPatchesComplianceLevel",
	    pt_level_name(b->approved_level)) ||
	    !cJSON_AddBoolToObject(o, "ApprovedPatchesEnableNonSecurity",
	    b->approved_enable_non_security) ||
	    add_strv(o, "RejectedPatches", b->rejected, b->n_rejected) ||
	    !cJSON_AddStringToObject(o, "RejectedPatchesAction",
	    b->rejected_action == PT_REJECT_BLOCK ? "BLOCK" :
	    "ALLOW_AS_DEPENDENCY"))
		return DH_E_NOMEM;
	if (b->description != NULL &&
	    !cJSON_AddStringToObject(o, "Description", b->description))
		return DH_E_NOMEM;
	return DH_OK;
}

int
pt_baseline_to_cjson(const struct pt_baseline *b, cJSON **out,
    struct dh_err *err)
{
	cJSON *o = cJSON_CreateObject();

	*out = NULL;
	if (o == NULL || build_json(b, o) != DH_OK) {
		cJSON_Delete(o);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	*out = o;
	return DH_OK;
}

/* ---- predefined baselines ---- */

#define AWS_BASELINE_OWNER "075727635805"

#define DEB_RULE \
	"{\"PatchFilterGroup\":{\"PatchFilters\":[" \
	"{\"Key\":\"PRODUCT\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"PRIORITY\",\"Values\":[\"Required\",\"Important\"," \
	"\"Standard\",\"Optional\",\"Extra\"]}]}," \
	"\"ComplianceLevel\":\"UNSPECIFIED\",\"ApproveAfterDays\":0," \
	"\"EnableNonSecurity\":false}"

#define SEC_RULE(sev) \
	"{\"PatchFilterGroup\":{\"PatchFilters\":[" \
	"{\"Key\":\"PRODUCT\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"CLASSIFICATION\",\"Values\":[\"Security\"]}," \
	"{\"Key\":\"SEVERITY\",\"Values\":[" sev "]}]}," \
	"\"ComplianceLevel\":\"UNSPECIFIED\",\"ApproveAfterDays\":7," \
	"\"EnableNonSecurity\":false}"

#define BUGFIX_RULE \
	"{\"PatchFilterGroup\":{\"PatchFilters\":[" \
	"{\"Key\":\"PRODUCT\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"CLASSIFICATION\",\"Values\":[\"Bugfix\"]}]}," \
	"\"ComplianceLevel\":\"UNSPECIFIED\",\"ApproveAfterDays\":7," \
	"\"EnableNonSecurity\":false}"

#define ALL_RULE \
	"{\"PatchFilterGroup\":{\"PatchFilters\":[" \
	"{\"Key\":\"PRODUCT\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"CLASSIFICATION\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"SEVERITY\",\"Values\":[\"*\"]}]}," \
	"\"ComplianceLevel\":\"UNSPECIFIED\",\"ApproveAfterDays\":7," \
	"\"EnableNonSecurity\":true}"

#define WIN_RULE \
	"{\"PatchFilterGroup\":{\"PatchFilters\":[" \
	"{\"Key\":\"PRODUCT\",\"Values\":[\"*\"]}," \
	"{\"Key\":\"CLASSIFICATION\",\"Values\":[\"CriticalUpdates\"," \
	"\"SecurityUpdates\"]}," \
	"{\"Key\":\"MSRC_SEVERITY\",\"Values\":[\"Critical\",\"Important\"]}]}," \
	"\"ComplianceLevel\":\"UNSPECIFIED\",\"ApproveAfterDays\":7}"

#define BASELINE(os, name, desc, rules) \
	"{\"OperatingSystem\":\"" os "\",\"Name\":\"" name "\"," \
	"\"Description\":\"" desc "\"," \
	"\"GlobalFilters\":{\"PatchFilters\":[]}," \
	"\"ApprovalRules\":{\"PatchRules\":[" rules "]}," \
	"\"ApprovedPatches\":[],\"ApprovedPatchesComplianceLevel\":" \
	"\"UNSPECIFIED\",\"ApprovedPatchesEnableNonSecurity\":false," \
	"\"RejectedPatches\":[],\"RejectedPatchesAction\":" \
	"\"ALLOW_AS_DEPENDENCY\"}"

#define CRIT_IMP "\"Critical\",\"Important\""

/* Ids are those AWS publishes in us-east-1 (owner 075727635805). */
static const struct pt_default_baseline defaults[] = {
	{ "AWS-DebianDefaultPatchBaseline", "pb-09a5f8eb62bde80b1",
	  AWS_BASELINE_OWNER, PT_OS_DEBIAN,
	  BASELINE("DEBIAN", "AWS-DebianDefaultPatchBaseline",
	  "Default Patch Baseline for Debian Provided by AWS.", DEB_RULE) },
	{ "AWS-UbuntuDefaultPatchBaseline", "pb-0c7e89f711c3095f4",
	  AWS_BASELINE_OWNER, PT_OS_UBUNTU,
	  BASELINE("UBUNTU", "AWS-UbuntuDefaultPatchBaseline",
	  "Default Patch Baseline for Ubuntu Provided by AWS.", DEB_RULE) },
	{ "AWS-AmazonLinuxDefaultPatchBaseline", "pb-0c10e657807c7a700",
	  AWS_BASELINE_OWNER, PT_OS_AMAZON_LINUX,
	  BASELINE("AMAZON_LINUX", "AWS-AmazonLinuxDefaultPatchBaseline",
	  "Default Patch Baseline for Amazon Linux Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-AmazonLinux2DefaultPatchBaseline", "pb-0be8c61cde3be63f3",
	  AWS_BASELINE_OWNER, PT_OS_AMAZON_LINUX_2,
	  BASELINE("AMAZON_LINUX_2", "AWS-AmazonLinux2DefaultPatchBaseline",
	  "Baseline containing all Security and Bugfix updates approved for "
	  "Amazon Linux 2 instances", SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-AmazonLinux2022DefaultPatchBaseline", "pb-0028ca011460d5eaf",
	  AWS_BASELINE_OWNER, PT_OS_AMAZON_LINUX_2022,
	  BASELINE("AMAZON_LINUX_2022",
	  "AWS-AmazonLinux2022DefaultPatchBaseline",
	  "Default Patch Baseline for Amazon Linux 2022 Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-AmazonLinux2023DefaultPatchBaseline", "pb-05c9c9bf778d4c4d0",
	  AWS_BASELINE_OWNER, PT_OS_AMAZON_LINUX_2023,
	  BASELINE("AMAZON_LINUX_2023",
	  "AWS-AmazonLinux2023DefaultPatchBaseline",
	  "Default Patch Baseline for Amazon Linux 2023 Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-RedHatDefaultPatchBaseline", "pb-0cbb3a633de00f07c",
	  AWS_BASELINE_OWNER, PT_OS_REDHAT_ENTERPRISE_LINUX,
	  BASELINE("REDHAT_ENTERPRISE_LINUX", "AWS-RedHatDefaultPatchBaseline",
	  "Default Patch Baseline for Redhat Enterprise Linux Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-RockyLinuxDefaultPatchBaseline", "pb-03ec98bc512aa3ac0",
	  AWS_BASELINE_OWNER, PT_OS_ROCKY_LINUX,
	  BASELINE("ROCKY_LINUX", "AWS-RockyLinuxDefaultPatchBaseline",
	  "Default Patch Baseline for Rocky Linux Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-AlmaLinuxDefaultPatchBaseline", "pb-0cb0c4966f86b059b",
	  AWS_BASELINE_OWNER, PT_OS_ALMA_LINUX,
	  BASELINE("ALMA_LINUX", "AWS-AlmaLinuxDefaultPatchBaseline",
	  "Default Patch Baseline for Alma Linux Provided by AWS.",
	  SEC_RULE(CRIT_IMP) "," BUGFIX_RULE) },
	{ "AWS-OracleLinuxDefaultPatchBaseline", "pb-06bff38e95fe85c02",
	  AWS_BASELINE_OWNER, PT_OS_ORACLE_LINUX,
	  BASELINE("ORACLE_LINUX", "AWS-OracleLinuxDefaultPatchBaseline",
	  "Default Patch Baseline for Oracle Linux Server Provided by AWS.",
	  SEC_RULE("\"Important\",\"Moderate\"") "," BUGFIX_RULE) },
	{ "AWS-SuseDefaultPatchBaseline", "pb-07d8884178197b66b",
	  AWS_BASELINE_OWNER, PT_OS_SUSE,
	  BASELINE("SUSE", "AWS-SuseDefaultPatchBaseline",
	  "Default Patch Baseline for Suse Provided by AWS.",
	  SEC_RULE(CRIT_IMP)) },
	{ "AWS-CentOSDefaultPatchBaseline", "pb-03e3f588eec25344c",
	  AWS_BASELINE_OWNER, PT_OS_CENTOS,
	  BASELINE("CENTOS", "AWS-CentOSDefaultPatchBaseline",
	  "Default Patch Baseline for CentOS Provided by AWS.", ALL_RULE) },
	{ "AWS-DefaultPatchBaseline", "pb-09ca3fb51f0412ec3",
	  AWS_BASELINE_OWNER, PT_OS_WINDOWS,
	  BASELINE("WINDOWS", "AWS-DefaultPatchBaseline",
	  "Default Patch Baseline Provided by AWS.", WIN_RULE) },
};

const struct pt_default_baseline *
pt_baseline_defaults(size_t *n_out)
{
	*n_out = NELEM(defaults);
	return defaults;
}

int
pt_baseline_default_arn(const struct pt_default_baseline *d,
    const char *region, char *buf, size_t n, struct dh_err *err)
{
	int w;

	if (region == NULL || *region == '\0' ||
	    !valid_name_chars(region, "-"))
		return dh_err_set(err, DH_E_ARG, "invalid region");
	w = snprintf(buf, n, "arn:aws:ssm:%s:%s:patchbaseline/%s", region,
	    d->owner, d->id);
	if (w < 0 || (size_t)w >= n)
		return dh_err_set(err, DH_E_TOOBIG, "ARN buffer too small");
	return DH_OK;
}

static int
load_default(const struct pt_default_baseline *d, struct pt_baseline *out,
    struct dh_err *err)
{
	char arn[128];
	int r;

	r = pt_baseline_parse(d->json, strlen(d->json), out, err);
	if (r != DH_OK)
		return r;
	r = pt_baseline_default_arn(d, "us-east-1", arn, sizeof(arn), err);
	if (r != DH_OK)
		goto fail;
	out->id = strdup(arn);
	if (out->id == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	return DH_OK;
fail:
	pt_baseline_free(out);
	return r;
}

int
pt_baseline_default_for_os(enum pt_os os, struct pt_baseline *out,
    struct dh_err *err)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < NELEM(defaults); i++)
		if (defaults[i].os == os)
			return load_default(&defaults[i], out, err);
	return dh_err_set(err, DH_E_NOTFOUND,
	    "no predefined patch baseline for %s", pt_os_name(os));
}

int
pt_baseline_default_by_id(const char *id, struct pt_baseline *out,
    struct dh_err *err)
{
	const char *pb = id, *slash;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (id == NULL)
		return dh_err_set(err, DH_E_ARG, "no baseline id");
	if (strncmp(id, "arn:", 4) == 0) {
		slash = strrchr(id, '/');
		if (slash == NULL || strstr(id, ":patchbaseline/") == NULL)
			return dh_err_set(err, DH_E_FORMAT,
			    "\"%s\" is not a patch baseline ARN", id);
		pb = slash + 1;
	}
	for (i = 0; i < NELEM(defaults); i++)
		if (strcmp(pb, defaults[i].id) == 0 ||
		    strcmp(id, defaults[i].name) == 0)
			return load_default(&defaults[i], out, err);
	return dh_err_set(err, DH_E_NOTFOUND,
	    "\"%s\" is not a predefined patch baseline", id);
}

/* ---- evaluation ---- */

/* What the filters look at for one version of a package. */
struct view {
	const char *product;
	const char *priority;
	const char *section;
	const char *classification;
	const char *severity;
};

static int
severity_eq(const char *a, const char *b)
{
	int am = strcasecmp(a, "Medium") == 0 || strcasecmp(a, "Moderate") == 0;
	int bm = strcasecmp(b, "Medium") == 0 || strcasecmp(b, "Moderate") == 0;

	if (am || bm)
		return am && bm;
	return strcasecmp(a, b) == 0;
}

static int
value_match(enum pt_filter_key k, const char *have, const char *want)
{
	const char *slash;

	if (strcmp(want, "*") == 0)
		return 1;
	if (have == NULL)
		return 0;
	switch (k) {
	case PT_FK_SEVERITY:
		return severity_eq(have, want);
	case PT_FK_SECTION:
		slash = strrchr(have, '/');
		return strcasecmp(have, want) == 0 ||
		    (slash != NULL && strcasecmp(slash + 1, want) == 0);
	default:
		return strcasecmp(have, want) == 0;
	}
}

static const char *
view_field(const struct view *v, enum pt_filter_key k)
{
	switch (k) {
	case PT_FK_PRODUCT:
		return v->product;
	case PT_FK_PRIORITY:
		return v->priority;
	case PT_FK_SECTION:
		return v->section;
	case PT_FK_CLASSIFICATION:
		return v->classification;
	case PT_FK_SEVERITY:
		return v->severity;
	default:
		return NULL;
	}
}

static int
group_match(const struct pt_filter_group *g, const struct view *v)
{
	const struct pt_filter *f;
	size_t i, j;
	int any;

	for (i = 0; i < g->n_filters; i++) {
		f = &g->filters[i];
		any = 0;
		for (j = 0; j < f->n_values && !any; j++)
			any = value_match(f->key, view_field(v, f->key),
			    f->values[j]);
		if (!any)
			return 0;
	}
	return 1;
}

/* One '*' at most: prefix*suffix match, else exact. */
static int
glob1(const char *pat, size_t plen, const char *s)
{
	const char *star = memchr(pat, '*', plen);
	size_t slen = strlen(s), pre, suf;

	if (star == NULL)
		return plen == slen && memcmp(pat, s, plen) == 0;
	pre = (size_t)(star - pat);
	suf = plen - pre - 1;
	if (slen < pre + suf)
		return 0;
	return memcmp(pat, s, pre) == 0 &&
	    memcmp(star + 1, s + slen - suf, suf) == 0;
}

/* Does an RPM list pattern name this package at version evr
 * ("[E:]V-R")?  Tried forms: name, name.arch, name-V-R, name-V-R.arch,
 * name-E:V-R.arch, E:name-V-R.arch (E defaults to 0); ".rpm" is ignored. */
static int
rpm_pattern_match(const char *pat, const char *name, const char *arch,
    const char *evr)
{
	char form[FORM_MAX], epoch[32];
	const char *colon, *vr;
	size_t plen = strlen(pat), elen;
	int w, k;

	if (plen > 4 && strcmp(pat + plen - 4, ".rpm") == 0)
		plen -= 4;
	if (glob1(pat, plen, name))
		return 1;
	if (arch == NULL)
		arch = "";
	colon = evr != NULL ? strchr(evr, ':') : NULL;
	vr = colon != NULL ? colon + 1 : evr;
	elen = colon != NULL ? (size_t)(colon - evr) : 1;
	if (elen >= sizeof(epoch))
		return 0;
	if (colon != NULL)
		memcpy(epoch, evr, elen);
	else
		epoch[0] = '0';
	epoch[elen] = '\0';
	for (k = 0; k < 5; k++) {
		if (vr == NULL && k > 0)
			break;
		switch (k) {
		case 0:
			w = snprintf(form, sizeof(form), "%s.%s", name, arch);
			break;
		case 1:
			w = snprintf(form, sizeof(form), "%s-%s", name, vr);
			break;
		case 2:
			w = snprintf(form, sizeof(form), "%s-%s.%s", name, vr,
			    arch);
			break;
		case 3:
			w = snprintf(form, sizeof(form), "%s-%s:%s.%s", name,
			    epoch, vr, arch);
			break;
		default:
			w = snprintf(form, sizeof(form), "%s:%s-%s.%s", epoch,
			    name, vr, arch);
			break;
		}
		if (w < 0 || (size_t)w >= sizeof(form))
			continue;
		if (glob1(pat, plen, form))
			return 1;
	}
	return 0;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Is one list entry naming this package at version evr?  u, when given,
 * is the update whose advisory/CVE/Bugzilla ids count; approving selects
 * the ApprovedPatches reading (all-digit entries are Bugzilla ids, never
 * package names). */
static int
entry_match(int family, const char *e, const struct pt_pkg *p,
    const char *evr, const struct pt_update *u, int approving)
{
	size_t i;

	if (family == PT_FAMILY_DEB)
		return strcmp(e, p->name) == 0;
	if (approving && all_digits(e)) {
		for (i = 0; u != NULL && i < u->n_bugzilla_ids; i++)
			if (u->bugzilla_ids[i] != NULL &&
			    strcmp(e, u->bugzilla_ids[i]) == 0)
				return 1;
		return 0;
	}
	if (u != NULL) {
		if (u->advisory_id != NULL && strcasecmp(e, u->advisory_id) == 0)
			return 1;
		for (i = 0; i < u->n_cves; i++)
			if (u->cves[i] != NULL && strcasecmp(e, u->cves[i]) == 0)
				return 1;
	}
	return rpm_pattern_match(e, p->name, p->arch, evr);
}

static int
list_match(int family, char *const *list, size_t n, const struct pt_pkg *p,
    const char *evr, const struct pt_update *u, int approving)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (entry_match(family, list[i], p, evr, u, approving))
			return 1;
	return 0;
}

/* The candidate counts as "security" for the EnableNonSecurity gate:
 * deb: it lives in a security pocket; rpm: an updateinfo notice covers it. */
static int
update_is_security(int family, const struct pt_update *u)
{
	if (family == PT_FAMILY_DEB)
		return u->security;
	return u->security || u->classification != NULL ||
	    u->advisory_id != NULL;
}

static int
delay_ok(int family, const struct pt_rule *ru, const struct pt_update *u,
    int64_t now)
{
	int64_t rel = u->release_time;

	/* apt repositories carry no release dates: delays do not apply. */
	if (family == PT_FAMILY_DEB || rel <= 0)
		return 1;
	if (ru->has_after_days &&
	    now < rel + (int64_t)ru->after_days * DAY_SECONDS)
		return 0;
	if (ru->has_until && rel > ru->until_end)
		return 0;
	return 1;
}

static enum pt_level
max_level(enum pt_level a, enum pt_level b)
{
	return a > b ? a : b;
}

/* Approval of the candidate: sets *rule (-1 list, index, -2 none), *level. */
static int
approve_update(const struct pt_baseline *b, int family,
    const struct pt_inventory *inv, const struct pt_pkg *p,
    const struct pt_update *u, int64_t now, int *rule, enum pt_level *level)
{
	struct view v;
	int sec = update_is_security(family, u), by_rule = 0, by_list = 0;
	size_t i;

	v.product = inv->product;
	v.priority = u->priority != NULL ? u->priority : p->priority;
	v.section = u->section != NULL ? u->section : p->section;
	v.classification = u->classification;
	v.severity = u->severity;
	*rule = -2;
	*level = PT_LEVEL_UNSPECIFIED;
	if (group_match(&b->global, &v)) {
		for (i = 0; i < b->n_rules && !by_rule; i++) {
			if ((sec || b->rules[i].enable_non_security) &&
			    group_match(&b->rules[i].group, &v) &&
			    delay_ok(family, &b->rules[i], u, now)) {
				by_rule = 1;
				*rule = (int)i;
				*level = b->rules[i].level;
			}
		}
	}
	if ((sec || b->approved_enable_non_security) &&
	    list_match(family, b->approved, b->n_approved, p, u->version, u, 1)) {
		by_list = 1;
		if (!by_rule)
			*rule = -1;
		*level = max_level(*level, b->approved_level);
	}
	return by_rule || by_list;
}

/* Approval of the installed version as it stands (INSTALLED): a rule
 * approves it when it is in a security pocket / named by a Security
 * advisory (installed_security) or the rule enables non-security updates,
 * and the filters match what is known of the installed version: deb its
 * own Priority/Section; rpm classification "Security" and the advisory's
 * installed_severity when installed_security (without a severity a
 * SEVERITY filter other than "*" does not match).  Approval delays do not
 * apply to what is installed. */
static int
approve_installed(const struct pt_baseline *b, int family,
    const struct pt_inventory *inv, const struct pt_pkg *p, int *rule,
    enum pt_level *level)
{
	struct view v;
	size_t i;
	int ok = 0;

	memset(&v, 0, sizeof(v));
	v.product = inv->product;
	v.priority = p->priority;
	v.section = p->section;
	if (family == PT_FAMILY_RPM && p->installed_security) {
		v.classification = "Security";
		v.severity = p->installed_severity;
	}
	*rule = -2;
	*level = PT_LEVEL_UNSPECIFIED;
	if (group_match(&b->global, &v)) {
		for (i = 0; i < b->n_rules && !ok; i++) {
			if ((p->installed_security ||
			    b->rules[i].enable_non_security) &&
			    group_match(&b->rules[i].group, &v)) {
				ok = 1;
				*rule = (int)i;
				*level = b->rules[i].level;
			}
		}
	}
	if (list_match(family, b->approved, b->n_approved, p, p->version,
	    NULL, 1)) {
		if (!ok)
			*rule = -1;
		*level = max_level(*level, b->approved_level);
		ok = 1;
	}
	return ok;
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return DH_OK;
	*out = strdup(s);
	return *out == NULL ? DH_E_NOMEM : DH_OK;
}

static void
patch_free(struct pt_patch_result *pr)
{
	free(pr->name);
	free(pr->arch);
	free(pr->installed_version);
	free(pr->available_version);
	free(pr->classification);
	free(pr->severity);
	free(pr->advisory_id);
	free(pr->repository);
	strv_free(pr->cves, pr->n_cves);
}

void
pt_eval_result_free(struct pt_eval_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_patches; i++)
		patch_free(&r->patches[i]);
	free(r->patches);
	free(r->baseline_id);
	free(r->product);
	memset(r, 0, sizeof(*r));
}

static int
name_in(const char *name, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

static int
fill_patch(struct pt_patch_result *pr, const struct pt_pkg *p)
{
	const struct pt_update *u = p->update;
	int detail = pr->state == PT_STATE_MISSING ||
	    pr->state == PT_STATE_FAILED;
	size_t i;

	pr->installed_time = p->installed_time;
	pr->held = p->held;
	if (dup_opt(p->name, &pr->name) || dup_opt(p->arch, &pr->arch) ||
	    dup_opt(p->version, &pr->installed_version))
		return DH_E_NOMEM;
	if (u == NULL)
		return DH_OK;
	if (dup_opt(u->version, &pr->available_version) ||
	    dup_opt(u->repository, &pr->repository))
		return DH_E_NOMEM;
	if (!detail)
		return DH_OK;
	if (dup_opt(u->classification, &pr->classification) ||
	    dup_opt(u->severity, &pr->severity) ||
	    dup_opt(u->advisory_id, &pr->advisory_id))
		return DH_E_NOMEM;
	if (u->n_cves == 0)
		return DH_OK;
	pr->cves = calloc(u->n_cves, sizeof(*pr->cves));
	if (pr->cves == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < u->n_cves; i++) {
		if (dup_opt(u->cves[i] != NULL ? u->cves[i] : "",
		    &pr->cves[i]) != DH_OK)
			return DH_E_NOMEM;
		pr->n_cves = i + 1;
	}
	return DH_OK;
}

static void
eval_one(const struct pt_baseline *b, int family,
    const struct pt_inventory *inv, const struct pt_pkg *p,
    const struct pt_eval_opts *o, struct pt_patch_result *pr)
{
	const struct pt_update *u = p->update;
	enum pt_level level = PT_LEVEL_UNSPECIFIED;
	int rule = -2;

	pr->security = u != NULL && u->security;
	if (list_match(family, b->rejected, b->n_rejected, p, p->version,
	    NULL, 0)) {
		pr->state = b->rejected_action == PT_REJECT_BLOCK ?
		    PT_STATE_INSTALLED_REJECTED : PT_STATE_INSTALLED_OTHER;
	} else if (u != NULL && u->version != NULL &&
	    !list_match(family, b->rejected, b->n_rejected, p, u->version,
	    NULL, 0) &&
	    approve_update(b, family, inv, p, u, o->now, &rule, &level)) {
		pr->state = name_in(p->name, o->failed, o->n_failed) ?
		    PT_STATE_FAILED : PT_STATE_MISSING;
	} else if (approve_installed(b, family, inv, p, &rule, &level)) {
		pr->state = PT_STATE_INSTALLED;
	} else {
		pr->state = PT_STATE_INSTALLED_OTHER;
		rule = -2;
		level = PT_LEVEL_UNSPECIFIED;
	}
	if (pt_state_compliant(pr->state) && inv->reboot_required &&
	    o->noreboot_install_time > 0 &&
	    p->installed_time >= o->noreboot_install_time)
		pr->state = PT_STATE_INSTALLED_PENDING_REBOOT;
	pr->rule = rule;
	pr->level = level;
}

int
pt_baseline_eval_opts(const struct pt_baseline *b,
    const struct pt_inventory *inv, const struct pt_eval_opts *opts,
    struct pt_eval_result *out, struct dh_err *err)
{
	struct pt_patch_result *pr;
	int family = pt_os_family(b->os);
	size_t i;
	int r = DH_OK;

	memset(out, 0, sizeof(*out));
	if (family == 0 || family != (int)inv->family)
		return dh_err_set(err, DH_E_ARG,
		    "baseline for %s%s does not apply to a %s inventory",
		    pt_os_name(b->os),
		    b->os == PT_OS_WINDOWS ? " (the default when "
		    "OperatingSystem is absent)" : "",
		    inv->family == PT_FAMILY_DEB ? "dpkg" :
		    inv->family == PT_FAMILY_RPM ? "rpm" : "unknown");
	out->os = b->os;
	out->eval_time = opts->now;
	if (dup_opt(b->id != NULL ? b->id : b->name, &out->baseline_id) ||
	    dup_opt(inv->product, &out->product)) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	if (inv->n_pkgs > 0) {
		out->patches = calloc(inv->n_pkgs, sizeof(*out->patches));
		if (out->patches == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	for (i = 0; i < inv->n_pkgs; i++) {
		if (inv->pkgs[i].name == NULL) {
			r = dh_err_set(err, DH_E_ARG,
			    "inventory package %zu has no name", i);
			goto fail;
		}
		pr = &out->patches[i];
		out->n_patches = i + 1;
		eval_one(b, family, inv, &inv->pkgs[i], opts, pr);
		if (fill_patch(pr, &inv->pkgs[i]) != DH_OK) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
		out->counts[pr->state]++;
		if (pt_state_compliant(pr->state))
			continue;
		out->highest = max_level(out->highest, pr->level);
		if (pr->level == PT_LEVEL_CRITICAL)
			out->critical_noncompliant++;
		if (pr->security)
			out->security_noncompliant++;
		if (pr->level != PT_LEVEL_CRITICAL && !pr->security)
			out->other_noncompliant++;
	}
	out->compliant = out->counts[PT_STATE_INSTALLED_PENDING_REBOOT] == 0 &&
	    out->counts[PT_STATE_INSTALLED_REJECTED] == 0 &&
	    out->counts[PT_STATE_MISSING] == 0 &&
	    out->counts[PT_STATE_FAILED] == 0;
	return DH_OK;
fail:
	pt_eval_result_free(out);
	return r;
}

int
pt_baseline_eval(const struct pt_baseline *b,
    const struct pt_inventory *inv, int64_t now, struct pt_eval_result *out,
    struct dh_err *err)
{
	struct pt_eval_opts o;

	memset(&o, 0, sizeof(o));
	o.now = now;
	return pt_baseline_eval_opts(b, inv, &o, out, err);
}
