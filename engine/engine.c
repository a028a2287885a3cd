/* engine/engine.c — the engine: sources, plan and sinks in one run loop.
 *
 * The idea. One thread polls every source socket plus a wake-up pipe with
 * zmq_poll. When a source is readable, a micro-batch is formed: each
 * source's queue is drained (decoded straight into that source's batch)
 * until max_batch events are in or, with a linger, until the linger time
 * after the first message has passed. The batch is then pushed through the
 * plan; operators hand their records to the engine's graph sinks, which
 * encode each record once and send it to every sink that selected it.
 * After the batch comes the ack point: the sinks are flushed, then, if
 * reliable messages are in the batch (or commit_every_batches batches ran,
 * or commit_interval_ms passed), the plan is committed and only then are
 * the acks sent (a failed commit sends none, and the producers resend).
 * Between batches, rill_plan_tick() runs every tick_ms so that idle sources
 * stop holding watermarks back, and the "metrics" record goes out every
 * metrics_interval_ms.
 *
 * State. Unless given a store, the engine opens RocksDB in state_dir and
 * closes it when freed. Each commit carries, as the plan blob
 * "rill.engine.producers", every reliable source's table of last applied
 * sequence numbers, so the table and the operator state it describes are
 * written in one atomic batch. On start the table is loaded back (the
 * sources turn cautious about producers it lacks, see source_zmq.c) and
 * the engine commits once, so that a crash at any later moment restarts
 * from a checkpoint of this graph. Sinks are flushed before the commit:
 * a record is in its file (or handed to ZeroMQ) before the state that
 * produced it is committed, so a crash can repeat outputs but never lose
 * one a restart would not emit again. Blob layout, big-endian:
 *   u8 version (1) | u32 sections | per section: u16 name length | graph
 *   source name | u32 ordinal among the engine's reliable sources feeding
 *   that graph source | u32 table length | table (source_zmq.h)
 *
 * Stopping: rill_engine_stop() and the SIGINT/SIGTERM handlers only set a
 * flag and write a byte to the wake-up pipe (both async-signal-safe); the
 * loop then drains what is queued, flushes the plan (unless told not to),
 * commits, acks, publishes a final metrics record and returns. Sockets are
 * closed with a linger so the last outputs reach their peers.
 *
 * It does not run several shards or threads, and does not make PUB or PUSH
 * outputs survive a crash (ZeroMQ may still hold them when the process
 * dies; a JSON-lines file is the durable output).
 */
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "engine/batch.h"
#include "engine/buf.h"
#include "engine/codec.h"
#include "engine/metrics.h"
#include "engine/models_report.h"
#include "engine/sink.h"
#include "engine/source_zmq.h"
#include "rill/engine.h"

#define PRODUCERS_BLOB "rill.engine.producers"
#define PRODUCERS_VERSION 1

/* The outputs a sink selected, resolved against the graph. */
typedef struct sink_sel {
    rill__sink *sink;
    bool metrics, dead, late, models;
    bool *ops; /* per operator */
} sink_sel;

/* What an operator's graph sink needs: the engine and where to send. */
typedef struct op_out {
    struct rill_engine *e;
    char *name;         /* also the topic */
    rill__sink **sinks; /* the sinks that selected it */
    size_t n_sinks;
} op_out;

struct rill_engine {
    void *zctx;
    rill_plan *plan;
    rill__source **sources;
    size_t n_sources;
    sink_sel *sinks;
    size_t n_sinks;
    op_out *ops;
    size_t n_ops;
    rill__sink **dead_sinks, **late_sinks, **metrics_sinks, **models_sinks;
    size_t n_dead_sinks, n_late_sinks, n_metrics_sinks, n_models_sinks;
    zmq_pollitem_t *items; /* one per source, then the wake-up pipe */
    int wake[2];           /* pipe: [0] read end (polled), [1] write end */
    atomic_int stop;
    bool ran;

    /* state */
    rill_state *own_state; /* opened here (closed by free), or NULL */
    char state_desc[300];  /* for messages: "state directory '...'" */
    bool has_reliable;
    bool producers_saved;  /* the blob was set at least once */
    rill_buf blob;         /* scratch: the producers blob */

    /* options, defaults applied */
    size_t max_batch;
    int linger_ms, metrics_ms, tick_ms, commit_ms, close_linger_ms;
    int commit_batches;
    size_t dead_prefix;
    bool handle_signals, flush_on_stop;

    /* counted by the run loop (the rest lives in the sources) */
    uint64_t late, emitted, batches, commits;
    bool dirty; /* batches run since the last commit */
    bool commit_in_flight; /* started, its acks sealed, not yet waited for */
    int since_commit; /* batches with rows since the last commit */
    int sink_rc; /* first sink failure during a push */
    char sink_err[512];

    rill_buf out;   /* encoding buffer for the engine's own records */
    rill_buf rec;   /* encoding buffer for operator records */
    int64_t *wm;    /* scratch: watermarks for the snapshot */
    rill__metrics metrics;
    char errmsg[1024];
};

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void set_err(rill_engine *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
    va_end(ap);
}

/* ---- publishing ------------------------------------------------------------------ */

static void sink_failed(rill_engine *e, rill__sink *s, int rc) {
    if (rc == RILL_OK || rc == RILL_EFULL || e->sink_rc) return;
    e->sink_rc = rc;
    snprintf(e->sink_err, sizeof e->sink_err, "%s", s->errmsg);
}

