/*
 * Fuzz target: ag_identity_parse on arbitrary bytes; a parsed identity must
 * format and parse again to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag_identity.h"
#include "dh_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_identity a, b;
	struct dh_buf out;

	ag_identity_init(&a);
	ag_identity_init(&b);
	dh_buf_init_secret(&out, AG_IDENTITY_MAX * 2);
	if (ag_identity_parse(data, size, &a, NULL) == DH_OK) {
		if (ag_identity_format(&a, &out, NULL) != DH_OK ||
		    ag_identity_parse(out.d, out.len, &b, NULL) != DH_OK ||
		    strcmp(a.instance_id, b.instance_id) != 0 ||
		    strcmp(a.private_key, b.private_key) != 0 ||
		    ag_fp_matches(&a.hw, &b.hw) != AG_HW_NKEYS)
			abort();
	}
	ag_identity_clear(&a);
	ag_identity_clear(&b);
	dh_buf_free(&out);
	return 0;
}
