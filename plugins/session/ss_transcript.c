/*
 * ss_transcript: the writer (hash-chained records appended to the spool
 * with group commit and the cap policy) and the shipper thread (spool ->
 * stacked sinks, acknowledged deletion, crash backlog and orphan sealing).
 * The contracts are in ss_transcript.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "dh_aws.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_time.h"
#include "ss_sink.h"
#include "ss_spool.h"
#include "ss_transcript.h"

#define OPEN_FILE "open.json"
#define ACKS_FILE "acks"
#define USAGE_RESCAN_MS 100
#define KEY_MAX 64
#define SHIP_BATCH_BYTES (4u * 1024 * 1024)

struct ss_transcript {
	struct ss_spool_writer *w;
	char spool_dir[SS_SPOOL_PATH_MAX];
	uint64_t seq;                      /* next record's seq */
	unsigned char link[SS_LINK_LEN];
	uint64_t records, output_bytes, input_bytes, gaps;
	enum ss_policy policy;
	uint64_t cap;
	uint64_t usage;                    /* spool bytes at the last scan */
	uint64_t since_scan;               /* bytes appended since */
	int64_t scan_ms;
	uint64_t drop_records, drop_bytes, drop_first_us, drop_last_us;
	int log_input;
	unsigned char key[KEY_MAX];
	size_t key_len;
	struct ss_transcript_stats st;
};

static uint64_t
now_us_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Append one record to the chain; on failure nothing changes. */
static int
append(struct ss_transcript *t, enum ss_kind kind, uint16_t flags,
    const void *p, size_t n, uint64_t now, struct dh_err *err)
{
	unsigned char hdr[SS_RECORD_HDR_LEN];
	unsigned char link[SS_LINK_LEN];
	int rc;

	rc = ss_record_build(kind, flags, t->seq, now, t->link, p, n, hdr,
	    link);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "bad record");
	rc = ss_spool_writer_append(t->w, hdr, p, n, t->seq, err);
	if (rc != DH_OK)
		return rc;
	memcpy(t->link, link, SS_LINK_LEN);
	t->st.last_seq = t->seq;
	t->seq++;
	t->st.records++;
	t->st.bytes += n;
	t->since_scan += SS_RECORD_HDR_LEN + n;
	if (kind != SS_KIND_SEAL)
		t->records++;
	if (kind == SS_KIND_OUTPUT)
		t->output_bytes += n;
	else if (kind == SS_KIND_INPUT)
		t->input_bytes += n;
	else if (kind == SS_KIND_GAP)
		t->gaps++;
	return DH_OK;
}

static int
json_record(struct ss_transcript *t, enum ss_kind kind, uint16_t flags,
    cJSON *j, uint64_t now, struct dh_err *err)
{
	struct dh_buf b;
	int rc;

	dh_buf_init(&b, 64 * 1024);
	rc = dh_json_print(j, &b);
	if (rc != DH_OK)
		rc = dh_err_set(err, rc, "cannot serialise record");
	else
		rc = append(t, kind, flags, b.d, b.len, now, err);
	dh_buf_free(&b);
	return rc;
}

