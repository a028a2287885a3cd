/* rill/state.h — where a plan keeps its state.
 *
 * A state store holds operator state in namespaced byte keys and commits it
 * in atomic write batches. Open one and hand it to rill_graph_compile();
 * a plan compiled against a store that holds a checkpoint of the same graph
 * resumes from it.
 *
 * Two backends: in memory (tests, small jobs; lost with the process) and
 * RocksDB (durable; the default for real jobs). A store is used by one
 * thread at a time.
 */
#ifndef RILL_STATE_H
#define RILL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include "rill/error.h"
#include "rill/types.h"

typedef struct rill_state rill_state;

/* An in-memory store: fast, lost with the process. It survives the plans
 * that use it, so a plan can be freed and another resume from its commits.
 * On success *out owns the store (free it with rill_state_close()); on
 * failure (RILL_ENOMEM only) *out is NULL. */
int rill_state_open_memory(rill_state **out);

/* Block compression of the RocksDB tables. */
typedef enum rill_compression {
    RILL_COMPRESSION_DEFAULT = 0, /* LZ4: cheap on the CPU, good enough on state */
    RILL_COMPRESSION_NONE = 1,
    RILL_COMPRESSION_LZ4 = 2,
    RILL_COMPRESSION_ZSTD = 3,
    RILL_COMPRESSION_SNAPPY = 4,
} rill_compression;

/* Options of rill_state_open_rocksdb(); the zero value is the default. */
typedef struct rill_rocksdb_opts {
    size_t block_cache_bytes;  /* LRU cache of table blocks; 0 = 32 MiB */
    size_t write_buffer_bytes; /* memtable size before a flush; 0 = 64 MiB */
    /* Uncompressed size of a table block; 0 = 1 KiB (RocksDB's own default
     * is 4 KiB). Reading an evicted key back decompresses one block, and
     * records are small, so small blocks make those reads cheaper; larger
     * ones compress better and scan faster. At most 1 GiB (RILL_EINVAL). */
    size_t block_bytes;
    rill_compression compression;
    /* fsync the write-ahead log at every commit: a commit then survives a
     * power loss, not only a crash of the process. Off by default. */
    bool sync;
    /* Fail (RILL_ESTATE) instead of creating the store when dir does not
     * hold one yet. Off by default: a missing directory is created. */
    bool must_exist;
    /* Open for reading only (implies must_exist): no lock is taken, so a
     * running engine's store can be inspected; what is seen is the state as
     * of the open. Commits and new namespaces fail with RILL_ESTATE. */
    bool read_only;
} rill_rocksdb_opts;

/* Open (or create) the RocksDB store in directory dir. opts may be NULL for
 * the defaults. On success *out owns the store (rill_state_close() frees
 * it); namespaces and everything committed before are there again, with the
 * same namespace ids.
 * On failure *out is NULL, nothing is left open, and rill_state_errmsg(NULL)
 * gives the reason with RocksDB's own text, on the calling thread, until its
 * next failed open. Statuses: RILL_EINVAL (bad arguments), RILL_EIO (dir is
 * not a directory, cannot be created or written, is locked by another open
 * store), RILL_ECORRUPT (the files are damaged, or hold a RocksDB database
 * that is not a rill store), RILL_ESTATE (any other refusal of RocksDB, such
 * as must_exist on an empty directory), RILL_ENOMEM. */
int rill_state_open_rocksdb(const char *dir, const rill_rocksdb_opts *opts,
                            rill_state **out);

/* Close the store; committed state stays where the backend keeps it.
 * Accepts NULL. */
void rill_state_close(rill_state *s);

/* Why the last call on s failed ("" if it did not), valid until the next
 * call on s. s == NULL: the message of the calling thread's last failed
 * rill_state_open_*(). Never NULL. */
const char *rill_state_errmsg(const rill_state *s);

/* ---- inspection (tools, debugging) -------------------------------------------
 *
 * What a plan stores: namespace "rill.plan" holds the graph fingerprint
 * ("fingerprint"), the watermark of each source ("src:<source>"), each
 * operator's watermark and counters ("op:<operator>") and the named blobs
 * ("blob:<name>", e.g. "blob:rill.engine.producers"); namespace
 * "op:<operator>" holds one record per key of that operator, under the
 * key's canonical bytes (rill_state_key_encode()). These functions read a
 * store without knowing any of that. */

/* The name of the i-th namespace (i from 0; the order stays put while s is
 * open). RILL_ENOT_FOUND past the last one. *name lives as long as s. */
int rill_state_ns_name(rill_state *s, size_t i, const char **name);

/* Visit one entry; return 0 to go on, anything else stops the scan and is
 * what rill_state_scan() returns. key and val are valid during the call. */
typedef int (*rill_state_entry_fn)(void *user, const void *key, size_t klen,
                                   const void *val, size_t vlen);

/* Visit the entries of namespace ns with from <= key < to, in bytewise key
 * order (from NULL: from the first; to NULL: to the last). RILL_ENOT_FOUND
 * when the store has no namespace of that name (none is made). */
int rill_state_scan(rill_state *s, const char *ns, const void *from, size_t flen,
                    const void *to, size_t tlen, rill_state_entry_fn fn, void *user);

/* Read the value of key in namespace ns as of the last commit. On success
 * *val is malloc'd (the caller free()s it) and *vlen its length.
 * RILL_ENOT_FOUND when the namespace or the key is absent. */
int rill_state_get(rill_state *s, const char *ns, const void *key, size_t klen,
                   void **val, size_t *vlen);

/* Operator keys are stored in a canonical byte form: an integer key as 'i'
 * and 8 bytes big-endian of the value with its sign bit flipped (so they
 * sort like the integers), a string key as 's' and its bytes. Encode key
 * (RILL_I64 or RILL_STRING) into buf (cap bytes); returns the length, or 0
 * when the key has another type or does not fit. */
size_t rill_state_key_encode(rill_value key, unsigned char *buf, size_t cap);
/* The key the canonical bytes stand for; RILL_NULL when they are not a
 * canonical key. A string's bytes point into `bytes`. */
rill_value rill_state_key_decode(const void *bytes, size_t len);

#endif
