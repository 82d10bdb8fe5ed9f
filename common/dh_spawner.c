/*
 * dh_spawner: a single-threaded fork server for the agent's children (see
 * dh_spawner.h for why).  The agent half sends requests and collects
 * answers; the spawner half, after its fork, seals its heap once and from
 * then on uses only system calls: no allocation, no locks, no logging.
 */
#define _GNU_SOURCE
#include "dh_spawner.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dh_buf.h"
#include "dh_time.h"

#define ENDED_MAX 256
#define ANSWER_MS 5000
#define STOP_MS 1000
#define PLUG_MAX 65536  /* chunks per size class when sealing the heap */

struct ended {
	pid_t pid;
	int status;
};

struct dh_spawner {
	int fd;                  /* agent end of the socketpair */
	pid_t pid;               /* the spawner */
	struct ended ended[ENDED_MAX]; /* reports not yet claimed */
	size_t n_ended;
};

/* ------------------------------------------------------ spawner half */

static int
recv_req(int sock, unsigned char *buf, size_t cap, size_t *n, int *fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { buf, cap };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t r;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (r <= 0)
		return (int)r;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		r = 1;
		buf[0] = 0;   /* answered as a refused request */
	}
	*n = (size_t)r;
	return 1;
}

static void
answer(int sock, unsigned char kind, uint32_t a, uint32_t b, size_t n)
{
	unsigned char m[9];

	m[0] = kind;
	dh_put_be32(m + 1, a);
	dh_put_be32(m + 5, b);
	while (send(sock, m, n, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void
reap_all(int sock)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		answer(sock, 'E', (uint32_t)p, (uint32_t)st, 9);
}

static void
child_signals(const sigset_t *mask)
{
	struct sigaction sa;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGPIPE };
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, mask, NULL);
}

static dh_spawner_child_fn
find_kind(const struct dh_spawner_kind *kinds, size_t nk, unsigned char tag)
{
	size_t i;

	for (i = 0; i < nk; i++)
		if ((unsigned char)kinds[i].tag == tag)
			return kinds[i].fn;
	return NULL;
}

/* Fill every free chunk of the heap inherited from the agent, so that a
 * child's allocations come from fresh pages at the top of the heap rather
 * than from holes in pages it shares with the spawner: a child that
 * writes one small object into a shared page pays for a private copy of
 * the whole page.  Run once, in the spawner, before it forks anything;
 * the plugs are never freed (the spawner does not allocate otherwise).
 * Bounded: a size class stops at its first chunk from the top, or after
 * PLUG_MAX chunks.  Sanitizers bring their own allocator: nothing to do. */
static void
seal_heap(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	size_t s, i;
	char *top;
	void *p;

	(void)malloc_trim(0);
	for (s = 65536 + 8; s >= 24; s = s > 1032 ? (s - 8) / 4 + 8 : s - 16) {
		for (i = 0; i < PLUG_MAX; i++) {
			top = (char *)sbrk(0) - mallinfo2().keepcost;
			p = malloc(s);
			if (p == NULL)
				break;
			if ((char *)p >= top) {
				free(p);
				break;
			}
		}
	}
#endif
}

