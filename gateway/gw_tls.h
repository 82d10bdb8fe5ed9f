/*
 * gw_tls: the gateway's private certificate authority.  On first start it
 * creates, under the state directory, an ECDSA P-256 CA (ca.pem, ca.key)
 * and a server certificate signed by it (server.pem, server.key) whose
 * subjectAltName lists localhost, 127.0.0.1, ::1 and any configured names
 * (DNS names or IP literals).  Later starts reuse the files.  Private keys
 * are written 0600 via a temporary file, fsync and rename; ca.pem 0644 is
 * what clients trust (AWS_CA_BUNDLE, SSL_CERT_FILE).
 *
 * Alternatively (gw_tls_use) the operator's own certificate and key are
 * used: both are parsed and checked (PEM certificate, unencrypted private
 * key, key matches the certificate, certificate currently valid) and
 * nothing is generated; ca.pem is then neither created nor used (clients
 * trust the issuer of that certificate).
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stddef.h>

#include "dh_err.h"

#define GW_TLS_PATH_MAX 4096
#define GW_TLS_MAX_NAMES 16
#define GW_TLS_DAYS 3650

struct gw_tls_paths {
	char ca_cert[GW_TLS_PATH_MAX];
	char cert[GW_TLS_PATH_MAX];
	char key[GW_TLS_PATH_MAX];
	int created;      /* 1 when this call generated the CA and cert */
	char subject[256]; /* gw_tls_use: "CN=..., expires YYYY-MM-DD" */
};

/* Make sure dir holds a CA and a server cert/key covering the default
 * names plus names[0..n) (n <= GW_TLS_MAX_NAMES); fill *out with paths. */
int gw_tls_ensure(const char *dir, const char *const *names, size_t n,
    struct gw_tls_paths *out, struct dh_err *err);

/* Use the configured certificate (PEM, may be followed by its chain) and
 * private key files: checks both parse, the key is not encrypted, matches
 * the certificate and the certificate is valid now; fills *out with the
 * paths (ca_cert "", created 0) and a subject summary.  DH_E_IO (unreadable),
 * DH_E_FORMAT (not PEM / encrypted), DH_E_AUTH (key does not match),
 * DH_E_STATE (expired or not yet valid), each with the file named in err. */
int gw_tls_use(const char *cert, const char *key, struct gw_tls_paths *out,
    struct dh_err *err);

/* 1 when s is an IPv4 or IPv6 literal (goes into an IP SAN), else 0. */
int gw_tls_is_ip(const char *s);

#endif
