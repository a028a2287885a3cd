/* tests/test_oracle_windows.c — the window operators judged by a brute-force oracle.
 *
 * What it implements: property tests of every window kind, written only
 * against the public API: tumbling (with and without offset), sliding at
 * size/slide ratios 1, 3, 10 and a non-divisible pair, session, global with
 * each trigger, and on-event emission for sliding, tumbling and session
 * windows, plus one operator fed by two sources and a restart test. A seeded
 * random stream (many integer and string keys, look-alike keys such as 17 and
 * "17", out-of-order events within the bound, allowed-late and late events
 * beyond it, ties in event time, null fields, i64 values large enough that a
 * sum kept in a double would round) is pushed in batches of 1, 7 and 1000
 * events, and every record, every late event and the operator counters are
 * compared with what the documented semantics give.
 *
 * The idea: the oracle replays the stream one event at a time, keeping only
 * what the documentation talks about: the running watermark (max event time
 * seen minus the source's bound, the minimum over an operator's inputs) and,
 * for each event, the watermark just before it arrived, which decides whether
 * it is late (and, for sliding windows, for which of its windows). Aggregate
 * values are recomputed from scratch for every check by plain loops over the
 * raw events of the window: no slicing, no incremental state, nothing shared
 * with the engine. After each push the oracle works out which windows had to
 * fire in that push (those whose end the watermark passed, and those an
 * allowed-late event changed), checks that they did, with the right values,
 * and that nothing else fired. After the flush every window with an accepted
 * event must have been emitted, with the exact values as its last record.
 * Counts and integer sums must be exact; doubles agree to 1e-9 relative to
 * the magnitude of their inputs. On failure the seed is printed; replay one
 * seed with RILL_ORACLE_SEED=<seed>, run more with RILL_ORACLE_SEEDS=<count>,
 * and pick tests with RILL_ORACLE_ONLY=<pattern>.
 *
 * What it does not do: judge records emitted in the middle of a push (the
 * engine may emit a window, then update it, within one batch; only the last
 * record of each window in a push is judged), check start/end of on-event and
 * global records (not documented), or cover idle sources, processing time and
 * the RocksDB backend (restart uses the in-memory store).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rill/rill.h"

/* ---- random numbers ------------------------------------------------------ */

typedef struct rng { uint64_t s; } rng;

static uint64_t rng_next(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [lo, hi]. */
static int64_t rng_range(rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }
static int rng_pct(rng *r) { return (int)(rng_next(r) % 100); }

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}
static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size);
    if (!q) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return q;
}

/* ---- keys ------------------------------------------------------------------ */

/* Keys 0..N_HOT-1 carry half the events; the others share the rest. Integer
 * and string keys alternate, and the hot ones include 17 and "17", which must
 * stay two keys, and a string with a NUL byte inside. */
#define N_HOT 4
#define MAX_KEYS 256
#define KEY_STR_MAX 300

typedef struct tkey {
    bool is_str;
    int64_t i;
    size_t len;
    char s[KEY_STR_MAX];
} tkey;

static tkey g_keys[MAX_KEYS];
static bool g_keys_ready;

static void keys_init(void) {
    if (g_keys_ready)
        return;
    for (int k = 0; k < MAX_KEYS; k++) {
        tkey *t = &g_keys[k];
        memset(t, 0, sizeof *t);
        if (k % 2 == 0) {
            switch (k) {
            case 0: t->i = 17; break;
            case 2: t->i = -1; break;
            case 4: t->i = INT64_MIN; break;
            case 6: t->i = INT64_MAX; break;
            case 8: t->i = 0; break;
            default: t->i = (int64_t)k * 1000003 - 500000000; break;
            }
        } else {
            t->is_str = true;
            switch (k) {
            case 1: memcpy(t->s, "17", 2); t->len = 2; break;
            case 3: memcpy(t->s, "a\0b", 3); t->len = 3; break;
            case 5: memset(t->s, 'z', 250); t->len = 250; break;
            case 7: memcpy(t->s, "caf\xc3\xa9", 5); t->len = 5; break;
            default: t->len = (size_t)snprintf(t->s, sizeof t->s, "user-%d", k); break;
            }
        }
    }
    g_keys_ready = true;
}

static rill_value key_value(int k) {
    const tkey *t = &g_keys[k];
    return t->is_str ? rill_strn(t->s, t->len) : rill_i64(t->i);
}

/* The index of key v, or -1 when it is none of ours. */
static int key_find(rill_value v) {
    for (int k = 0; k < MAX_KEYS; k++) {
        const tkey *t = &g_keys[k];
        if (v.type == RILL_I64 && !t->is_str && v.as.i64 == t->i)
            return k;
        if (v.type == RILL_STRING && t->is_str && v.as.str.len == t->len &&
            (t->len == 0 || memcmp(v.as.str.ptr, t->s, t->len) == 0))
            return k;
    }
    return -1;
}

static const char *key_desc(int k, char *buf, size_t n) {
    if (k < 0) {
        snprintf(buf, n, "<unknown key>");
    } else if (!g_keys[k].is_str) {
        snprintf(buf, n, "%lld", (long long)g_keys[k].i);
    } else if (g_keys[k].len > 20) {
        snprintf(buf, n, "\"%.8s...\"(%zu bytes)", g_keys[k].s, g_keys[k].len);
    } else {
        size_t o = 0;
        o += (size_t)snprintf(buf + o, n - o, "\"");
        for (size_t i = 0; i < g_keys[k].len && o + 6 < n; i++) {
            unsigned char ch = (unsigned char)g_keys[k].s[i];
            if (ch >= 32 && ch < 127)
                o += (size_t)snprintf(buf + o, n - o, "%c", ch);
            else
                o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        }
        snprintf(buf + o, n - o, "\"");
    }
    return buf;
}

/* ---- configurations ---------------------------------------------------------- */

typedef struct tcfg {
    const char *name;
    rill_window_spec win;
    rill_emit_mode emit;
    int64_t lateness;  /* allowed lateness of the operator */
    int n_src;         /* 1, or 2 for an operator reading two sources */
    int64_t bound[2];  /* max out-of-orderness of each source */
    int n_events;
    int n_cold;        /* keys beside the hot ones */
    int64_t late_span; /* a late-ish event is up to bound + late_span behind */
    bool rate;         /* include the rate aggregate (on-close windows only) */
    bool heartbeats;   /* move source watermarks with rill_plan_advance between batches */
} tcfg;

typedef enum tmode { MODE_GRID, MODE_SESSION, MODE_EVENT, MODE_GLOBAL } tmode;

static tmode cfg_mode(const tcfg *c) {
    if (c->win.kind == RILL_WINDOW_GLOBAL)
        return MODE_GLOBAL;
    if (c->emit == RILL_EMIT_ON_EVENT)
        return MODE_EVENT;
    if (c->win.kind == RILL_WINDOW_SESSION)
        return MODE_SESSION;
    return MODE_GRID;
}

static int64_t grid_slide(const tcfg *c) {
    return c->win.kind == RILL_WINDOW_TUMBLING ? c->win.size_ms : c->win.slide_ms;
}
/* Start of the latest tumbling/sliding window that holds ts. */
static int64_t grid_last_start(const tcfg *c, int64_t ts) {
    int64_t slide = grid_slide(c);
    return c->win.offset_ms + floordiv(ts - c->win.offset_ms, slide) * slide;
}

/* ---- aggregates --------------------------------------------------------------- */

/* The aggregates every operator computes, in declared order; rate comes last
 * and is left out where the window length is not documented. */
static const rill_agg_spec AGGS[] = {
    { RILL_AGG_COUNT, NULL, "count", 0 },
    { RILL_AGG_SUM, "n", "sum_n", 0 },
    { RILL_AGG_MEAN, "x", "mean_x", 0 },
    { RILL_AGG_MIN, "x", "min_x", 0 },
    { RILL_AGG_MAX, "x", "max_x", 0 },
    { RILL_AGG_VARIANCE, "x", "var_x", 0 },
    { RILL_AGG_STDDEV, "x", "std_x", 0 },
    { RILL_AGG_FIRST, "x", "first_x", 0 },
    { RILL_AGG_LAST, "x", "last_x", 0 },
    { RILL_AGG_LAST_N, "x", "last3_x", 3 },
    { RILL_AGG_RECENCY, NULL, "recency", 0 },
    { RILL_AGG_MIN, "n", "min_n", 0 },
    { RILL_AGG_MAX, "n", "max_n", 0 },
    { RILL_AGG_FIRST, "n", "first_n", 0 },
    { RILL_AGG_LAST, "n", "last_n", 0 },
    { RILL_AGG_DISTINCT, "n", "distinct_n", 12 },
    { RILL_AGG_RATE, NULL, "rate", 0 },
};
#define N_AGGS_ALL (sizeof AGGS / sizeof AGGS[0])
#define LIST_MAX 4

static size_t cfg_n_aggs(const tcfg *c) { return c->rate ? N_AGGS_ALL : N_AGGS_ALL - 1; }

/* ---- events --------------------------------------------------------------------- */

typedef struct tev {
    int64_t ts;
    int key;
    int src;
    int64_t n; /* i64 field, always present */
    double x;  /* f64 field, null when !has_x */
    bool has_x;
} tev;

/* A stream of c->n_events events: a clock moves on by 0..3 ms per event (0
 * often, so ties in event time are common); most events are at most their
 * source's bound behind it (never late), some are up to late_span further
 * behind (late or allowed-late depending on the windows). */
static tev *gen_stream(const tcfg *c, uint64_t seed) {
    rng r = { seed };
    tev *ev = xcalloc((size_t)c->n_events, sizeof *ev);
    int64_t clock = 1700000000000LL + rng_range(&r, 0, 100000);
    int src = 0;
    for (int i = 0; i < c->n_events; i++) {
        tev *e = &ev[i];
        if (rng_pct(&r) >= 35)
            clock += rng_range(&r, 1, 3);
        if (c->n_src == 2 && rng_pct(&r) < 10)
            src ^= 1;
        e->src = src;
        int p = rng_pct(&r);
        int64_t delay;
        if (p < 12)
            delay = c->bound[src] + 1 + rng_range(&r, 0, c->late_span - 1);
        else if (p < 30)
            delay = 0;
        else
            delay = rng_range(&r, 0, c->bound[src]);
        e->ts = clock - delay;
        e->key = rng_pct(&r) < 50 ? (int)rng_range(&r, 0, N_HOT - 1)
                                  : N_HOT + (int)rng_range(&r, 0, c->n_cold - 1);
        if (rng_pct(&r) < 8) {
            int64_t big = ((int64_t)1 << 50) - rng_range(&r, 0, (int64_t)1 << 20);
            e->n = rng_pct(&r) < 50 ? big : -big;
        } else {
            e->n = rng_range(&r, -20, 20);
        }
        e->has_x = rng_pct(&r) >= 10;
        if (e->has_x)
            e->x = rng_pct(&r) < 3 ? (rng_unit(&r) * 2 - 1) * 1e4 : 20 + (rng_unit(&r) * 2 - 1) * 50;
    }
    return ev;
}

