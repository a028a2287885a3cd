/* tests/test_state.c — one conformance suite for every state backend.
 *
 * The same table of tests runs against the memory backend and against the
 * RocksDB backend (each test on a fresh store; RocksDB in a new temporary
 * directory removed afterwards), so the two cannot drift apart. Expected
 * results are written out by hand or computed by a brute-force model (an
 * unsorted array searched linearly, sorted by a plain byte loop), never taken
 * from a backend.
 *
 * The memory backend also runs its allocation-failure test. A third table
 * holds what only a durable backend has: reopening, open
 * errors (a regular file, an unwritable place, a locked or damaged store)
 * and a full disk (a 1 MiB tmpfs, when we may mount one).
 *
 * The random test prints its seed; RILL_SEED=<n> replays one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/state.h"
#include "test_util.h"

/* ---- helpers -------------------------------------------------------------- */

typedef struct bytes {
    const char *p;
    size_t n;
} bytes;
/* A literal with its exact length, embedded NULs included. */
#define B(lit) ((bytes){ (lit), sizeof(lit) - 1 })

#define CHECK(s, call)                                                                    \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if (rc_ != 0)                                                                     \
            fail_msg("%s -> %s: %s", #call, rill_errname(rc_), rill_state_errmsg(s));     \
    } while (0)

typedef struct fixture {
    int rocks;          /* 0: memory, 1: rocksdb */
    char dir[256];      /* temporary directory (rocksdb) */
    char db[300];       /* dir/db: the store */
    char mnt[400];      /* a tmpfs mounted by the test, unmounted by teardown */
    rill_state *s;
} fixture;

static int open_store(fixture *f) {
    return f->rocks ? rill_state_open_rocksdb(f->db, NULL, &f->s) : rill_state_open_memory(&f->s);
}

static int setup_memory(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f || open_store(f))
        return -1;
    *state = f;
    return 0;
}

static int setup_rocksdb(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->rocks = 1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/rill-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/db", f->dir);
    if (open_store(f)) {
        fprintf(stderr, "open %s: %s\n", f->db, rill_state_errmsg(NULL));
        tu_rm_rf(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rill_state_close(f->s);
    if (f->mnt[0])
        umount2(f->mnt, MNT_DETACH);
    if (f->dir[0]) {
        chmod(f->dir, 0700);
        tu_rm_rf(f->dir);
    }
    free(f);
    return 0;
}

/* Close and open the same store again (RocksDB only). */
static void reopen(fixture *f) {
    rill_state_close(f->s);
    f->s = NULL;
    int rc = open_store(f);
    if (rc)
        fail_msg("reopen %s: %s: %s", f->db, rill_errname(rc), rill_state_errmsg(NULL));
}

static uint32_t ns_open(rill_state *s, const char *name) {
    uint32_t id = 0;
    CHECK(s, rill__state_ns_open(s, name, &id));
    assert_true(id != 0);
    return id;
}

static void put1(rill_state *s, uint32_t ns, bytes k, bytes v) {
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_put(wb, ns, k.p, k.n, v.p, v.n));
    CHECK(s, rill__state_commit(s, wb));
    rill__state_batch_free(wb);
}

static void del1(rill_state *s, uint32_t ns, bytes k) {
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_delete(wb, ns, k.p, k.n));
    CHECK(s, rill__state_commit(s, wb));
    rill__state_batch_free(wb);
}

/* to.p == NULL: to the end of the namespace. */
static void delrange1(rill_state *s, uint32_t ns, bytes from, bytes to) {
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_delete_range(wb, ns, from.p, from.n, to.p, to.n));
    CHECK(s, rill__state_commit(s, wb));
    rill__state_batch_free(wb);
}

/* Assert that key k of ns holds exactly v. */
static void expect_val(rill_state *s, uint32_t ns, bytes k, bytes v) {
    void *got = NULL;
    size_t n = 0;
    CHECK(s, rill__state_get(s, ns, k.p, k.n, &got, &n));
    assert_non_null(got);
    assert_int_equal(n, v.n);
    if (n)
        assert_memory_equal(got, v.p, n);
    free(got);
}

static void expect_absent(rill_state *s, uint32_t ns, bytes k) {
    void *got = (void *)1;
    size_t n = 7;
    assert_int_equal(rill__state_get(s, ns, k.p, k.n, &got, &n), RILL_ENOT_FOUND);
    assert_null(got);
    assert_int_equal(n, 0);
}

/* A scan's output, copied. */
typedef struct kv {
    unsigned char *k, *v;
    size_t kn, vn;
} kv;
typedef struct kvlist {
    kv *a;
    size_t n, cap;
    size_t stop_after; /* 0: never stop */
} kvlist;

static int collect(void *user, const void *key, size_t klen, const void *val, size_t vlen) {
    kvlist *l = user;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->a = realloc(l->a, l->cap * sizeof *l->a);
        assert_non_null(l->a);
    }
    kv *e = &l->a[l->n++];
    e->k = malloc(klen + 1);
    e->v = malloc(vlen + 1);
    assert_true(e->k && e->v);
    memcpy(e->k, key, klen);
    memcpy(e->v, val, vlen);
    e->kn = klen;
    e->vn = vlen;
    if (l->stop_after && l->n == l->stop_after)
        return 7;
    return 0;
}

static void kvlist_free(kvlist *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->a[i].k);
        free(l->a[i].v);
    }
    free(l->a);
    memset(l, 0, sizeof *l);
}

/* Scan [from, to) (a NULL p means unbounded) and assert the keys are exactly
 * want[0..n), in that order. */
static void expect_scan(rill_state *s, uint32_t ns, bytes from, bytes to, const bytes *want,
                        size_t n) {
    kvlist l = { 0 };
    CHECK(s, rill__state_scan(s, ns, from.p, from.n, to.p, to.n, collect, &l));
    if (l.n != n)
        fail_msg("scan returned %zu keys, want %zu", l.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l.a[i].kn, want[i].n);
        if (want[i].n)
            assert_memory_equal(l.a[i].k, want[i].p, want[i].n);
    }
    kvlist_free(&l);
}

static const bytes NONE = { NULL, 0 };

/* ---- conformance: basic operations ---------------------------------------- */

static void test_get_put_delete(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "op");

    expect_absent(s, ns, B("k"));
    assert_string_equal(rill_state_errmsg(s), ""); /* not found is no failure */
    put1(s, ns, B("k"), B("v1"));
    expect_val(s, ns, B("k"), B("v1"));
    put1(s, ns, B("k"), B("value two"));
    expect_val(s, ns, B("k"), B("value two"));
    del1(s, ns, B("k"));
    expect_absent(s, ns, B("k"));
    del1(s, ns, B("never there")); /* deleting nothing is fine */

    /* the empty key and the empty value are ordinary */
    put1(s, ns, B(""), B("empty key"));
    put1(s, ns, B("e"), B(""));
    expect_val(s, ns, B(""), B("empty key"));
    expect_val(s, ns, B("e"), B(""));
    del1(s, ns, B(""));
    expect_absent(s, ns, B(""));
    expect_val(s, ns, B("e"), B(""));

    /* keys differing only after a NUL, and by a trailing NUL */
    put1(s, ns, B("a\0b"), B("1"));
    put1(s, ns, B("a\0c"), B("2"));
    put1(s, ns, B("a"), B("3"));
    put1(s, ns, B("a\0"), B("4"));
    expect_val(s, ns, B("a\0b"), B("1"));
    expect_val(s, ns, B("a\0c"), B("2"));
    expect_val(s, ns, B("a"), B("3"));
    expect_val(s, ns, B("a\0"), B("4"));
}

