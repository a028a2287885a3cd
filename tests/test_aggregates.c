/* tests/test_aggregates.c — the aggregate functions (operators/aggregate.h).
 *
 * Properties over random streams, checked against brute-force oracles
 * written plainly below (loops, a stable insertion sort, a qsort and a
 * count of unique values; long double for the floating-point sums):
 *  - for every aggregate and every input type it accepts, the value of a
 *    stream added to one accumulator, and of the same stream cut at random
 *    points into partials that are merged in arrival order, equals the
 *    oracle (exactly for counts, integer sums, min/max/first/last and
 *    lists; within 1e-9 relative for doubles; within a few HyperLogLog
 *    standard errors for distinct, whose merged registers must also equal
 *    the single-pass registers byte for byte);
 *  - merging is associative: (a+b)+c and a+(b+c) give the oracle's value;
 *  - subtract(merge(a, b), b) gives a for the invertible ones, and a
 *    running subtraction of chunks from the front follows the oracle of
 *    what is left (the sliding-window use);
 *  - null values are skipped by all but count, rate and recency;
 *  - HyperLogLog's measured error at 100, 10 000 and 1 000 000 distinct
 *    values stays within 3 standard errors for p = 12 and p = 14;
 *  - every bind error comes with its status and a message naming the
 *    aggregate, its kind and its field.
 * The random tests print their seed on failure; RILL_SEED=<n> replays one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/aggregate.h"
#include "rill/error.h"
#include "test_util.h"

/* ---- random numbers (splitmix64) ----------------------------------------- */

static uint64_t g_seed = 20240611;
static uint64_t g_rng;

static void seed_from_env(void) {
    g_seed = tu_seed_env("RILL_SEED", g_seed);
    g_rng = g_seed;
}

static uint64_t rnd(void) { return tu_splitmix64(&g_rng); }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* ---- streams: one column of one type, with event times ------------------- */

#define MAXROWS 400

typedef struct stream {
    rill_type type;
    size_t n;
    int64_t ts[MAXROWS];
    double f64[MAXROWS];
    int64_t i64[MAXROWS];
    uint8_t b[MAXROWS];
    rill_span span[MAXROWS];
    uint8_t valid[MAXROWS];
    char *arena;
    size_t arena_len, arena_cap;
    rill_column col;
} stream;

static void arena_put(stream *s, const void *p, size_t len, rill_span *out) {
    /* lists are read back as doubles: keep every item 8-aligned */
    size_t off = (s->arena_len + 7) & ~(size_t)7;
    if (off + len > s->arena_cap) {
        size_t cap = s->arena_cap ? s->arena_cap : 256;
        while (cap < off + len) cap *= 2;
        s->arena = realloc(s->arena, cap);
        assert_non_null(s->arena);
        s->arena_cap = cap;
    }
    if (len) memcpy(s->arena + off, p, len);
    out->off = (uint32_t)off;
    out->len = (uint32_t)len;
    s->arena_len = off + len;
}

/* Fill s with n random rows. wide: i64 values over the whole int64 range
 * (else within +-1e6, where doubles are exact). Times cluster in a small
 * random span so that ties and disorder are common. */
static void stream_fill(stream *s, rill_type type, size_t n, int wide) {
    s->type = type;
    s->n = n;
    s->arena_len = 0;
    int64_t tbase = (int64_t)rnd_below(2000) - 1000;
    static const int64_t tspans[] = { 1, 3, 20, 1000, 1000000 };
    int64_t tspan = tspans[rnd_below(5)];
    static const double null_p[] = { 0.0, 0.0, 0.2, 0.6, 1.0 };
    double pnull = null_p[rnd_below(5)];
    uint64_t pool = rnd_below(3) == 0 ? 1 + rnd_below(12) : 0; /* 0: no pool */
    double scale = pow(10.0, (double)rnd_below(7) - 2);
    for (size_t r = 0; r < n; r++) {
        s->ts[r] = tbase + (int64_t)rnd_below((uint64_t)tspan);
        s->valid[r] = rnd_unit() >= pnull;
        s->f64[r] = 0;
        s->i64[r] = 0;
        s->b[r] = 0;
        s->span[r] = (rill_span){ 0, 0 };
        uint64_t pick = pool ? rnd_below(pool) : rnd();
        switch (type) {
        case RILL_F64:
            if (pool) /* small integers, with both signs of zero */
                s->f64[r] = (double)pick * (rnd() & 1 ? -1.0 : 1.0);
            else
                s->f64[r] = (rnd_unit() * 2 - 1) * scale;
            break;
        case RILL_I64:
            if (pool)
                s->i64[r] = (int64_t)pick - 5;
            else if (wide)
                s->i64[r] = (int64_t)rnd();
            else
                s->i64[r] = (int64_t)rnd_below(2000001) - 1000000;
            break;
        case RILL_BOOL: s->b[r] = (uint8_t)(rnd() & 1); break;
        case RILL_STRING: {
            char buf[8];
            uint64_t h = pool ? pick * 0x9E3779B97F4A7C15ull : rnd();
            size_t len = (size_t)(h % 8);
            for (size_t i = 0; i < len; i++) buf[i] = (char)('a' + (h >> (8 + 2 * i)) % 3);
            arena_put(s, buf, len, &s->span[r]);
            break;
        }
        case RILL_F64_LIST: {
            double v[3];
            uint64_t h = pool ? pick * 0x9E3779B97F4A7C15ull : rnd();
            size_t len = (size_t)(h % 4);
            for (size_t i = 0; i < len; i++) v[i] = (double)((h >> (8 + 2 * i)) % 3);
            arena_put(s, v, len * sizeof(double), &s->span[r]);
            break;
        }
        default: fail_msg("bad type");
        }
    }
    memset(&s->col, 0, sizeof s->col);
    s->col.type = type;
    switch (type) {
    case RILL_F64: s->col.data.f64 = s->f64; break;
    case RILL_I64: s->col.data.i64 = s->i64; break;
    case RILL_BOOL: s->col.data.b = s->b; break;
    default: s->col.data.span = s->span; break;
    }
    s->col.valid = s->valid;
    s->col.arena = &s->arena;
}

static stream *stream_new(void) {
    stream *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}
static void stream_free(stream *s) {
    if (!s) return;
    free(s->arena);
    free(s);
}

/* The numeric value of row r (bool as 0/1). */
static long double num(const stream *s, size_t r) {
    switch (s->type) {
    case RILL_F64: return s->f64[r];
    case RILL_I64: return (long double)s->i64[r];
    case RILL_BOOL: return s->b[r] ? 1 : 0;
    default: return 0;
    }
}

/* ---- the oracle ------------------------------------------------------------- */

static double g_list[MAXROWS];

/* The row of s as an f64 (what a list holds). */
static double as_double(const stream *s, size_t r) { return (double)num(s, r); }

static const stream *g_cmp_stream;
/* Order rows by value; f64 -0 and +0 equal, strings and lists by bytes. */
static int cmp_rows(const void *pa, const void *pb) {
    const stream *s = g_cmp_stream;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    switch (s->type) {
    case RILL_F64: return (s->f64[a] > s->f64[b]) - (s->f64[a] < s->f64[b]);
    case RILL_I64: return (s->i64[a] > s->i64[b]) - (s->i64[a] < s->i64[b]);
    case RILL_BOOL: return (int)s->b[a] - (int)s->b[b];
    default: {
        rill_span x = s->span[a], y = s->span[b];
        size_t n = x.len < y.len ? x.len : y.len;
        int c = n ? memcmp(s->arena + x.off, s->arena + y.off, n) : 0;
        if (c) return c;
        return (x.len > y.len) - (x.len < y.len);
    }
    }
}

