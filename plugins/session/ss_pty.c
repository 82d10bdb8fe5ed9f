/*
 * ss_pty: shell on a pty, Run As and the default account (see ss_pty.h).
 */
#define _GNU_SOURCE
#include "ss_pty.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "dh_time.h"

#define ENV_MAX 10
#define ENV_LEN 1024
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Everything the child needs, prepared before fork. */
struct child_plan {
	char shell[SS_PTY_PATH_MAX];
	char argv0[SS_PTY_PATH_MAX];
	const char *command;
	char *argv[4];
	char envs[ENV_MAX][ENV_LEN];
	char *envp[ENV_MAX + 1];
	char slave[128];
	const struct ss_pty_user *user;
	char home[SS_PTY_PATH_MAX];
};

static int
valid_user_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= SS_PTY_USER_MAX || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || (c == '$' && i == n - 1)))
			return 0;
	}
	return 1;
}

int
ss_pty_choose_user(int am_root, int run_as_enabled, const char *payload_user,
    const char *default_user, int allow_root, char *out, size_t outsz,
    struct dh_err *err)
{
	const char *name;

	if (outsz == 0)
		return dh_err_set(err, DH_E_ARG, "no room for the user name");
	out[0] = '\0';
	if (!am_root)
		return DH_OK;
	if (run_as_enabled) {
		name = payload_user != NULL && payload_user[0] != '\0' ?
		    payload_user : default_user;
		if (name == NULL || name[0] == '\0')
			return dh_err_set(err, DH_E_CONFIG,
			    "Run As is enabled but no user is configured"
			    " (runAsDefaultUser is empty)");
	} else
		name = SS_PTY_DEFAULT_USER;
	if (!valid_user_name(name))
		return dh_err_set(err, DH_E_CONFIG,
		    "Run As user name is not a valid account name");
	if (strcmp(name, "root") == 0 && !allow_root)
		return dh_err_set(err, DH_E_AUTH,
		    "sessions as root are refused (not allowed by the agent"
		    " configuration)");
	if (strlen(name) >= outsz)
		return dh_err_set(err, DH_E_TOOBIG, "user name too long");
	memcpy(out, name, strlen(name) + 1);
	return DH_OK;
}

int
ss_pty_user_lookup(const char *name, int allow_root, struct ss_pty_user *u,
    struct dh_err *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = SS_PTY_GROUPS_MAX, rc;

	memset(u, 0, sizeof(*u));
	if (!valid_user_name(name))
		return dh_err_set(err, DH_E_ARG, "invalid user name");
	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc != 0)
		return dh_err_set(err, DH_E_IO, "looking up user %s: %s", name,
		    strerror(rc));
	if (res == NULL)
		return dh_err_set(err, DH_E_NOTFOUND,
		    "failed to start pty since RunAs user %s does not exist",
		    name);
	if ((pw.pw_uid == 0 || pw.pw_gid == 0) && !allow_root)
		return dh_err_set(err, DH_E_AUTH,
		    "user %s has uid or gid 0; root sessions are refused", name);
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	snprintf(u->home, sizeof(u->home), "%s",
	    pw.pw_dir != NULL && pw.pw_dir[0] == '/' ? pw.pw_dir : "/");
	if (getgrouplist(name, pw.pw_gid, u->groups, &n) < 0)
		n = SS_PTY_GROUPS_MAX;  /* truncated to the first 64 groups */
	u->ngroups = n;
	if (!allow_root) {
		int i;

		for (i = 0; i < u->ngroups; i++)
			if (u->groups[i] == 0)
				return dh_err_set(err, DH_E_AUTH,
				    "user %s is in group 0; refused", name);
	}
	return DH_OK;
}

