/*
 * Unit tests for dh_mgs: the 123-byte reference vector (decode, check every
 * field, re-encode to identical bytes), one clean distinct error per header
 * corruption (table), every truncation, digest checking, type padding rules,
 * and the acknowledge / channel_closed / agent_session_state / Size / Flag
 * payload builders and parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cJSON.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_uuid.h"

/* mgs-protocol.md section 3.1. */
static const unsigned char vec[123] = {
	0x00, 0x00, 0x00, 0x74, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x5f, 0x73, 0x74,
	0x72, 0x65, 0x61, 0x6d, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x5e, 0x0b, 0xaa, 0x78, 0x84,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xa5, 0x08, 0xb5, 0xf0, 0x73, 0xf3, 0x1b, 0x16,
	0xdd, 0x01, 0xe5, 0x6b, 0xff, 0x48, 0x48, 0x3e, 0x1d, 0x88, 0x7c, 0xe0,
	0xf8, 0x67, 0x2e, 0x49, 0x14, 0xd9, 0x00, 0x0e, 0x80, 0x1c, 0xd7, 0x4e,
	0xcd, 0x80, 0x5d, 0xd9, 0x36, 0x6c, 0x0b, 0xc4, 0x2d, 0xc1, 0x6a, 0xdc,
	0x01, 0x97, 0xdc, 0x2f, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
	0x6c, 0x73, 0x0d
};

#define VEC_ID "dd01e56b-ff48-483e-a508-b5f073f31b16"

static void
test_vector_round_trip(void **state)
{
	struct dh_mgs_msg m, m2;
	struct dh_uuid id;
	struct dh_buf out;
	struct dh_err err;
	char s[DH_UUID_STRLEN + 1];

	assert_int_equal(dh_mgs_decode(vec, sizeof(vec), DH_MGS_DEC_DIGEST, &m,
	    &err), DH_OK);
	assert_string_equal(m.type, "input_stream_data");
	assert_int_equal(m.hl, 116);
	assert_int_equal(m.schema, 1);
	assert_true(m.created_ms == 1503434274948ULL);
	assert_true(m.seq == 5);
	assert_true(m.flags == 0);
	dh_uuid_fmt(&m.id, s);
	assert_string_equal(s, VEC_ID);
	assert_int_equal(m.ptype, DH_MGS_PT_OUTPUT);
	assert_int_equal(m.payload_len, 3);
	assert_memory_equal(m.payload, "ls\r", 3);
	assert_ptr_equal(m.payload, vec + 120);
	assert_memory_equal(m.digest, vec + 80, 32);
	assert_true(dh_mgs_is_stream(&m));

	/* Re-encode the decoded message. */
	dh_buf_init(&out, 4096);
	assert_int_equal(dh_mgs_encode(&m, &out, &err), DH_OK);
	assert_int_equal(out.len, sizeof(vec));
	assert_memory_equal(out.d, vec, sizeof(vec));

	/* Build it from scratch. */
	dh_buf_reset(&out);
	assert_int_equal(dh_uuid_parse(VEC_ID, &id), DH_OK);
	assert_int_equal(dh_mgs_init(&m2, DH_MGS_T_INPUT, 1503434274948ULL, 5,
	    0, &id, DH_MGS_PT_OUTPUT, "ls\r", 3, &err), DH_OK);
	assert_int_equal(dh_mgs_frame_len(&m2), 123);
	assert_int_equal(dh_mgs_encode(&m2, &out, &err), DH_OK);
	assert_int_equal(out.len, sizeof(vec));
	assert_memory_equal(out.d, vec, sizeof(vec));
	dh_buf_free(&out);
}

static void
test_uuid_half_swap(void **state)
{
	struct dh_uuid u, v;
	unsigned char w[16];
	int i;

	for (i = 0; i < 16; i++)
		u.b[i] = (unsigned char)i;
	dh_mgs_uuid_to_wire(&u, w);
	assert_int_equal(w[0], 8);
	assert_int_equal(w[7], 15);
	assert_int_equal(w[8], 0);
	assert_int_equal(w[15], 7);
	dh_mgs_uuid_from_wire(w, &v);
	assert_memory_equal(u.b, v.b, 16);
}