static void publish(rill_engine *e, rill__sink **sinks, size_t n, const char *topic,
                    const rill_buf *b) {
    for (size_t i = 0; i < n; i++) sink_failed(e, sinks[i], rill__sink_send(sinks[i], topic, b->data, b->len));
}

static void on_record(const rill_record *r, void *user) {
    op_out *o = user;
    rill_engine *e = o->e;
    e->emitted++;
    if (!o->n_sinks) return;
    rill__buf_clear(&e->rec);
    if (rill__encode_record(r, &e->rec) != RILL_OK) {
        if (!e->sink_rc) {
            e->sink_rc = RILL_ENOMEM;
            snprintf(e->sink_err, sizeof e->sink_err, "out of memory encoding a record of '%s'",
                     o->name);
        }
        return;
    }
    publish(e, o->sinks, o->n_sinks, o->name, &e->rec);
}

static int buf_write(void *data, const char *p, size_t n) {
    return rill__buf_append(data, p, n) == RILL_OK ? 0 : -1;
}

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s ? s : "");
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s ? s : "", n);
}

/* A key or id value: integer, string or nil. */
static int pack_value(msgpack_packer *pk, rill_value v) {
    switch (v.type) {
    case RILL_I64: return msgpack_pack_int64(pk, v.as.i64);
    case RILL_STRING:
        return msgpack_pack_str(pk, v.as.str.len) ||
               msgpack_pack_str_body(pk, v.as.str.ptr, v.as.str.len);
    case RILL_F64: return msgpack_pack_double(pk, v.as.f64);
    case RILL_BOOL: return v.as.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    default: return msgpack_pack_nil(pk);
    }
}

static void on_late(const rill_late_event *ev, void *user) {
    rill_engine *e = user;
    e->late++;
    if (!e->n_late_sinks) return;
    rill__buf_clear(&e->out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &e->out, buf_write);
    bool has_id = ev->id.type != RILL_NULL;
    int bad = msgpack_pack_map(&pk, 5 + has_id) ||
              pack_cstr(&pk, "op") || pack_cstr(&pk, ev->op) ||
              pack_cstr(&pk, "input") || pack_cstr(&pk, ev->input) ||
              pack_cstr(&pk, "ts") || msgpack_pack_int64(&pk, ev->ts) ||
              pack_cstr(&pk, "watermark") || msgpack_pack_int64(&pk, ev->watermark) ||
              pack_cstr(&pk, "key") || pack_value(&pk, ev->key);
    if (!bad && has_id) bad = pack_cstr(&pk, "id") || pack_value(&pk, ev->id);
    if (bad) {
        if (!e->sink_rc) {
            e->sink_rc = RILL_ENOMEM;
            snprintf(e->sink_err, sizeof e->sink_err, "out of memory encoding a late event");
        }
        return;
    }
    publish(e, e->late_sinks, e->n_late_sinks, "late", &e->out);
}

static void on_dead(void *user, const rill__dead_info *d) {
    rill_engine *e = user;
    if (!e->n_dead_sinks) return;
    rill__buf_clear(&e->out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &e->out, buf_write);
    size_t n = d->len < e->dead_prefix ? d->len : e->dead_prefix;
    int bad = msgpack_pack_map(&pk, 7) ||
              pack_cstr(&pk, "source") || pack_cstr(&pk, d->source) ||
              pack_cstr(&pk, "reason") || pack_cstr(&pk, rill__dead_reason_name(d->reason)) ||
              pack_cstr(&pk, "detail") || pack_cstr(&pk, d->detail) ||
              pack_cstr(&pk, "index") ||
              (d->index == SIZE_MAX ? msgpack_pack_nil(&pk) : msgpack_pack_uint64(&pk, d->index)) ||
              pack_cstr(&pk, "offset") || msgpack_pack_uint64(&pk, d->offset) ||
              pack_cstr(&pk, "size") || msgpack_pack_uint64(&pk, d->msg_size) ||
              pack_cstr(&pk, "bytes") || msgpack_pack_bin(&pk, n) ||
              msgpack_pack_bin_body(&pk, d->bytes, n);
    if (bad) {
        if (!e->sink_rc) {
            e->sink_rc = RILL_ENOMEM;
            snprintf(e->sink_err, sizeof e->sink_err, "out of memory encoding a dead letter");
        }
        return;
    }
    publish(e, e->dead_sinks, e->n_dead_sinks, "dead", &e->out);
}

/* ---- counters ------------------------------------------------------------------- */

static void snapshot(rill_engine *e) {
    rill_engine_stats s = { .late = e->late, .emitted = e->emitted, .batches = e->batches,
                            .commits = e->commits };
    uint64_t by_reason[RILL__DEAD_REASONS] = { 0 };
    for (size_t i = 0; i < e->n_sources; i++) {
        const rill__source_counts *c = rill__source_counts_get(e->sources[i]);
        s.received += c->received;
        s.received_bytes += c->received_bytes;
        s.decoded += c->dec.events;
        s.rejected += c->dec.rejected + c->envelope_rejected;
        s.unknown_fields += c->dec.unknown_fields;
        s.acks += c->acks;
        s.duplicates += c->duplicates;
        s.gaps += c->gaps;
        for (int r = 0; r < (int)RILL_DEAD__COUNT; r++) by_reason[r] += c->dec.by_reason[r];
        by_reason[RILL__DEAD_BAD_ENVELOPE] += c->envelope_rejected;
    }
    for (size_t i = 0; i < e->n_sinks; i++) s.sink_dropped += e->sinks[i].sink->dropped;
    for (size_t i = 0; i < e->metrics.n_sources; i++) {
        e->wm[i] = INT64_MIN;
        rill_plan_source_watermark(e->plan, e->metrics.source_names[i], &e->wm[i]);
    }
    rill__metrics_update(&e->metrics, &s, by_reason, e->wm);
}

