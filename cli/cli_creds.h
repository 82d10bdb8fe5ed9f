/*
 * cli_creds: `credential_process` for the operator CLI, as botocore and the
 * aws CLI run it: the profile's command line is split the way Python's
 * shlex.split does (no shell), run with stdout captured, and its JSON
 * ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}) becomes the credentials.  SSO helpers, aws-vault and
 * similar tools hand out credentials this way.
 *
 * Ownership: the caller owns every buffer; the key fields are secrets and
 * the caller wipes them.  Nothing here prints: errors come back in err
 * (the process's own stderr goes to the terminal, as with the aws CLI).
 */
#ifndef CLI_CREDS_H
#define CLI_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"

#define CLI_CREDS_ARGV_MAX 64      /* words in a credential_process line */
#define CLI_CREDS_OUT_MAX 65536    /* bytes of process output accepted */

struct cli_creds_keys {
	char access[256];
	char secret[256];
	char token[4096];
};

/* Split cmd like shlex.split (POSIX): words separated by blanks, '...'
 * literal, "..." with \" and \\ escapes (other backslashes kept), \x outside
 * quotes is x, '' an empty word.  Words
 * are written NUL-terminated into buf[bufsz]; argv[*argc] = NULL.
 * DH_E_FORMAT for an unterminated quote or trailing backslash or no word,
 * DH_E_TOOBIG when buf or argv_max is too small. */
int cli_creds_split(const char *cmd, char *buf, size_t bufsz, char **argv,
    size_t argv_max, size_t *argc, struct dh_err *err);

/* Parse a credential_process result of n bytes: Version must be 1,
 * AccessKeyId and SecretAccessKey present, SessionToken optional, and an
 * Expiration (ISO 8601) at or before now_s is refused (DH_E_AUTH).
 * DH_E_FORMAT for anything else malformed. */
int cli_creds_parse(const char *p, size_t n, int64_t now_s,
    struct cli_creds_keys *out, struct dh_err *err);

/* Run cmd (split, no shell) with stdin and stderr inherited, stdout
 * captured (at most CLI_CREDS_OUT_MAX bytes), wait for it and parse its
 * output.  DH_E_IO when it cannot start or exits non-zero. */
int cli_creds_process(const char *cmd, int64_t now_s,
    struct cli_creds_keys *out, struct dh_err *err);

#endif
