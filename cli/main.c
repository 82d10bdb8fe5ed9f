/*
 * deckhand: the operator CLI.  main() only dispatches to a subcommand from
 * the table below; each subcommand lives in its own cli_<name>.c and returns
 * the process exit status (0 ok, 1 operation failed, 2 usage error).
 */
#include <stdio.h>
#include <string.h>

#include "cli_scan.h"
#include "cli_session.h"
#include "cli_sigv4.h"
#include "cli_transcript.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(void);
	const char *summary;
};

static const struct command commands[] = {
	{ "session", cli_session_main, cli_session_usage,
	    "start an interactive shell session on a managed node" },
	{ "scan", cli_scan_main, cli_scan_usage,
	    "scan packages and report patch compliance against a baseline" },
	{ "sigv4", cli_sigv4_main, cli_sigv4_usage,
	    "sign or verify a raw HTTP request with AWS SigV4 (debugging)" },
	{ "transcript", cli_transcript_main, cli_transcript_usage,
	    "verify, replay or export audited session transcripts" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: deckhand <command> [options]\n"
	    "       deckhand --version\n"
	    "       deckhand help [command]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
}

int
main(int argc, char **argv)
{
	const char *base;
	size_t i;

	base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base != NULL ? base + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(base, "session-manager-plugin") == 0)
		return cli_session_plugin(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("deckhand %s\n", DH_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		for (i = 0; argc > 2 &&
		    i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[2], commands[i].name) == 0) {
				commands[i].usage();
				return 0;
			}
		if (argc > 2) {
			fprintf(stderr, "deckhand: unknown command '%s'\n",
			    argv[2]);
			return 2;
		}
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "deckhand: unknown command '%s' (try 'deckhand help')\n",
	    argv[1]);
	return 2;
}
