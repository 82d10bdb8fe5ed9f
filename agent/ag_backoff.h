/*
 * ag_backoff: exponential backoff with jitter for reconnects and retries.
 * Attempt n waits d = min(max, initial * 2^n) scaled into [d/2, d] by a
 * random value ("equal jitter"), so a fleet that lost its gateway at the
 * same moment does not reconnect in lockstep.  Pure arithmetic: the caller
 * supplies the random number, so tests are exact.
 */
#ifndef AG_BACKOFF_H
#define AG_BACKOFF_H

#include <stdint.h>

struct ag_backoff {
	long initial_ms; /* first delay before jitter, > 0 */
	long max_ms;     /* ceiling, >= initial_ms */
	int attempt;     /* delays handed out since the last reset */
};

/* Set up b; values are clamped so that 0 < initial_ms <= max_ms. */
void ag_backoff_init(struct ag_backoff *b, long initial_ms, long max_ms);

/* Delay in ms for the next attempt, jittered with rnd (any 32-bit value);
 * advances the attempt counter. */
long ag_backoff_next(struct ag_backoff *b, uint32_t rnd);

/* Back to the first delay (after a success). */
void ag_backoff_reset(struct ag_backoff *b);

#endif
