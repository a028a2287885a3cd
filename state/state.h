/* state/state.h — the state interface (internal): what operators and the
 * plan see of a state store, and what every backend implements.
 *
 * Keys live in namespaces (one per operator, plus the plan's own); inside a
 * namespace they are ordered bytewise, so a range scan walks them in order.
 * Reads see the last commit. Writes are collected in a rill_state_batch and
 * applied atomically by rill__state_commit(): all of them or none.
 *
 * A backend is a struct whose first member is `rill_state base`, whose
 * methods table says what it can do (see SQLite's sqlite3_io_methods). The
 * core calls backends only through the rill__state_* wrappers in state.c,
 * which is also where tests inject failures.
 */
#ifndef RILL_STATE_STATE_H
#define RILL_STATE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rill/state.h"

#define RILL_STATE_METHODS_VERSION 1

typedef struct rill_state_batch rill_state_batch;

typedef enum rill_state_op {
    RILL_STATE_PUT = 1,
    RILL_STATE_DELETE = 2,
    RILL_STATE_DELETE_RANGE = 3, /* [key, value) : value holds the end key */
} rill_state_op;

/* Visit one entry; return 0 to go on, anything else stops the scan and is
 * returned by it. key/val are valid only during the call. */
typedef int (*rill_state_visit_fn)(void *user, const void *key, size_t klen,
                                   const void *val, size_t vlen);

typedef struct rill_state_methods {
    int version; /* RILL_STATE_METHODS_VERSION */
    const char *name;
    /* Map a namespace name to a small id, creating it if new. */
    int (*ns_open)(rill_state *s, const char *name, uint32_t *ns);
    /* *val is malloc'd (caller frees); RILL_ENOT_FOUND when absent. */
    int (*get)(rill_state *s, uint32_t ns, const void *key, size_t klen,
               void **val, size_t *vlen);
    /* Entries with from <= key < to in key order; to == NULL: to the end. */
    int (*scan)(rill_state *s, uint32_t ns, const void *from, size_t flen,
                const void *to, size_t tlen, rill_state_visit_fn fn, void *user);
    /* Apply every operation of wb atomically, in order. On failure nothing
     * of wb is applied. */
    int (*commit)(rill_state *s, const rill_state_batch *wb);
    void (*close)(rill_state *s);
    /* Optional (inspection): the name of the i-th namespace (an order that
     * stays put while s is open); RILL_ENOT_FOUND past the last. NULL: the
     * store cannot list its namespaces. */
    int (*ns_name)(rill_state *s, size_t i, const char **name);
    /* Non-zero: get may run on one thread while commit runs on another (a
     * background commit); zero: background commits run inline. */
    int concurrent_commit;
} rill_state_methods;

/* The background writer of rill__state_commit_start (state.c). Zeroed by
 * the backend's calloc; set up at the first background commit. */
typedef struct rill_state_writer {
    bool started;     /* thread, mutex and condition exist */
    bool busy;        /* a commit was handed over and not yet waited for */
    bool threaded;    /* ...and given to the thread (not run inline) */
    bool running;     /* the thread has it and has not finished */
    bool quit;
    int rc;           /* status of the last finished commit */
    const rill_state_batch *wb;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char errmsg[512]; /* the commit's message, copied to errmsg by wait */
} rill_state_writer;

struct rill_state {
    const rill_state_methods *m;
    char errmsg[512];
    /* fault injection (tests): fail the commit when this reaches zero */
    long fail_commit_countdown; /* < 0: off */
    rill_state_writer writer;
};

/* Wrappers the core calls (they fill s->errmsg on failure). */
int rill__state_ns_open(rill_state *s, const char *name, uint32_t *ns);
int rill__state_get(rill_state *s, uint32_t ns, const void *key, size_t klen,
                    void **val, size_t *vlen);
int rill__state_scan(rill_state *s, uint32_t ns, const void *from, size_t flen,
                     const void *to, size_t tlen, rill_state_visit_fn fn, void *user);
int rill__state_commit(rill_state *s, const rill_state_batch *wb);
/* A commit in the background: hands wb to the store's writer thread and
 * returns at once (backends without concurrent_commit, and injected
 * failures, run it here and keep the status for the wait). wb must stay
 * untouched until rill__state_commit_wait, which returns the commit's
 * status (RILL_OK with nothing in flight). Gets may run meanwhile; scans,
 * ns_open and other commits must not. One commit in flight at a time:
 * RILL_EINVAL if one is. */
int rill__state_commit_start(rill_state *s, const rill_state_batch *wb);
int rill__state_commit_wait(rill_state *s);
/* A commit was handed to the writer thread and not yet waited for. */
bool rill__state_commit_in_background(const rill_state *s);
/* Nothing in flight, or its write finished: wait would not block. */
bool rill__state_commit_finished(rill_state *s);
/* Tests: make the n-th commit from now fail with RILL_ESTATE (n >= 1; 0 = off). */
void rill__state_fail_commit(rill_state *s, long n);
/* Tests, memory backend only (a no-op on others): make its n-th allocation
 * from now fail (n >= 1; 0 = off), to check that failures leave it intact. */
void rill__state_memory_fail_alloc(rill_state *s, long n);
/* Set s->errmsg printf-style; returns status for convenience. */
int rill__state_error(rill_state *s, int status, const char *fmt, ...);
/* Backends' open functions, on failure (no object to hold a message): set the
 * calling thread's open-failure message, read by rill_state_errmsg(NULL);
 * returns status. */
int rill__state_open_error(int status, const char *fmt, ...);

/* ---- write batches (backend independent) ---- */

rill_state_batch *rill__state_batch_new(void); /* NULL on allocation failure */
void rill__state_batch_free(rill_state_batch *wb); /* accepts NULL */
void rill__state_batch_clear(rill_state_batch *wb);
/* Each copies its arguments; RILL_ENOMEM leaves the batch as it was. */
int rill__state_batch_put(rill_state_batch *wb, uint32_t ns, const void *key, size_t klen,
                          const void *val, size_t vlen);
int rill__state_batch_delete(rill_state_batch *wb, uint32_t ns, const void *key, size_t klen);
int rill__state_batch_delete_range(rill_state_batch *wb, uint32_t ns, const void *from,
                                   size_t flen, const void *to, size_t tlen);
size_t rill__state_batch_count(const rill_state_batch *wb);
/* Visit the operations in the order they were added; a non-zero return of fn
 * stops and is returned. For DELETE_RANGE, val/vlen hold the end key. */
typedef int (*rill_state_batch_fn)(void *user, rill_state_op op, uint32_t ns,
                                   const void *key, size_t klen,
                                   const void *val, size_t vlen);
int rill__state_batch_each(const rill_state_batch *wb, rill_state_batch_fn fn, void *user);
/* The same operations with puts and deletes in key order ((ns, key) under
 * byte-wise comparison, shorter first) between range deletes, which stay
 * where they were added; operations on one key keep their relative order,
 * so the result is what applying them in added order gives. For backends
 * whose insert is cheaper when keys arrive in order (RocksDB's memtable).
 * RILL_ENOMEM if the index cannot be allocated (nothing visited). */
int rill__state_batch_each_sorted(const rill_state_batch *wb, rill_state_batch_fn fn,
                                  void *user);

#endif
