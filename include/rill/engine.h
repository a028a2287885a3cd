/* rill/engine.h — running a graph on events that arrive over ZeroMQ.
 *
 * An engine owns a compiled plan, the sockets its events arrive on (sources)
 * and the sockets and files its outputs leave by (sinks). rill_engine_run()
 * polls the sources, decodes each message straight into a columnar
 * micro-batch, runs the plan on it, publishes what the operators emit and
 * acknowledges reliable producers once the batch is committed. It returns
 * when rill_engine_stop() is called (from any thread) or, unless disabled, on
 * SIGINT/SIGTERM: what is queued is drained, open windows are flushed, the
 * state is committed and the outputs are delivered before it returns.
 *
 * Wire format (see the README): one message is one msgpack map (an event)
 * or an array of maps (a batch of events); "ts" (integer ms), "key" (string
 * or integer) and optional "id" are reserved, every other entry is a field
 * of the source's schema.
 *
 * Outputs. Every output has a name, which is also its ZeroMQ topic:
 *   <operator name>  the operator's window records: a msgpack map
 *                    {"op","key","start","end","ts",["id"],["update"],
 *                     <aggregate name>: value ...}
 *   "metrics"        the counters below and the watermark of each source,
 *                    every metrics_interval_ms
 *   "dead"           a rejected event or message: {"source","reason",
 *                    "detail","index","offset","size","bytes"} where bytes
 *                    is the offending bytes (at most dead_prefix_bytes)
 *   "late"           an event behind the allowed lateness of an operator:
 *                    {"op","input","ts","watermark","key",["id"]}
 *   "models"         per model node, every metrics_interval_ms:
 *                    {"model","ts","cumulative":{...},"window":{...},
 *                     "stats":{...}} — the prequential metrics (n,
 *                    positives, accuracy, log_loss, auc, auc_err, precision,
 *                    recall, mae, rmse; nil when undefined) and the label
 *                    join's counters of rill_plan_model_metrics()
 * A sink selects outputs by name; "features" selects every operator output.
 * PUB and PUSH sinks send each record as two frames [topic, msgpack map];
 * a JSON-lines sink writes one JSON object per record with "topic" first.
 *
 * Reliable sources (RILL_SOURCE_ROUTER). A producer connects a DEALER
 * socket whose routing id (ZMQ_ROUTING_ID, 1..255 bytes, not starting with
 * a zero byte) names it across restarts, and sends two frames
 * [seq, payload]: seq is a uint64, 8 bytes big-endian, 1 for its first
 * message and one more for each next. The engine answers with one frame
 * [first, last] (two uint64, 16 bytes big-endian): every message of that
 * producer with first <= seq <= last has been processed. "Processed" means
 * that the batch holding it went through rill_plan_commit(): acks wait for
 * the commit and are never sent when it fails. A message with seq at or
 * below the last one applied for its producer is a duplicate (a resend, or
 * a producer restarting from an old number): it is dropped, counted and
 * acknowledged again. A message that skips ahead (a gap: something before
 * it was lost) is dropped unacknowledged and counted; the producer resends
 * from its oldest unacknowledged message. A producer the engine has not
 * seen yet starts at the sequence number of its first message.
 *
 * State and restarts. The engine keeps its plan's state in RocksDB (by
 * default in ./rill-state; see the state options below) and commits it,
 * with each producer's last applied sequence number, in one atomic write:
 * after every batch holding reliable messages (or every N batches / T ms,
 * as set) and at the stop. A new engine on the same directory resumes from
 * the last commit: windows, watermarks and sequence numbers. Producers
 * resend what was not acknowledged; what the commit already holds is
 * dropped as duplicates, so no acknowledged event is lost and none counts
 * twice. Outputs are written to sinks before the commit that covers them,
 * so records emitted after the last commit of a killed engine are emitted
 * again after the restart (at-least-once output, exactly-once state).
 * After a restart from a checkpoint, a producer the checkpoint does not
 * know is taken at once only from sequence number 1; any other first
 * number waits for the producer's resend (its oldest unacknowledged
 * message, seen a second time), since the engine cannot tell a new
 * producer from one whose first messages died with the previous process.
 * A failed commit (a RocksDB write error, a full disk) sends no ack for
 * anything it did not cover and ends rill_engine_run() with the error; the
 * store keeps the last good commit, from which a restart resumes.
 */
#ifndef RILL_ENGINE_H
#define RILL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rill/error.h"
#include "rill/graph.h"
#include "rill/plan.h"
#include "rill/state.h"

typedef struct rill_engine rill_engine;

/* ---- sources -------------------------------------------------------------- */

