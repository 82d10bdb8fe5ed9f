/*
 * gw_policy: IAM JSON policy parsing and evaluation for the gateway's
 * operator access keys (see gw_policy.h for the accepted grammar).  The
 * parser walks the cJSON tree from dh_json_parse, validates every key and
 * value, and copies the patterns into a flat statement array; evaluation is
 * a scan over the statements with a non-backtracking-explosion wildcard
 * matcher.  Errors always name the statement index and key
 * ("Statement[2].Action[0]: ...").
 */
#include "gw_policy.h"

#include <stdlib.h>
#include <string.h>

#include "dh_json.h"

struct gw_list {
	char **v;      /* owned patterns */
	size_t n;
	int negated;   /* NotAction / NotResource */
};

struct gw_stmt {
	int deny;
	struct gw_list actions;
	struct gw_list resources;
};

struct gw_policy {
	struct gw_stmt *st;
	size_t n;
	int variables;  /* Version 2012-10-17: ${...} is a policy variable */
};

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int
byte_eq(unsigned char p, unsigned char t, int nocase)
{
	if (p == '?')
		return 1;
	return nocase ? lower(p) == lower(t) : p == t;
}

/* Greedy glob with a single resume point (the last '*'): when a later
 * segment fails, only the most recent star absorbs one more byte.  Earlier
 * stars never need revisiting, so the cost is bounded by |p| * |t|. */
int
gw_policy_wildcard_match(const char *pattern, const char *text, int nocase)
{
	const unsigned char *p = (const unsigned char *)pattern;
	const unsigned char *t = (const unsigned char *)text;
	const unsigned char *star_p = NULL, *star_t = NULL;

	if (pattern == NULL || text == NULL)
		return 0;
	while (*t != '\0') {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return 1;
			star_p = p;
			star_t = t;
		} else if (*p != '\0' && byte_eq(*p, *t, nocase)) {
			p++;
			t++;
		} else if (star_p != NULL) {
			p = star_p;
			t = ++star_t;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static void
list_free(struct gw_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
gw_policy_free(struct gw_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		list_free(&p->st[i].actions);
		list_free(&p->st[i].resources);
	}
	free(p->st);
	free(p);
}

size_t
gw_policy_statement_count(const struct gw_policy *p)
{
	return p == NULL ? 0 : p->n;
}

const char *
gw_policy_decision_name(enum gw_decision d)
{
	switch (d) {
	case GW_POLICY_ALLOW:
		return "Allow";
	case GW_POLICY_EXPLICIT_DENY:
		return "ExplicitDeny";
	case GW_POLICY_IMPLICIT_DENY:
		break;
	}
	return "ImplicitDeny";
}

/* Service prefix: letters, digits and '-' (IAM forbids wildcards there). */
static int
valid_service(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/* Action name part: letters, digits and wildcards. */
static int
valid_action_name(const char *s)
{
	const unsigned char *c;

	if (*s == '\0')
		return 0;
	for (c = (const unsigned char *)s; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '*' || *c == '?' ||
		    *c == '-' || *c == '_'))
			return 0;
	}
	return 1;
}

static int
check_value(const char *where, size_t idx, const char *key, size_t vi,
    const char *v, int is_action, int variables, struct dh_err *err)
{
	const char *colon;
	size_t n = strlen(v), i;

	if (n == 0)
		return dh_err_set(err, DH_E_FORMAT, "%s[%zu].%s[%zu]: empty value",
		    where, idx, key, vi);
	if (n > GW_POLICY_MAX_PATTERN)
		return dh_err_set(err, DH_E_TOOBIG,
		    "%s[%zu].%s[%zu]: value of %zu bytes exceeds %d", where, idx,
		    key, vi, n, GW_POLICY_MAX_PATTERN);
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu].%s[%zu]: control character in value",
			    where, idx, key, vi);
	}
	if (is_action) {
		if (strcmp(v, "*") == 0)
			return DH_OK;
		colon = strchr(v, ':');
		if (colon == NULL || !valid_service(v, (size_t)(colon - v)) ||
		    !valid_action_name(colon + 1))
			return dh_err_set(err, DH_E_FORMAT,
			    "%s[%zu].%s[%zu]: action must be \"*\" or "
			    "\"service:Name\" (wildcards only in Name)", where,
			    idx, key, vi);
		return DH_OK;
	}
	if (strcmp(v, "*") != 0 && strncmp(v, "arn:", 4) != 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s[%zu].%s[%zu]: resource must be \"*\" or an ARN", where,
		    idx, key, vi);
	if (variables && strstr(v, "${") != NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s[%zu].%s[%zu]: policy variables (${...}) are not "
		    "supported", where, idx, key, vi);
	return DH_OK;
}