/* Write the pending GAP record (fail-open drops) if there is one. */
static int
flush_gap(struct ss_transcript *t, uint64_t now, struct dh_err *err)
{
	cJSON *j;
	int rc;

	if (t->drop_records == 0)
		return DH_OK;
	j = cJSON_CreateObject();
	if (j == NULL ||
	    cJSON_AddNumberToObject(j, "dropped_records",
	    (double)t->drop_records) == NULL ||
	    cJSON_AddNumberToObject(j, "dropped_bytes",
	    (double)t->drop_bytes) == NULL ||
	    cJSON_AddNumberToObject(j, "first_us",
	    (double)t->drop_first_us) == NULL ||
	    cJSON_AddNumberToObject(j, "last_us",
	    (double)t->drop_last_us) == NULL) {
		cJSON_Delete(j);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	rc = json_record(t, SS_KIND_GAP, 0, j, now, err);
	cJSON_Delete(j);
	if (rc == DH_OK)
		t->drop_records = t->drop_bytes = 0;
	return rc;
}

static void
note_drop(struct ss_transcript *t, size_t n, uint64_t now)
{
	if (t->drop_records == 0)
		t->drop_first_us = now;
	t->drop_last_us = now;
	t->drop_records++;
	t->drop_bytes += n;
	t->st.dropped_records++;
	t->st.dropped_bytes += n;
}

/* 1 when need more bytes fit under the cap (rescanning the spool when the
 * cached figure says no, at most every USAGE_RESCAN_MS). */
static int
fits(struct ss_transcript *t, uint64_t need)
{
	int64_t now;

	if (t->usage + t->since_scan + need <= t->cap)
		return 1;
	now = dh_time_mono_ms();
	if (now - t->scan_ms >= USAGE_RESCAN_MS) {
		if (ss_spool_usage(t->spool_dir, &t->usage, NULL) == DH_OK)
			t->since_scan = 0;
		t->scan_ms = now;
	}
	return t->usage + t->since_scan + need <= t->cap;
}

static int
copy_str(char *dst, size_t n, const char *src, const char *what,
    struct dh_err *err)
{
	size_t l = src != NULL ? strlen(src) : 0;

	if (l >= n)
		return dh_err_set(err, DH_E_ARG, "%s too long", what);
	if (l > 0)
		memcpy(dst, src, l);
	dst[l] = '\0';
	return DH_OK;
}

static int
info_from_config(const struct ss_transcript_config *cfg,
    struct ss_session_info *in, uint64_t now, struct dh_err *err)
{
	const struct ss_sink_config *s = &cfg->sinks;
	int rc;

	memset(in, 0, sizeof(*in));
	rc = copy_str(in->session_id, sizeof(in->session_id), cfg->session_id,
	    "session id", err);
	if (rc == DH_OK)
		rc = copy_str(in->instance_id, sizeof(in->instance_id),
		    cfg->instance_id, "instance id", err);
	if (rc == DH_OK)
		rc = copy_str(in->user, sizeof(in->user), cfg->run_as_user,
		    "user", err);
	if (rc == DH_OK)
		rc = copy_str(in->cw_group, sizeof(in->cw_group), s->cw_group,
		    "log group", err);
	if (rc == DH_OK)
		rc = copy_str(in->cw_stream, sizeof(in->cw_stream),
		    s->cw_stream != NULL && s->cw_stream[0] ? s->cw_stream :
		    cfg->session_id, "log stream", err);
	if (rc == DH_OK)
		rc = copy_str(in->s3_bucket, sizeof(in->s3_bucket),
		    s->s3_bucket, "bucket", err);
	if (rc == DH_OK)
		rc = copy_str(in->s3_prefix, sizeof(in->s3_prefix),
		    s->s3_prefix, "key prefix", err);
	if (rc == DH_OK)
		rc = copy_str(in->region, sizeof(in->region), s->region,
		    "region", err);
	if (rc == DH_OK)
		rc = copy_str(in->owner_arn, sizeof(in->owner_arn),
		    s->owner_arn, "owner arn", err);
	in->started_us = now;
	in->cw_streaming = s->cw_streaming != 0;
	in->cw_enc = s->cw_encryption_required != 0;
	in->s3_enc = s->s3_encryption_required != 0;
	in->log_input = cfg->log_input != 0;
	in->fail_closed = cfg->policy == SS_POLICY_FAIL_CLOSED;
	return rc;
}

static int
write_file_at(int dirfd, const char *name, const void *p, size_t n,
    struct dh_err *err)
{
	char tmp[64];
	int fd, rc = DH_OK;
	ssize_t w;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "create %s: %s", tmp,
		    strerror(errno));
	w = write(fd, p, n);
	if (w < 0 || (size_t)w != n || fsync(fd) != 0)
		rc = dh_err_set(err, DH_E_IO, "write %s: %s", tmp,
		    strerror(errno));
	close(fd);
	if (rc == DH_OK && renameat(dirfd, tmp, dirfd, name) != 0)
		rc = dh_err_set(err, DH_E_IO, "rename %s: %s", name,
		    strerror(errno));
	return rc;
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
ss_transcript_open(const struct ss_transcript_config *cfg,
    struct ss_transcript **out, struct dh_err *err)
{
	struct ss_transcript *t = NULL;
	struct ss_session_info info;
	char sdir[SS_SPOOL_PATH_MAX], tdir[SS_SPOOL_PATH_MAX];
	struct dh_buf ob;
	uint64_t now = now_us_real();
	int rc, w;

	*out = NULL;
	dh_buf_init(&ob, 64 * 1024);
	tdir[0] = '\0';
	if (cfg == NULL || cfg->spool_dir == NULL ||
	    cfg->seal_key_len > KEY_MAX ||
	    (cfg->seal_key_len > 0 && cfg->seal_key == NULL)) {
		rc = dh_err_set(err, DH_E_ARG, "bad transcript config");
		goto fail;
	}
	rc = ss_spool_session_dir(cfg->spool_dir, cfg->session_id, sdir,
	    sizeof(sdir), err);
	if (rc != DH_OK)
		goto fail;
	if (mkdir(cfg->spool_dir, 0700) != 0 && errno != EEXIST) {
		rc = dh_err_set(err, DH_E_IO, "mkdir %s: %s", cfg->spool_dir,
		    strerror(errno));
		goto fail;
	}
	if (access(sdir, F_OK) == 0) {
		rc = dh_err_set(err, DH_E_EXISTS, "session %s already has a "
		    "spool", cfg->session_id);
		goto fail;
	}
	rc = info_from_config(cfg, &info, now, err);
	if (rc != DH_OK)
		goto fail;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	snprintf(t->spool_dir, sizeof(t->spool_dir), "%s", cfg->spool_dir);
	t->seq = 1;
	t->policy = cfg->policy;
	t->cap = cfg->spool_cap_bytes ? cfg->spool_cap_bytes :
	    SS_DEFAULT_SPOOL_CAP;
	t->log_input = cfg->log_input != 0;
	t->key_len = cfg->seal_key_len;
	if (t->key_len > 0)
		memcpy(t->key, cfg->seal_key, t->key_len);
	rc = ss_spool_usage(cfg->spool_dir, &t->usage, err);
	if (rc != DH_OK)
		goto fail;
	t->scan_ms = dh_time_mono_ms();
	if (t->policy == SS_POLICY_FAIL_CLOSED && t->usage >= t->cap) {
		rc = dh_err_set(err, DH_E_TOOBIG, "transcript spool full "
		    "(%" PRIu64 " of %" PRIu64 " bytes)", t->usage, t->cap);
		goto fail;
	}
	/* Build the session under a hidden name, then rename: a shipper
	 * never sees a session without its writer lock and OPEN record. */
	w = snprintf(tdir, sizeof(tdir), "%s/.new-%s-%ld", cfg->spool_dir,
	    cfg->session_id, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof(tdir)) {
		tdir[0] = '\0';
		rc = dh_err_set(err, DH_E_TOOBIG, "spool path too long");
		goto fail;
	}
	rc = ss_spool_writer_open(tdir, 1, 1, cfg->segment_bytes ?
	    cfg->segment_bytes : SS_DEFAULT_SEGMENT_BYTES,
	    cfg->fsync_interval_ms ? cfg->fsync_interval_ms :
	    SS_DEFAULT_FSYNC_MS, &t->w, err);
	if (rc != DH_OK) {
		tdir[0] = '\0';
		goto fail;
	}
	rc = ss_sink_open_json(&info, &ob, err);
	if (rc == DH_OK)
		rc = write_file_at(ss_spool_writer_dirfd(t->w), OPEN_FILE,
		    ob.d, ob.len, err);
	if (rc == DH_OK)
		rc = append(t, SS_KIND_OPEN, 0, ob.d, ob.len, now, err);
	if (rc == DH_OK)
		rc = ss_spool_writer_sync(t->w, err);
	if (rc != DH_OK)
		goto fail;
	if (rename(tdir, sdir) != 0) {
		rc = dh_err_set(err, errno == EEXIST || errno == ENOTEMPTY ?
		    DH_E_EXISTS : DH_E_IO, "rename to %s: %s", sdir,
		    strerror(errno));
		goto fail;
	}
	fsync_dir(cfg->spool_dir);
	dh_buf_free(&ob);
	*out = t;
	return DH_OK;
fail:
	if (t != NULL) {
		ss_spool_writer_close(t->w);
		dh_wipe(t->key, sizeof(t->key));
		free(t);
	}
	if (tdir[0] != '\0')
		(void)ss_spool_remove_session(tdir, NULL);
	dh_buf_free(&ob);
	return rc;
}

int
ss_transcript_write(struct ss_transcript *t, enum ss_kind kind,
    const void *bytes, size_t n, uint64_t now_us, struct dh_err *err)
{
	const unsigned char *p = bytes;
	size_t chunk;
	int rc;

	if (t == NULL || (n > 0 && bytes == NULL) ||
	    (kind != SS_KIND_OUTPUT && kind != SS_KIND_INPUT &&
	    kind != SS_KIND_RESIZE && kind != SS_KIND_EVENT))
		return dh_err_set(err, DH_E_ARG, "bad transcript write");
	if (kind == SS_KIND_INPUT && !t->log_input)
		return DH_OK;
	if (now_us == 0)
		now_us = now_us_real();
	do {
		chunk = n > SS_RECORD_MAX ? SS_RECORD_MAX : n;
		if (!fits(t, SS_RECORD_HDR_LEN + chunk +
		    (t->drop_records ? 256 : 0))) {
			if (t->policy == SS_POLICY_FAIL_CLOSED)
				return dh_err_set(err, DH_E_TOOBIG,
				    "transcript spool full (cap %" PRIu64
				    " bytes): session must end", t->cap);
			note_drop(t, chunk, now_us);
		} else {
			rc = flush_gap(t, now_us, err);
			if (rc == DH_OK)
				rc = append(t, kind, 0, p, chunk, now_us, err);
			if (rc != DH_OK) {
				if (t->policy == SS_POLICY_FAIL_CLOSED)
					return rc;
				note_drop(t, chunk, now_us);
			}
		}
		p += chunk;
		n -= chunk;
	} while (n > 0);
	return DH_OK;
}

int
ss_transcript_sync(struct ss_transcript *t, struct dh_err *err)
{
	return ss_spool_writer_sync(t->w, err);
}

/* The SEAL payload for the chain state given (shared with the shipper's
 * abandoned-session seal). */
static int
seal_json(uint64_t records, uint64_t ob, uint64_t ib, uint64_t gaps,
    const unsigned char last[SS_LINK_LEN], uint64_t seal_seq, int exit_status,
    int abandoned, const unsigned char *key, size_t klen, struct dh_buf *out,
    struct dh_err *err)
{
	char hex[2 * SS_LINK_LEN + 1];
	unsigned char mac[SS_LINK_LEN];
	cJSON *j;
	int rc = DH_E_NOMEM;

	j = cJSON_CreateObject();
	if (j == NULL)
		goto out;
	dh_hex_encode(last, SS_LINK_LEN, hex);
	if (cJSON_AddNumberToObject(j, "exit_status", exit_status) == NULL ||
	    cJSON_AddNumberToObject(j, "records", (double)records) == NULL ||
	    cJSON_AddNumberToObject(j, "output_bytes", (double)ob) == NULL ||
	    cJSON_AddNumberToObject(j, "input_bytes", (double)ib) == NULL ||
	    cJSON_AddNumberToObject(j, "gaps", (double)gaps) == NULL ||
	    cJSON_AddStringToObject(j, "last_link", hex) == NULL ||
	    cJSON_AddBoolToObject(j, "abandoned", abandoned) == NULL)
		goto out;
	if (klen > 0) {
		ss_record_seal_hmac(key, klen, last, seal_seq, mac);
		dh_hex_encode(mac, SS_LINK_LEN, hex);
		if (cJSON_AddStringToObject(j, "hmac", hex) == NULL)
			goto out;
	}
	rc = dh_json_print(j, out);
out:
	cJSON_Delete(j);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build the seal");
	return DH_OK;
}

int
ss_transcript_close(struct ss_transcript *t, int exit_status,
    uint64_t now_us, struct dh_err *err)
{
	struct dh_buf b;
	int rc;

	if (t == NULL)
		return dh_err_set(err, DH_E_ARG, "no transcript");
	if (now_us == 0)
		now_us = now_us_real();
	dh_buf_init(&b, 4096);
	rc = flush_gap(t, now_us, err);
	if (rc == DH_OK)
		rc = seal_json(t->records, t->output_bytes, t->input_bytes,
		    t->gaps, t->link, t->seq, exit_status, 0, t->key,
		    t->key_len, &b, err);
	if (rc == DH_OK)
		rc = append(t, SS_KIND_SEAL, 0, b.d, b.len, now_us, err);
	if (rc == DH_OK)
		rc = ss_spool_writer_sync(t->w, err);
	dh_buf_free(&b);
	ss_spool_writer_close(t->w);
	dh_wipe(t->key, sizeof(t->key));
	free(t);
	return rc;
}

void
ss_transcript_abandon(struct ss_transcript *t)
{
	if (t == NULL)
		return;
	ss_spool_writer_close(t->w);
	dh_wipe(t->key, sizeof(t->key));
	free(t);
}

void
ss_transcript_stats(const struct ss_transcript *t,
    struct ss_transcript_stats *st)
{
	*st = t->st;
	st->fsyncs = ss_spool_writer_fsyncs(t->w);
}

void
ss_transcript_link(const struct ss_transcript *t,
    unsigned char link[SS_LINK_LEN])
{
	memcpy(link, t->link, SS_LINK_LEN);
}

/* ---- shipper ---------------------------------------------------------- */

struct sess {
	struct sess *next;
	char id[128];
	char sdir[SS_SPOOL_PATH_MAX];
	struct ss_session_info info;
	struct ss_sink_env env;
	struct ss_sink_stack stack;
	struct ss_spool_cursor cur;
	int cur_open;
	int loaded;
	int sealed;              /* the SEAL record was read */
	uint64_t seal_seq;
	uint64_t last_read;      /* seq of the last record read */
	uint64_t saved_ack[SS_SINK_MAX];
	int64_t retry_at;
	uint32_t backoff;
	int seen;                /* present in the latest directory scan */
};

struct ss_shipper {
	char spool_dir[SS_SPOOL_PATH_MAX];
	char region[64];
	char logs_url[DH_AWS_URL_MAX];
	char s3_url[DH_AWS_URL_MAX];
	char ca_file[SS_SPOOL_PATH_MAX];
	ss_creds_fn creds_fn;
	void *creds_arg;
	uint32_t poll_ms;
	uint32_t retry_max_ms;
	unsigned char key[KEY_MAX];
	size_t key_len;
	int lockfd;
	struct dh_http_client *http;
	struct dh_aws_client aws;
	struct ss_creds creds;
	struct sess *sessions;
	pthread_t thr;
	int thr_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int kick;
	uint64_t passes;         /* completed passes */
	uint64_t idle_passes;    /* passes that found nothing left to do */
	struct ss_shipper_stats st;
};

static void
ship_error(struct ss_shipper *s, struct sess *x, const struct dh_err *e)
{
	pthread_mutex_lock(&s->mu);
	s->st.sink_failures++;
	snprintf(s->st.last_error, sizeof(s->st.last_error), "%.100s: %.380s",
	    x->id, e->msg[0] ? e->msg : dh_strerror(e->code));
	pthread_mutex_unlock(&s->mu);
	x->backoff = x->backoff ? x->backoff * 2 : 250;
	if (x->backoff > s->retry_max_ms)
		x->backoff = s->retry_max_ms;
	x->retry_at = dh_time_mono_ms() + x->backoff;
	if (x->cur_open) {
		ss_spool_cursor_close(&x->cur);
		x->cur_open = 0;
	}
}

/* Fresh credentials into s->aws before a batch of service calls. */
static int
creds_begin(struct ss_shipper *s, struct dh_err *err)
{
	int rc;

	memset(&s->creds, 0, sizeof(s->creds));
	rc = s->creds_fn(s->creds_arg, &s->creds, err);
	if (rc != DH_OK)
		return rc;
	s->creds.access_key[sizeof(s->creds.access_key) - 1] = '\0';
	s->creds.secret_key[sizeof(s->creds.secret_key) - 1] = '\0';
	s->creds.session_token[sizeof(s->creds.session_token) - 1] = '\0';
	s->aws.creds.access_key = s->creds.access_key;
	s->aws.creds.secret_key = s->creds.secret_key;
	s->aws.creds.session_token = s->creds.session_token[0] ?
	    s->creds.session_token : NULL;
	return DH_OK;
}

static void
creds_end(struct ss_shipper *s)
{
	dh_wipe(&s->creds, sizeof(s->creds));
	memset(&s->aws.creds, 0, sizeof(s->aws.creds));
}

static void
sess_free(struct sess *x)
{
	if (x->cur_open)
		ss_spool_cursor_close(&x->cur);
	ss_sink_stack_free(&x->stack);
	free(x);
}

static int
read_small(const char *path, struct dh_buf *out, struct dh_err *err)
{
	char tmp[4096];
	ssize_t r;
	int fd, rc = DH_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND :
		    DH_E_IO, "open %s: %s", path, strerror(errno));
	for (;;) {
		r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		rc = dh_buf_put(out, tmp, (size_t)r);
		if (rc != DH_OK) {
			rc = dh_err_set(err, rc, "%s too large", path);
			break;
		}
	}
	close(fd);
	return rc;
}

