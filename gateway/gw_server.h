/*
 * gw_server: the gateway's network shell.  One libwebsockets context on the
 * default poll loop, one TLS vhost on one port speaking HTTP/1.1 (h2 is not
 * offered) and websocket upgrades.  It assembles each request (headers into
 * a SigV4-ready list, the body by Content-Length or by decoding
 * Transfer-Encoding: chunked itself, answering Expect: 100-continue), caps
 * head and body sizes (413 / 431 with an AWS JSON error), hands the request
 * to gw_api and writes the response with x-amzn-RequestId.  Control-channel
 * websocket upgrades are authorized through gw_api_ws_open; text frames go
 * to gw_ctrl; the server pings idle websockets and answers pings.
 *
 * The chunked decoder (gw_server_chunk_*) is pure and fuzzed.
 *
 * Ownership: the server borrows api and ctrl; strings in the config are
 * copied.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_api.h"
#include "gw_ctrl.h"
#include "gw_relay.h"

#define GW_SERVER_MAX_HEAD 16384       /* all request header bytes */
#define GW_SERVER_MAX_HEADERS 64       /* header lines kept for SigV4 */
#define GW_SERVER_MAX_PATH 2048
#define GW_SERVER_TICK_MS (5 * 60 * 1000)

struct gw_server;

struct gw_server_config {
	const char *addr;         /* listen address, e.g. "127.0.0.1" */
	int port;                 /* 0 = ephemeral */
	const char *cert;         /* server certificate PEM path */
	const char *key;          /* server key PEM path */
	struct gw_api *api;       /* borrowed */
	struct gw_ctrl *ctrl;     /* borrowed */
	struct gw_relay *relay;   /* borrowed; NULL: no data channels */
};

/* Create the context and start listening; *out freed by gw_server_free. */
int gw_server_new(const struct gw_server_config *cfg, struct gw_server **out,
    struct dh_err *err);

/* The port actually bound. */
int gw_server_port(const struct gw_server *s);

/* Serve until *stop becomes non-zero (set from a signal handler, which
 * then calls gw_server_wake).  Runs gw_api_tick every GW_SERVER_TICK_MS. */
int gw_server_run(struct gw_server *s, volatile sig_atomic_t *stop);

/* Interrupt a blocking gw_server_run from a signal handler. */
void gw_server_wake(struct gw_server *s);

/* Close every connection and free the server (NULL is fine). */
void gw_server_free(struct gw_server *s);

/* Incremental decoder of a chunked request body (RFC 9112 7.1): sizes in
 * hex, chunk extensions ignored, trailers skipped. */
struct gw_server_chunk {
	int state;
	uint64_t remain;
	size_t line;     /* bytes of the current size/trailer line */
	int digits;
	int done;        /* 1 after the last chunk and trailers */
};

/* Reset the decoder. */
void gw_server_chunk_init(struct gw_server_chunk *c);

/* Decode p[0..n), appending data bytes to out (whose ceiling bounds the
 * body: DH_E_TOOBIG); *used = bytes consumed (stops after the end).
 * DH_E_FORMAT on malformed framing. */
int gw_server_chunk_feed(struct gw_server_chunk *c, const void *p, size_t n,
    struct dh_buf *out, size_t *used, struct dh_err *err);

#endif
