/*
 * pt_apt: apt lists, Release metadata, preferences and candidate selection
 * (see pt_apt.h).  Each Packages index is streamed through libarchive into
 * pt_deb822; per stanza only Package/Version/Architecture/Section/Priority
 * are copied into fixed buffers, and only stanzas of installed packages with
 * a version newer than (or equal to) the installed one are remembered, in a
 * short per-package list of distinct versions with their best pin and
 * security flag; a stanza of the installed version itself only raises the
 * installed pin and, in a security pocket, marks the installed version as
 * security.  The candidate is chosen once every index has been read.
 */
#include "pt_apt.h"

#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt_deb822.h"
#include "pt_debver.h"

#define PATH_LEN 4096
#define INDEX_FIELD_MAX (1u * 1024 * 1024)
#define RELEASE_FIELD_MAX (16u * 1024 * 1024)
#define PREF_FIELD_MAX (64u * 1024)
#define MAX_LISTS 100000
#define MAX_PINS 10000
#define VER_FILES 8
#define READ_BLOCK 65536

enum { PIN_RELEASE = 1, PIN_ORIGIN, PIN_VERSION };

struct rel {
	char *prefix;  /* list file name up to and including the last '_' */
	char *origin, *label, *suite, *codename, *version;
	int not_auto, but_auto;
	int security;
	int inrelease;
};

struct lfile {
	char *name;      /* file name inside lists/ */
	char *component; /* "main", "" for flat repositories */
	char *site;      /* host part of the name */
	long rel;        /* index into rels, -1 when none */
	int prio;        /* file pin priority */
};

struct pin {
	char **pkgs;  /* NULL: applies to every package ("*") */
	size_t n_pkgs;
	int type;
	char *data;
	int prio;
};

struct ver {
	struct ver *next;
	int prio;
	int security;
	unsigned int files[VER_FILES];
	size_t n_files;
	size_t repo_file;
	char *version, *arch, *section, *priority; /* point into s[] */
	char s[];
};

struct pstate {
	struct ver *vers;
	int inst_prio;
	int inst_security; /* the installed version seen in a security file */
};

struct fieldbuf {
	char v[256];
	size_t len;
	int set;
};

struct scan {
	const struct pt_dpkg *db;
	struct pstate *st;
	struct rel *rels;
	size_t n_rels;
	struct lfile *files;
	size_t n_files;
	struct pin *pins;
	size_t n_pins;
	size_t cur;          /* file being read */
	/* stanza being read */
	struct fieldbuf f_pkg, f_ver, f_arch, f_sec, f_prio;
	unsigned long start_line;
	size_t n_stanzas;
};

