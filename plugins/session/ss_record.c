/*
 * ss_record: encode/decode the 64-byte transcript record header, compute
 * and check the SHA-256 chain link, the seal HMAC, and the offline chain
 * verifier used by the shipper, `deckhand transcript verify` and tests.
 * The format is documented in ss_record.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "ss_record.h"

#define HDR_LINKED 32 /* header bytes covered by the link */
#define SEAL_JSON_MAX 4096

const char *
ss_record_kind_name(int kind)
{
	switch (kind) {
	case SS_KIND_OPEN: return "open";
	case SS_KIND_OUTPUT: return "output";
	case SS_KIND_INPUT: return "input";
	case SS_KIND_RESIZE: return "resize";
	case SS_KIND_EVENT: return "event";
	case SS_KIND_GAP: return "gap";
	case SS_KIND_RECOVER: return "recover";
	case SS_KIND_SEAL: return "seal";
	default: return "unknown";
	}
}

static int
kind_valid(int kind)
{
	return kind >= SS_KIND_OPEN && kind <= SS_KIND_SEAL;
}

static void
compute_link(const unsigned char prev[SS_LINK_LEN], const unsigned char *hdr,
    const void *payload, size_t len, unsigned char out[SS_LINK_LEN])
{
	struct dh_sha256_ctx *c;
	unsigned char tmp[SS_LINK_LEN + HDR_LINKED];

	if (len < 4096) {
		/* Small records: one-shot hash over a stack copy. */
		unsigned char small[SS_LINK_LEN + HDR_LINKED + 4096];

		memcpy(small, prev, SS_LINK_LEN);
		memcpy(small + SS_LINK_LEN, hdr, HDR_LINKED);
		if (len > 0)
			memcpy(small + SS_LINK_LEN + HDR_LINKED, payload, len);
		dh_sha256(small, SS_LINK_LEN + HDR_LINKED + len, out);
		return;
	}
	c = dh_sha256_new();
	if (c == NULL) {
		/* Allocation failure: fall back to a link nobody can match. */
		memset(out, 0xff, SS_LINK_LEN);
		return;
	}
	memcpy(tmp, prev, SS_LINK_LEN);
	memcpy(tmp + SS_LINK_LEN, hdr, HDR_LINKED);
	dh_sha256_update(c, tmp, sizeof(tmp));
	dh_sha256_update(c, payload, len);
	dh_sha256_final(c, out);
	dh_sha256_free(c);
}

int
ss_record_build(enum ss_kind kind, uint16_t flags, uint64_t seq,
    uint64_t time_us, const unsigned char prev_link[SS_LINK_LEN],
    const void *payload, size_t len, unsigned char hdr[SS_RECORD_HDR_LEN],
    unsigned char link_out[SS_LINK_LEN])
{
	if (!kind_valid((int)kind) || len > SS_RECORD_MAX ||
	    (len > 0 && payload == NULL))
		return DH_E_ARG;
	memcpy(hdr, SS_RECORD_MAGIC, 4);
	hdr[4] = SS_RECORD_VERSION;
	hdr[5] = (unsigned char)kind;
	hdr[6] = (unsigned char)(flags >> 8);
	hdr[7] = (unsigned char)(flags & 0xff);
	dh_put_be32(hdr + 8, (uint32_t)len);
	dh_put_be32(hdr + 12, 0);
	dh_put_be64(hdr + 16, seq);
	dh_put_be64(hdr + 24, time_us);
	compute_link(prev_link, hdr, payload, len, hdr + HDR_LINKED);
	if (link_out != NULL)
		memcpy(link_out, hdr + HDR_LINKED, SS_LINK_LEN);
	return DH_OK;
}

