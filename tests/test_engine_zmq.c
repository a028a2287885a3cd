/* tests/test_engine_zmq.c — the engine over real ZeroMQ sockets.
 *
 * Each test builds a small graph (source "events" with fields value:f64,
 * qty:i64, ok:bool, name:string; operator "stats" = tumbling 1 s windows
 * with count, sum(value), mean(value)), starts an engine on loopback tcp
 * with wildcard ports (or ipc in a fresh temporary directory) and runs it in
 * a thread. Events are packed with msgpack-c directly, records are unpacked
 * with msgpack-c, and window results are compared with a brute-force
 * recomputation of what was sent. Every test stops its engine from the main
 * thread with rill_engine_stop() and closes every socket it opened.
 * Random streams print their seed; RILL_TEST_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "rill/rill.h"
#include "rill/engine.h"
#include "test_util.h"

#define WINDOW_MS 1000

/* ---- random ------------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void) { return tu_xorshift64(&rng_state); }

static uint64_t seed_from_env(void) {
    const char *s = getenv("RILL_TEST_SEED");
    if (s && *s) return strtoull(s, NULL, 10);
    return (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();
}

/* ---- the engine under test ------------------------------------------------------ */

static rill_graph *make_graph(int64_t ooo_ms) {
    rill_field fields[] = {
        { "value", RILL_F64 }, { "qty", RILL_I64 }, { "ok", RILL_BOOL }, { "name", RILL_STRING },
    };
    rill_schema *s = rill_schema_new(fields, 4);
    assert_non_null(s);
    rill_graph *g = rill_graph_new();
    assert_non_null(g);
    rill_source_opts so = { .max_out_of_orderness_ms = ooo_ms };
    assert_int_equal(rill_graph_source(g, "events", s, &so), RILL_OK);
    rill_schema_free(s);
    rill_agg_spec aggs[] = {
        { .kind = RILL_AGG_COUNT, .name = "count" },
        { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" },
        { .kind = RILL_AGG_MEAN, .field = "value", .name = "mean" },
    };
    rill_window_opts wo = { .window = rill_tumbling(WINDOW_MS), .aggs = aggs, .n_aggs = 3 };
    assert_int_equal(rill_graph_window(g, "stats", "events", &wo), RILL_OK);
    return g;
}

typedef struct running {
    rill_engine *e;
    pthread_t th;
    int rc;
} running;

static void *run_thread(void *arg) {
    running *r = arg;
    r->rc = rill_engine_run(r->e);
    return NULL;
}

static void start(running *r, rill_graph *g, rill_engine_opts *o) {
    char err[512];
    o->no_signal_handlers = true;
    o->memory_state = !o->state; /* these tests run on a fresh state each */
    if (!o->metrics_interval_ms) o->metrics_interval_ms = 50;
    int rc = rill_engine_new(g, o, &r->e, err, sizeof err);
    if (rc != RILL_OK) fail_msg("rill_engine_new: %s: %s", rill_errname(rc), err);
    rill_graph_free(g);
    assert_int_equal(pthread_create(&r->th, NULL, run_thread, r), 0);
}

static void stop(running *r) {
    rill_engine_stop(r->e);
    pthread_join(r->th, NULL);
    assert_int_equal(r->rc, RILL_OK);
}

/* ---- sockets ------------------------------------------------------------------------ */

static void *g_ctx;

static int setup(void **state) {
    g_ctx = zmq_ctx_new();
    return g_ctx ? 0 : -1;
}

static int teardown(void **state) {
    zmq_ctx_term(g_ctx);
    return 0;
}

static void *sock_connect(int type, const char *ep) {
    void *s = zmq_socket(g_ctx, type);
    assert_non_null(s);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* A received record: topic and the unpacked map (owning its bytes). */
typedef struct rec {
    char topic[64];
    char *data;
    size_t len;
    msgpack_unpacked u;
} rec;

static void rec_init(rec *r) {
    memset(r, 0, sizeof *r);
    msgpack_unpacked_init(&r->u);
}

static void rec_free(rec *r) {
    msgpack_unpacked_destroy(&r->u);
    free(r->data);
    r->data = NULL;
}

/* Receive one [topic, map] within timeout_ms; false on timeout. */
static bool rec_recv(void *sock, rec *r, int timeout_ms) {
    zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
    size_t tl = zmq_msg_size(&m) < sizeof r->topic - 1 ? zmq_msg_size(&m) : sizeof r->topic - 1;
    memcpy(r->topic, zmq_msg_data(&m), tl);
    r->topic[tl] = 0;
    assert_true(zmq_msg_more(&m));
    assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
    free(r->data);
    r->len = zmq_msg_size(&m);
    r->data = malloc(r->len ? r->len : 1);
    assert_non_null(r->data);
    memcpy(r->data, zmq_msg_data(&m), r->len);
    assert_false(zmq_msg_more(&m));
    zmq_msg_close(&m);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r->u, r->data, r->len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(r->u.data.type, MSGPACK_OBJECT_MAP);
    return true;
}

static const msgpack_object *mp_get(const rec *r, const char *key) {
    const msgpack_object_map *m = &r->u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            !memcmp(k->via.str.ptr, key, k->via.str.size))
            return &m->ptr[i].val;
    }
    return NULL;
}

static int64_t mp_int(const rec *r, const char *key) {
    const msgpack_object *o = mp_get(r, key);
    if (!o) fail_msg("record on %s has no '%s'", r->topic, key);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64;
    fail_msg("'%s' of a record on %s is not an integer", key, r->topic);
    return 0;
}

static double mp_num(const rec *r, const char *key) {
    const msgpack_object *o = mp_get(r, key);
    if (!o) fail_msg("record on %s has no '%s'", r->topic, key);
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) return o->via.f64;
    return (double)mp_int(r, key);
}

