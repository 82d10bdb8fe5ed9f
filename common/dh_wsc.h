/*
 * dh_wsc: a small websocket client connection (RFC 6455) over OpenSSL or a
 * plain socket, for a process with one data channel and its own poll loop
 * (the operator CLI).  Connecting (TCP, TLS with certificate and host name
 * verification, the HTTP upgrade with its Sec-WebSocket-Accept check) is
 * blocking with a deadline; afterwards the socket is non-blocking and the
 * owner polls dh_wsc_fd() for POLLIN, plus POLLOUT while dh_wsc_want_write()
 * says so.  Frames are parsed in bulk from a receive buffer: an unfragmented
 * message is handed to the callback in place, without a copy.
 * libwebsockets' client parser walks every received byte through a state
 * machine call, which cost the CLI more CPU than TLS itself.
 *
 * Outgoing frames come pre-framed and masked from a struct dh_wsq; control
 * replies (pong, close) are queued there too.
 *
 * Ownership: struct dh_wsc owns its socket, SSL objects and buffers;
 * dh_wsc_free releases all of them.  The queue belongs to the caller.
 */
#ifndef DH_WSC_H
#define DH_WSC_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "dh_wsq.h"

#define DH_WSC_OP_CONT 0x0
#define DH_WSC_OP_TEXT 0x1
#define DH_WSC_OP_BINARY 0x2
#define DH_WSC_OP_CLOSE 0x8
#define DH_WSC_OP_PING 0x9
#define DH_WSC_OP_PONG 0xa

struct dh_wsc;

struct dh_wsc_cfg {
	const char *host;        /* DNS name or IP literal */
	int port;
	int tls;                 /* wss (1) or ws (0) */
	const char *host_header; /* Host: value ("host" or "host:port") */
	const char *path;        /* request target, starts with '/' */
	const char *ca_file;     /* NULL: the system trust store */
	int timeout_ms;          /* connect + TLS + upgrade deadline */
	size_t max_message;      /* largest message accepted */
	const char *proxy;       /* "http://host:port" CONNECT proxy; NULL none */
};

/* One frame header as parsed from the wire. */
struct dh_wsc_frame {
	int fin;
	int opcode;
	size_t hdr_len;          /* bytes before the payload */
	uint64_t payload_len;
};

/* A complete message: text or binary, p[0..n) valid during the callback. */
typedef void (*dh_wsc_msg_fn)(void *arg, int text, const unsigned char *p,
    size_t n);

/* Parse the frame header at p[0..n) of a server-to-client stream.  DH_OK
 * (f filled), DH_E_SHORT (need more bytes), DH_E_FORMAT (masked frame,
 * reserved bits or opcode, bad control frame, 64-bit length with the top
 * bit set) or DH_E_TOOBIG (payload over max). */
int dh_wsc_frame_parse(const unsigned char *p, size_t n, size_t max,
    struct dh_wsc_frame *f, struct dh_err *err);

/* An unconnected client with a receive buffer only: dh_wsc_feed works on
 * it (tests, fuzzing); dh_wsc_read/write need dh_wsc_connect's. */
int dh_wsc_new(size_t max_message, struct dh_wsc **out, struct dh_err *err);

/* The receive path without I/O: append p[0..n) to the receive buffer and
 * handle every complete frame as dh_wsc_read does (messages to fn, pong and
 * close replies into q).  Same results as dh_wsc_read. */
int dh_wsc_feed(struct dh_wsc *c, const void *p, size_t n, struct dh_wsq *q,
    dh_wsc_msg_fn fn, void *arg, struct dh_err *err);

/* The proxy for host from the environment, as curl and the AWS CLI read
 * it: https_proxy / HTTPS_PROXY unless no_proxy / NO_PROXY ("*" or a comma
 * list of names, each matching the host or a domain suffix) excludes host.
 * Copies it into out[n] and returns 1, or returns 0 for a direct
 * connection. */
int dh_wsc_env_proxy(const char *host, char *out, size_t n);

/* Connect (through cfg->proxy with CONNECT when set), verify and upgrade;
 * on success *out is a connected client. */
int dh_wsc_connect(const struct dh_wsc_cfg *cfg, struct dh_wsc **out,
    struct dh_err *err);

/* The socket to poll. */
int dh_wsc_fd(const struct dh_wsc *c);

/* 1 when the owner should poll for POLLOUT (frames queued in q, or TLS
 * needs the socket writable to make progress). */
int dh_wsc_want_write(const struct dh_wsc *c, const struct dh_wsq *q);

/* 1 when dh_wsc_read stopped early (fairness cap) with bytes already
 * decrypted or received: call it again without waiting for the socket. */
int dh_wsc_pending(const struct dh_wsc *c);

/* Read what the socket has and deliver every complete message to fn;
 * answers pings and closes through q.  DH_OK, or DH_E_NET when the peer
 * closed (closing handshake or EOF), DH_E_FORMAT/DH_E_TOOBIG on a protocol
 * violation, DH_E_TLS/DH_E_IO on transport errors; err says which. */
int dh_wsc_read(struct dh_wsc *c, struct dh_wsq *q, dh_wsc_msg_fn fn,
    void *arg, struct dh_err *err);

/* Write queued frames until the socket would block; a frame leaves q once
 * fully written.  *wrote gets payload bytes of completed frames.  DH_OK or
 * a transport error. */
int dh_wsc_write(struct dh_wsc *c, struct dh_wsq *q, size_t *wrote,
    struct dh_err *err);

/* Close the socket and free everything; NULL is fine. */
void dh_wsc_free(struct dh_wsc *c);

#endif
