/*
 * Fuzz target: dh_b64_decode / dh_hex_decode on arbitrary text; a successful
 * decode must re-encode to the same text (canonical form).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_buf dec, enc;

	dh_buf_init(&dec, 1 << 16);
	dh_buf_init(&enc, 1 << 17);
	if (dh_b64_decode((const char *)data, size, &dec) == DH_OK) {
		if (dh_b64_encode(dec.d, dec.len, &enc) != DH_OK ||
		    enc.len != size || memcmp(enc.d, data, size) != 0)
			abort();
	}
	dh_buf_reset(&dec);
	(void)dh_hex_decode((const char *)data, size, &dec);
	dh_buf_free(&dec);
	dh_buf_free(&enc);
	return 0;
}
