/*
 * dh_time: clocks and AWS time formats.  Wall-clock time can be overridden
 * for tests with DH_FAKE_TIME (epoch seconds) so signing is reproducible.
 */
#ifndef DH_TIME_H
#define DH_TIME_H

#include <stdint.h>
#include <time.h>

/* Wall clock, milliseconds since the Unix epoch. */
int64_t dh_time_now_ms(void);
/* Wall clock, seconds since the Unix epoch (honours DH_FAKE_TIME). */
time_t dh_time_now(void);
/* Monotonic clock in milliseconds (for timers, never for signatures). */
int64_t dh_time_mono_ms(void);

/* Format t as "YYYYMMDDTHHMMSSZ" (SigV4 X-Amz-Date) into out[17]. */
void dh_time_amz(time_t t, char out[17]);
/* Format t as ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" into out[21]. */
void dh_time_iso(time_t t, char out[21]);
/* Parse "YYYYMMDDTHHMMSSZ"; 0 or DH_E_FORMAT. */
int dh_time_parse_amz(const char *s, time_t *t);
/* Parse ISO 8601 UTC "YYYY-MM-DDTHH:MM:SS[.fff]Z" or with "+00:00"; 0 or DH_E_FORMAT. */
int dh_time_parse_iso(const char *s, time_t *t);

#endif
