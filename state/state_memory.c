/* state/state_memory.c — the in-memory state backend.
 *
 * Each namespace is a skip list (Pugh, "Skip lists: a probabilistic
 * alternative to balanced trees", CACM 1990) ordered bytewise: memcmp over
 * the common length, then the shorter key first, the order RocksDB's default
 * comparator uses, so both backends scan alike. Lookups and inserts take
 * O(log n) expected steps; a range scan is one seek and a walk along level 0;
 * a delete-range is one seek and O(1) per removed entry. Node heights come
 * from a per-store xorshift generator with a fixed seed (p = 1/4), so a run
 * is reproducible. Each entry is one allocation: node, links, key and value.
 * Namespace ids are 1 + the index of the namespace in an array.
 *
 * Atomic commit, by preparing before applying: a commit first checks every
 * operation (namespace ids, op codes) and allocates the node of every put;
 * only when all of that succeeded does it apply the operations in order, and
 * applying cannot fail (it only relinks and frees). An allocation failure
 * therefore frees what was prepared and leaves the store as it was. This
 * costs nothing over applying directly (each put needs its node anyway) and
 * is simpler than a copy-on-write structure; its price is that a batch
 * holding many puts of one key allocates a node for each of them.
 *
 * Tests can make the n-th allocation fail (rill__state_memory_fail_alloc)
 * to check exactly that.
 *
 * Not here: persistence, concurrent access (one thread at a time), and
 * committing from inside a scan callback (refused with RILL_EINVAL: the walk
 * would follow freed nodes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"

#define MAX_LEVEL 24 /* with p = 1/4, enough for 4^24 entries */

typedef struct node {
    size_t klen, vlen;
    unsigned char *key; /* both point into this node's own allocation */
    unsigned char *val;
    int height;
    struct node *next[]; /* height links; the key and value follow them */
} node;

typedef struct mem_ns {
    char *name;
    node *head; /* MAX_LEVEL links, no key */
    int level;  /* levels in use, >= 1 */
    size_t count;
} mem_ns;

typedef struct mem_state {
    rill_state base;
    mem_ns **ns; /* ns[id - 1] */
    size_t nns, cap;
    uint64_t rng;
    int scanning; /* scans in progress (a callback may start another) */
    long fail_alloc; /* tests: the allocation at which this reaches 0 fails */
} mem_state;

/* Fault injection: true when this allocation is the one a test asked to fail. */
static int alloc_fails(mem_state *m) {
    return m->fail_alloc > 0 && --m->fail_alloc == 0;
}