static int mkpath(char *buf, size_t size, struct dh_err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* snprintf into a path buffer; DH_E_TOOBIG when it does not fit. */
static int
mkpath(char *buf, size_t size, struct dh_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return dh_err_set(err, DH_E_TOOBIG, "path too long");
	return DH_OK;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static int
ci_eq(const char *a, size_t alen, const char *lit)
{
	return strlen(lit) == alen && strncasecmp(a, lit, alen) == 0;
}

static int
yes(const char *s)
{
	return s != NULL && (strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "true") == 0);
}

/* ---- text files (Release, preferences) line by line ---- */

enum { TEXT_ARMOR = 1, TEXT_COMMENTS = 2 };

static int
feed_text_file(const char *path, int mode, size_t max_field,
    const struct pt_deb822_cb *cb, void *ctx, struct dh_err *err)
{
	struct pt_deb822 p;
	char line[8192];
	int at_start = 1, first = 1, in_armor_hdr = 0, skipping = 0, rc = DH_OK;
	FILE *f;

	pt_deb822_init(&p, max_field, cb, ctx);
	f = fopen(path, "re");
	if (f == NULL) {
		rc = dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND : DH_E_IO,
		    "%s: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		const char *s = line;
		int was_start = at_start;

		at_start = n > 0 && line[n - 1] == '\n';
		if (n < sizeof(line) - 1 && !at_start && !feof(f)) {
			rc = dh_err_set(err, DH_E_FORMAT, "%s: NUL byte in input",
			    path);
			goto out_f;
		}
		if (was_start) {
			skipping = 0;
			if (mode == TEXT_ARMOR && first && strncmp(line,
			    "-----BEGIN PGP SIGNED MESSAGE-----", 34) == 0) {
				in_armor_hdr = 1;
				skipping = 1;
			} else if (in_armor_hdr) {
				skipping = 1;
				if (line[0] == '\n' || strcmp(line, "\r\n") == 0)
					in_armor_hdr = 0;
			} else if (mode == TEXT_ARMOR && strncmp(line,
			    "-----BEGIN PGP SIGNATURE-----", 29) == 0) {
				break;
			} else if (mode == TEXT_ARMOR && line[0] == '-' &&
			    line[1] == ' ') {
				s = line + 2;
				n -= 2;
			} else if (mode == TEXT_COMMENTS && line[0] == '#') {
				skipping = 1;
			}
			first = 0;
		}
		if (skipping)
			continue;
		rc = pt_deb822_feed(&p, s, n, err);
		if (rc != DH_OK)
			goto out_f;
	}
	if (ferror(f)) {
		rc = dh_err_set(err, DH_E_IO, "%s: read error", path);
		goto out_f;
	}
	rc = pt_deb822_finish(&p, err);
out_f:
	fclose(f);
	if (rc < 0 && rc != DH_E_IO && rc != DH_E_NOTFOUND)
		dh_err_wrap(err, rc, "%s", path);
	if (rc == PT_DEB822_STOP)
		rc = DH_OK;
out:
	pt_deb822_free(&p);
	return rc;
}

/* ---- Release files ---- */

static int
rel_set(char **dst, const char *v, size_t n, struct dh_err *err)
{
	if (*dst != NULL)
		return DH_OK;
	if (n > 1024)
		return dh_err_set(err, DH_E_FORMAT, "Release field too long");
	*dst = strndup(v, n);
	return *dst == NULL ? dh_err_set(err, DH_E_NOMEM, "out of memory") :
	    DH_OK;
}

static int
rel_field(void *ctx, const char *name, size_t nlen, const char *v,
    size_t vlen, unsigned long line, struct dh_err *err)
{
	struct rel *r = ctx;
	char *tmp = NULL;
	int rc;

	if (ci_eq(name, nlen, "Origin"))
		return rel_set(&r->origin, v, vlen, err);
	if (ci_eq(name, nlen, "Label"))
		return rel_set(&r->label, v, vlen, err);
	if (ci_eq(name, nlen, "Suite"))
		return rel_set(&r->suite, v, vlen, err);
	if (ci_eq(name, nlen, "Codename"))
		return rel_set(&r->codename, v, vlen, err);
	if (ci_eq(name, nlen, "Version"))
		return rel_set(&r->version, v, vlen, err);
	if (ci_eq(name, nlen, "NotAutomatic") ||
	    ci_eq(name, nlen, "ButAutomaticUpgrades")) {
		rc = rel_set(&tmp, v, vlen, err);
		if (rc != DH_OK)
			return rc;
		if (ci_eq(name, nlen, "NotAutomatic"))
			r->not_auto = yes(tmp);
		else
			r->but_auto = yes(tmp);
		free(tmp);
	}
	return DH_OK;
}

static int
rel_end(void *ctx, unsigned long line, struct dh_err *err)
{
	return PT_DEB822_STOP;
}

static int
ends_security(const char *s)
{
	return s != NULL && has_suffix(s, "-security");
}

static void
rel_free(struct rel *r)
{
	free(r->prefix);
	free(r->origin);
	free(r->label);
	free(r->suite);
	free(r->codename);
	free(r->version);
}

static int
read_release(const char *dir, const char *name, struct rel *r,
    struct dh_err *err)
{
	static const struct pt_deb822_cb cb = { rel_field, rel_end };
	char path[PATH_LEN];
	size_t plen;
	int rc;

	memset(r, 0, sizeof(*r));
	r->inrelease = has_suffix(name, "_InRelease");
	plen = strlen(name) - strlen(r->inrelease ? "InRelease" : "Release");
	r->prefix = strndup(name, plen);
	if (r->prefix == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	rc = mkpath(path, sizeof(path), err, "%s/%s", dir, name);
	if (rc != DH_OK)
		return rc;
	rc = feed_text_file(path, TEXT_ARMOR, RELEASE_FIELD_MAX, &cb, r, err);
	if (rc != DH_OK)
		return rc;
	r->security = (r->label != NULL &&
	    strcmp(r->label, "Debian-Security") == 0) ||
	    ends_security(r->codename) || ends_security(r->suite);
	return DH_OK;
}

/* ---- preferences ---- */

struct pref_ctx {
	struct scan *s;
	char *package, *pin;
	long prio;
	int have_prio;
	struct dh_err *err;
};

static int
pref_field(void *ctx, const char *name, size_t nlen, const char *v,
    size_t vlen, unsigned long line, struct dh_err *err)
{
	struct pref_ctx *c = ctx;

	if (ci_eq(name, nlen, "Package"))
		return rel_set(&c->package, v, vlen, err);
	if (ci_eq(name, nlen, "Pin"))
		return rel_set(&c->pin, v, vlen, err);
	if (ci_eq(name, nlen, "Pin-Priority")) {
		char buf[32], *end;

		if (vlen == 0 || vlen >= sizeof(buf))
			return dh_err_set(err, DH_E_FORMAT,
			    "bad Pin-Priority");
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		errno = 0;
		c->prio = strtol(buf, &end, 10);
		if (*end != '\0' || errno != 0 || c->prio < -32768 ||
		    c->prio > 32767)
			return dh_err_set(err, DH_E_FORMAT,
			    "bad Pin-Priority '%s'", buf);
		c->have_prio = 1;
	}
	return DH_OK;
}

static void
pin_free(struct pin *p)
{
	size_t i;

	for (i = 0; i < p->n_pkgs; i++)
		free(p->pkgs[i]);
	free(p->pkgs);
	free(p->data);
}

static int
pref_end(void *ctx, unsigned long line, struct dh_err *err)
{
	struct pref_ctx *c = ctx;
	struct scan *s = c->s;
	struct pin p;
	const char *w, *q;
	int rc = DH_OK;

	memset(&p, 0, sizeof(p));
	if (c->package == NULL) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "record without Package field");
		goto out;
	}
	/* apt ignores records without Pin or with a zero priority */
	if (c->pin == NULL || !c->have_prio || c->prio == 0)
		goto out;
	w = c->pin;
	for (q = w; *q != '\0' && *q != ' ' && *q != '\t'; q++)
		;
	if (ci_eq(w, (size_t)(q - w), "release"))
		p.type = PIN_RELEASE;
	else if (ci_eq(w, (size_t)(q - w), "origin"))
		p.type = PIN_ORIGIN;
	else if (ci_eq(w, (size_t)(q - w), "version"))
		p.type = PIN_VERSION;
	else
		goto out;
	while (*q == ' ' || *q == '\t')
		q++;
	p.data = strdup(q);
	p.prio = (int)c->prio;
	if (p.data == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(c->package, "*") != 0) {
		const char *a = c->package;

		while (*a != '\0') {
			const char *b;
			char **np;

			while (*a == ' ' || *a == '\t' || *a == '\n')
				a++;
			if (*a == '\0')
				break;
			for (b = a; *b != '\0' && *b != ' ' && *b != '\t' &&
			    *b != '\n'; b++)
				;
			np = realloc(p.pkgs, (p.n_pkgs + 1) * sizeof(*np));
			if (np == NULL) {
				rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto out;
			}
			p.pkgs = np;
			p.pkgs[p.n_pkgs] = strndup(a, (size_t)(b - a));
			if (p.pkgs[p.n_pkgs] == NULL) {
				rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
				goto out;
			}
			p.n_pkgs++;
			a = b;
		}
		if (p.n_pkgs == 0)
			goto out;
	} else if (p.type == PIN_VERSION) {
		goto out; /* apt: version pins need a package name */
	}
	if (s->n_pins >= MAX_PINS) {
		rc = dh_err_set(err, DH_E_TOOBIG, "too many pins");
		goto out;
	}
	{
		struct pin *np = realloc(s->pins, (s->n_pins + 1) *
		    sizeof(*np));

		if (np == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		s->pins = np;
		s->pins[s->n_pins++] = p;
		memset(&p, 0, sizeof(p));
	}
out:
	pin_free(&p);
	free(c->package);
	free(c->pin);
	c->package = NULL;
	c->pin = NULL;
	c->have_prio = 0;
	c->prio = 0;
	return rc;
}

static int
read_pref_file(struct scan *s, const char *path, struct dh_err *err)
{
	static const struct pt_deb822_cb cb = { pref_field, pref_end };
	struct pref_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.s = s;
	rc = feed_text_file(path, TEXT_COMMENTS, PREF_FIELD_MAX, &cb, &c, err);
	free(c.package);
	free(c.pin);
	return rc == DH_E_NOTFOUND ? DH_OK : rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
pref_name_ok(const char *n)
{
	const char *q;

	if (n[0] == '.')
		return 0;
	for (q = n; *q != '\0'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '_' || *q == '-' ||
		    *q == '.'))
			return 0;
	/* no extension, or ".pref" */
	q = strrchr(n, '.');
	return q == NULL || strcmp(q, ".pref") == 0;
}

static int
read_prefs(struct scan *s, const char *root, struct dh_err *err)
{
	char path[PATH_LEN];
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;
	int rc;

	rc = mkpath(path, sizeof(path), err, "%s/etc/apt/preferences", root);
	if (rc == DH_OK)
		rc = read_pref_file(s, path, err);
	if (rc != DH_OK)
		return rc;
	if (mkpath(path, sizeof(path), err, "%s/etc/apt/preferences.d",
	    root) != DH_OK)
		return DH_E_TOOBIG;
	d = opendir(path);
	if (d == NULL)
		return DH_OK;
	while ((de = readdir(d)) != NULL) {
		char **nn;

		if (!pref_name_ok(de->d_name) || n >= 10000)
			continue;
		nn = realloc(names, (n + 1) * sizeof(*nn));
		if (nn == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		names = nn;
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc == DH_OK; i++) {
		rc = mkpath(path, sizeof(path), err,
		    "%s/etc/apt/preferences.d/%s", root, names[i]);
		if (rc == DH_OK)
			rc = read_pref_file(s, path, err);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* Does one "key=value" term of a release pin match file f? */
static int
release_term(const struct scan *s, const struct lfile *f, const char *k,
    size_t klen, const char *v)
{
	const struct rel *r = f->rel >= 0 ? &s->rels[f->rel] : NULL;
	const char *have = NULL;

	if (klen == 1) {
		switch (k[0]) {
		case 'a': have = r ? r->suite : NULL; break;
		case 'n': have = r ? r->codename : NULL; break;
		case 'o': have = r ? r->origin : NULL; break;
		case 'l': have = r ? r->label : NULL; break;
		case 'v': have = r ? r->version : NULL; break;
		case 'c': have = f->component; break;
		default: return 0;
		}
	} else {
		return 0;
	}
	if (have == NULL)
		return 0;
	return fnmatch(v, have, 0) == 0;
}

static int
release_match(const struct scan *s, const struct lfile *f, const char *data)
{
	char term[512];
	const char *p = data;

	if (strchr(data, '=') == NULL) /* a bare value is the version */
		return f->rel >= 0 && s->rels[f->rel].version != NULL &&
		    fnmatch(data, s->rels[f->rel].version, 0) == 0;
	while (*p != '\0') {
		const char *e = strchr(p, ','), *eq;
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n >= sizeof(term))
			return 0;
		memcpy(term, p, n);
		term[n] = '\0';
		while (n > 0 && (term[n - 1] == ' ' || term[n - 1] == '\t'))
			term[--n] = '\0';
		eq = strchr(term, '=');
		if (eq == NULL || !release_term(s, f, term,
		    (size_t)(eq - term), eq + 1))
			return 0;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')
			p++;
	}
	return 1;
}

static int
pin_matches_file(const struct scan *s, const struct pin *p,
    const struct lfile *f)
{
	if (p->type == PIN_RELEASE)
		return release_match(s, f, p->data);
	if (p->type == PIN_ORIGIN)
		return strcmp(p->data, f->site) == 0 ||
		    (p->data[0] == '"' && strncmp(p->data + 1, f->site,
		    strlen(f->site)) == 0 && strcmp(p->data + 1 +
		    strlen(f->site), "\"") == 0);
	return 0;
}

static int
pin_names_pkg(const struct pin *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_pkgs; i++)
		if (fnmatch(p->pkgs[i], name, 0) == 0)
			return 1;
	return 0;
}

/* Pin of version ver of package name in file f. */
static int
version_prio(const struct scan *s, const char *name, const char *ver,
    const struct lfile *f)
{
	size_t i;

	for (i = 0; i < s->n_pins; i++) {
		const struct pin *p = &s->pins[i];

		if (p->pkgs == NULL || !pin_names_pkg(p, name))
			continue;
		if (p->type == PIN_VERSION ? fnmatch(p->data, ver, 0) == 0 :
		    pin_matches_file(s, p, f))
			return p->prio;
	}
	return f->prio;
}

static void
file_prio(struct scan *s, struct lfile *f)
{
	const struct rel *r = f->rel >= 0 ? &s->rels[f->rel] : NULL;
	size_t i;

	f->prio = 500;
	if (r != NULL && r->not_auto)
		f->prio = r->but_auto ? 100 : 1;
	for (i = 0; i < s->n_pins; i++)
		if (s->pins[i].pkgs == NULL &&
		    pin_matches_file(s, &s->pins[i], f)) {
			f->prio = s->pins[i].prio;
			return;
		}
}

/* ---- Packages indexes ---- */

static int
is_index(const char *name)
{
	static const char *const sfx[] = { "_Packages", "_Packages.gz",
		"_Packages.xz", "_Packages.bz2", "_Packages.lz4",
		"_Packages.zst", "_Packages.lzma", NULL };
	int i;

	for (i = 0; sfx[i] != NULL; i++)
		if (has_suffix(name, sfx[i]))
			return 1;
	return 0;
}

static int
fb_set(struct fieldbuf *b, const char *v, size_t n, const char *field,
    struct dh_err *err)
{
	if (n >= sizeof(b->v))
		return dh_err_set(err, DH_E_FORMAT,
		    "%s field longer than %zu bytes", field, sizeof(b->v) - 1);
	memcpy(b->v, v, n);
	b->v[n] = '\0';
	b->len = n;
	b->set = 1;
	return DH_OK;
}

static int
idx_field(void *ctx, const char *name, size_t nlen, const char *v,
    size_t vlen, unsigned long line, struct dh_err *err)
{
	struct scan *s = ctx;

	if (!s->f_pkg.set && !s->f_ver.set && !s->f_arch.set)
		s->start_line = line;
	switch (nlen) {
	case 7:
		if (strncasecmp(name, "Package", 7) == 0)
			return fb_set(&s->f_pkg, v, vlen, "Package", err);
		if (strncasecmp(name, "Version", 7) == 0)
			return fb_set(&s->f_ver, v, vlen, "Version", err);
		if (strncasecmp(name, "Section", 7) == 0)
			return fb_set(&s->f_sec, v, vlen, "Section", err);
		break;
	case 8:
		if (strncasecmp(name, "Priority", 8) == 0)
			return fb_set(&s->f_prio, v, vlen, "Priority", err);
		break;
	case 12:
		if (strncasecmp(name, "Architecture", 12) == 0)
			return fb_set(&s->f_arch, v, vlen, "Architecture",
			    err);
		break;
	default:
		break;
	}
	return DH_OK;
}

static void
ver_add_file(struct ver *v, const struct scan *s, size_t file)
{
	size_t i;
	int sec;

	for (i = 0; i < v->n_files; i++)
		if (v->files[i] == file)
			return;
	if (v->n_files < VER_FILES)
		v->files[v->n_files++] = (unsigned int)file;
	sec = s->files[file].rel >= 0 && s->rels[s->files[file].rel].security;
	if (sec && !v->security)
		v->repo_file = file;
	v->security |= sec;
}

static struct ver *
ver_new(const struct scan *s)
{
	size_t lv = s->f_ver.len + 1, la = s->f_arch.len + 1;
	size_t ls = s->f_sec.set ? s->f_sec.len + 1 : 0;
	size_t lp = s->f_prio.set ? s->f_prio.len + 1 : 0;
	struct ver *v = calloc(1, sizeof(*v) + lv + la + ls + lp);
	char *q;

	if (v == NULL)
		return NULL;
	q = v->s;
	v->version = q;
	memcpy(q, s->f_ver.v, lv);
	q += lv;
	v->arch = q;
	memcpy(q, s->f_arch.v, la);
	q += la;
	if (ls > 0) {
		v->section = q;
		memcpy(q, s->f_sec.v, ls);
		q += ls;
	}
	if (lp > 0) {
		v->priority = q;
		memcpy(q, s->f_prio.v, lp);
	}
	return v;
}

static void
stanza_reset(struct scan *s)
{
	s->f_pkg.set = s->f_ver.set = s->f_arch.set = 0;
	s->f_sec.set = s->f_prio.set = 0;
}

static int
idx_end(void *ctx, unsigned long line, struct dh_err *err)
{
	struct scan *s = ctx;
	const struct lfile *f = &s->files[s->cur];
	struct pt_debver dv;
	struct pstate *ps;
	struct ver *v;
	const char *inst;
	long idx;
	int c, prio, rc = DH_OK;

	s->n_stanzas++;
	if (!s->f_pkg.set || s->f_pkg.len == 0) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "stanza at line %lu has no Package field", s->start_line);
		goto out;
	}
	if (!s->f_ver.set || !s->f_arch.set) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "package '%s' (line %lu) lacks %s", s->f_pkg.v,
		    s->start_line, s->f_ver.set ? "Architecture" : "Version");
		goto out;
	}
	idx = pt_dpkg_find(s->db, s->f_pkg.v, s->f_pkg.len, s->f_arch.v,
	    s->f_arch.len);
	if (idx < 0)
		goto out;
	ps = &s->st[idx];
	inst = s->db->pkgs[idx].version;
	if (pt_debver_parse(s->f_ver.v, s->f_ver.len, &dv, NULL, err) !=
	    DH_OK) {
		rc = dh_err_wrap(err, DH_E_FORMAT,
		    "package '%s' (line %lu): Version '%s'", s->f_pkg.v,
		    s->start_line, s->f_ver.v);
		goto out;
	}
	c = pt_debver_cmp(s->f_ver.v, s->f_ver.len, inst, strlen(inst));
	if (c < 0)
		goto out;
	prio = version_prio(s, s->f_pkg.v, s->f_ver.v, f);
	if (c == 0) {
		if (prio > ps->inst_prio)
			ps->inst_prio = prio;
		if (f->rel >= 0 && s->rels[f->rel].security)
			ps->inst_security = 1;
		goto out;
	}
	for (v = ps->vers; v != NULL; v = v->next)
		if (pt_debver_cmp(v->version, strlen(v->version), s->f_ver.v,
		    s->f_ver.len) == 0)
			break;
	if (v == NULL) {
		v = ver_new(s);
		if (v == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		v->prio = prio;
		v->repo_file = s->cur;
		v->next = ps->vers;
		ps->vers = v;
	} else if (prio > v->prio) {
		v->prio = prio;
	}
	ver_add_file(v, s, s->cur);
out:
	stanza_reset(s);
	return rc;
}

