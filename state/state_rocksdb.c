/* state/state_rocksdb.c — the RocksDB state backend (the only file that
 * includes RocksDB's header).
 *
 * Layout: one RocksDB database, default column family, every key prefixed by
 * its namespace id as 4 big-endian bytes. Under the bytewise comparator that
 * keeps each namespace contiguous and its keys in the order the memory
 * backend uses, so:
 *   - a scan of [from, to) in namespace n is an iterator seeked to n|from
 *     with upper bound n|to (or (n+1) when unbounded);
 *   - a delete-range is one range tombstone from n|from to n|to (or n+1);
 *   - a commit is one rocksdb_writebatch over any number of namespaces,
 *     written with one rocksdb_write: atomic by RocksDB's own guarantee,
 *     fsynced when the options ask for it.
 * A column family per namespace was the alternative; it buys per-namespace
 * tuning we do not need, at the price of a handle per namespace, a batch
 * that names them, and a slower open with many operators.
 *
 * Namespace 0 is reserved for the store's metadata:
 *   0|'F'        "1", the layout version; a database without it but with
 *                other keys is somebody else's and is refused (RILL_ECORRUPT);
 *   0|'N'<name>  the id of namespace <name>, 4 bytes big-endian.
 * Ids are handed out in order from 1 and written (rocksdb_put) when a
 * namespace is first opened, so they are the same after a reopen.
 *
 * Errors carry RocksDB's text. Its status kinds map to ours: "IO error"
 * (unwritable, locked, disk full) -> RILL_EIO, "Corruption" ->
 * RILL_ECORRUPT, anything else -> RILL_ESTATE. After a failed write (a full
 * disk, say) RocksDB stops accepting writes until the store is reopened, and
 * so do we; reads keep working and see the last good commit. A reopen after
 * such a failure finds every good commit; the failed one is normally gone
 * (its torn log record is dropped), but if the log record was written whole
 * before the failure (an fsync error), it comes back: a failed commit is
 * "not applied now", not "never applied". The engine's sequence numbers make
 * replaying it harmless.
 *
 * Closing flushes the memtable to a table file (unless a write failed), so
 * a clean restart reads tables instead of replaying the log; after a crash
 * the log is replayed (at most the write buffers' worth of it).
 *
 * A read-only open (rill-state, debugging a running engine) takes no lock,
 * sees the store as of the open and refuses commits and new namespaces.
 *
 * Not here: column families, snapshots across calls, checkpoints (a later
 * piece), merge operators.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rocksdb/c.h>

#include "state/state.h"

#define PREFIX 4
#define META_FORMAT "F"
#define META_NS 'N'
#define FORMAT_VERSION "1"
#define BLOCK_BYTES_MAX ((size_t)1 << 30)

typedef struct rdb_ns {
    char *name;
    uint32_t id;
} rdb_ns;

typedef struct rdb_state {
    rill_state base;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *topts;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    rocksdb_writebatch_t *wb; /* reused by every commit */
    rdb_ns *ns;
    size_t nns, cap;
    uint32_t next_id;
    int scanning;
    bool read_only;
    bool write_failed; /* RocksDB refused a write: no flush at close */
} rdb_state;

/* ---- keys ---- */

/* A prefixed key, on the stack when small. Never copy one (p may point at
 * small). */
typedef struct keybuf {
    unsigned char *p;
    size_t len;
    unsigned char small[128];
} keybuf;

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ns | key into kb; RILL_ENOMEM if too large for memory. */
static int kb_make(keybuf *kb, uint32_t ns, const void *key, size_t klen) {
    kb->p = kb->small;
    if (klen > sizeof kb->small - PREFIX) {
        if (klen > SIZE_MAX - PREFIX || !(kb->p = malloc(PREFIX + klen))) {
            kb->p = kb->small;
            kb->len = 0;
            return RILL_ENOMEM;
        }
    }
    put_be32(kb->p, ns);
    if (klen)
        memcpy(kb->p + PREFIX, key, klen);
    kb->len = PREFIX + klen;
    return RILL_OK;
}