/* Copy a string-or-array-of-strings member into l. */
static int
parse_list(const cJSON *m, size_t idx, const char *key, int is_action,
    int variables, struct gw_list *l, struct dh_err *err)
{
	const cJSON *it;
	size_t n, i = 0;
	int r;

	if (cJSON_IsString(m)) {
		n = 1;
	} else if (cJSON_IsArray(m)) {
		n = (size_t)cJSON_GetArraySize(m);
		if (n == 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].%s: empty list", idx, key);
		if (n > GW_POLICY_MAX_VALUES)
			return dh_err_set(err, DH_E_TOOBIG,
			    "Statement[%zu].%s: %zu values exceed %d", idx, key,
			    n, GW_POLICY_MAX_VALUES);
	} else {
		return dh_err_set(err, DH_E_FORMAT,
		    "Statement[%zu].%s: must be a string or an array of "
		    "strings", idx, key);
	}
	l->v = calloc(n, sizeof(*l->v));
	if (l->v == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	if (cJSON_IsString(m)) {
		r = check_value("Statement", idx, key, 0, m->valuestring,
		    is_action, variables, err);
		if (r != DH_OK)
			return r;
		l->v[0] = strdup(m->valuestring);
		if (l->v[0] == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		l->n = 1;
		return DH_OK;
	}
	cJSON_ArrayForEach(it, m) {
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].%s[%zu]: must be a string", idx, key,
			    i);
		r = check_value("Statement", idx, key, i, it->valuestring,
		    is_action, variables, err);
		if (r != DH_OK)
			return r;
		l->v[i] = strdup(it->valuestring);
		if (l->v[i] == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		l->n = ++i;
	}
	return DH_OK;
}

static int
parse_statement(const cJSON *s, size_t idx, int variables, struct gw_stmt *st,
    struct dh_err *err)
{
	const cJSON *m, *act = NULL, *nact = NULL, *res = NULL, *nres = NULL;
	int r, have_effect = 0, have_sid = 0;

	if (!cJSON_IsObject(s))
		return dh_err_set(err, DH_E_FORMAT,
		    "Statement[%zu]: must be an object", idx);
	cJSON_ArrayForEach(m, s) {
		const char *k = m->string;

		if ((strcmp(k, "Sid") == 0 && have_sid) ||
		    (strcmp(k, "Effect") == 0 && have_effect) ||
		    (strcmp(k, "Action") == 0 && act != NULL) ||
		    (strcmp(k, "NotAction") == 0 && nact != NULL) ||
		    (strcmp(k, "Resource") == 0 && res != NULL) ||
		    (strcmp(k, "NotResource") == 0 && nres != NULL))
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].%s: duplicate key", idx, k);
		if (strcmp(k, "Sid") == 0) {
			have_sid = 1;
			if (!cJSON_IsString(m))
				return dh_err_set(err, DH_E_FORMAT,
				    "Statement[%zu].Sid: must be a string", idx);
		} else if (strcmp(k, "Effect") == 0) {
			if (cJSON_IsString(m) &&
			    strcmp(m->valuestring, "Allow") == 0)
				st->deny = 0;
			else if (cJSON_IsString(m) &&
			    strcmp(m->valuestring, "Deny") == 0)
				st->deny = 1;
			else
				return dh_err_set(err, DH_E_FORMAT,
				    "Statement[%zu].Effect: must be \"Allow\" "
				    "or \"Deny\"", idx);
			have_effect = 1;
		} else if (strcmp(k, "Action") == 0) {
			act = m;
		} else if (strcmp(k, "NotAction") == 0) {
			nact = m;
		} else if (strcmp(k, "Resource") == 0) {
			res = m;
		} else if (strcmp(k, "NotResource") == 0) {
			nres = m;
		} else if (strcmp(k, "Condition") == 0) {
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].Condition: conditions are not "
			    "supported by this gateway; remove the block or "
			    "split the grant", idx);
		} else if (strcmp(k, "Principal") == 0 ||
		    strcmp(k, "NotPrincipal") == 0) {
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].%s: not allowed in an identity "
			    "policy", idx, k);
		} else {
			return dh_err_set(err, DH_E_FORMAT,
			    "Statement[%zu].%.64s: unknown key", idx, k);
		}
	}
	if (!have_effect)
		return dh_err_set(err, DH_E_FORMAT,
		    "Statement[%zu].Effect: missing", idx);
	if ((act == NULL) == (nact == NULL))
		return dh_err_set(err, DH_E_FORMAT,
		    "Statement[%zu].Action: exactly one of Action or NotAction "
		    "is required", idx);
	if ((res == NULL) == (nres == NULL))
		return dh_err_set(err, DH_E_FORMAT,
		    "Statement[%zu].Resource: exactly one of Resource or "
		    "NotResource is required", idx);
	st->actions.negated = act == NULL;
	r = parse_list(act != NULL ? act : nact, idx,
	    act != NULL ? "Action" : "NotAction", 1, variables, &st->actions,
	    err);
	if (r != DH_OK)
		return r;
	st->resources.negated = res == NULL;
	return parse_list(res != NULL ? res : nres, idx,
	    res != NULL ? "Resource" : "NotResource", 0, variables,
	    &st->resources, err);
}

