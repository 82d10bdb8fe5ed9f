/*
 * dh_mgs: codec for the Session Manager "MGS" binary message (ssmmessages
 * control and data channels).  A frame is a fixed 120-byte big-endian header
 * followed by the payload:
 *
 *   off size field
 *     0   4  HeaderLength (always 116: excludes the PayloadLength field)
 *     4  32  MessageType, ASCII, space padded
 *    36   4  SchemaVersion (1)
 *    40   8  CreatedDate, ms since the Unix epoch, never 0
 *    48   8  SequenceNumber (stream messages 0,1,2,...; others 0)
 *    56   8  Flags (bit 0 SYN, bit 1 FIN; nobody reads them)
 *    64  16  MessageId, UUID with its two 8-byte halves swapped
 *    80  32  PayloadDigest, SHA-256 of the payload
 *   112   4  PayloadType
 *   116   4  PayloadLength
 *   120   n  Payload (located at HeaderLength + 4)
 *
 * The decoder is strict (bounds, header length, length consistency, type,
 * CreatedDate, optional digest) so a gateway never relays a frame that would
 * make a real peer's reader exit.  The module also builds and parses the
 * small JSON/binary payloads the reliability layer and sessions exchange:
 * acknowledge, channel_closed, agent_session_state, Size and Flag.
 *
 * Empty payloads: the real amazon-ssm-agent cannot serialise, and misreads,
 * a message with an empty payload.  dh_mgs_encode accepts an empty payload
 * (the plugin and this decoder take it), but every builder here produces at
 * least one byte, and callers sending pause/start_publication or any other
 * message to a real agent must pass a non-empty payload (e.g. "{}").
 */
#ifndef DH_MGS_H
#define DH_MGS_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_hash.h"
#include "dh_uuid.h"

#define DH_MGS_HL 116          /* HeaderLength value senders write */
#define DH_MGS_HDR_LEN 120     /* bytes before the payload */
#define DH_MGS_TYPE_MAX 32     /* MessageType field width */
#define DH_MGS_SCHEMA 1        /* SchemaVersion senders write */

/* Header Flags bits and the values real peers send. */
#define DH_MGS_HF_SYN 1u
#define DH_MGS_HF_FIN 2u
#define DH_MGS_HF_ACK 3u       /* acks, agent control messages */

/* MessageType strings. */
#define DH_MGS_T_INPUT "input_stream_data"
#define DH_MGS_T_OUTPUT "output_stream_data"
#define DH_MGS_T_ACK "acknowledge"
#define DH_MGS_T_CHANNEL_CLOSED "channel_closed"
#define DH_MGS_T_PAUSE "pause_publication"
#define DH_MGS_T_START "start_publication"
#define DH_MGS_T_SESSION_STATE "agent_session_state"
#define DH_MGS_T_INTERACTIVE_SHELL "interactive_shell"
#define DH_MGS_T_TASK_COMPLETE "agent_task_complete"
#define DH_MGS_T_TASK_ACK "agent_task_acknowledge"
#define DH_MGS_T_TASK_REPLY "agent_task_reply"
#define DH_MGS_T_JOB "agent_job"
#define DH_MGS_T_JOB_ACK "agent_job_ack"
#define DH_MGS_T_JOB_REPLY "agent_job_reply"
#define DH_MGS_T_JOB_REPLY_ACK "agent_job_reply_ack"
#define DH_MGS_T_TELEMETRY "agent_telemetry"
#define DH_MGS_T_UPDATE_RESULT "agent_update_result"

/* PayloadType values. */
enum dh_mgs_ptype {
	DH_MGS_PT_NONE = 0,
	DH_MGS_PT_OUTPUT = 1,
	DH_MGS_PT_ERROR = 2,
	DH_MGS_PT_SIZE = 3,
	DH_MGS_PT_PARAMETER = 4,
	DH_MGS_PT_HS_REQUEST = 5,
	DH_MGS_PT_HS_RESPONSE = 6,
	DH_MGS_PT_HS_COMPLETE = 7,
	DH_MGS_PT_ENC_CHALLENGE_REQ = 8,
	DH_MGS_PT_ENC_CHALLENGE_RESP = 9,
	DH_MGS_PT_FLAG = 10,
	DH_MGS_PT_STDERR = 11,
	DH_MGS_PT_EXITCODE = 12
};

/* Flag payload values (PayloadType 10). */
enum dh_mgs_flag {
	DH_MGS_FLAG_DISCONNECT_TO_PORT = 1,
	DH_MGS_FLAG_TERMINATE_SESSION = 2,
	DH_MGS_FLAG_CONNECT_TO_PORT_ERROR = 3
};

/* Decoder options (bit set). */
#define DH_MGS_DEC_DIGEST 0x1u /* verify PayloadDigest when payload non-empty */
#define DH_MGS_DEC_ANY_HL 0x2u /* accept HeaderLength > 116 (payload at HL+4) */