static void __attribute__((noreturn))
serve(int sock, const struct dh_spawner_kind *kinds, size_t nk,
    const sigset_t *orig)
{
	static unsigned char req[2 + DH_SPAWNER_REQ_MAX];
	static char name[17];   /* PR_GET_NAME writes up to 16 bytes */
	dh_spawner_child_fn fn;
	struct sigaction sa;
	struct signalfd_siginfo si;
	struct pollfd pf[2];
	sigset_t chld;
	size_t n = 0;
	pid_t pid;
	int sfd, fd, r;

	/* children take back the agent's name: `ps` and `pkill dh-spawner`
	 * must not mistake a session for the spawner */
	if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0)
		name[0] = '\0';
	(void)prctl(PR_SET_NAME, "dh-spawner", 0, 0, 0);
	/* the agent's stop closes our socket: signals meant for the service
	 * (systemd's SIGTERM, a terminal's ^C) do not end the spawner early */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);
	for (;;) {
		pf[0].fd = sock;
		pf[0].events = POLLIN;
		pf[1].fd = sfd;
		pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pf[1].revents != 0) {
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap_all(sock);
		}
		if (pf[0].revents == 0)
			continue;
		r = recv_req(sock, req, sizeof(req), &n, &fd);
		if (r == 0)
			_exit(0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			_exit(1);
		}
		fn = n >= 2 && req[0] == 'S' ? find_kind(kinds, nk, req[1]) : NULL;
		if (fn == NULL) {
			if (fd >= 0)
				close(fd);
			answer(sock, 'P', 0, 0, 5);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(sock);
			close(sfd);
			if (name[0] != '\0')
				(void)prctl(PR_SET_NAME, name, 0, 0, 0);
			child_signals(orig);
			fn(req + 2, n - 2, fd);
			_exit(127);
		}
		if (fd >= 0)
			close(fd);
		answer(sock, 'P', pid > 0 ? (uint32_t)pid : 0, 0, 5);
	}
}

/* -------------------------------------------------------- agent half */

static int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 1;       /* no /proc: nothing to check against */
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
dh_spawner_start(const struct dh_spawner_kind *kinds, size_t n,
    struct dh_spawner **out, struct dh_err *err)
{
	struct dh_spawner *sp = NULL;
	sigset_t orig;
	int sv[2] = { -1, -1 }, threads, rc;
	pid_t pid;

	*out = NULL;
	threads = thread_count();
	if (threads > 1) {
		rc = dh_err_set(err, DH_E_STATE, "cannot start the spawner:"
		    " %d threads already run (it must be started while the"
		    " process is single-threaded)", threads);
		goto out;
	}
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = dh_err_set(err, DH_E_IO, "socketpair: %s",
		    strerror(errno));
		goto out;
	}
	(void)sigprocmask(SIG_SETMASK, NULL, &orig);
	pid = fork();
	if (pid < 0) {
		rc = dh_err_set(err, DH_E_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* keep stdio and our socket (as 3) only */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		if (close_range(4, ~0u, 0) != 0) {
			int fd;

			for (fd = 4; fd < 4096; fd++)
				(void)close(fd);
		}
		seal_heap();
		serve(3, kinds, n, &orig);
	}
	sp->fd = sv[0];
	sp->pid = pid;
	sv[0] = -1;
	*out = sp;
	sp = NULL;
	rc = DH_OK;
out:
	if (sv[1] >= 0)
		close(sv[1]);
	if (sv[0] >= 0)
		close(sv[0]);
	free(sp);
	return rc;
}

/* Read one answer, waiting up to wait_ms: 1 = *kind/a/b set, 0 = none
 * yet, -1 = the spawner is gone. */
