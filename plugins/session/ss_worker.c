/*
 * ss_worker: session worker process and its manager in the agent (see
 * ss_worker.h).  Layout: task parsing (pure), manager (parent side), then
 * the worker: REST + websocket, handshake, pty pump, ending.
 */
#define _GNU_SOURCE
#include "ss_worker.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dh_aws.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_mgsrel.h"
#include "dh_sigv4.h"
#include "dh_spawner.h"
#include "dh_time.h"
#include "dh_tls.h"
#include "dh_uuid.h"
#include "dh_wsq.h"
#include "ss_handshake.h"
#include "ss_kms.h"
#include "ss_pty.h"

#define IPC_MAX (16 * 1024)
#define TOKEN_MAX 8192
#define FRAME_MAX (4 * 1024 * 1024)
#define HS_TIMEOUT_MS 15000
#define DRAIN_MS 2000
#define OUTQ_HIGH (1u * 1024 * 1024)
#define OUTQ_LOW (256u * 1024)
#define INFLIGHT_MAX (1u * 1024 * 1024)
#define WRITE_BURST (512u * 1024) /* bytes written per writable callback */
#define COMPLETE_TRIES 3
/* A pty read that filled the line discipline's 4 KiB buffer means the shell
 * side is blocked writing: wait briefly for the next 4 KiB instead of sending
 * a small frame, so bulk output travels in full chunks.  Keystroke echo never
 * fills the buffer and is sent at once. */
#define PTY_BUF_FULL 4095
#define PTY_COALESCE_MS 2         /* at most this long per chunk */
#define PORT_CONNECT_MS 5000
#define PROTO "ss-data"
#define DC_QUERY "role=publish_subscribe"
#define CUSTOMER_MSG "This session is encrypted using AWS KMS."

/* ================================================================ task */

static const cJSON *
jget(const cJSON *o, const char *k)
{
	const cJSON *v;

	if (!cJSON_IsObject(o))
		return NULL;
	v = cJSON_GetObjectItem(o, k);
	return cJSON_IsNull(v) ? NULL : v;
}

static int
jstr(const cJSON *o, const char *k, char *out, size_t outsz,
    struct dh_err *err)
{
	const cJSON *v = jget(o, k);

	out[0] = '\0';
	if (v == NULL)
		return DH_OK;
	if (!cJSON_IsString(v))
		return dh_err_set(err, DH_E_FORMAT, "%s is not a string", k);
	if (strlen(v->valuestring) >= outsz)
		return dh_err_set(err, DH_E_TOOBIG, "%s is too long", k);
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return DH_OK;
}

/* Bool given as true/false or "true"/"false" (any case); absent = 0. */
static int
jbool(const cJSON *o, const char *k, int *out, struct dh_err *err)
{
	const cJSON *v = jget(o, k);

	*out = 0;
	if (v == NULL)
		return DH_OK;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return DH_OK;
	}
	if (cJSON_IsString(v) && (strcasecmp(v->valuestring, "true") == 0 ||
	    strcasecmp(v->valuestring, "false") == 0 ||
	    v->valuestring[0] == '\0')) {
		*out = strcasecmp(v->valuestring, "true") == 0;
		return DH_OK;
	}
	return dh_err_set(err, DH_E_FORMAT, "%s is not a boolean", k);
}

/* Minutes given as a number or a decimal string; absent/"" = 0. */
static int
jminutes(const cJSON *o, const char *k, int *out, struct dh_err *err)
{
	const cJSON *v = jget(o, k);
	double d;
	char *e;

	*out = 0;
	if (v == NULL)
		return DH_OK;
	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v)) {
		if (v->valuestring[0] == '\0')
			return DH_OK;
		errno = 0;
		d = (double)strtol(v->valuestring, &e, 10);
		if (*e != '\0' || errno != 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s is not a number", k);
	} else
		return dh_err_set(err, DH_E_FORMAT, "%s is not a number", k);
	if (d != floor(d) || d < 0 || d > 10080)
		return dh_err_set(err, DH_E_FORMAT, "%s out of range", k);
	*out = (int)d;
	return DH_OK;
}

static int
valid_sid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= '0' && s[0] <= '9')))
		return 0;  /* never "", "." or ".." (a path component later) */
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.' || s[i] == '@'))
			return 0;
	return 1;
}

static int
parse_inputs(const cJSON *in, struct ss_task *t, struct dh_err *err)
{
	const cJSON *prof;
	int rc;

	if (in != NULL && !cJSON_IsObject(in))
		return dh_err_set(err, DH_E_FORMAT, "inputs is not an object");
	rc = jstr(in, "s3BucketName", t->s3_bucket, sizeof(t->s3_bucket), err);
	if (rc == DH_OK)
		rc = jstr(in, "s3KeyPrefix", t->s3_prefix, sizeof(t->s3_prefix),
		    err);
	if (rc == DH_OK)
		rc = jbool(in, "s3EncryptionEnabled", &t->s3_encryption, err);
	if (rc == DH_OK)
		rc = jstr(in, "cloudWatchLogGroupName", t->cw_group,
		    sizeof(t->cw_group), err);
	if (rc == DH_OK)
		rc = jbool(in, "cloudWatchStreamingEnabled", &t->cw_streaming,
		    err);
	if (rc == DH_OK)
		rc = jbool(in, "cloudWatchEncryptionEnabled", &t->cw_encryption,
		    err);
	if (rc == DH_OK)
		rc = jstr(in, "kmsKeyId", t->kms_key_id, sizeof(t->kms_key_id),
		    err);
	if (rc == DH_OK)
		rc = jbool(in, "runAsEnabled", &t->run_as_enabled, err);
	if (rc == DH_OK)
		rc = jstr(in, "runAsDefaultUser", t->run_as_default_user,
		    sizeof(t->run_as_default_user), err);
	if (rc == DH_OK)
		rc = jminutes(in, "idleSessionTimeout", &t->idle_timeout_min,
		    err);
	if (rc == DH_OK)
		rc = jminutes(in, "maxSessionDuration", &t->max_duration_min,
		    err);
	if (rc != DH_OK)
		return rc;
	prof = jget(in, "shellProfile");
	if (prof != NULL && !cJSON_IsObject(prof))
		return dh_err_set(err, DH_E_FORMAT,
		    "shellProfile is not an object");
	return jstr(prof, "linux", t->shell_profile, sizeof(t->shell_profile),
	    err);
}

/* Append the value of parameter name[0..len) from params to out. */
static int
param_value(const cJSON *params, const char *name, size_t len,
    struct dh_buf *out, struct dh_err *err)
{
	const cJSON *v = NULL, *e;
	char key[128];
	int first = 1;

	if (len == 0 || len >= sizeof(key))
		return dh_err_set(err, DH_E_FORMAT, "bad parameter reference");
	memcpy(key, name, len);
	key[len] = '\0';
	if (cJSON_IsObject(params))
		v = cJSON_GetObjectItemCaseSensitive(params, key);
	if (cJSON_IsString(v))
		return dh_buf_put_str(out, v->valuestring) == DH_OK ? DH_OK :
		    dh_err_set(err, DH_E_TOOBIG, "command is too long");
	if (!cJSON_IsArray(v))
		return dh_err_set(err, DH_E_FORMAT, "parameter %s has no value",
		    key);
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e))
			return dh_err_set(err, DH_E_FORMAT, "parameter %s is not"
			    " a list of strings", key);
		if ((!first && dh_buf_put_u8(out, '\n') != DH_OK) ||
		    dh_buf_put_str(out, e->valuestring) != DH_OK)
			return dh_err_set(err, DH_E_TOOBIG, "command is too"
			    " long");
		first = 0;
	}
	return DH_OK;
}

/* tmpl with every {{ name }} replaced by its parameter, into out. */
static int
substitute(const char *tmpl, const cJSON *params, char *out, size_t outsz,
    struct dh_err *err)
{
	const char *p = tmpl, *open, *close, *a, *b;
	struct dh_buf b_out;
	int rc = DH_OK;

