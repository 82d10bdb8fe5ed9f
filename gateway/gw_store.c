/*
 * gw_store: SQLite persistence for the gateway (see gw_store.h).  Every
 * statement is prepared, bound from a small format string ("s" text, "i"
 * int64), stepped and finalised in one helper, so no SQL text is ever built
 * from request data.
 */
#include "gw_store.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"

struct gw_store {
	sqlite3 *db;
	int version;
	int depth;      /* open gw_store_begin levels (1 = BEGIN, more = SAVEPOINTs) */
};

static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE access_keys (akid TEXT PRIMARY KEY, secret TEXT NOT NULL,"
	" name TEXT NOT NULL, policy TEXT NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE activations (id TEXT PRIMARY KEY, code_hash TEXT NOT NULL,"
	" description TEXT NOT NULL, default_name TEXT NOT NULL,"
	" iam_role TEXT NOT NULL, reg_limit INTEGER NOT NULL,"
	" reg_count INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL);"
	"CREATE TABLE instances (id TEXT PRIMARY KEY, activation_id TEXT NOT NULL,"
	" fingerprint TEXT NOT NULL, public_key TEXT NOT NULL,"
	" public_key_type TEXT NOT NULL, name TEXT NOT NULL, iam_role TEXT NOT NULL,"
	" registered_ms INTEGER NOT NULL, last_ping_ms INTEGER NOT NULL,"
	" agent_name TEXT NOT NULL, agent_version TEXT NOT NULL,"
	" agent_status TEXT NOT NULL, platform_type TEXT NOT NULL,"
	" platform_name TEXT NOT NULL, platform_version TEXT NOT NULL,"
	" ip_address TEXT NOT NULL, computer_name TEXT NOT NULL,"
	" availability_zone TEXT NOT NULL, connection_channel TEXT NOT NULL);"
	"CREATE TABLE tokens (akid TEXT PRIMARY KEY, secret TEXT NOT NULL,"
	" token_hash TEXT NOT NULL, instance_id TEXT NOT NULL,"
	" expires_ms INTEGER NOT NULL);"
	"CREATE INDEX tokens_instance ON tokens (instance_id);"
	"CREATE TABLE tags (resource_id TEXT NOT NULL, k TEXT NOT NULL,"
	" v TEXT NOT NULL, PRIMARY KEY (resource_id, k));",
	/* 2: compliance, inventory, patch baselines, commands, maintenance
	 * windows (gw_patch, gw_cmd, gw_mw; documents kept as JSON) */
	"CREATE TABLE compliance_items (resource_id TEXT NOT NULL,"
	" ctype TEXT NOT NULL, item_id TEXT NOT NULL, title TEXT NOT NULL,"
	" severity TEXT NOT NULL, status TEXT NOT NULL, details TEXT NOT NULL,"
	" seq INTEGER NOT NULL, PRIMARY KEY (resource_id, ctype, item_id));"
	"CREATE TABLE compliance_runs (resource_id TEXT NOT NULL,"
	" ctype TEXT NOT NULL, resource_type TEXT NOT NULL,"
	" summary TEXT NOT NULL, content_hash TEXT NOT NULL,"
	" PRIMARY KEY (resource_id, ctype));"
	"CREATE TABLE inventory (instance_id TEXT NOT NULL,"
	" type_name TEXT NOT NULL, schema_version TEXT NOT NULL,"
	" capture_time TEXT NOT NULL, content_hash TEXT NOT NULL,"
	" content TEXT NOT NULL, context TEXT NOT NULL,"
	" PRIMARY KEY (instance_id, type_name));"
	"CREATE TABLE patch_baselines (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" os TEXT NOT NULL, doc TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	" modified_ms INTEGER NOT NULL);"
	"CREATE TABLE patch_groups (patch_group TEXT NOT NULL, os TEXT NOT NULL,"
	" baseline_id TEXT NOT NULL, PRIMARY KEY (patch_group, os));"
	"CREATE TABLE default_baselines (os TEXT PRIMARY KEY,"
	" baseline_id TEXT NOT NULL);"
	"CREATE TABLE commands (id TEXT PRIMARY KEY, doc TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL);"
	"CREATE TABLE invocations (command_id TEXT NOT NULL,"
	" instance_id TEXT NOT NULL, status TEXT NOT NULL,"
	" details TEXT NOT NULL, output TEXT NOT NULL, errout TEXT NOT NULL,"
	" response_code INTEGER NOT NULL, requested_ms INTEGER NOT NULL,"
	" start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
	" deliver_by_ms INTEGER NOT NULL, sent_ms INTEGER NOT NULL,"
	" PRIMARY KEY (command_id, instance_id));"
	"CREATE INDEX invocations_status ON invocations (status, instance_id);"
	"CREATE TABLE mw_windows (id TEXT PRIMARY KEY, doc TEXT NOT NULL,"
	" next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE mw_targets (id TEXT PRIMARY KEY, window_id TEXT NOT NULL,"
	" doc TEXT NOT NULL);"
	"CREATE TABLE mw_tasks (id TEXT PRIMARY KEY, window_id TEXT NOT NULL,"
	" doc TEXT NOT NULL);"
	"CREATE TABLE mw_executions (id TEXT PRIMARY KEY,"
	" window_id TEXT NOT NULL, start_ms INTEGER NOT NULL,"
	" end_ms INTEGER NOT NULL, cutoff_ms INTEGER NOT NULL);"
	"CREATE TABLE mw_exec_tasks (id TEXT PRIMARY KEY,"
	" execution_id TEXT NOT NULL, task_id TEXT NOT NULL,"
	" command_id TEXT NOT NULL, doc TEXT NOT NULL,"
	" start_ms INTEGER NOT NULL);",
	/* 3: CloudWatch Logs, S3 and KMS (gw_logs, gw_s3, gw_kms) */
	"CREATE TABLE log_groups (name TEXT PRIMARY KEY, kms_key_id TEXT,"
	" retention_days INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE log_streams (grp TEXT NOT NULL, name TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, first_event_ms INTEGER,"
	" last_event_ms INTEGER, last_ingest_ms INTEGER,"
	" stored_bytes INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0,"
	" last_token_in TEXT, last_batch_hash TEXT, PRIMARY KEY (grp, name));"
	"CREATE TABLE log_events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" grp TEXT NOT NULL, stream TEXT NOT NULL, ts INTEGER NOT NULL,"
	" ingest_ms INTEGER NOT NULL, message TEXT NOT NULL);"
	"CREATE INDEX log_events_stream ON log_events (grp, stream, ts, id);"
	"CREATE INDEX log_events_group ON log_events (grp, ts, id);"
	"CREATE TABLE s3_buckets (name TEXT PRIMARY KEY, region TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, sse_algo TEXT, sse_kms_key TEXT,"
	" bucket_key INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE s3_objects (bucket TEXT NOT NULL, key TEXT NOT NULL,"
	" size INTEGER NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL,"
	" modified_ms INTEGER NOT NULL, file TEXT NOT NULL, sse_algo TEXT,"
	" sse_kms_key TEXT, PRIMARY KEY (bucket, key));"
	"CREATE TABLE s3_uploads (id TEXT PRIMARY KEY, bucket TEXT NOT NULL,"
	" key TEXT NOT NULL, content_type TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, sse_algo TEXT, sse_kms_key TEXT);"
	"CREATE TABLE s3_parts (upload_id TEXT NOT NULL, part INTEGER NOT NULL,"
	" size INTEGER NOT NULL, etag TEXT NOT NULL, file TEXT NOT NULL,"
	" modified_ms INTEGER NOT NULL, PRIMARY KEY (upload_id, part));"
	"CREATE TABLE kms_keys (id TEXT PRIMARY KEY, description TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, state TEXT NOT NULL, wrapped BLOB NOT NULL);"
	"CREATE TABLE kms_aliases (name TEXT PRIMARY KEY, key_id TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL);",
	/* 4: SSM documents and Session Manager sessions (gw_docs, gw_session) */
	"CREATE TABLE document_meta (name TEXT PRIMARY KEY,"
	" default_version INTEGER NOT NULL, latest_version INTEGER NOT NULL,"
	" owner TEXT NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE documents (name TEXT NOT NULL, version INTEGER NOT NULL,"
	" content TEXT NOT NULL, doc_type TEXT NOT NULL, doc_format TEXT NOT NULL,"
	" version_name TEXT NOT NULL, target_type TEXT NOT NULL,"
	" hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	" PRIMARY KEY (name, version));"
	"CREATE TABLE sessions (id TEXT PRIMARY KEY, target TEXT NOT NULL,"
	" owner TEXT NOT NULL, document_name TEXT NOT NULL, reason TEXT NOT NULL,"
	" status TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
	" idle_ms INTEGER NOT NULL, max_ms INTEGER NOT NULL,"
	" max_duration TEXT NOT NULL, details TEXT NOT NULL,"
	" s3_url TEXT NOT NULL, cw_url TEXT NOT NULL);"
	"CREATE INDEX sessions_start ON sessions (start_ms);",
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int
db_fail(struct gw_store *st, struct dh_err *err, const char *what)
{
	return dh_err_set(err, DH_E_IO, "sqlite %s: %s", what,
	    sqlite3_errmsg(st->db));
}

