/*
 * ss_sink_cw: CloudWatch Logs streaming sink.
 *
 * OUTPUT records go through the ANSI cleaner (ss_ansi); finished lines
 * are gathered into events whose message is the reference agent's
 * streaming JSON (ss_sink.h) with a "deckhand" member naming the record
 * range.  An event is closed when the next line would take its message
 * past SS_CW_EVENT_TARGET bytes, at flush time, and at the seal (which
 * also emits an unfinished last line).  A GAP record adds a visible
 * "[deckhand: ... dropped]" line.
 *
 * Events are sent with PutLogEvents (no sequence token: the modern API
 * ignores it) in batches cut by ss_sink_cw_batch; timestamps are forced
 * non-decreasing.  ResourceNotFoundException recreates the stream once;
 * throttling and 5xx are retried by dh_http, anything else keeps the
 * events for the shipper's next attempt.
 *
 * Acknowledgement: each event remembers the highest seq at which the
 * cleaner held no unfinished line when the event was closed; once the
 * event is accepted, every record up to that seq is stored.
 *
 * open(): DescribeLogGroups must list the group (otherwise the sink
 * refuses and the records wait); with cloudWatchEncryptionEnabled the
 * group must carry a kmsKeyId, as AWS requires; CreateLogStream (an
 * existing stream is fine).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "dh_aws.h"
#include "dh_json.h"
#include "dh_time.h"
#include "ss_ansi.h"
#include "ss_cast.h"
#include "ss_sink.h"

#define SS_CW_EVENT_TARGET 200000u         /* message bytes per event */
#define QUEUE_MAX_BYTES (4u * 1024 * 1024) /* buffered before TOOBIG */
#define FLUSH_AGE_MS 1000
#define FLUSH_BYTES (512u * 1024)
#define LOGS_TARGET "Logs_20140328."

struct cw_ev {
	int64_t ts;
	uint64_t ack_to;
	char *msg;
	size_t len;
};

struct cw {
	struct ss_ansi ansi;
	struct dh_buf lines;       /* current event: NUL-separated lines */
	size_t est;                /* estimated message size */
	size_t base;               /* message size without lines */
	int64_t cur_ts;
	uint64_t cur_first;
	uint64_t cur_last;
	int cur_has;
	uint64_t cur_seq;          /* record being fed */
	int64_t cur_rec_ts;
	uint64_t boundary;         /* last seq with no unfinished line */
	struct cw_ev *q;
	size_t qn, qcap, qbytes;
	int64_t oldest;            /* mono ms of the oldest unsent data */
	int64_t last_ts;
	int err_rc;                /* an error inside the line callback */
};

size_t
ss_sink_cw_batch(const struct ss_cw_event *ev, size_t n)
{
	size_t i, bytes = 0;

	for (i = 0; i < n; i++) {
		size_t sz = ev[i].len + SS_CW_EVENT_OVERHEAD;

		if (i >= SS_CW_MAX_BATCH_EVENTS)
			break;
		if (i > 0 && (bytes + sz > SS_CW_MAX_BATCH_BYTES ||
		    ev[i].ts_ms - ev[0].ts_ms >= SS_CW_MAX_SPAN_MS))
			break;
		bytes += sz;
	}
	return i == 0 && n > 0 ? 1 : i;
}

/* JSON string (quoted) of s into out. */
static int
put_jstr(struct dh_buf *out, const char *s, size_t n)
{
	int rc = dh_buf_put_u8(out, '"');

	if (rc == DH_OK)
		rc = ss_cast_escape(out, s, n);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, '"');
	return rc;
}

