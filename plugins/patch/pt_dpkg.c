/*
 * pt_dpkg: installed set from dpkg's database (see pt_dpkg.h).  Stanzas from
 * status and then each updates/NNNN file are upserted into a record table
 * keyed by (Package, Architecture); the installed ones are then sorted and
 * indexed by (name, arch with "all" folded to native) for the apt scanner.
 */
#include "pt_dpkg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "pt_deb822.h"
#include "pt_debver.h"

#define STATUS_FIELD_MAX (4u * 1024 * 1024)
#define MAX_UPDATES 100000
#define PATH_MAX_LEN 4096

struct rec {
	char *name, *arch, *version, *source, *section, *priority;
	int want_hold;
	int present;
};

struct loader {
	struct rec *recs;
	size_t n, cap;
	uint32_t *slots; /* index+1 into recs, keyed by name/arch */
	size_t n_slots;
	/* the stanza being read */
	struct rec cur;
	char *status;
	unsigned long start_line;
	const char *file;
};

static uint64_t
hash_key(const char *name, size_t nlen, const char *arch, size_t alen)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < nlen; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (i = 0; i < alen; i++)
		h = (h ^ (unsigned char)arch[i]) * 1099511628211ULL;
	return h;
}

static int
str_eq(const char *s, const char *p, size_t n)
{
	return strncmp(s, p, n) == 0 && s[n] == '\0';
}

static void
rec_free(struct rec *r)
{
	free(r->name);
	free(r->arch);
	free(r->version);
	free(r->source);
	free(r->section);
	free(r->priority);
	memset(r, 0, sizeof(*r));
}

static const char *
rec_arch(const struct rec *r)
{
	return r->arch != NULL ? r->arch : "";
}

static int
slots_grow(struct loader *l)
{
	size_t n = l->n_slots ? l->n_slots * 2 : 1024, i;
	uint32_t *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < l->n; i++) {
		const struct rec *r = &l->recs[i];
		size_t j = hash_key(r->name, strlen(r->name), rec_arch(r),
		    strlen(rec_arch(r))) & (n - 1);

		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)(i + 1);
	}
	free(l->slots);
	l->slots = s;
	l->n_slots = n;
	return DH_OK;
}

