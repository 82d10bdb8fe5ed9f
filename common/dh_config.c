/*
 * dh_config: schema-driven JSON configuration with environment overrides,
 * plus the bounded file reader and atomic file writer that the agent uses
 * for its config, identity and credential files (see dh_config.h).
 *
 * Loading is three passes over one schema: defaults, the JSON document
 * (walked object by object, every key matched against the schema so that
 * unknown and duplicate keys are rejected), then the environment.  Each
 * value goes through the same typed setters, which leave a reason in a
 * struct dh_err that the caller prefixes with where the value came from.
 */
#define _GNU_SOURCE /* mkostemp */

#include "dh_config.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_NAME_MAX 256
#define KEY_ESC_MAX 64

#define MEMBER(cfg, f, type) ((type *)(void *)((char *)(cfg) + (f)->offset))
#define CMEMBER(cfg, f, type) \
	((const type *)(const void *)((const char *)(cfg) + (f)->offset))

static size_t
schema_count(const struct dh_config_field *schema)
{
	size_t n = 0;

	while (schema[n].path != NULL)
		n++;
	return n;
}

/* Dotted path of [a-z0-9_]+ components, shorter than DH_CONFIG_PATH_MAX. */
static int
path_ok(const char *p)
{
	size_t i, n = strlen(p);
	int comp = 0;

	if (n == 0 || n >= DH_CONFIG_PATH_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (comp == 0)
				return 0;
			comp = 0;
			continue;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return 0;
		comp++;
	}
	return comp > 0;
}

int
dh_config_env_name(const char *env_prefix, const char *path, char *out,
    size_t outsz)
{
	size_t i, o = 0, pl;

	if (env_prefix == NULL || *env_prefix == '\0' || !path_ok(path) ||
	    outsz == 0)
		return DH_E_ARG;
	pl = strlen(env_prefix);
	for (i = 0; i < pl; i++) {
		if (!((env_prefix[i] >= 'A' && env_prefix[i] <= 'Z') ||
		    (env_prefix[i] >= '0' && env_prefix[i] <= '9') ||
		    env_prefix[i] == '_'))
			return DH_E_ARG;
	}
	if (pl + 1 + strlen(path) >= outsz)
		return DH_E_TOOBIG;
	memcpy(out, env_prefix, pl);
	o = pl;
	out[o++] = '_';
	for (i = 0; path[i] != '\0'; i++) {
		if (path[i] == '.')
			out[o++] = '_';
		else if (path[i] >= 'a' && path[i] <= 'z')
			out[o++] = (char)(path[i] - 'a' + 'A');
		else
			out[o++] = path[i];
	}
	out[o] = '\0';
	return DH_OK;
}

/* 1 when a is b followed by '.' and more (b names an object holding a). */
static int
is_under(const char *a, const char *b, size_t blen)
{
	return strncmp(a, b, blen) == 0 && a[blen] == '.';
}

static int
schema_check(const struct dh_config_field *schema, const char *env_prefix,
    struct dh_err *err)
{
	char ei[ENV_NAME_MAX], ej[ENV_NAME_MAX];
	const struct dh_config_field *f, *g;
	size_t i, j, n = schema_count(schema);

