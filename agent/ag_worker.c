/*
 * ag_worker: the agent's HTTPS worker thread and its bounded job queue
 * (see ag_worker.h).
 */
#include "ag_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "dh_http.h"

struct wjob {
	struct wjob *next;
	ag_worker_run_fn run;
	ag_worker_done_fn done;
	ag_worker_dispose_fn dispose;
	void *job;
};

struct wlist {
	struct wjob *head, *tail;
};

struct ag_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* jobs queued, stop, thread exited */
	struct wlist todo, done;
	size_t count;               /* jobs queued + running + undelivered */
	struct dh_http_client *http;     /* worker thread's */
	struct dh_http_client *next_http; /* handed over, taken before a job */
	void (*wake)(void *arg);
	void *wake_arg;
	int stop;
	int exited;
	int abandoned;              /* the thread frees w when it exits */
};

static void
wl_push(struct wlist *l, struct wjob *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct wjob *
wl_pop(struct wlist *l)
{
	struct wjob *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

static void
wl_dispose(struct wlist *l)
{
	struct wjob *j;

	for (j = wl_pop(l); j != NULL; j = wl_pop(l)) {
		j->dispose(j->job);
		free(j);
	}
}

static void
worker_free(struct ag_worker *w)
{
	wl_dispose(&w->todo);
	wl_dispose(&w->done);
	dh_http_client_free(w->next_http);
	dh_http_client_free(w->http);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void *
worker_main(void *arg)
{
	struct ag_worker *w = arg;
	struct dh_http_client *old;
	struct wjob *j;
	int abandoned;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->todo.head == NULL)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = wl_pop(&w->todo);
		old = NULL;
		if (w->next_http != NULL) {
			old = w->http;
			w->http = w->next_http;
			w->next_http = NULL;
		}
		pthread_mutex_unlock(&w->mu);
		dh_http_client_free(old);
		j->run(j->job, w->http);
		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			j->dispose(j->job);
			free(j);
			break;
		}
		wl_push(&w->done, j);
		pthread_mutex_unlock(&w->mu);
		w->wake(w->wake_arg);
		pthread_mutex_lock(&w->mu);
	}
	w->exited = 1;
	abandoned = w->abandoned;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (abandoned)
		worker_free(w);
	return NULL;
}

int
ag_worker_start(struct dh_http_client *http, void (*wake)(void *arg),
    void *wake_arg, struct ag_worker **out, struct dh_err *err)
{
	struct ag_worker *w;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		dh_http_client_free(http);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	w->http = http;
	w->wake = wake;
	w->wake_arg = wake_arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&w->th, NULL, worker_main, w);
	if (rc != 0) {
		worker_free(w);
		return dh_err_set(err, DH_E_IO, "cannot start the worker thread"
		    " (error %d)", rc);
	}
	*out = w;
	return DH_OK;
}

void
ag_worker_set_http(struct ag_worker *w, struct dh_http_client *http)
{
	struct dh_http_client *old;

	pthread_mutex_lock(&w->mu);
	old = w->next_http;
	w->next_http = http;
	pthread_mutex_unlock(&w->mu);
	dh_http_client_free(old);
}

int
ag_worker_post(struct ag_worker *w, ag_worker_run_fn run,
    ag_worker_done_fn done, ag_worker_dispose_fn dispose, void *job,
    struct dh_err *err)
{
	struct wjob *j;
	int rc = DH_OK;

	j = malloc(sizeof(*j));
	if (j == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	j->run = run;
	j->done = done;
	j->dispose = dispose;
	j->job = job;
	pthread_mutex_lock(&w->mu);
	if (w->stop)
		rc = dh_err_set(err, DH_E_STATE, "worker is stopping");
	else if (w->count >= AG_WORKER_QUEUE_MAX)
		rc = dh_err_set(err, DH_E_TOOBIG, "worker queue is full");
	else {
		wl_push(&w->todo, j);
		w->count++;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (rc != DH_OK)
		free(j);
	return rc;
}

void
ag_worker_drain(struct ag_worker *w)
{
	struct wlist got;
	struct wjob *j;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	got = w->done;
	w->done.head = w->done.tail = NULL;
	for (j = got.head; j != NULL; j = j->next)
		w->count--;
	pthread_mutex_unlock(&w->mu);
	for (j = wl_pop(&got); j != NULL; j = wl_pop(&got)) {
		j->done(j->job);
		free(j);
	}
}

int
ag_worker_stop(struct ag_worker *w, long wait_ms)
{
	struct timespec dl;
	int abandoned = 0;

	if (w == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += wait_ms / 1000;
	dl.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	wl_dispose(&w->todo);
	wl_dispose(&w->done);
	pthread_cond_broadcast(&w->cv);
	while (!w->exited)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT)
			break;
	if (!w->exited) {
		w->abandoned = 1;
		abandoned = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (abandoned) {
		pthread_detach(w->th);
		return 1;
	}
	pthread_join(w->th, NULL);
	worker_free(w);
	return 0;
}
