/*
 * cli_session: `deckhand session start`, the operator's side of a Session
 * Manager shell (what `aws ssm start-session` + session-manager-plugin do).
 *
 * Credentials and region are found like the aws CLI does it:
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * profile (--profile, AWS_PROFILE, "default") in AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials, its credential_process (cli_creds), or keys in the
 * config file; region from --region, AWS_REGION,
 * AWS_DEFAULT_REGION or the profile in AWS_CONFIG_FILE / ~/.aws/config;
 * AWS_CA_BUNDLE for TLS.  StartSession (SigV4, service "ssm") returns
 * SessionId, TokenValue and StreamUrl; the client opens the websocket with
 * no auth headers, sends OpenDataChannel, and runs the client end of the
 * data channel with dh_mgsrel: handshake (KMS GenerateDataKey of 64 bytes
 * with {aws:ssm:SessionId, aws:ssm:TargetId}, EncChallenge), raw terminal
 * restored on every exit path, SIGWINCH resize (PayloadType 3), large
 * input chunks without pacing, acks and retransmission, ResumeSession and
 * reconnect after a dropped connection, and the plugin's exit messages.
 */
#ifndef CLI_SESSION_H
#define CLI_SESSION_H

#include <stddef.h>

#include "dh_err.h"

/* Run "deckhand session ..." (argv[0] is "session"); process exit status:
 * 0 session ended normally, 1 failure, 2 usage error. */
int cli_session_main(int argc, char **argv);

/* Run as session-manager-plugin (argv[0] is that name): the aws CLI's
 * `ssm start-session` hands over the started session (see cli_plugin.h);
 * process exit status as for cli_session_main. */
int cli_session_plugin(int argc, char **argv);

/* Print the session usage text to stdout. */
void cli_session_usage(void);

/* Look up key in section of INI text p[0..n) (aws credentials/config file
 * syntax: "[section]", "key = value", '#'/';' comments, keys and sections
 * case-sensitive, surrounding blanks trimmed) into out[outsz].
 * DH_E_NOTFOUND when absent, DH_E_TOOBIG when the value does not fit. */
int cli_session_ini_get(const char *p, size_t n, const char *section,
    const char *key, char *out, size_t outsz);

#endif