static int cmp_key(const unsigned char *a, size_t alen, const void *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

static int random_height(mem_state *m) {
    uint64_t x = m->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m->rng = x;
    int h = 1;
    while (h < MAX_LEVEL && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

/* A node for key/val, unlinked; NULL on allocation failure. */
static node *node_new(mem_state *m, const void *key, size_t klen, const void *val,
                      size_t vlen) {
    int h = random_height(m);
    size_t links = (size_t)h * sizeof(node *);
    if (klen > SIZE_MAX / 4 || vlen > SIZE_MAX / 4)
        return NULL;
    node *x = alloc_fails(m) ? NULL : malloc(sizeof(node) + links + klen + vlen);
    if (!x)
        return NULL;
    x->height = h;
    x->klen = klen;
    x->vlen = vlen;
    x->key = (unsigned char *)x + sizeof(node) + links;
    x->val = x->key + klen;
    if (klen)
        memcpy(x->key, key, klen);
    if (vlen)
        memcpy(x->val, val, vlen);
    return x;
}

/* The first node with key >= key, or NULL. If update is not NULL it receives,
 * for every level, the last node before that position (head above t->level). */
static node *seek(mem_ns *t, const void *key, size_t klen, node **update) {
    node *x = t->head;
    node *ge = NULL; /* a node already known to be >= key: no need to compare again */
    for (int i = t->level - 1; i >= 0; i--) {
        node *nx;
        while ((nx = x->next[i]) && nx != ge && cmp_key(nx->key, nx->klen, key, klen) < 0)
            x = nx;
        ge = nx;
        if (update)
            update[i] = x;
    }
    if (update)
        for (int i = t->level; i < MAX_LEVEL; i++)
            update[i] = t->head;
    return x->next[0];
}

static void unlink_node(mem_ns *t, node *x, node **update) {
    for (int i = 0; i < x->height; i++)
        update[i]->next[i] = x->next[i];
    while (t->level > 1 && !t->head->next[t->level - 1])
        t->level--;
}

/* Insert prepared node n, replacing the entry with the same key if any.
 * Cannot fail. */
static void put_node(mem_ns *t, node *n) {
    node *update[MAX_LEVEL];
    node *x = seek(t, n->key, n->klen, update);
    if (x && cmp_key(x->key, x->klen, n->key, n->klen) == 0) {
        unlink_node(t, x, update);
        free(x);
        t->count--;
    }
    if (n->height > t->level)
        t->level = n->height; /* update[] already holds head up there */
    for (int i = 0; i < n->height; i++) {
        n->next[i] = update[i]->next[i];
        update[i]->next[i] = n;
    }
    t->count++;
}

/* Remove every entry with from <= key < to (to == NULL: to the end). */
static void delete_range(mem_ns *t, const void *from, size_t flen, const void *to,
                         size_t tlen) {
    node *update[MAX_LEVEL];
    node *x = seek(t, from, flen, update);
    /* Removing in key order keeps update[] right: each removed node is the
     * successor of update[i] on each of its levels. */
    while (x && (!to || cmp_key(x->key, x->klen, to, tlen) < 0)) {
        node *nx = x->next[0];
        unlink_node(t, x, update);
        free(x);
        t->count--;
        x = nx;
    }
}

static void free_nodes(mem_ns *t) {
    node *x = t->head->next[0];
    while (x) {
        node *nx = x->next[0];
        free(x);
        x = nx;
    }
}

static mem_ns *ns_of(mem_state *m, uint32_t id) {
    return id >= 1 && id <= m->nns ? m->ns[id - 1] : NULL;
}

static int mem_ns_open(rill_state *s, const char *name, uint32_t *id) {
    mem_state *m = (mem_state *)s;
    for (size_t i = 0; i < m->nns; i++)
        if (!strcmp(m->ns[i]->name, name)) {
            *id = (uint32_t)(i + 1);
            return RILL_OK;
        }
    if (m->nns >= UINT32_MAX - 1)
        return rill__state_error(s, RILL_EFULL, "memory state: too many namespaces");
    if (m->nns == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        mem_ns **p = alloc_fails(m) ? NULL : realloc(m->ns, cap * sizeof *p);
        if (!p)
            goto fail_nomem;
        m->ns = p;
        m->cap = cap;
    }
    mem_ns *t = alloc_fails(m) ? NULL : calloc(1, sizeof *t);
    if (!t)
        goto fail_nomem;
    t->name = alloc_fails(m) ? NULL : strdup(name);
    if (!t->name)
        goto fail_name;
    t->head = alloc_fails(m) ? NULL : calloc(1, sizeof(node) + MAX_LEVEL * sizeof(node *));
    if (!t->head)
        goto fail_head;
    t->head->height = MAX_LEVEL;
    t->level = 1;
    m->ns[m->nns++] = t;
    *id = (uint32_t)m->nns;
    return RILL_OK;

fail_head:
    free(t->name);
fail_name:
    free(t);
fail_nomem:
    return rill__state_error(s, RILL_ENOMEM, "memory state: out of memory opening namespace '%s'",
                             name);
}

static int mem_get(rill_state *s, uint32_t id, const void *key, size_t klen, void **val,
                   size_t *vlen) {
    mem_state *m = (mem_state *)s;
    mem_ns *t = ns_of(m, id);
    if (!t)
        return rill__state_error(s, RILL_EINVAL, "memory state: get: unknown namespace id %u",
                                 (unsigned)id);
    node *x = seek(t, key, klen, NULL);
    if (!x || cmp_key(x->key, x->klen, key, klen) != 0)
        return RILL_ENOT_FOUND;
    /* non-NULL even for an empty value */
    void *p = alloc_fails(m) ? NULL : malloc(x->vlen ? x->vlen : 1);
    if (!p)
        return rill__state_error(s, RILL_ENOMEM, "memory state: get: out of memory (%zu bytes)",
                                 x->vlen);
    if (x->vlen)
        memcpy(p, x->val, x->vlen);
    *val = p;
    *vlen = x->vlen;
    return RILL_OK;
}

static int mem_scan(rill_state *s, uint32_t id, const void *from, size_t flen, const void *to,
                    size_t tlen, rill_state_visit_fn fn, void *user) {
    mem_state *m = (mem_state *)s;
    mem_ns *t = ns_of(m, id);
    if (!t)
        return rill__state_error(s, RILL_EINVAL, "memory state: scan: unknown namespace id %u",
                                 (unsigned)id);
    int rc = RILL_OK;
    m->scanning++;
    for (node *x = seek(t, from, flen, NULL);
         x && (!to || cmp_key(x->key, x->klen, to, tlen) < 0); x = x->next[0]) {
        rc = fn(user, x->key, x->klen, x->val, x->vlen);
        if (rc)
            break;
    }
    m->scanning--;
    return rc;
}

/* ---- commit: check, prepare, apply ---- */

typedef struct commit_ctx {
    mem_state *m;
    node *prepared; /* the puts' nodes in batch order, chained through next[0] */
    node **tail;
    uint32_t bad_ns;
    int bad_op;
} commit_ctx;

static int check_op(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                    const void *val, size_t vlen) {
    commit_ctx *c = user;
    if (!ns_of(c->m, ns)) {
        c->bad_ns = ns;
        return RILL_EINVAL;
    }
    if (op != RILL_STATE_PUT && op != RILL_STATE_DELETE && op != RILL_STATE_DELETE_RANGE) {
        c->bad_op = (int)op;
        return RILL_EINVAL;
    }
    if (op == RILL_STATE_PUT) {
        node *x = node_new(c->m, key, klen, val, vlen);
        if (!x)
            return RILL_ENOMEM;
        x->next[0] = NULL;
        *c->tail = x;
        c->tail = &x->next[0];
    }
    return RILL_OK;
}

static int apply_op(void *user, rill_state_op op, uint32_t ns, const void *key, size_t klen,
                    const void *val, size_t vlen) {
    commit_ctx *c = user;
    mem_ns *t = ns_of(c->m, ns);
    if (op == RILL_STATE_PUT) {
        node *x = c->prepared;
        c->prepared = x->next[0];
        put_node(t, x);
    } else if (op == RILL_STATE_DELETE) {
        node *update[MAX_LEVEL];
        node *x = seek(t, key, klen, update);
        if (x && cmp_key(x->key, x->klen, key, klen) == 0) {
            unlink_node(t, x, update);
            free(x);
            t->count--;
        }
    } else {
        delete_range(t, key, klen, val, vlen);
    }
    return RILL_OK;
}

static int mem_commit(rill_state *s, const rill_state_batch *wb) {
    mem_state *m = (mem_state *)s;
    if (m->scanning)
        return rill__state_error(s, RILL_EINVAL,
                                 "memory state: commit from inside a scan callback");
    commit_ctx c = { .m = m, .prepared = NULL, .tail = NULL };
    c.tail = &c.prepared;
    int rc = rill__state_batch_each(wb, check_op, &c);
    if (rc)
        goto fail_prepare;
    rc = rill__state_batch_each(wb, apply_op, &c);
    return rc; /* apply_op never fails */

fail_prepare:
    while (c.prepared) {
        node *nx = c.prepared->next[0];
        free(c.prepared);
        c.prepared = nx;
    }
    if (c.bad_ns)
        return rill__state_error(s, RILL_EINVAL,
                                 "memory state: commit: unknown namespace id %u (nothing applied)",
                                 (unsigned)c.bad_ns);
    if (c.bad_op)
        return rill__state_error(s, RILL_EINVAL,
                                 "memory state: commit: bad operation %d (nothing applied)",
                                 c.bad_op);
    return rill__state_error(s, rc, "memory state: commit: %s (nothing applied)",
                             rill_strerror(rc));
}

static void mem_close(rill_state *s) {
    mem_state *m = (mem_state *)s;
    for (size_t i = 0; i < m->nns; i++) {
        free_nodes(m->ns[i]);
        free(m->ns[i]->head);
        free(m->ns[i]->name);
        free(m->ns[i]);
    }
    free(m->ns);
    free(m);
}

static int mem_ns_name(rill_state *s, size_t i, const char **name) {
    mem_state *m = (mem_state *)s;
    if (i >= m->nns)
        return RILL_ENOT_FOUND;
    *name = m->ns[i]->name;
    return RILL_OK;
}

static const rill_state_methods mem_methods = {
    .version = RILL_STATE_METHODS_VERSION,
    .name = "memory",
    .ns_open = mem_ns_open,
    .get = mem_get,
    .scan = mem_scan,
    .commit = mem_commit,
    .close = mem_close,
    .ns_name = mem_ns_name,
};

void rill__state_memory_fail_alloc(rill_state *s, long n) {
    if (s && s->m == &mem_methods)
        ((mem_state *)s)->fail_alloc = n >= 1 ? n : 0;
}

int rill_state_open_memory(rill_state **out) {
    if (!out)
        return rill__state_open_error(RILL_EINVAL, "memory state: out is NULL");
    *out = NULL;
    mem_state *m = calloc(1, sizeof *m);
    if (!m)
        return rill__state_open_error(RILL_ENOMEM, "memory state: out of memory");
    m->base.m = &mem_methods;
    m->base.fail_commit_countdown = -1;
    m->rng = 0x9e3779b97f4a7c15u;
    *out = &m->base;
    return RILL_OK;
}
