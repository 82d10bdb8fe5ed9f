/*
 * pt_rpm: the RPM-family scanner (see pt_rpm.h).  Four parts:
 *   - installed set: `rpm --root R --dbpath D -qa --queryformat ...` spawned
 *     with fork/execve (no shell, minimal environment, deadline), its stdout
 *     split by a bounded line parser, duplicate name+arch entries (installonly
 *     kernels) reduced to the highest EVR;
 *   - repository metadata: repomd.xml / primary.xml / updateinfo.xml from the
 *     dnf, libdnf5, yum and zypp caches under the root, decompressed with
 *     libarchive (raw format, any filter) and fed block by block to expat.
 *     Expat runs on a counting allocator with a heap ceiling, DOCTYPE and
 *     entity declarations abort the parse, and every kept value is bounded.
 *     yum caches with only primary_db are read through SQLite;
 *   - a metadata set (struct pt_rpm_md) holding, for the installed names
 *     only, the available EVRs above the lowest installed one and the
 *     advisories that list them;
 *   - resolution: candidate = highest EVR newer than installed among
 *     compatible arches, advisory inheritance, release date.
 */
#define _GNU_SOURCE 1
#include "pt_rpm.h"

#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_time.h"
#include "pt_rpmver.h"

#define XML_HEAP_MAX ((size_t)64 << 20)         /* expat heap per document */
#define XML_FILE_MAX ((uint64_t)4 << 30)        /* decompressed bytes per file */
#define XML_CHUNK 65536
#define MAX_CVES_PER_ADV 10000
#define MAX_BUGS_PER_ADV 10000
#define MAX_ADVISORIES 2000000
#define MAX_REPOS 4096
#define WALK_DEPTH 4
#define RPM_DEADLINE_MS 300000
#define RPM_STDERR_MAX 1024
#define OSREL_MAX 65536

/* ---------------------------------------------------------------------- */
/* Metadata set                                                            */

struct md_avail {
	size_t name;       /* index into names */
	size_t repo;       /* index into repos */
	char *arch, *e, *v, *r;
	int64_t buildtime;
};

struct md_adv {
	char *id, *type, *severity;
	int64_t issued, updated;
	char **cves;
	size_t n_cves;
	char **bugs;       /* Bugzilla reference ids */
	size_t n_bugs;
	int reboot;
};

struct md_advpkg {
	size_t name;
	size_t adv;
	char *arch, *e, *v, *r;
	int reboot;
};

struct pt_rpm_md {
	char **names;
	size_t n_names, cap_names;
	size_t *slots; /* open addressing: name index + 1, 0 = empty */
	size_t n_slots;
	int filtered;  /* only names already present are kept */
	char **floor;  /* filtered: lowest installed EVR per name index */

	char **repos;
	size_t n_repos;

	struct md_avail *avail;
	size_t n_avail, cap_avail;
	struct md_adv *adv;
	size_t n_adv, cap_adv;
	struct md_advpkg *advp;
	size_t n_advp, cap_advp;
};

static uint64_t
hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
grow(void **p, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return DH_OK;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > SIZE_MAX / elem)
		return DH_E_NOMEM;
	q = realloc(*p, ncap * elem);
	if (q == NULL)
		return DH_E_NOMEM;
	*p = q;
	*cap = ncap;
	return DH_OK;
}

static int
md_rehash(struct pt_rpm_md *md, size_t nslots)
{
	size_t *slots, i, k;

	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < md->n_names; i++) {
		k = (size_t)hash_name(md->names[i], strlen(md->names[i])) &
		    (nslots - 1);
		while (slots[k] != 0)
			k = (k + 1) & (nslots - 1);
		slots[k] = i + 1;
	}
	free(md->slots);
	md->slots = slots;
	md->n_slots = nslots;
	return DH_OK;
}

/* Find name (n bytes) in md; insert it when insert is set and md is not
 * filtered.  *idx = SIZE_MAX when absent and not inserted. */
static int
md_name(struct pt_rpm_md *md, const char *s, size_t n, int insert, size_t *idx)
{
	size_t k, j;
	char *copy;
	int rc;

	*idx = SIZE_MAX;
	if (md->n_slots != 0) {
		k = (size_t)hash_name(s, n) & (md->n_slots - 1);
		while (md->slots[k] != 0) {
			j = md->slots[k] - 1;
			if (strncmp(md->names[j], s, n) == 0 &&
			    md->names[j][n] == '\0') {
				*idx = j;
				return DH_OK;
			}
			k = (k + 1) & (md->n_slots - 1);
		}
	}
	if (!insert)
		return DH_OK;
	if ((md->n_names + 1) * 2 > md->n_slots) {
		rc = md_rehash(md, md->n_slots == 0 ? 64 : md->n_slots * 2);
		if (rc != DH_OK)
			return rc;
	}
	rc = grow((void **)&md->names, &md->cap_names, md->n_names,
	    sizeof(*md->names));
	if (rc != DH_OK)
		return rc;
	copy = strndup(s, n);
	if (copy == NULL)
		return DH_E_NOMEM;
	md->names[md->n_names] = copy;
	k = (size_t)hash_name(s, n) & (md->n_slots - 1);
	while (md->slots[k] != 0)
		k = (k + 1) & (md->n_slots - 1);
	md->slots[k] = md->n_names + 1;
	*idx = md->n_names++;
	return DH_OK;
}

static size_t
md_lookup(const struct pt_rpm_md *md, const char *s)
{
	size_t n = strlen(s), k, j;

	if (md->n_slots == 0)
		return SIZE_MAX;
	k = (size_t)hash_name(s, n) & (md->n_slots - 1);
	while (md->slots[k] != 0) {
		j = md->slots[k] - 1;
		if (strcmp(md->names[j], s) == 0)
			return j;
		k = (k + 1) & (md->n_slots - 1);
	}
	return SIZE_MAX;
}

struct pt_rpm_md *
pt_rpm_md_new(void)
{
	return calloc(1, sizeof(struct pt_rpm_md));
}

static void
adv_clear(struct md_adv *a)
{
	size_t i;

	free(a->id);
	free(a->type);
	free(a->severity);
	for (i = 0; i < a->n_cves; i++)
		free(a->cves[i]);
	free(a->cves);
	for (i = 0; i < a->n_bugs; i++)
		free(a->bugs[i]);
	free(a->bugs);
	memset(a, 0, sizeof(*a));
}

void
pt_rpm_md_free(struct pt_rpm_md *md)
{
	size_t i;

	if (md == NULL)
		return;
	for (i = 0; i < md->n_advp; i++) {
		free(md->advp[i].arch);
		free(md->advp[i].e);
		free(md->advp[i].v);
		free(md->advp[i].r);
	}
	free(md->advp);
	for (i = 0; i < md->n_adv; i++)
		adv_clear(&md->adv[i]);
	free(md->adv);
	for (i = 0; i < md->n_avail; i++) {
		free(md->avail[i].arch);
		free(md->avail[i].e);
		free(md->avail[i].v);
		free(md->avail[i].r);
	}
	free(md->avail);
	for (i = 0; i < md->n_repos; i++)
		free(md->repos[i]);
	free(md->repos);
	for (i = 0; i < md->n_names; i++) {
		free(md->names[i]);
		if (md->floor != NULL)
			free(md->floor[i]);
	}
	free(md->floor);
	free(md->names);
	free(md->slots);
	free(md);
}

size_t
pt_rpm_md_n_pkgs(const struct pt_rpm_md *md)
{
	return md->n_avail;
}

size_t
pt_rpm_md_n_advisories(const struct pt_rpm_md *md)
{
	return md->n_adv;
}

int
pt_rpm_md_keep_only(struct pt_rpm_md *md, const struct pt_inventory *inv,
    struct dh_err *err)
{
	size_t i, idx;
	char **fl;
	int rc;

	for (i = 0; i < inv->n_pkgs; i++) {
		if (inv->pkgs[i].name == NULL)
			continue;
		rc = md_name(md, inv->pkgs[i].name, strlen(inv->pkgs[i].name), 1,
		    &idx);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "rpm metadata: out of memory");
	}
	fl = calloc(md->n_names > 0 ? md->n_names : 1, sizeof(*fl));
	if (fl == NULL)
		return dh_err_set(err, DH_E_NOMEM, "rpm metadata: out of memory");
	for (i = 0; i < inv->n_pkgs; i++) {
		if (inv->pkgs[i].name == NULL || inv->pkgs[i].version == NULL)
			continue;
		idx = md_lookup(md, inv->pkgs[i].name);
		if (fl[idx] != NULL &&
		    pt_rpmver_evr_cmp(inv->pkgs[i].version, fl[idx]) >= 0)
			continue;
		free(fl[idx]);
		fl[idx] = strdup(inv->pkgs[i].version);
		if (fl[idx] == NULL) {
			for (i = 0; i < md->n_names; i++)
				free(fl[i]);
			free(fl);
			return dh_err_set(err, DH_E_NOMEM,
			    "rpm metadata: out of memory");
		}
	}
	md->floor = fl;
	md->filtered = 1;
	return DH_OK;
}

/* Filtered sets drop versions no installed package of the name could
 * update to: at or below the lowest installed EVR (strictly below when
 * keep_equal, for advisory entries that may name an installed version). */
static int
below_floor(const struct pt_rpm_md *md, size_t idx, const char *e,
    const char *v, const char *r, int keep_equal)
{
	struct pt_rpmver_evr a, f;

	if (md->floor == NULL || md->floor[idx] == NULL)
		return 0;
	a.e = e;
	a.elen = e != NULL ? strlen(e) : 0;
	a.v = v != NULL ? v : "";
	a.vlen = strlen(a.v);
	a.r = r;
	a.rlen = r != NULL ? strlen(r) : 0;
	pt_rpmver_parse(md->floor[idx], &f);
	return pt_rpmver_evr_cmp_parsed(&a, &f) < (keep_equal ? 0 : 1);
}

