/*
 * Fuzz target: dh_json_parse on arbitrary bytes, then every typed getter on
 * every member of the top-level object (and on a few fixed keys), and a
 * print/re-parse round trip: whatever parsed must print to JSON that parses
 * again under the same limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
probe(const cJSON *obj, const char *key)
{
	struct dh_err err;
	const char *s;
	int64_t v;
	int present, b = 0;

	(void)dh_json_get_str(obj, key, &s, &err);
	(void)dh_json_opt_str(obj, key, &s, &err);
	(void)dh_json_get_int(obj, key, 0, 65535, &v, &err);
	(void)dh_json_get_int(obj, key, INT64_MIN, INT64_MAX, &v, &err);
	(void)dh_json_opt_int(obj, key, -5, 5, &v, &present, &err);
	(void)dh_json_opt_bool(obj, key, &b, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "", "a", "Name", "n", "b" };
	struct dh_err err;
	struct dh_buf out;
	const cJSON *m;
	cJSON *j = NULL, *again = NULL;
	size_t i;

	if (dh_json_parse(data, size, 1 << 16, &j, &err) != DH_OK) {
		if (j != NULL)
			abort();
		return 0;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		probe(j, keys[i]);
	for (m = j->child; m != NULL; m = m->next) {
		if (m->string != NULL)
			probe(j, m->string);
	}
	dh_buf_init(&out, 1 << 22);
	if (dh_json_print(j, &out) != DH_OK)
		abort();
	if (dh_json_parse(out.d, out.len, out.len, &again, &err) != DH_OK)
		abort();
	cJSON_Delete(again);
	dh_buf_free(&out);
	cJSON_Delete(j);
	return 0;
}