	dh_buf_init(&b_out, outsz - 1);
	while (rc == DH_OK && (open = strstr(p, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			rc = dh_err_set(err, DH_E_FORMAT, "unterminated {{ in"
			    " the command");
			break;
		}
		if (dh_buf_put(&b_out, p, (size_t)(open - p)) != DH_OK) {
			rc = dh_err_set(err, DH_E_TOOBIG, "command is too long");
			break;
		}
		for (a = open + 2; a < close && (*a == ' ' || *a == '\t'); a++)
			;
		for (b = close; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		rc = param_value(params, a, (size_t)(b - a), &b_out, err);
		p = close + 2;
	}
	if (rc == DH_OK && dh_buf_put_str(&b_out, p) != DH_OK)
		rc = dh_err_set(err, DH_E_TOOBIG, "command is too long");
	if (rc == DH_OK && b_out.len == 0)
		rc = dh_err_set(err, DH_E_FORMAT, "the command is empty");
	if (rc == DH_OK) {
		memcpy(out, b_out.d, b_out.len);
		out[b_out.len] = '\0';
	}
	dh_buf_free(&b_out);
	return rc;
}

/* InteractiveCommands: properties.linux.commands with parameters. */
static int
parse_command(const cJSON *c, const cJSON *doc, struct ss_task *t,
    struct dh_err *err)
{
	const cJSON *props = jget(doc, "properties"), *lx, *cmd;

	lx = cJSON_IsObject(props) ? jget(props, "linux") : NULL;
	cmd = cJSON_IsObject(lx) ? jget(lx, "commands") : NULL;
	if (!cJSON_IsString(cmd))
		return dh_err_set(err, DH_E_FORMAT, "InteractiveCommands "
		    "document has no properties.linux.commands");
	return substitute(cmd->valuestring, jget(c, "Parameters"), t->command,
	    sizeof(t->command), err);
}

/* Port documents: properties with {{ param }} substituted from the
 * payload's Parameters, or else from the document parameter's default. */
static int
parse_port(const cJSON *c, const cJSON *doc, struct ss_task *t,
    struct dh_err *err)
{
	const cJSON *props = jget(doc, "properties"), *it, *def;
	cJSON *params = NULL, *out = NULL;
	char val[SS_WORKER_PROPS_MAX], *end;
	struct dh_buf b;
	long port;
	int rc = DH_E_NOMEM;

	dh_buf_init(&b, sizeof(t->port_props) - 1);
	if (!cJSON_IsObject(props)) {
		rc = dh_err_set(err, DH_E_FORMAT, "Port document has no"
		    " properties");
		goto out;
	}
	params = cJSON_IsObject(jget(c, "Parameters")) ?
	    cJSON_Duplicate(jget(c, "Parameters"), 1) : cJSON_CreateObject();
	out = cJSON_CreateObject();
	if (params == NULL || out == NULL) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(it, jget(doc, "parameters")) {
		def = cJSON_IsObject(it) ? jget(it, "default") : NULL;
		if (it->string != NULL && cJSON_IsString(def) &&
		    cJSON_GetObjectItemCaseSensitive(params, it->string) == NULL &&
		    cJSON_AddStringToObject(params, it->string,
		    def->valuestring) == NULL) {
			dh_err_set(err, rc, "out of memory");
			goto out;
		}
	}
	cJSON_ArrayForEach(it, props) {
		if (!cJSON_IsString(it) || it->string == NULL)
			continue;
		val[0] = '\0';
		if (it->valuestring[0] != '\0') {
			rc = substitute(it->valuestring, params, val, sizeof(val),
			    err);
			if (rc != DH_OK) {
				dh_err_wrap(err, rc, "Port property %.40s",
				    it->string);
				goto out;
			}
		}
		if (cJSON_AddStringToObject(out, it->string, val) == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = jstr(out, "portNumber", val, sizeof(val), err);
	if (rc != DH_OK)
		goto out;
	errno = 0;
	port = strtol(val, &end, 10);
	if (val[0] == '\0' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535) {
		rc = dh_err_set(err, DH_E_FORMAT, "Port document: portNumber"
		    " %.16s is not a port", val);
		goto out;
	}
	t->port_number = (int)port;
	rc = jstr(out, "host", t->port_host, sizeof(t->port_host), err);
	if (rc == DH_OK && t->port_host[0] == '\0')
		snprintf(t->port_host, sizeof(t->port_host), "localhost");
	if (rc == DH_OK)
		rc = jstr(out, "type", t->port_type, sizeof(t->port_type), err);
	if (rc == DH_OK && dh_json_print(out, &b) != DH_OK)
		rc = dh_err_set(err, DH_E_TOOBIG, "Port properties too long");
	if (rc == DH_OK) {
		memcpy(t->port_props, b.d, b.len);
		t->port_props[b.len] = '\0';
	}
out:
	dh_buf_free(&b);
	cJSON_Delete(out);
	cJSON_Delete(params);
	return rc;
}

int
ss_worker_parse_task(const void *p, size_t n, struct ss_task *t,
    struct dh_err *err)
{
	cJSON *outer = NULL, *inner = NULL;
	const cJSON *content, *c, *doc;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = dh_json_parse(p, n, SS_WORKER_TASK_MAX, &outer, err);
	if (rc != DH_OK)
		return dh_err_wrap(err, rc, "interactive_shell");
	content = jget(outer, "Content");
	if (cJSON_IsString(content)) {
		rc = dh_json_parse(content->valuestring,
		    strlen(content->valuestring), SS_WORKER_TASK_MAX, &inner,
		    err);
		if (rc != DH_OK) {
			dh_err_wrap(err, rc, "interactive_shell Content");
			goto out;
		}
		c = inner;
	} else
		c = content;
	if (!cJSON_IsObject(c)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "interactive_shell has no Content object");
		goto out;
	}
	rc = jstr(c, "SessionId", t->session_id, sizeof(t->session_id), err);
	if (rc == DH_OK && !valid_sid(t->session_id))
		rc = dh_err_set(err, DH_E_FORMAT,
		    "SessionId missing or not a plain identifier");
	if (rc == DH_OK)
		rc = jstr(c, "DocumentName", t->document_name,
		    sizeof(t->document_name), err);
	if (rc == DH_OK)
		rc = jstr(c, "RunAsUser", t->run_as_user,
		    sizeof(t->run_as_user), err);
	if (rc == DH_OK)
		rc = jstr(c, "SessionOwner", t->session_owner,
		    sizeof(t->session_owner), err);
	if (rc != DH_OK)
		goto out;
	doc = jget(c, "DocumentContent");
	if (doc != NULL && !cJSON_IsObject(doc)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "DocumentContent is not an object");
		goto out;
	}
	rc = jstr(doc, "sessionType", t->session_type, sizeof(t->session_type),
	    err);
	if (rc == DH_OK && t->session_type[0] == '\0')
		snprintf(t->session_type, sizeof(t->session_type),
		    "Standard_Stream");
	if (rc == DH_OK)
		rc = parse_inputs(jget(doc, "inputs"), t, err);
	if (rc == DH_OK && strcmp(t->session_type, "InteractiveCommands") == 0)
		rc = parse_command(c, doc, t, err);
	if (rc == DH_OK && strcmp(t->session_type, "Port") == 0)
		rc = parse_port(c, doc, t, err);
out:
	cJSON_Delete(inner);
	cJSON_Delete(outer);
	return rc;
}

static void
s3_suffix(const struct ss_task *t, char *out, size_t outsz)
{
	size_t pl = strlen(t->s3_prefix);

	if (t->s3_bucket[0] == '\0') {
		out[0] = '\0';
		return;
	}
	snprintf(out, outsz, "%s%s%s.log", t->s3_prefix, pl > 0 &&
	    t->s3_prefix[pl - 1] != '/' ? "/" : "", t->session_id);
}

int
ss_worker_task_complete_json(const struct ss_task *t, const char *instance_id,
    const char *status, const char *output, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject();
	char suffix[2 * SS_NAME_MAX];
	int rc = DH_E_NOMEM;

	s3_suffix(t, suffix, sizeof(suffix));
	if (j != NULL &&
	    cJSON_AddNumberToObject(j, "SchemaVersion", 1) != NULL &&
	    cJSON_AddStringToObject(j, "TaskId", t->session_id) != NULL &&
	    cJSON_AddStringToObject(j, "Topic", DH_MGS_T_TASK_COMPLETE) !=
	    NULL &&
	    cJSON_AddStringToObject(j, "FinalTaskStatus", status) != NULL &&
	    cJSON_AddFalseToObject(j, "IsRoutingFailure") != NULL &&
	    cJSON_AddStringToObject(j, "AwsAccountId", "") != NULL &&
	    cJSON_AddStringToObject(j, "InstanceId", instance_id) != NULL &&
	    cJSON_AddStringToObject(j, "Output", output) != NULL &&
	    cJSON_AddStringToObject(j, "S3Bucket", t->s3_bucket) != NULL &&
	    cJSON_AddStringToObject(j, "S3UrlSuffix", suffix) != NULL &&
	    cJSON_AddStringToObject(j, "CwlGroup", t->cw_group) != NULL &&
	    cJSON_AddStringToObject(j, "CwlStream", t->cw_group[0] != '\0' ?
	    t->session_id : "") != NULL &&
	    cJSON_AddNumberToObject(j, "RetryNumber", 1) != NULL)
		rc = dh_json_print(j, out);
	cJSON_Delete(j);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build agent_task_complete");
	return DH_OK;
}

/* ============================================================= manager */

#define ENV_STRS 10

struct env_copy {
	struct ss_worker_env e;
	char *strs[ENV_STRS];
};

struct slot {
	int used;
	pid_t pid;
	int direct;               /* forked by the agent itself, not the spawner */
	int fd;                   /* manager end of the socketpair, -1 once closed */
	int reported;             /* worker sent its result */
	struct ss_task *task;     /* owned */
	/* pending agent_task_complete */
	int pending;
	int tries;
	int64_t next_ms;
	struct dh_uuid msg_id;
	struct dh_buf payload;
};

struct ss_worker_mgr {
	struct env_copy env;
	ss_worker_send_fn send;
	void *arg;
	struct ss_creds creds;
	int have_creds;
	struct dh_spawner *sp;    /* borrowed; NULL: workers are forked
	                           * directly */
	struct slot slots[SS_WORKER_MAX];
};

static void
env_free(struct env_copy *c)
{
	size_t i;

	for (i = 0; i < sizeof(c->strs) / sizeof(c->strs[0]); i++)
		free(c->strs[i]);
	memset(c, 0, sizeof(*c));
}

static int
env_dup(struct env_copy *c, const struct ss_worker_env *e)
{
	const char *src[ENV_STRS] = { e->instance_id, e->region, e->mgs_url,
		e->kms_url, e->ca_file, e->proxy_addr, e->spool_dir,
		e->agent_version, e->logs_url, e->s3_url };
	const char **dst[ENV_STRS];
	size_t i;

	memset(c, 0, sizeof(*c));
	c->e = *e;
	dst[0] = &c->e.instance_id;
	dst[1] = &c->e.region;
	dst[2] = &c->e.mgs_url;
	dst[3] = &c->e.kms_url;
	dst[4] = &c->e.ca_file;
	dst[5] = &c->e.proxy_addr;
	dst[6] = &c->e.spool_dir;
	dst[7] = &c->e.agent_version;
	dst[8] = &c->e.logs_url;
	dst[9] = &c->e.s3_url;
	for (i = 0; i < ENV_STRS; i++) {
		*dst[i] = NULL;
		if (src[i] == NULL)
			continue;
		c->strs[i] = strdup(src[i]);
		if (c->strs[i] == NULL) {
			env_free(c);
			return DH_E_NOMEM;
		}
		*dst[i] = c->strs[i];
	}
	return DH_OK;
}

int
ss_worker_mgr_new(const struct ss_worker_env *env, struct dh_spawner *sp,
    ss_worker_send_fn send, void *arg, struct ss_worker_mgr **out,
    struct dh_err *err)
{
	struct ss_worker_mgr *m;
	int i;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL || env_dup(&m->env, env) != DH_OK) {
		free(m);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	m->send = send;
	m->arg = arg;
	m->sp = sp;
	for (i = 0; i < SS_WORKER_MAX; i++)
		m->slots[i].fd = -1;
	*out = m;
	return DH_OK;
}

int
ss_worker_mgr_set_env(struct ss_worker_mgr *m, const struct ss_worker_env *env,
    struct dh_err *err)
{
	struct env_copy c;

	if (env_dup(&c, env) != DH_OK)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	env_free(&m->env);
	m->env = c;
	return DH_OK;
}

/* ------------------------------------------------------ start request */

#define REQ_MAGIC "DHW1"
#define REQ_STR_MAX 8192

int
ss_worker_req_encode(const struct ss_worker_env *env,
    const struct ss_creds *creds, const void *payload, size_t n,
    struct dh_buf *out, struct dh_err *err)
{
	const char *strs[ENV_STRS] = { env->instance_id, env->region,
		env->mgs_url, env->kms_url, env->ca_file, env->proxy_addr,
		env->spool_dir, env->agent_version, env->logs_url, env->s3_url };
	int rc;
	size_t i;

	rc = dh_buf_put(out, REQ_MAGIC, 4);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, (uint8_t)(env->allow_root != 0));
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, (uint8_t)(env->ssm_user_sudo != 0));
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, (uint8_t)(env->log_input != 0));
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, (uint8_t)(env->fail_closed != 0));
	if (rc == DH_OK)
		rc = dh_buf_put_u32(out, env->proxy_port);
	if (rc == DH_OK)
		rc = dh_buf_put_u64(out, (uint64_t)env->max_chunk);
	for (i = 0; i < ENV_STRS && rc == DH_OK; i++)
		rc = strs[i] != NULL && strlen(strs[i]) > REQ_STR_MAX ?
		    DH_E_TOOBIG : dh_buf_put_ostr(out, strs[i]);
	if (rc == DH_OK)
		rc = dh_buf_put_ostr(out, creds->access_key);
	if (rc == DH_OK)
		rc = dh_buf_put_ostr(out, creds->secret_key);
	if (rc == DH_OK)
		rc = dh_buf_put_ostr(out, creds->session_token);
	if (rc == DH_OK && n > SS_WORKER_TASK_MAX)
		rc = DH_E_TOOBIG;
	if (rc == DH_OK)
		rc = dh_buf_put_u32(out, (uint32_t)n);
	if (rc == DH_OK)
		rc = dh_buf_put(out, payload, n);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot encode the worker's start"
		    " request");
	return DH_OK;
}

/* One credential string into dst[cap]; never absent. */
static int
req_get_secret(struct dh_buf *b, char *dst, size_t cap, struct dh_err *err)
{
	char *v = NULL;
	int rc = dh_buf_get_ostr(b, cap - 1, &v);

	if (rc == DH_OK && v == NULL)
		rc = DH_E_FORMAT;
	if (rc == DH_OK)
		memcpy(dst, v, strlen(v) + 1);
	if (v != NULL) {
		dh_wipe(v, strlen(v));
		free(v);
	}
	return rc == DH_OK ? DH_OK : dh_err_set(err, rc, "start request: bad"
	    " credentials (%s)", dh_strerror(rc));
}

int
ss_worker_req_decode(const void *p, size_t n, struct ss_worker_req *r,
    struct dh_err *err)
{
	const char **dst[ENV_STRS];
	struct dh_buf b;
	unsigned char magic[4];
	uint8_t f[4];
	uint32_t port, plen;
	uint64_t chunk;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	dst[0] = &r->env.instance_id;
	dst[1] = &r->env.region;
	dst[2] = &r->env.mgs_url;
	dst[3] = &r->env.kms_url;
	dst[4] = &r->env.ca_file;
	dst[5] = &r->env.proxy_addr;
	dst[6] = &r->env.spool_dir;
	dst[7] = &r->env.agent_version;
	dst[8] = &r->env.logs_url;
	dst[9] = &r->env.s3_url;
	dh_buf_view(&b, p, n);
	if (dh_buf_get(&b, magic, 4) != DH_OK || dh_buf_get_u8(&b, &f[0]) ||
	    dh_buf_get_u8(&b, &f[1]) || dh_buf_get_u8(&b, &f[2]) ||
	    dh_buf_get_u8(&b, &f[3]) || dh_buf_get_u32(&b, &port) ||
	    dh_buf_get_u64(&b, &chunk))
		return dh_err_set(err, DH_E_SHORT, "start request: truncated");
	if (memcmp(magic, REQ_MAGIC, 4) != 0)
		return dh_err_set(err, DH_E_FORMAT, "start request: bad magic");
	if (port > 65535 || chunk > SS_WORKER_CHUNK_MAX)
		return dh_err_set(err, DH_E_FORMAT, "start request: proxy port"
		    " or chunk size out of range");
	r->env.allow_root = f[0] != 0;
	r->env.ssm_user_sudo = f[1] != 0;
	r->env.log_input = f[2] != 0;
	r->env.fail_closed = f[3] != 0;
	r->env.proxy_port = port;
	r->env.max_chunk = (size_t)chunk;
	for (i = 0; i < ENV_STRS; i++) {
		rc = dh_buf_get_ostr(&b, REQ_STR_MAX, &r->strs[i]);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "start request: setting %zu:"
			    " %s", i, dh_strerror(rc));
		*dst[i] = r->strs[i];
	}
	if ((rc = req_get_secret(&b, r->creds.access_key,
	    sizeof(r->creds.access_key), err)) != DH_OK ||
	    (rc = req_get_secret(&b, r->creds.secret_key,
	    sizeof(r->creds.secret_key), err)) != DH_OK ||
	    (rc = req_get_secret(&b, r->creds.session_token,
	    sizeof(r->creds.session_token), err)) != DH_OK)
		return rc;
	if (dh_buf_get_u32(&b, &plen) != DH_OK)
		return dh_err_set(err, DH_E_SHORT, "start request: truncated");
	if (plen > SS_WORKER_TASK_MAX || dh_buf_avail(&b) != plen)
		return dh_err_set(err, DH_E_FORMAT, "start request: payload of"
		    " %u bytes with %zu left", (unsigned)plen,
		    dh_buf_avail(&b));
	return ss_worker_parse_task(dh_buf_ptr(&b), plen, &r->task, err);
}

