/* bench/ingest.c — events over ZeroMQ into a running engine.
 *
 * Two processes on tcp loopback: this one produces, a forked child runs a
 * rill engine (PULL source, PUB sink) with a keyed tumbling count/sum/mean
 * graph over 1000 keys. A fresh engine is started for each measurement.
 *
 * Throughput: N events sent as fast as possible in messages of 1, 100 and
 * 1000 events (msgpack arrays, built once and only their timestamps patched
 * per message, so the producer costs little); the clock stops when the
 * engine's metrics record (every 10 ms) says all N were decoded.
 *
 * Latency: at a fixed offered rate of 100 000 events/s, one event per
 * message, engine linger 1 ms, the operator emitting on every event; each
 * event carries its sequence number as "id", the producer notes the send
 * time, and the subscriber the arrival time of the record carrying that id.
 * Prints p50/p99/p99.9 of send-to-record latency. Asserts nothing.
 *
 *   bench-ingest [--quick] [--latency]   (--latency: only the latency run)
 */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "rill/rill.h"

#define KEYS 1000

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the engine process --------------------------------------------------------- */

typedef struct engine_cfg {
    bool on_event;
    int linger_ms;
} engine_cfg;

static void engine_main(const engine_cfg *cfg, int out_fd) {
    rill_field f[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(f, 1);
    rill_graph *g = rill_graph_new();
    if (!s || !g) abort();
    rill_source_opts so = { 0 };
    rill_agg_spec aggs[] = {
        { .kind = RILL_AGG_COUNT, .name = "count" },
        { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" },
        { .kind = RILL_AGG_MEAN, .field = "value", .name = "mean" },
    };
    rill_window_opts wo = { .window = rill_tumbling(1000), .aggs = aggs, .n_aggs = 3,
                            .emit = cfg->on_event ? RILL_EMIT_ON_EVENT : RILL_EMIT_ON_CLOSE };
    if (rill_graph_source(g, "events", s, &so) || rill_graph_window(g, "stats", "events", &wo)) {
        fprintf(stderr, "bench-ingest: %s\n", rill_graph_errmsg(g));
        _exit(2);
    }
    rill_schema_free(s);
    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts o = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1,
                           .linger_ms = cfg->linger_ms, .metrics_interval_ms = 10,
                           .close_linger_ms = -1, .memory_state = true };
    rill_engine *e;
    char err[512];
    if (rill_engine_new(g, &o, &e, err, sizeof err)) {
        fprintf(stderr, "bench-ingest: %s\n", err);
        _exit(2);
    }
    rill_graph_free(g);
    dprintf(out_fd, "%s\n%s\n", rill_engine_source_endpoint(e, 0), rill_engine_sink_endpoint(e, 0));
    close(out_fd);
    int rc = rill_engine_run(e);
    if (rc) fprintf(stderr, "bench-ingest: engine: %s\n", rill_engine_errmsg(e));
    rill_engine_free(e);
    _exit(rc ? 2 : 0);
}

typedef struct engine_proc {
    pid_t pid;
    char in[128], out[128];
} engine_proc;

static void engine_start(engine_proc *p, const engine_cfg *cfg) {
    int fds[2];
    if (pipe(fds)) abort();
    p->pid = fork();
    if (p->pid < 0) abort();
    if (p->pid == 0) {
        close(fds[0]);
        engine_main(cfg, fds[1]);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (!f || !fgets(p->in, sizeof p->in, f) || !fgets(p->out, sizeof p->out, f)) {
        fprintf(stderr, "bench-ingest: the engine did not start\n");
        exit(1);
    }
    fclose(f);
    p->in[strcspn(p->in, "\n")] = 0;
    p->out[strcspn(p->out, "\n")] = 0;
}

static void engine_stop(engine_proc *p) {
    kill(p->pid, SIGTERM);
    int st;
    waitpid(p->pid, &st, 0);
}

/* ---- messages ------------------------------------------------------------------------- */

/* A message of k events {"ts": int64, "key": uint16, "value": float64}
 * (an array unless k == 1), with the offsets of each event's ts bytes. */
typedef struct msg_tpl {
    msgpack_sbuffer sb;
    size_t *ts_off, *key_off;
    size_t id_off; /* k == 1 with id: offset of the uint32 id */
    size_t k;
} msg_tpl;

static void pack_cstr(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void tpl_make(msg_tpl *t, size_t k, size_t key0, bool with_id) {
    msgpack_sbuffer_init(&t->sb);
    t->k = k;
    t->ts_off = calloc(k, sizeof *t->ts_off);
    t->key_off = calloc(k, sizeof *t->key_off);
    if (!t->ts_off || !t->key_off) abort();
    msgpack_packer pk;
    msgpack_packer_init(&pk, &t->sb, msgpack_sbuffer_write);
    if (k > 1) msgpack_pack_array(&pk, k);
    for (size_t i = 0; i < k; i++) {
        msgpack_pack_map(&pk, 3 + with_id);
        pack_cstr(&pk, "ts");
        t->ts_off[i] = t->sb.size + 1;
        unsigned char ts[9] = { 0xd3 }; /* int64, fixed width so it can be patched */
        msgpack_sbuffer_write(&t->sb, (const char *)ts, 9);
        pack_cstr(&pk, "key");
        t->key_off[i] = t->sb.size + 1;
        unsigned char key[3] = { 0xcd, (unsigned char)(((key0 + i) % KEYS) >> 8),
                                 (unsigned char)((key0 + i) % KEYS) };
        msgpack_sbuffer_write(&t->sb, (const char *)key, 3);
        pack_cstr(&pk, "value");
        msgpack_pack_double(&pk, (double)(i % 97) * 0.5);
        if (with_id) {
            pack_cstr(&pk, "id");
            t->id_off = t->sb.size + 1;
            unsigned char id[5] = { 0xce };
            msgpack_sbuffer_write(&t->sb, (const char *)id, 5);
        }
    }
}

static void put_be(char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (char)(v >> (8 * (n - 1 - i)));
}

/* ---- metrics -------------------------------------------------------------------------- */

static int64_t map_int(const msgpack_object *m, const char *key) {
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            !memcmp(k->via.str.ptr, key, k->via.str.size)) {
            const msgpack_object *v = &m->via.map.ptr[i].val;
            if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)v->via.u64;
            if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return v->via.i64;
        }
    }
    return -1;
}

