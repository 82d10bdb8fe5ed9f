/*
 * dh_wsc: websocket client connection over OpenSSL (see dh_wsc.h).  The
 * receive side reads up to 256 KiB at a time into one buffer and walks frame
 * headers; payloads are delivered where they lie.  Fragmented messages are
 * assembled in a bounded dh_buf.  TLS always verifies the peer: the system
 * trust store or cfg->ca_file, and the host name or IP literal of the URL.
 */
#include "dh_wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_time.h"
#include "dh_tls.h"

#define READ_CHUNK (256u * 1024)
#define HDR_MAX (16u * 1024)   /* upgrade response headers */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct dh_wsc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	size_t max;
	unsigned char *rbuf;     /* rbuf[0..rlen) unparsed bytes */
	size_t rlen, rcap;
	struct dh_buf msg;       /* fragmented message being assembled */
	int frag_op;             /* its opcode, 0 when none */
	size_t woff;             /* bytes of the head frame already written */
	int ssl_want_write;      /* a read needs the socket writable */
	int more;                /* the last read stopped at its cap */
	int close_sent;
};

/* ------------------------------------------------------------ parsing */

int
dh_wsc_frame_parse(const unsigned char *p, size_t n, size_t max,
    struct dh_wsc_frame *f, struct dh_err *err)
{
	uint64_t len;
	size_t i, need;

	if (n < 2)
		return DH_E_SHORT;
	if (p[0] & 0x70)
		return dh_err_set(err, DH_E_FORMAT,
		    "websocket frame with reserved bits set");
	if (p[1] & 0x80)
		return dh_err_set(err, DH_E_FORMAT,
		    "websocket server frame is masked");
	f->fin = (p[0] & 0x80) != 0;
	f->opcode = p[0] & 0x0f;
	switch (f->opcode) {
	case DH_WSC_OP_CONT: case DH_WSC_OP_TEXT: case DH_WSC_OP_BINARY:
		break;
	case DH_WSC_OP_CLOSE: case DH_WSC_OP_PING: case DH_WSC_OP_PONG:
		if (!f->fin || (p[1] & 0x7f) > 125)
			return dh_err_set(err, DH_E_FORMAT, "websocket control"
			    " frame fragmented or longer than 125 bytes");
		break;
	default:
		return dh_err_set(err, DH_E_FORMAT,
		    "websocket frame with reserved opcode %d", f->opcode);
	}
	len = p[1] & 0x7f;
	need = len == 126 ? 4 : len == 127 ? 10 : 2;
	if (n < need)
		return DH_E_SHORT;
	if (len == 126)
		len = (uint64_t)p[2] << 8 | p[3];
	else if (len == 127) {
		if (p[2] & 0x80)
			return dh_err_set(err, DH_E_FORMAT,
			    "websocket frame length has its top bit set");
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | p[i];
	}
	if (len > max)
		return dh_err_set(err, DH_E_TOOBIG, "websocket frame of %llu"
		    " bytes is over the %zu byte limit",
		    (unsigned long long)len, max);
	f->hdr_len = need;
	f->payload_len = len;
	return DH_OK;
}

/* ---------------------------------------------------------- transport */

/* > 0 bytes, 0 would block (*want_write says on what), -1 EOF, -2 error. */
static ssize_t
io_read(struct dh_wsc *c, void *p, size_t n, int *want_write,
    struct dh_err *err)
{
	ssize_t r;
	int e;

	*want_write = 0;
	if (c->ssl == NULL) {
		r = read(c->fd, p, n);
		if (r > 0)
			return r;
		if (r == 0)
			return -1;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		dh_err_set(err, DH_E_IO, "websocket read: %s", strerror(errno));
		return -2;
	}
	ERR_clear_error();
	r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		*want_write = 1;
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
		return -1;
	dh_err_set(err, DH_E_TLS, "TLS read failed (%s)",
	    ERR_reason_error_string(ERR_peek_last_error()) != NULL ?
	    ERR_reason_error_string(ERR_peek_last_error()) : strerror(errno));
	return -2;
}