static bool mp_str_is(const rec *r, const char *key, const char *want) {
    const msgpack_object *o = mp_get(r, key);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(want) &&
           !memcmp(o->via.str.ptr, want, o->via.str.size);
}

/* Wait until sub receives a metrics record: the subscription is live. */
static void wait_subscribed(void *sub) {
    rec r;
    rec_init(&r);
    int64_t until = tu_now_ms() + 5000;
    bool got = false;
    while (!got && tu_now_ms() < until)
        if (rec_recv(sub, &r, 100) && !strcmp(r.topic, "metrics")) got = true;
    rec_free(&r);
    if (!got) fail_msg("no metrics record within 5 s: the subscriber never connected");
}

static void wait_decoded(rill_engine *e, uint64_t want) {
    int64_t until = tu_now_ms() + 10000;
    rill_engine_stats st;
    do {
        rill_engine_get_stats(e, &st);
        if (st.decoded >= want) break;
        usleep(2000);
    } while (tu_now_ms() < until);
}

/* The counters, once cond holds for them (or 10 s passed): acks and
 * records can reach a peer before the snapshot of their batch is taken. */
static rill_engine_stats stats_when(rill_engine *e, bool (*cond)(const rill_engine_stats *, uint64_t),
                                    uint64_t arg) {
    int64_t until = tu_now_ms() + 10000;
    rill_engine_stats st;
    for (;;) {
        rill_engine_get_stats(e, &st);
        if (cond(&st, arg) || tu_now_ms() > until) return st;
        usleep(2000);
    }
}
static bool dups_at_least(const rill_engine_stats *s, uint64_t n) { return s->duplicates >= n; }
static bool gaps_at_least(const rill_engine_stats *s, uint64_t n) { return s->gaps >= n; }
static bool decoded_at_least(const rill_engine_stats *s, uint64_t n) { return s->decoded >= n; }

/* ---- events and the oracle ------------------------------------------------------------ */

typedef struct tev {
    int64_t ts;
    int key;
    double value;
} tev;

static void pack_cstr(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_event(msgpack_packer *pk, const tev *ev) {
    char key[32];
    snprintf(key, sizeof key, "k%d", ev->key);
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts");
    msgpack_pack_int64(pk, ev->ts);
    pack_cstr(pk, "key");
    pack_cstr(pk, key);
    pack_cstr(pk, "value");
    msgpack_pack_double(pk, ev->value);
}

/* Events [from, to) as one message: a bare map when there is one and
 * as_map, else an array. */
static void pack_message(msgpack_sbuffer *sb, const tev *evs, size_t from, size_t to, bool as_map) {
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (!(as_map && to - from == 1)) msgpack_pack_array(&pk, to - from);
    for (size_t i = from; i < to; i++) pack_event(&pk, &evs[i]);
}

#define MAX_KEYS 16
#define MAX_WINS 512

typedef struct oracle {
    int64_t base; /* start of window 0 */
    uint64_t count[MAX_KEYS][MAX_WINS];
    double sum[MAX_KEYS][MAX_WINS];
    bool seen[MAX_KEYS][MAX_WINS]; /* a record for it arrived */
} oracle;

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

static void oracle_add(oracle *o, const tev *ev) {
    int64_t w = floor_div(ev->ts, WINDOW_MS) * WINDOW_MS;
    int64_t wi = (w - o->base) / WINDOW_MS;
    assert_true(wi >= 0 && wi < MAX_WINS && ev->key >= 0 && ev->key < MAX_KEYS);
    o->count[ev->key][wi]++;
    o->sum[ev->key][wi] += ev->value;
}

/* Check one "stats" record against the oracle. */
static void oracle_check(oracle *o, const rec *r, uint64_t seed) {
    const msgpack_object *k = mp_get(r, "key");
    assert_non_null(k);
    assert_int_equal(k->type, MSGPACK_OBJECT_STR);
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int)k->via.str.size, k->via.str.ptr);
    int ki = atoi(key + 1);
    int64_t start = mp_int(r, "start"), end = mp_int(r, "end");
    assert_true(mp_str_is(r, "op", "stats"));
    assert_int_equal(end - start, WINDOW_MS);
    int64_t wi = (start - o->base) / WINDOW_MS;
    if (key[0] != 'k' || ki < 0 || ki >= MAX_KEYS || wi < 0 || wi >= MAX_WINS ||
        (start - o->base) % WINDOW_MS)
        fail_msg("record for key %s window %lld is not a window of the input (seed %llu)", key,
                 (long long)start, (unsigned long long)seed);
    if (o->seen[ki][wi])
        fail_msg("two records for key %s window %lld (seed %llu)", key, (long long)start,
                 (unsigned long long)seed);
    o->seen[ki][wi] = true;
    uint64_t n = (uint64_t)mp_int(r, "count");
    double sum = mp_num(r, "sum"), mean = mp_num(r, "mean");
    if (n != o->count[ki][wi])
        fail_msg("key %s window %lld: count %llu, expected %llu (seed %llu)", key, (long long)start,
                 (unsigned long long)n, (unsigned long long)o->count[ki][wi],
                 (unsigned long long)seed);
    double want = o->sum[ki][wi];
    if (fabs(sum - want) > 1e-9 * (1 + fabs(want)) ||
        fabs(mean - want / (double)n) > 1e-9 * (1 + fabs(want / (double)n)))
        fail_msg("key %s window %lld: sum %.17g mean %.17g, expected %.17g, %.17g (seed %llu)", key,
                 (long long)start, sum, mean, want, want / (double)n, (unsigned long long)seed);
}