/* Prepare sql and bind args per fmt ('s' const char *, 'i' int64_t). */
static int
prep(struct gw_store *st, const char *sql, const char *fmt, va_list ap,
    sqlite3_stmt **out, struct dh_err *err)
{
	sqlite3_stmt *s = NULL;
	const char *str;
	int i, rc;

	*out = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "prepare");
	for (i = 0; fmt[i] != '\0'; i++) {
		if (fmt[i] == 's') {
			str = va_arg(ap, const char *);
			rc = str == NULL ? sqlite3_bind_null(s, i + 1) :
			    sqlite3_bind_text(s, i + 1, str, -1, SQLITE_STATIC);
		} else
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		if (rc != SQLITE_OK) {
			sqlite3_finalize(s);
			return db_fail(st, err, "bind");
		}
	}
	*out = s;
	return DH_OK;
}

/* Run a statement that returns no rows; *changes gets the row count. */
static int
exec_args(struct gw_store *st, int *changes, struct dh_err *err,
    const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = prep(st, sql, fmt, ap, &s, err);
	va_end(ap);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) != SQLITE_DONE)
		r = db_fail(st, err, "step");
	else if (changes != NULL)
		*changes = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return r;
}

/* Prepare a query; caller steps and finalises. */
static int
query_args(struct gw_store *st, sqlite3_stmt **out, struct dh_err *err,
    const char *sql, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = prep(st, sql, fmt, ap, out, err);
	va_end(ap);
	return r;
}

