/*
 * ag_fingerprint: hardware map collection from /proc and /sys, and the
 * similarity rule (see ag_fingerprint.h).
 */
#include "ag_fingerprint.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dh_enc.h"
#include "dh_hash.h"

#define FILE_MAX (256 * 1024)

static const char *const key_names[AG_HW_NKEYS] = {
	"machine-id", "hostname-info", "ipaddress-info", "macaddr-info",
	"disk-info", "processor-hash", "memory-hash", "bios-hash",
	"system-hash"
};

const char *
ag_fp_key_name(int k)
{
	if (k < 0 || k >= AG_HW_NKEYS)
		return NULL;
	return key_names[k];
}

int
ag_fp_key_index(const char *name)
{
	int k;

	for (k = 0; k < AG_HW_NKEYS; k++)
		if (strcmp(key_names[k], name) == 0)
			return k;
	return -1;
}

int
ag_fp_set(struct ag_hwmap *m, int k, const char *val)
{
	if (k < 0 || k >= AG_HW_NKEYS || val == NULL)
		return DH_E_ARG;
	snprintf(m->v[k], AG_HW_VALMAX, "%s", val);
	return DH_OK;
}

static void
path_join(char *out, size_t n, const char *root, const char *path)
{
	snprintf(out, n, "%s%s", root != NULL ? root : "", path);
}

/* Read at most FILE_MAX-1 bytes of root+path into a malloc'd NUL-terminated
 * string; NULL when unreadable. */
