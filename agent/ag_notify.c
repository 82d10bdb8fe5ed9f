/*
 * ag_notify: sd_notify over a unix datagram socket (see ag_notify.h).
 */
#include "ag_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
ag_notify_send(const char *state, struct dh_err *err)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t plen;
	ssize_t w;
	int fd = -1, rc;

	if (path == NULL || path[0] == '\0')
		return DH_OK;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen < 2 ||
	    plen >= sizeof(sa.sun_path))
		return dh_err_set(err, DH_E_ARG,
		    "NOTIFY_SOCKET is not a usable socket address");
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '@' ? 0 : 1));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = dh_err_set(err, DH_E_IO, "notify socket: %s",
		    strerror(errno));
		goto out;
	}
	do {
		w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		    (const struct sockaddr *)&sa, salen);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		rc = dh_err_set(err, DH_E_IO, "notify %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = DH_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

uint64_t
ag_notify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (us == NULL || us[0] == '\0')
		return 0;
	if (pid != NULL && pid[0] != '\0') {
		errno = 0;
		v = strtoull(pid, &end, 10);
		if (errno != 0 || *end != '\0' || v != (unsigned long long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return (uint64_t)v;
}