/* Run argv (absolute path) and wait; 0 when it exited with status 0. */
static int
run_wait(char *const argv[], struct dh_err *err)
{
	static char *const envp[] = { "PATH=" DEFAULT_PATH, NULL };
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return dh_err_set(err, DH_E_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execve(argv[0], argv, envp);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return dh_err_set(err, DH_E_IO, "waitpid: %s",
			    strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return dh_err_set(err, DH_E_IO, "%s failed (status %d)",
		    argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return DH_OK;
}

static int
write_sudoers(struct dh_err *err)
{
	static const char text[] =
	    "# User rules for ssm-user (created by deckhand-agent because the"
	    " configuration asked for it)\n"
	    SS_PTY_DEFAULT_USER " ALL=(ALL) NOPASSWD:ALL\n";
	char tmp[sizeof(SS_PTY_SUDOERS_FILE) + 8];
	int fd, rc = DH_OK;

	snprintf(tmp, sizeof(tmp), "%s.tmp", SS_PTY_SUDOERS_FILE);
	(void)mkdir("/etc/sudoers.d", 0750);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0440);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "%s: %s", tmp, strerror(errno));
	if (write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1) ||
	    fchmod(fd, 0440) != 0 || fsync(fd) != 0)
		rc = dh_err_set(err, DH_E_IO, "%s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == DH_OK && rename(tmp, SS_PTY_SUDOERS_FILE) != 0)
		rc = dh_err_set(err, DH_E_IO, "%s: %s", SS_PTY_SUDOERS_FILE,
		    strerror(errno));
	if (rc != DH_OK)
		(void)unlink(tmp);
	return rc;
}

void
ss_pty_preload_nss(void)
{
	struct passwd pw, *res;
	char buf[4096];
	gid_t groups[8];
	int n = 8;

	(void)getpwnam_r(SS_PTY_DEFAULT_USER, &pw, buf, sizeof(buf), &res);
	(void)getgrouplist(SS_PTY_DEFAULT_USER, 0, groups, &n);
}

int
ss_pty_ensure_ssm_user(int sudo, int *created, struct dh_err *err)
{
	static char *const argv_add[] = { "/usr/sbin/useradd", "-m",
		SS_PTY_DEFAULT_USER, NULL };
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	*created = 0;
	rc = getpwnam_r(SS_PTY_DEFAULT_USER, &pw, buf, sizeof(buf), &res);
	if (rc == 0 && res != NULL)
		return DH_OK;
	if (geteuid() != 0)
		return dh_err_set(err, DH_E_AUTH,
		    "cannot create %s without root", SS_PTY_DEFAULT_USER);
	rc = run_wait(argv_add, err);
	if (rc != DH_OK)
		return dh_err_wrap(err, rc, "creating %s", SS_PTY_DEFAULT_USER);
	*created = 1;
	if (sudo)
		return write_sudoers(err);
	return DH_OK;
}

/* Find prog on PATH (or use it when it has a '/') into out. */
static int
resolve_shell(const char *prog, char *out, size_t outsz, struct dh_err *err)
{
	const char *path = DEFAULT_PATH, *p, *e;
	char cand[SS_PTY_PATH_MAX];

	if (strchr(prog, '/') != NULL) {
		if (strlen(prog) >= outsz || access(prog, X_OK) != 0)
			return dh_err_set(err, DH_E_NOTFOUND,
			    "shell %.200s is not executable", prog);
		memcpy(out, prog, strlen(prog) + 1);
		return DH_OK;
	}
	for (p = path; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)snprintf(cand, sizeof(cand), "%.*s/%s",
		    (int)(e - p), p, prog) >= sizeof(cand))
			continue;
		if (access(cand, X_OK) == 0 && strlen(cand) < outsz) {
			memcpy(out, cand, strlen(cand) + 1);
			return DH_OK;
		}
	}
	return dh_err_set(err, DH_E_NOTFOUND, "shell %.200s not found", prog);
}

static int
plan_env(struct child_plan *c, const struct ss_pty_user *u)
{
	const char *lang = getenv("LANG"), *tz = getenv("TZ");
	struct passwd *self = NULL;
	const char *name = u != NULL ? u->name : NULL;
	const char *home = u != NULL ? u->home : getenv("HOME");
	int n = 0;

	if (name == NULL) {
		self = getpwuid(geteuid());
		name = self != NULL ? self->pw_name : "unknown";
		if (home == NULL && self != NULL)
			home = self->pw_dir;
	}
	if (home == NULL || home[0] != '/')
		home = "/";
	snprintf(c->home, sizeof(c->home), "%s", home);
	snprintf(c->envs[n++], ENV_LEN, "PATH=%s", DEFAULT_PATH);
	snprintf(c->envs[n++], ENV_LEN, "TERM=xterm-256color");
	snprintf(c->envs[n++], ENV_LEN, "LANG=%s", lang != NULL &&
	    lang[0] != '\0' ? lang : "C.UTF-8");
	snprintf(c->envs[n++], ENV_LEN, "HOME=%s", home);
	snprintf(c->envs[n++], ENV_LEN, "USER=%s", name);
	snprintf(c->envs[n++], ENV_LEN, "LOGNAME=%s", name);
	snprintf(c->envs[n++], ENV_LEN, "SHELL=%s", c->shell);
	if (tz != NULL && tz[0] != '\0')
		snprintf(c->envs[n++], ENV_LEN, "TZ=%s", tz);
	return n;
}