static const char *const SRC_NAMES[2] = { "src0", "src1" };

typedef struct tbatch {
    rill_batch *b;
    int src;
    int lo, hi; /* events [lo, hi) */
} tbatch;

/* Consecutive events of one source, at most bs per batch. The event id is
 * its position in the stream. */
static tbatch *make_batches(const tev *ev, int n, int bs, const rill_schema *sc, int *nb_out) {
    tbatch *bt = xcalloc((size_t)n, sizeof *bt);
    int nb = 0;
    for (int i = 0; i < n;) {
        tbatch *t = &bt[nb++];
        t->src = ev[i].src;
        t->lo = i;
        t->b = rill_batch_new(sc, (size_t)(bs < 64 ? bs : 64));
        assert_non_null(t->b);
        while (i < n && i - t->lo < bs && ev[i].src == t->src) {
            assert_int_equal(rill_batch_append(t->b, ev[i].ts, key_value(ev[i].key)), RILL_OK);
            assert_int_equal(rill_batch_set_i64(t->b, 0, ev[i].n), RILL_OK);
            if (ev[i].has_x)
                assert_int_equal(rill_batch_set_f64(t->b, 1, ev[i].x), RILL_OK);
            assert_int_equal(rill_batch_set_id(t->b, rill_i64(i)), RILL_OK);
            i++;
        }
        t->hi = i;
    }
    *nb_out = nb;
    return bt;
}

static void free_batches(tbatch *bt, int nb) {
    for (int i = 0; i < nb; i++)
        rill_batch_free(bt[i].b);
    free(bt);
}

/* ---- what the plan emitted ---------------------------------------------------------- */

typedef struct tval {
    rill_type type;
    double f;
    int64_t i;
    size_t len; /* list length (only the first LIST_MAX are kept) */
    double list[LIST_MAX];
} tval;

typedef struct trec {
    int key;
    int64_t start, end, ts;
    bool has_id;
    int64_t id;
    uint32_t flags;
    int push; /* the push (or the flush) that emitted it */
    size_t seq;
    tval v[N_AGGS_ALL];
} trec;

typedef struct tlate {
    int64_t id;
    bool has_id;
    int64_t ts, wm;
    int key;
    int src;
} tlate;

#define ERR_KEEP 8
#define MAX_RECS_PER_EVENT 50
typedef struct errs {
    int n;
    char msg[ERR_KEEP][640];
} errs;

static void err_add(errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_add(errs *e, const char *fmt, ...) {
    if (e->n < ERR_KEEP) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg[e->n], sizeof e->msg[e->n], fmt, ap);
        va_end(ap);
    }
    e->n++;
}

/* What a sink and the late callback collect; shared by the oracle run and the
 * restart run. */
typedef struct collector {
    size_t n_aggs;
    size_t max_recs; /* a runaway operator stops being recorded here */
    bool overflow;
    int push;
    trec *recs;
    size_t n_recs, cap_recs;
    tlate *lates;
    size_t n_lates, cap_lates;
    errs *e;
} collector;

static void val_copy(tval *d, rill_value v) {
    memset(d, 0, sizeof *d);
    d->type = v.type;
    switch (v.type) {
    case RILL_F64: d->f = v.as.f64; break;
    case RILL_I64: d->i = v.as.i64; break;
    case RILL_BOOL: d->i = v.as.b; break;
    case RILL_STRING: d->len = v.as.str.len; break;
    case RILL_F64_LIST:
        d->len = v.as.list.len;
        for (size_t j = 0; j < d->len && j < LIST_MAX; j++)
            d->list[j] = v.as.list.ptr[j];
        break;
    case RILL_NULL: break;
    }
}

static void on_record(const rill_record *r, void *user) {
    collector *C = user;
    if (!r->op || strcmp(r->op, "w") != 0)
        err_add(C->e, "record from operator '%s', expected 'w'", r->op ? r->op : "(null)");
    if (r->n_values != C->n_aggs) {
        err_add(C->e, "record with %zu values, expected %zu", r->n_values, C->n_aggs);
        return;
    }
    for (size_t a = 0; a < C->n_aggs; a++)
        if (!r->names || !r->names[a] || strcmp(r->names[a], AGGS[a].name) != 0) {
            err_add(C->e, "value %zu is named '%s', expected '%s'", a,
                    r->names && r->names[a] ? r->names[a] : "(null)", AGGS[a].name);
            return;
        }
    if (C->n_recs >= C->max_recs) {
        if (!C->overflow)
            err_add(C->e, "more than %zu records: the rest are not recorded", C->max_recs);
        C->overflow = true;
        return;
    }
    if (C->n_recs == C->cap_recs) {
        C->cap_recs = C->cap_recs ? 2 * C->cap_recs : 1024;
        C->recs = xrealloc(C->recs, C->cap_recs * sizeof *C->recs);
    }
    trec *t = &C->recs[C->n_recs];
    memset(t, 0, sizeof *t);
    t->key = key_find(r->key);
    if (t->key < 0)
        err_add(C->e, "record with a key that is none of the input's (type %d)", (int)r->key.type);
    t->start = r->start;
    t->end = r->end;
    t->ts = r->ts;
    t->flags = r->flags;
    t->has_id = r->id.type == RILL_I64;
    t->id = t->has_id ? r->id.as.i64 : -1;
    t->push = C->push;
    t->seq = C->n_recs;
    for (size_t a = 0; a < C->n_aggs; a++)
        val_copy(&t->v[a], r->values[a]);
    C->n_recs++;
}

static void on_late(const rill_late_event *e, void *user) {
    collector *C = user;
    if (!e->op || strcmp(e->op, "w") != 0)
        err_add(C->e, "late event of operator '%s', expected 'w'", e->op ? e->op : "(null)");
    if (C->n_lates == C->cap_lates) {
        C->cap_lates = C->cap_lates ? 2 * C->cap_lates : 256;
        C->lates = xrealloc(C->lates, C->cap_lates * sizeof *C->lates);
    }
    tlate *l = &C->lates[C->n_lates++];
    memset(l, 0, sizeof *l);
    l->has_id = e->id.type == RILL_I64;
    l->id = l->has_id ? e->id.as.i64 : -1;
    l->ts = e->ts;
    l->wm = e->watermark;
    l->key = key_find(e->key);
    l->src = -1;
    for (int s = 0; s < 2; s++)
        if (e->input && strcmp(e->input, SRC_NAMES[s]) == 0)
            l->src = s;
}

static void collector_free(collector *C) {
    free(C->recs);
    free(C->lates);
    memset(C, 0, sizeof *C);
}

/* ---- building a plan ---------------------------------------------------------------- */

static rill_schema *make_schema(void) {
    const rill_field f[] = { { "n", RILL_I64 }, { "x", RILL_F64 } };
    rill_schema *s = rill_schema_new(f, 2);
    assert_non_null(s);
    return s;
}

/* The graph src0 [+ src1] -> w -> sink, compiled on st (NULL = private). */
static rill_plan *make_plan(const tcfg *c, const rill_schema *sc, rill_state *st, collector *C) {
    rill_graph *g = rill_graph_new();
    assert_non_null(g);
    for (int s = 0; s < c->n_src; s++) {
        rill_source_opts so = { .max_out_of_orderness_ms = c->bound[s] };
        assert_int_equal(rill_graph_source(g, SRC_NAMES[s], sc, &so), RILL_OK);
    }
    rill_window_opts wo = {
        .window = c->win,
        .aggs = AGGS,
        .n_aggs = cfg_n_aggs(c),
        .emit = c->emit,
        .allowed_lateness_ms = c->lateness,
    };
    assert_int_equal(rill_graph_window(g, "w", SRC_NAMES[0], &wo), RILL_OK);
    if (c->n_src == 2)
        assert_int_equal(rill_graph_add_input(g, "w", SRC_NAMES[1]), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, C), RILL_OK);
    assert_int_equal(rill_graph_on_late(g, on_late, C), RILL_OK);
    rill_plan_opts po = { .state = st };
    rill_plan *p = NULL;
    int rc = rill_graph_compile(g, &po, &p);
    if (rc != RILL_OK)
        print_error("compile of '%s' failed: %s: %s\n", c->name, rill_errname(rc),
                    rill_graph_errmsg(g));
    assert_int_equal(rc, RILL_OK);
    assert_non_null(p);
    rill_graph_free(g);
    return p;
}

static void must_ok(rill_plan *p, int rc, const char *what) {
    if (rc != RILL_OK)
        print_error("%s failed: %s: %s\n", what, rill_errname(rc), rill_plan_errmsg(p));
    assert_int_equal(rc, RILL_OK);
}

/* ---- the oracle ------------------------------------------------------------------------ */

typedef struct twin { /* one (key, window) of a grid or session operator */
    bool used;
    int key;
    int64_t start, end;
    int n_acc;      /* grid: events accepted into it so far */
    int acc_push;   /* grid: the push of the last of them */
    int n_emit;     /* records emitted for it */
    int emit_push;  /* the push of the last one */
    size_t last_rec;
    int seen_push;  /* session: the last push after which it was a session of the events */
} twin;

typedef struct wtable {
    twin *slot;
    size_t cap, n;
} wtable;