static char *
read_small(const char *root, const char *path)
{
	char p[PATH_MAX];
	FILE *f;
	char *d;
	size_t n;

	path_join(p, sizeof(p), root, path);
	f = fopen(p, "re");
	if (f == NULL)
		return NULL;
	d = malloc(FILE_MAX);
	if (d == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(d, 1, FILE_MAX - 1, f);
	fclose(f);
	d[n] = '\0';
	return d;
}

static void
trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* First line of a file, trimmed, into the map (left "" when unreadable). */
static void
probe_line(const char *root, const char *path, struct ag_hwmap *m, int k)
{
	char *d = read_small(root, path);
	char *nl;

	if (d == NULL)
		return;
	nl = strchr(d, '\n');
	if (nl != NULL)
		*nl = '\0';
	trim(d);
	(void)ag_fp_set(m, k, d);
	free(d);
}

static void
probe_machine_id(const char *root, struct ag_hwmap *m)
{
	probe_line(root, "/etc/machine-id", m, AG_HW_MACHINE_ID);
	if (m->v[AG_HW_MACHINE_ID][0] == '\0')
		probe_line(root, "/var/lib/dbus/machine-id", m,
		    AG_HW_MACHINE_ID);
}

/* Hash of the lines of root+path that start with one of the prefixes. */
static void
probe_hash_lines(const char *root, const char *path,
    const char *const *prefixes, struct ag_hwmap *m, int k)
{
	char *d = read_small(root, path);
	struct dh_sha256_ctx *c = NULL;
	unsigned char md[DH_SHA256_LEN];
	char *line, *next;
	int i, any = 0;

	if (d == NULL)
		return;
	c = dh_sha256_new();
	if (c == NULL)
		goto out;
	for (line = d; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (i = 0; prefixes[i] != NULL; i++) {
			if (strncmp(line, prefixes[i], strlen(prefixes[i])) ==
			    0) {
				dh_sha256_update(c, line, strlen(line));
				dh_sha256_update(c, "\n", 1);
				any = 1;
				break;
			}
		}
	}
	if (any) {
		dh_sha256_final(c, md);
		dh_hex_encode(md, 16, m->v[k]);
	}
out:
	dh_sha256_free(c);
	free(d);
}

/* Hash of several small files (each path, its first line) into key k. */
static void
probe_hash_files(const char *root, const char *const *paths,
    struct ag_hwmap *m, int k)
{
	struct dh_sha256_ctx *c = dh_sha256_new();
	unsigned char md[DH_SHA256_LEN];
	char *d;
	int i, any = 0;

	if (c == NULL)
		return;
	for (i = 0; paths[i] != NULL; i++) {
		d = read_small(root, paths[i]);
		if (d == NULL)
			continue;
		trim(d);
		dh_sha256_update(c, paths[i], strlen(paths[i]));
		dh_sha256_update(c, "=", 1);
		dh_sha256_update(c, d, strlen(d));
		dh_sha256_update(c, "\n", 1);
		any = 1;
		free(d);
	}
	if (any) {
		dh_sha256_final(c, md);
		dh_hex_encode(md, 16, m->v[k]);
	}
	dh_sha256_free(c);
}

static int
skip_dot(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Names (and link targets) of the entries of /dev/disk/by-uuid, sorted. */
static void
probe_disks(const char *root, struct ag_hwmap *m)
{
	char dir[PATH_MAX], p[PATH_MAX], target[PATH_MAX];
	struct dirent **ents = NULL;
	struct dh_sha256_ctx *c = NULL;
	unsigned char md[DH_SHA256_LEN];
	ssize_t tn;
	int i, n;

	path_join(dir, sizeof(dir), root, "/dev/disk/by-uuid");
	n = scandir(dir, &ents, skip_dot, alphasort);
	if (n <= 0)
		goto out;
	c = dh_sha256_new();
	if (c == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		dh_sha256_update(c, ents[i]->d_name, strlen(ents[i]->d_name));
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir,
		    ents[i]->d_name) >= sizeof(p))
			continue;
		tn = readlink(p, target, sizeof(target) - 1);
		if (tn > 0) {
			dh_sha256_update(c, "->", 2);
			dh_sha256_update(c, target, (size_t)tn);
		}
		dh_sha256_update(c, "\n", 1);
	}
	dh_sha256_final(c, md);
	dh_hex_encode(md, 16, m->v[AG_HW_DISK]);
out:
	dh_sha256_free(c);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

/* First interface (by name) other than lo with a non-zero MAC address. */
static void
probe_mac(const char *root, struct ag_hwmap *m)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct dirent **ents = NULL;
	char *d;
	int i, n;

	path_join(dir, sizeof(dir), root, "/sys/class/net");
	n = scandir(dir, &ents, skip_dot, alphasort);
	for (i = 0; i < n && m->v[AG_HW_MACADDR][0] == '\0'; i++) {
		if (strcmp(ents[i]->d_name, "lo") == 0)
			continue;
		if ((size_t)snprintf(p, sizeof(p), "/sys/class/net/%s/address",
		    ents[i]->d_name) >= sizeof(p))
			continue;
		d = read_small(root, p);
		if (d == NULL)
			continue;
		trim(d);
		if (d[0] != '\0' && strcmp(d, "00:00:00:00:00:00") != 0)
			(void)ag_fp_set(m, AG_HW_MACADDR, d);
		free(d);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

/* First non-loopback IPv4 address of an interface that is up. */
static void
probe_ip(struct ag_hwmap *m)
{
	struct ifaddrs *ifa = NULL, *it;
	char txt[INET_ADDRSTRLEN];
	const struct sockaddr_in *sin;

	if (getifaddrs(&ifa) != 0)
		return;
	for (it = ifa; it != NULL; it = it->ifa_next) {
		if (it->ifa_addr == NULL || it->ifa_addr->sa_family != AF_INET)
			continue;
		if ((it->ifa_flags & IFF_LOOPBACK) != 0 ||
		    (it->ifa_flags & IFF_UP) == 0)
			continue;
		sin = (const struct sockaddr_in *)(const void *)it->ifa_addr;
		if (inet_ntop(AF_INET, &sin->sin_addr, txt, sizeof(txt)) ==
		    NULL)
			continue;
		(void)ag_fp_set(m, AG_HW_IPADDRESS, txt);
		break;
	}
	freeifaddrs(ifa);
}

void
ag_fp_collect(const char *root, struct ag_hwmap *out)
{
	static const char *const cpu[] = { "vendor_id", "model name",
		"cpu family", "physical id", NULL };
	static const char *const mem[] = { "MemTotal:", NULL };
	static const char *const bios[] = { "/sys/class/dmi/id/bios_vendor",
		"/sys/class/dmi/id/bios_version",
		"/sys/class/dmi/id/bios_date", NULL };
	static const char *const sys[] = { "/sys/class/dmi/id/sys_vendor",
		"/sys/class/dmi/id/product_name",
		"/sys/class/dmi/id/product_uuid",
		"/sys/class/dmi/id/board_vendor",
		"/sys/class/dmi/id/board_name", NULL };

	memset(out, 0, sizeof(*out));
	probe_machine_id(root, out);
	probe_line(root, "/proc/sys/kernel/hostname", out, AG_HW_HOSTNAME);
	if (out->v[AG_HW_HOSTNAME][0] == '\0' &&
	    (root == NULL || root[0] == '\0')) {
		if (gethostname(out->v[AG_HW_HOSTNAME], AG_HW_VALMAX - 1) != 0)
			out->v[AG_HW_HOSTNAME][0] = '\0';
	}
	probe_ip(out);
	probe_mac(root, out);
	probe_disks(root, out);
	probe_hash_lines(root, "/proc/cpuinfo", cpu, out, AG_HW_PROCESSOR);
	probe_hash_lines(root, "/proc/meminfo", mem, out, AG_HW_MEMORY);
	probe_hash_files(root, bios, out, AG_HW_BIOS);
	probe_hash_files(root, sys, out, AG_HW_SYSTEM);
}

int
ag_fp_matches(const struct ag_hwmap *a, const struct ag_hwmap *b)
{
	int k, n = 0;

	for (k = 0; k < AG_HW_NKEYS; k++)
		if (strcmp(a->v[k], b->v[k]) == 0)
			n++;
	return n;
}

int
ag_fp_similar(const struct ag_hwmap *saved, const struct ag_hwmap *current,
    int threshold, char *why, size_t whysz)
{
	int match, pct, k;

	if (threshold < 0)
		return 1;
	if (strcmp(saved->v[AG_HW_MACHINE_ID],
	    current->v[AG_HW_MACHINE_ID]) != 0) {
		if (why != NULL)
			snprintf(why, whysz, "machine-id changed");
		return 0;
	}
	match = ag_fp_matches(saved, current);
	/* The IP address never counts against the machine: score the other
	 * eight values, so an IP change alone keeps the identity. */
	if (strcmp(saved->v[AG_HW_IPADDRESS], current->v[AG_HW_IPADDRESS]) != 0)
		match++;
	pct = match * 100 / AG_HW_NKEYS;
	if (pct >= threshold)
		return 1;
	if (why != NULL) {
		size_t used;

		used = (size_t)snprintf(why, whysz,
		    "only %d%% of hardware values match (threshold %d%%);"
		    " changed:", pct, threshold);
		for (k = 0; k < AG_HW_NKEYS && used < whysz; k++) {
			if (strcmp(saved->v[k], current->v[k]) != 0)
				used += (size_t)snprintf(why + used,
				    whysz - used, " %s", key_names[k]);
		}
	}
	return 0;
}
