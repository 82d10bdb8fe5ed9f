/*
 * cli_session: `deckhand session start` (see cli_session.h).  The only
 * printing happens here (this is top-level CLI code): the session's output
 * goes to stdout, diagnostics and the plugin-style messages to stdout /
 * stderr as session-manager-plugin does.
 */
#define _GNU_SOURCE
#include "cli_session.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "cli_creds.h"
#include "cli_plugin.h"
#include "dh_aws.h"
#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_mgs.h"
#include "dh_mgsrel.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "dh_wsc.h"
#include "dh_wsq.h"
#include "ss_handshake.h"
#include "ss_kms.h"

#define FILE_MAX (1024 * 1024)
#define IN_CHUNK (64 * 1024)
#define CONNECT_MS 15000
#define FRAME_MAX (8 * 1024 * 1024)
#define TOKEN_MAX 8192
#define URL_MAX 2048
#define RESUME_TRIES 8
/* The data-channel feature level we implement: the agent gates behaviour
 * on the plugin's version (mgs-protocol.md section 11), so we report the
 * plugin release whose protocol this client follows. */
#define CLIENT_VERSION "1.2.677.0"
#define DOC_DEFAULT "SSM-SessionManagerRunShell"

/* ---------------------------------------------------------------- INI */

static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' ||
	    (*e)[-1] == '\r'))
		(*e)--;
}

int
cli_session_ini_get(const char *p, size_t n, const char *section,
    const char *key, char *out, size_t outsz)
{
	const char *end = p + n, *line = p, *nl, *s, *e, *eq;
	int in = 0;

	if (outsz > 0)
		out[0] = '\0';
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		s = line;
		e = nl;
		line = nl < end ? nl + 1 : end;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *a = s + 1, *b = memchr(s, ']',
			    (size_t)(e - s));

			if (b == NULL) {
				in = 0;
				continue;
			}
			trim(&a, &b);
			in = (size_t)(b - a) == strlen(section) &&
			    memcmp(a, section, (size_t)(b - a)) == 0;
			continue;
		}
		if (!in)
			continue;
		eq = memchr(s, '=', (size_t)(e - s));
		if (eq == NULL)
			continue;
		{
			const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;

			trim(&ks, &ke);
			trim(&vs, &ve);
			if ((size_t)(ke - ks) != strlen(key) ||
			    memcmp(ks, key, (size_t)(ke - ks)) != 0)
				continue;
			if ((size_t)(ve - vs) >= outsz)
				return DH_E_TOOBIG;
			memcpy(out, vs, (size_t)(ve - vs));
			out[ve - vs] = '\0';
			return DH_OK;
		}
	}
	return DH_E_NOTFOUND;
}

/* Read a whole small file into b (bounded). */
static int
read_file(const char *path, struct dh_buf *b)
{
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = DH_OK;

	if (fd < 0)
		return DH_E_NOTFOUND;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (dh_buf_put(b, chunk, (size_t)n) != DH_OK) {
			rc = DH_E_TOOBIG;
			break;
		}
	if (n < 0)
		rc = DH_E_IO;
	close(fd);
	return rc;
}

/* ----------------------------------------------------------- settings */

struct opts {
	const char *target;
	const char *endpoint;
	const char *profile;
	const char *region;
	const char *document;
	const char *parameters;
	const char *reason;
};

struct creds {
	char access[256];
	char secret[256];
	char token[4096];
	char region[64];
};

static int
home_path(const char *env, const char *rel, char *out, size_t outsz)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v != NULL && v[0] != '\0')
		return (size_t)snprintf(out, outsz, "%s", v) < outsz ? 0 : -1;
	if (home == NULL || home[0] == '\0')
		return -1;
	return (size_t)snprintf(out, outsz, "%s/%s", home, rel) < outsz ? 0 :
	    -1;
}

/* Read key from the profile's section of the config file (sections are
 * "default" and "profile NAME" there). */
static void
config_get(const struct dh_buf *cfg, const char *profile, const char *key,
    char *out, size_t outsz)
{
	char section[300];

	if (cfg->len == 0)
		return;
	if (strcmp(profile, "default") == 0)
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", profile);
	(void)cli_session_ini_get((const char *)cfg->d, cfg->len, section, key,
	    out, outsz);
}

/* Credentials as botocore finds them: environment (unless --profile),
 * the shared credentials file, the profile's credential_process, then keys
 * in the config file.  Region: --region, AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's region. */