static void test_large_entries(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "large");
    size_t kn = 3000, vn = (size_t)1 << 20;
    char *k = malloc(kn), *v = malloc(vn);
    assert_true(k && v);
    for (size_t i = 0; i < kn; i++)
        k[i] = (char)(i * 7 + 1);
    for (size_t i = 0; i < vn; i++)
        v[i] = (char)(i * 13 + (i >> 8));
    put1(s, ns, (bytes){ k, kn }, (bytes){ v, vn });
    expect_val(s, ns, (bytes){ k, kn }, (bytes){ v, vn });
    /* the same key one byte shorter is another key */
    expect_absent(s, ns, (bytes){ k, kn - 1 });
    expect_scan(s, ns, (bytes){ k, kn - 1 }, NONE, &(bytes){ k, kn }, 1);
    delrange1(s, ns, (bytes){ k, 1 }, (bytes){ k, kn + 0 });
    expect_val(s, ns, (bytes){ k, kn }, (bytes){ v, vn }); /* end is exclusive */
    delrange1(s, ns, (bytes){ k, 1 }, NONE);
    expect_absent(s, ns, (bytes){ k, kn });
    free(k);
    free(v);
}

static void test_namespaces_isolated(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t a = ns_open(s, "alpha"), b = ns_open(s, "beta");
    assert_true(a != b);
    assert_int_equal(ns_open(s, "alpha"), a); /* same name, same id */
    assert_int_equal(ns_open(s, "beta"), b);

    put1(s, a, B("k"), B("in alpha"));
    put1(s, b, B("k"), B("in beta"));
    put1(s, a, B("only-a"), B("1"));
    put1(s, b, B("\xff\xff"), B("last of beta"));
    expect_val(s, a, B("k"), B("in alpha"));
    expect_val(s, b, B("k"), B("in beta"));
    expect_absent(s, b, B("only-a"));
    /* scans do not cross into the next namespace, even unbounded */
    const bytes wa[] = { B("k"), B("only-a") };
    expect_scan(s, a, NONE, NONE, wa, 2);
    const bytes wb[] = { B("k"), B("\xff\xff") };
    expect_scan(s, b, NONE, NONE, wb, 2);

    del1(s, a, B("k"));
    expect_absent(s, a, B("k"));
    expect_val(s, b, B("k"), B("in beta"));
    /* deleting all of alpha leaves beta alone */
    delrange1(s, a, B(""), NONE);
    expect_scan(s, a, NONE, NONE, NULL, 0);
    expect_scan(s, b, NONE, NONE, wb, 2);
    delrange1(s, b, B(""), NONE);
    expect_scan(s, b, NONE, NONE, NULL, 0);
}

static void test_bad_arguments(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "args"), id = 0;
    void *v = NULL;
    size_t n = 0;
    kvlist l = { 0 };

    assert_int_equal(rill__state_ns_open(s, "", &id), RILL_EINVAL);
    assert_true(strlen(rill_state_errmsg(s)) > 0);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(rill__state_ns_open(s, longname, &id), RILL_EINVAL);
    assert_int_equal(rill__state_ns_open(s, NULL, &id), RILL_EINVAL);
    assert_int_equal(rill__state_get(s, 0, "k", 1, &v, &n), RILL_EINVAL);
    assert_int_equal(rill__state_get(s, ns + 100, "k", 1, &v, &n), RILL_EINVAL);
    assert_non_null(strstr(rill_state_errmsg(s), "namespace"));
    assert_int_equal(rill__state_get(s, ns, NULL, 3, &v, &n), RILL_EINVAL);
    assert_int_equal(rill__state_scan(s, ns + 100, NULL, 0, NULL, 0, collect, &l), RILL_EINVAL);
    assert_int_equal(rill__state_scan(s, ns, NULL, 0, NULL, 0, NULL, &l), RILL_EINVAL);
    assert_int_equal(rill__state_commit(s, NULL), RILL_EINVAL);
    assert_int_equal(rill__state_get(NULL, ns, "k", 1, &v, &n), RILL_EINVAL);

    /* a batch naming an unknown namespace is refused whole */
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_put(wb, ns, "ok", 2, "1", 1));
    CHECK(s, rill__state_batch_put(wb, ns + 100, "bad", 3, "1", 1));
    assert_int_equal(rill__state_commit(s, wb), RILL_EINVAL);
    assert_non_null(strstr(rill_state_errmsg(s), "namespace"));
    expect_absent(s, ns, B("ok"));
    rill__state_batch_free(wb);

    /* the batch itself refuses NULL bytes with a length */
    wb = rill__state_batch_new();
    assert_non_null(wb);
    assert_int_equal(rill__state_batch_put(wb, ns, NULL, 2, "1", 1), RILL_EINVAL);
    assert_int_equal(rill__state_batch_delete_range(wb, ns, "a", 1, NULL, 2), RILL_EINVAL);
    assert_int_equal(rill__state_batch_count(wb), 0);
    rill__state_batch_free(wb);
    rill__state_batch_free(NULL);
}

/* ---- conformance: ordered scans ------------------------------------------- */

static void test_scan_order_and_bounds(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "scan");
    /* The bytewise order, written out by hand: a prefix sorts before its
     * extensions, and bytes are unsigned (0xff after 'b'). */
    const bytes sorted[] = {
        B(""), B("\x00"), B("\x00\x00"), B("\x00\x01"), B("\x01"), B("a"), B("a\x00"),
        B("ab"), B("abc"), B("abd"), B("b"), B("\x7f"), B("\x80"), B("\xff"), B("\xff\x00"),
        B("\xff\xff"),
    };
    const size_t n = sizeof sorted / sizeof sorted[0];
    /* insert in a scrambled order, one batch */
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n; /* 7 is prime to 16: a permutation */
        CHECK(s, rill__state_batch_put(wb, ns, sorted[j].p, sorted[j].n, "v", 1));
    }
    assert_int_equal(rill__state_batch_count(wb), n);
    CHECK(s, rill__state_commit(s, wb));
    rill__state_batch_free(wb);

    expect_scan(s, ns, NONE, NONE, sorted, n);
    expect_scan(s, ns, B(""), NONE, sorted, n);
    /* [a, b): a and its extensions */
    expect_scan(s, ns, B("a"), B("b"), &sorted[5], 5);
    /* [ab, abc): only ab; [ab, abd]: ab, abc */
    expect_scan(s, ns, B("ab"), B("abc"), &sorted[7], 1);
    expect_scan(s, ns, B("ab"), B("abd"), &sorted[7], 2);
    /* bounds that are not keys */
    expect_scan(s, ns, B("aa"), B("abz"), &sorted[7], 3);
    /* binary bounds */
    expect_scan(s, ns, B("\x00"), B("\x01"), &sorted[1], 3);
    expect_scan(s, ns, NONE, B("\x00"), &sorted[0], 1);
    expect_scan(s, ns, B("\xff"), NONE, &sorted[13], 3);
    expect_scan(s, ns, B("\xff\x00"), B("\xff\xff"), &sorted[14], 1);
    expect_scan(s, ns, B("\x7f"), B("\xff"), &sorted[11], 2);
    /* empty ranges: from == to, from > to, to = "" (nothing is below it),
     * past the last key */
    expect_scan(s, ns, B("ab"), B("ab"), NULL, 0);
    expect_scan(s, ns, B("b"), B("a"), NULL, 0);
    expect_scan(s, ns, NONE, B(""), NULL, 0);
    expect_scan(s, ns, B("\xff\xff\x00"), NONE, NULL, 0);
    /* an empty namespace */
    expect_scan(s, ns_open(s, "scan-empty"), NONE, NONE, NULL, 0);

    /* a visitor's non-zero return stops the scan and is passed through */
    kvlist l = { .stop_after = 3 };
    assert_int_equal(rill__state_scan(s, ns, NULL, 0, NULL, 0, collect, &l), 7);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.a[2].kn, sorted[2].n);
    assert_memory_equal(l.a[2].k, sorted[2].p, sorted[2].n);
    kvlist_free(&l);
}

