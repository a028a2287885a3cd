/* bench/windows.c — throughput of the window operators, in events per second.
 *
 * What it measures: rill_plan_push on prebuilt batches for each window kind
 * (tumbling, sliding at size/slide ratios 1, 10, 60 and 600, session, global,
 * on-event sliding and tumbling) with 1 000, 100 000 and 1 000 000 keys and
 * batches of 1, 100 and 10 000 events. The headline is a tumbling window with
 * count + sum + mean.
 *
 * The idea: the stream is built before the clock starts (keys drawn
 * uniformly, up to 100 ms out of order within a 200 ms bound), a sink only
 * counts records, and the clock runs only around the pushes. Event time runs
 * so that every 10 s (the tumbling size and the sliding slide) holds about
 * 20 events per key (at most 2 M events), whatever the number of keys: each
 * case then emits about one record per key per 10 s, and a figure measures
 * the operator, not how many windows the chosen density happens to close.
 * Sliding windows keep the 10 s slide and grow the size (ratio x 10 s), so
 * the ratios differ only in how many slices each window merges. Each case stops early when it has used its time budget, so a slow
 * case costs a bounded time and its figure is still a rate. The default run
 * takes a couple of minutes; --quick is sized for CI, --full runs every
 * combination. A table is printed as cases finish, then one JSON line per
 * case: {"bench":"windows","case":...,"events_per_s":...}. An extra argument
 * keeps only the cases whose name contains it.
 *
 * What it does not do: time the flush, decoding, ZeroMQ or commits (other
 * benches cover those), assert anything, or run on RocksDB state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rill/rill.h"

typedef enum agg_set { AGG_CSM, AGG_CSM_MAX } agg_set;

typedef struct bcase {
    char name[96];
    char window[40]; /* short description for the table */
    rill_window_spec spec;
    rill_emit_mode emit;
    agg_set aggs;
    int64_t keys;
    int batch;
    bool str_keys;
} bcase;

typedef struct bresult {
    uint64_t events, records;
    double seconds;
    bool capped;
    int status;
} bresult;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void count_record(const rill_record *r, void *user) {
    (void)r;
    (*(uint64_t *)user)++;
}

static const rill_agg_spec AGGS_CSM_MAX[] = {
    { RILL_AGG_COUNT, NULL, "count", 0 },
    { RILL_AGG_SUM, "n", "sum", 0 },
    { RILL_AGG_MEAN, "x", "mean", 0 },
    { RILL_AGG_MAX, "x", "max", 0 },
};

#define BOUND_MS 200
#define JITTER_MS 100

#define SLIDE_MS 10000

/* Events per 10 s of event time: 20 per key, at most 2 M. */
static int64_t events_per_slide(const bcase *c) {
    return c->keys * 20 < 2000000 ? c->keys * 20 : 2000000;
}

/* Build batches of n events: event i at t0 + i * 10 s / events_per_slide,
 * minus up to JITTER_MS. */
static rill_batch **make_batches(const rill_schema *sc, const bcase *c, uint64_t n, size_t *nb_out) {
    size_t nb = (size_t)((n + (uint64_t)c->batch - 1) / (uint64_t)c->batch);
    rill_batch **b = calloc(nb, sizeof *b);
    if (!b)
        return NULL;
    uint64_t seed = 42 + (uint64_t)c->keys;
    char kbuf[32];
    uint64_t i = 0;
    for (size_t j = 0; j < nb; j++) {
        size_t rows = (size_t)(n - i < (uint64_t)c->batch ? n - i : (uint64_t)c->batch);
        b[j] = rill_batch_new(sc, rows);
        if (!b[j])
            goto fail;
        for (size_t r = 0; r < rows; r++, i++) {
            uint64_t u = rng_next(&seed);
            int64_t k = (int64_t)(u % (uint64_t)c->keys);
            int64_t ts = 1700000000000LL + (int64_t)i * SLIDE_MS / events_per_slide(c) -
                         (int64_t)((u >> 40) % JITTER_MS);
            rill_value key = rill_i64(k);
            if (c->str_keys) {
                int len = snprintf(kbuf, sizeof kbuf, "user-%07lld", (long long)k);
                key = rill_strn(kbuf, (size_t)len);
            }
            if (rill_batch_append(b[j], ts, key) != RILL_OK ||
                rill_batch_set_i64(b[j], 0, (int64_t)((u >> 20) % 1000)) != RILL_OK ||
                rill_batch_set_f64(b[j], 1, (double)((u >> 8) % 100000) / 100.0) != RILL_OK)
                goto fail;
        }
    }
    *nb_out = nb;
    return b;
fail:
    for (size_t j = 0; j < nb; j++)
        rill_batch_free(b[j]);
    free(b);
    return NULL;
}