static int
load_creds(const struct opts *o, struct creds *c)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *st = getenv("AWS_SESSION_TOKEN");
	const char *profile = o->profile;
	const char *r;
	char path[1024], proc[2048] = "";
	struct cli_creds_keys keys;
	struct dh_buf f, cfg;
	struct dh_err e;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (profile == NULL || profile[0] == '\0')
		profile = getenv("AWS_PROFILE");
	if (profile == NULL || profile[0] == '\0')
		profile = "default";
	dh_buf_init_secret(&f, FILE_MAX);
	dh_buf_init_secret(&cfg, FILE_MAX);
	if (home_path("AWS_CONFIG_FILE", ".aws/config", path,
	    sizeof(path)) != 0 || read_file(path, &cfg) != DH_OK)
		dh_buf_reset(&cfg);
	if (o->profile == NULL && ak != NULL && ak[0] != '\0' && sk != NULL &&
	    sk[0] != '\0') {
		snprintf(c->access, sizeof(c->access), "%s", ak);
		snprintf(c->secret, sizeof(c->secret), "%s", sk);
		snprintf(c->token, sizeof(c->token), "%s", st != NULL ? st : "");
	} else {
		if (home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials",
		    path, sizeof(path)) == 0 && read_file(path, &f) == DH_OK) {
			(void)cli_session_ini_get((const char *)f.d, f.len,
			    profile, "aws_access_key_id", c->access,
			    sizeof(c->access));
			(void)cli_session_ini_get((const char *)f.d, f.len,
			    profile, "aws_secret_access_key", c->secret,
			    sizeof(c->secret));
			(void)cli_session_ini_get((const char *)f.d, f.len,
			    profile, "aws_session_token", c->token,
			    sizeof(c->token));
			(void)cli_session_ini_get((const char *)f.d, f.len,
			    profile, "credential_process", proc, sizeof(proc));
		}
		if (c->access[0] == '\0' || c->secret[0] == '\0') {
			if (proc[0] == '\0')
				config_get(&cfg, profile, "credential_process",
				    proc, sizeof(proc));
			if (proc[0] != '\0') {
				dh_err_clear(&e);
				if (cli_creds_process(proc, dh_time_now(), &keys,
				    &e) != DH_OK) {
					fprintf(stderr, "deckhand: profile %s: "
					    "%s\n", profile, e.msg);
					goto out;
				}
				snprintf(c->access, sizeof(c->access), "%s",
				    keys.access);
				snprintf(c->secret, sizeof(c->secret), "%s",
				    keys.secret);
				snprintf(c->token, sizeof(c->token), "%s",
				    keys.token);
				dh_wipe(&keys, sizeof(keys));
			}
		}
		if (c->access[0] == '\0' || c->secret[0] == '\0') {
			config_get(&cfg, profile, "aws_access_key_id",
			    c->access, sizeof(c->access));
			config_get(&cfg, profile, "aws_secret_access_key",
			    c->secret, sizeof(c->secret));
			config_get(&cfg, profile, "aws_session_token",
			    c->token, sizeof(c->token));
		}
	}
	r = o->region;
	if (r == NULL || r[0] == '\0')
		r = getenv("AWS_REGION");
	if (r == NULL || r[0] == '\0')
		r = getenv("AWS_DEFAULT_REGION");
	if (r != NULL && r[0] != '\0')
		snprintf(c->region, sizeof(c->region), "%s", r);
	else
		config_get(&cfg, profile, "region", c->region,
		    sizeof(c->region));
	if (c->access[0] == '\0' || c->secret[0] == '\0') {
		fprintf(stderr, "deckhand: no AWS credentials (set"
		    " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or configure"
		    " profile %s)\n", profile);
		goto out;
	}
	if (c->region[0] == '\0') {
		fprintf(stderr, "deckhand: no region (use --region or"
		    " AWS_REGION)\n");
		goto out;
	}
	(void)dh_log_secret_add(c->secret);
	if (c->token[0] != '\0')
		(void)dh_log_secret_add(c->token);
	rc = 0;
out:
	dh_buf_free(&cfg);
	dh_buf_free(&f);
	return rc;
}

/* ----------------------------------------------------------- terminal */

static struct termios g_saved;
static int g_raw;
static int g_stdin_flags = -1, g_stdout_flags = -1;

static void
term_restore(void)
{
	if (g_raw) {
		(void)tcsetattr(0, TCSADRAIN, &g_saved);
		g_raw = 0;
	}
	if (g_stdin_flags >= 0)
		(void)fcntl(0, F_SETFL, g_stdin_flags);
	if (g_stdout_flags >= 0)
		(void)fcntl(1, F_SETFL, g_stdout_flags);
}

static void
term_raw(void)
{
	struct termios t;

	g_stdin_flags = fcntl(0, F_GETFL);
	g_stdout_flags = fcntl(1, F_GETFL);
	if (!isatty(0) || tcgetattr(0, &g_saved) != 0)
		return;
	t = g_saved;
	cfmakeraw(&t);
	/* TCSADRAIN, not TCSAFLUSH: keystrokes typed while the session was
	 * being set up are kept and sent, not discarded */
	if (tcsetattr(0, TCSADRAIN, &t) == 0)
		g_raw = 1;
}

/* ------------------------------------------------------------ session */

enum cstate { C_WAIT = 0, C_RUNNING, C_DONE };

/* Port sessions (the HandshakeRequest's SessionType Port): stdio carries
 * the forwarded bytes (ssh ProxyCommand), or a local listener takes one
 * TCP client at a time (LocalPortForwarding, basic mode: deckhand-agent
 * reports a version below 3.0.196.0, so no smux). */
enum cport { PORT_NONE = 0, PORT_STDIO, PORT_LOCAL };


struct client {
	struct opts o;
	struct creds cr;
	struct dh_http_client *http;
	struct dh_aws_client aws;
	char ssm_url[URL_MAX];
	char kms_url[URL_MAX];
	char sid[256];
	char stream_url[URL_MAX];
	struct dh_buf token;              /* secret */
	char client_id[DH_UUID_STRLEN + 1];
	int tls;
	char host[256], hostport[300], path[URL_MAX];
	int port;
	const char *ca;                   /* AWS_CA_BUNDLE or NULL */
	struct dh_wsc *ws;                /* the data channel, NULL when down */
	int ws_up;
	int stdin_on;                     /* stdin is polled */
	int64_t reconnect_ms;             /* next connect attempt, -1 none */
	struct dh_wsq outq;        /* framed and masked, ready for the socket */
	struct dh_buf sbuf;
	struct dh_mgsrel *rel;
	struct ss_kms kms;
	int kms_on;
	int state;
	int stdin_eof;
	int resumes;
	int exit_code;
	int finish;
	unsigned char *ibuf;
	int pmode;                        /* enum cport */
	int in_fd, out_fd;                /* stream ends: stdio or the local
	                                   * client (-1 = none yet) */
	int lfd;                          /* PORT_LOCAL listener, -1 = none */
	int banner;                       /* "Starting session" printed */
	int port_error;                   /* the agent could not connect */
};

static volatile sig_atomic_t g_winch, g_term, g_intr;

static void
on_signal(int sig)
{
	if (sig == SIGWINCH)
		g_winch = 1;
	else if (sig == SIGINT)
		g_intr = 1;
	else
		g_term = 1;
}

static int64_t
now_ms(void)
{
	return dh_time_mono_ms();
}

static void pump(struct client *c);

static void
done(struct client *c, int code)
{
	if (c->state == C_DONE)
		return;
	c->state = C_DONE;
	c->exit_code = code;
	c->finish = 1;
}

static void
outq_clear(struct client *c)
{
	dh_wsq_clear(&c->outq);
}

static int
outq_push(struct client *c, int binary, const void *p, size_t n, int front)
{
	return dh_wsq_push(&c->outq, binary ? DH_WSQ_BINARY : DH_WSQ_TEXT, p,
	    n, front);
}

/* Write all of p to stdout (which may share a non-blocking tty). */
static void
out_write_fd(int fd, const void *pv, size_t n)
{
	const unsigned char *p = pv;
	ssize_t w;

	while (n > 0 && fd >= 0) {
		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = { fd, POLLOUT, 0 };

			(void)poll(&pf, 1, 1000);
		} else
			return;
	}
}