/* One "models" record per model node (operators that are not models are
 * skipped: they answer RILL_EUNKNOWN_NODE). */
static int publish_models(rill_engine *e) {
    for (size_t k = 0; e->n_models_sinks && k < e->n_ops; k++) {
        rill__buf_clear(&e->out);
        int rc = rill__models_encode(e->plan, e->ops[k].name, wall_ms(), &e->out);
        if (rc == RILL_EUNKNOWN_NODE) continue;
        if (rc) {
            set_err(e, "out of memory encoding the models record");
            return rc;
        }
        publish(e, e->models_sinks, e->n_models_sinks, "models", &e->out);
    }
    return RILL_OK;
}

static int publish_metrics(rill_engine *e, bool final) {
    int rc = publish_models(e);
    if (rc || !e->n_metrics_sinks) return rc;
    rill__buf_clear(&e->out);
    if (rill__metrics_encode(&e->metrics, wall_ms(), final, &e->out) != RILL_OK) {
        set_err(e, "out of memory encoding the metrics record");
        return RILL_ENOMEM;
    }
    publish(e, e->metrics_sinks, e->n_metrics_sinks, "metrics", &e->out);
    return RILL_OK;
}

void rill_engine_get_stats(const rill_engine *e, rill_engine_stats *out) {
    rill__metrics_read((rill__metrics *)&e->metrics, out);
}

uint64_t rill_engine_rejected(const rill_engine *e, const char *reason) {
    for (int r = 0; reason && r < RILL__DEAD_REASONS; r++)
        if (!strcmp(rill__dead_reason_name(r), reason))
            return rill__metrics_rejected((rill__metrics *)&e->metrics, r);
    return 0;
}

const char *rill_engine_reason_name(size_t i) {
    return i < (size_t)RILL__DEAD_REASONS ? rill__dead_reason_name((int)i) : NULL;
}

int rill_engine_watermark(const rill_engine *e, const char *source, int64_t *out) {
    return rill__metrics_watermark((rill__metrics *)&e->metrics, source, out);
}

/* ---- state: sequence numbers and commits ------------------------------------------ */

static void put_be(unsigned char *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const unsigned char *b, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | b[i];
    return v;
}

/* The position of reliable source i among the engine's reliable sources
 * that feed the same graph source: with the graph source's name, what
 * identifies its sequence numbers across restarts (endpoints may change). */
static uint32_t reliable_ordinal(const rill_engine *e, size_t i) {
    uint32_t k = 0;
    const char *name = rill__source_name(e->sources[i]);
    for (size_t j = 0; j < i; j++)
        if (rill__source_is_reliable(e->sources[j]) && !strcmp(rill__source_name(e->sources[j]), name))
            k++;
    return k;
}

/* Hand the plan the producers blob when a table changed (or was never
 * set), so that the next commit writes it with the state it describes. */
static int set_producers_blob(rill_engine *e) {
    bool changed = !e->producers_saved;
    for (size_t i = 0; i < e->n_sources && !changed; i++)
        changed = rill__source_is_reliable(e->sources[i]) &&
                  rill__source_producers_changed(e->sources[i]);
    if (!e->has_reliable || !changed) return RILL_OK;
    rill_buf *b = &e->blob;
    rill__buf_clear(b);
    unsigned char h[8] = { PRODUCERS_VERSION };
    uint32_t sections = 0;
    for (size_t i = 0; i < e->n_sources; i++) sections += rill__source_is_reliable(e->sources[i]);
    put_be(h + 1, sections, 4);
    if (rill__buf_append(b, h, 5)) goto nomem;
    for (size_t i = 0; i < e->n_sources; i++) {
        if (!rill__source_is_reliable(e->sources[i])) continue;
        const char *name = rill__source_name(e->sources[i]);
        size_t nlen = strlen(name);
        if (nlen > 0xffff) nlen = 0xffff;
        put_be(h, nlen, 2);
        if (rill__buf_append(b, h, 2) || rill__buf_append(b, name, nlen)) goto nomem;
        put_be(h, reliable_ordinal(e, i), 4);
        if (rill__buf_append(b, h, 4) || rill__buf_append(b, h, 4)) goto nomem; /* length: below */
        size_t at = b->len;
        if (rill__source_save_producers(e->sources[i], b)) goto nomem;
        put_be((unsigned char *)b->data + at - 4, b->len - at, 4);
    }
    int rc = rill_plan_set_blob(e->plan, PRODUCERS_BLOB, b->data, b->len);
    if (rc != RILL_OK) {
        set_err(e, "cannot keep the sequence numbers for the commit: %s", rill_plan_errmsg(e->plan));
        return rc;
    }
    e->producers_saved = true;
    return RILL_OK;
nomem:
    set_err(e, "out of memory saving the sequence numbers");
    return RILL_ENOMEM;
}

/* Load the producers blob the plan resumed with, if any, into the reliable
 * sources (which then turn cautious about producers it lacks). */
