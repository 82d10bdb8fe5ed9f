/*
 * gw_ctrl: the ssmmessages control channel, gateway side.
 * CreateControlChannel (POST /v1/control-channel/<mi-id>) issues a
 * short-lived single-use token and answers the XML the agent expects (the
 * HTTP layer sends it with status 201).  The agent then opens the websocket
 * /v1/control-channel/<mi-id>?role=subscribe&stream=input (authenticated by
 * gw_api) and sends the OpenControlChannel text frame carrying that token;
 * gw_ctrl checks it, marks the instance connected (heartbeat + channel
 * "ssmmessages" in the store) and keeps a registry of connected instances,
 * keyed by instance id, holding the transport's opaque handle so later
 * features (sessions, Run Command) can reach an agent.
 *
 * Messages to an agent (interactive_shell, channel_closed, agent_job, acks)
 * are queued per connection with gw_ctrl_send (bounded by GW_CTRL_MAX_OUT
 * bytes); the transport is asked for a write opportunity through the waker
 * and drains the queue with gw_ctrl_next_out.  Binary messages from an
 * agent are decoded (dh_mgs) and handed to every registered hook.
 *
 * Ownership: gw_ctrl borrows the store.  Connections are owned by gw_ctrl
 * and released by gw_ctrl_ws_detach; handles are opaque and borrowed.
 * Hook arguments are borrowed.
 */
#ifndef GW_CTRL_H
#define GW_CTRL_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "gw_store.h"

#define GW_CTRL_PATH "/v1/control-channel/"
#define GW_CTRL_TOKEN_TTL_MS (10 * 60 * 1000)
#define GW_CTRL_MAX_TOKENS 4096
#define GW_CTRL_MAX_FRAME (256 * 1024) /* agent_job_reply carries up to 120 KB */
#define GW_CTRL_MAX_OUT (4 * 1024 * 1024) /* queued outbound bytes per channel */
#define GW_CTRL_MAX_HOOKS 8

struct gw_ctrl;
struct gw_ctrl_conn;

/* New registry over st (borrowed); *out freed with gw_ctrl_free. */
int gw_ctrl_new(struct gw_store *st, struct gw_ctrl **out, struct dh_err *err);
/* Free the registry and every connection record (NULL is fine). */
void gw_ctrl_free(struct gw_ctrl *c);

/* Extract the instance id of a "/v1/control-channel/<id>" path into
 * out[n]; DH_E_FORMAT when path is not of that form. */
int gw_ctrl_parse_path(const char *path, char *out, size_t n,
    struct dh_err *err);

/* CreateControlChannel for instance_id with request body (may be NULL):
 * append the XML answer to xml.  DH_E_FORMAT on a bad body. */
int gw_ctrl_create_channel(struct gw_ctrl *c, const char *instance_id,
    const cJSON *body, int64_t now_ms, struct dh_buf *xml,
    struct dh_err *err);

/* Register an authenticated websocket for instance_id (not yet opened). */
int gw_ctrl_ws_attach(struct gw_ctrl *c, const char *instance_id,
    void *handle, int64_t now_ms, struct gw_ctrl_conn **out,
    struct dh_err *err);

/* A complete text message from the agent: the first must be
 * OpenControlChannel with a valid token (DH_E_AUTH otherwise, the caller
 * closes); later text messages are accepted and ignored. */
int gw_ctrl_ws_text(struct gw_ctrl *c, struct gw_ctrl_conn *conn,
    const void *p, size_t n, int64_t now_ms, struct dh_err *err);

/* The websocket closed: drop it from the registry and free conn. */
void gw_ctrl_ws_detach(struct gw_ctrl *c, struct gw_ctrl_conn *conn);

/* Transport handle of the open control channel of instance_id, or NULL. */
void *gw_ctrl_lookup(const struct gw_ctrl *c, const char *instance_id);

/* Number of opened control channels. */
size_t gw_ctrl_count(const struct gw_ctrl *c);

/* Hooks of a feature that talks to agents over the control channel:
 * on_msg gets every decoded binary MGS frame of an opened channel (payload
 * valid during the call only), on_open runs when a channel opens (after
 * OpenControlChannel).  Either may be NULL. */
struct gw_ctrl_hooks {
	void (*on_msg)(void *arg, const char *instance_id,
	    const struct dh_mgs_msg *m, int64_t now_ms);
	void (*on_open)(void *arg, const char *instance_id, int64_t now_ms);
	void *arg;
};

/* Register hooks (copied; at most GW_CTRL_MAX_HOOKS); DH_E_TOOBIG when full. */
int gw_ctrl_add_hooks(struct gw_ctrl *c, const struct gw_ctrl_hooks *h);

/* The transport's "please call me back when handle is writable" function
 * (set by the server; NULL in tests: frames then just queue). */
void gw_ctrl_set_waker(struct gw_ctrl *c, void (*wake)(void *handle));

/* Encode m and queue it on the open channel of instance_id.  DH_E_NOTFOUND
 * when the instance has no open channel, DH_E_TOOBIG over GW_CTRL_MAX_OUT. */
int gw_ctrl_send(struct gw_ctrl *c, const char *instance_id,
    const struct dh_mgs_msg *m, struct dh_err *err);

/* A complete binary message from the agent: decoded with dh_mgs and handed
 * to every hook's on_msg.  Ignored before the channel opened; DH_E_FORMAT
 * for an undecodable frame (the caller may keep the channel). */
int gw_ctrl_ws_binary(struct gw_ctrl *c, struct gw_ctrl_conn *conn,
    const void *p, size_t n, int64_t now_ms, struct dh_err *err);

/* Move the oldest queued outbound frame of conn into out (reset first);
 * 1 when a frame was taken, 0 when the queue is empty. */
int gw_ctrl_next_out(struct gw_ctrl_conn *conn, struct dh_buf *out);

#endif