/* Receive [topic, map]; the map unpacked into u. False on timeout. */
static bool recv_map(void *sub, char *topic, size_t tcap, msgpack_unpacked *u, zmq_msg_t *m,
                     int timeout_ms) {
    /* a message already queued is taken without a poll (records come in
     * bursts of a batch; a system call per record would make this process,
     * which shares the two cores with the engine, the bottleneck) */
    if (zmq_msg_recv(m, sub, ZMQ_DONTWAIT) < 0) {
        zmq_pollitem_t it = { .socket = sub, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, timeout_ms) <= 0) return false;
        zmq_msg_recv(m, sub, 0);
    }
    size_t tl = zmq_msg_size(m) < tcap - 1 ? zmq_msg_size(m) : tcap - 1;
    memcpy(topic, zmq_msg_data(m), tl);
    topic[tl] = 0;
    zmq_msg_recv(m, sub, 0);
    size_t off = 0;
    return msgpack_unpack_next(u, zmq_msg_data(m), zmq_msg_size(m), &off) == MSGPACK_UNPACK_SUCCESS &&
           u->data.type == MSGPACK_OBJECT_MAP;
}

/* Wait for a metrics record (the subscription is live). */
static void wait_metrics(void *sub) {
    char topic[64];
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    zmq_msg_t m;
    zmq_msg_init(&m);
    double until = now_s() + 10;
    while (now_s() < until)
        if (recv_map(sub, topic, sizeof topic, &u, &m, 100) && !strcmp(topic, "metrics")) break;
    zmq_msg_close(&m);
    msgpack_unpacked_destroy(&u);
}

static void *sub_connect(void *ctx, const char *ep, const char *topic) {
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0, hwm = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "metrics", 7);
    if (topic) zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    zmq_connect(s, ep);
    return s;
}

/* ---- throughput ------------------------------------------------------------------------- */

static void throughput(size_t k, size_t n) {
    engine_proc ep;
    engine_cfg cfg = { .on_event = false, .linger_ms = 0 };
    engine_start(&ep, &cfg);
    void *ctx = zmq_ctx_new();
    void *sub = sub_connect(ctx, ep.out, NULL);
    wait_metrics(sub);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(push, ep.in);

    enum { TPLS = 8 };
    msg_tpl t[TPLS];
    for (size_t i = 0; i < TPLS; i++) tpl_make(&t[i], k, i * k, false);
    int64_t base = 1700000000000;
    size_t msgs = n / k;
    double t0 = now_s();
    for (size_t m = 0; m < msgs; m++) {
        msg_tpl *tp = &t[m % TPLS];
        for (size_t i = 0; i < k; i++) {
            /* 1000 events per ms of event time: windows close as it goes */
            put_be(tp->sb.data + tp->ts_off[i], (uint64_t)(base + (int64_t)((m * k + i) / 1000)), 8);
            put_be(tp->sb.data + tp->key_off[i], (m * k + i) % KEYS, 2);
        }
        zmq_send(push, tp->sb.data, tp->sb.size, 0);
    }
    double t_sent = now_s();
    /* wait for the engine to have decoded all of it */
    char topic[64];
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    zmq_msg_t zm;
    zmq_msg_init(&zm);
    double t_done = 0;
    int64_t batches = 0;
    while (now_s() - t_sent < 30) {
        if (!recv_map(sub, topic, sizeof topic, &u, &zm, 100) || strcmp(topic, "metrics")) continue;
        if (map_int(&u.data, "decoded") >= (int64_t)(msgs * k)) {
            t_done = now_s();
            batches = map_int(&u.data, "batches");
            break;
        }
    }
    double dt = t_done - t0;
    if (t_done > 0)
        printf("  %6zu  %9zu  %7.3f  %11.0f  %11.0f  %8.0f\n", k, msgs * k, dt,
               (double)(msgs * k) / dt, (double)msgs / dt, (double)(msgs * k) / (double)batches);
    else
        printf("  %6zu  the engine did not decode everything within 30 s\n", k);
    fflush(stdout);
    zmq_msg_close(&zm);
    msgpack_unpacked_destroy(&u);
    for (size_t i = 0; i < TPLS; i++) {
        msgpack_sbuffer_destroy(&t[i].sb);
        free(t[i].ts_off);
        free(t[i].key_off);
    }
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    engine_stop(&ep);
}