int
gw_policy_parse(const char *json, size_t len, struct gw_policy **out,
    struct dh_err *err)
{
	cJSON *doc = NULL;
	const cJSON *m, *stmts = NULL, *s;
	struct gw_policy *p = NULL;
	size_t n, i;
	int r, have_version = 0, have_id = 0;

	*out = NULL;
	if (json == NULL)
		return dh_err_set(err, DH_E_ARG, "no policy document");
	r = dh_json_parse(json, len, GW_POLICY_MAX_BYTES, &doc, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "policy");
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (!cJSON_IsObject(doc)) {
		r = dh_err_set(err, DH_E_FORMAT, "policy: must be a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(m, doc) {
		if ((strcmp(m->string, "Version") == 0 && have_version) ||
		    (strcmp(m->string, "Id") == 0 && have_id) ||
		    (strcmp(m->string, "Statement") == 0 && stmts != NULL)) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "policy: duplicate key %s", m->string);
			goto out;
		}
		if (strcmp(m->string, "Version") == 0) {
			have_version = 1;
			if (cJSON_IsString(m) &&
			    strcmp(m->valuestring, "2012-10-17") == 0) {
				p->variables = 1;
			} else if (!cJSON_IsString(m) ||
			    strcmp(m->valuestring, "2008-10-17") != 0) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "Version: must be \"2012-10-17\" or "
				    "\"2008-10-17\"");
				goto out;
			}
		} else if (strcmp(m->string, "Id") == 0) {
			have_id = 1;
			if (!cJSON_IsString(m)) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "Id: must be a string");
				goto out;
			}
		} else if (strcmp(m->string, "Statement") == 0) {
			stmts = m;
		} else {
			r = dh_err_set(err, DH_E_FORMAT,
			    "policy: unknown top-level key %.64s", m->string);
			goto out;
		}
	}
	if (stmts == NULL) {
		r = dh_err_set(err, DH_E_FORMAT, "Statement: missing");
		goto out;
	}
	if (cJSON_IsObject(stmts)) {
		n = 1;
	} else if (cJSON_IsArray(stmts)) {
		n = (size_t)cJSON_GetArraySize(stmts);
	} else {
		r = dh_err_set(err, DH_E_FORMAT,
		    "Statement: must be an object or an array");
		goto out;
	}
	if (n == 0) {
		r = dh_err_set(err, DH_E_FORMAT, "Statement: empty list");
		goto out;
	}
	if (n > GW_POLICY_MAX_STATEMENTS) {
		r = dh_err_set(err, DH_E_TOOBIG,
		    "Statement: %zu statements exceed %d", n,
		    GW_POLICY_MAX_STATEMENTS);
		goto out;
	}
	p->st = calloc(n, sizeof(*p->st));
	if (p->st == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (cJSON_IsObject(stmts)) {
		p->n = 1;
		r = parse_statement(stmts, 0, p->variables, &p->st[0], err);
		if (r != DH_OK)
			goto out;
	} else {
		i = 0;
		cJSON_ArrayForEach(s, stmts) {
			p->n = i + 1;
			r = parse_statement(s, i, p->variables, &p->st[i], err);
			if (r != DH_OK)
				goto out;
			i++;
		}
	}
	*out = p;
	p = NULL;
	r = DH_OK;
out:
	gw_policy_free(p);
	cJSON_Delete(doc);
	return r;
}

static int
list_matches(const struct gw_list *l, const char *text, int nocase)
{
	size_t i;
	int hit = 0;

	for (i = 0; i < l->n && !hit; i++)
		hit = gw_policy_wildcard_match(l->v[i], text, nocase);
	return l->negated ? !hit : hit;
}

/* A request action must be "service:Name" with no wildcards (a caller
 * asking about "ssm:*" must not be granted by a narrower pattern). */
static int
valid_request_action(const char *a)
{
	const char *colon = strchr(a, ':');

	if (colon == NULL || !valid_service(a, (size_t)(colon - a)))
		return 0;
	if (strchr(colon + 1, '*') != NULL || strchr(colon + 1, '?') != NULL)
		return 0;
	return valid_action_name(colon + 1);
}

enum gw_decision
gw_policy_eval(const struct gw_policy *p, const char *action,
    const char *resource)
{
	enum gw_decision d = GW_POLICY_IMPLICIT_DENY;
	size_t i;

	if (p == NULL || action == NULL || resource == NULL ||
	    !valid_request_action(action) || *resource == '\0')
		return GW_POLICY_IMPLICIT_DENY;
	for (i = 0; i < p->n; i++) {
		const struct gw_stmt *st = &p->st[i];

		if (!list_matches(&st->actions, action, 1) ||
		    !list_matches(&st->resources, resource, 0))
			continue;
		if (st->deny)
			return GW_POLICY_EXPLICIT_DENY;
		d = GW_POLICY_ALLOW;
	}
	return d;
}
