/*
 * dh_spawner: children run in a fork of the spawner (not of the test),
 * chosen by the request's tag,
 * get the request bytes and the passed descriptor and the parent's
 * process name (not the spawner's), start with default
 * signal dispositions and the original mask, and their ends are reported
 * with the wait status, their allocations come from fresh pages above
 * every hole the parent left in its heap (so they do not dirty shared
 * pages), also when they end while a spawn waits for its
 * answer, and each is found by its pid.  A multi-threaded parent and an
 * unknown tag are refused; a dead spawner is an error, not a hang.  The point of the spawner: children forked while a parent
 * thread hammers malloc still allocate and exit.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dh_err.h"
#include "dh_spawner.h"

/* Child: request "exit N" exits N; "info" writes ppid, SIGCHLD blocked,
 * SIGTERM disposition, the request length; "alloc" mallocs 1000 blocks. */
static void
child(const void *req, size_t n, int fd)
{
	char line[128], comm[17];
	sigset_t m;
	struct sigaction sa;
	int len;

	if (n > 5 && n < sizeof(line) && memcmp(req, "exit ", 5) == 0) {
		memcpy(line, req, n);   /* the request is not NUL-terminated */
		line[n] = '\0';
		_exit((int)strtol(line + 5, NULL, 10));
	}
	if (n == 4 && memcmp(req, "heap", 4) == 0) {
		len = snprintf(line, sizeof(line), "%lx %lx",
		    (unsigned long)malloc(200), (unsigned long)malloc(3000));
		_exit(write(fd, line, (size_t)len) == len ? 0 : 1);
	}
	if (n == 5 && memcmp(req, "alloc", 5) == 0) {
		void *p[1000];
		int i;

		for (i = 0; i < 1000; i++)
			p[i] = malloc((size_t)(i * 37 % 4000 + 1));
		for (i = 0; i < 1000; i++)
			free(p[i]);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, NULL, &m);
	sigaction(SIGTERM, NULL, &sa);
	memset(comm, 0, sizeof(comm));
	(void)prctl(PR_GET_NAME, comm, 0, 0, 0);
	len = snprintf(line, sizeof(line), "%ld %d %d %zu %s", (long)getppid(),
	    sigismember(&m, SIGCHLD), sa.sa_handler == SIG_DFL, n, comm);
	_exit(write(fd, line, (size_t)len) == len ? 0 : 1);
}

/* A second kind: exits 77 with the descriptor it got (-1 = none). */
static void
other(const void *req, size_t n, int fd)
{
	(void)req;
	(void)n;
	_exit(fd < 0 ? 77 : 78);
}

static const struct dh_spawner_kind kinds[] = {
	{ 'c', child },
	{ 'o', other },
};

static int
tasks(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Wait for the end of pid; its status. */
static int
ended(struct dh_spawner *sp, pid_t pid)
{
	int st = -1;

	assert_int_equal(dh_spawner_ended(sp, pid, 10000, &st), DH_OK);
	return st;
}

static void
test_child_runs_in_the_spawner(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	char buf[128], comm[17], mine[17];
	long ppid;
	int sv[2], blocked, dfl, st;
	size_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_OK);
	assert_int_equal(tasks(dh_spawner_pid(sp)), 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(dh_spawner_spawn(sp, 'c', "info", 4, sv[1], &pid, &e),
	    DH_OK);
	close(sv[1]);
	assert_true(pid > 0);
	memset(buf, 0, sizeof(buf));
	assert_true(read(sv[0], buf, sizeof(buf) - 1) > 0);
	close(sv[0]);
	assert_int_equal(sscanf(buf, "%ld %d %d %zu %16s", &ppid, &blocked,
	    &dfl, &n, comm), 5);
	memset(mine, 0, sizeof(mine));
	assert_int_equal(prctl(PR_GET_NAME, mine, 0, 0, 0), 0);
	assert_string_equal(comm, mine);        /* not "dh-spawner" */
	assert_int_equal(ppid, (long)dh_spawner_pid(sp));
	assert_int_equal(blocked, 0);
	assert_int_equal(dfl, 1);
	assert_int_equal(n, 4);
	st = ended(sp, pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	dh_spawner_stop(sp);
}

/* Holes left in the parent's heap before the spawner starts are sealed:
 * a child's allocation of a size that fits them lands above all of them. */
static void
test_children_allocate_above_the_holes(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	unsigned long a, b, top;
	char buf[128];
	void *blk[400], *guard;
	int sv[2], i;
	pid_t pid;

	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();                 /* the sanitizer's allocator has no such holes */
#endif
	for (i = 0; i < 400; i++)
		assert_non_null(blk[i] = malloc(i % 2 ? 200 : 3000));
	assert_non_null(guard = malloc(8));     /* every hole is below it */
	top = (unsigned long)guard;
	for (i = 0; i < 400; i += 2) {
		free(blk[i]);
		free(blk[i + 1]);
		blk[i] = blk[i + 1] = NULL;
		if (i % 4 == 0)
			assert_non_null(blk[i] = malloc(8)); /* keep holes apart */
	}
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_OK);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(dh_spawner_spawn(sp, 'c', "heap", 4, sv[1], &pid, &e),
	    DH_OK);
	close(sv[1]);
	memset(buf, 0, sizeof(buf));
	assert_true(read(sv[0], buf, sizeof(buf) - 1) > 0);
	close(sv[0]);
	assert_int_equal(sscanf(buf, "%lx %lx", &a, &b), 2);
	assert_true(a > top);
	assert_true(b > top);
	assert_int_equal(ended(sp, pid), 0);
	dh_spawner_stop(sp);
	for (i = 0; i < 400; i++)
		free(blk[i]);
	free(guard);
}

/* Children that end at once: their reports arrive while later spawns
 * wait for answers and are queued, none lost. */
static void
test_ends_reported_with_status(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	pid_t pids[40];
	int i, st, got = 0;
	char req[16];

	(void)state;
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_OK);
	for (i = 0; i < 40; i++) {
		int fd = open("/dev/null", O_RDONLY);

		snprintf(req, sizeof(req), "exit %d", 40 - i);
		assert_int_equal(dh_spawner_spawn(sp, 'c', req, strlen(req), fd,
		    &pids[i], &e), DH_OK);
		close(fd);
	}
	/* claimed by pid in reverse order of their start */
	for (i = 39; i >= 0; i--) {
		assert_int_equal(dh_spawner_ended(sp, pids[i], 10000, &st),
		    DH_OK);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 40 - i);
		got++;
	}
	assert_int_equal(got, 40);
	assert_int_equal(dh_spawner_ended(sp, pids[0], 0, &st), DH_E_TIMEOUT);
	dh_spawner_stop(sp);
}