/* Every non-empty window of the oracle got its record. */
static void oracle_all_seen(const oracle *o, uint64_t seed) {
    for (int k = 0; k < MAX_KEYS; k++)
        for (int w = 0; w < MAX_WINS; w++)
            if (o->count[k][w] && !o->seen[k][w])
                fail_msg("no record for key k%d window %lld (seed %llu)", k,
                         (long long)(o->base + (int64_t)w * WINDOW_MS), (unsigned long long)seed);
}

/* Collect records until the final metrics record; stats go to the oracle.
 * Returns the number of stats records. */
static size_t collect_until_final(void *sub, oracle *o, uint64_t seed, rec *final_metrics) {
    size_t n = 0;
    rec r;
    rec_init(&r);
    int64_t until = tu_now_ms() + 10000;
    for (;;) {
        if (tu_now_ms() > until) fail_msg("no final metrics record within 10 s");
        if (!rec_recv(sub, &r, 200)) continue;
        if (!strcmp(r.topic, "stats")) {
            oracle_check(o, &r, seed);
            n++;
        } else if (!strcmp(r.topic, "metrics")) {
            const msgpack_object *f = mp_get(&r, "final");
            if (f && f->type == MSGPACK_OBJECT_BOOLEAN && f->via.boolean) break;
        }
    }
    if (final_metrics) {
        rec_free(final_metrics);
        *final_metrics = r;
    } else {
        rec_free(&r);
    }
    return n;
}

static tev *random_stream(size_t n, int64_t t0, oracle *o) {
    tev *evs = calloc(n, sizeof *evs);
    assert_non_null(evs);
    int64_t ts = t0;
    o->base = floor_div(t0, WINDOW_MS) * WINDOW_MS;
    for (size_t i = 0; i < n; i++) {
        ts += (int64_t)(rnd() % 40);
        evs[i] = (tev){ .ts = ts, .key = (int)(rnd() % MAX_KEYS),
                        .value = (double)(int64_t)(rnd() % 20001 - 10000) / 100.0 };
        oracle_add(o, &evs[i]);
    }
    return evs;
}

/* ---- tests ------------------------------------------------------------------------- */

/* Random events over tcp in messages of 1..40 events: every window result
 * equals the brute-force one, and the counters add up. */
static void test_windows_over_tcp(void **state) {
    uint64_t seed = seed_from_env();
    rng_state = seed | 1;
    printf("test_windows_over_tcp: seed %llu\n", (unsigned long long)seed);
    static oracle o;
    memset(&o, 0, sizeof o);
    size_t n = 4000;
    tev *evs = random_stream(n, 1700000000123, &o);

    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1,
                              .max_batch = 256 };
    running r;
    start(&r, make_graph(0), &opts);
    void *sub = sock_connect(ZMQ_SUB, rill_engine_sink_endpoint(r.e, 0));
    wait_subscribed(sub);
    void *push = sock_connect(ZMQ_PUSH, rill_engine_source_endpoint(r.e, 0));

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t msgs = 0;
    for (size_t i = 0; i < n;) {
        size_t k = 1 + (size_t)(rnd() % 40);
        if (k > n - i) k = n - i;
        pack_message(&sb, evs, i, i + k, rnd() % 2);
        assert_int_equal(zmq_send(push, sb.data, sb.size, 0), (int)sb.size);
        i += k;
        msgs++;
    }
    wait_decoded(r.e, n);
    rill_engine_stop(r.e);
    rec fin;
    rec_init(&fin);
    size_t got = collect_until_final(sub, &o, seed, &fin);
    pthread_join(r.th, NULL);
    assert_int_equal(r.rc, RILL_OK);
    oracle_all_seen(&o, seed);

    rill_engine_stats st;
    rill_engine_get_stats(r.e, &st);
    assert_int_equal(st.received, msgs);
    assert_int_equal(st.decoded, n);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.emitted, got);
    assert_true(st.batches >= 1 && st.batches <= msgs);
    assert_true(st.commits >= 1);
    /* the final metrics record says the same */
    assert_int_equal(mp_int(&fin, "decoded"), n);
    assert_int_equal(mp_int(&fin, "emitted"), got);
    int64_t wm;
    assert_int_equal(rill_engine_watermark(r.e, "events", &wm), RILL_OK);
    assert_true(wm >= evs[n - 1].ts);
    assert_int_equal(rill_engine_watermark(r.e, "nope", &wm), RILL_EUNKNOWN_NODE);

    rec_free(&fin);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(push);
    zmq_close(sub);
    rill_engine_free(r.e);
    free(evs);
}

/* A SUB source over ipc with a topic filter: the producer's XPUB sees the
 * subscription, and messages on other topics never reach the engine. */
