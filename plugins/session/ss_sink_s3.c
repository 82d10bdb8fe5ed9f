/*
 * ss_sink_s3: at the seal, store the session in S3 as three objects under
 * "<s3KeyPrefix>/<session id>" (colons removed, as the reference agent):
 *
 *   .log     the cleaned, greppable text (ss_ansi over the output; a
 *            "# " header and footer; GAP/RECOVER/EVENT records as "# "
 *            lines), Content-Type text/plain;
 *   .cast.gz the byte-exact asciicast v2 recording (ss_cast: "o" output,
 *            "i" input, "r" resize, "m" markers for EVENT/GAP/RECOVER),
 *            gzip written with libarchive (raw format + gzip filter);
 *   .dtr     the chain itself: every record of the session, header and
 *            payload, as in the spool (verify with `deckhand transcript
 *            verify s3://bucket/key.dtr`).
 *
 * The objects are built in the session's spool directory from the
 * records (the spool keeps every segment until this sink acknowledges
 * the seal), then uploaded: PutObject with Content-MD5 up to 8 MiB,
 * multipart (8 MiB parts) above.  The sink acknowledges the whole session
 * once the three uploads succeeded; a failure retries all three later
 * (same keys, so a retry overwrites).
 *
 * open(): with s3EncryptionEnabled, GetBucketEncryption must report
 * AES256 or aws:kms as the default (first rule), as AWS checks; otherwise
 * the sink refuses and the records stay in the spool.  The objects are
 * then sent with the matching x-amz-server-side-encryption headers.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "dh_aws.h"
#include "dh_time.h"
#include "ss_ansi.h"
#include "ss_cast.h"
#include "ss_sink.h"
#include "ss_spool.h"

#define PART_SIZE (8u * 1024 * 1024)
#define KEY_MAX_LEN 1024

struct s3 {
	int sealed;
	uint64_t seal_seq;
	char sse[32];          /* "", "AES256", "aws:kms" */
	char sse_key[512];
	int done;
};

static int
xml_value(const char *body, size_t n, const char *tag, char *out,
    size_t outsz)
{
	char open[64], close[64];
	const char *p, *e, *end = body + n;
	size_t tl;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	tl = strlen(open);
	p = memmem(body, n, open, tl);
	if (p == NULL)
		return DH_E_NOTFOUND;
	p += tl;
	e = memmem(p, (size_t)(end - p), close, strlen(close));
	if (e == NULL || (size_t)(e - p) >= outsz)
		return DH_E_FORMAT;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return DH_OK;
}

static int
s3_open(struct ss_sink *s, struct dh_err *err)
{
	struct s3 *c = s->impl;
	struct dh_aws_s3_request r;
	struct dh_aws_param q = { "encryption", "" };
	struct dh_http_response resp;
	struct dh_aws_error ae;
	char alg[64];
	int rc;

	if (!s->info->s3_enc)
		return DH_OK;
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.bucket = s->info->s3_bucket;
	r.query = &q;
	r.n_query = 1;
	dh_http_response_init(&resp);
	memset(&ae, 0, sizeof(ae));
	rc = dh_aws_s3_call(s->env->aws, s->env->s3_url, s->env->region, &r,
	    &resp, &ae, err);
	if (rc == DH_E_SERVICE) {
		rc = dh_err_set(err, DH_E_AUTH, "encryption is not set up on "
		    "the S3 bucket %s (GetBucketEncryption: %s)",
		    s->info->s3_bucket, ae.code);
		goto out;
	}
	if (rc != DH_OK)
		goto out;
	if (xml_value((const char *)resp.body.d, resp.body.len,
	    "SSEAlgorithm", alg, sizeof(alg)) != DH_OK ||
	    (strcmp(alg, "AES256") != 0 && strncmp(alg, "aws:kms", 7) != 0)) {
		rc = dh_err_set(err, DH_E_AUTH, "encryption is not set up on "
		    "the S3 bucket %s (no AES256/aws:kms default)",
		    s->info->s3_bucket);
		goto out;
	}
	if (strlen(alg) >= sizeof(c->sse)) {
		rc = dh_err_set(err, DH_E_FORMAT, "SSEAlgorithm too long");
		goto out;
	}
	memcpy(c->sse, alg, strlen(alg) + 1);
	if (xml_value((const char *)resp.body.d, resp.body.len,
	    "KMSMasterKeyID", c->sse_key, sizeof(c->sse_key)) != DH_OK)
		c->sse_key[0] = '\0';
out:
	dh_http_response_free(&resp);
	return rc;
}