/* Run one case; the clock runs only around rill_plan_push. */
static bresult run_case(const bcase *c, uint64_t n_events, double budget_s) {
    bresult res = { 0 };
    const rill_field fields[] = { { "n", RILL_I64 }, { "x", RILL_F64 } };
    rill_schema *sc = rill_schema_new(fields, 2);
    rill_graph *g = rill_graph_new();
    rill_plan *p = NULL;
    rill_batch **b = NULL;
    size_t nb = 0;
    res.status = RILL_ENOMEM;
    if (!sc || !g)
        goto done;
    rill_source_opts so = { .max_out_of_orderness_ms = BOUND_MS };
    rill_window_opts wo = {
        .window = c->spec,
        .aggs = AGGS_CSM_MAX,
        .n_aggs = c->aggs == AGG_CSM ? 3 : 4,
        .emit = c->emit,
    };
    if ((res.status = rill_graph_source(g, "src", sc, &so)) != RILL_OK ||
        (res.status = rill_graph_window(g, "w", "src", &wo)) != RILL_OK ||
        (res.status = rill_graph_sink(g, "count", "w", count_record, &res.records)) != RILL_OK ||
        (res.status = rill_graph_compile(g, NULL, &p)) != RILL_OK) {
        fprintf(stderr, "%s: %s: %s\n", c->name, rill_errname(res.status), rill_graph_errmsg(g));
        goto done;
    }
    b = make_batches(sc, c, n_events, &nb);
    if (!b) {
        res.status = RILL_ENOMEM;
        goto done;
    }
    /* Time chunks of about 64k events: the clock costs nothing next to them. */
    size_t chunk = (size_t)(65536 / c->batch) + 1;
    for (size_t j = 0; j < nb;) {
        size_t end = j + chunk < nb ? j + chunk : nb;
        uint64_t rows = 0;
        double t0 = now_s();
        for (; j < end; j++) {
            if ((res.status = rill_plan_push(p, "src", b[j])) != RILL_OK) {
                fprintf(stderr, "%s: push: %s: %s\n", c->name, rill_errname(res.status),
                        rill_plan_errmsg(p));
                goto done;
            }
            rows += rill_batch_len(b[j]);
        }
        res.seconds += now_s() - t0;
        res.events += rows;
        if (res.seconds > budget_s && j < nb) {
            res.capped = true;
            break;
        }
    }
    res.status = rill_plan_flush(p);
done:
    rill_plan_free(p);
    for (size_t j = 0; j < nb; j++)
        rill_batch_free(b[j]);
    free(b);
    rill_graph_free(g);
    rill_schema_free(sc);
    return res;
}

/* ---- the case list ------------------------------------------------------------ */

typedef struct caselist {
    bcase *c;
    size_t n, cap;
} caselist;

static void add_case(caselist *l, const char *kind, const char *window, rill_window_spec spec,
                     rill_emit_mode emit, agg_set aggs, int64_t keys, int batch, bool str_keys) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        bcase *q = realloc(l->c, l->cap * sizeof *q);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        l->c = q;
    }
    bcase *c = &l->c[l->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s/keys=%lld/batch=%d%s", kind, (long long)keys, batch,
             str_keys ? "/string_keys" : "");
    snprintf(c->window, sizeof c->window, "%s", window);
    c->spec = spec;
    c->emit = emit;
    c->aggs = aggs;
    c->keys = keys;
    c->batch = batch;
    c->str_keys = str_keys;
}

typedef enum run_size { RUN_QUICK, RUN_DEFAULT, RUN_FULL } run_size;

static void build_cases(caselist *l, run_size sz) {
    static const int64_t KEYS[] = { 1000, 100000, 1000000 };
    static const int BATCHES[] = { 1, 100, 10000 };
    static const int64_t RATIOS[] = { 1, 10, 60, 600 };

    size_t nk = sz == RUN_QUICK ? 2 : 3;
    char kind[64], desc[64];

    /* headline: tumbling 10 s, count + sum + mean, every key count and batch size */
    for (size_t k = 0; k < nk; k++)
        for (size_t b = 0; b < 3; b++)
            add_case(l, "tumbling_count_sum_mean", "tumbling 10s", rill_tumbling(10000),
                     RILL_EMIT_ON_CLOSE, AGG_CSM, KEYS[k], BATCHES[b], false);
    if (sz != RUN_QUICK)
        add_case(l, "tumbling_count_sum_mean", "tumbling 10s", rill_tumbling(10000),
                 RILL_EMIT_ON_CLOSE, AGG_CSM, 100000, 10000, true);

    for (size_t r = 0; r < 4; r++) {
        snprintf(kind, sizeof kind, "sliding_ratio%lld", (long long)RATIOS[r]);
        snprintf(desc, sizeof desc, "sliding %llds/10s", (long long)(RATIOS[r] * SLIDE_MS / 1000));
        const char *d = desc;
        rill_window_spec w = rill_sliding(RATIOS[r] * SLIDE_MS, SLIDE_MS);
        if (sz == RUN_FULL) {
            /* ratio 600 keeps 600 slices per key: 1 M keys would not fit in memory */
            for (size_t k = 0; k < nk && !(RATIOS[r] == 600 && KEYS[k] > 100000); k++)
                for (size_t b = 0; b < 3; b++)
                    add_case(l, kind, d, w, RILL_EMIT_ON_CLOSE, AGG_CSM_MAX, KEYS[k], BATCHES[b], false);
        } else {
            add_case(l, kind, d, w, RILL_EMIT_ON_CLOSE, AGG_CSM_MAX, 1000, 10000, false);
            if (sz == RUN_DEFAULT && RATIOS[r] == 10)
                add_case(l, kind, d, w, RILL_EMIT_ON_CLOSE, AGG_CSM_MAX, 100000, 10000, false);
        }
    }

    struct { const char *kind, *desc; rill_window_spec w; rill_emit_mode emit; } other[] = {
        { "session_gap5s", "session 5s", rill_session(5000), RILL_EMIT_ON_CLOSE },
        { "global_every100", "global every 100", rill_global(RILL_TRIGGER_EVERY_N, 100), RILL_EMIT_ON_CLOSE },
        { "on_event_sliding60s", "on-event sliding 60s", rill_sliding(60000, 1000), RILL_EMIT_ON_EVENT },
        { "on_event_tumbling10s", "on-event tumbling 10s", rill_tumbling(10000), RILL_EMIT_ON_EVENT },
    };
    for (size_t o = 0; o < sizeof other / sizeof other[0]; o++) {
        if (sz == RUN_FULL) {
            for (size_t k = 0; k < nk; k++)
                for (size_t b = 0; b < 3; b++)
                    add_case(l, other[o].kind, other[o].desc, other[o].w, other[o].emit, AGG_CSM,
                             KEYS[k], BATCHES[b], false);
        } else {
            add_case(l, other[o].kind, other[o].desc, other[o].w, other[o].emit, AGG_CSM, 1000,
                     10000, false);
            if (sz == RUN_DEFAULT)
                add_case(l, other[o].kind, other[o].desc, other[o].w, other[o].emit, AGG_CSM,
                         100000, 10000, false);
        }
    }
}

