/*
 * ag_daemon: the agent's event loop, timers, signals and systemd protocol
 * (see ag_daemon.h).
 */
#include "ag_daemon.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_backoff.h"
#include "ag_config.h"
#include "ag_creds.h"
#include "ag_ctrl.h"
#include "ag_fingerprint.h"
#include "ag_heartbeat.h"
#include "ag_job.h"
#include "ag_identity.h"
#include "ag_notify.h"
#include "ag_platform.h"
#include "ag_worker.h"
#include "dh_aws.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_mgs.h"
#include "dh_time.h"
#include "dh_spawner.h"
#include "dh_tls.h"
#include "dh_uuid.h"
#include "ss_pty.h"
#include "ss_worker.h"

_Static_assert(AG_SESSION_CHUNK_MAX == SS_WORKER_CHUNK_MAX,
    "session.chunk_bytes bound must match the worker's");

#define URL_MAX 600
#define MIN_REFRESH_S 5
/* How long shutdown waits for an HTTPS call before abandoning it. */
#define WORKER_STOP_MS 300

struct ag_daemon {
	const char *config_path;
	const char *state_dir;
	struct ag_config cfg;
	struct ag_identity id;
	struct ag_creds creds;
	struct ag_platform pl;
	struct dh_http_client *http;   /* until the worker takes it */
	struct ag_worker *worker;      /* blocking HTTPS calls */
	struct lws_context *ctx;
	struct ag_ctrl *ctrl;
	struct ss_worker_mgr *sessions;
	struct dh_spawner *spawner;   /* forks session workers and patch jobs */
	struct ss_shipper *shipper;
	pthread_mutex_t ship_mu;       /* guards ship_creds (shipper thread) */
	struct ss_creds ship_creds;
	int ship_have;
	char logs_url[URL_MAX];
	char s3_url[URL_MAX];
	char ship_error[DH_ERR_MSG_MAX];   /* last shipper error logged */
	struct ag_job *jobs;
	char ssm_url[URL_MAX];
	char mgs_url[URL_MAX];
	char kms_url[URL_MAX];
	char spool_dir[URL_MAX];
	char proxy_addr[256];
	unsigned proxy_port;
	struct ag_backoff creds_bo;
	struct ag_backoff hb_bo;
	lws_sorted_usec_list_t sul_creds;
	lws_sorted_usec_list_t sul_hb;
	lws_sorted_usec_list_t sul_wd;
	lws_sorted_usec_list_t sul_sess;
	lws_sorted_usec_list_t sul_job;
	uint64_t wd_usec;
	int have_creds;
	int started;
	int creds_busy;                /* a creds job is on the worker */
	int hb_busy;                   /* a heartbeat job is on the worker */
	int hb_again;                  /* heartbeat asked for while busy */
};

static volatile sig_atomic_t g_term;
static volatile sig_atomic_t g_hup;
static struct lws_context *volatile g_ctx;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		g_hup = 1;
	else
		g_term = 1;
	if (g_ctx != NULL)
		lws_cancel_service(g_ctx);
}

static void
status(const char *s)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "STATUS=%s", s);
	(void)ag_notify_send(msg, NULL);
}

static void
lws_emit(int level, const char *line)
{
	char esc[300];
	size_t n = strlen(line);

	while (n > 0 && line[n - 1] == '\n')
		n--;
	dh_log_escape(line, n, 240, esc, sizeof(esc));
	if (level & LLL_ERR)
		dh_warn("lws: %s", esc);
	else
		dh_debug("lws: %s", esc);
}

/* ---------------------------------------------------------- settings */

/* Split a proxy URL "http://host:port" into address/port for lws. */
static int
parse_proxy(struct ag_daemon *d, const char *url, struct dh_err *err)
{
	const char *h = url, *colon;
	long port = 80;
	char *e;
	size_t n;

	d->proxy_addr[0] = '\0';
	d->proxy_port = 0;
	if (url == NULL || url[0] == '\0')
		return DH_OK;
	if (strncmp(h, "http://", 7) == 0)
		h += 7;
	else if (strstr(h, "://") != NULL)
		return dh_err_set(err, DH_E_CONFIG,
		    "proxy %.100s: only http:// proxies are supported", url);
	colon = strrchr(h, ':');
	n = colon != NULL ? (size_t)(colon - h) : strcspn(h, "/");
	if (colon != NULL) {
		port = strtol(colon + 1, &e, 10);
		if ((*e != '\0' && *e != '/') || port <= 0 || port > 65535)
			return dh_err_set(err, DH_E_CONFIG,
			    "proxy %.100s: bad port", url);
	}
	if (n == 0 || n >= sizeof(d->proxy_addr) || memchr(h, '@', n) != NULL)
		return dh_err_set(err, DH_E_CONFIG,
		    "proxy %.100s: bad host", url);
	memcpy(d->proxy_addr, h, n);
	d->proxy_addr[n] = '\0';
	d->proxy_port = (unsigned)port;
	return DH_OK;
}