static void kb_free(keybuf *kb) {
    if (kb->p != kb->small)
        free(kb->p);
    kb->p = kb->small;
}

static int cmp_bytes(const void *a, size_t alen, const void *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

/* ---- errors ---- */

static int status_of(const char *err) {
    if (!strncmp(err, "IO error", 8))
        return RILL_EIO;
    if (!strncmp(err, "Corruption", 10))
        return RILL_ECORRUPT;
    return RILL_ESTATE;
}

/* Report RocksDB's error err (and free it) on s. */
static int rdb_error(rill_state *s, char *err, const char *what) {
    int rc = rill__state_error(s, status_of(err), "rocksdb state: %s: %s", what, err);
    rocksdb_free(err);
    return rc;
}

static rdb_ns *ns_find(rdb_state *r, const char *name) {
    for (size_t i = 0; i < r->nns; i++)
        if (!strcmp(r->ns[i].name, name))
            return &r->ns[i];
    return NULL;
}

static int ns_known(const rdb_state *r, uint32_t id) {
    return id >= 1 && id < r->next_id;
}

/* Remember namespace name = id (the array grows first; name is copied). */
static int ns_add(rdb_state *r, const char *name, size_t nlen, uint32_t id) {
    if (r->nns == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        rdb_ns *p = realloc(r->ns, cap * sizeof *p);
        if (!p)
            return RILL_ENOMEM;
        r->ns = p;
        r->cap = cap;
    }
    char *copy = malloc(nlen + 1);
    if (!copy)
        return RILL_ENOMEM;
    memcpy(copy, name, nlen);
    copy[nlen] = '\0';
    r->ns[r->nns].name = copy;
    r->ns[r->nns].id = id;
    r->nns++;
    if (id >= r->next_id)
        r->next_id = id + 1;
    return RILL_OK;
}

/* ---- methods ---- */

static int rdb_ns_open(rill_state *s, const char *name, uint32_t *id) {
    rdb_state *r = (rdb_state *)s;
    rdb_ns *f = ns_find(r, name);
    if (f) {
        *id = f->id;
        return RILL_OK;
    }
    if (r->read_only)
        return rill__state_error(s, RILL_ESTATE,
                                 "rocksdb state: no namespace '%s' (the store is open read-only)",
                                 name);
    if (r->next_id == UINT32_MAX)
        return rill__state_error(s, RILL_EFULL, "rocksdb state: too many namespaces");
    size_t nlen = strlen(name);
    uint32_t nid = r->next_id;
    /* Make room first, so that once the id is on disk nothing can fail. */
    int rc = ns_add(r, name, nlen, nid);
    if (rc)
        return rill__state_error(s, rc, "rocksdb state: out of memory opening namespace '%s'",
                                 name);
    unsigned char *key = malloc(PREFIX + 1 + nlen);
    if (!key) {
        rc = rill__state_error(s, RILL_ENOMEM,
                               "rocksdb state: out of memory opening namespace '%s'", name);
        goto fail_forget;
    }
    put_be32(key, 0);
    key[PREFIX] = META_NS;
    memcpy(key + PREFIX + 1, name, nlen);
    unsigned char val[4];
    put_be32(val, nid);
    char *err = NULL;
    rocksdb_put(r->db, r->wopts, (const char *)key, PREFIX + 1 + nlen, (const char *)val,
                sizeof val, &err);
    free(key);
    if (err) {
        r->write_failed = true;
        rc = rdb_error(s, err, "opening namespace");
        goto fail_forget;
    }
    *id = nid;
    return RILL_OK;

fail_forget:
    r->nns--;
    free(r->ns[r->nns].name);
    r->next_id = nid;
    return rc;
}

static int rdb_get(rill_state *s, uint32_t ns, const void *key, size_t klen, void **val,
                   size_t *vlen) {
    rdb_state *r = (rdb_state *)s;
    if (!ns_known(r, ns))
        return rill__state_error(s, RILL_EINVAL, "rocksdb state: get: unknown namespace id %u",
                                 (unsigned)ns);
    keybuf kb;
    if (kb_make(&kb, ns, key, klen))
        return rill__state_error(s, RILL_ENOMEM, "rocksdb state: get: out of memory");
    char *err = NULL;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned(r->db, r->ropts, (const char *)kb.p, kb.len, &err);
    kb_free(&kb);
    if (err)
        return rdb_error(s, err, "get");
    if (!ps)
        return RILL_ENOT_FOUND;
    size_t n = 0;
    const char *v = rocksdb_pinnableslice_value(ps, &n);
    void *p = malloc(n ? n : 1); /* non-NULL even for an empty value */
    if (!p) {
        rocksdb_pinnableslice_destroy(ps);
        return rill__state_error(s, RILL_ENOMEM, "rocksdb state: get: out of memory (%zu bytes)",
                                 n);
    }
    if (n)
        memcpy(p, v, n);
    rocksdb_pinnableslice_destroy(ps);
    *val = p;
    *vlen = n;
    return RILL_OK;
}

static int rdb_scan(rill_state *s, uint32_t ns, const void *from, size_t flen, const void *to,
                    size_t tlen, rill_state_visit_fn fn, void *user) {
    rdb_state *r = (rdb_state *)s;
    if (!ns_known(r, ns))
        return rill__state_error(s, RILL_EINVAL, "rocksdb state: scan: unknown namespace id %u",
                                 (unsigned)ns);
    if (to && cmp_bytes(from, flen, to, tlen) >= 0)
        return RILL_OK; /* empty range */
    int rc;
    keybuf lo, hi;
    if (kb_make(&lo, ns, from, flen))
        return rill__state_error(s, RILL_ENOMEM, "rocksdb state: scan: out of memory");
    /* The bound outlives no call: readoptions keep a pointer to it. */
    if (to ? kb_make(&hi, ns, to, tlen) : kb_make(&hi, ns + 1, NULL, 0)) {
        rc = rill__state_error(s, RILL_ENOMEM, "rocksdb state: scan: out of memory");
        goto fail_hi;
    }
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi.p, hi.len);
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, ro);
    rc = RILL_OK;
    r->scanning++;
    for (rocksdb_iter_seek(it, (const char *)lo.p, lo.len); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl < PREFIX || get_be32((const unsigned char *)k) != ns) {
            rc = rill__state_error(s, RILL_ECORRUPT,
                                   "rocksdb state: scan: key outside namespace %u",
                                   (unsigned)ns);
            break;
        }
        rc = fn(user, k + PREFIX, kl - PREFIX, v, vl);
        if (rc)
            break;
    }
    r->scanning--;
    if (rc == RILL_OK) {
        char *err = NULL;
        rocksdb_iter_get_error(it, &err);
        if (err)
            rc = rdb_error(s, err, "scan");
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    kb_free(&hi);
fail_hi:
    kb_free(&lo);
    return rc;
}