typedef enum rill_source_kind {
    RILL_SOURCE_PULL = 0,   /* a PULL socket: one frame per message (the last
                               frame is the payload when there are several) */
    RILL_SOURCE_SUB = 1,    /* a SUB socket: [topic, payload] or [payload] */
    RILL_SOURCE_ROUTER = 2, /* reliable: sequence numbers and acks (above) */
} rill_source_kind;

typedef struct rill_engine_source {
    const char *source;   /* the graph source the events feed (required) */
    rill_source_kind kind;
    /* A ZeroMQ endpoint ("tcp://127.0.0.1:5555", "tcp://0.0.0.0:5555",
     * "ipc:///tmp/rill.sock"). A tcp port "*" picks a free port; read the
     * one chosen with rill_engine_source_endpoint(). */
    const char *endpoint;
    bool connect;         /* connect to endpoint instead of binding it */
    /* SUB: subscribe to these topic prefixes; none = every message. */
    const char *const *topics;
    size_t n_topics;
    /* Reject events that carry a field the schema does not have (default:
     * ignore the field and count it). */
    bool strict;
} rill_engine_source;

/* ---- sinks ---------------------------------------------------------------- */

typedef enum rill_sink_kind {
    RILL_SINK_PUB = 0,   /* a PUB socket (never blocks; slow subscribers drop) */
    RILL_SINK_PUSH = 1,  /* a PUSH socket (a record finding no ready peer is
                            dropped and counted, so the engine never stalls) */
    RILL_SINK_JSONL = 2, /* a file, one JSON object per line, appended */
} rill_sink_kind;

typedef struct rill_engine_sink {
    rill_sink_kind kind;
    /* A ZeroMQ endpoint for PUB and PUSH (as for sources); a file path for
     * JSONL ("-" is standard output). */
    const char *endpoint;
    bool connect;         /* PUB/PUSH: connect instead of bind */
    /* The outputs this sink carries: operator names, "features" (every
     * operator), "metrics", "models", "dead", "late". None = every output. */
    const char *const *outputs;
    size_t n_outputs;
} rill_engine_sink;

/* ---- options -------------------------------------------------------------- */

typedef struct rill_engine_opts {
    const rill_engine_source *sources; /* at least one */
    size_t n_sources;
    const rill_engine_sink *sinks;
    size_t n_sinks;
    /* ---- state (see "State and restarts" above) ---- */
    /* A store the caller opened (borrowed; it must outlive the engine). NULL
     * (the default) = the engine opens its own RocksDB store in state_dir
     * with the rocksdb options, and closes it when freed. */
    rill_state *state;
    /* The engine's RocksDB directory; NULL = "./rill-state". Made when
     * missing (its parent must exist) unless rocksdb.must_exist. */
    const char *state_dir;
    /* Block cache, write buffer, compression and sync of the engine's own
     * store. sync = false (the default): when a commit returns (and its
     * acks go out) it is in RocksDB's write-ahead log in the operating
     * system's file cache, so it survives a crash or kill of the engine but
     * not a power loss or kernel crash; true: every commit is fsynced
     * before its acks (durable against power loss too; costs a disk flush
     * per commit, typically 0.1-10 ms, so fewer, larger commits pay off). */
    rill_rocksdb_opts rocksdb;
    /* A private in-memory store instead of RocksDB (tests, throwaway runs;
     * nothing survives the process). */
    bool memory_state;
    /* When the state holds a checkpoint of a different graph, delete it and
     * start afresh instead of failing rill_engine_new() with
     * RILL_ESTATE_MISMATCH (whose message names the first difference). */
    bool discard_mismatched_state;
    /* Keep at most this many keys per operator in memory (0 = all); see
     * rill_plan_opts.max_hot_keys. */
    size_t max_hot_keys;
    /* Commit after this many batches. 0 (the default) = after every batch
     * that holds reliable messages (their acks wait for the commit) and
     * otherwise by commit_interval_ms only. Larger values trade ack latency
     * for fewer, larger commits. */
    int commit_every_batches;
    /* A micro-batch closes when it holds this many events (a message is
     * never split, so a batch may end a little over); 0 = 4096. */
    size_t max_batch;
    /* After the first message of a batch, wait up to this long for more
     * before running it; 0 = run at once with what is already queued. */
    int linger_ms;
    /* A message longer than this is rejected (reason "oversize");
     * 0 = 16 MiB. One over 4 times this (at least 1 MiB) is refused by
     * ZeroMQ itself, which drops the sender's connection. */
    size_t max_message_bytes;
    /* Publish "metrics" this often; 0 = 1000, negative = never. */
    int metrics_interval_ms;
    /* While no input arrives, call rill_plan_tick() this often, which is
     * when sources idle for their idle_timeout_ms (rill_source_opts) stop
     * holding the watermark back; 0 = 100. */
    int tick_ms;
    /* Commit when this long has passed since the last commit and something
     * changed or acks are owed; 0 = 1000. */
    int commit_interval_ms;
    /* How many bytes of a rejected message the "dead" output carries;
     * 0 = 256. */
    size_t dead_prefix_bytes;
    /* On close, how long sockets may still deliver queued outputs;
     * 0 = 2000, negative = do not wait. */
    int close_linger_ms;
    /* Leave SIGINT and SIGTERM alone (by default rill_engine_run() handles
     * them while it runs, as a stop, and restores the old handlers). */
    bool no_signal_handlers;
    /* On stop, commit without firing open windows (a later run resumes
     * them) instead of flushing every open window. */
    bool no_flush_on_stop;
} rill_engine_opts;

