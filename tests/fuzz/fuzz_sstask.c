/*
 * Fuzz target: ss_worker_parse_task (the interactive_shell payload with its
 * double-encoded Content) on arbitrary bytes; a parsed task must give a
 * well-formed agent_task_complete payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ss_task t;
	struct dh_buf b;

	if (ss_worker_parse_task(data, size, &t, NULL) != DH_OK)
		return 0;
	if (t.session_id[0] == '\0' || t.session_type[0] == '\0')
		abort();
	dh_buf_init(&b, 64 * 1024);
	if (ss_worker_task_complete_json(&t, "mi-0123456789abcdef0", "Success",
	    "", &b, NULL) != DH_OK)
		abort();
	dh_buf_free(&b);
	return 0;
}
