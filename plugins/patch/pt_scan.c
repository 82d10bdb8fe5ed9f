/*
 * pt_scan: family detection, os-release and the Debian scan that joins the
 * installed set (pt_dpkg) with apt's candidates (pt_apt) into the shared
 * inventory model (see pt_scan.h).
 */
#include "pt_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_apt.h"
#include "pt_dpkg.h"
#include "pt_rpm.h"

#define OSREL_MAX (64u * 1024)
#define PATH_LEN 4096

struct osrel {
	char *id, *id_like, *version_id, *codename;
};

static void
osrel_free(struct osrel *o)
{
	free(o->id);
	free(o->id_like);
	free(o->version_id);
	free(o->codename);
	memset(o, 0, sizeof(*o));
}

/* Unquote an os-release value in place ("x", 'x' or bare; \ escapes). */
static void
unquote(char *v)
{
	char *r = v, *w = v, q = 0;

	if (*r == '"' || *r == '\'')
		q = *r++;
	for (; *r != '\0'; r++) {
		if (q != 0 && *r == q)
			break;
		if (q == '"' && *r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
}

static int
read_osrel(const char *root, struct osrel *o, struct dh_err *err)
{
	static const char *const names[] = { "etc/os-release",
		"usr/lib/os-release" };
	char path[PATH_LEN], buf[OSREL_MAX + 1];
	size_t len = 0, i;
	ssize_t r;
	int fd = -1;
	char *line, *save = NULL;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < 2 && fd < 0; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", root, names[i]);

		if (n < 0 || (size_t)n >= sizeof(path))
			return dh_err_set(err, DH_E_TOOBIG, "root path too long");
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return DH_E_NOTFOUND;
	while (len < OSREL_MAX) {
		r = read(fd, buf + len, OSREL_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), **dst = NULL;

		if (eq == NULL || line[0] == '#')
			continue;
		*eq = '\0';
		if (strcmp(line, "ID") == 0)
			dst = &o->id;
		else if (strcmp(line, "ID_LIKE") == 0)
			dst = &o->id_like;
		else if (strcmp(line, "VERSION_ID") == 0)
			dst = &o->version_id;
		else if (strcmp(line, "VERSION_CODENAME") == 0)
			dst = &o->codename;
		if (dst == NULL || *dst != NULL)
			continue;
		unquote(eq + 1);
		*dst = strdup(eq + 1);
		if (*dst == NULL) {
			osrel_free(o);
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		}
	}
	return DH_OK;
}

static int
word_in(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p = strchr(p, ' ');
	}
	return 0;
}

static int
deb_like(const struct osrel *o)
{
	return (o->id != NULL && (strcmp(o->id, "debian") == 0 ||
	    strcmp(o->id, "ubuntu") == 0 || strcmp(o->id, "raspbian") == 0)) ||
	    (o->id_like != NULL && (word_in(o->id_like, "debian") ||
	    word_in(o->id_like, "ubuntu")));
}

static int
rpm_like(const struct osrel *o)
{
	static const char *const ids[] = { "amzn", "rhel", "centos", "rocky",
		"almalinux", "ol", "fedora", "sles", "sled", "opensuse-leap",
		"suse", NULL };
	int i;

	for (i = 0; o->id != NULL && ids[i] != NULL; i++)
		if (strcmp(o->id, ids[i]) == 0)
			return 1;
	return o->id_like != NULL && (word_in(o->id_like, "rhel") ||
	    word_in(o->id_like, "fedora") || word_in(o->id_like, "suse") ||
	    word_in(o->id_like, "centos"));
}

int
pt_scan_product(const char *os_id, const char *version_id, char *buf,
    size_t n)
{
	static const struct {
		const char *id, *product;
	} map[] = {
		{ "debian", "Debian" }, { "ubuntu", "Ubuntu" },
		{ "raspbian", "Raspbian" },
	};
	size_t i;
	int w;

	if (os_id == NULL || version_id == NULL || *version_id == '\0')
		return DH_E_NOTFOUND;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(os_id, map[i].id) == 0) {
			w = snprintf(buf, n, "%s%s", map[i].product,
			    version_id);
			return w < 0 || (size_t)w >= n ? DH_E_TOOBIG : DH_OK;
		}
	return DH_E_NOTFOUND;
}

static int
file_exists(const char *root, const char *rel)
{
	char path[PATH_LEN];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);

	return n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0;
}

/* run/reboot-required, or var/run/reboot-required when var/run is a real
 * directory (a symlink to /run would point outside a non-/ root). */
