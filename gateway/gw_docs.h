/*
 * gw_docs: SSM documents, as `aws ssm create-document` / `update-document`
 * / `get-document` / `describe-document` / `delete-document` /
 * `list-documents` / `update-document-default-version` send them.  Content
 * is JSON (DocumentFormat JSON, the default); YAML and TEXT are refused with
 * InvalidDocumentContent naming the reason.  Documents of DocumentType
 * Session are validated strictly: schemaVersion "1.0", sessionType
 * Standard_Stream | InteractiveCommands | NonInteractiveCommands | Port,
 * and the Session Manager preference inputs with their types and ranges
 * (s3BucketName, s3KeyPrefix, s3EncryptionEnabled, cloudWatchLogGroupName,
 * cloudWatchStreamingEnabled, cloudWatchEncryptionEnabled, kmsKeyId,
 * runAsEnabled, runAsDefaultUser, idleSessionTimeout 1..60,
 * maxSessionDuration 1..1440, shellProfile {linux, windows}); other types
 * need a JSON object with a schemaVersion.  Every update adds a version;
 * the default version changes only through UpdateDocumentDefaultVersion.
 *
 * Built in, owned by "Amazon" and read-only: AWS-StartSSHSession,
 * AWS-StartPortForwardingSession, AWS-StartPortForwardingSessionToRemoteHost
 * and AWS-StartInteractiveCommand.  The Session Manager preferences
 * document SSM-SessionManagerRunShell belongs to the account: until one is
 * created, sessions use the built-in defaults (idle timeout 20 minutes,
 * no logging) and the name stays free for create-document.
 *
 * Ownership: results own their cJSON body; gw_docs_session_content's *out
 * is owned by the caller (cJSON_Delete).
 */
#ifndef GW_DOCS_H
#define GW_DOCS_H

#include <cJSON.h>
#include <stddef.h>

#include "dh_err.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define GW_DOCS_PREFS "SSM-SessionManagerRunShell"
#define GW_DOCS_MAX_CONTENT (64 * 1024)
#define GW_DOCS_MAX_VERSIONS 1000

/* The document operations (gw_docs_n_ops entries). */
extern const struct gw_ssm_op gw_docs_ops[];
extern const size_t gw_docs_n_ops;

/* Validate document content text of type doc_type ("Session", "Command",
 * ...) and format ("JSON"; NULL = JSON).  On failure returns DH_E_FORMAT
 * with *code set to the AWS error code (InvalidDocumentContent,
 * InvalidDocumentSchemaVersion, MaxDocumentSizeExceeded, ...) and the
 * reason in err. */
int gw_docs_validate(const char *content, size_t len, const char *doc_type,
    const char *format, const char **code, struct dh_err *err);

/* The document a session runs: name (NULL = GW_DOCS_PREFS) at its default
 * version, except the preferences document, whose latest version is used
 * (the documented `update-document --document-version '$LATEST'` flow).
 * For another document the preference inputs are merged under its own.
 * *out is the content object (owned).  DH_E_NOTFOUND for an unknown name,
 * DH_E_FORMAT for a document that is not of type Session. */
int gw_docs_session_content(struct gw_store *st, const char *name,
    cJSON **out, struct dh_err *err);

#endif