void
ss_worker_req_free(struct ss_worker_req *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < ENV_STRS; i++)
		free(r->strs[i]);
	dh_wipe(r, sizeof(*r));
}

void
ss_worker_spawned(const void *req, size_t n, int fd)
{
	static struct ss_worker_req r;
	struct dh_err e;

	dh_err_clear(&e);
	if (ss_worker_req_decode(req, n, &r, &e) != DH_OK) {
		dh_error("session worker: %s", e.msg);
		_exit(2);
	}
	ss_worker_run(&r.env, &r.task, &r.creds, fd);
}

/* IPC packets: 'C' creds (three NUL-terminated strings), 'X' cancel,
 * 'D' task-complete payload (JSON). */
static void
ipc_send_creds(int fd, const struct ss_creds *c)
{
	char pkt[1 + sizeof(struct ss_creds)];
	size_t a = strlen(c->access_key) + 1, s = strlen(c->secret_key) + 1,
	    t = strlen(c->session_token) + 1;

	if (fd < 0 || 1 + a + s + t > sizeof(pkt))
		return;
	pkt[0] = 'C';
	memcpy(pkt + 1, c->access_key, a);
	memcpy(pkt + 1 + a, c->secret_key, s);
	memcpy(pkt + 1 + a + s, c->session_token, t);
	(void)send(fd, pkt, 1 + a + s + t, MSG_DONTWAIT | MSG_NOSIGNAL);
	dh_wipe(pkt, sizeof(pkt));
}

void
ss_worker_mgr_set_creds(struct ss_worker_mgr *m, const struct ss_creds *c)
{
	int i;

	dh_wipe(&m->creds, sizeof(m->creds));
	m->creds = *c;
	m->have_creds = 1;
	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && m->slots[i].fd >= 0)
			ipc_send_creds(m->slots[i].fd, &m->creds);
}

static struct slot *
find_sid(struct ss_worker_mgr *m, const char *sid)
{
	int i;

	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && m->slots[i].task != NULL &&
		    strcmp(m->slots[i].task->session_id, sid) == 0)
			return &m->slots[i];
	return NULL;
}

static void
slot_release(struct slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->task);
	dh_buf_free(&s->payload);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* Have the spawner fork the worker for msg with fd as its end of the
 * socketpair: its pid, or 0 when the spawner is gone or refused (the
 * caller then forks directly). */
static pid_t
spawn(struct ss_worker_mgr *m, const struct dh_mgs_msg *msg, int fd,
    const char *sid)
{
	struct dh_buf req;
	struct dh_err e;
	pid_t pid = 0;
	int rc;

	dh_err_clear(&e);
	dh_buf_init_secret(&req, DH_SPAWNER_REQ_MAX);
	rc = ss_worker_req_encode(&m->env.e, &m->creds, msg->payload,
	    msg->payload_len, &req, &e);
	if (rc == DH_OK)
		rc = dh_spawner_spawn(m->sp, SS_WORKER_SPAWN_TAG, req.d, req.len,
		    fd, &pid, &e);
	dh_buf_free(&req);
	if (rc != DH_OK)
		dh_warn("session %s: %s; the agent forks this worker itself",
		    sid, e.msg);
	return rc == DH_OK ? pid : 0;
}