static int
md_repo(struct pt_rpm_md *md, const char *repo_id, size_t *idx)
{
	size_t i;
	char **q;

	for (i = 0; i < md->n_repos; i++) {
		if (strcmp(md->repos[i], repo_id) == 0) {
			*idx = i;
			return DH_OK;
		}
	}
	if (md->n_repos >= MAX_REPOS)
		return DH_E_TOOBIG;
	q = realloc(md->repos, (md->n_repos + 1) * sizeof(*q));
	if (q == NULL)
		return DH_E_NOMEM;
	md->repos = q;
	q[md->n_repos] = strdup(repo_id);
	if (q[md->n_repos] == NULL)
		return DH_E_NOMEM;
	*idx = md->n_repos++;
	return DH_OK;
}

/* ---------------------------------------------------------------------- */
/* Expat on a counting allocator                                           */

struct xml_heap {
	size_t used, max;
	int exhausted;
};

static _Thread_local struct xml_heap *cur_heap;

#define HDR 16

static void *
xh_malloc(size_t n)
{
	struct xml_heap *h = cur_heap;
	unsigned char *p;

	if (n > SIZE_MAX - HDR)
		return NULL;
	if (h != NULL && (n > h->max || h->used > h->max - n)) {
		h->exhausted = 1;
		return NULL;
	}
	p = malloc(n + HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	if (h != NULL)
		h->used += n;
	return p + HDR;
}

static void
xh_free(void *ptr)
{
	unsigned char *p;
	size_t n;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - HDR;
	memcpy(&n, p, sizeof(n));
	if (cur_heap != NULL)
		cur_heap->used -= n;
	free(p);
}

static void *
xh_realloc(void *ptr, size_t n)
{
	struct xml_heap *h = cur_heap;
	unsigned char *p, *q;
	size_t old;

	if (ptr == NULL)
		return xh_malloc(n);
	if (n > SIZE_MAX - HDR)
		return NULL;
	p = (unsigned char *)ptr - HDR;
	memcpy(&old, p, sizeof(old));
	if (h != NULL && n > old && (n - old > h->max ||
	    h->used > h->max - (n - old))) {
		h->exhausted = 1;
		return NULL;
	}
	q = realloc(p, n + HDR);
	if (q == NULL)
		return NULL;
	memcpy(q, &n, sizeof(n));
	if (h != NULL)
		h->used = h->used - old + n;
	return q + HDR;
}

static const XML_Memory_Handling_Suite xml_mem = {
	xh_malloc, xh_realloc, xh_free
};

enum doc_kind { DOC_PRIMARY, DOC_UPDATEINFO, DOC_REPOMD };

static const char *const doc_names[] = {
	"primary.xml", "updateinfo.xml", "repomd.xml"
};

struct xctx {
	XML_Parser xp;
	struct xml_heap heap;
	struct xml_heap *saved_heap;
	enum doc_kind kind;
	const char *label;   /* file name for messages */
	struct pt_rpm_md *md;
	size_t repo;
	int rc;
	struct dh_err *err;
	int depth;
	int root_seen;

	/* text collection for the current element */
	int collecting;
	struct dh_buf text;

	/* primary: current package */
	int pkg_depth;
	char *p_name, *p_arch, *p_e, *p_v, *p_r;
	int64_t p_build;

	/* updateinfo: current update */
	int upd_depth;
	size_t upd_adv;       /* index of the advisory being filled */
	size_t upd_first_advp;
	int upd_pkg_depth;    /* depth of the current pkglist package */
	size_t upd_pkg_advp;  /* its advp index, SIZE_MAX when filtered out */

	/* repomd */
	int data_depth;
	int data_type;        /* 1 primary, 2 updateinfo, 3 primary_db */
	char *primary_href, *updateinfo_href, *primary_db_href;
};

static int xfail(struct xctx *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
xfail(struct xctx *x, int rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (x->rc != DH_OK)
		return x->rc;
	x->rc = rc;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	dh_err_set(x->err, rc, "%s: line %lu: %s", x->label,
	    (unsigned long)XML_GetCurrentLineNumber(x->xp), msg);
	XML_StopParser(x->xp, XML_FALSE);
	return rc;
}

/* Local part of an expat namespace-expanded name ("uri|local"). */
static const char *
local_name(const char *n)
{
	const char *p = strrchr(n, '|');

	return p != NULL ? p + 1 : n;
}

static const char *
attr(const char **atts, const char *key)
{
	size_t i;

	for (i = 0; atts[i] != NULL; i += 2) {
		if (strcmp(local_name(atts[i]), key) == 0)
			return atts[i + 1];
	}
	return NULL;
}

/* Copy a kept attribute, bounded; *out stays NULL when absent. */
static int
keep_attr(struct xctx *x, const char **atts, const char *key, char **out)
{
	const char *v = attr(atts, key);

	free(*out);
	*out = NULL;
	if (v == NULL)
		return DH_OK;
	if (strlen(v) > PT_RPM_MAX_ATTR)
		return xfail(x, DH_E_TOOBIG, "attribute %s too long", key);
	*out = strdup(v);
	if (*out == NULL)
		return xfail(x, DH_E_NOMEM, "%s", "out of memory");
	return DH_OK;
}

static void
start_text(struct xctx *x)
{
	dh_buf_reset(&x->text);
	x->collecting = 1;
}

/* Take the collected text (trimmed) as a new string. */
static int
take_text(struct xctx *x, char **out)
{
	const char *s = dh_buf_cstr(&x->text);
	size_t n = x->text.len;

	x->collecting = 0;
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	free(*out);
	*out = strndup(s, n);
	if (*out == NULL)
		return xfail(x, DH_E_NOMEM, "%s", "out of memory");
	return DH_OK;
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xctx *x = ud;

	if (!x->collecting || x->rc != DH_OK || len <= 0)
		return;
	if (dh_buf_put(&x->text, s, (size_t)len) != DH_OK)
		xfail(x, DH_E_TOOBIG, "element text longer than %s bytes",
		    "4096");
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	xfail(ud, DH_E_FORMAT, "%s", "DOCTYPE declarations are refused");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	xfail(ud, DH_E_FORMAT, "%s", "entity declarations are refused");
}

/* ---------------------------------------------------------------------- */
/* Dates, booleans, classification                                         */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Read exactly n digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		r = r * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = r;
	return 0;
}

int64_t
pt_rpm_parse_date(const char *s)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0;
	int64_t v = 0;
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (s[i] == '\0') {
		if (i > 12)
			return 0;
		for (i = 0; s[i] != '\0'; i++)
			v = v * 10 + (s[i] - '0');
		return v;
	}
	if (digits(&p, 4, &y) != 0 || *p++ != '-' || digits(&p, 2, &mo) != 0 ||
	    *p++ != '-' || digits(&p, 2, &d) != 0)
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return 0;
	if (*p == ' ' || *p == 'T') {
		p++;
		if (digits(&p, 2, &h) != 0 || *p++ != ':' ||
		    digits(&p, 2, &mi) != 0)
			return 0;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &se) != 0)
				return 0;
		}
		if (h > 23 || mi > 59 || se > 60)
			return 0;
	}
	return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + se;
}

static int
is_true(const char *s)
{
	return s != NULL && (strcasecmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0);
}

/* ---------------------------------------------------------------------- */
/* primary.xml                                                             */

static void
prim_reset(struct xctx *x)
{
	free(x->p_name);
	free(x->p_arch);
	free(x->p_e);
	free(x->p_v);
	free(x->p_r);
	x->p_name = x->p_arch = x->p_e = x->p_v = x->p_r = NULL;
	x->p_build = 0;
}

static int
valid_arch(const char *a)
{
	return a != NULL && *a != '\0' && strcmp(a, "src") != 0 &&
	    strcmp(a, "nosrc") != 0;
}

/* Keep one available package (when its name is wanted).  Takes the
 * arch/e/v/r strings on success (*arch etc. set to NULL). */
static int
md_add_avail(struct pt_rpm_md *md, size_t repo, const char *name,
    char **arch, char **e, char **v, char **r, int64_t build)
{
	struct md_avail *a;
	size_t idx;
	int rc;

	if (name == NULL || *name == '\0' || !valid_arch(*arch) || *v == NULL ||
	    **v == '\0')
		return DH_OK;
	rc = md_name(md, name, strlen(name), !md->filtered, &idx);
	if (rc != DH_OK || idx == SIZE_MAX)
		return rc;
	if (below_floor(md, idx, *e, *v, *r, 0))
		return DH_OK;
	if (md->n_avail >= PT_RPM_MAX_PKGS)
		return DH_E_TOOBIG;
	rc = grow((void **)&md->avail, &md->cap_avail, md->n_avail,
	    sizeof(*md->avail));
	if (rc != DH_OK)
		return rc;
	a = &md->avail[md->n_avail++];
	a->name = idx;
	a->repo = repo;
	a->arch = *arch;
	a->e = *e;
	a->v = *v;
	a->r = *r;
	a->buildtime = build;
	*arch = *e = *v = *r = NULL;
	return DH_OK;
}

static void
prim_commit(struct xctx *x)
{
	int rc;

	rc = md_add_avail(x->md, x->repo, x->p_name, &x->p_arch, &x->p_e,
	    &x->p_v, &x->p_r, x->p_build);
	if (rc == DH_E_TOOBIG)
		xfail(x, rc, "more than %d packages", PT_RPM_MAX_PKGS);
	else if (rc != DH_OK)
		xfail(x, rc, "%s", "out of memory");
}

static void
prim_start(struct xctx *x, const char *el, const char **atts)
{
	const char *s;

	if (x->pkg_depth == 0) {
		if (x->depth == 1 && strcmp(el, "metadata") != 0)
			xfail(x, DH_E_FORMAT, "root element <%s> is not <metadata>",
			    el);
		else if (x->depth == 2 && strcmp(el, "package") == 0) {
			prim_reset(x);
			x->pkg_depth = x->depth;
		}
		return;
	}
	if (x->depth != x->pkg_depth + 1)
		return;
	if (strcmp(el, "name") == 0 || strcmp(el, "arch") == 0) {
		start_text(x);
	} else if (strcmp(el, "version") == 0) {
		if (keep_attr(x, atts, "epoch", &x->p_e) != DH_OK ||
		    keep_attr(x, atts, "ver", &x->p_v) != DH_OK ||
		    keep_attr(x, atts, "rel", &x->p_r) != DH_OK)
			return;
	} else if (strcmp(el, "time") == 0) {
		s = attr(atts, "build");
		if (s != NULL && strlen(s) <= 20)
			x->p_build = pt_rpm_parse_date(s);
	}
}

