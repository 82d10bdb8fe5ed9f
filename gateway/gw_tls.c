/*
 * gw_tls: private CA and server certificate generation with OpenSSL 3
 * (see gw_tls.h).
 */
#include "gw_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"

int
gw_tls_is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int
path_join(char *out, const char *dir, const char *name, struct dh_err *err)
{
	int n = snprintf(out, GW_TLS_PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= GW_TLS_PATH_MAX)
		return dh_err_set(err, DH_E_TOOBIG, "path too long: %s/%s",
		    dir, name);
	return DH_OK;
}

/* Write PEM text to path atomically with the given mode. */
static int
write_atomic(const char *path, const void *p, size_t n, mode_t mode,
    struct dh_err *err)
{
	char tmp[GW_TLS_PATH_MAX + 8];
	int fd, r = DH_OK;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return dh_err_set(err, DH_E_TOOBIG, "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "create %s: %s", tmp,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || write(fd, p, n) != (ssize_t)n ||
	    fsync(fd) != 0)
		r = dh_err_set(err, DH_E_IO, "write %s: %s", tmp,
		    strerror(errno));
	close(fd);
	if (r == DH_OK && rename(tmp, path) != 0)
		r = dh_err_set(err, DH_E_IO, "rename %s: %s", tmp,
		    strerror(errno));
	if (r != DH_OK)
		unlink(tmp);
	return r;
}

static int
pem_of(int is_key, void *obj, struct dh_buf *out, struct dh_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok, r = DH_OK;

	if (bio == NULL)
		return dh_err_set(err, DH_E_NOMEM, "BIO_new failed");
	if (is_key)
		ok = PEM_write_bio_PrivateKey(bio, obj, NULL, NULL, 0, NULL,
		    NULL);
	else
		ok = PEM_write_bio_X509(bio, obj);
	n = BIO_get_mem_data(bio, &data);
	if (!ok || n <= 0 || dh_buf_put(out, data, (size_t)n) != DH_OK)
		r = dh_err_set(err, DH_E_CRYPTO, "PEM encoding failed");
	BIO_free(bio);
	return r;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key, named cn, signed by ca_key (issuer ca, or self). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key,
    const char *san)
{
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509 *c = X509_new();
	X509_NAME *name;
	int ok = 0;

	if (c == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto done;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) ==
	    NULL)
		goto done;
	X509_set_version(c, 2);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), (long)GW_TLS_DAYS * 86400);
	X509_set_pubkey(c, key);
	name = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"deckhand-gateway", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, ca != NULL ? X509_get_subject_name(ca) : name);
	if (ca == NULL) {
		ok = add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") &&
		    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		    add_ext(c, c, NID_subject_key_identifier, "hash");
	} else {
		ok = add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") &&
		    add_ext(c, ca, NID_key_usage,
		    "critical,digitalSignature,keyEncipherment") &&
		    add_ext(c, ca, NID_ext_key_usage, "serverAuth") &&
		    add_ext(c, ca, NID_subject_key_identifier, "hash") &&
		    add_ext(c, ca, NID_authority_key_identifier, "keyid") &&
		    add_ext(c, ca, NID_subject_alt_name, san);
	}
	if (ok)
		ok = X509_sign(c, ca_key, EVP_sha256()) > 0;
done:
	BN_free(bn);
	if (!ok) {
		X509_free(c);
		c = NULL;
	}
	return c;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static int
build_san(const char *const *names, size_t n, struct dh_buf *san,
    struct dh_err *err)
{
	size_t i;
	int r;

	r = dh_buf_put_str(san, "DNS:localhost,IP:127.0.0.1,IP:::1");
	for (i = 0; r == DH_OK && i < n; i++) {
		if (names[i][0] == '\0' || strpbrk(names[i], ",:\\ \t") != NULL) {
			if (!gw_tls_is_ip(names[i]))
				return dh_err_set(err, DH_E_ARG,
				    "bad certificate name \"%s\"", names[i]);
		}
		r = dh_buf_printf(san, ",%s:%s",
		    gw_tls_is_ip(names[i]) ? "IP" : "DNS", names[i]);
	}
	if (r != DH_OK)
		return dh_err_set(err, r, "subjectAltName too long");
	return DH_OK;
}

int
gw_tls_ensure(const char *dir, const char *const *names, size_t n,
    struct gw_tls_paths *out, struct dh_err *err)
{
	char ca_key_path[GW_TLS_PATH_MAX];
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	struct dh_buf pem, san;
	int r;