/* > 0 bytes, 0 would block, -2 error. */
static ssize_t
io_write(struct dh_wsc *c, const void *p, size_t n, struct dh_err *err)
{
	ssize_t r;
	int e;

	if (c->ssl == NULL) {
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		dh_err_set(err, DH_E_IO, "websocket write: %s",
		    strerror(errno));
		return -2;
	}
	ERR_clear_error();
	r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	dh_err_set(err, DH_E_TLS, "TLS write failed (%s)",
	    ERR_reason_error_string(ERR_peek_last_error()) != NULL ?
	    ERR_reason_error_string(ERR_peek_last_error()) : strerror(errno));
	return -2;
}

/* Wait until fd is ready for ev or the deadline passes. */
static int
wait_fd(int fd, short ev, int64_t deadline, struct dh_err *err)
{
	struct pollfd pf;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - dh_time_mono_ms();
		if (left <= 0)
			return dh_err_set(err, DH_E_TIMEOUT,
			    "websocket connect timed out");
		pf.fd = fd;
		pf.events = ev;
		pf.revents = 0;
		r = poll(&pf, 1, (int)left);
		if (r > 0)
			return DH_OK;
		if (r < 0 && errno != EINTR)
			return dh_err_set(err, DH_E_IO, "poll: %s",
			    strerror(errno));
	}
}

static int
tcp_connect(const struct dh_wsc_cfg *cfg, int64_t deadline, int *fdp,
    struct dh_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	socklen_t sl;
	int fd = -1, rc, soerr, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &res);
	if (rc != 0)
		return dh_err_set(err, DH_E_NET, "cannot resolve %s: %s",
		    cfg->host, gai_strerror(rc));
	rc = dh_err_set(err, DH_E_NET, "cannot connect to %s:%d", cfg->host,
	    cfg->port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		    wait_fd(fd, POLLOUT, deadline, err) == DH_OK)) {
			soerr = 0;
			sl = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
			    0 && soerr == 0) {
				(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
				    &one, sizeof(one));
				*fdp = fd;
				rc = DH_OK;
				break;
			}
			rc = dh_err_set(err, DH_E_NET, "cannot connect to"
			    " %s:%d: %s", cfg->host, cfg->port,
			    strerror(soerr));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return rc;
}

static int
is_ip_literal(const char *h)
{
	unsigned char b[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static int
tls_start(struct dh_wsc *c, const struct dh_wsc_cfg *cfg, int64_t deadline,
    struct dh_err *err)
{
	X509_VERIFY_PARAM *vp;
	int r, e;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return dh_err_set(err, DH_E_TLS, "SSL_CTX_new failed");
	(void)SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* bulk reads: one read(2) takes up to 64 KiB of records instead of
	 * two calls (header, body) per 16 KiB record; dh_wsc_read drains
	 * until SSL_read wants the socket, so nothing waits in the buffer */
	SSL_CTX_set_read_ahead(c->ctx, 1);
	SSL_CTX_set_default_read_buffer_len(c->ctx, 64 * 1024);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	r = dh_tls_use_store(c->ctx, cfg->ca_file, err);
	if (r != DH_OK)
		return r;
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return dh_err_set(err, DH_E_TLS, "SSL_new failed");
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	vp = SSL_get0_param(c->ssl);
	if (is_ip_literal(cfg->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, cfg->host) != 1)
			return dh_err_set(err, DH_E_TLS, "bad IP %s",
			    cfg->host);
	} else if (SSL_set_tlsext_host_name(c->ssl, cfg->host) != 1 ||
	    SSL_set1_host(c->ssl, cfg->host) != 1)
		return dh_err_set(err, DH_E_TLS, "bad host name %s",
		    cfg->host);
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			return DH_OK;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
			    POLLOUT, deadline, err) != DH_OK)
				return DH_E_TIMEOUT;
			continue;
		}
		if (SSL_get_verify_result(c->ssl) != X509_V_OK)
			return dh_err_set(err, DH_E_TLS, "certificate of %s"
			    " not trusted: %s", cfg->host,
			    X509_verify_cert_error_string(
			    SSL_get_verify_result(c->ssl)));
		return dh_err_set(err, DH_E_TLS, "TLS handshake with %s"
		    " failed (%s)", cfg->host,
		    ERR_reason_error_string(ERR_peek_last_error()) != NULL ?
		    ERR_reason_error_string(ERR_peek_last_error()) :
		    "connection closed");
	}
}

/* Write all of p before the deadline. */
static int
write_all(struct dh_wsc *c, const void *p, size_t n, int64_t deadline,
    struct dh_err *err)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		r = io_write(c, b, n, err);
		if (r < 0)
			return DH_E_NET;
		if (r == 0) {
			if (wait_fd(c->fd, POLLOUT | POLLIN, deadline, err) !=
			    DH_OK)
				return DH_E_TIMEOUT;
			continue;
		}
		b += r;
		n -= (size_t)r;
	}
	return DH_OK;
}