static void
prim_end(struct xctx *x, const char *el)
{
	if (x->pkg_depth == 0)
		return;
	if (x->depth == x->pkg_depth) {
		prim_commit(x);
		prim_reset(x);
		x->pkg_depth = 0;
		return;
	}
	if (x->depth != x->pkg_depth + 1 || !x->collecting)
		return;
	if (strcmp(el, "name") == 0)
		take_text(x, &x->p_name);
	else if (strcmp(el, "arch") == 0)
		take_text(x, &x->p_arch);
}

/* ---------------------------------------------------------------------- */
/* updateinfo.xml                                                          */

/* Append a reference's id attribute (bounded by PT_RPM_MAX_ATTR) to
 * *v (*n entries, at most max). */
static void
add_reference(struct xctx *x, const char **atts, char ***v, size_t *n,
    size_t max, const char *what)
{
	char *tmp = NULL;
	char **nv;

	if (keep_attr(x, atts, "id", &tmp) != DH_OK || tmp == NULL)
		return;
	if (*n >= max) {
		free(tmp);
		xfail(x, DH_E_TOOBIG, "more than %zu %s references", max, what);
		return;
	}
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(tmp);
		xfail(x, DH_E_NOMEM, "%s", "out of memory");
		return;
	}
	*v = nv;
	nv[(*n)++] = tmp;
}

static void
upd_start(struct xctx *x, const char *el, const char **atts)
{
	struct pt_rpm_md *md = x->md;
	struct md_adv *a;
	struct md_advpkg *ap;
	const char *s;
	size_t idx;
	int rel, rc;

	if (x->upd_depth == 0) {
		if (x->depth == 1 && strcmp(el, "updates") != 0)
			xfail(x, DH_E_FORMAT, "root element <%s> is not <updates>",
			    el);
		if (x->depth != 2 || strcmp(el, "update") != 0)
			return;
		if (md->n_adv >= MAX_ADVISORIES) {
			xfail(x, DH_E_TOOBIG, "more than %s advisories", "2000000");
			return;
		}
		if (grow((void **)&md->adv, &md->cap_adv, md->n_adv,
		    sizeof(*md->adv)) != DH_OK) {
			xfail(x, DH_E_NOMEM, "%s", "out of memory");
			return;
		}
		a = &md->adv[md->n_adv];
		memset(a, 0, sizeof(*a));
		md->n_adv++;
		x->upd_adv = md->n_adv - 1;
		x->upd_first_advp = md->n_advp;
		x->upd_depth = x->depth;
		x->upd_pkg_depth = 0;
		keep_attr(x, atts, "type", &a->type);
		return;
	}
	a = &md->adv[x->upd_adv];
	rel = x->depth - x->upd_depth;
	if (rel == 1) {
		if (strcmp(el, "id") == 0 || strcmp(el, "severity") == 0 ||
		    strcmp(el, "reboot_suggested") == 0) {
			start_text(x);
		} else if (strcmp(el, "issued") == 0 ||
		    strcmp(el, "updated") == 0) {
			s = attr(atts, "date");
			if (s == NULL || strlen(s) > 64)
				return;
			if (el[0] == 'i')
				a->issued = pt_rpm_parse_date(s);
			else
				a->updated = pt_rpm_parse_date(s);
		}
	} else if (rel == 2 && strcmp(el, "reference") == 0) {
		s = attr(atts, "type");
		if (s != NULL && strcmp(s, "cve") == 0)
			add_reference(x, atts, &a->cves, &a->n_cves,
			    MAX_CVES_PER_ADV, "CVE");
		else if (s != NULL && strcmp(s, "bugzilla") == 0)
			add_reference(x, atts, &a->bugs, &a->n_bugs,
			    MAX_BUGS_PER_ADV, "Bugzilla");
	} else if (rel == 3 && strcmp(el, "package") == 0) {
		x->upd_pkg_depth = x->depth;
		x->upd_pkg_advp = SIZE_MAX;
		s = attr(atts, "name");
		if (s == NULL || *s == '\0' || !valid_arch(attr(atts, "arch")) ||
		    attr(atts, "version") == NULL)
			return;
		if (strlen(s) > PT_RPM_MAX_ATTR) {
			xfail(x, DH_E_TOOBIG, "attribute %s too long", "name");
			return;
		}
		rc = md_name(md, s, strlen(s), !md->filtered, &idx);
		if (rc != DH_OK) {
			xfail(x, rc, "%s", "out of memory");
			return;
		}
		if (idx == SIZE_MAX || below_floor(md, idx, attr(atts, "epoch"),
		    attr(atts, "version"), attr(atts, "release"), 1))
			return;
		if (md->n_advp >= PT_RPM_MAX_PKGS) {
			xfail(x, DH_E_TOOBIG, "more than %s advisory packages",
			    "2000000");
			return;
		}
		if (grow((void **)&md->advp, &md->cap_advp, md->n_advp,
		    sizeof(*md->advp)) != DH_OK) {
			xfail(x, DH_E_NOMEM, "%s", "out of memory");
			return;
		}
		ap = &md->advp[md->n_advp];
		memset(ap, 0, sizeof(*ap));
		md->n_advp++;
		ap->name = idx;
		ap->adv = x->upd_adv;
		x->upd_pkg_advp = md->n_advp - 1;
		if (keep_attr(x, atts, "arch", &ap->arch) != DH_OK ||
		    keep_attr(x, atts, "epoch", &ap->e) != DH_OK ||
		    keep_attr(x, atts, "version", &ap->v) != DH_OK ||
		    keep_attr(x, atts, "release", &ap->r) != DH_OK)
			return;
	} else if (rel == 4 && x->upd_pkg_depth != 0 &&
	    strcmp(el, "reboot_suggested") == 0) {
		start_text(x);
	}
}

static void
upd_end(struct xctx *x, const char *el)
{
	struct pt_rpm_md *md = x->md;
	struct md_adv *a;
	char *t = NULL;
	int rel;

	if (x->upd_depth == 0)
		return;
	a = &md->adv[x->upd_adv];
	rel = x->depth - x->upd_depth;
	if (rel == 0) {
		/* Drop advisories that list none of the names we keep. */
		if (md->n_advp == x->upd_first_advp) {
			adv_clear(a);
			md->n_adv--;
		}
		x->upd_depth = 0;
		return;
	}
	if (rel == 3 && x->depth == x->upd_pkg_depth) {
		x->upd_pkg_depth = 0;
		return;
	}
	if (!x->collecting)
		return;
	if (rel == 1 && strcmp(el, "id") == 0) {
		take_text(x, &a->id);
	} else if (rel == 1 && strcmp(el, "severity") == 0) {
		take_text(x, &a->severity);
	} else if (rel == 1 && strcmp(el, "reboot_suggested") == 0) {
		if (take_text(x, &t) == DH_OK && is_true(t))
			a->reboot = 1;
	} else if (rel == 4 && strcmp(el, "reboot_suggested") == 0) {
		if (take_text(x, &t) == DH_OK && is_true(t) &&
		    x->upd_pkg_advp != SIZE_MAX)
			md->advp[x->upd_pkg_advp].reboot = 1;
	}
	free(t);
}

/* ---------------------------------------------------------------------- */
/* repomd.xml                                                              */

static void
repomd_start(struct xctx *x, const char *el, const char **atts)
{
	const char *t;
	char **dst;

	if (x->depth == 1 && strcmp(el, "repomd") != 0) {
		xfail(x, DH_E_FORMAT, "root element <%s> is not <repomd>", el);
		return;
	}
	if (x->depth == 2 && strcmp(el, "data") == 0) {
		t = attr(atts, "type");
		x->data_depth = 2;
		x->data_type = 0;
		if (t != NULL && strcmp(t, "primary") == 0)
			x->data_type = 1;
		else if (t != NULL && strcmp(t, "updateinfo") == 0)
			x->data_type = 2;
		else if (t != NULL && strcmp(t, "primary_db") == 0)
			x->data_type = 3;
		return;
	}
	if (x->depth == 3 && x->data_depth == 2 && x->data_type != 0 &&
	    strcmp(el, "location") == 0) {
		dst = x->data_type == 1 ? &x->primary_href :
		    x->data_type == 2 ? &x->updateinfo_href : &x->primary_db_href;
		if (*dst == NULL)
			keep_attr(x, atts, "href", dst);
	}
}

/* ---------------------------------------------------------------------- */
/* Document driver                                                         */

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xctx *x = ud;
	const char *el = local_name(name);

	if (x->rc != DH_OK)
		return;
	x->depth++;
	x->collecting = 0;
	if (x->depth > 64) {
		xfail(x, DH_E_FORMAT, "%s", "elements nested deeper than 64");
		return;
	}
	x->root_seen = 1;
	if (x->kind == DOC_PRIMARY)
		prim_start(x, el, atts);
	else if (x->kind == DOC_UPDATEINFO)
		upd_start(x, el, atts);
	else
		repomd_start(x, el, atts);
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct xctx *x = ud;
	const char *el = local_name(name);

	if (x->rc != DH_OK)
		return;
	if (x->kind == DOC_PRIMARY)
		prim_end(x, el);
	else if (x->kind == DOC_UPDATEINFO)
		upd_end(x, el);
	else if (x->depth == 2)
		x->data_depth = 0;
	x->collecting = 0;
	x->depth--;
}

static int
xctx_init(struct xctx *x, enum doc_kind kind, const char *label,
    struct pt_rpm_md *md, const char *repo_id, struct dh_err *err)
{
	int rc;

	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->label = label != NULL ? label : doc_names[kind];
	x->md = md;
	x->err = err;
	dh_buf_init(&x->text, PT_RPM_MAX_ATTR);
	if (md != NULL && repo_id != NULL) {
		rc = md_repo(md, repo_id, &x->repo);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "%s: too many repositories",
			    x->label);
	}
	x->heap.max = XML_HEAP_MAX;
	x->saved_heap = cur_heap;
	cur_heap = &x->heap;
	x->xp = XML_ParserCreate_MM(NULL, &xml_mem, "|");
	if (x->xp == NULL) {
		cur_heap = x->saved_heap;
		return dh_err_set(err, DH_E_NOMEM, "%s: cannot create XML parser",
		    x->label);
	}
	XML_SetUserData(x->xp, x);
	XML_SetElementHandler(x->xp, on_start, on_end);
	XML_SetCharacterDataHandler(x->xp, on_text);
	XML_SetStartDoctypeDeclHandler(x->xp, on_doctype);
	XML_SetEntityDeclHandler(x->xp, on_entity);
	XML_SetParamEntityParsing(x->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	return DH_OK;
}

