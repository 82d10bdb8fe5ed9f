/*
 * Unit tests for dh_uuid: version-4 and variant bits on many random UUIDs,
 * uniqueness, format/parse round trips, case handling and a table of
 * malformed inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_uuid.h"

static void
test_v4_bits(void **state)
{
	struct dh_uuid u, prev;
	char s[DH_UUID_STRLEN + 1];
	int i, same = 0;

	memset(&prev, 0, sizeof(prev));
	for (i = 0; i < 2000; i++) {
		assert_int_equal(dh_uuid_v4(&u), DH_OK);
		assert_int_equal(u.b[6] >> 4, 4);
		assert_int_equal(u.b[8] & 0xc0, 0x80);
		dh_uuid_fmt(&u, s);
		assert_int_equal(s[14], '4');
		assert_non_null(strchr("89ab", s[19]));
		if (memcmp(&u, &prev, sizeof(u)) == 0)
			same++;
		prev = u;
	}
	assert_int_equal(same, 0);
}

static void
test_round_trip(void **state)
{
	static const struct dh_uuid known = { {
		0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
		0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00,
	} };
	struct dh_uuid u, back;
	char s[DH_UUID_STRLEN + 1];
	int i;

	dh_uuid_fmt(&known, s);
	assert_string_equal(s, "123e4567-e89b-12d3-a456-426614174000");
	assert_int_equal(dh_uuid_parse("123E4567-E89B-12D3-A456-426614174000",
	    &back), DH_OK);
	assert_memory_equal(&back, &known, sizeof(known));
	for (i = 0; i < 200; i++) {
		assert_int_equal(dh_uuid_v4(&u), DH_OK);
		dh_uuid_fmt(&u, s);
		assert_int_equal(strlen(s), DH_UUID_STRLEN);
		assert_int_equal(dh_uuid_parse(s, &back), DH_OK);
		assert_memory_equal(&u, &back, sizeof(u));
	}
	memset(&u, 0xff, sizeof(u));
	dh_uuid_fmt(&u, s);
	assert_string_equal(s, "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

static const char *const bad[] = {
	"",
	"123e4567-e89b-12d3-a456-42661417400",
	"123e4567-e89b-12d3-a456-4266141740000",
	"123e4567-e89b-12d3-a456-426614174000 ",
	" 123e4567-e89b-12d3-a456-42661417400",
	"123e4567e89b-12d3-a456-4266141740000",
	"123e4567-e89b-12d3-a456_426614174000",
	"123e4567-e89b-12d3-a4560426614174000",
	"123e4567-e89b-12d3-a456-42661417400g",
	"g23e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456--26614174000",
	"{23e4567-e89b-12d3-a456-426614174000}",
	"123e4567-e89b-12d3-a456-42661417400\n",
	"123e4567-+89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456-4266 4174000",
	"------------------------------------",
	"123e4567-e89b-12d3-a456-426614174000-",
};

static void
test_bad_inputs(void **state)
{
	struct dh_uuid u;
	size_t i;

	memset(&u, 0x5a, sizeof(u));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dh_uuid_parse(bad[i], &u) != DH_E_FORMAT)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(u.b[0], 0x5a);
	assert_int_equal(u.b[15], 0x5a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_bits),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_inputs),
	};

	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
