/*
 * gw_testutil: scaffolding the gateway handler unit tests share (header
 * only, static inline, so each test program stays one .c file): a gw_store
 * in a fresh temporary directory, its removal (database, WAL and SHM files,
 * directory), and the handler context the tests call operations with.
 *
 * Ownership: the caller owns dir/db buffers and the opened store;
 * gw_test_store_close closes the store it is given.
 */
#ifndef GW_TESTUTIL_H
#define GW_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_auth.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define GW_TEST_DIR_LEN 64
#define GW_TEST_DB_LEN 96

/* Create a directory from tmpl ("/tmp/nameXXXXXX") into dir, open
 * dir/gw.db (path into db) as *st; 0, or -1 on failure. */
static inline int
gw_test_store_open(const char *tmpl, char dir[GW_TEST_DIR_LEN],
    char db[GW_TEST_DB_LEN], struct gw_store **st)
{
	snprintf(dir, GW_TEST_DIR_LEN, "%s", tmpl);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db, GW_TEST_DB_LEN, "%s/gw.db", dir);
	if (gw_store_open(db, st, NULL) != DH_OK)
		return -1;
	return 0;
}

/* Close st and remove db, its -wal and -shm files and dir (which must
 * hold nothing else by now). */
static inline void
gw_test_store_close(struct gw_store *st, const char *dir, const char *db)
{
	char p[128];

	gw_store_close(st);
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	rmdir(dir);
}

/* A zeroed handler context on st for who at now_ms (us-east-1, account
 * 123456789012); who is borrowed. */
static inline void
gw_test_ctx(struct gw_ssm_ctx *c, struct gw_store *st,
    const struct gw_principal *who, int64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->region = "us-east-1";
	c->account = "123456789012";
	c->who = who;
	c->now_ms = now_ms;
}

#endif
