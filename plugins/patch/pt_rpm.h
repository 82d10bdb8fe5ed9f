/*
 * pt_rpm: the RPM-family package scanner (Amazon Linux, RHEL, Rocky, SLES).
 * The installed set comes from the root's rpm database through
 * `rpm --root ROOT --dbpath ... -qa --queryformat ...` (fork/execve, no
 * shell, output read with a bounded line parser).  The available set and the
 * advisories come from the dnf/yum repository caches under the root
 * (var/cache/dnf/<repo>/repodata, var/cache/yum/.../<repo>, libdnf5 and zypp
 * raw caches): repomd.xml names primary.xml and updateinfo.xml, which are
 * decompressed streaming with libarchive (plain, gz, bz2, xz, zst) and
 * parsed streaming with expat (DOCTYPE and entity declarations refused, the
 * parser's heap capped).  yum caches holding only primary_db are read with
 * SQLite (a compressed copy goes through a private temporary file).
 *
 * For every installed name+arch the candidate is the highest EVR (rpm
 * ordering, pt_rpmver) among available packages of the same name and a
 * compatible arch (same arch, noarch on the candidate side, or an installed
 * noarch turning into an arch the root has installed) that is newer than
 * the installed one; x86_64 and i686 never mix.  The update inherits, among
 * the advisories listing a version in (installed, candidate] for that
 * name+arch, the most important one: type (security > bugfix > enhancement
 * > recommended > newpackage > other), then severity, then the one naming
 * the candidate exactly, then the later date.  From it: classification,
 * severity, id, security flag and release_time (later of issued/updated;
 * the candidate's build time when no advisory applies).  CVE ids, Bugzilla
 * ids (<reference type="bugzilla" id=...>, at most 10000 per advisory, each
 * at most PT_RPM_MAX_ATTR bytes) and reboot_suggested are collected from all
 * of those advisories; the update's arch is the candidate's.  A package is
 * installed_security when a Security advisory lists its installed EVR for
 * the same (or a compatible) arch; filtered metadata sets therefore keep
 * advisory entries at the lowest installed EVR.
 *
 * The parsing entry points are exported for tests and fuzzing.
 */
#ifndef PT_RPM_H
#define PT_RPM_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "pt_model.h"

/* Ceilings applied to untrusted metadata. */
#define PT_RPM_MAX_ATTR 4096          /* one XML attribute or text value */
#define PT_RPM_MAX_PKGS 2000000       /* available packages kept per scan */
#define PT_RPM_MAX_LINE 8192          /* one line of rpm -qa output */

/* Scan the RPM root at root ("/" for this host; NULL means "/") into inv
 * (zeroed by the caller; on success the caller frees it with
 * pt_inventory_free; on error inv is left empty).  Sets family, os-release
 * fields, product and pkgs sorted by name then arch, with update filled
 * where a newer candidate exists.  DH_E_NOTFOUND when the root has no rpm
 * database; DH_E_FORMAT for malformed metadata (the file is named in err). */
int pt_rpm_scan(const char *root, struct pt_inventory *inv, struct dh_err *err);

/* Opaque accumulated repository metadata (available packages + advisories). */
struct pt_rpm_md;

/* Allocate an empty metadata set; returns NULL on allocation failure. */
struct pt_rpm_md *pt_rpm_md_new(void);

/* Free a metadata set (NULL is fine). */
void pt_rpm_md_free(struct pt_rpm_md *md);

/* Parse one primary.xml document (already decompressed, n bytes at p) for
 * repository repo_id into md.  DH_E_FORMAT on malformed XML, DOCTYPE or
 * entity declarations; DH_E_TOOBIG past the ceilings above. */
int pt_rpm_md_parse_primary(struct pt_rpm_md *md, const char *repo_id,
    const void *p, size_t n, struct dh_err *err);

/* Parse one updateinfo.xml document (decompressed) into md.  Same errors. */
int pt_rpm_md_parse_updateinfo(struct pt_rpm_md *md, const void *p, size_t n,
    struct dh_err *err);

/* Parse a repomd.xml document and return (caller frees) the location hrefs
 * of its primary and updateinfo data (either may come back NULL when the
 * type is absent).  Same errors. */
int pt_rpm_md_parse_repomd(const void *p, size_t n, char **primary_href,
    char **updateinfo_href, struct dh_err *err);

/* Read one metadata file (any compression libarchive's raw format reads)
 * streaming into md: kind is "primary" or "updateinfo". */
int pt_rpm_md_load_file(struct pt_rpm_md *md, const char *kind,
    const char *repo_id, const char *path, struct dh_err *err);

/* Restrict md to the names installed in inv: from now on only packages and
 * advisory entries with those names are kept (what bounds a scan's memory). */
int pt_rpm_md_keep_only(struct pt_rpm_md *md, const struct pt_inventory *inv,
    struct dh_err *err);

/* Load every repository cache under root (var/cache/dnf/<repo>/repodata,
 * var/cache/libdnf5, var/cache/yum/.../<repo>, var/cache/zypp/raw/<alias>)
 * into md, in repository-id order; *n_repos (may be NULL) gets the number
 * of cache directories found.  A repository whose primary file is missing
 * is skipped; an unreadable or malformed file fails with its path in err. */
int pt_rpm_md_load_root(struct pt_rpm_md *md, const char *root,
    size_t *n_repos, struct dh_err *err);

/* Number of available packages and advisories held by md. */
size_t pt_rpm_md_n_pkgs(const struct pt_rpm_md *md);
size_t pt_rpm_md_n_advisories(const struct pt_rpm_md *md);

/* Fill the update of every package of inv (family RPM, pkgs set) from md:
 * candidate choice and advisory inheritance as described above. */
int pt_rpm_md_resolve(const struct pt_rpm_md *md, struct pt_inventory *inv,
    struct dh_err *err);

/* Seconds since the epoch (UTC) of an updateinfo/primary date: all-digit
 * epoch seconds, "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS"
 * (anything after that is ignored); 0 when unparsable. */
int64_t pt_rpm_parse_date(const char *s);

/* Locate the rpm database under root: *dbpath (caller frees) is the
 * directory as seen inside the root ("/var/lib/rpm"...), *backend the
 * rpm _db_backend for it (static string: sqlite, ndb, bdb_ro).
 * DH_E_NOTFOUND when there is none. */
int pt_rpm_find_db(const char *root, char **dbpath, const char **backend);

/* Parse `rpm -qa` output in the queryformat pt_rpm_scan uses (one package
 * per line: NAME ARCH EPOCHNUM VERSION RELEASE INSTALLTIME SOURCERPM, fields
 * separated by TAB) from n bytes at p into inv->pkgs (appended, unsorted). */
int pt_rpm_parse_qa(const void *p, size_t n, struct pt_inventory *inv,
    struct dh_err *err);

#endif