static void test_sub_source_over_ipc(void **state) {
    uint64_t seed = seed_from_env() + 1;
    rng_state = seed | 1;
    printf("test_sub_source_over_ipc: seed %llu\n", (unsigned long long)seed);
    char dir[] = "/tmp/rill-test-engine-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in_ep[128], out_ep[128];
    snprintf(in_ep, sizeof in_ep, "ipc://%s/in", dir);
    snprintf(out_ep, sizeof out_ep, "ipc://%s/out", dir);

    void *xpub = zmq_socket(g_ctx, ZMQ_XPUB);
    assert_non_null(xpub);
    int zero = 0;
    zmq_setsockopt(xpub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(xpub, in_ep), 0);

    static oracle o;
    memset(&o, 0, sizeof o);
    size_t n = 600;
    tev *evs = random_stream(n, 5000, &o);
    const char *topics[] = { "ev" };
    rill_engine_source src = { .source = "events", .kind = RILL_SOURCE_SUB, .endpoint = in_ep,
                               .connect = true, .topics = topics, .n_topics = 1 };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = out_ep };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1,
                              .linger_ms = 2 };
    running r;
    start(&r, make_graph(0), &opts);
    assert_string_equal(rill_engine_sink_endpoint(r.e, 0), out_ep);
    void *sub = sock_connect(ZMQ_SUB, out_ep);
    wait_subscribed(sub);

    /* the engine's subscription reaches the XPUB */
    zmq_pollitem_t it = { .socket = xpub, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    char subm[16];
    int sl = zmq_recv(xpub, subm, sizeof subm, 0);
    assert_int_equal(sl, 3);
    assert_memory_equal(subm, "\1ev", 3);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < n; i += 10) {
        pack_message(&sb, evs, i, i + 10 < n ? i + 10 : n, false);
        assert_true(zmq_send(xpub, "ev", 2, ZMQ_SNDMORE) == 2);
        assert_true(zmq_send(xpub, sb.data, sb.size, 0) == (int)sb.size);
        /* the same events on another topic must be filtered out */
        assert_true(zmq_send(xpub, "other", 5, ZMQ_SNDMORE) == 5);
        assert_true(zmq_send(xpub, sb.data, sb.size, 0) == (int)sb.size);
    }
    wait_decoded(r.e, n);
    rill_engine_stop(r.e);
    collect_until_final(sub, &o, seed, NULL);
    pthread_join(r.th, NULL);
    assert_int_equal(r.rc, RILL_OK);
    oracle_all_seen(&o, seed);
    rill_engine_stats st;
    rill_engine_get_stats(r.e, &st);
    assert_int_equal(st.decoded, n);
    assert_int_equal(st.received, (n + 9) / 10);

    msgpack_sbuffer_destroy(&sb);
    zmq_close(sub);
    zmq_close(xpub);
    rill_engine_free(r.e);
    char path[160];
    snprintf(path, sizeof path, "%s/in", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/out", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(evs);
}

/* ---- bad input ------------------------------------------------------------------------ */

typedef struct bad_case {
    const char *name;
    const char *reason; /* expected on the dead output */
    void (*build)(msgpack_packer *pk, msgpack_sbuffer *sb);
    bool whole;         /* the whole message is rejected (bytes = its prefix) */
    int good_in_msg;    /* valid events in the same message */
} bad_case;

static void b_truncated(msgpack_packer *pk, msgpack_sbuffer *sb) {
    tev ev = { 1000, 1, 2.5 };
    pack_event(pk, &ev);
    sb->size -= 5; /* cut inside the last value */
}
static void b_invalid(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_sbuffer_write(sb, "\xc1\x00\x01", 3); /* 0xc1 is never used */
}
static void b_wrong_type(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "ok"); msgpack_pack_int64(pk, 7); /* bool field */
}
static void b_missing_ts(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "value"); msgpack_pack_double(pk, 1);
}
static void b_missing_key(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "value"); msgpack_pack_double(pk, 1);
}
static void b_nan(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "value"); msgpack_pack_double(pk, NAN);
}
static void b_inf(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "value"); msgpack_pack_double(pk, -INFINITY);
}
static void b_nested(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "value");
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "a");
    msgpack_pack_array(pk, 2);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 0);
}
static void b_string_for_number(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "qty"); pack_cstr(pk, "12");
}
static void b_empty_array(msgpack_packer *pk, msgpack_sbuffer *sb) { msgpack_pack_array(pk, 0); }
static void b_oversize(msgpack_packer *pk, msgpack_sbuffer *sb) {
    static char big[5000];
    memset(big, 'x', sizeof big);
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
    pack_cstr(pk, "name");
    msgpack_pack_str(pk, sizeof big);
    msgpack_pack_str_body(pk, big, sizeof big);
}
static void b_not_a_map(msgpack_packer *pk, msgpack_sbuffer *sb) { msgpack_pack_int64(pk, 42); }
static void b_trailing(msgpack_packer *pk, msgpack_sbuffer *sb) {
    tev ev = { 1000, 1, 2.5 };
    pack_event(pk, &ev);
    msgpack_pack_int64(pk, 1);
}
static void b_float_ts(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "ts"); msgpack_pack_double(pk, 1000.5);
    pack_cstr(pk, "key"); pack_cstr(pk, "k1");
}
static void b_bad_key(msgpack_packer *pk, msgpack_sbuffer *sb) {
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "ts"); msgpack_pack_int64(pk, 1000);
    pack_cstr(pk, "key"); msgpack_pack_double(pk, 1.5);
}
/* [good, bad, good]: only the middle one is rejected */
static void b_one_bad_in_array(msgpack_packer *pk, msgpack_sbuffer *sb) {
    tev a = { 1000, 2, 1.0 }, c = { 1001, 3, 2.0 };
    msgpack_pack_array(pk, 3);
    pack_event(pk, &a);
    b_nan(pk, sb);
    pack_event(pk, &c);
}

static const bad_case BAD[] = {
    { "truncated", "truncated", b_truncated, false, 0 },
    { "invalid msgpack", "invalid_msgpack", b_invalid, false, 0 },
    { "wrong type", "wrong_type", b_wrong_type, false, 0 },
    { "missing ts", "missing_ts", b_missing_ts, false, 0 },
    { "missing key", "missing_key", b_missing_key, false, 0 },
    { "NaN", "not_finite", b_nan, false, 0 },
    { "infinity", "not_finite", b_inf, false, 0 },
    { "nested garbage", "wrong_type", b_nested, false, 0 },
    { "string for a number", "wrong_type", b_string_for_number, false, 0 },
    { "empty array", "empty_array", b_empty_array, true, 0 },
    { "oversize", "oversize", b_oversize, true, 0 },
    { "not a map", "not_a_map", b_not_a_map, false, 0 },
    { "trailing bytes", "trailing_bytes", b_trailing, true, 0 },
    { "float ts", "bad_ts", b_float_ts, false, 0 },
    { "float key", "bad_key", b_bad_key, false, 0 },
    { "one bad event in an array", "not_finite", b_one_bad_in_array, false, 2 },
};