static uint64_t wt_hash(int key, int64_t s, int64_t e) {
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull ^ (uint64_t)s * 0xc2b2ae3d27d4eb4full ^
                 (uint64_t)e * 0x165667b19e3779f9ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* The entry of (key, [s, e)); NULL when absent and !create. The pointer lives
 * until the next call that creates. */
static twin *wt_find(wtable *t, int key, int64_t s, int64_t e, bool create) {
    if (create && (t->n + 1) * 2 > t->cap) {
        wtable u = { xcalloc(t->cap ? 2 * t->cap : 1024, sizeof(twin)), t->cap ? 2 * t->cap : 1024, 0 };
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].used) {
                twin *d = wt_find(&u, t->slot[i].key, t->slot[i].start, t->slot[i].end, true);
                *d = t->slot[i];
            }
        free(t->slot);
        *t = u;
    }
    if (!t->cap)
        return NULL;
    for (size_t i = wt_hash(key, s, e) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        twin *w = &t->slot[i];
        if (!w->used) {
            if (!create)
                return NULL;
            memset(w, 0, sizeof *w);
            w->used = true;
            w->key = key;
            w->start = s;
            w->end = e;
            w->emit_push = -1;
            w->acc_push = -1;
            w->seen_push = -1;
            t->n++;
            return w;
        }
        if (w->key == key && w->start == s && w->end == e)
            return w;
    }
}

typedef struct tsess { int64_t first, last; int max_push; } tsess;
typedef struct skey {
    tsess *s;
    int n, cap;
    bool dirty;
} skey;

typedef struct run {
    const tcfg *c;
    tmode mode;
    uint64_t seed;
    int bs;
    size_t n_aggs;
    const tev *ev;
    int n;
    int *kev[MAX_KEYS]; /* per key, its events in arrival order */
    int kn[MAX_KEYS];
    /* the oracle's replay */
    int64_t maxts[2];
    int64_t adv[2];     /* the latest heartbeat of each source (rill_plan_advance) */
    int64_t w;          /* operator watermark after the events replayed so far */
    int64_t *wb;        /* per event: the operator watermark just before it */
    bool *late;
    int *push_of;
    int done;           /* events replayed */
    long n_late;
    /* bookkeeping per mode */
    wtable tab;
    skey sk[MAX_KEYS];
    long *ev_rec;       /* on-event: per event, its record or -1 */
    size_t *grec[MAX_KEYS]; /* global: per key, its records in order */
    size_t gn[MAX_KEYS], gcap[MAX_KEYS], gchecked[MAX_KEYS];
    collector col;
    errs e;
} run;

/* A source's watermark: max event time seen minus its bound, or its latest
 * heartbeat when that is ahead. */
static int64_t src_wm(const run *R, int s) {
    int64_t w = R->maxts[s] == INT64_MIN ? INT64_MIN : R->maxts[s] - R->c->bound[s];
    return R->adv[s] > w ? R->adv[s] : w;
}
static int64_t op_wm(const run *R) {
    int64_t w = src_wm(R, 0);
    if (R->c->n_src == 2 && src_wm(R, 1) < w)
        w = src_wm(R, 1);
    return w;
}

/* Whether an event at ts is late for the operator as a whole when the
 * watermark just before it is wb. */
static bool is_late(const tcfg *c, tmode m, int64_t ts, int64_t wb) {
    if (wb == INT64_MIN)
        return false;
    switch (m) {
    case MODE_GLOBAL: return false;
    case MODE_EVENT: return ts < wb;
    case MODE_SESSION: return ts + c->win.gap_ms + c->lateness <= wb;
    case MODE_GRID: return grid_last_start(c, ts) + c->win.size_ms + c->lateness <= wb;
    }
    return false;
}

/* Whether event i was added to the grid window ending at end. */
static bool grid_accepts(const run *R, int i, int64_t end) {
    return R->wb[i] == INT64_MIN || end + R->c->lateness > R->wb[i];
}

static void oracle_event(run *R, int i, int push) {
    const tev *e = &R->ev[i];
    int64_t wb = R->w;
    R->wb[i] = wb;
    R->push_of[i] = push;
    R->late[i] = is_late(R->c, R->mode, e->ts, wb);
    if (R->late[i]) {
        R->n_late++;
    } else if (R->mode == MODE_GRID) {
        for (int64_t s = grid_last_start(R->c, e->ts); s > e->ts - R->c->win.size_ms;
             s -= grid_slide(R->c)) {
            if (!grid_accepts(R, i, s + R->c->win.size_ms))
                continue;
            twin *w = wt_find(&R->tab, e->key, s, s + R->c->win.size_ms, true);
            w->n_acc++;
            w->acc_push = push;
        }
    } else if (R->mode == MODE_SESSION) {
        R->sk[e->key].dirty = true;
    }
    if (e->ts > R->maxts[e->src])
        R->maxts[e->src] = e->ts;
    R->w = op_wm(R);
    R->done = i + 1;
}

/* ---- brute force ---------------------------------------------------------------------- */

typedef struct tsorted { int64_t ts; int idx; double x; } tsorted;

static int cmp_sorted(const void *a, const void *b) {
    const tsorted *p = a, *q = b;
    if (p->ts != q->ts)
        return p->ts < q->ts ? -1 : 1;
    return (p->idx > q->idx) - (p->idx < q->idx);
}

static bool has_field(const tev *e, const char *f) { return strcmp(f, "n") == 0 || e->has_x; }
static double field_f(const tev *e, const char *f) { return strcmp(f, "n") == 0 ? (double)e->n : e->x; }

/* The expected values of the aggregates over the events idx[0..k) (given in
 * arrival order) of window [start, end). scale[a] is the magnitude of the
 * inputs of aggregate a: the yardstick doubles are compared against. */
static void brute(const run *R, const int *idx, int k, int64_t start, int64_t end, tval *out,
                  double *scale) {
    const tev *ev = R->ev;
    for (size_t a = 0; a < R->n_aggs; a++) {
        const rill_agg_spec *sp = &AGGS[a];
        const char *f = sp->field;
        bool is_x = f && strcmp(f, "x") == 0;
        tval *o = &out[a];
        memset(o, 0, sizeof *o);
        scale[a] = 0;
        int cnt = 0;
        double maxabs = 0;
        for (int j = 0; j < k; j++)
            if (f && has_field(&ev[idx[j]], f)) {
                cnt++;
                if (fabs(field_f(&ev[idx[j]], f)) > maxabs)
                    maxabs = fabs(field_f(&ev[idx[j]], f));
            }
        switch (sp->kind) {
        case RILL_AGG_COUNT:
            o->type = RILL_I64;
            o->i = k;
            break;
        case RILL_AGG_SUM: /* only over n here */
            o->type = RILL_I64;
            for (int j = 0; j < k; j++)
                o->i += ev[idx[j]].n;
            break;
        case RILL_AGG_MEAN:
            if (cnt) {
                double s = 0;
                for (int j = 0; j < k; j++)
                    if (has_field(&ev[idx[j]], f))
                        s += field_f(&ev[idx[j]], f);
                o->type = RILL_F64;
                o->f = s / cnt;
            }
            scale[a] = maxabs;
            break;
        case RILL_AGG_MIN:
        case RILL_AGG_MAX: {
            int best = -1;
            for (int j = 0; j < k; j++) {
                if (!has_field(&ev[idx[j]], f))
                    continue;
                double v = field_f(&ev[idx[j]], f);
                if (best < 0)
                    best = idx[j];
                else if (is_x && (sp->kind == RILL_AGG_MIN ? v < ev[best].x : v > ev[best].x))
                    best = idx[j];
                else if (!is_x && (sp->kind == RILL_AGG_MIN ? ev[idx[j]].n < ev[best].n
                                                            : ev[idx[j]].n > ev[best].n))
                    best = idx[j];
            }
            if (best >= 0) {
                o->type = is_x ? RILL_F64 : RILL_I64;
                o->f = ev[best].x;
                o->i = ev[best].n;
            }
            scale[a] = maxabs;
            break;
        }
        case RILL_AGG_VARIANCE:
        case RILL_AGG_STDDEV:
            if (cnt >= 2) {
                double s = 0, ss = 0;
                for (int j = 0; j < k; j++)
                    if (has_field(&ev[idx[j]], f))
                        s += field_f(&ev[idx[j]], f);
                double mean = s / cnt;
                for (int j = 0; j < k; j++)
                    if (has_field(&ev[idx[j]], f)) {
                        double d = field_f(&ev[idx[j]], f) - mean;
                        ss += d * d;
                    }
                o->type = RILL_F64;
                o->f = ss / (cnt - 1);
                if (sp->kind == RILL_AGG_STDDEV)
                    o->f = sqrt(o->f);
            }
            scale[a] = sp->kind == RILL_AGG_VARIANCE ? maxabs * maxabs : maxabs;
            break;
        case RILL_AGG_FIRST:
        case RILL_AGG_LAST: {
            /* earliest event time, ties to the first arrival; latest, ties to the last */
            int best = -1;
            for (int j = 0; j < k; j++) {
                const tev *e = &ev[idx[j]];
                if (!has_field(e, f))
                    continue;
                if (best < 0 || (sp->kind == RILL_AGG_FIRST ? e->ts < ev[best].ts
                                                             : e->ts >= ev[best].ts))
                    best = idx[j];
            }
            if (best >= 0) {
                o->type = is_x ? RILL_F64 : RILL_I64;
                o->f = ev[best].x;
                o->i = ev[best].n;
            }
            scale[a] = maxabs;
            break;
        }
        case RILL_AGG_LAST_N: {
            tsorted *v = xcalloc((size_t)k, sizeof *v);
            int m = 0;
            for (int j = 0; j < k; j++)
                if (has_field(&ev[idx[j]], f)) {
                    v[m].ts = ev[idx[j]].ts;
                    v[m].idx = idx[j];
                    v[m].x = field_f(&ev[idx[j]], f);
                    m++;
                }
            qsort(v, (size_t)m, sizeof *v, cmp_sorted);
            int from = m > (int)sp->param ? m - (int)sp->param : 0;
            o->type = RILL_F64_LIST;
            o->len = (size_t)(m - from);
            for (int j = from; j < m; j++)
                o->list[j - from] = v[j].x;
            free(v);
            scale[a] = maxabs;
            break;
        }
        case RILL_AGG_RECENCY:
            if (k >= 2) {
                int newest = 0; /* position in idx of a newest event */
                for (int j = 1; j < k; j++)
                    if (ev[idx[j]].ts > ev[idx[newest]].ts)
                        newest = j;
                int64_t second = INT64_MIN;
                for (int j = 0; j < k; j++)
                    if (j != newest && ev[idx[j]].ts > second)
                        second = ev[idx[j]].ts;
                o->type = RILL_I64;
                o->i = ev[idx[newest]].ts - second;
            }
            break;
        case RILL_AGG_DISTINCT:
            o->type = RILL_I64;
            for (int j = 0; j < k; j++) {
                bool seen = false;
                for (int q = 0; q < j; q++)
                    if (ev[idx[q]].n == ev[idx[j]].n)
                        seen = true;
                if (!seen)
                    o->i++;
            }
            break;
        case RILL_AGG_RATE:
            o->type = RILL_F64;
            o->f = k * 1000.0 / (double)(end - start);
            scale[a] = fabs(o->f);
            break;
        }
    }
}