	for (i = 0; i < n; i++) {
		f = &schema[i];
		if (!path_ok(f->path))
			return dh_err_set(err, DH_E_ARG,
			    "config schema: bad path \"%s\"", f->path);
		if (f->type < DH_CONFIG_STR || f->type > DH_CONFIG_STRLIST)
			return dh_err_set(err, DH_E_ARG,
			    "config schema: \"%s\": bad type", f->path);
		if (f->type == DH_CONFIG_ENUM &&
		    (f->choices == NULL || f->choices[0] == NULL))
			return dh_err_set(err, DH_E_ARG,
			    "config schema: \"%s\": enum without choices",
			    f->path);
		if (f->min > f->max && !(f->type != DH_CONFIG_INT && f->max == 0))
			return dh_err_set(err, DH_E_ARG,
			    "config schema: \"%s\": min > max", f->path);
		if (f->type != DH_CONFIG_INT && (f->min < 0 || f->max < 0))
			return dh_err_set(err, DH_E_ARG,
			    "config schema: \"%s\": negative bound", f->path);
		if (f->type == DH_CONFIG_INT && f->def == NULL &&
		    (f->min > 0 || f->max < 0))
			return dh_err_set(err, DH_E_ARG,
			    "config schema: \"%s\": implicit default 0 is out "
			    "of range", f->path);
		if (env_prefix != NULL &&
		    dh_config_env_name(env_prefix, f->path, ei, sizeof(ei)) !=
		    DH_OK)
			return dh_err_set(err, DH_E_ARG,
			    "config schema: bad environment prefix \"%s\"",
			    env_prefix);
		for (j = 0; j < i; j++) {
			g = &schema[j];
			if (strcmp(f->path, g->path) == 0 ||
			    is_under(f->path, g->path, strlen(g->path)) ||
			    is_under(g->path, f->path, strlen(f->path)))
				return dh_err_set(err, DH_E_ARG,
				    "config schema: \"%s\" conflicts with "
				    "\"%s\"", f->path, g->path);
			if (env_prefix != NULL &&
			    dh_config_env_name(env_prefix, g->path, ej,
			    sizeof(ej)) == DH_OK && strcmp(ei, ej) == 0)
				return dh_err_set(err, DH_E_ARG,
				    "config schema: \"%s\" and \"%s\" share "
				    "variable %s", f->path, g->path, ei);
		}
	}
	return DH_OK;
}