/* Load open.json and the acks file; build the sinks. */
static int
sess_load(struct ss_shipper *s, struct sess *x, struct dh_err *err)
{
	char path[SS_SPOOL_PATH_MAX + 16];
	struct dh_buf b;
	const char *p, *e;
	size_t i;
	int rc;

	dh_buf_init(&b, 64 * 1024);
	snprintf(path, sizeof(path), "%s/%s", x->sdir, OPEN_FILE);
	rc = read_small(path, &b, err);
	if (rc == DH_OK)
		rc = ss_sink_parse_open(b.d, b.len, &x->info, err);
	if (rc != DH_OK)
		goto out;
	x->env.aws = &s->aws;
	x->env.region = s->region;
	x->env.logs_url = s->logs_url;
	x->env.s3_url = s->s3_url;
	x->env.sdir = x->sdir;
	rc = ss_sink_stack_build(&x->info, &x->env, &x->stack, err);
	if (rc != DH_OK)
		goto out;
	dh_buf_reset(&b);
	snprintf(path, sizeof(path), "%s/%s", x->sdir, ACKS_FILE);
	if (read_small(path, &b, NULL) == DH_OK && dh_buf_put_u8(&b, 0) ==
	    DH_OK) {
		/* Lines "<sink name> <acked seq>". */
		for (i = 0; i < x->stack.n; i++) {
			struct ss_sink *k = x->stack.v[i];
			char key[32];

			snprintf(key, sizeof(key), "%s ", k->ops->name);
			p = strstr((const char *)b.d, key);
			if (p == NULL)
				continue;
			k->acked = strtoull(p + strlen(key), (char **)&e, 10);
			k->fed = k->acked;
			x->saved_ack[i] = k->acked;
		}
	}
	x->loaded = 1;
out:
	dh_buf_free(&b);
	return rc;
}

