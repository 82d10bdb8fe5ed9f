/*
 * Unit tests for dh_tls: one store per CA file (the same object every time),
 * an unreadable file is a clear DH_E_TLS, and an SSL_CTX given the shared
 * store really verifies with it: a TLS handshake over a BIO pair succeeds
 * against the certificate the store holds and fails against another one,
 * the default store (SSL_CERT_FILE, set here to our own file) refuses a
 * certificate it does not hold, and children forked by dh_spawner while
 * another thread verifies against the same store can still verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dh_err.h"
#include "dh_tls.h"
#include "dh_spawner.h"

struct ident {
	char cert[64];
	EVP_PKEY *pkey;
	X509 *x509;
};

static char g_dir[] = "/tmp/dh-test-tls-XXXXXX";
static struct ident g_a, g_b;

/* A self-signed P-256 CA certificate for 127.0.0.1, written to files. */
static void
make_ident(struct ident *id, const char *name)
{
	X509_NAME *nm;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;

	snprintf(id->cert, sizeof(id->cert), "%s/%s.crt", g_dir, name);
	id->pkey = EVP_EC_gen("P-256");
	assert_non_null(id->pkey);
	id->x509 = X509_new();
	assert_non_null(id->x509);
	assert_int_equal(X509_set_version(id->x509, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(id->x509), 1);
	X509_gmtime_adj(X509_getm_notBefore(id->x509), -60);
	X509_gmtime_adj(X509_getm_notAfter(id->x509), 3600);
	assert_int_equal(X509_set_pubkey(id->x509, id->pkey), 1);
	nm = X509_get_subject_name(id->x509);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	assert_int_equal(X509_set_issuer_name(id->x509, nm), 1);
	X509V3_set_ctx(&v3, id->x509, id->x509, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:TRUE");
	assert_non_null(ext);
	X509_add_ext(id->x509, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "IP:127.0.0.1");
	assert_non_null(ext);
	X509_add_ext(id->x509, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(id->x509, id->pkey, EVP_sha256()) > 0);
	f = fopen(id->cert, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, id->x509), 1);
	fclose(f);
}

static int
setup(void **state)
{
	if (mkdtemp(g_dir) == NULL)
		return -1;
	make_ident(&g_a, "a");
	make_ident(&g_b, "b");
	return 0;
}

static int
teardown(void **state)
{
	unlink(g_a.cert);
	unlink(g_b.cert);
	rmdir(g_dir);
	X509_free(g_a.x509);
	X509_free(g_b.x509);
	EVP_PKEY_free(g_a.pkey);
	EVP_PKEY_free(g_b.pkey);
	return 0;
}

/* Handshake a client verifying with the shared store for ca_file against a
 * server presenting srv, over an in-memory BIO pair; 1 = verified. */
static int
handshake(const char *ca_file, const struct ident *srv)
{
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	BIO *bs, *bc;
	int i, rs = 0, rc = 0, ok;

	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, srv->x509), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, srv->pkey), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	assert_int_equal(dh_tls_use_store(cctx, ca_file, NULL), DH_OK);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), "127.0.0.1");
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (i = 0; i < 20 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL) ||
		    (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL))
			break;
	}
	ok = rc == 1 && SSL_get_verify_result(c) == X509_V_OK;
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return ok;
}

static void
test_one_store_per_file(void **state)
{
	X509_STORE *x = NULL, *y = NULL, *z = NULL;

	assert_int_equal(dh_tls_store(g_a.cert, &x, NULL), DH_OK);
	assert_int_equal(dh_tls_store(g_a.cert, &y, NULL), DH_OK);
	assert_int_equal(dh_tls_store(g_b.cert, &z, NULL), DH_OK);
	assert_ptr_equal(x, y);
	assert_ptr_not_equal(x, z);
	X509_STORE_free(x);
	X509_STORE_free(y);
	X509_STORE_free(z);
}

static void
test_unreadable_file(void **state)
{
	struct dh_err e;
	X509_STORE *x = (X509_STORE *)1;

	dh_err_clear(&e);
	assert_int_equal(dh_tls_store("/nonexistent/ca.pem", &x, &e),
	    DH_E_TLS);
	assert_null(x);
	assert_non_null(strstr(e.msg, "/nonexistent/ca.pem"));
}

static void
test_verifies_with_the_store(void **state)
{
	assert_true(handshake(g_a.cert, &g_a));
	assert_true(handshake(g_b.cert, &g_b));
	assert_false(handshake(g_a.cert, &g_b));
	assert_false(handshake(g_b.cert, &g_a));
}

static void
test_default_store_follows_ssl_cert_file(void **state)
{
	setenv("SSL_CERT_FILE", g_b.cert, 1);
	setenv("SSL_CERT_DIR", g_dir, 1);
	assert_true(handshake(NULL, &g_b));
	assert_false(handshake(NULL, &g_a));
}

static volatile int g_stop;

static void *
handshakes(void *arg)
{
	(void)arg;
	while (!g_stop)
		(void)handshake(g_a.cert, &g_a);
	return NULL;
}

/* Child of the spawner: one handshake against the shared store. */
static void
spawned_handshake(const void *req, size_t n, int fd)
{
	(void)req;
	(void)n;
	(void)fd;
	alarm(10);
	_exit(handshake(g_a.cert, &g_a) ? 0 : 1);
}

/* Workers are forked by dh_spawner, which the agent starts while it is
 * single-threaded: 40 children spawned while another thread of this
 * process keeps handshaking against the same store must each complete
 * their own handshake.  (Forking directly from this process fails that
 * now and then: a child inherits OpenSSL's method-store lock, taken by the
 * other thread's SSL_CTX_new, and hangs in its own SSL_CTX_new; seen with
 * gdb.  The dh_tls fork gate covers the shared store only.) */
static void
test_spawned_children_verify_while_parent_verifies(void **state)
{
	static const struct dh_spawner_kind kinds[] = {
		{ 'h', spawned_handshake },
	};
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	pthread_t th;
	pid_t pid;
	int i, status, bad = 0, fd;

	assert_int_equal(dh_spawner_start(kinds, 1, &sp, &e), DH_OK);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	g_stop = 0;
	assert_int_equal(pthread_create(&th, NULL, handshakes, NULL), 0);
	for (i = 0; i < 40; i++) {
		assert_int_equal(dh_spawner_spawn(sp, 'h', "", 0, fd, &pid, &e),
		    DH_OK);
		assert_int_equal(dh_spawner_ended(sp, pid, 20000, &status),
		    DH_OK);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			print_message("child %d: %s %d\n", i,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
			bad++;
		}
	}
	g_stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	close(fd);
	dh_spawner_stop(sp);
	assert_int_equal(bad, 0);
}

/* dh_tls_preload builds the TLS tables and the store; a missing CA file
 * is DH_E_TLS. */
static void
test_preload(void **state)
{
	struct dh_err e;
	char missing[128];

	assert_int_equal(dh_tls_preload(g_a.cert, &e), DH_OK);
	snprintf(missing, sizeof(missing), "%s/none.crt", g_dir);
	assert_int_equal(dh_tls_preload(missing, &e), DH_E_TLS);
	assert_true(handshake(g_a.cert, &g_a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_store_per_file),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_verifies_with_the_store),
		cmocka_unit_test(test_default_store_follows_ssl_cert_file),
		cmocka_unit_test(test_spawned_children_verify_while_parent_verifies),
		cmocka_unit_test(test_preload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
