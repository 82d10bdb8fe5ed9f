/*
 * bench_mgs: throughput of the MGS codec and of the reliability layer.
 *
 *  1. encode + decode (digest checked) of 1 KiB and 16 KiB payloads;
 *  2. a back-to-back transfer of N MiB (default 64) from an agent-side
 *     dh_mgsrel to a client-side one over a perfect in-memory link, every
 *     message acked individually as on the wire, with 1 KiB payloads (the
 *     reference peers' chunk size: the baseline) and with 16 KiB payloads.
 *
 * The transfers run twice: with glibc's default heap trimming, and again
 * after mallopt(M_TRIM_THRESHOLD 64 MiB, M_TOP_PAD 16 MiB), because
 * returning the heap top to the kernel after every burst of 16 KiB frames
 * costs more than the protocol work itself.
 * Each figure is the best of three runs (the host is shared and noisy).
 * Prints MB/s (10^6 bytes of payload per second) and the ratios; asserts
 * nothing.  Usage: bench_mgs [MiB]
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_mgsrel.h"
#include "dh_time.h"
#include "dh_uuid.h"

static double
codec_mbps(size_t payload, size_t total, double *msgs_per_s)
{
	struct dh_mgs_msg m, d;
	struct dh_uuid id;
	struct dh_buf out;
	unsigned char *p;
	size_t i, n = total / payload;
	int64_t t0, t1;
	double secs;

	p = malloc(payload);
	if (p == NULL)
		return -1;
	memset(p, 'a', payload);
	dh_buf_init(&out, payload + DH_MGS_HDR_LEN);
	memset(&id, 0x42, sizeof(id));
	t0 = dh_time_mono_ms();
	for (i = 0; i < n; i++) {
		dh_buf_reset(&out);
		if (dh_mgs_init(&m, DH_MGS_T_OUTPUT, 1700000000000ULL,
		    (int64_t)i, 0, &id, DH_MGS_PT_OUTPUT, p, payload,
		    NULL) != DH_OK ||
		    dh_mgs_encode(&m, &out, NULL) != DH_OK ||
		    dh_mgs_decode(out.d, out.len, DH_MGS_DEC_DIGEST, &d,
		    NULL) != DH_OK) {
			fprintf(stderr, "bench_mgs: codec failure\n");
			exit(1);
		}
	}
	t1 = dh_time_mono_ms();
	dh_buf_free(&out);
	free(p);
	secs = (double)(t1 - t0) / 1000.0;
	if (secs <= 0)
		secs = 0.001;
	*msgs_per_s = (double)n / secs;
	return (double)n * (double)payload / secs / 1e6;
}

/* Move every queued frame of from into to; count delivered payload bytes. */
static int
pump(struct dh_mgsrel *from, struct dh_mgsrel *to, size_t *delivered)
{
	struct dh_mgsrel_ev ev;
	struct dh_err err;
	int64_t now = dh_time_mono_ms();

	while (dh_mgsrel_next(from, &ev)) {
		if (ev.kind == DH_MGSREL_EV_DATA) {
			*delivered += ev.msg.payload_len;
		} else if (ev.kind == DH_MGSREL_EV_FRAME) {
			if (dh_mgsrel_feed(to, ev.frame, ev.frame_len, now,
			    &err) != DH_OK) {
				fprintf(stderr, "bench_mgs: feed: %s\n",
				    err.msg);
				return -1;
			}
		}
	}
	return 0;
}