static void test_delete_range(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "dr");
    const bytes all[] = {
        B(""), B("\x00"), B("\x00\x00"), B("a"), B("a\x00"), B("ab"), B("abc"), B("b"),
        B("ba"), B("\xff"), B("\xff\xff"),
    };
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++)
        put1(s, ns, all[i], B("x"));
    expect_scan(s, ns, NONE, NONE, all, n);

    /* empty and inverted ranges delete nothing */
    delrange1(s, ns, B("ab"), B("ab"));
    delrange1(s, ns, B("b"), B("a"));
    delrange1(s, ns, B("a"), B(""));
    expect_scan(s, ns, NONE, NONE, all, n);

    /* [a, ab): "a" and "a\0", not "ab" */
    delrange1(s, ns, B("a"), B("ab"));
    {
        const bytes w[] = { B(""), B("\x00"), B("\x00\x00"), B("ab"), B("abc"), B("b"),
                            B("ba"), B("\xff"), B("\xff\xff") };
        expect_scan(s, ns, NONE, NONE, w, 9);
    }
    /* ["", \x00\x00): "" and "\0" */
    delrange1(s, ns, B(""), B("\x00\x00"));
    {
        const bytes w[] = { B("\x00\x00"), B("ab"), B("abc"), B("b"), B("ba"), B("\xff"),
                            B("\xff\xff") };
        expect_scan(s, ns, NONE, NONE, w, 7);
    }
    /* [\xff, end) */
    delrange1(s, ns, B("\xff"), NONE);
    {
        const bytes w[] = { B("\x00\x00"), B("ab"), B("abc"), B("b"), B("ba") };
        expect_scan(s, ns, NONE, NONE, w, 5);
    }
    /* a range over keys that are not there, between keys */
    delrange1(s, ns, B("abd"), B("az"));
    expect_val(s, ns, B("abc"), B("x"));
    expect_val(s, ns, B("b"), B("x"));
    /* deleted keys can be written again */
    put1(s, ns, B("a"), B("again"));
    expect_val(s, ns, B("a"), B("again"));
    delrange1(s, ns, B(""), NONE);
    expect_scan(s, ns, NONE, NONE, NULL, 0);
}

/* ---- conformance: batches ------------------------------------------------- */

static void test_batch_in_order(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "order");
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);

    /* put then delete: gone; delete then put: there; put twice: the last */
    CHECK(s, rill__state_batch_put(wb, ns, "k1", 2, "v", 1));
    CHECK(s, rill__state_batch_delete(wb, ns, "k1", 2));
    CHECK(s, rill__state_batch_delete(wb, ns, "k2", 2));
    CHECK(s, rill__state_batch_put(wb, ns, "k2", 2, "v2", 2));
    CHECK(s, rill__state_batch_put(wb, ns, "k3", 2, "first", 5));
    CHECK(s, rill__state_batch_put(wb, ns, "k3", 2, "second", 6));
    /* a range delete sees the puts before it, not those after */
    CHECK(s, rill__state_batch_put(wb, ns, "r1", 2, "x", 1));
    CHECK(s, rill__state_batch_put(wb, ns, "r2", 2, "x", 1));
    CHECK(s, rill__state_batch_delete_range(wb, ns, "r", 1, "s", 1));
    CHECK(s, rill__state_batch_put(wb, ns, "r3", 2, "after", 5));
    assert_int_equal(rill__state_batch_count(wb), 10);
    CHECK(s, rill__state_commit(s, wb));

    expect_absent(s, ns, B("k1"));
    expect_val(s, ns, B("k2"), B("v2"));
    expect_val(s, ns, B("k3"), B("second"));
    expect_absent(s, ns, B("r1"));
    expect_absent(s, ns, B("r2"));
    expect_val(s, ns, B("r3"), B("after"));

    /* a cleared batch is empty and reusable; an empty commit changes nothing */
    rill__state_batch_clear(wb);
    assert_int_equal(rill__state_batch_count(wb), 0);
    CHECK(s, rill__state_commit(s, wb));
    expect_val(s, ns, B("k2"), B("v2"));
    CHECK(s, rill__state_batch_delete(wb, ns, "k2", 2));
    CHECK(s, rill__state_commit(s, wb));
    expect_absent(s, ns, B("k2"));
    rill__state_batch_free(wb);
}

static void test_batch_atomic_injected_failure(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t a = ns_open(s, "atom-a"), b = ns_open(s, "atom-b");
    put1(s, a, B("x"), B("1"));
    put1(s, b, B("y"), B("2"));
    put1(s, b, B("z"), B("3"));

    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_put(wb, a, "x", 1, "changed", 7));
    CHECK(s, rill__state_batch_put(wb, a, "new", 3, "n", 1));
    CHECK(s, rill__state_batch_delete(wb, b, "y", 1));
    CHECK(s, rill__state_batch_delete_range(wb, b, "", 0, NULL, 0));

    rill__state_fail_commit(s, 1);
    assert_int_equal(rill__state_commit(s, wb), RILL_ESTATE);
    assert_non_null(strstr(rill_state_errmsg(s), "injected failure"));
    /* nothing of the batch, all of the commits before it */
    expect_val(s, a, B("x"), B("1"));
    expect_absent(s, a, B("new"));
    expect_val(s, b, B("y"), B("2"));
    expect_val(s, b, B("z"), B("3"));

    /* the failure is one-shot: the same batch goes through now */
    CHECK(s, rill__state_commit(s, wb));
    expect_val(s, a, B("x"), B("changed"));
    expect_val(s, a, B("new"), B("n"));
    expect_scan(s, b, NONE, NONE, NULL, 0);

    /* n = 3: two commits pass, the third fails, the fourth passes */
    rill__state_fail_commit(s, 3);
    put1(s, a, B("c1"), B("1"));
    put1(s, a, B("c2"), B("2"));
    rill__state_batch_clear(wb);
    CHECK(s, rill__state_batch_put(wb, a, "c3", 2, "3", 1));
    assert_int_equal(rill__state_commit(s, wb), RILL_ESTATE);
    expect_absent(s, a, B("c3"));
    CHECK(s, rill__state_commit(s, wb));
    expect_val(s, a, B("c3"), B("3"));

    /* 0 turns a pending failure off */
    rill__state_fail_commit(s, 1);
    rill__state_fail_commit(s, 0);
    CHECK(s, rill__state_commit(s, wb));
    rill__state_batch_free(wb);
}

typedef struct commit_in_scan {
    rill_state *s;
    rill_state_batch *wb;
    int rc;
} commit_in_scan;

static int try_commit(void *user, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)key, (void)klen, (void)val, (void)vlen;
    commit_in_scan *c = user;
    c->rc = rill__state_commit(c->s, c->wb);
    return c->rc;
}

static void test_commit_inside_scan_refused(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "reentry");
    put1(s, ns, B("a"), B("1"));
    put1(s, ns, B("b"), B("2"));
    commit_in_scan c = { .s = s, .wb = rill__state_batch_new() };
    assert_non_null(c.wb);
    CHECK(s, rill__state_batch_delete_range(c.wb, ns, "", 0, NULL, 0));
    assert_int_equal(rill__state_scan(s, ns, NULL, 0, NULL, 0, try_commit, &c), RILL_EINVAL);
    assert_int_equal(c.rc, RILL_EINVAL);
    expect_val(s, ns, B("a"), B("1"));
    expect_val(s, ns, B("b"), B("2"));
    /* outside the scan the same commit is fine */
    CHECK(s, rill__state_commit(s, c.wb));
    expect_scan(s, ns, NONE, NONE, NULL, 0);
    rill__state_batch_free(c.wb);
}