static void
start_session(struct ss_worker_mgr *m, const struct dh_mgs_msg *msg)
{
	struct ss_task *t;
	struct slot *s = NULL;
	struct dh_err e;
	int sv[2], i, direct;
	pid_t pid;

	dh_err_clear(&e);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return;
	if (ss_worker_parse_task(msg->payload, msg->payload_len, t, &e) !=
	    DH_OK) {
		dh_warn("session: interactive_shell refused: %s", e.msg);
		free(t);
		return;
	}
	if (find_sid(m, t->session_id) != NULL) {
		dh_info("session %s: already running; duplicate start ignored",
		    t->session_id);
		free(t);
		return;
	}
	for (i = 0; i < SS_WORKER_MAX && s == NULL; i++)
		if (!m->slots[i].used)
			s = &m->slots[i];
	if (s == NULL || !m->have_creds) {
		dh_warn("session %s: %s", t->session_id, s == NULL ?
		    "too many sessions" : "no credentials yet");
		free(t);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		dh_warn("session %s: socketpair: %s", t->session_id,
		    strerror(errno));
		free(t);
		return;
	}
	pid = m->sp != NULL ? spawn(m, msg, sv[1], t->session_id) : 0;
	direct = pid == 0;
	if (direct)
		pid = fork();
	if (pid < 0) {
		dh_warn("session %s: fork: %s", t->session_id, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(t);
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		ss_worker_run(&m->env.e, t, &m->creds, sv[1]);
	}
	close(sv[1]);
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->pid = pid;
	s->direct = direct;
	s->fd = sv[0];
	s->task = t;
	dh_buf_init(&s->payload, IPC_MAX);
	dh_info("session %s: worker %ld started (document %s, type %s)",
	    t->session_id, (long)pid, t->document_name[0] != '\0' ?
	    t->document_name : "-", t->session_type);
}

static void
cancel_session(struct ss_worker_mgr *m, const struct dh_mgs_msg *msg)
{
	cJSON *j = NULL;
	char sid[SS_WORKER_SID_MAX];
	struct slot *s;
	struct dh_err e;

	if (dh_json_parse(msg->payload, msg->payload_len, 64 * 1024, &j, &e) !=
	    DH_OK || jstr(j, "SessionId", sid, sizeof(sid), &e) != DH_OK) {
		dh_warn("session: channel_closed unreadable");
		cJSON_Delete(j);
		return;
	}
	cJSON_Delete(j);
	s = find_sid(m, sid);
	if (s == NULL || s->fd < 0)
		return;
	dh_info("session %s: terminate requested by the service", sid);
	(void)send(s->fd, "X", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
task_ack(struct ss_worker_mgr *m, const struct dh_mgs_msg *msg)
{
	cJSON *j = NULL;
	char id[64];
	struct dh_uuid u;
	struct dh_err e;
	int i;

	if (dh_json_parse(msg->payload, msg->payload_len, 64 * 1024, &j, &e) !=
	    DH_OK || jstr(j, "MessageId", id, sizeof(id), &e) != DH_OK ||
	    dh_uuid_parse(id, &u) != DH_OK) {
		cJSON_Delete(j);
		return;
	}
	cJSON_Delete(j);
	for (i = 0; i < SS_WORKER_MAX; i++) {
		struct slot *s = &m->slots[i];

		if (s->used && s->pending && memcmp(&s->msg_id, &u,
		    sizeof(u)) == 0) {
			dh_info("session %s: agent_task_complete acknowledged",
			    s->task->session_id);
			s->pending = 0;
		}
	}
}

int
ss_worker_mgr_on_message(struct ss_worker_mgr *m, const struct dh_mgs_msg *msg,
    int64_t now_ms)
{
	if (dh_mgs_is(msg, DH_MGS_T_INTERACTIVE_SHELL))
		start_session(m, msg);
	else if (dh_mgs_is(msg, DH_MGS_T_CHANNEL_CLOSED))
		cancel_session(m, msg);
	else if (dh_mgs_is(msg, DH_MGS_T_TASK_ACK))
		task_ack(m, msg);
	else
		return 0;
	return 1;
}

static void
send_complete(struct ss_worker_mgr *m, struct slot *s, int64_t now_ms)
{
	struct dh_mgs_msg out;
	struct dh_err e;

	s->next_ms = now_ms + 1000;
	if (dh_mgs_init(&out, DH_MGS_T_TASK_COMPLETE, (uint64_t)dh_time_now_ms(),
	    0, 0, &s->msg_id, DH_MGS_PT_NONE, s->payload.d, s->payload.len,
	    &e) != DH_OK)
		return;
	if (m->send(m->arg, &out) == DH_OK)
		s->tries++;
}

/* The worker reported (or died): queue agent_task_complete. */
static void
queue_complete(struct ss_worker_mgr *m, struct slot *s, const void *p,
    size_t n, int64_t now_ms)
{
	dh_buf_reset(&s->payload);
	if (dh_buf_put(&s->payload, p, n) != DH_OK ||
	    dh_uuid_v4(&s->msg_id) != DH_OK)
		return;
	s->reported = 1;
	s->pending = 1;
	s->tries = 0;
	send_complete(m, s, now_ms);
}

static void
read_ipc(struct ss_worker_mgr *m, struct slot *s, int64_t now_ms)
{
	unsigned char pkt[IPC_MAX];
	ssize_t n;

	while (s->fd >= 0) {
		n = recv(s->fd, pkt, sizeof(pkt), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		if (pkt[0] == 'D' && n > 1)
			queue_complete(m, s, pkt + 1, (size_t)n - 1, now_ms);
	}
}

/* Worker s has exited with wait status st (-1: unknown, its report was
 * lost with the spawner). */
static void
worker_ended(struct ss_worker_mgr *m, struct slot *s, int st, int64_t now_ms)
{
	struct dh_buf b;
	char how[48], why[128];

	read_ipc(m, s, now_ms);
	if (st == -1)
		snprintf(how, sizeof(how), "status unknown");
	else
		snprintf(how, sizeof(how), "%s %d", WIFSIGNALED(st) ?
		    "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) :
		    WEXITSTATUS(st));
	dh_info("session %s: worker %ld ended (%s)", s->task->session_id,
	    (long)s->pid, how);
	s->pid = 0;
	if (s->reported)
		return;
	snprintf(why, sizeof(why), "session worker ended unexpectedly (%s)",
	    how);
	dh_buf_init(&b, IPC_MAX);
	if (ss_worker_task_complete_json(s->task, m->env.e.instance_id != NULL ?
	    m->env.e.instance_id : "", "Failed", why, &b, NULL) == DH_OK)
		queue_complete(m, s, b.d, b.len, now_ms);
	dh_buf_free(&b);
}

/* Has worker s ended?  1 with its wait status in *st (-1 = unknown). */
static int
has_ended(struct ss_worker_mgr *m, struct slot *s, int *st)
{
	int rc;

	if (s->pid <= 0)
		return 0;
	if (s->direct)
		return waitpid(s->pid, st, WNOHANG) == s->pid;
	rc = m->sp != NULL ? dh_spawner_ended(m->sp, s->pid, 0, st) : DH_E_IO;
	if (rc == DH_OK)
		return 1;
	/* the spawner died and the worker was reparented: its socket's EOF,
	 * or its pid gone, says it ended (a zombie under a PID 1 that never
	 * reaps still answers kill) */
	if (rc == DH_E_IO && (s->fd < 0 || (kill(s->pid, 0) != 0 &&
	    errno == ESRCH))) {
		*st = -1;
		return 1;
	}
	return 0;
}

long
ss_worker_mgr_poll(struct ss_worker_mgr *m, int64_t now_ms)
{
	long next = 1000;
	int i;

	for (i = 0; i < SS_WORKER_MAX; i++) {
		struct slot *s = &m->slots[i];
		int st;

		if (!s->used)
			continue;
		read_ipc(m, s, now_ms);
		if (has_ended(m, s, &st))
			worker_ended(m, s, st, now_ms);
		if (s->pending && now_ms >= s->next_ms) {
			if (s->tries >= COMPLETE_TRIES)
				s->pending = 0;
			else
				send_complete(m, s, now_ms);
		}
		if (s->pending && s->next_ms - now_ms < next)
			next = (long)(s->next_ms - now_ms);
		if (s->pid == 0 && !s->pending)
			slot_release(s);
	}
	return next < 50 ? 50 : next;
}

int
ss_worker_mgr_count(const struct ss_worker_mgr *m)
{
	int i, n = 0;

	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && m->slots[i].pid > 0)
			n++;
	return n;
}

/* At shutdown: mark ended workers (pid 0) without reporting them. */
static void
forget_ended(struct ss_worker_mgr *m)
{
	int i, st;

	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && has_ended(m, &m->slots[i], &st))
			m->slots[i].pid = 0;
	usleep(10000);
}

void
ss_worker_mgr_free(struct ss_worker_mgr *m)
{
	int64_t end;
	int i, st;

	if (m == NULL)
		return;
	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, SIGTERM);
	end = dh_time_mono_ms() + 2000;
	while (ss_worker_mgr_count(m) > 0 && dh_time_mono_ms() < end)
		forget_ended(m);
	for (i = 0; i < SS_WORKER_MAX; i++)
		if (m->slots[i].used && m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, SIGKILL);
	end = dh_time_mono_ms() + 1000;
	while (ss_worker_mgr_count(m) > 0 && dh_time_mono_ms() < end)
		forget_ended(m);
	for (i = 0; i < SS_WORKER_MAX; i++) {
		if (m->slots[i].used && m->slots[i].pid > 0 &&
		    m->slots[i].direct)
			(void)waitpid(m->slots[i].pid, &st, 0);
		if (m->slots[i].used)
			slot_release(&m->slots[i]);
	}
	dh_wipe(&m->creds, sizeof(m->creds));
	env_free(&m->env);
	free(m);
}

/* ============================================================== worker */

enum wstate {
	W_CONNECTING = 0, /* before the first open */
	W_HS_RESPONSE,    /* HandshakeRequest sent */
	W_HS_CHALLENGE,   /* EncChallengeRequest sent */
	W_ACTIVE,         /* shell running */
	W_ENDING,         /* draining, then Terminating and close */
	W_DONE
};

struct worker {
	const struct ss_worker_env *env;
	const struct ss_task *t;
	int ipc;
	struct ss_creds creds;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct lws *ws, *pty_wsi, *ipc_wsi;
	int ws_up;
	int ever_up;
	int attempts;             /* failed connects since the last open */
	struct dh_http_client *http;
	struct dh_aws_client aws;
	char host[256], hostport[300], path[300];
	int port;
	struct dh_sigv4_signed sig;
	struct dh_buf token;      /* secret */
	struct dh_mgsrel *rel;
	struct ss_kms kms;
	int kms_on;
	char challenge[SS_HS_CHALLENGE_MAX];
	unsigned char chal[64];
	int64_t hs_start_ms;
	int pending_size;
	uint32_t cols, rows;
	struct ss_pty pty;
	int pty_on;
	int pty_reading;
	int is_port;              /* a Port session: io is a TCP connection */
	int io;                   /* the stream's descriptor: the pty master or
	                           * the port's socket; -1 = none */
	struct ss_pty_user user;
	int have_user;
	char start_error[SS_WORKER_TEXT_MAX];
	struct ss_transcript *tr;
	struct dh_wsq outq;        /* framed and masked, ready for the socket */
	struct dh_buf rx;
	struct dh_buf inpend;
	struct dh_buf sbuf;
	unsigned char *rbuf;
	size_t chunk;
	size_t carry;             /* bytes held at rbuf[0..carry) */
	int input_throttled;
	int state;
	int64_t start_ms, last_input_ms, end_deadline_ms;
	int exit_code;
	char status[16];
	char output[SS_WORKER_TEXT_MAX];
	int terminating_sent;
	int closing;
	int finish;
	lws_sorted_usec_list_t sul_rel, sul_hs, sul_conn, sul_tick;
};

static volatile sig_atomic_t g_wterm;
static struct lws_context *volatile g_wctx;

static void pump(struct worker *w);
static int port_connect(struct worker *w, struct dh_err *err);
static void port_close(struct worker *w);
static void port_eof(struct worker *w);
static void port_failed(struct worker *w, const char *why);
static void begin_end(struct worker *w, const char *status,
    const char *output);
static void connect_cb(lws_sorted_usec_list_t *sul);

static int64_t
now_ms(void)
{
	return dh_time_mono_ms();
}

static void
on_wsig(int sig)
{
	g_wterm = 1;
	if (g_wctx != NULL)
		lws_cancel_service(g_wctx);
}

/* ------------------------------------------------------ output queue */

static void
outq_clear(struct worker *w)
{
	dh_wsq_clear(&w->outq);
}

static int
outq_push(struct worker *w, int binary, const void *p, size_t n, int front)
{
	return dh_wsq_push(&w->outq, binary ? DH_WSQ_BINARY : DH_WSQ_TEXT, p,
	    n, front);
}

/* ------------------------------------------------------ flow control */

/* Read the pty only while the peer keeps up: not paused, socket queue
 * and unacknowledged bytes under their windows (a bounded window keeps the
 * round trip, and so needless resends, small when the client is slow). */
static int
can_produce(const struct worker *w)
{
	struct dh_mgsrel_stats st;

	if (w->state != W_ACTIVE || !w->ws_up || w->outq.bytes >= OUTQ_HIGH)
		return 0;
	dh_mgsrel_stats(w->rel, &st);
	return !st.paused && st.inflight_bytes < INFLIGHT_MAX &&
	    dh_mgsrel_can_send(w->rel, w->chunk + SS_KMS_OVERHEAD);
}

static void
update_flow(struct worker *w)
{
	int on;

	if (w->pty_wsi == NULL)
		return;
	on = can_produce(w) && (w->pty_reading || w->outq.bytes < OUTQ_LOW);
	if (on != w->pty_reading) {
		lws_rx_flow_control(w->pty_wsi, on);
		w->pty_reading = on;
	}
}

/* ------------------------------------------------------ stream output */

static int
rel_send(struct worker *w, uint32_t ptype, const void *p, size_t n)
{
	struct dh_err e;
	int rc;

	rc = dh_mgsrel_send(w->rel, ptype, p, n, now_ms(), &e);
	if (rc != DH_OK)
		dh_warn("session %s: cannot queue a message: %s",
		    w->t->session_id, e.msg);
	return rc;
}

/* Output bytes of the shell: transcript, encryption, stream. */
static int
emit_output(struct worker *w, const unsigned char *p, size_t n)
{
	struct dh_err e;
	int rc;

	if (n == 0)
		return DH_OK;
	if (w->tr != NULL) {
		rc = ss_transcript_write(w->tr, SS_KIND_OUTPUT, p, n, 0, &e);
		if (rc == DH_E_TOOBIG) {
			begin_end(w, "Failed",
			    "transcript spool full (fail-closed policy)");
			return rc;
		}
		if (rc != DH_OK)
			dh_warn("session %s: transcript: %s",
			    w->t->session_id, e.msg);
	}
	if (!w->kms_on)
		return rel_send(w, DH_MGS_PT_OUTPUT, p, n);
	dh_buf_reset(&w->sbuf);
	rc = ss_kms_seal(&w->kms, p, n, &w->sbuf, &e);
	if (rc != DH_OK)
		return rc;
	return rel_send(w, DH_MGS_PT_OUTPUT, w->sbuf.d, w->sbuf.len);
}

/* Bytes at the end of p[0..n) that start an incomplete UTF-8 sequence. */
static size_t
utf8_tail(const unsigned char *p, size_t n)
{
	size_t i, back;

	for (back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = p[n - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			need = 2;
		else if ((c & 0xf0) == 0xe0)
			need = 3;
		else if ((c & 0xf8) == 0xf0)
			need = 4;
		else
			return 0;
		if (need > back) {
			for (i = n - back + 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					return 0;
			return back;
		}
		return 0;
	}
	return 0;
}

/* Read what the pty has (up to one chunk) and send it. 0 = more may come,
 * 1 = the shell side is gone. */
static int
pty_read_once(struct worker *w)
{
	size_t have = w->carry, hold;
	int64_t until = -1, left;
	ssize_t n;
	int gone = 0, full = 0;

	while (have < w->chunk) {
		n = read(w->io, w->rbuf + have, w->chunk - have);
		if (n > 0) {
			have += (size_t)n;
			full = (size_t)n >= PTY_BUF_FULL;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    full) {
			struct pollfd pf = { w->io, POLLIN, 0 };

			/* the event loop waits too: keep the hold short */
			if (until < 0)
				until = now_ms() + PTY_COALESCE_MS;
			left = until - now_ms();
			full = 0;
			if (left > 0 && poll(&pf, 1, (int)left) > 0)
				continue;
			break;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			gone = 1;
		break;
	}
	/* a shell's UTF-8 sequences stay whole; a port's bytes are opaque */
	hold = gone || w->is_port ? 0 : utf8_tail(w->rbuf, have);
	if (have - hold > 0)
		(void)emit_output(w, w->rbuf, have - hold);
	if (hold > 0)
		memmove(w->rbuf, w->rbuf + have - hold, hold);
	w->carry = hold;
	return gone;
}

static void
shell_gone(struct worker *w)
{
	char out[96];

	(void)ss_pty_reaped(&w->pty, 1);
	w->exit_code = ss_pty_exit_code(w->pty.wstatus);
	if (w->pty_wsi != NULL) {
		lws_set_opaque_user_data(w->pty_wsi, NULL);
		lws_set_timeout(w->pty_wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		w->pty_wsi = NULL;
	}
	snprintf(out, sizeof(out), "%s", w->exit_code == 0 ? "" :
	    "shell exited with a non-zero status");
	begin_end(w, "Success", out);
}

static void
pty_readable(struct worker *w)
{
	int i;

	for (i = 0; i < 4 && can_produce(w); i++) {
		if (pty_read_once(w)) {
			pump(w);
			if (w->is_port)
				port_eof(w);
			else
				shell_gone(w);
			return;
		}
		if (w->carry == 0 && w->outq.bytes == 0)
			break;
	}
	pump(w);
}

/* ------------------------------------------------------- stream input */

static void
pty_write_pending(struct worker *w)
{
	ssize_t n;

	while (dh_buf_avail(&w->inpend) > 0 && w->io >= 0) {
		n = write(w->io, dh_buf_ptr(&w->inpend),
		    dh_buf_avail(&w->inpend));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		(void)dh_buf_get(&w->inpend, NULL, (size_t)n);
	}
	if (dh_buf_avail(&w->inpend) == 0) {
		dh_buf_reset(&w->inpend);
		if (w->input_throttled) {
			w->input_throttled = 0;
			(void)dh_mgsrel_set_accept(w->rel, DH_MGSREL_ACCEPT_ALL);
		}
	} else if (w->pty_wsi != NULL)
		lws_callback_on_writable(w->pty_wsi);
}

static void
input_bytes(struct worker *w, const unsigned char *p, size_t n)
{
	struct dh_err e;

	if (n == 0 || (!w->pty_on && !w->is_port))
		return;
	if (w->is_port && w->io < 0 && port_connect(w, &e) != DH_OK) {
		port_failed(w, e.msg);
		return;
	}
	if (w->io < 0)
		return;
	w->last_input_ms = now_ms();
	if (w->tr != NULL)
		(void)ss_transcript_write(w->tr, SS_KIND_INPUT, p, n, 0, &e);
	if (dh_buf_avail(&w->inpend) == 0)
		dh_buf_reset(&w->inpend);
	if (dh_buf_put(&w->inpend, p, n) != DH_OK) {
		dh_warn("session %s: input backlog full; dropping %zu bytes",
		    w->t->session_id, n);
		return;
	}
	if (dh_buf_avail(&w->inpend) > (1u << 20) && !w->input_throttled) {
		/* stop taking input until the shell reads: the client resends */
		w->input_throttled = 1;
		(void)dh_mgsrel_set_accept(w->rel, DH_MGSREL_ACCEPT_ALL &
		    ~((uint64_t)1 << DH_MGS_PT_OUTPUT));
	}
	pty_write_pending(w);
}

static void
apply_size(struct worker *w)
{
	struct dh_err e;
	char txt[32];

	if (!w->pending_size || !w->pty_on)
		return;
	w->pending_size = 0;
	if (ss_pty_resize(&w->pty, w->cols, w->rows, &e) != DH_OK)
		dh_warn("session %s: resize: %s", w->t->session_id, e.msg);
	snprintf(txt, sizeof(txt), "%ux%u", (unsigned)w->cols,
	    (unsigned)w->rows);
	if (w->tr != NULL)
		(void)ss_transcript_write(w->tr, SS_KIND_RESIZE, txt,
		    strlen(txt), 0, &e);
}

/* ------------------------------------------------------------- https */

/* The HTTPS client (CreateDataChannel, KMS Decrypt), built on first use
 * and dropped once the shell runs, since only a reconnect needs it again:
 * an idle client keeps a TLS connection and curl's buffers, private
 * memory in every session. */
static int
http_client(struct worker *w, struct dh_err *err)
{
	struct dh_http_config hc;
	int rc;

	if (w->http != NULL)
		return DH_OK;
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = w->env->ca_file;
	hc.user_agent = "deckhand-agent/" DH_VERSION;
	hc.timeout_ms = 20000;
	hc.connect_timeout_ms = 5000;
	hc.max_attempts = 2;
	rc = dh_http_client_new(&hc, &w->http, err);
	if (rc == DH_OK)
		dh_aws_client_init(&w->aws, w->http);
	return rc;
}

static void
http_release(struct worker *w)
{
	dh_http_client_free(w->http);
	w->http = NULL;
	memset(&w->aws, 0, sizeof(w->aws));
}

/* ------------------------------------------------------------- shell */

static int
adopt_fd(struct worker *w, int fd, struct lws **out)
{
	lws_sock_file_fd_type u;

	memset(&u, 0, sizeof(u));
	u.filefd = fd;
	*out = lws_adopt_descriptor_vhost(w->vh, LWS_ADOPT_RAW_FILE_DESC, u,
	    PROTO, NULL);
	if (*out == NULL)
		return DH_E_IO;
	lws_set_opaque_user_data(*out, w);
	return DH_OK;
}

static void
start_shell(struct worker *w)
{
	struct ss_pty_opts o;
	struct dh_err e;
	char msg[SS_WORKER_TEXT_MAX + 8];
	int rc;

	dh_mgsrel_set_accept(w->rel, DH_MGSREL_ACCEPT_ALL);
	w->state = W_ACTIVE;
	if (w->start_error[0] != '\0') {
		snprintf(msg, sizeof(msg), "%s\r\n", w->start_error);
		(void)emit_output(w, (const unsigned char *)msg, strlen(msg));
		begin_end(w, "Failed", w->start_error);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.user = w->have_user ? &w->user : NULL;
	o.command = w->t->command[0] != '\0' ? w->t->command : NULL;
	o.cols = w->cols;
	o.rows = w->rows;
	rc = ss_pty_spawn(&o, &w->pty, &e);
	if (rc == DH_OK)
		rc = adopt_fd(w, w->pty.master, &w->pty_wsi);
	if (rc == DH_OK)
		w->io = w->pty.master;
	if (rc != DH_OK) {
		snprintf(w->start_error, sizeof(w->start_error),
		    "failed to start the shell: %.400s", e.msg);
		w->state = W_CONNECTING;
		start_shell(w);
		return;
	}
	w->pty_on = 1;
	w->pty_reading = 1;
	w->pending_size = 0;
	w->last_input_ms = now_ms();
	dh_info("session %s: shell %ld started as %s", w->t->session_id,
	    (long)w->pty.pid, w->have_user ? w->user.name : "agent user");
	if (w->t->shell_profile[0] != '\0') {
		input_bytes(w, (const unsigned char *)w->t->shell_profile,
		    strlen(w->t->shell_profile));
		input_bytes(w, (const unsigned char *)"\n", 1);
	}
	update_flow(w);
	/* setup (account lookup, sink checks, handshake) is over: drop the
	 * HTTPS client and give the freed pages back */
	http_release(w);
	(void)malloc_trim(0);
}

/* -------------------------------------------------------------- port */

/* Destinations a Port session may not reach: the instance metadata and
 * ECS credential services and the VPC resolver (they would hand out the
 * host's role), as the reference agent refuses them. */
static int
port_denied(const struct sockaddr *sa)
{
	static const unsigned char v6[][16] = {
		{ 0xfd, 0, 0, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x54 },
		{ 0xfd, 0, 0, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 },
	};
	size_t i;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		uint32_t a = ntohl(s4->sin_addr.s_addr);

		return a == 0xa9fea9fe || a == 0xa9fea9fd || a == 0xa9feaa02;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
			if (memcmp(&s6->sin6_addr, v6[i], 16) == 0)
				return 1;
	}
	return 0;
}

/* Wait up to ms for a non-blocking connect; 1 = connected. */
static int
connected(int fd, int ms)
{
	struct pollfd pf = { fd, POLLOUT, 0 };
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	return poll(&pf, 1, ms) == 1 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
	    soerr == 0;
}

/* Dial the session's destination (up to PORT_CONNECT_MS per address). */
static int
port_connect(struct worker *w, struct dh_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, lfd, rc, denied = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", w->t->port_number);
	rc = getaddrinfo(w->t->port_host, port, &hints, &res);
	if (rc != 0)
		return dh_err_set(err, DH_E_NET, "Connection to destination"
		    " port failed: cannot resolve %.200s: %s", w->t->port_host,
		    gai_strerror(rc));
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		if (port_denied(ai->ai_addr)) {
			denied = 1;
			continue;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    !(errno == EINPROGRESS && connected(fd, PORT_CONNECT_MS))) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return dh_err_set(err, denied ? DH_E_AUTH : DH_E_NET,
		    "Connection to destination port failed: %.200s port %d %s",
		    w->t->port_host, w->t->port_number, denied ?
		    "is not an allowed destination" : "refused the connection");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* libwebsockets closes the descriptor it watches: give it a copy */
	lfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (lfd < 0 || adopt_fd(w, lfd, &w->pty_wsi) != DH_OK) {
		if (lfd >= 0)
			close(lfd);
		close(fd);
		return dh_err_set(err, DH_E_IO, "cannot watch the port"
		    " connection");
	}
	w->io = fd;
	w->pty_reading = 1;
	update_flow(w);
	return DH_OK;
}

/* Drop the destination connection (the client's DisconnectToPort, the
 * destination's EOF, the session's end); data redials. */
static void
port_close(struct worker *w)
{
	if (w->pty_wsi != NULL) {
		lws_set_opaque_user_data(w->pty_wsi, NULL);
		lws_set_timeout(w->pty_wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		w->pty_wsi = NULL;
	}
	if (w->io >= 0) {
		(void)shutdown(w->io, SHUT_RDWR);
		close(w->io);
		w->io = -1;
	}
	dh_buf_reset(&w->inpend);
	w->carry = 0;
}

/* The destination cannot be reached: tell the client (ConnectToPortError,
 * which clients print) and end the session with the reason. */
static void
port_failed(struct worker *w, const char *why)
{
	struct dh_buf b;

	dh_warn("session %s: %s", w->t->session_id, why);
	dh_buf_init(&b, 16);
	if (dh_mgs_flag_build(DH_MGS_FLAG_CONNECT_TO_PORT_ERROR, &b, NULL) ==
	    DH_OK)
		(void)rel_send(w, DH_MGS_PT_FLAG, b.d, b.len);
	dh_buf_free(&b);
	begin_end(w, "Failed", why);
}

/* The destination closed: a stdio session (ssh) ends; a forwarding one
 * waits for the client's next connection. */
static void
port_eof(struct worker *w)
{
	port_close(w);
	if (w->t->port_type[0] == '\0')
		begin_end(w, "Success", "");
}

static void
start_port(struct worker *w)
{
	struct dh_err e;

	dh_mgsrel_set_accept(w->rel, DH_MGSREL_ACCEPT_ALL);
	w->state = W_ACTIVE;
	w->last_input_ms = now_ms();
	if (port_connect(w, &e) != DH_OK) {
		port_failed(w, e.msg);
		return;
	}
	dh_info("session %s: port session to %s port %d (%s)",
	    w->t->session_id, w->t->port_host, w->t->port_number,
	    w->t->port_type[0] != '\0' ? w->t->port_type : "stdio");
}

/* --------------------------------------------------------- handshake */

static void
hs_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, sul_hs);

	if (w->state == W_HS_RESPONSE || w->state == W_HS_CHALLENGE)
		begin_end(w, "Failed", "Handshake timed out. Please ensure"
		    " that you have the latest version of the session manager"
		    " plugin.");
}

static void
hs_timer(struct worker *w)
{
	lws_sul_schedule(w->ctx, 0, &w->sul_hs, hs_timeout_cb,
	    (lws_usec_t)HS_TIMEOUT_MS * 1000);
}

static void
start_handshake(struct worker *w)
{
	struct ss_hs_request r;
	unsigned char raw[16];
	struct dh_buf b, b64;
	struct dh_err e;

	dh_buf_init(&b, SS_HS_JSON_MAX);
	dh_buf_init(&b64, 64);
	memset(&r, 0, sizeof(r));
	snprintf(r.agent_version, sizeof(r.agent_version), "%s",
	    w->env->agent_version != NULL ? w->env->agent_version : "3.3.0.0");
	snprintf(r.session_type, sizeof(r.session_type), "%s",
	    w->t->session_type);
	/* a Port session never uses KMS; its client needs the properties */
	r.kms = !w->is_port;
	if (w->is_port)
		snprintf(r.properties, sizeof(r.properties), "%s",
		    w->t->port_props);
	else
		snprintf(r.kms_key_id, sizeof(r.kms_key_id), "%s",
		    w->t->kms_key_id);
	if (dh_random(raw, sizeof(raw)) != DH_OK ||
	    dh_b64_encode(raw, sizeof(raw), &b64) != DH_OK ||
	    (size_t)snprintf(w->challenge, sizeof(w->challenge), "%s",
	    dh_buf_cstr(&b64)) >= sizeof(w->challenge)) {
		begin_end(w, "Failed", "no randomness for the handshake");
		goto out;
	}
	memcpy(r.challenge, w->challenge, sizeof(r.challenge));
	if (ss_hs_request_build(&r, &b, &e) != DH_OK) {
		begin_end(w, "Failed", e.msg);
		goto out;
	}
	w->hs_start_ms = now_ms();
	w->state = W_HS_RESPONSE;
	(void)rel_send(w, DH_MGS_PT_HS_REQUEST, b.d, b.len);
	hs_timer(w);
out:
	dh_buf_free(&b);
	dh_buf_free(&b64);
}

/* KMS Decrypt of the client's data key into key[64]. */
static int
kms_decrypt(struct worker *w, const struct ss_hs_response *r,
    unsigned char key[SS_KMS_DATAKEY_LEN], struct dh_err *err)
{
	cJSON *req = cJSON_CreateObject(), *ctx, *resp = NULL;
	struct dh_aws_error ae;
	struct dh_buf b64;
	int rc = DH_E_NOMEM;

	dh_buf_init(&b64, 2 * SS_HS_CT_MAX);
	if (req == NULL || dh_b64_encode(r->kms_ct, r->kms_ct_len, &b64) !=
	    DH_OK ||
	    cJSON_AddStringToObject(req, "CiphertextBlob", dh_buf_cstr(&b64)) ==
	    NULL ||
	    (ctx = cJSON_AddObjectToObject(req, "EncryptionContext")) == NULL ||
	    cJSON_AddStringToObject(ctx, "aws:ssm:SessionId",
	    w->t->session_id) == NULL ||
	    cJSON_AddStringToObject(ctx, "aws:ssm:TargetId",
	    w->env->instance_id) == NULL ||
	    (r->challenge_ack && cJSON_AddStringToObject(ctx,
	    "aws:ssm:RandomChallenge", w->challenge) == NULL) ||
	    cJSON_AddStringToObject(req, "KeyId", w->t->kms_key_id) == NULL) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	rc = http_client(w, err);
	if (rc != DH_OK)
		goto out;
	w->aws.creds.access_key = w->creds.access_key;
	w->aws.creds.secret_key = w->creds.secret_key;
	w->aws.creds.session_token = w->creds.session_token[0] != '\0' ?
	    w->creds.session_token : NULL;
	memset(&ae, 0, sizeof(ae));
	rc = dh_aws_json_call(&w->aws, w->env->kms_url, "kms", w->env->region,
	    "TrentService.Decrypt", req, &resp, &ae, err);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "KMS Decrypt");
		goto out;
	}
	rc = ss_kms_take_data_key(resp, key, err);
	if (rc != DH_OK)
		dh_err_wrap(err, rc, "KMS Decrypt");
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	dh_buf_free(&b64);
	return rc;
}

static void
on_hs_response(struct worker *w, const unsigned char *p, size_t n)
{
	static struct ss_hs_response r;
	unsigned char key[SS_KMS_DATAKEY_LEN];
	struct dh_buf sealed, msg;
	struct dh_err e;
	char why[SS_WORKER_TEXT_MAX];

	dh_buf_init(&sealed, 1024);
	dh_buf_init(&msg, 4096);
	if (ss_hs_response_parse(p, n, &r, &e) != DH_OK) {
		snprintf(why, sizeof(why), "Handshake failed: %.400s", e.msg);
		begin_end(w, "Failed", why);
		goto out;
	}
	if (w->is_port) {
		if (r.failed || !r.has_session_type ||
		    r.session_type_status != SS_HS_STATUS_SUCCESS) {
			snprintf(why, sizeof(why), "Handshake failed: %.400s",
			    r.error[0] != '\0' ? r.error : "the client does not"
			    " support Port sessions");
			begin_end(w, "Failed", why);
			goto out;
		}
		lws_sul_cancel(&w->sul_hs);
		/* no CustomerMessage: a stdio client prints it into the
		 * forwarded stream */
		if (ss_hs_complete_build((now_ms() - w->hs_start_ms) * 1000000,
		    "", &msg, &e) != DH_OK) {
			begin_end(w, "Failed", e.msg);
			goto out;
		}
		(void)rel_send(w, DH_MGS_PT_HS_COMPLETE, msg.d, msg.len);
		start_port(w);
		goto out;
	}
	if (r.failed || !r.has_kms || r.kms_status != SS_HS_STATUS_SUCCESS ||
	    r.kms_ct_len == 0) {
		snprintf(why, sizeof(why), "Handshake failed: %.400s",
		    r.error[0] != '\0' ? r.error :
		    "the client did not provide a KMS data key");
		begin_end(w, "Failed", why);
		goto out;
	}
	if (kms_decrypt(w, &r, key, &e) != DH_OK ||
	    ss_kms_init(&w->kms, SS_KMS_AGENT, key, &e) != DH_OK) {
		dh_wipe(key, sizeof(key));
		snprintf(why, sizeof(why), "Encryption failed: %.400s", e.msg);
		begin_end(w, "Failed", why);
		goto out;
	}
	dh_wipe(key, sizeof(key));
	if (dh_random(w->chal, sizeof(w->chal)) != DH_OK ||
	    ss_kms_seal(&w->kms, w->chal, sizeof(w->chal), &sealed, &e) !=
	    DH_OK ||
	    ss_hs_challenge_build(sealed.d, sealed.len, &msg, &e) != DH_OK) {
		begin_end(w, "Failed", "cannot build the encryption challenge");
		goto out;
	}
	w->state = W_HS_CHALLENGE;
	(void)rel_send(w, DH_MGS_PT_ENC_CHALLENGE_REQ, msg.d, msg.len);
	hs_timer(w);
out:
	dh_wipe(&r, sizeof(r));
	dh_buf_free(&sealed);
	dh_buf_free(&msg);
}

static void
on_hs_challenge(struct worker *w, const unsigned char *p, size_t n)
{
	struct dh_buf blob, plain, msg;
	struct dh_err e;
	int64_t ns;

	dh_buf_init(&blob, SS_HS_BLOB_MAX);
	dh_buf_init_secret(&plain, SS_HS_BLOB_MAX);
	dh_buf_init(&msg, 4096);
	if (ss_hs_challenge_parse(p, n, &blob, &e) != DH_OK ||
	    ss_kms_open(&w->kms, blob.d, blob.len, &plain, &e) != DH_OK ||
	    plain.len != sizeof(w->chal) ||
	    !dh_ct_equal(plain.d, w->chal, sizeof(w->chal))) {
		begin_end(w, "Failed", "Encryption challenge failed: the"
		    " client could not prove it holds the session keys");
		goto out;
	}
	lws_sul_cancel(&w->sul_hs);
	ns = (now_ms() - w->hs_start_ms) * 1000000;
	if (ss_hs_complete_build(ns, CUSTOMER_MSG, &msg, &e) != DH_OK) {
		begin_end(w, "Failed", e.msg);
		goto out;
	}
	(void)rel_send(w, DH_MGS_PT_HS_COMPLETE, msg.d, msg.len);
	w->kms_on = 1;
	start_shell(w);
out:
	dh_buf_free(&blob);
	dh_buf_free(&plain);
	dh_buf_free(&msg);
}

/* ---------------------------------------------------- stream dispatch */

static void
on_data(struct worker *w, const struct dh_mgs_msg *m)
{
	struct dh_err e;
	uint32_t c, r, flag;

	switch (m->ptype) {
	case DH_MGS_PT_HS_RESPONSE:
		if (w->state == W_HS_RESPONSE)
			on_hs_response(w, m->payload, m->payload_len);
		return;
	case DH_MGS_PT_ENC_CHALLENGE_RESP:
		if (w->state == W_HS_CHALLENGE)
			on_hs_challenge(w, m->payload, m->payload_len);
		return;
	case DH_MGS_PT_SIZE:
		if (dh_mgs_size_parse(m->payload, m->payload_len, &c, &r, &e) !=
		    DH_OK)
			return;
		w->cols = c > 0xffff ? 0xffff : c;
		w->rows = r > 0xffff ? 0xffff : r;
		w->pending_size = 1;
		apply_size(w);
		return;
	case DH_MGS_PT_FLAG:
		if (dh_mgs_flag_parse(m->payload, m->payload_len, &flag, &e) !=
		    DH_OK)
			return;
		if (flag == DH_MGS_FLAG_TERMINATE_SESSION)
			begin_end(w, "Cancelled",
			    "session terminated by the client");
		else if (flag == DH_MGS_FLAG_DISCONNECT_TO_PORT && w->is_port)
			port_close(w);  /* redialled when data comes again */
		return;
	case DH_MGS_PT_OUTPUT:
		if (w->state != W_ACTIVE)
			return; /* acked and dropped during the handshake */
		if (!w->kms_on) {
			input_bytes(w, m->payload, m->payload_len);
			return;
		}
		dh_buf_reset(&w->sbuf);
		if (ss_kms_open(&w->kms, m->payload, m->payload_len, &w->sbuf,
		    &e) != DH_OK) {
			dh_warn("session %s: dropped input: %s",
			    w->t->session_id, e.msg);
			return;
		}
		input_bytes(w, w->sbuf.d, w->sbuf.len);
		return;
	default:
		return;
	}
}

static void
on_message(struct worker *w, const struct dh_mgs_msg *m)
{
	if (dh_mgs_is(m, DH_MGS_T_CHANNEL_CLOSED)) {
		dh_info("session %s: channel_closed on the data channel",
		    w->t->session_id);
		begin_end(w, "Cancelled", "session terminated by the service");
	}
}

static void
rel_cb(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, sul_rel);

	(void)dh_mgsrel_tick(w->rel, now_ms());
	pump(w);
}

/* Drain the reliability layer's outputs and re-arm its timer. */
static void
pump(struct worker *w)
{
	struct dh_mgsrel_ev ev;
	int64_t dl;

	while (dh_mgsrel_next(w->rel, &ev)) {
		switch (ev.kind) {
		case DH_MGSREL_EV_FRAME:
			if (w->ws_up && outq_push(w, 1, ev.frame, ev.frame_len,
			    0) != DH_OK)
				dh_warn("session %s: out of memory queueing"
				    " a frame", w->t->session_id);
			break;
		case DH_MGSREL_EV_DATA:
			on_data(w, &ev.msg);
			break;
		case DH_MGSREL_EV_MESSAGE:
			on_message(w, &ev.msg);
			break;
		default:
			break;
		}
	}
	dl = dh_mgsrel_deadline(w->rel);
	if (dl >= 0) {
		int64_t d = dl - now_ms();

		lws_sul_schedule(w->ctx, 0, &w->sul_rel, rel_cb,
		    (lws_usec_t)(d < 0 ? 0 : d) * 1000);
	} else
		lws_sul_cancel(&w->sul_rel);
	if (w->ws != NULL && dh_wsq_head(&w->outq) != NULL)
		lws_callback_on_writable(w->ws);
	update_flow(w);
}

/* --------------------------------------------------------------- end */

static void
finish(struct worker *w)
{
	w->state = W_DONE;
	w->finish = 1;
	lws_cancel_service(w->ctx);
}

static void
send_terminating(struct worker *w)
{
	struct dh_buf b;
	struct dh_err e;

	if (w->terminating_sent)
		return;
	w->terminating_sent = 1;
	dh_buf_init(&b, 1024);
	if (dh_mgs_session_state_build("Terminating", w->t->session_id,
	    w->pty_on && w->pty.exited ? w->exit_code : -1, &b, &e) == DH_OK && dh_mgsrel_send_control(w->rel,
	    DH_MGS_T_SESSION_STATE, DH_MGS_HF_ACK, DH_MGS_PT_NONE, b.d, b.len,
	    now_ms(), &e) == DH_OK) {
		w->closing = 1;
		pump(w);
	}
	dh_buf_free(&b);
	if (!w->ws_up)
		finish(w);
}

static void
begin_end(struct worker *w, const char *status, const char *output)
{
	if (w->state >= W_ENDING)
		return;
	dh_info("session %s: ending (%s%s%s)", w->t->session_id, status,
	    output[0] != '\0' ? ": " : "", output);
	w->state = W_ENDING;
	snprintf(w->status, sizeof(w->status), "%s", status);
	snprintf(w->output, sizeof(w->output), "%s", output);
	w->end_deadline_ms = now_ms() + DRAIN_MS;
	lws_sul_cancel(&w->sul_hs);
	if (w->pty_on && !w->pty.exited) {
		ss_pty_close(&w->pty, 200);
		w->exit_code = ss_pty_exit_code(w->pty.wstatus);
	}
	if (w->is_port)
		port_close(w);
	if (w->pty_wsi != NULL) {
		lws_set_opaque_user_data(w->pty_wsi, NULL);
		lws_set_timeout(w->pty_wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		w->pty_wsi = NULL;
	}
	if (!w->ever_up)
		finish(w);
}

/* Ending: wait for acks (bounded), then Terminating and close. */
static void
check_end(struct worker *w)
{
	struct dh_mgsrel_stats st;

	if (w->state != W_ENDING || w->terminating_sent)
		return;
	dh_mgsrel_stats(w->rel, &st);
	if ((st.inflight == 0 && w->ws_up) || now_ms() >= w->end_deadline_ms)
		send_terminating(w);
}

/* ------------------------------------------------------ data channel */

struct rest_sign {
	struct worker *w;
	const char *host;
	const char *path;
};

static int
sign_rest(void *arg, struct dh_http_request *req, struct dh_err *err)
{
	const struct rest_sign *rs = arg;
	struct dh_sigv4_creds sc;

	sc.access_key = rs->w->creds.access_key;
	sc.secret_key = rs->w->creds.secret_key;
	sc.session_token = rs->w->creds.session_token[0] != '\0' ?
	    rs->w->creds.session_token : NULL;
	return dh_aws_sign_json_post(req, rs->host, rs->path, &sc,
	    rs->w->env->region, "ssmmessages", err);
}

/* <TokenValue> of a CreateDataChannel answer into w->token. */
static int
parse_token(struct worker *w, const char *s, size_t n, struct dh_err *err)
{
	const char *a = memmem(s, n, "<TokenValue>", 12), *b;

	dh_buf_reset(&w->token);
	if (a == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "CreateDataChannel answer has no <TokenValue>");
	a += 12;
	b = memmem(a, n - (size_t)(a - s), "</TokenValue>", 13);
	if (b == NULL || b == a || (size_t)(b - a) > TOKEN_MAX ||
	    memchr(a, '<', (size_t)(b - a)) != NULL ||
	    memchr(a, '&', (size_t)(b - a)) != NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "CreateDataChannel TokenValue malformed");
	return dh_buf_put(&w->token, a, (size_t)(b - a));
}

static int
create_data_channel(struct worker *w, struct dh_err *err)
{
	struct dh_http_request req;
	struct dh_http_response resp;
	struct rest_sign rs;
	struct dh_uuid u;
	char url[1024], uid[DH_UUID_STRLEN + 1], host[300], path[512],
	    query[8], body[160], snip[160];
	int rc;

	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	if ((size_t)snprintf(url, sizeof(url), "%s/v1/data-channel/%s",
	    w->env->mgs_url, w->t->session_id) >= sizeof(url)) {
		rc = dh_err_set(err, DH_E_ARG, "ssmmessages URL too long");
		goto out;
	}
	rc = dh_http_url_split(url, host, sizeof(host), path, sizeof(path),
	    query, sizeof(query), err);
	if (rc == DH_OK)
		rc = dh_uuid_v4(&u);
	if (rc != DH_OK)
		goto out;
	dh_uuid_fmt(&u, uid);
	snprintf(body, sizeof(body), "{\"MessageSchemaVersion\":\"1.0\","
	    "\"RequestId\":\"%s\",\"ClientId\":\"\"}", uid);
	rs.w = w;
	rs.host = host;
	rs.path = path;
	req.method = "POST";
	req.url = url;
	req.body = body;
	req.body_len = strlen(body);
	req.sign = sign_rest;
	req.sign_arg = &rs;
	req.max_body = 64 * 1024;
	rc = dh_http_hdrs_set(&req.headers, "Content-Type", "application/json");
	if (rc == DH_OK)
		rc = http_client(w, err);
	if (rc == DH_OK)
		rc = dh_http_do(w->http, &req, &resp, err);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "CreateDataChannel");
		goto out;
	}
	if (resp.status != 201 && resp.status != 200) {
		dh_log_escape(resp.body.d, resp.body.len, 120, snip,
		    sizeof(snip));
		rc = dh_err_set(err, resp.status == 403 ? DH_E_AUTH :
		    DH_E_HTTP, "CreateDataChannel: HTTP %ld: %s", resp.status,
		    snip);
		goto out;
	}
	rc = parse_token(w, (const char *)resp.body.d, resp.body.len, err);
out:
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
	return rc;
}