static const char *
effective_proxy(const struct ag_daemon *d)
{
	const char *p = d->cfg.https_proxy;

	if (p == NULL || p[0] == '\0')
		p = getenv("https_proxy");
	if (p == NULL || p[0] == '\0')
		p = getenv("HTTPS_PROXY");
	return p != NULL && p[0] != '\0' ? p : NULL;
}

/* Resolve endpoints and (re)create the HTTP client from d->cfg. */
static int
apply_config(struct ag_daemon *d, struct dh_err *err)
{
	struct dh_http_config hc;
	struct dh_http_client *http = NULL;
	const char *region;
	int rc;

	dh_log_set_level((enum dh_log_level)ag_config_log_level(&d->cfg));
	region = d->cfg.region != NULL && d->cfg.region[0] != '\0' ?
	    d->cfg.region : d->id.region;
	rc = ag_config_endpoint(&d->cfg, AG_SVC_SSM, d->id.endpoint, region,
	    d->ssm_url, sizeof(d->ssm_url), err);
	if (rc == DH_OK)
		rc = ag_config_endpoint(&d->cfg, AG_SVC_SSMMESSAGES,
		    d->id.endpoint, region, d->mgs_url, sizeof(d->mgs_url),
		    err);
	if (rc == DH_OK)
		rc = ag_config_endpoint(&d->cfg, AG_SVC_KMS, d->id.endpoint,
		    region, d->kms_url, sizeof(d->kms_url), err);
	if (rc == DH_OK)
		rc = ag_config_endpoint(&d->cfg, AG_SVC_LOGS, d->id.endpoint,
		    region, d->logs_url, sizeof(d->logs_url), err);
	if (rc == DH_OK)
		rc = ag_config_endpoint(&d->cfg, AG_SVC_S3, d->id.endpoint,
		    region, d->s3_url, sizeof(d->s3_url), err);
	if (rc == DH_OK)
		rc = parse_proxy(d, effective_proxy(d), err);
	if (rc != DH_OK)
		return rc;
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = ag_config_ca(&d->cfg, NULL, d->id.ca_bundle);
	hc.proxy = d->cfg.https_proxy;
	hc.no_proxy = d->cfg.no_proxy;
	hc.user_agent = "deckhand-agent/" DH_VERSION;
	hc.timeout_ms = 20000;
	hc.connect_timeout_ms = 5000;
	hc.max_attempts = 2;
	rc = dh_http_client_new(&hc, &http, err);
	if (rc != DH_OK)
		return rc;
	if (d->worker != NULL)
		ag_worker_set_http(d->worker, http);
	else {
		dh_http_client_free(d->http);
		d->http = http;
	}
	ag_backoff_init(&d->creds_bo, d->cfg.backoff_initial_ms,
	    (long)d->cfg.max_backoff_seconds * 1000);
	ag_backoff_init(&d->hb_bo, d->cfg.backoff_initial_ms,
	    (long)d->cfg.max_backoff_seconds * 1000);
	dh_info("endpoints: ssm %s, ssmmessages %s%s%s", d->ssm_url,
	    d->mgs_url, d->proxy_addr[0] != '\0' ? ", proxy " : "",
	    d->proxy_addr);
	return DH_OK;
}

/* -------------------------------------------------------- fingerprint */

static int
check_fingerprint(struct ag_daemon *d, struct dh_err *err)
{
	struct ag_hwmap now;
	char why[300];

	ag_fp_collect(NULL, &now);
	if (!ag_fp_similar(&d->id.hw, &now, d->id.similarity, why,
	    sizeof(why)))
		return dh_err_set(err, DH_E_INTEGRITY,
		    "this identity was registered on another machine (%s);"
		    " register this machine with --force", why);
	if (ag_fp_matches(&d->id.hw, &now) != AG_HW_NKEYS) {
		d->id.hw = now;
		if (ag_identity_save(d->state_dir, &d->id, err) != DH_OK)
			dh_warn("cannot refresh the hardware map: %s",
			    err->msg);
		else
			dh_info("hardware map refreshed (similar machine)");
		dh_err_clear(err);
	}
	return DH_OK;
}