/* ---- conformance: random operations against a brute-force model ----------- */

#define MODEL_MAX 1024
#define NNS 3

typedef struct mentry {
    uint32_t ns;
    unsigned char k[4], v[8];
    size_t kn, vn;
} mentry;

typedef struct model {
    mentry e[MODEL_MAX];
    size_t n;
} model;

/* Bytewise order, the plain way: first differing byte, else the shorter. */
static int lex_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
    for (size_t i = 0;; i++) {
        if (i == an || i == bn)
            return (an > i) - (bn > i);
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
}

static long model_find(const model *m, uint32_t ns, const unsigned char *k, size_t kn) {
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].ns == ns && m->e[i].kn == kn && (kn == 0 || !memcmp(m->e[i].k, k, kn)))
            return (long)i;
    return -1;
}

static void model_remove(model *m, size_t i) {
    m->e[i] = m->e[--m->n];
}

typedef struct rop {
    rill_state_op op;
    uint32_t ns;
    unsigned char k[4], v[8];
    size_t kn, vn;
    int unbounded;
} rop;

static void model_apply(model *m, const rop *o) {
    long i = model_find(m, o->ns, o->k, o->kn);
    switch (o->op) {
    case RILL_STATE_PUT:
        if (i < 0) {
            assert_true(m->n < MODEL_MAX);
            i = (long)m->n++;
        }
        m->e[i].ns = o->ns;
        memcpy(m->e[i].k, o->k, o->kn);
        m->e[i].kn = o->kn;
        memcpy(m->e[i].v, o->v, o->vn);
        m->e[i].vn = o->vn;
        break;
    case RILL_STATE_DELETE:
        if (i >= 0)
            model_remove(m, (size_t)i);
        break;
    case RILL_STATE_DELETE_RANGE:
        for (size_t j = 0; j < m->n;) {
            const mentry *e = &m->e[j];
            if (e->ns == o->ns && lex_cmp(e->k, e->kn, o->k, o->kn) >= 0 &&
                (o->unbounded || lex_cmp(e->k, e->kn, o->v, o->vn) < 0))
                model_remove(m, j);
            else
                j++;
        }
        break;
    }
}