int
ss_sink_cw_message(const struct ss_session_info *in, int64_t ts_ms,
    uint64_t first_seq, uint64_t last_seq, const char *lines,
    size_t lines_len, struct dh_buf *out, struct dh_err *err)
{
	char iso[21];
	size_t i = 0, e;
	int rc, first = 1;

	dh_time_iso((time_t)(ts_ms / 1000), iso);
	rc = dh_buf_put_str(out, "{\"eventVersion\":\"1.0\",\"eventTime\":");
	if (rc == DH_OK)
		rc = put_jstr(out, iso, strlen(iso));
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, ",\"awsRegion\":");
	if (rc == DH_OK)
		rc = put_jstr(out, in->region, strlen(in->region));
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, ",\"target\":{\"id\":");
	if (rc == DH_OK)
		rc = put_jstr(out, in->instance_id, strlen(in->instance_id));
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "},\"userIdentity\":{\"arn\":");
	if (rc == DH_OK)
		rc = put_jstr(out, in->owner_arn, strlen(in->owner_arn));
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "},\"runAsUser\":");
	if (rc == DH_OK)
		rc = put_jstr(out, in->user, strlen(in->user));
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, ",\"sessionId\":");
	if (rc == DH_OK)
		rc = put_jstr(out, in->session_id, strlen(in->session_id));
	if (rc == DH_OK)
		rc = dh_buf_printf(out, ",\"deckhand\":{\"firstSeq\":%" PRIu64
		    ",\"lastSeq\":%" PRIu64 "},\"sessionData\":[", first_seq,
		    last_seq);
	while (rc == DH_OK && i < lines_len) {
		for (e = i; e < lines_len && lines[e] != '\0'; e++)
			;
		if (!first)
			rc = dh_buf_put_u8(out, ',');
		if (rc == DH_OK)
			rc = put_jstr(out, lines + i, e - i);
		first = 0;
		i = e + 1;
	}
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "]}");
	if (rc != DH_OK)
		return dh_err_set(err, rc, "CloudWatch event does not fit");
	return DH_OK;
}

static size_t
escaped_len(const char *s, size_t n)
{
	size_t i, l = 2;

	for (i = 0; i < n; i++)
		l += (s[i] == '"' || s[i] == '\\') ? 2 : 1;
	return l;
}

