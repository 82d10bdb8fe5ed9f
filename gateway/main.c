/*
 * deckhand-gateway: the self-hosted Systems Manager compatible control plane.
 *
 *   deckhand-gateway serve --state DIR [--listen ADDR:PORT] [--region R]
 *                          [--name DNS-OR-IP]... [--log-level L]
 *                          [--cert FILE --key FILE] [--token-ttl-seconds N]
 *   deckhand-gateway keys create --state DIR --name NAME --policy FILE
 *
 * serve creates DIR (0700) on first start with a private CA (ca.pem) and
 * server certificate (unless --cert/--key name the operator's own),
 * gateway.db (SQLite) and admin.credentials (an AWS
 * shared-credentials file, 0600, [default] profile holding an allow-all
 * operator key), then serves one TLS port until SIGTERM/SIGINT.
 * keys create adds an operator access key with an IAM policy and prints it
 * the way `aws iam create-access-key` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh_err.h"
#include "dh_hash.h"
#include "dh_log.h"
#include "dh_time.h"
#include "gw_api.h"
#include "gw_audit.h"
#include "gw_ctrl.h"
#include "gw_policy.h"
#include "gw_server.h"
#include "gw_session.h"
#include "gw_store.h"
#include "gw_tls.h"

#define DEFAULT_LISTEN "127.0.0.1:8443"
#define DEFAULT_REGION "us-east-1"
#define PATH_SZ 4096

static const char admin_policy[] = "{\"Version\":\"2012-10-17\",\"Statement\":"
    "[{\"Sid\":\"Admin\",\"Effect\":\"Allow\",\"Action\":\"*\","
    "\"Resource\":\"*\"}]}";

static volatile sig_atomic_t stop_flag;
static struct gw_server *g_server;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	gw_server_wake(g_server);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: deckhand-gateway serve --state DIR [--listen ADDR:PORT]"
	    " [--region R] [--name DNS-OR-IP]... [--log-level L]\n"
	    "       [--cert FILE --key FILE] [--token-ttl-seconds N]"
	    " [--session-minute-ms N]\n"
	    "       deckhand-gateway keys create --state DIR --name NAME"
	    " --policy FILE\n"
	    "defaults: --listen %s --region %s\n", DEFAULT_LISTEN,
	    DEFAULT_REGION);
}

static int
join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_SZ, "%s/%s", dir, name);

	return n > 0 && n < PATH_SZ ? 0 : -1;
}

static void
random_text(const char *alphabet, char *out, size_t n)
{
	size_t i, alen = strlen(alphabet);

	for (i = 0; i < n; i++)
		out[i] = alphabet[dh_random_uniform((uint32_t)alen)];
	out[n] = '\0';
}

/* Make a new operator key record (id AKIA + 16 base32, 40-char secret). */
static void
new_key(struct gw_store_key *k, const char *name, const char *policy)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->access_key_id, "AKIA", 4);
	random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k->access_key_id + 4, 16);
	random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/", k->secret, 40);
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->policy = (char *)policy;
	k->created_ms = dh_time_now_ms();
}

static int
write_file_atomic(const char *path, const char *text, mode_t mode,
    struct dh_err *err)
{
	char tmp[PATH_SZ + 8];
	size_t n = strlen(text);
	int fd, r = DH_OK;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return dh_err_set(err, DH_E_TOOBIG, "path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "create %s: %s", tmp,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n ||
	    fsync(fd) != 0)
		r = dh_err_set(err, DH_E_IO, "write %s: %s", tmp,
		    strerror(errno));
	close(fd);
	if (r == DH_OK && rename(tmp, path) != 0)
		r = dh_err_set(err, DH_E_IO, "rename %s: %s", tmp,
		    strerror(errno));
	if (r != DH_OK)
		unlink(tmp);
	return r;
}

/* Account id: 12 digits chosen once and kept in the database. */
static int
ensure_account(struct gw_store *st, char account[16], struct dh_err *err)
{
	int r;

	r = gw_store_meta_get(st, "account_id", account, 16, err);
	if (r != DH_E_NOTFOUND)
		return r;
	random_text("123456789", account, 1);
	random_text("0123456789", account + 1, 11);
	return gw_store_meta_put(st, "account_id", account, err);
}

/* First start: an allow-all key written to admin.credentials (file first,
 * then the database, so a crash in between just makes a new one). */
static int
ensure_admin(struct gw_store *st, const char *dir, const char *region,
    struct dh_err *err)
{
	char path[PATH_SZ], have[64], text[512];
	struct gw_store_key k;
	int r;