/* Events per case: with batches, enough for windows to close several times
 * (3 slides' worth at least); fewer with one-event batches (each is a
 * separate allocation). */
static uint64_t events_for(const bcase *c, run_size sz) {
    uint64_t n;
    if (sz == RUN_QUICK)
        n = c->batch == 1 ? 20000 : 200000;
    else if (sz == RUN_DEFAULT)
        n = c->batch == 1 ? 100000 : 1000000;
    else
        n = c->batch == 1 ? 300000 : 2000000;
    uint64_t three = 3 * (uint64_t)events_per_slide(c);
    if (c->batch > 1 && sz != RUN_QUICK && n < three)
        n = three;
    return n;
}

int main(int argc, char **argv) {
    run_size sz = RUN_DEFAULT;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            sz = RUN_QUICK;
        else if (!strcmp(argv[i], "--full"))
            sz = RUN_FULL;
        else if (argv[i][0] == '-') {
            printf("usage: %s [--quick | --full] [substring of case names]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        } else
            filter = argv[i];
    }
    double budget = sz == RUN_QUICK ? 0.5 : sz == RUN_DEFAULT ? 3.0 : 30.0;

    caselist l = { 0 };
    build_cases(&l, sz);
    bresult *res = calloc(l.n ? l.n : 1, sizeof *res);
    bool *ran = calloc(l.n ? l.n : 1, sizeof *ran);
    if (!res || !ran)
        return 1;

    printf("%-50s %-22s %9s %6s %9s %10s %8s %14s\n", "case", "window", "keys", "batch",
           "events", "records", "seconds", "events/s");
    int failed = 0;
    for (size_t i = 0; i < l.n; i++) {
        const bcase *c = &l.c[i];
        if (filter && !strstr(c->name, filter))
            continue;
        res[i] = run_case(c, events_for(c, sz), budget);
        ran[i] = true;
        if (res[i].status != RILL_OK) {
            printf("%-50s failed: %s\n", c->name, rill_errname(res[i].status));
            failed++;
            continue;
        }
        printf("%-50s %-22s %9lld %6d %9llu %10llu %8.3f %14.0f%s\n", c->name, c->window,
               (long long)c->keys, c->batch, (unsigned long long)res[i].events,
               (unsigned long long)res[i].records, res[i].seconds,
               res[i].seconds > 0 ? (double)res[i].events / res[i].seconds : 0.0,
               res[i].capped ? "  (time budget reached)" : "");
        fflush(stdout);
    }
    for (size_t i = 0; i < l.n; i++) {
        if (!ran[i] || res[i].status != RILL_OK)
            continue;
        const bcase *c = &l.c[i];
        printf("{\"bench\":\"windows\",\"case\":\"%s\",\"window\":\"%s\",\"keys\":%lld,"
               "\"batch\":%d,\"events\":%llu,\"records\":%llu,\"seconds\":%.6f,"
               "\"events_per_s\":%.0f}\n",
               c->name, c->window, (long long)c->keys, c->batch,
               (unsigned long long)res[i].events, (unsigned long long)res[i].records,
               res[i].seconds, res[i].seconds > 0 ? (double)res[i].events / res[i].seconds : 0.0);
    }
    free(res);
    free(ran);
    free(l.c);
    return failed ? 1 : 0;
}
