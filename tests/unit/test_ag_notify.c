/*
 * Unit tests for ag_notify: datagrams reach a NOTIFY_SOCKET bound by the
 * test (path and abstract forms), no-op without the variable, and the
 * WATCHDOG_USEC / WATCHDOG_PID rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ag_notify.h"

static int
bind_dgram(const char *name, int abstract)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (abstract) {
		memcpy(sa.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(name));
	} else {
		memcpy(sa.sun_path, name, strlen(name));
		len = sizeof(sa);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void
expect_msg(int fd, const char *want)
{
	char buf[256];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_path_socket(void **state)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/ag_notify_%ld.sock", (long)getpid());
	unlink(path);
	fd = bind_dgram(path, 0);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(ag_notify_send("READY=1\nSTATUS=ok", NULL), DH_OK);
	expect_msg(fd, "READY=1\nSTATUS=ok");
	assert_int_equal(ag_notify_send("WATCHDOG=1", NULL), DH_OK);
	expect_msg(fd, "WATCHDOG=1");
	close(fd);
	unlink(path);
	/* Peer gone: an error, not a crash. */
	assert_int_equal(ag_notify_send("WATCHDOG=1", NULL), DH_E_IO);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_abstract_socket(void **state)
{
	char name[64], env[70];
	int fd;

	snprintf(name, sizeof(name), "ag_notify_test_%ld", (long)getpid());
	fd = bind_dgram(name, 1);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(ag_notify_send("STOPPING=1", NULL), DH_OK);
	expect_msg(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_no_socket(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(ag_notify_send("READY=1", NULL), DH_OK);
	setenv("NOTIFY_SOCKET", "relative", 1);
	assert_int_equal(ag_notify_send("READY=1", NULL), DH_E_ARG);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_watchdog_env(void **state)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_true(ag_notify_watchdog_usec() == 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_true(ag_notify_watchdog_usec() == 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_true(ag_notify_watchdog_usec() == 30000000);
	setenv("WATCHDOG_PID", "1", 1);
	assert_true(ag_notify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "12x", 1);
	assert_true(ag_notify_watchdog_usec() == 0);
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_watchdog_env),
	};

	return cmocka_run_group_tests_name("ag_notify", tests, NULL, NULL);
}
