/*
 * dh_wsq: the send queue of a websocket *client* connection, holding frames
 * that are already complete on the wire: RFC 6455 header, a fresh random
 * masking key per frame, and the payload masked eight bytes at a time.  The
 * owner writes a frame's bytes to the connection untouched (with
 * libwebsockets: lws_write(wsi, f->wire, f->wire_len, LWS_WRITE_HTTP), which
 * passes bytes straight to the TLS layer).  libwebsockets' own client path
 * masks one byte at a time through memory, which was the largest user-space
 * cost of a bulk session stream.
 *
 * Ownership: the queue owns every frame from push until pop/clear; a frame
 * returned by dh_wsq_head stays valid until the next pop or clear.  Frames
 * never hold secrets longer than the queue (payloads are wiped on pop when
 * the queue was initialised with wipe = 1).
 */
#ifndef DH_WSQ_H
#define DH_WSQ_H

#include <stddef.h>

#define DH_WSQ_HDR_MAX 14 /* 2 + 8 (length) + 4 (mask) */

struct dh_wsq_frame {
	struct dh_wsq_frame *next;
	int text;              /* opcode is text (1) */
	size_t payload;        /* payload bytes */
	unsigned char *wire;   /* start of the frame bytes */
	size_t wire_len;       /* header + payload */
	unsigned char data[];  /* headroom, header, masked payload */
};

struct dh_wsq {
	struct dh_wsq_frame *head, *tail;
	size_t bytes;          /* payload bytes queued */
	size_t headroom;       /* spare bytes kept before each frame */
	int wipe;              /* wipe frames when released */
};

/* Prepare an empty queue; headroom bytes are reserved in front of every
 * frame (LWS_PRE for libwebsockets); wipe = 1 wipes frames on release. */
void dh_wsq_init(struct dh_wsq *q, size_t headroom, int wipe);

#define DH_WSQ_TEXT 0x1
#define DH_WSQ_BINARY 0x2
#define DH_WSQ_CLOSE 0x8
#define DH_WSQ_PONG 0xa

/* Encode one client frame (FIN set, the given opcode) of n payload bytes
 * masked with mask[4] into dst[0..cap); *len gets its size.  DH_E_TOOBIG when
 * cap is short. */
int dh_wsq_encode(unsigned char *dst, size_t cap, int opcode,
    const unsigned char mask[4], const void *p, size_t n, size_t *len);

/* Queue a frame of p[0..n) at the tail (front = 0) or the head (front = 1;
 * only while nothing is half written), masked with a fresh random key.
 * DH_OK, DH_E_NOMEM or DH_E_CRYPTO. */
int dh_wsq_push(struct dh_wsq *q, int opcode, const void *p, size_t n,
    int front);

/* The oldest queued frame, or NULL. */
struct dh_wsq_frame *dh_wsq_head(const struct dh_wsq *q);

/* Drop the oldest frame (after it was written). */
void dh_wsq_pop(struct dh_wsq *q);

/* Drop every frame. */
void dh_wsq_clear(struct dh_wsq *q);

#endif
