/*
 * ag_notify: the systemd notification protocol spoken directly (no
 * libsystemd): one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or an abstract name when it starts with
 * '@').  Also reads $WATCHDOG_USEC / $WATCHDOG_PID to tell the daemon how
 * often to send WATCHDOG=1.  Without NOTIFY_SOCKET every call is a no-op.
 */
#ifndef AG_NOTIFY_H
#define AG_NOTIFY_H

#include <stdint.h>

#include "dh_err.h"

/* Send state (e.g. "READY=1\nSTATUS=online") to $NOTIFY_SOCKET.  0 when
 * sent or when no socket is configured; DH_E_IO/DH_E_ARG otherwise. */
int ag_notify_send(const char *state, struct dh_err *err);

/* Watchdog interval in microseconds from $WATCHDOG_USEC when it applies to
 * this process ($WATCHDOG_PID absent or equal to getpid()); 0 when off. */
uint64_t ag_notify_watchdog_usec(void);

#endif