static void
out_write(const void *pv, size_t n)
{
	out_write_fd(1, pv, n);
}

static int
rel_send(struct client *c, uint32_t ptype, const void *p, size_t n)
{
	struct dh_err e;
	int rc = dh_mgsrel_send(c->rel, ptype, p, n, now_ms(), &e);

	if (rc != DH_OK && c->state != C_DONE) {
		term_restore();
		fprintf(stderr, "\r\ndeckhand: cannot send: %s\r\n", e.msg);
	}
	return rc;
}

static void
send_size(struct client *c)
{
	struct winsize ws;
	struct dh_buf b;
	uint32_t cols = 300, rows = 100;

	if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		cols = ws.ws_col;
		rows = ws.ws_row;
	}
	dh_buf_init(&b, 128);
	if (dh_mgs_size_build(cols, rows, &b, NULL) == DH_OK)
		(void)rel_send(c, DH_MGS_PT_SIZE, b.d, b.len);
	dh_buf_free(&b);
}

static void
start_running(struct client *c)
{
	if (c->state != C_WAIT)
		return;
	c->state = C_RUNNING;
	if (c->pmode == PORT_NONE)
		send_size(c);
	c->stdin_on = !c->stdin_eof;
}

static void
send_input(struct client *c, const unsigned char *p, size_t n)
{
	struct dh_err e;

	if (!c->kms_on) {
		(void)rel_send(c, DH_MGS_PT_OUTPUT, p, n);
		return;
	}
	dh_buf_reset(&c->sbuf);
	if (ss_kms_seal(&c->kms, p, n, &c->sbuf, &e) == DH_OK)
		(void)rel_send(c, DH_MGS_PT_OUTPUT, c->sbuf.d, c->sbuf.len);
}

static void
send_flag(struct client *c, uint32_t flag)
{
	struct dh_buf b;

	dh_buf_init(&b, 16);
	if (dh_mgs_flag_build(flag, &b, NULL) == DH_OK)
		(void)rel_send(c, DH_MGS_PT_FLAG, b.d, b.len);
	dh_buf_free(&b);
	pump(c);
}

/* "Starting session…", once the session type is known: not for a stdio
 * port session, whose stdout is the forwarded stream. */
static void
banner(struct client *c)
{
	if (c->banner)
		return;
	c->banner = 1;
	if (c->pmode == PORT_STDIO)
		return;
	printf("\nStarting session with SessionId: %s\n", c->sid);
	if (c->pmode == PORT_LOCAL) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);

		if (getsockname(c->lfd, (struct sockaddr *)&a, &len) == 0)
			printf("Port %u opened for sessionId %s.\nWaiting for"
			    " connections...\n", (unsigned)ntohs(a.sin_port),
			    c->sid);
	}
	fflush(stdout);
}