/* A corruption of the vector: write len bytes of val at off. */
struct corrupt {
	const char *name;
	size_t off;
	size_t len;
	const char *val;
	unsigned opts;
	int rc;
	const char *msg;
};

static const struct corrupt corrupts[] = {
	{ "HL zero", 0, 4, "\0\0\0\0", 0, DH_E_FORMAT, "header length is 0" },
	{ "HL 117", 0, 4, "\0\0\0\x75", 0, DH_E_FORMAT, "expected 116" },
	{ "HL below", 0, 4, "\0\0\0\x10", DH_MGS_DEC_ANY_HL, DH_E_FORMAT,
	  "is below 116" },
	{ "HL past end", 0, 4, "\0\0\x10\0", DH_MGS_DEC_ANY_HL, DH_E_SHORT,
	  "runs past" },
	{ "HL huge", 0, 4, "\xff\xff\xff\xff", DH_MGS_DEC_ANY_HL, DH_E_SHORT,
	  "runs past" },
	{ "plen big", 116, 4, "\0\0\0\x04", 0, DH_E_FORMAT, "does not match" },
	{ "plen small", 116, 4, "\0\0\0\x02", 0, DH_E_FORMAT, "does not match" },
	{ "plen huge", 116, 4, "\xff\xff\xff\xff", 0, DH_E_FORMAT,
	  "does not match" },
	{ "type blank", 4, 17, "                 ", 0, DH_E_FORMAT,
	  "type is empty" },
	{ "type NULs", 4, 17, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0,
	  DH_E_FORMAT, "type is empty" },
	{ "type ctl", 6, 1, "\x01", 0, DH_E_FORMAT, "invalid byte 0x01" },
	{ "type high", 6, 1, "\xc3", 0, DH_E_FORMAT, "invalid byte 0xc3" },
	{ "type inner space", 9, 1, " ", 0, DH_E_FORMAT, "invalid byte 0x20" },
	{ "type quote", 9, 1, "\"", 0, DH_E_FORMAT, "invalid byte 0x22" },
	{ "created 0", 40, 8, "\0\0\0\0\0\0\0\0", 0, DH_E_FORMAT,
	  "CreatedDate 0" },
	{ "digest", 80, 1, "\x1e", DH_MGS_DEC_DIGEST, DH_E_INTEGRITY,
	  "digest mismatch" },
	{ "payload", 121, 1, "S", DH_MGS_DEC_DIGEST, DH_E_INTEGRITY,
	  "digest mismatch" },
	/* Fields nobody validates decode fine. */
	{ "digest unchecked", 80, 1, "\x1e", 0, DH_OK, NULL },
	{ "schema 7", 36, 4, "\0\0\0\x07", 0, DH_OK, NULL },
	{ "flags", 56, 8, "\0\0\0\0\0\0\0\x03", 0, DH_OK, NULL },
	{ "ptype 99", 112, 4, "\0\0\0\x63", 0, DH_OK, NULL },
};

static void
test_corruptions(void **state)
{
	unsigned char f[sizeof(vec)];
	struct dh_mgs_msg m;
	struct dh_err err;
	size_t i, j;
	int rc;

	for (i = 0; i < sizeof(corrupts) / sizeof(corrupts[0]); i++) {
		const struct corrupt *c = &corrupts[i];

		memcpy(f, vec, sizeof(f));
		memcpy(f + c->off, c->val, c->len);
		dh_err_clear(&err);
		rc = dh_mgs_decode(f, sizeof(f), c->opts, &m, &err);
		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc,
			    err.msg);
		if (c->msg == NULL)
			continue;
		if (strstr(err.msg, c->msg) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", c->name,
			    err.msg, c->msg);
		assert_null(m.payload);
		/* Distinct reasons: no other expected text matches. */
		for (j = 0; j < sizeof(corrupts) / sizeof(corrupts[0]); j++) {
			if (corrupts[j].msg == NULL ||
			    strcmp(corrupts[j].msg, c->msg) == 0)
				continue;
			if (strstr(err.msg, corrupts[j].msg) != NULL)
				fail_msg("%s: message \"%s\" also matches \"%s\"",
				    c->name, err.msg, corrupts[j].msg);
		}
	}
}

