/*
 * Unit tests for ag_worker: jobs run on the thread and come back through
 * drain on the caller's thread in order, the queue bound, dispose on stop,
 * and a job that never returns is abandoned by stop within its deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ag_worker.h"
#include "dh_http.h"

struct tjob {
	int id;
	int ran;
	pthread_t on;                  /* thread that ran it */
	int *order;                    /* done order log */
	int *n_done;
	int *n_disposed;
	volatile int *gate;            /* run spins until *gate (NULL: no) */
};

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static int wakes;

static void
wake(void *arg)
{
	pthread_mutex_lock(&wake_mu);
	wakes++;
	pthread_cond_broadcast(&wake_cv);
	pthread_mutex_unlock(&wake_mu);
}

static void
wait_wakes(int n)
{
	pthread_mutex_lock(&wake_mu);
	while (wakes < n)
		pthread_cond_wait(&wake_cv, &wake_mu);
	pthread_mutex_unlock(&wake_mu);
}

static void
trun(void *arg, struct dh_http_client *http)
{
	struct tjob *j = arg;

	assert_non_null(http);
	while (j->gate != NULL && !*j->gate)
		usleep(1000);
	j->on = pthread_self();
	j->ran = 1;
}

static void
tdone(void *arg)
{
	struct tjob *j = arg;

	assert_int_equal(j->ran, 1);
	assert_false(pthread_equal(j->on, pthread_self()));
	j->order[(*j->n_done)++] = j->id;
	free(j);
}

static void
tdispose(void *arg)
{
	struct tjob *j = arg;

	(*j->n_disposed)++;
	free(j);
}

static struct tjob *
mk(int id, int *order, int *n_done, int *n_disposed, volatile int *gate)
{
	struct tjob *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	j->id = id;
	j->order = order;
	j->n_done = n_done;
	j->n_disposed = n_disposed;
	j->gate = gate;
	return j;
}

static struct ag_worker *
start(void)
{
	struct dh_http_config hc;
	struct dh_http_client *http = NULL;
	struct ag_worker *w = NULL;

	memset(&hc, 0, sizeof(hc));
	assert_int_equal(dh_http_client_new(&hc, &http, NULL), DH_OK);
	wakes = 0;
	assert_int_equal(ag_worker_start(http, wake, NULL, &w, NULL), DH_OK);
	return w;
}

static void
test_round_trip(void **state)
{
	struct ag_worker *w = start();
	struct dh_http_config hc;
	struct dh_http_client *http2 = NULL;
	int order[8], n_done = 0, n_disp = 0, i;

	for (i = 0; i < 3; i++)
		assert_int_equal(ag_worker_post(w, trun, tdone, tdispose,
		    mk(i, order, &n_done, &n_disp, NULL), NULL), DH_OK);
	wait_wakes(3);
	ag_worker_drain(w);
	assert_int_equal(n_done, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(order[i], i);
	/* a new HTTP client is taken before the next job */
	memset(&hc, 0, sizeof(hc));
	assert_int_equal(dh_http_client_new(&hc, &http2, NULL), DH_OK);
	ag_worker_set_http(w, http2);
	assert_int_equal(ag_worker_post(w, trun, tdone, tdispose,
	    mk(3, order, &n_done, &n_disp, NULL), NULL), DH_OK);
	wait_wakes(4);
	ag_worker_drain(w);
	assert_int_equal(n_done, 4);
	assert_int_equal(ag_worker_stop(w, 1000), 0);
	assert_int_equal(n_disp, 0);
}

static void
test_bound_and_dispose(void **state)
{
	struct ag_worker *w = start();
	volatile int gate = 0;
	int order[16], n_done = 0, n_disp = 0, i;
	struct tjob *extra;
	struct dh_err e;

	for (i = 0; i < AG_WORKER_QUEUE_MAX; i++)
		assert_int_equal(ag_worker_post(w, trun, tdone, tdispose,
		    mk(i, order, &n_done, &n_disp, &gate), NULL), DH_OK);
	extra = mk(99, order, &n_done, &n_disp, NULL);
	assert_int_equal(ag_worker_post(w, trun, tdone, tdispose, extra, &e),
	    DH_E_TOOBIG);
	free(extra);
	gate = 1;
	wait_wakes(1);
	ag_worker_drain(w);
	assert_true(n_done >= 1);
	assert_int_equal(ag_worker_stop(w, 1000), 0);
	assert_int_equal(n_done + n_disp, AG_WORKER_QUEUE_MAX);
}

static void
test_abandon(void **state)
{
	static volatile int gate;      /* outlives the abandoned thread */
	struct ag_worker *w = start();
	int order[4], n_done = 0;
	static int n_disp;

	gate = 0;
	assert_int_equal(ag_worker_post(w, trun, tdone, tdispose,
	    mk(0, order, &n_done, &n_disp, &gate), NULL), DH_OK);
	usleep(20000);
	assert_int_equal(ag_worker_stop(w, 50), 1);
	/* let the abandoned thread finish and free itself */
	gate = 1;
	usleep(50000);
	assert_int_equal(n_done, 0);
	assert_int_equal(n_disp, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bound_and_dispose),
		cmocka_unit_test(test_abandon),
	};

	return cmocka_run_group_tests_name("ag_worker", tests, NULL, NULL);
}