static int
s3_write(struct ss_sink *s, const struct ss_record *rec, struct dh_err *err)
{
	struct s3 *c = s->impl;

	if (rec->kind == SS_KIND_SEAL) {
		c->sealed = 1;
		c->seal_seq = rec->seq;
	}
	return DH_OK;
}

static int
s3_want_flush(struct ss_sink *s, int64_t now)
{
	struct s3 *c = s->impl;

	return c->sealed && !c->done;
}

/* ---- building the three files --------------------------------------- */

struct build {
	FILE *text;
	struct archive *cast;
	FILE *dtr;
	struct ss_ansi ansi;
	struct dh_buf line;     /* scratch for cast lines */
	int cast_started;
	uint64_t t0;
	int failed;
};

static int
text_line(void *arg, const char *line, size_t n)
{
	struct build *b = arg;

	if (fwrite(line, 1, n, b->text) != n || fputc('\n', b->text) == EOF) {
		b->failed = 1;
		return 1;
	}
	return 0;
}

static int
cast_put(struct build *b, const struct dh_buf *l)
{
	return archive_write_data(b->cast, l->d, l->len) == (la_ssize_t)l->len ?
	    DH_OK : DH_E_IO;
}

static int
cast_record(struct build *b, const struct ss_session_info *in,
    const struct ss_record *rec, struct dh_err *err)
{
	unsigned w = 80, h = 24;
	uint64_t rel;
	char code;
	int rc;

	if (rec->kind == SS_KIND_OPEN)
		return DH_OK; /* the header waits for the first size */
	if (!b->cast_started) {
		if (rec->kind == SS_KIND_RESIZE) {
			char tmp[32];
			size_t n = rec->len < sizeof(tmp) - 1 ? rec->len :
			    sizeof(tmp) - 1;

			memcpy(tmp, rec->payload, n);
			tmp[n] = '\0';
			if (sscanf(tmp, "%ux%u", &w, &h) != 2 || w == 0 ||
			    h == 0 || w > 10000 || h > 10000) {
				w = 80;
				h = 24;
			}
		}
		dh_buf_reset(&b->line);
		rc = ss_cast_header(&b->line, w, h, b->t0, in->session_id, err);
		if (rc == DH_OK)
			rc = cast_put(b, &b->line);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "asciicast header write");
		b->cast_started = 1;
	}
	switch (rec->kind) {
	case SS_KIND_OUTPUT: code = 'o'; break;
	case SS_KIND_INPUT: code = 'i'; break;
	case SS_KIND_RESIZE: code = 'r'; break;
	case SS_KIND_EVENT: case SS_KIND_GAP: case SS_KIND_RECOVER:
		code = 'm';
		break;
	default:
		return DH_OK;
	}
	rel = rec->time_us > b->t0 ? rec->time_us - b->t0 : 0;
	dh_buf_reset(&b->line);
	rc = ss_cast_event(&b->line, rel, code, rec->payload, rec->len, err);
	if (rc == DH_OK)
		rc = cast_put(b, &b->line);
	if (rc != DH_OK)
		return dh_err_set(err, DH_E_IO, "asciicast write failed");
	return DH_OK;
}

static int
text_record(struct build *b, const struct ss_session_info *in,
    const struct ss_record *rec)
{
	char iso[21];

	dh_time_iso((time_t)(rec->time_us / 1000000), iso);
	switch (rec->kind) {
	case SS_KIND_OPEN:
		fprintf(b->text, "# deckhand session transcript\n"
		    "# session: %s\n# instance: %s\n# user: %s\n"
		    "# started: %s\n", in->session_id, in->instance_id,
		    in->user, iso);
		break;
	case SS_KIND_OUTPUT:
		if (ss_ansi_feed(&b->ansi, rec->payload, rec->len) != 0)
			return DH_E_IO;
		break;
	case SS_KIND_GAP: case SS_KIND_RECOVER: case SS_KIND_EVENT:
		if (ss_ansi_finish(&b->ansi) != 0)
			return DH_E_IO;
		fprintf(b->text, "# %s %s: %.*s\n", iso,
		    ss_record_kind_name(rec->kind),
		    (int)(rec->len < 1024 ? rec->len : 1024),
		    (const char *)rec->payload);
		break;
	case SS_KIND_SEAL:
		if (ss_ansi_finish(&b->ansi) != 0)
			return DH_E_IO;
		fprintf(b->text, "# ended: %s (seq %" PRIu64 "%s)\n", iso,
		    rec->seq, (rec->flags & SS_SEAL_ABANDONED) ?
		    ", abandoned: the writer did not close it" : "");
		break;
	default:
		break;
	}
	return ferror(b->text) || b->failed ? DH_E_IO : DH_OK;
}