static void
xctx_done(struct xctx *x)
{
	if (x->xp != NULL) {
		cur_heap = &x->heap;
		XML_ParserFree(x->xp);
		x->xp = NULL;
		cur_heap = x->saved_heap;
	}
	prim_reset(x);
	free(x->primary_href);
	free(x->updateinfo_href);
	free(x->primary_db_href);
	x->primary_href = x->updateinfo_href = x->primary_db_href = NULL;
	dh_buf_free(&x->text);
}

/* Feed n bytes (final marks the end of the document). */
static int
xctx_feed(struct xctx *x, const void *p, size_t n, int final)
{
	const char *s = p;
	size_t k;
	enum XML_Status st;

	cur_heap = &x->heap;
	do {
		k = n > XML_CHUNK ? XML_CHUNK : n;
		st = XML_Parse(x->xp, s, (int)k, final && k == n);
		s += k;
		n -= k;
	} while (st == XML_STATUS_OK && n > 0);
	cur_heap = x->saved_heap;
	if (x->rc != DH_OK)
		return x->rc;
	if (st != XML_STATUS_OK) {
		if (x->heap.exhausted)
			return xfail(x, DH_E_TOOBIG,
			    "XML parser needs more than %s of memory "
			    "(oversized tag or attribute)", "64 MiB");
		x->rc = DH_E_FORMAT;
		return dh_err_set(x->err, DH_E_FORMAT, "%s: line %lu: %s",
		    x->label, (unsigned long)XML_GetCurrentLineNumber(x->xp),
		    XML_ErrorString(XML_GetErrorCode(x->xp)));
	}
	if (final && !x->root_seen) {
		x->rc = DH_E_FORMAT;
		return dh_err_set(x->err, DH_E_FORMAT, "%s: no root element",
		    x->label);
	}
	return DH_OK;
}

static int
parse_mem(struct pt_rpm_md *md, enum doc_kind kind, const char *repo_id,
    const void *p, size_t n, struct dh_err *err)
{
	struct xctx x;
	int rc;

	rc = xctx_init(&x, kind, NULL, md, repo_id, err);
	if (rc == DH_OK)
		rc = xctx_feed(&x, p, n, 1);
	xctx_done(&x);
	return rc;
}

int
pt_rpm_md_parse_primary(struct pt_rpm_md *md, const char *repo_id,
    const void *p, size_t n, struct dh_err *err)
{
	return parse_mem(md, DOC_PRIMARY, repo_id != NULL ? repo_id : "", p, n,
	    err);
}

int
pt_rpm_md_parse_updateinfo(struct pt_rpm_md *md, const void *p, size_t n,
    struct dh_err *err)
{
	return parse_mem(md, DOC_UPDATEINFO, NULL, p, n, err);
}

int
pt_rpm_md_parse_repomd(const void *p, size_t n, char **primary_href,
    char **updateinfo_href, struct dh_err *err)
{
	struct xctx x;
	int rc;

	*primary_href = NULL;
	*updateinfo_href = NULL;
	rc = xctx_init(&x, DOC_REPOMD, NULL, NULL, NULL, err);
	if (rc == DH_OK)
		rc = xctx_feed(&x, p, n, 1);
	if (rc == DH_OK) {
		*primary_href = x.primary_href;
		*updateinfo_href = x.updateinfo_href;
		x.primary_href = x.updateinfo_href = NULL;
	}
	xctx_done(&x);
	return rc;
}

/* Stream a (possibly compressed) file through libarchive into x. */
static int
feed_file(struct xctx *x, const char *path, struct dh_err *err)
{
	struct archive *a;
	struct archive_entry *ent;
	struct stat st;
	unsigned char *buf;
	la_ssize_t got;
	uint64_t total = 0;
	int rc = DH_OK, r;

	buf = malloc(XML_CHUNK);
	a = archive_read_new();
	if (buf == NULL || a == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if (stat(path, &st) != 0) {
		rc = dh_err_set(err, DH_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size == 0) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: empty file", path);
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	/* The file exists: failing to open it now means bad compression. */
	if (archive_read_open_filename(a, path, XML_CHUNK) != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", path,
		    archive_error_string(a) != NULL ? archive_error_string(a) :
		    "cannot open");
		goto out;
	}
	r = archive_read_next_header(a, &ent);
	if (r == ARCHIVE_EOF) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: empty file", path);
		goto out;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", path,
		    archive_error_string(a) != NULL ? archive_error_string(a) :
		    "unreadable");
		goto out;
	}
	for (;;) {
		got = archive_read_data(a, buf, XML_CHUNK);
		if (got < 0) {
			rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", path,
			    archive_error_string(a) != NULL ?
			    archive_error_string(a) : "decompression failed");
			goto out;
		}
		if (got == 0)
			break;
		total += (uint64_t)got;
		if (total > XML_FILE_MAX) {
			rc = dh_err_set(err, DH_E_TOOBIG,
			    "%s: more than 4 GiB once decompressed", path);
			goto out;
		}
		rc = xctx_feed(x, buf, (size_t)got, 0);
		if (rc != DH_OK)
			goto out;
	}
	rc = xctx_feed(x, "", 0, 1);
out:
	if (a != NULL)
		archive_read_free(a);
	free(buf);
	return rc;
}

int
pt_rpm_md_load_file(struct pt_rpm_md *md, const char *kind,
    const char *repo_id, const char *path, struct dh_err *err)
{
	struct xctx x;
	enum doc_kind k;
	int rc;

	if (strcmp(kind, "primary") == 0)
		k = DOC_PRIMARY;
	else if (strcmp(kind, "updateinfo") == 0)
		k = DOC_UPDATEINFO;
	else
		return dh_err_set(err, DH_E_ARG, "unknown metadata kind %s", kind);
	rc = xctx_init(&x, k, path, md, repo_id != NULL ? repo_id : "", err);
	if (rc == DH_OK)
		rc = feed_file(&x, path, err);
	xctx_done(&x);
	return rc;
}

static int
load_repomd(const char *path, char **primary_href, char **updateinfo_href,
    char **primary_db_href, struct dh_err *err)
{
	struct xctx x;
	int rc;

	*primary_href = NULL;
	*updateinfo_href = NULL;
	*primary_db_href = NULL;
	rc = xctx_init(&x, DOC_REPOMD, path, NULL, NULL, err);
	if (rc == DH_OK)
		rc = feed_file(&x, path, err);
	if (rc == DH_OK) {
		*primary_href = x.primary_href;
		*updateinfo_href = x.updateinfo_href;
		*primary_db_href = x.primary_db_href;
		x.primary_href = x.updateinfo_href = x.primary_db_href = NULL;
	}
	xctx_done(&x);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Installed set: rpm -qa output                                           */

#define QA_FIELDS 7

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

static char *
fmt_evr(const char *e, const char *v, const char *r)
{
	struct dh_buf b;
	size_t n;
	int rc = DH_OK;

	dh_buf_init(&b, 3 * PT_RPM_MAX_ATTR + 8);
	if (e != NULL && *e != '\0' && strcmp(e, "0") != 0)
		rc = dh_buf_printf(&b, "%s:", e);
	if (rc == DH_OK)
		rc = dh_buf_put_str(&b, v != NULL ? v : "");
	if (rc == DH_OK && r != NULL)
		rc = dh_buf_printf(&b, "-%s", r);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(&b, 0);
	if (rc != DH_OK) {
		dh_buf_free(&b);
		return NULL;
	}
	return (char *)dh_buf_steal(&b, &n);
}

static int
inv_append(struct pt_inventory *inv, struct pt_pkg **out)
{
	struct pt_pkg *q;
	size_t n = inv->n_pkgs, ncap;

	if (n >= PT_RPM_MAX_PKGS)
		return DH_E_TOOBIG;
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		ncap = n == 0 ? 16 : n * 2;
		q = realloc(inv->pkgs, ncap * sizeof(*q));
		if (q == NULL)
			return DH_E_NOMEM;
		inv->pkgs = q;
	}
	memset(&inv->pkgs[n], 0, sizeof(inv->pkgs[n]));
	inv->n_pkgs = n + 1;
	*out = &inv->pkgs[n];
	return DH_OK;
}

/* One line of `rpm -qa` output (no newline, len bytes). */
static int
qa_line(const char *line, size_t len, unsigned long lineno,
    struct pt_inventory *inv, struct dh_err *err)
{
	const char *f[QA_FIELDS];
	size_t fl[QA_FIELDS], i, nf = 0, start = 0;
	struct pt_pkg *p;
	char *e = NULL, *v = NULL, *r = NULL;
	int64_t t = 0;
	int rc;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return DH_OK;
	for (i = 0; i <= len; i++) {
		if (i < len && line[i] == '\0')
			return dh_err_set(err, DH_E_FORMAT,
			    "rpm -qa line %lu: NUL byte", lineno);
		if (i == len || line[i] == '\t') {
			if (nf == QA_FIELDS)
				return dh_err_set(err, DH_E_FORMAT,
				    "rpm -qa line %lu: more than %d fields",
				    lineno, QA_FIELDS);
			f[nf] = line + start;
			fl[nf++] = i - start;
			start = i + 1;
		}
	}
	if (nf != QA_FIELDS)
		return dh_err_set(err, DH_E_FORMAT,
		    "rpm -qa line %lu: %zu fields, expected %d", lineno, nf,
		    QA_FIELDS);
	if (fl[0] == 0 || fl[1] == 0 || fl[3] == 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "rpm -qa line %lu: empty name, arch or version", lineno);
	if (!all_digits(f[2], fl[2]) || fl[2] > 10 ||
	    !all_digits(f[5], fl[5]) || fl[5] > 18)
		return dh_err_set(err, DH_E_FORMAT,
		    "rpm -qa line %lu: epoch or install time not a number",
		    lineno);
	/* Imported signing keys are not packages anyone can update. */
	if (fl[0] == 10 && memcmp(f[0], "gpg-pubkey", 10) == 0)
		return DH_OK;
	for (i = 0; i < fl[5]; i++)
		t = t * 10 + (f[5][i] - '0');
	e = strndup(f[2], fl[2]);
	v = strndup(f[3], fl[3]);
	r = strndup(f[4], fl[4]);
	if (e == NULL || v == NULL || r == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = inv_append(inv, &p);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "rpm -qa: too many packages");
		goto out;
	}
	p->name = strndup(f[0], fl[0]);
	p->arch = strndup(f[1], fl[1]);
	p->version = fmt_evr(e, v, r);
	if (!(fl[6] == 6 && memcmp(f[6], "(none)", 6) == 0) && fl[6] > 0)
		p->source = strndup(f[6], fl[6]);
	p->installed_time = t;
	if (p->name == NULL || p->arch == NULL || p->version == NULL ||
	    (fl[6] > 0 && !(fl[6] == 6 && memcmp(f[6], "(none)", 6) == 0) &&
	    p->source == NULL))
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
out:
	free(e);
	free(v);
	free(r);
	return rc;
}

