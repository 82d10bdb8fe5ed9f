/*
 * Unit tests for ss_spool and the ss_transcript writer/shipper on a temp
 * directory: segment rotation and reading across segments, torn-tail
 * truncation with the chain continued, damage inside the last segment,
 * the fail-open (GAP record) and fail-closed cap policies, acknowledged
 * deletion order, input logging, record splitting, duplicate sessions and
 * the shipper's backlog pass over sealed and abandoned sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_record.h"
#include "ss_spool.h"
#include "ss_transcript.h"

static char *
tmpdir(void)
{
	char *d = strdup("/tmp/test_ss_spool.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void
rm_rf(const char *d)
{
	char (*ids)[128] = NULL;
	char p[1200];
	size_t n = 0, i;

	if (ss_spool_list_sessions(d, &ids, &n, NULL) == DH_OK) {
		for (i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/%s", d, ids[i]);
			(void)ss_spool_remove_session(p, NULL);
		}
	}
	free(ids);
	(void)ss_spool_remove_session(d, NULL);
}

/* Append n 100-byte output records starting at *seq to w. */
static void
append_n(struct ss_spool_writer *w, uint64_t *seq,
    unsigned char link[SS_LINK_LEN], int n)
{
	unsigned char hdr[SS_RECORD_HDR_LEN], payload[100];
	int i;

	for (i = 0; i < n; i++) {
		memset(payload, 'a' + (int)(*seq % 26), sizeof(payload));
		if (*seq == 1) {
			/* OPEN: JSON padded with spaces to the same size. */
			memset(payload, ' ', sizeof(payload));
			memcpy(payload, "{\"session_id\":\"t\"}", 18);
		}
		assert_int_equal(ss_record_build(*seq == 1 ? SS_KIND_OPEN :
		    SS_KIND_OUTPUT, 0, *seq, 1000 + *seq, link, payload,
		    sizeof(payload), hdr, link), DH_OK);
		assert_int_equal(ss_spool_writer_append(w, hdr, payload,
		    sizeof(payload), *seq, NULL), DH_OK);
		(*seq)++;
	}
}

/* Concatenate every segment of sdir into out. */
static void
slurp(const char *sdir, struct dh_buf *out)
{
	struct ss_spool_seg *segs = NULL;
	size_t n = 0, i;
	char p[1200];
	FILE *f;
	unsigned char tmp[4096];
	size_t r;

	assert_int_equal(ss_spool_list_segments(sdir, &segs, &n, NULL), DH_OK);
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", sdir, segs[i].name);
		f = fopen(p, "rb");
		assert_non_null(f);
		for (;;) {
			r = fread(tmp, 1, sizeof(tmp), f);
			if (r == 0)
				break;
			assert_int_equal(dh_buf_put(out, tmp, r), DH_OK);
		}
		fclose(f);
	}
	free(segs);
}

static void
test_check_id(void **state)
{
	static const struct {
		const char *id;
		int ok;
	} cases[] = {
		{ "alice-0123456789abcdef0", 1 }, { "a.b_c@d=e+f", 1 },
		{ "", 0 }, { ".hidden", 0 }, { "a/b", 0 }, { "a b", 0 },
		{ "..", 0 }, { "x\n", 0 },
	};
	char big[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if ((ss_spool_check_id(cases[i].id, NULL) == DH_OK) !=
		    cases[i].ok)
			fail_msg("case %zu (%s)", i, cases[i].id);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ss_spool_check_id(big, NULL), DH_E_ARG);
}

static void
test_rotation_and_cursor(void **state)
{
	char *d = tmpdir(), sdir[1100];
	struct ss_spool_writer *w = NULL;
	struct ss_spool_seg *segs = NULL;
	struct ss_spool_cursor c;
	struct ss_record rec;
	unsigned char link[SS_LINK_LEN] = { 0 }, prev[SS_LINK_LEN] = { 0 };
	uint64_t seq = 1, i;
	size_t n = 0;

	snprintf(sdir, sizeof(sdir), "%s/s1", d);
	assert_int_equal(ss_spool_writer_open(sdir, 1, 1, 1000, 2, &w, NULL),
	    DH_OK);
	append_n(w, &seq, link, 50);
	assert_int_equal(ss_spool_writer_sync(w, NULL), DH_OK);
	assert_true(ss_spool_writer_alive(sdir));
	assert_true(ss_spool_writer_fsyncs(w) > 0);
	ss_spool_writer_close(w);
	assert_false(ss_spool_writer_alive(sdir));
	assert_int_equal(ss_spool_list_segments(sdir, &segs, &n, NULL), DH_OK);
	assert_true(n >= 7);
	assert_int_equal(segs[0].first_seq, 1);
	assert_int_equal(segs[1].first_seq, 7); /* 6 x 164 bytes fit 1000 */
	free(segs);
	/* Read everything across the segments, chain checked. */
	assert_int_equal(ss_spool_cursor_open(&c, sdir, 1, NULL), DH_OK);
	for (i = 1; i <= 50; i++) {
		assert_int_equal(ss_spool_cursor_next(&c, &rec, NULL), DH_OK);
		assert_int_equal(rec.seq, i);
		assert_true(ss_record_link_ok(&rec, prev));
		memcpy(prev, rec.link, SS_LINK_LEN);
	}
	assert_int_equal(ss_spool_cursor_next(&c, &rec, NULL), DH_E_NOTFOUND);
	ss_spool_cursor_close(&c);
	/* Seek into the middle of a segment. */
	assert_int_equal(ss_spool_cursor_open(&c, sdir, 30, NULL), DH_OK);
	assert_int_equal(ss_spool_cursor_next(&c, &rec, NULL), DH_OK);
	assert_int_equal(rec.seq, 30);
	ss_spool_cursor_close(&c);
	rm_rf(d);
	free(d);
}

