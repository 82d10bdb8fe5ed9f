/*
 * Fuzz target: ag_ctrl_parse_token (CreateControlChannel XML answer) on
 * arbitrary bytes; a token, when found, is non-empty, bounded and only
 * printable ASCII (entities such as &lt; are decoded, so '<' may appear).
 */
#include <stdint.h>
#include <stdlib.h>

#include "ag_ctrl.h"
#include "dh_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_buf tok;
	size_t i;

	dh_buf_init_secret(&tok, AG_CTRL_TOKEN_MAX + 1);
	if (ag_ctrl_parse_token(data, size, &tok, NULL) == 0) {
		if (tok.len == 0 || tok.len > AG_CTRL_TOKEN_MAX)
			abort();
		for (i = 0; i < tok.len; i++)
			if (tok.d[i] < 0x21 || tok.d[i] > 0x7e)
				abort();
	}
	dh_buf_free(&tok);
	return 0;
}