/* The child: only system calls from here to execve. */
static void __attribute__((noreturn))
child(const struct child_plan *c, int slave)
{
	struct sigaction sa;
	sigset_t none;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (c->user != NULL && fchown(slave, c->user->uid, (gid_t)-1) < 0)
		_exit(126);
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(126);
	if (close_range(3, ~0u, 0) != 0) {
		for (s = 3; s < 4096; s++)
			(void)close(s);
	}
	if (c->user != NULL) {
		if (setgroups((size_t)c->user->ngroups, c->user->groups) != 0 ||
		    setresgid(c->user->gid, c->user->gid, c->user->gid) != 0 ||
		    setresuid(c->user->uid, c->user->uid, c->user->uid) != 0)
			_exit(126);
		if (c->user->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
			_exit(126);
	}
	if (chdir(c->home) != 0 && chdir("/") != 0)
		_exit(126);
	execve(c->shell, c->argv, c->envp);
	_exit(127);
}

int
ss_pty_spawn(const struct ss_pty_opts *o, struct ss_pty *p,
    struct dh_err *err)
{
	struct child_plan *c;
	struct winsize ws;
	const char *base;
	int master = -1, slave = -1, rc, i, n;
	pid_t pid;

	p->master = -1;
	p->pid = 0;
	p->exited = 0;
	p->wstatus = 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	rc = resolve_shell(o->shell != NULL && o->shell[0] != '\0' ? o->shell :
	    "sh", c->shell, sizeof(c->shell), err);
	if (rc != DH_OK)
		goto out;
	base = strrchr(c->shell, '/');
	snprintf(c->argv0, sizeof(c->argv0), "%s", base != NULL ? base + 1 :
	    c->shell);
	c->argv[0] = c->argv0;
	if (o->command != NULL) {
		c->argv[1] = (char *)"-c";
		c->argv[2] = (char *)o->command;
	}
	c->user = o->user;
	n = plan_env(c, o->user);
	for (i = 0; i < n; i++)
		c->envp[i] = c->envs[i];
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
	    ptsname_r(master, c->slave, sizeof(c->slave)) != 0) {
		rc = dh_err_set(err, DH_E_IO, "cannot allocate a pty: %s",
		    strerror(errno));
		goto out;
	}
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = (unsigned short)(o->cols != 0 ? o->cols : 80);
	ws.ws_row = (unsigned short)(o->rows != 0 ? o->rows : 24);
	slave = open(c->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || ioctl(master, TIOCSWINSZ, &ws) != 0) {
		rc = dh_err_set(err, DH_E_IO, "cannot open %s: %s", c->slave,
		    strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = dh_err_set(err, DH_E_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(c, slave);
	if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0)
		rc = dh_err_set(err, DH_E_IO, "fcntl: %s", strerror(errno));
	p->master = master;
	p->pid = pid;
	master = -1;
	if (rc != DH_OK)
		ss_pty_close(p, 0);
out:
	if (slave >= 0)
		close(slave);
	if (master >= 0)
		close(master);
	free(c);
	return rc;
}

int
ss_pty_resize(const struct ss_pty *p, unsigned cols, unsigned rows,
    struct dh_err *err)
{
	struct winsize ws;

	if (p->master < 0)
		return dh_err_set(err, DH_E_STATE, "pty is closed");
	if (cols == 0 || rows == 0)
		return DH_OK;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = (unsigned short)cols;
	ws.ws_row = (unsigned short)rows;
	if (ioctl(p->master, TIOCSWINSZ, &ws) != 0)
		return dh_err_set(err, DH_E_IO, "TIOCSWINSZ: %s",
		    strerror(errno));
	return DH_OK;
}

int
ss_pty_reaped(struct ss_pty *p, int block)
{
	pid_t r;
	int st;

	if (p->exited || p->pid <= 0)
		return 1;
	do
		r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->exited = 1;
		p->wstatus = r == p->pid ? st : 0;
		return 1;
	}
	return 0;
}

void
ss_pty_signal(struct ss_pty *p, int sig)
{
	if (p->pid > 0 && !p->exited)
		(void)kill(-p->pid, sig);
}

void
ss_pty_close(struct ss_pty *p, int grace_ms)
{
	int64_t end;

	if (p->master >= 0) {
		close(p->master);
		p->master = -1;
	}
	if (p->pid <= 0 || p->exited)
		return;
	ss_pty_signal(p, SIGHUP);
	ss_pty_signal(p, SIGCONT);
	end = dh_time_mono_ms() + grace_ms;
	while (!ss_pty_reaped(p, 0) && dh_time_mono_ms() < end) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (!p->exited) {
		(void)kill(-p->pid, SIGKILL);
		(void)kill(p->pid, SIGKILL);
		(void)ss_pty_reaped(p, 1);
	}
}

int
ss_pty_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}
