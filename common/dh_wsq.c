/*
 * dh_wsq: pre-framed, pre-masked websocket client frames in a FIFO (see
 * dh_wsq.h).  Masking XORs a 64-bit word at a time; the compiler vectorises
 * the loop, so it runs at memory speed.
 */
#include "dh_wsq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "dh_hash.h"

void
dh_wsq_init(struct dh_wsq *q, size_t headroom, int wipe)
{
	memset(q, 0, sizeof(*q));
	q->headroom = headroom;
	q->wipe = wipe;
}

static size_t
hdr_len(size_t n)
{
	return (n < 126 ? 2 : n < 65536 ? 4 : 10) + 4;
}

/* 32 bytes per step as a GCC/clang generic vector (two SSE2 registers on
 * baseline x86-64, one AVX2 register where available), then 8, then 1. */
typedef uint64_t mask_v4 __attribute__((vector_size(32)));

static void
mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
    const unsigned char mask[4])
{
	mask_v4 mv, vv;
	uint64_t m, v;
	size_t i = 0;

	memcpy(&m, mask, 4);
	memcpy((unsigned char *)&m + 4, mask, 4);
	mv = (mask_v4){ m, m, m, m };
	for (; i + 32 <= n; i += 32) {
		memcpy(&vv, src + i, 32);
		vv ^= mv;
		memcpy(dst + i, &vv, 32);
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&v, src + i, 8);
		v ^= m;
		memcpy(dst + i, &v, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ mask[i & 3];
}

int
dh_wsq_encode(unsigned char *dst, size_t cap, int opcode,
    const unsigned char mask[4], const void *p, size_t n, size_t *len)
{
	size_t h = hdr_len(n), i;

	if (cap < h || cap - h < n)
		return DH_E_TOOBIG;
	dst[0] = (unsigned char)(0x80 | (opcode & 0x0f));
	if (n < 126) {
		dst[1] = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		dst[1] = 0x80 | 126;
		dst[2] = (unsigned char)(n >> 8);
		dst[3] = (unsigned char)n;
	} else {
		dst[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			dst[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	}
	memcpy(dst + h - 4, mask, 4);
	mask_copy(dst + h, p, n, mask);
	*len = h + n;
	return DH_OK;
}

int
dh_wsq_push(struct dh_wsq *q, int opcode, const void *p, size_t n,
    int front)
{
	struct dh_wsq_frame *f;
	unsigned char mask[4];
	size_t cap = DH_WSQ_HDR_MAX + n;
	int rc;

	if (n > SIZE_MAX - sizeof(*f) - q->headroom - DH_WSQ_HDR_MAX)
		return DH_E_TOOBIG;
	if (dh_random(mask, sizeof(mask)) != DH_OK)
		return DH_E_CRYPTO;
	f = malloc(sizeof(*f) + q->headroom + cap);
	if (f == NULL)
		return DH_E_NOMEM;
	f->text = opcode == DH_WSQ_TEXT;
	f->payload = n;
	f->wire = f->data + q->headroom;
	rc = dh_wsq_encode(f->wire, cap, opcode, mask, p, n, &f->wire_len);
	if (rc != DH_OK) {
		free(f);
		return rc;
	}
	if (front) {
		f->next = q->head;
		q->head = f;
		if (q->tail == NULL)
			q->tail = f;
	} else {
		f->next = NULL;
		if (q->tail != NULL)
			q->tail->next = f;
		else
			q->head = f;
		q->tail = f;
	}
	q->bytes += n;
	return DH_OK;
}

struct dh_wsq_frame *
dh_wsq_head(const struct dh_wsq *q)
{
	return q->head;
}

static void
release(const struct dh_wsq *q, struct dh_wsq_frame *f)
{
	if (q->wipe)
		dh_wipe(f->wire, f->wire_len);
	free(f);
}

void
dh_wsq_pop(struct dh_wsq *q)
{
	struct dh_wsq_frame *f = q->head;

	if (f == NULL)
		return;
	q->head = f->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->bytes -= f->payload;
	release(q, f);
}

void
dh_wsq_clear(struct dh_wsq *q)
{
	while (q->head != NULL)
		dh_wsq_pop(q);
}
