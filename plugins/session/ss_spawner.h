/*
 * ss_spawner: the fork server that starts session workers.
 *
 * The agent starts it once, while the agent is still single-threaded, and
 * from then on every worker is forked by the spawner instead of by the
 * agent.  A process that forks while other threads run hands its child
 * every lock those threads held at that instant: OpenSSL's store and
 * provider locks, a malloc arena, a sanitizer's allocator.  The child can
 * never release them and hangs at its first use.  A child of the
 * single-threaded spawner inherits no held lock.  The spawner is also a
 * small snapshot of the agent (configuration, the CA store, NSS) rather
 * than of the agent's running state, so workers inherit less heap.
 *
 * The spawner itself never allocates, locks or logs after the fork: it
 * only receives requests, forks, and reports ends.
 *
 * Wire: one SOCK_SEQPACKET socketpair, one message per packet.
 *   agent -> spawner  'S' request bytes, one descriptor in SCM_RIGHTS
 *   spawner -> agent  'P' pid (u32 BE; 0 = fork failed), in request order
 *                     'E' pid (u32 BE) wait status (u32 BE): a child ended
 * The spawner exits when the agent's end closes (it never kills workers).
 *
 * Ownership: a struct ss_spawner owns its socket and the spawner process;
 * a descriptor given to ss_spawner_spawn stays the caller's.  Not
 * thread-safe: one thread (the agent's loop) drives it.
 */
#ifndef SS_SPAWNER_H
#define SS_SPAWNER_H

#include <stddef.h>
#include <sys/types.h>

#include "dh_err.h"

#define SS_SPAWNER_REQ_MAX (64 * 1024)

/* Runs in the forked child with the request bytes and the passed
 * descriptor; must not return (it ends with _exit). */
typedef void (*ss_spawner_child_fn)(const void *req, size_t n, int fd);

struct ss_spawner;

/* Fork the spawner, which runs fn for each request.  DH_E_STATE when the
 * calling process runs more than one thread (the whole point is a
 * single-threaded parent).  *out freed with ss_spawner_stop. */
int ss_spawner_start(ss_spawner_child_fn fn, struct ss_spawner **out,
    struct dh_err *err);

/* Have the spawner fork a child that runs fn(req, n, fd); its pid in *pid.
 * Blocks until the spawner answers (it forks at once).  DH_E_IO when the
 * spawner is gone, DH_E_TOOBIG for a request over SS_SPAWNER_REQ_MAX. */
int ss_spawner_spawn(struct ss_spawner *sp, const void *req, size_t n,
    int fd, pid_t *pid, struct dh_err *err);

/* Next ended child, waiting up to wait_ms (0 = do not wait): DH_OK with
 * *pid and its wait status in *wstatus, DH_E_TIMEOUT when none ended,
 * DH_E_IO when the spawner is gone. */
int ss_spawner_reaped(struct ss_spawner *sp, int wait_ms, pid_t *pid,
    int *wstatus);

/* The spawner's own pid. */
pid_t ss_spawner_pid(const struct ss_spawner *sp);

/* Close the socket (the spawner exits), reap the spawner (SIGKILL after
 * 1 s), free sp (NULL ok).  Running children are left alone. */
void ss_spawner_stop(struct ss_spawner *sp);

#endif