static void
free_str(char **s, int secret)
{
	if (*s == NULL)
		return;
	if (secret)
		dh_wipe(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

static void
free_list(struct dh_config_list *l, int secret)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free_str(&l->v[i], secret);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
free_field(const struct dh_config_field *f, void *cfg)
{
	switch (f->type) {
	case DH_CONFIG_STR:
		free_str(MEMBER(cfg, f, char *), f->secret);
		break;
	case DH_CONFIG_STRLIST:
		free_list(MEMBER(cfg, f, struct dh_config_list), f->secret);
		break;
	case DH_CONFIG_INT:
		if (f->secret)
			*MEMBER(cfg, f, int64_t) = 0;
		break;
	case DH_CONFIG_BOOL:
	case DH_CONFIG_ENUM:
		if (f->secret)
			*MEMBER(cfg, f, int) = 0;
		break;
	}
}

void
dh_config_free(const struct dh_config_field *schema, void *cfg)
{
	size_t i;

	for (i = 0; schema[i].path != NULL; i++)
		free_field(&schema[i], cfg);
}

/* Zero every member so that later frees never see stale pointers. */
static void
clear_all(const struct dh_config_field *schema, void *cfg)
{
	const struct dh_config_field *f;
	size_t i;

	for (i = 0; schema[i].path != NULL; i++) {
		f = &schema[i];
		switch (f->type) {
		case DH_CONFIG_STR:
			*MEMBER(cfg, f, char *) = NULL;
			break;
		case DH_CONFIG_STRLIST:
			MEMBER(cfg, f, struct dh_config_list)->v = NULL;
			MEMBER(cfg, f, struct dh_config_list)->n = 0;
			break;
		case DH_CONFIG_INT:
			*MEMBER(cfg, f, int64_t) = 0;
			break;
		case DH_CONFIG_BOOL:
		case DH_CONFIG_ENUM:
			*MEMBER(cfg, f, int) = 0;
			break;
		}
	}
}

/* Check a string value of n bytes against [lo, hi] and for control bytes. */
static int
check_text(const char *s, size_t n, int64_t lo, int64_t hi,
    struct dh_err *err)
{
	size_t i;

	if ((int64_t)n > hi)
		return dh_err_set(err, DH_E_CONFIG,
		    "must be at most %lld bytes long", (long long)hi);
	if ((int64_t)n < lo && lo == 1)
		return dh_err_set(err, DH_E_CONFIG, "must not be empty");
	if ((int64_t)n < lo)
		return dh_err_set(err, DH_E_CONFIG,
		    "must be at least %lld bytes long", (long long)lo);
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return dh_err_set(err, DH_E_CONFIG,
			    "must not contain control characters");
	}
	return DH_OK;
}

static int
set_str(const struct dh_config_field *f, void *cfg, const char *s,
    struct dh_err *err)
{
	char **dst = MEMBER(cfg, f, char *);
	int64_t hi = f->max > 0 ? f->max : DH_CONFIG_STR_MAX;
	char *copy;
	int r;

	r = check_text(s, strlen(s), f->min, hi, err);
	if (r != DH_OK)
		return r;
	copy = strdup(s);
	if (copy == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	free_str(dst, f->secret);
	*dst = copy;
	return DH_OK;
}

static int
int_reason(const struct dh_config_field *f, struct dh_err *err)
{
	return dh_err_set(err, DH_E_CONFIG, "must be an integer in [%lld, %lld]",
	    (long long)f->min, (long long)f->max);
}

static int
enum_reason(const struct dh_config_field *f, struct dh_err *err)
{
	struct dh_buf b;
	size_t i;
	int r = DH_OK;

	dh_buf_init(&b, DH_ERR_MSG_MAX - 64);
	for (i = 0; f->choices[i] != NULL && r == DH_OK; i++)
		r = dh_buf_printf(&b, "%s\"%s\"", i > 0 ? ", " : "",
		    f->choices[i]);
	dh_err_set(err, DH_E_CONFIG, "must be one of %s%s", dh_buf_cstr(&b),
	    r == DH_OK ? "" : ", ...");
	dh_buf_free(&b);
	return DH_E_CONFIG;
}

static int
set_enum(const struct dh_config_field *f, void *cfg, const char *s,
    struct dh_err *err)
{
	int i;

	for (i = 0; f->choices[i] != NULL; i++) {
		if (strcmp(f->choices[i], s) == 0) {
			*MEMBER(cfg, f, int) = i;
			return DH_OK;
		}
	}
	return enum_reason(f, err);
}

/* Append a copy of the n-byte item s to l (item rules checked). */
static int
list_push(const struct dh_config_field *f, struct dh_config_list *l,
    const char *s, size_t n, struct dh_err *err)
{
	int64_t most = f->max > 0 ? f->max : DH_CONFIG_LIST_MAX;
	char **nv, *copy;
	int r;

	if ((int64_t)l->n >= most)
		return dh_err_set(err, DH_E_CONFIG,
		    "must have at most %lld items", (long long)most);
	r = check_text(s, n, 1, DH_CONFIG_STR_MAX, err);
	if (r != DH_OK)
		return dh_err_wrap(err, r, "item %zu", l->n);
	copy = strndup(s, n);
	if (copy == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free_str(&copy, f->secret);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	nv[l->n++] = copy;
	l->v = nv;
	return DH_OK;
}

static void
list_replace(const struct dh_config_field *f, void *cfg,
    struct dh_config_list *l)
{
	struct dh_config_list *dst = MEMBER(cfg, f, struct dh_config_list);

	free_list(dst, f->secret);
	*dst = *l;
	l->v = NULL;
	l->n = 0;
}

/* Strict decimal: optional '-', digits, no spaces, no overflow. */
static int
parse_int_text(const char *s, int64_t *v)
{
	const char *p = s;
	char *end = NULL;
	long long x;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return DH_E_FORMAT;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0')
		return DH_E_FORMAT;
	*v = (int64_t)x;
	return DH_OK;
}

/* Set field f from text (defaults and environment variables). */
static int
set_from_text(const struct dh_config_field *f, void *cfg, const char *s,
    struct dh_err *err)
{
	struct dh_config_list l = { NULL, 0 };
	const char *p, *comma;
	int64_t v;
	int r = DH_OK;

	switch (f->type) {
	case DH_CONFIG_STR:
		return set_str(f, cfg, s, err);
	case DH_CONFIG_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
			*MEMBER(cfg, f, int) = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
			*MEMBER(cfg, f, int) = 0;
		else
			return dh_err_set(err, DH_E_CONFIG,
			    "must be true, false, 1 or 0");
		return DH_OK;
	case DH_CONFIG_INT:
		if (parse_int_text(s, &v) != DH_OK || v < f->min || v > f->max)
			return int_reason(f, err);
		*MEMBER(cfg, f, int64_t) = v;
		return DH_OK;
	case DH_CONFIG_ENUM:
		return set_enum(f, cfg, s, err);
	case DH_CONFIG_STRLIST:
		/* comma-separated items; the empty string is the empty list */
		p = *s != '\0' ? s : NULL;
		while (p != NULL && r == DH_OK) {
			comma = strchr(p, ',');
			r = list_push(f, &l, p, comma != NULL ?
			    (size_t)(comma - p) : strlen(p), err);
			p = comma != NULL ? comma + 1 : NULL;
		}
		if (r == DH_OK)
			list_replace(f, cfg, &l);
		free_list(&l, f->secret);
		return r;
	}
	return dh_err_set(err, DH_E_ARG, "bad field type");
}

/* Set field f from a JSON value (the config document). */
static int
set_from_json(const struct dh_config_field *f, void *cfg, const cJSON *v,
    struct dh_err *err)
{
	struct dh_config_list l = { NULL, 0 };
	const cJSON *it;
	double d;
	int r = DH_OK;

	switch (f->type) {
	case DH_CONFIG_STR:
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return dh_err_set(err, DH_E_CONFIG,
			    "must be a string");
		return set_str(f, cfg, v->valuestring, err);
	case DH_CONFIG_BOOL:
		if (!cJSON_IsBool(v))
			return dh_err_set(err, DH_E_CONFIG,
			    "must be true or false");
		*MEMBER(cfg, f, int) = cJSON_IsTrue(v) ? 1 : 0;
		return DH_OK;
	case DH_CONFIG_INT:
		if (!cJSON_IsNumber(v))
			return int_reason(f, err);
		d = v->valuedouble;
		/* 0x1p63 is the first double past INT64_MAX */
		if (!isfinite(d) || floor(d) != d || d < (double)f->min ||
		    d > (double)f->max || d >= 0x1p63)
			return int_reason(f, err);
		*MEMBER(cfg, f, int64_t) = (int64_t)d;
		return DH_OK;
	case DH_CONFIG_ENUM:
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return enum_reason(f, err);
		return set_enum(f, cfg, v->valuestring, err);
	case DH_CONFIG_STRLIST:
		if (!cJSON_IsArray(v))
			return dh_err_set(err, DH_E_CONFIG,
			    "must be a list of strings");
		for (it = v->child; it != NULL && r == DH_OK; it = it->next) {
			if (!cJSON_IsString(it) || it->valuestring == NULL)
				r = dh_err_set(err, DH_E_CONFIG,
				    "item %zu: must be a string", l.n);
			else
				r = list_push(f, &l, it->valuestring,
				    strlen(it->valuestring), err);
		}
		if (r == DH_OK)
			list_replace(f, cfg, &l);
		free_list(&l, f->secret);
		return r;
	}
	return dh_err_set(err, DH_E_ARG, "bad field type");
}

struct load_ctx {
	const struct dh_config_field *schema;
	void *cfg;
	const char *name;
	struct dh_err *err;
};

static const struct dh_config_field *
find_field(const struct dh_config_field *schema, const char *path)
{
	size_t i;

	for (i = 0; schema[i].path != NULL; i++) {
		if (strcmp(schema[i].path, path) == 0)
			return &schema[i];
	}
	return NULL;
}

/* 1 when some field lives below the object at path. */
static int
is_object_path(const struct dh_config_field *schema, const char *path)
{
	size_t i, n = strlen(path);

	for (i = 0; schema[i].path != NULL; i++) {
		if (is_under(schema[i].path, path, n))
			return 1;
	}
	return 0;
}

static int
unknown_key(struct load_ctx *c, const char *prefix, const char *key)
{
	char esc[4 * KEY_ESC_MAX + 4];

	dh_log_escape(key, strlen(key), KEY_ESC_MAX, esc, sizeof(esc));
	return dh_err_set(c->err, DH_E_CONFIG, "%s: \"%s%s%s\": unknown key",
	    c->name, prefix, *prefix != '\0' ? "." : "", esc);
}

/* Match every member of obj (at dotted prefix) against the schema. */
static int
walk(struct load_ctx *c, const cJSON *obj, const char *prefix)
{
	char path[DH_CONFIG_PATH_MAX];
	const struct dh_config_field *f;
	const cJSON *m, *p;
	size_t plen = strlen(prefix), klen;
	int r;

	for (m = obj->child; m != NULL; m = m->next) {
		if (m->string == NULL)
			return dh_err_set(c->err, DH_E_CONFIG,
			    "%s: member without a name", c->name);
		klen = strlen(m->string);
		if (klen == 0 || strchr(m->string, '.') != NULL ||
		    plen + 1 + klen >= sizeof(path))
			return unknown_key(c, prefix, m->string);
		if (plen > 0) {
			memcpy(path, prefix, plen);
			path[plen] = '.';
			memcpy(path + plen + 1, m->string, klen + 1);
		} else {
			memcpy(path, m->string, klen + 1);
		}
		f = find_field(c->schema, path);
		if (f == NULL && !is_object_path(c->schema, path))
			return unknown_key(c, prefix, m->string);
		for (p = obj->child; p != m; p = p->next) {
			if (strcmp(p->string, m->string) == 0)
				return dh_err_set(c->err, DH_E_CONFIG,
				    "%s: \"%s\": duplicate key", c->name, path);
		}
		if (f != NULL) {
			r = set_from_json(f, c->cfg, m, c->err);
			if (r != DH_OK)
				return dh_err_wrap(c->err, r, "%s: \"%s\"",
				    c->name, path);
			continue;
		}
		if (!cJSON_IsObject(m))
			return dh_err_set(c->err, DH_E_CONFIG,
			    "%s: \"%s\": must be an object", c->name, path);
		r = walk(c, m, path);
		if (r != DH_OK)
			return r;
	}
	return DH_OK;
}

/* Overwrite every string in the tree before it is freed (secrets). */
static void
wipe_tree(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			dh_wipe(j->valuestring, strlen(j->valuestring));
		if (j->string != NULL)
			dh_wipe(j->string, strlen(j->string));
		wipe_tree(j->child);
	}
}

static int
apply_defaults(const struct dh_config_field *schema, void *cfg,
    struct dh_err *err)
{
	const struct dh_config_field *f;
	size_t i;
	int r;

	for (i = 0; schema[i].path != NULL; i++) {
		f = &schema[i];
		if (f->def == NULL)
			continue;
		r = set_from_text(f, cfg, f->def, err);
		if (r != DH_OK) {
			dh_err_wrap(err, DH_E_ARG, "config schema: default of "
			    "\"%s\"", f->path);
			if (err != NULL)
				err->code = DH_E_ARG;
			return DH_E_ARG;
		}
	}
	return DH_OK;
}

static int
apply_env(const struct dh_config_field *schema, void *cfg,
    const char *env_prefix, struct dh_err *err)
{
	char name[ENV_NAME_MAX];
	const char *v;
	size_t i;
	int r;

	for (i = 0; schema[i].path != NULL; i++) {
		r = dh_config_env_name(env_prefix, schema[i].path, name,
		    sizeof(name));
		if (r != DH_OK)
			return dh_err_set(err, DH_E_ARG,
			    "config schema: no variable name for \"%s\"",
			    schema[i].path);
		v = getenv(name);
		if (v == NULL)
			continue;
		r = set_from_text(&schema[i], cfg, v, err);
		if (r != DH_OK)
			return dh_err_wrap(err, r, "environment %s", name);
	}
	return DH_OK;
}

/* Shared body of the loaders; data NULL means "no document". */
static int
load(const struct dh_config_field *schema, void *cfg, const void *data,
    size_t len, const char *name, const char *env_prefix, struct dh_err *err)
{
	struct load_ctx c;
	cJSON *j = NULL;
	int r;

	if (name == NULL)
		name = "config";
	clear_all(schema, cfg);
	r = schema_check(schema, env_prefix, err);
	if (r != DH_OK)
		goto out;
	r = apply_defaults(schema, cfg, err);
	if (r != DH_OK)
		goto out;
	if (data != NULL) {
		r = dh_json_parse(data, len, DH_CONFIG_MAX_FILE, &j, err);
		if (r != DH_OK) {
			dh_err_wrap(err, DH_E_CONFIG, "%s", name);
			if (err != NULL)
				err->code = DH_E_CONFIG;
			r = DH_E_CONFIG;
			goto out;
		}
		if (!cJSON_IsObject(j)) {
			r = dh_err_set(err, DH_E_CONFIG,
			    "%s: top level must be an object", name);
			goto out;
		}
		c.schema = schema;
		c.cfg = cfg;
		c.name = name;
		c.err = err;
		r = walk(&c, j, "");
		if (r != DH_OK)
			goto out;
	}
	if (env_prefix != NULL)
		r = apply_env(schema, cfg, env_prefix, err);
out:
	if (j != NULL) {
		wipe_tree(j);
		cJSON_Delete(j);
	}
	if (r != DH_OK)
		dh_config_free(schema, cfg);
	return r;
}

int
dh_config_load_mem(const struct dh_config_field *schema, void *cfg,
    const void *data, size_t len, const char *name, const char *env_prefix,
    struct dh_err *err)
{
	if (data == NULL && len > 0)
		return dh_err_set(err, DH_E_ARG, "config: no data");
	return load(schema, cfg, data != NULL ? data : "", len, name,
	    env_prefix, err);
}

int
dh_config_load(const struct dh_config_field *schema, void *cfg,
    const char *path, const char *env_prefix, unsigned flags,
    struct dh_err *err)
{
	struct dh_buf b;
	int r;

	dh_buf_init_secret(&b, DH_CONFIG_MAX_FILE);
	if (path == NULL) {
		r = load(schema, cfg, NULL, 0, NULL, env_prefix, err);
		goto out;
	}
	r = dh_config_read_file(path, DH_CONFIG_MAX_FILE, &b, err);
	if (r == DH_E_NOTFOUND && (flags & DH_CONFIG_MISSING_OK)) {
		dh_err_clear(err);
		r = load(schema, cfg, NULL, 0, path, env_prefix, err);
		goto out;
	}
	if (r != DH_OK) {
		clear_all(schema, cfg);
		goto out;
	}
	r = load(schema, cfg, dh_buf_cstr(&b), b.len, path, env_prefix, err);
out:
	dh_buf_free(&b);
	return r;
}

/* The object at the first n bytes of path inside root, created if absent. */
static cJSON *
dump_parent(cJSON *root, const char *path, const char **leaf)
{
	char comp[DH_CONFIG_PATH_MAX];
	const char *p = path, *dot;
	cJSON *cur = root, *next;
	size_t n;

	while ((dot = strchr(p, '.')) != NULL) {
		n = (size_t)(dot - p);
		if (n >= sizeof(comp))
			return NULL;
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = cJSON_GetObjectItemCaseSensitive(cur, comp);
		if (next == NULL)
			next = cJSON_AddObjectToObject(cur, comp);
		if (next == NULL || !cJSON_IsObject(next))
			return NULL;
		cur = next;
		p = dot + 1;
	}
	*leaf = p;
	return cur;
}

static cJSON *
dump_value(const struct dh_config_field *f, const void *cfg)
{
	const struct dh_config_list *l;
	const char *s;
	char num[32];
	cJSON *a, *it;
	size_t i;
	int idx;

	switch (f->type) {
	case DH_CONFIG_STR:
		s = *CMEMBER(cfg, f, char *);
		if (s == NULL)
			return cJSON_CreateNull();
		return cJSON_CreateString(f->secret ? "****" : s);
	case DH_CONFIG_BOOL:
		if (f->secret)
			return cJSON_CreateString("****");
		return cJSON_CreateBool(*CMEMBER(cfg, f, int) != 0);
	case DH_CONFIG_INT:
		if (f->secret)
			return cJSON_CreateString("****");
		snprintf(num, sizeof(num), "%lld",
		    (long long)*CMEMBER(cfg, f, int64_t));
		return cJSON_CreateRaw(num);
	case DH_CONFIG_ENUM:
		if (f->secret)
			return cJSON_CreateString("****");
		idx = *CMEMBER(cfg, f, int);
		for (i = 0; f->choices[i] != NULL; i++) {
			if ((int)i == idx)
				return cJSON_CreateString(f->choices[i]);
		}
		return cJSON_CreateNull();
	case DH_CONFIG_STRLIST:
		l = CMEMBER(cfg, f, struct dh_config_list);
		if (f->secret && l->n > 0)
			return cJSON_CreateString("****");
		a = cJSON_CreateArray();
		for (i = 0; a != NULL && i < l->n; i++) {
			it = cJSON_CreateString(l->v[i]);
			if (it == NULL || !cJSON_AddItemToArray(a, it)) {
				cJSON_Delete(it);
				cJSON_Delete(a);
				a = NULL;
			}
		}
		return a;
	}
	return NULL;
}

/* Print item at the given indent: objects one member a line (2 spaces a
 * level), everything else compact. */
static int
dump_print(const cJSON *item, int indent, struct dh_buf *out)
{
	const cJSON *m;
	char *text;
	int r;

	if (!cJSON_IsObject(item)) {
		text = cJSON_PrintUnformatted(item);
		if (text == NULL)
			return DH_E_NOMEM;
		r = dh_buf_put_str(out, text);
		cJSON_free(text);
		return r;
	}
	if (item->child == NULL)
		return dh_buf_put_str(out, "{}");
	r = dh_buf_put_str(out, "{\n");
	for (m = item->child; m != NULL && r == DH_OK; m = m->next) {
		r = dh_buf_printf(out, "%*s\"%s\": ", indent + 2, "", m->string);
		if (r == DH_OK)
			r = dump_print(m, indent + 2, out);
		if (r == DH_OK)
			r = dh_buf_put_str(out, m->next != NULL ? ",\n" : "\n");
	}
	if (r == DH_OK)
		r = dh_buf_printf(out, "%*s}", indent, "");
	return r;
}

int
dh_config_dump(const struct dh_config_field *schema, const void *cfg,
    struct dh_buf *out)
{
	const char *leaf = NULL;
	cJSON *root, *parent, *v;
	size_t i;
	int r = DH_E_NOMEM;

	root = cJSON_CreateObject();
	if (root == NULL)
		goto out;
	for (i = 0; schema[i].path != NULL; i++) {
		if (!path_ok(schema[i].path)) {
			r = DH_E_ARG;
			goto out;
		}
		parent = dump_parent(root, schema[i].path, &leaf);
		if (parent == NULL) {
			r = DH_E_ARG;
			goto out;
		}
		v = dump_value(&schema[i], cfg);
		if (v == NULL)
			goto out;
		if (!cJSON_AddItemToObject(parent, leaf, v)) {
			cJSON_Delete(v);
			goto out;
		}
	}
	r = dump_print(root, 0, out);
	if (r == DH_OK)
		r = dh_buf_put_str(out, "\n");
out:
	cJSON_Delete(root);
	return r;
}

int
dh_config_describe(const struct dh_config_field *schema,
    const char *env_prefix, struct dh_buf *out)
{
	static const char *const tnames[] = {
		"", "string", "bool", "integer", "enum", "list",
	};
	const struct dh_config_field *f;
	char env[ENV_NAME_MAX];
	size_t i, k;
	int r = DH_OK;

	for (i = 0; schema[i].path != NULL && r == DH_OK; i++) {
		f = &schema[i];
		if (f->type < DH_CONFIG_STR || f->type > DH_CONFIG_STRLIST)
			return DH_E_ARG;
		if (env_prefix == NULL ||
		    dh_config_env_name(env_prefix, f->path, env,
		    sizeof(env)) != DH_OK)
			memcpy(env, "-", 2);
		r = dh_buf_printf(out, "%s\t%s", f->path, tnames[f->type]);
		if (r == DH_OK && f->type == DH_CONFIG_INT)
			r = dh_buf_printf(out, " [%lld, %lld]",
			    (long long)f->min, (long long)f->max);
		for (k = 0; r == DH_OK && f->type == DH_CONFIG_ENUM &&
		    f->choices[k] != NULL; k++)
			r = dh_buf_printf(out, "%c%s", k == 0 ? ' ' : '|',
			    f->choices[k]);
		if (r == DH_OK)
			r = dh_buf_printf(out, "\t%s\t%s\t%s\n",
			    f->def == NULL ? "-" : f->secret ? "****" : f->def,
			    env, f->doc != NULL ? f->doc : "");
	}
	return r;
}

int
dh_config_read_file(const char *path, size_t max, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char chunk[16384];
	struct stat st;
	size_t start = out->len, total = 0;
	ssize_t n;
	int fd, r = DH_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND :
		    DH_E_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		r = dh_err_set(err, DH_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = dh_err_set(err, DH_E_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > (uintmax_t)max) {
		r = dh_err_set(err, DH_E_TOOBIG,
		    "%s: file is larger than %zu bytes", path, max);
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = dh_err_set(err, DH_E_IO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((size_t)n > max - total) {
			r = dh_err_set(err, DH_E_TOOBIG,
			    "%s: file is larger than %zu bytes", path, max);
			goto out;
		}
		total += (size_t)n;
		r = dh_buf_put(out, chunk, (size_t)n);
		if (r != DH_OK) {
			dh_err_set(err, r, "%s: %s", path, dh_strerror(r));
			goto out;
		}
	}
out:
	if (r != DH_OK && out->d != NULL && !out->readonly) {
		if (out->secret)
			dh_wipe(out->d + start, out->len - start);
		out->len = start;
		out->d[start] = '\0';
	}
	dh_wipe(chunk, sizeof(chunk));
	close(fd);
	return r;
}

/* Write all n bytes at p to fd. */
static int
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
dh_config_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct dh_err *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *slash, *base;
	int fd = -1, dfd = -1, made = 0, r = DH_OK, n;

	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	if (*base == '\0')
		return dh_err_set(err, DH_E_ARG, "%s: not a file name", path);
	if (slash == NULL)
		n = snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		n = snprintf(dir, sizeof(dir), "/");
	else
		n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
		    path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return dh_err_set(err, DH_E_TOOBIG, "%s: path too long", path);
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return dh_err_set(err, DH_E_TOOBIG, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = dh_err_set(err, DH_E_IO, "%s: creating temporary file: %s",
		    path, strerror(errno));
		goto out;
	}
	made = 1;
	if (fchmod(fd, mode & 07777) != 0 ||
	    write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		r = dh_err_set(err, DH_E_IO, "%s: writing %s: %s", path, tmp,
		    strerror(errno));
		goto out;
	}
	n = close(fd);
	fd = -1;
	if (n != 0) {
		r = dh_err_set(err, DH_E_IO, "%s: closing %s: %s", path, tmp,
		    strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		r = dh_err_set(err, DH_E_IO, "%s: rename: %s", path,
		    strerror(errno));
		goto out;
	}
	made = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		r = dh_err_set(err, DH_E_IO, "%s: syncing directory %s: %s",
		    path, dir, strerror(errno));
out:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return r;
}