static int
reboot_required(const char *root)
{
	char path[PATH_LEN];
	struct stat st;
	int n;

	if (file_exists(root, "run/reboot-required"))
		return 1;
	n = snprintf(path, sizeof(path), "%s/var/run", root);
	if (n < 0 || (size_t)n >= sizeof(path) || lstat(path, &st) != 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	return file_exists(root, "var/run/reboot-required");
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct prog {
	pt_scan_progress_fn fn;
	void *ctx;
};

static void
apt_progress(void *ctx, const char *file, size_t done, size_t total)
{
	struct prog *p = ctx;

	p->fn(p->ctx, file, done, total);
}

/* Move db/apt results into inv (and extras). */
static int
fill_deb(struct pt_inventory *inv, struct pt_dpkg *db, struct pt_apt *apt,
    struct pt_scan_extra **extra, struct dh_err *err)
{
	struct pt_scan_extra *ex = NULL;
	size_t i;

	inv->pkgs = calloc(db->n ? db->n : 1, sizeof(*inv->pkgs));
	if (extra != NULL)
		ex = calloc(db->n ? db->n : 1, sizeof(*ex));
	if (inv->pkgs == NULL || (extra != NULL && ex == NULL)) {
		free(ex);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	inv->n_pkgs = db->n;
	for (i = 0; i < db->n; i++) {
		struct pt_dpkg_pkg *d = &db->pkgs[i];
		struct pt_pkg *p = &inv->pkgs[i];
		struct pt_apt_cand *c = &apt->cands[i];
		struct pt_update *u;

		p->name = d->name;
		p->arch = d->arch;
		p->version = d->version;
		p->source = d->source;
		p->section = d->section;
		p->priority = d->priority;
		p->held = d->held;
		p->installed_time = d->installed_time;
		p->installed_security = c->installed_security;
		memset(d, 0, sizeof(*d));
		if (c->version == NULL)
			continue;
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			goto nomem;
		u->version = c->version;
		u->arch = c->arch;
		u->repository = c->repository;
		u->section = c->section;
		u->priority = c->priority;
		u->security = c->security;
		c->version = c->arch = c->repository = NULL;
		c->section = c->priority = NULL;
		p->update = u;
		if (ex != NULL) {
			ex[i].archives = c->archives;
			ex[i].pin = c->pin;
			c->archives = NULL;
		}
	}
	db->n = 0;
	if (extra != NULL)
		*extra = ex;
	return DH_OK;
nomem:
	pt_scan_extra_free(ex, db->n);
	return dh_err_set(err, DH_E_NOMEM, "out of memory");
}

static int
scan_deb(const char *root, struct pt_inventory *inv,
    struct pt_scan_extra **extra, struct pt_scan_stats *stats,
    pt_scan_progress_fn progress, void *progress_ctx, struct dh_err *err)
{
	struct pt_dpkg db;
	struct pt_apt apt;
	struct prog pg = { progress, progress_ctx };
	int rc;

	memset(&apt, 0, sizeof(apt));
	rc = pt_dpkg_load(root, &db, err);
	if (rc != DH_OK)
		return rc;
	rc = pt_apt_scan(root, &db, &apt, progress ? apt_progress : NULL, &pg,
	    err);
	if (rc != DH_OK)
		goto out;
	if (stats != NULL) {
		stats->n_lists = apt.n_lists;
		stats->n_stanzas = apt.n_stanzas;
		stats->n_records = db.n_records;
	}
	rc = fill_deb(inv, &db, &apt, extra, err);
out:
	pt_apt_free(&apt);
	pt_dpkg_free(&db);
	return rc;
}

int
pt_scan_root_ex(const char *root, struct pt_inventory *inv,
    struct pt_scan_extra **extra, struct pt_scan_stats *stats,
    pt_scan_progress_fn progress, void *progress_ctx, struct dh_err *err)
{
	struct osrel o;
	char product[128];
	int rc, deb;

	if (extra != NULL)
		*extra = NULL;
	if (stats != NULL)
		memset(stats, 0, sizeof(*stats));
	if (root == NULL || strcmp(root, "/") == 0)
		root = "";
	rc = read_osrel(root, &o, err);
	if (rc != DH_OK && rc != DH_E_NOTFOUND)
		return rc;
	deb = file_exists(root, "var/lib/dpkg/status") &&
	    (deb_like(&o) || !rpm_like(&o));
	if (!deb) {
		osrel_free(&o);
		rc = pt_rpm_scan(*root ? root : "/", inv, err);
		if (rc == DH_E_NOTFOUND && err != NULL)
			dh_err_set(err, rc, "%s: no dpkg or rpm database",
			    *root ? root : "/");
		if (rc == DH_OK && extra != NULL) {
			*extra = calloc(inv->n_pkgs ? inv->n_pkgs : 1,
			    sizeof(**extra));
			if (*extra == NULL) {
				pt_inventory_free(inv);
				return dh_err_set(err, DH_E_NOMEM,
				    "out of memory");
			}
		}
		return rc;
	}
	inv->family = PT_FAMILY_DEB;
	inv->os_id = dup_or_null(o.id);
	inv->os_version = dup_or_null(o.version_id);
	inv->os_codename = dup_or_null(o.codename);
	if (pt_scan_product(o.id, o.version_id, product, sizeof(product)) ==
	    DH_OK)
		inv->product = strdup(product);
	inv->reboot_required = reboot_required(root);
	if ((o.id && !inv->os_id) || (o.version_id && !inv->os_version) ||
	    (o.codename && !inv->os_codename)) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = scan_deb(*root ? root : "/", inv, extra, stats, progress,
	    progress_ctx, err);
out:
	osrel_free(&o);
	if (rc != DH_OK)
		pt_inventory_free(inv);
	return rc;
}

int
pt_scan_root(const char *root, struct pt_inventory *inv,
    pt_scan_progress_fn progress, void *progress_ctx, struct dh_err *err)
{
	return pt_scan_root_ex(root, inv, NULL, NULL, progress, progress_ctx,
	    err);
}

void
pt_scan_extra_free(struct pt_scan_extra *extra, size_t n)
{
	size_t i;

	for (i = 0; extra != NULL && i < n; i++)
		free(extra[i].archives);
	free(extra);
}