static void
col_copy(sqlite3_stmt *s, int col, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t len;

	out[0] = '\0';
	if (t == NULL || n == 0)
		return;
	len = strlen((const char *)t);
	if (len >= n)
		len = n - 1;
	memcpy(out, t, len);
	out[len] = '\0';
}

static int
exec_plain(struct gw_store *st, const char *sql, struct dh_err *err)
{
	char *msg = NULL;
	int r = DH_OK;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		r = dh_err_set(err, DH_E_IO, "sqlite: %s",
		    msg != NULL ? msg : "exec failed");
		sqlite3_free(msg);
	}
	return r;
}

static int
migrate(struct gw_store *st, struct dh_err *err)
{
	sqlite3_stmt *s = NULL;
	size_t v;
	int r;

	r = exec_plain(st, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)", err);
	if (r != DH_OK)
		return r;
	r = query_args(st, &s, err,
	    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "");
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		st->version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (st->version > (int)N_MIGRATIONS)
		return dh_err_set(err, DH_E_STATE,
		    "database schema version %d is newer than this gateway (%d)",
		    st->version, (int)N_MIGRATIONS);
	for (v = (size_t)st->version; v < N_MIGRATIONS; v++) {
		r = gw_store_begin(st, err);
		if (r != DH_OK)
			return r;
		r = exec_plain(st, migrations[v], err);
		if (r == DH_OK)
			r = exec_args(st, NULL, err, "INSERT INTO schema_migrations "
			    "(version, applied_ms) VALUES (?, ?)", "ii",
			    (int64_t)(v + 1), dh_time_now_ms());
		if (r == DH_OK)
			r = gw_store_commit(st, err);
		if (r != DH_OK) {
			gw_store_rollback(st);
			return dh_err_wrap(err, r, "migration %zu", v + 1);
		}
		st->version = (int)(v + 1);
	}
	return DH_OK;
}