static int load_producers_blob(rill_engine *e) {
    const void *data;
    size_t len;
    if (rill_plan_get_blob(e->plan, PRODUCERS_BLOB, &data, &len) != RILL_OK) return RILL_OK;
    const unsigned char *p = data, *end = p + len;
    if (len < 5 || p[0] != PRODUCERS_VERSION) goto corrupt;
    uint64_t sections = get_be(p + 1, 4);
    p += 5;
    for (uint64_t k = 0; k < sections; k++) {
        if (end - p < 2) goto corrupt;
        size_t nlen = (size_t)get_be(p, 2);
        if ((size_t)(end - p) < 2 + nlen + 8) goto corrupt;
        const char *name = (const char *)p + 2;
        uint32_t ordinal = (uint32_t)get_be(p + 2 + nlen, 4);
        size_t tlen = (size_t)get_be(p + 2 + nlen + 4, 4);
        p += 2 + nlen + 8;
        if ((size_t)(end - p) < tlen) goto corrupt;
        for (size_t i = 0; i < e->n_sources; i++) {
            rill__source *src = e->sources[i];
            if (!rill__source_is_reliable(src) || strlen(rill__source_name(src)) != nlen ||
                memcmp(rill__source_name(src), name, nlen) || reliable_ordinal(e, i) != ordinal)
                continue;
            char err[300];
            int rc = rill__source_load_producers(src, p, tlen, err, sizeof err);
            if (rc != RILL_OK) {
                set_err(e, "engine: %s: %s", e->state_desc, err);
                return rc;
            }
        }
        p += tlen;
    }
    if (p != end) goto corrupt;
    /* a reliable source with no table of its own is cautious too */
    for (size_t i = 0; i < e->n_sources; i++)
        if (rill__source_is_reliable(e->sources[i])) rill__source_set_cautious(e->sources[i]);
    return RILL_OK;
corrupt:
    set_err(e, "engine: %s: the stored sequence numbers (blob \"%s\", %zu bytes) are damaged",
            e->state_desc, PRODUCERS_BLOB, len);
    return RILL_ECORRUPT;
}

/* Commits run in two halves so that batches go on being processed while
 * RocksDB writes (rill_plan_commit_start): commit_begin hands the plan's
 * checkpoint, with the sequence numbers, to the state's writer and seals the
 * acks it covers; commit_end waits for the write and only then sends them.
 * On failure no ack owed is ever sent, the plan is unusable and the message
 * says why. */
static void commit_failed(rill_engine *e) {
    set_err(e, "the engine stopped: %s (%s; nothing after its last good commit was "
               "acknowledged, and a restart on it resumes from there)",
            rill_plan_errmsg(e->plan), e->state_desc);
    for (size_t i = 0; i < e->n_sources; i++) rill__source_drop_acks(e->sources[i]);
    e->commit_in_flight = false;
}

static int commit_end(rill_engine *e) {
    if (!e->commit_in_flight) return RILL_OK;
    int rc = rill_plan_commit_wait(e->plan);
    if (rc != RILL_OK) {
        commit_failed(e);
        return rc;
    }
    e->commit_in_flight = false;
    for (size_t i = 0; i < e->n_sources; i++) rill__source_send_acks(e->sources[i]);
    snapshot(e);
    return RILL_OK;
}

static int commit_begin(rill_engine *e) {
    int rc = commit_end(e);
    if (rc != RILL_OK) return rc;
    rc = set_producers_blob(e);
    if (rc == RILL_OK) rc = rill_plan_commit_start(e->plan);
    if (rc != RILL_OK) {
        commit_failed(e);
        return rc;
    }
    for (size_t i = 0; i < e->n_sources; i++) rill__source_seal_acks(e->sources[i]);
    e->commit_in_flight = true;
    e->commits++;
    e->dirty = false;
    e->since_commit = 0;
    return RILL_OK;
}

/* Without blocking: if the commit in flight is written, its acks go out. */
static int commit_end_if_written(rill_engine *e) {
    return e->commit_in_flight && rill_plan_commit_written(e->plan) ? commit_end(e) : RILL_OK;
}

/* A whole commit, written when it returns. */
static int commit(rill_engine *e) {
    int rc = commit_begin(e);
    return rc == RILL_OK ? commit_end(e) : rc;
}

/* Open the engine's own store as the options say (unless one was given). */
static int open_state(rill_engine *e, const rill_engine_opts *o, rill_state **st) {
    *st = o->state;
    if (o->state) {
        snprintf(e->state_desc, sizeof e->state_desc, "the given state store");
        return RILL_OK;
    }
    if (o->memory_state) {
        snprintf(e->state_desc, sizeof e->state_desc, "an in-memory state");
        int rc = rill_state_open_memory(&e->own_state);
        if (rc != RILL_OK) set_err(e, "engine: cannot open an in-memory state: %s", rill_state_errmsg(NULL));
        *st = e->own_state;
        return rc;
    }
    const char *dir = o->state_dir && o->state_dir[0] ? o->state_dir : "./rill-state";
    snprintf(e->state_desc, sizeof e->state_desc, "state directory '%s'", dir);
    int rc = rill_state_open_rocksdb(dir, &o->rocksdb, &e->own_state);
    if (rc != RILL_OK) {
        const char *why = rill_state_errmsg(NULL);
        const char *hint = "";
        if (rc == RILL_EIO && strstr(why, "lock"))
            hint = " (is another engine using this directory?)";
        else if (rc == RILL_ECORRUPT)
            hint = " (move it away, or restore it from a backup, to start again)";
        else if (rc == RILL_EIO && strstr(why, "No such file"))
            hint = " (its parent directory must exist)";
        set_err(e, "engine: cannot open the %s: %s%s", e->state_desc, why, hint);
    }
    *st = e->own_state;
    return rc;
}

/* ---- construction ---------------------------------------------------------------- */

