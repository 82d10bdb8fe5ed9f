/*
 * dh_mgs: MGS binary message encoder/decoder and the small payload builders
 * and parsers (acknowledge, channel_closed, agent_session_state, Size, Flag).
 * See dh_mgs.h for the layout and the rules the decoder enforces.
 */
#include "dh_mgs.h"

#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dh_json.h"

#define OFF_HL 0
#define OFF_TYPE 4
#define OFF_SCHEMA 36
#define OFF_CREATED 40
#define OFF_SEQ 48
#define OFF_FLAGS 56
#define OFF_ID 64
#define OFF_DIGEST 80
#define OFF_PTYPE 112
#define OFF_PLEN 116

/* Small JSON payloads (acks, Size) never need more than this. */
#define SMALL_JSON_MAX 4096

/* A MessageType character: printable ASCII, no space, quote or backslash
 * (so a type can be put into JSON without escaping). */
static int
type_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static int
type_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DH_MGS_TYPE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!type_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

void
dh_mgs_uuid_to_wire(const struct dh_uuid *u, unsigned char out[16])
{
	memcpy(out, u->b + 8, 8);
	memcpy(out + 8, u->b, 8);
}

void
dh_mgs_uuid_from_wire(const unsigned char in[16], struct dh_uuid *u)
{
	memcpy(u->b + 8, in, 8);
	memcpy(u->b, in + 8, 8);
}

int
dh_mgs_init(struct dh_mgs_msg *m, const char *type, uint64_t created_ms,
    int64_t seq, uint64_t flags, const struct dh_uuid *id, uint32_t ptype,
    const void *payload, size_t payload_len, struct dh_err *err)
{
	size_t tl;

	memset(m, 0, sizeof(*m));
	tl = type != NULL ? strlen(type) : 0;
	if (!type_ok(type, tl))
		return dh_err_set(err, DH_E_ARG,
		    "MGS message type must be 1..%d printable characters",
		    DH_MGS_TYPE_MAX);
	if (payload == NULL && payload_len != 0)
		return dh_err_set(err, DH_E_ARG, "MGS payload pointer is NULL");
	memcpy(m->type, type, tl);
	m->schema = DH_MGS_SCHEMA;
	m->created_ms = created_ms;
	m->seq = seq;
	m->flags = flags;
	if (id != NULL)
		m->id = *id;
	m->ptype = ptype;
	m->hl = DH_MGS_HL;
	m->payload = payload;
	m->payload_len = payload_len;
	return DH_OK;
}

size_t
dh_mgs_frame_len(const struct dh_mgs_msg *m)
{
	return DH_MGS_HDR_LEN + m->payload_len;
}

int
dh_mgs_encode_header(const struct dh_mgs_msg *m,
    unsigned char hdr[DH_MGS_HDR_LEN], struct dh_err *err)
{
	size_t tl;

	tl = strnlen(m->type, sizeof(m->type));
	if (!type_ok(m->type, tl))
		return dh_err_set(err, DH_E_ARG,
		    "MGS message type must be 1..%d printable characters",
		    DH_MGS_TYPE_MAX);
	if (m->payload_len > UINT32_MAX)
		return dh_err_set(err, DH_E_TOOBIG,
		    "MGS payload of %zu bytes exceeds the 32-bit length field",
		    m->payload_len);
	if (m->payload == NULL && m->payload_len != 0)
		return dh_err_set(err, DH_E_ARG, "MGS payload pointer is NULL");
	dh_put_be32(hdr + OFF_HL, DH_MGS_HL);
	memset(hdr + OFF_TYPE, ' ', DH_MGS_TYPE_MAX);
	memcpy(hdr + OFF_TYPE, m->type, tl);
	dh_put_be32(hdr + OFF_SCHEMA, m->schema);
	dh_put_be64(hdr + OFF_CREATED, m->created_ms);
	dh_put_be64(hdr + OFF_SEQ, (uint64_t)m->seq);
	dh_put_be64(hdr + OFF_FLAGS, m->flags);
	dh_mgs_uuid_to_wire(&m->id, hdr + OFF_ID);
	dh_sha256(m->payload_len != 0 ? m->payload : (const void *)"",
	    m->payload_len, hdr + OFF_DIGEST);
	dh_put_be32(hdr + OFF_PTYPE, m->ptype);
	dh_put_be32(hdr + OFF_PLEN, (uint32_t)m->payload_len);
	return DH_OK;
}