static int
build_files(struct ss_sink *s, const char *ptext, const char *pcast,
    const char *pdtr, struct dh_err *err)
{
	struct build b;
	struct archive_entry *ae = NULL;
	struct ss_spool_cursor cur;
	struct ss_record rec;
	int rc, cur_open = 0;

	memset(&b, 0, sizeof(b));
	dh_buf_init(&b.line, 16u * 1024 * 1024);
	ss_ansi_init(&b.ansi, text_line, &b);
	b.text = fopen(ptext, "we");
	b.dtr = fopen(pdtr, "we");
	b.cast = archive_write_new();
	ae = archive_entry_new();
	if (b.text == NULL || b.dtr == NULL || b.cast == NULL || ae == NULL) {
		rc = dh_err_set(err, DH_E_IO, "cannot create upload files: %s",
		    strerror(errno));
		goto out;
	}
	if (archive_write_add_filter_gzip(b.cast) != ARCHIVE_OK ||
	    archive_write_set_format_raw(b.cast) != ARCHIVE_OK ||
	    archive_write_open_filename(b.cast, pcast) != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_IO, "libarchive: %s",
		    archive_error_string(b.cast));
		goto out;
	}
	archive_entry_set_pathname(ae, "transcript.cast");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0600);
	if (archive_write_header(b.cast, ae) != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_IO, "libarchive: %s",
		    archive_error_string(b.cast));
		goto out;
	}
	b.t0 = s->info->started_us;
	rc = ss_spool_cursor_open(&cur, s->env->sdir, 1, err);
	if (rc != DH_OK)
		goto out;
	cur_open = 1;
	for (;;) {
		rc = ss_spool_cursor_next(&cur, &rec, err);
		if (rc == DH_E_NOTFOUND) {
			rc = dh_err_set(err, DH_E_STATE, "spool ends before the "
			    "seal");
			goto out;
		}
		if (rc != DH_OK)
			goto out;
		if (rec.seq == 1 && rec.kind == SS_KIND_OPEN)
			b.t0 = rec.time_us;
		if (fwrite(cur.buf.d, 1, cur.buf.len, b.dtr) != cur.buf.len) {
			rc = dh_err_set(err, DH_E_IO, "write %s", pdtr);
			goto out;
		}
		rc = text_record(&b, s->info, &rec);
		if (rc != DH_OK) {
			rc = dh_err_set(err, rc, "write %s", ptext);
			goto out;
		}
		rc = cast_record(&b, s->info, &rec, err);
		if (rc != DH_OK)
			goto out;
		if (rec.kind == SS_KIND_SEAL)
			break;
	}
	if (archive_write_close(b.cast) != ARCHIVE_OK) {
		rc = dh_err_set(err, DH_E_IO, "libarchive: %s",
		    archive_error_string(b.cast));
		goto out;
	}
	rc = DH_OK;
out:
	if (cur_open)
		ss_spool_cursor_close(&cur);
	if (b.text != NULL && fclose(b.text) != 0 && rc == DH_OK)
		rc = dh_err_set(err, DH_E_IO, "close %s", ptext);
	if (b.dtr != NULL && fclose(b.dtr) != 0 && rc == DH_OK)
		rc = dh_err_set(err, DH_E_IO, "close %s", pdtr);
	if (b.cast != NULL)
		archive_write_free(b.cast);
	archive_entry_free(ae);
	dh_buf_free(&b.line);
	return rc;
}

/* ---- uploading ---------------------------------------------------------- */

static int
add_sse(const struct s3 *c, struct dh_http_hdrs *h)
{
	int rc = DH_OK;

	if (c->sse[0] == '\0')
		return DH_OK;
	rc = dh_http_hdrs_set(h, "x-amz-server-side-encryption", c->sse);
	if (rc == DH_OK && c->sse_key[0] != '\0' &&
	    strncmp(c->sse, "aws:kms", 7) == 0)
		rc = dh_http_hdrs_set(h,
		    "x-amz-server-side-encryption-aws-kms-key-id", c->sse_key);
	return rc;
}