static int
read_answer(struct dh_spawner *sp, int wait_ms, unsigned char *kind,
    uint32_t *a, uint32_t *b)
{
	unsigned char m[16];
	struct pollfd pf = { sp->fd, POLLIN, 0 };
	ssize_t n;

	if (sp->fd < 0)
		return -1;
	if (wait_ms > 0) {
		int r = poll(&pf, 1, wait_ms);

		if (r < 0 && errno != EINTR)
			return -1;
		if (r <= 0)
			return 0;
	}
	n = recv(sp->fd, m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	if ((m[0] == 'P' && n != 5) || (m[0] == 'E' && n != 9) ||
	    (m[0] != 'P' && m[0] != 'E'))
		return -1;  /* not our spawner speaking: treat it as gone */
	*kind = m[0];
	*a = dh_be32(m + 1);
	*b = m[0] == 'E' ? dh_be32(m + 5) : 0;
	return 1;
}

/* Keep an end report until its owner asks; drop the oldest when full. */
static void
queue_end(struct dh_spawner *sp, pid_t pid, int status)
{
	if (sp->n_ended == ENDED_MAX) {
		memmove(sp->ended, sp->ended + 1,
		    (ENDED_MAX - 1) * sizeof(sp->ended[0]));
		sp->n_ended--;
	}
	sp->ended[sp->n_ended].pid = pid;
	sp->ended[sp->n_ended].status = status;
	sp->n_ended++;
}

static void
gone(struct dh_spawner *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
}

int
dh_spawner_spawn(struct dh_spawner *sp, char tag, const void *req, size_t n,
    int fd, pid_t *pid, struct dh_err *err)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	unsigned char head[2] = { 'S', (unsigned char)tag }, kind;
	struct iovec iov[2];
	struct msghdr mh;
	struct cmsghdr *c;
	int64_t deadline;
	uint32_t a, b;
	ssize_t w;
	int r;

	*pid = 0;
	if (n > DH_SPAWNER_REQ_MAX)
		return dh_err_set(err, DH_E_TOOBIG, "spawn request of %zu"
		    " bytes (limit %d)", n, DH_SPAWNER_REQ_MAX);
	if (sp->fd < 0)
		return dh_err_set(err, DH_E_IO, "the spawner is gone");
	iov[0].iov_base = head;
	iov[0].iov_len = 2;
	iov[1].iov_base = (void *)(uintptr_t)req;
	iov[1].iov_len = n;
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	if (fd >= 0) {
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		w = sendmsg(sp->fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)(n + 2)) {
		r = errno;
		gone(sp);
		return dh_err_set(err, DH_E_IO, "the spawner is gone (send: %s)",
		    w < 0 ? strerror(r) : "short");
	}
	deadline = dh_time_mono_ms() + ANSWER_MS;
	for (;;) {
		int64_t left = deadline - dh_time_mono_ms();

		r = left > 0 ? read_answer(sp, (int)left, &kind, &a, &b) : 0;
		if (r < 0 || (r == 0 && dh_time_mono_ms() >= deadline)) {
			gone(sp);
			return dh_err_set(err, DH_E_IO, "the spawner is gone"
			    " (%s)", r < 0 ? "closed" : "no answer");
		}
		if (r == 0)
			continue;
		if (kind == 'P')
			break;
		queue_end(sp, (pid_t)a, (int)b);
	}
	if (a == 0)
		return dh_err_set(err, DH_E_IO, "the spawner refused the"
		    " request or could not fork");
	*pid = (pid_t)a;
	return DH_OK;
}

int
dh_spawner_ended(struct dh_spawner *sp, pid_t pid, int wait_ms,
    int *wstatus)
{
	int64_t deadline = dh_time_mono_ms() + (wait_ms > 0 ? wait_ms : 0), left;
	unsigned char kind;
	uint32_t a, b;
	size_t i;
	int r;

	for (;;) {
		for (i = 0; i < sp->n_ended; i++)
			if (sp->ended[i].pid == pid) {
				*wstatus = sp->ended[i].status;
				sp->n_ended--;
				memmove(sp->ended + i, sp->ended + i + 1,
				    (sp->n_ended - i) * sizeof(sp->ended[0]));
				return DH_OK;
			}
		if (sp->fd < 0)
			return DH_E_IO;
		left = deadline - dh_time_mono_ms();
		r = read_answer(sp, left > 0 ? (int)left : 0, &kind, &a, &b);
		if (r < 0 || (r > 0 && kind != 'E')) {
			gone(sp);   /* a stray 'P' cannot happen: spawn waits */
			continue;
		}
		if (r > 0)
			queue_end(sp, (pid_t)a, (int)b);
		else if (left <= 0)
			return DH_E_TIMEOUT;
	}
}

pid_t
dh_spawner_pid(const struct dh_spawner *sp)
{
	return sp->pid;
}

void
dh_spawner_stop(struct dh_spawner *sp)
{
	int64_t end;
	int st;

	if (sp == NULL)
		return;
	gone(sp);
	end = dh_time_mono_ms() + STOP_MS;
	while (waitpid(sp->pid, &st, WNOHANG) == 0) {
		if (dh_time_mono_ms() >= end) {
			(void)kill(sp->pid, SIGKILL);
			(void)waitpid(sp->pid, &st, 0);
			break;
		}
		usleep(5000);
	}
	free(sp);
}
