/*
 * Fuzz target: ss_worker_req_decode, the start request a session worker
 * receives from the spawner (environment strings, credentials and the
 * interactive_shell payload), on arbitrary bytes.  A decoded request,
 * encoded again around the same payload, must decode to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_spawner.h"
#include "ss_worker.h"

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
	static struct ss_worker_req r, r2;
	struct dh_buf b;
	size_t head;

	if (ss_worker_req_decode(data, size, &r, NULL) != DH_OK) {
		ss_worker_req_free(&r);
		return 0;
	}
	/* the environment and credentials re-encode to the same length, so
	 * an empty-payload encoding tells where the payload starts */
	dh_buf_init(&b, DH_SPAWNER_REQ_MAX + 1024);
	if (ss_worker_req_encode(&r.env, &r.creds, "", 0, &b, NULL) != DH_OK)
		abort();
	head = b.len;
	dh_buf_reset(&b);
	if (head > size || ss_worker_req_encode(&r.env, &r.creds, data + head,
	    size - head, &b, NULL) != DH_OK ||
	    ss_worker_req_decode(b.d, b.len, &r2, NULL) != DH_OK)
		abort();
	if (!same(r.env.instance_id, r2.env.instance_id) ||
	    !same(r.env.spool_dir, r2.env.spool_dir) ||
	    !same(r.env.s3_url, r2.env.s3_url) ||
	    r.env.max_chunk != r2.env.max_chunk ||
	    strcmp(r.creds.session_token, r2.creds.session_token) != 0 ||
	    strcmp(r.task.session_id, r2.task.session_id) != 0)
		abort();
	dh_buf_free(&b);
	ss_worker_req_free(&r2);
	ss_worker_req_free(&r);
	return 0;
}
