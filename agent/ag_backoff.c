/*
 * ag_backoff: exponential backoff with equal jitter (see ag_backoff.h).
 */
#include "ag_backoff.h"

void
ag_backoff_init(struct ag_backoff *b, long initial_ms, long max_ms)
{
	if (initial_ms <= 0)
		initial_ms = 1;
	if (max_ms < initial_ms)
		max_ms = initial_ms;
	b->initial_ms = initial_ms;
	b->max_ms = max_ms;
	b->attempt = 0;
}

long
ag_backoff_next(struct ag_backoff *b, uint32_t rnd)
{
	long d = b->initial_ms, half;
	int i;

	for (i = 0; i < b->attempt && d < b->max_ms; i++)
		d = d > b->max_ms / 2 ? b->max_ms : d * 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	half = d / 2;
	return d - half + (long)(rnd % (uint32_t)(half + 1));
}

void
ag_backoff_reset(struct ag_backoff *b)
{
	b->attempt = 0;
}