/* ---- latency ----------------------------------------------------------------------------- */

typedef struct lat_ctx {
    void *ctx;
    const char *in;
    double rate, seconds;
    int64_t *sent_ns; /* by id */
    size_t n;
    volatile int done;
} lat_ctx;

static void *producer(void *arg) {
    lat_ctx *c = arg;
    void *push = zmq_socket(c->ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(push, c->in);
    msg_tpl t;
    tpl_make(&t, 1, 0, true);
    int64_t t0 = now_ns();
    size_t id = 0;
    while (id < c->n) {
        /* send what is due, then nap: bursts of a few single-event
         * messages every ~50 us keep the offered rate without spinning */
        size_t due = (size_t)((double)(now_ns() - t0) * 1e-9 * c->rate);
        if (due > c->n) due = c->n;
        while (id < due) {
            put_be(t.sb.data + t.ts_off[0], (uint64_t)wall_ms(), 8);
            put_be(t.sb.data + t.id_off, (uint64_t)id, 4);
            put_be(t.sb.data + t.key_off[0], id % KEYS, 2);
            c->sent_ns[id] = now_ns();
            zmq_send(push, t.sb.data, t.sb.size, 0);
            id++;
        }
        struct timespec nap = { 0, 20000 };
        nanosleep(&nap, NULL);
    }
    c->done = 1;
    msgpack_sbuffer_destroy(&t.sb);
    free(t.ts_off);
    free(t.key_off);
    zmq_close(push);
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void latency(double rate, double seconds, int linger_ms) {
    engine_proc ep;
    engine_cfg cfg = { .on_event = true, .linger_ms = linger_ms };
    engine_start(&ep, &cfg);
    lat_ctx c = { .ctx = zmq_ctx_new(), .in = ep.in, .rate = rate, .seconds = seconds };
    c.n = (size_t)(rate * seconds);
    c.sent_ns = calloc(c.n, sizeof *c.sent_ns);
    int64_t *lat = calloc(c.n, sizeof *lat);
    void *sub = sub_connect(c.ctx, ep.out, "stats");
    wait_metrics(sub);
    pthread_t th;
    pthread_create(&th, NULL, producer, &c);

    char topic[64];
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    zmq_msg_t zm;
    zmq_msg_init(&zm);
    size_t got = 0;
    double last = now_s();
    while (got < c.n && now_s() - last < 2) {
        if (!recv_map(sub, topic, sizeof topic, &u, &zm, 100)) continue;
        if (strcmp(topic, "stats")) continue;
        int64_t id = map_int(&u.data, "id");
        if (id < 0 || (size_t)id >= c.n) continue;
        lat[got++] = now_ns() - c.sent_ns[id];
        last = now_s();
    }
    pthread_join(th, NULL);
    /* the first 10 % warm up connections and caches */
    size_t skip = got / 10;
    qsort(lat + skip, got - skip, sizeof *lat, cmp_i64);
    size_t m = got - skip;
    if (m == 0) {
        printf("  no records came back\n");
    } else {
        printf("  offered %.0f events/s (1 event/message), linger %d ms: %zu of %zu records, "
               "latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
               rate, linger_ms, got, c.n, (double)lat[skip + m / 2] / 1e3,
               (double)lat[skip + (size_t)((double)m * 0.99)] / 1e3,
               (double)lat[skip + (size_t)((double)m * 0.999)] / 1e3,
               (double)lat[got - 1] / 1e3);
    }
    fflush(stdout);
    zmq_msg_close(&zm);
    msgpack_unpacked_destroy(&u);
    zmq_close(sub);
    zmq_ctx_term(c.ctx);
    engine_stop(&ep);
    free(c.sent_ns);
    free(lat);
}

int main(int argc, char **argv) {
    bool quick = false, only_latency = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--latency")) only_latency = true;
        else {
            fprintf(stderr, "usage: bench-ingest [--quick] [--latency]\n");
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench-ingest: producer process -> tcp loopback -> engine process\n"
           "  (keyed tumbling 1 s count/sum/mean over %d keys; PULL source, PUB sink)\n\n", KEYS);
    if (!only_latency) {
        printf("  ev/msg     events  seconds     events/s   messages/s  ev/batch\n");
        size_t scale = quick ? 4 : 1;
        throughput(1, 400000 / scale);
        throughput(100, 4000000 / scale);
        throughput(1000, 6000000 / scale);
        printf("\n");
    }
    latency(100000, quick ? 1.0 : 3.0, 1);
    latency(100000, quick ? 1.0 : 3.0, 0); /* for comparison: no linger */
    return 0;
}
