/*
 * Fuzz target: dh_sched_parse on arbitrary bytes (first line = the
 * expression, an optional second line = a time-zone name).  Every schedule
 * that parses is evaluated from a few instants; a returned fire time must
 * lie strictly after the instant it was asked for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "dh_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t afters[] = { 0, 1710054000, 1730592000, 4102444800 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[DH_SCHED_EXPR_MAX + DH_SCHED_TZ_MAX + 4], *nl, *tz = NULL;
	struct dh_sched s;
	struct dh_err err;
	int64_t next;
	size_t i;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (nl != NULL) {
		*nl = '\0';
		tz = nl + 1;
	}
	if (dh_sched_parse(buf, &s, &err) != DH_OK)
		return 0;
	for (i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
		if (dh_sched_next(&s, tz, 1000, afters[i], &next, &err) ==
		    DH_OK && next <= afters[i])
			abort();
	}
	return 0;
}