/* The PORT_LOCAL listener on 127.0.0.1:port (0 = any free port). */
static int
port_listen(struct client *c, const char *props, char *why, size_t whysz)
{
	cJSON *j = cJSON_Parse(props);
	const cJSON *lp = cJSON_GetObjectItem(j, "localPortNumber");
	struct sockaddr_in a;
	long port = 0;
	char *end = NULL;
	int one = 1;

	int bad = 0;

	if (cJSON_IsString(lp) && lp->valuestring[0] != '\0') {
		port = strtol(lp->valuestring, &end, 10);
		bad = *end != '\0';
	}
	cJSON_Delete(j);
	if (bad || port < 0 || port > 65535) {
		snprintf(why, whysz, "localPortNumber is not a port");
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd < 0 || setsockopt(c->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(c->lfd, (struct sockaddr *)&a,
	    sizeof(a)) != 0 || listen(c->lfd, 8) != 0) {
		snprintf(why, whysz, "cannot listen on localhost port %ld: %s",
		    port, strerror(errno));
		if (c->lfd >= 0)
			close(c->lfd);
		c->lfd = -1;
		return -1;
	}
	return 0;
}

static void
port_accept(struct client *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c->in_fd = c->out_fd = fd;
	c->stdin_on = 1;
	c->stdin_eof = 0;
}

static void
stdin_readable(struct client *c)
{
	ssize_t n;

	n = read(c->in_fd, c->ibuf, IN_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 && c->pmode == PORT_LOCAL) {
		/* the local client left: the agent drops its connection and
		 * redials when the next client sends */
		close(c->in_fd);
		c->in_fd = c->out_fd = -1;
		send_flag(c, DH_MGS_FLAG_DISCONNECT_TO_PORT);
		return;
	}
	if (n <= 0) {
		c->stdin_eof = 1;
		c->stdin_on = 0;
		if (c->pmode == PORT_STDIO)  /* ssh is done with the stream */
			send_flag(c, DH_MGS_FLAG_TERMINATE_SESSION);
		return;
	}
	send_input(c, c->ibuf, (size_t)n);
	pump(c);
}

/* ---------------------------------------------------------- handshake */

static int
generate_data_key(struct client *c, const char *key_id,
    struct ss_hs_response *r, unsigned char dk[SS_KMS_DATAKEY_LEN],
    char *why, size_t whysz)
{
	cJSON *req = cJSON_CreateObject(), *ctx, *resp = NULL;
	const cJSON *ct;
	struct dh_aws_error ae;
	struct dh_buf blob;
	struct dh_err e;
	int rc = -1;

	dh_buf_init(&blob, SS_HS_CT_MAX);
	dh_err_clear(&e);
	if (req == NULL || cJSON_AddStringToObject(req, "KeyId", key_id) ==
	    NULL || cJSON_AddNumberToObject(req, "NumberOfBytes", 64) == NULL ||
	    (ctx = cJSON_AddObjectToObject(req, "EncryptionContext")) == NULL ||
	    cJSON_AddStringToObject(ctx, "aws:ssm:SessionId", c->sid) == NULL ||
	    cJSON_AddStringToObject(ctx, "aws:ssm:TargetId", c->o.target) ==
	    NULL) {
		snprintf(why, whysz, "out of memory");
		goto out;
	}
	memset(&ae, 0, sizeof(ae));
	if (dh_aws_json_call(&c->aws, c->kms_url, "kms", c->cr.region,
	    "TrentService.GenerateDataKey", req, &resp, &ae, &e) != DH_OK) {
		snprintf(why, whysz, "GenerateDataKey: %s", e.msg);
		goto out;
	}
	ct = cJSON_GetObjectItem(resp, "CiphertextBlob");
	if (ss_kms_take_data_key(resp, dk, &e) != DH_OK ||
	    !cJSON_IsString(ct) ||
	    dh_b64_decode(ct->valuestring, strlen(ct->valuestring), &blob) !=
	    DH_OK || blob.len == 0) {
		snprintf(why, whysz, "GenerateDataKey: unusable answer");
		goto out;
	}
	memcpy(r->kms_ct, blob.d, blob.len);
	r->kms_ct_len = blob.len;
	rc = 0;
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	dh_buf_free(&blob);
	return rc;
}

/* A Port session: stdio when properties.type is absent, a local listener
 * for LocalPortForwarding; anything else is refused in the response. */
static void
port_mode(struct client *c, const struct ss_hs_request *q,
    struct ss_hs_response *r)
{
	cJSON *j = q->properties[0] != '\0' ? cJSON_Parse(q->properties) : NULL;
	const cJSON *t = cJSON_GetObjectItem(j, "type");
	const char *type = cJSON_IsString(t) ? t->valuestring : "";

	term_restore();   /* the stream is bytes, not a terminal */
	if (type[0] == '\0')
		c->pmode = PORT_STDIO;
	else if (strcmp(type, "LocalPortForwarding") == 0) {
		c->pmode = PORT_LOCAL;
		c->in_fd = c->out_fd = -1;
		if (port_listen(c, q->properties, r->error,
		    sizeof(r->error)) != 0)
			r->session_type_status = SS_HS_STATUS_FAILED;
	} else {
		r->session_type_status = SS_HS_STATUS_UNSUPPORTED;
		snprintf(r->error, sizeof(r->error), "port forwarding type"
		    " %.100s is not supported by deckhand", type);
	}
	if (r->session_type_status != SS_HS_STATUS_SUCCESS)
		fprintf(stderr, "deckhand: %s\n", r->error);
	cJSON_Delete(j);
}

static void
on_hs_request(struct client *c, const unsigned char *p, size_t n)
{
	static struct ss_hs_response r;
	struct ss_hs_request q;
	unsigned char dk[SS_KMS_DATAKEY_LEN];
	struct dh_buf b;
	struct dh_err e;

	dh_buf_init(&b, SS_HS_JSON_MAX);
	memset(&r, 0, sizeof(r));
	snprintf(r.client_version, sizeof(r.client_version), "%s",
	    CLIENT_VERSION);
	if (ss_hs_request_parse(p, n, &q, &e) != DH_OK) {
		term_restore();
		fprintf(stderr, "deckhand: bad HandshakeRequest: %s\n", e.msg);
		done(c, 1);
		goto out;
	}
	if (q.session_type[0] != '\0') {
		r.has_session_type = 1;
		r.session_type_status = SS_HS_STATUS_SUCCESS;
		if (strcmp(q.session_type, "Port") == 0)
			port_mode(c, &q, &r);
	}
	banner(c);
	if (q.kms) {
		r.has_kms = 1;
		if (generate_data_key(c, q.kms_key_id, &r, dk, r.error,
		    sizeof(r.error)) == 0 &&
		    ss_kms_init(&c->kms, SS_KMS_CLIENT, dk, &e) == DH_OK)
			r.kms_status = SS_HS_STATUS_SUCCESS;
		else
			r.kms_status = SS_HS_STATUS_FAILED;
		dh_wipe(dk, sizeof(dk));
	}
	if (ss_hs_response_build(&r, &b, &e) == DH_OK)
		(void)rel_send(c, DH_MGS_PT_HS_RESPONSE, b.d, b.len);
	if (r.has_kms && r.kms_status != SS_HS_STATUS_SUCCESS) {
		term_restore();
		fprintf(stderr, "deckhand: session encryption failed: %s\n",
		    r.error);
	}
out:
	dh_wipe(&r, sizeof(r));
	dh_buf_free(&b);
}

static void
on_challenge(struct client *c, const unsigned char *p, size_t n)
{
	struct dh_buf blob, plain, sealed, msg;
	struct dh_err e;

	dh_buf_init(&blob, SS_HS_BLOB_MAX);
	dh_buf_init_secret(&plain, SS_HS_BLOB_MAX);
	dh_buf_init(&sealed, SS_HS_BLOB_MAX);
	dh_buf_init(&msg, 2 * SS_HS_BLOB_MAX);
	if (ss_hs_challenge_parse(p, n, &blob, &e) != DH_OK ||
	    ss_kms_open(&c->kms, blob.d, blob.len, &plain, &e) != DH_OK ||
	    ss_kms_seal(&c->kms, plain.d, plain.len, &sealed, &e) != DH_OK ||
	    ss_hs_challenge_build(sealed.d, sealed.len, &msg, &e) != DH_OK) {
		term_restore();
		fprintf(stderr, "deckhand: encryption challenge failed: %s\n",
		    e.msg);
	} else
		(void)rel_send(c, DH_MGS_PT_ENC_CHALLENGE_RESP, msg.d, msg.len);
	dh_buf_free(&blob);
	dh_buf_free(&plain);
	dh_buf_free(&sealed);
	dh_buf_free(&msg);
}

static void
on_hs_complete(struct client *c, const unsigned char *p, size_t n)
{
	char msg[SS_HS_MSG_MAX];
	int64_t ns;

	if (ss_hs_complete_parse(p, n, &ns, msg, sizeof(msg), NULL) == DH_OK &&
	    msg[0] != '\0') {
		out_write(msg, strlen(msg));
		out_write("\r\n", 2);
	}
	c->kms_on = c->kms.seal_ctx != NULL;
	start_running(c);
}

/* -------------------------------------------------------- dispatching */

static void
on_data(struct client *c, const struct dh_mgs_msg *m)
{
	struct dh_err e;
	uint32_t flag;

	switch (m->ptype) {
	case DH_MGS_PT_HS_REQUEST:
		on_hs_request(c, m->payload, m->payload_len);
		return;
	case DH_MGS_PT_ENC_CHALLENGE_REQ:
		on_challenge(c, m->payload, m->payload_len);
		return;
	case DH_MGS_PT_HS_COMPLETE:
		on_hs_complete(c, m->payload, m->payload_len);
		return;
	case DH_MGS_PT_FLAG:
		if (dh_mgs_flag_parse(m->payload, m->payload_len, &flag, &e) ==
		    DH_OK && flag == DH_MGS_FLAG_CONNECT_TO_PORT_ERROR &&
		    !c->port_error) {
			c->port_error = 1;
			fprintf(stderr, "deckhand: Connection to destination port"
			    " failed, check the agent's log.\n");
		}
		return;
	case DH_MGS_PT_OUTPUT:
	case DH_MGS_PT_STDERR:
	case DH_MGS_PT_EXITCODE:
		/* use the payload before start_running: sending invalidates it */
		banner(c);
		if (!c->kms_on)
			out_write_fd(c->out_fd, m->payload, m->payload_len);
		else {
			dh_buf_reset(&c->sbuf);
			if (ss_kms_open(&c->kms, m->payload, m->payload_len,
			    &c->sbuf, &e) == DH_OK)
				out_write_fd(c->out_fd, c->sbuf.d,
				    c->sbuf.len);
		}
		if (c->state == C_WAIT)
			start_running(c);
		return;
	default:
		return;
	}
}

static void
on_closed(struct client *c, const struct dh_mgs_msg *m)
{
	cJSON *j = NULL;
	const cJSON *o, *x;
	char line[1024], *end;
	long code = 0;

	term_restore();
	if (dh_json_parse(m->payload, m->payload_len, 64 * 1024, &j, NULL) !=
	    DH_OK)
		j = NULL;
	o = cJSON_GetObjectItem(j, "Output");
	if (cJSON_IsString(o) && o->valuestring[0] != '\0')
		snprintf(line, sizeof(line), "\n\nSessionId: %.200s : %.700s\n\n",
		    c->sid, o->valuestring);
	else
		snprintf(line, sizeof(line),
		    "\n\nExiting session with sessionId: %s.\n\n", c->sid);
	/* the shell's exit status, when the service passes it on (deckhand's
	 * gateway does; AWS does not, and then the exit status is 0) */
	x = cJSON_GetObjectItem(j, "ExitCode");
	if (cJSON_IsString(x) && x->valuestring[0] != '\0') {
		code = strtol(x->valuestring, &end, 10);
		if (*end != '\0' || code < 0 || code > 255)
			code = 0;
	}
	cJSON_Delete(j);
	if (c->pmode == PORT_NONE)
		out_write(line, strlen(line));
	else
		out_write_fd(2, line, strlen(line));
	done(c, code == 0 && c->port_error ? 1 : (int)code);
}

static void
pump(struct client *c)
{
	struct dh_mgsrel_ev ev;

	while (c->state != C_DONE && dh_mgsrel_next(c->rel, &ev)) {
		switch (ev.kind) {
		case DH_MGSREL_EV_FRAME:
			if (c->ws_up)
				(void)outq_push(c, 1, ev.frame, ev.frame_len, 0);
			break;
		case DH_MGSREL_EV_DATA:
			on_data(c, &ev.msg);
			break;
		case DH_MGSREL_EV_MESSAGE:
			if (dh_mgs_is(&ev.msg, DH_MGS_T_CHANNEL_CLOSED))
				on_closed(c, &ev.msg);
			break;
		default:
			break;
		}
	}
}

/* ---------------------------------------------------------- transport */

static int
parse_stream_url(struct client *c)
{
	const char *u = c->stream_url, *h, *slash, *colon;
	long port;
	size_t hn;
	char *e;

	if (strncmp(u, "wss://", 6) == 0) {
		c->tls = 1;
		h = u + 6;
		port = 443;
	} else if (strncmp(u, "ws://", 5) == 0) {
		c->tls = 0;
		h = u + 5;
		port = 80;
	} else
		return -1;
	slash = strchr(h, '/');
	if (slash == NULL)
		slash = h + strlen(h);
	colon = memchr(h, ':', (size_t)(slash - h));
	hn = (size_t)((colon != NULL ? colon : slash) - h);
	if (hn == 0 || hn >= sizeof(c->host) || h[0] == '[')
		return -1;
	memcpy(c->host, h, hn);
	c->host[hn] = '\0';
	if (colon != NULL) {
		port = strtol(colon + 1, &e, 10);
		if (e != slash || port <= 0 || port > 65535)
			return -1;
	}
	c->port = (int)port;
	if ((c->tls && port == 443) || (!c->tls && port == 80))
		snprintf(c->hostport, sizeof(c->hostport), "%s", c->host);
	else
		snprintf(c->hostport, sizeof(c->hostport), "%s:%ld", c->host,
		    port);
	snprintf(c->path, sizeof(c->path), "%s", *slash != '\0' ? slash : "/");
	return 0;
}

/* StartSession or ResumeSession: 0, -1 when refused or unusable, -2 when
 * the service could not be reached (network, TLS, throttling or 5xx), which
 * a reconnecting client retries. */
static int
ssm_call(struct client *c, int resume)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL, *params = NULL;
	const cJSON *sid, *tok, *url;
	struct dh_aws_error ae;
	struct dh_err e;
	int rc = -1;

	dh_err_clear(&e);
	memset(&ae, 0, sizeof(ae));
	if (req == NULL)
		goto out;
	if (resume) {
		if (cJSON_AddStringToObject(req, "SessionId", c->sid) == NULL)
			goto out;
	} else {
		if (cJSON_AddStringToObject(req, "Target", c->o.target) == NULL)
			goto out;
		if (c->o.document != NULL && cJSON_AddStringToObject(req,
		    "DocumentName", c->o.document) == NULL)
			goto out;
		if (c->o.reason != NULL && cJSON_AddStringToObject(req,
		    "Reason", c->o.reason) == NULL)
			goto out;
		if (c->o.parameters != NULL) {
			if (dh_json_parse(c->o.parameters,
			    strlen(c->o.parameters), 64 * 1024, &params, &e) !=
			    DH_OK || !cJSON_IsObject(params)) {
				fprintf(stderr, "deckhand: --parameters must be"
				    " a JSON object: %s\n", e.msg);
				cJSON_Delete(params);
				goto out;
			}
			cJSON_AddItemToObject(req, "Parameters", params);
		}
	}
	if (dh_aws_json_call(&c->aws, c->ssm_url, "ssm", c->cr.region,
	    resume ? "AmazonSSM.ResumeSession" : "AmazonSSM.StartSession", req,
	    &resp, &ae, &e) != DH_OK) {
		if (resume && (e.code != DH_E_SERVICE || ae.http_status >= 500 ||
		    strstr(ae.code, "Throttl") != NULL)) {
			rc = -2;
			goto out;
		}
		term_restore();
		fprintf(stderr, "deckhand: %s: %s\n", resume ? "ResumeSession" :
		    "StartSession", e.msg);
		goto out;
	}
	sid = cJSON_GetObjectItem(resp, "SessionId");
	tok = cJSON_GetObjectItem(resp, "TokenValue");
	url = cJSON_GetObjectItem(resp, "StreamUrl");
	if (!cJSON_IsString(tok) || strlen(tok->valuestring) > TOKEN_MAX) {
		fprintf(stderr, "deckhand: %s answer has no usable TokenValue\n",
		    resume ? "ResumeSession" : "StartSession");
		goto out;
	}
	if (resume && tok->valuestring[0] == '\0') {
		term_restore();
		fprintf(stderr, "Session: %s timed out.\n", c->sid);
		goto out;
	}
	if (!resume && (!cJSON_IsString(sid) || !cJSON_IsString(url) ||
	    strlen(sid->valuestring) >= sizeof(c->sid) ||
	    strlen(url->valuestring) >= sizeof(c->stream_url))) {
		fprintf(stderr, "deckhand: StartSession answer incomplete\n");
		goto out;
	}
	if (!resume) {
		snprintf(c->sid, sizeof(c->sid), "%s", sid->valuestring);
		snprintf(c->stream_url, sizeof(c->stream_url), "%s",
		    url->valuestring);
	}
	dh_buf_reset(&c->token);
	if (dh_buf_put_str(&c->token, tok->valuestring) != DH_OK)
		goto out;
	dh_wipe(tok->valuestring, strlen(tok->valuestring));
	rc = 0;
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

static int
open_frame(struct client *c, struct dh_buf *out)
{
	cJSON *j = cJSON_CreateObject(), *tv;
	struct dh_uuid u;
	char uid[DH_UUID_STRLEN + 1];
	int rc = DH_E_NOMEM;

	if (dh_uuid_v4(&u) != DH_OK) {
		cJSON_Delete(j);
		return DH_E_CRYPTO;
	}
	dh_uuid_fmt(&u, uid);
	if (j != NULL &&
	    cJSON_AddStringToObject(j, "MessageSchemaVersion", "1.0") != NULL &&
	    cJSON_AddStringToObject(j, "RequestId", uid) != NULL &&
	    cJSON_AddStringToObject(j, "TokenValue", dh_buf_cstr(&c->token)) !=
	    NULL &&
	    cJSON_AddStringToObject(j, "ClientId", c->client_id) != NULL &&
	    cJSON_AddStringToObject(j, "ClientVersion", CLIENT_VERSION) != NULL)
		rc = dh_json_print(j, out);
	tv = j != NULL ? cJSON_GetObjectItemCaseSensitive(j, "TokenValue") :
	    NULL;
	if (cJSON_IsString(tv))
		dh_wipe(tv->valuestring, strlen(tv->valuestring));
	cJSON_Delete(j);
	return rc;
}

static void
ws_down(struct client *c, const char *why)
{
	long d;

	dh_wsc_free(c->ws);
	c->ws = NULL;
	c->ws_up = 0;
	outq_clear(c);
	if (c->state == C_DONE)
		return;
	if (++c->resumes > RESUME_TRIES) {
		term_restore();
		fprintf(stderr, "\r\ndeckhand: data channel lost (%s)\r\n", why);
		done(c, 1);
		return;
	}
	d = 100L << (c->resumes < 6 ? c->resumes : 6);
	c->reconnect_ms = now_ms() + (d > 5000 ? 5000 : d);
}

/* Write what the socket takes now; a failure takes the channel down. */
static void
flush(struct client *c)
{
	struct dh_err e;

	dh_err_clear(&e);
	if (c->ws != NULL && dh_wsq_head(&c->outq) != NULL &&
	    dh_wsc_write(c->ws, &c->outq, NULL, &e) != DH_OK)
		ws_down(c, e.msg);
}

static void
on_ws_message(void *arg, int text, const unsigned char *p, size_t n)
{
	struct client *c = arg;
	struct dh_err e;

	(void)text;
	(void)dh_mgsrel_feed(c->rel, p, n, now_ms(), &e);
	pump(c);
}

/* Connect (after ResumeSession when reconnecting) and send the opening
 * text frame; the channel counts as up once that frame is written. */
static void
ws_connect(struct client *c)
{
	struct dh_wsc_cfg cfg;
	struct dh_buf b;
	struct dh_err e;
	char proxy[URL_MAX];
	int rc;

	c->reconnect_ms = -1;
	if (c->resumes > 0) {
		rc = ssm_call(c, 1);
		if (rc == -2) {
			/* service unreachable: one more failed reconnect */
			ws_down(c, "ResumeSession: service unreachable");
			return;
		}
		if (rc != 0) {
			done(c, 1);
			return;
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = c->host;
	cfg.port = c->port;
	cfg.tls = c->tls;
	cfg.host_header = c->hostport;
	cfg.path = c->path;
	cfg.ca_file = c->ca;
	cfg.timeout_ms = CONNECT_MS;
	cfg.max_message = FRAME_MAX;
	if (dh_wsc_env_proxy(c->host, proxy, sizeof(proxy)))
		cfg.proxy = proxy;
	dh_err_clear(&e);
	outq_clear(c);
	if (dh_wsc_connect(&cfg, &c->ws, &e) != DH_OK) {
		ws_down(c, e.msg);
		return;
	}
	dh_buf_init_secret(&b, TOKEN_MAX + 1024);
	rc = open_frame(c, &b);
	if (rc == DH_OK)
		rc = outq_push(c, 0, b.d, b.len, 1);
	dh_buf_free(&b);
	while (rc == DH_OK && c->ws != NULL && dh_wsq_head(&c->outq) != NULL) {
		rc = dh_wsc_write(c->ws, &c->outq, NULL, &e);
		if (rc == DH_OK && dh_wsq_head(&c->outq) != NULL) {
			struct pollfd pf = { dh_wsc_fd(c->ws), POLLOUT, 0 };

			(void)poll(&pf, 1, 1000);
		}
	}
	if (rc != DH_OK) {
		ws_down(c, e.msg[0] != '\0' ? e.msg : "cannot send the token");
		return;
	}
	c->ws_up = 1;
	c->resumes = 0;
	(void)dh_mgsrel_tick(c->rel, now_ms());
	pump(c);
}

static void
on_signals(struct client *c)
{
	if (c->state != C_RUNNING)
		return;
	if (g_winch) {
		g_winch = 0;
		send_size(c);
		pump(c);
	}
	if (g_intr) {
		g_intr = 0;
		if (c->pmode != PORT_NONE)
			send_flag(c, DH_MGS_FLAG_TERMINATE_SESSION);
		else
			send_input(c, (const unsigned char *)"\x03", 1);
		pump(c);
	}
}

/* Milliseconds until the next timer (reliability layer or reconnect). */
static int
next_timeout(struct client *c)
{
	int64_t now = now_ms(), dl = dh_mgsrel_deadline(c->rel), t = -1;

	if (dl >= 0)
		t = dl;
	if (c->reconnect_ms >= 0 && (t < 0 || c->reconnect_ms < t))
		t = c->reconnect_ms;
	if (t < 0)
		return 60000;
	return t <= now ? 0 : t - now > 60000 ? 60000 : (int)(t - now);
}

/* The event loop: the data channel, stdin and timers.  The signals that
 * matter are blocked except inside ppoll, so none is missed. */
static void
run(struct client *c, const sigset_t *waitmask)
{
	struct pollfd pf[3];
	struct timespec ts;
	struct dh_err e;
	int n, t, ws_i, in_i, l_i;

	c->reconnect_ms = now_ms();
	while (!c->finish && !g_term) {
		on_signals(c);
		if (c->ws == NULL && c->reconnect_ms >= 0 &&
		    now_ms() >= c->reconnect_ms)
			ws_connect(c);
		if (c->finish)
			break;
		if (dh_mgsrel_deadline(c->rel) >= 0 &&
		    now_ms() >= dh_mgsrel_deadline(c->rel)) {
			(void)dh_mgsrel_tick(c->rel, now_ms());
			pump(c);
		}
		flush(c);
		n = 0;
		ws_i = in_i = l_i = -1;
		if (c->ws != NULL) {
			pf[n].fd = dh_wsc_fd(c->ws);
			pf[n].events = POLLIN | (dh_wsc_want_write(c->ws,
			    &c->outq) ? POLLOUT : 0);
			ws_i = n++;
		}
		if (c->stdin_on && c->in_fd >= 0 && c->state == C_RUNNING &&
		    c->ws_up &&
		    dh_mgsrel_can_send(c->rel, IN_CHUNK + SS_KMS_OVERHEAD) &&
		    c->outq.bytes < 1024u * 1024) {
			pf[n].fd = c->in_fd;
			pf[n].events = POLLIN;
			in_i = n++;
		}
		if (c->lfd >= 0 && c->in_fd < 0 && c->state == C_RUNNING) {
			pf[n].fd = c->lfd;
			pf[n].events = POLLIN;
			l_i = n++;
		}
		t = c->ws != NULL && dh_wsc_pending(c->ws) ? 0 :
		    next_timeout(c);
		ts.tv_sec = t / 1000;
		ts.tv_nsec = (long)(t % 1000) * 1000000L;
		if (ppoll(pf, (nfds_t)n, &ts, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (ws_i >= 0 && c->ws != NULL && ((pf[ws_i].revents &
		    (POLLIN | POLLHUP | POLLERR)) || dh_wsc_pending(c->ws))) {
			dh_err_clear(&e);
			if (dh_wsc_read(c->ws, &c->outq, on_ws_message, c, &e) !=
			    DH_OK) {
				flush(c);
				ws_down(c, e.msg);
			}
		}
		if (in_i >= 0 && (pf[in_i].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			stdin_readable(c);
		if (l_i >= 0 && (pf[l_i].revents & POLLIN))
			port_accept(c);
	}
}

static int
setup(struct client *c)
{
	struct dh_http_config hc;
	struct dh_mgsrel_cfg rc;
	struct dh_uuid u;
	struct dh_err e;
	const char *ca = getenv("AWS_CA_BUNDLE");
	const char *kms = getenv("AWS_ENDPOINT_URL_KMS");

	dh_err_clear(&e);
	if (ca != NULL && ca[0] == '\0')
		ca = NULL;
	if (c->o.endpoint != NULL)
		snprintf(c->ssm_url, sizeof(c->ssm_url), "%s", c->o.endpoint);
	else
		snprintf(c->ssm_url, sizeof(c->ssm_url),
		    "https://ssm.%s.amazonaws.com", c->cr.region);
	/* KMS: AWS_ENDPOINT_URL_KMS, else a gateway's own endpoint (it
	 * serves KMS too), else the region's; an AWS SSM endpoint (the aws CLI
	 * always hands the plugin one) is not a KMS endpoint */
	if (kms != NULL && kms[0] != '\0')
		snprintf(c->kms_url, sizeof(c->kms_url), "%s", kms);
	else if (c->o.endpoint != NULL &&
	    strstr(c->o.endpoint, ".amazonaws.com") == NULL)
		snprintf(c->kms_url, sizeof(c->kms_url), "%s", c->o.endpoint);
	else
		snprintf(c->kms_url, sizeof(c->kms_url),
		    "https://kms.%s.amazonaws.com", c->cr.region);
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = ca;
	hc.user_agent = "deckhand/" DH_VERSION;
	hc.timeout_ms = 30000;
	if (dh_http_client_new(&hc, &c->http, &e) != DH_OK) {
		fprintf(stderr, "deckhand: %s\n", e.msg);
		return -1;
	}
	dh_aws_client_init(&c->aws, c->http);
	c->aws.creds.access_key = c->cr.access;
	c->aws.creds.secret_key = c->cr.secret;
	c->aws.creds.session_token = c->cr.token[0] != '\0' ? c->cr.token :
	    NULL;
	if (dh_uuid_v4(&u) != DH_OK)
		return -1;
	dh_uuid_fmt(&u, c->client_id);
	dh_mgsrel_cfg_default(&rc, DH_MGSREL_CLIENT);
	rc.wall_offset_ms = dh_time_now_ms() - dh_time_mono_ms();
	if (dh_mgsrel_new(&rc, now_ms(), &c->rel, &e) != DH_OK) {
		fprintf(stderr, "deckhand: %s\n", e.msg);
		return -1;
	}
	c->ca = ca;
	return 0;
}

static struct client *
client_new(void)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->in_fd = 0;
	c->out_fd = 1;
	c->lfd = -1;
	dh_wsq_init(&c->outq, 0, 0);
	dh_buf_init_secret(&c->token, TOKEN_MAX + 1);
	dh_buf_init(&c->sbuf, FRAME_MAX);
	c->ibuf = malloc(IN_CHUNK);
	if (c->ibuf == NULL) {
		dh_buf_free(&c->token);
		dh_buf_free(&c->sbuf);
		free(c);
		return NULL;
	}
	return c;
}

static void
client_free(struct client *c)
{
	term_restore();
	if (c->ws != NULL)
		flush(c);
	dh_wsc_free(c->ws);
	outq_clear(c);
	dh_mgsrel_free(c->rel);
	dh_http_client_free(c->http);
	ss_kms_clear(&c->kms);
	dh_buf_free(&c->token);
	dh_buf_free(&c->sbuf);
	dh_wipe(&c->cr, sizeof(c->cr));
	if (c->pmode == PORT_LOCAL && c->in_fd >= 0)
		close(c->in_fd);
	if (c->lfd >= 0)
		close(c->lfd);
	free(c->ibuf);
	free(c);
}

/* The data channel of a started session (sid, stream_url and token set):
 * the process exit status. */
static int
session_run(struct client *c)
{
	struct sigaction sa;
	sigset_t block, waitmask;

	if (parse_stream_url(c) != 0) {
		fprintf(stderr, "deckhand: unusable StreamUrl %.200s\n",
		    c->stream_url);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGWINCH, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	atexit(term_restore);
	term_raw();
	run(c, &waitmask);
	term_restore();
	if (g_term && !c->finish)
		fprintf(stderr, "\ndeckhand: interrupted\n");
	return c->finish ? c->exit_code : 1;
}

static int
session_start(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", required_argument, NULL, 't' },
		{ "endpoint-url", required_argument, NULL, 'e' },
		{ "profile", required_argument, NULL, 'p' },
		{ "region", required_argument, NULL, 'r' },
		{ "document-name", required_argument, NULL, 'd' },
		{ "parameters", required_argument, NULL, 'P' },
		{ "reason", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct client *c;
	int ch, code = 1;

	c = client_new();
	if (c == NULL)
		return 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't': c->o.target = optarg; break;
		case 'e': c->o.endpoint = optarg; break;
		case 'p': c->o.profile = optarg; break;
		case 'r': c->o.region = optarg; break;
		case 'd': c->o.document = optarg; break;
		case 'P': c->o.parameters = optarg; break;
		case 'R': c->o.reason = optarg; break;
		default:
			cli_session_usage();
			client_free(c);
			return 2;
		}
	}
	if (optind != argc || c->o.target == NULL) {
		cli_session_usage();
		client_free(c);
		return 2;
	}
	if (load_creds(&c->o, &c->cr) == 0 && setup(c) == 0 &&
	    ssm_call(c, 0) == 0)
		code = session_run(c);
	client_free(c);
	return code;
}

int
cli_session_plugin(int argc, char **argv)
{
	struct cli_plugin_args a;
	enum cli_plugin_op op;
	struct client *c;
	struct dh_err e;
	int code = 1;

	dh_err_clear(&e);
	if (cli_plugin_parse(argc, argv, &op, &a, &e) != DH_OK) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	if (op == CLI_PLUGIN_INSTALLED) {
		printf("\nThe Session Manager plugin was installed successfully."
		    " Use the AWS CLI to start a session.\n\n");
		return 0;
	}
	if (op == CLI_PLUGIN_VERSION) {
		printf("%s\n", DH_VERSION);
		return 0;
	}
	c = client_new();
	if (c == NULL)
		goto out;
	c->o.target = a.target;
	c->o.endpoint = a.endpoint[0] != '\0' ? a.endpoint : NULL;
	c->o.profile = a.profile[0] != '\0' ? a.profile : NULL;
	c->o.region = a.region;
	snprintf(c->sid, sizeof(c->sid), "%s", a.session_id);
	snprintf(c->stream_url, sizeof(c->stream_url), "%s", a.stream_url);
	if (strlen(a.session_id) >= sizeof(c->sid) ||
	    strlen(a.stream_url) >= sizeof(c->stream_url) ||
	    strlen(a.token) > TOKEN_MAX ||
	    dh_buf_put_str(&c->token, a.token) != DH_OK) {
		fprintf(stderr, "deckhand: StartSession response too large\n");
		goto out;
	}
	if (load_creds(&c->o, &c->cr) == 0 && setup(c) == 0)
		code = session_run(c);
out:
	if (c != NULL)
		client_free(c);
	dh_wipe(&a, sizeof(a));
	return code;
}

void
cli_session_usage(void)
{
	printf("usage: deckhand session start --target INSTANCE-ID"
	    " [--endpoint-url URL]\n"
	    "                              [--profile P] [--region R]"
	    " [--document-name D]\n"
	    "                              [--parameters JSON] [--reason"
	    " TEXT]\n"
	    "Opens an interactive shell on a managed node (like aws ssm"
	    " start-session).\n"
	    "Port documents forward a port instead: AWS-StartSSHSession over"
	    " stdin/stdout\n(an ssh ProxyCommand), AWS-StartPortForwardingSession"
	    " on localhost.\n"
	    "Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/"
	    "AWS_SESSION_TOKEN], or\n"
	    "the profile in AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials"
	    " or its\ncredential_process; CA: AWS_CA_BUNDLE.  Run as"
	    " session-manager-plugin, deckhand\ntakes over sessions that"
	    " `aws ssm start-session` starts.\n");
}

int
cli_session_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "start") == 0)
		return session_start(argc - 1, argv + 1);
	cli_session_usage();
	return 2;
}