/* The model's entries of ns in [from, to), sorted; *n receives the count. */
static mentry *model_scan(const model *m, uint32_t ns, const unsigned char *from, size_t fn,
                          const unsigned char *to, size_t tn, size_t *n) {
    mentry *out = malloc(sizeof(mentry) * (m->n + 1));
    assert_non_null(out);
    size_t c = 0;
    for (size_t i = 0; i < m->n; i++) {
        const mentry *e = &m->e[i];
        if (e->ns == ns && lex_cmp(e->k, e->kn, from, fn) >= 0 &&
            (!to || lex_cmp(e->k, e->kn, to, tn) < 0))
            out[c++] = *e;
    }
    for (size_t i = 1; i < c; i++) /* insertion sort */
        for (size_t j = i; j > 0 && lex_cmp(out[j - 1].k, out[j - 1].kn, out[j].k, out[j].kn) > 0;
             j--) {
            mentry t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    *n = c;
    return out;
}

static uint64_t rng_next(uint64_t *x) { /* splitmix64 */
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Keys of 0..3 bytes over a tiny alphabet: many prefixes of each other. */
static void random_key(uint64_t *r, unsigned char *k, size_t *kn) {
    static const unsigned char alpha[] = { 0x00, 0x01, 'a', 0x80, 0xff };
    *kn = rng_next(r) % 4;
    for (size_t i = 0; i < *kn; i++)
        k[i] = alpha[rng_next(r) % sizeof alpha];
}

static void check_against_model(rill_state *s, const model *m, const uint32_t *ns,
                                 uint64_t *r, uint64_t seed) {
    for (int q = 0; q < 6; q++) {
        uint32_t id = ns[rng_next(r) % NNS];
        unsigned char from[4], to[4];
        size_t fn = 0, tn = 0;
        int has_from = q > 0 && rng_next(r) % 4 != 0, has_to = q > 0 && rng_next(r) % 3 != 0;
        if (has_from)
            random_key(r, from, &fn);
        if (has_to)
            random_key(r, to, &tn);
        size_t wn;
        mentry *want = model_scan(m, id, from, fn, has_to ? to : NULL, tn, &wn);
        kvlist got = { 0 };
        CHECK(s, rill__state_scan(s, id, has_from ? from : NULL, fn, has_to ? to : NULL, tn,
                                  collect, &got));
        if (got.n != wn)
            fail_msg("seed %llu: scan of ns %u gave %zu entries, model %zu",
                     (unsigned long long)seed, (unsigned)id, got.n, wn);
        for (size_t i = 0; i < wn; i++) {
            if (got.a[i].kn != want[i].kn || got.a[i].vn != want[i].vn ||
                (want[i].kn && memcmp(got.a[i].k, want[i].k, want[i].kn)) ||
                (want[i].vn && memcmp(got.a[i].v, want[i].v, want[i].vn)))
                fail_msg("seed %llu: scan of ns %u differs from the model at entry %zu",
                         (unsigned long long)seed, (unsigned)id, i);
        }
        kvlist_free(&got);
        free(want);
    }
    for (int q = 0; q < 8; q++) {
        uint32_t id = ns[rng_next(r) % NNS];
        unsigned char k[4];
        size_t kn;
        random_key(r, k, &kn);
        long i = model_find(m, id, k, kn);
        void *v = NULL;
        size_t vn = 0;
        int rc = rill__state_get(s, id, k, kn, &v, &vn);
        if (i < 0) {
            if (rc != RILL_ENOT_FOUND)
                fail_msg("seed %llu: get found a key the model does not have",
                         (unsigned long long)seed);
        } else {
            if (rc != RILL_OK || vn != m->e[i].vn || (vn && memcmp(v, m->e[i].v, vn)))
                fail_msg("seed %llu: get differs from the model (rc %d)",
                         (unsigned long long)seed, rc);
            free(v);
        }
    }
}

static void test_random_against_model(void **state) {
    fixture *f = *state;
    const char *env = getenv("RILL_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    print_message("random state test (%s backend): seed %llu (replay: RILL_SEED=%llu)\n",
                  f->rocks ? "rocksdb" : "memory", (unsigned long long)seed,
                  (unsigned long long)seed);
    uint64_t r = seed;
    static const char *names[NNS] = { "r0", "r1", "r2" };
    uint32_t ns[NNS];
    for (int i = 0; i < NNS; i++)
        ns[i] = ns_open(f->s, names[i]);
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    rop ops[24];

    for (int round = 0; round < 400; round++) {
        rill__state_batch_clear(wb);
        size_t nops = 1 + rng_next(&r) % 24;
        for (size_t i = 0; i < nops; i++) {
            rop *o = &ops[i];
            memset(o, 0, sizeof *o);
            o->ns = ns[rng_next(&r) % NNS];
            unsigned p = (unsigned)(rng_next(&r) % 100);
            random_key(&r, o->k, &o->kn);
            if (p < 60) {
                o->op = RILL_STATE_PUT;
                o->vn = rng_next(&r) % 9;
                for (size_t j = 0; j < o->vn; j++)
                    o->v[j] = (unsigned char)rng_next(&r);
                CHECK(f->s, rill__state_batch_put(wb, o->ns, o->k, o->kn, o->v, o->vn));
            } else if (p < 88) {
                o->op = RILL_STATE_DELETE;
                CHECK(f->s, rill__state_batch_delete(wb, o->ns, o->k, o->kn));
            } else {
                o->op = RILL_STATE_DELETE_RANGE;
                o->unbounded = p >= 97;
                if (!o->unbounded)
                    random_key(&r, o->v, &o->vn); /* end key, maybe below the start */
                CHECK(f->s, rill__state_batch_delete_range(wb, o->ns, o->k, o->kn,
                                                           o->unbounded ? NULL : o->v, o->vn));
            }
        }
        if (round % 10 == 9) {
            /* a failed commit applies nothing */
            rill__state_fail_commit(f->s, 1);
            assert_int_equal(rill__state_commit(f->s, wb), RILL_ESTATE);
        } else {
            CHECK(f->s, rill__state_commit(f->s, wb));
            for (size_t i = 0; i < nops; i++)
                model_apply(m, &ops[i]);
        }
        check_against_model(f->s, m, ns, &r, seed);
        if (f->rocks && round % 100 == 50) {
            reopen(f);
            for (int i = 0; i < NNS; i++)
                assert_int_equal(ns_open(f->s, names[i]), ns[i]);
            check_against_model(f->s, m, ns, &r, seed);
        }
    }
    rill__state_batch_free(wb);
    free(m);
}

/* ---- RocksDB only ---------------------------------------------------------- */

static void test_reopen_persistence(void **state) {
    fixture *f = *state;
    uint32_t a = ns_open(f->s, "persist-a"), b = ns_open(f->s, "persist-b");
    put1(f->s, a, B("k\x00\xff"), B("va"));
    put1(f->s, b, B("k\x00\xff"), B("vb"));
    put1(f->s, a, B("gone"), B("x"));
    put1(f->s, a, B("r1"), B("x"));
    put1(f->s, a, B("r2"), B("x"));
    del1(f->s, a, B("gone"));
    delrange1(f->s, a, B("r"), B("s"));
    put1(f->s, b, B("empty"), B(""));

    reopen(f);
    uint32_t c = ns_open(f->s, "persist-c"); /* new after reopen: a fresh id */
    assert_true(c != a && c != b);
    assert_int_equal(ns_open(f->s, "persist-b"), b);
    assert_int_equal(ns_open(f->s, "persist-a"), a);
    expect_val(f->s, a, B("k\x00\xff"), B("va"));
    expect_val(f->s, b, B("k\x00\xff"), B("vb"));
    expect_val(f->s, b, B("empty"), B(""));
    expect_absent(f->s, a, B("gone"));
    const bytes wa[] = { B("k\x00\xff") };
    expect_scan(f->s, a, NONE, NONE, wa, 1);
    expect_scan(f->s, c, NONE, NONE, NULL, 0);
    put1(f->s, c, B("c"), B("3"));

    reopen(f);
    assert_int_equal(ns_open(f->s, "persist-a"), a);
    assert_int_equal(ns_open(f->s, "persist-b"), b);
    assert_int_equal(ns_open(f->s, "persist-c"), c);
    expect_val(f->s, c, B("c"), B("3"));
}

static void test_open_options(void **state) {
    fixture *f = *state;
    static const rill_compression cs[] = { RILL_COMPRESSION_NONE, RILL_COMPRESSION_LZ4,
                                           RILL_COMPRESSION_ZSTD, RILL_COMPRESSION_SNAPPY };
    rill_state_close(f->s);
    f->s = NULL;
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/opt%zu", f->dir, i);
        /* block sizes: the default and two others */
        rill_rocksdb_opts o = { .block_cache_bytes = 1 << 20, .write_buffer_bytes = 1 << 16,
                                .block_bytes = i == 1 ? 0 : (size_t)512 << i,
                                .compression = cs[i], .sync = true };
        CHECK(NULL, rill_state_open_rocksdb(path, &o, &f->s));
        uint32_t ns = ns_open(f->s, "o");
        /* enough to flush a few 64 KiB memtables through the compressor */
        rill_state_batch *wb = rill__state_batch_new();
        assert_non_null(wb);
        char k[16], v[64];
        memset(v, 'v', sizeof v);
        for (int j = 0; j < 4000; j++) {
            int kn = snprintf(k, sizeof k, "key%06d", j);
            CHECK(f->s, rill__state_batch_put(wb, ns, k, (size_t)kn, v, sizeof v));
        }
        CHECK(f->s, rill__state_commit(f->s, wb));
        rill__state_batch_free(wb);
        rill_state_close(f->s);
        f->s = NULL;
        o.must_exist = true;
        CHECK(NULL, rill_state_open_rocksdb(path, &o, &f->s));
        ns = ns_open(f->s, "o");
        expect_val(f->s, ns, B("key003999"), (bytes){ v, sizeof v });
        expect_val(f->s, ns, B("key000000"), (bytes){ v, sizeof v });
        rill_state_close(f->s);
        f->s = NULL;
    }
    rill_rocksdb_opts bad = { .compression = (rill_compression)99 };
    rill_state *s = (rill_state *)1;
    assert_int_equal(rill_state_open_rocksdb(f->db, &bad, &s), RILL_EINVAL);
    assert_null(s);
    rill_rocksdb_opts huge = { .block_bytes = ((size_t)1 << 30) + 1 };
    assert_int_equal(rill_state_open_rocksdb(f->db, &huge, &s), RILL_EINVAL);
    assert_null(s);
    assert_non_null(strstr(rill_state_errmsg(NULL), "block_bytes"));
}

static void test_open_regular_file(void **state) {
    fixture *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/plain-file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not a database\n", fp);
    fclose(fp);
    rill_state *s = (rill_state *)1;
    assert_int_equal(rill_state_open_rocksdb(path, NULL, &s), RILL_EIO);
    assert_null(s);
    const char *msg = rill_state_errmsg(NULL);
    print_message("regular file: %s\n", msg);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "not a directory"));

    /* a path below a regular file: RocksDB's own refusal */
    char below[450];
    snprintf(below, sizeof below, "%s/db", path);
    assert_int_equal(rill_state_open_rocksdb(below, NULL, &s), RILL_EIO);
    assert_null(s);
    print_message("below a file: %s\n", rill_state_errmsg(NULL));
    assert_non_null(strstr(rill_state_errmsg(NULL), below));
}

static void test_open_unwritable(void **state) {
    fixture *f = *state;
    char ro[400], path[450];
    snprintf(ro, sizeof ro, "%s/readonly", f->dir);
    assert_int_equal(mkdir(ro, 0700), 0);
    snprintf(path, sizeof path, "%s/db", ro);
    if (geteuid() != 0) {
        assert_int_equal(chmod(ro, 0500), 0);
    } else {
        /* root writes through permissions: use a read-only mount instead */
        if (mount("tmpfs", ro, "tmpfs", MS_RDONLY, "size=64k") != 0) {
            print_message("skipped: running as root and cannot mount a read-only tmpfs (%s)\n",
                          strerror(errno));
            skip();
        }
        snprintf(f->mnt, sizeof f->mnt, "%s", ro);
    }
    rill_state *s = (rill_state *)1;
    int rc = rill_state_open_rocksdb(path, NULL, &s);
    print_message("unwritable: %s: %s\n", rill_errname(rc), rill_state_errmsg(NULL));
    assert_int_equal(rc, RILL_EIO);
    assert_null(s);
    assert_non_null(strstr(rill_state_errmsg(NULL), path));
    chmod(ro, 0700);
}

