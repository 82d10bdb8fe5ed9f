/*
 * cli_creds: credential_process for the operator CLI (see cli_creds.h):
 * a shlex-compatible splitter, a bounded parser of the process's JSON, and
 * the fork/exec that runs it with a capped stdout.
 */
#define _GNU_SOURCE
#include "cli_creds.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"

#define SPLIT_BUF 8192

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
cli_creds_split(const char *cmd, char *buf, size_t bufsz, char **argv,
    size_t argv_max, size_t *argc, struct dh_err *err)
{
	size_t o = 0, n = 0;
	const char *p = cmd;
	int in_word;

	*argc = 0;
	if (argv_max == 0 || bufsz == 0)
		return dh_err_set(err, DH_E_TOOBIG, "no room for words");
	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (n + 1 >= argv_max)
			return dh_err_set(err, DH_E_TOOBIG,
			    "credential_process has over %zu words",
			    argv_max - 1);
		argv[n] = buf + o;
		in_word = 1;
		while (in_word && *p != '\0' && !is_blank(*p)) {
			char q = *p;

			if (o + 1 >= bufsz)
				return dh_err_set(err, DH_E_TOOBIG,
				    "credential_process is too long");
			if (q == '\'' || q == '"') {
				p++;
				while (*p != q) {
					if (*p == '\0')
						return dh_err_set(err,
						    DH_E_FORMAT, "credential_"
						    "process: no closing %c", q);
					if (q == '"' && *p == '\\' &&
					    (p[1] == '"' || p[1] == '\\'))
						p++;
					if (o + 1 >= bufsz)
						return dh_err_set(err,
						    DH_E_TOOBIG, "credential_"
						    "process is too long");
					buf[o++] = *p++;
				}
				p++;
			} else if (q == '\\') {
				if (p[1] == '\0')
					return dh_err_set(err, DH_E_FORMAT,
					    "credential_process ends in a "
					    "backslash");
				buf[o++] = p[1];
				p += 2;
			} else {
				buf[o++] = *p++;
			}
		}
		buf[o++] = '\0';
		n++;
	}
	if (n == 0)
		return dh_err_set(err, DH_E_FORMAT, "credential_process is"
		    " empty");
	argv[n] = NULL;
	*argc = n;
	return DH_OK;
}

/* Copy member k (a non-empty string when required) into out[outsz]. */
static int
take(const cJSON *j, const char *k, int required, char *out, size_t outsz,
    struct dh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	size_t len;

	out[0] = '\0';
	if (v == NULL && !required)
		return DH_OK;
	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    (len = strlen(v->valuestring)) == 0)
		return dh_err_set(err, DH_E_FORMAT, "credential_process "
		    "output has no %s", k);
	if (len >= outsz)
		return dh_err_set(err, DH_E_TOOBIG, "credential_process %s "
		    "is over %zu bytes", k, outsz - 1);
	memcpy(out, v->valuestring, len + 1);
	return DH_OK;
}

int
cli_creds_parse(const char *p, size_t n, int64_t now_s,
    struct cli_creds_keys *out, struct dh_err *err)
{
	const cJSON *ver, *exp;
	cJSON *j = NULL;
	time_t t;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dh_json_parse(p, n, CLI_CREDS_OUT_MAX, &j, err);
	if (rc != DH_OK)
		goto out;
	if (!cJSON_IsObject(j)) {
		rc = dh_err_set(err, DH_E_FORMAT, "credential_process output"
		    " is not a JSON object");
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(j, "Version");
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1.0) {
		rc = dh_err_set(err, DH_E_FORMAT, "credential_process output"
		    " must have \"Version\": 1");
		goto out;
	}
	rc = take(j, "AccessKeyId", 1, out->access, sizeof(out->access), err);
	if (rc == DH_OK)
		rc = take(j, "SecretAccessKey", 1, out->secret,
		    sizeof(out->secret), err);
	if (rc == DH_OK)
		rc = take(j, "SessionToken", 0, out->token, sizeof(out->token),
		    err);
	if (rc != DH_OK)
		goto out;
	exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	if (exp != NULL) {
		if (!cJSON_IsString(exp) || exp->valuestring == NULL ||
		    dh_time_parse_iso(exp->valuestring, &t) != DH_OK) {
			rc = dh_err_set(err, DH_E_FORMAT, "credential_process"
			    " Expiration is not an ISO 8601 time");
			goto out;
		}
		if ((int64_t)t <= now_s) {
			rc = dh_err_set(err, DH_E_AUTH, "credential_process "
			    "credentials expired at %s", exp->valuestring);
			goto out;
		}
	}
out:
	if (rc != DH_OK)
		dh_wipe(out, sizeof(*out));
	cJSON_Delete(j);
	return rc;
}

/* Read fd to EOF into b (at most its cap); DH_E_TOOBIG past the cap. */
static int
read_all(int fd, struct dh_buf *b, struct dh_err *err)
{
	char chunk[4096];
	ssize_t r;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return dh_err_set(err, DH_E_IO, "credential_process "
			    "read: %s", strerror(errno));
		if (r == 0)
			return DH_OK;
		if (dh_buf_put(b, chunk, (size_t)r) != DH_OK)
			return dh_err_set(err, DH_E_TOOBIG, "credential_process"
			    " printed over %d bytes", CLI_CREDS_OUT_MAX);
	}
}

int
cli_creds_process(const char *cmd, int64_t now_s,
    struct cli_creds_keys *out, struct dh_err *err)
{
	char words[SPLIT_BUF], *argv[CLI_CREDS_ARGV_MAX];
	struct dh_buf b;
	size_t argc;
	int pfd[2] = { -1, -1 }, status = 0, rc;
	pid_t pid = -1;

	memset(out, 0, sizeof(*out));
	dh_buf_init_secret(&b, CLI_CREDS_OUT_MAX);
	rc = cli_creds_split(cmd, words, sizeof(words), argv,
	    CLI_CREDS_ARGV_MAX, &argc, err);
	if (rc != DH_OK)
		goto out;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		rc = dh_err_set(err, DH_E_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = dh_err_set(err, DH_E_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (dup2(pfd[1], 1) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	rc = read_all(pfd[0], &b, err);
	close(pfd[0]);
	pfd[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc != DH_OK)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = dh_err_set(err, DH_E_IO, "credential_process %s %s %d",
		    argv[0], WIFEXITED(status) ? "exited with status" :
		    "was killed by signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	rc = cli_creds_parse((const char *)b.d, b.len, now_s, out, err);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	dh_buf_free(&b);
	dh_wipe(words, sizeof(words));
	return rc;
}