static int
parse_endpoint(struct worker *w, struct dh_err *err)
{
	const char *h, *colon, *end;
	long port = 443;
	size_t hn;
	char *e;

	if (w->env->mgs_url == NULL || strncmp(w->env->mgs_url, "https://", 8)
	    != 0)
		return dh_err_set(err, DH_E_ARG,
		    "ssmmessages endpoint must be https://");
	h = w->env->mgs_url + 8;
	end = strchr(h, '/');
	if (end == NULL)
		end = h + strlen(h);
	colon = memchr(h, ':', (size_t)(end - h));
	hn = (size_t)((colon != NULL ? colon : end) - h);
	if (hn == 0 || hn >= sizeof(w->host) || h[0] == '[')
		return dh_err_set(err, DH_E_ARG, "ssmmessages host unusable");
	memcpy(w->host, h, hn);
	w->host[hn] = '\0';
	if (colon != NULL) {
		port = strtol(colon + 1, &e, 10);
		if (e != end || port <= 0 || port > 65535)
			return dh_err_set(err, DH_E_ARG,
			    "ssmmessages port unusable");
	}
	w->port = (int)port;
	if (port == 443)
		snprintf(w->hostport, sizeof(w->hostport), "%s", w->host);
	else
		snprintf(w->hostport, sizeof(w->hostport), "%s:%ld", w->host,
		    port);
	snprintf(w->path, sizeof(w->path), "/v1/data-channel/%s",
	    w->t->session_id);
	return DH_OK;
}