static void
test_recover_torn_tail(void **state)
{
	char *d = tmpdir(), sdir[1100], path[1200];
	struct ss_spool_writer *w = NULL;
	struct ss_spool_tail tail;
	struct ss_verify v;
	struct dh_buf all;
	unsigned char link[SS_LINK_LEN] = { 0 }, hdr[SS_RECORD_HDR_LEN];
	uint64_t seq = 1;
	struct stat st;
	off_t before;
	FILE *f;

	snprintf(sdir, sizeof(sdir), "%s/s2", d);
	assert_int_equal(ss_spool_writer_open(sdir, 1, 1, 0, 1, &w, NULL),
	    DH_OK);
	append_n(w, &seq, link, 10);
	ss_spool_writer_close(w);
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.dtr", sdir);
	assert_int_equal(stat(path, &st), 0);
	before = st.st_size;
	/* A torn record: header and part of the payload. */
	assert_int_equal(ss_record_build(SS_KIND_OUTPUT, 0, 11, 1, link,
	    "0123456789", 10, hdr, NULL), DH_OK);
	f = fopen(path, "ab");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	assert_int_equal(fwrite("0123", 1, 4, f), 4);
	fclose(f);
	assert_int_equal(ss_spool_recover(sdir, 1, &tail, NULL), DH_OK);
	assert_int_equal(tail.truncated_bytes, SS_RECORD_HDR_LEN + 4);
	assert_int_equal(tail.next_seq, 11);
	assert_int_equal(tail.records, 10);
	assert_memory_equal(tail.link, link, SS_LINK_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, before);
	/* The chain continues after the last intact record. */
	assert_int_equal(ss_spool_writer_open(sdir, 0, tail.next_seq, 0, 1, &w,
	    NULL), DH_OK);
	append_n(w, &seq, link, 3);
	ss_spool_writer_close(w);
	dh_buf_init(&all, 1 << 20);
	slurp(sdir, &all);
	ss_verify_init(&v, NULL, 0);
	(void)ss_verify_buffer(&v, all.d, all.len);
	if (v.broken)
		fail_msg("%s", v.findings[0]);
	assert_int_equal(v.records, 13);
	/* Damage inside the last segment: cut from the damaged record. */
	all.d[all.len - 5] ^= 1;
	snprintf(path, sizeof(path), "%s/seg-000000000000000b.dtr", sdir);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, -5, SEEK_END), 0);
	assert_int_equal(fputc(all.d[all.len - 5], f), all.d[all.len - 5]);
	fclose(f);
	assert_int_equal(ss_spool_recover(sdir, 0, &tail, NULL), DH_OK);
	assert_int_equal(tail.next_seq, 13);
	assert_int_equal(tail.truncated_bytes, SS_RECORD_HDR_LEN + 100);
	dh_buf_free(&all);
	rm_rf(d);
	free(d);
}

