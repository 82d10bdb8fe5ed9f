/*
 * gw_res: the result and request helpers every JSON 1.1 handler module of
 * the gateway shares (gw_ssm, gw_patch, gw_cmd, gw_docs, gw_session,
 * gw_kms, gw_logs): filling a struct gw_ssm_result with an AWS error or a
 * success body, reading typed request members with the AWS validation
 * messages, and adding members to a response object.  No store access, no
 * logging.
 *
 * Module-specific variants that stay in their modules because their
 * behaviour differs: gw_patch's opt_str/req_str (length message carries
 * the "1 validation error detected: " prefix), gw_kms's internal
 * (KMSInternalException with a fixed message), gw_logs's bad / db_err /
 * nomem (InvalidParameterException / ServiceUnavailableException), its
 * opt_int / opt_bool, and gw_ssm's opt_time.
 *
 * Ownership: res->body is owned by res (gw_ssm_result_free); returned
 * strings and members point into the caller's request object.
 */
#ifndef GW_RES_H
#define GW_RES_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_ssm.h"

/* Set res to an AWS error (status, static code, formatted message), dropping
 * any body; always returns DH_OK (a handled client error). */
int gw_res_fail(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* gw_res_fail for checkers: same effect, returns -1. */
int gw_res_bad(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* 500 InternalServerError with e->msg (or dh_strerror(r) when e is NULL or
 * empty); returns r. */
int gw_res_internal(struct gw_ssm_result *res, int r, const struct dh_err *e);

/* Mark res successful (200) and return its body object, created when absent
 * (NULL when out of memory); the body stays owned by res. */
cJSON *gw_res_ok(struct gw_ssm_result *res);

/* Optional string member of [min, max] bytes; *out NULL when absent or in is
 * NULL.  0, or -1 with res filled (ValidationException). */
int gw_res_opt_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res);

/* Like gw_res_opt_str, but absence is a ValidationException too. */
int gw_res_req_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res);

/* Member k of object o, NULL when o is not an object, k is absent or null. */
const cJSON *gw_res_member(const cJSON *o, const char *k);

/* String member k of o, or d when absent or not a string. */
const char *gw_res_str_or(const cJSON *o, const char *k, const char *d);

/* Add string member k (v NULL adds ""); 0 or -1 when out of memory. */
int gw_res_add_str(cJSON *o, const char *k, const char *v);

/* Add member k as epoch seconds (fractional) of ms; 0 or -1 when out of
 * memory. */
int gw_res_add_time(cJSON *o, const char *k, int64_t ms);

#endif