/* How many different values rows [lo, hi) of s hold (nulls skipped). */
static int64_t exact_distinct(const stream *s, size_t lo, size_t hi) {
    size_t idx[MAXROWS], k = 0;
    for (size_t r = lo; r < hi; r++)
        if (s->valid[r]) idx[k++] = r;
    g_cmp_stream = s;
    qsort(idx, k, sizeof idx[0], cmp_rows);
    int64_t d = 0;
    for (size_t i = 0; i < k; i++)
        if (i == 0 || cmp_rows(&idx[i - 1], &idx[i]) != 0) d++;
    return d;
}

/* The value aggregate (kind, param) should give for rows [lo, hi) of s in
 * the window [start, end), computed the plain way. */
static rill_value oracle(rill_agg_kind kind, uint32_t param, const stream *s, size_t lo,
                         size_t hi, int64_t start, int64_t end) {
    size_t nv = 0;
    for (size_t r = lo; r < hi; r++) nv += s->valid[r];
    switch (kind) {
    case RILL_AGG_COUNT: return rill_i64((int64_t)(hi - lo));
    case RILL_AGG_RATE:
        if (end <= start) return rill_null();
        return rill_f64((double)(hi - lo) / ((double)(end - start) / 1000.0));
    case RILL_AGG_RECENCY: {
        if (hi - lo < 2) return rill_null();
        size_t a = SIZE_MAX; /* row of the largest ts */
        for (size_t r = lo; r < hi; r++)
            if (a == SIZE_MAX || s->ts[r] > s->ts[a]) a = r;
        int64_t second = INT64_MIN;
        for (size_t r = lo; r < hi; r++)
            if (r != a && s->ts[r] > second) second = s->ts[r];
        return rill_i64(s->ts[a] - second);
    }
    case RILL_AGG_DISTINCT: return rill_i64(exact_distinct(s, lo, hi));
    default: break;
    }
    if (nv == 0) return rill_null();
    switch (kind) {
    case RILL_AGG_SUM: {
        if (s->type == RILL_I64) {
            uint64_t t = 0; /* int64 sums wrap modulo 2^64 */
            for (size_t r = lo; r < hi; r++)
                if (s->valid[r]) t += (uint64_t)s->i64[r];
            return rill_i64((int64_t)t);
        }
        long double t = 0;
        for (size_t r = lo; r < hi; r++)
            if (s->valid[r]) t += num(s, r);
        return rill_f64((double)t);
    }
    case RILL_AGG_MEAN: {
        long double t = 0;
        for (size_t r = lo; r < hi; r++)
            if (s->valid[r]) t += num(s, r);
        return rill_f64((double)(t / nv));
    }
    case RILL_AGG_VARIANCE:
    case RILL_AGG_STDDEV: {
        if (nv < 2) return rill_null();
        long double t = 0, q = 0;
        for (size_t r = lo; r < hi; r++)
            if (s->valid[r]) t += num(s, r);
        long double mean = t / nv;
        for (size_t r = lo; r < hi; r++)
            if (s->valid[r]) q += (num(s, r) - mean) * (num(s, r) - mean);
        long double var = q / (nv - 1);
        return rill_f64(kind == RILL_AGG_VARIANCE ? (double)var : (double)sqrtl(var));
    }
    case RILL_AGG_MIN:
    case RILL_AGG_MAX: {
        int is_min = kind == RILL_AGG_MIN;
        size_t best = SIZE_MAX;
        for (size_t r = lo; r < hi; r++) {
            if (!s->valid[r]) continue;
            if (best == SIZE_MAX) {
                best = r;
                continue;
            }
            if (s->type == RILL_I64) {
                if (is_min ? s->i64[r] < s->i64[best] : s->i64[r] > s->i64[best]) best = r;
            } else {
                if (is_min ? num(s, r) < num(s, best) : num(s, r) > num(s, best)) best = r;
            }
        }
        return s->type == RILL_I64 ? rill_i64(s->i64[best]) : rill_f64(as_double(s, best));
    }
    case RILL_AGG_FIRST:
    case RILL_AGG_LAST: {
        size_t best = SIZE_MAX;
        for (size_t r = lo; r < hi; r++) {
            if (!s->valid[r]) continue;
            if (best == SIZE_MAX || (kind == RILL_AGG_FIRST ? s->ts[r] < s->ts[best]
                                                            : s->ts[r] >= s->ts[best]))
                best = r;
        }
        switch (s->type) {
        case RILL_I64: return rill_i64(s->i64[best]);
        case RILL_BOOL: return rill_bool(s->b[best] != 0);
        default: return rill_f64(s->f64[best]);
        }
    }
    case RILL_AGG_LAST_N: {
        /* stable insertion sort of the valid rows by time: ties keep arrival order */
        size_t idx[MAXROWS], k = 0;
        for (size_t r = lo; r < hi; r++) {
            if (!s->valid[r]) continue;
            size_t p = k++;
            while (p > 0 && s->ts[idx[p - 1]] > s->ts[r]) {
                idx[p] = idx[p - 1];
                p--;
            }
            idx[p] = r;
        }
        size_t from = k > param ? k - param : 0;
        for (size_t i = from; i < k; i++) g_list[i - from] = as_double(s, idx[i]);
        rill_value v = { .type = RILL_F64_LIST };
        v.as.list.ptr = g_list;
        v.as.list.len = k - from;
        return v;
    }
    default: fail_msg("oracle: kind %d", (int)kind);
    }
    return rill_null();
}

/* ---- comparing values ------------------------------------------------------ */

static char g_ctx[256]; /* what is being checked, for failure messages */