static int
read_index(struct scan *s, const char *path, struct dh_err *err)
{
	static const struct pt_deb822_cb cb = { idx_field, idx_end };
	struct archive_entry *ent;
	struct pt_deb822 p;
	struct archive *a;
	const void *buf;
	size_t size;
	la_int64_t off;
	int r, rc = DH_OK;

	pt_deb822_init(&p, INDEX_FIELD_MAX, &cb, s);
	stanza_reset(s);
	a = archive_read_new();
	if (a == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	r = archive_read_open_filename(a, path, READ_BLOCK);
	if (r != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_IO, "%s: %s", path,
		    archive_error_string(a) ? archive_error_string(a) :
		    "cannot open");
		goto out_a;
	}
	r = archive_read_next_header(a, &ent);
	if (r == ARCHIVE_EOF)
		goto finish;
	if (r != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", path,
		    archive_error_string(a) ? archive_error_string(a) :
		    "unreadable");
		goto out_a;
	}
	for (;;) {
		r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", path,
			    archive_error_string(a) ?
			    archive_error_string(a) : "read error");
			goto out_a;
		}
		rc = pt_deb822_feed(&p, buf, size, err);
		if (rc != DH_OK) {
			dh_err_wrap(err, rc, "%s", path);
			goto out_a;
		}
	}
