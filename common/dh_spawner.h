/*
 * dh_spawner: the fork server that starts the agent's children (session
 * workers, patch jobs).
 *
 * The agent starts it once, while the agent is still single-threaded, and
 * from then on its children are forked by the spawner instead of by the
 * agent.  A process that forks while other threads run hands its child
 * every lock those threads held at that instant: OpenSSL's method store
 * and provider locks, a malloc arena, a sanitizer's allocator.  The child
 * can never release them and hangs at its first use.  A child of the
 * single-threaded spawner inherits no held lock.  The spawner is also a
 * small snapshot of the agent (configuration, the CA store, NSS) rather
 * than of the agent's running state, so children inherit less heap.
 *
 * Before it forks anything the spawner seals the heap it inherited: it
 * fills every free chunk, so a child's allocations come from fresh pages
 * at the top of the heap instead of holes in pages the child shares with
 * the spawner and its siblings (a child writing one small object into a
 * shared page pays for a private copy of the whole page; this halves a
 * session worker's private memory).  After that it never allocates, locks
 * or logs: it only receives requests, forks, and reports ends.  It is
 * named "dh-spawner" in ps; its children take back the agent's name.
 *
 * Wire: one SOCK_SEQPACKET socketpair, one message per packet.
 *   agent -> spawner  'S' tag request-bytes, at most one descriptor in
 *                     SCM_RIGHTS
 *   spawner -> agent  'P' pid (u32 BE; 0 = refused or fork failed), one
 *                     per 'S', in order
 *                     'E' pid (u32 BE) wait status (u32 BE): a child ended
 * The spawner exits when the agent's end closes (it never kills children).
 *
 * Ownership: a struct dh_spawner owns its socket, the spawner process and
 * a queue of end reports (the oldest is dropped beyond 256 unclaimed); a
 * descriptor given to dh_spawner_spawn stays the caller's.  The kinds
 * table is read in the spawner's copy of memory, so it only has to be
 * valid when dh_spawner_start is called.  Not thread-safe: one thread (the
 * agent's loop) drives it.
 */
#ifndef DH_SPAWNER_H
#define DH_SPAWNER_H

#include <stddef.h>
#include <sys/types.h>

#include "dh_err.h"

#define DH_SPAWNER_REQ_MAX (64 * 1024)

/* Runs in the forked child with the request bytes and the passed
 * descriptor (-1 when none); must not return (it ends with _exit). */
typedef void (*dh_spawner_child_fn)(const void *req, size_t n, int fd);

/* One kind of child: requests tagged `tag` run `fn`. */
struct dh_spawner_kind {
	char tag;
	dh_spawner_child_fn fn;
};

struct dh_spawner;

/* Fork the spawner, serving the n kinds.  DH_E_STATE when the calling
 * process runs more than one thread (the point is a single-threaded
 * parent).  *out freed with dh_spawner_stop. */
int dh_spawner_start(const struct dh_spawner_kind *kinds, size_t n,
    struct dh_spawner **out, struct dh_err *err);

/* Have the spawner fork a child that runs the fn of tag with (req, n, fd);
 * fd -1 passes none.  Its pid in *pid.  Blocks until the spawner answers
 * (it forks at once).  DH_E_IO when the spawner is gone or refused (unknown
 * tag), DH_E_TOOBIG for a request over DH_SPAWNER_REQ_MAX. */
int dh_spawner_spawn(struct dh_spawner *sp, char tag, const void *req,
    size_t n, int fd, pid_t *pid, struct dh_err *err);

/* Has child pid ended?  Waits up to wait_ms (0 = do not wait) for its
 * report: DH_OK with its wait status in *wstatus, DH_E_TIMEOUT when not
 * yet, DH_E_IO when the spawner is gone and never reported it (the child
 * was reparented; ask the kernel, e.g. kill(pid, 0)). */
int dh_spawner_ended(struct dh_spawner *sp, pid_t pid, int wait_ms,
    int *wstatus);

/* The spawner's own pid. */
pid_t dh_spawner_pid(const struct dh_spawner *sp);

/* Close the socket (the spawner exits), reap the spawner (SIGKILL after
 * 1 s), free sp (NULL ok).  Running children are left alone. */
void dh_spawner_stop(struct dh_spawner *sp);

#endif
