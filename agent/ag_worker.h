/*
 * ag_worker: one background thread that makes the agent's blocking HTTPS
 * calls (RequestManagedInstanceRoleToken, key rotation, heartbeats,
 * CreateControlChannel) off the libwebsockets event loop.
 *
 * The loop posts a job (its inputs copied into the job); the worker runs it
 * with its own dh_http client, queues it as finished and calls the wake hook
 * (lws_cancel_service, which is thread-safe); the loop then calls
 * ag_worker_drain from LWS_CALLBACK_EVENT_WAIT_CANCELLED and each finished
 * job's done hook runs on the loop's thread, where it applies the result.
 * The queue is bounded (AG_WORKER_QUEUE_MAX jobs waiting or finished).
 *
 * Stopping: ag_worker_stop sets the stop flag, drops jobs not yet started
 * and waits up to a deadline for the thread.  dh_http has no abort hook
 * (no curl progress callback reachable from here), so a call that hangs is
 * not cancelled mid-transfer: the thread is abandoned (detached).  It owns
 * everything it touches (its HTTP client, the job's copied inputs), so the
 * loop may tear down at once; when the call finally returns (at most the
 * client's timeout and retries) the thread frees the job and itself, or the
 * process has exited first.
 *
 * Ownership: jobs are owned by the worker from a successful post until
 * their done hook (which takes them back) or, when never delivered, their
 * dispose hook.  An HTTP client given to ag_worker_set_http is owned by the
 * worker.
 */
#ifndef AG_WORKER_H
#define AG_WORKER_H

#include "dh_err.h"

#define AG_WORKER_QUEUE_MAX 8

struct dh_http_client;
struct ag_worker;

/* Runs on the worker thread: the blocking call.  job holds copied inputs and
 * receives the outputs; http is the worker's client (never NULL). */
typedef void (*ag_worker_run_fn)(void *job, struct dh_http_client *http);
/* Runs on the loop thread from ag_worker_drain; takes job back. */
typedef void (*ag_worker_done_fn)(void *job);
/* Frees a job that will never be delivered (stop); any thread. */
typedef void (*ag_worker_dispose_fn)(void *job);

/* Start the thread with its first HTTP client http (ownership moves, also
 * on failure); wake(arg) is called from the worker after each job.  *out
 * freed with ag_worker_stop. */
int ag_worker_start(struct dh_http_client *http, void (*wake)(void *arg),
    void *wake_arg, struct ag_worker **out, struct dh_err *err);

/* Replace the worker's HTTP client (ownership moves); the old one is freed
 * by the worker thread before its next job. */
void ag_worker_set_http(struct ag_worker *w, struct dh_http_client *http);

/* Queue a job; DH_E_TOOBIG when AG_WORKER_QUEUE_MAX jobs are waiting or
 * undelivered, DH_E_STATE once stopping (the job stays the caller's). */
int ag_worker_post(struct ag_worker *w, ag_worker_run_fn run,
    ag_worker_done_fn done, ag_worker_dispose_fn dispose, void *job,
    struct dh_err *err);

/* Loop thread: deliver finished jobs to their done hooks. */
void ag_worker_drain(struct ag_worker *w);

/* Stop: drop queued and undelivered jobs, wait up to wait_ms for the thread;
 * 1 when it was still inside a call and was abandoned, else 0.  w is gone
 * afterwards (NULL is fine). */
int ag_worker_stop(struct ag_worker *w, long wait_ms);

#endif