/* Value of header name in the header block h (NUL-terminated), copied. */
static int
header(const char *h, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name), vl;
	const char *l = strstr(h, "\r\n"), *v, *e;

	while (l != NULL && l[2] != '\r' && l[2] != '\0') {
		l += 2;
		e = strstr(l, "\r\n");
		if (e == NULL)
			break;
		if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 &&
		    l[nl] == ':') {
			for (v = l + nl + 1; v < e && (*v == ' ' || *v == '\t');
			    v++)
				;
			for (vl = (size_t)(e - v); vl > 0 &&
			    (v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
				;
			if (vl >= outsz)
				return DH_E_TOOBIG;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return DH_OK;
		}
		l = e;
	}
	return DH_E_NOTFOUND;
}

static int
upgrade(struct dh_wsc *c, const struct dh_wsc_cfg *cfg, int64_t deadline,
    struct dh_err *err)
{
	unsigned char raw[16], sha[SHA_DIGEST_LENGTH];
	char accept[64], got[128], *end;
	struct dh_buf key, want, req;
	size_t hl;
	ssize_t r;
	int ww, rc;

	dh_buf_init(&key, 64);
	dh_buf_init(&want, 64);
	dh_buf_init(&req, 4096);
	rc = DH_E_CRYPTO;
	if (dh_random(raw, sizeof(raw)) != DH_OK ||
	    dh_b64_encode(raw, sizeof(raw), &key) != DH_OK) {
		dh_err_set(err, rc, "no randomness for Sec-WebSocket-Key");
		goto out;
	}
	snprintf(accept, sizeof(accept), "%s" WS_GUID, dh_buf_cstr(&key));
	SHA1((const unsigned char *)accept, strlen(accept), sha);
	if (dh_b64_encode(sha, sizeof(sha), &want) != DH_OK)
		goto out;
	rc = dh_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    cfg->path, cfg->host_header, dh_buf_cstr(&key));
	if (rc != DH_OK) {
		dh_err_set(err, rc, "websocket request too long");
		goto out;
	}
	rc = write_all(c, req.d, req.len, deadline, err);
	if (rc != DH_OK)
		goto out;
	for (;;) {
		c->rbuf[c->rlen] = '\0';
		end = strstr((char *)c->rbuf, "\r\n\r\n");
		if (end != NULL)
			break;
		if (c->rlen >= HDR_MAX) {
			rc = dh_err_set(err, DH_E_TOOBIG, "websocket upgrade"
			    " answer headers over %u bytes", HDR_MAX);
			goto out;
		}
		r = io_read(c, c->rbuf + c->rlen, HDR_MAX - c->rlen, &ww, err);
		if (r == -1) {
			rc = dh_err_set(err, DH_E_NET, "connection closed"
			    " during the websocket upgrade");
			goto out;
		}
		if (r < 0) {
			rc = DH_E_NET;
			goto out;
		}
		if (r == 0) {
			rc = wait_fd(c->fd, ww ? POLLOUT : POLLIN, deadline,
			    err);
			if (rc != DH_OK)
				goto out;
			continue;
		}
		if (memchr(c->rbuf + c->rlen, '\0', (size_t)r) != NULL) {
			rc = dh_err_set(err, DH_E_FORMAT, "NUL byte in the"
			    " websocket upgrade answer");
			goto out;
		}
		c->rlen += (size_t)r;
	}
	hl = (size_t)(end - (char *)c->rbuf) + 4;
	end[2] = '\0';
	if (strncmp((char *)c->rbuf, "HTTP/1.1 101", 12) != 0) {
		end = strstr((char *)c->rbuf, "\r\n");
		rc = dh_err_set(err, DH_E_HTTP, "websocket upgrade refused: %.*s",
		    (int)(end != NULL ? end - (char *)c->rbuf : 64),
		    (char *)c->rbuf);
		goto out;
	}
	if (header((char *)c->rbuf, "Sec-WebSocket-Accept", got, sizeof(got))
	    != DH_OK || strcmp(got, dh_buf_cstr(&want)) != 0) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "websocket upgrade answer has a wrong Sec-WebSocket-Accept");
		goto out;
	}
	memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
	c->rlen -= hl;
	rc = DH_OK;
