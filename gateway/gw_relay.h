/*
 * gw_relay: the ssmmessages data channel, gateway side.  One session has two
 * websocket legs on /v1/data-channel/<session-id>?role=publish_subscribe:
 * the client leg (session-manager-plugin or `deckhand session start`; an
 * unsigned upgrade whose first text frame, OpenDataChannel, carries the
 * TokenValue StartSession/ResumeSession returned) and the agent leg (a
 * SigV4-signed upgrade whose OpenDataChannel carries the token of
 * CreateDataChannel, POST /v1/data-channel/<session-id>, answered 201 +
 * XML).  The relay pairs the legs by session id and forwards binary frames
 * end to end byte for byte after validating their headers with dh_mgs (a
 * malformed frame is dropped, never forwarded: it would make the peer's
 * reader exit; the payload digest is the endpoints' business, as with the
 * service: the plugin checks it, the agent does not);
 * it consumes the opening text frames and agent_session_state, sends
 * pause_publication to the agent while the client leg is away and
 * start_publication when it is back, keeps the session across a leg
 * reconnecting, and ends it with channel_closed to both legs (and on the
 * agent's control channel) on TerminateSession, idle timeout (no
 * input_stream_data for idleSessionTimeout) and maxSessionDuration, which
 * the reference agent ignores.  It sends interactive_shell over the agent's
 * control channel and answers agent_task_complete with
 * agent_task_acknowledge.
 *
 * Pairing, publication and timeouts are a pure state machine
 * (gw_relay_sm_*) fed events and a clock, tested with tables.  The hub
 * around it owns per-session queues: frames towards a leg wait in their
 * direction's queue (kept across that leg reconnecting).  When a queue
 * holds more than GW_RELAY_QUEUE_HIGH bytes the sending leg stops being read
 * (transport rx flow control) until it drains below GW_RELAY_QUEUE_LOW; a
 * queue never holds more than GW_RELAY_QUEUE_MAX bytes (frames past it are
 * dropped and recovered end to end by the peers' retransmission).  A frame
 * larger than GW_RELAY_MAX_FRAME closes its leg.
 *
 * The relay knows nothing of SQL or sockets: session records come through
 * the hooks (gw_session), the transport through gw_relay_io (gw_server).
 *
 * Ownership: the relay borrows ctrl and the hook/io arguments.  Legs are
 * owned by the relay and freed by gw_relay_ws_detach; transport handles
 * are opaque and borrowed.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "gw_ctrl.h"

#define GW_RELAY_PATH "/v1/data-channel/"
#define GW_RELAY_SID_MAX 96                      /* SessionId length (model) */
#define GW_RELAY_MAX_FRAME (1024 * 1024 + DH_MGS_HDR_LEN)
#define GW_RELAY_MAX_OPEN (64 * 1024)            /* OpenDataChannel text */
#define GW_RELAY_QUEUE_HIGH (4 * 1024 * 1024)    /* stop reading the sender */
#define GW_RELAY_QUEUE_LOW (1024 * 1024)         /* read it again */
#define GW_RELAY_QUEUE_MAX (8 * 1024 * 1024)     /* hard bound per direction */
#define GW_RELAY_TOKEN_TTL_MS (10 * 60 * 1000)   /* single-use leg tokens */
#define GW_RELAY_TOKENS 4                        /* live tokens per leg kind */
#define GW_RELAY_AGENT_WAIT_MS (2 * 60 * 1000)   /* agent must join by then */
#define GW_RELAY_AWAY_MS (5 * 60 * 1000)         /* a leg may be away this long */
#define GW_RELAY_OPEN_WAIT_MS (30 * 1000)        /* OpenDataChannel deadline */
#define GW_RELAY_TICK_MS 1000

/* Session status strings, as DescribeSessions reports them. */
enum gw_relay_status {
	GW_RELAY_CONNECTING = 0,
	GW_RELAY_CONNECTED,
	GW_RELAY_DISCONNECTED,
	GW_RELAY_TERMINATING,
	GW_RELAY_TERMINATED,
	GW_RELAY_FAILED
};

/* "Connecting", "Connected", ... */
const char *gw_relay_status_name(enum gw_relay_status s);

/* 1 for Terminated / Failed (the session is history). */
int gw_relay_status_final(enum gw_relay_status s);

/* ---------------------------------------------------- the state machine */

