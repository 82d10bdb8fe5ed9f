/*
 * Fuzz target: cli_plugin_parse (the session-manager-plugin command line
 * the aws CLI builds) on arbitrary bytes cut into arguments at '\n'; a
 * parsed StartSession form must carry a session id, token, stream URL and
 * region, plus a target in the 6-argument form and no target or endpoint
 * in the legacy 3-argument form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_plugin.h"
#include "dh_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cli_plugin_args a;
	char *buf, *argv[9], *p;
	enum cli_plugin_op op;
	int argc = 1;

	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (char *)"session-manager-plugin";
	p = buf;
	while (argc < 8 && p != NULL && (size > 0 || argc == 1)) {
		argv[argc++] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	argv[argc] = NULL;
	if (cli_plugin_parse(argc, argv, &op, &a, NULL) == DH_OK &&
	    op == CLI_PLUGIN_START && (a.session_id[0] == '\0' ||
	    a.token[0] == '\0' || a.stream_url[0] == '\0' ||
	    a.region[0] == '\0' || (argc == 7 && a.target[0] == '\0') ||
	    (argc == 4 && (a.target[0] != '\0' || a.endpoint[0] != '\0'))))
		abort();
	free(buf);
	return 0;
}