/* ----------------------------------------------------------- sessions */

/* Session settings from the agent's config (session.*: allow_root,
 * ssm_user_sudo, log_input, fail_closed, spool_dir, chunk_bytes; dh_config
 * applies the DECKHAND_SESSION_* environment overrides of the same names)
 * and identity. */
static void
session_env(struct ag_daemon *d, struct ss_worker_env *e)
{
	const char *spool = d->cfg.session_spool_dir;

	if (spool != NULL && spool[0] != '\0')
		snprintf(d->spool_dir, sizeof(d->spool_dir), "%s", spool);
	else
		snprintf(d->spool_dir, sizeof(d->spool_dir), "%s/spool",
		    d->state_dir);
	memset(e, 0, sizeof(*e));
	e->instance_id = d->id.instance_id;
	e->region = d->cfg.region != NULL && d->cfg.region[0] != '\0' ?
	    d->cfg.region : d->id.region;
	e->mgs_url = d->mgs_url;
	e->kms_url = d->kms_url;
	e->logs_url = d->logs_url[0] != '\0' ? d->logs_url : NULL;
	e->s3_url = d->s3_url[0] != '\0' ? d->s3_url : NULL;
	e->ca_file = ag_config_ca(&d->cfg, NULL, d->id.ca_bundle);
	e->proxy_addr = d->proxy_addr;
	e->proxy_port = d->proxy_port;
	e->spool_dir = d->spool_dir;
	e->agent_version = DH_VERSION ".0";
	e->allow_root = d->cfg.session_allow_root;
	e->ssm_user_sudo = d->cfg.session_ssm_user_sudo;
	e->log_input = d->cfg.session_log_input;
	e->fail_closed = d->cfg.session_fail_closed;
	e->max_chunk = (size_t)d->cfg.session_chunk_bytes;
}

static int
session_send(void *arg, const struct dh_mgs_msg *m)
{
	struct ag_daemon *d = arg;
	struct dh_err e;

	dh_err_clear(&e);
	if (ag_ctrl_send(d->ctrl, m, &e) != DH_OK) {
		dh_warn("sessions: cannot send %s: %s", m->type, e.msg);
		return e.code != 0 ? e.code : DH_E_STATE;
	}
	return DH_OK;
}

static void
sess_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_daemon *d = lws_container_of(sul, struct ag_daemon,
	    sul_sess);
	long next = ss_worker_mgr_poll(d->sessions, dh_time_mono_ms());

	if (d->shipper != NULL) {
		struct ss_shipper_stats st;

		ss_shipper_stats(d->shipper, &st);
		if (strcmp(st.last_error, d->ship_error) != 0) {
			memcpy(d->ship_error, st.last_error,
			    sizeof(d->ship_error));
			if (d->ship_error[0] != '\0')
				dh_warn("transcripts: %s (retrying)",
				    d->ship_error);
		}
	}

	lws_sul_schedule(d->ctx, 0, &d->sul_sess, sess_cb,
	    (lws_usec_t)next * 1000);
}

static void
sessions_creds(struct ag_daemon *d)
{
	struct ss_creds c;

	if (d->sessions == NULL)
		return;
	memset(&c, 0, sizeof(c));
	snprintf(c.access_key, sizeof(c.access_key), "%s", d->creds.access_key);
	snprintf(c.secret_key, sizeof(c.secret_key), "%s",
	    d->creds.secret_key != NULL ? d->creds.secret_key : "");
	snprintf(c.session_token, sizeof(c.session_token), "%s",
	    d->creds.session_token != NULL ? d->creds.session_token : "");
	ss_worker_mgr_set_creds(d->sessions, &c);
	pthread_mutex_lock(&d->ship_mu);
	d->ship_creds = c;
	d->ship_have = 1;
	pthread_mutex_unlock(&d->ship_mu);
	dh_wipe(&c, sizeof(c));
}

/* Credentials for the transcript shipper's thread. */
static int
ship_creds(void *arg, struct ss_creds *out, struct dh_err *err)
{
	struct ag_daemon *d = arg;
	int rc = DH_OK;

	pthread_mutex_lock(&d->ship_mu);
	if (d->ship_have)
		*out = d->ship_creds;
	else
		rc = dh_err_set(err, DH_E_STATE, "no credentials yet");
	pthread_mutex_unlock(&d->ship_mu);
	return rc;
}