/* ---- commit ---- */

typedef struct commit_ctx {
    rdb_state *r;
    uint32_t bad_ns;
    int bad_op;
} commit_ctx;

static int add_op(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                  const void *val, size_t vlen) {
    commit_ctx *c = user;
    rocksdb_writebatch_t *wb = c->r->wb;
    if (!ns_known(c->r, ns)) {
        c->bad_ns = ns;
        return RILL_EINVAL;
    }
    keybuf k, e;
    if (kb_make(&k, ns, key, klen))
        return RILL_ENOMEM;
    int rc = RILL_OK;
    switch (op) {
    case RILL_STATE_PUT:
        rocksdb_writebatch_put(wb, (const char *)k.p, k.len, val, vlen);
        break;
    case RILL_STATE_DELETE:
        rocksdb_writebatch_delete(wb, (const char *)k.p, k.len);
        break;
    case RILL_STATE_DELETE_RANGE:
        if (val && cmp_bytes(key, klen, val, vlen) >= 0)
            break; /* empty range: RocksDB wants begin < end */
        rc = val ? kb_make(&e, ns, val, vlen) : kb_make(&e, ns + 1, NULL, 0);
        if (rc)
            break;
        rocksdb_writebatch_delete_range(wb, (const char *)k.p, k.len, (const char *)e.p,
                                        e.len);
        kb_free(&e);
        break;
    default:
        c->bad_op = (int)op;
        rc = RILL_EINVAL;
    }
    kb_free(&k);
    return rc;
}