/* Close the current event into the queue. */
static int
close_event(struct ss_sink *s, struct cw *c, struct dh_err *err)
{
	struct dh_buf m;
	struct cw_ev *nq;
	int64_t ts;
	int rc;

	if (!c->cur_has)
		return DH_OK;
	if (c->qn == c->qcap) {
		size_t cap = c->qcap ? c->qcap * 2 : 64;

		nq = realloc(c->q, cap * sizeof(*nq));
		if (nq == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		c->q = nq;
		c->qcap = cap;
	}
	ts = c->cur_ts > c->last_ts ? c->cur_ts : c->last_ts;
	dh_buf_init(&m, SS_CW_MAX_EVENT - SS_CW_EVENT_OVERHEAD);
	rc = ss_sink_cw_message(s->info, ts, c->cur_first, c->cur_last,
	    (const char *)c->lines.d, c->lines.len, &m, err);
	if (rc != DH_OK) {
		dh_buf_free(&m);
		return rc;
	}
	c->q[c->qn].ts = ts;
	c->q[c->qn].ack_to = c->boundary;
	c->q[c->qn].len = m.len;
	c->q[c->qn].msg = (char *)dh_buf_steal(&m, &c->q[c->qn].len);
	c->qbytes += c->q[c->qn].len;
	c->qn++;
	c->last_ts = ts;
	dh_buf_reset(&c->lines);
	c->cur_has = 0;
	c->est = c->base;
	return DH_OK;
}

struct line_ctx {
	struct ss_sink *s;
	struct cw *c;
	struct dh_err *err;
};

static int
on_line(void *arg, const char *line, size_t n)
{
	struct line_ctx *x = arg;
	struct cw *c = x->c;
	size_t add = escaped_len(line, n) + 1;
	int rc;

	if (c->cur_has && c->est + add > SS_CW_EVENT_TARGET) {
		rc = close_event(x->s, c, x->err);
		if (rc != DH_OK) {
			c->err_rc = rc;
			return rc;
		}
	}
	if (!c->cur_has) {
		c->cur_has = 1;
		c->cur_first = c->cur_seq;
		c->cur_ts = c->cur_rec_ts;
		if (c->oldest == 0)
			c->oldest = dh_time_mono_ms();
	}
	c->cur_last = c->cur_seq;
	rc = dh_buf_put(&c->lines, line, n);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(&c->lines, 0);
	if (rc != DH_OK) {
		c->err_rc = dh_err_set(x->err, rc, "line buffer full");
		return rc;
	}
	c->est += add;
	return 0;
}

static int
cw_write(struct ss_sink *s, const struct ss_record *rec, struct dh_err *err)
{
	struct cw *c = s->impl;
	struct line_ctx x = { s, c, err };
	char note[160];
	int rc = DH_OK, n;

	if (c->qbytes >= QUEUE_MAX_BYTES)
		return DH_E_TOOBIG;
	c->cur_seq = rec->seq;
	c->cur_rec_ts = (int64_t)(rec->time_us / 1000);
	c->ansi.fn = on_line;
	c->ansi.arg = &x;
	c->err_rc = 0;
	if (rec->kind == SS_KIND_OUTPUT) {
		rc = ss_ansi_feed(&c->ansi, rec->payload, rec->len);
	} else if (rec->kind == SS_KIND_GAP) {
		n = snprintf(note, sizeof(note), "[deckhand: spool full, "
		    "output dropped: %.*s]", (int)(rec->len < 100 ? rec->len :
		    100), (const char *)rec->payload);
		rc = ss_ansi_finish(&c->ansi);
		if (rc == 0)
			rc = on_line(&x, note, n > 0 && (size_t)n < sizeof(note) ?
			    (size_t)n : sizeof(note) - 1);
	} else if (rec->kind == SS_KIND_SEAL) {
		rc = ss_ansi_finish(&c->ansi);
	}
	if (rc != 0)
		return c->err_rc ? c->err_rc : dh_err_set(err, DH_E_NOMEM,
		    "cleaner failed");
	if (!ss_ansi_has_partial(&c->ansi))
		c->boundary = rec->seq;
	return DH_OK;
}

static int
cw_want_flush(struct ss_sink *s, int64_t now)
{
	struct cw *c = s->impl;

	if (!s->info->cw_streaming)
		return 0;
	if (c->qn == 0 && !c->cur_has)
		return c->boundary > s->acked;
	return c->qbytes + c->lines.len >= FLUSH_BYTES ||
	    now - c->oldest >= FLUSH_AGE_MS;
}

static int
create_stream(struct ss_sink *s, struct dh_err *err)
{
	struct dh_aws_error ae;
	cJSON *req, *resp = NULL;
	int rc;

	req = cJSON_CreateObject();
	if (req == NULL ||
	    cJSON_AddStringToObject(req, "logGroupName", s->info->cw_group) ==
	    NULL ||
	    cJSON_AddStringToObject(req, "logStreamName", s->info->cw_stream) ==
	    NULL) {
		cJSON_Delete(req);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	memset(&ae, 0, sizeof(ae));
	rc = dh_aws_json_call(s->env->aws, s->env->logs_url, "logs",
	    s->env->region, LOGS_TARGET "CreateLogStream", req, &resp, &ae,
	    err);
	if (rc == DH_E_SERVICE &&
	    strcmp(ae.code, "ResourceAlreadyExistsException") == 0) {
		dh_err_clear(err);
		rc = DH_OK;
	}
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

static int
cw_open(struct ss_sink *s, struct dh_err *err)
{
	struct dh_aws_error ae;
	cJSON *req, *resp = NULL;
	const cJSON *groups, *g;
	const char *name, *kms = NULL;
	int rc, found = 0;

	req = cJSON_CreateObject();
	if (req == NULL || cJSON_AddStringToObject(req, "logGroupNamePrefix",
	    s->info->cw_group) == NULL) {
		cJSON_Delete(req);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	memset(&ae, 0, sizeof(ae));
	rc = dh_aws_json_call(s->env->aws, s->env->logs_url, "logs",
	    s->env->region, LOGS_TARGET "DescribeLogGroups", req, &resp, &ae,
	    err);
	cJSON_Delete(req);
	if (rc != DH_OK)
		goto out;
	groups = cJSON_GetObjectItemCaseSensitive(resp, "logGroups");
	cJSON_ArrayForEach(g, groups) {
		if (dh_json_get_str(g, "logGroupName", &name, NULL) != DH_OK ||
		    strcmp(name, s->info->cw_group) != 0)
			continue;
		found = 1;
		(void)dh_json_opt_str(g, "kmsKeyId", &kms, NULL);
		break;
	}
	if (!found) {
		rc = dh_err_set(err, DH_E_NOTFOUND, "CloudWatch log group %s "
		    "does not exist; transcript kept in the spool",
		    s->info->cw_group);
		goto out;
	}
	if (s->info->cw_enc && (kms == NULL || kms[0] == '\0')) {
		rc = dh_err_set(err, DH_E_AUTH, "encryption is not set up on "
		    "the CloudWatch Logs log group %s (cloudWatchEncryption"
		    "Enabled requires a kmsKeyId)", s->info->cw_group);
		goto out;
	}
	rc = create_stream(s, err);
out:
	cJSON_Delete(resp);
	return rc;
}

static int
put_batch(struct ss_sink *s, struct cw *c, size_t k, struct dh_err *err)
{
	struct dh_aws_error ae;
	cJSON *req, *evs, *e, *resp = NULL;
	size_t i;
	int rc, tries;

	req = cJSON_CreateObject();
	evs = cJSON_CreateArray();
	if (req == NULL || evs == NULL) {
		cJSON_Delete(req);
		cJSON_Delete(evs);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	cJSON_AddItemToObject(req, "logEvents", evs);
	if (cJSON_AddStringToObject(req, "logGroupName", s->info->cw_group) ==
	    NULL || cJSON_AddStringToObject(req, "logStreamName",
	    s->info->cw_stream) == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < k; i++) {
		e = cJSON_CreateObject();
		if (e == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		cJSON_AddItemToArray(evs, e);
		if (cJSON_AddNumberToObject(e, "timestamp",
		    (double)c->q[i].ts) == NULL ||
		    cJSON_AddStringToObject(e, "message", c->q[i].msg) ==
		    NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	for (tries = 0; tries < 2; tries++) {
		memset(&ae, 0, sizeof(ae));
		cJSON_Delete(resp);
		resp = NULL;
		rc = dh_aws_json_call(s->env->aws, s->env->logs_url, "logs",
		    s->env->region, LOGS_TARGET "PutLogEvents", req, &resp,
		    &ae, err);
		if (rc == DH_E_SERVICE &&
		    strcmp(ae.code, "ResourceNotFoundException") == 0 &&
		    tries == 0) {
			rc = create_stream(s, err);
			if (rc != DH_OK)
				break;
			continue;
		}
		break;
	}
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

static int
cw_flush(struct ss_sink *s, int final, struct dh_err *err)
{
	struct cw *c = s->impl;
	struct ss_cw_event *ev = NULL;
	size_t i, k;
	int rc = DH_OK;

	rc = close_event(s, c, err);
	if (rc != DH_OK)
		return rc;
	while (c->qn > 0) {
		ev = calloc(c->qn, sizeof(*ev));
		if (ev == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		for (i = 0; i < c->qn; i++) {
			ev[i].ts_ms = c->q[i].ts;
			ev[i].len = c->q[i].len;
		}
		k = ss_sink_cw_batch(ev, c->qn);
		free(ev);
		rc = put_batch(s, c, k, err);
		if (rc != DH_OK)
			return rc;
		s->calls++;
		s->events += k;
		if (c->q[k - 1].ack_to > s->acked)
			s->acked = c->q[k - 1].ack_to;
		for (i = 0; i < k; i++) {
			c->qbytes -= c->q[i].len;
			free(c->q[i].msg);
		}
		memmove(c->q, c->q + k, (c->qn - k) * sizeof(*c->q));
		c->qn -= k;
	}
	c->oldest = 0;
	if (!c->cur_has && c->boundary > s->acked)
		s->acked = c->boundary;
	(void)final;
	return DH_OK;
}

static void
cw_close(struct ss_sink *s)
{
	struct cw *c = s->impl;
	size_t i;

	if (c != NULL) {
		for (i = 0; i < c->qn; i++)
			free(c->q[i].msg);
		free(c->q);
		dh_buf_free(&c->lines);
		free(c);
	}
	free(s);
}

static const struct ss_sink_ops cw_ops = {
	"cw", cw_open, cw_write, cw_flush, cw_want_flush, cw_close
};

int
ss_sink_cw_new(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink **out, struct dh_err *err)
{
	struct ss_sink *s;
	struct cw *c;
	struct dh_buf m;
	int rc;

	*out = NULL;
	if (info->cw_group[0] == '\0' || info->cw_stream[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "no log group or stream");
	s = calloc(1, sizeof(*s));
	c = calloc(1, sizeof(*c));
	if (s == NULL || c == NULL) {
		free(s);
		free(c);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	s->ops = &cw_ops;
	s->info = info;
	s->env = env;
	s->impl = c;
	ss_ansi_init(&c->ansi, NULL, NULL);
	dh_buf_init(&c->lines, SS_CW_EVENT_TARGET + 2 * SS_ANSI_LINE_CELLS * 4);
	/* Size of a message without lines (largest seq numbers). */
	dh_buf_init(&m, 64 * 1024);
	rc = ss_sink_cw_message(info, 0, UINT64_MAX, UINT64_MAX, "", 0, &m,
	    err);
	c->base = m.len + 16;
	c->est = c->base;
	dh_buf_free(&m);
	if (rc != DH_OK) {
		cw_close(s);
		return rc;
	}
	*out = s;
	return DH_OK;
}