/* Ship transcripts spooled by session workers (also a crashed agent's
 * backlog) to CloudWatch Logs and S3. */
static void
start_shipper(struct ag_daemon *d)
{
	struct ss_shipper_config sc;
	struct dh_err e;

	dh_err_clear(&e);
	memset(&sc, 0, sizeof(sc));
	sc.spool_dir = d->spool_dir;
	sc.region = d->cfg.region != NULL && d->cfg.region[0] != '\0' ?
	    d->cfg.region : d->id.region;
	sc.logs_endpoint = d->logs_url;
	sc.s3_endpoint = d->s3_url;
	sc.ca_file = ag_config_ca(&d->cfg, NULL, d->id.ca_bundle);
	sc.creds = ship_creds;
	sc.creds_arg = d;
	if (ss_shipper_start(&sc, &d->shipper, &e) != DH_OK)
		dh_warn("transcripts: shipper not started: %s", e.msg);
	else
		dh_info("transcripts: shipping from %s", d->spool_dir);
}

/* ------------------------------------------------------------- timers */

static void creds_cb(lws_sorted_usec_list_t *sul);
static void hb_cb(lws_sorted_usec_list_t *sul);

static void
sched(struct ag_daemon *d, lws_sorted_usec_list_t *sul, sul_cb_t cb,
    long ms)
{
	lws_sul_schedule(d->ctx, 0, sul, cb, (lws_usec_t)ms * 1000);
}

/* 1 when a credential refresh failed because the service refuses this
 * identity (deregistered, wrong machine, bad or expired signature): retrying
 * quickly cannot help, so the caller waits the maximum backoff. */
static int
creds_refused(const char *msg)
{
	static const char *const codes[] = { "AccessDenied",
		"MachineFingerprintDoesNotMatch", "UnrecognizedClientException",
		"InvalidClientTokenId", "ExpiredTokenException", NULL };
	size_t i;

	for (i = 0; codes[i] != NULL; i++)
		if (strstr(msg, codes[i]) != NULL)
			return 1;
	return 0;
}

/* Secret string copy for a worker job ("" for NULL); NULL on no memory. */
static char *
secret_dup(const char *v)
{
	return strdup(v != NULL ? v : "");
}

static void
secret_free(char *p)
{
	if (p != NULL) {
		dh_wipe(p, strlen(p));
		free(p);
	}
}

/* RequestManagedInstanceRoleToken (and, when due, key rotation) for the
 * worker: inputs copied from the daemon, results applied by creds_done. */
struct creds_job {
	struct ag_daemon *d;           /* loop side only */
	char ssm_url[URL_MAX];
	char state_dir[1024];
	int64_t rotate_days;
	struct ag_identity id;         /* deep copy; rotated key comes back */
	struct ag_creds fresh;
	int rc;
	struct dh_err err;
	int rotate_tried;
	int rotate_rc;
	struct dh_err rotate_err;
};

static void
creds_job_free(void *arg)
{
	struct creds_job *j = arg;

	ag_identity_clear(&j->id);
	ag_creds_clear(&j->fresh);
	dh_wipe(j, sizeof(*j));
	free(j);
}

static void
creds_run(void *arg, struct dh_http_client *http)
{
	struct creds_job *j = arg;
	struct dh_aws_client aws;

	dh_aws_client_init(&aws, http);
	j->rc = ag_creds_fetch(&aws, j->ssm_url, &j->id, &j->fresh, &j->err);
	if (j->rc != DH_OK || !ag_creds_should_rotate(j->fresh.update_key_pair,
	    j->id.key_created, dh_time_now(), j->rotate_days))
		return;
	j->rotate_tried = 1;
	j->rotate_rc = ag_creds_rotate(&aws, j->ssm_url, j->state_dir, &j->id,
	    &j->rotate_err);
}