/* Each bad message is followed by a valid event: the bad one reaches the
 * dead output with its reason and bytes, and the valid one is decoded. */
static void test_bad_input(void **state) {
    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    const char *outs[] = { "dead", "metrics" };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*",
                             .outputs = outs, .n_outputs = 2 };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1,
                              .max_message_bytes = 4096, .dead_prefix_bytes = 64 };
    running r;
    start(&r, make_graph(1000000), &opts);
    void *sub = sock_connect(ZMQ_SUB, rill_engine_sink_endpoint(r.e, 0));
    wait_subscribed(sub);
    void *push = sock_connect(ZMQ_PUSH, rill_engine_source_endpoint(r.e, 0));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rec rc;
    rec_init(&rc);
    uint64_t decoded = 0;
    size_t n_cases = sizeof BAD / sizeof BAD[0];
    for (size_t i = 0; i < n_cases; i++) {
        const bad_case *c = &BAD[i];
        msgpack_sbuffer_clear(&sb);
        c->build(&pk, &sb);
        uint64_t before = rill_engine_rejected(r.e, c->reason);
        assert_int_equal(zmq_send(push, sb.data, sb.size, 0), (int)sb.size);
        /* then a valid event */
        char *sent = malloc(sb.size);
        size_t sent_len = sb.size;
        memcpy(sent, sb.data, sb.size);
        tev good = { 2000 + (int64_t)i, 5, (double)i };
        pack_message(&sb, &good, 0, 1, true);
        assert_int_equal(zmq_send(push, sb.data, sb.size, 0), (int)sb.size);
        decoded += 1 + (uint64_t)c->good_in_msg;

        /* the dead record */
        bool got = false;
        int64_t until = tu_now_ms() + 5000;
        while (!got && tu_now_ms() < until)
            if (rec_recv(sub, &rc, 100) && !strcmp(rc.topic, "dead")) got = true;
        if (!got) fail_msg("case '%s': no dead record", c->name);
        if (!mp_str_is(&rc, "reason", c->reason)) {
            const msgpack_object *o = mp_get(&rc, "reason");
            fail_msg("case '%s': reason '%.*s', expected '%s'", c->name,
                     o ? (int)o->via.str.size : 0, o ? o->via.str.ptr : "", c->reason);
        }
        assert_true(mp_str_is(&rc, "source", "events"));
        assert_non_null(mp_get(&rc, "detail"));
        const msgpack_object *bytes = mp_get(&rc, "bytes");
        assert_non_null(bytes);
        assert_int_equal(bytes->type, MSGPACK_OBJECT_BIN);
        assert_true(bytes->via.bin.size <= 64);
        if (c->whole) {
            /* a whole-message rejection carries the message's first bytes */
            size_t want = sent_len < 64 ? sent_len : 64;
            assert_int_equal(mp_int(&rc, "size"), sent_len);
            assert_true(mp_get(&rc, "index")->type == MSGPACK_OBJECT_NIL);
            assert_true(bytes->via.bin.size <= want);
            assert_memory_equal(bytes->via.bin.ptr, sent, bytes->via.bin.size);
        }
        if (c->good_in_msg) assert_int_equal(mp_int(&rc, "index"), 1);
        free(sent);

        /* the valid event after it is processed */
        wait_decoded(r.e, decoded);
        rill_engine_stats st;
        rill_engine_get_stats(r.e, &st);
        if (st.decoded != decoded)
            fail_msg("case '%s': %llu events decoded, expected %llu", c->name,
                     (unsigned long long)st.decoded, (unsigned long long)decoded);
        assert_int_equal(st.rejected, i + 1);
        assert_int_equal(rill_engine_rejected(r.e, c->reason), before + 1);
    }
    rill_engine_stats st;
    rill_engine_get_stats(r.e, &st);
    assert_int_equal(st.rejected, n_cases);
    assert_int_equal(rill_engine_rejected(r.e, "no such reason"), 0);
    for (size_t i = 0; rill_engine_reason_name(i); i++)
        assert_true(strlen(rill_engine_reason_name(i)) > 0);

    stop(&r);
    rec_free(&rc);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(push);
    zmq_close(sub);
    rill_engine_free(r.e);
}

/* ---- reliable -------------------------------------------------------------------------- */

static void *dealer(const char *id, const char *ep) {
    void *d = zmq_socket(g_ctx, ZMQ_DEALER);
    assert_non_null(d);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    assert_int_equal(zmq_connect(d, ep), 0);
    return d;
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
}
static uint64_t get_be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

static void send_seq(void *d, uint64_t seq, const msgpack_sbuffer *sb) {
    unsigned char s[8];
    put_be64(s, seq);
    assert_int_equal(zmq_send(d, s, 8, ZMQ_SNDMORE), 8);
    assert_int_equal(zmq_send(d, sb->data, sb->size, 0), (int)sb->size);
}

/* Receive acks into acked[seq] until every seq in [lo, hi] was acked at
 * least once or the time is up. */