int
gw_store_open(const char *path, struct gw_store **out, struct dh_err *err)
{
	struct gw_store *st;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "open %s failed", path);
	close(fd);
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		r = dh_err_set(err, DH_E_IO, "sqlite open %s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : "failed");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	r = exec_plain(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    " PRAGMA foreign_keys=ON;", err);
	if (r != DH_OK)
		goto fail;
	r = migrate(st, err);
	if (r != DH_OK)
		goto fail;
	*out = st;
	return DH_OK;
fail:
	gw_store_close(st);
	return r;
}

void
gw_store_close(struct gw_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st);
}

sqlite3 *
gw_store_db(struct gw_store *st)
{
	return st->db;
}

int
gw_store_schema_version(struct gw_store *st)
{
	return st->version;
}

/* Nesting: the outermost level is BEGIN IMMEDIATE / COMMIT / ROLLBACK;
 * inner levels (a handler's own transaction inside the per-request one that
 * gw_api holds for the audit record) are SAVEPOINTs, so an inner commit only
 * releases and the outer COMMIT makes everything durable at once. */
static void
sync_depth(struct gw_store *st)
{
	if (sqlite3_get_autocommit(st->db))
		st->depth = 0;      /* none open (or SQLite rolled it back) */
	else if (st->depth == 0)
		st->depth = 1;      /* a transaction opened with plain SQL */
}

int
gw_store_begin(struct gw_store *st, struct dh_err *err)
{
	int r;

	sync_depth(st);
	r = exec_plain(st, st->depth == 0 ? "BEGIN IMMEDIATE" :
	    "SAVEPOINT gw_store_nest", err);
	if (r == DH_OK)
		st->depth++;
	return r;
}

int
gw_store_commit(struct gw_store *st, struct dh_err *err)
{
	int r;

	sync_depth(st);
	if (st->depth <= 1) {
		r = exec_plain(st, "COMMIT", err);
		if (r == DH_OK || sqlite3_get_autocommit(st->db))
			st->depth = 0;
		return r;
	}
	r = exec_plain(st, "RELEASE gw_store_nest", err);
	if (r == DH_OK)
		st->depth--;
	return r;
}

void
gw_store_rollback(struct gw_store *st)
{
	sync_depth(st);
	if (st->depth > 1) {
		(void)exec_plain(st, "ROLLBACK TO gw_store_nest;"
		    " RELEASE gw_store_nest", NULL);
		st->depth--;
		return;
	}
	if (!sqlite3_get_autocommit(st->db))
		(void)exec_plain(st, "ROLLBACK", NULL);
	st->depth = 0;
}

int
gw_store_txn_depth(const struct gw_store *st)
{
	return st->depth;
}

int
gw_store_meta_get(struct gw_store *st, const char *key, char *out, size_t n,
    struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	r = query_args(st, &s, err, "SELECT v FROM meta WHERE k = ?", "s", key);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		col_copy(s, 0, out, n);
	else
		r = dh_err_set(err, DH_E_NOTFOUND, "no meta value %s", key);
	sqlite3_finalize(s);
	return r;
}

int
gw_store_meta_put(struct gw_store *st, const char *key, const char *value,
    struct dh_err *err)
{
	return exec_args(st, NULL, err,
	    "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", "ss", key,
	    value);
}

int
gw_store_key_put(struct gw_store *st, const struct gw_store_key *k,
    struct dh_err *err)
{
	return exec_args(st, NULL, err, "INSERT INTO access_keys (akid, secret,"
	    " name, policy, created_ms) VALUES (?, ?, ?, ?, ?)", "ssssi",
	    k->access_key_id, k->secret, k->name, k->policy, k->created_ms);
}

int
gw_store_key_get(struct gw_store *st, const char *akid,
    struct gw_store_key *k, struct dh_err *err)
{
	sqlite3_stmt *s;
	const unsigned char *pol;
	int r;