static void
creds_done(void *arg)
{
	struct creds_job *j = arg;
	struct ag_daemon *d = j->d;
	time_t now, at;
	long delay;

	d->creds_busy = 0;
	if (j->rc != DH_OK) {
		delay = ag_backoff_next(&d->creds_bo,
		    dh_random_uniform(0xffffffffu));
		if (creds_refused(j->err.msg))
			delay = (long)d->cfg.max_backoff_seconds * 1000;
		dh_warn("credentials: %s; retrying in %ld ms", j->err.msg,
		    delay);
		status("waiting for credentials");
		sched(d, &d->sul_creds, creds_cb, delay);
		creds_job_free(j);
		return;
	}
	ag_backoff_reset(&d->creds_bo);
	ag_creds_clear(&d->creds);
	d->creds = j->fresh;
	memset(&j->fresh, 0, sizeof(j->fresh));
	d->have_creds = 1;
	now = dh_time_now();
	at = ag_creds_refresh_at(&d->creds);
	delay = at - now < MIN_REFRESH_S ? MIN_REFRESH_S : (long)(at - now);
	dh_info("credentials obtained; next refresh in %ld s", delay);
	sessions_creds(d);
	sched(d, &d->sul_creds, creds_cb, delay * 1000);
	if (j->rotate_tried && j->rotate_rc != DH_OK)
		dh_warn("key rotation failed: %s", j->rotate_err.msg);
	else if (j->rotate_tried) {
		ag_identity_clear(&d->id);
		d->id = j->id;
		memset(&j->id, 0, sizeof(j->id));
		(void)dh_log_secret_add(d->id.private_key);
		dh_info("instance key rotated");
	}
	creds_job_free(j);
	if (!d->started) {
		d->started = 1;
		ag_ctrl_connect(d->ctrl, 0);
		sched(d, &d->sul_hb, hb_cb, 0);
	}
}

