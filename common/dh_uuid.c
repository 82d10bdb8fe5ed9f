/*
 * dh_uuid: UUID generation, formatting and strict parsing (see dh_uuid.h).
 */
#include "dh_uuid.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "dh_hash.h"

#include <string.h>

int
dh_uuid_v4(struct dh_uuid *u)
{
	int r;

	r = dh_random(u->b, sizeof(u->b));
	if (r != DH_OK)
		return r;
	u->b[6] = (unsigned char)((u->b[6] & 0x0f) | 0x40);
	u->b[8] = (unsigned char)((u->b[8] & 0x3f) | 0x80);
	return DH_OK;
}

void
dh_uuid_fmt(const struct dh_uuid *u, char out[DH_UUID_STRLEN + 1])
{
	char hex[33];

	dh_hex_encode(u->b, 16, hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
}

int
dh_uuid_parse(const char *s, struct dh_uuid *u)
{
	char hex[32];
	struct dh_buf b;
	size_t i, j = 0;
	int r;

	for (i = 0; i < DH_UUID_STRLEN; i++) {
		if (s[i] == '\0')
			return DH_E_FORMAT;
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return DH_E_FORMAT;
			continue;
		}
		hex[j++] = s[i];
	}
	if (s[DH_UUID_STRLEN] != '\0')
		return DH_E_FORMAT;
	dh_buf_init(&b, 16);
	r = dh_hex_decode(hex, 32, &b);
	if (r == DH_OK)
		memcpy(u->b, b.d, 16);
	dh_buf_free(&b);
	return r == DH_OK ? DH_OK : DH_E_FORMAT;
}