	memset(k, 0, sizeof(*k));
	r = query_args(st, &s, err, "SELECT akid, secret, name, policy,"
	    " created_ms FROM access_keys WHERE akid = ?", "s", akid);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) != SQLITE_ROW) {
		r = dh_err_set(err, DH_E_NOTFOUND, "no such access key");
		goto done;
	}
	col_copy(s, 0, k->access_key_id, sizeof(k->access_key_id));
	col_copy(s, 1, k->secret, sizeof(k->secret));
	col_copy(s, 2, k->name, sizeof(k->name));
	pol = sqlite3_column_text(s, 3);
	k->policy = strdup(pol != NULL ? (const char *)pol : "");
	k->created_ms = sqlite3_column_int64(s, 4);
	if (k->policy == NULL)
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
done:
	sqlite3_finalize(s);
	return r;
}

void
gw_store_key_clear(struct gw_store_key *k)
{
	free(k->policy);
	dh_wipe(k, sizeof(*k));
}

int
gw_store_activation_put(struct gw_store *st,
    const struct gw_store_activation *a, struct dh_err *err)
{
	return exec_args(st, NULL, err, "INSERT OR REPLACE INTO activations (id,"
	    " code_hash, description, default_name, iam_role, reg_limit,"
	    " reg_count, expires_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?)",
	    "sssssiiii", a->id, a->code_hash, a->description, a->default_name,
	    a->iam_role, a->limit, a->count, a->expires_ms, a->created_ms);
}

#define ACT_COLS "id, code_hash, description, default_name, iam_role," \
	" reg_limit, reg_count, expires_ms, created_ms"

static void
act_row(sqlite3_stmt *s, struct gw_store_activation *a)
{
	memset(a, 0, sizeof(*a));
	col_copy(s, 0, a->id, sizeof(a->id));
	col_copy(s, 1, a->code_hash, sizeof(a->code_hash));
	col_copy(s, 2, a->description, sizeof(a->description));
	col_copy(s, 3, a->default_name, sizeof(a->default_name));
	col_copy(s, 4, a->iam_role, sizeof(a->iam_role));
	a->limit = sqlite3_column_int64(s, 5);
	a->count = sqlite3_column_int64(s, 6);
	a->expires_ms = sqlite3_column_int64(s, 7);
	a->created_ms = sqlite3_column_int64(s, 8);
}

int
gw_store_activation_get(struct gw_store *st, const char *id,
    struct gw_store_activation *a, struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	r = query_args(st, &s, err, "SELECT " ACT_COLS
	    " FROM activations WHERE id = ?", "s", id);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		act_row(s, a);
	else
		r = dh_err_set(err, DH_E_NOTFOUND, "no such activation");
	sqlite3_finalize(s);
	return r;
}

int
gw_store_activation_delete(struct gw_store *st, const char *id,
    struct dh_err *err)
{
	int n = 0, r;

	r = exec_args(st, &n, err, "DELETE FROM activations WHERE id = ?", "s",
	    id);
	if (r == DH_OK && n == 0)
		r = dh_err_set(err, DH_E_NOTFOUND, "no such activation");
	if (r == DH_OK)
		r = exec_args(st, NULL, err, "DELETE FROM tags WHERE"
		    " resource_id = ?", "s", id);
	return r;
}

int
gw_store_activation_each(struct gw_store *st,
    int (*fn)(void *ctx, const struct gw_store_activation *a), void *ctx,
    struct dh_err *err)
{
	struct gw_store_activation a;
	sqlite3_stmt *s;
	int r, rc;