static void
creds_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_daemon *d = lws_container_of(sul, struct ag_daemon,
	    sul_creds);
	struct creds_job *j;
	struct dh_err e;
	long delay;

	if (d->creds_busy)
		return;
	dh_err_clear(&e);
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		dh_err_set(&e, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	j->d = d;
	snprintf(j->ssm_url, sizeof(j->ssm_url), "%s", d->ssm_url);
	snprintf(j->state_dir, sizeof(j->state_dir), "%s", d->state_dir);
	j->rotate_days = d->cfg.key_rotate_days;
	j->id = d->id;
	j->id.private_key = d->id.private_key != NULL ?
	    strdup(d->id.private_key) : NULL;
	if (d->id.private_key != NULL && j->id.private_key == NULL) {
		dh_err_set(&e, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	if (ag_worker_post(d->worker, creds_run, creds_done, creds_job_free,
	    j, &e) != DH_OK)
		goto fail;
	d->creds_busy = 1;
	return;
fail:
	if (j != NULL)
		creds_job_free(j);
	delay = ag_backoff_next(&d->creds_bo, dh_random_uniform(0xffffffffu));
	dh_warn("credentials: %s; retrying in %ld ms", e.msg, delay);
	sched(d, &d->sul_creds, creds_cb, delay);
}

/* UpdateInstanceInformation for the worker (copied inputs). */
struct hb_job {
	struct ag_daemon *d;           /* loop side only */
	char ssm_url[URL_MAX];
	char region[64];
	char instance_id[64];
	int channel;                   /* control channel up */
	char access_key[128];
	char *secret_key;
	char *session_token;
	struct ag_platform pl;
	int rc;
	struct dh_err err;
};

static void
hb_job_free(void *arg)
{
	struct hb_job *j = arg;

	secret_free(j->secret_key);
	secret_free(j->session_token);
	dh_wipe(j, sizeof(*j));
	free(j);
}

static void
hb_run(void *arg, struct dh_http_client *http)
{
	struct hb_job *j = arg;
	struct dh_aws_client aws;

	dh_aws_client_init(&aws, http);
	aws.auth = DH_AWS_AUTH_SIGV4;
	aws.creds.access_key = j->access_key;
	aws.creds.secret_key = j->secret_key;
	aws.creds.session_token = j->session_token;
	ag_platform_collect(NULL, &j->pl);
	j->rc = ag_hb_send(&aws, j->ssm_url, j->region, j->instance_id, &j->pl,
	    j->channel ? "ssmmessages" : NULL, &j->err);
}

static void
hb_done(void *arg)
{
	struct hb_job *j = arg;
	struct ag_daemon *d = j->d;
	long delay = (long)d->cfg.heartbeat_seconds * 1000;

	d->hb_busy = 0;
	d->pl = j->pl;
	if (j->rc != DH_OK) {
		long b = ag_backoff_next(&d->hb_bo,
		    dh_random_uniform(0xffffffffu));

		if (b < delay)
			delay = b;
		dh_warn("heartbeat: %s; next try in %ld ms", j->err.msg, delay);
	} else {
		ag_backoff_reset(&d->hb_bo);
		dh_info("heartbeat sent (%s, %s %s)", d->pl.ip,
		    d->pl.name, d->pl.version);
	}
	hb_job_free(j);
	if (d->hb_again) {
		d->hb_again = 0;
		delay = 0;
	}
	sched(d, &d->sul_hb, hb_cb, delay);
}

static void
hb_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_daemon *d = lws_container_of(sul, struct ag_daemon, sul_hb);
	struct hb_job *j;
	struct dh_err e;
	long delay = (long)d->cfg.heartbeat_seconds * 1000;

	if (d->hb_busy) {
		d->hb_again = 1;
		return;
	}
	dh_err_clear(&e);
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		dh_err_set(&e, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	j->d = d;
	snprintf(j->ssm_url, sizeof(j->ssm_url), "%s", d->ssm_url);
	snprintf(j->region, sizeof(j->region), "%s", d->id.region);
	snprintf(j->instance_id, sizeof(j->instance_id), "%s",
	    d->id.instance_id);
	j->channel = ag_ctrl_is_up(d->ctrl);
	snprintf(j->access_key, sizeof(j->access_key), "%s",
	    d->creds.access_key);
	j->secret_key = secret_dup(d->creds.secret_key);
	j->session_token = secret_dup(d->creds.session_token);
	if (j->secret_key == NULL || j->session_token == NULL) {
		dh_err_set(&e, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	if (ag_worker_post(d->worker, hb_run, hb_done, hb_job_free, j, &e) !=
	    DH_OK)
		goto fail;
	d->hb_busy = 1;
	return;
fail:
	if (j != NULL)
		hb_job_free(j);
	dh_warn("heartbeat: %s; next try in %ld ms", e.msg, delay);
	sched(d, &d->sul_hb, hb_cb, delay);
}

static void
wd_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_daemon *d = lws_container_of(sul, struct ag_daemon, sul_wd);

	(void)ag_notify_send("WATCHDOG=1", NULL);
	lws_sul_schedule(d->ctx, 0, &d->sul_wd, wd_cb,
	    (lws_usec_t)(d->wd_usec / 2));
}

/* ------------------------------------------------------ control hooks */

/* What a patch job child needs: endpoint, HTTP settings, credentials. */
static void
job_env(const struct ag_daemon *d, struct ag_job_env *env)
{
	memset(env, 0, sizeof(*env));
	env->ssm_url = d->ssm_url;
	env->ca_file = ag_config_ca(&d->cfg, NULL, d->id.ca_bundle);
	env->proxy = d->cfg.https_proxy;
	if (d->have_creds) {
		env->access_key = d->creds.access_key;
		env->secret_key = d->creds.secret_key;
		env->session_token = d->creds.session_token;
	}
}

static void
job_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_daemon *d = lws_container_of(sul, struct ag_daemon, sul_job);
	struct ag_job_env env;

	job_env(d, &env);
	ag_job_poll(d->jobs, d->ctrl, &env, dh_time_now_ms());
	lws_sul_schedule(d->ctx, 0, &d->sul_job, job_cb, 1000 * 1000);
}

static void
on_msg(void *arg, struct ag_ctrl *c, const struct dh_mgs_msg *m)
{
	struct ag_daemon *d = arg;

	struct ag_job_env env;

	if (dh_mgs_is(m, DH_MGS_T_JOB) || dh_mgs_is(m,
	    DH_MGS_T_JOB_REPLY_ACK)) {
		job_env(d, &env);
		ag_job_on_msg(d->jobs, c, m, &env, dh_time_now_ms());
	} else if (d->sessions != NULL &&
	    ss_worker_mgr_on_message(d->sessions, m, dh_time_mono_ms()))
		lws_sul_schedule(d->ctx, 0, &d->sul_sess, sess_cb, 20 * 1000);
}

static void
on_state(void *arg, int up)
{
	struct ag_daemon *d = arg;

	status(up ? "online" : "control channel down");
	if (up && d->have_creds)
		sched(d, &d->sul_hb, hb_cb, 0);
}

/* ------------------------------------------------------------- reload */

static void
reload(struct ag_daemon *d)
{
	struct ag_config fresh, old;
	struct dh_err e;
	char old_mgs[URL_MAX];

	dh_err_clear(&e);
	if (ag_config_load(d->config_path, d->config_path != NULL, &fresh, &e)
	    != DH_OK) {
		dh_error("reload: %s; keeping the old configuration", e.msg);
		return;
	}
	old = d->cfg;
	d->cfg = fresh;
	snprintf(old_mgs, sizeof(old_mgs), "%s", d->mgs_url);
	if (apply_config(d, &e) != DH_OK) {
		dh_error("reload: %s; keeping the old configuration", e.msg);
		d->cfg = old;
		ag_config_free(&fresh);
		(void)apply_config(d, &e);
		return;
	}
	ag_config_free(&old);
	if (d->sessions != NULL) {
		struct ss_worker_env se;

		session_env(d, &se);
		if (ss_worker_mgr_set_env(d->sessions, &se, &e) != DH_OK)
			dh_error("reload: sessions: %s", e.msg);
	}
	ag_ctrl_set_max_backoff(d->ctrl,
	    (long)d->cfg.max_backoff_seconds * 1000);
	if (ag_ctrl_set_endpoint(d->ctrl, d->mgs_url, &e) != DH_OK)
		dh_error("reload: %s", e.msg);
	if (strcmp(old_mgs, d->mgs_url) != 0 && d->started)
		ag_ctrl_connect(d->ctrl, 0);
	if (d->started)
		sched(d, &d->sul_hb, hb_cb,
		    (long)d->cfg.heartbeat_seconds * 1000);
	dh_info("configuration reloaded");
}

/* --------------------------------------------------------------- run */

static const struct dh_spawner_kind spawn_kinds[] = {
	{ SS_WORKER_SPAWN_TAG, ss_worker_spawned },
	{ AG_JOB_SPAWN_TAG, ag_job_spawned },
};

/* First thing, while the agent is single-threaded: load what every child
 * needs (NSS modules, OpenSSL's tables and the CA store) and start the
 * spawner that forks them.  Without it the agent forks children itself. */
static void
start_spawner(struct ag_daemon *d)
{
	struct dh_err e;

	dh_err_clear(&e);
	ss_pty_preload_nss();
	if (dh_tls_preload(ag_config_ca(&d->cfg, NULL, d->id.ca_bundle), &e) !=
	    DH_OK)
		dh_warn("TLS preload: %s", e.msg);
	if (dh_spawner_start(spawn_kinds, sizeof(spawn_kinds) /
	    sizeof(spawn_kinds[0]), &d->spawner, &e) != DH_OK)
		dh_warn("%s; the agent forks its children itself", e.msg);
}

/* Worker results are applied here, on the loop's thread: the worker wakes
 * the loop with lws_cancel_service. */
static void
wake_loop(void *arg)
{
	lws_cancel_service(arg);
}

static int
proto_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct ag_daemon *d;

	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		d = wsi != NULL ? lws_context_user(lws_get_context(wsi)) :
		    NULL;
		if (d != NULL)
			ag_worker_drain(d->worker);
		return 0;
	}
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		/* the process's one trust store (dh_tls), also used by curl */
		d = lws_context_user(lws_get_context(wsi));
		return d == NULL || dh_tls_use_store(user, ag_config_ca(&d->cfg,
		    NULL, d->id.ca_bundle), NULL) != DH_OK;
	}
	return ag_ctrl_lws_callback(wsi, (int)reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ AG_CTRL_PROTOCOL, proto_cb, 0, 64 * 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static int
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return DH_E_IO;
	signal(SIGPIPE, SIG_IGN);
	return DH_OK;
}

