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
    rill_compression compression;
    /* fsync the write-ahead log at every commit: a commit then survives a
     * power loss, not only a crash of the process. Off by default. */
    bool sync;
    /* Fail (RILL_ESTATE) instead of creating the store when dir does not
     * hold one yet. Off by default: a missing directory is created. */
    bool must_exist;
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

#endif