/* Incremental line splitter over arbitrary chunks. */
struct lines {
	char buf[PT_RPM_MAX_LINE];
	size_t len;
	unsigned long lineno;
	struct pt_inventory *inv;
};

static int
lines_feed(struct lines *L, const char *p, size_t n, struct dh_err *err)
{
	const char *nl;
	size_t k;
	int rc;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (k > sizeof(L->buf) - L->len)
			return dh_err_set(err, DH_E_TOOBIG,
			    "rpm -qa line %lu longer than %d bytes",
			    L->lineno + 1, PT_RPM_MAX_LINE);
		memcpy(L->buf + L->len, p, k);
		L->len += k;
		if (nl == NULL)
			return DH_OK;
		L->lineno++;
		rc = qa_line(L->buf, L->len, L->lineno, L->inv, err);
		if (rc != DH_OK)
			return rc;
		L->len = 0;
		p += k + 1;
		n -= k + 1;
	}
	return DH_OK;
}

static int
lines_end(struct lines *L, struct dh_err *err)
{
	int rc = DH_OK;

	if (L->len > 0) {
		L->lineno++;
		rc = qa_line(L->buf, L->len, L->lineno, L->inv, err);
		L->len = 0;
	}
	return rc;
}

int
pt_rpm_parse_qa(const void *p, size_t n, struct pt_inventory *inv,
    struct dh_err *err)
{
	struct lines *L;
	int rc;

	L = calloc(1, sizeof(*L));
	if (L == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	L->inv = inv;
	rc = lines_feed(L, p, n, err);
	if (rc == DH_OK)
		rc = lines_end(L, err);
	free(L);
	return rc;
}

static const char *const rpm_bins[] = {
	"/usr/bin/rpm", "/bin/rpm", "/usr/local/bin/rpm"
};

static const char QA_FORMAT[] =
    "%{NAME}\\t%{ARCH}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t"
    "%{INSTALLTIME}\\t%{SOURCERPM}\\n";

static void
child_exec(const char *bin, char *const argv[], int out_fd, int err_fd)
{
	static char *const envp[] = {
		"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/nonexistent", NULL
	};
	int fd;

	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(err_fd, 2) < 0)
		_exit(127);
	execve(bin, argv, envp);
	_exit(127);
}

/* Run rpm -qa on root/dbpath and parse its output into inv. */
static int
run_rpm_qa(const char *root, const char *dbpath, const char *backend,
    struct pt_inventory *inv, struct dh_err *err)
{
	char define[64];
	char *argv[12];
	const char *bin = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct pollfd pf[2];
	struct lines *L = NULL;
	char chunk[8192], errtext[RPM_STDERR_MAX + 1];
	size_t errlen = 0, i;
	pid_t pid = -1;
	int64_t deadline;
	int rc = DH_OK, status = 0, open_fds, pr, a = 0;
	ssize_t got;

	for (i = 0; i < sizeof(rpm_bins) / sizeof(rpm_bins[0]); i++) {
		if (access(rpm_bins[i], X_OK) == 0) {
			bin = rpm_bins[i];
			break;
		}
	}
	if (bin == NULL)
		return dh_err_set(err, DH_E_NOTFOUND,
		    "rpm: no rpm binary in /usr/bin, /bin or /usr/local/bin");
	if (snprintf(define, sizeof(define), "_db_backend %s", backend) < 0)
		return dh_err_set(err, DH_E_ARG, "rpm: bad backend");
	argv[a++] = (char *)"rpm";
	argv[a++] = (char *)"--root";
	argv[a++] = (char *)root;
	argv[a++] = (char *)"--dbpath";
	argv[a++] = (char *)dbpath;
	argv[a++] = (char *)"--define";
	argv[a++] = define;
	argv[a++] = (char *)"-qa";
	argv[a++] = (char *)"--queryformat";
	argv[a++] = (char *)QA_FORMAT;
	argv[a] = NULL;

	L = calloc(1, sizeof(*L));
	if (L == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	L->inv = inv;
	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		rc = dh_err_set(err, DH_E_IO, "rpm: pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = dh_err_set(err, DH_E_IO, "rpm: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(bin, argv, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;

	deadline = dh_time_mono_ms() + RPM_DEADLINE_MS;
	open_fds = 2;
	while (open_fds > 0) {
		int64_t left = deadline - dh_time_mono_ms();

		if (left <= 0) {
			rc = dh_err_set(err, DH_E_TIMEOUT,
			    "rpm -qa: no result after %d s", RPM_DEADLINE_MS / 1000);
			goto out;
		}
		/* poll() ignores negative fds, so a closed pipe stays quiet. */
		pf[0].fd = outp[0];
		pf[0].events = POLLIN;
		pf[1].fd = errp[0];
		pf[1].events = POLLIN;
		pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rc = dh_err_set(err, DH_E_IO, "rpm: poll: %s",
			    strerror(errno));
			goto out;
		}
		if (outp[0] >= 0 && pf[0].revents != 0) {
			got = read(outp[0], chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(outp[0]);
				outp[0] = -1;
				open_fds--;
			} else if (rc == DH_OK) {
				rc = lines_feed(L, chunk, (size_t)got, err);
				if (rc != DH_OK)
					goto out;
			}
		}
		if (errp[0] >= 0 && pf[1].revents != 0) {
			got = read(errp[0], chunk, sizeof(chunk));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(errp[0]);
				errp[0] = -1;
				open_fds--;
			} else if (errlen < RPM_STDERR_MAX) {
				size_t k = (size_t)got;

				if (k > RPM_STDERR_MAX - errlen)
					k = RPM_STDERR_MAX - errlen;
				memcpy(errtext + errlen, chunk, k);
				errlen += k;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = dh_err_set(err, DH_E_IO, "rpm: waitpid: %s",
			    strerror(errno));
			goto out;
		}
	}
	pid = -1;
	errtext[errlen] = '\0';
	while (errlen > 0 && (errtext[errlen - 1] == '\n' ||
	    errtext[errlen - 1] == '\r'))
		errtext[--errlen] = '\0';
	for (i = 0; i < errlen; i++) {
		if ((unsigned char)errtext[i] < 0x20)
			errtext[i] = ' ';
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = dh_err_set(err, DH_E_IO, "rpm -qa --root %s --dbpath %s "
		    "failed (%s %d)%s%s", root, dbpath,
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    errlen > 0 ? ": " : "", errtext);
		goto out;
	}
	rc = lines_end(L, err);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	free(L);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Paths, os-release                                                       */

/* root + "/" + rel without doubled slashes; NULL on allocation failure. */
static char *
join(const char *root, const char *rel)
{
	struct dh_buf b;
	size_t n;
	size_t rl = strlen(root);

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	while (*rel == '/')
		rel++;
	dh_buf_init(&b, rl + strlen(rel) + 4);
	if (dh_buf_put(&b, root, rl) != DH_OK ||
	    (!(rl == 1 && root[0] == '/') && dh_buf_put_u8(&b, '/') != DH_OK) ||
	    dh_buf_put_str(&b, rel) != DH_OK || dh_buf_put_u8(&b, 0) != DH_OK) {
		dh_buf_free(&b);
		return NULL;
	}
	return (char *)dh_buf_steal(&b, &n);
}

/* a followed by b as a new string; NULL on allocation failure. */
static char *
concat(const char *a, const char *b)
{
	struct dh_buf buf;
	size_t n;

	dh_buf_init(&buf, strlen(a) + strlen(b) + 1);
	if (dh_buf_put_str(&buf, a) != DH_OK || dh_buf_put_str(&buf, b) != DH_OK ||
	    dh_buf_put_u8(&buf, 0) != DH_OK) {
		dh_buf_free(&buf);
		return NULL;
	}
	return (char *)dh_buf_steal(&buf, &n);
}

static int
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Read a small text file whole (at most max bytes). */
static int
read_small(const char *path, size_t max, struct dh_buf *b)
{
	char chunk[4096];
	ssize_t got;
	int fd, rc = DH_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return DH_E_NOTFOUND;
	dh_buf_init(b, max);
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = DH_E_IO;
			break;
		}
		if (got == 0)
			break;
		rc = dh_buf_put(b, chunk, (size_t)got);
		if (rc != DH_OK)
			break;
	}
	close(fd);
	if (rc != DH_OK)
		dh_buf_free(b);
	return rc;
}

/* Value of KEY in os-release text (unquoted, unescaped) or NULL. */
static char *
osrel_value(const char *text, const char *key)
{
	size_t kl = strlen(key), n, i;
	const char *p = text, *eol, *v;
	char *out, q = 0;
	size_t o = 0;

	while (*p != '\0') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > kl && strncmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			v = p + kl + 1;
			n = (size_t)(eol - v);
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
				q = v[0];
				v++;
				n--;
				if (n > 0 && v[n - 1] == q)
					n--;
			}
			out = malloc(n + 1);
			if (out == NULL)
				return NULL;
			for (i = 0; i < n; i++) {
				if (q == '"' && v[i] == '\\' && i + 1 < n)
					i++;
				out[o++] = v[i];
			}
			out[o] = '\0';
			return out;
		}
		p = *eol == '\n' ? eol + 1 : eol;
	}
	return NULL;
}