static void test_open_must_exist(void **state) {
    fixture *f = *state;
    rill_rocksdb_opts o = { .must_exist = true };
    char path[400];
    snprintf(path, sizeof path, "%s/missing", f->dir);
    rill_state *s = (rill_state *)1;
    assert_int_equal(rill_state_open_rocksdb(path, &o, &s), RILL_ESTATE);
    assert_null(s);
    assert_non_null(strstr(rill_state_errmsg(NULL), "does not exist"));
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* not created */
    /* an empty directory holds no store either */
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(rill_state_open_rocksdb(path, &o, &s), RILL_ESTATE);
    print_message("must_exist, empty dir: %s\n", rill_state_errmsg(NULL));
    /* the existing store opens with must_exist */
    rill_state_close(f->s);
    f->s = NULL;
    CHECK(NULL, rill_state_open_rocksdb(f->db, &o, &f->s));
}

static void test_open_locked(void **state) {
    fixture *f = *state;
    uint32_t ns = ns_open(f->s, "lock");
    put1(f->s, ns, B("k"), B("v"));
    rill_state *s2 = (rill_state *)1;
    assert_int_equal(rill_state_open_rocksdb(f->db, NULL, &s2), RILL_EIO);
    assert_null(s2);
    print_message("locked: %s\n", rill_state_errmsg(NULL));
    assert_non_null(strstr(rill_state_errmsg(NULL), "lock"));
    /* the first store is unharmed */
    expect_val(f->s, ns, B("k"), B("v"));
    put1(f->s, ns, B("k2"), B("v2"));
}

static void test_open_corrupt(void **state) {
    fixture *f = *state;
    uint32_t ns = ns_open(f->s, "c");
    put1(f->s, ns, B("k"), B("v"));
    rill_state_close(f->s);
    f->s = NULL;
    char path[400];
    snprintf(path, sizeof path, "%s/CURRENT", f->db);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("garbage", fp); /* no newline, names no manifest */
    fclose(fp);
    rill_state *s = (rill_state *)1;
    int rc = rill_state_open_rocksdb(f->db, NULL, &s);
    print_message("corrupt: %s: %s\n", rill_errname(rc), rill_state_errmsg(NULL));
    assert_int_equal(rc, RILL_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(rill_state_errmsg(NULL), "Corruption"));
}

/* Fill a 1 MiB tmpfs with commits: the commit that does not fit fails with
 * RILL_EIO and applies nothing, reads still see every earlier commit, and a
 * copy of the directory opens with exactly those commits. */
static void test_full_disk(void **state) {
    fixture *f = *state;
    if (geteuid() != 0) {
        print_message("skipped: a full-disk test needs root to mount a small tmpfs\n");
        skip();
    }
    char mnt[400], path[450];
    snprintf(mnt, sizeof mnt, "%s/small", f->dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        print_message("skipped: cannot mount a 1 MiB tmpfs (%s)\n", strerror(errno));
        skip();
    }
    snprintf(f->mnt, sizeof f->mnt, "%s", mnt);
    snprintf(path, sizeof path, "%s/db", mnt);
    rill_state_close(f->s);
    f->s = NULL;
    CHECK(NULL, rill_state_open_rocksdb(path, NULL, &f->s));
    uint32_t ns = ns_open(f->s, "full");

    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    char v[1000];
    int good = 0, rc = 0;
    for (int round = 0; round < 200; round++) { /* 200 x 50 KB: far past 1 MiB */
        rill__state_batch_clear(wb);
        for (int j = 0; j < 50; j++) {
            char k[16];
            memset(v, 'a' + (round + j) % 26, sizeof v);
            int kn = snprintf(k, sizeof k, "%04d-%02d", round, j);
            CHECK(f->s, rill__state_batch_put(wb, ns, k, (size_t)kn, v, sizeof v));
        }
        rc = rill__state_commit(f->s, wb);
        if (rc)
            break;
        good++;
    }
    rill__state_batch_free(wb);
    print_message("full disk after %d commits: %s: %s\n", good, rill_errname(rc),
                  rill_state_errmsg(f->s));
    assert_int_equal(rc, RILL_EIO);
    assert_true(good > 0);
    assert_non_null(strstr(rill_state_errmsg(f->s), "commit"));

    /* every good commit is readable, nothing of the failed one is */
    for (int round = 0; round <= good; round++)
        for (int j = 0; j < 50; j++) {
            char k[16];
            int kn = snprintf(k, sizeof k, "%04d-%02d", round, j);
            if (round < good) {
                memset(v, 'a' + (round + j) % 26, sizeof v);
                expect_val(f->s, ns, (bytes){ k, (size_t)kn }, (bytes){ v, sizeof v });
            } else {
                expect_absent(f->s, ns, (bytes){ k, (size_t)kn });
            }
        }
    size_t want = (size_t)good * 50;
    kvlist l = { 0 };
    CHECK(f->s, rill__state_scan(f->s, ns, NULL, 0, NULL, 0, collect, &l));
    assert_int_equal(l.n, want);
    kvlist_free(&l);
    rill_state_close(f->s);
    f->s = NULL;

    /* What is on the full disk is a store a restart can use: a copy of it
     * (the tmpfs has no room to recover in place) opens with exactly the
     * good commits; the torn tail of the failed one is dropped. */
    char copy[450];
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    tu_copy_dir(path, copy);
    CHECK(NULL, rill_state_open_rocksdb(copy, NULL, &f->s));
    assert_int_equal(ns_open(f->s, "full"), ns);
    l = (kvlist){ 0 };
    CHECK(f->s, rill__state_scan(f->s, ns, NULL, 0, NULL, 0, collect, &l));
    assert_int_equal(l.n, want);
    for (size_t i = 0; i < l.n; i++) {
        char k[16];
        int round = (int)(i / 50), j = (int)(i % 50);
        int kn = snprintf(k, sizeof k, "%04d-%02d", round, j);
        assert_int_equal(l.a[i].kn, (size_t)kn);
        assert_memory_equal(l.a[i].k, k, (size_t)kn);
        memset(v, 'a' + (round + j) % 26, sizeof v);
        assert_int_equal(l.a[i].vn, sizeof v);
        assert_memory_equal(l.a[i].v, v, sizeof v);
    }
    kvlist_free(&l);
}

/* ---- the write batch itself ---------------------------------------------- */

typedef struct seen {
    int n, stop_at;
    rill_state_op op[8];
    uint32_t ns[8];
    char key[8][8], val[8][8];
    size_t kn[8], vn[8];
    int val_null[8];
} seen;

static int record(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                  const void *val, size_t vlen) {
    seen *w = user;
    assert_true(w->n < 8 && klen < 8 && vlen < 8);
    assert_non_null(key); /* even for the empty key */
    int i = w->n++;
    w->op[i] = op;
    w->ns[i] = ns;
    memcpy(w->key[i], key, klen);
    w->kn[i] = klen;
    w->val_null[i] = val == NULL;
    if (val)
        memcpy(w->val[i], val, vlen);
    w->vn[i] = vlen;
    return w->n == w->stop_at ? 42 : 0;
}

/* Records i = 0, 1, ... must be puts of key and value "%05d" % i. */
static int check_numbered(void *user, rill_state_op op, uint32_t ns, const void *key,
                          size_t klen, const void *val, size_t vlen) {
    (void)ns;
    int *next = user;
    char k[8];
    snprintf(k, sizeof k, "%05d", (*next)++);
    assert_int_equal(op, RILL_STATE_PUT);
    assert_int_equal(klen, 5);
    assert_int_equal(vlen, 5);
    assert_memory_equal(key, k, 5);
    assert_memory_equal(val, k, 5);
    return 0;
}