static bool near(double got, double exp, double scale) {
    double m = fabs(exp) > scale ? fabs(exp) : scale;
    return fabs(got - exp) <= 1e-9 * m;
}

static bool val_match(const tval *g, const tval *x, rill_agg_kind k, double scale) {
    if (x->type == RILL_NULL)
        return g->type == RILL_NULL;
    if (x->type == RILL_F64_LIST) {
        if (x->len == 0 && g->type == RILL_NULL)
            return true;
        if (g->type != RILL_F64_LIST || g->len != x->len)
            return false;
        for (size_t j = 0; j < x->len && j < LIST_MAX; j++)
            if (!near(g->list[j], x->list[j], scale))
                return false;
        return true;
    }
    if (g->type != x->type)
        return false;
    if (x->type == RILL_I64) {
        if (k == RILL_AGG_DISTINCT) {
            /* HyperLogLog at p = 12 counts small sets by linear counting:
             * within 5 %, or one off when two values share a register. */
            int64_t d = g->i > x->i ? g->i - x->i : x->i - g->i;
            return d <= 1 || (double)d <= 0.05 * (double)x->i;
        }
        return g->i == x->i;
    }
    return near(g->f, x->f, scale);
}

static const char *fmt_val(const tval *v, char *buf, size_t n) {
    switch (v->type) {
    case RILL_NULL: snprintf(buf, n, "null"); break;
    case RILL_F64: snprintf(buf, n, "%.17g", v->f); break;
    case RILL_I64: snprintf(buf, n, "%lld", (long long)v->i); break;
    case RILL_BOOL: snprintf(buf, n, "%s", v->i ? "true" : "false"); break;
    case RILL_STRING: snprintf(buf, n, "<string of %zu bytes>", v->len); break;
    case RILL_F64_LIST: {
        size_t o = (size_t)snprintf(buf, n, "[");
        for (size_t j = 0; j < v->len && j < LIST_MAX && o < n; j++)
            o += (size_t)snprintf(buf + o, n - o, "%s%.17g", j ? "," : "", v->list[j]);
        if (o < n)
            snprintf(buf + o, n - o, "%s]", v->len > LIST_MAX ? ",..." : "");
        break;
    }
    }
    return buf;
}

/* Compare record got with the brute force over idx[0..k); what names it. */
static void check_values(run *R, const trec *got, const int *idx, int k, int64_t start,
                         int64_t end, const char *what) {
    tval exp[N_AGGS_ALL];
    double scale[N_AGGS_ALL];
    brute(R, idx, k, start, end, exp, scale);
    for (size_t a = 0; a < R->n_aggs; a++)
        if (!val_match(&got->v[a], &exp[a], AGGS[a].kind, scale[a])) {
            char kb[80], gb[200], xb[200];
            err_add(&R->e, "%s key %s: %s expected %s, got %s (%d events; record %zu, push %d)",
                    what, key_desc(got->key, kb, sizeof kb), AGGS[a].name,
                    fmt_val(&exp[a], xb, sizeof xb), fmt_val(&got->v[a], gb, sizeof gb), k,
                    got->seq, got->push);
        }
}

/* ---- grid windows (tumbling, sliding) on close ----------------------------------------- */

/* The accepted events of the key's grid window [start, end) among the first
 * upto events. */
static int grid_members(const run *R, int key, int64_t start, int64_t end, int upto, int *idx) {
    int k = 0;
    for (int j = 0; j < R->kn[key]; j++) {
        int i = R->kev[key][j];
        if (i >= upto)
            break;
        if (R->ev[i].ts >= start && R->ev[i].ts < end && grid_accepts(R, i, end))
            idx[k++] = i;
    }
    return k;
}

static void grid_compare(run *R, const twin *w, int *idx, const char *when) {
    char what[160];
    snprintf(what, sizeof what, "%s: window [%lld,%lld)", when, (long long)w->start,
             (long long)w->end);
    int k = grid_members(R, w->key, w->start, w->end, R->done, idx);
    check_values(R, &R->col.recs[w->last_rec], idx, k, w->start, w->end, what);
}

static void grid_record(run *R, const trec *t, int64_t w_now) {
    char kb[80];
    twin *w = wt_find(&R->tab, t->key, t->start, t->end, false);
    if (!w || w->n_acc == 0) {
        err_add(&R->e, "push %d: emitted window [%lld,%lld) of key %s, which has no accepted event",
                t->push, (long long)t->start, (long long)t->end, key_desc(t->key, kb, sizeof kb));
        return;
    }
    if (t->end > w_now)
        err_add(&R->e, "push %d: window [%lld,%lld) of key %s emitted before the watermark "
                "reached its end (watermark %lld after the push)", t->push, (long long)t->start,
                (long long)t->end, key_desc(t->key, kb, sizeof kb), (long long)w_now);
    if (t->ts != t->end - 1)
        err_add(&R->e, "push %d: on-close record ts %lld, expected end - 1 = %lld", t->push,
                (long long)t->ts, (long long)(t->end - 1));
    bool upd = (t->flags & RILL_RECORD_UPDATE) != 0;
    if (upd != (w->n_emit > 0))
        err_add(&R->e, "push %d: window [%lld,%lld) of key %s emission #%d has flags %u "
                "(UPDATE expected %s)", t->push, (long long)t->start, (long long)t->end,
                key_desc(t->key, kb, sizeof kb), w->n_emit + 1, t->flags,
                w->n_emit > 0 ? "set" : "clear");
    w->n_emit++;
    w->emit_push = t->push;
    w->last_rec = t->seq;
}

/* After push p: exactly the windows that became due in it, or that an
 * accepted event changed while due, were emitted, with the values of all
 * their accepted events so far. */
static void grid_check_push(run *R, int p, int64_t w_prev, int64_t w_now, int *idx) {
    char kb[80];
    for (size_t s = 0; s < R->tab.cap; s++) {
        twin *w = &R->tab.slot[s];
        if (!w->used || w->n_acc == 0)
            continue;
        bool due = w->end <= w_now;
        bool must = due && (w->acc_push == p || w->end > w_prev);
        if (must) {
            if (w->emit_push != p)
                err_add(&R->e, "push %d: window [%lld,%lld) of key %s not emitted (watermark "
                        "%lld -> %lld, last accepted event in push %d, last emitted in push %d)",
                        p, (long long)w->start, (long long)w->end, key_desc(w->key, kb, sizeof kb),
                        (long long)w_prev, (long long)w_now, w->acc_push, w->emit_push);
            else
                grid_compare(R, w, idx, "after push");
        } else if (w->emit_push == p) {
            err_add(&R->e, "push %d: window [%lld,%lld) of key %s emitted though it was neither "
                    "newly due nor changed (watermark %lld -> %lld)", p, (long long)w->start,
                    (long long)w->end, key_desc(w->key, kb, sizeof kb), (long long)w_prev,
                    (long long)w_now);
        }
    }
}

/* After the flush: every window with an accepted event was emitted, and its
 * last record holds the values of all its accepted events. */
static void grid_check_final(run *R, int *idx) {
    char kb[80];
    for (size_t s = 0; s < R->tab.cap; s++) {
        twin *w = &R->tab.slot[s];
        if (!w->used || w->n_acc == 0)
            continue;
        if (w->n_emit == 0)
            err_add(&R->e, "final: window [%lld,%lld) of key %s (%d accepted events) never emitted",
                    (long long)w->start, (long long)w->end, key_desc(w->key, kb, sizeof kb),
                    w->n_acc);
        else
            grid_compare(R, w, idx, "final");
    }
}

/* ---- session windows on close ------------------------------------------------------------ */

/* The sessions of the key's accepted events so far. */
static void session_compute(run *R, int key) {
    skey *S = &R->sk[key];
    S->n = 0;
    tsorted *v = xcalloc((size_t)R->kn[key], sizeof *v);
    int m = 0;
    for (int j = 0; j < R->kn[key]; j++) {
        int i = R->kev[key][j];
        if (i >= R->done)
            break;
        if (R->late[i])
            continue;
        v[m].ts = R->ev[i].ts;
        v[m].idx = i;
        m++;
    }
    qsort(v, (size_t)m, sizeof *v, cmp_sorted);
    for (int j = 0; j < m; j++) {
        if (j == 0 || v[j].ts - v[j - 1].ts >= R->c->win.gap_ms) {
            if (S->n == S->cap) {
                S->cap = S->cap ? 2 * S->cap : 8;
                S->s = xrealloc(S->s, (size_t)S->cap * sizeof *S->s);
            }
            S->s[S->n++] = (tsess){ v[j].ts, v[j].ts, R->push_of[v[j].idx] };
        }
        tsess *cur = &S->s[S->n - 1];
        cur->last = v[j].ts;
        if (R->push_of[v[j].idx] > cur->max_push)
            cur->max_push = R->push_of[v[j].idx];
    }
    free(v);
    S->dirty = false;
}

static int session_members(const run *R, int key, const tsess *s, int *idx) {
    int k = 0;
    for (int j = 0; j < R->kn[key]; j++) {
        int i = R->kev[key][j];
        if (i >= R->done)
            break;
        if (!R->late[i] && R->ev[i].ts >= s->first && R->ev[i].ts <= s->last)
            idx[k++] = i;
    }
    return k;
}

static void session_record(run *R, const trec *t, int64_t w_now) {
    char kb[80];
    if (t->end > w_now)
        err_add(&R->e, "push %d: session [%lld,%lld) of key %s emitted before the watermark "
                "reached its end (watermark %lld after the push)", t->push, (long long)t->start,
                (long long)t->end, key_desc(t->key, kb, sizeof kb), (long long)w_now);
    if (t->ts != t->end - 1)
        err_add(&R->e, "push %d: on-close record ts %lld, expected end - 1 = %lld", t->push,
                (long long)t->ts, (long long)(t->end - 1));
    if (t->key < 0 || t->start >= t->end)
        return;
    twin *w = wt_find(&R->tab, t->key, t->start, t->end, true);
    if (w->n_emit > 0 && !(t->flags & RILL_RECORD_UPDATE))
        err_add(&R->e, "push %d: session [%lld,%lld) of key %s emitted again without the "
                "UPDATE flag", t->push, (long long)t->start, (long long)t->end,
                key_desc(t->key, kb, sizeof kb));
    w->n_emit++;
    w->emit_push = t->push;
    w->last_rec = t->seq;
}