/*
 * One message.  Ownership: payload is borrowed.  After dh_mgs_decode it
 * points into the caller's frame bytes (a view: valid while those bytes
 * live; copy it to keep it).  For encoding it is the caller's memory and
 * may be NULL when payload_len is 0.  digest is filled by the decoder with
 * the wire value; the encoder ignores it and computes the real one.
 */
struct dh_mgs_msg {
	char type[DH_MGS_TYPE_MAX + 1]; /* trimmed, NUL-terminated */
	uint32_t schema;
	uint64_t created_ms;
	int64_t seq;
	uint64_t flags;
	struct dh_uuid id;              /* RFC 4122 byte order */
	unsigned char digest[DH_SHA256_LEN];
	uint32_t ptype;
	uint32_t hl;                    /* decoded HeaderLength */
	const unsigned char *payload;
	size_t payload_len;
};

/* Fill m for sending: type copied (must be 1..32 valid chars), schema 1,
 * payload borrowed; 0 or DH_E_ARG. */
int dh_mgs_init(struct dh_mgs_msg *m, const char *type, uint64_t created_ms,
    int64_t seq, uint64_t flags, const struct dh_uuid *id, uint32_t ptype,
    const void *payload, size_t payload_len, struct dh_err *err);

/* Bytes dh_mgs_encode appends for m (120 + payload_len). */
size_t dh_mgs_frame_len(const struct dh_mgs_msg *m);

/* Write the 120-byte header of m (digest computed over m's payload) into hdr. */
int dh_mgs_encode_header(const struct dh_mgs_msg *m,
    unsigned char hdr[DH_MGS_HDR_LEN], struct dh_err *err);

/* Append the whole frame (header + payload) to out; out unchanged on error. */
int dh_mgs_encode(const struct dh_mgs_msg *m, struct dh_buf *out,
    struct dh_err *err);

/* Decode one frame of n bytes at p into m (payload is a view into p).
 * opts: DH_MGS_DEC_* bits.  DH_E_SHORT for truncation, DH_E_FORMAT for a
 * malformed header, DH_E_INTEGRITY for a digest mismatch. */
int dh_mgs_decode(const void *p, size_t n, unsigned opts, struct dh_mgs_msg *m,
    struct dh_err *err);

/* 1 when m's type equals type. */
int dh_mgs_is(const struct dh_mgs_msg *m, const char *type);

/* 1 for input_stream_data / output_stream_data. */
int dh_mgs_is_stream(const struct dh_mgs_msg *m);

/* Write a UUID in the wire's half-swapped order into out[16], and back. */
void dh_mgs_uuid_to_wire(const struct dh_uuid *u, unsigned char out[16]);
void dh_mgs_uuid_from_wire(const unsigned char in[16], struct dh_uuid *u);

/* AcknowledgeContent: the payload of an "acknowledge" message. */
struct dh_mgs_ack {
	char type[DH_MGS_TYPE_MAX + 1]; /* AcknowledgedMessageType */
	struct dh_uuid id;              /* AcknowledgedMessageId */
	int64_t seq;                    /* AcknowledgedMessageSequenceNumber */
	int sequential;                 /* IsSequentialMessage */
};

/* Append the ack JSON for a to out. */
int dh_mgs_ack_build(const struct dh_mgs_ack *a, struct dh_buf *out,
    struct dh_err *err);

/* Parse ack JSON (keys case-insensitive, as Go peers match them).  Requires
 * the type, a UUID id and an integral seq >= 0; IsSequentialMessage optional. */
int dh_mgs_ack_parse(const void *p, size_t n, struct dh_mgs_ack *a,
    struct dh_err *err);

/* Append the channel_closed JSON; output may be "" (peer prints its default
 * text) and is JSON-escaped; all ids are strings, SchemaVersion is 1.  With
 * exit_code >= 0 a string "ExitCode" member carries the shell's exit status
 * (a deckhand extension; Go peers ignore unknown members). */
int dh_mgs_channel_closed_build(const struct dh_uuid *msg_id,
    uint64_t created_ms, const char *destination_id, const char *session_id,
    const char *output, int exit_code, struct dh_buf *out,
    struct dh_err *err);

/* Append {"SchemaVersion":1,"SessionState":state,"SessionId":session_id},
 * plus a number "ExitCode" member when exit_code >= 0 (deckhand extension). */
int dh_mgs_session_state_build(const char *state, const char *session_id,
    int exit_code, struct dh_buf *out, struct dh_err *err);

/* Append the Size payload {"cols":c,"rows":r}. */
int dh_mgs_size_build(uint32_t cols, uint32_t rows, struct dh_buf *out,
    struct dh_err *err);

/* Parse a Size payload (keys case-insensitive, values 0..2^32-1). */
int dh_mgs_size_parse(const void *p, size_t n, uint32_t *cols, uint32_t *rows,
    struct dh_err *err);

/* Append a Flag payload: 4-byte big-endian value. */
int dh_mgs_flag_build(uint32_t v, struct dh_buf *out, struct dh_err *err);

/* Parse a Flag payload; exactly 4 bytes. */
int dh_mgs_flag_parse(const void *p, size_t n, uint32_t *v,
    struct dh_err *err);

#endif