static const struct {
	const char *id;
	const char *product;
} products[] = {
	{ "amzn", "AmazonLinux" },
	{ "rhel", "RedhatEnterpriseLinux" },
	{ "centos", "CentOS" },
	{ "rocky", "RockyLinux" },
	{ "almalinux", "AlmaLinux" },
	{ "ol", "OracleLinux" },
	{ "sles", "Suse" },
	{ "sled", "Suse" },
	{ "opensuse-leap", "OpenSUSE" },
	{ "fedora", "Fedora" },
};

static int
read_os_release(const char *root, struct pt_inventory *inv)
{
	struct dh_buf b;
	struct stat st;
	char *path, *product;
	size_t i;
	int rc;

	path = join(root, "etc/os-release");
	if (path == NULL)
		return DH_E_NOMEM;
	/* An absolute symlink would escape the root: use the usr/lib copy. */
	if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode)) {
		free(path);
		path = join(root, "usr/lib/os-release");
		if (path == NULL)
			return DH_E_NOMEM;
	}
	rc = read_small(path, OSREL_MAX, &b);
	free(path);
	if (rc == DH_E_NOTFOUND || rc == DH_E_TOOBIG)
		return DH_OK;
	if (rc != DH_OK)
		return rc;
	inv->os_id = osrel_value(dh_buf_cstr(&b), "ID");
	inv->os_version = osrel_value(dh_buf_cstr(&b), "VERSION_ID");
	inv->os_codename = osrel_value(dh_buf_cstr(&b), "VERSION_CODENAME");
	dh_buf_free(&b);
	if (inv->os_id == NULL || inv->os_version == NULL)
		return DH_OK;
	for (i = 0; i < sizeof(products) / sizeof(products[0]); i++) {
		if (strcmp(inv->os_id, products[i].id) != 0)
			continue;
		product = concat(products[i].product, inv->os_version);
		if (product == NULL)
			return DH_E_NOMEM;
		inv->product = product;
		break;
	}
	return DH_OK;
}

/* ---------------------------------------------------------------------- */
/* Repository caches                                                       */

struct repo_dir {
	char *dir;  /* directory holding repodata/ (or repomd.xml when flat) */
	char *id;
	int flat;   /* yum: repomd.xml and data files directly in dir */
};

struct repo_list {
	struct repo_dir *v;
	size_t n, cap;
};

/* Repo id from a cache directory name: "<id>-<16 hex>" -> "<id>". */
static char *
repo_id_of(const char *base)
{
	size_t n = strlen(base), i;

	if (n > 17 && base[n - 17] == '-') {
		for (i = n - 16; i < n; i++) {
			if (!((base[i] >= '0' && base[i] <= '9') ||
			    (base[i] >= 'a' && base[i] <= 'f')))
				break;
		}
		if (i == n)
			return strndup(base, n - 17);
	}
	return strdup(base);
}

static int
repo_add(struct repo_list *L, const char *dir, const char *base, int flat)
{
	struct repo_dir *r;
	int rc;

	if (L->n >= MAX_REPOS)
		return DH_E_TOOBIG;
	rc = grow((void **)&L->v, &L->cap, L->n, sizeof(*L->v));
	if (rc != DH_OK)
		return rc;
	r = &L->v[L->n];
	r->dir = strdup(dir);
	r->id = repo_id_of(base);
	r->flat = flat;
	if (r->dir == NULL || r->id == NULL) {
		free(r->dir);
		free(r->id);
		return DH_E_NOMEM;
	}
	L->n++;
	return DH_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Find repository cache directories below dir (depth-limited walk). */
static int
walk_caches(const char *dir, const char *base, int depth,
    struct repo_list *L)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **q, *sub = NULL, *probe;
	size_t n = 0, i;
	int rc = DH_OK, found;

	probe = join(dir, "repodata/repomd.xml");
	if (probe == NULL)
		return DH_E_NOMEM;
	found = is_file(probe);
	free(probe);
	if (found && base != NULL)
		return repo_add(L, dir, base, 0);
	probe = join(dir, "repomd.xml");
	if (probe == NULL)
		return DH_E_NOMEM;
	found = is_file(probe);
	free(probe);
	if (found && base != NULL)
		return repo_add(L, dir, base, 1);
	if (depth == 0)
		return DH_OK;
	d = opendir(dir);
	if (d == NULL)
		return DH_OK;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "repodata") == 0)
			continue;
		if (n >= 4096)
			break;
		q = realloc(names, (n + 1) * sizeof(*q));
		if (q == NULL) {
			rc = DH_E_NOMEM;
			break;
		}
		names = q;
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			rc = DH_E_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == DH_OK && n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; rc == DH_OK && i < n; i++) {
		sub = join(dir, names[i]);
		if (sub == NULL) {
			rc = DH_E_NOMEM;
			break;
		}
		if (is_dir(sub))
			rc = walk_caches(sub, names[i], depth - 1, L);
		free(sub);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static const char *const cache_roots[] = {
	"var/cache/dnf", "var/cache/libdnf5", "var/cache/yum",
	"var/cache/zypp/raw"
};

/* A repomd href must stay inside the repository directory. */
static int
href_ok(const char *h)
{
	const char *p = h;

	if (*h == '\0' || *h == '/' || strchr(h, '\\') != NULL)
		return 0;
	while (*p != '\0') {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return 0;
		p = strchr(p, '/');
		if (p == NULL)
			break;
		p++;
	}
	return 1;
}

/* Path of a repomd-referenced file in the cache, or NULL if absent. */
static char *
data_path(const struct repo_dir *r, const char *href)
{
	const char *slash = strrchr(href, '/');
	char *p;

	if (!r->flat) {
		p = join(r->dir, href);
		if (p != NULL && is_file(p))
			return p;
		free(p);
	}
	p = join(r->dir, slash != NULL ? slash + 1 : href);
	if (p != NULL && is_file(p))
		return p;
	free(p);
	return NULL;
}

/* Decompress src (any libarchive raw filter) into the open file fd. */
static int
decompress_to_fd(const char *src, int fd, struct dh_err *err)
{
	struct archive *a;
	struct archive_entry *ent;
	unsigned char *buf;
	la_ssize_t got;
	uint64_t total = 0;
	size_t off;
	ssize_t w;
	int rc = DH_OK, r;

	buf = malloc(XML_CHUNK);
	a = archive_read_new();
	if (buf == NULL || a == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "%s: out of memory", src);
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, src, XML_CHUNK) != ARCHIVE_OK ||
	    ((r = archive_read_next_header(a, &ent)) != ARCHIVE_OK &&
	    r != ARCHIVE_WARN)) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", src,
		    archive_error_string(a) != NULL ? archive_error_string(a) :
		    "unreadable");
		goto out;
	}
	for (;;) {
		got = archive_read_data(a, buf, XML_CHUNK);
		if (got < 0) {
			rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", src,
			    archive_error_string(a) != NULL ?
			    archive_error_string(a) : "decompression failed");
			goto out;
		}
		if (got == 0)
			break;
		total += (uint64_t)got;
		if (total > XML_FILE_MAX) {
			rc = dh_err_set(err, DH_E_TOOBIG,
			    "%s: more than 4 GiB once decompressed", src);
			goto out;
		}
		for (off = 0; off < (size_t)got; off += (size_t)w) {
			w = write(fd, buf + off, (size_t)got - off);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				rc = dh_err_set(err, DH_E_IO, "%s: writing a "
				    "temporary copy: %s", src, strerror(errno));
				goto out;
			}
		}
	}
out:
	if (a != NULL)
		archive_read_free(a);
	free(buf);
	return rc;
}

static char *
col_dup(sqlite3_stmt *st, int col, int *toolong)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (t == NULL)
		return NULL;
	if (n < 0 || (size_t)n > PT_RPM_MAX_ATTR) {
		*toolong = 1;
		return NULL;
	}
	return strndup((const char *)t, (size_t)n);
}

/* Read the packages table of a yum primary_db (SQLite) at db_path. */
static int
load_primary_sqlite(struct pt_rpm_md *md, size_t repo, const char *db_path,
    const char *label, struct dh_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *name = NULL, *arch = NULL, *e = NULL, *v = NULL, *r = NULL;
	int rc = DH_OK, s, toolong;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", label,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	if (sqlite3_prepare_v2(db, "SELECT name, arch, epoch, version, release, "
	    "time_build FROM packages", -1, &st, NULL) != SQLITE_OK) {
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", label,
		    sqlite3_errmsg(db));
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		toolong = 0;
		name = col_dup(st, 0, &toolong);
		arch = col_dup(st, 1, &toolong);
		e = col_dup(st, 2, &toolong);
		v = col_dup(st, 3, &toolong);
		r = col_dup(st, 4, &toolong);
		if (toolong) {
			rc = dh_err_set(err, DH_E_TOOBIG, "%s: a package field "
			    "is longer than %d bytes", label, PT_RPM_MAX_ATTR);
			goto out;
		}
		rc = md_add_avail(md, repo, name, &arch, &e, &v, &r,
		    sqlite3_column_int64(st, 5));
		if (rc != DH_OK) {
			dh_err_set(err, rc, "%s: %s", label, dh_strerror(rc));
			goto out;
		}
		free(name);
		free(arch);
		free(e);
		free(v);
		free(r);
		name = arch = e = v = r = NULL;
	}
	if (s != SQLITE_DONE)
		rc = dh_err_set(err, DH_E_FORMAT, "%s: %s", label,
		    sqlite3_errmsg(db));
out:
	free(name);
	free(arch);
	free(e);
	free(v);
	free(r);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* yum keeps primary_db (<hash>-primary.sqlite.bz2, often also decompressed
 * next to it) instead of primary.xml: read it through SQLite, decompressing
 * to a private temporary file when only the compressed copy is there. */