enum gw_relay_ev {
	GW_RELAY_EV_CLIENT_OPEN,    /* client leg opened (token checked) */
	GW_RELAY_EV_CLIENT_GONE,    /* client leg closed */
	GW_RELAY_EV_AGENT_OPEN,
	GW_RELAY_EV_AGENT_GONE,
	GW_RELAY_EV_INPUT,          /* input_stream_data from the client */
	GW_RELAY_EV_AGENT_ENDING,   /* agent_session_state Terminating */
	GW_RELAY_EV_TASK_DONE,      /* agent_task_complete (arg: failed) */
	GW_RELAY_EV_TERMINATE,      /* TerminateSession */
	GW_RELAY_EV_TICK            /* clock */
};

/* Actions an event asks for (bits of gw_relay_out.actions). */
#define GW_RELAY_A_PAUSE 0x01        /* pause_publication to the agent leg */
#define GW_RELAY_A_START 0x02        /* start_publication to the agent leg */
#define GW_RELAY_A_CLOSE_CLIENT 0x04 /* channel_closed to the client, close */
#define GW_RELAY_A_CLOSE_AGENT 0x08  /* channel_closed to the agent leg, close */
#define GW_RELAY_A_CTRL_CLOSED 0x10  /* channel_closed on the control channel */
#define GW_RELAY_A_STATUS 0x20       /* status changed: persist it */
#define GW_RELAY_A_FREE 0x40         /* over and both legs gone: forget it */

/* channel_closed Output texts (the plugin prints them). */
#define GW_RELAY_MSG_IDLE \
	"Your session timed out due to inactivity and has been terminated."
#define GW_RELAY_MSG_MAX \
	"Your session has reached its maximum duration and has been terminated."
#define GW_RELAY_MSG_AWAY "The other end of the session did not come back."
#define GW_RELAY_MSG_NO_AGENT "The managed node did not join the session."

struct gw_relay_sm {
	enum gw_relay_status status;
	int client_up, agent_up;
	int client_seen, agent_seen;
	int paused;                 /* last publication message was pause */
	int ended;                  /* final status reached */
	int64_t start_ms;           /* session start (max duration) */
	int64_t born_ms;            /* machine start (first-join waits) */
	int64_t last_input_ms;
	int64_t client_gone_ms, agent_gone_ms;
	int64_t idle_ms, max_ms;    /* 0 = no limit */
};

struct gw_relay_out {
	unsigned actions;           /* GW_RELAY_A_* */
	const char *output;         /* channel_closed Output (static or event arg) */
};

/* Start a machine for a session begun at start_ms with the given limits
 * (0 = none); the clock for idleness starts at now_ms. */
void gw_relay_sm_init(struct gw_relay_sm *sm, int64_t start_ms,
    int64_t now_ms, int64_t idle_ms, int64_t max_ms);

/* Feed one event at now_ms; failed/output only matter for
 * GW_RELAY_EV_TASK_DONE (output may be NULL).  Fills *out. */
void gw_relay_sm_event(struct gw_relay_sm *sm, enum gw_relay_ev ev,
    int64_t now_ms, int failed, const char *output, struct gw_relay_out *out);

/* ------------------------------------------------------------ the hub */

struct gw_relay;
struct gw_relay_leg;

/* What the relay needs of a stored session. */
struct gw_relay_info {
	char id[GW_RELAY_SID_MAX + 1];
	char target[24];
	int64_t start_ms;
	int64_t idle_ms, max_ms;        /* 0 = no limit */
	enum gw_relay_status status;
};

/* Session records (gw_session provides them). */
struct gw_relay_hooks {
	/* Fill *out for sid; DH_E_NOTFOUND when unknown. */
	int (*lookup)(void *arg, const char *sid, struct gw_relay_info *out);
	/* Persist a status (end time when final). */
	void (*status)(void *arg, const char *sid, enum gw_relay_status st,
	    int64_t now_ms);
	/* agent_task_complete payload (parsed JSON) for sid. */
	void (*task_done)(void *arg, const char *sid, const cJSON *payload,
	    int64_t now_ms);
	void *arg;
};

/* The transport (gw_server). */
struct gw_relay_io {
	void (*wake)(void *arg, void *handle);          /* want writable */
	void (*rx_flow)(void *arg, void *handle, int on); /* read or not */
	size_t headroom;         /* bytes reserved before every queued frame */
	void *arg;
};

