/*
 * dh_tls: one X509 trust store per process and CA file, shared by every TLS
 * client in it (libcurl connections, libwebsockets vhosts, dh_wsc).
 *
 * Loading a CA file into an OpenSSL store parses every certificate: the
 * Debian system bundle (about 140 roots) costs about 0.86 MB of heap per
 * store.  libcurl builds a store per easy handle and libwebsockets one per
 * client context, so a session worker that talks to ssmmessages, KMS, Logs
 * and S3 used to carry three copies (2.7 MB of private heap) of the same
 * roots.  With dh_tls the agent loads the store once, and the workers it
 * forks share those pages copy-on-write.  A store is loaded once per
 * process: a changed CA file takes effect when the process restarts (curl's
 * own CA cache keeps a bundle for 24 h; libwebsockets loads it once).
 *
 * Ownership: the cache owns its stores for the life of the process;
 * dh_tls_store hands out a new reference that the caller frees with
 * X509_STORE_free.  The cache is thread-safe, and its stores survive a
 * fork: contexts given a store verify under one process-wide mutex, which
 * a pthread_atfork handler holds across fork, so a child never inherits a
 * store that another thread had locked (OpenSSL's store lock is a rwlock,
 * which the child could not release).  That covers the stores only: a
 * child forked while another thread is inside OpenSSL can still inherit
 * one of OpenSSL's own locks (its method store, seen in test_tls), which is
 * why the agent forks session workers from a single-threaded spawner
 * (dh_spawner) after dh_tls_preload.
 */
#ifndef DH_TLS_H
#define DH_TLS_H

#include <openssl/ssl.h>

#include "dh_err.h"

/* The shared store for ca_file (NULL or "" = OpenSSL's default paths,
 * which honour SSL_CERT_FILE / SSL_CERT_DIR), loaded on first use; *out is
 * a new reference.  DH_E_TLS when the file cannot be loaded. */
int dh_tls_store(const char *ca_file, X509_STORE **out, struct dh_err *err);

/* Make ctx verify against the shared store for ca_file (replacing
 * whatever store it had), through the fork-safe verification gate (ctx's
 * cert_verify_callback).  DH_E_TLS when the file cannot be loaded. */
int dh_tls_use_store(SSL_CTX *ctx, const char *ca_file, struct dh_err *err);

/* Build, in this process, what its TLS clients and those of the children
 * it forks will need: the shared store for ca_file, OpenSSL's TLS tables
 * (a ClientHello is written into a memory BIO) and the SHA-256, HMAC and
 * AES-256-GCM implementations, so that forked children share those pages
 * copy-on-write instead of building them privately.  DH_E_TLS when the
 * file cannot be loaded or OpenSSL fails. */
int dh_tls_preload(const char *ca_file, struct dh_err *err);

#endif