static void fmt_value(char *buf, size_t len, rill_value v) {
    switch (v.type) {
    case RILL_NULL: snprintf(buf, len, "null"); break;
    case RILL_F64: snprintf(buf, len, "%.17g", v.as.f64); break;
    case RILL_I64: snprintf(buf, len, "%" PRId64, v.as.i64); break;
    case RILL_BOOL: snprintf(buf, len, "%s", v.as.b ? "true" : "false"); break;
    case RILL_F64_LIST: {
        size_t o = (size_t)snprintf(buf, len, "[");
        for (size_t i = 0; i < v.as.list.len && o < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%.17g", i ? "," : "", v.as.list.ptr[i]);
        if (o < len) snprintf(buf + o, len - o, "]");
        break;
    }
    default: snprintf(buf, len, "?"); break;
    }
}

/* got must equal want: exactly, except f64 within 1e-9 of max(|want|, scale). */
static void check_value(const char *what, rill_value got, rill_value want, double scale) {
    int ok = got.type == want.type;
    if (ok) {
        switch (want.type) {
        case RILL_NULL: break;
        case RILL_F64: {
            double tol = 1e-9 * fmax(fabs(want.as.f64), scale);
            ok = fabs(got.as.f64 - want.as.f64) <= tol;
            break;
        }
        case RILL_I64: ok = got.as.i64 == want.as.i64; break;
        case RILL_BOOL: ok = got.as.b == want.as.b; break;
        case RILL_F64_LIST:
            ok = got.as.list.len == want.as.list.len;
            for (size_t i = 0; ok && i < want.as.list.len; i++)
                ok = got.as.list.ptr[i] == want.as.list.ptr[i];
            break;
        default: ok = 0;
        }
    }
    if (!ok) {
        char g[512], w[512];
        fmt_value(g, sizeof g, got);
        fmt_value(w, sizeof w, want);
        fail_msg("%s: %s: got %s, want %s (seed %" PRIu64 ", replay with RILL_SEED=%" PRIu64 ")",
                 g_ctx, what, g, w, g_seed, g_seed);
    }
}

/* distinct: the estimate within k standard errors of the truth, plus 3:
 * at tiny counts the error is whole registers shared by two values (with
 * 50 values in 65 536 registers two such pairs happen about once in 6 000). */
static void check_estimate(const char *what, rill_value got, int64_t truth, uint32_t p, double k) {
    if (got.type != RILL_I64)
        fail_msg("%s: %s: distinct gave type %d (seed %" PRIu64 ")", g_ctx, what, (int)got.type,
                 g_seed);
    double se = 1.04 / sqrt((double)(1u << p));
    double err = fabs((double)got.as.i64 - (double)truth);
    if (p < 8) {
        /* With 16..64 registers the error has a long right tail (2.5 times
         * the truth turns up in a few thousand trials), far from the normal
         * approximation: only a factor of 4 is checked there. */
        double g = (double)got.as.i64, t = (double)truth;
        if (g > 4 * t + 3 || g < t / 4 - 3)
            fail_msg("%s: %s: estimate %" PRId64 " for %" PRId64 " distinct, off by more than "
                     "a factor 4 (seed %" PRIu64 ")", g_ctx, what, got.as.i64, truth, g_seed);
        return;
    }
    if (err > k * se * (double)truth + 3)
        fail_msg("%s: %s: estimate %" PRId64 " for %" PRId64 " distinct, beyond %.0f standard "
                 "errors (seed %" PRIu64 ")", g_ctx, what, got.as.i64, truth, k, g_seed);
}

/* ---- binding one aggregate over a one-field schema ----------------------- */

typedef struct acase {
    rill_agg_kind kind;
    rill_type type;
    uint32_t param;
} acase;

static int needs_field(rill_agg_kind k) {
    return k != RILL_AGG_COUNT && k != RILL_AGG_RATE && k != RILL_AGG_RECENCY;
}

static rill_schema *schema_of(rill_type t) {
    rill_field f = { "x", t };
    rill_schema *s = rill_schema_new(&f, 1);
    assert_non_null(s);
    return s;
}

static void bind_case(const acase *c, rill_agg *a) {
    rill_schema *sch = schema_of(c->type);
    /* count, rate and recency must ignore a field, given or not */
    rill_agg_spec spec = { c->kind, needs_field(c->kind) || (rnd() & 1) ? "x" : NULL, "out",
                           c->param };
    char err[256] = "";
    int rc = rill__agg_bind(a, &spec, sch, err, sizeof err);
    rill_schema_free(sch);
    if (rc != RILL_OK) fail_msg("%s: bind: %s: %s", g_ctx, rill_errname(rc), err);
    assert_non_null(a->ops);
    assert_int_equal(a->ops->version, RILL_AGG_OPS_VERSION);
    assert_int_equal(a->size % 8, 0);
    if (needs_field(c->kind)) {
        assert_string_equal(a->field, "x");
        assert_int_equal(a->in_type, c->type);
    } else {
        assert_null(a->field);
    }
}

static void *acc_new(const rill_agg *a) {
    void *p = malloc(a->size);
    assert_non_null(p);
    memset(p, 0xA5, a->size); /* init must not rely on zeroed memory */
    a->ops->init(a, p);
    return p;
}

static void *acc_copy(const rill_agg *a, const void *src) {
    void *p = malloc(a->size);
    assert_non_null(p);
    memcpy(p, src, a->size);
    return p;
}

static void add_rows(const rill_agg *a, void *acc, const stream *s, size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; r++) a->ops->add(a, acc, a->field ? &s->col : NULL, r, s->ts[r]);
}

static void *acc_of(const rill_agg *a, const stream *s, size_t lo, size_t hi) {
    void *p = acc_new(a);
    add_rows(a, p, s, lo, hi);
    return p;
}

/* The value of acc (copied out of scratch when a list, so two results can be
 * compared). */
static double g_list2[MAXROWS];
static rill_value result_of(const rill_agg *a, const void *acc, int64_t start, int64_t end) {
    rill_value v;
    a->ops->result(a, acc, start, end, &v);
    if (v.type == RILL_F64_LIST) {
        assert_true(v.as.list.len <= a->param);
        assert_ptr_equal(v.as.list.ptr, a->scratch);
        memcpy(g_list2, v.as.list.ptr, v.as.list.len * sizeof(double));
        v.as.list.ptr = g_list2;
    }
    return v;
}

static void check_result(const acase *c, const rill_agg *a, const char *what, const void *acc,
                         const stream *s, size_t lo, size_t hi, int64_t start, int64_t end) {
    rill_value got = result_of(a, acc, start, end);
    rill_value want = oracle(c->kind, a->param, s, lo, hi, start, end);
    assert_int_equal(got.type == RILL_NULL ? a->out_type : got.type, a->out_type);
    if (c->kind == RILL_AGG_DISTINCT)
        check_estimate(what, got, want.as.i64, a->param, 5);
    else
        check_value(what, got, want, 0);
}

/* ---- the cases: every aggregate with every input type it accepts -------- */

static const acase cases[] = {
    { RILL_AGG_COUNT, RILL_F64, 0 },
    { RILL_AGG_COUNT, RILL_STRING, 0 },
    { RILL_AGG_SUM, RILL_F64, 0 },      { RILL_AGG_SUM, RILL_I64, 0 },
    { RILL_AGG_SUM, RILL_BOOL, 0 },     { RILL_AGG_MEAN, RILL_F64, 0 },
    { RILL_AGG_MEAN, RILL_I64, 0 },     { RILL_AGG_MEAN, RILL_BOOL, 0 },
    { RILL_AGG_MIN, RILL_F64, 0 },      { RILL_AGG_MIN, RILL_I64, 0 },
    { RILL_AGG_MIN, RILL_BOOL, 0 },     { RILL_AGG_MAX, RILL_F64, 0 },
    { RILL_AGG_MAX, RILL_I64, 0 },      { RILL_AGG_MAX, RILL_BOOL, 0 },
    { RILL_AGG_VARIANCE, RILL_F64, 0 }, { RILL_AGG_VARIANCE, RILL_I64, 0 },
    { RILL_AGG_VARIANCE, RILL_BOOL, 0 }, { RILL_AGG_STDDEV, RILL_F64, 0 },
    { RILL_AGG_STDDEV, RILL_I64, 0 },   { RILL_AGG_STDDEV, RILL_BOOL, 0 },
    { RILL_AGG_FIRST, RILL_F64, 0 },    { RILL_AGG_FIRST, RILL_I64, 0 },
    { RILL_AGG_FIRST, RILL_BOOL, 0 },   { RILL_AGG_LAST, RILL_F64, 0 },
    { RILL_AGG_LAST, RILL_I64, 0 },     { RILL_AGG_LAST, RILL_BOOL, 0 },
    { RILL_AGG_LAST_N, RILL_F64, 1 },   { RILL_AGG_LAST_N, RILL_F64, 5 },
    { RILL_AGG_LAST_N, RILL_F64, 64 },  { RILL_AGG_LAST_N, RILL_F64, 4096 },
    { RILL_AGG_LAST_N, RILL_I64, 3 },   { RILL_AGG_LAST_N, RILL_I64, 100 },
    { RILL_AGG_LAST_N, RILL_BOOL, 2 },  { RILL_AGG_LAST_N, RILL_BOOL, 17 },
    { RILL_AGG_DISTINCT, RILL_F64, 0 }, { RILL_AGG_DISTINCT, RILL_I64, 4 },
    { RILL_AGG_DISTINCT, RILL_I64, 12 }, { RILL_AGG_DISTINCT, RILL_I64, 16 },
    { RILL_AGG_DISTINCT, RILL_BOOL, 8 }, { RILL_AGG_DISTINCT, RILL_STRING, 10 },
    { RILL_AGG_DISTINCT, RILL_F64_LIST, 14 },
    { RILL_AGG_RATE, RILL_F64, 0 },     { RILL_AGG_RATE, RILL_BOOL, 0 },
    { RILL_AGG_RECENCY, RILL_I64, 0 },  { RILL_AGG_RECENCY, RILL_STRING, 0 },
};
#define N_CASES (sizeof cases / sizeof cases[0])

