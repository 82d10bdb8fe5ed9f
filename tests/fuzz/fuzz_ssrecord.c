/*
 * Fuzz target: the transcript record stream reader (what a spool segment
 * or a .dtr object holds): ss_record_decode walking the buffer, the chain
 * verifier (ss_verify_buffer) and the OPEN record parser on every OPEN
 * payload found.  Findings must stay NUL-terminated; a stream the verifier
 * accepts must decode end to end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "ss_record.h"
#include "ss_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ss_verify v;
	struct ss_session_info info;
	struct ss_record rec;
	size_t off = 0, used, i;
	int whole = 1;

	while (off < size) {
		if (ss_record_decode(data + off, size - off, &rec, &used,
		    NULL) != DH_OK) {
			whole = 0;
			break;
		}
		if (used < SS_RECORD_HDR_LEN || used > size - off)
			abort();
		if (rec.kind == SS_KIND_OPEN)
			(void)ss_sink_parse_open(rec.payload, rec.len, &info,
			    NULL);
		off += used;
	}
	ss_verify_init(&v, size > 0 && data[0] & 1 ?
	    (const unsigned char *)"fuzz-key" : NULL, 8);
	if (ss_verify_buffer(&v, data, size) == DH_OK && !whole)
		abort();
	for (i = 0; i < v.n_findings && i < SS_VERIFY_MAX_FINDINGS; i++)
		if (memchr(v.findings[i], 0, sizeof(v.findings[i])) == NULL)
			abort();
	return 0;
}
