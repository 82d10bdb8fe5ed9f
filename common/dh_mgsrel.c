/*
 * dh_mgsrel: MGS reliability layer state machine (see dh_mgsrel.h).
 *
 * Storage: frames and payloads live in reference-counted blobs, so a frame
 * sitting in the send buffer and queued for (re)transmission is stored once.
 * The send buffer and the reorder buffer are sparse windows indexed by
 * sequence number (a power-of-two ring that grows on demand up to the
 * configured window), so lookups by sequence number are O(1).
 */
#include "dh_mgsrel.h"

#include "dh_hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIN_MAX_CAP ((size_t)1 << 20)
#define ACK_JSON_MAX 512

struct blob {
	size_t refs;
	size_t len;
	unsigned char d[];
};

/* Queued output event; b holds the frame (FRAME) or the payload. */
struct qev {
	int kind;
	struct blob *b;
	struct dh_mgs_msg msg;
};

struct queue {
	struct qev *v;
	size_t size; /* power of two or 0 */
	size_t head;
	size_t count;
};

/* Window entries start with their sequence number (see win_get). */
struct sent {
	int64_t seq;
	struct blob *frame;
	int64_t last_sent;
	int transmitted;
};

struct held {
	int64_t seq;
	struct blob *b;
	struct dh_mgs_msg msg;
};

struct win {
	void **slot;
	size_t size; /* power of two or 0 */
	size_t count;
};

struct dh_mgsrel {
	struct dh_mgsrel_cfg cfg;
	const char *out_type;
	const char *in_type;
	struct queue q;
	struct qev cur;
	int has_cur;
	struct win sendw;
	int64_t head;        /* oldest buffered seq (when sendw.count > 0) */
	int64_t next_seq;
	int64_t unsent_from; /* first seq buffered while paused, or INT64_MAX */
	size_t send_bytes;
	int sent_any;
	struct win heldw;
	int64_t expected;
	size_t held_bytes;
	uint64_t accept;
	int paused;
	int64_t tick_base;
	double srtt, rttvar, rto;
	unsigned char id_seed[16];
	uint64_t id_ctr;
	struct dh_buf scratch;
	struct dh_mgsrel_stats st;
};

static struct blob *
blob_new(size_t len)
{
	struct blob *b;

	if (len > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + len);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = len;
	return b;
}

static struct blob *
blob_copy(const void *p, size_t n)
{
	struct blob *b = blob_new(n);

	if (b != NULL && n != 0)
		memcpy(b->d, p, n);
	return b;
}

