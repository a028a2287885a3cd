/* state/write_batch.c — the write batch: the operations one commit applies.
 *
 * A batch is an append-only log in one growable byte buffer: per operation a
 * fixed header (op, namespace, lengths) followed by copies of the key and of
 * the value (or end key). Appending costs one memcpy, usually no allocation
 * (the buffer doubles when full and is kept by clear()), and visiting is a
 * walk from the front, so operations come back in the order they were added,
 * which is the order a backend must apply them in. The header is copied in
 * and out with memcpy, so records need no alignment.
 *
 * each_sorted visits the same operations with the point operations of each
 * run between range deletes sorted by (namespace, key): an index of offsets
 * is sorted (stable through the offset as last tie-break), the buffer is
 * not touched.
 *
 * Not here: merging or cancelling operations (a put then a delete of the
 * same key stay two records), validating namespace ids (the backend does it
 * at commit, when it knows which ids exist).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"

struct rill_state_batch {
    unsigned char *buf;
    size_t len, cap;
    size_t count;
};

typedef struct rec_hdr {
    uint32_t ns;
    uint8_t op;        /* rill_state_op */
    uint8_t unbounded; /* DELETE_RANGE with no end key: to the end of ns */
    size_t klen;
    size_t vlen;
} rec_hdr;

rill_state_batch *rill__state_batch_new(void) {
    return calloc(1, sizeof(rill_state_batch));
}

void rill__state_batch_free(rill_state_batch *wb) {
    if (!wb)
        return;
    free(wb->buf);
    free(wb);
}

void rill__state_batch_clear(rill_state_batch *wb) {
    if (!wb)
        return;
    wb->len = 0;
    wb->count = 0;
}

size_t rill__state_batch_count(const rill_state_batch *wb) {
    return wb ? wb->count : 0;
}

/* Make room for need more bytes. On failure the batch is unchanged. */
static int reserve(rill_state_batch *wb, size_t need) {
    if (need <= wb->cap - wb->len)
        return RILL_OK;
    if (need > SIZE_MAX / 2 - wb->len)
        return RILL_ENOMEM;
    size_t cap = wb->cap ? wb->cap : 256;
    while (cap - wb->len < need)
        cap *= 2;
    unsigned char *p = realloc(wb->buf, cap);
    if (!p)
        return RILL_ENOMEM;
    wb->buf = p;
    wb->cap = cap;
    return RILL_OK;
}

static int append(rill_state_batch *wb, rill_state_op op, uint32_t ns, const void *key,
                  size_t klen, const void *val, size_t vlen, int unbounded) {
    if (!wb || (!key && klen) || (!val && vlen))
        return RILL_EINVAL;
    if (klen > SIZE_MAX / 4 || vlen > SIZE_MAX / 4)
        return RILL_ENOMEM;
    int rc = reserve(wb, sizeof(rec_hdr) + klen + vlen);
    if (rc)
        return rc;
    rec_hdr h = { .ns = ns, .op = (uint8_t)op, .unbounded = (uint8_t)unbounded,
                  .klen = klen, .vlen = vlen };
    unsigned char *p = wb->buf + wb->len;
    memcpy(p, &h, sizeof h);
    if (klen)
        memcpy(p + sizeof h, key, klen);
    if (vlen)
        memcpy(p + sizeof h + klen, val, vlen);
    wb->len += sizeof h + klen + vlen;
    wb->count++;
    return RILL_OK;
}

int rill__state_batch_put(rill_state_batch *wb, uint32_t ns, const void *key, size_t klen,
                          const void *val, size_t vlen) {
    return append(wb, RILL_STATE_PUT, ns, key, klen, val, vlen, 0);
}

int rill__state_batch_delete(rill_state_batch *wb, uint32_t ns, const void *key,
                             size_t klen) {
    return append(wb, RILL_STATE_DELETE, ns, key, klen, NULL, 0, 0);
}

/* to == NULL (tlen 0) deletes to the end of the namespace, like scan; the
 * visitor then sees val == NULL. A bounded range always has val != NULL,
 * even for an empty end key. */