static int
sign_upgrade(struct worker *w, struct dh_err *err)
{
	struct dh_sigv4_header h = { "Host", w->hostport };
	struct dh_sigv4_request r;
	struct dh_sigv4_creds sc;
	struct dh_sigv4_params sp;

	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.path = w->path;
	r.query = DC_QUERY;
	r.headers = &h;
	r.n_headers = 1;
	sc.access_key = w->creds.access_key;
	sc.secret_key = w->creds.secret_key;
	sc.session_token = w->creds.session_token[0] != '\0' ?
	    w->creds.session_token : NULL;
	memset(&sp, 0, sizeof(sp));
	sp.creds = &sc;
	sp.region = w->env->region;
	sp.service = "ssmmessages";
	sp.t = dh_time_now();
	dh_sigv4_signed_free(&w->sig);
	return dh_sigv4_sign(&r, &sp, &w->sig, err);
}

static int
open_frame(struct worker *w, struct dh_buf *out)
{
	cJSON *j = cJSON_CreateObject();
	struct dh_uuid u;
	char uid[DH_UUID_STRLEN + 1];
	cJSON *tv;
	int rc = DH_E_NOMEM;

	if (dh_uuid_v4(&u) != DH_OK) {
		cJSON_Delete(j);
		return DH_E_CRYPTO;
	}
	dh_uuid_fmt(&u, uid);
	if (j != NULL &&
	    cJSON_AddStringToObject(j, "MessageSchemaVersion", "1.0") != NULL &&
	    cJSON_AddStringToObject(j, "RequestId", uid) != NULL &&
	    cJSON_AddStringToObject(j, "TokenValue", dh_buf_cstr(&w->token)) !=
	    NULL &&
	    cJSON_AddStringToObject(j, "ClientInstanceId",
	    w->env->instance_id) != NULL &&
	    cJSON_AddStringToObject(j, "ClientId", "") != NULL)
		rc = dh_json_print(j, out);
	tv = j != NULL ? cJSON_GetObjectItemCaseSensitive(j, "TokenValue") :
	    NULL;
	if (cJSON_IsString(tv))
		dh_wipe(tv->valuestring, strlen(tv->valuestring));
	cJSON_Delete(j);
	return rc;
}

