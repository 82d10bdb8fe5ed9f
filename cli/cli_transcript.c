/*
 * cli_transcript: operator commands for session transcripts.
 *
 *  verify  FILE.dtr | spool session DIR | s3://bucket/key.dtr: walk the
 *          record chain (ss_verify), print a summary and every finding
 *          (gaps, reordering, removed or modified records, bad seal),
 *          exit 0 when chain and seal are intact, 1 when not, 2 when the
 *          input cannot be read.
 *  play    FILE.cast[.gz]: replay the output events of an asciicast v2
 *          recording on the terminal (--speed, --idle-limit).
 *  export  FILE.cast[.gz] | FILE.dtr: the output stream as cleaned text
 *          (default) or, with --raw, byte-exact.
 *
 * S3 access uses the usual AWS_* environment variables for credentials,
 * --endpoint-url (or AWS_ENDPOINT_URL), --region and --ca.
 */
#include "cli_transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "dh_aws.h"
#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "dh_http.h"
#include "ss_ansi.h"
#include "ss_cast.h"
#include "ss_record.h"
#include "ss_spool.h"

#define INPUT_MAX (2048u * 1024 * 1024)

struct topts {
	const char *endpoint;
	const char *region;
	const char *ca;
	struct dh_buf key;
	double speed;
	double idle_limit;
	int raw;
	int quiet;
};

void
cli_transcript_usage(void)
{
	printf(
"usage: deckhand transcript verify [--key HEX] [--endpoint-url URL]\n"
"           [--region R] [--ca FILE] [--quiet] FILE.dtr|DIR|s3://BUCKET/KEY\n"
"       deckhand transcript play [--speed X] [--idle-limit SECONDS]\n"
"           FILE.cast[.gz]\n"
"       deckhand transcript export [--raw] FILE.cast[.gz]|FILE.dtr\n"
"\n"
"verify: checks the hash chain of a transcript record stream (the .dtr\n"
"object stored next to the recording, or a session directory of the agent's\n"
"spool): sequence numbers, every record's SHA-256 link, the seal's counts\n"
"and last link and, with --key, the seal's HMAC.  Every gap, reordered,\n"
"removed, inserted or modified record is named by its sequence number.\n"
"Exit status 0 = intact and sealed, 1 = damaged or unsealed, 2 = unreadable.\n"
"\n"
"play: replays the output of an asciicast v2 recording in real time,\n"
"divided by --speed (default 1); pauses longer than --idle-limit seconds\n"
"are shortened to it.\n"
"\n"
"export: writes the recorded output to stdout as cleaned, greppable text\n"
"(escape sequences removed, overwrites applied), or byte-exact with --raw.\n");
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Read path into out, gunzipping when it is gzip data. */
static int
load_file(const char *path, struct dh_buf *out, struct dh_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	unsigned char tmp[65536];
	la_ssize_t r;
	int rc = DH_OK;

	a = archive_read_new();
	if (a == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		/* libarchive's raw reader refuses empty files. */
		rc = dh_err_set(err, DH_E_IO, "%s: %s", path,
		    archive_error_string(a) ? archive_error_string(a) :
		    "unreadable");
		goto out;
	}
	for (;;) {
		r = archive_read_data(a, tmp, sizeof(tmp));
		if (r < 0) {
			rc = dh_err_set(err, DH_E_IO, "%s: %s", path,
			    archive_error_string(a));
			break;
		}
		if (r == 0)
			break;
		rc = dh_buf_put(out, tmp, (size_t)r);
		if (rc != DH_OK) {
			rc = dh_err_set(err, rc, "%s: too large", path);
			break;
		}
	}
out:
	archive_read_free(a);
	return rc;
}

static int
load_dir(const char *dir, struct dh_buf *out, struct dh_err *err)
{
	struct ss_spool_seg *segs = NULL;
	char path[SS_SPOOL_PATH_MAX + 64];
	size_t n = 0, i;
	int rc;

	rc = ss_spool_list_segments(dir, &segs, &n, err);
	if (rc != DH_OK)
		return rc;
	if (n == 0)
		rc = dh_err_set(err, DH_E_NOTFOUND, "%s: no segments", dir);
	for (i = 0; rc == DH_OK && i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, segs[i].name);
		if (segs[i].size == 0)
			continue;
		rc = load_file(path, out, err);
	}
	free(segs);
	return rc;
}