int
ss_record_decode(const void *p, size_t n, struct ss_record *rec,
    size_t *used, struct dh_err *err)
{
	const unsigned char *b = p;
	uint32_t len;

	if (n < SS_RECORD_HDR_LEN)
		return dh_err_set(err, DH_E_SHORT,
		    "record header truncated (%zu of %d bytes)", n,
		    SS_RECORD_HDR_LEN);
	if (memcmp(b, SS_RECORD_MAGIC, 4) != 0)
		return dh_err_set(err, DH_E_FORMAT, "bad record magic");
	if (b[4] != SS_RECORD_VERSION)
		return dh_err_set(err, DH_E_FORMAT,
		    "unsupported record version %u", b[4]);
	if (!kind_valid(b[5]))
		return dh_err_set(err, DH_E_FORMAT, "unknown record kind %u",
		    b[5]);
	if (dh_be32(b + 12) != 0)
		return dh_err_set(err, DH_E_FORMAT, "reserved field not zero");
	len = dh_be32(b + 8);
	if (len > SS_RECORD_MAX)
		return dh_err_set(err, DH_E_FORMAT,
		    "record length %u over the %u ceiling", len,
		    SS_RECORD_MAX);
	if (n - SS_RECORD_HDR_LEN < len)
		return dh_err_set(err, DH_E_SHORT,
		    "record payload truncated (%zu of %u bytes)",
		    n - SS_RECORD_HDR_LEN, len);
	rec->kind = (enum ss_kind)b[5];
	rec->flags = (uint16_t)((b[6] << 8) | b[7]);
	rec->len = len;
	rec->seq = dh_be64(b + 16);
	rec->time_us = dh_be64(b + 24);
	memcpy(rec->link, b + HDR_LINKED, SS_LINK_LEN);
	rec->payload = b + SS_RECORD_HDR_LEN;
	*used = SS_RECORD_HDR_LEN + (size_t)len;
	return DH_OK;
}

int
ss_record_link_ok(const struct ss_record *rec,
    const unsigned char prev_link[SS_LINK_LEN])
{
	unsigned char hdr[SS_RECORD_HDR_LEN];
	unsigned char link[SS_LINK_LEN];
	int rc;

	rc = ss_record_build(rec->kind, rec->flags, rec->seq, rec->time_us,
	    prev_link, rec->payload, rec->len, hdr, link);
	if (rc != DH_OK)
		return 0;
	return dh_ct_equal(link, rec->link, SS_LINK_LEN);
}

void
ss_record_seal_hmac(const unsigned char *key, size_t klen,
    const unsigned char last_link[SS_LINK_LEN], uint64_t seal_seq,
    unsigned char out[SS_LINK_LEN])
{
	unsigned char msg[10 + SS_LINK_LEN + 8];

	memcpy(msg, "DHTR-SEAL1", 10);
	memcpy(msg + 10, last_link, SS_LINK_LEN);
	dh_put_be64(msg + 10 + SS_LINK_LEN, seal_seq);
	dh_hmac_sha256(key, klen, msg, sizeof(msg), out);
}

int
ss_record_append(struct dh_buf *out, enum ss_kind kind, uint16_t flags,
    uint64_t *seq, uint64_t time_us, unsigned char link[SS_LINK_LEN],
    const void *payload, size_t len, struct dh_err *err)
{
	unsigned char hdr[SS_RECORD_HDR_LEN];
	int rc;

	rc = ss_record_build(kind, flags, *seq, time_us, link, payload, len,
	    hdr, link);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "bad record (kind %d, %zu bytes)",
		    (int)kind, len);
	rc = dh_buf_put(out, hdr, sizeof(hdr));
	if (rc == DH_OK && len > 0)
		rc = dh_buf_put(out, payload, len);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "record does not fit the buffer");
	(*seq)++;
	return DH_OK;
}

void
ss_verify_init(struct ss_verify *v, const unsigned char *key, size_t klen)
{
	memset(v, 0, sizeof(*v));
	v->next_seq = 1;
	v->key = key;
	v->key_len = klen;
}