int
dh_mgs_encode(const struct dh_mgs_msg *m, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char hdr[DH_MGS_HDR_LEN];
	int r;

	r = dh_mgs_encode_header(m, hdr, err);
	if (r != DH_OK)
		return r;
	if (m->payload_len > SIZE_MAX - DH_MGS_HDR_LEN)
		return dh_err_set(err, DH_E_TOOBIG, "MGS frame too large");
	r = dh_buf_reserve(out, DH_MGS_HDR_LEN + m->payload_len);
	if (r != DH_OK)
		return dh_err_set(err, r,
		    "MGS frame of %zu bytes does not fit the output buffer",
		    DH_MGS_HDR_LEN + m->payload_len);
	r = dh_buf_put(out, hdr, sizeof(hdr));
	if (r == DH_OK && m->payload_len != 0)
		r = dh_buf_put(out, m->payload, m->payload_len);
	if (r != DH_OK)
		return dh_err_set(err, r, "MGS frame append failed");
	return DH_OK;
}

/* Strip NULs at both ends, then whitespace at both ends (what both Go
 * readers do), copy into out; 0 or DH_E_FORMAT. */
static int
decode_type(const unsigned char *f, char out[DH_MGS_TYPE_MAX + 1],
    struct dh_err *err)
{
	size_t a = 0, b = DH_MGS_TYPE_MAX, i;

	while (a < b && f[a] == 0)
		a++;
	while (b > a && f[b - 1] == 0)
		b--;
	while (a < b && (f[a] == ' ' || (f[a] >= '\t' && f[a] <= '\r')))
		a++;
	while (b > a && (f[b - 1] == ' ' ||
	    (f[b - 1] >= '\t' && f[b - 1] <= '\r')))
		b--;
	if (a == b)
		return dh_err_set(err, DH_E_FORMAT, "MGS message type is empty");
	for (i = a; i < b; i++)
		if (!type_char_ok(f[i]))
			return dh_err_set(err, DH_E_FORMAT,
			    "MGS message type has invalid byte 0x%02x at %zu",
			    f[i], i);
	memcpy(out, f + a, b - a);
	out[b - a] = '\0';
	return DH_OK;
}

int
dh_mgs_decode(const void *p, size_t n, unsigned opts, struct dh_mgs_msg *m,
    struct dh_err *err)
{
	const unsigned char *f = p;
	unsigned char dig[DH_SHA256_LEN];
	uint32_t hl, plen;
	int r, publication;

	memset(m, 0, sizeof(*m));
	if (f == NULL && n != 0)
		return dh_err_set(err, DH_E_ARG, "MGS frame pointer is NULL");
	if (n < DH_MGS_HDR_LEN)
		return dh_err_set(err, DH_E_SHORT,
		    "MGS frame of %zu bytes is shorter than the %d-byte header",
		    n, DH_MGS_HDR_LEN);
	hl = dh_be32(f + OFF_HL);
	if (hl == 0)
		return dh_err_set(err, DH_E_FORMAT, "MGS header length is 0");
	if (hl < DH_MGS_HL)
		return dh_err_set(err, DH_E_FORMAT,
		    "MGS header length %" PRIu32 " is below %d", hl, DH_MGS_HL);
	if (hl != DH_MGS_HL && !(opts & DH_MGS_DEC_ANY_HL))
		return dh_err_set(err, DH_E_FORMAT,
		    "MGS header length %" PRIu32 ", expected %d", hl, DH_MGS_HL);
	if ((uint64_t)hl + 4 > n)
		return dh_err_set(err, DH_E_SHORT,
		    "MGS header length %" PRIu32 " runs past the %zu-byte frame",
		    hl, n);
	plen = dh_be32(f + OFF_PLEN);
	if ((uint64_t)hl + 4 + plen != n)
		return dh_err_set(err, DH_E_FORMAT,
		    "MGS payload length %" PRIu32 " does not match the %zu "
		    "bytes after the header", plen, n - hl - 4);
	r = decode_type(f + OFF_TYPE, m->type, err);
	if (r != DH_OK)
		return r;
	m->hl = hl;
	m->schema = dh_be32(f + OFF_SCHEMA);
	m->created_ms = dh_be64(f + OFF_CREATED);
	m->seq = (int64_t)dh_be64(f + OFF_SEQ);
	m->flags = dh_be64(f + OFF_FLAGS);
	dh_mgs_uuid_from_wire(f + OFF_ID, &m->id);
	memcpy(m->digest, f + OFF_DIGEST, DH_SHA256_LEN);
	m->ptype = dh_be32(f + OFF_PTYPE);
	m->payload = f + hl + 4;
	m->payload_len = plen;
	/* start/pause_publication skip every content check (plugin rule). */
	publication = dh_mgs_is(m, DH_MGS_T_PAUSE) ||
	    dh_mgs_is(m, DH_MGS_T_START);
	if (publication)
		return DH_OK;
	if (m->created_ms == 0) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "MGS %s message has CreatedDate 0", m->type);
		goto fail;
	}
	if ((opts & DH_MGS_DEC_DIGEST) && plen != 0) {
		dh_sha256(m->payload, plen, dig);
		if (memcmp(dig, m->digest, DH_SHA256_LEN) != 0) {
			r = dh_err_set(err, DH_E_INTEGRITY,
			    "MGS %s payload digest mismatch", m->type);
			goto fail;
		}
	}
	return DH_OK;