/* Replace or append the current stanza's record. */
static int
upsert(struct loader *l, struct dh_err *err)
{
	const char *arch = rec_arch(&l->cur);
	size_t j;

	if (l->n_slots == 0 || (l->n + 1) * 2 > l->n_slots)
		if (slots_grow(l) != DH_OK)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
	j = hash_key(l->cur.name, strlen(l->cur.name), arch, strlen(arch)) &
	    (l->n_slots - 1);
	while (l->slots[j] != 0) {
		struct rec *r = &l->recs[l->slots[j] - 1];

		if (strcmp(r->name, l->cur.name) == 0 &&
		    strcmp(rec_arch(r), arch) == 0) {
			rec_free(r);
			*r = l->cur;
			memset(&l->cur, 0, sizeof(l->cur));
			return DH_OK;
		}
		j = (j + 1) & (l->n_slots - 1);
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1024;
		struct rec *nr = realloc(l->recs, nc * sizeof(*nr));

		if (nr == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		l->recs = nr;
		l->cap = nc;
	}
	l->recs[l->n] = l->cur;
	memset(&l->cur, 0, sizeof(l->cur));
	l->n++;
	l->slots[j] = (uint32_t)l->n;
	return DH_OK;
}

static int
set_str(char **dst, const char *v, size_t n, const char *field,
    struct dh_err *err)
{
	if (*dst != NULL)
		return dh_err_set(err, DH_E_FORMAT, "duplicate %s field", field);
	*dst = strndup(v, n);
	if (*dst == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	return DH_OK;
}

static int
on_field(void *ctx, const char *name, size_t nlen, const char *v, size_t vlen,
    unsigned long line, struct dh_err *err)
{
	struct loader *l = ctx;

	if (l->cur.name == NULL && l->cur.arch == NULL &&
	    l->cur.version == NULL && l->status == NULL)
		l->start_line = line;
	switch (nlen) {
	case 6:
		if (strncasecmp(name, "Status", 6) == 0)
			return set_str(&l->status, v, vlen, "Status", err);
		if (strncasecmp(name, "Source", 6) == 0) {
			size_t k = 0;

			while (k < vlen && v[k] != ' ' && v[k] != '(')
				k++;
			return set_str(&l->cur.source, v, k, "Source", err);
		}
		break;
	case 7:
		if (strncasecmp(name, "Package", 7) == 0) {
			if (vlen == 0)
				return dh_err_set(err, DH_E_FORMAT,
				    "empty Package field");
			if (memchr(v, ' ', vlen) != NULL ||
			    memchr(v, '\n', vlen) != NULL)
				return dh_err_set(err, DH_E_FORMAT,
				    "Package field has blanks");
			return set_str(&l->cur.name, v, vlen, "Package", err);
		}
		if (strncasecmp(name, "Version", 7) == 0)
			return set_str(&l->cur.version, v, vlen, "Version",
			    err);
		if (strncasecmp(name, "Section", 7) == 0)
			return set_str(&l->cur.section, v, vlen, "Section",
			    err);
		break;
	case 8:
		if (strncasecmp(name, "Priority", 8) == 0)
			return set_str(&l->cur.priority, v, vlen, "Priority",
			    err);
		break;
	case 12:
		if (strncasecmp(name, "Architecture", 12) == 0)
			return set_str(&l->cur.arch, v, vlen, "Architecture",
			    err);
		break;
	default:
		break;
	}
	return DH_OK;
}

static int
word_in(const char *w, size_t n, const char *const *set)
{
	int i;

	for (i = 0; set[i] != NULL; i++)
		if (str_eq(set[i], w, n))
			return i;
	return -1;
}

/* Parse "want flag state"; sets *present and *hold. */
static int
parse_status(const char *s, int *present, int *hold, struct dh_err *err)
{
	static const char *const wants[] = { "unknown", "install", "hold",
		"deinstall", "purge", NULL };
	static const char *const flags[] = { "ok", "reinstreq", "hold",
		"hold-reinstreq", NULL };
	static const char *const states[] = { "not-installed",
		"config-files", "half-installed", "unpacked",
		"half-configured", "triggers-awaited", "triggers-pending",
		"installed", NULL };
	const char *w[3];
	size_t wl[3];
	int i, st;

	for (i = 0; i < 3; i++) {
		while (*s == ' ')
			s++;
		w[i] = s;
		while (*s != '\0' && *s != ' ')
			s++;
		wl[i] = (size_t)(s - w[i]);
		if (wl[i] == 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "Status field needs three words");
	}
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return dh_err_set(err, DH_E_FORMAT,
		    "Status field has more than three words");
	if (word_in(w[0], wl[0], wants) < 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Status: unknown selection '%.*s'", (int)wl[0], w[0]);
	if (word_in(w[1], wl[1], flags) < 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Status: unknown flag '%.*s'", (int)wl[1], w[1]);
	st = word_in(w[2], wl[2], states);
	if (st < 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Status: unknown state '%.*s'", (int)wl[2], w[2]);
	*hold = str_eq("hold", w[0], wl[0]);
	*present = st >= 2;
	return DH_OK;
}

static int
on_stanza_end(void *ctx, unsigned long line, struct dh_err *err)
{
	struct loader *l = ctx;
	int present = 0, hold = 0, warn, rc;
	struct pt_debver dv;

	if (l->cur.name == NULL) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "stanza starting at line %lu has no Package field",
		    l->start_line);
		goto fail;
	}
	if (l->status == NULL) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "package '%s' (line %lu) has no Status field", l->cur.name,
		    l->start_line);
		goto fail;
	}
	rc = parse_status(l->status, &present, &hold, err);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "package '%s' (line %lu)", l->cur.name,
		    l->start_line);
		goto fail;
	}
	if (present && l->cur.version == NULL) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "installed package '%s' (line %lu) has no Version",
		    l->cur.name, l->start_line);
		goto fail;
	}
	if (l->cur.version != NULL && pt_debver_parse(l->cur.version,
	    strlen(l->cur.version), &dv, &warn, err) != DH_OK) {
		rc = dh_err_wrap(err, DH_E_FORMAT,
		    "package '%s' (line %lu): Version '%.64s'", l->cur.name,
		    l->start_line, l->cur.version);
		goto fail;
	}
	l->cur.present = present;
	l->cur.want_hold = hold;
	free(l->status);
	l->status = NULL;
	return upsert(l, err);
