/*
 * dh_json: bounded JSON parsing and typed, checked getters over cJSON.
 * Documents from the network or disk are hostile: dh_json_parse refuses
 * input over a byte ceiling or nested deeper than DH_JSON_MAX_DEPTH, and
 * trailing garbage.  Getters report the missing or mistyped key in err.
 *
 * Ownership: dh_json_parse returns a tree the caller frees with cJSON_Delete;
 * getters return pointers into the tree (valid while it lives).
 */
#ifndef DH_JSON_H
#define DH_JSON_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define DH_JSON_MAX_DEPTH 64

/* Parse exactly n bytes (no NUL needed) of at most max bytes; *out owned. */
int dh_json_parse(const void *p, size_t n, size_t max, cJSON **out,
    struct dh_err *err);

/* Required string member; *out points into the tree. */
int dh_json_get_str(const cJSON *obj, const char *key, const char **out,
    struct dh_err *err);
/* Optional string member: *out = NULL when absent, error when mistyped. */
int dh_json_opt_str(const cJSON *obj, const char *key, const char **out,
    struct dh_err *err);
/* Required integral number member in [min, max]. */
int dh_json_get_int(const cJSON *obj, const char *key, int64_t min,
    int64_t max, int64_t *out, struct dh_err *err);
/* Optional integral number; *present set to 0/1. */
int dh_json_opt_int(const cJSON *obj, const char *key, int64_t min,
    int64_t max, int64_t *out, int *present, struct dh_err *err);
/* Optional boolean; *out untouched when absent. */
int dh_json_opt_bool(const cJSON *obj, const char *key, int *out,
    struct dh_err *err);

/* Serialise compactly and append to out (bounded by out's ceiling). */
int dh_json_print(const cJSON *item, struct dh_buf *out);

/* Serialise compactly into a new NUL-terminated string of at most max
 * bytes; NULL when larger or out of memory.  The caller frees it. */
char *dh_json_print_alloc(const cJSON *item, size_t max);

#endif
