/*
 * ss_feed: drive the transcript API from integration tests.
 *
 *   ss_feed feed --spool DIR --session ID [sink options] [--input FILE]
 *          [--chunk N] [--delay-us N] [--no-close] [--resize CxR]
 *          [--seal-key HEX] [--cap BYTES] [--fail-closed] [--input-too]
 *       Plays FILE (default stdin) through ss_transcript_write as OUTPUT
 *       records of N bytes (default 4096) and prints one line
 *       "written <bytes>" after every accepted write (so a test that kills
 *       the feeder knows what was accepted), then seals unless --no-close.
 *   ss_feed ship --spool DIR --endpoint URL --ca FILE [--timeout-ms N]
 *          [--seal-key HEX]
 *       Runs the shipper until the spool is drained (credentials from
 *       AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
 *       region us-east-1) and prints its counters as JSON.
 *   ss_feed check --endpoint URL --ca FILE --session ID [sink options]
 *       Runs ss_transcript_check_sinks (the up-front encryption/group
 *       checks) and prints "check ok" or "check failed: <reason>".
 *   ss_feed bench --spool DIR [--mb N] [--chunk N] [--fsync-ms N]
 *       Measures ss_transcript_write throughput and per-write latency.
 *
 * Sink options: --cw-group G [--cw-stream S] [--no-streaming] [--cw-enc]
 * --s3-bucket B [--s3-prefix P] [--s3-enc].  Exit 0 on success, 1 on a
 * failed operation, 2 on usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "dh_time.h"
#include "ss_spool.h"
#include "ss_transcript.h"

struct opts {
	const char *mode;
	const char *spool;
	const char *session;
	const char *input;
	const char *endpoint;
	const char *ca;
	const char *resize;
	struct ss_sink_config sinks;
	size_t chunk;
	long delay_us;
	int no_close;
	int fail_closed;
	int input_too;
	uint64_t cap;
	uint32_t fsync_ms;
	uint32_t timeout_ms;
	uint64_t mb;
	struct dh_buf key;
};

static int
usage(void)
{
	fprintf(stderr, "usage: ss_feed feed|ship|bench --spool DIR "
	    "[options] (see the source header)\n");
	return 2;
}

static int
num(const char *s, uint64_t *v)
{
	char *e;

	errno = 0;
	*v = strtoull(s, &e, 10);
	return errno != 0 || *e != '\0' || e == s ? -1 : 0;
}

static int
parse(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int i;

	memset(o, 0, sizeof(*o));
	o->chunk = 4096;
	o->timeout_ms = 60000;
	o->mb = 256;
	o->sinks.cw_streaming = 1;
	o->sinks.region = "us-east-1";
	o->sinks.owner_arn = "arn:aws:iam::123456789012:user/tester";
	dh_buf_init(&o->key, 64);
	if (argc < 2)
		return -1;
	o->mode = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *n = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-close") == 0) {
			o->no_close = 1;
			continue;
		}
		if (strcmp(a, "--no-streaming") == 0) {
			o->sinks.cw_streaming = 0;
			continue;
		}
		if (strcmp(a, "--cw-enc") == 0) {
			o->sinks.cw_encryption_required = 1;
			continue;
		}
		if (strcmp(a, "--s3-enc") == 0) {
			o->sinks.s3_encryption_required = 1;
			continue;
		}
		if (strcmp(a, "--fail-closed") == 0) {
			o->fail_closed = 1;
			continue;
		}
		if (strcmp(a, "--input-too") == 0) {
			o->input_too = 1;
			continue;
		}
		if (n == NULL)
			return -1;
		i++;
		if (strcmp(a, "--spool") == 0)
			o->spool = n;
		else if (strcmp(a, "--session") == 0)
			o->session = n;
		else if (strcmp(a, "--input") == 0)
			o->input = n;
		else if (strcmp(a, "--endpoint") == 0)
			o->endpoint = n;
		else if (strcmp(a, "--ca") == 0)
			o->ca = n;
		else if (strcmp(a, "--resize") == 0)
			o->resize = n;
		else if (strcmp(a, "--cw-group") == 0)
			o->sinks.cw_group = n;
		else if (strcmp(a, "--cw-stream") == 0)
			o->sinks.cw_stream = n;
		else if (strcmp(a, "--s3-bucket") == 0)
			o->sinks.s3_bucket = n;
		else if (strcmp(a, "--s3-prefix") == 0)
			o->sinks.s3_prefix = n;
		else if (strcmp(a, "--seal-key") == 0) {
			if (dh_hex_decode(n, strlen(n), &o->key) != DH_OK)
				return -1;
		} else {
			if (num(n, &v) != 0)
				return -1;
			if (strcmp(a, "--chunk") == 0 && v > 0 && v <= 16777216)
				o->chunk = (size_t)v;
			else if (strcmp(a, "--delay-us") == 0)
				o->delay_us = (long)v;
			else if (strcmp(a, "--cap") == 0)
				o->cap = v;
			else if (strcmp(a, "--fsync-ms") == 0)
				o->fsync_ms = (uint32_t)v;
			else if (strcmp(a, "--timeout-ms") == 0)
				o->timeout_ms = (uint32_t)v;
			else if (strcmp(a, "--mb") == 0)
				o->mb = v;
			else
				return -1;
		}
	}
	return o->spool == NULL && strcmp(o->mode, "check") != 0 ? -1 : 0;
}

static void
fill_cfg(const struct opts *o, struct ss_transcript_config *c,
    const char *session)
{
	memset(c, 0, sizeof(*c));
	c->spool_dir = o->spool;
	c->session_id = session;
	c->instance_id = "mi-0123456789abcdef0";
	c->run_as_user = "ssm-user";
	c->log_input = o->input_too;
	c->sinks = o->sinks;
	c->policy = o->fail_closed ? SS_POLICY_FAIL_CLOSED :
	    SS_POLICY_FAIL_OPEN;
	c->spool_cap_bytes = o->cap;
	c->fsync_interval_ms = o->fsync_ms;
	c->seal_key = o->key.len ? o->key.d : NULL;
	c->seal_key_len = o->key.len;
}

static int
do_feed(const struct opts *o)
{
	struct ss_transcript_config cfg;
	struct ss_transcript *t = NULL;
	struct dh_err err;
	unsigned char *buf;
	FILE *in = stdin;
	uint64_t total = 0;
	size_t n;
	int rc;

	if (o->session == NULL)
		return usage();
	buf = malloc(o->chunk);
	if (buf == NULL)
		return 1;
	if (o->input != NULL) {
		in = fopen(o->input, "rb");
		if (in == NULL) {
			fprintf(stderr, "ss_feed: %s: %s\n", o->input,
			    strerror(errno));
			free(buf);
			return 1;
		}
	}
	fill_cfg(o, &cfg, o->session);
	rc = ss_transcript_open(&cfg, &t, &err);
	if (rc != DH_OK)
		goto out;
	if (o->resize != NULL) {
		rc = ss_transcript_write(t, SS_KIND_RESIZE, o->resize,
		    strlen(o->resize), 0, &err);
		if (rc != DH_OK)
			goto out;
	}
	printf("written 0\n");
	fflush(stdout);
	for (;;) {
		n = fread(buf, 1, o->chunk, in);
		if (n == 0)
			break;
		rc = ss_transcript_write(t, SS_KIND_OUTPUT, buf, n, 0, &err);
		if (rc != DH_OK)
			goto out;
		if (o->input_too) {
			rc = ss_transcript_write(t, SS_KIND_INPUT, buf,
			    n > 8 ? 8 : n, 0, &err);
			if (rc != DH_OK)
				goto out;
		}
		total += n;
		printf("written %" PRIu64 "\n", total);
		fflush(stdout);
		if (o->delay_us > 0)
			usleep((useconds_t)o->delay_us);
	}
	if (o->no_close) {
		rc = ss_transcript_sync(t, &err);
		ss_transcript_abandon(t);
		t = NULL;
		goto out;
	}
	rc = ss_transcript_close(t, 0, 0, &err);
	t = NULL;
out:
	if (t != NULL)
		ss_transcript_abandon(t);
	if (in != stdin)
		fclose(in);
	free(buf);
	if (rc != DH_OK) {
		fprintf(stderr, "ss_feed: %s (%s)\n", err.msg,
		    dh_strerror(rc));
		return 1;
	}
	printf("sealed %" PRIu64 "\n", total);
	return 0;
}

static int
env_creds(void *arg, struct ss_creds *out, struct dh_err *err)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tk = getenv("AWS_SESSION_TOKEN");

	if (ak == NULL || sk == NULL)
		return dh_err_set(err, DH_E_AUTH, "no credentials in the "
		    "environment");
	snprintf(out->access_key, sizeof(out->access_key), "%s", ak);
	snprintf(out->secret_key, sizeof(out->secret_key), "%s", sk);
	snprintf(out->session_token, sizeof(out->session_token), "%s",
	    tk != NULL ? tk : "");
	return DH_OK;
}

/* 1 when no session directory is left in the spool. */
static int
spool_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (d == NULL)
		return 1;
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (de->d_name[0] != '.')
			empty = 0;
	}
	closedir(d);
	return empty;
}