static void test_write_batch_log(void **state) {
    (void)state;
    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    assert_int_equal(rill__state_batch_count(wb), 0);
    assert_int_equal(rill__state_batch_put(wb, 7, "k\0", 2, "val", 3), 0);
    assert_int_equal(rill__state_batch_delete(wb, 8, "", 0), 0);
    assert_int_equal(rill__state_batch_delete_range(wb, 9, "a", 1, "b", 1), 0);
    assert_int_equal(rill__state_batch_delete_range(wb, 9, "c", 1, "", 0), 0);
    assert_int_equal(rill__state_batch_delete_range(wb, 10, "d", 1, NULL, 0), 0);
    assert_int_equal(rill__state_batch_put(wb, 7, NULL, 0, NULL, 0), 0);
    assert_int_equal(rill__state_batch_count(wb), 6);

    seen w = { 0 };
    assert_int_equal(rill__state_batch_each(wb, record, &w), 0);
    assert_int_equal(w.n, 6);
    const rill_state_op ops[] = { RILL_STATE_PUT, RILL_STATE_DELETE, RILL_STATE_DELETE_RANGE,
                                  RILL_STATE_DELETE_RANGE, RILL_STATE_DELETE_RANGE,
                                  RILL_STATE_PUT };
    const uint32_t nss[] = { 7, 8, 9, 9, 10, 7 };
    for (int i = 0; i < 6; i++) {
        assert_int_equal(w.op[i], ops[i]);
        assert_int_equal(w.ns[i], nss[i]);
    }
    assert_int_equal(w.kn[0], 2);
    assert_memory_equal(w.key[0], "k\0", 2);
    assert_int_equal(w.vn[0], 3);
    assert_memory_equal(w.val[0], "val", 3);
    assert_int_equal(w.kn[1], 0);
    assert_int_equal(w.vn[2], 1);
    assert_memory_equal(w.val[2], "b", 1);
    /* an empty end key is a bound (val not NULL); no end key is the end */
    assert_false(w.val_null[3]);
    assert_int_equal(w.vn[3], 0);
    assert_true(w.val_null[4]);

    /* a non-zero return stops the walk and is handed back */
    seen w2 = { .stop_at = 2 };
    assert_int_equal(rill__state_batch_each(wb, record, &w2), 42);
    assert_int_equal(w2.n, 2);

    /* clear empties it; it fills again from the front */
    rill__state_batch_clear(wb);
    assert_int_equal(rill__state_batch_count(wb), 0);
    seen w3 = { 0 };
    assert_int_equal(rill__state_batch_each(wb, record, &w3), 0);
    assert_int_equal(w3.n, 0);
    /* many records: the buffer grows and keeps every byte */
    for (int i = 0; i < 5000; i++) {
        char k[8];
        snprintf(k, sizeof k, "%05d", i);
        assert_int_equal(rill__state_batch_put(wb, 1, k, 5, k, 5), 0);
    }
    assert_int_equal(rill__state_batch_count(wb), 5000);
    int next = 0;
    assert_int_equal(rill__state_batch_each(wb, check_numbered, &next), 0);
    assert_int_equal(next, 5000);
    rill__state_batch_free(wb);
}

/* The sorted visit against the added order, on random batches: applying
 * the ops either way leaves the same store (a model over a small key space,
 * keys of 0 to 9 bytes so prefixes and 8-byte heads tie), and point ops
 * between range deletes come in (ns, key) order. */
#define SK_KEYS 64
typedef struct sort_model {
    char key[SK_KEYS][10];
    size_t klen[SK_KEYS];
    int val[2][SK_KEYS][2]; /* per ns (1, 2): [present, value] */
    /* sortedness of the current run */
    uint32_t prev_ns;
    char prev[10];
    size_t prev_len;
    int in_run;
} sort_model;

static int cmp_key(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int sorted_model_apply(sort_model *m, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                       const void *val, size_t vlen) {
    for (int k = 0; k < SK_KEYS; k++) {
        bool hit;
        if (op == RILL_STATE_DELETE_RANGE)
            hit = cmp_key(m->key[k], m->klen[k], key, klen) >= 0 &&
                  (!val || cmp_key(m->key[k], m->klen[k], val, vlen) < 0);
        else
            hit = !cmp_key(m->key[k], m->klen[k], key, klen);
        if (!hit)
            continue;
        int *slot = m->val[ns - 1][k];
        slot[0] = op == RILL_STATE_PUT;
        if (op == RILL_STATE_PUT)
            memcpy(&slot[1], val, sizeof slot[1]);
    }
    return 0;
}

static int visit_in_order(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                          const void *val, size_t vlen) {
    return sorted_model_apply(user, op, ns, key, klen, val, vlen);
}

static int visit_sorted(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                        const void *val, size_t vlen) {
    sort_model *m = user;
    if (op == RILL_STATE_DELETE_RANGE) {
        m->in_run = 0;
    } else {
        if (m->in_run && (ns < m->prev_ns ||
                          (ns == m->prev_ns && cmp_key(key, klen, m->prev, m->prev_len) < 0)))
            fail_msg("sorted visit out of order");
        m->in_run = 1;
        m->prev_ns = ns;
        memcpy(m->prev, key, klen);
        m->prev_len = klen;
    }
    return sorted_model_apply(m, op, ns, key, klen, val, vlen);
}

static void test_write_batch_sorted(void **state) {
    (void)state;
    uint64_t seed = 0x5ee7;
    for (int round = 0; round < 200; round++) {
        sort_model a = { 0 }, b;
        for (int k = 0; k < SK_KEYS; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            a.klen[k] = (size_t)(seed >> 33) % 10;
            for (size_t i = 0; i < a.klen[k]; i++)
                a.key[k][i] = "ab\xff"[(seed >> (40 + i)) % 3]; /* few letters: many ties */
        }
        b = a;
        rill_state_batch *wb = rill__state_batch_new();
        assert_non_null(wb);
        int n = 1 + round % 120;
        for (int i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t ns = 1 + (uint32_t)(seed >> 60) % 2;
            int k = (int)((seed >> 20) % SK_KEYS), k2 = (int)((seed >> 40) % SK_KEYS), v = i;
            int what = (int)((seed >> 10) % 10);
            if (what < 6)
                assert_int_equal(rill__state_batch_put(wb, ns, a.key[k], a.klen[k], &v, sizeof v), 0);
            else if (what < 9)
                assert_int_equal(rill__state_batch_delete(wb, ns, a.key[k], a.klen[k]), 0);
            else
                assert_int_equal(rill__state_batch_delete_range(wb, ns, a.key[k], a.klen[k],
                                                                a.key[k2], a.klen[k2]), 0);
        }
        assert_int_equal(rill__state_batch_each(wb, visit_in_order, &a), 0);
        assert_int_equal(rill__state_batch_each_sorted(wb, visit_sorted, &b), 0);
        assert_memory_equal(a.val, b.val, sizeof a.val);
        rill__state_batch_free(wb);
    }
}

/* ---- memory only ----------------------------------------------------------- */

/* Assert that ns holds exactly keys[i] = vals[i], in this order. */
static void expect_entries(rill_state *s, uint32_t ns, const bytes *keys, const bytes *vals,
                           size_t n) {
    kvlist l = { 0 };
    CHECK(s, rill__state_scan(s, ns, NULL, 0, NULL, 0, collect, &l));
    assert_int_equal(l.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(l.a[i].kn, keys[i].n);
        assert_memory_equal(l.a[i].k, keys[i].p, keys[i].n);
        assert_int_equal(l.a[i].vn, vals[i].n);
        assert_memory_equal(l.a[i].v, vals[i].p, vals[i].n);
    }
    kvlist_free(&l);
}

/* Fail the 1st, 2nd, ... allocation of a commit (and of get, ns_open): each
 * failure reports RILL_ENOMEM and leaves the store exactly as it was. */
static void test_memory_allocation_failures(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "oom");
    const bytes k0[] = { B("k1"), B("k2"), B("k3"), B("k4"), B("k5") };
    const bytes v0[] = { B("b1"), B("b2"), B("b3"), B("b4"), B("b5") };
    for (size_t i = 0; i < 5; i++)
        put1(s, ns, k0[i], v0[i]);

    rill_state_batch *wb = rill__state_batch_new();
    assert_non_null(wb);
    CHECK(s, rill__state_batch_put(wb, ns, "k0", 2, "n0", 2));
    CHECK(s, rill__state_batch_put(wb, ns, "k3", 2, "n3", 2));
    CHECK(s, rill__state_batch_put(wb, ns, "k9", 2, "n9", 2));
    CHECK(s, rill__state_batch_delete(wb, ns, "k1", 2));
    CHECK(s, rill__state_batch_delete_range(wb, ns, "k4", 2, "k5", 2));
    CHECK(s, rill__state_batch_put(wb, ns, "k6", 2, "n6", 2));
    const bytes k1[] = { B("k0"), B("k2"), B("k3"), B("k5"), B("k6"), B("k9") };
    const bytes v1[] = { B("n0"), B("b2"), B("n3"), B("b5"), B("n6"), B("n9") };

    int failures = 0, rc = RILL_ENOMEM;
    for (long n = 1; n < 50 && rc == RILL_ENOMEM; n++) {
        rill__state_memory_fail_alloc(s, n);
        rc = rill__state_commit(s, wb);
        if (rc == RILL_ENOMEM) {
            failures++;
            assert_non_null(strstr(rill_state_errmsg(s), "nothing applied"));
            expect_entries(s, ns, k0, v0, 5);
        }
    }
    rill__state_memory_fail_alloc(s, 0);
    CHECK(s, rc);
    assert_int_equal(failures, 4); /* one per put */
    expect_entries(s, ns, k1, v1, 6);
    rill__state_batch_free(wb);

    void *v = (void *)1;
    size_t vn = 9;
    rill__state_memory_fail_alloc(s, 1);
    assert_int_equal(rill__state_get(s, ns, "k0", 2, &v, &vn), RILL_ENOMEM);
    assert_null(v);
    expect_val(s, ns, B("k0"), B("n0"));

    /* ns_open: a failed attempt uses up no id and leaves no half namespace */
    uint32_t id = 0;
    failures = 0;
    rc = RILL_ENOMEM;
    for (long n = 1; n < 50 && rc == RILL_ENOMEM; n++) {
        rill__state_memory_fail_alloc(s, n);
        rc = rill__state_ns_open(s, "oom-new", &id);
        failures += rc == RILL_ENOMEM;
    }
    rill__state_memory_fail_alloc(s, 0);
    CHECK(s, rc);
    assert_true(failures >= 3); /* the struct, the name, the head */
    assert_int_equal(id, ns + 1);
    assert_int_equal(ns_open(s, "oom"), ns);
    expect_scan(s, id, NONE, NONE, NULL, 0);
    expect_entries(s, ns, k1, v1, 6);
}

