/*
 * ss_pty: the shell of a session on a pseudo-terminal, and the small
 * privileged part of a session (who the shell runs as).
 *
 * ss_pty_spawn opens a pty pair, sets the window size, forks and in the
 * child: new session (setsid), the slave as controlling tty and stdio,
 * every other descriptor closed, default signal dispositions, then (when a
 * user is given) setgroups/setgid/setuid to that user, verified to be
 * irreversible, the user's home as working directory, and execve of the
 * shell with a clean environment: PATH, TERM=xterm-256color, LANG (the
 * agent's, else C.UTF-8), HOME, USER, LOGNAME, SHELL (and TZ when set).
 * Everything the child needs (groups, paths, environment) is prepared in
 * the parent, so the child only makes system calls before execve.
 *
 * Run As (ssm-agent-behaviour.md section 4.3): ss_pty_choose_user decides
 * the account from the session document and the payload; ss_pty_user_lookup
 * resolves it and refuses uid/gid 0 unless root was explicitly allowed;
 * ss_pty_ensure_ssm_user creates the default account with useradd -m and
 * writes a NOPASSWD sudoers entry only when asked to and only for an
 * account it just created.
 *
 * Ownership: struct ss_pty owns the master descriptor (non-blocking,
 * close-on-exec) and the child; ss_pty_close releases both.
 */
#ifndef SS_PTY_H
#define SS_PTY_H

#include <stddef.h>
#include <sys/types.h>

#include "dh_err.h"

#define SS_PTY_USER_MAX 64
#define SS_PTY_PATH_MAX 512
#define SS_PTY_GROUPS_MAX 64
#define SS_PTY_DEFAULT_USER "ssm-user"
#define SS_PTY_SUDOERS_FILE "/etc/sudoers.d/ssm-agent-users"

/* A resolved account (filled by ss_pty_user_lookup). */
struct ss_pty_user {
	char name[SS_PTY_USER_MAX];
	uid_t uid;
	gid_t gid;
	gid_t groups[SS_PTY_GROUPS_MAX];
	int ngroups;
	char home[SS_PTY_PATH_MAX];
};

/* What to start.  All pointers are borrowed for the call. */
struct ss_pty_opts {
	const char *shell;               /* NULL = "sh" found on PATH */
	const char *command;             /* non-NULL: shell -c command */
	const struct ss_pty_user *user;  /* NULL = keep the current user */
	unsigned cols, rows;             /* 0 = 80 x 24 */
};

struct ss_pty {
	int master;     /* -1 when closed */
	pid_t pid;      /* shell's pid (also its session and group id), 0 = none */
	int exited;     /* 1 once reaped */
	int wstatus;    /* waitpid status once exited */
};

/* Start the shell; p is filled (master, pid).  On error nothing is left
 * running and p->master is -1. */
int ss_pty_spawn(const struct ss_pty_opts *o, struct ss_pty *p,
    struct dh_err *err);

/* Set the window size (values truncated to 16 bits, 0 ignored). */
int ss_pty_resize(const struct ss_pty *p, unsigned cols, unsigned rows,
    struct dh_err *err);

/* Reap the shell if it ended (block: wait for it); 1 when it has exited. */
int ss_pty_reaped(struct ss_pty *p, int block);

/* Send sig to the shell's process group (no-op once reaped). */
void ss_pty_signal(struct ss_pty *p, int sig);

/* Close the master, hang up the shell's group, SIGKILL it after grace_ms if
 * it is still there, and reap it.  Safe to call twice. */
void ss_pty_close(struct ss_pty *p, int grace_ms);

/* Shell exit code from a waitpid status: exit status, or 128 + signal. */
int ss_pty_exit_code(int wstatus);

/*
 * Decide the account (pure).  am_root: the agent runs as root.  Not root:
 * out = "" (the agent's own user; Run As needs root).  Run As enabled: the
 * payload's RunAsUser when non-empty, else default_user; empty is an error
 * (DH_E_CONFIG), "root" needs allow_root (DH_E_AUTH).  Otherwise
 * SS_PTY_DEFAULT_USER.  Names must look like POSIX user names.
 */
int ss_pty_choose_user(int am_root, int run_as_enabled,
    const char *payload_user, const char *default_user, int allow_root,
    char *out, size_t outsz, struct dh_err *err);

/* Resolve name with getpwnam_r/getgrouplist into u.  DH_E_NOTFOUND when the
 * account does not exist, DH_E_AUTH for uid or gid 0 without allow_root. */
int ss_pty_user_lookup(const char *name, int allow_root, struct ss_pty_user *u,
    struct dh_err *err);

/* Load the account-lookup (NSS) modules into the calling long-lived
 * process, doing the lookups a worker does, so that forked workers share
 * the loaded modules instead of each loading a private copy. */
void ss_pty_preload_nss(void);

/* Make sure SS_PTY_DEFAULT_USER exists: when missing, run
 * `useradd -m ssm-user` and, only if sudo is set, write SS_PTY_SUDOERS_FILE
 * (0440) granting it NOPASSWD sudo.  *created reports a new account. */
int ss_pty_ensure_ssm_user(int sudo, int *created, struct dh_err *err);

#endif
