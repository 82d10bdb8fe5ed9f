/*
 * Fuzz target: ag_platform_parse_os_release on arbitrary bytes; the output
 * strings stay NUL-terminated within their fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag_platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_platform pl;

	memset(&pl, 0, sizeof(pl));
	(void)ag_platform_parse_os_release(data, size, &pl, NULL);
	if (strnlen(pl.name, sizeof(pl.name)) >= sizeof(pl.name) ||
	    strnlen(pl.version, sizeof(pl.version)) >= sizeof(pl.version))
		abort();
	return 0;
}