static int add_sink_ptr(rill__sink ***list, size_t *n, rill__sink *s) {
    rill__sink **l = realloc(*list, (*n + 1) * sizeof **list);
    if (!l) return RILL_ENOMEM;
    l[(*n)++] = s;
    *list = l;
    return RILL_OK;
}

/* Resolve the outputs sink spec i selected into e->sinks[i]. */
static int select_outputs(rill_engine *e, const rill_engine_sink *spec, sink_sel *sel) {
    sel->ops = calloc(e->n_ops ? e->n_ops : 1, sizeof *sel->ops);
    if (!sel->ops) return RILL_ENOMEM;
    bool all = spec->n_outputs == 0;
    if (all) {
        sel->metrics = sel->dead = sel->late = sel->models = true;
        for (size_t k = 0; k < e->n_ops; k++) sel->ops[k] = true;
        return RILL_OK;
    }
    for (size_t j = 0; j < spec->n_outputs; j++) {
        const char *name = spec->outputs[j] ? spec->outputs[j] : "";
        bool found = false;
        for (size_t k = 0; k < e->n_ops; k++)
            if (!strcmp(name, e->ops[k].name)) sel->ops[k] = found = true;
        if (found) continue;
        if (!strcmp(name, "features")) {
            for (size_t k = 0; k < e->n_ops; k++) sel->ops[k] = true;
        } else if (!strcmp(name, "metrics")) {
            sel->metrics = true;
        } else if (!strcmp(name, "models")) {
            sel->models = true;
        } else if (!strcmp(name, "dead")) {
            sel->dead = true;
        } else if (!strcmp(name, "late")) {
            sel->late = true;
        } else {
            set_err(e, "sink %s: unknown output '%s' (expected an operator name, \"features\", "
                       "\"metrics\", \"models\", \"dead\" or \"late\")",
                    spec->endpoint ? spec->endpoint : "", name);
            return RILL_EINVAL;
        }
    }
    return RILL_OK;
}

static int check_opts(rill_engine *e, const rill_engine_opts *o) {
    if (!o || !o->n_sources || !o->sources) {
        set_err(e, "engine: at least one source is required");
        return RILL_EINVAL;
    }
    if (o->n_sinks && !o->sinks) {
        set_err(e, "engine: n_sinks is %zu but sinks is NULL", o->n_sinks);
        return RILL_EINVAL;
    }
    for (size_t i = 0; i < o->n_sources; i++) {
        const rill_engine_source *s = &o->sources[i];
        if (!s->source || !s->endpoint) {
            set_err(e, "engine: source %zu needs a graph source name and an endpoint", i);
            return RILL_EINVAL;
        }
        if (s->kind != RILL_SOURCE_PULL && s->kind != RILL_SOURCE_SUB &&
            s->kind != RILL_SOURCE_ROUTER) {
            set_err(e, "engine: source %zu has an unknown kind %d", i, (int)s->kind);
            return RILL_EINVAL;
        }
    }
    for (size_t i = 0; i < o->n_sinks; i++) {
        const rill_engine_sink *s = &o->sinks[i];
        if (s->kind != RILL_SINK_PUB && s->kind != RILL_SINK_PUSH && s->kind != RILL_SINK_JSONL) {
            set_err(e, "engine: sink %zu has an unknown kind %d", i, (int)s->kind);
            return RILL_EINVAL;
        }
    }
    return RILL_OK;
}

