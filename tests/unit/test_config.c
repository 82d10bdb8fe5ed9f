/*
 * Unit tests for dh_config.  The main table lives in tests/data/config/:
 * one folder per case with input.json, an optional env file (NAME=value
 * lines) and expected, which is either the dumped effective config (starts
 * with '{') or the exact error message.  Each case is loaded with the real
 * file loader against the test schema below, from inside the case folder so
 * that error messages name "input.json".  The remaining tests cover the
 * missing-file flag, schema validation, ownership and wiping, the bounded
 * reader and the atomic writer.
 */
#include <dirent.h>
#include <fcntl.h>
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

#include "dh_buf.h"
#include "dh_config.h"
#include "dh_err.h"

#define ENV_PREFIX "DHTEST"
#define MAX_CASES 128

extern char **environ;

struct tcfg {
	char *region;
	char *ep_ssm;
	char *ep_logs;
	int level;
	int64_t idle;
	int64_t backoff;
	char *shell;
	struct dh_config_list users;
	int verify;
	char *secret_key;
	struct dh_config_list tokens;
	int64_t port;
};

static const char *const levels[] = { "error", "warn", "info", "debug", NULL };

#define OFF(m) offsetof(struct tcfg, m)

static const struct dh_config_field schema[] = {
	{ "region", DH_CONFIG_STR, OFF(region), "us-east-1", 0, 64, NULL, 0,
	  "AWS region" },
	{ "endpoints.ssm", DH_CONFIG_STR, OFF(ep_ssm), NULL, 0, 0, NULL, 0,
	  "SSM endpoint URL" },
	{ "endpoints.logs", DH_CONFIG_STR, OFF(ep_logs), NULL, 0, 0, NULL, 0,
	  "CloudWatch Logs endpoint URL" },
	{ "log.level", DH_CONFIG_ENUM, OFF(level), "info", 0, 0, levels, 0,
	  "least important level written" },
	{ "session.idle_timeout", DH_CONFIG_INT, OFF(idle), "1200", 1, 3600,
	  NULL, 0, "idle seconds before a session closes" },
	{ "session.max_backoff_seconds", DH_CONFIG_INT, OFF(backoff), "60", 1,
	  300, NULL, 0, "reconnect backoff ceiling" },
	{ "session.shell", DH_CONFIG_STR, OFF(shell), "/bin/sh", 1, 0, NULL, 0,
	  "login shell" },
	{ "session.allow_users", DH_CONFIG_STRLIST, OFF(users), "root,ops", 0,
	  4, NULL, 0, "users a session may run as" },
	{ "tls.verify", DH_CONFIG_BOOL, OFF(verify), "true", 0, 0, NULL, 0,
	  "verify peer certificates" },
	{ "credentials.secret_key", DH_CONFIG_STR, OFF(secret_key), NULL, 0, 0,
	  NULL, 1, "secret access key" },
	{ "credentials.tokens", DH_CONFIG_STRLIST, OFF(tokens), NULL, 0, 0,
	  NULL, 1, "bearer tokens" },
	{ "gateway.port", DH_CONFIG_INT, OFF(port), NULL, 0, 65535, NULL, 0,
	  "listening port (0: any)" },
	DH_CONFIG_END
};

