/*
 * ss_handshake: the Session Manager data-channel handshake payloads
 * (mgs-protocol.md section 5.3), built and parsed with bounds.
 *
 *   HandshakeRequest   (PayloadType 5, agent -> client)
 *     {"AgentVersion":..,"RequestedClientActions":[{"ActionType":"SessionType",
 *      "ActionParameters":{"SessionType":..,"Properties":null|{..}}},
 *      {"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":..,
 *      "Challenge":..}}]}
 *   HandshakeResponse  (6, client -> agent)
 *     {"ClientVersion":..,"ProcessedClientActions":[{"ActionType":..,
 *      "ActionStatus":1,"ActionResult":..,"Error":""}],"Errors":null}
 *   HandshakeComplete  (7, agent -> client)
 *     {"HandshakeTimeToComplete":<ns>,"CustomerMessage":..}
 *   EncChallengeRequest/Response (8/9): {"Challenge":"<base64 blob>"}
 *
 * Parsers match keys case-insensitively (Go peers do), accept absent
 * optional members and null, refuse oversized documents (SS_HS_JSON_MAX),
 * strings longer than their field and more than SS_HS_ACTIONS_MAX actions.
 * Pure: no I/O.
 */
#ifndef SS_HANDSHAKE_H
#define SS_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define SS_HS_JSON_MAX (64 * 1024)
#define SS_HS_ACTIONS_MAX 16
#define SS_HS_VERSION_MAX 32    /* with NUL */
#define SS_HS_TYPE_MAX 32       /* session type, with NUL */
#define SS_HS_KEYID_MAX 2048    /* KMS key id/ARN/alias, with NUL */
#define SS_HS_CHALLENGE_MAX 128 /* base64 RandomChallenge text, with NUL */
#define SS_HS_CT_MAX 6144       /* KMS CiphertextBlob bytes */
#define SS_HS_MSG_MAX 1024      /* error / customer message, with NUL */
#define SS_HS_BLOB_MAX 4096     /* EncChallenge blob bytes */
#define SS_HS_PROPS_MAX 2048    /* SessionType Properties JSON, with NUL */

#define SS_HS_STATUS_SUCCESS 1
#define SS_HS_STATUS_FAILED 2
#define SS_HS_STATUS_UNSUPPORTED 3

/* HandshakeRequest.  session_type "" = no SessionType action. */
struct ss_hs_request {
	char agent_version[SS_HS_VERSION_MAX];
	char session_type[SS_HS_TYPE_MAX];
	char properties[SS_HS_PROPS_MAX];     /* SessionType Properties: a JSON
	                                       * object, "" = null */
	int kms;                              /* KMSEncryption requested */
	char kms_key_id[SS_HS_KEYID_MAX];
	char challenge[SS_HS_CHALLENGE_MAX];  /* "" = none */
	int unknown_actions;                  /* parse: other ActionTypes seen */
};

/* HandshakeResponse. */
struct ss_hs_response {
	char client_version[SS_HS_VERSION_MAX];
	int has_session_type;
	int session_type_status;
	int has_kms;
	int kms_status;
	unsigned char kms_ct[SS_HS_CT_MAX];   /* decoded KMSCipherTextKey */
	size_t kms_ct_len;
	int challenge_ack;                    /* ChallengeAcknowledgement */
	int failed;                           /* parse: an action status != 1 */
	char error[SS_HS_MSG_MAX];            /* parse: first non-empty Error */
};

/* Append the HandshakeRequest JSON for r to out. */
int ss_hs_request_build(const struct ss_hs_request *r, struct dh_buf *out,
    struct dh_err *err);

/* Parse a HandshakeRequest; r is zeroed first. */
int ss_hs_request_parse(const void *p, size_t n, struct ss_hs_request *r,
    struct dh_err *err);

/* Append the HandshakeResponse JSON for r (actions present per has_*;
 * kms_ct base64-encoded when kms_status is success) to out. */
int ss_hs_response_build(const struct ss_hs_response *r, struct dh_buf *out,
    struct dh_err *err);

/* Parse a HandshakeResponse; r is zeroed first.  Action failures are data
 * (r->failed, r->error), not errors. */
int ss_hs_response_parse(const void *p, size_t n, struct ss_hs_response *r,
    struct dh_err *err);

/* Append the HandshakeComplete JSON. */
int ss_hs_complete_build(int64_t time_ns, const char *customer_message,
    struct dh_buf *out, struct dh_err *err);

/* Parse HandshakeComplete; msg[msgsz] gets CustomerMessage ("" if absent,
 * truncated to fit), *time_ns 0 when absent. */
int ss_hs_complete_parse(const void *p, size_t n, int64_t *time_ns,
    char *msg, size_t msgsz, struct dh_err *err);

/* Append {"Challenge":"<base64 of blob>"}. */
int ss_hs_challenge_build(const void *blob, size_t n, struct dh_buf *out,
    struct dh_err *err);

/* Parse an EncChallenge payload; appends the decoded blob (at most
 * SS_HS_BLOB_MAX bytes) to blob. */
int ss_hs_challenge_parse(const void *p, size_t n, struct dh_buf *blob,
    struct dh_err *err);

#endif
