/* engine/metrics.h — the engine's counters, as other threads and the
 * "metrics" output see them (internal).
 *
 * The run loop counts in plain variables of its own; after each batch it
 * publishes one consistent snapshot here under a mutex, which is what
 * rill_engine_get_stats() and friends read from any thread, and what the
 * "metrics" record is encoded from.
 */
#ifndef RILL_ENGINE_METRICS_H
#define RILL_ENGINE_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/source_zmq.h"
#include "rill/engine.h"

typedef struct rill__metrics {
    pthread_mutex_t mu;
    rill_engine_stats stats;
    uint64_t by_reason[RILL__DEAD_REASONS];
    size_t n_sources;      /* distinct graph sources fed by the engine */
    char **source_names;   /* owned */
    int64_t *watermarks;   /* INT64_MIN before any event */
} rill__metrics;

/* The name of dead-letter reason r ("missing_ts", "bad_envelope"); NULL
 * for r out of range. */
const char *rill__dead_reason_name(int r);

/* Set up m for the distinct names among sources[0..n). RILL_ENOMEM (m is
 * then empty and needs no destroy). */
int rill__metrics_init(rill__metrics *m, const char *const *sources, size_t n);
void rill__metrics_destroy(rill__metrics *m);

/* Index of graph source name in m, or SIZE_MAX. */
size_t rill__metrics_source_index(const rill__metrics *m, const char *name);

/* Publish a snapshot: stats, by_reason[RILL__DEAD_REASONS], and one
 * watermark per source of m (in m's order). */
void rill__metrics_update(rill__metrics *m, const rill_engine_stats *s,
                          const uint64_t *by_reason, const int64_t *watermarks);

void rill__metrics_read(rill__metrics *m, rill_engine_stats *out);
uint64_t rill__metrics_rejected(rill__metrics *m, int reason);
int rill__metrics_watermark(rill__metrics *m, const char *source, int64_t *out);

/* The last snapshot as a msgpack map appended to out: "ts" (wall clock ms
 * now_ms), every counter by its field name, "rejected_by" (reason ->
 * count, non-zero only), "watermarks" (source -> ms, nil before any
 * event) and "final" (true for the record sent when the engine stops).
 * RILL_ENOMEM. */
int rill__metrics_encode(rill__metrics *m, int64_t now_ms, bool final, rill_buf *out);

#endif
