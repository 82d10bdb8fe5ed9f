/*
 * dh_uuid: RFC 4122 UUIDs as 16 raw bytes, random v4 generation and the
 * canonical 36-character text form.
 */
#ifndef DH_UUID_H
#define DH_UUID_H

#define DH_UUID_STRLEN 36

struct dh_uuid {
	unsigned char b[16];
};

/* Fill u with a random version-4 UUID; 0 or DH_E_CRYPTO. */
int dh_uuid_v4(struct dh_uuid *u);
/* Write the lowercase 8-4-4-4-12 form and a NUL into out[37]. */
void dh_uuid_fmt(const struct dh_uuid *u, char out[DH_UUID_STRLEN + 1]);
/* Parse exactly 36 characters of 8-4-4-4-12 hex (either case); 0 or DH_E_FORMAT. */
int dh_uuid_parse(const char *s, struct dh_uuid *u);

#endif