static void
schedule_connect(struct worker *w)
{
	long d = 100L << (w->attempts < 6 ? w->attempts : 6);

	if (d > 5000)
		d = 5000;
	d += (long)dh_random_uniform((uint32_t)(d / 2 + 1));
	lws_sul_schedule(w->ctx, 0, &w->sul_conn, connect_cb,
	    (lws_usec_t)d * 1000);
}

/* Give up after 5 failed attempts before the first open (as the
 * reference), and after 10 minutes of failures later on. */
static int
out_of_attempts(const struct worker *w)
{
	return w->ever_up ? w->attempts > 120 : w->attempts >= 5;
}

static void
connect_failed(struct worker *w, const char *why)
{
	w->attempts++;
	dh_warn("session %s: data channel: %s", w->t->session_id, why);
	if (w->state == W_ENDING && w->ever_up) {
		finish(w);
		return;
	}
	if (out_of_attempts(w)) {
		snprintf(w->status, sizeof(w->status), "Failed");
		snprintf(w->output, sizeof(w->output),
		    "data channel unavailable: %.400s", why);
		if (w->pty_on && !w->pty.exited)
			ss_pty_close(&w->pty, 200);
		finish(w);
		return;
	}
	schedule_connect(w);
}

static void
connect_cb(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, sul_conn);
	struct lws_client_connect_info ci;
	struct dh_err e;
	char pathq[400];

	dh_err_clear(&e);
	if (w->ws != NULL || w->finish)
		return;
	if (parse_endpoint(w, &e) != DH_OK ||
	    create_data_channel(w, &e) != DH_OK || sign_upgrade(w, &e) !=
	    DH_OK) {
		connect_failed(w, e.msg);
		return;
	}
	snprintf(pathq, sizeof(pathq), "%s?%s", w->path, DC_QUERY);
	memset(&ci, 0, sizeof(ci));
	ci.context = w->ctx;
	ci.vhost = w->vh;
	ci.address = w->host;
	ci.port = w->port;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.path = pathq;
	ci.host = w->hostport;
	ci.local_protocol_name = PROTO;
	ci.opaque_user_data = w;
	ci.pwsi = &w->ws;
	outq_clear(w);
	dh_buf_reset(&w->rx);
	if (lws_client_connect_via_info(&ci) == NULL) {
		w->ws = NULL;
		connect_failed(w, "websocket connect failed to start");
	}
}

static void
ws_established(struct worker *w)
{
	struct dh_buf b;
	struct dh_err e;
	int rc;

	dh_buf_init_secret(&b, TOKEN_MAX + 1024);
	rc = open_frame(w, &b);
	if (rc == DH_OK)
		rc = outq_push(w, 0, b.d, b.len, 1);
	dh_buf_free(&b);
	dh_buf_reset(&w->token);
	if (rc != DH_OK) {
		lws_set_timeout(w->ws, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		return;
	}
	dh_buf_init(&b, 1024);
	if (dh_mgs_session_state_build("Connected", w->t->session_id, -1, &b,
	    &e) == DH_OK)
		(void)dh_mgsrel_send_control(w->rel, DH_MGS_T_SESSION_STATE,
		    DH_MGS_HF_ACK, DH_MGS_PT_NONE, b.d, b.len, now_ms(), &e);
	dh_buf_free(&b);
	lws_callback_on_writable(w->ws);
}

/* The open frame went out: the channel is usable. */
static void
ws_opened(struct worker *w)
{
	int first = !w->ever_up;

	w->ws_up = 1;
	w->ever_up = 1;
	w->attempts = 0;
	dh_info("session %s: data channel open%s", w->t->session_id,
	    first ? "" : " again");
	if (!first) {
		(void)dh_mgsrel_resume(w->rel, now_ms());
		pump(w);
		return;
	}
	pump(w); /* agent_session_state Connected */
	if (w->start_error[0] == '\0' && (w->is_port ||
	    w->t->kms_key_id[0] != '\0'))
		start_handshake(w);
	else
		start_shell(w);
	pump(w);
}

static void
ws_down(struct worker *w, const char *why)
{
	w->ws = NULL;
	w->ws_up = 0;
	outq_clear(w);
	dh_buf_reset(&w->rx);
	if (w->finish)
		return;
	if (w->state == W_ENDING && (w->terminating_sent || w->closing)) {
		finish(w);
		return;
	}
	dh_mgsrel_pause(w->rel);
	update_flow(w);
	connect_failed(w, why);
}

/* Write queued frames while the socket takes them (up to WRITE_BURST bytes
 * per callback, so reads still get their turn): one poll round trip per
 * frame would cap the stream at the event loop's wake-up rate. */
static int
ws_writeable(struct worker *w, struct lws *wsi)
{
	struct dh_wsq_frame *f;
	size_t burst = 0;
	int n, text;

	if (dh_wsq_head(&w->outq) == NULL) {
		if (w->closing && w->terminating_sent) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	}
	while ((f = dh_wsq_head(&w->outq)) != NULL) {
		text = f->text;
		/* already framed and masked: lws passes HTTP writes through */
		n = lws_write(wsi, f->wire, f->wire_len, LWS_WRITE_HTTP);
		if (n < (int)f->wire_len)
			return -1;
		burst += f->wire_len;
		dh_wsq_pop(&w->outq);
		if (text && !w->ws_up)
			ws_opened(w);
		if (burst >= WRITE_BURST || text || lws_send_pipe_choked(wsi))
			break;
	}
	if (dh_wsq_head(&w->outq) != NULL ||
	    (w->closing && w->terminating_sent))
		lws_callback_on_writable(wsi);
	update_flow(w);
	return 0;
}

static int
ws_receive(struct worker *w, struct lws *wsi, const void *in, size_t len)
{
	struct dh_err e;

	if (lws_is_first_fragment(wsi))
		dh_buf_reset(&w->rx);
	if (dh_buf_put(&w->rx, in, len) != DH_OK) {
		dh_warn("session %s: incoming message over %d bytes",
		    w->t->session_id, FRAME_MAX);
		return -1;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)
	    != 0)
		return 0;
	if (dh_mgsrel_feed(w->rel, w->rx.d, w->rx.len, now_ms(), &e) != DH_OK)
		dh_warn("session %s: dropped a frame: %s", w->t->session_id,
		    e.msg);
	dh_buf_reset(&w->rx);
	pump(w);
	check_end(w);
	return 0;
}

