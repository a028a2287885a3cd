/* rill/plan.h — running a compiled graph on micro-batches.
 *
 * A plan is compiled once and run for many batches. Each push runs every
 * operator downstream of the source on the batch, in graph order; an
 * operator's output records reach its sinks as soon as that operator has
 * finished its part of the batch. A plan is used by one thread at a time.
 */
#ifndef RILL_PLAN_H
#define RILL_PLAN_H

#include "rill/graph.h"

/* Run one micro-batch of rows for the source named source. The batch's schema
 * must equal the source's. The batch is only read; the caller keeps it.
 * On RILL_ENOMEM or a state error the plan is unusable (free it and resume
 * from the last commit). */
int rill_plan_push(rill_plan *p, const char *source, const rill_batch *b);

/* Move a source's watermark forward to wm without events (a heartbeat).
 * A watermark never moves back; an older value is ignored. */
int rill_plan_advance(rill_plan *p, const char *source, int64_t wm);

/* Re-evaluate idle sources against the wall clock and fire what that allows.
 * Call it now and then when no batches arrive (the run loop does). */
int rill_plan_tick(rill_plan *p);

/* End of input: every source's watermark goes to the end of time, so every
 * open window fires, on-event records still waiting are emitted and global
 * windows emit the keys that changed since their last emission. */
int rill_plan_flush(rill_plan *p);

/* Write everything a restart needs (operator state, watermarks, counters)
 * to the plan's state backend in one atomic write batch, and return once
 * it is written (rill_plan_commit_start + rill_plan_commit_wait). */
int rill_plan_commit(rill_plan *p);

/* The same commit in two halves, so that events go on being processed
 * while RocksDB writes the batch on a thread of the state store's own:
 * start collects the batch (after waiting for the previous commit, if any)
 * and hands it over; wait returns once it is written, with its status
 * (RILL_OK when nothing is in flight). What the batch covers is durable only
 * after wait returned RILL_OK: acknowledge events then, not before. A failed
 * write stops the plan (RILL_ESTATE from then on), as a failed commit does.
 * Stores that cannot read while writing (the memory store) write inside
 * start. written tells, without blocking, whether wait would return at once
 * (nothing in flight, or its write finished), for run loops. */
int rill_plan_commit_start(rill_plan *p);
int rill_plan_commit_wait(rill_plan *p);
bool rill_plan_commit_written(const rill_plan *p);

/* Attach an opaque blob under name (copied; at most 64 MiB) to be written
 * by the next commit, atomically with the operators' state: the engine keeps
 * its producers' sequence numbers this way. */
int rill_plan_set_blob(rill_plan *p, const char *name, const void *data, size_t len);
/* The blob of that name as last set, or as restored from the checkpoint the
 * plan resumed from. RILL_ENOT_FOUND if there is none. *data lives until the
 * next set of that name or the end of the plan. */
int rill_plan_get_blob(const rill_plan *p, const char *name, const void **data, size_t *len);

void rill_plan_free(rill_plan *p); /* accepts NULL; does not commit */
const char *rill_plan_errmsg(const rill_plan *p);

typedef struct rill_op_stats {
    uint64_t events_in;  /* rows the operator read */
    uint64_t late;       /* rows sent to the late output */
    uint64_t emitted;    /* records emitted (updates included) */
    uint64_t keys;       /* keys holding state now (in memory or evicted) */
    uint64_t hot_keys;   /* of which in memory */
    uint64_t evictions;  /* keys evicted to the state (rill_plan_opts.max_hot_keys) */
    uint64_t reads_back; /* evicted keys read back from the state */
    int64_t watermark;   /* the operator's watermark (INT64_MIN before any) */
} rill_op_stats;

int rill_plan_op_stats(const rill_plan *p, const char *op, rill_op_stats *out);
/* The watermark of a source (INT64_MIN before its first event). */
int rill_plan_source_watermark(const rill_plan *p, const char *source, int64_t *out);

#endif