static void *
idle_thread(void *arg)
{
	int *fds = arg;
	char c;

	return read(fds[0], &c, 1) == 1 ? arg : NULL;
}

static void
test_refused_with_threads(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	pthread_t th;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pthread_create(&th, NULL, idle_thread, fds), 0);
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_E_STATE);
	assert_null(sp);
	assert_non_null(strstr(e.msg, "threads"));
	assert_int_equal(write(fds[1], "x", 1), 1);
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);
}

static void
test_unknown_tag_and_dead_spawner(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	char big[DH_SPAWNER_REQ_MAX + 1];
	pid_t pid = 0;
	int st, fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_OK);
	memset(big, 'x', sizeof(big));
	assert_int_equal(dh_spawner_spawn(sp, 'c', big, sizeof(big), fd, &pid, &e),
	    DH_E_TOOBIG);
	assert_int_equal(dh_spawner_spawn(sp, 'x', "exit 0", 6, fd, &pid, &e),
	    DH_E_IO);   /* unknown tag: refused, the spawner goes on */
	assert_int_equal(dh_spawner_spawn(sp, 'o', "", 0, -1, &pid, &e),
	    DH_OK);
	st = ended(sp, pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 77);
	assert_int_equal(dh_spawner_spawn(sp, 'o', "", 0, fd, &pid, &e),
	    DH_OK);
	st = ended(sp, pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 78);
	assert_int_equal(kill(dh_spawner_pid(sp), SIGKILL), 0);
	assert_int_equal(dh_spawner_spawn(sp, 'c', "exit 0", 6, fd, &pid, &e),
	    DH_E_IO);
	assert_int_equal(dh_spawner_ended(sp, pid, 0, &st), DH_E_IO);
	dh_spawner_stop(sp);
	close(fd);
}

static volatile int g_stop;

static void *
malloc_thread(void *arg)
{
	(void)arg;
	while (!g_stop) {
		void *p = malloc(100 + (size_t)(rand() % 5000));

		free(p);
	}
	return NULL;
}

/* The reason the spawner exists: the parent runs a thread that is in
 * malloc most of the time, yet every child allocates and exits. */
static void
test_children_of_a_busy_parent_allocate(void **state)
{
	struct dh_spawner *sp = NULL;
	struct dh_err e;
	pthread_t th;
	pid_t pid;
	int i, st, fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_int_equal(dh_spawner_start(kinds, 2, &sp, &e), DH_OK);
	g_stop = 0;
	assert_int_equal(pthread_create(&th, NULL, malloc_thread, NULL), 0);
	for (i = 0; i < 30; i++) {
		assert_int_equal(dh_spawner_spawn(sp, 'c', "alloc", 5, fd, &pid, &e),
		    DH_OK);
		st = ended(sp, pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	g_stop = 1;
	pthread_join(th, NULL);
	dh_spawner_stop(sp);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_runs_in_the_spawner),
		cmocka_unit_test(test_ends_reported_with_status),
		cmocka_unit_test(test_children_allocate_above_the_holes),
		cmocka_unit_test(test_refused_with_threads),
		cmocka_unit_test(test_unknown_tag_and_dead_spawner),
		cmocka_unit_test(test_children_of_a_busy_parent_allocate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