static int
load_s3(const char *url, const struct topts *o, struct dh_buf *out,
    struct dh_err *err)
{
	struct dh_http_config hc;
	struct dh_http_client *http = NULL;
	struct dh_aws_client aws;
	struct dh_aws_s3_request r;
	struct dh_http_response resp;
	struct dh_aws_error ae;
	char bucket[256], endpoint[DH_AWS_URL_MAX];
	const char *p = url + 5, *slash, *env;
	int rc;

	dh_http_response_init(&resp);
	slash = strchr(p, '/');
	if (slash == NULL || slash == p || (size_t)(slash - p) >= sizeof(bucket)
	    || slash[1] == '\0')
		return dh_err_set(err, DH_E_ARG, "bad S3 URL %s", url);
	memcpy(bucket, p, (size_t)(slash - p));
	bucket[slash - p] = '\0';
	env = o->endpoint != NULL ? o->endpoint : getenv("AWS_ENDPOINT_URL");
	rc = dh_aws_endpoint_url(NULL, 0, "s3", o->region, endpoint,
	    sizeof(endpoint), err);
	if (rc != DH_OK)
		return rc;
	if (env != NULL)
		snprintf(endpoint, sizeof(endpoint), "%s", env);
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = o->ca != NULL ? o->ca : getenv("AWS_CA_BUNDLE");
	hc.max_body = INPUT_MAX;
	rc = dh_http_client_new(&hc, &http, err);
	if (rc != DH_OK)
		return rc;
	dh_aws_client_init(&aws, http);
	aws.creds.access_key = getenv("AWS_ACCESS_KEY_ID");
	aws.creds.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	aws.creds.session_token = getenv("AWS_SESSION_TOKEN");
	aws.max_response = INPUT_MAX;
	if (aws.creds.access_key == NULL || aws.creds.secret_key == NULL)
		aws.auth = DH_AWS_AUTH_ANON;
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.bucket = bucket;
	r.key = slash + 1;
	memset(&ae, 0, sizeof(ae));
	rc = dh_aws_s3_call(&aws, endpoint, o->region, &r, &resp, &ae, err);
	if (rc == DH_OK)
		rc = dh_buf_put(out, resp.body.d, resp.body.len);
	dh_http_response_free(&resp);
	dh_http_client_free(http);
	return rc;
}

static int
load_any(const char *src, const struct topts *o, struct dh_buf *out,
    struct dh_err *err)
{
	struct stat st;

	if (strncmp(src, "s3://", 5) == 0)
		return load_s3(src, o, out, err);
	if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
		return load_dir(src, out, err);
	return load_file(src, out, err);
}

