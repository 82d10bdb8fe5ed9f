/*
 * Unit tests for dh_time: SigV4 (amz) and ISO 8601 formatting and parsing
 * round trips over a table of known instants, strict rejection of invalid
 * dates and malformed text, fractional seconds and offsets, clamping of
 * out-of-range times, and the DH_FAKE_TIME override.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_time.h"

struct known {
	time_t t;
	const char *amz;
	const char *iso;
};

static const struct known knowns[] = {
	{ 0, "19700101T000000Z", "1970-01-01T00:00:00Z" },
	{ 1, "19700101T000001Z", "1970-01-01T00:00:01Z" },
	{ 1440938160, "20150830T123600Z", "2015-08-30T12:36:00Z" },
	{ 951825600, "20000229T120000Z", "2000-02-29T12:00:00Z" },
	{ 1709251199, "20240229T235959Z", "2024-02-29T23:59:59Z" },
	{ 2147483648LL, "20380119T031408Z", "2038-01-19T03:14:08Z" },
	{ 4107542400LL, "21000301T000000Z", "2100-03-01T00:00:00Z" },
	{ 253402300799LL, "99991231T235959Z", "9999-12-31T23:59:59Z" },
};

static void
test_known_round_trips(void **state)
{
	char amz[17], iso[21];
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(knowns) / sizeof(knowns[0]); i++) {
		dh_time_amz(knowns[i].t, amz);
		assert_string_equal(amz, knowns[i].amz);
		dh_time_iso(knowns[i].t, iso);
		assert_string_equal(iso, knowns[i].iso);
		assert_int_equal(dh_time_parse_amz(knowns[i].amz, &t), DH_OK);
		assert_true(t == knowns[i].t);
		assert_int_equal(dh_time_parse_iso(knowns[i].iso, &t), DH_OK);
		assert_true(t == knowns[i].t);
	}
}

static void
test_sweep_round_trips(void **state)
{
	char amz[17], iso[21];
	time_t t, back;

	/* every ~3.3 days with odd seconds, 1970 to 2100 */
	for (t = 0; t < 4102444800LL; t += 287999) {
		dh_time_amz(t, amz);
		assert_int_equal(dh_time_parse_amz(amz, &back), DH_OK);
		assert_true(back == t);
		dh_time_iso(t, iso);
		assert_int_equal(dh_time_parse_iso(iso, &back), DH_OK);
		assert_true(back == t);
	}
}

static const char *const bad_amz[] = {
	"", "2015083T123600Z", "20150830T123600", "20150830T123600ZZ",
	"20150830 123600Z", "20150830t123600Z", "20150830T123600z",
	"2015O830T123600Z", "+0150830T123600Z", "-0150830T123600Z",
	"19691231T235959Z", "20150230T000000Z", "20150229T000000Z",
	"21000229T000000Z", "20150431T000000Z", "20151301T000000Z",
	"20150001T000000Z", "20150100T000000Z", "20150132T000000Z",
	"20150830T240000Z", "20150830T126000Z", "20150830T123660Z",
	"20150830T123560Z", "2015-08-30T12:36:00Z", "20150830T1236 0Z",
};

static const char *const bad_iso[] = {
	"", "2015-08-30T12:36:00", "2015-08-30T12:36:00ZZ",
	"2015-08-30T12:36:00z", "2015-08-30t12:36:00Z", "2015/08/30T12:36:00Z",
	"2015-08-30T12-36-00Z", "2015-8-30T12:36:00Z", "2015-08-30T12:36:0Z",
	"2015-02-29T00:00:00Z", "2015-06-31T00:00:00Z", "1900-02-29T00:00:00Z",
	"2015-08-30T12:36:60Z", "2015-08-30T24:00:00Z",
	"2015-08-30T12:36:00.Z", "2015-08-30T12:36:00.12a3Z",
	"2015-08-30T12:36:00+01:00", "2015-08-30T12:36:00-00:00",
	"2015-08-30T12:36:00+00", "2015-08-30T12:36:00+00:0",
	"2015-08-30T12:36:00+0100", "2015-08-30T12:36:00Z junk",
	"1969-12-31T23:59:59Z", "20150830T123600Z",
};

static void
test_invalid(void **state)
{
	time_t t = 12345;
	size_t i;

	for (i = 0; i < sizeof(bad_amz) / sizeof(bad_amz[0]); i++) {
		if (dh_time_parse_amz(bad_amz[i], &t) != DH_E_FORMAT)
			fail_msg("amz accepted \"%s\"", bad_amz[i]);
	}
	for (i = 0; i < sizeof(bad_iso) / sizeof(bad_iso[0]); i++) {
		if (dh_time_parse_iso(bad_iso[i], &t) != DH_E_FORMAT)
			fail_msg("iso accepted \"%s\"", bad_iso[i]);
	}
	assert_int_equal(t, 12345);
}

static void
test_iso_variants(void **state)
{
	static const char *const same[] = {
		"2015-08-30T12:36:00Z", "2015-08-30T12:36:00.000Z",
		"2015-08-30T12:36:00.999999999Z", "2015-08-30T12:36:00.5+00:00",
		"2015-08-30T12:36:00+00:00", "2015-08-30T12:36:00+0000",
		"2015-08-30 12:36:00Z",
	};
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		if (dh_time_parse_iso(same[i], &t) != DH_OK || t != 1440938160)
			fail_msg("iso \"%s\" not 1440938160", same[i]);
	}
}

static void
test_clamp(void **state)
{
	char amz[17], iso[21];

	dh_time_amz((time_t)INT64_MAX, amz);
	assert_string_equal(amz, "99991231T235959Z");
	dh_time_iso(253402300800LL, iso);
	assert_string_equal(iso, "9999-12-31T23:59:59Z");
	dh_time_iso(-1, iso);
	assert_string_equal(iso, "1969-12-31T23:59:59Z");
	dh_time_amz((time_t)INT64_MIN, amz);
	assert_string_equal(amz, "00000101T000000Z");
	dh_time_iso(-62167219201LL, iso);
	assert_string_equal(iso, "0000-01-01T00:00:00Z");
}

static void
test_fake_time(void **state)
{
	static const char *const ignored[] = {
		"", "12abc", "-5", " 100", "1e9", "99999999999999999999",
	};
	int64_t a, b;
	size_t i;

	setenv("DH_FAKE_TIME", "1440938160", 1);
	assert_true(dh_time_now() == 1440938160);
	assert_true(dh_time_now_ms() == 1440938160000LL);
	setenv("DH_FAKE_TIME", "0", 1);
	assert_true(dh_time_now() == 0);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		setenv("DH_FAKE_TIME", ignored[i], 1);
		if (dh_time_now() < 1600000000)
			fail_msg("DH_FAKE_TIME \"%s\" was honoured", ignored[i]);
	}
	unsetenv("DH_FAKE_TIME");
	assert_true(dh_time_now() > 1600000000);
	a = dh_time_mono_ms();
	b = dh_time_mono_ms();
	assert_true(b >= a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_round_trips),
		cmocka_unit_test(test_sweep_round_trips),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_iso_variants),
		cmocka_unit_test(test_clamp),
		cmocka_unit_test(test_fake_time),
	};

	return cmocka_run_group_tests_name("time", tests, NULL, NULL);
}
