/*
 * ag_ctrl: the MGS control channel (one per instance).
 *
 * Lifecycle: CreateControlChannel (POST <ssmmessages>/v1/control-channel/
 * <instance-id>, SigV4 service "ssmmessages", JSON {MessageSchemaVersion,
 * RequestId}) answers 201 with XML holding <TokenValue>; then a libwebsockets
 * client opens wss://<host>/v1/control-channel/<instance-id>?role=subscribe&
 * stream=input with a SigV4-signed upgrade (signed headers host;x-amz-date;
 * x-amz-security-token) and sends the OpenControlChannel text frame carrying
 * the token.  Afterwards binary MGS frames (dh_mgs) arrive; each is decoded
 * and handed to the owner's message hook.  Pings go out every ping_seconds
 * (lws validity policy) and a silent peer is dropped.  Any failure or close
 * schedules a reconnect (new token each time) after exponential backoff with
 * jitter (ag_backoff), reset after a successful open.
 *
 * Everything runs on the owner's lws event loop (lws_sul timers) except the
 * blocking REST call, which is posted to the owner's ag_worker thread (with
 * copies of the URL and credentials); the websocket opens when its result
 * is delivered back on the loop (ag_worker_drain).
 *
 * Ownership: ag_ctrl_new borrows everything in the params (context, vhost,
 * worker, strings, credentials) for the lifetime of the channel; the
 * caller keeps them valid, stops the worker (which drops an undelivered
 * CreateControlChannel job) and then frees the channel with ag_ctrl_free
 * before destroying the lws context.
 */
#ifndef AG_CTRL_H
#define AG_CTRL_H

#include <stddef.h>

#include "ag_creds.h"
#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"

#define AG_CTRL_PROTOCOL "deckhand-ctrl"
#define AG_CTRL_FRAME_MAX (1024 * 1024)
#define AG_CTRL_TOKEN_MAX 8192

struct lws;
struct lws_context;
struct lws_vhost;
struct ag_worker;
struct ag_ctrl;

/* Called for every decoded incoming frame (m's payload valid during the
 * call only). */
typedef void (*ag_ctrl_msg_fn)(void *arg, struct ag_ctrl *c,
    const struct dh_mgs_msg *m);
/* Called when the channel opens (1) or drops (0). */
typedef void (*ag_ctrl_state_fn)(void *arg, int up);

struct ag_ctrl_params {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct ag_worker *worker;      /* runs CreateControlChannel */
	const char *instance_id;
	const char *region;
	const struct ag_creds *creds;  /* refreshed in place by the owner */
	long initial_backoff_ms;
	long max_backoff_ms;
	int ping_seconds;
	ag_ctrl_msg_fn on_msg;         /* may be NULL: frames are logged */
	ag_ctrl_state_fn on_state;     /* may be NULL */
	void *arg;
};

/* Create a channel (not connected); *out freed with ag_ctrl_free. */
int ag_ctrl_new(const struct ag_ctrl_params *p, struct ag_ctrl **out,
    struct dh_err *err);

/* Set the https base URL of ssmmessages (copied); takes effect on the next
 * connect. */
int ag_ctrl_set_endpoint(struct ag_ctrl *c, const char *url,
    struct dh_err *err);

/* Change the backoff ceiling (config reload). */
void ag_ctrl_set_max_backoff(struct ag_ctrl *c, long max_backoff_ms);

/* Connect now (or after delay_ms); a connection that is up is closed first. */
void ag_ctrl_connect(struct ag_ctrl *c, long delay_ms);

/* 1 while the websocket is open and the open frame was sent. */
int ag_ctrl_is_up(const struct ag_ctrl *c);

/* Queue m as a binary frame (copied); DH_E_STATE when not connected. */
int ag_ctrl_send(struct ag_ctrl *c, const struct dh_mgs_msg *m,
    struct dh_err *err);

/* Close the connection, cancel timers and free c (NULL is fine). */
void ag_ctrl_free(struct ag_ctrl *c);

/* The lws protocol callback to put in the vhost's protocol list under
 * AG_CTRL_PROTOCOL. */
int ag_ctrl_lws_callback(struct lws *wsi, int reason, void *user, void *in,
    size_t len);

/* Extract and XML-unescape <TokenValue> from a CreateControlChannel
 * response body p[0..n) into token (init it secret).  DH_E_FORMAT when
 * absent, malformed, empty or not printable ASCII once unescaped (a token
 * is opaque text that goes into JSON and logs' redaction), DH_E_TOOBIG over
 * AG_CTRL_TOKEN_MAX. */
int ag_ctrl_parse_token(const void *p, size_t n, struct dh_buf *token,
    struct dh_err *err);

/* Append the OpenControlChannel JSON text frame to out. */
int ag_ctrl_open_frame(const char *token, const char *request_id,
    struct dh_buf *out, struct dh_err *err);

#endif