static int rdb_commit(rill_state *s, const rill_state_batch *batch) {
    rdb_state *r = (rdb_state *)s;
    if (r->scanning)
        return rill__state_error(s, RILL_EINVAL,
                                 "rocksdb state: commit from inside a scan callback");
    if (r->read_only)
        return rill__state_error(s, RILL_ESTATE,
                                 "rocksdb state: commit: the store is open read-only");
    rocksdb_writebatch_clear(r->wb);
    commit_ctx c = { .r = r };
    /* In key order: the memtable's skip list keeps a finger at the last
     * insert, so a sorted batch costs a short walk per put instead of a
     * search from the top (the put rate roughly doubles at 10 M keys). */
    int rc = rill__state_batch_each_sorted(batch, add_op, &c);
    if (rc) {
        rocksdb_writebatch_clear(r->wb);
        if (c.bad_ns)
            return rill__state_error(
                s, RILL_EINVAL, "rocksdb state: commit: unknown namespace id %u (nothing applied)",
                (unsigned)c.bad_ns);
        if (c.bad_op)
            return rill__state_error(s, RILL_EINVAL,
                                     "rocksdb state: commit: bad operation %d (nothing applied)",
                                     c.bad_op);
        return rill__state_error(s, rc, "rocksdb state: commit: %s (nothing applied)",
                                 rill_strerror(rc));
    }
    char *err = NULL;
    rocksdb_write(r->db, r->wopts, r->wb, &err);
    rocksdb_writebatch_clear(r->wb);
    if (err) {
        r->write_failed = true;
        return rdb_error(s, err, "commit (nothing applied)");
    }
    return RILL_OK;
}

static void rdb_close(rill_state *s) {
    rdb_state *r = (rdb_state *)s;
    uint64_t bg_errors = 0;
    if (r->db && !r->read_only && !r->write_failed &&
        rocksdb_property_int(r->db, "rocksdb.background-errors", &bg_errors) == 0 && !bg_errors) {
        /* Write the memtable out, so that the next open reads tables
         * instead of replaying the log (restart time). Not after a failed
         * write: RocksDB must not be asked to write more then (and the log
         * holds every good commit anyway). */
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        char *err = NULL;
        rocksdb_flushoptions_set_wait(fo, 1);
        rocksdb_flush(r->db, fo, &err);
        rocksdb_free(err);
        rocksdb_flushoptions_destroy(fo);
    }
    if (r->db)
        rocksdb_close(r->db);
    if (r->wb)
        rocksdb_writebatch_destroy(r->wb);
    if (r->ropts)
        rocksdb_readoptions_destroy(r->ropts);
    if (r->wopts)
        rocksdb_writeoptions_destroy(r->wopts);
    if (r->opts)
        rocksdb_options_destroy(r->opts);
    if (r->topts)
        rocksdb_block_based_options_destroy(r->topts);
    if (r->cache)
        rocksdb_cache_destroy(r->cache);
    for (size_t i = 0; i < r->nns; i++)
        free(r->ns[i].name);
    free(r->ns);
    free(r);
}

/* Namespaces as loaded (by name) and then as opened. */
static int rdb_ns_name(rill_state *s, size_t i, const char **name) {
    rdb_state *r = (rdb_state *)s;
    if (i >= r->nns)
        return RILL_ENOT_FOUND;
    *name = r->ns[i].name;
    return RILL_OK;
}

static const rill_state_methods rdb_methods = {
    .version = RILL_STATE_METHODS_VERSION,
    .name = "rocksdb",
    .ns_open = rdb_ns_open,
    .get = rdb_get,
    .scan = rdb_scan,
    .commit = rdb_commit,
    .close = rdb_close,
    .ns_name = rdb_ns_name,
    .concurrent_commit = 1, /* RocksDB: gets and writes from any threads */
};

/* ---- open ---- */

/* Check the format marker (writing it into an empty database) and load the
 * namespace table. Errors go to the open-failure message. */
