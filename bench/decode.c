/* bench/decode.c — msgpack decode throughput: events/s decoded into a batch.
 *
 * Small events of four entries ({"ts", "key", "price", "qty"}: a string key,
 * an f64 and an i64) packed with msgpack-c as messages of 1, 100 and 1000
 * events, plus a wider event (ts, key, id and six fields, a string among
 * them) in messages of 1000. A few hundred distinct messages are encoded up
 * front and decoded round-robin, so encoding is not measured; the batch is
 * cleared every 1000 events or so, as a run loop does between micro-batches.
 * Each case runs for about RILL_BENCH_SECONDS (default 0.5) of wall time.
 * events/s is over wall time; cpu events/s over the thread's CPU time, which
 * says more on a busy shared machine. Prints a table, then one JSON line per
 * case:
 *   {"bench":"decode","case":"...","events_per_s":...,"cpu_events_per_s":...}
 * It prints figures and asserts nothing.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/batch.h"
#include "engine/codec.h"
#include "rill/rill.h"

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static void pk_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_small(msgpack_packer *pk, uint64_t i) {
    char key[24];
    snprintf(key, sizeof key, "user-%llu", (unsigned long long)(i * 7919 % 10000));
    msgpack_pack_map(pk, 4);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1700000000000LL + (int64_t)i);
    pk_str(pk, "key"); pk_str(pk, key);
    pk_str(pk, "price"); msgpack_pack_double(pk, 10.0 + (double)(i % 1000) * 0.01);
    pk_str(pk, "qty"); msgpack_pack_int64(pk, (int64_t)(i % 50));
}

static void pack_wide(msgpack_packer *pk, uint64_t i) {
    char key[24], id[24];
    snprintf(key, sizeof key, "user-%llu", (unsigned long long)(i * 7919 % 10000));
    snprintf(id, sizeof id, "ev-%llu", (unsigned long long)i);
    msgpack_pack_map(pk, 9);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1700000000000LL + (int64_t)i);
    pk_str(pk, "key"); pk_str(pk, key);
    pk_str(pk, "id"); pk_str(pk, id);
    pk_str(pk, "price"); msgpack_pack_double(pk, 10.0 + (double)(i % 1000) * 0.01);
    pk_str(pk, "qty"); msgpack_pack_int64(pk, (int64_t)(i % 50));
    pk_str(pk, "ok"); if (i & 1) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    pk_str(pk, "country"); pk_str(pk, i % 3 ? "FR" : "DE");
    pk_str(pk, "amount"); msgpack_pack_double(pk, (double)(i % 977) * 1.25);
    pk_str(pk, "items"); msgpack_pack_int64(pk, (int64_t)(i % 9));
}

typedef struct bench_case {
    const char *name;
    size_t per_msg;
    void (*pack)(msgpack_packer *, uint64_t);
} bench_case;

int main(void) {
    const char *env = getenv("RILL_BENCH_SECONDS");
    double budget = env ? atof(env) : 0.5;
    const rill_field fields[] = {
        { "price", RILL_F64 }, { "qty", RILL_I64 }, { "ok", RILL_BOOL },
        { "country", RILL_STRING }, { "amount", RILL_F64 }, { "items", RILL_I64 },
    };
    rill_schema *s = rill_schema_new(fields, 6);
    rill_batch *b = rill_batch_new(s, 2048);
    rill_decoder *d;
    rill_decode_opts o = { .schema = s };
    if (!s || !b || rill__decoder_new(&o, &d, NULL, 0) != RILL_OK) {
        fprintf(stderr, "bench-decode: setup failed\n");
        return 1;
    }
    const bench_case cases[] = {
        { "small_x1", 1, pack_small },
        { "small_x100", 100, pack_small },
        { "small_x1000", 1000, pack_small },
        { "wide_x1000", 1000, pack_wide },
    };
    enum { NCASES = sizeof cases / sizeof *cases };
    double rate[NCASES], cpu_rate[NCASES], mbps[NCASES];
    size_t bytes_per_event[NCASES];
    for (int c = 0; c < NCASES; c++) {
        /* 64k events' worth of distinct messages: a few MB, like a socket's
         * recent traffic */
        size_t nmsg = 65536 / cases[c].per_msg;
        /* the messages back to back in one buffer, as a receive loop sees
         * them in turn: off[m] .. off[m + 1] */
        msgpack_sbuffer all;
        msgpack_sbuffer_init(&all);
        size_t *off = calloc(nmsg + 1, sizeof *off);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &all, msgpack_sbuffer_write);
        uint64_t seq = 0;
        for (size_t m = 0; m < nmsg; m++) {
            off[m] = all.size;
            if (cases[c].per_msg > 1) msgpack_pack_array(&pk, cases[c].per_msg);
            for (size_t i = 0; i < cases[c].per_msg; i++) cases[c].pack(&pk, seq++);
        }
        off[nmsg] = all.size;
        size_t total_bytes = all.size;
        bytes_per_event[c] = total_bytes / (nmsg * cases[c].per_msg);
        rill_decode_counts counts = { 0 };
        uint64_t events = 0, bytes = 0;
        double t0 = now_s(), t = t0, c0 = cpu_s();
        size_t m = 0;
        while (t - t0 < budget) {
            for (int k = 0; k < 64; k++) {
                if (rill_batch_len(b) >= 1000) rill_batch_clear(b);
                rill__decoder_decode(d, all.data + off[m], off[m + 1] - off[m], b, NULL, NULL,
                                     &counts);
                bytes += off[m + 1] - off[m];
                if (++m == nmsg) m = 0;
            }
            t = now_s();
        }
        double cpu = cpu_s() - c0;
        events = counts.events;
        if (counts.rejected) fprintf(stderr, "bench-decode: %llu rejected?\n",
                                     (unsigned long long)counts.rejected);
        rate[c] = (double)events / (t - t0);
        cpu_rate[c] = (double)events / cpu;
        mbps[c] = (double)bytes / (t - t0) / 1e6;
        rill_batch_clear(b);
        msgpack_sbuffer_destroy(&all);
        free(off);
    }
    printf("%-14s %10s %14s %16s %10s\n", "case", "B/event", "events/s", "cpu events/s", "MB/s");
    for (int c = 0; c < NCASES; c++)
        printf("%-14s %10zu %14.0f %16.0f %10.1f\n", cases[c].name, bytes_per_event[c], rate[c],
               cpu_rate[c], mbps[c]);
    for (int c = 0; c < NCASES; c++)
        printf("{\"bench\":\"decode\",\"case\":\"%s\",\"events_per_s\":%.0f,"
               "\"cpu_events_per_s\":%.0f,\"bytes_per_event\":%zu,\"mb_per_s\":%.1f}\n",
               cases[c].name, rate[c], cpu_rate[c], bytes_per_event[c], mbps[c]);
    rill__decoder_free(d);
    rill_batch_free(b);
    rill_schema_free(s);
    return 0;
}