static int
load_primary_db(struct pt_rpm_md *md, const struct repo_dir *rd,
    const char *href, struct dh_err *err)
{
	static const char *const sufs[] = { ".bz2", ".xz", ".gz", ".zst" };
	const char *tmpdir = getenv("TMPDIR");
	char *plain = NULL, *packed = NULL, *tmp = NULL, *h = NULL;
	size_t i, repo;
	int fd = -1, rc;

	rc = md_repo(md, rd->id, &repo);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "%s: too many repositories", rd->dir);
	h = strdup(href);
	if (h == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
		if (has_suffix(h, sufs[i])) {
			packed = data_path(rd, h);
			h[strlen(h) - strlen(sufs[i])] = '\0';
			break;
		}
	}
	plain = data_path(rd, h);
	if (plain != NULL) {
		rc = load_primary_sqlite(md, repo, plain, plain, err);
		goto out;
	}
	if (packed == NULL)
		goto out;
	tmp = concat(tmpdir != NULL && *tmpdir == '/' ? tmpdir : "/tmp",
	    "/deckhand-primary-XXXXXX");
	if (tmp == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = dh_err_set(err, DH_E_IO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	rc = decompress_to_fd(packed, fd, err);
	if (rc == DH_OK)
		rc = load_primary_sqlite(md, repo, tmp, packed, err);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(plain);
	free(packed);
	free(h);
	return rc;
}

static int
load_repo(struct pt_rpm_md *md, const struct repo_dir *r, struct dh_err *err)
{
	char *repomd, *ph = NULL, *uh = NULL, *dh = NULL, *pp = NULL;
	char *up = NULL;
	int rc;

	repomd = join(r->dir, r->flat ? "repomd.xml" : "repodata/repomd.xml");
	if (repomd == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	rc = load_repomd(repomd, &ph, &uh, &dh, err);
	if (rc != DH_OK)
		goto out;
	if ((ph != NULL && !href_ok(ph)) || (uh != NULL && !href_ok(uh)) ||
	    (dh != NULL && !href_ok(dh))) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "%s: a data location escapes the repository", repomd);
		goto out;
	}
	pp = ph != NULL ? data_path(r, ph) : NULL;
	if (pp != NULL)
		rc = pt_rpm_md_load_file(md, "primary", r->id, pp, err);
	else if (dh != NULL)
		rc = load_primary_db(md, r, dh, err);
	/* Pruned caches: a repository without its primary adds nothing. */
	if (rc != DH_OK || (pp == NULL && dh == NULL))
		goto out;
	up = uh != NULL ? data_path(r, uh) : NULL;
	if (up != NULL)
		rc = pt_rpm_md_load_file(md, "updateinfo", r->id, up, err);
out:
	free(up);
	free(pp);
	free(dh);
	free(uh);
	free(ph);
	free(repomd);
	return rc;
}

static int
cmp_repo(const void *a, const void *b)
{
	const struct repo_dir *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : strcmp(x->dir, y->dir);
}

int
pt_rpm_md_load_root(struct pt_rpm_md *md, const char *root,
    size_t *n_repos, struct dh_err *err)
{
	struct repo_list L = { NULL, 0, 0 };
	char *base;
	size_t i;
	int rc = DH_OK;

	for (i = 0; rc == DH_OK &&
	    i < sizeof(cache_roots) / sizeof(cache_roots[0]); i++) {
		base = join(root, cache_roots[i]);
		if (base == NULL) {
			rc = DH_E_NOMEM;
			break;
		}
		if (is_dir(base))
			rc = walk_caches(base, NULL, WALK_DEPTH, &L);
		free(base);
	}
	if (rc != DH_OK) {
		dh_err_set(err, rc, "%s: cannot list repository caches", root);
		goto out;
	}
	if (L.n > 1)
		qsort(L.v, L.n, sizeof(*L.v), cmp_repo);
	for (i = 0; rc == DH_OK && i < L.n; i++)
		rc = load_repo(md, &L.v[i], err);
	if (n_repos != NULL)
		*n_repos = L.n;
out:
	for (i = 0; i < L.n; i++) {
		free(L.v[i].dir);
		free(L.v[i].id);
	}
	free(L.v);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Resolution                                                              */

struct arches {
	const char **v;
	size_t n;
};

static int
is_noarch(const char *a)
{
	return strcmp(a, "noarch") == 0;
}

/* Can a package of arch cand update an installed package of arch inst?
 * Same arch, or noarch on either side (a noarch package may turn into any
 * arch the machine runs, approximated by the installed arches). */
static int
arch_ok(const char *inst, const char *cand, const struct arches *machine)
{
	size_t i;

	if (cand == NULL)
		return 0;
	if (strcmp(inst, cand) == 0 || is_noarch(cand))
		return 1;
	if (!is_noarch(inst))
		return 0;
	for (i = 0; i < machine->n; i++) {
		if (strcmp(machine->v[i], cand) == 0)
			return 1;
	}
	return 0;
}

static void
evr_of(const char *e, const char *v, const char *r, struct pt_rpmver_evr *o)
{
	o->e = e;
	o->elen = e != NULL ? strlen(e) : 0;
	o->v = v != NULL ? v : "";
	o->vlen = strlen(o->v);
	o->r = r;
	o->rlen = r != NULL ? strlen(r) : 0;
}

static int
type_rank(const char *t)
{
	static const char *const order[] = {
		"security", "bugfix", "enhancement", "recommended", "newpackage"
	};
	size_t i;

	if (t == NULL)
		return 0;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (strcasecmp(t, order[i]) == 0)
			return 6 - (int)i;
	}
	return 1;
}

static int
severity_rank(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcasecmp(s, "critical") == 0)
		return 4;
	if (strcasecmp(s, "important") == 0 || strcasecmp(s, "high") == 0)
		return 3;
	if (strcasecmp(s, "moderate") == 0 || strcasecmp(s, "medium") == 0)
		return 2;
	if (strcasecmp(s, "low") == 0)
		return 1;
	return 0;
}

/* "security" -> "Security", "IMPORTANT" -> "Important"; NULL for empty. */
static char *
capitalized(const char *s)
{
	char *o;
	size_t i;

	if (s == NULL || *s == '\0')
		return NULL;
	o = strdup(s);
	if (o == NULL)
		return NULL;
	for (i = 0; o[i] != '\0'; i++) {
		if (i == 0 && o[i] >= 'a' && o[i] <= 'z')
			o[i] = (char)(o[i] - 'a' + 'A');
		else if (i > 0 && o[i] >= 'A' && o[i] <= 'Z')
			o[i] = (char)(o[i] - 'A' + 'a');
	}
	return o;
}

static int64_t
adv_date(const struct md_adv *a)
{
	return a->updated > a->issued ? a->updated : a->issued;
}

/* Is advisory a more important than b for the same update? */
static int
adv_better(const struct md_adv *a, int a_exact, const struct md_adv *b,
    int b_exact)
{
	int d;

	d = type_rank(a->type) - type_rank(b->type);
	if (d != 0)
		return d > 0;
	d = severity_rank(a->severity) - severity_rank(b->severity);
	if (d != 0)
		return d > 0;
	if (a_exact != b_exact)
		return a_exact;
	return adv_date(a) > adv_date(b);
}

/* Add id to the set *v (*n entries, at most max; duplicates skipped). */
static int
add_id(char ***v, size_t *n, size_t max, const char *id)
{
	char **q;
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i], id) == 0)
			return DH_OK;
	}
	if (*n >= max)
		return DH_OK;
	q = realloc(*v, (*n + 1) * sizeof(*q));
	if (q == NULL)
		return DH_E_NOMEM;
	*v = q;
	q[*n] = strdup(id);
	if (q[*n] == NULL)
		return DH_E_NOMEM;
	(*n)++;
	return DH_OK;
}

/* The most important Security advisory listing exactly the installed EVR
 * of p (same or compatible arch), or NULL when none does. */
static const struct md_adv *
installed_security_adv(const struct pt_rpm_md *md, const struct pt_pkg *p,
    const struct pt_rpmver_evr *inst, size_t ni, const size_t *pstart,
    const size_t *porder, const struct arches *machine)
{
	const struct md_advpkg *ap;
	const struct md_adv *ad, *best = NULL;
	struct pt_rpmver_evr ev;
	size_t k;

	for (k = pstart[ni]; k < pstart[ni + 1]; k++) {
		ap = &md->advp[porder[k]];
		ad = &md->adv[ap->adv];
		if (ad->type == NULL || strcasecmp(ad->type, "security") != 0 ||
		    !arch_ok(p->arch, ap->arch, machine))
			continue;
		evr_of(ap->e, ap->v, ap->r, &ev);
		if (pt_rpmver_evr_cmp_parsed(&ev, inst) != 0)
			continue;
		if (best == NULL || adv_better(ad, 1, best, 1))
			best = ad;
	}
	return best;
}

/* Group record indices by name index (counting sort). */
static int
group_by_name(size_t n_names, size_t n, const void *recs, size_t stride,
    size_t name_off, size_t **start_out, size_t **order_out)
{
	size_t *start, *order, *fill, i, nm;
	const unsigned char *base = recs;

	start = calloc(n_names + 1, sizeof(*start));
	order = malloc((n > 0 ? n : 1) * sizeof(*order));
	fill = calloc(n_names + 1, sizeof(*fill));
	if (start == NULL || order == NULL || fill == NULL) {
		free(start);
		free(order);
		free(fill);
		return DH_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		memcpy(&nm, base + i * stride + name_off, sizeof(nm));
		start[nm + 1]++;
	}
	for (i = 0; i < n_names; i++)
		start[i + 1] += start[i];
	for (i = 0; i < n; i++) {
		memcpy(&nm, base + i * stride + name_off, sizeof(nm));
		order[start[nm] + fill[nm]++] = i;
	}
	free(fill);
	*start_out = start;
	*order_out = order;
	return DH_OK;
}