	r = gw_store_meta_get(st, "admin_key", have, sizeof(have), err);
	if (r != DH_E_NOTFOUND)
		return r;
	if (join(path, dir, "admin.credentials") != 0)
		return dh_err_set(err, DH_E_TOOBIG, "state path too long");
	new_key(&k, "admin", admin_policy);
	snprintf(text, sizeof(text), "# deckhand-gateway admin key (region %s)\n"
	    "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
	    region, k.access_key_id, k.secret);
	r = write_file_atomic(path, text, 0600, err);
	dh_wipe(text, sizeof(text));
	if (r == DH_OK)
		r = gw_store_begin(st, err);
	if (r == DH_OK) {
		r = gw_store_key_put(st, &k, err);
		if (r == DH_OK)
			r = gw_store_meta_put(st, "admin_key", k.access_key_id,
			    err);
		if (r == DH_OK)
			r = gw_store_commit(st, err);
		if (r != DH_OK)
			gw_store_rollback(st);
	}
	if (r == DH_OK)
		fprintf(stderr, "deckhand-gateway: admin credentials (shown once)"
		    " written to %s\n", path);
	dh_wipe(&k, sizeof(k));
	return r;
}

static int
ensure_dir(const char *dir, struct dh_err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return DH_OK;
	if (errno != EEXIST)
		return dh_err_set(err, DH_E_IO, "mkdir %s: %s", dir,
		    strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return dh_err_set(err, DH_E_IO, "%s is not a directory", dir);
	return DH_OK;
}

static int
parse_listen(const char *s, char *addr, size_t n, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end = NULL;
	long p;

	if (colon == NULL || (size_t)(colon - s) >= n || colon == s)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
		return -1;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	*port = (int)p;
	return 0;
}

static int
cmd_serve(int argc, char **argv)
{
	const char *state = NULL, *listen = DEFAULT_LISTEN;
	const char *region = DEFAULT_REGION, *names[GW_TLS_MAX_NAMES];
	const char *cert = NULL, *key = NULL;
	long long token_ttl = 0;
	char addr[64], dbpath[PATH_SZ], account[16];
	struct gw_server_config scfg;
	struct gw_api_config acfg;
	struct gw_tls_paths tls;
	struct gw_store *st = NULL;
	struct gw_audit *audit = NULL;
	struct gw_ctrl *ctrl = NULL;
	struct gw_session *sessions = NULL;
	long long minute_ms = 60000;
	char *mend = NULL;
	struct gw_api *api = NULL;
	struct gw_server *srv = NULL;
	struct sigaction sa;
	enum dh_log_level lvl;
	struct dh_err err;
	size_t n_names = 0;
	int i, port, r, rc = 1;

	dh_err_clear(&err);
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "--region") == 0 && i + 1 < argc)
			region = argv[++i];
		else if (strcmp(argv[i], "--session-minute-ms") == 0 &&
		    i + 1 < argc) {
			/* Length of a session-timeout "minute" (tests). */
			minute_ms = strtoll(argv[++i], &mend, 10);
			if (*mend != '\0' || minute_ms < 1 ||
			    minute_ms > 60000) {
				usage();
				return 2;
			}
		}
		else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
			cert = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--token-ttl-seconds") == 0 &&
		    i + 1 < argc) {
			/* Lifetime of issued instance credentials (tests use
			 * short ones to see refreshes). */
			token_ttl = strtoll(argv[++i], &mend, 10);
			if (*mend != '\0' || token_ttl < 10 ||
			    token_ttl > 43200) {
				usage();
				return 2;
			}
		}
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc &&
		    n_names < GW_TLS_MAX_NAMES)
			names[n_names++] = argv[++i];
		else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc &&
		    dh_log_parse_level(argv[i + 1], &lvl) == DH_OK) {
			dh_log_set_level(lvl);
			i++;
		} else {
			usage();
			return 2;
		}
	}
	if (state == NULL || parse_listen(listen, addr, sizeof(addr),
	    &port) != 0) {
		usage();
		return 2;
	}
	if ((cert == NULL) != (key == NULL) || (cert != NULL && n_names > 0)) {
		fprintf(stderr, "deckhand-gateway: --cert and --key go together"
		    " (and --name only applies to the generated certificate)\n");
		return 2;
	}
	r = ensure_dir(state, &err);
	if (r == DH_OK && cert != NULL)
		r = gw_tls_use(cert, key, &tls, &err);
	else if (r == DH_OK)
		r = gw_tls_ensure(state, names, n_names, &tls, &err);
	if (r == DH_OK && join(dbpath, state, "gateway.db") != 0)
		r = dh_err_set(&err, DH_E_TOOBIG, "state path too long");
	if (r == DH_OK)
		r = gw_store_open(dbpath, &st, &err);
	if (r == DH_OK)
		r = ensure_account(st, account, &err);
	if (r == DH_OK)
		r = ensure_admin(st, state, region, &err);
	if (r == DH_OK)
		r = gw_audit_open(gw_store_db(st), state, account, region, &audit,
		    &err);
	if (r == DH_OK)
		r = gw_ctrl_new(st, &ctrl, &err);
	if (r == DH_OK)
		r = gw_session_new(st, ctrl, region, account, dh_time_now_ms(),
		    &sessions, &err);
	if (r == DH_OK)
		gw_relay_set_minute_ms(gw_session_relay(sessions),
		    (int64_t)minute_ms);
	if (r == DH_OK) {
		memset(&acfg, 0, sizeof(acfg));
		acfg.st = st;
		acfg.audit = audit;
		acfg.ctrl = ctrl;
		acfg.region = region;
		acfg.account = account;
		acfg.state_dir = state;
		acfg.sessions = sessions;
		acfg.token_ttl_s = (int64_t)token_ttl;
		r = gw_api_new(&acfg, &api, &err);
	}
	if (r == DH_OK) {
		memset(&scfg, 0, sizeof(scfg));
		scfg.addr = addr;
		scfg.port = port;
		scfg.cert = tls.cert;
		scfg.key = tls.key;
		scfg.api = api;
		scfg.ctrl = ctrl;
		scfg.relay = gw_session_relay(sessions);
		r = gw_server_new(&scfg, &srv, &err);
	}
	if (r != DH_OK) {
		dh_error("startup failed: %s", err.msg);
		goto done;
	}
	g_server = srv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cert != NULL)
		dh_info("listening on https://%s:%d (region %s, account %s) with"
		    " certificate %s (%s); clients trust its issuer", addr,
		    gw_server_port(srv), region, account, tls.cert, tls.subject);
	else
		dh_info("listening on https://%s:%d (region %s, account %s);"
		    " clients trust %s", addr, gw_server_port(srv), region,
		    account, tls.ca_cert);
	if (gw_server_run(srv, &stop_flag) != DH_OK)
		dh_error("event loop failed");
	else
		rc = 0;
	dh_info("shutting down");
	if (gw_audit_deliver(audit, dh_time_now_ms(), &err) != DH_OK)
		dh_warn("final audit delivery failed: %s", err.msg);