	r = query_args(st, &s, err, "SELECT " ACT_COLS " FROM activations"
	    " ORDER BY created_ms, id", "");
	if (r != DH_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		act_row(s, &a);
		if (fn(ctx, &a) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(st, err, "step");
	sqlite3_finalize(s);
	return r;
}

#define INST_COLS "id, activation_id, fingerprint, public_key," \
	" public_key_type, name, iam_role, registered_ms, last_ping_ms," \
	" agent_name, agent_version, agent_status, platform_type," \
	" platform_name, platform_version, ip_address, computer_name," \
	" availability_zone, connection_channel"

int
gw_store_instance_put(struct gw_store *st,
    const struct gw_store_instance *in, struct dh_err *err)
{
	return exec_args(st, NULL, err, "INSERT OR REPLACE INTO instances ("
	    INST_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    "sssssssiisssssssss" "s", in->id, in->activation_id,
	    in->fingerprint, in->public_key, in->public_key_type, in->name,
	    in->iam_role, in->registered_ms, in->last_ping_ms, in->agent_name,
	    in->agent_version, in->agent_status, in->platform_type,
	    in->platform_name, in->platform_version, in->ip_address,
	    in->computer_name, in->availability_zone, in->connection_channel);
}

static void
inst_row(sqlite3_stmt *s, struct gw_store_instance *in)
{
	memset(in, 0, sizeof(*in));
	col_copy(s, 0, in->id, sizeof(in->id));
	col_copy(s, 1, in->activation_id, sizeof(in->activation_id));
	col_copy(s, 2, in->fingerprint, sizeof(in->fingerprint));
	col_copy(s, 3, in->public_key, sizeof(in->public_key));
	col_copy(s, 4, in->public_key_type, sizeof(in->public_key_type));
	col_copy(s, 5, in->name, sizeof(in->name));
	col_copy(s, 6, in->iam_role, sizeof(in->iam_role));
	in->registered_ms = sqlite3_column_int64(s, 7);
	in->last_ping_ms = sqlite3_column_int64(s, 8);
	col_copy(s, 9, in->agent_name, sizeof(in->agent_name));
	col_copy(s, 10, in->agent_version, sizeof(in->agent_version));
	col_copy(s, 11, in->agent_status, sizeof(in->agent_status));
	col_copy(s, 12, in->platform_type, sizeof(in->platform_type));
	col_copy(s, 13, in->platform_name, sizeof(in->platform_name));
	col_copy(s, 14, in->platform_version, sizeof(in->platform_version));
	col_copy(s, 15, in->ip_address, sizeof(in->ip_address));
	col_copy(s, 16, in->computer_name, sizeof(in->computer_name));
	col_copy(s, 17, in->availability_zone, sizeof(in->availability_zone));
	col_copy(s, 18, in->connection_channel,
	    sizeof(in->connection_channel));
}

int
gw_store_instance_get(struct gw_store *st, const char *id,
    struct gw_store_instance *in, struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	r = query_args(st, &s, err, "SELECT " INST_COLS
	    " FROM instances WHERE id = ?", "s", id);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		inst_row(s, in);
	else
		r = dh_err_set(err, DH_E_NOTFOUND, "no such instance");
	sqlite3_finalize(s);
	return r;
}

int
gw_store_instance_delete(struct gw_store *st, const char *id,
    struct dh_err *err)
{
	int n = 0, r;

	r = gw_store_begin(st, err);
	if (r != DH_OK)
		return r;
	r = exec_args(st, &n, err, "DELETE FROM instances WHERE id = ?", "s",
	    id);
	if (r == DH_OK && n == 0)
		r = dh_err_set(err, DH_E_NOTFOUND, "no such instance");
	if (r == DH_OK)
		r = exec_args(st, NULL, err, "DELETE FROM tokens WHERE"
		    " instance_id = ?", "s", id);
	if (r == DH_OK)
		r = exec_args(st, NULL, err, "DELETE FROM tags WHERE"
		    " resource_id = ?", "s", id);
	if (r == DH_OK)
		r = gw_store_commit(st, err);
	if (r != DH_OK)
		gw_store_rollback(st);
	return r;
}

int
gw_store_instance_each(struct gw_store *st,
    int (*fn)(void *ctx, const struct gw_store_instance *in), void *ctx,
    struct dh_err *err)
{
	struct gw_store_instance *in;
	sqlite3_stmt *s;
	int r, rc;

	in = malloc(sizeof(*in));
	if (in == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	r = query_args(st, &s, err, "SELECT " INST_COLS " FROM instances"
	    " ORDER BY registered_ms, id", "");
	if (r != DH_OK)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		inst_row(s, in);
		if (fn(ctx, in) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(st, err, "step");
	sqlite3_finalize(s);
done:
	free(in);
	return r;
}

int
gw_store_token_put(struct gw_store *st, const struct gw_store_token *t,
    struct dh_err *err)
{
	return exec_args(st, NULL, err, "INSERT OR REPLACE INTO tokens (akid,"
	    " secret, token_hash, instance_id, expires_ms) VALUES (?,?,?,?,?)",
	    "ssssi", t->access_key_id, t->secret, t->token_hash,
	    t->instance_id, t->expires_ms);
}

int
gw_store_token_get(struct gw_store *st, const char *akid,
    struct gw_store_token *t, struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	memset(t, 0, sizeof(*t));
	r = query_args(st, &s, err, "SELECT akid, secret, token_hash,"
	    " instance_id, expires_ms FROM tokens WHERE akid = ?", "s", akid);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW) {
		col_copy(s, 0, t->access_key_id, sizeof(t->access_key_id));
		col_copy(s, 1, t->secret, sizeof(t->secret));
		col_copy(s, 2, t->token_hash, sizeof(t->token_hash));
		col_copy(s, 3, t->instance_id, sizeof(t->instance_id));
		t->expires_ms = sqlite3_column_int64(s, 4);
	} else
		r = dh_err_set(err, DH_E_NOTFOUND, "no such token");
	sqlite3_finalize(s);
	return r;
}

int
gw_store_token_prune(struct gw_store *st, int64_t now_ms, struct dh_err *err)
{
	return exec_args(st, NULL, err, "DELETE FROM tokens WHERE"
	    " expires_ms < ?", "i", now_ms);
}

int
gw_store_tag_put(struct gw_store *st, const char *resource_id,
    const char *key, const char *value, struct dh_err *err)
{
	return exec_args(st, NULL, err, "INSERT OR REPLACE INTO tags"
	    " (resource_id, k, v) VALUES (?, ?, ?)", "sss", resource_id, key,
	    value);
}

int
gw_store_tag_delete(struct gw_store *st, const char *resource_id,
    const char *key, struct dh_err *err)
{
	return exec_args(st, NULL, err, "DELETE FROM tags WHERE resource_id = ?"
	    " AND k = ?", "ss", resource_id, key);
}

int
gw_store_tag_each(struct gw_store *st, const char *resource_id,
    int (*fn)(void *ctx, const char *key, const char *value), void *ctx,
    struct dh_err *err)
{
	sqlite3_stmt *s;
	int r, rc;

	r = query_args(st, &s, err, "SELECT k, v FROM tags WHERE"
	    " resource_id = ? ORDER BY k", "s", resource_id);
	if (r != DH_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (fn(ctx, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(st, err, "step");
	sqlite3_finalize(s);
	return r;
}

int
gw_store_tag_count(struct gw_store *st, const char *resource_id, int64_t *n,
    struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	*n = 0;
	r = query_args(st, &s, err, "SELECT COUNT(*) FROM tags WHERE"
	    " resource_id = ?", "s", resource_id);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return r;
}

int
gw_store_prep(struct gw_store *st, sqlite3_stmt **out, struct dh_err *err,
    const char *sql, const char *fmt, ...)
{
	sqlite3 *db = gw_store_db(st);
	sqlite3_stmt *s = NULL;
	const char *str;
	va_list ap;
	int i, rc = SQLITE_OK;

	*out = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return dh_err_set(err, DH_E_IO, "sqlite prepare: %s",
		    sqlite3_errmsg(db));
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
		if (fmt[i] == 's') {
			str = va_arg(ap, const char *);
			rc = str == NULL ? sqlite3_bind_null(s, i + 1) :
			    sqlite3_bind_text(s, i + 1, str, -1,
			    SQLITE_TRANSIENT);
		} else
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return dh_err_set(err, DH_E_IO, "sqlite bind: %s",
		    sqlite3_errmsg(db));
	}
	*out = s;
	return DH_OK;
}

int
gw_store_done(struct gw_store *st, sqlite3_stmt *s, struct dh_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return dh_err_set(err, DH_E_IO, "sqlite step: %s",
		    sqlite3_errmsg(gw_store_db(st)));
	return DH_OK;
}

const char *
gw_store_col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

cJSON *
gw_store_col_json(sqlite3_stmt *s, int i, size_t max)
{
	const char *t = gw_store_col(s, i);
	cJSON *j = NULL;

	if (dh_json_parse(t, strlen(t), max, &j, NULL) != DH_OK)
		return NULL;
	return j;
}

void
gw_store_col_copy(sqlite3_stmt *s, int i, char *out, size_t n)
{
	snprintf(out, n, "%s", gw_store_col(s, i));
}
