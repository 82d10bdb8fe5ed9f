/*
 * deckhand-agent: command-line entry point.
 *
 *   deckhand-agent register --code C --id I --region R [--endpoint URL]
 *                           [--ca FILE] [--state DIR] [--force]
 *   deckhand-agent run [--config FILE] [--state DIR]
 *   deckhand-agent config show [--config FILE]
 *   deckhand-agent --version
 *
 * Only this file prints; the modules report through struct dh_err.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_config.h"
#include "ag_daemon.h"
#include "ag_identity.h"
#include "ag_register.h"
#include "dh_buf.h"
#include "dh_err.h"
#include "dh_log.h"

#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: deckhand-agent register --code CODE --id ID --region REGION\n"
	    "                      [--endpoint URL] [--ca FILE] [--state DIR]"
	    " [--force]\n"
	    "       deckhand-agent run [--config FILE] [--state DIR]\n"
	    "       deckhand-agent config show [--config FILE]\n"
	    "       deckhand-agent --version\n"
	    "defaults: config %s, state %s\n", AG_CONFIG_DEFAULT_PATH,
	    AG_STATE_DEFAULT_DIR);
}

static int
cmd_register(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "code", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'i' },
		{ "region", required_argument, NULL, 'r' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "endpoint-url", required_argument, NULL, 'e' },
		{ "ca", required_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	struct ag_register_opts o;
	struct ag_identity id;
	struct ag_config cfg;
	const char *config = NULL;
	struct dh_err e;
	int ch, rc, have_cfg = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.code = optarg; break;
		case 'i': o.activation_id = optarg; break;
		case 'r': o.region = optarg; break;
		case 'e': o.endpoint = optarg; break;
		case 'a': o.ca = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'f': config = optarg; break;
		case 'F': o.force = 1; break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || o.code == NULL || o.activation_id == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	dh_err_clear(&e);
	if (ag_config_load(config, config != NULL, &cfg, &e) != DH_OK) {
		fprintf(stderr, "deckhand-agent: %s\n", e.msg);
		return 1;
	}
	have_cfg = 1;
	if (o.region == NULL)
		o.region = cfg.region != NULL ? cfg.region :
		    getenv("AWS_REGION") != NULL ? getenv("AWS_REGION") :
		    getenv("AWS_DEFAULT_REGION");
	if (o.endpoint == NULL)
		o.endpoint = cfg.endpoint[AG_SVC_SSM];
	if (o.state_dir == NULL)
		o.state_dir = cfg.state_dir;
	o.ca = ag_config_ca(&cfg, o.ca, NULL);
	o.proxy = cfg.https_proxy;
	ag_identity_init(&id);
	rc = ag_register_run(&o, &id, &e);
	if (rc == DH_OK)
		printf("registered: instance %s in %s (identity in %s/%s)\n",
		    id.instance_id, id.region, o.state_dir, AG_IDENTITY_FILE);
	else
		fprintf(stderr, "deckhand-agent: register: %s\n", e.msg);
	ag_identity_clear(&id);
	if (have_cfg)
		ag_config_free(&cfg);
	if (rc == DH_E_ARG)
		return EXIT_USAGE;
	return rc == DH_OK ? 0 : 1;
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct ag_daemon_opts o;
	struct dh_err e;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': o.config_path = optarg; break;
		case 's': o.state_dir = optarg; break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	dh_err_clear(&e);
	rc = ag_daemon_run(&o, &e);
	if (rc == DH_OK)
		return 0;
	dh_error("%s", e.msg);
	return rc == DH_E_INTEGRITY ? AG_EXIT_FINGERPRINT : 1;
}

static int
cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL;
	struct ag_config cfg;
	struct dh_buf out;
	struct dh_err e;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "show") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (ch != 'f') {
			usage(stderr);
			return EXIT_USAGE;
		}
		config = optarg;
	}
	dh_err_clear(&e);
	if (ag_config_load(config, config != NULL, &cfg, &e) != DH_OK) {
		fprintf(stderr, "deckhand-agent: %s\n", e.msg);
		return 1;
	}
	dh_buf_init(&out, 1024 * 1024);
	rc = ag_config_dump(&cfg, &out);
	if (rc == DH_OK)
		fputs(dh_buf_cstr(&out), stdout);
	else
		fprintf(stderr, "deckhand-agent: %s\n", dh_strerror(rc));
	dh_buf_free(&out);
	ag_config_free(&cfg);
	return rc == DH_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	dh_log_set_ident("deckhand-agent");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("deckhand-agent %s\n", DH_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "register") == 0)
		return cmd_register(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	fprintf(stderr, "deckhand-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