static int
s3_do(struct ss_sink *s, const char *method, const char *key,
    const struct dh_aws_param *q, size_t nq, struct dh_http_hdrs *h,
    const void *body, size_t n, int md5, struct dh_http_response *resp,
    struct dh_err *err)
{
	struct dh_aws_s3_request r;
	struct dh_aws_error ae;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.bucket = s->info->s3_bucket;
	r.key = key;
	r.query = q;
	r.n_query = nq;
	r.headers = h;
	r.body = body;
	r.body_len = n;
	r.payload = md5 ? DH_AWS_PAYLOAD_UNSIGNED : DH_AWS_PAYLOAD_SIGNED;
	r.content_md5 = md5;
	memset(&ae, 0, sizeof(ae));
	return dh_aws_s3_call(s->env->aws, s->env->s3_url, s->env->region, &r,
	    resp, &ae, err);
}

static int
read_chunk(int fd, unsigned char *p, size_t n, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = read(fd, p + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return DH_E_IO;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return DH_OK;
}

static int
upload_multipart(struct ss_sink *s, const char *key, const char *ctype,
    int fd, struct dh_err *err)
{
	struct s3 *c = s->impl;
	struct dh_http_hdrs h;
	struct dh_http_response resp;
	struct dh_aws_param q[2];
	struct dh_buf done;
	unsigned char *part = NULL;
	char upload_id[1024], pn[16];
	const char *etag;
	size_t got;
	int rc, num = 0;

	memset(&h, 0, sizeof(h));
	dh_buf_init(&done, 1024 * 1024);
	dh_http_response_init(&resp);
	upload_id[0] = '\0';
	rc = dh_http_hdrs_set(&h, "Content-Type", ctype);
	if (rc == DH_OK)
		rc = add_sse(c, &h);
	q[0].name = "uploads";
	q[0].value = NULL;
	if (rc == DH_OK)
		rc = s3_do(s, "POST", key, q, 1, &h, NULL, 0, 0, &resp, err);
	if (rc != DH_OK)
		goto out;
	if (xml_value((const char *)resp.body.d, resp.body.len, "UploadId",
	    upload_id, sizeof(upload_id)) != DH_OK) {
		rc = dh_err_set(err, DH_E_FORMAT, "no UploadId in the answer");
		goto out;
	}
	part = malloc(PART_SIZE);
	if (part == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = dh_buf_put_str(&done, "<CompleteMultipartUpload xmlns=\"http://"
	    "s3.amazonaws.com/doc/2006-03-01/\">");
	for (;;) {
		rc = read_chunk(fd, part, PART_SIZE, &got);
		if (rc != DH_OK || (got == 0 && num > 0))
			break;
		num++;
		snprintf(pn, sizeof(pn), "%d", num);
		q[0].name = "partNumber";
		q[0].value = pn;
		q[1].name = "uploadId";
		q[1].value = upload_id;
		dh_http_response_free(&resp);
		dh_http_response_init(&resp);
		rc = s3_do(s, "PUT", key, q, 2, NULL, part, got, 1, &resp, err);
		if (rc != DH_OK)
			break;
		etag = dh_http_hdrs_get(&resp.headers, "ETag");
		if (etag == NULL) {
			rc = dh_err_set(err, DH_E_FORMAT, "part %d without "
			    "ETag", num);
			break;
		}
		rc = dh_buf_printf(&done, "<Part><ETag>%s</ETag><PartNumber>%d"
		    "</PartNumber></Part>", etag, num);
		if (rc != DH_OK || got < PART_SIZE)
			break;
	}
	if (rc == DH_OK)
		rc = dh_buf_put_str(&done, "</CompleteMultipartUpload>");
	if (rc != DH_OK)
		goto abort;
	q[0].name = "uploadId";
	q[0].value = upload_id;
	dh_http_response_free(&resp);
	dh_http_response_init(&resp);
	rc = s3_do(s, "POST", key, q, 1, NULL, done.d, done.len, 0, &resp, err);
	if (rc == DH_OK && resp.body.len > 0 &&
	    memmem(resp.body.d, resp.body.len, "<Error>", 7) != NULL)
		rc = dh_err_set(err, DH_E_SERVICE, "CompleteMultipartUpload "
		    "failed");
	if (rc == DH_OK)
		goto out;
abort:
	if (upload_id[0] != '\0') {
		struct dh_http_response r2;

		q[0].name = "uploadId";
		q[0].value = upload_id;
		dh_http_response_init(&r2);
		(void)s3_do(s, "DELETE", key, q, 1, NULL, NULL, 0, 0, &r2, NULL);
		dh_http_response_free(&r2);
	}
out:
	free(part);
	dh_buf_free(&done);
	dh_http_response_free(&resp);
	dh_http_hdrs_free(&h);
	return rc;
}

static int
upload_file(struct ss_sink *s, const char *key, const char *ctype,
    const char *path, struct dh_err *err)
{
	struct s3 *c = s->impl;
	struct dh_http_hdrs h;
	struct dh_http_response resp;
	struct stat st;
	unsigned char *body = NULL;
	size_t got;
	int fd, rc;

	memset(&h, 0, sizeof(h));
	dh_http_response_init(&resp);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = dh_err_set(err, DH_E_IO, "open %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > PART_SIZE) {
		rc = upload_multipart(s, key, ctype, fd, err);
		goto out;
	}
	body = malloc((size_t)st.st_size + 1);
	if (body == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = read_chunk(fd, body, (size_t)st.st_size, &got);
	if (rc != DH_OK || got != (size_t)st.st_size) {
		rc = dh_err_set(err, DH_E_IO, "read %s", path);
		goto out;
	}
	rc = dh_http_hdrs_set(&h, "Content-Type", ctype);
	if (rc == DH_OK)
		rc = add_sse(c, &h);
	if (rc == DH_OK)
		rc = s3_do(s, "PUT", key, NULL, 0, &h, body, got, 1, &resp,
		    err);
out:
	if (fd >= 0)
		close(fd);
	free(body);
	dh_http_response_free(&resp);
	dh_http_hdrs_free(&h);
	return rc;
}

static int
object_key(const struct ss_session_info *in, const char *suffix, char *out,
    size_t n)
{
	char sid[128];
	size_t i, j = 0, pl = strlen(in->s3_prefix);
	int w;

	for (i = 0; in->session_id[i] != '\0' && j < sizeof(sid) - 1; i++)
		if (in->session_id[i] != ':')
			sid[j++] = in->session_id[i];
	sid[j] = '\0';
	while (pl > 0 && in->s3_prefix[pl - 1] == '/')
		pl--;
	if (pl > 0)
		w = snprintf(out, n, "%.*s/%s%s", (int)pl, in->s3_prefix, sid,
		    suffix);
	else
		w = snprintf(out, n, "%s%s", sid, suffix);
	return w < 0 || (size_t)w >= n ? DH_E_TOOBIG : DH_OK;
}

static int
s3_flush(struct ss_sink *s, int final, struct dh_err *err)
{
	struct s3 *c = s->impl;
	static const struct {
		const char *suffix;
		const char *tmp;
		const char *ctype;
	} objs[3] = {
		{ ".log", "s3.log.tmp", "text/plain; charset=utf-8" },
		{ ".cast.gz", "s3.cast.gz.tmp", "application/gzip" },
		{ ".dtr", "s3.dtr.tmp", "application/octet-stream" },
	};
	char paths[3][SS_SPOOL_PATH_MAX + 32], key[KEY_MAX_LEN];
	size_t i;
	int rc;

	if (!c->sealed || c->done)
		return DH_OK;
	for (i = 0; i < 3; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", s->env->sdir,
		    objs[i].tmp);
	rc = build_files(s, paths[0], paths[1], paths[2], err);
	for (i = 0; rc == DH_OK && i < 3; i++) {
		rc = object_key(s->info, objs[i].suffix, key, sizeof(key));
		if (rc != DH_OK) {
			rc = dh_err_set(err, rc, "S3 key too long");
			break;
		}
		rc = upload_file(s, key, objs[i].ctype, paths[i], err);
		if (rc == DH_OK)
			s->objects++;
	}
	for (i = 0; i < 3; i++)
		(void)unlink(paths[i]);
	if (rc != DH_OK)
		return rc;
	s->calls++;
	c->done = 1;
	s->acked = c->seal_seq;
	return DH_OK;
}

static void
s3_close(struct ss_sink *s)
{
	free(s->impl);
	free(s);
}

static const struct ss_sink_ops s3_ops = {
	"s3", s3_open, s3_write, s3_flush, s3_want_flush, s3_close
};

int
ss_sink_s3_new(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink **out, struct dh_err *err)
{
	struct ss_sink *s;

	*out = NULL;
	if (info->s3_bucket[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "no bucket");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	s->impl = calloc(1, sizeof(struct s3));
	if (s->impl == NULL) {
		free(s);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	s->ops = &s3_ops;
	s->info = info;
	s->env = env;
	*out = s;
	return DH_OK;
}