static void
test_fail_open_gap(void **state)
{
	char *d = tmpdir(), other[1100], path[1200];
	struct ss_transcript_config cfg;
	struct ss_transcript *t = NULL;
	struct ss_transcript_stats st;
	struct ss_verify v;
	struct dh_buf all;
	unsigned char blob[1000];
	FILE *f;
	int i;

	/* Another session's backlog takes most of the cap. */
	snprintf(other, sizeof(other), "%s/other", d);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.dtr", other);
	f = fopen(path, "wb");
	assert_non_null(f);
	memset(blob, 0, sizeof(blob));
	for (i = 0; i < 6; i++)
		assert_int_equal(fwrite(blob, 1, sizeof(blob), f),
		    sizeof(blob));
	fclose(f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = d;
	cfg.session_id = "gappy";
	cfg.instance_id = "mi-1";
	cfg.run_as_user = "u";
	cfg.spool_cap_bytes = 10000;
	assert_int_equal(ss_transcript_open(&cfg, &t, NULL), DH_OK);
	memset(blob, 'x', sizeof(blob));
	for (i = 0; i < 6; i++)
		assert_int_equal(ss_transcript_write(t, SS_KIND_OUTPUT, blob,
		    sizeof(blob), 0, NULL), DH_OK);
	ss_transcript_stats(t, &st);
	assert_true(st.dropped_records > 0);
	/* The backlog ships; the next write that fits writes the GAP. */
	assert_int_equal(unlink(path), 0);
	usleep(150000);
	assert_int_equal(ss_transcript_write(t, SS_KIND_OUTPUT, "after", 5, 0,
	    NULL), DH_OK);
	ss_transcript_stats(t, &st);
	assert_int_equal(ss_transcript_close(t, 0, 0, NULL), DH_OK);
	snprintf(path, sizeof(path), "%s/gappy", d);
	dh_buf_init(&all, 1 << 20);
	slurp(path, &all);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, all.d, all.len), DH_OK);
	assert_int_equal(v.gaps, 1);
	assert_int_equal(v.gap_bytes, st.dropped_bytes);
	assert_int_equal(v.output_bytes + v.gap_bytes, 6 * 1000 + 5);
	dh_buf_free(&all);
	rm_rf(d);
	free(d);
}

static void
test_fail_closed(void **state)
{
	char *d = tmpdir();
	struct ss_transcript_config cfg;
	struct ss_transcript *t = NULL;
	struct dh_err err;
	unsigned char blob[1000];
	int i, rc = DH_OK;

	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = d;
	cfg.session_id = "strict";
	cfg.policy = SS_POLICY_FAIL_CLOSED;
	cfg.spool_cap_bytes = 4000;
	assert_int_equal(ss_transcript_open(&cfg, &t, NULL), DH_OK);
	memset(blob, 'y', sizeof(blob));
	for (i = 0; i < 10 && rc == DH_OK; i++)
		rc = ss_transcript_write(t, SS_KIND_OUTPUT, blob, sizeof(blob),
		    0, &err);
	assert_int_equal(rc, DH_E_TOOBIG);
	assert_non_null(strstr(err.msg, "session must end"));
	assert_int_equal(ss_transcript_close(t, 1, 0, NULL), DH_OK);
	/* A full spool refuses a new fail-closed session up front. */
	cfg.session_id = "strict2";
	cfg.spool_cap_bytes = 100;
	assert_int_equal(ss_transcript_open(&cfg, &t, &err), DH_E_TOOBIG);
	rm_rf(d);
	free(d);
}

static void
test_delete_acked_order(void **state)
{
	char *d = tmpdir(), sdir[1100];
	struct ss_spool_writer *w = NULL;
	struct ss_spool_seg *segs = NULL;
	unsigned char link[SS_LINK_LEN] = { 0 };
	uint64_t seq = 1, del = 0;
	size_t n = 0;

	snprintf(sdir, sizeof(sdir), "%s/s3", d);
	/* 5 records of 164 bytes per segment: seqs 1-5, 6-10, 11-15. */
	assert_int_equal(ss_spool_writer_open(sdir, 1, 1, 820, 1, &w, NULL),
	    DH_OK);
	append_n(w, &seq, link, 15);
	ss_spool_writer_close(w);
	assert_int_equal(ss_spool_list_segments(sdir, &segs, &n, NULL), DH_OK);
	assert_int_equal(n, 3);
	free(segs);
	/* Acked up to 7: only the first segment is fully acknowledged. */
	assert_int_equal(ss_spool_delete_acked(sdir, 7, 1, &del, NULL), DH_OK);
	assert_int_equal(del, 1);
	assert_int_equal(ss_spool_delete_acked(sdir, 9, 1, &del, NULL), DH_OK);
	assert_int_equal(del, 0);
	assert_int_equal(ss_spool_delete_acked(sdir, 10, 1, &del, NULL), DH_OK);
	assert_int_equal(del, 1);
	/* The last segment stays while the writer may still append. */
	assert_int_equal(ss_spool_delete_acked(sdir, 100, 1, &del, NULL),
	    DH_OK);
	assert_int_equal(del, 0);
	assert_int_equal(ss_spool_delete_acked(sdir, 100, 0, &del, NULL),
	    DH_OK);
	assert_int_equal(del, 1);
	rm_rf(d);
	free(d);
}

