/*
 * Unit tests for ag_identity: format/parse round trip, hostile files
 * (table-driven), atomic save with 0600 mode, refusal of a world-readable
 * file, and a real RSA key stored and loaded back through dh_rsasig.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ftw.h>

#include "ag_identity.h"
#include "dh_buf.h"
#include "dh_rsasig.h"

static void
sample(struct ag_identity *id)
{
	ag_identity_init(id);
	snprintf(id->instance_id, sizeof(id->instance_id), "mi-0123456789abcdef0");
	snprintf(id->region, sizeof(id->region), "us-east-1");
	snprintf(id->endpoint, sizeof(id->endpoint), "https://127.0.0.1:8443");
	snprintf(id->ca_bundle, sizeof(id->ca_bundle), "/tmp/ca.pem");
	snprintf(id->fingerprint, sizeof(id->fingerprint),
	    "1d0987b9-1111-4222-8333-444455556666");
	id->key_created = 1700000000;
	id->similarity = 55;
	ag_fp_set(&id->hw, AG_HW_MACHINE_ID, "abc");
	ag_fp_set(&id->hw, AG_HW_IPADDRESS, "10.0.0.5");
	assert_int_equal(ag_identity_set_key(id, "QUJD", 4, NULL), DH_OK);
}

static void
test_roundtrip(void **state)
{
	struct ag_identity a, b;
	struct dh_buf out;

	sample(&a);
	dh_buf_init_secret(&out, AG_IDENTITY_MAX);
	assert_int_equal(ag_identity_format(&a, &out, NULL), DH_OK);
	ag_identity_init(&b);
	assert_int_equal(ag_identity_parse(out.d, out.len, &b, NULL), DH_OK);
	assert_string_equal(b.instance_id, a.instance_id);
	assert_string_equal(b.region, a.region);
	assert_string_equal(b.endpoint, a.endpoint);
	assert_string_equal(b.ca_bundle, a.ca_bundle);
	assert_string_equal(b.fingerprint, a.fingerprint);
	assert_string_equal(b.private_key, "QUJD");
	assert_int_equal(b.key_created, a.key_created);
	assert_int_equal(b.similarity, 55);
	assert_int_equal(ag_fp_matches(&a.hw, &b.hw), AG_HW_NKEYS);
	ag_identity_clear(&a);
	ag_identity_clear(&b);
	assert_null(b.private_key);
	dh_buf_free(&out);
}

struct bad_case {
	const char *name;
	const char *json;
	int rc;
};

#define GOOD_HEAD "{\"SchemaVersion\":1,\"Region\":\"r\",\"Fingerprint\":\"f\","

static const struct bad_case bad_cases[] = {
	{ "empty", "", DH_E_FORMAT },
	{ "array", "[]", DH_E_FORMAT },
	{ "no schema", "{\"InstanceId\":\"mi-1\"}", DH_E_FORMAT },
	{ "schema 2", "{\"SchemaVersion\":2}", DH_E_FORMAT },
	{ "not mi", GOOD_HEAD "\"InstanceId\":\"i-1\",\"PrivateKey\":\"QQ==\"}",
	  DH_E_FORMAT },
	{ "key not b64", GOOD_HEAD
	  "\"InstanceId\":\"mi-1\",\"PrivateKey\":\"a b\"}", DH_E_FORMAT },
	{ "key missing", GOOD_HEAD "\"InstanceId\":\"mi-1\"}", DH_E_FORMAT },
	{ "key wrong type", GOOD_HEAD
	  "\"InstanceId\":\"mi-1\",\"PrivateKey\":5}", DH_E_FORMAT },
	{ "long id", GOOD_HEAD "\"InstanceId\":\"mi-0123456789012345678901234"
	  "567890123456789012345678901234567890123456789\",\"PrivateKey\":"
	  "\"QQ==\"}", DH_E_TOOBIG },
	{ "threshold range", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\",\"SimilarityThreshold\":101}", DH_E_FORMAT },
	{ "bad date", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\",\"PrivateKeyCreatedDate\":\"yesterday\"}", DH_E_FORMAT },
	{ "hw not object", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\",\"HardwareHash\":[]}", DH_E_FORMAT },
	{ "hw value type", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\",\"HardwareHash\":{\"machine-id\":1}}", DH_E_FORMAT },
	{ "trailing", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\"} x", DH_E_FORMAT },
	{ "minimal ok", GOOD_HEAD "\"InstanceId\":\"mi-1\",\"PrivateKey\":"
	  "\"QQ==\",\"HardwareHash\":{\"unknown\":1}}", DH_OK },
};

static void
test_parse_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct ag_identity id;
		struct dh_err e;
		int rc;

		ag_identity_init(&id);
		dh_err_clear(&e);
		rc = ag_identity_parse(bad_cases[i].json,
		    strlen(bad_cases[i].json), &id, &e);
		if (rc != bad_cases[i].rc)
			fail_msg("case %s: rc %d (%s)", bad_cases[i].name, rc,
			    e.msg);
		if (rc != DH_OK) {
			assert_null(id.private_key);
			assert_true(e.msg[0] != '\0');
		}
		ag_identity_clear(&id);
	}
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void
test_save_load(void **state)
{
	char root[] = "/tmp/ag_id_XXXXXX", dir[256], path[300];
	struct ag_identity a, b;
	struct dh_rsasig_key k, k2;
	struct dh_buf priv, pub1, pub2;
	struct dh_err e;
	struct stat st;

	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/state", root);
	snprintf(path, sizeof(path), "%s/identity.json", dir);
	assert_int_equal(ag_identity_exists(dir), 0);
	ag_identity_init(&b);
	assert_int_equal(ag_identity_load(dir, &b, &e), DH_E_NOTFOUND);

	memset(&k, 0, sizeof(k));
	memset(&k2, 0, sizeof(k2));
	dh_buf_init_secret(&priv, DH_RSASIG_MAX_B64);
	dh_buf_init(&pub1, DH_RSASIG_MAX_B64);
	dh_buf_init(&pub2, DH_RSASIG_MAX_B64);
	assert_int_equal(dh_rsasig_generate(&k, NULL), DH_OK);
	assert_int_equal(dh_rsasig_export_private(&k, &priv, NULL), DH_OK);
	assert_int_equal(dh_rsasig_export_public(&k, &pub1, NULL), DH_OK);

	sample(&a);
	assert_int_equal(ag_identity_set_key(&a, dh_buf_cstr(&priv), priv.len,
	    NULL), DH_OK);
	assert_int_equal(ag_identity_save(dir, &a, &e), DH_OK);
	assert_int_equal(ag_identity_exists(dir), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(ag_identity_load(dir, &b, &e), DH_OK);
	assert_string_equal(b.instance_id, a.instance_id);
	assert_int_equal(dh_rsasig_load_private(&k2, b.private_key,
	    strlen(b.private_key), NULL), DH_OK);
	assert_int_equal(dh_rsasig_export_public(&k2, &pub2, NULL), DH_OK);
	assert_string_equal(dh_buf_cstr(&pub1), dh_buf_cstr(&pub2));
	ag_identity_clear(&b);

	/* Overwrite (rotation) keeps the mode and leaves no temp files. */
	a.key_created = 1800000000;
	assert_int_equal(ag_identity_save(dir, &a, &e), DH_OK);
	assert_int_equal(ag_identity_load(dir, &b, &e), DH_OK);
	assert_int_equal(b.key_created, 1800000000);
	ag_identity_clear(&b);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ag_identity_load(dir, &b, &e), DH_E_IO);
	assert_non_null(strstr(e.msg, "group or others"));

	ag_identity_clear(&a);
	dh_rsasig_key_free(&k);
	dh_rsasig_key_free(&k2);
	dh_buf_free(&priv);
	dh_buf_free(&pub1);
	dh_buf_free(&pub2);
	assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests_name("ag_identity", tests, NULL, NULL);
}