static void
test_truncations(void **state)
{
	struct dh_mgs_msg m;
	struct dh_err err;
	unsigned char *copy;
	size_t n;
	int rc;

	for (n = 0; n < sizeof(vec); n++) {
		/* An exact-size heap copy so ASan sees any over-read. */
		copy = malloc(n == 0 ? 1 : n);
		assert_non_null(copy);
		memcpy(copy, vec, n);
		dh_err_clear(&err);
		rc = dh_mgs_decode(copy, n, DH_MGS_DEC_DIGEST, &m, &err);
		assert_int_not_equal(rc, DH_OK);
		if (n < 120)
			assert_int_equal(rc, DH_E_SHORT);
		else
			assert_int_equal(rc, DH_E_FORMAT);
		assert_true(err.msg[0] != '\0');
		free(copy);
	}
	assert_int_equal(dh_mgs_decode(NULL, 0, 0, &m, NULL), DH_E_SHORT);
}

static void
test_type_padding(void **state)
{
	unsigned char f[sizeof(vec)];
	struct dh_mgs_msg m;
	struct dh_err err;

	/* NUL padding instead of spaces. */
	memcpy(f, vec, sizeof(f));
	memset(f + 4 + 17, 0, 15);
	assert_int_equal(dh_mgs_decode(f, sizeof(f), DH_MGS_DEC_DIGEST, &m,
	    &err), DH_OK);
	assert_string_equal(m.type, "input_stream_data");
	/* Leading NULs, then the name, then NULs and spaces. */
	memset(f + 4, 0, 32);
	memcpy(f + 6, "acknowledge", 11);
	memset(f + 17, ' ', 5);
	assert_int_equal(dh_mgs_decode(f, sizeof(f), 0, &m, &err), DH_OK);
	assert_string_equal(m.type, "acknowledge");
	assert_true(dh_mgs_is(&m, DH_MGS_T_ACK));
	assert_false(dh_mgs_is_stream(&m));
	/* 32 characters, no padding at all. */
	memcpy(f + 4, "abcdefghijklmnopqrstuvwxyz012345", 32);
	assert_int_equal(dh_mgs_decode(f, sizeof(f), 0, &m, &err), DH_OK);
	assert_string_equal(m.type, "abcdefghijklmnopqrstuvwxyz012345");
}

static void
test_publication_and_empty(void **state)
{
	struct dh_mgs_msg m, d;
	struct dh_buf out;
	struct dh_err err;
	struct dh_uuid id;

	memset(&id, 0x11, sizeof(id));
	dh_buf_init(&out, 1024);
	/* pause_publication: CreatedDate 0 and empty payload are accepted. */
	assert_int_equal(dh_mgs_init(&m, DH_MGS_T_PAUSE, 0, 0, 0, &id, 0, NULL,
	    0, &err), DH_OK);
	assert_int_equal(dh_mgs_encode(&m, &out, &err), DH_OK);
	assert_int_equal(out.len, 120);
	assert_int_equal(dh_mgs_decode(out.d, out.len, DH_MGS_DEC_DIGEST, &d,
	    &err), DH_OK);
	assert_string_equal(d.type, "pause_publication");
	assert_int_equal(d.payload_len, 0);
	/* A corrupt digest on start_publication is not checked either. */
	dh_buf_reset(&out);
	assert_int_equal(dh_mgs_init(&m, DH_MGS_T_START, 0, 0, 0, &id, 0, "x",
	    1, &err), DH_OK);
	assert_int_equal(dh_mgs_encode(&m, &out, &err), DH_OK);
	out.d[80] ^= 1;
	assert_int_equal(dh_mgs_decode(out.d, out.len, DH_MGS_DEC_DIGEST, &d,
	    &err), DH_OK);
	/* Other types still need CreatedDate; empty payload skips digest. */
	dh_buf_reset(&out);
	assert_int_equal(dh_mgs_init(&m, DH_MGS_T_CHANNEL_CLOSED, 0, 0, 3, &id,
	    0, NULL, 0, &err), DH_OK);
	assert_int_equal(dh_mgs_encode(&m, &out, &err), DH_OK);
	assert_int_equal(dh_mgs_decode(out.d, out.len, 0, &d, &err),
	    DH_E_FORMAT);
	dh_put_be64(out.d + 40, 1);
	out.d[80] ^= 1;
	assert_int_equal(dh_mgs_decode(out.d, out.len, DH_MGS_DEC_DIGEST, &d,
	    &err), DH_OK);
	dh_buf_free(&out);
}