fail:
	/* line is reported by the parser; keep the stanza's own line above */
	(void)line;
	return rc;
}

static void
loader_reset_cur(struct loader *l)
{
	rec_free(&l->cur);
	free(l->status);
	l->status = NULL;
}

static int
load_file(struct loader *l, const char *path, struct dh_err *err)
{
	static const struct pt_deb822_cb cb = { on_field, on_stanza_end };
	int rc;

	l->file = path;
	rc = pt_deb822_parse_file(path, STATUS_FIELD_MAX, &cb, l, err);
	loader_reset_cur(l);
	return rc;
}

static int
cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Apply updates/NNNN in numeric order. */
static int
load_updates(struct loader *l, const char *root, struct dh_err *err)
{
	char path[PATH_MAX_LEN];
	unsigned long *nums = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *dir;
	int rc = DH_OK;

	snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates", root);
	dir = opendir(path);
	if (dir == NULL)
		return DH_OK;
	while ((de = readdir(dir)) != NULL) {
		const char *s = de->d_name;
		unsigned long v = 0;
		size_t k;

		for (k = 0; s[k] >= '0' && s[k] <= '9' && k < 9; k++)
			v = v * 10 + (unsigned long)(s[k] - '0');
		if (k == 0 || s[k] != '\0')
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			unsigned long *nn;

			if (nc > MAX_UPDATES) {
				rc = dh_err_set(err, DH_E_TOOBIG,
				    "%s: too many journal files", path);
				goto out;
			}
			nn = realloc(nums, nc * sizeof(*nn));
			if (nn == NULL) {
				rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto out;
			}
			nums = nn;
			cap = nc;
		}
		nums[n++] = v;
	}
	if (n > 0)
		qsort(nums, n, sizeof(*nums), cmp_ulong);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates/%04lu",
		    root, nums[i]);
		rc = load_file(l, path, err);
		if (rc == DH_E_NOTFOUND) {
			/* a name like "1" rather than "0001" */
			snprintf(path, sizeof(path),
			    "%s/var/lib/dpkg/updates/%lu", root, nums[i]);
			rc = load_file(l, path, err);
		}
		if (rc != DH_OK)
			goto out;
	}
out:
	free(nums);
	closedir(dir);
	return rc;
}

static int
cmp_pkg(const void *a, const void *b)
{
	const struct pt_dpkg_pkg *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r != 0 ? r : strcmp(x->arch, y->arch);
}

static const char *
norm_arch(const struct pt_dpkg *db, const char *arch, size_t alen,
    size_t *out_len)
{
	if (alen == 3 && memcmp(arch, "all", 3) == 0) {
		*out_len = strlen(db->native_arch);
		return db->native_arch;
	}
	*out_len = alen;
	return arch;
}

static void
pick_native(struct pt_dpkg *db, const struct loader *l)
{
	size_t i, j, best = 0, best_n = 0;

	for (i = 0; i < l->n; i++)
		if (l->recs[i].present && strcmp(l->recs[i].name, "dpkg") == 0 &&
		    l->recs[i].arch != NULL &&
		    strcmp(l->recs[i].arch, "all") != 0) {
			snprintf(db->native_arch, sizeof(db->native_arch), "%s",
			    l->recs[i].arch);
			return;
		}
	/* Most common non-"all" architecture (quadratic only in the number
	 * of distinct architectures, which is tiny). */
	for (i = 0; i < l->n; i++) {
		size_t c = 0;
		const char *a = l->recs[i].arch;

		if (!l->recs[i].present || a == NULL || strcmp(a, "all") == 0)
			continue;
		if (best_n > 0 && strcmp(a, l->recs[best].arch) == 0)
			continue;
		for (j = 0; j < l->n; j++)
			if (l->recs[j].present && l->recs[j].arch != NULL &&
			    strcmp(l->recs[j].arch, a) == 0)
				c++;
		if (c > best_n) {
			best_n = c;
			best = i;
		}
		if (best_n * 2 > l->n)
			break;
	}
	snprintf(db->native_arch, sizeof(db->native_arch), "%s",
	    best_n > 0 ? l->recs[best].arch : "all");
}