fail:
	m->payload = NULL;
	m->payload_len = 0;
	return r;
}

int
dh_mgs_is(const struct dh_mgs_msg *m, const char *type)
{
	return strcmp(m->type, type) == 0;
}

int
dh_mgs_is_stream(const struct dh_mgs_msg *m)
{
	return dh_mgs_is(m, DH_MGS_T_INPUT) || dh_mgs_is(m, DH_MGS_T_OUTPUT);
}

/* Case-insensitive member lookup, as Go's encoding/json matches keys. */
static const cJSON *
ci_member(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItem(obj, key);
}

/* Integral number member in [min, max]; DH_E_FORMAT when absent/mistyped. */
static int
ci_int(const cJSON *obj, const char *key, double min, double max,
    double *out, struct dh_err *err)
{
	const cJSON *m = ci_member(obj, key);
	double v;

	if (m == NULL || !cJSON_IsNumber(m))
		return dh_err_set(err, DH_E_FORMAT, "missing number \"%s\"",
		    key);
	v = m->valuedouble;
	if (!isfinite(v) || floor(v) != v || v < min || v > max)
		return dh_err_set(err, DH_E_FORMAT,
		    "\"%s\" is not an integer in range", key);
	*out = v;
	return DH_OK;
}

int
dh_mgs_ack_build(const struct dh_mgs_ack *a, struct dh_buf *out,
    struct dh_err *err)
{
	char id[DH_UUID_STRLEN + 1];
	size_t tl;
	int r;

	tl = strnlen(a->type, sizeof(a->type));
	if (!type_ok(a->type, tl))
		return dh_err_set(err, DH_E_ARG, "ack: invalid message type");
	if (a->seq < 0)
		return dh_err_set(err, DH_E_ARG, "ack: negative sequence number");
	dh_uuid_fmt(&a->id, id);
	r = dh_buf_printf(out,
	    "{\"AcknowledgedMessageType\":\"%s\","
	    "\"AcknowledgedMessageId\":\"%s\","
	    "\"AcknowledgedMessageSequenceNumber\":%" PRId64 ","
	    "\"IsSequentialMessage\":%s}",
	    a->type, id, a->seq, a->sequential ? "true" : "false");
	if (r != DH_OK)
		return dh_err_set(err, r, "ack: output buffer full");
	return DH_OK;
}

int
dh_mgs_ack_parse(const void *p, size_t n, struct dh_mgs_ack *a,
    struct dh_err *err)
{
	const cJSON *t, *id, *sq;
	cJSON *j = NULL;
	double seq;
	size_t tl;
	int r;

	memset(a, 0, sizeof(*a));
	r = dh_json_parse(p, n, SMALL_JSON_MAX, &j, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "ack");
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		r = dh_err_set(err, DH_E_FORMAT, "ack: not a JSON object");
		goto out;
	}
	t = ci_member(j, "AcknowledgedMessageType");
	if (!cJSON_IsString(t) || t->valuestring == NULL) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "ack: missing string AcknowledgedMessageType");
		goto out;
	}
	tl = strlen(t->valuestring);
	if (!type_ok(t->valuestring, tl)) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "ack: invalid AcknowledgedMessageType");
		goto out;
	}
	memcpy(a->type, t->valuestring, tl + 1);
	id = ci_member(j, "AcknowledgedMessageId");
	if (!cJSON_IsString(id) || id->valuestring == NULL ||
	    dh_uuid_parse(id->valuestring, &a->id) != DH_OK) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "ack: AcknowledgedMessageId is not a UUID string");
		goto out;
	}
	/* 2^53: beyond it a JSON double cannot name a sequence exactly. */
	r = ci_int(j, "AcknowledgedMessageSequenceNumber", 0,
	    9007199254740992.0, &seq, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "ack");
		goto out;
	}
	a->seq = (int64_t)seq;
	sq = ci_member(j, "IsSequentialMessage");
	if (sq != NULL && !cJSON_IsNull(sq)) {
		if (!cJSON_IsBool(sq)) {
			r = dh_err_set(err, DH_E_FORMAT,
			    "ack: IsSequentialMessage is not a boolean");
			goto out;
		}
		a->sequential = cJSON_IsTrue(sq);
	}
	r = DH_OK;
