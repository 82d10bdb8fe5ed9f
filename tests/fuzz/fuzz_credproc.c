/*
 * Fuzz target: cli_creds_split (a profile's credential_process line) and
 * cli_creds_parse (the process's JSON output) on arbitrary bytes; split
 * words must stay inside the buffer and be NUL-terminated, and a parsed
 * result must carry both keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_creds.h"
#include "dh_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd, buf[512], *argv[16];
	struct cli_creds_keys k;
	size_t argc, i;

	cmd = malloc(size + 1);
	if (cmd == NULL)
		return 0;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	if (cli_creds_split(cmd, buf, sizeof(buf), argv, 16, &argc, NULL) ==
	    DH_OK) {
		if (argc == 0 || argc >= 16 || argv[argc] != NULL)
			abort();
		for (i = 0; i < argc; i++)
			if (argv[i] < buf || argv[i] >= buf + sizeof(buf) ||
			    memchr(argv[i], '\0', (size_t)(buf + sizeof(buf) -
			    argv[i])) == NULL)
				abort();
	}
	free(cmd);
	if (cli_creds_parse((const char *)data, size, 1800000000, &k, NULL) ==
	    DH_OK && (k.access[0] == '\0' || k.secret[0] == '\0'))
		abort();
	return 0;
}