static void
test_any_hl(void **state)
{
	unsigned char f[127];
	struct dh_mgs_msg m;
	struct dh_err err;

	/* HL 120: four extension bytes, payload located from HL. */
	memcpy(f, vec, 120);
	dh_put_be32(f, 120);
	memcpy(f + 120, "XXXX", 4);
	memcpy(f + 124, "ls\r", 3);
	assert_int_equal(dh_mgs_decode(f, sizeof(f), DH_MGS_DEC_DIGEST, &m,
	    &err), DH_E_FORMAT);
	assert_int_equal(dh_mgs_decode(f, sizeof(f),
	    DH_MGS_DEC_DIGEST | DH_MGS_DEC_ANY_HL, &m, &err), DH_OK);
	assert_int_equal(m.hl, 120);
	assert_ptr_equal(m.payload, f + 124);
	assert_memory_equal(m.payload, "ls\r", 3);
}

static void
test_encode_errors(void **state)
{
	struct dh_mgs_msg m;
	struct dh_buf out;
	struct dh_err err;

	assert_int_equal(dh_mgs_init(&m, "", 1, 0, 0, NULL, 0, "x", 1, &err),
	    DH_E_ARG);
	assert_int_equal(dh_mgs_init(&m, "abcdefghijklmnopqrstuvwxyz0123456",
	    1, 0, 0, NULL, 0, "x", 1, &err), DH_E_ARG);
	assert_int_equal(dh_mgs_init(&m, "bad type", 1, 0, 0, NULL, 0, "x", 1,
	    &err), DH_E_ARG);
	assert_int_equal(dh_mgs_init(&m, "ok", 1, 0, 0, NULL, 0, NULL, 1, &err),
	    DH_E_ARG);
	/* Output ceiling: buffer untouched on failure. */
	assert_int_equal(dh_mgs_init(&m, "ok", 1, 0, 0, NULL, 0, "xyz", 3,
	    &err), DH_OK);
	dh_buf_init(&out, 122);
	assert_int_equal(dh_mgs_encode(&m, &out, &err), DH_E_TOOBIG);
	assert_int_equal(out.len, 0);
	dh_buf_free(&out);
}

static void
test_ack_round_trip(void **state)
{
	static const char want[] =
	    "{\"AcknowledgedMessageType\":\"output_stream_data\","
	    "\"AcknowledgedMessageId\":\"" VEC_ID "\","
	    "\"AcknowledgedMessageSequenceNumber\":5,"
	    "\"IsSequentialMessage\":true}";
	struct dh_mgs_ack a, b;
	struct dh_buf out;
	struct dh_err err;

	memset(&a, 0, sizeof(a));
	memcpy(a.type, DH_MGS_T_OUTPUT, sizeof(DH_MGS_T_OUTPUT));
	assert_int_equal(dh_uuid_parse(VEC_ID, &a.id), DH_OK);
	a.seq = 5;
	a.sequential = 1;
	dh_buf_init(&out, 1024);
	assert_int_equal(dh_mgs_ack_build(&a, &out, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&out), want);
	assert_int_equal(dh_mgs_ack_parse(out.d, out.len, &b, &err), DH_OK);
	assert_string_equal(b.type, a.type);
	assert_memory_equal(b.id.b, a.id.b, 16);
	assert_true(b.seq == 5);
	assert_int_equal(b.sequential, 1);
	dh_buf_free(&out);

	/* Keys match case-insensitively; IsSequentialMessage is optional. */
	{
		static const char lc[] =
		    "{\"acknowledgedmessagetype\":\"input_stream_data\","
		    "\"ACKNOWLEDGEDMESSAGEID\":\"DD01E56B-FF48-483E-A508-B5F073F31B16\","
		    "\"acknowledgedMessageSequenceNumber\":9007199254740992}";

		assert_int_equal(dh_mgs_ack_parse(lc, strlen(lc), &b, &err),
		    DH_OK);
		assert_string_equal(b.type, "input_stream_data");
		assert_memory_equal(b.id.b, a.id.b, 16);
		assert_true(b.seq == 9007199254740992LL);
		assert_int_equal(b.sequential, 0);
	}
	/* Build refuses bad input. */
	a.seq = -1;
	dh_buf_init(&out, 1024);
	assert_int_equal(dh_mgs_ack_build(&a, &out, &err), DH_E_ARG);
	a.seq = 1;
	a.type[0] = '\0';
	assert_int_equal(dh_mgs_ack_build(&a, &out, &err), DH_E_ARG);
	dh_buf_free(&out);
}

