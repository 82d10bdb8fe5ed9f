/*
 * dh_config: schema-driven JSON configuration.  A program declares a static
 * table of fields (dotted path, type, offset into its own config struct,
 * default, secret flag, one-line doc) ended by DH_CONFIG_END.
 * dh_config_load applies the defaults, reads the JSON file (bounded, parsed
 * with dh_json_parse), rejects unknown keys, duplicate keys, wrong types and
 * out-of-range values naming the full dotted path, then applies environment
 * overrides <PREFIX>_<PATH> (upper-cased, dots to underscores) with the same
 * rules, naming the variable in errors.  Example messages:
 *   agent.json: "session.idle_timeout": must be an integer in [1, 3600]
 *   environment DECKHAND_LOG_LEVEL: must be one of "error", "warn", "info", "debug"
 *
 * The file nests objects along the dotted path: the field "endpoints.ssm"
 * is {"endpoints": {"ssm": "..."}}.  Keys containing '.' are not accepted.
 *
 * Member types in the program's struct, by field type:
 *   DH_CONFIG_STR      char *              (owned; NULL when unset)
 *   DH_CONFIG_BOOL     int                 (0 or 1)
 *   DH_CONFIG_INT      int64_t             (within [min, max])
 *   DH_CONFIG_ENUM     int                 (index into choices)
 *   DH_CONFIG_STRLIST  struct dh_config_list (owned array of owned strings)
 *
 * Defaults are text parsed with the environment rules: "true"/"false"/"1"/"0"
 * for bools, decimal for ints, a choice for enums, comma-separated items for
 * lists.  A NULL default means NULL string, 0, false, the first choice, or
 * the empty list.  Strings are at most DH_CONFIG_STR_MAX bytes (or the
 * field's max when max > 0, at least min bytes) and may not hold control
 * bytes; list items are non-empty strings, at most DH_CONFIG_LIST_MAX of
 * them (or max when max > 0).
 *
 * Ownership: after a successful load the struct owns its strings; release
 * them with dh_config_free (secret fields are wiped).  After a failed load
 * nothing is left allocated in the struct.
 */
#ifndef DH_CONFIG_H
#define DH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dh_buf.h"
#include "dh_err.h"

#define DH_CONFIG_MAX_FILE (1024 * 1024) /* bytes of JSON read by load */
#define DH_CONFIG_STR_MAX 4096           /* default longest string value */
#define DH_CONFIG_LIST_MAX 256           /* default most list items */
#define DH_CONFIG_PATH_MAX 128           /* longest dotted path */

/* dh_config_load flags */
#define DH_CONFIG_MISSING_OK 0x1 /* a missing file means "defaults + env" */

enum dh_config_type {
	DH_CONFIG_STR = 1,
	DH_CONFIG_BOOL,
	DH_CONFIG_INT,
	DH_CONFIG_ENUM,
	DH_CONFIG_STRLIST
};

/* Value of a DH_CONFIG_STRLIST member: n owned NUL-terminated strings. */
struct dh_config_list {
	char **v;
	size_t n;
};

struct dh_config_field {
	const char *path;           /* dotted, [a-z0-9_] components; NULL ends */
	enum dh_config_type type;
	size_t offset;              /* offsetof(struct ..., member) */
	const char *def;            /* default as text, or NULL */
	int64_t min, max;           /* INT range; STR length; STRLIST max items */
	const char *const *choices; /* ENUM: NULL-terminated allowed strings */
	int secret;                 /* wiped on free, "****" in dumps */
	const char *doc;            /* one-line description */
};

#define DH_CONFIG_END { NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL }

/* Fill cfg from defaults, the JSON file at path (NULL: no file) and the
 * environment (env_prefix NULL: none).  A missing file is an error
 * (DH_E_NOTFOUND) unless flags has DH_CONFIG_MISSING_OK.  Rejections return
 * DH_E_CONFIG; a malformed schema DH_E_ARG.  cfg's previous contents are
 * overwritten without being freed. */
int dh_config_load(const struct dh_config_field *schema, void *cfg,
    const char *path, const char *env_prefix, unsigned flags,
    struct dh_err *err);

/* Same as dh_config_load on the JSON document data[0..len) (at most
 * DH_CONFIG_MAX_FILE bytes); name labels error messages. */
int dh_config_load_mem(const struct dh_config_field *schema, void *cfg,
    const void *data, size_t len, const char *name, const char *env_prefix,
    struct dh_err *err);

/* Release every string cfg owns (wiping secret ones) and zero secret
 * scalars; safe to call twice. */
void dh_config_free(const struct dh_config_field *schema, void *cfg);

/* Append the effective configuration as indented JSON (nested along the
 * paths, schema order, trailing newline) to out, secret values as "****". */
int dh_config_dump(const struct dh_config_field *schema, const void *cfg,
    struct dh_buf *out);

/* Append one line per field: path, type, default, environment variable and
 * doc, tab-separated (env_prefix NULL: "-" for the variable). */
int dh_config_describe(const struct dh_config_field *schema,
    const char *env_prefix, struct dh_buf *out);

/* Write the environment variable name for path into out[outsz];
 * DH_E_TOOBIG when it does not fit, DH_E_ARG on a bad prefix or path. */
int dh_config_env_name(const char *env_prefix, const char *path, char *out,
    size_t outsz);

/* Replace the file at path with data[0..len) atomically: a temporary file in
 * the same directory with the given mode, write, fsync, rename over path,
 * fsync the directory.  A failure before the rename leaves path untouched
 * and no temporary file behind; a failed directory fsync (DH_E_IO) comes
 * after path was replaced.  A symlink at path is replaced, not followed. */
int dh_config_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct dh_err *err);

/* Append the contents of the regular file at path to out, refusing files
 * over max bytes (DH_E_TOOBIG), non-regular files (DH_E_FORMAT) and missing
 * ones (DH_E_NOTFOUND).  Use a secret dh_buf for files holding secrets. */
int dh_config_read_file(const char *path, size_t max, struct dh_buf *out,
    struct dh_err *err);

#endif
