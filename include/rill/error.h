/* rill/error.h — status codes shared by every public function.
 *
 * 0 is success; every failure is one of the negative RILL_E* codes below.
 * The code says what kind of failure it was; the object involved (graph,
 * plan, state, engine) keeps a human-readable message with the detail
 * (the operator and field at fault, the RocksDB error text, the byte offset
 * of a bad message), readable through its *_errmsg() function.
 */
#ifndef RILL_ERROR_H
#define RILL_ERROR_H

/* X(NAME, value, default message) — the one list the codes come from. */
#define RILL_ERRNO_MAP(X)                                                        \
    X(NOMEM,         -1,  "out of memory")                                       \
    X(INVAL,         -2,  "invalid argument")                                    \
    X(UNKNOWN_FIELD, -3,  "unknown field")                                       \
    X(FIELD_TYPE,    -4,  "field has the wrong type for this use")               \
    X(NO_INPUT,      -5,  "operator has no input")                               \
    X(CYCLE,         -6,  "graph has a cycle")                                   \
    X(DUP_NAME,      -7,  "duplicate name")                                      \
    X(BAD_SIZE,      -8,  "window size, gap or trigger must be positive")        \
    X(BAD_SLIDE,     -9,  "slide must be positive and not larger than size")     \
    X(UNKNOWN_NODE,  -10, "unknown source or operator")                          \
    X(BAD_AGG,       -11, "invalid aggregate")                                   \
    X(STATE,         -12, "state backend error")                                 \
    X(IO,            -13, "I/O error")                                           \
    X(NOT_FOUND,     -14, "not found")                                           \
    X(CORRUPT,       -15, "corrupt or incompatible data")                        \
    X(DECODE,        -16, "malformed message")                                   \
    X(FULL,          -17, "capacity exceeded")                                   \
    X(STATE_MISMATCH,-18, "state directory was written by a different graph")    \
    X(ZMQ,           -19, "ZeroMQ error")                                        \
    X(MODEL,         -20, "model error")                                         \
    X(STOPPED,       -21, "stopped")

typedef enum rill_status {
    RILL_OK = 0,
#define RILL__ERR_ENUM(name, value, msg) RILL_E##name = (value),
    RILL_ERRNO_MAP(RILL__ERR_ENUM)
#undef RILL__ERR_ENUM
} rill_status;

/* The default message of a status code; never NULL, static storage. */
const char *rill_strerror(int status);

/* The symbolic name of a status code ("RILL_EUNKNOWN_FIELD"); static storage. */
const char *rill_errname(int status);

#endif
