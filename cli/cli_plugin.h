/*
 * cli_plugin: the command line of session-manager-plugin, so that
 * `aws ssm start-session` runs deckhand as its plugin (install a
 * `session-manager-plugin` link to deckhand on PATH).  The aws CLI calls
 *
 *   session-manager-plugin RESPONSE REGION StartSession PROFILE PARAMS ENDPOINT
 *
 * or, from older aws CLIs, only the first three (no Target: a KMS
 * session cannot be opened that way, its encryption context needs it).
 *
 * RESPONSE is the StartSession answer as JSON, or (newer CLIs) the name of
 * an environment variable starting with AWS_SSM_START_SESSION_RESPONSE that
 * holds it; PARAMS is the StartSession request as JSON and must name a
 * string Target.  This module only parses (bounded, no I/O besides the
 * environment variable); cli_session runs the session.
 *
 * Ownership: out holds copies; token is a secret the caller wipes.
 */
#ifndef CLI_PLUGIN_H
#define CLI_PLUGIN_H

#include <stddef.h>

#include "dh_err.h"

#define CLI_PLUGIN_ENV_PREFIX "AWS_SSM_START_SESSION_RESPONSE"
#define CLI_PLUGIN_JSON_MAX (64 * 1024)

struct cli_plugin_args {
	char session_id[128];
	char token[4096];
	char stream_url[2048];
	char region[64];
	char profile[256];
	char target[256];
	char endpoint[1024];
};

/* What a plugin command line asks for. */
enum cli_plugin_op {
	CLI_PLUGIN_INSTALLED,   /* no arguments: "installed successfully" */
	CLI_PLUGIN_VERSION,     /* --version */
	CLI_PLUGIN_START        /* StartSession, 6 or 3 (legacy) arguments */
};

/* Parse argv[0..argc) of a plugin invocation into *op and, for
 * CLI_PLUGIN_START, out.  A RESPONSE naming an AWS_SSM_START_SESSION_
 * RESPONSE* variable is read from the environment and the variable is
 * removed; a RESPONSE given as JSON is blanked in argv (ps shows argv).  DH_E_ARG for an unknown form (message names it), DH_E_FORMAT
 * for malformed JSON or missing members, DH_E_TOOBIG for oversized
 * values. */
int cli_plugin_parse(int argc, char **argv, enum cli_plugin_op *op,
    struct cli_plugin_args *out, struct dh_err *err);

#endif