/* Remove every DHTEST_* variable so the machine cannot leak into a case. */
static void
clear_test_env(void)
{
	char name[256];
	size_t n;
	int again = 1;
	char **e;

	while (again) {
		again = 0;
		for (e = environ; *e != NULL; e++) {
			if (strncmp(*e, ENV_PREFIX "_", strlen(ENV_PREFIX) + 1)
			    != 0)
				continue;
			n = strcspn(*e, "=");
			if (n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static int
read_text(const char *path, struct dh_buf *b)
{
	dh_buf_init(b, 1 << 20);
	return dh_config_read_file(path, 1 << 20, b, NULL);
}

/* Apply NAME=value lines of the env file (absent file: nothing). */
static void
apply_env_file(const char *path)
{
	struct dh_buf b;
	char *line, *next, *eq;

	if (read_text(path, &b) != DH_OK) {
		dh_buf_free(&b);
		return;
	}
	for (line = (char *)b.d; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		eq = strchr(line, '=');
		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	dh_buf_free(&b);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run one case inside its folder; returns 0 when it matched. */
static int
run_case(const char *name)
{
	struct dh_buf exp, dump;
	struct dh_err err;
	struct tcfg cfg;
	const char *want;
	size_t wl;
	int r, bad = 0;

	clear_test_env();
	apply_env_file("env");
	if (read_text("expected", &exp) != DH_OK) {
		print_error("case %s: no expected file\n", name);
		dh_buf_free(&exp);
		return 1;
	}
	want = dh_buf_cstr(&exp);
	wl = exp.len;
	while (wl > 0 && want[wl - 1] == '\n')
		wl--;
	dh_err_clear(&err);
	memset(&cfg, 0xa5, sizeof(cfg));
	r = dh_config_load(schema, &cfg, "input.json", ENV_PREFIX, 0, &err);
	dh_buf_init(&dump, 1 << 16);
	if (want[0] == '{') {
		if (r != DH_OK) {
			print_error("case %s: load failed: %s\n", name, err.msg);
			bad = 1;
		} else if (dh_config_dump(schema, &cfg, &dump) != DH_OK ||
		    dump.len != exp.len || memcmp(dump.d, want, exp.len) != 0) {
			print_error("case %s: dump differs:\n%s\nexpected:\n%s\n",
			    name, dh_buf_cstr(&dump), want);
			bad = 1;
		}
	} else if (r == DH_OK) {
		print_error("case %s: loaded, expected error %.*s\n", name,
		    (int)wl, want);
		bad = 1;
	} else if (strlen(err.msg) != wl || memcmp(err.msg, want, wl) != 0 ||
	    err.code != r) {
		print_error("case %s: error \"%s\" (code %d), expected \"%.*s\"\n",
		    name, err.msg, r, (int)wl, want);
		bad = 1;
	}
	dh_config_free(schema, &cfg);
	dh_buf_free(&dump);
	dh_buf_free(&exp);
	clear_test_env();
	return bad;
}

static void
test_table(void **state)
{
	char dir[4096], *names[MAX_CASES];
	const char *root = getenv("DH_ROOT");
	struct dirent *de;
	size_t n = 0, i;
	int cwd, failed = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/data/config",
	    root != NULL ? root : ".");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < MAX_CASES) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		names[n] = strdup(de->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	cwd = open(".", O_RDONLY | O_DIRECTORY);
	assert_true(cwd >= 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(chdir(dir), 0);
		assert_int_equal(chdir(names[i]), 0);
		failed += run_case(names[i]);
		assert_int_equal(fchdir(cwd), 0);
		free(names[i]);
	}
	close(cwd);
	print_message("config table: %zu cases, %d failed\n", n, failed);
	assert_true(n >= 20);
	assert_int_equal(failed, 0);
}

/* A temporary directory for file tests, removed by teardown. */
static char tmpdir[256];

static int
setup_tmp(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dh_test_config.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown_tmp(void **state)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	d = opendir(tmpdir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static size_t
count_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_missing_file(void **state)
{
	struct tcfg cfg;
	struct dh_err err;
	char path[512];

	clear_test_env();
	snprintf(path, sizeof(path), "%s/absent.json", tmpdir);
	dh_err_clear(&err);
	assert_int_equal(dh_config_load(schema, &cfg, path, ENV_PREFIX, 0,
	    &err), DH_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "absent.json"));
	assert_null(cfg.region);
	assert_null(cfg.users.v);

	setenv(ENV_PREFIX "_GATEWAY_PORT", "8443", 1);
	assert_int_equal(dh_config_load(schema, &cfg, path, ENV_PREFIX,
	    DH_CONFIG_MISSING_OK, &err), DH_OK);
	assert_string_equal(cfg.region, "us-east-1");
	assert_int_equal(cfg.port, 8443);
	assert_int_equal(cfg.idle, 1200);
	assert_int_equal(cfg.level, 2);
	assert_int_equal(cfg.users.n, 2);
	assert_string_equal(cfg.users.v[1], "ops");
	assert_int_equal(cfg.verify, 1);
	assert_null(cfg.secret_key);
	dh_config_free(schema, &cfg);
	dh_config_free(schema, &cfg);
	assert_null(cfg.region);
	assert_null(cfg.users.v);
	unsetenv(ENV_PREFIX "_GATEWAY_PORT");

	/* no path at all: defaults only, env ignored without a prefix */
	setenv(ENV_PREFIX "_REGION", "eu-west-1", 1);
	assert_int_equal(dh_config_load(schema, &cfg, NULL, NULL, 0, &err),
	    DH_OK);
	assert_string_equal(cfg.region, "us-east-1");
	dh_config_free(schema, &cfg);
	unsetenv(ENV_PREFIX "_REGION");
}

static void
test_mem_and_failure_frees(void **state)
{
	static const char good[] = "{\"credentials\":{\"secret_key\":"
	    "\"wJalrXUtnFEMI\",\"tokens\":[\"t1\",\"t2\"]},\"region\":\"x\"}";
	static const char bad[] = "{\"region\":\"x\",\"session\":{\"shell\":"
	    "\"/bin/bash\",\"allow_users\":[\"a\",\"b\"],\"idle_timeout\":0}}";
	struct tcfg cfg;
	struct dh_err err;
	struct dh_buf b;

	clear_test_env();
	assert_int_equal(dh_config_load_mem(schema, &cfg, good, strlen(good),
	    "mem", ENV_PREFIX, &err), DH_OK);
	assert_string_equal(cfg.secret_key, "wJalrXUtnFEMI");
	assert_int_equal(cfg.tokens.n, 2);
	dh_buf_init(&b, 4096);
	assert_int_equal(dh_config_dump(schema, &cfg, &b), DH_OK);
	assert_null(strstr(dh_buf_cstr(&b), "wJalr"));
	assert_null(strstr(dh_buf_cstr(&b), "t1"));
	assert_non_null(strstr(dh_buf_cstr(&b),
	    "\"secret_key\": \"****\""));
	assert_non_null(strstr(dh_buf_cstr(&b), "\"tokens\": \"****\""));
	dh_buf_free(&b);
	dh_config_free(schema, &cfg);
	assert_null(cfg.secret_key);
	assert_null(cfg.tokens.v);

	/* a late error frees what earlier keys allocated (ASan checks) */
	dh_err_clear(&err);
	assert_int_equal(dh_config_load_mem(schema, &cfg, bad, strlen(bad),
	    "mem", NULL, &err), DH_E_CONFIG);
	assert_string_equal(err.msg, "mem: \"session.idle_timeout\": must be "
	    "an integer in [1, 3600]");
	assert_null(cfg.region);
	assert_null(cfg.shell);
	assert_null(cfg.users.v);
	assert_int_equal(cfg.users.n, 0);

	/* over the size ceiling */
	assert_int_equal(dh_config_load_mem(schema, &cfg, good,
	    DH_CONFIG_MAX_FILE + 1, "big", NULL, &err), DH_E_CONFIG);
	assert_non_null(strstr(err.msg, "big: JSON document of"));
}

struct schema_case {
	struct dh_config_field f[3];
	const char *prefix;
	const char *msg;
};

static struct tcfg scratch;

static const struct schema_case schema_cases[] = {
	{ { { "Region", DH_CONFIG_STR, 0, NULL, 0, 0, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, NULL,
	  "config schema: bad path \"Region\"" },
	{ { { "a..b", DH_CONFIG_STR, 0, NULL, 0, 0, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, NULL,
	  "config schema: bad path \"a..b\"" },
	{ { { "a", DH_CONFIG_STR, 0, NULL, 0, 0, NULL, 0, NULL },
	    { "a.b", DH_CONFIG_STR, 8, NULL, 0, 0, NULL, 0, NULL },
	    DH_CONFIG_END }, NULL,
	  "config schema: \"a.b\" conflicts with \"a\"" },
	{ { { "a_b.c", DH_CONFIG_STR, 0, NULL, 0, 0, NULL, 0, NULL },
	    { "a.b_c", DH_CONFIG_STR, 8, NULL, 0, 0, NULL, 0, NULL },
	    DH_CONFIG_END }, "X",
	  "config schema: \"a.b_c\" and \"a_b.c\" share variable X_A_B_C" },
	{ { { "level", DH_CONFIG_ENUM, 0, NULL, 0, 0, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, NULL,
	  "config schema: \"level\": enum without choices" },
	{ { { "n", DH_CONFIG_INT, 0, NULL, 5, 10, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, NULL,
	  "config schema: \"n\": implicit default 0 is out of range" },
	{ { { "n", DH_CONFIG_INT, 0, "11", 5, 10, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, NULL,
	  "config schema: default of \"n\": must be an integer in [5, 10]" },
	{ { { "n", DH_CONFIG_INT, 0, "1", 0, 1, NULL, 0, NULL },
	    DH_CONFIG_END, DH_CONFIG_END }, "lower",
	  "config schema: bad environment prefix \"lower\"" },
};

static void
test_schema_errors(void **state)
{
	struct dh_err err;
	size_t i;

	for (i = 0; i < sizeof(schema_cases) / sizeof(schema_cases[0]); i++) {
		dh_err_clear(&err);
		assert_int_equal(dh_config_load_mem(schema_cases[i].f, &scratch,
		    "{}", 2, "s", schema_cases[i].prefix, &err), DH_E_ARG);
		assert_string_equal(err.msg, schema_cases[i].msg);
	}
}

static void
test_env_name_and_describe(void **state)
{
	char name[32];
	struct dh_buf b;

	assert_int_equal(dh_config_env_name("DECKHAND", "endpoints.ssm", name,
	    sizeof(name)), DH_OK);
	assert_string_equal(name, "DECKHAND_ENDPOINTS_SSM");
	assert_int_equal(dh_config_env_name("DECKHAND",
	    "session.max_backoff_seconds", name, sizeof(name)), DH_E_TOOBIG);
	assert_int_equal(dh_config_env_name("deckhand", "a", name,
	    sizeof(name)), DH_E_ARG);
	assert_int_equal(dh_config_env_name("D", "a.", name, sizeof(name)),
	    DH_E_ARG);
	dh_buf_init(&b, 8192);
	assert_int_equal(dh_config_describe(schema, ENV_PREFIX, &b), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&b),
	    "session.idle_timeout\tinteger [1, 3600]\t1200\t"
	    "DHTEST_SESSION_IDLE_TIMEOUT\tidle seconds before a session "
	    "closes\n"));
	assert_non_null(strstr(dh_buf_cstr(&b),
	    "log.level\tenum error|warn|info|debug\tinfo\tDHTEST_LOG_LEVEL\t"));
	dh_buf_free(&b);
}

static void
test_read_file_limits(void **state)
{
	char path[512];
	struct dh_buf b;
	struct dh_err err;
	int fd;

	snprintf(path, sizeof(path), "%s/ten", tmpdir);
	assert_int_equal(dh_config_write_atomic(path, "0123456789", 10, 0644,
	    &err), DH_OK);
	dh_buf_init(&b, 64);
	assert_int_equal(dh_buf_put_str(&b, "pre:"), DH_OK);
	assert_int_equal(dh_config_read_file(path, 10, &b, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&b), "pre:0123456789");
	dh_buf_reset(&b);
	assert_int_equal(dh_buf_put_str(&b, "pre:"), DH_OK);
	assert_int_equal(dh_config_read_file(path, 9, &b, &err), DH_E_TOOBIG);
	assert_string_equal(dh_buf_cstr(&b), "pre:");
	assert_non_null(strstr(err.msg, "larger than 9 bytes"));
	dh_buf_free(&b);

	/* the buffer's own ceiling also refuses, leaving it unchanged */
	dh_buf_init_secret(&b, 5);
	assert_int_equal(dh_config_read_file(path, 100, &b, &err), DH_E_TOOBIG);
	assert_int_equal(b.len, 0);
	dh_buf_free(&b);

	dh_buf_init(&b, 64);
	assert_int_equal(dh_config_read_file(tmpdir, 100, &b, &err),
	    DH_E_FORMAT);
	assert_non_null(strstr(err.msg, "not a regular file"));
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(dh_config_read_file(path, 100, &b, &err),
	    DH_E_FORMAT);
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(dh_config_read_file(path, 100, &b, &err),
	    DH_E_NOTFOUND);

	/* an empty file reads as nothing */
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(dh_config_read_file(path, 100, &b, &err), DH_OK);
	assert_int_equal(b.len, 0);
	dh_buf_free(&b);
}

static void
test_write_atomic(void **state)
{
	char dir[300], path[512];
	struct dh_buf b;
	struct dh_err err;
	struct stat st;
	mode_t old;

	snprintf(dir, sizeof(dir), "%s/w", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	old = umask(077);
	snprintf(path, sizeof(path), "%s/identity.json", dir);
	assert_int_equal(dh_config_write_atomic(path, "{\"a\":1}", 7, 0644,
	    &err), DH_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(dh_config_write_atomic(path, "secret", 6, 0600, &err),
	    DH_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(old);
	dh_buf_init(&b, 64);
	assert_int_equal(dh_config_read_file(path, 64, &b, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&b), "secret");
	dh_buf_free(&b);
	assert_int_equal(count_entries(dir), 1);

	/* empty content */
	assert_int_equal(dh_config_write_atomic(path, "", 0, 0600, &err), DH_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);

	/* failures leave no temporary file behind */
	snprintf(path, sizeof(path), "%s/nodir/x.json", dir);
	assert_int_equal(dh_config_write_atomic(path, "x", 1, 0600, &err),
	    DH_E_IO);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(dh_config_write_atomic(path, "x", 1, 0600, &err),
	    DH_E_IO);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(dh_config_write_atomic(path, "x", 1, 0600, &err),
	    DH_E_ARG);
	assert_int_equal(count_entries(dir), 1);
	snprintf(path, sizeof(path), "%s/identity.json", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_mem_and_failure_frees),
		cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_env_name_and_describe),
		cmocka_unit_test(test_read_file_limits),
		cmocka_unit_test(test_write_atomic),
	};

	return cmocka_run_group_tests_name("config", tests, setup_tmp,
	    teardown_tmp);
}
