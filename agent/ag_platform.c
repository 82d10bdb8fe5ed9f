/*
 * ag_platform: os-release parsing and host facts for the heartbeat (see
 * ag_platform.h).
 */
#include "ag_platform.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag_fingerprint.h"

/* Decode one value v[0..n) into out[outsz] (truncating). */
static int
unquote(const char *v, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0;
	char q = 0;

	if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
		q = v[0];
		i = 1;
	}
	for (; i < n; i++) {
		char c = v[i];

		if (q != 0 && c == q) {
			q = 0;
			break;
		}
		if (q == '"' && c == '\\' && i + 1 < n)
			c = v[++i];
		if (o + 1 < outsz)
			out[o++] = c;
	}
	out[o] = '\0';
	return q == 0 ? DH_OK : DH_E_FORMAT;
}

int
ag_platform_parse_os_release(const void *p, size_t n,
    struct ag_platform *pl, struct dh_err *err)
{
	const char *s = p, *end = s + n, *line, *eol, *eq;
	size_t lineno = 0;
	char *dst;
	size_t dstsz;

	if (n > AG_OSREL_MAX)
		return dh_err_set(err, DH_E_TOOBIG,
		    "os-release larger than %d bytes", AG_OSREL_MAX);
	if (memchr(p, '\0', n) != NULL)
		return dh_err_set(err, DH_E_FORMAT, "os-release has a NUL byte");
	for (line = s; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		lineno++;
		while (line < eol && (*line == ' ' || *line == '\t'))
			line++;
		if (line == eol || *line == '#')
			continue;
		eq = memchr(line, '=', (size_t)(eol - line));
		if (eq == NULL)
			continue;
		if ((size_t)(eq - line) == 4 && memcmp(line, "NAME", 4) == 0) {
			dst = pl->name;
			dstsz = sizeof(pl->name);
		} else if ((size_t)(eq - line) == 10 &&
		    memcmp(line, "VERSION_ID", 10) == 0) {
			dst = pl->version;
			dstsz = sizeof(pl->version);
		} else
			continue;
		{
			size_t vn = (size_t)(eol - eq - 1);

			while (vn > 0 && (eq[vn] == '\r' || eq[vn] == ' ' ||
			    eq[vn] == '\t'))
				vn--;
			if (unquote(eq + 1, vn, dst, dstsz) != DH_OK)
				return dh_err_set(err, DH_E_FORMAT,
				    "os-release line %zu: unterminated quote",
				    lineno);
		}
		if (eol == end)
			break;
	}
	return DH_OK;
}

static int
load_os_release(const char *root, const char *path, struct ag_platform *pl)
{
	char p[PATH_MAX];
	char *d;
	size_t n;
	FILE *f;
	int rc = DH_E_IO;

	snprintf(p, sizeof(p), "%s%s", root != NULL ? root : "", path);
	f = fopen(p, "re");
	if (f == NULL)
		return rc;
	d = malloc(AG_OSREL_MAX);
	if (d != NULL) {
		n = fread(d, 1, AG_OSREL_MAX, f);
		rc = ag_platform_parse_os_release(d, n, pl, NULL);
		free(d);
	}
	fclose(f);
	return rc;
}

void
ag_platform_collect(const char *root, struct ag_platform *pl)
{
	struct ag_hwmap hw;

	memset(pl, 0, sizeof(*pl));
	snprintf(pl->name, sizeof(pl->name), "Linux");
	if (load_os_release(root, "/etc/os-release", pl) != DH_OK)
		(void)load_os_release(root, "/usr/lib/os-release", pl);
	if (gethostname(pl->hostname, sizeof(pl->hostname) - 1) != 0)
		pl->hostname[0] = '\0';
	ag_fp_collect(root, &hw);
	snprintf(pl->ip, sizeof(pl->ip), "%s", hw.v[AG_HW_IPADDRESS]);
}
