/* tests/test_engine_models.c — the engine's "models" output over real
 * ZeroMQ sockets: events with ids and their labels arrive on two PULL
 * sources, a feature vector feeds an online SGD model, and a SUB socket on
 * the engine's PUB sink receives the model's metrics record. Its counters
 * must match what the test sent (every event scored, every label with a
 * known id joined, the labels with unknown ids unmatched) and its accuracy
 * must match a count of the model's own prediction records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "rill/rill.h"

#define N_EVENTS 400
#define N_UNKNOWN 7 /* labels for ids nobody sent */

static void *engine_thread(void *arg) {
    rill_engine *e = arg;
    int rc = rill_engine_run(e);
    if (rc) fprintf(stderr, "engine: %s\n", rill_engine_errmsg(e));
    return NULL;
}

static void send_map(void *sock, msgpack_sbuffer *sb) {
    assert_int_equal(zmq_send(sock, sb->data, sb->size, 0), (int)sb->size);
    msgpack_sbuffer_clear(sb);
}

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The value of key `name` in map o, or NULL. */
static const msgpack_object *get(const msgpack_object *o, const char *name) {
    if (o->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(name) &&
            !memcmp(kv->key.via.str.ptr, name, kv->key.via.str.size))
            return &kv->val;
    }
    return NULL;
}

static uint64_t get_u64(const msgpack_object *o, const char *name) {
    const msgpack_object *v = get(o, name);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return v->via.u64;
}

