/* examples/engine_example.c — a small rill engine process: per-key
 * tumbling-window count, sum and mean of one numeric field, fed over
 * ZeroMQ and published over ZeroMQ.
 *
 * The graph: source "events" with one f64 field (default "value"), and an
 * operator "stats" = tumbling window of --window-ms over it, keyed by the
 * event key, with aggregates count, sum and mean. Events arrive on a PULL
 * socket (and, optionally, a reliable ROUTER socket); window records, the
 * metrics, dead letters and late events leave on a PUB socket (and,
 * optionally, a JSON-lines file). It runs until SIGINT or SIGTERM, then
 * flushes every open window and exits.
 *
 * State lives in RocksDB (./rill-state unless --state-dir says otherwise):
 * killed and restarted on the same directory, it resumes from its last
 * commit, and a reliable producer's resends are dropped where the commit
 * already holds them.
 *
 * On start it prints one line per socket, "source <endpoint>",
 * "reliable <endpoint>", "sink <endpoint>", then "ready", on standard
 * output, so a script can bind to port * and learn the port chosen.
 *
 *   rill-engine-example --in tcp://127.0.0.1:5555 --out tcp://127.0.0.1:5556
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill/rill.h"

static const char *s_usage =
"usage: rill-engine-example [options]\n"
"\n"
"Run a rill engine: per key, tumbling windows with count, sum and mean of\n"
"one field, over events sent with rill-feed; watch the results with rill-tap\n"
"(topic \"stats\"; also \"metrics\", \"dead\", \"late\").\n"
"\n"
"  --in EP           PULL source endpoint to bind (default tcp://127.0.0.1:5555)\n"
"  --reliable EP     also a reliable ROUTER source at EP (rill-feed --reliable)\n"
"  --out EP          PUB sink endpoint to bind (default tcp://127.0.0.1:5556)\n"
"  --jsonl FILE      also append every output to FILE as JSON lines\n"
"  --field NAME      the numeric field (default value)\n"
"  --window-ms N     window size (default 60000)\n"
"  --ooo-ms N        allowed out-of-orderness of event time (default 0)\n"
"  --lateness-ms N   allowed lateness after a window closed (default 0)\n"
"  --idle-ms N       the source turns idle after N ms without events (default 0: never)\n"
"  --on-event        emit on every event instead of when a window closes\n"
"  --max-batch N     events per micro-batch (default 4096)\n"
"  --linger-ms N     wait for more events before a batch (default 0)\n"
"  --metrics-ms N    metrics interval (default 1000)\n"
"  --strict          reject events with unknown fields\n"
"\n"
"State (RocksDB unless --memory-state; a restart resumes from the last commit):\n"
"  --state-dir DIR   the state directory (default ./rill-state)\n"
"  --memory-state    keep the state in memory instead (lost on exit)\n"
"  --sync            fsync every commit (survives power loss; slower)\n"
"  --commit-batches N  commit every N batches (default: every batch with\n"
"                    reliable messages)\n"
"  --commit-ms N     commit at least every N ms (default 1000)\n"
"  --block-cache-mb N  RocksDB block cache (default 32)\n"
"  --write-buffer-mb N RocksDB write buffer (default 64)\n"
"  --compression C   lz4 (default), zstd, snappy or none\n"
"  --max-hot-keys N  keep at most N keys per operator in memory (default all)\n"
"  --discard-state   start afresh if the state holds a different graph\n"
"  -h, --help        this text\n"
"\n"
"Exit status: 0 after SIGINT/SIGTERM, 1 usage error, 2 the engine failed\n"
"(a state that cannot be opened or written, a socket error).\n";

int main(int argc, char **argv) {
    const char *in = "tcp://127.0.0.1:5555", *out = "tcp://127.0.0.1:5556";
    const char *reliable = NULL, *jsonl = NULL, *field = "value";
    long long window = 60000, ooo = 0, lateness = 0, idle = 0;
    long long max_batch = 0, linger = 0, metrics = 0;
    bool on_event = false, strict = false;
    const char *state_dir = NULL, *compression = "lz4";
    bool memory_state = false, sync = false, discard = false;
    long long commit_batches = 0, commit_ms = 0, cache_mb = 0, wbuf_mb = 0, hot_keys = 0;
    enum { O_IN = 256, O_REL, O_OUT, O_JSONL, O_FIELD, O_WIN, O_OOO, O_LATE, O_IDLE, O_ONEV,
           O_MAXB, O_LINGER, O_METRICS, O_STRICT, O_SDIR, O_SMEM, O_SYNC, O_CBATCH, O_CMS,
           O_CACHE, O_WBUF, O_COMP, O_HOT, O_DISCARD };
    static const struct option lo[] = {
        { "in", required_argument, 0, O_IN }, { "reliable", required_argument, 0, O_REL },
        { "out", required_argument, 0, O_OUT }, { "jsonl", required_argument, 0, O_JSONL },
        { "field", required_argument, 0, O_FIELD }, { "window-ms", required_argument, 0, O_WIN },
        { "ooo-ms", required_argument, 0, O_OOO }, { "lateness-ms", required_argument, 0, O_LATE },
        { "idle-ms", required_argument, 0, O_IDLE }, { "on-event", no_argument, 0, O_ONEV },
        { "max-batch", required_argument, 0, O_MAXB }, { "linger-ms", required_argument, 0, O_LINGER },
        { "metrics-ms", required_argument, 0, O_METRICS }, { "strict", no_argument, 0, O_STRICT },
        { "state-dir", required_argument, 0, O_SDIR }, { "memory-state", no_argument, 0, O_SMEM },
        { "sync", no_argument, 0, O_SYNC }, { "commit-batches", required_argument, 0, O_CBATCH },
        { "commit-ms", required_argument, 0, O_CMS }, { "block-cache-mb", required_argument, 0, O_CACHE },
        { "write-buffer-mb", required_argument, 0, O_WBUF },
        { "compression", required_argument, 0, O_COMP },
        { "max-hot-keys", required_argument, 0, O_HOT },
        { "discard-state", no_argument, 0, O_DISCARD },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_IN: in = optarg; break;
        case O_REL: reliable = optarg; break;
        case O_OUT: out = optarg; break;
        case O_JSONL: jsonl = optarg; break;
        case O_FIELD: field = optarg; break;
        case O_WIN: window = atoll(optarg); break;
        case O_OOO: ooo = atoll(optarg); break;
        case O_LATE: lateness = atoll(optarg); break;
        case O_IDLE: idle = atoll(optarg); break;
        case O_ONEV: on_event = true; break;
        case O_MAXB: max_batch = atoll(optarg); break;
        case O_LINGER: linger = atoll(optarg); break;
        case O_METRICS: metrics = atoll(optarg); break;
        case O_STRICT: strict = true; break;
        case O_SDIR: state_dir = optarg; break;
        case O_SMEM: memory_state = true; break;
        case O_SYNC: sync = true; break;
        case O_CBATCH: commit_batches = atoll(optarg); break;
        case O_CMS: commit_ms = atoll(optarg); break;
        case O_CACHE: cache_mb = atoll(optarg); break;
        case O_WBUF: wbuf_mb = atoll(optarg); break;
        case O_COMP: compression = optarg; break;
        case O_HOT: hot_keys = atoll(optarg); break;
        case O_DISCARD: discard = true; break;
        case 'h': fputs(s_usage, stdout); return 0;
        default: fputs("run 'rill-engine-example --help' for the options\n", stderr); return 1;
        }
    }
    if (window <= 0 || ooo < 0 || lateness < 0 || idle < 0 || max_batch < 0 || linger < 0 ||
        commit_batches < 0 || commit_ms < 0 || cache_mb < 0 || wbuf_mb < 0 || hot_keys < 0) {
        fputs("rill-engine-example: sizes and times must not be negative (window > 0)\n", stderr);
        return 1;
    }
    rill_compression comp;
    if (!strcmp(compression, "lz4")) comp = RILL_COMPRESSION_LZ4;
    else if (!strcmp(compression, "zstd")) comp = RILL_COMPRESSION_ZSTD;
    else if (!strcmp(compression, "snappy")) comp = RILL_COMPRESSION_SNAPPY;
    else if (!strcmp(compression, "none")) comp = RILL_COMPRESSION_NONE;
    else {
        fprintf(stderr, "rill-engine-example: unknown compression '%s'\n", compression);
        return 1;
    }

    /* the graph */
    rill_field fields[] = { { field, RILL_F64 } };
    char err[512];
    rill_schema *schema = NULL;
    if (rill_schema_make(fields, 1, &schema, err, sizeof err) != RILL_OK) {
        fprintf(stderr, "rill-engine-example: %s\n", err);
        return 1;
    }
    rill_graph *g = rill_graph_new();
    if (!g) abort();
    rill_source_opts sopts = { .max_out_of_orderness_ms = ooo, .idle_timeout_ms = idle };
    rill_agg_spec aggs[] = {
        { .kind = RILL_AGG_COUNT, .name = "count" },
        { .kind = RILL_AGG_SUM, .field = field, .name = "sum" },
        { .kind = RILL_AGG_MEAN, .field = field, .name = "mean" },
    };
    rill_window_opts wopts = {
        .window = rill_tumbling(window), .aggs = aggs, .n_aggs = 3,
        .emit = on_event ? RILL_EMIT_ON_EVENT : RILL_EMIT_ON_CLOSE,
        .allowed_lateness_ms = lateness,
    };
    if (rill_graph_source(g, "events", schema, &sopts) != RILL_OK ||
        rill_graph_window(g, "stats", "events", &wopts) != RILL_OK) {
        fprintf(stderr, "rill-engine-example: %s\n", rill_graph_errmsg(g));
        return 1;
    }
    rill_schema_free(schema);

    /* the engine */
    rill_engine_source sources[2] = {
        { .source = "events", .kind = RILL_SOURCE_PULL, .endpoint = in, .strict = strict },
        { .source = "events", .kind = RILL_SOURCE_ROUTER, .endpoint = reliable, .strict = strict },
    };
    rill_engine_sink sinks[2] = {
        { .kind = RILL_SINK_PUB, .endpoint = out },
        { .kind = RILL_SINK_JSONL, .endpoint = jsonl },
    };
    rill_engine_opts eopts = {
        .sources = sources, .n_sources = reliable ? 2 : 1,
        .sinks = sinks, .n_sinks = jsonl ? 2 : 1,
        .max_batch = (size_t)max_batch, .linger_ms = (int)linger,
        .metrics_interval_ms = (int)metrics,
        .state_dir = state_dir, .memory_state = memory_state,
        .rocksdb = { .block_cache_bytes = (size_t)cache_mb << 20,
                     .write_buffer_bytes = (size_t)wbuf_mb << 20,
                     .compression = comp, .sync = sync },
        .discard_mismatched_state = discard, .max_hot_keys = (size_t)hot_keys,
        .commit_every_batches = (int)commit_batches, .commit_interval_ms = (int)commit_ms,
    };
    rill_engine *e;
    int rc = rill_engine_new(g, &eopts, &e, err, sizeof err);
    rill_graph_free(g);
    if (rc != RILL_OK) {
        fprintf(stderr, "rill-engine-example: %s: %s\n", rill_errname(rc), err);
        return 2;
    }
    printf("source %s\n", rill_engine_source_endpoint(e, 0));
    if (reliable) printf("reliable %s\n", rill_engine_source_endpoint(e, 1));
    printf("sink %s\n", rill_engine_sink_endpoint(e, 0));
    printf("ready\n");
    fflush(stdout);

    rc = rill_engine_run(e);
    if (rc != RILL_OK) fprintf(stderr, "rill-engine-example: %s\n", rill_engine_errmsg(e));
    rill_engine_stats st;
    rill_engine_get_stats(e, &st);
    fprintf(stderr,
            "rill-engine-example: %llu events decoded, %llu rejected, %llu late, %llu records "
            "emitted in %llu batches, %llu commits, %llu duplicates dropped\n",
            (unsigned long long)st.decoded, (unsigned long long)st.rejected,
            (unsigned long long)st.late, (unsigned long long)st.emitted,
            (unsigned long long)st.batches, (unsigned long long)st.commits,
            (unsigned long long)st.duplicates);
    rill_engine_free(e);
    return rc == RILL_OK ? 0 : 2;
}