static double
transfer_mbps(size_t payload, size_t total, uint64_t *acks,
    uint64_t *retransmits)
{
	struct dh_mgsrel_cfg ca, cc;
	struct dh_mgsrel_stats st;
	struct dh_mgsrel *a = NULL, *c = NULL;
	struct dh_err err;
	unsigned char *p;
	size_t sent = 0, got = 0, n, sink = 0, batch;
	int64_t t0, t1;
	double secs, rate = -1;

	p = malloc(payload);
	if (p == NULL)
		return -1;
	memset(p, 'b', payload);
	dh_mgsrel_cfg_default(&ca, DH_MGSREL_AGENT);
	dh_mgsrel_cfg_default(&cc, DH_MGSREL_CLIENT);
	if (dh_mgsrel_new(&ca, dh_time_mono_ms(), &a, &err) != DH_OK ||
	    dh_mgsrel_new(&cc, dh_time_mono_ms(), &c, &err) != DH_OK)
		goto out;
	t0 = dh_time_mono_ms();
	while (got < total) {
		/* An event loop writes a few frames, then reads. */
		for (batch = 0; batch < 32 && sent < total; batch++) {
			n = total - sent < payload ? total - sent : payload;
			if (!dh_mgsrel_can_send(a, n))
				break;
			if (dh_mgsrel_send(a, DH_MGS_PT_OUTPUT, p, n,
			    dh_time_mono_ms(), &err) != DH_OK)
				goto out;
			sent += n;
		}
		if (pump(a, c, &sink) != 0 || pump(c, a, &got) != 0)
			goto out;
		if (dh_mgsrel_tick(a, dh_time_mono_ms()) != DH_OK)
			goto out;
	}
	t1 = dh_time_mono_ms();
	dh_mgsrel_stats(c, &st);
	*acks = st.acks_sent;
	dh_mgsrel_stats(a, &st);
	*retransmits = st.retransmits;
	secs = (double)(t1 - t0) / 1000.0;
	if (secs <= 0)
		secs = 0.001;
	rate = (double)total / secs / 1e6;
out:
	dh_mgsrel_free(a);
	dh_mgsrel_free(c);
	free(p);
	return rate;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[2] = { 1024, 16384 };
	double codec[2], xfer[2], mps = 0, m = 0, v;
	uint64_t acks, retx;
	int k, pass;
	size_t mib = 64, total;
	char *end;
	int i;

	if (argc > 1) {
		mib = (size_t)strtoul(argv[1], &end, 10);
		if (*end != '\0' || mib == 0 || mib > 4096) {
			fprintf(stderr, "usage: bench_mgs [MiB 1..4096]\n");
			return 2;
		}
	}
	total = mib << 20;
	printf("bench_mgs: %zu MiB per run\n", mib);
	for (i = 0; i < 2; i++) {
		codec[i] = -1;
		for (k = 0; k < 3; k++) {
			v = codec_mbps(sizes[i], total, &m);
			if (v > codec[i]) {
				codec[i] = v;
				mps = m;
			}
		}
		printf("codec encode+decode (SHA-256 both ways), %5zu B payload: "
		    "%8.1f MB/s  (%.0f msg/s)\n", sizes[i], codec[i], mps);
	}
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			mallopt(M_TRIM_THRESHOLD, 64 << 20);
			mallopt(M_TOP_PAD, 16 << 20);
		}
		for (i = 0; i < 2; i++) {
			xfer[i] = -1;
			for (k = 0; k < 3; k++) {
				v = transfer_mbps(sizes[i], total, &acks, &retx);
				if (v < 0)
					break;
				if (v > xfer[i])
					xfer[i] = v;
			}
			if (xfer[i] < 0) {
				fprintf(stderr, "bench_mgs: transfer failed\n");
				return 1;
			}
			printf("back-to-back dh_mgsrel transfer, %5zu B payload%s: "
			    "%8.1f MB/s  (%llu acks, %llu retransmits)\n",
			    sizes[i], pass ? ", no heap trim" : "",
			    xfer[i], (unsigned long long)acks,
			    (unsigned long long)retx);
		}
		printf("ratio 16 KiB / 1 KiB (baseline = reference chunk size)%s: "
		    "transfer %.2fx\n", pass ? ", no heap trim" : "",
		    xfer[1] / xfer[0]);
	}
	printf("ratio 16 KiB / 1 KiB codec: %.2fx\n", codec[1] / codec[0]);
	printf("context: the reference peers sleep 1 ms per 1 KiB chunk, "
	    "a pacing ceiling of about 1.0 MB/s (computed, not measured)\n");
	return 0;
}