static void take_acks(void *d, unsigned *acked, uint64_t max_seq, uint64_t lo, uint64_t hi) {
    int64_t until = tu_now_ms() + 10000;
    for (;;) {
        bool all = true;
        for (uint64_t q = lo; q <= hi; q++) all = all && acked[q];
        if (all) return;
        if (tu_now_ms() > until) fail_msg("acks for [%llu, %llu] missing after 10 s",
                                       (unsigned long long)lo, (unsigned long long)hi);
        zmq_pollitem_t it = { .socket = d, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        unsigned char ack[32];
        int n = zmq_recv(d, ack, sizeof ack, 0);
        assert_int_equal(n, 16);
        uint64_t first = get_be64(ack), last = get_be64(ack + 8);
        assert_true(first >= 1 && first <= last && last <= max_seq);
        for (uint64_t q = first; q <= last; q++) acked[q]++;
    }
}

/* No more acks arrive within ms. */
static void no_more_acks(void *d, int ms) {
    zmq_pollitem_t it = { .socket = d, .events = ZMQ_POLLIN };
    if (zmq_poll(&it, 1, ms) > 0) {
        unsigned char ack[32];
        int n = zmq_recv(d, ack, sizeof ack, 0);
        fail_msg("an unexpected ack (%d bytes) [%llu, %llu]", n,
                 (unsigned long long)get_be64(ack), (unsigned long long)get_be64(ack + 8));
    }
}

/* Every message is acknowledged exactly once; a producer restarting with
 * old sequence numbers has them dropped (counted, acked again) and the
 * window results count each event once; a gap is not acknowledged until
 * the missing message comes. */
static void test_reliable(void **state) {
    uint64_t seed = seed_from_env() + 2;
    rng_state = seed | 1;
    printf("test_reliable: seed %llu\n", (unsigned long long)seed);
    rill_engine_source src = { .source = "events", .kind = RILL_SOURCE_ROUTER,
                               .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1,
                              .max_batch = 64 };
    running r;
    start(&r, make_graph(0), &opts);
    const char *ep = rill_engine_source_endpoint(r.e, 0);
    void *sub = sock_connect(ZMQ_SUB, rill_engine_sink_endpoint(r.e, 0));
    wait_subscribed(sub);

    enum { M = 220 };
    static oracle o;
    memset(&o, 0, sizeof o);
    /* message q (1..M) holds events [first[q], first[q+1]) */
    size_t first[M + 2];
    size_t n = 0;
    for (uint64_t q = 1; q <= M + 1; q++) {
        first[q] = n;
        n += 1 + rnd() % 5;
    }
    tev *evs = random_stream(first[M + 1], 100000, &o);
    static unsigned acked[M + 1];
    memset(acked, 0, sizeof acked);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);

    /* phase 1: 1..200 */
    void *d = dealer("producer-1", ep);
    for (uint64_t q = 1; q <= 200; q++) {
        pack_message(&sb, evs, first[q], first[q + 1], q % 3 == 0);
        send_seq(d, q, &sb);
    }
    take_acks(d, acked, M, 1, 200);
    no_more_acks(d, 200);
    for (uint64_t q = 1; q <= 200; q++)
        if (acked[q] != 1) fail_msg("message %llu acked %u times", (unsigned long long)q, acked[q]);
    rill_engine_stats st = stats_when(r.e, decoded_at_least, first[201]);
    assert_int_equal(st.decoded, first[201]);
    assert_int_equal(st.duplicates, 0);
    assert_true(st.commits >= 1);

    /* phase 2: the producer restarts from 101 and goes on to 210 */
    zmq_close(d);
    d = dealer("producer-1", ep);
    memset(acked, 0, sizeof acked);
    for (uint64_t q = 101; q <= 210; q++) {
        pack_message(&sb, evs, first[q], first[q + 1], false);
        send_seq(d, q, &sb);
    }
    take_acks(d, acked, M, 101, 210);
    no_more_acks(d, 200);
    for (uint64_t q = 101; q <= 210; q++)
        if (acked[q] != 1) fail_msg("after the restart, message %llu acked %u times",
                                    (unsigned long long)q, acked[q]);
    st = stats_when(r.e, decoded_at_least, first[211]);
    st = stats_when(r.e, dups_at_least, 100);
    assert_int_equal(st.duplicates, 100);
    assert_int_equal(st.decoded, first[211]);

    /* phase 3: 215 before 211..214 is a gap: dropped and not acked */
    memset(acked, 0, sizeof acked);
    pack_message(&sb, evs, first[215], first[216], false);
    send_seq(d, 215, &sb);
    no_more_acks(d, 300);
    st = stats_when(r.e, gaps_at_least, 1);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.decoded, first[211]);
    for (uint64_t q = 211; q <= M; q++) {
        pack_message(&sb, evs, first[q], first[q + 1], false);
        send_seq(d, q, &sb);
    }
    take_acks(d, acked, M, 211, M);
    no_more_acks(d, 200);
    for (uint64_t q = 211; q <= M; q++) assert_int_equal(acked[q], 1);

    /* a second producer is independent */
    void *d2 = dealer("producer-2", ep);
    tev extra = { evs[first[M + 1] - 1].ts, 0, 0.25 };
    oracle_add(&o, &extra);
    pack_message(&sb, &extra, 0, 1, true);
    send_seq(d2, 7, &sb);
    memset(acked, 0, sizeof acked);
    take_acks(d2, acked, M, 7, 7);

    /* a reliable message that is not [seq, payload] is a dead letter */
    assert_int_equal(zmq_send(d2, "x", 1, 0), 1);
    int64_t until = tu_now_ms() + 5000;
    while (rill_engine_rejected(r.e, "bad_envelope") < 1 && tu_now_ms() < until) usleep(2000);
    assert_int_equal(rill_engine_rejected(r.e, "bad_envelope"), 1);

    rill_engine_stop(r.e);
    collect_until_final(sub, &o, seed, NULL);
    pthread_join(r.th, NULL);
    assert_int_equal(r.rc, RILL_OK);
    oracle_all_seen(&o, seed); /* every event counted once */
    rill_engine_get_stats(r.e, &st); /* after the stop: final */
    assert_int_equal(st.decoded, first[M + 1] + 1);

    msgpack_sbuffer_destroy(&sb);
    zmq_close(d);
    zmq_close(d2);
    zmq_close(sub);
    rill_engine_free(r.e);
    free(evs);
}