static int
parse_opts(int argc, char **argv, struct topts *o, int *first)
{
	static const struct option lo[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "endpoint-url", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
		{ "ca", required_argument, NULL, 'c' },
		{ "speed", required_argument, NULL, 's' },
		{ "idle-limit", required_argument, NULL, 'i' },
		{ "raw", no_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	dh_buf_init(&o->key, 64);
	o->speed = 1.0;
	o->idle_limit = -1;
	o->region = getenv("AWS_REGION") ? getenv("AWS_REGION") :
	    getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") :
	    "us-east-1";
	optind = 1;
	for (;;) {
		c = getopt_long(argc, argv, "", lo, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'k':
			if (dh_hex_decode(optarg, strlen(optarg), &o->key) !=
			    DH_OK)
				return -1;
			break;
		case 'e': o->endpoint = optarg; break;
		case 'r': o->region = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'R': o->raw = 1; break;
		case 'q': o->quiet = 1; break;
		case 's':
			o->speed = strtod(optarg, &end);
			if (*end != '\0' || !(o->speed > 0) || o->speed > 1e6)
				return -1;
			break;
		case 'i':
			o->idle_limit = strtod(optarg, &end);
			if (*end != '\0' || !(o->idle_limit >= 0))
				return -1;
			break;
		default:
			return -1;
		}
	}
	*first = optind;
	return 0;
}

static int
cmd_verify(const char *src, const struct topts *o)
{
	struct dh_buf in;
	struct ss_verify *v;
	struct dh_err err;
	size_t i;
	int rc, ok;

	v = malloc(sizeof(*v));
	if (v == NULL)
		return 2;
	dh_buf_init(&in, INPUT_MAX);
	rc = load_any(src, o, &in, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand transcript: %s\n", err.msg);
		dh_buf_free(&in);
		free(v);
		return 2;
	}
	ss_verify_init(v, o->key.len ? o->key.d : NULL, o->key.len);
	(void)ss_verify_buffer(v, in.d, in.len);
	ok = ss_verify_ok(v);
	if (!o->quiet) {
		printf("transcript: %s\n", src);
		printf("session: %s\n", v->session_id[0] ? v->session_id :
		    "(unknown)");
		printf("records: %llu (output %llu bytes, input %llu bytes)\n",
		    (unsigned long long)v->records,
		    (unsigned long long)v->output_bytes,
		    (unsigned long long)v->input_bytes);
		printf("gaps: %llu (%llu bytes dropped), recoveries: %llu\n",
		    (unsigned long long)v->gaps,
		    (unsigned long long)v->gap_bytes,
		    (unsigned long long)v->recovers);
		printf("seal: %s\n", !v->sealed ? "missing" : v->abandoned ?
		    "present (abandoned: the writer died; sealed by the "
		    "shipper)" : "present");
		printf("hmac: %s\n", v->key == NULL ? "not checked (no --key)" :
		    v->seal_key_checked ? "verified" : "FAILED");
	}
	for (i = 0; i < v->n_findings && i < SS_VERIFY_MAX_FINDINGS; i++)
		printf("finding: %s\n", v->findings[i]);
	if (v->n_findings > SS_VERIFY_MAX_FINDINGS)
		printf("finding: ... %zu more\n",
		    v->n_findings - SS_VERIFY_MAX_FINDINGS);
	printf("result: %s\n", ok ? "OK" : "FAILED");
	dh_buf_free(&in);
	free(v);
	return ok ? 0 : 1;
}

/* Call fn for every event of a cast held in b; header checked first. */
static int
each_event(const struct dh_buf *b,
    int (*fn)(void *arg, const struct ss_cast_ev *ev), void *arg,
    struct dh_err *err)
{
	const char *p = (const char *)b->d, *end = p + b->len, *nl;
	struct ss_cast_ev ev;
	int rc, header = 1;

	dh_buf_init(&ev.data, 64u * 1024 * 1024);
	rc = DH_OK;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl > p) {
			if (header) {
				rc = ss_cast_parse_header(p, (size_t)(nl - p),
				    NULL, NULL, err);
				header = 0;
			} else {
				rc = ss_cast_parse_event(p, (size_t)(nl - p),
				    &ev, err);
				if (rc == DH_OK)
					rc = fn(arg, &ev);
			}
			if (rc != DH_OK)
				break;
		}
		p = nl + 1;
	}
	if (rc == DH_OK && header)
		rc = dh_err_set(err, DH_E_FORMAT, "empty recording");
	dh_buf_free(&ev.data);
	return rc;
}

struct play {
	const struct topts *o;
	uint64_t last_us;
};

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
play_event(void *arg, const struct ss_cast_ev *ev)
{
	struct play *p = arg;
	double dt;

	if (ev->code != 'o')
		return DH_OK;
	dt = ev->t_us > p->last_us ? (double)(ev->t_us - p->last_us) / 1e6 :
	    0;
	if (p->o->idle_limit >= 0 && dt > p->o->idle_limit)
		dt = p->o->idle_limit;
	sleep_s(dt / p->o->speed);
	p->last_us = ev->t_us;
	if (fwrite(ev->data.d, 1, ev->data.len, stdout) != ev->data.len)
		return DH_E_IO;
	fflush(stdout);
	return DH_OK;
}

