/*
 * cli_scan: "deckhand scan" (see cli_scan.h).  Scans with pt_scan_root_ex,
 * shows a one-line progress indicator on stderr when stderr is a terminal,
 * picks the baseline (--baseline FILE, --baseline-id of a predefined one, or
 * the predefined default for the scanned OS), evaluates it with
 * pt_baseline_eval and renders the result with pt_report.
 */
#include "cli_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"
#include "pt_baseline.h"
#include "pt_model.h"
#include "pt_report.h"
#include "pt_scan.h"

enum { FMT_TABLE = 0, FMT_JSON };

struct opts {
	const char *root;
	const char *baseline_file;
	const char *baseline_id;
	int format;
	int all;
	int upgradable;
	int inventory;
	int quiet;
};

void
cli_scan_usage(void)
{
	printf(
"usage: deckhand scan [--root DIR] [--baseline FILE | --baseline-id ID]\n"
"           [--format table|json] [--all] [--quiet]\n"
"       deckhand scan --upgradable [--root DIR] [--format table|json]\n"
"       deckhand scan --inventory [--root DIR]\n"
"\n"
"Scans the installed packages of this host (or of the root filesystem DIR)\n"
"and their available updates -- dpkg status and apt lists on Debian and\n"
"Ubuntu, the rpm database and dnf/yum caches on RPM systems -- then\n"
"evaluates them against a patch baseline and prints the compliance result.\n"
"\n"
"  --baseline FILE    baseline JSON (CreatePatchBaseline/BaselineOverride shape)\n"
"  --baseline-id ID   a predefined AWS baseline by name, pb- id or ARN\n"
"                     (default: the predefined baseline for the scanned OS)\n"
"  --format F         table (default) or json\n"
"  --all              table: list every package, not only missing/installed\n"
"  --upgradable       list the upgradable set like 'apt list --upgradable'\n"
"                     (name/archives version arch [upgradable from: old]),\n"
"                     security updates marked with [security] in the table\n"
"  --inventory        print the scanned inventory as JSON\n"
"  --quiet            no progress line on stderr\n"
"\n"
"exit status: 0 compliant, 1 non-compliant, 2 error\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "baseline-id", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "upgradable", no_argument, NULL, 'u' },
		{ "inventory", no_argument, NULL, 'I' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:b:i:f:auIqh", lopts,
	    NULL)) != -1) {
		switch (c) {
		case 'r': o->root = optarg; break;
		case 'b': o->baseline_file = optarg; break;
		case 'i': o->baseline_id = optarg; break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				o->format = FMT_TABLE;
			else if (strcmp(optarg, "json") == 0)
				o->format = FMT_JSON;
			else {
				fprintf(stderr, "deckhand scan: --format must "
				    "be table or json\n");
				return -1;
			}
			break;
		case 'a': o->all = 1; break;
		case 'u': o->upgradable = 1; break;
		case 'I': o->inventory = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': cli_scan_usage(); return 1;
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "deckhand scan: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	if (o->baseline_file != NULL && o->baseline_id != NULL) {
		fprintf(stderr, "deckhand scan: --baseline and --baseline-id "
		    "are exclusive\n");
		return -1;
	}
	return 0;
}

static void
progress(void *ctx, const char *what, size_t done, size_t total)
{
	if (what == NULL) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	fprintf(stderr, "\r\033[Kscanning: index %zu/%zu %.60s", done + 1,
	    total, what);
	fflush(stderr);
}

static int
read_file(const char *path, struct dh_buf *b, struct dh_err *err)
{
	char chunk[65536];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = DH_OK;

	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "%s: %s", path, strerror(errno));
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = dh_err_set(err, DH_E_IO, "%s: %s", path,
			    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (dh_buf_put(b, chunk, (size_t)r) != DH_OK) {
			rc = dh_err_set(err, DH_E_TOOBIG,
			    "%s: larger than %zu bytes", path, b->max);
			break;
		}
	}
	close(fd);
	return rc;
}

static int
load_baseline(const struct opts *o, const struct pt_inventory *inv,
    struct pt_baseline *b, struct dh_err *err)
{
	struct dh_buf buf;
	enum pt_os os;
	int rc;

	if (o->baseline_file != NULL) {
		dh_buf_init(&buf, PT_BL_MAX_JSON);
		rc = read_file(o->baseline_file, &buf, err);
		if (rc == DH_OK) {
			rc = pt_baseline_parse(buf.d, buf.len, b, err);
			if (rc != DH_OK)
				dh_err_wrap(err, rc, "%s", o->baseline_file);
		}
		dh_buf_free(&buf);
		return rc;
	}
	if (o->baseline_id != NULL)
		return pt_baseline_default_by_id(o->baseline_id, b, err);
	rc = pt_os_of_inventory(inv, &os);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "unknown operating system '%s' "
		    "(use --baseline)", inv->os_id ? inv->os_id : "?");
	return pt_baseline_default_for_os(os, b, err);
}

static int
json_str(cJSON *o, const char *k, const char *v)
{
	return (v == NULL ? cJSON_AddNullToObject(o, k) :
	    cJSON_AddStringToObject(o, k, v)) != NULL ? 0 : -1;
}