/* ---- late events, metrics, JSON lines, PUSH ---------------------------------------------- */

/* An event behind the watermark reaches "late" and the counters; the
 * metrics record carries the watermark; the JSON-lines file and a PUSH
 * sink get the outputs they selected. */
static void test_late_jsonl_push(void **state) {
    char dir[] = "/tmp/rill-test-engine-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[160];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);

    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    const char *pub_outs[] = { "late", "metrics" };
    const char *push_outs[] = { "features" };
    const char *file_outs[] = { "stats", "late" };
    rill_engine_sink snks[] = {
        { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*", .outputs = pub_outs, .n_outputs = 2 },
        { .kind = RILL_SINK_PUSH, .endpoint = "tcp://127.0.0.1:*", .outputs = push_outs, .n_outputs = 1 },
        { .kind = RILL_SINK_JSONL, .endpoint = path, .outputs = file_outs, .n_outputs = 2 },
    };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = snks, .n_sinks = 3 };
    running r;
    start(&r, make_graph(0), &opts);
    void *sub = sock_connect(ZMQ_SUB, rill_engine_sink_endpoint(r.e, 0));
    void *pull = sock_connect(ZMQ_PULL, rill_engine_sink_endpoint(r.e, 1));
    assert_string_equal(rill_engine_sink_endpoint(r.e, 2), path);
    assert_null(rill_engine_sink_endpoint(r.e, 3));
    wait_subscribed(sub);
    void *push = sock_connect(ZMQ_PUSH, rill_engine_source_endpoint(r.e, 0));

    /* k1 in [1000, 2000), then ts 5500 closes it, then ts 1500 is late */
    tev evs[] = { { 1000, 1, 1.5 }, { 1999, 1, 2.0 }, { 5500, 2, 4.0 }, { 1500, 1, 100.0 } };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int i = 0; i < 4; i++) {
        pack_message(&sb, evs, (size_t)i, (size_t)i + 1, true);
        assert_int_equal(zmq_send(push, sb.data, sb.size, 0), (int)sb.size);
        wait_decoded(r.e, (uint64_t)i + 1);
    }
    /* the closed window arrives on the PUSH sink */
    rec rc;
    rec_init(&rc);
    assert_true(rec_recv(pull, &rc, 5000));
    assert_string_equal(rc.topic, "stats");
    assert_int_equal(mp_int(&rc, "start"), 1000);
    assert_int_equal(mp_int(&rc, "count"), 2);
    assert_true(fabs(mp_num(&rc, "sum") - 3.5) < 1e-12);
    /* the late event on the PUB sink */
    bool got = false;
    int64_t until = tu_now_ms() + 5000;
    while (!got && tu_now_ms() < until)
        if (rec_recv(sub, &rc, 100) && !strcmp(rc.topic, "late")) got = true;
    assert_true(got);
    assert_int_equal(mp_int(&rc, "ts"), 1500);
    assert_true(mp_str_is(&rc, "op", "stats"));
    assert_true(mp_str_is(&rc, "key", "k1"));
    assert_true(mp_int(&rc, "watermark") >= 5500);
    /* metrics show it, with the watermark of the source */
    got = false;
    until = tu_now_ms() + 5000;
    while (!got && tu_now_ms() < until) {
        if (!rec_recv(sub, &rc, 100) || strcmp(rc.topic, "metrics")) continue;
        if (mp_int(&rc, "late") != 1) continue;
        const msgpack_object *w = mp_get(&rc, "watermarks");
        assert_non_null(w);
        assert_int_equal(w->type, MSGPACK_OBJECT_MAP);
        assert_int_equal(w->via.map.size, 1);
        assert_int_equal(w->via.map.ptr[0].val.via.u64, 5500);
        got = true;
    }
    assert_true(got);
    rill_engine_stats st;
    rill_engine_get_stats(r.e, &st);
    assert_int_equal(st.late, 1);
    int64_t wm;
    assert_int_equal(rill_engine_watermark(r.e, "events", &wm), RILL_OK);
    assert_int_equal(wm, 5500);
    stop(&r);
    /* the flush at stop sends k2's window to the PUSH sink */
    assert_true(rec_recv(pull, &rc, 5000));
    assert_int_equal(mp_int(&rc, "start"), 5000);
    assert_int_equal(mp_int(&rc, "count"), 1);
    rill_engine_free(r.e);

    /* the file: two stats lines and one late line, valid JSON shape */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int stats = 0, late = 0, other = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        assert_true(l > 2 && line[0] == '{' && line[l - 1] == '\n' && line[l - 2] == '}');
        if (!strncmp(line, "{\"topic\":\"stats\",\"op\":\"stats\"", 29)) stats++;
        else if (!strncmp(line, "{\"topic\":\"late\",\"op\":\"stats\"", 28)) late++;
        else other++;
        if (strstr(line, "\"start\":1000")) assert_non_null(strstr(line, "\"count\":2"));
    }
    fclose(f);
    assert_int_equal(stats, 2);
    assert_int_equal(late, 1);
    assert_int_equal(other, 0);

    rec_free(&rc);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(push);
    zmq_close(pull);
    zmq_close(sub);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- construction errors and stopping ------------------------------------------------------- */