static int
do_ship(const struct opts *o)
{
	struct ss_shipper_config cfg;
	struct ss_shipper *s = NULL;
	struct ss_shipper_stats st;
	struct dh_err err;
	int64_t t_end;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = o->spool;
	cfg.region = "us-east-1";
	cfg.logs_endpoint = o->endpoint;
	cfg.s3_endpoint = o->endpoint;
	cfg.ca_file = o->ca;
	cfg.creds = env_creds;
	cfg.poll_ms = 50;
	cfg.retry_max_ms = 500;
	cfg.seal_key = o->key.len ? o->key.d : NULL;
	cfg.seal_key_len = o->key.len;
	rc = ss_shipper_start(&cfg, &s, &err);
	if (rc != DH_OK) {
		fprintf(stderr, "ss_feed: %s\n", err.msg);
		return 1;
	}
	/* Until the spool holds no session at all (a live session is shipped
	 * as far as it goes, so one drain may return before it is sealed). */
	t_end = dh_time_mono_ms() + o->timeout_ms;
	for (;;) {
		rc = ss_shipper_drain(s, o->timeout_ms, &err);
		if (rc != DH_OK || spool_empty(o->spool))
			break;
		if (dh_time_mono_ms() >= t_end) {
			rc = dh_err_set(&err, DH_E_TIMEOUT, "spool not empty");
			break;
		}
		usleep(50000);
	}
	ss_shipper_stats(s, &st);
	ss_shipper_stop(s);
	printf("{\"rc\": %d, \"records_shipped\": %" PRIu64 ", \"cw_events\": "
	    "%" PRIu64 ", \"cw_calls\": %" PRIu64 ", \"s3_objects\": %" PRIu64
	    ", \"sink_failures\": %" PRIu64 ", \"sessions_done\": %" PRIu64
	    ", \"segments_deleted\": %" PRIu64 "}\n", rc, st.records_shipped,
	    st.cw_events, st.cw_calls, st.s3_objects, st.sink_failures,
	    st.sessions_done, st.segments_deleted);
	if (st.last_error[0])
		fprintf(stderr, "ss_feed: last sink error: %s\n", st.last_error);
	if (rc != DH_OK) {
		fprintf(stderr, "ss_feed: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int
do_check(const struct opts *o)
{
	struct ss_shipper_config cfg;
	struct dh_err err;
	int rc;

	if (o->session == NULL)
		return usage();
	memset(&cfg, 0, sizeof(cfg));
	cfg.region = "us-east-1";
	cfg.logs_endpoint = o->endpoint;
	cfg.s3_endpoint = o->endpoint;
	cfg.ca_file = o->ca;
	cfg.creds = env_creds;
	dh_err_clear(&err);
	rc = ss_transcript_check_sinks(&cfg, o->session,
	    "mi-0123456789abcdef0", &o->sinks, &err);
	if (rc != DH_OK) {
		printf("check failed: %s\n", err.msg);
		return 1;
	}
	printf("check ok\n");
	return 0;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static int
do_bench(const struct opts *o)
{
	struct ss_transcript_config cfg;
	struct ss_transcript_stats st;
	struct ss_transcript *t = NULL;
	struct dh_err err;
	unsigned char *buf;
	double *lat, t0, t1, a, b;
	size_t i, n;
	char sid[64], sdir[4200];
	int rc;

	n = (size_t)(o->mb * 1024 * 1024 / o->chunk);
	buf = malloc(o->chunk);
	lat = calloc(n ? n : 1, sizeof(*lat));
	if (buf == NULL || lat == NULL) {
		free(buf);
		free(lat);
		return 1;
	}
	for (i = 0; i < o->chunk; i++)
		buf[i] = (unsigned char)(' ' + i % 90);
	snprintf(sid, sizeof(sid), "bench-%ld", (long)getpid());
	fill_cfg(o, &cfg, sid);
	cfg.spool_cap_bytes = UINT64_MAX / 2; /* measure writes, not drops */
	rc = ss_transcript_open(&cfg, &t, &err);
	if (rc != DH_OK)
		goto out;
	t0 = mono_s();
	for (i = 0; i < n; i++) {
		a = mono_s();
		rc = ss_transcript_write(t, SS_KIND_OUTPUT, buf, o->chunk, 0,
		    &err);
		b = mono_s();
		if (rc != DH_OK)
			goto out;
		lat[i] = (b - a) * 1e6;
	}
	rc = ss_transcript_sync(t, &err);
	t1 = mono_s();
	ss_transcript_stats(t, &st);
	if (rc != DH_OK)
		goto out;
	rc = ss_transcript_close(t, 0, 0, &err);
	t = NULL;
	qsort(lat, n, sizeof(*lat), cmp_d);
	printf("{\"chunk\": %zu, \"writes\": %zu, \"mb_per_s\": %.1f, "
	    "\"lat_us_p50\": %.1f, \"lat_us_p99\": %.1f, \"lat_us_max\": %.1f,"
	    " \"fsyncs\": %" PRIu64 ", \"dropped\": %" PRIu64 "}\n", o->chunk, n,
	    (double)(n * o->chunk) / (1024.0 * 1024.0) / (t1 - t0),
	    n ? lat[n / 2] : 0.0, n ? lat[n * 99 / 100] : 0.0,
	    n ? lat[n - 1] : 0.0, st.fsyncs, st.dropped_records);
	snprintf(sdir, sizeof(sdir), "%s/%s", o->spool, sid);
	(void)ss_spool_remove_session(sdir, NULL);
out:
	if (t != NULL)
		ss_transcript_abandon(t);
	free(buf);
	free(lat);
	if (rc != DH_OK) {
		fprintf(stderr, "ss_feed: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int rc;

	if (parse(argc, argv, &o) != 0)
		return usage();
	if (strcmp(o.mode, "feed") == 0)
		rc = do_feed(&o);
	else if (strcmp(o.mode, "ship") == 0)
		rc = do_ship(&o);
	else if (strcmp(o.mode, "check") == 0)
		rc = do_check(&o);
	else if (strcmp(o.mode, "bench") == 0)
		rc = do_bench(&o);
	else
		rc = usage();
	dh_buf_free(&o.key);
	return rc;
}