	memset(out, 0, sizeof(*out));
	dh_buf_init_secret(&pem, 64 * 1024);
	dh_buf_init(&san, 8192);
	if (n > GW_TLS_MAX_NAMES) {
		r = dh_err_set(err, DH_E_ARG, "at most %d certificate names",
		    GW_TLS_MAX_NAMES);
		goto done;
	}
	r = path_join(out->ca_cert, dir, "ca.pem", err);
	if (r == DH_OK)
		r = path_join(ca_key_path, dir, "ca.key", err);
	if (r == DH_OK)
		r = path_join(out->cert, dir, "server.pem", err);
	if (r == DH_OK)
		r = path_join(out->key, dir, "server.key", err);
	if (r != DH_OK)
		goto done;
	if (exists(out->ca_cert) && exists(out->cert) && exists(out->key))
		goto done;
	r = build_san(names, n, &san, err);
	if (r != DH_OK)
		goto done;
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ca_key == NULL || key == NULL) {
		r = dh_err_set(err, DH_E_CRYPTO, "key generation failed");
		goto done;
	}
	ca = make_cert(ca_key, "deckhand-gateway CA", NULL, ca_key, NULL);
	cert = ca != NULL ? make_cert(key, "localhost", ca, ca_key,
	    dh_buf_cstr(&san)) : NULL;
	if (cert == NULL) {
		r = dh_err_set(err, DH_E_CRYPTO, "certificate creation failed");
		goto done;
	}
	r = pem_of(1, ca_key, &pem, err);
	if (r == DH_OK)
		r = write_atomic(ca_key_path, pem.d, pem.len, 0600, err);
	dh_buf_reset(&pem);
	if (r == DH_OK)
		r = pem_of(1, key, &pem, err);
	if (r == DH_OK)
		r = write_atomic(out->key, pem.d, pem.len, 0600, err);
	dh_buf_reset(&pem);
	if (r == DH_OK)
		r = pem_of(0, cert, &pem, err);
	if (r == DH_OK)
		r = write_atomic(out->cert, pem.d, pem.len, 0644, err);
	dh_buf_reset(&pem);
	if (r == DH_OK)
		r = pem_of(0, ca, &pem, err);
	if (r == DH_OK)
		r = write_atomic(out->ca_cert, pem.d, pem.len, 0644, err);
	if (r == DH_OK)
		out->created = 1;
done:
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	dh_buf_free(&san);
	dh_buf_free(&pem);
	return r;
}

/* Never prompt on the terminal for a pass phrase: encrypted keys fail. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
ossl_reason(char *out, size_t n)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(out, n, "no PEM data");
	else
		ERR_error_string_n(e, out, n);
	ERR_clear_error();
}

static void
summarize(X509 *c, char *out, size_t n)
{
	char cn[128] = "", date[32] = "";
	const ASN1_TIME *na = X509_get0_notAfter(c);
	struct tm tm;

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName,
	    cn, sizeof(cn)) < 0)
		snprintf(cn, sizeof(cn), "(no CN)");
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(out, n, "CN=%s, expires %s", cn, date);
}

int
gw_tls_use(const char *cert_path, const char *key_path,
    struct gw_tls_paths *out, struct dh_err *err)
{
	char why[256];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *b = NULL;
	int r = DH_OK;

	memset(out, 0, sizeof(*out));
	if (strlen(cert_path) >= GW_TLS_PATH_MAX ||
	    strlen(key_path) >= GW_TLS_PATH_MAX)
		return dh_err_set(err, DH_E_TOOBIG, "certificate path too long");
	ERR_clear_error();
	b = BIO_new_file(cert_path, "r");
	if (b == NULL) {
		r = dh_err_set(err, DH_E_IO, "--cert %s: cannot open: %s",
		    cert_path, strerror(errno));
		goto done;
	}
	cert = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	b = NULL;
	if (cert == NULL) {
		ossl_reason(why, sizeof(why));
		r = dh_err_set(err, DH_E_FORMAT, "--cert %s: no PEM certificate"
		    " (%s)", cert_path, why);
		goto done;
	}
	b = BIO_new_file(key_path, "r");
	if (b == NULL) {
		r = dh_err_set(err, DH_E_IO, "--key %s: cannot open: %s",
		    key_path, strerror(errno));
		goto done;
	}
	key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	if (key == NULL) {
		ossl_reason(why, sizeof(why));
		r = dh_err_set(err, DH_E_FORMAT, "--key %s: no unencrypted PEM"
		    " private key (%s)", key_path, why);
		goto done;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		r = dh_err_set(err, DH_E_AUTH, "--key %s does not match the"
		    " public key of certificate %s", key_path, cert_path);
		goto done;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		r = dh_err_set(err, DH_E_STATE, "--cert %s has expired",
		    cert_path);
		goto done;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		r = dh_err_set(err, DH_E_STATE, "--cert %s is not valid yet",
		    cert_path);
		goto done;
	}
	snprintf(out->cert, sizeof(out->cert), "%s", cert_path);
	snprintf(out->key, sizeof(out->key), "%s", key_path);
	summarize(cert, out->subject, sizeof(out->subject));
done:
	BIO_free(b);
	EVP_PKEY_free(key);
	X509_free(cert);
	ERR_clear_error();
	return r;
}
