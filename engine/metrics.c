/* engine/metrics.c — counters snapshot and the "metrics" record.
 *
 * The idea: counting stays off any lock (the run loop owns its counters);
 * once per batch the loop copies the totals here under a mutex. Readers in
 * other threads get a snapshot that is at most one batch old and always
 * consistent with itself. The metrics record is encoded from the same
 * snapshot with msgpack-c.
 *
 * It does not keep history, rates or histograms: a consumer of the metrics
 * topic derives rates from successive records.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "engine/metrics.h"

const char *rill__dead_reason_name(int r) {
    if (r >= 0 && r < (int)RILL_DEAD__COUNT) return rill_dead_reason_name((rill_dead_reason)r);
    if (r == RILL__DEAD_BAD_ENVELOPE) return "bad_envelope";
    return NULL;
}

int rill__metrics_init(rill__metrics *m, const char *const *sources, size_t n) {
    memset(m, 0, sizeof *m);
    m->source_names = calloc(n ? n : 1, sizeof *m->source_names);
    m->watermarks = calloc(n ? n : 1, sizeof *m->watermarks);
    if (!m->source_names || !m->watermarks) goto fail;
    for (size_t i = 0; i < n; i++) {
        if (rill__metrics_source_index(m, sources[i]) != SIZE_MAX) continue;
        m->source_names[m->n_sources] = strdup(sources[i]);
        if (!m->source_names[m->n_sources]) goto fail;
        m->watermarks[m->n_sources++] = INT64_MIN;
    }
    if (pthread_mutex_init(&m->mu, NULL)) goto fail;
    return RILL_OK;
fail:
    for (size_t i = 0; i < m->n_sources; i++) free(m->source_names[i]);
    free(m->source_names);
    free(m->watermarks);
    memset(m, 0, sizeof *m);
    return RILL_ENOMEM;
}

void rill__metrics_destroy(rill__metrics *m) {
    if (!m->source_names) return;
    pthread_mutex_destroy(&m->mu);
    for (size_t i = 0; i < m->n_sources; i++) free(m->source_names[i]);
    free(m->source_names);
    free(m->watermarks);
    memset(m, 0, sizeof *m);
}

size_t rill__metrics_source_index(const rill__metrics *m, const char *name) {
    for (size_t i = 0; i < m->n_sources; i++)
        if (!strcmp(m->source_names[i], name)) return i;
    return SIZE_MAX;
}

void rill__metrics_update(rill__metrics *m, const rill_engine_stats *s,
                          const uint64_t *by_reason, const int64_t *watermarks) {
    pthread_mutex_lock(&m->mu);
    m->stats = *s;
    memcpy(m->by_reason, by_reason, sizeof m->by_reason);
    memcpy(m->watermarks, watermarks, m->n_sources * sizeof *m->watermarks);
    pthread_mutex_unlock(&m->mu);
}

void rill__metrics_read(rill__metrics *m, rill_engine_stats *out) {
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    pthread_mutex_unlock(&m->mu);
}

uint64_t rill__metrics_rejected(rill__metrics *m, int reason) {
    if (reason < 0 || reason >= RILL__DEAD_REASONS) return 0;
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->by_reason[reason];
    pthread_mutex_unlock(&m->mu);
    return n;
}

int rill__metrics_watermark(rill__metrics *m, const char *source, int64_t *out) {
    size_t i = source ? rill__metrics_source_index(m, source) : SIZE_MAX;
    if (i == SIZE_MAX) return RILL_EUNKNOWN_NODE;
    pthread_mutex_lock(&m->mu);
    *out = m->watermarks[i];
    pthread_mutex_unlock(&m->mu);
    return RILL_OK;
}

/* ---- encoding ---------------------------------------------------------------- */

static int buf_write(void *data, const char *p, size_t n) {
    return rill__buf_append(data, p, n) == RILL_OK ? 0 : -1;
}

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_u64(msgpack_packer *pk, const char *name, uint64_t v) {
    return pack_cstr(pk, name) || msgpack_pack_uint64(pk, v);
}

int rill__metrics_encode(rill__metrics *m, int64_t now_ms, bool final, rill_buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    pthread_mutex_lock(&m->mu);
    const rill_engine_stats *s = &m->stats;
    size_t n_reasons = 0;
    for (int r = 0; r < RILL__DEAD_REASONS; r++) n_reasons += m->by_reason[r] != 0;
    int bad = msgpack_pack_map(&pk, 17) ||
              pack_cstr(&pk, "ts") || msgpack_pack_int64(&pk, now_ms) ||
              pack_u64(&pk, "received", s->received) ||
              pack_u64(&pk, "received_bytes", s->received_bytes) ||
              pack_u64(&pk, "decoded", s->decoded) ||
              pack_u64(&pk, "rejected", s->rejected) ||
              pack_u64(&pk, "unknown_fields", s->unknown_fields) ||
              pack_u64(&pk, "late", s->late) ||
              pack_u64(&pk, "emitted", s->emitted) ||
              pack_u64(&pk, "batches", s->batches) ||
              pack_u64(&pk, "commits", s->commits) ||
              pack_u64(&pk, "acks", s->acks) ||
              pack_u64(&pk, "duplicates", s->duplicates) ||
              pack_u64(&pk, "gaps", s->gaps) ||
              pack_u64(&pk, "sink_dropped", s->sink_dropped) ||
              pack_cstr(&pk, "final") || (final ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
              pack_cstr(&pk, "rejected_by") || msgpack_pack_map(&pk, n_reasons);
    for (int r = 0; !bad && r < RILL__DEAD_REASONS; r++)
        if (m->by_reason[r]) bad = pack_u64(&pk, rill__dead_reason_name(r), m->by_reason[r]);
    bad = bad || pack_cstr(&pk, "watermarks") || msgpack_pack_map(&pk, m->n_sources);
    for (size_t i = 0; !bad && i < m->n_sources; i++) {
        bad = pack_cstr(&pk, m->source_names[i]) ||
              (m->watermarks[i] == INT64_MIN ? msgpack_pack_nil(&pk)
                                             : msgpack_pack_int64(&pk, m->watermarks[i]));
    }
    pthread_mutex_unlock(&m->mu);
    return bad ? RILL_ENOMEM : RILL_OK;
}