static int load_meta(rdb_state *r, const char *dir) {
    unsigned char fkey[PREFIX + 1];
    put_be32(fkey, 0);
    fkey[PREFIX] = META_FORMAT[0];
    char *err = NULL;
    size_t n = 0;
    char *v = rocksdb_get(r->db, r->ropts, (const char *)fkey, sizeof fkey, &n, &err);
    if (err) {
        int rc = rill__state_open_error(status_of(err), "rocksdb state '%s': %s", dir, err);
        rocksdb_free(err);
        return rc;
    }
    if (v) {
        int ok = n == strlen(FORMAT_VERSION) && !memcmp(v, FORMAT_VERSION, n);
        rocksdb_free(v);
        if (!ok)
            return rill__state_open_error(RILL_ECORRUPT,
                                          "rocksdb state '%s': unknown layout version "
                                          "(this build reads version %s)",
                                          dir, FORMAT_VERSION);
    } else {
        rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ropts);
        rocksdb_iter_seek_to_first(it);
        int foreign = rocksdb_iter_valid(it);
        rocksdb_iter_destroy(it);
        if (foreign)
            return rill__state_open_error(RILL_ECORRUPT,
                                          "rocksdb state '%s': holds a RocksDB database that "
                                          "is not a rill state store",
                                          dir);
        if (r->read_only)
            return rill__state_open_error(RILL_ESTATE,
                                          "rocksdb state '%s': holds no rill state yet", dir);
        rocksdb_put(r->db, r->wopts, (const char *)fkey, sizeof fkey, FORMAT_VERSION,
                    strlen(FORMAT_VERSION), &err);
        if (err) {
            int rc = rill__state_open_error(status_of(err), "rocksdb state '%s': %s", dir, err);
            rocksdb_free(err);
            return rc;
        }
    }

    unsigned char lo[PREFIX + 1], hi[PREFIX + 1];
    put_be32(lo, 0);
    lo[PREFIX] = META_NS;
    put_be32(hi, 0);
    hi[PREFIX] = META_NS + 1;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, sizeof hi);
    rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, ro);
    int rc = RILL_OK;
    for (rocksdb_iter_seek(it, (const char *)lo, sizeof lo); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const char *k = rocksdb_iter_key(it, &kl);
        const unsigned char *val = (const unsigned char *)rocksdb_iter_value(it, &vl);
        uint32_t id = vl == 4 ? get_be32(val) : 0;
        const char *name = k + PREFIX + 1;
        size_t nlen = kl - PREFIX - 1;
        if (id == 0 || id == UINT32_MAX || nlen == 0 || memchr(name, '\0', nlen)) {
            rc = rill__state_open_error(RILL_ECORRUPT,
                                        "rocksdb state '%s': bad namespace table entry", dir);
            break;
        }
        for (size_t i = 0; i < r->nns; i++)
            if (r->ns[i].id == id) {
                rc = rill__state_open_error(RILL_ECORRUPT,
                                            "rocksdb state '%s': namespace id %u used twice",
                                            dir, (unsigned)id);
                break;
            }
        if (rc)
            break;
        if (ns_add(r, name, nlen, id)) {
            rc = rill__state_open_error(RILL_ENOMEM, "rocksdb state '%s': out of memory", dir);
            break;
        }
    }
    if (rc == RILL_OK) {
        rocksdb_iter_get_error(it, &err);
        if (err) {
            rc = rill__state_open_error(status_of(err), "rocksdb state '%s': %s", dir, err);
            rocksdb_free(err);
        }
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}

static int compression_of(rill_compression c, int *out) {
    switch (c) {
    case RILL_COMPRESSION_DEFAULT:
    case RILL_COMPRESSION_LZ4: *out = rocksdb_lz4_compression; return RILL_OK;
    case RILL_COMPRESSION_NONE: *out = rocksdb_no_compression; return RILL_OK;
    case RILL_COMPRESSION_ZSTD: *out = rocksdb_zstd_compression; return RILL_OK;
    case RILL_COMPRESSION_SNAPPY: *out = rocksdb_snappy_compression; return RILL_OK;
    }
    return RILL_EINVAL;
}