static void session_check_push(run *R, int p, int64_t w_prev, int64_t w_now, int *idx) {
    char kb[80], what[160];
    int64_t gap = R->c->win.gap_ms;
    for (int key = 0; key < MAX_KEYS; key++) {
        skey *S = &R->sk[key];
        if (S->dirty)
            session_compute(R, key);
        for (int j = 0; j < S->n; j++) {
            tsess *s = &S->s[j];
            int64_t end = s->last + gap;
            bool due = end <= w_now;
            bool must = due && (s->max_push == p || end > w_prev);
            twin *w = wt_find(&R->tab, key, s->first, end, false);
            if (w)
                w->seen_push = p;
            if (must) {
                if (!w || w->emit_push != p) {
                    err_add(&R->e, "push %d: session [%lld,%lld) of key %s not emitted (watermark "
                            "%lld -> %lld, last change in push %d)", p, (long long)s->first,
                            (long long)end, key_desc(key, kb, sizeof kb), (long long)w_prev,
                            (long long)w_now, s->max_push);
                } else {
                    snprintf(what, sizeof what, "after push: session [%lld,%lld)",
                             (long long)s->first, (long long)end);
                    int k = session_members(R, key, s, idx);
                    check_values(R, &R->col.recs[w->last_rec], idx, k, s->first, end, what);
                }
            } else if (w && w->emit_push == p) {
                err_add(&R->e, "push %d: session [%lld,%lld) of key %s emitted though it was "
                        "neither newly due nor changed (watermark %lld -> %lld)", p,
                        (long long)s->first, (long long)end, key_desc(key, kb, sizeof kb),
                        (long long)w_prev, (long long)w_now);
            }
        }
    }
    /* A record that is no current session must be an earlier state of one
     * that changed in this push (emitted, then merged or extended, within
     * the batch). */
    for (size_t i = 0; i < R->tab.cap; i++) {
        twin *w = &R->tab.slot[i];
        if (!w->used || w->emit_push != p || w->seen_push == p)
            continue;
        bool ok = false;
        skey *S = &R->sk[w->key];
        for (int j = 0; j < S->n; j++)
            if (S->s[j].first <= w->start && w->end <= S->s[j].last + gap && S->s[j].max_push == p)
                ok = true;
        if (!ok)
            err_add(&R->e, "push %d: emitted session [%lld,%lld) of key %s, which is not a "
                    "session of the accepted events", p, (long long)w->start, (long long)w->end,
                    key_desc(w->key, kb, sizeof kb));
    }
}

static void session_check_final(run *R, int *idx) {
    char kb[80], what[160];
    int64_t gap = R->c->win.gap_ms;
    for (int key = 0; key < MAX_KEYS; key++) {
        skey *S = &R->sk[key];
        if (S->dirty)
            session_compute(R, key);
        for (int j = 0; j < S->n; j++) {
            tsess *s = &S->s[j];
            twin *w = wt_find(&R->tab, key, s->first, s->last + gap, false);
            if (!w || w->n_emit == 0) {
                err_add(&R->e, "final: session [%lld,%lld) of key %s never emitted",
                        (long long)s->first, (long long)(s->last + gap),
                        key_desc(key, kb, sizeof kb));
                continue;
            }
            w->seen_push = INT32_MAX;
            snprintf(what, sizeof what, "final: session [%lld,%lld)", (long long)s->first,
                     (long long)(s->last + gap));
            int k = session_members(R, key, s, idx);
            check_values(R, &R->col.recs[w->last_rec], idx, k, s->first, s->last + gap, what);
        }
    }
    /* Every other emitted window must have been superseded: it lies inside
     * one of the final sessions (an out-of-order event merged or extended it). */
    for (size_t i = 0; i < R->tab.cap; i++) {
        twin *w = &R->tab.slot[i];
        if (!w->used || w->seen_push == INT32_MAX)
            continue;
        bool inside = false;
        skey *S = &R->sk[w->key];
        for (int j = 0; j < S->n; j++)
            if (S->s[j].first <= w->start && w->end <= S->s[j].last + gap)
                inside = true;
        if (!inside)
            err_add(&R->e, "final: emitted session [%lld,%lld) of key %s lies in no session of "
                    "the accepted events", (long long)w->start, (long long)w->end,
                    key_desc(w->key, kb, sizeof kb));
    }
}

/* ---- on-event emission ------------------------------------------------------------------ */

/* The events record i must aggregate: the key's accepted events of its
 * window, before it in event time or at the same ms and no later in arrival. */
static int event_members(const run *R, int i, int *idx) {
    const tev *e = &R->ev[i];
    int key = e->key, k = 0;
    int64_t lo; /* inclusive lower bound of event time */
    switch (R->c->win.kind) {
    case RILL_WINDOW_SLIDING: lo = e->ts - R->c->win.size_ms + 1; break;
    case RILL_WINDOW_TUMBLING: lo = grid_last_start(R->c, e->ts); break;
    default: { /* session: walk back from ts while the gaps stay below gap */
        tsorted *v = xcalloc((size_t)R->kn[key], sizeof *v);
        int m = 0;
        for (int j = 0; j < R->kn[key]; j++) {
            int q = R->kev[key][j];
            if (!R->late[q] && (R->ev[q].ts < e->ts || (R->ev[q].ts == e->ts && q <= i))) {
                v[m].ts = R->ev[q].ts;
                v[m].idx = q;
                m++;
            }
        }
        qsort(v, (size_t)m, sizeof *v, cmp_sorted);
        lo = e->ts;
        for (int j = m - 1; j >= 0; j--) {
            if (lo - v[j].ts < R->c->win.gap_ms)
                lo = v[j].ts < lo ? v[j].ts : lo;
            else
                break;
        }
        free(v);
        break;
    }
    }
    for (int j = 0; j < R->kn[key]; j++) {
        int q = R->kev[key][j];
        if (R->late[q] || R->ev[q].ts < lo)
            continue;
        if (R->ev[q].ts < e->ts || (R->ev[q].ts == e->ts && q <= i))
            idx[k++] = q;
    }
    return k;
}

static void event_record(run *R, const trec *t, int64_t w_now) {
    char kb[80], kb2[80];
    if (!t->has_id || t->id < 0 || t->id >= R->done) {
        err_add(&R->e, "push %d: on-event record with id %lld%s, not an event pushed so far",
                t->push, (long long)t->id, t->has_id ? "" : " (none)");
        return;
    }
    int i = (int)t->id;
    const tev *e = &R->ev[i];
    if (R->late[i])
        err_add(&R->e, "push %d: record for event %d (ts %lld), which was late (watermark %lld)",
                t->push, i, (long long)e->ts, (long long)R->wb[i]);
    if (R->ev_rec[i] >= 0)
        err_add(&R->e, "push %d: a second record for event %d (first in push %d)", t->push, i,
                R->col.recs[R->ev_rec[i]].push);
    if (t->key != e->key)
        err_add(&R->e, "push %d: record for event %d has key %s, expected %s", t->push, i,
                key_desc(t->key, kb, sizeof kb), key_desc(e->key, kb2, sizeof kb2));
    if (t->ts != e->ts)
        err_add(&R->e, "push %d: record for event %d has ts %lld, expected %lld", t->push, i,
                (long long)t->ts, (long long)e->ts);
    if (e->ts > w_now)
        err_add(&R->e, "push %d: record for event %d (ts %lld) emitted before the watermark "
                "reached it (%lld after the push)", t->push, i, (long long)e->ts, (long long)w_now);
    if (t->flags & RILL_RECORD_UPDATE)
        err_add(&R->e, "push %d: on-event record for event %d flagged UPDATE", t->push, i);
    if (R->ev_rec[i] < 0)
        R->ev_rec[i] = (long)t->seq;
}

static void event_check_push(run *R, int p, int64_t w_now) {
    for (int i = 0; i < R->done; i++)
        if (!R->late[i] && R->ev[i].ts <= w_now && R->ev_rec[i] < 0) {
            err_add(&R->e, "push %d: event %d (ts %lld) has no record though the watermark "
                    "reached it (%lld)", p, i, (long long)R->ev[i].ts, (long long)w_now);
            R->ev_rec[i] = -2; /* say it once */
        }
}

static void event_check_final(run *R, int *idx) {
    char what[160];
    for (int i = 0; i < R->n; i++) {
        if (R->late[i] || R->ev_rec[i] < 0)
            continue;
        snprintf(what, sizeof what, "on-event record of event %d (ts %lld)", i,
                 (long long)R->ev[i].ts);
        int k = event_members(R, i, idx);
        check_values(R, &R->col.recs[R->ev_rec[i]], idx, k, 0, 1, what);
    }
}

/* ---- global windows ------------------------------------------------------------------------ */

static void global_record(run *R, const trec *t, int p, int64_t w_prev, int64_t w_now,
                          bool flush) {
    if (t->key < 0)
        return;
    int key = t->key;
    if (R->gn[key] == R->gcap[key]) {
        R->gcap[key] = R->gcap[key] ? 2 * R->gcap[key] : 16;
        R->grec[key] = xrealloc(R->grec[key], R->gcap[key] * sizeof(size_t));
    }
    R->grec[key][R->gn[key]++] = t->seq;
    if (R->c->win.trigger == RILL_TRIGGER_EVERY_MS && !flush && w_prev != INT64_MIN) {
        int64_t T = R->c->win.trigger_every;
        if (floordiv(w_prev, T) == floordiv(w_now, T))
            err_add(&R->e, "push %d: every-%lld-ms record though the watermark (%lld -> %lld) "
                    "passed no multiple of it", p, (long long)T, (long long)w_prev,
                    (long long)w_now);
    }
}

/* The first m events of key (arrival order) among those replayed. */
static int global_members(const run *R, int key, int m, int *idx) {
    int k = 0;
    for (int j = 0; j < R->kn[key] && k < m; j++) {
        if (R->kev[key][j] >= R->done)
            break;
        idx[k++] = R->kev[key][j];
    }
    return k;
}

