/*
 * Fuzz target: the gw_relay hub driven by a script.  Each input byte picks
 * an operation (attach a client or agent leg, open a leg with a valid or a
 * garbage OpenDataChannel, deliver fuzz bytes or a well-formed frame of a
 * fuzz-chosen type as a message, drain a leg, detach it, advance the clock,
 * terminate or resume); later bytes are the operands.  Invariants: every
 * frame a leg is given to write decodes strictly (a malformed frame is
 * never forwarded) and fits GW_RELAY_MAX_FRAME; no crash, leak or
 * out-of-bounds access (ASan/UBSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_uuid.h"
#include "gw_relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SID "fuzz-0123456789abcdef0"
#define INST "mi-0123456789abcdef0"
#define MAX_LEGS 4

struct script {
	const uint8_t *p;
	size_t n;
};

static int
next(struct script *s)
{
	if (s->n == 0)
		return -1;
	s->n--;
	return *s->p++;
}

static int ended;

static int
look(void *arg, const char *sid, struct gw_relay_info *out)
{
	(void)arg;
	if (strcmp(sid, SID) != 0)
		return DH_E_NOTFOUND;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), SID);
	snprintf(out->target, sizeof(out->target), INST);
	out->start_ms = 1000;
	out->idle_ms = 20000;
	out->max_ms = 600000;
	out->status = ended ? GW_RELAY_TERMINATED : GW_RELAY_CONNECTED;
	return DH_OK;
}

static void
status(void *arg, const char *sid, enum gw_relay_status st, int64_t now)
{
	(void)arg;
	(void)sid;
	(void)now;
	if (gw_relay_status_final(st))
		ended = 1;
}

static const char *const types[] = {
	DH_MGS_T_INPUT, DH_MGS_T_OUTPUT, DH_MGS_T_ACK, DH_MGS_T_SESSION_STATE,
	DH_MGS_T_CHANNEL_CLOSED, DH_MGS_T_PAUSE, "bogus"
};

static void
drain(struct gw_relay *r, struct gw_relay_leg *l, int max)
{
	struct dh_mgs_msg m;
	unsigned char *p;
	size_t n;

	while (max-- > 0 && gw_relay_ws_peek(r, l, &p, &n) == 1) {
		if (n > GW_RELAY_MAX_FRAME || dh_mgs_decode(p, n,
		    DH_MGS_DEC_DIGEST, &m, NULL) != DH_OK)
			abort();
		gw_relay_ws_sent(r, l);
	}
}

static void
open_leg(struct gw_relay *r, struct gw_relay_leg *l, int agent,
    int64_t now)
{
	char tok[65], msg[256];
	struct dh_buf xml;
	const char *tv;

	tok[0] = '\0';
	if (agent) {
		dh_buf_init(&xml, 4096);
		if (gw_relay_create_channel(r, SID, INST, NULL, now, &xml,
		    NULL) == DH_OK) {
			tv = strstr(dh_buf_cstr(&xml), "<TokenValue>");
			if (tv != NULL)
				snprintf(tok, sizeof(tok), "%.64s", tv + 12);
		}
		dh_buf_free(&xml);
	} else if (gw_relay_resume(r, SID, now, tok, NULL) != DH_OK)
		tok[0] = '\0';
	snprintf(msg, sizeof(msg), "{\"TokenValue\":\"%s\","
	    "\"ClientInstanceId\":\"" INST "\"}", tok);
	(void)gw_relay_ws_message(r, l, 1, msg, strlen(msg), now, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_relay_hooks h = { look, status, NULL, NULL };
	struct gw_relay_leg *legs[MAX_LEGS] = { NULL };
	struct script s = { data, size };
	struct gw_relay_info info;
	struct gw_relay *r = NULL;
	struct dh_mgs_msg m;
	struct dh_uuid id;
	struct dh_buf b;
	int64_t now = 2000;
	int op, k, len, i, t;
	char tok[65];

	ended = 0;
	if (gw_relay_new(NULL, &h, &r, NULL) != DH_OK)
		return 0;
	if (look(NULL, SID, &info) == DH_OK)
		(void)gw_relay_adopt(r, &info, now, NULL);
	dh_buf_init(&b, GW_RELAY_MAX_FRAME + 16);
	memset(&id, 0x11, sizeof(id));
	while ((op = next(&s)) >= 0) {
		k = (op >> 4) % MAX_LEGS;
		switch (op % 10) {
		case 0:
		case 1:
			if (legs[k] == NULL)
				(void)gw_relay_ws_attach(r, SID, op % 10 == 1 ?
				    INST : NULL, &legs[k], now, &legs[k], NULL);
			break;
		case 2:
			if (legs[k] != NULL)
				open_leg(r, legs[k], k % 2, now);
			break;
		case 3:
		case 4:
			len = next(&s);
			if (len < 0 || legs[k] == NULL)
				break;
			if ((size_t)len > s.n)
				len = (int)s.n;
			if (gw_relay_ws_message(r, legs[k], op % 10 == 3, s.p,
			    (size_t)len, now, NULL) != DH_OK) {
				gw_relay_ws_detach(r, legs[k], now);
				legs[k] = NULL;
			}
			s.p += len;
			s.n -= (size_t)len;
			break;
		case 5:
			t = next(&s);
			len = next(&s);
			if (t < 0 || len < 0 || legs[k] == NULL)
				break;
			if ((size_t)len > s.n)
				len = (int)s.n;
			dh_buf_reset(&b);
			if (dh_mgs_init(&m, types[t % 7], (uint64_t)now, t, 0,
			    &id, (uint32_t)(t & 3), s.p, (size_t)len, NULL) ==
			    DH_OK && dh_mgs_encode(&m, &b, NULL) == DH_OK &&
			    gw_relay_ws_message(r, legs[k], 0, b.d, b.len, now,
			    NULL) != DH_OK) {
				gw_relay_ws_detach(r, legs[k], now);
				legs[k] = NULL;
			}
			s.p += len;
			s.n -= (size_t)len;
			break;
		case 6:
			if (legs[k] != NULL)
				drain(r, legs[k], 8);
			break;
		case 7:
			if (legs[k] != NULL) {
				gw_relay_ws_detach(r, legs[k], now);
				legs[k] = NULL;
			}
			break;
		case 8:
			now += (int64_t)(next(&s) & 0xff) * 1000;
			gw_relay_tick(r, now);
			break;
		default:
			if (op & 0x80)
				(void)gw_relay_terminate(r, SID, now, NULL);
			else
				(void)gw_relay_resume(r, SID, now, tok, NULL);
		}
	}
	for (i = 0; i < MAX_LEGS; i++)
		if (legs[i] != NULL) {
			drain(r, legs[i], 1 << 20);
			gw_relay_ws_detach(r, legs[i], now);
		}
	dh_buf_free(&b);
	gw_relay_free(r);
	return 0;
}