static const char *const bad_acks[] = {
	"",
	"not json",
	"[]",
	"\"str\"",
	"{}",
	"{\"AcknowledgedMessageType\":\"output_stream_data\"}",
	"{\"AcknowledgedMessageType\":\"output_stream_data\","
	"\"AcknowledgedMessageId\":\"" VEC_ID "\"}",
	"{\"AcknowledgedMessageType\":5,\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1}",
	"{\"AcknowledgedMessageType\":\"\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1}",
	"{\"AcknowledgedMessageType\":\"a b\",\"AcknowledgedMessageId\":\""
	VEC_ID "\",\"AcknowledgedMessageSequenceNumber\":1}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":"
	"\"dd01e56b-ff48-483e-a508-b5f073f31b1\","
	"\"AcknowledgedMessageSequenceNumber\":1}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":7,"
	"\"AcknowledgedMessageSequenceNumber\":1}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":-1}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1.5}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":\"1\"}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1e300}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1,\"IsSequentialMessage\":1}",
	"{\"AcknowledgedMessageType\":\"x\",\"AcknowledgedMessageId\":\"" VEC_ID
	"\",\"AcknowledgedMessageSequenceNumber\":1} trailing",
};

static void
test_ack_malformed(void **state)
{
	struct dh_mgs_ack a;
	struct dh_err err;
	size_t i;

	for (i = 0; i < sizeof(bad_acks) / sizeof(bad_acks[0]); i++) {
		dh_err_clear(&err);
		if (dh_mgs_ack_parse(bad_acks[i], strlen(bad_acks[i]), &a,
		    &err) == DH_OK)
			fail_msg("accepted bad ack #%zu: %s", i, bad_acks[i]);
		assert_true(err.msg[0] != '\0');
	}
}

static void
test_channel_closed(void **state)
{
	struct dh_buf out;
	struct dh_err err;
	struct dh_uuid id;
	cJSON *j;

	assert_int_equal(dh_uuid_parse(VEC_ID, &id), DH_OK);
	dh_buf_init(&out, 4096);
	assert_int_equal(dh_mgs_channel_closed_build(&id, 1729534091000ULL,
	    "mi-0123456789abcdef0", "alice-0a1b", "bye \"now\"\n", -1, &out,
	    &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&out),
	    "{\"MessageId\":\"" VEC_ID "\",\"CreatedDate\":\"1729534091000\","
	    "\"DestinationId\":\"mi-0123456789abcdef0\","
	    "\"SessionId\":\"alice-0a1b\",\"MessageType\":\"channel_closed\","
	    "\"SchemaVersion\":1,\"Output\":\"bye \\\"now\\\"\\n\"}");
	j = cJSON_ParseWithLength((const char *)out.d, out.len);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "Output")->valuestring,
	    "bye \"now\"\n");
	cJSON_Delete(j);
	dh_buf_reset(&out);
	assert_int_equal(dh_mgs_channel_closed_build(&id, 1, "d", "s", "", 3,
	    &out, &err), DH_OK);
	j = cJSON_ParseWithLength((const char *)out.d, out.len);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "ExitCode")->valuestring,
	    "3");
	cJSON_Delete(j);
	assert_int_equal(dh_mgs_channel_closed_build(&id, 1, "d", NULL, "", -1,
	    &out, &err), DH_E_ARG);
	dh_buf_free(&out);
}