static int64_t
list_mtime(const char *root, const struct pt_dpkg_pkg *p)
{
	char path[PATH_MAX_LEN];
	struct stat st;

	snprintf(path, sizeof(path), "%s/var/lib/dpkg/info/%s:%s.list", root,
	    p->name, p->arch);
	if (stat(path, &st) == 0)
		return (int64_t)st.st_mtime;
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/info/%s.list", root,
	    p->name);
	if (stat(path, &st) == 0)
		return (int64_t)st.st_mtime;
	return 0;
}

static int
build_index(struct pt_dpkg *db)
{
	size_t n = 64, i;

	while (n < db->n * 2 + 2)
		n *= 2;
	db->slots = calloc(n, sizeof(*db->slots));
	if (db->slots == NULL)
		return DH_E_NOMEM;
	db->n_slots = n;
	for (i = 0; i < db->n; i++) {
		size_t alen, j;
		const char *a = norm_arch(db, db->pkgs[i].arch,
		    strlen(db->pkgs[i].arch), &alen);

		j = hash_key(db->pkgs[i].name, strlen(db->pkgs[i].name), a,
		    alen) & (n - 1);
		while (db->slots[j] != 0)
			j = (j + 1) & (n - 1);
		db->slots[j] = (uint32_t)(i + 1);
	}
	return DH_OK;
}

int
pt_dpkg_load(const char *root, struct pt_dpkg *db, struct dh_err *err)
{
	struct loader l;
	char path[PATH_MAX_LEN];
	size_t i, k;
	int rc;

	memset(db, 0, sizeof(*db));
	memset(&l, 0, sizeof(l));
	if (root == NULL || *root == '\0')
		root = "/";
	if (strcmp(root, "/") == 0)
		root = "";
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	rc = load_file(&l, path, err);
	if (rc != DH_OK)
		goto out;
	rc = load_updates(&l, root, err);
	if (rc != DH_OK)
		goto out;
	pick_native(db, &l);
	db->n_records = l.n;
	db->pkgs = calloc(l.n ? l.n : 1, sizeof(*db->pkgs));
	if (db->pkgs == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0, k = 0; i < l.n; i++) {
		struct rec *r = &l.recs[i];
		struct pt_dpkg_pkg *p;

		if (!r->present)
			continue;
		p = &db->pkgs[k++];
		p->name = r->name;
		p->arch = r->arch;
		p->version = r->version;
		p->source = r->source;
		p->section = r->section;
		p->priority = r->priority;
		p->held = r->want_hold;
		memset(r, 0, sizeof(*r));
		if (p->arch == NULL)
			p->arch = strdup(db->native_arch);
		if (p->source == NULL)
			p->source = strdup(p->name);
		db->n = k;
		if (p->arch == NULL || p->source == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		p->installed_time = list_mtime(root, p);
	}
	qsort(db->pkgs, db->n, sizeof(*db->pkgs), cmp_pkg);
	if (build_index(db) != DH_OK) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
out:
	for (i = 0; i < l.n; i++)
		rec_free(&l.recs[i]);
	free(l.recs);
	free(l.slots);
	loader_reset_cur(&l);
	if (rc != DH_OK)
		pt_dpkg_free(db);
	return rc;
}

long
pt_dpkg_find(const struct pt_dpkg *db, const char *name, size_t name_len,
    const char *arch, size_t arch_len)
{
	size_t alen, j;
	const char *a;

	if (db->n_slots == 0)
		return -1;
	a = norm_arch(db, arch, arch_len, &alen);
	j = hash_key(name, name_len, a, alen) & (db->n_slots - 1);
	while (db->slots[j] != 0) {
		const struct pt_dpkg_pkg *p = &db->pkgs[db->slots[j] - 1];
		size_t plen;
		const char *pa;

		if (str_eq(p->name, name, name_len)) {
			pa = norm_arch(db, p->arch, strlen(p->arch), &plen);
			if (plen == alen && memcmp(pa, a, alen) == 0)
				return (long)(db->slots[j] - 1);
		}
		j = (j + 1) & (db->n_slots - 1);
	}
	return -1;
}

void
pt_dpkg_free(struct pt_dpkg *db)
{
	size_t i;

	for (i = 0; i < db->n; i++) {
		free(db->pkgs[i].name);
		free(db->pkgs[i].arch);
		free(db->pkgs[i].version);
		free(db->pkgs[i].source);
		free(db->pkgs[i].section);
		free(db->pkgs[i].priority);
	}
	free(db->pkgs);
	free(db->slots);
	memset(db, 0, sizeof(*db));
}