static void test_bad_options(void **state) {
    char err[512];
    rill_engine *e = (rill_engine *)1;
    rill_graph *g = make_graph(0);

    rill_engine_opts none = { 0 };
    assert_int_equal(rill_engine_new(g, &none, &e, err, sizeof err), RILL_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err, "source"));

    rill_engine_source bad_src = { .source = "nope", .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts o1 = { .sources = &bad_src, .n_sources = 1 };
    assert_int_equal(rill_engine_new(g, &o1, &e, err, sizeof err), RILL_EUNKNOWN_NODE);
    assert_non_null(strstr(err, "nope"));

    rill_engine_source bad_ep = { .source = "events", .endpoint = "bogus://x" };
    rill_engine_opts o2 = { .sources = &bad_ep, .n_sources = 1 };
    assert_int_equal(rill_engine_new(g, &o2, &e, err, sizeof err), RILL_EZMQ);
    assert_non_null(strstr(err, "bogus://x"));

    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    const char *outs[] = { "stats", "nonsense" };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*",
                             .outputs = outs, .n_outputs = 2 };
    rill_engine_opts o3 = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1 };
    assert_int_equal(rill_engine_new(g, &o3, &e, err, sizeof err), RILL_EINVAL);
    assert_non_null(strstr(err, "nonsense"));

    rill_engine_sink nofile = { .kind = RILL_SINK_JSONL, .endpoint = "/nonexistent-dir/x.jsonl" };
    rill_engine_opts o4 = { .sources = &src, .n_sources = 1, .sinks = &nofile, .n_sinks = 1 };
    assert_int_equal(rill_engine_new(g, &o4, &e, err, sizeof err), RILL_EIO);
    assert_non_null(strstr(err, "/nonexistent-dir/x.jsonl"));

    rill_graph_free(g);
    rill_engine_free(NULL);
}

/* A stop before run makes run drain and return at once; a second run is
 * refused. */
static void test_stop_before_run(void **state) {
    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .no_signal_handlers = true,
                              .memory_state = true };
    rill_graph *g = make_graph(0);
    rill_engine *e;
    char err[256];
    assert_int_equal(rill_engine_new(g, &opts, &e, err, sizeof err), RILL_OK);
    rill_graph_free(g);
    rill_engine_stop(e);
    int64_t t0 = tu_now_ms();
    assert_int_equal(rill_engine_run(e), RILL_OK);
    assert_true(tu_now_ms() - t0 < 3000);
    assert_int_equal(rill_engine_run(e), RILL_ESTOPPED);
    rill_engine_free(e);
}

/* ---- processing time, strict sources ---------------------------------------------------- */

/* A processing-time source takes events without "ts" and windows them by
 * the wall clock; a strict source rejects an unknown field. */
static void test_processing_time_and_strict(void **state) {
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_graph *g = rill_graph_new();
    assert_non_null(s);
    assert_non_null(g);
    rill_source_opts so = { .time = RILL_TIME_PROCESSING };
    assert_int_equal(rill_graph_source(g, "events", s, &so), RILL_OK);
    rill_schema_free(s);
    rill_agg_spec aggs[] = { { .kind = RILL_AGG_COUNT, .name = "count" },
                             { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" } };
    rill_window_opts wo = { .window = rill_tumbling(3600 * 1000), .aggs = aggs, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "stats", "events", &wo), RILL_OK);

    rill_engine_source src = { .source = "events", .endpoint = "tcp://127.0.0.1:*", .strict = true };
    rill_engine_sink snk = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*" };
    rill_engine_opts opts = { .sources = &src, .n_sources = 1, .sinks = &snk, .n_sinks = 1 };
    running r;
    start(&r, g, &opts);
    void *sub = sock_connect(ZMQ_SUB, rill_engine_sink_endpoint(r.e, 0));
    wait_subscribed(sub);
    void *push = sock_connect(ZMQ_PUSH, rill_engine_source_endpoint(r.e, 0));
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int64_t before = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    for (int i = 0; i < 3; i++) { /* no ts */
        msgpack_pack_map(&pk, 2);
        pack_cstr(&pk, "key"); pack_cstr(&pk, "k1");
        pack_cstr(&pk, "value"); msgpack_pack_int64(&pk, i + 1); /* integers for f64 */
    }
    msgpack_pack_map(&pk, 3); /* strict: "extra" is unknown */
    pack_cstr(&pk, "key"); pack_cstr(&pk, "k1");
    pack_cstr(&pk, "value"); msgpack_pack_double(&pk, 100);
    pack_cstr(&pk, "extra"); msgpack_pack_true(&pk);
    assert_int_equal(zmq_send(push, sb.data, sb.size, 0), (int)sb.size);
    wait_decoded(r.e, 3);
    int64_t until = tu_now_ms() + 5000;
    while (rill_engine_rejected(r.e, "unknown_field") < 1 && tu_now_ms() < until) usleep(2000);
    assert_int_equal(rill_engine_rejected(r.e, "unknown_field"), 1);
    rill_engine_stop(r.e);

    clock_gettime(CLOCK_REALTIME, &t);
    int64_t after = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    rec rc;
    rec_init(&rc);
    bool got = false;
    until = tu_now_ms() + 5000;
    while (!got && tu_now_ms() < until)
        if (rec_recv(sub, &rc, 100) && !strcmp(rc.topic, "stats")) got = true;
    assert_true(got);
    assert_int_equal(mp_int(&rc, "count"), 3);
    assert_true(fabs(mp_num(&rc, "sum") - 6.0) < 1e-12);
    /* the window is the wall-clock hour the events arrived in */
    int64_t start = mp_int(&rc, "start");
    assert_true(start <= after && start + 3600 * 1000 > before);
    pthread_join(r.th, NULL);
    assert_int_equal(r.rc, RILL_OK);

    rec_free(&rc);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(push);
    zmq_close(sub);
    rill_engine_free(r.e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_over_tcp),
        cmocka_unit_test(test_sub_source_over_ipc),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_reliable),
        cmocka_unit_test(test_late_jsonl_push),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_stop_before_run),
        cmocka_unit_test(test_processing_time_and_strict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