static void
test_session_state(void **state)
{
	struct dh_buf out;
	struct dh_err err;

	dh_buf_init(&out, 4096);
	assert_int_equal(dh_mgs_session_state_build("Connected", "sess-1",
	    -1, &out, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&out),
	    "{\"SchemaVersion\":1,\"SessionState\":\"Connected\","
	    "\"SessionId\":\"sess-1\"}");
	dh_buf_reset(&out);
	assert_int_equal(dh_mgs_session_state_build("Terminating", "s", 7,
	    &out, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&out),
	    "{\"SchemaVersion\":1,\"SessionState\":\"Terminating\","
	    "\"SessionId\":\"s\",\"ExitCode\":7}");
	assert_int_equal(dh_mgs_session_state_build("", "s", -1, &out, &err),
	    DH_E_ARG);
	dh_buf_free(&out);
}

struct size_case {
	const char *json;
	int rc;
	uint32_t cols, rows;
};

static const struct size_case size_cases[] = {
	{ "{\"cols\":300,\"rows\":100}", DH_OK, 300, 100 },
	{ "{\"Cols\":80,\"ROWS\":24}", DH_OK, 80, 24 },
	{ "{\"cols\":4294967295,\"rows\":0}", DH_OK, 4294967295u, 0 },
	{ "{\"cols\":4294967296,\"rows\":0}", DH_E_FORMAT, 0, 0 },
	{ "{\"cols\":-1,\"rows\":0}", DH_E_FORMAT, 0, 0 },
	{ "{\"cols\":80}", DH_E_FORMAT, 0, 0 },
	{ "{\"cols\":\"80\",\"rows\":24}", DH_E_FORMAT, 0, 0 },
	{ "[80,24]", DH_E_FORMAT, 0, 0 },
	{ "{", DH_E_FORMAT, 0, 0 },
};

static void
test_size(void **state)
{
	struct dh_buf out;
	struct dh_err err;
	uint32_t c, r;
	size_t i;

	dh_buf_init(&out, 64);
	assert_int_equal(dh_mgs_size_build(300, 100, &out, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&out), "{\"cols\":300,\"rows\":100}");
	dh_buf_free(&out);
	for (i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
		const struct size_case *sc = &size_cases[i];
		int rc;

		c = r = 7;
		rc = dh_mgs_size_parse(sc->json, strlen(sc->json), &c, &r, &err);
		if (rc != sc->rc)
			fail_msg("size case %zu (%s): rc %d", i, sc->json, rc);
		if (rc == DH_OK) {
			assert_int_equal(c, sc->cols);
			assert_int_equal(r, sc->rows);
		}
	}
}

static void
test_flag(void **state)
{
	struct dh_buf out;
	struct dh_err err;
	uint32_t v;

	dh_buf_init(&out, 16);
	assert_int_equal(dh_mgs_flag_build(DH_MGS_FLAG_TERMINATE_SESSION, &out,
	    &err), DH_OK);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.d, "\0\0\0\x02", 4);
	assert_int_equal(dh_mgs_flag_parse(out.d, out.len, &v, &err), DH_OK);
	assert_int_equal(v, 2);
	assert_int_equal(dh_mgs_flag_parse(out.d, 3, &v, &err), DH_E_FORMAT);
	assert_int_equal(dh_mgs_flag_parse("\0\0\0\0\0", 5, &v, &err),
	    DH_E_FORMAT);
	dh_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_round_trip),
		cmocka_unit_test(test_uuid_half_swap),
		cmocka_unit_test(test_corruptions),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_type_padding),
		cmocka_unit_test(test_publication_and_empty),
		cmocka_unit_test(test_any_hl),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_ack_round_trip),
		cmocka_unit_test(test_ack_malformed),
		cmocka_unit_test(test_channel_closed),
		cmocka_unit_test(test_session_state),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_flag),
	};

	return cmocka_run_group_tests_name("mgs", tests, NULL, NULL);
}
