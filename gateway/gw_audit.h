/*
 * gw_audit: the gateway's CloudTrail-style audit trail.  Every API call is
 * recorded as a CloudTrail record (eventVersion 1.08, userIdentity, eventTime,
 * eventSource, eventName, awsRegion, sourceIPAddress, userAgent,
 * requestParameters with secrets replaced by "HIDDEN_DUE_TO_SECURITY_REASONS",
 * errorCode/errorMessage, requestID, eventID, eventType "AwsApiCall",
 * recipientAccountId) in the caller's SQLite database, in a table this
 * module creates (gw_audit_events, gw_audit_resources, gw_audit_batches).
 * Each record is committed before gw_audit_record returns (it is written
 * inside a SAVEPOINT, so if the caller holds an open transaction the record
 * commits with it instead).  Request-parameter keys are stored in
 * CloudTrail's lowerCamelCase; any member whose name contains secret,
 * password, passphrase, privatekey, plaintext, activationcode, token
 * (except NextToken/ClientToken), credential, keymaterial, signature or
 * authorization (case-insensitive) is replaced by GW_AUDIT_HIDDEN before
 * anything is stored.  LookupEvents Resources are derived from well-known
 * request keys (InstanceId, ActivationId, ResourceId, Target, SessionId,
 * LogGroupName, Bucket, KeyId, ...).  Redaction is by member name only (it
 * errs towards hiding, e.g. ContinuationToken): never pass payload bodies
 * or response data as request_params.
 *
 * gw_audit_lookup answers CloudTrail LookupEvents (the JSON body the aws CLI
 * v2 sends: LookupAttributes, StartTime/EndTime as epoch seconds, MaxResults
 * <= 50, NextToken) with the JSON response body.
 *
 * gw_audit_deliver writes undelivered records as gzipped {"Records":[...]}
 * files under <state_dir>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
 * named <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 hex>.json.gz, where
 * the date and time are the delivery time (as in CloudTrail).
 * Delivery guarantee (exactly once, across crashes at any point):
 *   1. one transaction assigns up to GW_AUDIT_MAX_DELIVER pending records to
 *      a new batch row that already names the target file;
 *   2. the file is written as "<name>.tmp", fsync'd, renamed to <name>, and
 *      the directory fsync'd;
 *   3. the batch is marked done.
 * Every delivery first completes batches left unfinished by a crash: if
 * <name> exists the rename happened (the file is complete) and the batch is
 * only marked done; otherwise the same records are written again to the
 * same name (the stale .tmp is truncated).  So a record is never lost, and
 * never appears in two files.  This needs the claim to commit on its own,
 * so gw_audit_deliver refuses (DH_E_STATE) to run inside an open
 * transaction on db.
 *
 * Ownership: the sqlite3 handle stays owned by the caller and must outlive
 * the gw_audit handle; gw_audit copies state_dir, account and region.  Event
 * fields are borrowed for the duration of gw_audit_record only.  Calls on one
 * gw_audit handle must be serialised by the caller (one connection owner).
 */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include <cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"

#define GW_AUDIT_HIDDEN "HIDDEN_DUE_TO_SECURITY_REASONS"
#define GW_AUDIT_MAX_RESULTS 50       /* LookupEvents page size ceiling */
#define GW_AUDIT_MAX_DELIVER 1000     /* records per delivered file */

struct gw_audit;

/* One API call to record; every string may be NULL except event_source and
 * event_name.  request_params is copied and redacted (never stored raw).
 * time_ms is the call's wall-clock time (0 means now). */
struct gw_audit_event {
	const char *event_source;   /* "ssm.amazonaws.com" */
	const char *event_name;     /* "CreateActivation" */
	const char *access_key_id;
	const char *principal;      /* key name or mi- id */
	const char *source_ip;
	const char *user_agent;
	const cJSON *request_params; /* audit redacts secrets itself */
	const char *error_code;     /* NULL on success */
	const char *error_message;
	int64_t time_ms;
	const char *request_id;
};

/* Create the audit tables in db if missing and return a handle in *out
 * (caller frees with gw_audit_close; db stays owned by the caller). */
int gw_audit_open(sqlite3 *db, const char *state_dir, const char *account,
    const char *region, struct gw_audit **out, struct dh_err *err);

/* Build the CloudTrail record for ev (secrets redacted) and commit it. */
int gw_audit_record(struct gw_audit *a, const struct gw_audit_event *ev,
    struct dh_err *err);

/* Answer a LookupEvents request body; *response (caller frees with
 * cJSON_Delete) is the JSON response body.  DH_E_ARG with a message suitable
 * for an InvalidLookupAttributesException / InvalidTimeRangeException /
 * InvalidMaxResultsException / InvalidNextTokenException on bad input (see
 * gw_audit_lookup_error_code). */
int gw_audit_lookup(struct gw_audit *a, const cJSON *request,
    cJSON **response, struct dh_err *err);

/* The CloudTrail error code ("InvalidNextTokenException", ...) for the last
 * gw_audit_lookup failure on a, or "InvalidParameterException" when none is
 * more specific; static string, never NULL. */
const char *gw_audit_lookup_error_code(const struct gw_audit *a);

/* Write every undelivered record to gzipped files (at most
 * GW_AUDIT_MAX_DELIVER records per file) dated now_ms (0 means now), then
 * mark them delivered; finishing first any batch a crash interrupted.
 * Returns 0 also when nothing was pending. */
int gw_audit_deliver(struct gw_audit *a, int64_t now_ms, struct dh_err *err);

/* gw_audit_deliver that also reports how many files and records it wrote
 * (files/records may be NULL). */
int gw_audit_deliver_stats(struct gw_audit *a, int64_t now_ms, size_t *files,
    size_t *records, struct dh_err *err);

/* Release the handle (NULL is fine); does not close the database. */
void gw_audit_close(struct gw_audit *a);

#endif
