/*
 * dh_tls: the process-wide cache of X509 trust stores, one per CA file
 * (see dh_tls.h).  A handful of distinct files is all a process ever uses
 * (the configured CA, or the system default), so the cache is a small table
 * scanned linearly under one mutex.
 */
#include "dh_tls.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#define TLS_CACHE_MAX 4

struct entry {
	char *path;         /* "" = default paths */
	X509_STORE *store;  /* the cache's reference */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct entry g_cache[TLS_CACHE_MAX];

/* Every verification against a shared store runs under g_verify (see
 * verify_gated), and fork holds g_lock and g_verify: no other thread can
 * then be inside a store's own lock (an OpenSSL rwlock, which a child
 * cannot release) when the process forks, so a forked worker never hangs
 * in its first TLS handshake.  Verifications take milliseconds, so fork
 * waits at most that long. */
static pthread_mutex_t g_verify = PTHREAD_MUTEX_INITIALIZER;

static int
verify_gated(X509_STORE_CTX *x, void *arg)
{
	int r;

	(void)arg;
	pthread_mutex_lock(&g_verify);
	r = X509_verify_cert(x);
	pthread_mutex_unlock(&g_verify);
	return r;
}

static void
fork_lock(void)
{
	pthread_mutex_lock(&g_lock);
	pthread_mutex_lock(&g_verify);
}

static void
fork_unlock(void)
{
	pthread_mutex_unlock(&g_verify);
	pthread_mutex_unlock(&g_lock);
}

static void
register_atfork(void)
{
	(void)pthread_atfork(fork_lock, fork_unlock, fork_unlock);
}

/* A fresh store loaded from path ("" = default paths); NULL on failure. */
static X509_STORE *
load(const char *path)
{
	X509_STORE *st = X509_STORE_new();

	if (st == NULL)
		return NULL;
	if ((path[0] != '\0' ? X509_STORE_load_file(st, path) :
	    X509_STORE_set_default_paths(st)) != 1) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

int
dh_tls_store(const char *ca_file, X509_STORE **out, struct dh_err *err)
{
	const char *path = ca_file != NULL ? ca_file : "";
	struct entry *e = NULL;
	X509_STORE *st = NULL;
	int i, rc = DH_OK;

	*out = NULL;
	(void)pthread_once(&g_once, register_atfork);
	pthread_mutex_lock(&g_lock);
	for (i = 0; i < TLS_CACHE_MAX && g_cache[i].path != NULL; i++)
		if (strcmp(g_cache[i].path, path) == 0) {
			e = &g_cache[i];
			break;
		}
	if (e == NULL) {
		ERR_clear_error();
		st = load(path);
		if (st == NULL) {
			rc = dh_err_set(err, DH_E_TLS,
			    "cannot load CA bundle %s", path[0] != '\0' ?
			    path : "(system)");
			goto done;
		}
		if (i == TLS_CACHE_MAX) {
			/* more distinct files than slots: an uncached store */
			*out = st;
			goto done;
		}
		g_cache[i].path = strdup(path);
		if (g_cache[i].path == NULL) {
			X509_STORE_free(st);
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto done;
		}
		g_cache[i].store = st;
		e = &g_cache[i];
	}
	if (X509_STORE_up_ref(e->store) != 1) {
		rc = dh_err_set(err, DH_E_TLS, "X509_STORE_up_ref failed");
		goto done;
	}
	*out = e->store;
done:
	pthread_mutex_unlock(&g_lock);
	return rc;
}

int
dh_tls_use_store(SSL_CTX *ctx, const char *ca_file, struct dh_err *err)
{
	X509_STORE *st;
	int rc;

	rc = dh_tls_store(ca_file, &st, err);
	if (rc != DH_OK)
		return rc;
	SSL_CTX_set1_cert_store(ctx, st);
	SSL_CTX_set_cert_verify_callback(ctx, verify_gated, NULL);
	X509_STORE_free(st);
	return DH_OK;
}

int
dh_tls_preload(const char *ca_file, struct dh_err *err)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *rd = NULL, *wr = NULL;
	EVP_CIPHER *gcm = NULL;
	EVP_MD *sha = NULL;
	EVP_MAC *hmac = NULL;
	int rc = DH_E_TLS;

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		dh_err_set(err, rc, "cannot create a TLS context");
		goto out;
	}
	rc = dh_tls_use_store(ctx, ca_file, err);
	if (rc != DH_OK)
		goto out;
	rc = DH_E_TLS;
	ssl = SSL_new(ctx);
	rd = BIO_new(BIO_s_mem());
	wr = BIO_new(BIO_s_mem());
	if (ssl == NULL || rd == NULL || wr == NULL) {
		dh_err_set(err, rc, "cannot create a TLS connection");
		goto out;
	}
	SSL_set_bio(ssl, rd, wr);
	rd = wr = NULL;
	SSL_set_connect_state(ssl);
	(void)SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_do_handshake(ssl) == 1 ||
	    SSL_get_error(ssl, -1) != SSL_ERROR_WANT_READ) {
		dh_err_set(err, rc, "a ClientHello could not be built");
		goto out;
	}
	gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (gcm == NULL || sha == NULL || hmac == NULL) {
		dh_err_set(err, rc, "OpenSSL lacks AES-256-GCM, SHA-256 or"
		    " HMAC");
		goto out;
	}
	rc = DH_OK;
out:
	EVP_MAC_free(hmac);
	EVP_MD_free(sha);
	EVP_CIPHER_free(gcm);
	BIO_free(wr);
	BIO_free(rd);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