finish:
	rc = pt_deb822_finish(&p, err);
	if (rc != DH_OK)
		dh_err_wrap(err, rc, "%s", path);
out_a:
	archive_read_free(a);
out:
	pt_deb822_free(&p);
	return rc;
}

/* ---- setup and result ---- */

static int
add_name(char ***v, size_t *n, const char *name, struct dh_err *err)
{
	char **nv;

	if (*n >= MAX_LISTS)
		return dh_err_set(err, DH_E_TOOBIG, "too many files in lists/");
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	*v = nv;
	nv[*n] = strdup(name);
	if (nv[*n] == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	(*n)++;
	return DH_OK;
}

/* Longest release prefix of name; InRelease preferred on ties. */
static long
match_release(const struct scan *s, const char *name)
{
	long best = -1;
	size_t best_len = 0, i;

	for (i = 0; i < s->n_rels; i++) {
		size_t l = strlen(s->rels[i].prefix);

		if (strncmp(name, s->rels[i].prefix, l) != 0)
			continue;
		if (best < 0 || l > best_len || (l == best_len &&
		    s->rels[i].inrelease && !s->rels[best].inrelease)) {
			best = (long)i;
			best_len = l;
		}
	}
	return best;
}

static int
setup_file(struct scan *s, struct lfile *f, const char *name,
    struct dh_err *err)
{
	const char *rest, *bin, *us;
	size_t plen;
	char *q;

	f->name = strdup(name);
	f->rel = match_release(s, name);
	plen = f->rel >= 0 ? strlen(s->rels[f->rel].prefix) : 0;
	rest = name + plen;
	bin = strstr(rest, "_binary-");
	f->component = strndup(rest, bin != NULL ? (size_t)(bin - rest) : 0);
	us = strchr(name, '_');
	f->site = strndup(name, us != NULL ? (size_t)(us - name) : 0);
	if (f->name == NULL || f->component == NULL || f->site == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	for (q = f->component; *q != '\0'; q++)
		if (*q == '_')
			*q = '/';
	file_prio(s, f);
	return DH_OK;
}

/* Same index stored twice (plain and compressed): keep the first. */
static int
duplicate_index(char **names, size_t i)
{
	size_t base = strstr(names[i], "_Packages") - names[i] + 9, j;

	for (j = 0; j < i; j++)
		if (strncmp(names[j], names[i], base) == 0 &&
		    (names[j][base] == '\0' || names[j][base] == '.'))
			return 1;
	return 0;
}

static char *
join_archives(const struct scan *s, const struct ver *v)
{
	char buf[1024];
	size_t i, j, len = 0;

	buf[0] = '\0';
	for (i = 0; i < v->n_files; i++) {
		const struct lfile *f = &s->files[v->files[i]];
		const char *suite = f->rel >= 0 && s->rels[f->rel].suite ?
		    s->rels[f->rel].suite : "now";
		int dup = 0;

		for (j = 0; j < i; j++) {
			const struct lfile *g = &s->files[v->files[j]];

			if (g->rel >= 0 && f->rel >= 0 &&
			    s->rels[g->rel].suite != NULL &&
			    strcmp(s->rels[g->rel].suite, suite) == 0)
				dup = 1;
		}
		if (dup)
			continue;
		if (len + strlen(suite) + 2 >= sizeof(buf))
			break;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		    len ? "," : "", suite);
	}
	return strdup(buf);
}

static int
choose(struct scan *s, size_t i, struct pt_apt_cand *c, struct dh_err *err)
{
	const struct pstate *ps = &s->st[i];
	const struct ver *v, *best = NULL;
	const struct lfile *f;
	const struct rel *r;
	char repo[512];

	for (v = ps->vers; v != NULL; v = v->next) {
		if (v->prio <= 0)
			continue;
		if (best == NULL || v->prio > best->prio ||
		    (v->prio == best->prio && pt_debver_cmp(v->version,
		    strlen(v->version), best->version,
		    strlen(best->version)) > 0))
			best = v;
	}
	if (best == NULL || best->prio < ps->inst_prio)
		return DH_OK;
	f = &s->files[best->repo_file];
	r = f->rel >= 0 ? &s->rels[f->rel] : NULL;
	(void)mkpath(repo, sizeof(repo), NULL, "%s:%s/%s",
	    r && r->origin ? r->origin : f->site,
	    r && r->codename ? r->codename : (r && r->suite ? r->suite : ""),
	    f->component);
	c->version = strdup(best->version);
	c->arch = strdup(best->arch);
	c->section = best->section ? strdup(best->section) : NULL;
	c->priority = best->priority ? strdup(best->priority) : NULL;
	c->repository = strdup(repo);
	c->archives = join_archives(s, best);
	c->security = best->security;
	c->pin = best->prio;
	if (c->version == NULL || c->arch == NULL || c->repository == NULL ||
	    c->archives == NULL || (best->section && !c->section) ||
	    (best->priority && !c->priority))
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	return DH_OK;
}

static void
cand_free(struct pt_apt_cand *c)
{
	free(c->version);
	free(c->arch);
	free(c->section);
	free(c->priority);
	free(c->repository);
	free(c->archives);
}

void
pt_apt_free(struct pt_apt *out)
{
	size_t i;

	for (i = 0; out->cands != NULL && i < out->n; i++)
		cand_free(&out->cands[i]);
	free(out->cands);
	memset(out, 0, sizeof(*out));
}

int
pt_apt_scan(const char *root, const struct pt_dpkg *db, struct pt_apt *out,
    pt_apt_progress_fn progress, void *progress_ctx, struct dh_err *err)
{
	char dir[PATH_LEN], path[PATH_LEN];
	char **rnames = NULL, **inames = NULL;
	size_t n_r = 0, n_i = 0, i;
	struct dirent *de;
	struct scan s;
	DIR *d = NULL;
	int rc = DH_OK;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (root == NULL || strcmp(root, "/") == 0)
		root = "";
	s.db = db;
	s.st = calloc(db->n ? db->n : 1, sizeof(*s.st));
	out->cands = calloc(db->n ? db->n : 1, sizeof(*out->cands));
	if (s.st == NULL || out->cands == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	out->n = db->n;
	for (i = 0; i < db->n; i++)
		s.st[i].inst_prio = 100;
	rc = read_prefs(&s, root, err);
	if (rc != DH_OK)
		goto out;
	rc = mkpath(dir, sizeof(dir), err, "%s/var/lib/apt/lists", root);
	if (rc != DH_OK)
		goto out;
	d = opendir(dir);
	if (d == NULL)
		goto out; /* no lists: nothing is upgradable */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (has_suffix(de->d_name, "_InRelease") ||
		    has_suffix(de->d_name, "_Release"))
			rc = add_name(&rnames, &n_r, de->d_name, err);
		else if (is_index(de->d_name))
			rc = add_name(&inames, &n_i, de->d_name, err);
		if (rc != DH_OK)
			goto out;
	}
	if (n_r > 0)
		qsort(rnames, n_r, sizeof(*rnames), cmp_str);
	if (n_i > 0)
		qsort(inames, n_i, sizeof(*inames), cmp_str);
	s.rels = calloc(n_r ? n_r : 1, sizeof(*s.rels));
	s.files = calloc(n_i ? n_i : 1, sizeof(*s.files));
	if (s.rels == NULL || s.files == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n_r; i++) {
		rc = read_release(dir, rnames[i], &s.rels[s.n_rels++], err);
		if (rc != DH_OK)
			goto out;
	}
	out->n_releases = n_r;
	for (i = 0; i < n_i; i++) {
		if (duplicate_index(inames, i))
			continue;
		rc = setup_file(&s, &s.files[s.n_files++], inames[i], err);
		if (rc != DH_OK)
			goto out;
	}
	for (i = 0; i < s.n_files; i++) {
		if (progress != NULL)
			progress(progress_ctx, s.files[i].name, i, s.n_files);
		s.cur = i;
		rc = mkpath(path, sizeof(path), err, "%s/%s", dir,
		    s.files[i].name);
		if (rc == DH_OK)
			rc = read_index(&s, path, err);
		if (rc != DH_OK)
			goto out;
	}
	if (progress != NULL && s.n_files > 0)
		progress(progress_ctx, NULL, s.n_files, s.n_files);
	out->n_lists = s.n_files;
	out->n_stanzas = s.n_stanzas;
	for (i = 0; i < db->n; i++) {
		out->cands[i].installed_security = s.st[i].inst_security;
		rc = choose(&s, i, &out->cands[i], err);
		if (rc != DH_OK)
			goto out;
	}
out:
	if (d != NULL)
		closedir(d);
	for (i = 0; i < db->n && s.st != NULL; i++) {
		struct ver *v = s.st[i].vers, *nx;

		for (; v != NULL; v = nx) {
			nx = v->next;
			free(v);
		}
	}
	free(s.st);
	for (i = 0; i < s.n_rels; i++)
		rel_free(&s.rels[i]);
	free(s.rels);
	for (i = 0; i < s.n_files; i++) {
		free(s.files[i].name);
		free(s.files[i].component);
		free(s.files[i].site);
	}
	free(s.files);
	for (i = 0; i < s.n_pins; i++)
		pin_free(&s.pins[i]);
	free(s.pins);
	for (i = 0; i < n_r; i++)
		free(rnames[i]);
	free(rnames);
	for (i = 0; i < n_i; i++)
		free(inames[i]);
	free(inames);
	if (rc != DH_OK)
		pt_apt_free(out);
	return rc;
}