/* The upgradable set, apt-list style or as a JSON array. */
static int
print_upgradable(const struct pt_inventory *inv,
    const struct pt_scan_extra *ex, int format, struct dh_buf *out)
{
	cJSON *arr = NULL;
	size_t i;
	int rc = DH_OK;

	if (format == FMT_JSON) {
		arr = cJSON_CreateArray();
		if (arr == NULL)
			return DH_E_NOMEM;
	}
	for (i = 0; i < inv->n_pkgs && rc == DH_OK; i++) {
		const struct pt_pkg *p = &inv->pkgs[i];
		const char *arch = p->update != NULL &&
		    p->update->arch != NULL ? p->update->arch : p->arch;
		const char *archives = ex != NULL && ex[i].archives != NULL ?
		    ex[i].archives : (p->update && p->update->repository ?
		    p->update->repository : "");
		cJSON *o;

		if (p->update == NULL)
			continue;
		if (arr == NULL) {
			rc = dh_buf_printf(out, "%s/%s %s %s [upgradable from: "
			    "%s]%s\n", p->name, archives, p->update->version,
			    arch, p->version,
			    p->update->security ? " [security]" : "");
			continue;
		}
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    json_str(o, "name", p->name) ||
		    json_str(o, "arch", arch) ||
		    json_str(o, "installed_arch", p->arch) ||
		    json_str(o, "installed", p->version) ||
		    json_str(o, "version", p->update->version) ||
		    json_str(o, "archives", archives) ||
		    json_str(o, "repository", p->update->repository) ||
		    json_str(o, "section", p->update->section) ||
		    json_str(o, "priority", p->update->priority) ||
		    json_str(o, "severity", p->update->severity) ||
		    json_str(o, "classification", p->update->classification) ||
		    !cJSON_AddBoolToObject(o, "security", p->update->security))
			rc = DH_E_NOMEM;
	}
	if (arr != NULL) {
		if (rc == DH_OK)
			rc = dh_json_print(arr, out);
		if (rc == DH_OK)
			rc = dh_buf_put_str(out, "\n");
		cJSON_Delete(arr);
	}
	return rc;
}

static int
write_out(const struct dh_buf *out)
{
	if (out->len > 0 && fwrite(out->d, 1, out->len, stdout) != out->len)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

int
cli_scan_main(int argc, char **argv)
{
	struct pt_inventory inv;
	struct pt_scan_extra *ex = NULL;
	struct pt_baseline b;
	struct pt_eval_result res;
	struct dh_buf out;
	struct dh_err err;
	struct opts o;
	cJSON *j = NULL;
	int rc, status = 2, have_b = 0, have_res = 0;

	memset(&inv, 0, sizeof(inv));
	memset(&b, 0, sizeof(b));
	memset(&res, 0, sizeof(res));
	dh_err_clear(&err);
	dh_buf_init(&out, 256u * 1024 * 1024);
	rc = parse_opts(argc, argv, &o);
	if (rc != 0) {
		status = rc > 0 ? 0 : 2;
		goto out;
	}
	rc = pt_scan_root_ex(o.root, &inv, &ex, NULL,
	    !o.quiet && isatty(STDERR_FILENO) ? progress : NULL, NULL, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand scan: %s\n", err.msg);
		goto out;
	}
	if (o.upgradable || o.inventory) {
		if (o.inventory) {
			rc = pt_report_inventory_to_json(&inv, &j, &err);
			if (rc == DH_OK)
				rc = dh_json_print(j, &out);
			if (rc == DH_OK)
				rc = dh_buf_put_str(&out, "\n");
		} else {
			rc = print_upgradable(&inv, ex, o.format, &out);
		}
		if (rc != DH_OK) {
			fprintf(stderr, "deckhand scan: %s\n", err.msg[0] ?
			    err.msg : dh_strerror(rc));
			goto out;
		}
		status = write_out(&out) == 0 ? 0 : 2;
		goto out;
	}
	rc = load_baseline(&o, &inv, &b, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand scan: baseline: %s\n", err.msg);
		goto out;
	}
	have_b = 1;
	rc = pt_baseline_eval(&b, &inv, (int64_t)time(NULL), &res, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand scan: %s\n", err.msg);
		goto out;
	}
	have_res = 1;
	if (o.format == FMT_JSON)
		rc = pt_report_render_json(&res, &out, &err);
	else
		rc = pt_report_render_table(&res, o.all, &out, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand scan: %s\n", err.msg);
		goto out;
	}
	if (write_out(&out) != 0) {
		fprintf(stderr, "deckhand scan: writing output: %s\n",
		    strerror(errno));
		goto out;
	}
	status = res.compliant ? 0 : 1;
out:
	cJSON_Delete(j);
	if (have_res)
		pt_eval_result_free(&res);
	if (have_b)
		pt_baseline_free(&b);
	pt_scan_extra_free(ex, inv.n_pkgs);
	pt_inventory_free(&inv);
	dh_buf_free(&out);
	return status;
}