static int
save_acks(struct sess *x, struct dh_err *err)
{
	struct dh_buf b;
	size_t i;
	int rc = DH_OK, changed = 0, dfd;

	for (i = 0; i < x->stack.n; i++)
		if (x->stack.v[i]->acked != x->saved_ack[i])
			changed = 1;
	if (!changed)
		return DH_OK;
	dh_buf_init(&b, 4096);
	for (i = 0; i < x->stack.n && rc == DH_OK; i++)
		rc = dh_buf_printf(&b, "%s %" PRIu64 "\n",
		    x->stack.v[i]->ops->name, x->stack.v[i]->acked);
	dfd = open(x->sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		rc = dh_err_set(err, DH_E_IO, "open %s: %s", x->sdir,
		    strerror(errno));
	if (rc == DH_OK)
		rc = write_file_at(dfd, ACKS_FILE, b.d, b.len, err);
	if (rc == DH_OK) {
		for (i = 0; i < x->stack.n; i++)
			x->saved_ack[i] = x->stack.v[i]->acked;
	}
	if (dfd >= 0)
		close(dfd);
	dh_buf_free(&b);
	return rc;
}

/* A session whose writer is gone without a seal: cut a torn tail, then
 * append RECOVER (when bytes were cut) and an abandoned SEAL. */
static int
seal_orphan(struct ss_shipper *s, struct sess *x, struct dh_err *err)
{
	struct ss_spool_tail tail;
	struct ss_spool_writer *w = NULL;
	unsigned char hdr[SS_RECORD_HDR_LEN];
	struct dh_buf b;
	uint64_t now = now_us_real();
	int rc;

	dh_buf_init(&b, 4096);
	if (x->cur_open) {
		ss_spool_cursor_close(&x->cur);
		x->cur_open = 0;
	}
	rc = ss_spool_recover(x->sdir, 1, &tail, err);
	if (rc != DH_OK || tail.sealed)
		goto out;
	rc = ss_spool_writer_open(x->sdir, 0, tail.next_seq, 0, 1, &w, err);
	if (rc != DH_OK)
		goto out;
	if (tail.truncated_bytes > 0) {
		rc = dh_buf_printf(&b, "{\"truncated_bytes\":%" PRIu64
		    ",\"reason\":\"torn tail after a crash\"}",
		    tail.truncated_bytes);
		if (rc == DH_OK)
			rc = ss_record_build(SS_KIND_RECOVER, 0, tail.next_seq,
			    now, tail.link, b.d, b.len, hdr, tail.link);
		if (rc == DH_OK)
			rc = ss_spool_writer_append(w, hdr, b.d, b.len,
			    tail.next_seq, err);
		if (rc != DH_OK)
			goto out;
		tail.next_seq++;
		tail.records++;
		dh_buf_reset(&b);
	}
	rc = seal_json(tail.records, tail.output_bytes, tail.input_bytes,
	    tail.gaps, tail.link, tail.next_seq, -1, 1, s->key, s->key_len, &b,
	    err);
	if (rc == DH_OK)
		rc = ss_record_build(SS_KIND_SEAL, SS_SEAL_ABANDONED,
		    tail.next_seq, now, tail.link, b.d, b.len, hdr, NULL);
	if (rc == DH_OK)
		rc = ss_spool_writer_append(w, hdr, b.d, b.len, tail.next_seq,
		    err);
	if (rc == DH_OK)
		rc = ss_spool_writer_sync(w, err);
out:
	ss_spool_writer_close(w);
	dh_buf_free(&b);
	return rc;
}

static int
flush_sinks(struct ss_shipper *s, struct sess *x, int force,
    struct dh_err *err)
{
	int64_t now = dh_time_mono_ms();
	size_t i;
	int rc = DH_OK, need = 0, have_creds = 0;

	for (i = 0; i < x->stack.n; i++) {
		struct ss_sink *k = x->stack.v[i];
		int final = x->sealed && k->fed >= x->seal_seq;

		if (k->acked >= k->fed)
			continue;
		if (!force && !final && !k->ops->want_flush(k, now))
			continue;
		if (!need) {
			/* What we ship must be durable in the spool first. */
			if (x->cur_open) {
				rc = ss_spool_cursor_sync(&x->cur, err);
				if (rc != DH_OK)
					return rc;
			}
			need = 1;
		}
		if (!have_creds) {
			rc = creds_begin(s, err);
			if (rc != DH_OK)
				goto out;
			have_creds = 1;
		}
		rc = k->ops->flush(k, final, err);
		if (rc != DH_OK)
			goto out;
	}
out:
	if (have_creds)
		creds_end(s);
	return rc;
}

static void
count_sinks(struct ss_shipper *s, struct sess *x, uint64_t before_acked)
{
	uint64_t ev = 0, calls = 0, obj = 0, acked;
	size_t i;

	for (i = 0; i < x->stack.n; i++) {
		ev += x->stack.v[i]->events;
		calls += x->stack.v[i]->calls;
		obj += x->stack.v[i]->objects;
		x->stack.v[i]->events = 0;
		x->stack.v[i]->calls = 0;
		x->stack.v[i]->objects = 0;
	}
	acked = ss_sink_stack_acked(&x->stack, x->last_read);
	pthread_mutex_lock(&s->mu);
	s->st.cw_events += ev;
	s->st.cw_calls += calls;
	s->st.s3_objects += obj;
	if (acked > before_acked)
		s->st.records_shipped += acked - before_acked;
	pthread_mutex_unlock(&s->mu);
}

/* One pass over one session; *busy set when work remains. */
static void
ship_session(struct ss_shipper *s, struct sess *x, int *busy)
{
	struct dh_err err;
	struct ss_record rec;
	uint64_t start, before, deleted = 0, shipped_bytes = 0;
	size_t i;
	int rc, eof = 0;

	dh_err_clear(&err);
	if (dh_time_mono_ms() < x->retry_at) {
		*busy = 1;
		return;
	}
	if (!x->loaded) {
		rc = sess_load(s, x, &err);
		if (rc != DH_OK) {
			/* open.json missing: an aborted session creation or
			 * damage; leave it alone but report it. */
			ship_error(s, x, &err);
			return;
		}
	}
	for (i = 0; i < x->stack.n; i++) {
		struct ss_sink *k = x->stack.v[i];

		if (k->opened)
			continue;
		rc = creds_begin(s, &err);
		if (rc == DH_OK)
			rc = k->ops->open(k, &err);
		creds_end(s);
		if (rc != DH_OK) {
			ship_error(s, x, &err);
			*busy = 1;
			return;
		}
		k->opened = 1;
	}
	before = ss_sink_stack_acked(&x->stack, x->last_read);
	/* Retry what is buffered first. */
	rc = flush_sinks(s, x, 0, &err);
	if (rc != DH_OK)
		goto fail;
	if (!x->cur_open) {
		start = ss_sink_stack_fed(&x->stack, x->last_read) + 1;
		if (x->stack.n == 0)
			start = x->last_read + 1;
		rc = ss_spool_cursor_open(&x->cur, x->sdir, start, &err);
		if (rc != DH_OK)
			goto fail;
		x->cur_open = 1;
	}
	while (shipped_bytes < SHIP_BATCH_BYTES) {
		rc = ss_spool_cursor_next(&x->cur, &rec, &err);
		if (rc == DH_E_NOTFOUND) {
			eof = 1;
			break;
		}
		if (rc != DH_OK)
			goto fail;
		for (i = 0; i < x->stack.n; i++) {
			struct ss_sink *k = x->stack.v[i];

			if (k->fed >= rec.seq)
				continue;
			rc = k->ops->write(k, &rec, &err);
			if (rc == DH_E_TOOBIG) {
				rc = flush_sinks(s, x, 1, &err);
				if (rc == DH_OK)
					rc = k->ops->write(k, &rec, &err);
			}
			if (rc != DH_OK)
				goto fail;
			k->fed = rec.seq;
		}
		x->last_read = rec.seq;
		shipped_bytes += rec.len + SS_RECORD_HDR_LEN;
		if (rec.kind == SS_KIND_SEAL) {
			x->sealed = 1;
			x->seal_seq = rec.seq;
			eof = 1;
			break;
		}
	}
	if (!eof)
		*busy = 1;
	rc = flush_sinks(s, x, eof && x->sealed, &err);
	if (rc != DH_OK)
		goto fail;
	count_sinks(s, x, before);
	x->backoff = 0;
	rc = save_acks(x, &err);
	if (rc != DH_OK)
		goto fail;
	if (x->sealed && ss_sink_stack_acked(&x->stack, x->last_read) >=
	    x->seal_seq) {
		ss_spool_cursor_close(&x->cur);
		x->cur_open = 0;
		rc = ss_spool_remove_session(x->sdir, &err);
		if (rc != DH_OK)
			goto fail;
		pthread_mutex_lock(&s->mu);
		s->st.sessions_done++;
		pthread_mutex_unlock(&s->mu);
		x->seen = 0;
		return;
	}
	rc = ss_spool_delete_acked(x->sdir, ss_sink_stack_acked(&x->stack,
	    x->last_read), 1, &deleted, &err);
	if (rc != DH_OK)
		goto fail;
	if (deleted > 0) {
		pthread_mutex_lock(&s->mu);
		s->st.segments_deleted += deleted;
		pthread_mutex_unlock(&s->mu);
	}
	for (i = 0; i < x->stack.n; i++)
		if (x->stack.v[i]->acked < x->stack.v[i]->fed)
			*busy = 1;
	if (eof && !x->sealed && !ss_spool_writer_alive(x->sdir)) {
		rc = seal_orphan(s, x, &err);
		if (rc != DH_OK)
			goto fail;
		*busy = 1;
	} else if (eof && !x->sealed) {
		/* Live session: more will come; not "busy" for drain. */
	} else if (x->sealed) {
		*busy = 1;
	}
	return;
fail:
	count_sinks(s, x, before);
	ship_error(s, x, &err);
	*busy = 1;
}

/* One pass over the whole spool; returns 1 when work remains. */
static int
ship_pass(struct ss_shipper *s)
{
	char (*ids)[128] = NULL;
	size_t n = 0, i;
	struct sess *x, **pp;
	int busy = 0;

	if (ss_spool_list_sessions(s->spool_dir, &ids, &n, NULL) != DH_OK)
		return 0;
	for (x = s->sessions; x != NULL; x = x->next)
		x->seen = 0;
	for (i = 0; i < n; i++) {
		for (x = s->sessions; x != NULL; x = x->next)
			if (strcmp(x->id, ids[i]) == 0)
				break;
		if (x == NULL) {
			x = calloc(1, sizeof(*x));
			if (x == NULL)
				break;
			snprintf(x->id, sizeof(x->id), "%s", ids[i]);
			if (ss_spool_session_dir(s->spool_dir, ids[i], x->sdir,
			    sizeof(x->sdir), NULL) != DH_OK) {
				free(x);
				continue;
			}
			x->next = s->sessions;
			s->sessions = x;
		}
		x->seen = 1;
		ship_session(s, x, &busy);
	}
	free(ids);
	/* Forget sessions that are gone (shipped and removed). */
	pp = &s->sessions;
	while (*pp != NULL) {
		x = *pp;
		if (!x->seen) {
			*pp = x->next;
			sess_free(x);
		} else {
			pp = &x->next;
		}
	}
	return busy;
}

static void *
shipper_main(void *arg)
{
	struct ss_shipper *s = arg;
	struct timespec ts;
	int busy;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		s->kick = 0;
		pthread_mutex_unlock(&s->mu);
		busy = ship_pass(s);
		pthread_mutex_lock(&s->mu);
		s->passes++;
		if (!busy)
			s->idle_passes = s->passes;
		pthread_cond_broadcast(&s->cv);
		if (s->stop || s->kick)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += s->poll_ms / 1000;
		ts.tv_nsec += (long)(s->poll_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!s->stop && !s->kick &&
		    pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
shipper_free(struct ss_shipper *s)
{
	struct sess *x;

	while (s->sessions != NULL) {
		x = s->sessions;
		s->sessions = x->next;
		sess_free(x);
	}
	dh_http_client_free(s->http);
	if (s->lockfd >= 0)
		close(s->lockfd);
	dh_wipe(s->key, sizeof(s->key));
	dh_wipe(&s->creds, sizeof(s->creds));
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
ss_shipper_start(const struct ss_shipper_config *cfg,
    struct ss_shipper **out, struct dh_err *err)
{
	struct ss_shipper *s;
	struct dh_http_config hc;
	pthread_condattr_t ca;
	char path[SS_SPOOL_PATH_MAX + 32];
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->spool_dir == NULL || cfg->creds == NULL ||
	    cfg->region == NULL || cfg->seal_key_len > KEY_MAX)
		return dh_err_set(err, DH_E_ARG, "bad shipper config");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	s->lockfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(s->spool_dir, sizeof(s->spool_dir), "%s", cfg->spool_dir);
	rc = copy_str(s->region, sizeof(s->region), cfg->region, "region",
	    err);
	if (rc != DH_OK)
		goto fail;
	rc = dh_aws_endpoint_url(NULL, 0, "logs", s->region, s->logs_url,
	    sizeof(s->logs_url), err);
	if (rc == DH_OK && cfg->logs_endpoint != NULL)
		rc = copy_str(s->logs_url, sizeof(s->logs_url),
		    cfg->logs_endpoint, "logs endpoint", err);
	if (rc == DH_OK)
		rc = dh_aws_endpoint_url(NULL, 0, "s3", s->region, s->s3_url,
		    sizeof(s->s3_url), err);
	if (rc == DH_OK && cfg->s3_endpoint != NULL)
		rc = copy_str(s->s3_url, sizeof(s->s3_url), cfg->s3_endpoint,
		    "s3 endpoint", err);
	if (rc == DH_OK)
		rc = copy_str(s->ca_file, sizeof(s->ca_file), cfg->ca_file,
		    "CA file", err);
	if (rc != DH_OK)
		goto fail;
	s->creds_fn = cfg->creds;
	s->creds_arg = cfg->creds_arg;
	s->poll_ms = cfg->poll_ms ? cfg->poll_ms : 200;
	s->retry_max_ms = cfg->retry_max_ms ? cfg->retry_max_ms : 30000;
	s->key_len = cfg->seal_key_len;
	if (s->key_len > 0)
		memcpy(s->key, cfg->seal_key, s->key_len);
	if (mkdir(s->spool_dir, 0700) != 0 && errno != EEXIST) {
		rc = dh_err_set(err, DH_E_IO, "mkdir %s: %s", s->spool_dir,
		    strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/.shipper.lock", s->spool_dir);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = dh_err_set(err, DH_E_STATE, "another shipper owns %s",
		    s->spool_dir);
		goto fail;
	}
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = s->ca_file[0] ? s->ca_file : NULL;
	hc.max_attempts = 3;
	hc.timeout_ms = 30000;
	hc.connect_timeout_ms = 5000;
	rc = dh_http_client_new(&hc, &s->http, err);
	if (rc != DH_OK)
		goto fail;
	dh_aws_client_init(&s->aws, s->http);
	if (pthread_create(&s->thr, NULL, shipper_main, s) != 0) {
		rc = dh_err_set(err, DH_E_NOMEM, "cannot start shipper");
		goto fail;
	}
	s->thr_started = 1;
	*out = s;
	return DH_OK;
fail:
	shipper_free(s);
	return rc;
}

int
ss_shipper_drain(struct ss_shipper *s, uint32_t timeout_ms,
    struct dh_err *err)
{
	struct timespec ts;
	uint64_t target;
	int rc = DH_OK;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	/* A pass that starts after now and finds nothing to do. */
	target = s->passes + 1;
	s->kick = 1;
	pthread_cond_broadcast(&s->cv);
	while (s->idle_passes < target) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0) {
			rc = dh_err_set(err, DH_E_TIMEOUT, "spool not drained "
			    "in %u ms (last error: %s)", timeout_ms,
			    s->st.last_error[0] ? s->st.last_error : "none");
			break;
		}
		if (s->idle_passes < target)
			s->kick = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
ss_shipper_stats(struct ss_shipper *s, struct ss_shipper_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void
ss_shipper_stop(struct ss_shipper *s)
{
	if (s == NULL)
		return;
	if (s->thr_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thr, NULL);
	}
	shipper_free(s);
}

int
ss_transcript_check_sinks(const struct ss_shipper_config *cfg,
    const char *session_id, const char *instance_id,
    const struct ss_sink_config *sinks, struct dh_err *err)
{
	struct ss_transcript_config tc;
	struct ss_session_info info;
	struct ss_sink_env env;
	struct ss_sink_stack st;
	struct dh_http_config hc;
	struct dh_http_client *http = NULL;
	struct dh_aws_client aws;
	struct ss_creds creds;
	char logs[DH_AWS_URL_MAX], s3[DH_AWS_URL_MAX];
	size_t i;
	int rc;

	memset(&st, 0, sizeof(st));
	memset(&creds, 0, sizeof(creds));
	if (cfg == NULL || cfg->creds == NULL || cfg->region == NULL ||
	    sinks == NULL)
		return dh_err_set(err, DH_E_ARG, "bad sink check arguments");
	memset(&tc, 0, sizeof(tc));
	tc.session_id = session_id;
	tc.instance_id = instance_id;
	tc.sinks = *sinks;
	rc = info_from_config(&tc, &info, now_us_real(), err);
	if (rc != DH_OK)
		return rc;
	rc = dh_aws_endpoint_url(NULL, 0, "logs", cfg->region, logs,
	    sizeof(logs), err);
	if (rc == DH_OK && cfg->logs_endpoint != NULL)
		rc = copy_str(logs, sizeof(logs), cfg->logs_endpoint,
		    "logs endpoint", err);
	if (rc == DH_OK)
		rc = dh_aws_endpoint_url(NULL, 0, "s3", cfg->region, s3,
		    sizeof(s3), err);
	if (rc == DH_OK && cfg->s3_endpoint != NULL)
		rc = copy_str(s3, sizeof(s3), cfg->s3_endpoint, "s3 endpoint",
		    err);
	if (rc != DH_OK)
		return rc;
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = cfg->ca_file;
	hc.max_attempts = 2;
	hc.timeout_ms = 15000;
	hc.connect_timeout_ms = 5000;
	rc = dh_http_client_new(&hc, &http, err);
	if (rc != DH_OK)
		return rc;
	dh_aws_client_init(&aws, http);
	rc = cfg->creds(cfg->creds_arg, &creds, err);
	if (rc != DH_OK)
		goto out;
	creds.access_key[sizeof(creds.access_key) - 1] = '\0';
	creds.secret_key[sizeof(creds.secret_key) - 1] = '\0';
	creds.session_token[sizeof(creds.session_token) - 1] = '\0';
	aws.creds.access_key = creds.access_key;
	aws.creds.secret_key = creds.secret_key;
	aws.creds.session_token = creds.session_token[0] ?
	    creds.session_token : NULL;
	env.aws = &aws;
	env.region = cfg->region;
	env.logs_url = logs;
	env.s3_url = s3;
	env.sdir = "";
	rc = ss_sink_stack_build(&info, &env, &st, err);
	for (i = 0; rc == DH_OK && i < st.n; i++)
		rc = st.v[i]->ops->open(st.v[i], err);
out:
	ss_sink_stack_free(&st);
	dh_wipe(&creds, sizeof(creds));
	dh_http_client_free(http);
	return rc;
}