int rill_engine_new(rill_graph *g, const rill_engine_opts *o, rill_engine **out, char *errbuf,
                    size_t errlen) {
    *out = NULL;
    int rc = RILL_ENOMEM;
    rill_engine *e = calloc(1, sizeof *e);
    if (!e) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "engine: out of memory");
        return RILL_ENOMEM;
    }
    e->wake[0] = e->wake[1] = -1;
    atomic_init(&e->stop, 0);
    if (!g) {
        set_err(e, "engine: graph is NULL");
        rc = RILL_EINVAL;
        goto fail;
    }
    rc = check_opts(e, o);
    if (rc != RILL_OK) goto fail;

    e->max_batch = o->max_batch ? o->max_batch : 4096;
    e->linger_ms = o->linger_ms > 0 ? o->linger_ms : 0;
    e->metrics_ms = o->metrics_interval_ms ? o->metrics_interval_ms : 1000;
    e->tick_ms = o->tick_ms > 0 ? o->tick_ms : 100;
    e->commit_ms = o->commit_interval_ms > 0 ? o->commit_interval_ms : 1000;
    e->dead_prefix = o->dead_prefix_bytes ? o->dead_prefix_bytes : 256;
    e->close_linger_ms = o->close_linger_ms ? o->close_linger_ms : 2000;
    e->commit_batches = o->commit_every_batches > 0 ? o->commit_every_batches : 0;
    e->handle_signals = !o->no_signal_handlers;
    e->flush_on_stop = !o->no_flush_on_stop;

    rc = RILL_ENOMEM;
    /* operators, and a graph sink for each (the engine counts every record) */
    e->n_ops = rill_graph_op_count(g);
    e->ops = calloc(e->n_ops ? e->n_ops : 1, sizeof *e->ops);
    if (!e->ops) goto fail_nomem;
    for (size_t k = 0; k < e->n_ops; k++) {
        e->ops[k].e = e;
        e->ops[k].name = strdup(rill_graph_op_name(g, k));
        if (!e->ops[k].name) goto fail_nomem;
    }

    /* the metrics snapshot knows the graph sources the engine feeds */
    {
        const char **names = calloc(o->n_sources, sizeof *names);
        if (!names) goto fail_nomem;
        for (size_t i = 0; i < o->n_sources; i++) names[i] = o->sources[i].source;
        rc = rill__metrics_init(&e->metrics, names, o->n_sources);
        free(names);
        if (rc != RILL_OK) goto fail_nomem;
        e->wm = calloc(e->metrics.n_sources, sizeof *e->wm);
        if (!e->wm) goto fail_nomem;
    }

    e->zctx = zmq_ctx_new();
    if (!e->zctx) {
        set_err(e, "engine: cannot make a ZeroMQ context: %s", zmq_strerror(errno));
        rc = RILL_EZMQ;
        goto fail;
    }

    /* sources */
    e->sources = calloc(o->n_sources, sizeof *e->sources);
    e->items = calloc(o->n_sources + 1, sizeof *e->items);
    if (!e->sources || !e->items) goto fail_nomem;
    for (size_t i = 0; i < o->n_sources; i++) {
        const rill_engine_source *spec = &o->sources[i];
        const rill_schema *schema;
        rill_source_opts sopts;
        rc = rill_graph_source_info(g, spec->source, &schema, &sopts);
        if (rc != RILL_OK) {
            set_err(e, "engine: source %zu feeds '%s', which is not a source of the graph", i,
                    spec->source);
            goto fail;
        }
        rc = rill__source_open(e->zctx, spec, schema, &sopts, o->max_message_bytes, on_dead, e,
                               &e->sources[i], e->errmsg, sizeof e->errmsg);
        if (rc != RILL_OK) goto fail;
        e->n_sources = i + 1;
        e->has_reliable = e->has_reliable || spec->kind == RILL_SOURCE_ROUTER;
        e->items[i].socket = rill__source_socket(e->sources[i]);
        e->items[i].events = ZMQ_POLLIN;
    }

    /* sinks */
    e->sinks = calloc(o->n_sinks ? o->n_sinks : 1, sizeof *e->sinks);
    if (!e->sinks) goto fail_nomem;
    for (size_t i = 0; i < o->n_sinks; i++) {
        const rill_engine_sink *spec = &o->sinks[i];
        sink_sel *sel = &e->sinks[i];
        rc = select_outputs(e, spec, sel);
        if (rc != RILL_OK) {
            if (rc == RILL_ENOMEM) goto fail_nomem;
            free(sel->ops);
            goto fail;
        }
        rc = spec->kind == RILL_SINK_JSONL
                 ? rill__sink_jsonl_open(spec, &sel->sink, e->errmsg, sizeof e->errmsg)
                 : rill__sink_zmq_open(e->zctx, spec, &sel->sink, e->errmsg, sizeof e->errmsg);
        if (rc != RILL_OK) {
            free(sel->ops);
            goto fail;
        }
        e->n_sinks = i + 1;
        rc = RILL_ENOMEM;
        if (sel->metrics && add_sink_ptr(&e->metrics_sinks, &e->n_metrics_sinks, sel->sink))
            goto fail_nomem;
        if (sel->dead && add_sink_ptr(&e->dead_sinks, &e->n_dead_sinks, sel->sink))
            goto fail_nomem;
        if (sel->models && add_sink_ptr(&e->models_sinks, &e->n_models_sinks, sel->sink))
            goto fail_nomem;
        if (sel->late && add_sink_ptr(&e->late_sinks, &e->n_late_sinks, sel->sink))
            goto fail_nomem;
        for (size_t k = 0; k < e->n_ops; k++)
            if (sel->ops[k] && add_sink_ptr(&e->ops[k].sinks, &e->ops[k].n_sinks, sel->sink))
                goto fail_nomem;
    }

    /* the wake-up pipe for stop() and signals */
    if (pipe(e->wake)) {
        set_err(e, "engine: cannot make a pipe: %s", strerror(errno));
        e->wake[0] = e->wake[1] = -1;
        rc = RILL_EIO;
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(e->wake[i], F_SETFL, fcntl(e->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(e->wake[i], F_SETFD, FD_CLOEXEC);
    }
    e->items[e->n_sources].socket = NULL;
    e->items[e->n_sources].fd = e->wake[0];
    e->items[e->n_sources].events = ZMQ_POLLIN;

    /* the state (last of the resources: a bad option above leaves no
     * directory behind) */
    rill_state *st;
    rc = open_state(e, o, &st);
    if (rc != RILL_OK) goto fail;

    /* wire the graph to the engine, then compile */
    for (size_t k = 0; k < e->n_ops; k++) {
        char name[300];
        snprintf(name, sizeof name, "rill.engine.%s", e->ops[k].name);
        rc = rill_graph_sink(g, name, e->ops[k].name, on_record, &e->ops[k]);
        if (rc != RILL_OK) {
            set_err(e, "engine: cannot add a sink to operator '%s': %s", e->ops[k].name,
                    rill_graph_errmsg(g));
            goto fail;
        }
    }
    rc = rill_graph_on_late(g, on_late, e);
    if (rc != RILL_OK) {
        set_err(e, "engine: cannot set the late callback: %s", rill_graph_errmsg(g));
        goto fail;
    }
    rill_plan_opts popts = { .state = st, .discard_mismatched_state = o->discard_mismatched_state,
                             .max_hot_keys = o->max_hot_keys };
    rc = rill_graph_compile(g, &popts, &e->plan);
    if (rc == RILL_ESTATE_MISMATCH) {
        set_err(e, "engine: %s was written by a different graph (set discard_mismatched_state "
                   "to delete its state and start afresh): %s",
                e->state_desc, rill_graph_errmsg(g));
        goto fail;
    }
    if (rc != RILL_OK) {
        set_err(e, "engine: compile failed: %s", rill_graph_errmsg(g));
        goto fail;
    }
    rc = load_producers_blob(e);
    if (rc != RILL_OK) goto fail;
    rc = commit(e);
    if (rc != RILL_OK) {
        char why[sizeof e->errmsg];
        snprintf(why, sizeof why, "%s", rill_plan_errmsg(e->plan));
        set_err(e, "engine: cannot commit to the %s: %s", e->state_desc, why);
        goto fail;
    }
    snapshot(e);
    *out = e;
    return RILL_OK;

fail_nomem:
    rc = RILL_ENOMEM;
    set_err(e, "engine: out of memory");
fail:
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", e->errmsg);
    e->close_linger_ms = -1;
    rill_engine_free(e);
    return rc;
}

void rill_engine_free(rill_engine *e) {
    if (!e) return;
    for (size_t i = 0; i < e->n_sources; i++) rill__source_close(e->sources[i]);
    for (size_t i = 0; i < e->n_sinks; i++) {
        rill__sink_close(e->sinks[i].sink, e->close_linger_ms);
        free(e->sinks[i].ops);
    }
    if (e->zctx) zmq_ctx_term(e->zctx);
    rill_plan_free(e->plan);
    rill_state_close(e->own_state); /* after the plan that used it */
    rill__buf_free(&e->blob);
    for (size_t k = 0; k < e->n_ops; k++) {
        free(e->ops[k].name);
        free(e->ops[k].sinks);
    }
    free(e->ops);
    free(e->sources);
    free(e->sinks);
    free(e->items);
    free(e->dead_sinks);
    free(e->late_sinks);
    free(e->metrics_sinks);
    free(e->models_sinks);
    free(e->wm);
    rill__buf_free(&e->out);
    rill__buf_free(&e->rec);
    rill__metrics_destroy(&e->metrics);
    if (e->wake[0] >= 0) close(e->wake[0]);
    if (e->wake[1] >= 0) close(e->wake[1]);
    free(e);
}

const char *rill_engine_errmsg(const rill_engine *e) { return e ? e->errmsg : "engine is NULL"; }

const char *rill_engine_source_endpoint(const rill_engine *e, size_t i) {
    return i < e->n_sources ? rill__source_endpoint(e->sources[i]) : NULL;
}

const char *rill_engine_sink_endpoint(const rill_engine *e, size_t i) {
    return i < e->n_sinks ? e->sinks[i].sink->endpoint : NULL;
}

/* ---- stopping ------------------------------------------------------------------- */

static volatile sig_atomic_t s_signalled;
static volatile sig_atomic_t s_signal_fd = -1;

/* The first SIGINT/SIGTERM asks for a clean stop; a second one, while the
 * stop is under way, ends the process the default way. */
static void on_signal(int sig) {
    int saved = errno;
    if (s_signalled) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    s_signalled = 1;
    int fd = s_signal_fd;
    if (fd >= 0) {
        ssize_t n = write(fd, "s", 1);
        (void)n;
    }
    errno = saved;
}

void rill_engine_stop(rill_engine *e) {
    if (!e) return;
    atomic_store(&e->stop, 1);
    if (e->wake[1] >= 0) {
        ssize_t n = write(e->wake[1], "x", 1);
        (void)n; /* a full pipe already holds a wake-up */
    }
}

static bool stopping(rill_engine *e) {
    return atomic_load(&e->stop) || (e->handle_signals && s_signalled);
}

static void drain_wake(rill_engine *e) {
    char buf[64];
    while (read(e->wake[0], buf, sizeof buf) > 0) {}
}

/* ---- the loop ------------------------------------------------------------------- */

/* Run what the sources decoded, then the ack point. */
static int run_batch(rill_engine *e, int64_t *last_commit, bool force_commit) {
    bool rows = false, acks = false;
    for (size_t i = 0; i < e->n_sources; i++) {
        rill__source *s = e->sources[i];
        rill_batch *b = rill__source_batch(s);
        if (rill_batch_len(b)) {
            rows = true;
            int rc = rill_plan_push(e->plan, rill__source_name(s), b);
            rill_batch_clear(b);
            if (rc != RILL_OK) {
                set_err(e, "plan failed on a batch of '%s': %s", rill__source_name(s),
                        rill_plan_errmsg(e->plan));
                return rc;
            }
        }
        acks = acks || rill__source_acks_pending(s);
    }
    if (e->sink_rc) {
        set_err(e, "%s", e->sink_err);
        return e->sink_rc;
    }
    if (rows) {
        e->batches++;
        e->dirty = true;
        e->since_commit++;
    }
    /* Outputs first: what the batch emitted is out of the process before
     * the commit that covers the batch (at-least-once output). */
    for (size_t i = 0; i < e->n_sinks; i++) {
        int rc = rill__sink_flush(e->sinks[i].sink);
        if (rc != RILL_OK) {
            set_err(e, "%s", e->sinks[i].sink->errmsg);
            return rc;
        }
    }
    /* The ack point: a producer hears "processed" only once the batches
     * holding its messages are committed, with its sequence number. */
    int64_t now = mono_ms();
    bool due = force_commit ||
               (e->commit_batches ? e->since_commit >= e->commit_batches : acks) ||
               ((e->dirty || acks) && now - *last_commit >= e->commit_ms);
    int rc = force_commit ? commit(e) : due ? commit_begin(e) : RILL_OK;
    if (rc != RILL_OK) return rc;
    if (due) *last_commit = now;
    if ((rc = commit_end_if_written(e)) != RILL_OK) return rc;
    snapshot(e);
    return RILL_OK;
}

/* Take what is queued on every source, round-robin, up to `room` events;
 * *msgs counts the messages taken. */
static int drain_sources(rill_engine *e, size_t room, size_t *msgs) {
    *msgs = 0;
    for (size_t i = 0; i < e->n_sources; i++) {
        size_t used = 0;
        for (size_t j = 0; j < e->n_sources; j++) used += rill_batch_len(rill__source_batch(e->sources[j]));
        if (used >= room) break;
        size_t n = 0;
        int rc = rill__source_drain(e->sources[i], room - used, &n, e->errmsg, sizeof e->errmsg);
        *msgs += n;
        if (rc != RILL_OK) return rc;
    }
    return RILL_OK;
}

static size_t batch_rows(rill_engine *e) {
    size_t n = 0;
    for (size_t i = 0; i < e->n_sources; i++) n += rill_batch_len(rill__source_batch(e->sources[i]));
    return n;
}

/* Form one micro-batch (max_batch events, or the linger after the first
 * message has passed) and run it. */
static int collect_and_run(rill_engine *e, int64_t *last_commit) {
    int64_t deadline = mono_ms() + e->linger_ms;
    for (;;) {
        size_t msgs;
        int rc = drain_sources(e, e->max_batch, &msgs);
        if (rc != RILL_OK) return rc;
        if (batch_rows(e) >= e->max_batch || e->linger_ms == 0 || stopping(e)) break;
        int64_t left = deadline - mono_ms();
        if (left <= 0) break;
        if (zmq_poll(e->items, (int)e->n_sources + 1, (long)left) < 0 && errno != EINTR) {
            set_err(e, "zmq_poll failed: %s", zmq_strerror(errno));
            return RILL_EZMQ;
        }
    }
    return run_batch(e, last_commit, false);
}

/* Drain what is queued, fire what is open, commit, ack, report. */
static int finish(rill_engine *e, int64_t *last_commit) {
    /* bounded: a producer that never stops sending cannot hold the stop */
    int64_t until = mono_ms() + 2000;
    for (;;) {
        size_t msgs;
        int rc = drain_sources(e, e->max_batch, &msgs);
        if (rc != RILL_OK) return rc;
        rc = run_batch(e, last_commit, false);
        if (rc != RILL_OK) return rc;
        if (msgs == 0 || mono_ms() > until) break;
    }
    if (e->flush_on_stop) {
        int rc = rill_plan_flush(e->plan);
        if (rc != RILL_OK) {
            set_err(e, "flush failed: %s", rill_plan_errmsg(e->plan));
            return rc;
        }
        if (e->sink_rc) {
            set_err(e, "%s", e->sink_err);
            return e->sink_rc;
        }
    }
    int rc = run_batch(e, last_commit, true);
    if (rc != RILL_OK) return rc;
    rc = publish_metrics(e, true);
    for (size_t i = 0; i < e->n_sinks; i++) rill__sink_flush(e->sinks[i].sink);
    return rc;
}

int rill_engine_run(rill_engine *e) {
    if (e->ran) {
        set_err(e, "engine: rill_engine_run() was already called");
        return RILL_ESTOPPED;
    }
    e->ran = true;
    struct sigaction old_int, old_term;
    if (e->handle_signals) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        s_signalled = 0;
        s_signal_fd = e->wake[1];
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }

    int rc = RILL_OK;
    int64_t now = mono_ms();
    int64_t next_tick = now + e->tick_ms;
    int64_t next_metrics = e->metrics_ms > 0 ? now + e->metrics_ms : INT64_MAX;
    int64_t last_commit = now;
    while (!stopping(e)) {
        int64_t wait = (next_tick < next_metrics ? next_tick : next_metrics) - now;
        if (wait < 0) wait = 0;
        if (e->commit_in_flight && wait > 1) wait = 1; /* its acks go out soon after the write */
        int n = zmq_poll(e->items, (int)e->n_sources + 1, (long)wait);
        if (n < 0 && errno != EINTR) {
            set_err(e, "zmq_poll failed: %s", zmq_strerror(errno));
            rc = RILL_EZMQ;
            break;
        }
        if (n > 0) {
            if (e->items[e->n_sources].revents & ZMQ_POLLIN) drain_wake(e);
            bool input = false;
            for (size_t i = 0; i < e->n_sources; i++) input = input || (e->items[i].revents & ZMQ_POLLIN);
            if (input) {
                rc = collect_and_run(e, &last_commit);
                if (rc != RILL_OK) break;
            }
        }
        if ((rc = commit_end_if_written(e)) != RILL_OK) break;
        now = mono_ms();
        if (now >= next_tick) {
            next_tick = now + e->tick_ms;
            rc = rill_plan_tick(e->plan);
            if (rc != RILL_OK) {
                set_err(e, "tick failed: %s", rill_plan_errmsg(e->plan));
                break;
            }
            rc = run_batch(e, &last_commit, false); /* what the tick fired: flush, commit */
            if (rc != RILL_OK) break;
        }
        if (now >= next_metrics) {
            next_metrics = now + e->metrics_ms;
            rc = publish_metrics(e, false);
            if (rc != RILL_OK) break;
        }
    }
    if (rc == RILL_OK) rc = finish(e, &last_commit);
    else
        for (size_t i = 0; i < e->n_sources; i++) rill__source_drop_acks(e->sources[i]);

    if (e->handle_signals) {
        s_signal_fd = -1;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    return rc;
}