int rill_state_open_rocksdb(const char *dir, const rill_rocksdb_opts *opts, rill_state **out) {
    static const rill_rocksdb_opts defaults = { 0 };
    if (!out)
        return rill__state_open_error(RILL_EINVAL, "rocksdb state: out is NULL");
    *out = NULL;
    if (!dir || !dir[0])
        return rill__state_open_error(RILL_EINVAL, "rocksdb state: no directory given");
    if (!opts)
        opts = &defaults;
    int compression;
    if (compression_of(opts->compression, &compression))
        return rill__state_open_error(RILL_EINVAL, "rocksdb state: unknown compression %d",
                                      (int)opts->compression);
    /* RocksDB takes blocks below 4 GiB; far smaller is sensible */
    if (opts->block_bytes > BLOCK_BYTES_MAX)
        return rill__state_open_error(RILL_EINVAL,
                                      "rocksdb state: block_bytes %zu is over the limit of %zu "
                                      "(1 GiB)",
                                      opts->block_bytes, (size_t)BLOCK_BYTES_MAX);

    /* RocksDB's own words for these are obscure ("While mkdir if missing"). */
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return rill__state_open_error(RILL_EIO,
                                          "rocksdb state '%s': exists and is not a directory",
                                          dir);
    } else if (errno == ENOENT && (opts->must_exist || opts->read_only)) {
        return rill__state_open_error(RILL_ESTATE, "rocksdb state '%s': does not exist (%s)",
                                      dir, opts->read_only ? "opening read-only"
                                                           : "must_exist is set");
    }

    rdb_state *r = calloc(1, sizeof *r);
    if (!r)
        return rill__state_open_error(RILL_ENOMEM, "rocksdb state: out of memory");
    r->base.m = &rdb_methods;
    r->base.fail_commit_countdown = -1;
    r->next_id = 1;
    r->read_only = opts->read_only;

    r->cache = rocksdb_cache_create_lru(opts->block_cache_bytes ? opts->block_cache_bytes
                                                                : (size_t)32 << 20);
    r->topts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(r->topts, r->cache);
    rocksdb_block_based_options_set_block_size(r->topts, opts->block_bytes ? opts->block_bytes : 1024);
    /* Most gets of a fresh key miss; a bloom filter answers those in memory.
     * The table options take ownership of the policy. */
    rocksdb_block_based_options_set_filter_policy(r->topts,
                                                  rocksdb_filterpolicy_create_bloom_full(10));
    r->opts = rocksdb_options_create();
    rocksdb_options_set_block_based_table_factory(r->opts, r->topts);
    rocksdb_options_set_create_if_missing(r->opts, !opts->must_exist && !opts->read_only);
    rocksdb_options_set_write_buffer_size(r->opts, opts->write_buffer_bytes
                                                       ? opts->write_buffer_bytes
                                                       : (size_t)64 << 20);
    /* A bloom filter over each memtable's whole keys: reading an evicted
     * key back mostly finds its record in a table file, and without the
     * filter every such get first searches the memtables' skip lists in
     * vain (a cache miss per level). 2 % of the write buffer. */
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(r->opts, 0.02);
    rocksdb_options_set_memtable_whole_key_filtering(r->opts, 1);
    rocksdb_options_set_compression(r->opts, compression);
    rocksdb_options_set_keep_log_file_num(r->opts, 4);
    r->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(r->wopts, opts->sync);
    r->ropts = rocksdb_readoptions_create();
    r->wb = rocksdb_writebatch_create();

    char *err = NULL;
    int rc;
    r->db = opts->read_only ? rocksdb_open_for_read_only(r->opts, dir, 0, &err)
                            : rocksdb_open(r->opts, dir, &err);
    if (err) {
        rc = rill__state_open_error(status_of(err), "rocksdb state '%s': %s", dir, err);
        rocksdb_free(err);
        goto fail;
    }
    rc = load_meta(r, dir);
    if (rc)
        goto fail;
    *out = &r->base;
    return RILL_OK;

fail:
    rdb_close(&r->base);
    return rc;
}