static void
test_writer_rules(void **state)
{
	char *d = tmpdir(), sdir[1100];
	struct ss_transcript_config cfg;
	struct ss_transcript *t = NULL, *t2 = NULL;
	struct ss_transcript_stats st;
	struct ss_verify v;
	struct dh_buf all;
	unsigned char *big;
	unsigned char link[SS_LINK_LEN];

	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = d;
	cfg.session_id = "rules";
	assert_int_equal(ss_transcript_open(&cfg, &t, NULL), DH_OK);
	assert_int_equal(ss_transcript_open(&cfg, &t2, NULL), DH_E_EXISTS);
	/* Input logging is off: INPUT is accepted and not recorded. */
	assert_int_equal(ss_transcript_write(t, SS_KIND_INPUT, "pw", 2, 0,
	    NULL), DH_OK);
	assert_int_equal(ss_transcript_write(t, SS_KIND_SEAL, "x", 1, 0, NULL),
	    DH_E_ARG);
	big = malloc(SS_RECORD_MAX + 10);
	assert_non_null(big);
	memset(big, 'z', SS_RECORD_MAX + 10);
	assert_int_equal(ss_transcript_write(t, SS_KIND_OUTPUT, big,
	    SS_RECORD_MAX + 10, 0, NULL), DH_OK);
	free(big);
	assert_int_equal(ss_transcript_write(t, SS_KIND_RESIZE, "80x24", 5, 0,
	    NULL), DH_OK);
	ss_transcript_stats(t, &st);
	assert_int_equal(st.records, 4); /* OPEN + 2 output parts + RESIZE */
	ss_transcript_link(t, link);
	assert_int_equal(ss_transcript_close(t, 0, 0, NULL), DH_OK);
	snprintf(sdir, sizeof(sdir), "%s/rules", d);
	dh_buf_init(&all, 4u << 20);
	slurp(sdir, &all);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, all.d, all.len), DH_OK);
	assert_int_equal(v.output_bytes, SS_RECORD_MAX + 10);
	assert_int_equal(v.input_bytes, 0);
	dh_buf_free(&all);
	rm_rf(d);
	free(d);
}

static int
no_creds(void *arg, struct ss_creds *out, struct dh_err *err)
{
	snprintf(out->access_key, sizeof(out->access_key), "AKID");
	snprintf(out->secret_key, sizeof(out->secret_key), "secret");
	return DH_OK;
}

static void
test_shipper_backlog(void **state)
{
	char *d = tmpdir();
	struct ss_transcript_config cfg;
	struct ss_transcript *t = NULL;
	struct ss_shipper_config sc;
	struct ss_shipper *s = NULL, *s2 = NULL;
	struct ss_shipper_stats st;
	char (*ids)[128] = NULL;
	size_t n = 5;

	memset(&cfg, 0, sizeof(cfg));
	cfg.spool_dir = d;
	cfg.session_id = "sealed-one";
	assert_int_equal(ss_transcript_open(&cfg, &t, NULL), DH_OK);
	assert_int_equal(ss_transcript_write(t, SS_KIND_OUTPUT, "hi\n", 3, 0,
	    NULL), DH_OK);
	assert_int_equal(ss_transcript_close(t, 0, 0, NULL), DH_OK);
	/* A session left behind by a dead writer (no seal). */
	cfg.session_id = "crashed-one";
	assert_int_equal(ss_transcript_open(&cfg, &t, NULL), DH_OK);
	assert_int_equal(ss_transcript_write(t, SS_KIND_OUTPUT, "lost?\n", 6,
	    0, NULL), DH_OK);
	ss_transcript_abandon(t);
	memset(&sc, 0, sizeof(sc));
	sc.spool_dir = d;
	sc.region = "us-east-1";
	sc.creds = no_creds;
	sc.poll_ms = 20;
	assert_int_equal(ss_shipper_start(&sc, &s, NULL), DH_OK);
	assert_int_equal(ss_shipper_start(&sc, &s2, NULL), DH_E_STATE);
	assert_int_equal(ss_shipper_drain(s, 10000, NULL), DH_OK);
	assert_int_equal(ss_shipper_drain(s, 10000, NULL), DH_OK);
	ss_shipper_stats(s, &st);
	ss_shipper_stop(s);
	assert_int_equal(st.sessions_done, 2);
	assert_int_equal(ss_spool_list_sessions(d, &ids, &n, NULL), DH_OK);
	assert_int_equal(n, 0);
	free(ids);
	rm_rf(d);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_id),
		cmocka_unit_test(test_rotation_and_cursor),
		cmocka_unit_test(test_recover_torn_tail),
		cmocka_unit_test(test_fail_open_gap),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_delete_acked_order),
		cmocka_unit_test(test_writer_rules),
		cmocka_unit_test(test_shipper_backlog),
	};

	return cmocka_run_group_tests_name("ss_spool", tests, NULL, NULL);
}