static void global_check_push(run *R, int p, bool flush, int *idx) {
    char kb[80], what[160];
    int64_t every = R->c->win.trigger_every;
    for (int key = 0; key < MAX_KEYS; key++) {
        int cnt = 0;
        for (int j = 0; j < R->kn[key] && R->kev[key][j] < R->done; j++)
            cnt++;
        size_t expect; /* records so far */
        switch (R->c->win.trigger) {
        case RILL_TRIGGER_EVERY_EVENT: expect = (size_t)cnt; break;
        case RILL_TRIGGER_EVERY_N:
            expect = (size_t)(cnt / every) + (flush && cnt % every ? 1 : 0);
            break;
        default: /* every ms: judged at the flush only */
            if (!flush)
                continue;
            if (cnt == 0 ? R->gn[key] != 0 : R->gn[key] == 0)
                err_add(&R->e, "flush: key %s has %zu every-ms records and %d events",
                        key_desc(key, kb, sizeof kb), R->gn[key], cnt);
            if (cnt && R->gn[key]) {
                snprintf(what, sizeof what, "flush: last every-ms record");
                int k = global_members(R, key, cnt, idx);
                check_values(R, &R->col.recs[R->grec[key][R->gn[key] - 1]], idx, k, 0, 1, what);
            }
            continue;
        }
        if (R->gn[key] != expect) {
            err_add(&R->e, "%s %d: key %s has %zu records for %d events, expected %zu",
                    flush ? "flush" : "push", p, key_desc(key, kb, sizeof kb), R->gn[key], cnt,
                    expect);
            R->gchecked[key] = R->gn[key];
            continue;
        }
        for (size_t r = R->gchecked[key]; r < R->gn[key]; r++) {
            int m = R->c->win.trigger == RILL_TRIGGER_EVERY_EVENT ? (int)r + 1
                    : (int)((int64_t)(r + 1) * every < cnt ? (int64_t)(r + 1) * every : cnt);
            snprintf(what, sizeof what, "global record #%zu (over the first %d events)", r + 1, m);
            int k = global_members(R, key, m, idx);
            check_values(R, &R->col.recs[R->grec[key][r]], idx, k, 0, 1, what);
        }
        R->gchecked[key] = R->gn[key];
    }
}

/* ---- one oracle run ---------------------------------------------------------------------- */

static void run_init(run *R, const tcfg *c, uint64_t seed, int bs) {
    memset(R, 0, sizeof *R);
    R->c = c;
    R->mode = cfg_mode(c);
    R->seed = seed;
    R->bs = bs;
    R->n_aggs = cfg_n_aggs(c);
    R->n = c->n_events;
    R->ev = gen_stream(c, seed);
    for (int i = 0; i < R->n; i++)
        R->kn[R->ev[i].key]++;
    for (int k = 0; k < MAX_KEYS; k++) {
        R->kev[k] = xcalloc((size_t)R->kn[k], sizeof(int));
        R->kn[k] = 0;
    }
    for (int i = 0; i < R->n; i++)
        R->kev[R->ev[i].key][R->kn[R->ev[i].key]++] = i;
    R->maxts[0] = R->maxts[1] = INT64_MIN;
    R->adv[0] = R->adv[1] = INT64_MIN;
    R->w = INT64_MIN;
    R->wb = xcalloc((size_t)R->n, sizeof *R->wb);
    R->late = xcalloc((size_t)R->n, sizeof *R->late);
    R->push_of = xcalloc((size_t)R->n, sizeof *R->push_of);
    R->ev_rec = xcalloc((size_t)R->n, sizeof *R->ev_rec);
    for (int i = 0; i < R->n; i++)
        R->ev_rec[i] = -1;
    R->col.n_aggs = R->n_aggs;
    R->col.max_recs = MAX_RECS_PER_EVENT * (size_t)R->n;
    R->col.e = &R->e;
}

static void run_free(run *R) {
    free((void *)R->ev);
    for (int k = 0; k < MAX_KEYS; k++) {
        free(R->kev[k]);
        free(R->sk[k].s);
        free(R->grec[k]);
    }
    free(R->wb);
    free(R->late);
    free(R->push_of);
    free(R->ev_rec);
    free(R->tab.slot);
    collector_free(&R->col);
}

/* Judge the records of push p (recs[from..]) and what had to happen in it. */
static void judge_push(run *R, size_t from, int p, int64_t w_prev, int64_t w_now, bool flush,
                       int *idx) {
    for (size_t r = from; r < R->col.n_recs; r++) {
        const trec *t = &R->col.recs[r];
        switch (R->mode) {
        case MODE_GRID: grid_record(R, t, w_now); break;
        case MODE_SESSION: session_record(R, t, w_now); break;
        case MODE_EVENT: event_record(R, t, w_now); break;
        case MODE_GLOBAL: global_record(R, t, p, w_prev, w_now, flush); break;
        }
    }
    switch (R->mode) {
    case MODE_GRID: grid_check_push(R, p, w_prev, w_now, idx); break;
    case MODE_SESSION: session_check_push(R, p, w_prev, w_now, idx); break;
    case MODE_EVENT: event_check_push(R, p, w_now); break;
    case MODE_GLOBAL: global_check_push(R, p, flush, idx); break;
    }
}

static void check_stats(run *R, rill_plan *plan, const char *when, bool flushed) {
    rill_op_stats st;
    memset(&st, 0, sizeof st);
    must_ok(plan, rill_plan_op_stats(plan, "w", &st), "rill_plan_op_stats");
    if (st.events_in != (uint64_t)R->done)
        err_add(&R->e, "%s: op stats events_in %llu, expected %d", when,
                (unsigned long long)st.events_in, R->done);
    if (st.late != (uint64_t)R->n_late)
        err_add(&R->e, "%s: op stats late %llu, expected %ld", when, (unsigned long long)st.late,
                R->n_late);
    if (st.emitted != (uint64_t)R->col.n_recs)
        err_add(&R->e, "%s: op stats emitted %llu, but the sink got %zu records", when,
                (unsigned long long)st.emitted, R->col.n_recs);
    if (flushed)
        return;
    if (st.watermark != R->w)
        err_add(&R->e, "%s: operator watermark %lld, expected %lld", when,
                (long long)st.watermark, (long long)R->w);
    for (int s = 0; s < R->c->n_src; s++) {
        int64_t w = 0;
        must_ok(plan, rill_plan_source_watermark(plan, SRC_NAMES[s], &w),
                "rill_plan_source_watermark");
        if (w != src_wm(R, s))
            err_add(&R->e, "%s: watermark of %s %lld, expected %lld", when, SRC_NAMES[s],
                    (long long)w, (long long)src_wm(R, s));
    }
}

/* The late output must be exactly the events the oracle found late, each
 * with the watermark it met. */
static void check_lates(run *R) {
    char kb[80];
    bool *seen = xcalloc((size_t)R->n, sizeof *seen);
    for (size_t j = 0; j < R->col.n_lates; j++) {
        const tlate *l = &R->col.lates[j];
        if (!l->has_id || l->id < 0 || l->id >= R->n) {
            err_add(&R->e, "late event with id %lld%s", (long long)l->id, l->has_id ? "" : " (none)");
            continue;
        }
        int i = (int)l->id;
        const tev *e = &R->ev[i];
        if (!R->late[i])
            err_add(&R->e, "event %d (ts %lld, key %s) reported late at watermark %lld; the "
                    "oracle's watermark before it was %lld, which makes it on time", i,
                    (long long)e->ts, key_desc(e->key, kb, sizeof kb), (long long)l->wm,
                    (long long)R->wb[i]);
        if (seen[i])
            err_add(&R->e, "event %d reported late twice", i);
        seen[i] = true;
        if (l->ts != e->ts || l->key != e->key || l->src != e->src)
            err_add(&R->e, "late event %d reported with ts %lld key %d input %d, expected "
                    "%lld %d %d", i, (long long)l->ts, l->key, l->src, (long long)e->ts,
                    e->key, e->src);
        if (R->late[i] && l->wm != R->wb[i])
            err_add(&R->e, "late event %d reported with watermark %lld, expected %lld", i,
                    (long long)l->wm, (long long)R->wb[i]);
    }
    for (int i = 0; i < R->n; i++)
        if (R->late[i] && !seen[i])
            err_add(&R->e, "event %d (ts %lld, key %s) is late (watermark before it %lld) but "
                    "was not reported", i, (long long)R->ev[i].ts,
                    key_desc(R->ev[i].key, kb, sizeof kb), (long long)R->wb[i]);
    free(seen);
}

static int run_oracle(const tcfg *c, uint64_t seed, int bs) {
    run *R = xcalloc(1, sizeof *R);
    run_init(R, c, seed, bs);
    rill_schema *sc = make_schema();
    int nb = 0;
    tbatch *bt = make_batches(R->ev, R->n, bs, sc, &nb);
    rill_plan *plan = make_plan(c, sc, NULL, &R->col);
    int *idx = xcalloc((size_t)R->n, sizeof *idx);

    /* Steps are numbered from 1: each push, each heartbeat, then the flush. */
    int p = 0;
    rng hb = { seed ^ 0x5eed5eed5eedull };
    char when[64];
    for (int b = 0; b < nb && R->e.n < ERR_KEEP; b++) {
        int64_t w_prev = R->w;
        p++;
        for (int i = bt[b].lo; i < bt[b].hi; i++)
            oracle_event(R, i, p);
        size_t from = R->col.n_recs;
        R->col.push = p;
        must_ok(plan, rill_plan_push(plan, SRC_NAMES[bt[b].src], bt[b].b), "rill_plan_push");
        judge_push(R, from, p, w_prev, R->w, false, idx);
        snprintf(when, sizeof when, "after push %d", p);
        check_stats(R, plan, when, false);

        int s = (int)rng_range(&hb, 0, c->n_src - 1);
        if (!c->heartbeats || rng_pct(&hb) >= 20 || R->maxts[s] == INT64_MIN)
            continue;
        /* A heartbeat up to half a bound ahead of what the events say; now
         * and then a stale one, which must change nothing. */
        int64_t wm = R->maxts[s] - c->bound[s] + rng_range(&hb, -5, c->bound[s] / 2);
        w_prev = R->w;
        p++;
        if (wm > R->adv[s])
            R->adv[s] = wm;
        R->w = op_wm(R);
        from = R->col.n_recs;
        R->col.push = p;
        must_ok(plan, rill_plan_advance(plan, SRC_NAMES[s], wm), "rill_plan_advance");
        judge_push(R, from, p, w_prev, R->w, false, idx);
        snprintf(when, sizeof when, "after heartbeat %lld of %s (step %d)", (long long)wm,
                 SRC_NAMES[s], p);
        check_stats(R, plan, when, false);
    }
    if (R->e.n < ERR_KEEP) {
        size_t from = R->col.n_recs;
        R->col.push = ++p;
        must_ok(plan, rill_plan_flush(plan), "rill_plan_flush");
        judge_push(R, from, p, R->w, INT64_MAX, true, idx);
        check_stats(R, plan, "after flush", true);
        check_lates(R);
        if (R->mode == MODE_GRID)
            grid_check_final(R, idx);
        else if (R->mode == MODE_SESSION)
            session_check_final(R, idx);
        else if (R->mode == MODE_EVENT)
            event_check_final(R, idx);
    }

    int bad = R->e.n;
    if (getenv("RILL_ORACLE_VERBOSE")) {
        size_t updates = 0;
        for (size_t r = 0; r < R->col.n_recs; r++)
            updates += (R->col.recs[r].flags & RILL_RECORD_UPDATE) != 0;
        print_message("[%s] seed=%llu batch=%d: %d events in %d pushes, %zu records (%zu updates), "
                      "%ld late, %zu windows tracked, %d steps\n", c->name, (unsigned long long)seed,
                      bs, R->n, nb, R->col.n_recs, updates, R->n_late, R->tab.n, p);
    }
    if (bad) {
        print_error("[%s] seed=%llu batch=%d: %d disagreement(s) with the oracle (%zu records, "
                    "%ld late events); replay with RILL_ORACLE_SEED=%llu\n", c->name,
                    (unsigned long long)seed, bs, bad, R->col.n_recs, R->n_late,
                    (unsigned long long)seed);
        for (int j = 0; j < bad && j < ERR_KEEP; j++)
            print_error("  %s\n", R->e.msg[j]);
    }
    free(idx);
    rill_plan_free(plan);
    free_batches(bt, nb);
    rill_schema_free(sc);
    run_free(R);
    free(R);
    return bad;
}