/* New hub over ctrl (borrowed; its hooks are registered); *out freed with
 * gw_relay_free after the transport is gone. */
int gw_relay_new(struct gw_ctrl *ctrl, const struct gw_relay_hooks *hooks,
    struct gw_relay **out, struct dh_err *err);
void gw_relay_free(struct gw_relay *r);

/* Set the transport (copied). */
void gw_relay_set_io(struct gw_relay *r, const struct gw_relay_io *io);

/* Scale of a "minute" for idleSessionTimeout / maxSessionDuration
 * (default 60000; tests shorten it). */
void gw_relay_set_minute_ms(struct gw_relay *r, int64_t ms);
int64_t gw_relay_minute_ms(const struct gw_relay *r);

/* A new session: send the interactive_shell payload (JSON text) to the
 * target's control channel, keep the session and issue the client token
 * into token[65].  DH_E_NOTFOUND when the target is not connected. */
int gw_relay_start(struct gw_relay *r, const struct gw_relay_info *info,
    const char *shell_payload, int64_t now_ms, char token[65],
    struct dh_err *err);

/* Keep a stored live session (after a gateway restart) so its timeouts
 * run even if no leg ever comes back; no-op when already kept. */
int gw_relay_adopt(struct gw_relay *r, const struct gw_relay_info *info,
    int64_t now_ms, struct dh_err *err);

/* ResumeSession: a fresh client token for a live session (rebuilt from the
 * record after a gateway restart).  DH_E_NOTFOUND when unknown, DH_E_STATE
 * when it already ended. */
int gw_relay_resume(struct gw_relay *r, const char *sid, int64_t now_ms,
    char token[65], struct dh_err *err);

/* TerminateSession: end a live session (no-op when unknown or ended). */
int gw_relay_terminate(struct gw_relay *r, const char *sid, int64_t now_ms,
    struct dh_err *err);

/* Session id of a "/v1/data-channel/<sid>" path into out[n]; DH_E_FORMAT
 * otherwise. */
int gw_relay_parse_path(const char *path, char *out, size_t n,
    struct dh_err *err);

/* CreateDataChannel by instance_id for sid: append the XML answer (sent
 * with 201) to xml.  DH_E_NOTFOUND unknown session, DH_E_AUTH another
 * instance's session, DH_E_STATE "Session is already terminated". */
int gw_relay_create_channel(struct gw_relay *r, const char *sid,
    const char *instance_id, const cJSON *body, int64_t now_ms,
    struct dh_buf *xml, struct dh_err *err);

/* A websocket upgraded on sid's path: instance_id is the SigV4-verified
 * instance for an agent leg, NULL for an (unsigned) client leg. */
int gw_relay_ws_attach(struct gw_relay *r, const char *sid,
    const char *instance_id, void *handle, int64_t now_ms,
    struct gw_relay_leg **out, struct dh_err *err);

/* One complete websocket message.  The first must be the OpenDataChannel
 * text with a valid token; later ones are MGS frames.  An error means the
 * caller closes the leg; a malformed frame is dropped without error. */
int gw_relay_ws_message(struct gw_relay *r, struct gw_relay_leg *leg,
    int is_text, const void *p, size_t n, int64_t now_ms,
    struct dh_err *err);

/* What to write on a writable leg: 1 and *p / *n (a frame with io headroom
 * bytes writable before *p; valid until gw_relay_ws_sent), 0 nothing, -1
 * close the leg now. */
int gw_relay_ws_peek(struct gw_relay *r, struct gw_relay_leg *leg,
    unsigned char **p, size_t *n);

/* The peeked frame was written. */
void gw_relay_ws_sent(struct gw_relay *r, struct gw_relay_leg *leg);

/* The websocket closed: forget and free leg. */
void gw_relay_ws_detach(struct gw_relay *r, struct gw_relay_leg *leg,
    int64_t now_ms);

/* Timeouts; call every GW_RELAY_TICK_MS. */
void gw_relay_tick(struct gw_relay *r, int64_t now_ms);

/* Counters for tests and logs. */
struct gw_relay_stats {
	uint64_t forwarded, dropped_malformed, dropped_type, dropped_full;
	size_t sessions, legs;
};
void gw_relay_stats(const struct gw_relay *r, struct gw_relay_stats *out);

#endif