static void test_models_output(void **state) {
    (void)state;
    rill_field ef[] = { { "x", RILL_F64 } };
    rill_field lf[] = { { "label", RILL_F64 } };
    rill_schema *es = rill_schema_new(ef, 1), *ls = rill_schema_new(lf, 1);
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "events", es, NULL), RILL_OK);
    assert_int_equal(rill_graph_source(g, "labels", ls, NULL), RILL_OK);
    rill_feature f[] = { { "events", "x", NULL, 0 } };
    rill_features_opts fo = { .trigger = "events", .features = f, .n_features = 1 };
    assert_int_equal(rill_graph_features(g, "fv", &fo), RILL_OK);
    rill_sgd_opts so = { .eta0 = 0.1 };
    rill_labels_opts lo = { .input = "labels", .timeout_ms = 100000 };
    if (rill_graph_sgd(g, "online", "fv", &so, &lo)) fail_msg("%s", rill_graph_errmsg(g));

    rill_engine_source src[] = {
        { .source = "events", .endpoint = "tcp://127.0.0.1:*" },
        { .source = "labels", .endpoint = "tcp://127.0.0.1:*" },
    };
    const char *outs[] = { "models", "online" };
    rill_engine_sink sink = { .kind = RILL_SINK_PUB, .endpoint = "tcp://127.0.0.1:*",
                              .outputs = outs, .n_outputs = 2 };
    rill_engine_opts eo = { .sources = src, .n_sources = 2, .sinks = &sink, .n_sinks = 1,
                            .memory_state = true, .metrics_interval_ms = 50,
                            .no_signal_handlers = true };
    rill_engine *e;
    char err[512];
    if (rill_engine_new(g, &eo, &e, err, sizeof err)) fail_msg("%s", err);
    rill_graph_free(g);

    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, rill_engine_sink_endpoint(e, 0)), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    void *pe = zmq_socket(ctx, ZMQ_PUSH), *pl = zmq_socket(ctx, ZMQ_PUSH);
    assert_int_equal(zmq_connect(pe, rill_engine_source_endpoint(e, 0)), 0);
    assert_int_equal(zmq_connect(pl, rill_engine_source_endpoint(e, 1)), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, engine_thread, e), 0);
    struct timespec pause = { 0, 200 * 1000 * 1000 };
    nanosleep(&pause, NULL); /* let the subscription reach the PUB socket */

    /* events at ts 1000 + 10 i with id i; x separates the classes; each
     * label (x > 0) at ts + 5; then labels for ids never sent */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < N_EVENTS; i++) {
        double x = (i % 2 ? 1.0 : -1.0) * (1 + i % 5);
        int64_t ts = 1000 + 10 * i;
        msgpack_pack_map(&pk, 4);
        pack_str(&pk, "ts"); msgpack_pack_int64(&pk, ts);
        pack_str(&pk, "key"); pack_str(&pk, "k");
        pack_str(&pk, "id"); msgpack_pack_int64(&pk, i);
        pack_str(&pk, "x"); msgpack_pack_double(&pk, x);
        send_map(pe, &sb);
        msgpack_pack_map(&pk, 4);
        pack_str(&pk, "ts"); msgpack_pack_int64(&pk, ts + 5);
        pack_str(&pk, "key"); pack_str(&pk, "k");
        pack_str(&pk, "id"); msgpack_pack_int64(&pk, i);
        pack_str(&pk, "label"); msgpack_pack_double(&pk, x > 0 ? 1.0 : 0.0);
        send_map(pl, &sb);
    }
    for (int i = 0; i < N_UNKNOWN; i++) {
        msgpack_pack_map(&pk, 4);
        pack_str(&pk, "ts"); msgpack_pack_int64(&pk, 1000 + 10 * N_EVENTS + i);
        pack_str(&pk, "key"); pack_str(&pk, "k");
        pack_str(&pk, "id"); msgpack_pack_int64(&pk, 1000000 + i);
        pack_str(&pk, "label"); msgpack_pack_double(&pk, 1.0);
        send_map(pl, &sb);
    }
    /* one event far ahead moves both watermarks past everything above */
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "ts"); msgpack_pack_int64(&pk, 10000000);
    pack_str(&pk, "key"); pack_str(&pk, "other");
    pack_str(&pk, "x"); msgpack_pack_double(&pk, 0.0);
    send_map(pe, &sb);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "ts"); msgpack_pack_int64(&pk, 10000000);
    pack_str(&pk, "key"); pack_str(&pk, "other");
    pack_str(&pk, "label"); msgpack_pack_double(&pk, 0.0);
    send_map(pl, &sb);

    /* read records until a models record shows every label handled */
    int timeout = 200;
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint64_t pred_records = 0, correct = 0;
    bool done = false;
    int64_t deadline = time(NULL) + 20;
    while (!done && time(NULL) < deadline) {
        char topic[64];
        int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
        if (n < 0) continue;
        topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = 0;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sub, 0) >= 0);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        assert_int_equal(msgpack_unpack_next(&up, zmq_msg_data(&m), zmq_msg_size(&m), NULL),
                         MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *o = &up.data;
        if (!strcmp(topic, "online")) {
            const msgpack_object *id = get(o, "id"), *label = get(o, "label");
            if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER && label) {
                int i = (int)id->via.u64;
                double truth = (i % 2) ? 1.0 : 0.0;
                pred_records++;
                correct += label->via.f64 == truth;
            }
        } else if (!strcmp(topic, "models")) {
            const msgpack_object *st = get(o, "stats");
            assert_non_null(st);
            const msgpack_object *model = get(o, "model");
            assert_non_null(model);
            assert_int_equal(model->via.str.size, 6);
            if (get_u64(st, "matched") == N_EVENTS && get_u64(st, "unmatched") == N_UNKNOWN) {
                /* the far-ahead event's vector waits for a watermark past it */
                assert_int_equal(get_u64(st, "vectors"), N_EVENTS);
                assert_int_equal(get_u64(st, "learned"), N_EVENTS);
                assert_int_equal(get_u64(st, "late"), 0);
                const msgpack_object *cum = get(o, "cumulative");
                assert_non_null(cum);
                assert_int_equal(get_u64(cum, "n"), N_EVENTS);
                const msgpack_object *acc = get(cum, "accuracy");
                assert_non_null(acc);
                /* prequential accuracy = the share of the labelled
                 * predictions (ids 0..N-1) the model got right */
                assert_int_equal(pred_records, N_EVENTS);
                assert_true(acc->via.f64 == (double)correct / N_EVENTS);
                assert_true(acc->via.f64 > 0.9); /* separable: it learns */
                done = true;
            }
        }
        msgpack_unpacked_destroy(&up);
        zmq_msg_close(&m);
    }
    assert_true(done);
    rill_engine_stop(e);
    pthread_join(th, NULL);
    msgpack_sbuffer_destroy(&sb);
    zmq_close(sub);
    zmq_close(pe);
    zmq_close(pl);
    zmq_ctx_term(ctx);
    rill_engine_free(e);
    rill_schema_free(es);
    rill_schema_free(ls);
}

int main(void) {
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_models_output) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