static void
blob_unref(struct blob *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

static size_t
pow2_at_least(size_t n)
{
	size_t s = 16;

	while (s < n)
		s <<= 1;
	return s;
}

/* Make room for n more events. */
static int
q_reserve(struct queue *q, size_t n)
{
	struct qev *v;
	size_t size, i;

	if (q->size - q->count >= n)
		return DH_OK;
	if (n > SIZE_MAX / 2 - q->count)
		return DH_E_NOMEM;
	size = pow2_at_least(q->count + n);
	v = calloc(size, sizeof(*v));
	if (v == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < q->count; i++)
		v[i] = q->v[(q->head + i) & (q->size - 1)];
	free(q->v);
	q->v = v;
	q->size = size;
	q->head = 0;
	return DH_OK;
}

/* Append after q_reserve; takes over the caller's reference to b. */
static void
q_push(struct queue *q, int kind, struct blob *b, const struct dh_mgs_msg *m)
{
	struct qev *e = &q->v[(q->head + q->count) & (q->size - 1)];

	e->kind = kind;
	e->b = b;
	if (m != NULL)
		e->msg = *m;
	else
		memset(&e->msg, 0, sizeof(e->msg));
	q->count++;
}

static void *
win_get(const struct win *w, int64_t seq)
{
	void *e;

	if (w->size == 0)
		return NULL;
	e = w->slot[(uint64_t)seq & (w->size - 1)];
	if (e != NULL && *(const int64_t *)e == seq)
		return e;
	return NULL;
}

/* Store e at seq; caller guarantees base <= seq < base + limit and that
 * every live entry lies in [base, base + limit). */
static int
win_put(struct win *w, int64_t base, int64_t seq, void *e, size_t limit)
{
	size_t need = (size_t)(seq - base) + 1, size, i;
	void **slot;
	int64_t s;

	if (need > w->size) {
		size = pow2_at_least(need);
		if (size < w->size * 2)
			size = w->size * 2;
		if (size > pow2_at_least(limit))
			size = pow2_at_least(limit);
		slot = calloc(size, sizeof(*slot));
		if (slot == NULL)
			return DH_E_NOMEM;
		for (i = 0; i < w->size; i++) {
			if (w->slot[i] == NULL)
				continue;
			s = *(const int64_t *)w->slot[i];
			slot[(uint64_t)s & (size - 1)] = w->slot[i];
		}
		free(w->slot);
		w->slot = slot;
		w->size = size;
	}
	w->slot[(uint64_t)seq & (w->size - 1)] = e;
	w->count++;
	return DH_OK;
}

static void
win_del(struct win *w, int64_t seq)
{
	w->slot[(uint64_t)seq & (w->size - 1)] = NULL;
	w->count--;
}

void
dh_mgsrel_cfg_default(struct dh_mgsrel_cfg *c, int role)
{
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->reorder_cap = role == DH_MGSREL_AGENT ? 100000 : 10000;
	c->send_cap = c->reorder_cap;
	c->reorder_max_bytes = (size_t)64 << 20;
	c->send_max_bytes = (size_t)64 << 20;
	c->full_policy = DH_MGSREL_FULL_REFUSE;
	c->reack_duplicates = 1;
	c->refresh_on_resend = 1;
	c->syn_first = role == DH_MGSREL_AGENT;
	c->honor_pause = role == DH_MGSREL_AGENT;
	c->check_digest = role == DH_MGSREL_CLIENT;
	c->max_frame = (size_t)4 << 20;
	c->queue_cap = 65536;
}

int
dh_mgsrel_new(const struct dh_mgsrel_cfg *c, int64_t now_ms,
    struct dh_mgsrel **out, struct dh_err *err)
{
	struct dh_mgsrel *r;

	*out = NULL;
	if (c->role != DH_MGSREL_AGENT && c->role != DH_MGSREL_CLIENT)
		return dh_err_set(err, DH_E_ARG, "mgsrel: unknown role %d",
		    c->role);
	if (c->reorder_cap == 0 || c->reorder_cap > WIN_MAX_CAP ||
	    c->send_cap == 0 || c->send_cap > WIN_MAX_CAP)
		return dh_err_set(err, DH_E_ARG,
		    "mgsrel: window sizes must be 1..%zu", WIN_MAX_CAP);
	if (c->full_policy < DH_MGSREL_FULL_REFUSE ||
	    c->full_policy > DH_MGSREL_FULL_DROP_OLDEST)
		return dh_err_set(err, DH_E_ARG, "mgsrel: unknown full policy");
	if (c->max_frame <= DH_MGS_HDR_LEN ||
	    c->max_frame - DH_MGS_HDR_LEN > UINT32_MAX ||
	    c->queue_cap == 0 || c->reorder_max_bytes == 0 ||
	    c->send_max_bytes == 0)
		return dh_err_set(err, DH_E_ARG, "mgsrel: invalid size limits");
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	r->cfg = *c;
	if (c->role == DH_MGSREL_AGENT) {
		r->out_type = DH_MGS_T_OUTPUT;
		r->in_type = DH_MGS_T_INPUT;
	} else {
		r->out_type = DH_MGS_T_INPUT;
		r->in_type = DH_MGS_T_OUTPUT;
	}
	r->unsent_from = INT64_MAX;
	r->accept = DH_MGSREL_ACCEPT_ALL;
	r->tick_base = now_ms;
	r->srtt = DH_MGSREL_SRTT0_MS;
	r->rttvar = 0;
	r->rto = DH_MGSREL_RTO0_MS;
	dh_buf_init(&r->scratch, ACK_JSON_MAX);
	if (c->new_id == NULL && dh_random(r->id_seed, sizeof(r->id_seed)) !=
	    DH_OK) {
		dh_mgsrel_free(r);
		return dh_err_set(err, DH_E_CRYPTO, "mgsrel: no randomness");
	}
	*out = r;
	return DH_OK;
}

static void
drop_cur(struct dh_mgsrel *r)
{
	if (r->has_cur) {
		blob_unref(r->cur.b);
		r->has_cur = 0;
	}
}

void
dh_mgsrel_free(struct dh_mgsrel *r)
{
	size_t i;
	struct sent *s;
	struct held *h;

	if (r == NULL)
		return;
	drop_cur(r);
	for (i = 0; i < r->q.count; i++)
		blob_unref(r->q.v[(r->q.head + i) & (r->q.size - 1)].b);
	free(r->q.v);
	for (i = 0; i < r->sendw.size; i++) {
		s = r->sendw.slot[i];
		if (s == NULL)
			continue;
		blob_unref(s->frame);
		free(s);
	}
	free(r->sendw.slot);
	for (i = 0; i < r->heldw.size; i++) {
		h = r->heldw.slot[i];
		if (h == NULL)
			continue;
		blob_unref(h->b);
		free(h);
	}
	free(r->heldw.slot);
	dh_buf_free(&r->scratch);
	free(r);
}

static int
accepted(const struct dh_mgsrel *r, uint32_t ptype)
{
	if (r->accept == DH_MGSREL_ACCEPT_ALL)
		return 1;
	return ptype < 64 && (r->accept >> ptype) & 1u;
}

static uint64_t
created(const struct dh_mgsrel *r, int64_t now_ms)
{
	int64_t t = now_ms + r->cfg.wall_offset_ms;

	return t > 0 ? (uint64_t)t : 1;
}

/* Default message id: a v4 UUID made of a random per-object seed with a
 * 56-bit counter folded into bytes 9..15, so ids never repeat within the
 * object and stay unpredictable across objects, without one RAND_bytes
 * call per message. */
static void
seq_id(struct dh_mgsrel *r, struct dh_uuid *id)
{
	uint64_t c = r->id_ctr++;
	int i;

	memcpy(id->b, r->id_seed, sizeof(id->b));
	for (i = 0; i < 7; i++)
		id->b[15 - i] ^= (unsigned char)(c >> (8 * i));
	id->b[6] = (unsigned char)((id->b[6] & 0x0f) | 0x40);
	id->b[8] = (unsigned char)((id->b[8] & 0x3f) | 0x80);
}

/* Encode a whole frame into a new blob. */
static int
make_frame(struct dh_mgsrel *r, const char *type, int64_t seq, uint64_t flags,
    uint32_t ptype, const void *p, size_t n, int64_t now_ms,
    struct blob **out, struct dh_err *err)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;
	struct blob *b;
	int rc;

	*out = NULL;
	rc = DH_OK;
	if (r->cfg.new_id != NULL)
		rc = r->cfg.new_id(r->cfg.id_arg, &id);
	else
		seq_id(r, &id);
	if (rc != DH_OK)
		return dh_err_set(err, DH_E_CRYPTO,
		    "mgsrel: cannot make a message id");
	rc = dh_mgs_init(&m, type, created(r, now_ms), seq, flags, &id, ptype,
	    p, n, err);
	if (rc != DH_OK)
		return rc;
	b = blob_new(dh_mgs_frame_len(&m));
	if (b == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = dh_mgs_encode_header(&m, b->d, err);
	if (rc != DH_OK) {
		blob_unref(b);
		return rc;
	}
	if (n != 0)
		memcpy(b->d + DH_MGS_HDR_LEN, p, n);
	*out = b;
	return DH_OK;
}

/* Build the acknowledge frame for stream message m. */
static int
make_ack(struct dh_mgsrel *r, const struct dh_mgs_msg *m, int64_t now_ms,
    struct blob **out, struct dh_err *err)
{
	struct dh_mgs_ack a;
	int rc;

	memset(&a, 0, sizeof(a));
	memcpy(a.type, m->type, sizeof(a.type));
	a.id = m->id;
	a.seq = m->seq;
	a.sequential = 1;
	dh_buf_reset(&r->scratch);
	rc = dh_mgs_ack_build(&a, &r->scratch, err);
	if (rc != DH_OK)
		return rc;
	return make_frame(r, DH_MGS_T_ACK, 0, DH_MGS_HF_ACK, DH_MGS_PT_NONE,
	    r->scratch.d, r->scratch.len, now_ms, out, err);
}

/* Queue an ack for m. */
static int
send_ack(struct dh_mgsrel *r, const struct dh_mgs_msg *m, int64_t now_ms,
    struct dh_err *err)
{
	struct blob *b;
	int rc;

	if (q_reserve(&r->q, 1) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = make_ack(r, m, now_ms, &b, err);
	if (rc != DH_OK)
		return rc;
	q_push(&r->q, DH_MGSREL_EV_FRAME, b, NULL);
	r->st.acks_sent++;
	return DH_OK;
}

/* Deliver held messages that are now in order and accepted. */
static int
release(struct dh_mgsrel *r)
{
	struct held *h;

	for (;;) {
		h = win_get(&r->heldw, r->expected);
		if (h == NULL || !accepted(r, h->msg.ptype))
			return DH_OK;
		if (q_reserve(&r->q, 1) != DH_OK)
			return DH_E_NOMEM;
		win_del(&r->heldw, h->seq);
		r->held_bytes -= h->b->len;
		q_push(&r->q, DH_MGSREL_EV_DATA, h->b, &h->msg);
		free(h);
		r->expected++;
		r->st.delivered++;
	}
}

static void
send_remove(struct dh_mgsrel *r, struct sent *e)
{
	int64_t s;

	win_del(&r->sendw, e->seq);
	r->send_bytes -= e->frame->len;
	if (r->sendw.count == 0) {
		r->head = r->next_seq;
	} else if (e->seq == r->head) {
		s = r->head + 1;
		while (win_get(&r->sendw, s) == NULL)
			s++;
		r->head = s;
	}
	blob_unref(e->frame);
	free(e);
}

static void
rtt_sample(struct dh_mgsrel *r, double rtt)
{
	r->rttvar = 0.75 * r->rttvar + 0.25 * fabs(r->srtt - rtt);
	r->srtt = 0.875 * r->srtt + 0.125 * rtt;
	r->rto = r->srtt + fmax(DH_MGSREL_CLOCK_G_MS, 4 * r->rttvar);
	if (r->rto > DH_MGSREL_RTO_MAX_MS)
		r->rto = DH_MGSREL_RTO_MAX_MS;
}

/* Transmit what was buffered while paused and restart the timer. */
static int
do_resume(struct dh_mgsrel *r, int64_t now_ms)
{
	struct sent *e;
	int64_t s;

	if (!r->paused)
		return DH_OK;
	s = r->unsent_from;
	if (s < r->head)
		s = r->head;
	for (; s < r->next_seq; s++) {
		e = win_get(&r->sendw, s);
		if (e == NULL || e->transmitted)
			continue;
		if (q_reserve(&r->q, 1) != DH_OK) {
			r->unsent_from = s;
			return DH_E_NOMEM;
		}
		e->frame->refs++;
		q_push(&r->q, DH_MGSREL_EV_FRAME, e->frame, NULL);
		e->transmitted = 1;
		e->last_sent = now_ms;
		r->st.sent++;
	}
	r->unsent_from = INT64_MAX;
	r->paused = 0;
	r->tick_base = now_ms;
	return DH_OK;
}

static int
on_ack(struct dh_mgsrel *r, const struct dh_mgs_msg *m, int64_t now_ms,
    struct dh_err *err)
{
	struct dh_mgs_ack a;
	struct sent *e;
	int64_t rtt;
	int rc;

	rc = dh_mgs_ack_parse(m->payload, m->payload_len, &a, err);
	if (rc != DH_OK) {
		r->st.bad_frames++;
		return rc;
	}
	e = win_get(&r->sendw, a.seq);
	if (e == NULL || a.seq >= r->next_seq) {
		r->st.acks_unknown++;
	} else {
		if (e->transmitted) {
			rtt = now_ms - e->last_sent;
			rtt_sample(r, rtt > 0 ? (double)rtt : 0.0);
		}
		send_remove(r, e);
		r->st.acks_received++;
	}
	if (r->cfg.honor_pause && r->paused) {
		rc = do_resume(r, now_ms);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "mgsrel: out of memory");
	}
	return DH_OK;
}

/* Hold an out-of-order message (already known to fit) and ack it. */
static int
hold(struct dh_mgsrel *r, const struct dh_mgs_msg *m, int64_t now_ms,
    struct dh_err *err)
{
	struct held *h;
	struct blob *ack = NULL;
	int rc;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	h->b = blob_copy(m->payload, m->payload_len);
	if (h->b == NULL || q_reserve(&r->q, 1) != DH_OK) {
		rc = dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
		goto fail;
	}
	rc = make_ack(r, m, now_ms, &ack, err);
	if (rc != DH_OK)
		goto fail;
	h->seq = m->seq;
	h->msg = *m;
	h->msg.payload = h->b->d;
	rc = win_put(&r->heldw, r->expected + 1, m->seq, h, r->cfg.reorder_cap);
	if (rc != DH_OK) {
		rc = dh_err_set(err, rc, "mgsrel: out of memory");
		goto fail;
	}
	r->held_bytes += h->b->len;
	q_push(&r->q, DH_MGSREL_EV_FRAME, ack, NULL);
	r->st.acks_sent++;
	r->st.reordered++;
	return DH_OK;
fail:
	blob_unref(ack);
	if (h->b != NULL)
		blob_unref(h->b);
	free(h);
	return rc;
}

static int
on_stream(struct dh_mgsrel *r, const struct dh_mgs_msg *m, int64_t now_ms,
    struct dh_err *err)
{
	struct dh_mgs_msg d;
	struct blob *data = NULL, *ack = NULL;
	uint64_t ahead;
	int rc;

	if (m->seq < 0) {
		r->st.bad_frames++;
		return dh_err_set(err, DH_E_FORMAT,
		    "mgsrel: negative sequence number");
	}
	if (r->cfg.honor_pause && r->paused) {
		rc = do_resume(r, now_ms);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "mgsrel: out of memory");
	}
	if (release(r) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	if (m->seq < r->expected) {
		r->st.duplicates++;
		return r->cfg.reack_duplicates ? send_ack(r, m, now_ms, err) :
		    DH_OK;
	}
	if (m->seq > r->expected) {
		if (win_get(&r->heldw, m->seq) != NULL) {
			r->st.duplicates++;
			return r->cfg.reack_duplicates ?
			    send_ack(r, m, now_ms, err) : DH_OK;
		}
		ahead = (uint64_t)(m->seq - r->expected - 1);
		if (ahead >= r->cfg.reorder_cap ||
		    m->payload_len > r->cfg.reorder_max_bytes - r->held_bytes) {
			r->st.reorder_dropped++;
			return DH_OK;
		}
		return hold(r, m, now_ms, err);
	}
	if (!accepted(r, m->ptype)) {
		r->st.not_ready++;
		return DH_OK;
	}
	if (q_reserve(&r->q, 2) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	data = blob_copy(m->payload, m->payload_len);
	if (data == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = make_ack(r, m, now_ms, &ack, err);
	if (rc != DH_OK) {
		blob_unref(data);
		return rc;
	}
	d = *m;
	d.payload = data->d;
	q_push(&r->q, DH_MGSREL_EV_DATA, data, &d);
	q_push(&r->q, DH_MGSREL_EV_FRAME, ack, NULL);
	r->st.acks_sent++;
	r->st.delivered++;
	r->expected++;
	if (release(r) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	return DH_OK;
}

/* Hand any other message to the caller. */
static int
pass_up(struct dh_mgsrel *r, const struct dh_mgs_msg *m, struct dh_err *err)
{
	struct dh_mgs_msg d;
	struct blob *b;

	if (q_reserve(&r->q, 1) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	b = blob_copy(m->payload, m->payload_len);
	if (b == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	d = *m;
	d.payload = b->d;
	q_push(&r->q, DH_MGSREL_EV_MESSAGE, b, &d);
	return DH_OK;
}

static int
queue_ok(const struct dh_mgsrel *r, struct dh_err *err)
{
	if (r->q.count >= r->cfg.queue_cap)
		return dh_err_set(err, DH_E_STATE,
		    "mgsrel: %zu events not drained", r->q.count);
	return DH_OK;
}

int
dh_mgsrel_feed(struct dh_mgsrel *r, const void *frame, size_t n,
    int64_t now_ms, struct dh_err *err)
{
	struct dh_mgs_msg m;
	int rc;

	drop_cur(r);
	rc = queue_ok(r, err);
	if (rc != DH_OK)
		return rc;
	if (n > r->cfg.max_frame) {
		r->st.bad_frames++;
		return dh_err_set(err, DH_E_TOOBIG,
		    "mgsrel: frame of %zu bytes exceeds %zu", n,
		    r->cfg.max_frame);
	}
	rc = dh_mgs_decode(frame, n,
	    r->cfg.check_digest ? DH_MGS_DEC_DIGEST : 0u, &m, err);
	if (rc != DH_OK) {
		r->st.bad_frames++;
		return rc;
	}
	if (dh_mgs_is(&m, DH_MGS_T_ACK))
		return on_ack(r, &m, now_ms, err);
	if (dh_mgs_is(&m, r->in_type))
		return on_stream(r, &m, now_ms, err);
	if (r->cfg.honor_pause && dh_mgs_is(&m, DH_MGS_T_PAUSE))
		r->paused = 1;
	if (r->cfg.honor_pause && dh_mgs_is(&m, DH_MGS_T_START)) {
		rc = do_resume(r, now_ms);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "mgsrel: out of memory");
	}
	return pass_up(r, &m, err);
}

int
dh_mgsrel_can_send(const struct dh_mgsrel *r, size_t n)
{
	size_t flen;

	if (n > r->cfg.max_frame - DH_MGS_HDR_LEN)
		return 0;
	flen = n + DH_MGS_HDR_LEN;
	if (flen > r->cfg.send_max_bytes - r->send_bytes)
		return 0;
	if (r->sendw.count == 0)
		return 1;
	return (uint64_t)(r->next_seq - r->head) < r->cfg.send_cap;
}

/* Transmit a frame without keeping it (FULL_UNBUFFERED). */
static int
send_unbuffered(struct dh_mgsrel *r, uint32_t ptype, const void *p, size_t n,
    uint64_t flags, int64_t now_ms, struct dh_err *err)
{
	struct blob *b;
	int rc;

	if (r->paused)
		return dh_err_set(err, DH_E_TOOBIG,
		    "mgsrel: send buffer full while paused");
	if (q_reserve(&r->q, 1) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = make_frame(r, r->out_type, r->next_seq, flags, ptype, p, n,
	    now_ms, &b, err);
	if (rc != DH_OK)
		return rc;
	q_push(&r->q, DH_MGSREL_EV_FRAME, b, NULL);
	r->next_seq++;
	r->sent_any = 1;
	r->st.sent++;
	r->st.unbuffered++;
	return DH_OK;
}

int
dh_mgsrel_send(struct dh_mgsrel *r, uint32_t ptype, const void *p, size_t n,
    int64_t now_ms, struct dh_err *err)
{
	struct sent *e = NULL;
	struct blob *b = NULL;
	uint64_t flags;
	int64_t base;
	int rc;

	drop_cur(r);
	rc = queue_ok(r, err);
	if (rc != DH_OK)
		return rc;
	if (p == NULL || n == 0)
		return dh_err_set(err, DH_E_ARG,
		    "mgsrel: stream payload must not be empty");
	if (n > r->cfg.max_frame - DH_MGS_HDR_LEN ||
	    n + DH_MGS_HDR_LEN > r->cfg.send_max_bytes)
		return dh_err_set(err, DH_E_TOOBIG,
		    "mgsrel: payload of %zu bytes is too large", n);
	flags = (r->cfg.syn_first && !r->sent_any) ? DH_MGS_HF_SYN : 0;
	if (!dh_mgsrel_can_send(r, n)) {
		switch (r->cfg.full_policy) {
		case DH_MGSREL_FULL_UNBUFFERED:
			return send_unbuffered(r, ptype, p, n, flags, now_ms,
			    err);
		case DH_MGSREL_FULL_DROP_OLDEST:
			while (!dh_mgsrel_can_send(r, n) &&
			    r->sendw.count > 0) {
				send_remove(r, win_get(&r->sendw, r->head));
				r->st.send_dropped++;
			}
			break;
		default:
			return dh_err_set(err, DH_E_TOOBIG,
			    "mgsrel: send buffer full (%zu messages, %zu bytes)",
			    r->sendw.count, r->send_bytes);
		}
	}
	if (!r->paused && q_reserve(&r->q, 1) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = make_frame(r, r->out_type, r->next_seq, flags, ptype, p, n,
	    now_ms, &b, err);
	if (rc != DH_OK)
		goto fail;
	e->seq = r->next_seq;
	e->frame = b;
	base = r->sendw.count == 0 ? r->next_seq : r->head;
	rc = win_put(&r->sendw, base, e->seq, e, r->cfg.send_cap);
	if (rc != DH_OK) {
		rc = dh_err_set(err, rc, "mgsrel: out of memory");
		goto fail;
	}
	if (r->sendw.count == 1) {
		r->head = e->seq;
		r->tick_base = now_ms;
	}
	r->send_bytes += b->len;
	r->next_seq++;
	r->sent_any = 1;
	if (r->paused) {
		if (r->unsent_from == INT64_MAX)
			r->unsent_from = e->seq;
		return DH_OK;
	}
	b->refs++;
	q_push(&r->q, DH_MGSREL_EV_FRAME, b, NULL);
	e->transmitted = 1;
	e->last_sent = now_ms;
	r->st.sent++;
	return DH_OK;
fail:
	blob_unref(b);
	free(e);
	return rc;
}

int
dh_mgsrel_send_control(struct dh_mgsrel *r, const char *type, uint64_t flags,
    uint32_t ptype, const void *p, size_t n, int64_t now_ms,
    struct dh_err *err)
{
	struct blob *b;
	int rc;

	drop_cur(r);
	rc = queue_ok(r, err);
	if (rc != DH_OK)
		return rc;
	if (p == NULL || n == 0)
		return dh_err_set(err, DH_E_ARG,
		    "mgsrel: control payload must not be empty");
	if (n > r->cfg.max_frame - DH_MGS_HDR_LEN)
		return dh_err_set(err, DH_E_TOOBIG,
		    "mgsrel: payload of %zu bytes is too large", n);
	if (q_reserve(&r->q, 1) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "mgsrel: out of memory");
	rc = make_frame(r, type, 0, flags, ptype, p, n, now_ms, &b, err);
	if (rc != DH_OK)
		return rc;
	q_push(&r->q, DH_MGSREL_EV_FRAME, b, NULL);
	return DH_OK;
}

int
dh_mgsrel_tick(struct dh_mgsrel *r, int64_t now_ms)
{
	struct sent *e;

	drop_cur(r);
	if (r->paused || r->sendw.count == 0)
		return DH_OK;
	if (now_ms - r->tick_base < DH_MGSREL_TICK_MS)
		return DH_OK;
	r->tick_base = now_ms;
	e = win_get(&r->sendw, r->head);
	if (e == NULL || !e->transmitted)
		return DH_OK;
	if ((double)(now_ms - e->last_sent) <= r->rto)
		return DH_OK;
	if (q_reserve(&r->q, 1) != DH_OK)
		return DH_E_NOMEM;
	e->frame->refs++;
	q_push(&r->q, DH_MGSREL_EV_FRAME, e->frame, NULL);
	r->st.retransmits++;
	if (r->cfg.refresh_on_resend)
		e->last_sent = now_ms;
	return DH_OK;
}

int64_t
dh_mgsrel_deadline(const struct dh_mgsrel *r)
{
	if (r->paused || r->sendw.count == 0)
		return -1;
	return r->tick_base + DH_MGSREL_TICK_MS;
}

void
dh_mgsrel_pause(struct dh_mgsrel *r)
{
	drop_cur(r);
	r->paused = 1;
}

int
dh_mgsrel_resume(struct dh_mgsrel *r, int64_t now_ms)
{
	drop_cur(r);
	return do_resume(r, now_ms);
}

int
dh_mgsrel_set_accept(struct dh_mgsrel *r, uint64_t mask)
{
	drop_cur(r);
	r->accept = mask;
	return release(r);
}

int
dh_mgsrel_next(struct dh_mgsrel *r, struct dh_mgsrel_ev *ev)
{
	drop_cur(r);
	memset(ev, 0, sizeof(*ev));
	if (r->q.count == 0)
		return 0;
	r->cur = r->q.v[r->q.head];
	r->q.head = (r->q.head + 1) & (r->q.size - 1);
	r->q.count--;
	r->has_cur = 1;
	ev->kind = r->cur.kind;
	if (ev->kind == DH_MGSREL_EV_FRAME) {
		ev->frame = r->cur.b->d;
		ev->frame_len = r->cur.b->len;
	} else {
		ev->msg = r->cur.msg;
	}
	return 1;
}

void
dh_mgsrel_stats(const struct dh_mgsrel *r, struct dh_mgsrel_stats *s)
{
	*s = r->st;
	s->next_seq = r->next_seq;
	s->expected_seq = r->expected;
	s->inflight = r->sendw.count;
	s->inflight_bytes = r->send_bytes;
	s->held = r->heldw.count;
	s->held_bytes = r->held_bytes;
	s->queued = r->q.count;
	s->srtt_ms = r->srtt;
	s->rttvar_ms = r->rttvar;
	s->rto_ms = r->rto;
	s->paused = r->paused;
}

void
dh_mgsrel_set_wall_offset(struct dh_mgsrel *r, int64_t offset_ms)
{
	r->cfg.wall_offset_ms = offset_ms;
}
