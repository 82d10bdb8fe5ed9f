/*
 * gw_mw: the SSM maintenance-window operations over gw_store
 * (CreateMaintenanceWindow, Get/Describe/Delete, Register/Describe targets
 * and tasks, Describe executions / execution tasks / task invocations) and
 * the tick that opens windows when their schedule fires: each RUN_COMMAND
 * task becomes a command (gw_cmd) whose invocations are delivered to online
 * targets at once and to targets that reconnect before the window's cutoff.
 *
 * Schedules (cron/rate/at in the window's ScheduleTimezone) are parsed and
 * evaluated by dh_sched; rate() is anchored at the window's StartDate or
 * its creation time.  dh_sched_next sets TZ while it runs, so gw_mw_tick and
 * the operations run only on the gateway's event-loop thread.
 *
 * Ownership: the operation table is static.
 */
#ifndef GW_MW_H
#define GW_MW_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_ssm.h"

/* The maintenance-window operation table (gw_mw_n_ops entries). */
extern const struct gw_ssm_op gw_mw_ops[];
extern const size_t gw_mw_n_ops;

/* Open every window whose schedule fired at or before now_ms: record an
 * execution, turn its tasks into commands (gw_cmd) over the registered
 * targets, and compute the next fire time.  Also closes executions whose
 * window ended.  Returns 0 or a store error. */
int gw_mw_tick(struct gw_store *st, const char *region, const char *account,
    int64_t now_ms, struct dh_err *err);

#endif
