/*
 * ag_daemon: `deckhand-agent run`, the long-lived agent process.
 *
 * One libwebsockets event loop drives everything with lws_sul timers:
 * credentials (RequestManagedInstanceRoleToken, refreshed at half lifetime,
 * key rotation when asked or after credentials.key_rotate_days), the
 * heartbeat (UpdateInstanceInformation on start, when the control channel
 * opens, then every heartbeat.interval_seconds), the control channel
 * (ag_ctrl) and the systemd watchdog.  The blocking HTTPS calls among them
 * run on one ag_worker thread and their results are applied on the loop;
 * at exit a call still hanging after 300 ms is abandoned.  systemd is told READY=1 once the
 * loop runs, STATUS= on changes, WATCHDOG=1 at half the watchdog period and
 * STOPPING=1 on exit.  SIGTERM/SIGINT stop the loop at once; SIGHUP reloads
 * the configuration (log level, intervals, backoff, endpoints, CA, proxy)
 * and reconnects.  On start the hardware map is compared with the one saved
 * at registration (ag_fingerprint): similar maps are refreshed on disk, a
 * different machine refuses to start.
 */
#ifndef AG_DAEMON_H
#define AG_DAEMON_H

#include "dh_err.h"

#define AG_EXIT_FINGERPRINT 78 /* identity belongs to another machine */

/* Borrowed strings.  config_path NULL = AG_CONFIG_DEFAULT_PATH (optional
 * file); state_dir NULL = the config's state_dir. */
struct ag_daemon_opts {
	const char *config_path;
	const char *state_dir;
};

/* Run until SIGTERM/SIGINT; 0 on a clean stop.  DH_E_NOTFOUND when not
 * registered, DH_E_INTEGRITY when the fingerprint check fails, DH_E_CONFIG
 * for a bad config. */
int ag_daemon_run(const struct ag_daemon_opts *o, struct dh_err *err);

#endif
