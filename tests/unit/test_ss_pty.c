/*
 * Unit tests for ss_pty: spawn `sh -c` on a pty and read its output, the
 * environment (TERM), window size set at spawn and changed later as seen by
 * `stty size`, exit codes (status and signal), killing a shell that ignores
 * hang-ups, the Run As decision table, user lookup refusals and (as root)
 * running a shell as another account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_time.h"
#include "ss_pty.h"

/* Read from the pty until needle shows up or the shell's output ends. */
static int
read_until(struct ss_pty *p, const char *needle, char *buf, size_t bufsz)
{
	size_t len = 0;
	int64_t end = dh_time_mono_ms() + 10000;

	buf[0] = '\0';
	while (dh_time_mono_ms() < end) {
		struct pollfd pf = { p->master, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = read(p->master, buf + len, bufsz - 1 - len);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return strstr(buf, needle) != NULL;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, needle) != NULL)
			return 1;
		if (len + 1 >= bufsz)
			return 0;
	}
	return 0;
}

static void
test_spawn_output(void **state)
{
	struct ss_pty_opts o;
	struct ss_pty p;
	struct dh_err e;
	char buf[4096];

	memset(&o, 0, sizeof(o));
	o.command = "echo hello-$TERM; stty size; exit 3";
	o.cols = 100;
	o.rows = 30;
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_OK);
	assert_true(p.master >= 0);
	assert_true(read_until(&p, "30 100", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "hello-xterm-256color"));
	assert_int_equal(ss_pty_reaped(&p, 1), 1);
	assert_int_equal(ss_pty_exit_code(p.wstatus), 3);
	ss_pty_close(&p, 0);
	assert_int_equal(p.master, -1);
	ss_pty_close(&p, 0);
}

static void
test_resize(void **state)
{
	struct ss_pty_opts o;
	struct ss_pty p;
	struct dh_err e;
	char buf[4096];

	memset(&o, 0, sizeof(o));
	o.command = "stty size; echo ready; read x; stty size; echo done";
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_OK);
	assert_true(read_until(&p, "ready", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "24 80"));
	assert_int_equal(ss_pty_resize(&p, 132, 50, &e), DH_OK);
	assert_int_equal(write(p.master, "\n", 1), 1);
	assert_true(read_until(&p, "done", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "50 132"));
	assert_int_equal(ss_pty_reaped(&p, 1), 1);
	assert_int_equal(ss_pty_exit_code(p.wstatus), 0);
	ss_pty_close(&p, 0);
}

static void
test_kill_stubborn(void **state)
{
	struct ss_pty_opts o;
	struct ss_pty p;
	struct dh_err e;
	char buf[256];

	memset(&o, 0, sizeof(o));
	o.command = "trap '' HUP; echo armed; while :; do sleep 1; done";
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_OK);
	assert_true(read_until(&p, "armed", buf, sizeof(buf)));
	assert_int_equal(ss_pty_reaped(&p, 0), 0);
	ss_pty_close(&p, 100);
	assert_int_equal(p.exited, 1);
	assert_int_equal(ss_pty_exit_code(p.wstatus), 128 + SIGKILL);
}

static void
test_bad_shell(void **state)
{
	struct ss_pty_opts o;
	struct ss_pty p;
	struct dh_err e;

	memset(&o, 0, sizeof(o));
	o.shell = "/nonexistent/shell";
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_E_NOTFOUND);
	assert_int_equal(p.master, -1);
	o.shell = "no-such-shell-on-path";
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_E_NOTFOUND);
}

static void
test_choose_user(void **state)
{
	static const struct {
		int root, enabled;
		const char *payload, *dflt;
		int allow_root, rc;
		const char *want;
	} t[] = {
		{ 0, 1, "alice", "bob", 0, DH_OK, "" },
		{ 1, 0, "alice", "bob", 0, DH_OK, "ssm-user" },
		{ 1, 1, "alice", "bob", 0, DH_OK, "alice" },
		{ 1, 1, "", "bob", 0, DH_OK, "bob" },
		{ 1, 1, NULL, "bob", 0, DH_OK, "bob" },
		{ 1, 1, "", "", 0, DH_E_CONFIG, "" },
		{ 1, 1, NULL, NULL, 0, DH_E_CONFIG, "" },
		{ 1, 1, "root", "bob", 0, DH_E_AUTH, "" },
		{ 1, 1, "", "root", 0, DH_E_AUTH, "" },
		{ 1, 1, "", "root", 1, DH_OK, "root" },
		{ 1, 1, "a b", "", 0, DH_E_CONFIG, "" },
		{ 1, 1, "-rf", "", 0, DH_E_CONFIG, "" },
		{ 1, 1, "x;id", "", 0, DH_E_CONFIG, "" },
	};
	char out[SS_PTY_USER_MAX];
	struct dh_err e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = ss_pty_choose_user(t[i].root, t[i].enabled,
		    t[i].payload, t[i].dflt, t[i].allow_root, out, sizeof(out),
		    &e);

		if (rc != t[i].rc)
			fail_msg("case %zu: rc %d want %d", i, rc, t[i].rc);
		if (rc == DH_OK)
			assert_string_equal(out, t[i].want);
	}
}

static void
test_lookup(void **state)
{
	struct ss_pty_user u;
	struct dh_err e;

	assert_int_equal(ss_pty_user_lookup("root", 0, &u, &e), DH_E_AUTH);
	assert_int_equal(ss_pty_user_lookup("root", 1, &u, &e), DH_OK);
	assert_int_equal(u.uid, 0);
	assert_int_equal(ss_pty_user_lookup("no-such-user-xq", 0, &u, &e),
	    DH_E_NOTFOUND);
	assert_non_null(strstr(e.msg, "does not exist"));
	assert_int_equal(ss_pty_user_lookup("bad name", 0, &u, &e), DH_E_ARG);
}

static void
test_run_as_nobody(void **state)
{
	struct ss_pty_opts o;
	struct ss_pty_user u;
	struct ss_pty p;
	struct dh_err e;
	char buf[4096];

	if (geteuid() != 0 || ss_pty_user_lookup("nobody", 0, &u, &e) !=
	    DH_OK) {
		skip();
		return;
	}
	memset(&o, 0, sizeof(o));
	o.user = &u;
	o.command = "echo \"who=$(id -un) uid=$(id -u) home=$HOME\";"
	    " tty >/dev/null && echo tty-ok";
	assert_int_equal(ss_pty_spawn(&o, &p, &e), DH_OK);
	assert_true(read_until(&p, "tty-ok", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "who=nobody"));
	assert_null(strstr(buf, "uid=0"));
	assert_int_equal(ss_pty_reaped(&p, 1), 1);
	assert_int_equal(ss_pty_exit_code(p.wstatus), 0);
	ss_pty_close(&p, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_output),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_kill_stubborn),
		cmocka_unit_test(test_bad_shell),
		cmocka_unit_test(test_choose_user),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_run_as_nobody),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("ss_pty", tests, NULL, NULL);
}