/* ---- seeds --------------------------------------------------------------------------------- */

static const int BATCH_SIZES[] = { 1, 7, 1000 };

static int n_seeds(void) {
    const char *s = getenv("RILL_ORACLE_SEEDS");
    int n = s ? atoi(s) : 3;
    return n > 0 ? n : 3;
}

/* Seed number s of configuration c; RILL_ORACLE_SEED replays one seed. */
static uint64_t seed_of(const tcfg *c, int s) {
    const char *env = getenv("RILL_ORACLE_SEED");
    if (env)
        return strtoull(env, NULL, 0);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = c->name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (h % 1000000) * 100 + (uint64_t)s + 1;
}

static void oracle_cfg(const tcfg *c) {
    keys_init();
    int seeds = getenv("RILL_ORACLE_SEED") ? 1 : n_seeds();
    int failed = 0;
    for (int s = 0; s < seeds; s++)
        for (size_t b = 0; b < sizeof BATCH_SIZES / sizeof BATCH_SIZES[0]; b++)
            if (run_oracle(c, seed_of(c, s), BATCH_SIZES[b]))
                failed++;
    if (failed)
        fail_msg("%s: %d run(s) disagree with the oracle", c->name, failed);
}

/* ---- the configurations -------------------------------------------------------------------- */

#define EVENTS 2000
#define COLD 150

static const tcfg CFG_TUMBLING = {
    "tumbling", { .kind = RILL_WINDOW_TUMBLING, .size_ms = 50, .slide_ms = 50 },
    RILL_EMIT_ON_CLOSE, 0, 1, { 20, 0 }, EVENTS, COLD, 80, true, false };
static const tcfg CFG_TUMBLING_OFFSET = {
    "tumbling_offset", { .kind = RILL_WINDOW_TUMBLING, .size_ms = 50, .slide_ms = 50, .offset_ms = 17 },
    RILL_EMIT_ON_CLOSE, 40, 1, { 20, 0 }, EVENTS, COLD, 120, true, true };
static const tcfg CFG_SLIDING_R1 = {
    "sliding_ratio1", { .kind = RILL_WINDOW_SLIDING, .size_ms = 40, .slide_ms = 40 },
    RILL_EMIT_ON_CLOSE, 20, 1, { 15, 0 }, EVENTS, COLD, 80, true, false };
static const tcfg CFG_SLIDING_R3 = {
    "sliding_ratio3", { .kind = RILL_WINDOW_SLIDING, .size_ms = 60, .slide_ms = 20 },
    RILL_EMIT_ON_CLOSE, 0, 1, { 25, 0 }, EVENTS, COLD, 100, true, true };
static const tcfg CFG_SLIDING_R10 = {
    "sliding_ratio10", { .kind = RILL_WINDOW_SLIDING, .size_ms = 100, .slide_ms = 10 },
    RILL_EMIT_ON_CLOSE, 30, 1, { 20, 0 }, EVENTS, COLD, 160, true, false };
static const tcfg CFG_SLIDING_10_4 = {
    "sliding_10_4_offset3", { .kind = RILL_WINDOW_SLIDING, .size_ms = 10, .slide_ms = 4, .offset_ms = 3 },
    RILL_EMIT_ON_CLOSE, 6, 1, { 8, 0 }, EVENTS, COLD, 30, true, false };
static const tcfg CFG_SESSION = {
    "session", { .kind = RILL_WINDOW_SESSION, .gap_ms = 15 },
    RILL_EMIT_ON_CLOSE, 0, 1, { 20, 0 }, EVENTS, COLD, 60, true, false };
static const tcfg CFG_SESSION_LATE = {
    "session_lateness", { .kind = RILL_WINDOW_SESSION, .gap_ms = 30 },
    RILL_EMIT_ON_CLOSE, 40, 1, { 10, 0 }, EVENTS, COLD, 120, true, true };
static const tcfg CFG_GLOBAL_EVENT = {
    "global_every_event", { .kind = RILL_WINDOW_GLOBAL, .trigger = RILL_TRIGGER_EVERY_EVENT },
    RILL_EMIT_ON_CLOSE, 0, 1, { 20, 0 }, EVENTS, COLD, 50, false, false };
static const tcfg CFG_GLOBAL_N = {
    "global_every_5", { .kind = RILL_WINDOW_GLOBAL, .trigger = RILL_TRIGGER_EVERY_N, .trigger_every = 5 },
    RILL_EMIT_ON_CLOSE, 0, 1, { 20, 0 }, EVENTS, COLD, 50, false, false };
static const tcfg CFG_GLOBAL_MS = {
    "global_every_100ms", { .kind = RILL_WINDOW_GLOBAL, .trigger = RILL_TRIGGER_EVERY_MS, .trigger_every = 100 },
    RILL_EMIT_ON_CLOSE, 0, 1, { 20, 0 }, EVENTS, COLD, 50, false, true };
static const tcfg CFG_EVENT_SLIDING = {
    "on_event_sliding", { .kind = RILL_WINDOW_SLIDING, .size_ms = 50, .slide_ms = 10 },
    RILL_EMIT_ON_EVENT, 100, 1, { 20, 0 }, EVENTS, COLD, 60, false, false };
static const tcfg CFG_EVENT_TUMBLING = {
    "on_event_tumbling", { .kind = RILL_WINDOW_TUMBLING, .size_ms = 40, .slide_ms = 40, .offset_ms = 3 },
    RILL_EMIT_ON_EVENT, 100, 1, { 20, 0 }, EVENTS, COLD, 60, false, false };
static const tcfg CFG_EVENT_SESSION = {
    "on_event_session", { .kind = RILL_WINDOW_SESSION, .gap_ms = 20 },
    RILL_EMIT_ON_EVENT, 100, 1, { 20, 0 }, EVENTS, COLD, 60, false, true };
static const tcfg CFG_TWO_SOURCES = {
    "tumbling_two_sources", { .kind = RILL_WINDOW_TUMBLING, .size_ms = 50, .slide_ms = 50 },
    RILL_EMIT_ON_CLOSE, 20, 2, { 10, 30 }, EVENTS, COLD, 100, true, true };
static const tcfg CFG_TWO_SOURCES_EVENT = {
    "on_event_sliding_two_sources", { .kind = RILL_WINDOW_SLIDING, .size_ms = 50, .slide_ms = 5 },
    RILL_EMIT_ON_EVENT, 0, 2, { 30, 5 }, EVENTS, COLD, 60, false, false };

static void test_tumbling(void **st) { oracle_cfg(&CFG_TUMBLING); }
static void test_tumbling_offset(void **st) { oracle_cfg(&CFG_TUMBLING_OFFSET); }
static void test_sliding_ratio1(void **st) { oracle_cfg(&CFG_SLIDING_R1); }
static void test_sliding_ratio3(void **st) { oracle_cfg(&CFG_SLIDING_R3); }
static void test_sliding_ratio10(void **st) { oracle_cfg(&CFG_SLIDING_R10); }
static void test_sliding_10_4(void **st) { oracle_cfg(&CFG_SLIDING_10_4); }
static void test_session(void **st) { oracle_cfg(&CFG_SESSION); }
static void test_session_lateness(void **st) { oracle_cfg(&CFG_SESSION_LATE); }
static void test_global_every_event(void **st) { oracle_cfg(&CFG_GLOBAL_EVENT); }
static void test_global_every_n(void **st) { oracle_cfg(&CFG_GLOBAL_N); }
static void test_global_every_ms(void **st) { oracle_cfg(&CFG_GLOBAL_MS); }
static void test_on_event_sliding(void **st) { oracle_cfg(&CFG_EVENT_SLIDING); }
static void test_on_event_tumbling(void **st) { oracle_cfg(&CFG_EVENT_TUMBLING); }
static void test_on_event_session(void **st) { oracle_cfg(&CFG_EVENT_SESSION); }
static void test_two_sources(void **st) { oracle_cfg(&CFG_TWO_SOURCES); }
static void test_two_sources_on_event(void **st) { oracle_cfg(&CFG_TWO_SOURCES_EVENT); }

/* ---- restart ------------------------------------------------------------------------------- */

static int cmp_rec(const void *a, const void *b) {
    const trec *p = a, *q = b;
#define CMP_FIELD(f) if (p->f != q->f) return p->f < q->f ? -1 : 1
    CMP_FIELD(key);
    CMP_FIELD(start);
    CMP_FIELD(end);
    CMP_FIELD(ts);
    CMP_FIELD(id);
    CMP_FIELD(seq);
#undef CMP_FIELD
    return 0;
}