static int wide_ints(rill_agg_kind k) {
    return k != RILL_AGG_MEAN && k != RILL_AGG_VARIANCE && k != RILL_AGG_STDDEV;
}

static void set_ctx(const acase *c, const rill_agg *a) {
    snprintf(g_ctx, sizeof g_ctx, "%s over %s (param %u)", rill_agg_kind_name(c->kind),
             rill_type_name(c->type), a ? a->param : c->param);
}

static void random_window(int64_t *start, int64_t *end) {
    *start = (int64_t)rnd_below(100000) - 50000;
    *end = *start + (int64_t)rnd_below(20000) - 50; /* now and then empty or negative */
}

/* Random cut points: cuts[0] = 0 < ... < cuts[k] = n, k parts (some empty). */
static size_t random_cuts(size_t n, size_t *cuts, size_t max_parts) {
    size_t k = 1 + rnd_below(max_parts);
    cuts[0] = 0;
    for (size_t i = 1; i < k; i++) cuts[i] = rnd_below(n + 1);
    cuts[k] = n;
    /* sort the inner cuts (insertion sort) */
    for (size_t i = 2; i < k; i++)
        for (size_t j = i; j > 1 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    return k;
}

#define ROUNDS 120

static void test_random_streams(void **st) {
    stream *s = stream_new();
    for (size_t ci = 0; ci < N_CASES; ci++) {
        const acase *c = &cases[ci];
        rill_agg a;
        set_ctx(c, NULL);
        bind_case(c, &a);
        set_ctx(c, &a);
        for (int round = 0; round < ROUNDS; round++) {
            size_t n = rnd_below(4) == 0 ? rnd_below(4) : rnd_below(MAXROWS + 1);
            stream_fill(s, c->type, n, wide_ints(c->kind));
            int64_t start, end;
            random_window(&start, &end);

            /* one pass */
            void *one = acc_of(&a, s, 0, n);
            check_result(c, &a, "one pass", one, s, 0, n, start, end);

            /* partials merged in arrival order */
            size_t cuts[8];
            size_t k = random_cuts(n, cuts, 7);
            void *merged = acc_of(&a, s, cuts[0], cuts[1]);
            for (size_t i = 1; i < k; i++) {
                void *part = acc_of(&a, s, cuts[i], cuts[i + 1]);
                a.ops->merge(&a, merged, part);
                free(part);
            }
            check_result(c, &a, "merged partials", merged, s, 0, n, start, end);
            if (c->kind == RILL_AGG_DISTINCT && memcmp(merged, one, a.size) != 0)
                fail_msg("%s: merged registers differ from one pass (seed %" PRIu64 ")", g_ctx,
                         g_seed);

            /* associativity: (x+y)+z and x+(y+z) */
            size_t c3[4];
            c3[0] = 0;
            c3[1] = rnd_below(n + 1);
            c3[2] = c3[1] + rnd_below(n - c3[1] + 1);
            c3[3] = n;
            void *x = acc_of(&a, s, 0, c3[1]);
            void *y = acc_of(&a, s, c3[1], c3[2]);
            void *z = acc_of(&a, s, c3[2], n);
            void *left = acc_copy(&a, x);
            a.ops->merge(&a, left, y);
            a.ops->merge(&a, left, z);
            void *yz = acc_copy(&a, y);
            a.ops->merge(&a, yz, z);
            void *right = acc_copy(&a, x);
            a.ops->merge(&a, right, yz);
            check_result(c, &a, "(x+y)+z", left, s, 0, n, start, end);
            check_result(c, &a, "x+(y+z)", right, s, 0, n, start, end);
            rill_value lv = result_of(&a, left, start, end);
            double lbuf[MAXROWS];
            if (lv.type == RILL_F64_LIST) {
                memcpy(lbuf, lv.as.list.ptr, lv.as.list.len * sizeof(double));
                lv.as.list.ptr = lbuf;
            }
            check_value("(x+y)+z vs x+(y+z)", result_of(&a, right, start, end), lv, 0);
            /* merging an empty accumulator either way changes nothing */
            void *empty = acc_new(&a);
            void *e1 = acc_copy(&a, x);
            a.ops->merge(&a, e1, empty);
            a.ops->merge(&a, empty, x);
            check_result(c, &a, "x+empty", e1, s, 0, c3[1], start, end);
            check_result(c, &a, "empty+x", empty, s, 0, c3[1], start, end);
            free(empty);
            free(e1);
            free(x);
            free(y);
            free(z);
            free(yz);
            free(left);
            free(right);
            free(merged);
            free(one);
        }
        rill__agg_unbind(&a);
    }
    stream_free(s);
}

/* ---- subtract ------------------------------------------------------------ */

static int invertible(rill_agg_kind k) {
    return k == RILL_AGG_COUNT || k == RILL_AGG_SUM || k == RILL_AGG_MEAN ||
           k == RILL_AGG_VARIANCE || k == RILL_AGG_STDDEV;
}

/* Retraction cancels: how far off a result may be is set by the magnitude
 * of everything that went through the accumulator, not by what is left. */
static double retract_scale(rill_agg_kind k, const stream *s, size_t left) {
    long double sa = 0, mx = 0, sq = 0;
    for (size_t r = 0; r < s->n; r++) {
        if (!s->valid[r]) continue;
        long double v = fabsl(num(s, r));
        sa += v;
        sq += v * v;
        if (v > mx) mx = v;
    }
    switch (k) {
    case RILL_AGG_SUM: return (double)sa;
    case RILL_AGG_MEAN: return (double)mx;
    default: return (double)(sq / (left > 1 ? left - 1 : 1)); /* variance; stddev squared */
    }
}

static size_t valid_in(const stream *s, size_t lo, size_t hi) {
    size_t n = 0;
    for (size_t r = lo; r < hi; r++) n += s->valid[r];
    return n;
}

/* acc holds rows [lo, n) of s: compare with the oracle, allowing for
 * retraction error. stddev is compared squared, against variance's scale. */
static void check_retracted(const acase *c, const rill_agg *a, const char *what, const void *acc,
                            const stream *s, size_t lo, size_t hi) {
    rill_value got = result_of(a, acc, 0, 1000);
    rill_value want = oracle(c->kind, a->param, s, lo, hi, 0, 1000);
    double scale = retract_scale(c->kind, s, valid_in(s, lo, hi));
    if (c->kind == RILL_AGG_STDDEV && got.type == RILL_F64 && want.type == RILL_F64) {
        got.as.f64 *= got.as.f64;
        want.as.f64 *= want.as.f64;
    }
    check_value(what, got, want, scale);
}

static void test_subtract(void **st) {
    stream *s = stream_new();
    for (size_t ci = 0; ci < N_CASES; ci++) {
        const acase *c = &cases[ci];
        rill_agg a;
        set_ctx(c, NULL);
        bind_case(c, &a);
        set_ctx(c, &a);
        if (!invertible(c->kind)) {
            assert_null(a.ops->subtract);
            rill__agg_unbind(&a);
            continue;
        }
        assert_non_null(a.ops->subtract);
        for (int round = 0; round < ROUNDS; round++) {
            size_t n = rnd_below(MAXROWS + 1);
            stream_fill(s, c->type, n, wide_ints(c->kind));
            /* subtract(merge(x, y), y) == x, y being the later part */
            size_t cut = rnd_below(n + 1);
            void *x = acc_of(&a, s, 0, cut);
            void *y = acc_of(&a, s, cut, n);
            void *m = acc_copy(&a, x);
            a.ops->merge(&a, m, y);
            a.ops->subtract(&a, m, y);
            check_retracted(c, &a, "(x+y)-y", m, s, 0, cut);
            if (c->kind == RILL_AGG_COUNT || (c->kind == RILL_AGG_SUM && c->type == RILL_I64))
                assert_memory_equal(m, x, a.size); /* exact */
            /* and the earlier part: (x+y)-x == y */
            void *m2 = acc_copy(&a, x);
            a.ops->merge(&a, m2, y);
            a.ops->subtract(&a, m2, x);
            check_retracted(c, &a, "(x+y)-x", m2, s, cut, n);
            free(x);
            free(y);
            free(m);
            free(m2);

            /* a sliding window: retract chunks from the front, one by one */
            void *all = acc_of(&a, s, 0, n);
            size_t cuts[12];
            size_t k = random_cuts(n, cuts, 11);
            for (size_t i = 0; i < k; i++) {
                void *chunk = acc_of(&a, s, cuts[i], cuts[i + 1]);
                a.ops->subtract(&a, all, chunk);
                free(chunk);
                check_retracted(c, &a, "after retracting a prefix", all, s, cuts[i + 1], n);
            }
            free(all);
        }
        rill__agg_unbind(&a);
    }
    stream_free(s);
}

/* ---- hand-written examples: nulls, ties, lists, rate, recency ----------- */

/* Bind kind over field "x" of a stream's type; fail on error. */
static void bind_simple(rill_agg *a, rill_agg_kind kind, rill_type t, uint32_t param) {
    acase c = { kind, t, param };
    set_ctx(&c, NULL);
    bind_case(&c, a);
}

/* A stream from literal rows (valid[r] == 0: null). */
static void stream_set(stream *s, rill_type t, size_t n, const int64_t *ts, const double *v,
                       const uint8_t *valid) {
    s->n = n;
    s->type = t;
    for (size_t r = 0; r < n; r++) {
        s->ts[r] = ts[r];
        s->valid[r] = valid ? valid[r] : 1;
        s->f64[r] = v[r];
        s->i64[r] = (int64_t)v[r];
        s->b[r] = v[r] != 0;
    }
    memset(&s->col, 0, sizeof s->col);
    s->col.type = t;
    s->col.valid = s->valid;
    if (t == RILL_F64) s->col.data.f64 = s->f64;
    if (t == RILL_I64) s->col.data.i64 = s->i64;
    if (t == RILL_BOOL) s->col.data.b = s->b;
}

static rill_value run(rill_agg_kind kind, rill_type t, uint32_t param, const stream *s,
                      int64_t start, int64_t end) {
    rill_agg a;
    bind_simple(&a, kind, t, param);
    void *acc = acc_of(&a, s, 0, s->n);
    rill_value v = result_of(&a, acc, start, end);
    free(acc);
    rill__agg_unbind(&a);
    return v;
}

static void test_nulls_skipped(void **st) {
    stream *s = stream_new();
    /* the extreme times and values are all on null rows */
    const int64_t ts[] = { 1, 10, 5, 100, 7, 0 };
    const double v[] = { 4, 1000, 2, -1000, 6, 99 };
    const uint8_t valid[] = { 1, 0, 1, 0, 1, 0 };
    snprintf(g_ctx, sizeof g_ctx, "nulls");
    stream_set(s, RILL_F64, 6, ts, v, valid);
    check_value("count counts null events", run(RILL_AGG_COUNT, RILL_F64, 0, s, 0, 1000),
                 rill_i64(6), 0);
    check_value("sum", run(RILL_AGG_SUM, RILL_F64, 0, s, 0, 1), rill_f64(12), 0);
    check_value("mean", run(RILL_AGG_MEAN, RILL_F64, 0, s, 0, 1), rill_f64(4), 0);
    check_value("min", run(RILL_AGG_MIN, RILL_F64, 0, s, 0, 1), rill_f64(2), 0);
    check_value("max", run(RILL_AGG_MAX, RILL_F64, 0, s, 0, 1), rill_f64(6), 0);
    check_value("variance", run(RILL_AGG_VARIANCE, RILL_F64, 0, s, 0, 1), rill_f64(4), 0);
    check_value("stddev", run(RILL_AGG_STDDEV, RILL_F64, 0, s, 0, 1), rill_f64(2), 0);
    check_value("first", run(RILL_AGG_FIRST, RILL_F64, 0, s, 0, 1), rill_f64(4), 0);
    check_value("last", run(RILL_AGG_LAST, RILL_F64, 0, s, 0, 1), rill_f64(6), 0);
    check_value("distinct", run(RILL_AGG_DISTINCT, RILL_F64, 0, s, 0, 1), rill_i64(3), 0);
    double l[] = { 2, 6 }; /* times 5, 7 */
    rill_value want = { .type = RILL_F64_LIST, .as.list = { l, 2 } };
    check_value("last_n", run(RILL_AGG_LAST_N, RILL_F64, 2, s, 0, 1), want, 0);
    check_value("rate counts null events", run(RILL_AGG_RATE, RILL_F64, 0, s, 0, 2000),
                 rill_f64(3), 0);
    check_value("recency counts null events", run(RILL_AGG_RECENCY, RILL_F64, 0, s, 0, 1),
                 rill_i64(90), 0);

    /* all null: the value aggregates are null, counting ones are not */
    const uint8_t none[] = { 0, 0, 0, 0, 0, 0 };
    stream_set(s, RILL_I64, 6, ts, v, none);
    static const rill_agg_kind nulls[] = { RILL_AGG_SUM, RILL_AGG_MEAN, RILL_AGG_MIN,
                                           RILL_AGG_MAX, RILL_AGG_VARIANCE, RILL_AGG_STDDEV,
                                           RILL_AGG_FIRST, RILL_AGG_LAST, RILL_AGG_LAST_N };
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        check_value(rill_agg_kind_name(nulls[i]), run(nulls[i], RILL_I64, 4, s, 0, 1),
                     rill_null(), 0);
    check_value("count", run(RILL_AGG_COUNT, RILL_I64, 0, s, 0, 1), rill_i64(6), 0);
    check_value("distinct", run(RILL_AGG_DISTINCT, RILL_I64, 0, s, 0, 1), rill_i64(0), 0);
    check_value("recency", run(RILL_AGG_RECENCY, RILL_I64, 0, s, 0, 1), rill_i64(90), 0);

    /* one value: variance and stddev null; empty accumulators */
    stream_set(s, RILL_F64, 1, ts, v, NULL);
    check_value("variance of one", run(RILL_AGG_VARIANCE, RILL_F64, 0, s, 0, 1), rill_null(), 0);
    check_value("recency of one", run(RILL_AGG_RECENCY, RILL_F64, 0, s, 0, 1), rill_null(), 0);
    stream_set(s, RILL_F64, 0, ts, v, NULL);
    check_value("count of none", run(RILL_AGG_COUNT, RILL_F64, 0, s, 0, 1), rill_i64(0), 0);
    check_value("rate of none", run(RILL_AGG_RATE, RILL_F64, 0, s, 0, 1000), rill_f64(0), 0);
    check_value("rate, empty window", run(RILL_AGG_RATE, RILL_F64, 0, s, 5, 5), rill_null(), 0);
    stream_free(s);
}

static void test_ties_and_types(void **st) {
    stream *s = stream_new();
    snprintf(g_ctx, sizeof g_ctx, "ties");
    const int64_t ts[] = { 5, 3, 3, 7, 7, 1 };
    const double v[] = { 1, 2, 3, 4, 5, 6 };
    const uint8_t valid[] = { 1, 1, 1, 1, 1, 0 };
    stream_set(s, RILL_I64, 6, ts, v, valid);
    check_value("first: earliest arrival of the earliest ms",
                 run(RILL_AGG_FIRST, RILL_I64, 0, s, 0, 1), rill_i64(2), 0);
    check_value("last: latest arrival of the latest ms",
                 run(RILL_AGG_LAST, RILL_I64, 0, s, 0, 1), rill_i64(5), 0);
    double l[] = { 3, 1, 4, 5 };
    rill_value want = { .type = RILL_F64_LIST, .as.list = { l, 4 } };
    check_value("last_n oldest first", run(RILL_AGG_LAST_N, RILL_I64, 4, s, 0, 1), want, 0);

    /* merge ties: src is the later arrival */
    rill_agg a;
    bind_simple(&a, RILL_AGG_FIRST, RILL_I64, 0);
    void *x = acc_of(&a, s, 1, 2), *y = acc_of(&a, s, 2, 3); /* both at ms 3 */
    a.ops->merge(&a, x, y);
    check_value("first after merge of a tie keeps dst", result_of(&a, x, 0, 1), rill_i64(2), 0);
    free(x);
    free(y);
    rill__agg_unbind(&a);
    bind_simple(&a, RILL_AGG_LAST, RILL_I64, 0);
    x = acc_of(&a, s, 3, 4), y = acc_of(&a, s, 4, 5); /* both at ms 7 */
    a.ops->merge(&a, x, y);
    check_value("last after merge of a tie takes src", result_of(&a, x, 0, 1), rill_i64(5), 0);
    free(x);
    free(y);
    rill__agg_unbind(&a);

    /* i64 stays exact beyond 2^53 for sum, min, max, first, last */
    stream_set(s, RILL_I64, 2, ts, v, NULL);
    s->i64[0] = INT64_MAX - 1;
    s->i64[1] = -3;
    check_value("sum i64", run(RILL_AGG_SUM, RILL_I64, 0, s, 0, 1), rill_i64(INT64_MAX - 4), 0);
    check_value("max i64", run(RILL_AGG_MAX, RILL_I64, 0, s, 0, 1), rill_i64(INT64_MAX - 1), 0);
    check_value("first i64", run(RILL_AGG_FIRST, RILL_I64, 0, s, 0, 1), rill_i64(-3), 0);
    check_value("last i64", run(RILL_AGG_LAST, RILL_I64, 0, s, 0, 1), rill_i64(INT64_MAX - 1), 0);
    /* bool: 0/1 for the numeric ones, a bool for first/last */
    const double bv[] = { 1, 0, 1 };
    stream_set(s, RILL_BOOL, 3, ts, bv, NULL);
    check_value("sum bool", run(RILL_AGG_SUM, RILL_BOOL, 0, s, 0, 1), rill_f64(2), 0);
    check_value("min bool", run(RILL_AGG_MIN, RILL_BOOL, 0, s, 0, 1), rill_f64(0), 0);
    check_value("last bool", run(RILL_AGG_LAST, RILL_BOOL, 0, s, 0, 1), rill_bool(true), 0);
    check_value("first bool", run(RILL_AGG_FIRST, RILL_BOOL, 0, s, 0, 1), rill_bool(false), 0);
    /* recency of two events at one ms is 0; rate over 4 s */
    const int64_t ts2[] = { 9, 2, 9 };
    stream_set(s, RILL_BOOL, 3, ts2, bv, NULL);
    check_value("recency of a tie", run(RILL_AGG_RECENCY, RILL_BOOL, 0, s, 0, 1), rill_i64(0), 0);
    check_value("rate", run(RILL_AGG_RATE, RILL_BOOL, 0, s, 1000, 5000), rill_f64(0.75), 0);
    stream_free(s);
}

/* ---- HyperLogLog error ----------------------------------------------------- */

/* Estimate n distinct i64 values, each added twice, spread over 4 partial
 * sketches that are merged. Returns the relative error. */
static double hll_trial(uint32_t p, size_t n, uint64_t salt) {
    rill_agg a;
    bind_simple(&a, RILL_AGG_DISTINCT, RILL_I64, p);
    assert_int_equal(a.param, p);
    enum { CH = 4096 };
    int64_t *vals = malloc(CH * sizeof *vals);
    uint8_t *valid = malloc(CH);
    assert_non_null(vals);
    assert_non_null(valid);
    memset(valid, 1, CH);
    rill_column col = { .type = RILL_I64, .data.i64 = vals, .valid = valid };
    void *parts[4];
    for (int i = 0; i < 4; i++) parts[i] = acc_new(&a);
    for (int pass = 0; pass < 2; pass++)
        for (size_t base = 0; base < n; base += CH) {
            size_t len = n - base < CH ? n - base : CH;
            /* i -> i * odd + salt is a bijection of uint64: all distinct */
            for (size_t i = 0; i < len; i++)
                vals[i] = (int64_t)((base + i) * 0x9E3779B97F4A7C15ull + salt);
            for (size_t i = 0; i < len; i++) {
                size_t part = pass == 0 ? (base + i) % 4 : (base + i) * 7 / 3 % 4;
                a.ops->add(&a, parts[part], &col, i, 0);
            }
        }
    for (int i = 1; i < 4; i++) a.ops->merge(&a, parts[0], parts[i]);
    rill_value v = result_of(&a, parts[0], 0, 1);
    assert_int_equal(v.type, RILL_I64);
    for (int i = 0; i < 4; i++) free(parts[i]);
    free(vals);
    free(valid);
    rill__agg_unbind(&a);
    return ((double)v.as.i64 - (double)n) / (double)n;
}

static void test_hll_error(void **st) {
    static const uint32_t ps[] = { 12, 14 };
    static const size_t ns[] = { 100, 10000, 1000000 };
    enum { TRIALS = 4 };
    for (size_t pi = 0; pi < 2; pi++)
        for (size_t ni = 0; ni < 3; ni++) {
            double se = 1.04 / sqrt((double)(1u << ps[pi]));
            double sum_abs = 0, worst = 0;
            for (int t = 0; t < TRIALS; t++) {
                /* Fixed salts, not the run's seed: 24 checks at 3 standard
                 * errors would fail by chance for about one seed in 16. */
                double e = hll_trial(ps[pi], ns[ni], 0x5EED0000ull + (uint64_t)(16 * t + ni));
                sum_abs += fabs(e);
                if (fabs(e) > fabs(worst)) worst = e;
                /* plus one value: at n = 100 the error comes in whole values
                 * (registers shared by two of them) */
                if (fabs(e) > 3 * se + 1.0 / (double)ns[ni])
                    fail_msg("HyperLogLog p=%u n=%zu: relative error %.4f beyond 3 standard "
                             "errors (%.4f) (seed %" PRIu64 ")",
                             ps[pi], ns[ni], e, 3 * se, g_seed);
            }
            print_message("HyperLogLog p=%u n=%7zu: mean |error| %.3f%%, worst %+.3f%% "
                          "(standard error %.2f%%, %d trials)\n",
                          ps[pi], ns[ni], 100 * sum_abs / TRIALS, 100 * worst, 100 * se, TRIALS);
        }

    /* strings, hashed by their bytes: 10 000 distinct ones, each twice */
    rill_agg a;
    bind_simple(&a, RILL_AGG_DISTINCT, RILL_STRING, 0);
    assert_int_equal(a.param, 12); /* the default precision */
    enum { NS = 10000 };
    char *arena = malloc(NS * 16);
    rill_span *spans = malloc(2 * NS * sizeof *spans);
    uint8_t *valid = malloc(2 * NS);
    assert_non_null(arena);
    assert_non_null(spans);
    assert_non_null(valid);
    for (size_t i = 0; i < NS; i++) {
        int len = snprintf(arena + 16 * i, 16, "user-%zu", i);
        spans[i] = spans[NS + i] = (rill_span){ (uint32_t)(16 * i), (uint32_t)len };
    }
    memset(valid, 1, 2 * NS);
    rill_column col = { .type = RILL_STRING, .data.span = spans, .valid = valid, .arena = &arena };
    void *acc = acc_new(&a);
    for (size_t r = 0; r < 2 * NS; r++) a.ops->add(&a, acc, &col, r, 0);
    rill_value v = result_of(&a, acc, 0, 1);
    snprintf(g_ctx, sizeof g_ctx, "distinct strings");
    check_estimate("10000 strings", v, NS, 12, 3);
    print_message("HyperLogLog p=12 over 10000 distinct strings: estimate %" PRId64 "\n",
                  v.as.i64);
    free(acc);
    free(arena);
    free(spans);
    free(valid);
    rill__agg_unbind(&a);
}

/* ---- bind errors ----------------------------------------------------------- */

static rill_schema *mixed_schema(void) {
    rill_field f[] = { { "amount", RILL_F64 }, { "qty", RILL_I64 },   { "flag", RILL_BOOL },
                       { "user", RILL_STRING }, { "hist", RILL_F64_LIST } };
    rill_schema *s = rill_schema_new(f, 5);
    assert_non_null(s);
    return s;
}

static void expect_bind_error(const rill_schema *sch, rill_agg_spec spec, int code,
                              const char *const *needles) {
    rill_agg a;
    char err[256] = "";
    int rc = rill__agg_bind(&a, &spec, sch, err, sizeof err);
    if (rc != code)
        fail_msg("bind %s of '%s' as '%s' (param %u): got %s (%s), want %s",
                 rill_agg_kind_name(spec.kind), spec.field ? spec.field : "(none)",
                 spec.name ? spec.name : "(none)", spec.param, rill_errname(rc), err,
                 rill_errname(code));
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(err, needles[i]))
            fail_msg("bind error message '%s' does not mention '%s'", err, needles[i]);
    /* nothing to free, and unbind of the failed struct is harmless */
    assert_null(a.name);
    assert_null(a.field);
    assert_null(a.scratch);
    rill__agg_unbind(&a);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_bind_errors(void **st) {
    rill_schema *sch = mixed_schema();
    rill_agg_spec sp;

    sp = (rill_agg_spec){ RILL_AGG_SUM, "amount_", "total", 0 };
    expect_bind_error(sch, sp, RILL_EUNKNOWN_FIELD, NEEDLES("'total'", "sum", "'amount_'"));

    sp = (rill_agg_spec){ RILL_AGG_SUM, "user", "total", 0 };
    expect_bind_error(sch, sp, RILL_EFIELD_TYPE,
                      NEEDLES("aggregate 'total' (sum): field 'user' is a string; sum needs a "
                              "numeric field (f64, i64 or bool)"));
    static const rill_agg_kind numeric[] = { RILL_AGG_SUM,   RILL_AGG_MEAN,     RILL_AGG_MIN,
                                             RILL_AGG_MAX,   RILL_AGG_VARIANCE, RILL_AGG_STDDEV,
                                             RILL_AGG_FIRST, RILL_AGG_LAST,     RILL_AGG_LAST_N };
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        const char *kn = rill_agg_kind_name(numeric[i]);
        sp = (rill_agg_spec){ numeric[i], "user", "v", 3 };
        expect_bind_error(sch, sp, RILL_EFIELD_TYPE, NEEDLES("'v'", kn, "'user'", "string"));
        sp = (rill_agg_spec){ numeric[i], "hist", "v", 3 };
        expect_bind_error(sch, sp, RILL_EFIELD_TYPE, NEEDLES("'v'", kn, "'hist'", "f64 list"));
        sp = (rill_agg_spec){ numeric[i], "nope", "v", 3 };
        expect_bind_error(sch, sp, RILL_EUNKNOWN_FIELD, NEEDLES("'v'", kn, "'nope'"));
        sp = (rill_agg_spec){ numeric[i], NULL, "v", 3 };
        expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'v'", kn, "field"));
        sp = (rill_agg_spec){ numeric[i], "", "v", 3 };
        expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'v'", kn, "field"));
    }
    sp = (rill_agg_spec){ RILL_AGG_DISTINCT, "nope", "users", 0 };
    expect_bind_error(sch, sp, RILL_EUNKNOWN_FIELD, NEEDLES("'users'", "distinct", "'nope'"));

    /* parameters */
    sp = (rill_agg_spec){ RILL_AGG_LAST_N, "amount", "recent", 0 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'recent'", "last_n", "'amount'", "4096"));
    sp = (rill_agg_spec){ RILL_AGG_LAST_N, "amount", "recent", 4097 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'recent'", "last_n", "'amount'", "4097"));
    sp = (rill_agg_spec){ RILL_AGG_DISTINCT, "user", "users", 3 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'users'", "distinct", "'user'", "precision"));
    sp = (rill_agg_spec){ RILL_AGG_DISTINCT, "user", "users", 17 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'users'", "distinct", "'user'", "17"));

    /* names and kinds */
    sp = (rill_agg_spec){ RILL_AGG_SUM, "amount", NULL, 0 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("sum", "'amount'", "name"));
    sp = (rill_agg_spec){ RILL_AGG_COUNT, NULL, "", 0 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("count", "name"));
    sp = (rill_agg_spec){ (rill_agg_kind)0, "amount", "weird", 0 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'weird'", "kind"));
    sp = (rill_agg_spec){ (rill_agg_kind)99, "amount", "weird", 0 };
    expect_bind_error(sch, sp, RILL_EBAD_AGG, NEEDLES("'weird'", "kind"));

    /* what is accepted, and the output types */
    static const struct {
        rill_agg_kind kind;
        const char *field;
        uint32_t param;
        rill_type out;
        uint32_t param_after;
    } ok[] = {
        { RILL_AGG_COUNT, "no such field", 0, RILL_I64, 0 },
        { RILL_AGG_RATE, "user", 0, RILL_F64, 0 },
        { RILL_AGG_RECENCY, "no such field", 0, RILL_I64, 0 },
        { RILL_AGG_SUM, "qty", 0, RILL_I64, 0 },
        { RILL_AGG_SUM, "amount", 0, RILL_F64, 0 },
        { RILL_AGG_SUM, "flag", 0, RILL_F64, 0 },
        { RILL_AGG_MEAN, "qty", 0, RILL_F64, 0 },
        { RILL_AGG_MIN, "qty", 0, RILL_I64, 0 },
        { RILL_AGG_MAX, "amount", 0, RILL_F64, 0 },
        { RILL_AGG_MAX, "flag", 0, RILL_F64, 0 },
        { RILL_AGG_STDDEV, "flag", 0, RILL_F64, 0 },
        { RILL_AGG_FIRST, "flag", 0, RILL_BOOL, 0 },
        { RILL_AGG_LAST, "qty", 0, RILL_I64, 0 },
        { RILL_AGG_LAST_N, "qty", 4096, RILL_F64_LIST, 4096 },
        { RILL_AGG_DISTINCT, "user", 0, RILL_I64, 12 },
        { RILL_AGG_DISTINCT, "hist", 4, RILL_I64, 4 },
        { RILL_AGG_DISTINCT, "flag", 16, RILL_I64, 16 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        rill_agg a;
        char err[256] = "";
        sp = (rill_agg_spec){ ok[i].kind, ok[i].field, "out", ok[i].param };
        int rc = rill__agg_bind(&a, &sp, sch, err, sizeof err);
        if (rc != RILL_OK)
            fail_msg("bind %s of '%s': %s: %s", rill_agg_kind_name(ok[i].kind), ok[i].field,
                     rill_errname(rc), err);
        assert_int_equal(a.out_type, ok[i].out);
        assert_int_equal(a.param, ok[i].param_after);
        assert_string_equal(a.name, "out");
        assert_int_equal(a.size % 8, 0);
        rill__agg_unbind(&a);
    }
    rill_schema_free(sch);
}

static void test_kind_names(void **st) {
    for (int k = RILL_AGG_COUNT; k <= RILL_AGG_RECENCY; k++) {
        const char *n = rill_agg_kind_name((rill_agg_kind)k);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        for (int j = RILL_AGG_COUNT; j < k; j++)
            assert_string_not_equal(n, rill_agg_kind_name((rill_agg_kind)j));
    }
    assert_string_equal(rill_agg_kind_name(RILL_AGG_COUNT), "count");
    assert_string_equal(rill_agg_kind_name(RILL_AGG_DISTINCT), "distinct");
    assert_string_equal(rill_agg_kind_name((rill_agg_kind)0), "unknown");
    assert_string_equal(rill_agg_kind_name((rill_agg_kind)1000), "unknown");
}

/* ---- sets and blocks --------------------------------------------------------- */

static void test_set_layout_and_blocks(void **st) {
    rill_schema *sch = mixed_schema();
    const rill_agg_spec specs[] = {
        { RILL_AGG_COUNT, NULL, "n", 0 },          { RILL_AGG_SUM, "qty", "qty_sum", 0 },
        { RILL_AGG_MEAN, "amount", "avg", 0 },     { RILL_AGG_MIN, "amount", "lo", 0 },
        { RILL_AGG_MAX, "qty", "hi", 0 },          { RILL_AGG_VARIANCE, "amount", "var", 0 },
        { RILL_AGG_STDDEV, "flag", "sd", 0 },      { RILL_AGG_FIRST, "qty", "first", 0 },
        { RILL_AGG_LAST, "flag", "last", 0 },      { RILL_AGG_LAST_N, "amount", "recent", 3 },
        { RILL_AGG_DISTINCT, "user", "users", 5 }, { RILL_AGG_RATE, NULL, "per_s", 0 },
        { RILL_AGG_RECENCY, NULL, "gap", 0 },
    };
    enum { NA = sizeof specs / sizeof specs[0] };
    rill_agg_set set;
    char err[256] = "";
    int rc = rill__agg_set_bind(&set, specs, NA, sch, err, sizeof err);
    if (rc) fail_msg("set bind: %s: %s", rill_errname(rc), err);
    assert_int_equal(set.n, NA);
    size_t off = 0;
    for (size_t i = 0; i < NA; i++) {
        const rill_agg *a = &set.aggs[i];
        assert_int_equal(a->offset, off);
        assert_int_equal(a->size % 8, 0);
        assert_true(a->size >= 8);
        off += a->size;
    }
    assert_int_equal(set.block_size, off);
    assert_true(set.aggs[10].size >= 32);        /* 2^5 one-byte registers */
    assert_true(set.aggs[9].size >= 3 * 16);     /* 3 (time, value) entries */
    assert_non_null(set.aggs[9].scratch);

    /* block helpers over a batch-like set of columns, against the oracles */
    stream *sf = stream_new(), *si = stream_new(), *sb = stream_new(), *ss = stream_new();
    snprintf(g_ctx, sizeof g_ctx, "block");
    for (int round = 0; round < 50; round++) {
        size_t n = rnd_below(MAXROWS + 1);
        stream_fill(sf, RILL_F64, n, 0);
        stream_fill(si, RILL_I64, n, 1);
        stream_fill(sb, RILL_BOOL, n, 0);
        stream_fill(ss, RILL_STRING, n, 0);
        /* one event time per row, shared by every column */
        for (size_t r = 0; r < n; r++) si->ts[r] = sb->ts[r] = ss->ts[r] = sf->ts[r];
        const stream *src[NA] = { sf, si, sf, sf, si, sf, sb, si, sb, sf, ss, sf, sf };
        const rill_column *cols[NA];
        for (size_t i = 0; i < NA; i++) cols[i] = set.aggs[i].field ? &src[i]->col : NULL;
        size_t cut = rnd_below(n + 1);
        char *b1 = malloc(set.block_size), *b2 = malloc(set.block_size);
        assert_non_null(b1);
        assert_non_null(b2);
        rill__agg_block_init(&set, b1);
        rill__agg_block_init(&set, b2);
        for (size_t r = 0; r < cut; r++) rill__agg_block_add(&set, b1, cols, r, sf->ts[r]);
        for (size_t r = cut; r < n; r++) rill__agg_block_add(&set, b2, cols, r, sf->ts[r]);
        rill__agg_block_merge(&set, b1, b2);
        rill_value vals[NA];
        int64_t start, end;
        random_window(&start, &end);
        rill__agg_block_result(&set, b1, start, end, vals);
        for (size_t i = 0; i < NA; i++) {
            const rill_agg *a = &set.aggs[i];
            rill_value want = oracle(a->kind, a->param, src[i], 0, n, start, end);
            if (a->kind == RILL_AGG_DISTINCT)
                check_estimate(a->name, vals[i], want.as.i64, a->param, 5);
            else
                check_value(a->name, vals[i], want, 0);
        }
        free(b1);
        free(b2);
    }
    stream_free(sf);
    stream_free(si);
    stream_free(sb);
    stream_free(ss);
    rill__agg_set_free(&set);
    rill__agg_set_free(&set); /* freed sets are zeroed: freeing again is harmless */

    /* a duplicate output name: RILL_EDUP_NAME naming both, nothing left allocated */
    const rill_agg_spec dup[] = {
        { RILL_AGG_LAST_N, "amount", "recent", 8 },
        { RILL_AGG_COUNT, NULL, "n", 0 },
        { RILL_AGG_DISTINCT, "user", "recent", 0 },
    };
    rc = rill__agg_set_bind(&set, dup, 3, sch, err, sizeof err);
    assert_int_equal(rc, RILL_EDUP_NAME);
    assert_non_null(strstr(err, "'recent'"));
    assert_non_null(strstr(err, "distinct"));
    assert_non_null(strstr(err, "'user'"));
    assert_non_null(strstr(err, "last_n"));
    assert_null(set.aggs);
    /* a bad aggregate later in the list frees the ones bound before it */
    const rill_agg_spec bad[] = {
        { RILL_AGG_LAST_N, "amount", "recent", 8 },
        { RILL_AGG_MEAN, "user", "avg", 0 },
    };
    rc = rill__agg_set_bind(&set, bad, 2, sch, err, sizeof err);
    assert_int_equal(rc, RILL_EFIELD_TYPE);
    assert_non_null(strstr(err, "'avg'"));
    assert_null(set.aggs);
    /* a NULL list of n > 0 specs */
    rc = rill__agg_set_bind(&set, NULL, 2, sch, err, sizeof err);
    assert_int_equal(rc, RILL_EINVAL);
    assert_null(set.aggs);
    /* an empty set is fine */
    rc = rill__agg_set_bind(&set, NULL, 0, sch, err, sizeof err);
    assert_int_equal(rc, RILL_OK);
    assert_int_equal(set.block_size, 0);
    rill__agg_set_free(&set);
    rill_schema_free(sch);
}

int main(void) {
    seed_from_env();
    print_message("test_aggregates: seed %" PRIu64 " (RILL_SEED=<n> to replay)\n", g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_nulls_skipped),
        cmocka_unit_test(test_ties_and_types),
        cmocka_unit_test(test_random_streams),
        cmocka_unit_test(test_subtract),
        cmocka_unit_test(test_set_layout_and_blocks),
        cmocka_unit_test(test_hll_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
