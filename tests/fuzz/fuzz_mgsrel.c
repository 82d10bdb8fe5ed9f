/*
 * Fuzz target: the dh_mgsrel state machine driven by a script decoded from
 * the input.  Byte 0 picks the role and policies; then each record is an op
 * byte and its arguments: raw frame bytes, well-formed peer stream messages
 * or acks with fuzzed sequence numbers, sends, ticks, pause/resume, accept
 * masks, drains.  Checked invariants: every frame we emit decodes with its
 * digest, delivered stream data is consecutive from 0, buffers stay within
 * their windows and byte budgets, and everything is freed (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_mgsrel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
	const uint8_t *p;
	size_t n;
};

static unsigned
rd_u8(struct rd *r)
{
	unsigned v;

	if (r->n == 0)
		return 0;
	v = r->p[0];
	r->p++;
	r->n--;
	return v;
}

static int
fixed_id(void *arg, struct dh_uuid *out)
{
	uint32_t *n = arg;

	memset(out, 0, sizeof(*out));
	(*n)++;
	memcpy(out->b, n, sizeof(*n));
	return DH_OK;
}

static void
peer_msg(struct dh_mgsrel *r, const char *type, int64_t seq, uint32_t ptype,
    const void *p, size_t n, int64_t now, uint32_t *ids)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;
	struct dh_buf f;

	fixed_id(ids, &id);
	dh_buf_init(&f, 1 << 16);
	if (dh_mgs_init(&m, type, 1, seq, 0, &id, ptype, p, n, NULL) ==
	    DH_OK && dh_mgs_encode(&m, &f, NULL) == DH_OK)
		(void)dh_mgsrel_feed(r, f.d, f.len, now, NULL);
	dh_buf_free(&f);
}

static void
drain(struct dh_mgsrel *r, int64_t *last, unsigned max)
{
	struct dh_mgsrel_ev ev;
	struct dh_mgs_msg m;
	unsigned i;

	for (i = 0; i < max && dh_mgsrel_next(r, &ev); i++) {
		if (ev.kind == DH_MGSREL_EV_FRAME) {
			if (dh_mgs_decode(ev.frame, ev.frame_len,
			    DH_MGS_DEC_DIGEST, &m, NULL) != DH_OK)
				abort();
		} else if (ev.kind == DH_MGSREL_EV_DATA) {
			if (ev.msg.seq != *last + 1)
				abort();
			*last = ev.msg.seq;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd in = { data, size };
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel_stats st;
	struct dh_mgsrel *r;
	struct dh_mgs_ack a;
	struct dh_buf js;
	unsigned char pay[256];
	const char *in_type, *out_type;
	int64_t now = 0, last = -1, seq;
	uint32_t ids = 0;
	unsigned b0, op, n;

	b0 = rd_u8(&in);
	dh_mgsrel_cfg_default(&c, (b0 & 1) ? DH_MGSREL_CLIENT : DH_MGSREL_AGENT);
	c.full_policy = (int)((b0 >> 1) % 3);
	c.reack_duplicates = (b0 >> 3) & 1;
	c.refresh_on_resend = (b0 >> 4) & 1;
	c.check_digest = (b0 >> 5) & 1;
	c.honor_pause = (b0 >> 6) & 1;
	c.reorder_cap = 8;
	c.send_cap = 8;
	c.reorder_max_bytes = 1024;
	c.send_max_bytes = 4096;
	c.max_frame = 4096;
	c.queue_cap = 64;
	c.new_id = fixed_id;
	c.id_arg = &ids;
	if (dh_mgsrel_new(&c, 0, &r, NULL) != DH_OK)
		abort();
	in_type = (b0 & 1) ? DH_MGS_T_OUTPUT : DH_MGS_T_INPUT;
	out_type = (b0 & 1) ? DH_MGS_T_INPUT : DH_MGS_T_OUTPUT;
	memset(pay, 'x', sizeof(pay));
	while (in.n > 0) {
		op = rd_u8(&in) % 10;
		now += rd_u8(&in);
		switch (op) {
		case 0: /* raw frame */
			n = rd_u8(&in) * 8;
			if (n > in.n)
				n = (unsigned)in.n;
			(void)dh_mgsrel_feed(r, in.p, n, now, NULL);
			in.p += n;
			in.n -= n;
			break;
		case 1: /* peer stream message */
			seq = (int64_t)rd_u8(&in) - 4;
			n = rd_u8(&in);
			peer_msg(r, in_type, seq, rd_u8(&in) % 14, pay, n, now,
			    &ids);
			break;
		case 2: /* peer ack */
			memset(&a, 0, sizeof(a));
			memcpy(a.type, out_type, strlen(out_type));
			a.seq = rd_u8(&in);
			dh_buf_init(&js, 1024);
			if (dh_mgs_ack_build(&a, &js, NULL) == DH_OK)
				peer_msg(r, DH_MGS_T_ACK, 0, 0, js.d, js.len,
				    now, &ids);
			dh_buf_free(&js);
			break;
		case 3:
			(void)dh_mgsrel_tick(r, now);
			break;
		case 4:
			n = rd_u8(&in) + 1;
			(void)dh_mgsrel_send(r, 1, pay, n, now, NULL);
			break;
		case 5:
			dh_mgsrel_pause(r);
			break;
		case 6:
			(void)dh_mgsrel_resume(r, now);
			break;
		case 7:
			(void)dh_mgsrel_set_accept(r, rd_u8(&in) == 0 ?
			    DH_MGSREL_ACCEPT_ALL : (uint64_t)rd_u8(&in) << 1);
			break;
		case 8:
			peer_msg(r, rd_u8(&in) & 1 ? DH_MGS_T_PAUSE :
			    DH_MGS_T_START, 0, 0, "{}", 2, now, &ids);
			break;
		default:
			drain(r, &last, rd_u8(&in));
			break;
		}
		dh_mgsrel_stats(r, &st);
		if (st.inflight > c.send_cap || st.held > c.reorder_cap ||
		    st.held_bytes > c.reorder_max_bytes ||
		    st.inflight_bytes > c.send_max_bytes ||
		    st.rto_ms > DH_MGSREL_RTO_MAX_MS || st.rto_ms <= 0)
			abort();
	}
	drain(r, &last, 100000);
	dh_mgsrel_free(r);
	return 0;
}