static bool rec_equal(const trec *a, const trec *b, size_t n_aggs) {
    if (a->key != b->key || a->start != b->start || a->end != b->end || a->ts != b->ts ||
        a->has_id != b->has_id || a->id != b->id || a->flags != b->flags)
        return false;
    for (size_t v = 0; v < n_aggs; v++)
        if (!val_match(&a->v[v], &b->v[v], AGGS[v].kind == RILL_AGG_DISTINCT ? RILL_AGG_COUNT
                                                                              : AGGS[v].kind, 0))
            return false;
    return true;
}

static void rec_desc(const trec *t, size_t n_aggs, char *buf, size_t n) {
    char kb[80], vb[200];
    size_t o = (size_t)snprintf(buf, n, "key %s [%lld,%lld) ts %lld id %lld flags %u:",
                                key_desc(t->key, kb, sizeof kb), (long long)t->start,
                                (long long)t->end, (long long)t->ts, (long long)t->id, t->flags);
    for (size_t v = 0; v < n_aggs && o < n; v++)
        o += (size_t)snprintf(buf + o, n - o, " %s", fmt_val(&t->v[v], vb, sizeof vb));
}

static void late_ids(const collector *C, size_t from, size_t to, int64_t *out, size_t *n) {
    for (size_t j = from; j < to; j++)
        out[(*n)++] = C->lates[j].id;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Run the stream through one plan; then again through a plan that commits
 * after half of the batches, runs a few more (their output is thrown away,
 * as a crash would), and a new plan of the same graph compiled on the same
 * store that takes over from the commit. Both must emit the same records and
 * report the same late events. */
static int run_restart(const tcfg *c, uint64_t seed, int bs) {
    errs e = { 0 };
    size_t n_aggs = cfg_n_aggs(c);
    tev *ev = gen_stream(c, seed);
    rill_schema *sc = make_schema();
    int nb = 0;
    tbatch *bt = make_batches(ev, c->n_events, bs, sc, &nb);
    int half = nb / 2, extra = nb / 2 + (nb - nb / 2) / 2;

    /* uninterrupted */
    size_t max_recs = MAX_RECS_PER_EVENT * (size_t)c->n_events;
    collector A = { .n_aggs = n_aggs, .max_recs = max_recs, .e = &e };
    rill_plan *pa = make_plan(c, sc, NULL, &A);
    for (int b = 0; b < nb; b++)
        must_ok(pa, rill_plan_push(pa, SRC_NAMES[bt[b].src], bt[b].b), "rill_plan_push");
    rill_op_stats sa_mid, sa;
    must_ok(pa, rill_plan_flush(pa), "rill_plan_flush");
    must_ok(pa, rill_plan_op_stats(pa, "w", &sa), "rill_plan_op_stats");
    rill_plan_free(pa);

    /* interrupted */
    rill_state *st = NULL;
    assert_int_equal(rill_state_open_memory(&st), RILL_OK);
    collector B1 = { .n_aggs = n_aggs, .max_recs = max_recs, .e = &e };
    collector B2 = { .n_aggs = n_aggs, .max_recs = max_recs, .e = &e };
    rill_plan *p1 = make_plan(c, sc, st, &B1);
    for (int b = 0; b < half; b++)
        must_ok(p1, rill_plan_push(p1, SRC_NAMES[bt[b].src], bt[b].b), "rill_plan_push");
    must_ok(p1, rill_plan_commit(p1), "rill_plan_commit");
    must_ok(p1, rill_plan_op_stats(p1, "w", &sa_mid), "rill_plan_op_stats");
    size_t recs_at_commit = B1.n_recs, lates_at_commit = B1.n_lates;
    for (int b = half; b < extra; b++) /* work that is lost */
        must_ok(p1, rill_plan_push(p1, SRC_NAMES[bt[b].src], bt[b].b), "rill_plan_push");
    rill_plan_free(p1);

    rill_plan *p2 = make_plan(c, sc, st, &B2);
    rill_op_stats s2;
    must_ok(p2, rill_plan_op_stats(p2, "w", &s2), "rill_plan_op_stats");
    if (s2.watermark != sa_mid.watermark || s2.events_in != sa_mid.events_in ||
        s2.late != sa_mid.late || s2.emitted != sa_mid.emitted)
        err_add(&e, "resumed plan starts with watermark %lld events_in %llu late %llu emitted "
                "%llu; at the commit they were %lld %llu %llu %llu", (long long)s2.watermark,
                (unsigned long long)s2.events_in, (unsigned long long)s2.late,
                (unsigned long long)s2.emitted, (long long)sa_mid.watermark,
                (unsigned long long)sa_mid.events_in, (unsigned long long)sa_mid.late,
                (unsigned long long)sa_mid.emitted);
    for (int b = half; b < nb; b++)
        must_ok(p2, rill_plan_push(p2, SRC_NAMES[bt[b].src], bt[b].b), "rill_plan_push");
    must_ok(p2, rill_plan_flush(p2), "rill_plan_flush");
    must_ok(p2, rill_plan_op_stats(p2, "w", &s2), "rill_plan_op_stats");
    rill_plan_free(p2);
    rill_state_close(st);

    if (s2.events_in != sa.events_in || s2.late != sa.late || s2.emitted != sa.emitted)
        err_add(&e, "after the restart the counters are events_in %llu late %llu emitted %llu; "
                "uninterrupted %llu %llu %llu", (unsigned long long)s2.events_in,
                (unsigned long long)s2.late, (unsigned long long)s2.emitted,
                (unsigned long long)sa.events_in, (unsigned long long)sa.late,
                (unsigned long long)sa.emitted);

    /* the union of the two halves against the uninterrupted run */
    size_t nu = recs_at_commit + B2.n_recs;
    trec *u = xcalloc(nu, sizeof *u);
    if (recs_at_commit)
        memcpy(u, B1.recs, recs_at_commit * sizeof *u);
    if (B2.n_recs)
        memcpy(u + recs_at_commit, B2.recs, B2.n_recs * sizeof *u);
    for (size_t j = 0; j < nu; j++)
        u[j].seq = j;
    qsort(u, nu, sizeof *u, cmp_rec);
    qsort(A.recs, A.n_recs, sizeof *A.recs, cmp_rec);
    if (nu != A.n_recs)
        err_add(&e, "restarted run emitted %zu records (%zu before the commit, %zu after), the "
                "uninterrupted one %zu", nu, recs_at_commit, B2.n_recs, A.n_recs);
    for (size_t j = 0; j < nu && j < A.n_recs; j++)
        if (!rec_equal(&u[j], &A.recs[j], n_aggs)) {
            char ga[1200], gb[1200];
            rec_desc(&A.recs[j], n_aggs, ga, sizeof ga);
            rec_desc(&u[j], n_aggs, gb, sizeof gb);
            err_add(&e, "record %zu in sorted order differs:\n    uninterrupted %.560s\n    "
                    "restarted     %.560s", j, ga, gb);
            break;
        }
    int64_t *la = xcalloc(A.n_lates + 1, sizeof *la), *lb = xcalloc(nu + B1.n_lates + B2.n_lates + 1, sizeof *lb);
    size_t na = 0, nl = 0;
    late_ids(&A, 0, A.n_lates, la, &na);
    late_ids(&B1, 0, lates_at_commit, lb, &nl);
    late_ids(&B2, 0, B2.n_lates, lb, &nl);
    qsort(la, na, sizeof *la, cmp_i64);
    qsort(lb, nl, sizeof *lb, cmp_i64);
    if (na != nl || (na && memcmp(la, lb, na * sizeof *la) != 0))
        err_add(&e, "late events differ: %zu uninterrupted, %zu with the restart", na, nl);
    free(la);
    free(lb);
    free(u);

    int bad = e.n;
    if (bad) {
        print_error("[restart %s] seed=%llu batch=%d: %d disagreement(s); replay with "
                    "RILL_ORACLE_SEED=%llu\n", c->name, (unsigned long long)seed, bs, bad,
                    (unsigned long long)seed);
        for (int j = 0; j < bad && j < ERR_KEEP; j++)
            print_error("  %s\n", e.msg[j]);
    }
    collector_free(&A);
    collector_free(&B1);
    collector_free(&B2);
    free_batches(bt, nb);
    rill_schema_free(sc);
    free(ev);
    return bad;
}

static void restart_cfg(const tcfg *c) {
    keys_init();
    int failed = 0;
    static const int sizes[] = { 1, 7, 1000 };
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++)
        if (run_restart(c, seed_of(c, 0), sizes[b]))
            failed++;
    if (failed)
        fail_msg("restart of %s: %d run(s) differ from the uninterrupted run", c->name, failed);
}

static void test_restart_tumbling(void **st) { restart_cfg(&CFG_TUMBLING_OFFSET); }
static void test_restart_sliding(void **st) { restart_cfg(&CFG_SLIDING_R10); }
static void test_restart_session(void **st) { restart_cfg(&CFG_SESSION_LATE); }
static void test_restart_global(void **st) { restart_cfg(&CFG_GLOBAL_N); }
static void test_restart_on_event(void **st) { restart_cfg(&CFG_EVENT_SLIDING); }
static void test_restart_two_sources(void **st) { restart_cfg(&CFG_TWO_SOURCES); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tumbling),
        cmocka_unit_test(test_tumbling_offset),
        cmocka_unit_test(test_sliding_ratio1),
        cmocka_unit_test(test_sliding_ratio3),
        cmocka_unit_test(test_sliding_ratio10),
        cmocka_unit_test(test_sliding_10_4),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_session_lateness),
        cmocka_unit_test(test_global_every_event),
        cmocka_unit_test(test_global_every_n),
        cmocka_unit_test(test_global_every_ms),
        cmocka_unit_test(test_on_event_sliding),
        cmocka_unit_test(test_on_event_tumbling),
        cmocka_unit_test(test_on_event_session),
        cmocka_unit_test(test_two_sources),
        cmocka_unit_test(test_two_sources_on_event),
        cmocka_unit_test(test_restart_tumbling),
        cmocka_unit_test(test_restart_sliding),
        cmocka_unit_test(test_restart_session),
        cmocka_unit_test(test_restart_global),
        cmocka_unit_test(test_restart_on_event),
        cmocka_unit_test(test_restart_two_sources),
    };
    /* RILL_ORACLE_ONLY=<pattern> runs only the matching tests (wildcards * and ?). */
    if (getenv("RILL_ORACLE_ONLY"))
        cmocka_set_test_filter(getenv("RILL_ORACLE_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