static int
resolve_one(const struct pt_rpm_md *md, struct pt_pkg *p, size_t ni,
    const size_t *astart, const size_t *aorder, const size_t *pstart,
    const size_t *porder, const struct arches *machine)
{
	struct pt_rpmver_evr inst, ev, best_ev;
	const struct md_avail *a, *best = NULL;
	const struct md_advpkg *ap;
	const struct md_adv *chosen = NULL, *ad;
	struct pt_update *u;
	int chosen_exact = 0, exact, c, rc = DH_OK;
	size_t k, j;

	pt_rpmver_parse(p->version, &inst);
	ad = installed_security_adv(md, p, &inst, ni, pstart, porder, machine);
	p->installed_security = ad != NULL;
	if (ad != NULL && ad->severity != NULL && *ad->severity != '\0') {
		p->installed_severity = capitalized(ad->severity);
		if (p->installed_severity == NULL)
			return DH_E_NOMEM;
	}
	for (k = astart[ni]; k < astart[ni + 1]; k++) {
		a = &md->avail[aorder[k]];
		if (!arch_ok(p->arch, a->arch, machine))
			continue;
		evr_of(a->e, a->v, a->r, &ev);
		if (pt_rpmver_evr_cmp_parsed(&ev, &inst) <= 0)
			continue;
		if (best == NULL || pt_rpmver_evr_cmp_parsed(&ev, &best_ev) > 0) {
			best = a;
			best_ev = ev;
		}
	}
	if (best == NULL)
		return DH_OK;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return DH_E_NOMEM;
	u->version = fmt_evr(best->e, best->v, best->r);
	u->arch = strdup(best->arch);
	u->repository = strdup(md->repos[best->repo]);
	if (u->version == NULL || u->arch == NULL || u->repository == NULL) {
		rc = DH_E_NOMEM;
		goto out;
	}
	for (k = pstart[ni]; k < pstart[ni + 1]; k++) {
		ap = &md->advp[porder[k]];
		if (!arch_ok(p->arch, ap->arch, machine))
			continue;
		evr_of(ap->e, ap->v, ap->r, &ev);
		if (pt_rpmver_evr_cmp_parsed(&ev, &inst) <= 0)
			continue;
		c = pt_rpmver_evr_cmp_parsed(&ev, &best_ev);
		if (c > 0)
			continue;
		exact = c == 0;
		ad = &md->adv[ap->adv];
		if (ad->reboot || ap->reboot)
			u->reboot_suggested = 1;
		for (j = 0; j < ad->n_cves; j++) {
			rc = add_id(&u->cves, &u->n_cves, MAX_CVES_PER_ADV,
			    ad->cves[j]);
			if (rc != DH_OK)
				goto out;
		}
		for (j = 0; j < ad->n_bugs; j++) {
			rc = add_id(&u->bugzilla_ids, &u->n_bugzilla_ids,
			    MAX_BUGS_PER_ADV, ad->bugs[j]);
			if (rc != DH_OK)
				goto out;
		}
		if (chosen == NULL || adv_better(ad, exact, chosen, chosen_exact)) {
			chosen = ad;
			chosen_exact = exact;
		}
	}
	if (chosen != NULL) {
		u->security = chosen->type != NULL &&
		    strcasecmp(chosen->type, "security") == 0;
		u->classification = capitalized(chosen->type);
		u->severity = capitalized(chosen->severity);
		if (chosen->id != NULL && *chosen->id != '\0') {
			u->advisory_id = strdup(chosen->id);
			if (u->advisory_id == NULL) {
				rc = DH_E_NOMEM;
				goto out;
			}
		}
		if ((chosen->type != NULL && *chosen->type != '\0' &&
		    u->classification == NULL) ||
		    (chosen->severity != NULL && *chosen->severity != '\0' &&
		    u->severity == NULL)) {
			rc = DH_E_NOMEM;
			goto out;
		}
		u->release_time = adv_date(chosen);
	}
	if (u->release_time == 0)
		u->release_time = best->buildtime;
out:
	if (rc != DH_OK) {
		pt_update_free(u);
		return rc;
	}
	p->update = u;
	return DH_OK;
}

int
pt_rpm_md_resolve(const struct pt_rpm_md *md, struct pt_inventory *inv,
    struct dh_err *err)
{
	size_t *astart = NULL, *aorder = NULL, *pstart = NULL, *porder = NULL;
	struct arches machine = { NULL, 0 };
	const char **q;
	size_t i, j, ni;
	int rc;

	for (i = 0; i < inv->n_pkgs; i++) {
		pt_update_free(inv->pkgs[i].update);
		inv->pkgs[i].update = NULL;
		inv->pkgs[i].installed_security = 0;
		free(inv->pkgs[i].installed_severity);
		inv->pkgs[i].installed_severity = NULL;
	}
	rc = group_by_name(md->n_names, md->n_avail, md->avail,
	    sizeof(*md->avail), offsetof(struct md_avail, name), &astart,
	    &aorder);
	if (rc == DH_OK)
		rc = group_by_name(md->n_names, md->n_advp, md->advp,
		    sizeof(*md->advp), offsetof(struct md_advpkg, name), &pstart,
		    &porder);
	for (i = 0; rc == DH_OK && i < inv->n_pkgs; i++) {
		const char *a = inv->pkgs[i].arch;

		if (a == NULL || is_noarch(a))
			continue;
		for (j = 0; j < machine.n && strcmp(machine.v[j], a) != 0; j++)
			;
		if (j < machine.n)
			continue;
		q = realloc(machine.v, (machine.n + 1) * sizeof(*q));
		if (q == NULL) {
			rc = DH_E_NOMEM;
			break;
		}
		machine.v = q;
		machine.v[machine.n++] = a;
	}
	for (i = 0; rc == DH_OK && i < inv->n_pkgs; i++) {
		if (inv->pkgs[i].name == NULL || inv->pkgs[i].arch == NULL ||
		    inv->pkgs[i].version == NULL)
			continue;
		ni = md_lookup(md, inv->pkgs[i].name);
		if (ni == SIZE_MAX)
			continue;
		rc = resolve_one(md, &inv->pkgs[i], ni, astart, aorder, pstart,
		    porder, &machine);
	}
	if (rc != DH_OK)
		dh_err_set(err, rc, "rpm: resolving candidates: %s",
		    dh_strerror(rc));
	free(machine.v);
	free(astart);
	free(aorder);
	free(pstart);
	free(porder);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Scan                                                                    */

static int
cmp_pkg(const void *a, const void *b)
{
	const struct pt_pkg *x = a, *y = b;
	int c;

	c = strcmp(x->name, y->name);
	if (c == 0)
		c = strcmp(x->arch, y->arch);
	if (c == 0)
		c = -pt_rpmver_evr_cmp(x->version, y->version);
	return c;
}

static void
pkg_free(struct pt_pkg *p)
{
	free(p->name);
	free(p->arch);
	free(p->version);
	free(p->source);
	free(p->section);
	free(p->priority);
	free(p->installed_severity);
	pt_update_free(p->update);
	memset(p, 0, sizeof(*p));
}

/* Sort by name, arch and keep only the highest EVR of each name+arch. */
static void
sort_dedupe(struct pt_inventory *inv)
{
	size_t i, o = 0;

	if (inv->n_pkgs > 1)
		qsort(inv->pkgs, inv->n_pkgs, sizeof(*inv->pkgs), cmp_pkg);
	for (i = 0; i < inv->n_pkgs; i++) {
		if (o > 0 && strcmp(inv->pkgs[o - 1].name, inv->pkgs[i].name) == 0 &&
		    strcmp(inv->pkgs[o - 1].arch, inv->pkgs[i].arch) == 0) {
			pkg_free(&inv->pkgs[i]);
			continue;
		}
		if (o != i)
			inv->pkgs[o] = inv->pkgs[i];
		o++;
	}
	inv->n_pkgs = o;
}

static const char *const db_dirs[] = {
	"usr/lib/sysimage/rpm", "var/lib/rpm", "root/.rpmdb"
};

static const struct {
	const char *file;
	const char *backend;
} db_files[] = {
	{ "rpmdb.sqlite", "sqlite" },
	{ "Packages.db", "ndb" },
	{ "Packages", "bdb_ro" },
};

int
pt_rpm_find_db(const char *root, char **dbpath, const char **backend)
{
	char *rel, *path;
	size_t i, j;

	*dbpath = NULL;
	*backend = NULL;
	for (i = 0; i < sizeof(db_dirs) / sizeof(db_dirs[0]); i++) {
		for (j = 0; j < sizeof(db_files) / sizeof(db_files[0]); j++) {
			rel = join(db_dirs[i], db_files[j].file);
			if (rel == NULL)
				return DH_E_NOMEM;
			path = join(root, rel);
			free(rel);
			if (path == NULL)
				return DH_E_NOMEM;
			if (is_file(path)) {
				free(path);
				*dbpath = concat("/", db_dirs[i]);
				*backend = db_files[j].backend;
				return *dbpath != NULL ? DH_OK : DH_E_NOMEM;
			}
			free(path);
		}
	}
	return DH_E_NOTFOUND;
}

int
pt_rpm_scan(const char *root, struct pt_inventory *inv, struct dh_err *err)
{
	struct pt_rpm_md *md = NULL;
	const char *backend;
	char *dbpath = NULL;
	int rc;

	if (root == NULL || *root == '\0')
		root = "/";
	memset(inv, 0, sizeof(*inv));
	inv->family = PT_FAMILY_RPM;
	if (!is_dir(root)) {
		rc = dh_err_set(err, DH_E_NOTFOUND, "%s: not a directory", root);
		goto out;
	}
	rc = pt_rpm_find_db(root, &dbpath, &backend);
	if (rc == DH_E_NOTFOUND) {
		dh_err_set(err, rc, "%s: no rpm database (rpmdb.sqlite, "
		    "Packages.db or Packages under usr/lib/sysimage/rpm, "
		    "var/lib/rpm or root/.rpmdb)", root);
		goto out;
	}
	if (rc != DH_OK) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	rc = run_rpm_qa(root, dbpath, backend, inv, err);
	if (rc != DH_OK)
		goto out;
	sort_dedupe(inv);
	rc = read_os_release(root, inv);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "%s: reading os-release: %s", root,
		    dh_strerror(rc));
		goto out;
	}
	md = pt_rpm_md_new();
	if (md == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = pt_rpm_md_keep_only(md, inv, err);
	if (rc == DH_OK)
		rc = pt_rpm_md_load_root(md, root, NULL, err);
	if (rc == DH_OK)
		rc = pt_rpm_md_resolve(md, inv, err);
out:
	pt_rpm_md_free(md);
	free(dbpath);
	if (rc != DH_OK)
		pt_inventory_free(inv);
	return rc;
}