/* Background commits: the batch is applied by the wait at the latest, one
 * at a time, an injected failure comes back from the wait with nothing
 * applied, and reads work while a write is in flight. */
static void test_background_commit(void **state) {
    fixture *f = *state;
    rill_state *s = f->s;
    uint32_t ns = ns_open(s, "bg");
    rill_state_batch *wb = rill__state_batch_new(), *wb2 = rill__state_batch_new();
    assert_true(wb && wb2);
    for (int i = 0; i < 20000; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%07d", (i * 7919) % 20000);
        CHECK(s, rill__state_batch_put(wb, ns, k, (size_t)n, k, (size_t)n));
    }
    put1(s, ns, B("before"), B("1"));
    assert_int_equal(rill__state_commit_wait(s), RILL_OK); /* nothing in flight */
    CHECK(s, rill__state_commit_start(s, wb));
    /* one at a time: neither another start nor a plain commit meanwhile */
    assert_int_equal(rill__state_commit_start(s, wb2), RILL_EINVAL);
    assert_int_equal(rill__state_commit(s, wb2), RILL_EINVAL);
    assert_non_null(strstr(rill_state_errmsg(s), "in flight"));
    expect_val(s, ns, B("before"), B("1")); /* reads go on */
    CHECK(s, rill__state_commit_wait(s));
    assert_true(rill__state_commit_finished(s));
    assert_false(rill__state_commit_in_background(s));
    expect_val(s, ns, B("k0000000"), B("k0000000"));
    expect_val(s, ns, B("k0019999"), B("k0019999"));

    /* an injected failure: start succeeds, wait reports, nothing applied */
    CHECK(s, rill__state_batch_put(wb2, ns, "before", 6, "2", 1));
    rill__state_fail_commit(s, 1);
    CHECK(s, rill__state_commit_start(s, wb2));
    assert_int_equal(rill__state_commit_wait(s), RILL_ESTATE);
    assert_non_null(strstr(rill_state_errmsg(s), "injected failure"));
    expect_val(s, ns, B("before"), B("1"));
    /* the next goes through; closing with it in flight finishes it first */
    CHECK(s, rill__state_commit_start(s, wb2));
    if (f->rocks) {
        reopen(f);
        s = f->s;
        ns = ns_open(s, "bg");
    } else {
        CHECK(s, rill__state_commit_wait(s));
    }
    expect_val(s, ns, B("before"), B("2"));
    expect_val(s, ns, B("k0012345"), B("k0012345"));
    rill__state_batch_free(wb);
    rill__state_batch_free(wb2);
}

/* ---- the tables ----------------------------------------------------------- */

#define CONFORMANCE(X)                                                                    \
    X(test_get_put_delete)                                                                \
    X(test_large_entries)                                                                 \
    X(test_namespaces_isolated)                                                           \
    X(test_bad_arguments)                                                                 \
    X(test_scan_order_and_bounds)                                                         \
    X(test_delete_range)                                                                  \
    X(test_batch_in_order)                                                                \
    X(test_batch_atomic_injected_failure)                                                 \
    X(test_commit_inside_scan_refused)                                                    \
    X(test_background_commit)                                                             \
    X(test_random_against_model)

#define ROCKSDB_ONLY(X)                                                                   \
    X(test_reopen_persistence)                                                            \
    X(test_open_options)                                                                  \
    X(test_open_regular_file)                                                             \
    X(test_open_unwritable)                                                               \
    X(test_open_must_exist)                                                               \
    X(test_open_locked)                                                                   \
    X(test_open_corrupt)                                                                  \
    X(test_full_disk)

#define MEMORY_ONLY(X) X(test_memory_allocation_failures)

#define ON_MEMORY(fn) cmocka_unit_test_setup_teardown(fn, setup_memory, teardown),
#define ON_ROCKSDB(fn) cmocka_unit_test_setup_teardown(fn, setup_rocksdb, teardown),

int main(void) {
    const struct CMUnitTest memory[] = { CONFORMANCE(ON_MEMORY) MEMORY_ONLY(ON_MEMORY) };
    const struct CMUnitTest rocksdb[] = { CONFORMANCE(ON_ROCKSDB) ROCKSDB_ONLY(ON_ROCKSDB) };
    const struct CMUnitTest batch[] = { cmocka_unit_test(test_write_batch_log),
                                        cmocka_unit_test(test_write_batch_sorted) };
    int failed = cmocka_run_group_tests_name("write batch", batch, NULL, NULL);
    failed += cmocka_run_group_tests_name("state conformance: memory", memory, NULL, NULL);
    failed += cmocka_run_group_tests_name("state conformance: rocksdb", rocksdb, NULL, NULL);
    return failed ? 1 : 0;
}