struct export {
	int raw;
	struct ss_ansi *ansi;
	int failed;
};

static int
export_line(void *arg, const char *line, size_t n)
{
	struct export *x = arg;

	if (fwrite(line, 1, n, stdout) != n || fputc('\n', stdout) == EOF) {
		x->failed = 1;
		return 1;
	}
	return 0;
}

static int
export_bytes(struct export *x, const void *p, size_t n)
{
	if (x->raw)
		return fwrite(p, 1, n, stdout) == n ? DH_OK : DH_E_IO;
	return ss_ansi_feed(x->ansi, p, n) == 0 ? DH_OK : DH_E_IO;
}

static int
export_event(void *arg, const struct ss_cast_ev *ev)
{
	if (ev->code != 'o')
		return DH_OK;
	return export_bytes(arg, ev->data.d, ev->data.len);
}

static int
cmd_play_export(const char *src, const struct topts *o, int play)
{
	struct dh_buf in;
	struct dh_err err;
	struct play pl = { o, 0 };
	struct export x = { o->raw, NULL, 0 };
	struct ss_record rec;
	size_t off = 0, used;
	int rc;

	dh_buf_init(&in, INPUT_MAX);
	rc = load_file(src, &in, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand transcript: %s\n", err.msg);
		dh_buf_free(&in);
		return 2;
	}
	if (play) {
		rc = each_event(&in, play_event, &pl, &err);
		goto out;
	}
	x.ansi = malloc(sizeof(*x.ansi));
	if (x.ansi == NULL) {
		rc = dh_err_set(&err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	ss_ansi_init(x.ansi, export_line, &x);
	if (in.len >= 4 && memcmp(in.d, SS_RECORD_MAGIC, 4) == 0) {
		while (off < in.len) {
			rc = ss_record_decode(in.d + off, in.len - off, &rec,
			    &used, &err);
			if (rc != DH_OK)
				break;
			if (rec.kind == SS_KIND_OUTPUT)
				rc = export_bytes(&x, rec.payload, rec.len);
			if (rc != DH_OK)
				break;
			off += used;
		}
	} else if (!has_suffix(src, ".dtr")) {
		rc = each_event(&in, export_event, &x, &err);
	} else {
		rc = dh_err_set(&err, DH_E_FORMAT, "not a record stream");
	}
	if (rc == DH_OK && !o->raw && ss_ansi_finish(x.ansi) != 0)
		rc = DH_E_IO;
	if (rc == DH_OK && x.failed)
		rc = DH_E_IO;
out:
	fflush(stdout);
	free(x.ansi);
	dh_buf_free(&in);
	if (rc != DH_OK) {
		fprintf(stderr, "deckhand transcript: %s\n",
		    err.msg[0] ? err.msg : dh_strerror(rc));
		return 1;
	}
	return 0;
}

int
cli_transcript_main(int argc, char **argv)
{
	struct topts o;
	int first = 0, rc;

	if (argc < 2) {
		cli_transcript_usage();
		return 2;
	}
	if (parse_opts(argc - 1, argv + 1, &o, &first) != 0 ||
	    first + 1 != argc - 1) {
		dh_buf_free(&o.key);
		fprintf(stderr, "deckhand transcript: bad arguments (see "
		    "'deckhand help transcript')\n");
		return 2;
	}
	if (strcmp(argv[1], "verify") == 0)
		rc = cmd_verify(argv[argc - 1], &o);
	else if (strcmp(argv[1], "play") == 0)
		rc = cmd_play_export(argv[argc - 1], &o, 1);
	else if (strcmp(argv[1], "export") == 0)
		rc = cmd_play_export(argv[argc - 1], &o, 0);
	else {
		fprintf(stderr, "deckhand transcript: unknown subcommand "
		    "'%s'\n", argv[1]);
		rc = 2;
	}
	dh_buf_free(&o.key);
	return rc;
}
