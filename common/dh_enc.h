/*
 * dh_enc: hex and base64 (standard alphabet, padded) encoders and strict
 * decoders.  Decoders reject any character outside the alphabet, bad padding
 * and odd hex lengths with DH_E_FORMAT.  Output goes to a caller-owned
 * dh_buf, whose ceiling bounds the result.
 */
#ifndef DH_ENC_H
#define DH_ENC_H

#include <stddef.h>

#include "dh_buf.h"

/* Write 2n lowercase hex digits and a NUL to out (room for 2n+1 bytes). */
void dh_hex_encode(const void *p, size_t n, char *out);

/* Append the bytes of a hex string of length n to out. */
int dh_hex_decode(const char *s, size_t n, struct dh_buf *out);

/* Bytes needed to base64-encode n bytes, including the NUL. */
size_t dh_b64_encoded_size(size_t n);

/* Append base64 of p[0..n) to out (NUL-terminated via dh_buf). */
int dh_b64_encode(const void *p, size_t n, struct dh_buf *out);

/* Append the decoded bytes of base64 text s[0..n) to out. */
int dh_b64_decode(const char *s, size_t n, struct dh_buf *out);

#endif
