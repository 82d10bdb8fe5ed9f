/*
 * Fuzz target: dh_mgs_decode on arbitrary bytes (with and without digest
 * checking and the lenient header length).  A frame that decodes must
 * re-encode and decode again to the same fields; its payload is also run
 * through the acknowledge, Size and Flag parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
payload_parsers(const struct dh_mgs_msg *m)
{
	struct dh_mgs_ack a;
	uint32_t c, r, v;

	(void)dh_mgs_ack_parse(m->payload, m->payload_len, &a, NULL);
	(void)dh_mgs_size_parse(m->payload, m->payload_len, &c, &r, NULL);
	(void)dh_mgs_flag_parse(m->payload, m->payload_len, &v, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned opts[] = { 0, DH_MGS_DEC_DIGEST,
		DH_MGS_DEC_ANY_HL | DH_MGS_DEC_DIGEST };
	struct dh_mgs_msg m, m2;
	struct dh_err err;
	struct dh_buf out;
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (dh_mgs_decode(data, size, opts[i], &m, &err) != DH_OK) {
			if (err.msg[0] == '\0')
				abort();
			continue;
		}
		if (m.payload_len != 0 &&
		    (m.payload < data || m.payload + m.payload_len > data + size))
			abort();
		payload_parsers(&m);
		dh_buf_init(&out, size + 64);
		if (dh_mgs_encode(&m, &out, &err) != DH_OK)
			abort();
		if (out.len != DH_MGS_HDR_LEN + m.payload_len)
			abort();
		if (dh_mgs_decode(out.d, out.len, DH_MGS_DEC_DIGEST, &m2,
		    &err) != DH_OK)
			abort();
		if (strcmp(m.type, m2.type) != 0 || m.seq != m2.seq ||
		    m.created_ms != m2.created_ms || m.flags != m2.flags ||
		    m.ptype != m2.ptype || m.schema != m2.schema ||
		    memcmp(m.id.b, m2.id.b, 16) != 0 ||
		    m.payload_len != m2.payload_len ||
		    (m.payload_len != 0 &&
		    memcmp(m.payload, m2.payload, m.payload_len) != 0))
			abort();
		/* With HL 116, everything but the type padding and the digest
		 * of an unchecked or empty payload re-encodes identically. */
		if (m.hl == DH_MGS_HL && (out.len != size ||
		    memcmp(out.d, data, 4) != 0 ||
		    memcmp(out.d + 36, data + 36, 44) != 0 ||
		    memcmp(out.d + 112, data + 112, size - 112) != 0))
			abort();
		if ((opts[i] & DH_MGS_DEC_DIGEST) && m.payload_len != 0 &&
		    m.hl == DH_MGS_HL && !dh_mgs_is(&m, DH_MGS_T_PAUSE) &&
		    !dh_mgs_is(&m, DH_MGS_T_START) &&
		    memcmp(out.d + 80, data + 80, 32) != 0)
			abort();
		dh_buf_free(&out);
	}
	return 0;
}
