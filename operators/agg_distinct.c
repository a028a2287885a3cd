/* operators/agg_distinct.c — approximate count of distinct values
 * (HyperLogLog).
 *
 * HyperLogLog (Flajolet, Fusy, Gandouet, Meunier 2007): each value is
 * hashed to 64 bits with xxHash (XXH3_64bits); the top p bits pick one of
 * m = 2^p registers, and the register keeps the largest rank seen, the
 * rank being the position of the first 1 bit in the remaining q = 64 - p
 * bits (q + 1 when they are all 0). Relative standard error of the count:
 * 1.04 / sqrt(m), i.e. 1.6 % at the default p = 12 (4 KiB of registers),
 * 0.8 % at p = 14, 0.4 % at p = 16, 26 % at p = 4.
 *
 * The estimate is Ertl's "improved raw estimator" (O. Ertl, New cardinality
 * estimation algorithms for HyperLogLog sketches, 2017; Redis uses it too),
 * computed from the histogram C[k] of the register values:
 *   E = alpha_m m^2 / (m sigma(C[0]/m) + sum_k C[k] 2^-k + m tau(1 - C[q+1]/m) 2^-q)
 * The sigma term is the small-range correction: while registers are empty
 * it turns the estimate into linear counting, m ln(m / C[0]), smoothly; tau
 * does the same for saturated registers at the top of the range. We keep
 * the original paper's alpha_m (0.673 at m = 16 ... 0.7213 / (1 + 1.079/m))
 * where Ertl uses its limit 1/(2 ln 2): the limit overestimates by 7 % at
 * p = 4 and by less than 1 % from p = 7 on.
 * This replaces the original paper's switch (linear counting while the raw
 * estimate is below 2.5 m), which is decided by a raw estimate that is still
 * biased there (+2.6 % at 2.44 m): around 2.5 m it more than doubled the
 * mean error in our measurements (2.5 % against 1.0 % at p = 12, n = 10 000,
 * 200 trials), and only HyperLogLog++'s empirical bias tables fix that.
 * The estimate of no values is 0.
 *
 * The accumulator is the m one-byte registers, nothing else; merge takes
 * the register-wise maximum, so merging partials gives exactly the sketch
 * of the whole stream, in any order. There is no subtract.
 *
 * Values hash by their bytes in the input type: i64 as its 8 bytes, f64 as
 * its 8 bytes with -0 folded onto +0 (they compare equal), bool as one byte
 * 0/1, strings and f64 lists as their bytes in the batch arena. Events
 * without the field are skipped. No sparse representation: the registers
 * take 2^p bytes from the first value on.
 */
#include <assert.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "operators/agg_impl.h"

static void hll_insert(const rill_agg *a, uint8_t *reg, uint64_t h) {
    unsigned p = a->param;
    uint64_t idx = h >> (64 - p);
    uint64_t w = h << p; /* the low p bits are zero, so a nonzero w has clz < 64 - p */
    uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - p + 1);
    if (rank > reg[idx]) reg[idx] = rank;
}

static void hll_f64_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                        int64_t ts) {
    if (!col->valid[row]) return;
    double v = col->data.f64[row];
    if (v == 0) v = 0.0; /* -0 == +0 */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    hll_insert(a, acc, XXH3_64bits(&bits, sizeof bits));
}

static void hll_i64_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                        int64_t ts) {
    if (!col->valid[row]) return;
    int64_t v = col->data.i64[row];
    hll_insert(a, acc, XXH3_64bits(&v, sizeof v));
}

static void hll_bool_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                         int64_t ts) {
    if (!col->valid[row]) return;
    uint8_t v = col->data.b[row] ? 1 : 0;
    hll_insert(a, acc, XXH3_64bits(&v, 1));
}

/* Strings and lists: the bytes their span points at in the batch arena. */
static void hll_bytes_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                          int64_t ts) {
    if (!col->valid[row]) return;
    assert(col->arena); /* the batch sets it for its string and list columns */
    rill_span s = col->data.span[row];
    /* an empty value may come before the arena has any memory at all */
    hll_insert(a, acc, XXH3_64bits(s.len ? *col->arena + s.off : "", s.len));
}

static void hll_merge(const rill_agg *a, void *dst, const void *src) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    size_t m = (size_t)1 << a->param;
    for (size_t j = 0; j < m; j++)
        if (s[j] > d[j]) d[j] = s[j];
}

static double alpha(size_t m) {
    if (m == 16) return 0.673;
    if (m == 32) return 0.697;
    if (m == 64) return 0.709;
    return 0.7213 / (1.0 + 1.079 / (double)m);
}

/* sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for the empty registers (x < 1). */
static double hll_sigma(double x) {
    if (x == 1.0) return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

/* tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for the saturated ones. */
static double hll_tau(double x) {
    if (x == 0.0 || x == 1.0) return 0;
    double y = 1, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (z != prev);
    return z / 3;
}

static void hll_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const uint8_t *reg = acc;
    unsigned q = 64 - a->param;
    size_t m = (size_t)1 << a->param;
    size_t hist[66] = { 0 }; /* register values 0..q+1 <= 61 */
    for (size_t j = 0; j < m; j++) hist[reg[j]]++;
    double md = (double)m;
    double z = md * hll_tau(1.0 - (double)hist[q + 1] / md);
    for (unsigned k = q; k >= 1; k--) z = 0.5 * (z + (double)hist[k]);
    z += md * hll_sigma((double)hist[0] / md);
    double e = alpha(m) * md * md / z; /* 0 when every register is empty (z infinite) */
    *out = rill_i64((int64_t)llround(e));
}

#define V RILL_AGG_OPS_VERSION
#define Z rill__agg_init_zero
static const rill_agg_ops hll_f64_ops = { V, Z, hll_f64_add, hll_merge, NULL, hll_result };
static const rill_agg_ops hll_i64_ops = { V, Z, hll_i64_add, hll_merge, NULL, hll_result };
static const rill_agg_ops hll_bool_ops = { V, Z, hll_bool_add, hll_merge, NULL, hll_result };
static const rill_agg_ops hll_bytes_ops = { V, Z, hll_bytes_add, hll_merge, NULL, hll_result };

int rill__agg_pick_distinct(rill_agg *a) {
    switch (a->in_type) {
    case RILL_F64: a->ops = &hll_f64_ops; break;
    case RILL_I64: a->ops = &hll_i64_ops; break;
    case RILL_BOOL: a->ops = &hll_bool_ops; break;
    default: a->ops = &hll_bytes_ops; break; /* strings, lists */
    }
    a->out_type = RILL_I64;
    a->size = (size_t)1 << a->param;
    return RILL_OK;
}
