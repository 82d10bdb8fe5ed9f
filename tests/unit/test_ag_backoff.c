/*
 * Unit tests for ag_backoff: the doubling schedule, the ceiling, equal
 * jitter bounds and reset (table-driven with fixed random values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ag_backoff.h"

static void
test_schedule(void **state)
{
	/* rnd = 0 gives the lower bound d/2 (rounded up), rnd = max the top. */
	static const long lo[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000,
		30000, 30000 };
	static const long hi[] = { 1000, 2000, 4000, 8000, 16000, 32000,
		60000, 60000, 60000 };
	struct ag_backoff b;
	size_t i;

	ag_backoff_init(&b, 1000, 60000);
	for (i = 0; i < sizeof(lo) / sizeof(lo[0]); i++)
		assert_int_equal(ag_backoff_next(&b, 0), lo[i]);
	ag_backoff_reset(&b);
	for (i = 0; i < sizeof(hi) / sizeof(hi[0]); i++)
		assert_int_equal(ag_backoff_next(&b, (uint32_t)hi[i] / 2), hi[i]);
}

static void
test_bounds(void **state)
{
	struct ag_backoff b;
	uint32_t r;
	long d;
	int i;

	ag_backoff_init(&b, 1000, 300000);
	for (i = 0; i < 200; i++) {
		r = (uint32_t)i * 2654435761u;
		d = ag_backoff_next(&b, r);
		assert_true(d >= 500);
		assert_true(d <= 300000);
	}
	/* Never grows past the ceiling even after many attempts. */
	assert_true(ag_backoff_next(&b, 0xffffffffu) <= 300000);
	assert_true(ag_backoff_next(&b, 0) >= 150000);
}

static void
test_clamp(void **state)
{
	struct ag_backoff b;

	ag_backoff_init(&b, 0, -5);
	assert_int_equal(b.initial_ms, 1);
	assert_int_equal(b.max_ms, 1);
	assert_true(ag_backoff_next(&b, 7) <= 1);
	ag_backoff_init(&b, 5000, 3000);
	assert_int_equal(b.max_ms, 5000);
	assert_true(ag_backoff_next(&b, 0) == 2500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_clamp),
	};

	return cmocka_run_group_tests_name("ag_backoff", tests, NULL, NULL);
}
