/*
 * Fuzz target: ag_creds_parse (RequestManagedInstanceRoleToken response) on
 * arbitrary bytes; success implies both secrets are present.
 */
#include <stdint.h>
#include <stdlib.h>

#include "ag_creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_creds c = { 0 };

	if (ag_creds_parse(data, size, 1700000000, &c, NULL) == 0) {
		if (c.secret_key == NULL || c.session_token == NULL ||
		    ag_creds_refresh_at(&c) < c.retrieved)
			abort();
	}
	ag_creds_clear(&c);
	return 0;
}