/* ---- lifecycle ------------------------------------------------------------ */

/* Make an engine for graph g: open and bind/connect every socket, open the
 * JSON-lines files, open the state (unless given), add the engine's sinks
 * and late-event callback to g (which takes over any late callback set
 * before), compile it (resuming from the state's checkpoint) and commit
 * once, so that the state holds this graph from the start. g is
 * borrowed only during the call (the plan lives on without it); once the
 * sinks are added g belongs to this engine: free it, do not compile it or
 * hand it to another engine.
 * On success *out is the engine, freed with rill_engine_free(). On failure
 * *out is NULL, nothing stays open, and errbuf (if not NULL) says what
 * failed (the endpoint, the compile message). State failures: RILL_EIO (the
 * directory cannot be made or written, its parent is missing, or another
 * process has it open), RILL_ECORRUPT (damaged files, or a RocksDB
 * database that is not a rill store, or damaged sequence numbers),
 * RILL_ESTATE (rocksdb.must_exist and no store there, or a refused write),
 * RILL_ESTATE_MISMATCH (a different graph's checkpoint). */
int rill_engine_new(rill_graph *g, const rill_engine_opts *opts, rill_engine **out,
                    char *errbuf, size_t errlen);

/* Run until stopped (see the top of this file); a second SIGINT/SIGTERM
 * during the stop ends the process. Returns RILL_OK after a
 * clean stop; an error status when the plan failed (RILL_ENOMEM, a state
 * error) or a socket failed, with rill_engine_errmsg() saying which: acks
 * not yet sent are then never sent. An engine runs once: a second call
 * returns RILL_ESTOPPED. */
int rill_engine_run(rill_engine *e);

/* Ask a running (or about to run) engine to stop. Safe from any thread and
 * from a signal handler; returns at once. */
void rill_engine_stop(rill_engine *e);

/* Close every socket and file and free everything. Accepts NULL. Must not
 * be called while rill_engine_run() runs. */
void rill_engine_free(rill_engine *e);

const char *rill_engine_errmsg(const rill_engine *e);

/* The endpoint source i (or sink i) is bound or connected to, with a
 * wildcard port resolved ("tcp://127.0.0.1:41233"). NULL when i is out of
 * range. Lives with e. */
const char *rill_engine_source_endpoint(const rill_engine *e, size_t i);
const char *rill_engine_sink_endpoint(const rill_engine *e, size_t i);

/* ---- counters ------------------------------------------------------------- */

typedef struct rill_engine_stats {
    uint64_t received;       /* messages received */
    uint64_t received_bytes;
    uint64_t decoded;        /* events decoded into micro-batches */
    uint64_t rejected;       /* dead letters: events or whole messages */
    uint64_t unknown_fields; /* unknown entries ignored in accepted events */
    uint64_t late;           /* events behind an operator's allowed lateness */
    uint64_t emitted;        /* operator output records */
    uint64_t batches;        /* micro-batches run */
    uint64_t commits;        /* successful commits (rill_engine_new's included) */
    uint64_t acks;           /* reliable: ack messages sent */
    uint64_t duplicates;     /* reliable: messages dropped as already applied */
    uint64_t gaps;           /* reliable: messages dropped for a sequence gap */
    uint64_t sink_dropped;   /* records a PUSH sink had no ready peer for */
} rill_engine_stats;

/* A snapshot of the counters, as of the last finished batch. Safe from any
 * thread while the engine runs. */
void rill_engine_get_stats(const rill_engine *e, rill_engine_stats *out);

/* Dead letters so far with the given reason (its name on the "dead"
 * output, e.g. "missing_ts"); 0 for a name that is no reason. Safe from
 * any thread. */
uint64_t rill_engine_rejected(const rill_engine *e, const char *reason);

/* The name of the i-th dead-letter reason, for listing them all; NULL past
 * the last one. Static storage. */
const char *rill_engine_reason_name(size_t i);

/* The watermark of graph source name (INT64_MIN before its first event), as
 * of the last finished batch. RILL_EUNKNOWN_NODE for a source the engine
 * does not feed. Safe from any thread. */
int rill_engine_watermark(const rill_engine *e, const char *source, int64_t *out);

#endif