static int
append_headers(struct worker *w, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = (*p) + len;
	char name[64];
	size_t i, k;

	for (i = 0; i < w->sig.n_add; i++) {
		const char *v = w->sig.add[i].value, *nm = w->sig.add[i].name;

		for (k = 0; nm[k] != '\0' && k + 2 < sizeof(name); k++)
			name[k] = (char)((nm[k] >= 'A' && nm[k] <= 'Z') ?
			    nm[k] + 32 : nm[k]);
		name[k++] = ':';
		name[k] = '\0';
		if (lws_add_http_header_by_name(wsi,
		    (const unsigned char *)name, (const unsigned char *)v,
		    (int)strlen(v), p, end) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- IPC */

static void
ipc_readable(struct worker *w)
{
	unsigned char pkt[IPC_MAX];
	ssize_t n;

	for (;;) {
		n = recv(w->ipc, pkt, sizeof(pkt) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			begin_end(w, "Cancelled", "the agent went away");
			if (w->ipc_wsi != NULL) {
				lws_set_opaque_user_data(w->ipc_wsi, NULL);
				lws_set_timeout(w->ipc_wsi,
				    PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
				w->ipc_wsi = NULL;
			}
			return;
		}
		pkt[n] = 0;
		if (pkt[0] == 'X')
			begin_end(w, "Cancelled",
			    "session terminated by the service");
		else if (pkt[0] == 'C') {
			const char *a = (const char *)pkt + 1;
			const char *s = memchr(a, 0, (size_t)n - 1);
			const char *t = s != NULL ? memchr(s + 1, 0,
			    (size_t)(n - (s + 1 - (const char *)pkt))) : NULL;

			if (s != NULL && t != NULL &&
			    strlen(a) < sizeof(w->creds.access_key) &&
			    strlen(s + 1) < sizeof(w->creds.secret_key) &&
			    strlen(t + 1) < sizeof(w->creds.session_token)) {
				dh_wipe(&w->creds, sizeof(w->creds));
				memcpy(w->creds.access_key, a, strlen(a) + 1);
				memcpy(w->creds.secret_key, s + 1,
				    strlen(s + 1) + 1);
				memcpy(w->creds.session_token, t + 1,
				    strlen(t + 1) + 1);
				(void)dh_log_secret_add(w->creds.secret_key);
			}
		}
		dh_wipe(pkt, (size_t)n);
	}
}

/* ------------------------------------------------------ lws callback */

static int
worker_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct worker *w = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	char why[200];

	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		/* the agent's trust store, shared copy-on-write */
		w = lws_context_user(lws_get_context(wsi));
		return w == NULL || dh_tls_use_store(user, w->env->ca_file,
		    NULL) != DH_OK;
	}
	if (w == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers(w, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws_established(w);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return ws_receive(w, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return ws_writeable(w, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(why, sizeof(why), "connection error: %s",
		    in != NULL ? (const char *)in : "unknown");
		lws_set_opaque_user_data(wsi, NULL);
		ws_down(w, why);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		lws_set_opaque_user_data(wsi, NULL);
		ws_down(w, "closed");
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == w->ipc_wsi)
			ipc_readable(w);
		else if (wsi == w->pty_wsi)
			pty_readable(w);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (wsi == w->pty_wsi)
			pty_write_pending(w);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == w->pty_wsi)
			w->pty_wsi = NULL;
		if (wsi == w->ipc_wsi)
			w->ipc_wsi = NULL;
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols w_protocols[] = {
	{ PROTO, worker_cb, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Once a second: shell reaped?  durations, ending checks. */
static void
tick_cb(lws_sorted_usec_list_t *sul)
{
	struct worker *w = lws_container_of(sul, struct worker, sul_tick);
	int64_t now = now_ms();

	if (g_wterm) {
		g_wterm = 0;
		begin_end(w, "Cancelled", "the agent is stopping");
	}
	if (w->state == W_ACTIVE && w->pty_on && ss_pty_reaped(&w->pty, 0)) {
		while (w->io >= 0 && !pty_read_once(w) && w->carry == 0)
			;
		pump(w);
		shell_gone(w);
	}
	if (w->state == W_ACTIVE && w->t->max_duration_min > 0 &&
	    now - w->start_ms >= (int64_t)w->t->max_duration_min * 60000)
		begin_end(w, "TimedOut",
		    "Your session has reached the maximum session duration.");
	if (w->state == W_ACTIVE && w->t->idle_timeout_min > 0 &&
	    now - w->last_input_ms >= (int64_t)w->t->idle_timeout_min * 60000)
		begin_end(w, "TimedOut", "Your session timed out due to"
		    " inactivity and has been terminated.");
	check_end(w);
	lws_sul_schedule(w->ctx, 0, &w->sul_tick, tick_cb,
	    (lws_usec_t)(w->state == W_ENDING ? 50 : 1000) * 1000);
}

/* ------------------------------------------------------------- setup */

static void
pick_user(struct worker *w)
{
	char name[SS_PTY_USER_MAX];
	struct dh_err e;
	int am_root = geteuid() == 0, created = 0, rc;

	dh_err_clear(&e);
	rc = ss_pty_choose_user(am_root, w->t->run_as_enabled,
	    w->t->run_as_user, w->t->run_as_default_user, w->env->allow_root,
	    name, sizeof(name), &e);
	if (rc == DH_OK && name[0] != '\0' && !w->t->run_as_enabled)
		rc = ss_pty_ensure_ssm_user(w->env->ssm_user_sudo, &created, &e);
	if (rc == DH_OK && name[0] != '\0') {
		rc = ss_pty_user_lookup(name, w->env->allow_root, &w->user, &e);
		w->have_user = rc == DH_OK;
	}
	if (created)
		dh_info("session %s: created %s (%s)", w->t->session_id,
		    SS_PTY_DEFAULT_USER, w->env->ssm_user_sudo ?
		    "with sudo as configured" : "without sudo");
	if (rc != DH_OK)
		snprintf(w->start_error, sizeof(w->start_error), "%s", e.msg);
}

static int
open_transcript(struct worker *w, struct dh_err *err)
{
	struct ss_transcript_config c;

	if (w->env->spool_dir == NULL || w->env->spool_dir[0] == '\0')
		return DH_OK;
	memset(&c, 0, sizeof(c));
	c.spool_dir = w->env->spool_dir;
	c.session_id = w->t->session_id;
	c.instance_id = w->env->instance_id;
	c.run_as_user = w->have_user ? w->user.name : "";
	c.log_input = w->env->log_input;
	c.sinks.cw_group = w->t->cw_group;
	c.sinks.cw_streaming = w->t->cw_streaming;
	c.sinks.cw_encryption_required = w->t->cw_encryption;
	c.sinks.s3_bucket = w->t->s3_bucket;
	c.sinks.s3_prefix = w->t->s3_prefix;
	c.sinks.s3_encryption_required = w->t->s3_encryption;
	c.sinks.region = w->env->region;
	c.sinks.owner_arn = w->t->session_owner;
	c.policy = w->env->fail_closed ? SS_POLICY_FAIL_CLOSED :
	    SS_POLICY_FAIL_OPEN;
	return ss_transcript_open(&c, &w->tr, err);
}

static int
copy_creds(void *arg, struct ss_creds *out, struct dh_err *err)
{
	const struct worker *w = arg;

	(void)err;
	*out = w->creds;
	return DH_OK;
}

/* Up-front sink check, as AWS does before the shell starts: with
 * s3EncryptionEnabled / cloudWatchEncryptionEnabled the bucket / log group
 * must be encrypted, else the session fails; when a required check cannot
 * be made the session fails too.  A missing log group only warns (the
 * transcript stays in the spool). */
static void
check_sinks(struct worker *w)
{
	struct ss_shipper_config sc;
	struct ss_sink_config sk;
	struct dh_err e;
	int rc, required = w->t->cw_encryption || w->t->s3_encryption;

	if (w->start_error[0] != '\0' || (w->t->cw_group[0] == '\0' &&
	    w->t->s3_bucket[0] == '\0'))
		return;
	memset(&sc, 0, sizeof(sc));
	sc.region = w->env->region;
	sc.logs_endpoint = w->env->logs_url;
	sc.s3_endpoint = w->env->s3_url;
	sc.ca_file = w->env->ca_file;
	sc.creds = copy_creds;
	sc.creds_arg = w;
	memset(&sk, 0, sizeof(sk));
	sk.cw_group = w->t->cw_group;
	sk.cw_streaming = w->t->cw_streaming;
	sk.cw_encryption_required = w->t->cw_encryption;
	sk.s3_bucket = w->t->s3_bucket;
	sk.s3_prefix = w->t->s3_prefix;
	sk.s3_encryption_required = w->t->s3_encryption;
	sk.region = w->env->region;
	sk.owner_arn = w->t->session_owner;
	dh_err_clear(&e);
	rc = ss_transcript_check_sinks(&sc, w->t->session_id,
	    w->env->instance_id, &sk, &e);
	if (rc == DH_OK)
		return;
	if (rc == DH_E_AUTH || (required && rc != DH_E_NOTFOUND)) {
		snprintf(w->start_error, sizeof(w->start_error),
		    "We couldn't start the session because %.400s.", e.msg);
		return;
	}
	dh_warn("session %s: transcript sinks: %s", w->t->session_id, e.msg);
}

static int
setup(struct worker *w, struct dh_err *err)
{
	struct lws_context_creation_info ci;
	struct dh_mgsrel_cfg rc;
	int r;

	dh_mgsrel_cfg_default(&rc, DH_MGSREL_AGENT);
	rc.wall_offset_ms = dh_time_now_ms() - dh_time_mono_ms();
	r = dh_mgsrel_new(&rc, now_ms(), &w->rel, err);
	if (r != DH_OK)
		return r;
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = w_protocols;
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS; /* dh_tls store instead */
	ci.user = w;
	ci.fd_limit_per_thread = 16;
	ci.count_threads = 1;
	if (w->env->proxy_addr != NULL && w->env->proxy_addr[0] != '\0') {
		ci.http_proxy_address = w->env->proxy_addr;
		ci.http_proxy_port = w->env->proxy_port;
	}
	w->ctx = lws_create_context(&ci);
	if (w->ctx == NULL)
		return dh_err_set(err, DH_E_TLS, "cannot create the event loop");
	w->vh = lws_get_vhost_by_name(w->ctx, "default");
	if (w->vh == NULL)
		return dh_err_set(err, DH_E_STATE, "no default vhost");
	g_wctx = w->ctx;
	if (fcntl(w->ipc, F_SETFL, O_NONBLOCK) != 0 ||
	    adopt_fd(w, w->ipc, &w->ipc_wsi) != DH_OK)
		return dh_err_set(err, DH_E_IO, "cannot watch the agent socket");
	return DH_OK;
}

static void
report(struct worker *w)
{
	struct dh_buf b;
	struct dh_err e;

	dh_buf_init(&b, IPC_MAX);
	if (dh_buf_put_u8(&b, 'D') == DH_OK &&
	    ss_worker_task_complete_json(w->t, w->env->instance_id,
	    w->status[0] != '\0' ? w->status : "Failed", w->output, &b, &e) ==
	    DH_OK)
		(void)send(w->ipc, b.d, b.len, MSG_NOSIGNAL);
	dh_buf_free(&b);
}

/* Keep only stdio and the agent socket (moved to descriptor 3). */
static int
close_fds_except(int ipc)
{
	int fd;

	if (ipc != 3) {
		if (dup2(ipc, 3) < 0)
			return -1;
		close(ipc);
	}
	if (close_range(4, ~0u, 0) != 0)
		for (fd = 4; fd < 4096; fd++)
			(void)close(fd);
	return 3;
}

void
ss_worker_run(const struct ss_worker_env *env, const struct ss_task *t,
    const struct ss_creds *creds, int ipc)
{
	struct worker *w;
	struct sigaction sa;
	struct dh_err e;
	int devnull, code = 1;

	dh_log_set_ident("deckhand-session");
	ipc = close_fds_except(ipc);
	if (ipc < 0)
		_exit(1);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wsig;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
	dh_err_clear(&e);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		_exit(1);
	w->env = env;
	w->t = t;
	w->ipc = ipc;
	w->creds = *creds;
	w->pty.master = -1;
	w->io = -1;
	w->is_port = strcmp(t->session_type, "Port") == 0;
	w->chunk = env->max_chunk == 0 ? SS_WORKER_CHUNK_DEFAULT :
	    env->max_chunk > SS_WORKER_CHUNK_MAX ? SS_WORKER_CHUNK_MAX :
	    env->max_chunk;
	w->rbuf = malloc(w->chunk);
	w->start_ms = now_ms();
	dh_buf_init_secret(&w->token, TOKEN_MAX + 1);
	dh_wsq_init(&w->outq, LWS_PRE, 0);
	dh_buf_init(&w->rx, FRAME_MAX);
	dh_buf_init(&w->inpend, 16u * 1024 * 1024);
	dh_buf_init(&w->sbuf, FRAME_MAX);
	dh_sigv4_signed_init(&w->sig);
	snprintf(w->status, sizeof(w->status), "Failed");
	if (w->rbuf == NULL || setup(w, &e) != DH_OK) {
		dh_error("session %s: %s", t->session_id, e.msg);
		snprintf(w->output, sizeof(w->output), "%.400s", e.msg);
		report(w);
		_exit(1);
	}
	/* Only shell sessions are served: a Port or command document must
	 * never fall back to a shell (an IAM policy that allows only port
	 * forwarding would otherwise hand out shells). */
	if (strcmp(t->session_type, "Standard_Stream") != 0 &&
	    strcmp(t->session_type, "InteractiveCommands") != 0 &&
	    !w->is_port)
		snprintf(w->start_error, sizeof(w->start_error),
		    "Session type %.40s (document %.120s) is not supported by"
		    " deckhand-agent; it serves Standard_Stream,"
		    " InteractiveCommands and Port sessions.",
		    t->session_type,
		    t->document_name[0] != '\0' ? t->document_name : "-");
	else if (!w->is_port)
		pick_user(w);
	/* as with AWS, a port session's bytes (an SSH or TLS stream) are
	 * not logged */
	if (w->is_port)
		;
	else if (open_transcript(w, &e) != DH_OK)
		snprintf(w->start_error, sizeof(w->start_error),
		    "cannot start the session transcript: %.400s", e.msg);
	else
		check_sinks(w);
	dh_info("session %s: worker running (kms %s, run as %s)",
	    t->session_id, t->kms_key_id[0] != '\0' ? "on" : "off",
	    w->have_user ? w->user.name : "agent user");
	lws_sul_schedule(w->ctx, 0, &w->sul_conn, connect_cb, 0);
	lws_sul_schedule(w->ctx, 0, &w->sul_tick, tick_cb, 1000 * 1000);
	while (!w->finish) {
		if (lws_service(w->ctx, 0) < 0)
			break;
		if (g_wterm)
			tick_cb(&w->sul_tick);
	}
	if (w->pty_on && !w->pty.exited) {
		ss_pty_close(&w->pty, 200);
		w->exit_code = ss_pty_exit_code(w->pty.wstatus);
	}
	if (w->is_port)
		port_close(w);
	if (w->tr != NULL && ss_transcript_close(w->tr, w->exit_code, 0, &e) !=
	    DH_OK)
		dh_warn("session %s: closing the transcript: %s",
		    t->session_id, e.msg);
	w->tr = NULL;
	report(w);
	{
		struct dh_mgsrel_stats st;

		dh_mgsrel_stats(w->rel, &st);
		dh_info("session %s: done (%s, shell exit %d; %llu messages"
		    " sent, %llu resent, %llu acked, %llu received, srtt %.1f"
		    " ms)", t->session_id, w->status, w->exit_code,
		    (unsigned long long)st.sent,
		    (unsigned long long)st.retransmits,
		    (unsigned long long)st.acks_received,
		    (unsigned long long)st.delivered, st.srtt_ms);
	}
	code = strcmp(w->status, "Failed") == 0 ? 1 : 0;
	ss_kms_clear(&w->kms);
	dh_wipe(&w->creds, sizeof(w->creds));
	_exit(code);
}