int
ag_daemon_run(const struct ag_daemon_opts *o, struct dh_err *err)
{
	struct ag_daemon *d;
	struct lws_context_creation_info ci;
	struct ag_ctrl_params cp;
	int rc;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	pthread_mutex_init(&d->ship_mu, NULL);
	ag_identity_init(&d->id);
	d->config_path = o->config_path;
	rc = ag_config_load(o->config_path, o->config_path != NULL, &d->cfg,
	    err);
	if (rc != DH_OK)
		goto out;
	d->state_dir = o->state_dir != NULL ? o->state_dir : d->cfg.state_dir;
	rc = ag_identity_load(d->state_dir, &d->id, err);
	if (rc == DH_E_NOTFOUND)
		dh_err_wrap(err, rc, "not registered (run `deckhand-agent"
		    " register` first)");
	if (rc != DH_OK)
		goto out;
	(void)dh_log_secret_add(d->id.private_key);
	rc = check_fingerprint(d, err);
	if (rc == DH_OK)
		rc = apply_config(d, err);
	if (rc != DH_OK)
		goto out;
	dh_info("instance %s (%s), agent %s", d->id.instance_id, d->id.region,
	    DH_VERSION);
	start_spawner(d);
	{
		struct ss_worker_env se;

		session_env(d, &se);
		rc = ss_worker_mgr_new(&se, d->spawner, session_send, d,
		    &d->sessions, err);
		if (rc != DH_OK)
			goto out;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = protocols;
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS; /* dh_tls store instead */
	ci.fd_limit_per_thread = 64;
	ci.user = d;
	ci.count_threads = 1;
	if (d->proxy_addr[0] != '\0') {
		ci.http_proxy_address = d->proxy_addr;
		ci.http_proxy_port = d->proxy_port;
	}
	d->ctx = lws_create_context(&ci);
	if (d->ctx == NULL) {
		const char *ca = ag_config_ca(&d->cfg, NULL, d->id.ca_bundle);

		rc = dh_err_set(err, DH_E_TLS,
		    "cannot create the event loop (bad CA file %s?)",
		    ca != NULL ? ca : "(system)");
		goto out;
	}
	rc = ag_worker_start(d->http, wake_loop, d->ctx, &d->worker, err);
	d->http = NULL;
	if (rc != DH_OK)
		goto out;
	memset(&cp, 0, sizeof(cp));
	cp.ctx = d->ctx;
	cp.worker = d->worker;
	cp.instance_id = d->id.instance_id;
	cp.region = d->id.region;
	cp.creds = &d->creds;
	cp.initial_backoff_ms = (long)d->cfg.backoff_initial_ms;
	cp.max_backoff_ms = (long)d->cfg.max_backoff_seconds * 1000;
	cp.ping_seconds = (int)d->cfg.ping_seconds;
	cp.on_msg = on_msg;
	cp.on_state = on_state;
	cp.arg = d;
	rc = ag_ctrl_new(&cp, &d->ctrl, err);
	if (rc == DH_OK)
		rc = ag_ctrl_set_endpoint(d->ctrl, d->mgs_url, err);
	if (rc == DH_OK)
		start_shipper(d);
	if (rc == DH_OK) {
		struct ag_job_params jp;

		memset(&jp, 0, sizeof(jp));
		jp.state_dir = d->state_dir;
		jp.instance_id = d->id.instance_id;
		jp.region = d->id.region;
		jp.scan_root = d->cfg.patch_scan_root;
		jp.baseline_file = d->cfg.patch_baseline_file;
		jp.scan_schedule = d->cfg.patch_scan_schedule;
		jp.scan_timezone = d->cfg.patch_scan_timezone;
		rc = ag_job_new(&jp, dh_time_now_ms(), &d->jobs, err);
		if (rc == DH_OK)
			ag_job_set_spawner(d->jobs, d->spawner);
	}
	if (rc == DH_OK)
		rc = setup_signals() == DH_OK ? DH_OK :
		    dh_err_set(err, DH_E_IO, "cannot install signal handlers");
	if (rc != DH_OK)
		goto out;
	g_ctx = d->ctx;
	sched(d, &d->sul_creds, creds_cb, 0);
	sched(d, &d->sul_sess, sess_cb, 1000);
	sched(d, &d->sul_job, job_cb, 1000);
	d->wd_usec = ag_notify_watchdog_usec();
	if (d->wd_usec > 0)
		wd_cb(&d->sul_wd);
	(void)ag_notify_send("READY=1\nSTATUS=starting", NULL);
	while (!g_term) {
		if (lws_service(d->ctx, 0) < 0)
			break;
		if (g_hup) {
			g_hup = 0;
			dh_info("SIGHUP: reloading configuration");
			reload(d);
		}
	}
	dh_info("stopping");
	(void)ag_notify_send("STOPPING=1", NULL);
	rc = DH_OK;
out:
	g_ctx = NULL;
	if (ag_worker_stop(d->worker, WORKER_STOP_MS))
		dh_warn("an HTTPS call was still running at exit; abandoned");
	if (d->ctx != NULL) {
		lws_sul_cancel(&d->sul_creds);
		lws_sul_cancel(&d->sul_hb);
		lws_sul_cancel(&d->sul_wd);
		lws_sul_cancel(&d->sul_sess);
		lws_sul_cancel(&d->sul_job);
	}
	ag_job_free(d->jobs);
	ss_worker_mgr_free(d->sessions);
	dh_spawner_stop(d->spawner);
	ss_shipper_stop(d->shipper);
	dh_wipe(&d->ship_creds, sizeof(d->ship_creds));
	pthread_mutex_destroy(&d->ship_mu);
	ag_ctrl_free(d->ctrl);
	if (d->ctx != NULL)
		lws_context_destroy(d->ctx);
	dh_http_client_free(d->http);
	ag_creds_clear(&d->creds);
	ag_identity_clear(&d->id);
	ag_config_free(&d->cfg);
	free(d);
	return rc;
}
