/*
 * gw_policy: parse and evaluate IAM JSON identity policies for the gateway's
 * operator access keys.  Grammar: Version ("2012-10-17" or "2008-10-17"),
 * Statement as one object or an array; each statement has an optional Sid,
 * Effect Allow|Deny, exactly one of Action/NotAction and exactly one of
 * Resource/NotResource (string or array of strings).  Action patterns are
 * "service:name" with '*' and '?' wildcards, matched case-insensitively; a
 * bare "*" matches every action.  Resource patterns are ARNs with '*' and '?'
 * wildcards, matched case-sensitively; '*' may span ':' and '/' (a plain
 * glob over the whole ARN).  A request for an action without a resource
 * passes "*", which only Resource "*" (or a NotResource) covers.  Policy
 * variables ("${aws:username}") are refused under Version 2012-10-17; a
 * missing Version means 2008-10-17 (no variables), as in IAM.  A Condition
 * block is refused with a clear error (conditions are not evaluated, and
 * ignoring one would silently change what the statement grants or denies);
 * so are Principal/NotPrincipal (identity policies only), unknown keys,
 * duplicate keys and empty lists.  Parsing is bounded (GW_POLICY_MAX_BYTES,
 * GW_POLICY_MAX_STATEMENTS, GW_POLICY_MAX_VALUES per list, JSON depth) and
 * errors name the offending statement index and key.  Wildcard matching is
 * greedy with one resume point: O(len(pattern) * len(text)) worst case,
 * never exponential.
 *
 * Evaluation follows IAM: an explicit Deny in any matching statement wins,
 * else any matching Allow allows, else the request is implicitly denied.
 *
 * Ownership: gw_policy_parse copies everything it needs; the input buffer
 * may be freed afterwards.  The returned policy is owned by the caller and
 * released with gw_policy_free.  A parsed policy is immutable, so it can be
 * evaluated from several threads at once.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stddef.h>

#include "dh_err.h"

#define GW_POLICY_MAX_BYTES (32 * 1024) /* raw JSON bytes, with whitespace */
#define GW_POLICY_MAX_STATEMENTS 100
#define GW_POLICY_MAX_VALUES 200        /* entries in one Action/Resource */
#define GW_POLICY_MAX_PATTERN 2048      /* bytes in one Action/Resource value */

struct gw_policy;

enum gw_decision {
	GW_POLICY_IMPLICIT_DENY = 0,
	GW_POLICY_ALLOW = 1,
	GW_POLICY_EXPLICIT_DENY = 2
};

/* Parse len bytes of policy JSON (no NUL needed) into *out (caller frees
 * with gw_policy_free); DH_E_TOOBIG over the caps, DH_E_FORMAT with the
 * statement index and key in err on a grammar error. */
int gw_policy_parse(const char *json, size_t len, struct gw_policy **out,
    struct dh_err *err);

/* Release p (NULL is fine). */
void gw_policy_free(struct gw_policy *p);

/* Decide whether p lets a caller perform action ("ssm:CreateActivation") on
 * resource (an ARN, or "*" for actions without a resource).  NULL p, action
 * or resource yields GW_POLICY_IMPLICIT_DENY. */
enum gw_decision gw_policy_eval(const struct gw_policy *p, const char *action,
    const char *resource);

/* Number of statements in p (for diagnostics and tests). */
size_t gw_policy_statement_count(const struct gw_policy *p);

/* 1 when text matches pattern ('*' any run, '?' one byte), else 0; when
 * nocase is set ASCII letters compare case-insensitively.  Linear in
 * practice, O(|pattern| * |text|) worst case, never exponential. */
int gw_policy_wildcard_match(const char *pattern, const char *text, int nocase);

/* Static name of a decision ("Allow", "ExplicitDeny", "ImplicitDeny"). */
const char *gw_policy_decision_name(enum gw_decision d);

#endif