static void finding(struct ss_verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
finding(struct ss_verify *v, const char *fmt, ...)
{
	va_list ap;

	if (v->n_findings < SS_VERIFY_MAX_FINDINGS) {
		va_start(ap, fmt);
		vsnprintf(v->findings[v->n_findings],
		    sizeof(v->findings[0]), fmt, ap);
		va_end(ap);
	}
	v->n_findings++;
}

static void
check_open(struct ss_verify *v, const struct ss_record *rec)
{
	cJSON *j = NULL;
	const char *sid = NULL;

	if (dh_json_parse(rec->payload, rec->len, SS_RECORD_MAX, &j,
	    NULL) != DH_OK ||
	    dh_json_get_str(j, "session_id", &sid, NULL) != DH_OK) {
		finding(v, "record %llu: OPEN payload is not valid",
		    (unsigned long long)rec->seq);
		v->broken = 1;
	} else {
		snprintf(v->session_id, sizeof(v->session_id), "%s", sid);
	}
	cJSON_Delete(j);
}

static void
check_gap(struct ss_verify *v, const struct ss_record *rec)
{
	cJSON *j = NULL;
	int64_t b = 0;

	v->gaps++;
	if (dh_json_parse(rec->payload, rec->len, SS_RECORD_MAX, &j,
	    NULL) == DH_OK &&
	    dh_json_get_int(j, "dropped_bytes", 0, INT64_MAX, &b, NULL) ==
	    DH_OK)
		v->gap_bytes += (uint64_t)b;
	cJSON_Delete(j);
}

/* Seal contents: counts and last link must match what came before. */
static void
check_seal(struct ss_verify *v, const struct ss_record *rec,
    const unsigned char prev_link[SS_LINK_LEN])
{
	cJSON *j = NULL;
	int64_t records = 0, ob = 0, ib = 0;
	const char *last = NULL, *mac = NULL;
	char hex[2 * SS_LINK_LEN + 1];
	unsigned char want[SS_LINK_LEN];
	int ab = 0;

	v->sealed = 1;
	if (dh_json_parse(rec->payload, rec->len, SEAL_JSON_MAX, &j,
	    NULL) != DH_OK ||
	    dh_json_get_int(j, "records", 0, INT64_MAX, &records, NULL) ||
	    dh_json_get_int(j, "output_bytes", 0, INT64_MAX, &ob, NULL) ||
	    dh_json_get_int(j, "input_bytes", 0, INT64_MAX, &ib, NULL) ||
	    dh_json_get_str(j, "last_link", &last, NULL) ||
	    dh_json_opt_str(j, "hmac", &mac, NULL) ||
	    dh_json_opt_bool(j, "abandoned", &ab, NULL)) {
		finding(v, "record %llu: SEAL payload is not valid",
		    (unsigned long long)rec->seq);
		v->broken = 1;
		goto out;
	}
	v->abandoned = ab;
	if ((uint64_t)records != v->records)
		finding(v, "record %llu: seal counts %lld records, chain has "
		    "%llu (records removed or added)",
		    (unsigned long long)rec->seq, (long long)records,
		    (unsigned long long)v->records);
	if ((uint64_t)ob != v->output_bytes || (uint64_t)ib != v->input_bytes)
		finding(v, "record %llu: seal byte counts %lld/%lld differ "
		    "from the chain's %llu/%llu",
		    (unsigned long long)rec->seq, (long long)ob,
		    (long long)ib, (unsigned long long)v->output_bytes,
		    (unsigned long long)v->input_bytes);
	dh_hex_encode(prev_link, SS_LINK_LEN, hex);
	if (strcmp(hex, last) != 0)
		finding(v, "record %llu: seal last_link does not match the "
		    "chain", (unsigned long long)rec->seq);
	if ((uint64_t)records != v->records ||
	    (uint64_t)ob != v->output_bytes ||
	    (uint64_t)ib != v->input_bytes || strcmp(hex, last) != 0)
		v->broken = 1;
	if (v->key != NULL) {
		if (mac == NULL) {
			finding(v, "record %llu: seal carries no HMAC but a "
			    "key was given", (unsigned long long)rec->seq);
			v->broken = 1;
			goto out;
		}
		ss_record_seal_hmac(v->key, v->key_len, prev_link, rec->seq,
		    want);
		dh_hex_encode(want, SS_LINK_LEN, hex);
		if (strlen(mac) != 2 * SS_LINK_LEN ||
		    !dh_ct_equal(hex, mac, 2 * SS_LINK_LEN)) {
			finding(v, "record %llu: seal HMAC does not verify "
			    "with the given key", (unsigned long long)rec->seq);
			v->broken = 1;
			goto out;
		}
		v->seal_key_checked = 1;
	}
out:
	cJSON_Delete(j);
}

int
ss_verify_feed(struct ss_verify *v, const struct ss_record *rec)
{
	unsigned char prev[SS_LINK_LEN];
	int bad = 0;

	memcpy(prev, v->link, SS_LINK_LEN);
	if (rec->seq != v->next_seq) {
		if (rec->seq > v->next_seq)
			finding(v, "record %llu: expected seq %llu (%llu "
			    "records missing or reordered)",
			    (unsigned long long)rec->seq,
			    (unsigned long long)v->next_seq,
			    (unsigned long long)(rec->seq - v->next_seq));
		else
			finding(v, "record %llu: expected seq %llu (record "
			    "repeated or reordered)",
			    (unsigned long long)rec->seq,
			    (unsigned long long)v->next_seq);
		bad = 1;
	}
	if (!ss_record_link_ok(rec, prev)) {
		finding(v, "record %llu (%s, %u bytes): chain link mismatch "
		    "(record or its predecessor modified)",
		    (unsigned long long)rec->seq,
		    ss_record_kind_name(rec->kind), rec->len);
		bad = 1;
	}
	if (v->records == 0 && !bad && rec->kind != SS_KIND_OPEN) {
		finding(v, "record %llu: first record is %s, not OPEN",
		    (unsigned long long)rec->seq,
		    ss_record_kind_name(rec->kind));
		bad = 1;
	}
	if (v->sealed) {
		finding(v, "record %llu: %s record after the seal",
		    (unsigned long long)rec->seq,
		    ss_record_kind_name(rec->kind));
		bad = 1;
	}
	if (rec->kind == SS_KIND_SEAL) {
		check_seal(v, rec, prev);
	} else {
		v->records++;
		if (rec->kind == SS_KIND_OPEN) {
			if (v->opened) {
				finding(v, "record %llu: second OPEN record",
				    (unsigned long long)rec->seq);
				bad = 1;
			}
			v->opened = 1;
			check_open(v, rec);
		} else if (rec->kind == SS_KIND_OUTPUT) {
			v->output_bytes += rec->len;
		} else if (rec->kind == SS_KIND_INPUT) {
			v->input_bytes += rec->len;
		} else if (rec->kind == SS_KIND_GAP) {
			check_gap(v, rec);
		} else if (rec->kind == SS_KIND_RECOVER) {
			v->recovers++;
		}
	}
	/* Resynchronise on the record itself so later damage is named too. */
	memcpy(v->link, rec->link, SS_LINK_LEN);
	v->next_seq = rec->seq + 1;
	if (bad) {
		v->broken = 1;
		return DH_E_INTEGRITY;
	}
	return DH_OK;
}

int
ss_verify_buffer(struct ss_verify *v, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t off = 0, used = 0;
	struct ss_record rec;
	struct dh_err err;
	int rc;

	while (off < n) {
		rc = ss_record_decode(b + off, n - off, &rec, &used, &err);
		if (rc != DH_OK) {
			finding(v, "offset %zu (after record %llu): %s", off,
			    (unsigned long long)(v->next_seq - 1), err.msg);
			v->broken = 1;
			break;
		}
		(void)ss_verify_feed(v, &rec);
		off += used;
	}
	if (!v->opened && !v->broken) {
		finding(v, "no OPEN record");
		v->broken = 1;
	}
	if (!v->sealed)
		finding(v, "session not sealed (truncated, or still open)");
	return ss_verify_ok(v) ? DH_OK : DH_E_INTEGRITY;
}

int
ss_verify_ok(const struct ss_verify *v)
{
	return !v->broken && v->opened && v->sealed &&
	    (v->key == NULL || v->seal_key_checked);
}