out:
	dh_buf_free(&req);
	dh_buf_free(&want);
	dh_buf_free(&key);
	return rc;
}

int
dh_wsc_new(size_t max_message, struct dh_wsc **out, struct dh_err *err)
{
	struct dh_wsc *c;

	*out = NULL;
	if (max_message == 0)
		return dh_err_set(err, DH_E_ARG, "websocket message limit 0");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	c->fd = -1;
	c->max = max_message;
	c->rcap = READ_CHUNK;
	c->rbuf = malloc(c->rcap + 1);
	dh_buf_init(&c->msg, max_message);
	if (c->rbuf == NULL) {
		dh_wsc_free(c);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	*out = c;
	return DH_OK;
}

/* "http://host:port[/]" into host and port. */
static int
parse_proxy(const char *url, char *host, size_t hn, int *port,
    struct dh_err *err)
{
	const char *h = url, *colon, *end;
	char *e;
	long p = 80;

	if (strncasecmp(h, "http://", 7) == 0)
		h += 7;
	else if (strstr(h, "://") != NULL)
		return dh_err_set(err, DH_E_ARG, "proxy %.100s: only http://"
		    " proxies are supported", url);
	if (strchr(h, '@') != NULL)
		return dh_err_set(err, DH_E_ARG, "proxy credentials are not"
		    " supported for the data channel");
	end = h + strcspn(h, "/");
	colon = memchr(h, ':', (size_t)(end - h));
	if ((size_t)((colon != NULL ? colon : end) - h) >= hn ||
	    (colon != NULL ? colon : end) == h)
		return dh_err_set(err, DH_E_ARG, "bad proxy %.100s", url);
	memcpy(host, h, (size_t)((colon != NULL ? colon : end) - h));
	host[(colon != NULL ? colon : end) - h] = '\0';
	if (colon != NULL) {
		p = strtol(colon + 1, &e, 10);
		if (e != end || p <= 0 || p > 65535)
			return dh_err_set(err, DH_E_ARG, "bad proxy port in"
			    " %.100s", url);
	}
	*port = (int)p;
	return DH_OK;
}

int
dh_wsc_env_proxy(const char *host, char *out, size_t n)
{
	const char *p = getenv("https_proxy"), *np = getenv("no_proxy"), *t;
	size_t hl = strlen(host), tl;

	if (p == NULL || p[0] == '\0')
		p = getenv("HTTPS_PROXY");
	if (np == NULL || np[0] == '\0')
		np = getenv("NO_PROXY");
	if (p == NULL || p[0] == '\0')
		return 0;
	for (t = np; t != NULL && *t != '\0'; t += tl + (t[tl] == ',')) {
		while (*t == ' ' || *t == ',')
			t++;
		tl = strcspn(t, ", ");
		if (tl == 0)
			break;
		if ((tl == 1 && t[0] == '*') || (tl <= hl &&
		    strncasecmp(host + hl - tl, t, tl) == 0 &&
		    (tl == hl || t[0] == '.' || host[hl - tl - 1] == '.')))
			return 0;
	}
	if (strlen(p) >= n)
		return 0;
	memcpy(out, p, strlen(p) + 1);
	return 1;
}

/* CONNECT host:port through the proxy the socket is connected to. */
static int
tunnel(struct dh_wsc *c, const struct dh_wsc_cfg *cfg, int64_t deadline,
    struct dh_err *err)
{
	char req[600], resp[8192];
	size_t got = 0;
	ssize_t r;
	int rc, n;

	n = snprintf(req, sizeof(req), "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d"
	    "\r\n\r\n", cfg->host, cfg->port, cfg->host, cfg->port);
	if (n < 0 || (size_t)n >= sizeof(req))
		return dh_err_set(err, DH_E_ARG, "host name too long");
	rc = write_all(c, req, (size_t)n, deadline, err);
	if (rc != DH_OK)
		return rc;
	/* one byte at a time: nothing past the header block may be eaten */
	while (got < 4 || memcmp(resp + got - 4, "\r\n\r\n", 4) != 0) {
		if (got + 1 >= sizeof(resp))
			return dh_err_set(err, DH_E_TOOBIG, "proxy answer"
			    " headers too long");
		r = read(c->fd, resp + got, 1);
		if (r == 1) {
			got++;
			continue;
		}
		if (r == 0)
			return dh_err_set(err, DH_E_NET, "proxy closed the"
			    " connection");
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return dh_err_set(err, DH_E_NET, "proxy: %s",
			    strerror(errno));
		rc = wait_fd(c->fd, POLLIN, deadline, err);
		if (rc != DH_OK)
			return rc;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || strncmp(resp + 8, " 200", 4) !=
	    0)
		return dh_err_set(err, DH_E_NET, "proxy refused CONNECT"
		    " %s:%d: %.*s", cfg->host, cfg->port,
		    (int)strcspn(resp, "\r\n"), resp);
	return DH_OK;
}

int
dh_wsc_connect(const struct dh_wsc_cfg *cfg, struct dh_wsc **out,
    struct dh_err *err)
{
	int64_t deadline = dh_time_mono_ms() + (cfg->timeout_ms > 0 ?
	    cfg->timeout_ms : 15000);
	struct dh_wsc_cfg pc;
	struct dh_wsc *c = NULL;
	char phost[256];
	int rc;

	*out = NULL;
	if (cfg->host == NULL || cfg->path == NULL || cfg->path[0] != '/' ||
	    cfg->host_header == NULL ||
	    strpbrk(cfg->path, "\r\n ") != NULL ||
	    strpbrk(cfg->host_header, "\r\n ") != NULL)
		return dh_err_set(err, DH_E_ARG, "bad websocket URL");
	rc = dh_wsc_new(cfg->max_message, &c, err);
	if (rc == DH_OK && cfg->proxy != NULL && cfg->proxy[0] != '\0') {
		pc = *cfg;
		rc = parse_proxy(cfg->proxy, phost, sizeof(phost), &pc.port,
		    err);
		pc.host = phost;
		if (rc == DH_OK)
			rc = tcp_connect(&pc, deadline, &c->fd, err);
		if (rc == DH_OK)
			rc = tunnel(c, cfg, deadline, err);
	} else if (rc == DH_OK)
		rc = tcp_connect(cfg, deadline, &c->fd, err);
	if (rc == DH_OK && cfg->tls)
		rc = tls_start(c, cfg, deadline, err);
	if (rc == DH_OK)
		rc = upgrade(c, cfg, deadline, err);
	if (rc != DH_OK) {
		dh_wsc_free(c);
		return rc;
	}
	*out = c;
	return DH_OK;
}

int
dh_wsc_fd(const struct dh_wsc *c)
{
	return c->fd;
}

int
dh_wsc_want_write(const struct dh_wsc *c, const struct dh_wsq *q)
{
	return dh_wsq_head(q) != NULL || c->ssl_want_write;
}

/* ----------------------------------------------------------- messages */

static int
control(struct dh_wsc *c, struct dh_wsq *q, const struct dh_wsc_frame *f,
    const unsigned char *p, struct dh_err *err)
{
	if (f->opcode == DH_WSC_OP_PING)
		return dh_wsq_push(q, DH_WSQ_PONG, p, (size_t)f->payload_len, 0);
	if (f->opcode == DH_WSC_OP_CLOSE) {
		if (!c->close_sent) {
			c->close_sent = 1;
			(void)dh_wsq_push(q, DH_WSQ_CLOSE, p,
			    f->payload_len >= 2 ? 2 : 0, 0);
		}
		return dh_err_set(err, DH_E_NET, "connection closed by the"
		    " server (code %d)", f->payload_len >= 2 ?
		    p[0] << 8 | p[1] : 1005);
	}
	return DH_OK;
}

static int
data(struct dh_wsc *c, const struct dh_wsc_frame *f, const unsigned char *p,
    dh_wsc_msg_fn fn, void *arg, struct dh_err *err)
{
	size_t n = (size_t)f->payload_len;

	if (f->opcode != DH_WSC_OP_CONT) {
		if (c->frag_op != 0)
			return dh_err_set(err, DH_E_FORMAT, "websocket message"
			    " started inside a fragmented one");
		if (f->fin) {
			fn(arg, f->opcode == DH_WSC_OP_TEXT, p, n);
			return DH_OK;
		}
		c->frag_op = f->opcode;
		dh_buf_reset(&c->msg);
	} else if (c->frag_op == 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "websocket continuation without a message");
	if (dh_buf_put(&c->msg, p, n) != DH_OK)
		return dh_err_set(err, DH_E_TOOBIG, "websocket message over"
		    " the %zu byte limit", c->max);
	if (f->fin) {
		fn(arg, c->frag_op == DH_WSC_OP_TEXT, c->msg.d, c->msg.len);
		c->frag_op = 0;
		dh_buf_reset(&c->msg);
	}
	return DH_OK;
}

/* Handle every complete frame in rbuf; keep the partial tail. */
static int
parse(struct dh_wsc *c, struct dh_wsq *q, dh_wsc_msg_fn fn, void *arg,
    struct dh_err *err)
{
	struct dh_wsc_frame f;
	size_t off = 0, need;
	unsigned char *nb;
	int rc = DH_OK;

	for (;;) {
		rc = dh_wsc_frame_parse(c->rbuf + off, c->rlen - off, c->max,
		    &f, err);
		if (rc == DH_E_SHORT) {
			rc = DH_OK;
			break;
		}
		if (rc != DH_OK)
			break;
		need = f.hdr_len + (size_t)f.payload_len;
		if (c->rlen - off < need) {
			if (need > c->rcap) {
				nb = realloc(c->rbuf, need + 1);
				if (nb == NULL) {
					rc = dh_err_set(err, DH_E_NOMEM,
					    "out of memory");
					break;
				}
				c->rbuf = nb;
				c->rcap = need;
			}
			break;
		}
		if (f.opcode & 0x8)
			rc = control(c, q, &f, c->rbuf + off + f.hdr_len, err);
		else
			rc = data(c, &f, c->rbuf + off + f.hdr_len, fn, arg,
			    err);
		off += need;
		if (rc != DH_OK)
			break;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return rc;
}

int
dh_wsc_feed(struct dh_wsc *c, const void *p, size_t n, struct dh_wsq *q,
    dh_wsc_msg_fn fn, void *arg, struct dh_err *err)
{
	const unsigned char *b = p;
	size_t room;
	int rc = DH_OK;

	while (n > 0 && rc == DH_OK) {
		room = c->rcap - c->rlen;
		if (room == 0)   /* parse() grows rbuf for a frame that needs it */
			return dh_err_set(err, DH_E_STATE,
			    "websocket receive buffer full");
		if (room > n)
			room = n;
		memcpy(c->rbuf + c->rlen, b, room);
		c->rlen += room;
		b += room;
		n -= room;
		rc = parse(c, q, fn, arg, err);
	}
	return rc;
}

int
dh_wsc_pending(const struct dh_wsc *c)
{
	return c->more;
}

int
dh_wsc_read(struct dh_wsc *c, struct dh_wsq *q, dh_wsc_msg_fn fn, void *arg,
    struct dh_err *err)
{
	size_t total = 0;
	ssize_t r;
	int ww, rc;

	c->ssl_want_write = 0;
	c->more = 0;
	rc = parse(c, q, fn, arg, err);   /* bytes left over from the upgrade */
	while (rc == DH_OK) {
		if (total >= 4 * READ_CHUNK) {
			/* let the caller serve others; the socket or the TLS
			 * buffer may still hold data that poll will not show */
			c->more = 1;
			break;
		}
		r = io_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, &ww, err);
		if (r == 0) {
			c->ssl_want_write = ww;
			break;
		}
		if (r == -1)
			return dh_err_set(err, DH_E_NET,
			    "connection closed by the server");
		if (r < 0)
			return DH_E_NET;
		c->rlen += (size_t)r;
		total += (size_t)r;
		rc = parse(c, q, fn, arg, err);
	}
	return rc;
}

int
dh_wsc_write(struct dh_wsc *c, struct dh_wsq *q, size_t *wrote,
    struct dh_err *err)
{
	struct dh_wsq_frame *f;
	ssize_t r;

	if (wrote != NULL)
		*wrote = 0;
	while ((f = dh_wsq_head(q)) != NULL) {
		r = io_write(c, f->wire + c->woff, f->wire_len - c->woff, err);
		if (r < 0)
			return DH_E_NET;
		if (r == 0)
			break;
		c->woff += (size_t)r;
		if (c->woff < f->wire_len)
			continue;
		c->woff = 0;
		if (wrote != NULL)
			*wrote += f->payload;
		dh_wsq_pop(q);
	}
	return DH_OK;
}

void
dh_wsc_free(struct dh_wsc *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	dh_buf_free(&c->msg);
	free(c->rbuf);
	free(c);
}