done:
	g_server = NULL;
	gw_server_free(srv);
	gw_api_free(api);
	gw_session_free(sessions);
	gw_ctrl_free(ctrl);
	gw_audit_close(audit);
	gw_store_close(st);
	return rc;
}

static int
read_policy(const char *path, char **out, struct dh_err *err)
{
	char *buf;
	size_t n;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return dh_err_set(err, DH_E_IO, "open %s: %s", path,
		    strerror(errno));
	buf = malloc(GW_POLICY_MAX_BYTES + 2);
	if (buf == NULL) {
		fclose(f);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	n = fread(buf, 1, GW_POLICY_MAX_BYTES + 1, f);
	fclose(f);
	if (n > GW_POLICY_MAX_BYTES) {
		free(buf);
		return dh_err_set(err, DH_E_TOOBIG, "policy %s exceeds %d bytes",
		    path, GW_POLICY_MAX_BYTES);
	}
	buf[n] = '\0';
	*out = buf;
	return DH_OK;
}

static int
cmd_keys_create(int argc, char **argv)
{
	const char *state = NULL, *name = NULL, *policy_path = NULL;
	char dbpath[PATH_SZ], date[21], *policy = NULL;
	struct gw_policy *pol = NULL;
	struct gw_store *st = NULL;
	struct gw_store_key k;
	struct dh_err err;
	int i, r;

	dh_err_clear(&err);
	memset(&k, 0, sizeof(k));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			policy_path = argv[++i];
		else {
			usage();
			return 2;
		}
	}
	if (state == NULL || name == NULL || policy_path == NULL ||
	    name[0] == '\0' || strlen(name) > 64) {
		usage();
		return 2;
	}
	r = read_policy(policy_path, &policy, &err);
	if (r == DH_OK)
		r = gw_policy_parse(policy, strlen(policy), &pol, &err);
	if (r == DH_OK && join(dbpath, state, "gateway.db") != 0)
		r = dh_err_set(&err, DH_E_TOOBIG, "state path too long");
	if (r == DH_OK)
		r = gw_store_open(dbpath, &st, &err);
	if (r == DH_OK) {
		new_key(&k, name, policy);
		r = gw_store_key_put(st, &k, &err);
	}
	if (r != DH_OK) {
		fprintf(stderr, "deckhand-gateway: keys create: %s\n", err.msg);
		goto done;
	}
	dh_time_iso((time_t)(k.created_ms / 1000), date);
	printf("{\n    \"AccessKey\": {\n        \"UserName\": \"%s\",\n"
	    "        \"AccessKeyId\": \"%s\",\n        \"Status\": \"Active\",\n"
	    "        \"SecretAccessKey\": \"%s\",\n"
	    "        \"CreateDate\": \"%s\"\n    }\n}\n", k.name,
	    k.access_key_id, k.secret, date);
done:
	dh_wipe(&k, sizeof(k));
	gw_policy_free(pol);
	free(policy);
	gw_store_close(st);
	return r == DH_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	dh_log_set_ident("deckhand-gateway");
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "keys") == 0 &&
	    strcmp(argv[2], "create") == 0)
		return cmd_keys_create(argc - 3, argv + 3);
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0)) {
		printf("deckhand-gateway %s\n", DH_VERSION);
		return 0;
	}
	usage();
	return 2;
}