out:
	cJSON_Delete(j);
	return r;
}

/* Serialise j onto out and free it; j == NULL means allocation failed. */
static int
finish_json(cJSON *j, struct dh_buf *out, const char *what, struct dh_err *err)
{
	int r;

	if (j == NULL)
		return dh_err_set(err, DH_E_NOMEM, "%s: out of memory", what);
	r = dh_json_print(j, out);
	cJSON_Delete(j);
	if (r != DH_OK)
		return dh_err_set(err, r, "%s: cannot serialise", what);
	return DH_OK;
}

/* Add a string member; returns 0 on allocation failure. */
static int
add_str(cJSON *j, const char *k, const char *v)
{
	return cJSON_AddStringToObject(j, k, v) != NULL;
}

int
dh_mgs_channel_closed_build(const struct dh_uuid *msg_id,
    uint64_t created_ms, const char *destination_id, const char *session_id,
    const char *output, int exit_code, struct dh_buf *out,
    struct dh_err *err)
{
	char id[DH_UUID_STRLEN + 1], created[24], code[16];
	cJSON *j;
	int ok;

	if (msg_id == NULL || destination_id == NULL || session_id == NULL ||
	    output == NULL)
		return dh_err_set(err, DH_E_ARG, "channel_closed: NULL field");
	dh_uuid_fmt(msg_id, id);
	snprintf(created, sizeof(created), "%" PRIu64, created_ms);
	j = cJSON_CreateObject();
	if (j == NULL)
		return finish_json(NULL, out, "channel_closed", err);
	ok = add_str(j, "MessageId", id) && add_str(j, "CreatedDate", created) &&
	    add_str(j, "DestinationId", destination_id) &&
	    add_str(j, "SessionId", session_id) &&
	    add_str(j, "MessageType", DH_MGS_T_CHANNEL_CLOSED) &&
	    cJSON_AddNumberToObject(j, "SchemaVersion", 1) != NULL &&
	    add_str(j, "Output", output);
	if (ok && exit_code >= 0) {
		snprintf(code, sizeof(code), "%d", exit_code);
		ok = add_str(j, "ExitCode", code);
	}
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return finish_json(j, out, "channel_closed", err);
}

int
dh_mgs_session_state_build(const char *state, const char *session_id,
    int exit_code, struct dh_buf *out, struct dh_err *err)
{
	cJSON *j;
	int ok;

	if (state == NULL || state[0] == '\0' || session_id == NULL)
		return dh_err_set(err, DH_E_ARG,
		    "agent_session_state: missing state or session id");
	j = cJSON_CreateObject();
	if (j == NULL)
		return finish_json(NULL, out, "agent_session_state", err);
	ok = cJSON_AddNumberToObject(j, "SchemaVersion", 1) != NULL &&
	    add_str(j, "SessionState", state) &&
	    add_str(j, "SessionId", session_id) &&
	    (exit_code < 0 ||
	    cJSON_AddNumberToObject(j, "ExitCode", exit_code) != NULL);
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return finish_json(j, out, "agent_session_state", err);
}

int
dh_mgs_size_build(uint32_t cols, uint32_t rows, struct dh_buf *out,
    struct dh_err *err)
{
	int r;

	r = dh_buf_printf(out, "{\"cols\":%" PRIu32 ",\"rows\":%" PRIu32 "}",
	    cols, rows);
	if (r != DH_OK)
		return dh_err_set(err, r, "size: output buffer full");
	return DH_OK;
}

int
dh_mgs_size_parse(const void *p, size_t n, uint32_t *cols, uint32_t *rows,
    struct dh_err *err)
{
	cJSON *j = NULL;
	double c, w;
	int r;

	r = dh_json_parse(p, n, SMALL_JSON_MAX, &j, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "size");
		goto out;
	}
	r = ci_int(j, "cols", 0, UINT32_MAX, &c, err);
	if (r == DH_OK)
		r = ci_int(j, "rows", 0, UINT32_MAX, &w, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "size");
		goto out;
	}
	*cols = (uint32_t)c;
	*rows = (uint32_t)w;
out:
	cJSON_Delete(j);
	return r;
}

int
dh_mgs_flag_build(uint32_t v, struct dh_buf *out, struct dh_err *err)
{
	int r;

	r = dh_buf_put_u32(out, v);
	if (r != DH_OK)
		return dh_err_set(err, r, "flag: output buffer full");
	return DH_OK;
}

int
dh_mgs_flag_parse(const void *p, size_t n, uint32_t *v, struct dh_err *err)
{
	if (n != 4 || p == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "flag payload is %zu bytes, expected 4", n);
	*v = dh_be32(p);
	return DH_OK;
}
