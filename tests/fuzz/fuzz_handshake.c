/*
 * Fuzz target: every ss_handshake parser on arbitrary bytes.  A request or
 * response that parses must build again and parse back to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ss_hs_response rs, rs2;
	struct ss_hs_request rq, rq2;
	struct dh_buf b, blob;
	char msg[64];
	int64_t ns;

	dh_buf_init(&b, 1 << 20);
	dh_buf_init(&blob, SS_HS_BLOB_MAX);
	if (ss_hs_request_parse(data, size, &rq, NULL) == DH_OK &&
	    ss_hs_request_build(&rq, &b, NULL) == DH_OK) {
		if (ss_hs_request_parse(b.d, b.len, &rq2, NULL) != DH_OK ||
		    strcmp(rq.session_type, rq2.session_type) != 0 ||
		    strcmp(rq.kms_key_id, rq2.kms_key_id) != 0 ||
		    strcmp(rq.challenge, rq2.challenge) != 0 ||
		    rq.kms != rq2.kms)
			abort();
	}
	dh_buf_reset(&b);
	if (ss_hs_response_parse(data, size, &rs, NULL) == DH_OK &&
	    ss_hs_response_build(&rs, &b, NULL) == DH_OK) {
		if (ss_hs_response_parse(b.d, b.len, &rs2, NULL) != DH_OK ||
		    strcmp(rs.client_version, rs2.client_version) != 0 ||
		    (rs.kms_status == SS_HS_STATUS_SUCCESS &&
		    (rs.kms_ct_len != rs2.kms_ct_len ||
		    memcmp(rs.kms_ct, rs2.kms_ct, rs.kms_ct_len) != 0)))
			abort();
	}
	(void)ss_hs_complete_parse(data, size, &ns, msg, sizeof(msg), NULL);
	(void)ss_hs_challenge_parse(data, size, &blob, NULL);
	dh_buf_free(&b);
	dh_buf_free(&blob);
	return 0;
}
