/*
 * Fuzz target: ag_job_spawn_decode, the start request a patch child
 * receives from the spawner, on arbitrary bytes.  A decoded request must
 * encode and decode again to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag_job.h"
#include "dh_buf.h"
#include "dh_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ag_job_spawn s, s2;
	struct dh_buf b;

	if (ag_job_spawn_decode(data, size, &s, NULL) != DH_OK) {
		ag_job_spawn_free(&s);
		return 0;
	}
	dh_buf_init(&b, size + 64);
	if (ag_job_spawn_encode(s.kind, s.result_path, &s.p, &s.env,
	    s.has_req ? &s.req : NULL, &b, NULL) != DH_OK ||
	    ag_job_spawn_decode(b.d, b.len, &s2, NULL) != DH_OK ||
	    s2.kind != s.kind || s2.has_req != s.has_req ||
	    !same(s2.result_path, s.result_path) ||
	    !same(s2.env.session_token, s.env.session_token) ||
	    !same(s2.req.job_id, s.req.job_id) ||
	    !same(s2.req.baseline, s.req.baseline))
		abort();
	dh_buf_free(&b);
	ag_job_spawn_free(&s2);
	ag_job_spawn_free(&s);
	return 0;
}