int rill__state_batch_delete_range(rill_state_batch *wb, uint32_t ns, const void *from,
                                   size_t flen, const void *to, size_t tlen) {
    return append(wb, RILL_STATE_DELETE_RANGE, ns, from, flen, to, tlen, to == NULL);
}

int rill__state_batch_each(const rill_state_batch *wb, rill_state_batch_fn fn, void *user) {
    if (!wb || !fn)
        return RILL_EINVAL;
    size_t off = 0;
    while (off < wb->len) {
        rec_hdr h;
        memcpy(&h, wb->buf + off, sizeof h);
        const unsigned char *key = wb->buf + off + sizeof h;
        const unsigned char *val = key + h.klen;
        int rc = fn(user, (rill_state_op)h.op, h.ns, key, h.klen,
                    h.unbounded ? NULL : val, h.vlen);
        if (rc)
            return rc;
        off += sizeof h + h.klen + h.vlen;
    }
    return RILL_OK;
}

/* One point operation of the sorted index: its namespace, the first 8 key
 * bytes as a big-endian number (most comparisons end there), its key and
 * where its record starts. */
typedef struct sort_ent {
    uint64_t head;
    const unsigned char *key;
    size_t klen;
    size_t off;
    uint32_t ns;
} sort_ent;

static int cmp_ent(const void *pa, const void *pb) {
    const sort_ent *a = pa, *b = pb;
    if (a->ns != b->ns)
        return a->ns < b->ns ? -1 : 1;
    if (a->head != b->head)
        return a->head < b->head ? -1 : 1;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n > 8 ? memcmp(a->key + 8, b->key + 8, n - 8) : 0;
    if (c)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->off < b->off ? -1 : a->off > b->off;
}

static uint64_t key_head(const unsigned char *key, size_t klen) {
    uint64_t h = 0;
    for (size_t i = 0; i < 8; i++)
        h = h << 8 | (i < klen ? key[i] : 0);
    return h;
}

static int visit(const rill_state_batch *wb, size_t off, rill_state_batch_fn fn, void *user) {
    rec_hdr h;
    memcpy(&h, wb->buf + off, sizeof h);
    const unsigned char *key = wb->buf + off + sizeof h;
    return fn(user, (rill_state_op)h.op, h.ns, key, h.klen, h.unbounded ? NULL : key + h.klen,
              h.vlen);
}

/* Sort ents[0, n) and visit them. */
static int flush_run(const rill_state_batch *wb, sort_ent *ents, size_t n, rill_state_batch_fn fn,
                     void *user) {
    qsort(ents, n, sizeof *ents, cmp_ent);
    for (size_t i = 0; i < n; i++) {
        int rc = visit(wb, ents[i].off, fn, user);
        if (rc)
            return rc;
    }
    return RILL_OK;
}

int rill__state_batch_each_sorted(const rill_state_batch *wb, rill_state_batch_fn fn,
                                  void *user) {
    if (!wb || !fn)
        return RILL_EINVAL;
    if (wb->count < 2)
        return rill__state_batch_each(wb, fn, user);
    sort_ent *ents = malloc(wb->count * sizeof *ents);
    if (!ents)
        return RILL_ENOMEM;
    size_t n = 0, off = 0;
    int rc = RILL_OK;
    while (off < wb->len && !rc) {
        rec_hdr h;
        memcpy(&h, wb->buf + off, sizeof h);
        if (h.op == RILL_STATE_DELETE_RANGE) {
            rc = flush_run(wb, ents, n, fn, user);
            n = 0;
            if (!rc)
                rc = visit(wb, off, fn, user);
        } else {
            const unsigned char *key = wb->buf + off + sizeof h;
            ents[n++] = (sort_ent){ .head = key_head(key, h.klen), .key = key, .klen = h.klen,
                                    .off = off, .ns = h.ns };
        }
        off += sizeof h + h.klen + h.vlen;
    }
    if (!rc)
        rc = flush_run(wb, ents, n, fn, user);
    free(ents);
    return rc;
}
