/* tools/rill-state.c — look inside a rill state directory (RocksDB).
 *
 * Lists the namespaces of a store (the plan's own and one per operator)
 * with their key, entry and byte counts, lists an operator's keys, and dumps
 * one key's stored record as JSON. The store is opened read-only, so it can
 * be pointed at the directory of a running engine: it then sees the state
 * as of the moment it opened it.
 *
 * The idea: the public inspection functions of rill/state.h give the raw
 * entries; what they mean comes from the plan's namespace "rill.plan",
 * which holds the graph fingerprint (one line per operator: window kind,
 * size, slide, gap, emission mode, aggregates), the watermarks and counters
 * and the named blobs. The fingerprint says which record layout an
 * operator's keys use (the checkpoint functions of operators/window_*.c,
 * version 1 unless said, integers in the host's byte order):
 *   tumbling/sliding, on close:  ver | fired_upto | n | n x (slice start | block)
 *   session, on close:           ver | n | n x (start | last | flags | block)
 *   global:                      ver | count | unemitted | first_ts | last_ts |
 *                                n | total block | n x (slice start | block)
 *   on event (version 2):        ver | next_seq | run_start | n_fifo | n_pend |
 *                                n_fifo x (ts | block) |
 *                                n_pend x (ts | id length | id | block)
 * An "entry" is one slice, session, pending slice or event inside a key's
 * record. Accumulator blocks are shown in hex: their layout belongs to each
 * aggregate. The engine's blob "rill.engine.producers" (each reliable
 * producer's last applied sequence number) is decoded too.
 *
 * It does not change anything, and shows a record of a layout version it
 * does not know as hex only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill/rill.h"

#define EXIT_USAGE 1
#define EXIT_OPEN 2
#define EXIT_NOT_FOUND 3

static const char *s_usage =
"usage: rill-state [options] DIR COMMAND [ARGS]\n"
"\n"
"Look inside the rill state directory DIR (read-only: safe on the directory\n"
"of a running engine, which is then seen as of the moment rill-state opens it).\n"
"\n"
"Commands:\n"
"  list              every namespace: keys, entries (slices, sessions or\n"
"                    events inside the keys' records) and bytes; the graph's\n"
"                    watermarks, counters, blobs and reliable producers\n"
"  keys OP           the keys of operator OP with their entries and bytes\n"
"  dump OP KEY       the record of KEY in operator OP, as JSON\n"
"  graph             the graph the state was written by (its fingerprint)\n"
"\n"
"Options:\n"
"  --json            list, keys: one JSON object per line\n"
"  --compact         dump: JSON on one line\n"
"  --int, --string   KEY is an integer / a string (default: an integer when it\n"
"                    reads as one and that key exists, else a string)\n"
"  --limit N         keys: show at most N keys (default all)\n"
"  -h, --help        this text\n"
"\n"
"Exit status: 0 done, 1 usage error, 2 DIR cannot be opened as a rill state,\n"
"3 no such operator or key.\n";

/* ---- what the fingerprint says about an operator ------------------------------------ */

typedef enum fmt { FMT_UNKNOWN, FMT_SLICED, FMT_SESSION, FMT_GLOBAL, FMT_ON_EVENT } fmt;

typedef struct opinfo {
    char *name;
    int window, emit, trigger;
    long long size, slide, offset, gap, every, lateness;
    char *aggs; /* "name:kind(field;param),..." */
    fmt f;
    long long block; /* accumulator block bytes, -1 until known */
} opinfo;

typedef struct graph {
    char *fp;
    opinfo *ops;
    size_t n_ops;
} graph;

static const char *window_name(int w) {
    switch (w) {
    case RILL_WINDOW_TUMBLING: return "tumbling";
    case RILL_WINDOW_SLIDING: return "sliding";
    case RILL_WINDOW_SESSION: return "session";
    case RILL_WINDOW_GLOBAL: return "global";
    default: return "unknown";
    }
}

static fmt format_of(int window, int emit) {
    if (window == RILL_WINDOW_GLOBAL) return FMT_GLOBAL;
    if (emit == RILL_EMIT_ON_EVENT &&
        (window == RILL_WINDOW_TUMBLING || window == RILL_WINDOW_SLIDING || window == RILL_WINDOW_SESSION))
        return FMT_ON_EVENT;
    if (window == RILL_WINDOW_TUMBLING || window == RILL_WINDOW_SLIDING) return FMT_SLICED;
    if (window == RILL_WINDOW_SESSION) return FMT_SESSION;
    return FMT_UNKNOWN;
}

/* Parse the operator lines of the fingerprint. */
static void parse_graph(graph *g) {
    for (char *line = g->fp; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *w = strstr(line, " window=");
        if (!strncmp(line, "operator ", 9) && w) {
            opinfo o = { .block = -1 };
            o.name = strndup(line + 9, (size_t)(w - line - 9));
            int n = sscanf(w, " window=%d size=%lld slide=%lld offset=%lld gap=%lld trigger=%d/%lld "
                              "emit=%d lateness=%lld",
                           &o.window, &o.size, &o.slide, &o.offset, &o.gap, &o.trigger, &o.every,
                           &o.emit, &o.lateness);
            char *a = strstr(w, " aggs=");
            o.aggs = strdup(a ? a + 6 : "");
            o.f = n == 9 ? format_of(o.window, o.emit) : FMT_UNKNOWN;
            opinfo *q = realloc(g->ops, (g->n_ops + 1) * sizeof *q);
            if (!q || !o.name || !o.aggs) {
                fprintf(stderr, "rill-state: out of memory\n");
                exit(EXIT_OPEN);
            }
            g->ops = q;
            g->ops[g->n_ops++] = o;
        }
        if (nl) *nl = '\n';
        line = nl ? nl + 1 : NULL;
    }
}

static opinfo *find_op(graph *g, const char *name) {
    for (size_t i = 0; i < g->n_ops; i++)
        if (!strcmp(g->ops[i].name, name)) return &g->ops[i];
    return NULL;
}

/* ---- reading records ---------------------------------------------------------------- */

static int64_t rd64(const unsigned char *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t rd32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static json_t *hex(const unsigned char *p, size_t n) {
    char *s = malloc(2 * n + 1);
    if (!s) return json_null();
    for (size_t i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", p[i]);
    s[2 * n] = 0;
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* The record layout version this tool reads for o's kind of operator. */
static int layout_version(const opinfo *o) { return o->f == FMT_ON_EVENT ? 2 : 1; }

/* The block size this record implies, or -1 when it cannot tell. */
static long long block_of(const opinfo *o, const unsigned char *v, size_t n) {
    if (n < 1 || v[0] != layout_version(o)) return -1;
    switch (o->f) {
    case FMT_SLICED: {
        if (n < 13) return -1;
        uint32_t k = rd32(v + 9);
        if (!k || (n - 13) % k) return -1;
        return (long long)((n - 13) / k) - 8;
    }
    case FMT_SESSION: {
        if (n < 5) return -1;
        uint32_t k = rd32(v + 1);
        if (!k || (n - 5) % k) return -1;
        return (long long)((n - 5) / k) - 24;
    }
    case FMT_GLOBAL: {
        if (n < 37) return -1;
        uint64_t k = rd32(v + 33);
        if (n - 37 < 8 * k || (n - 37 - 8 * k) % (k + 1)) return -1;
        return (long long)((n - 37 - 8 * k) / (k + 1));
    }
    case FMT_ON_EVENT: {
        if (n < 25) return -1;
        uint32_t nf = rd32(v + 17), np = rd32(v + 21);
        if (np || !nf || (n - 25) % nf) return -1;
        return (long long)((n - 25) / nf) - 8;
    }
    default: return -1;
    }
}

/* Entries inside a record (slices, sessions, pending slices and events);
 * -1 when the layout is unknown or the record does not fit it. */
static long long entries_of(const opinfo *o, const unsigned char *v, size_t n) {
    if (!o || n < 1 || v[0] != layout_version(o)) return -1;
    switch (o->f) {
    case FMT_SLICED: return n >= 13 ? (long long)rd32(v + 9) : -1;
    case FMT_SESSION: return n >= 5 ? (long long)rd32(v + 1) : -1;
    case FMT_GLOBAL: return n >= 37 ? 1 + (long long)rd32(v + 33) : -1;
    case FMT_ON_EVENT: return n >= 25 ? (long long)rd32(v + 17) + rd32(v + 21) : -1;
    default: return -1;
    }
}

static json_t *key_json(const void *k, size_t klen) {
    rill_value v = rill_state_key_decode(k, klen);
    if (v.type == RILL_I64) return json_integer(v.as.i64);
    if (v.type == RILL_STRING) {
        json_t *s = json_stringn(v.as.str.ptr, v.as.str.len);
        if (s) return s;
    }
    json_t *o = json_object();
    json_object_set_new(o, "hex", hex(k, klen));
    return o;
}

/* ---- list / keys ---------------------------------------------------------------------- */

typedef struct counts {
    const opinfo *op;
    long long keys, entries, bytes;
    bool entries_known;
    /* keys command */
    bool print, as_json;
    long long limit;
} counts;

static int count_visit(void *user, const void *k, size_t klen, const void *v, size_t vlen) {
    counts *c = user;
    long long e = entries_of(c->op, v, vlen);
    if (e < 0) c->entries_known = false;
    else c->entries += e;
    c->keys++;
    c->bytes += (long long)(klen + vlen);
    if (c->print && (c->limit < 0 || c->keys <= c->limit)) {
        json_t *j = key_json(k, klen);
        if (c->as_json) {
            json_t *o = json_object();
            json_object_set_new(o, "key", j);
            json_object_set_new(o, "entries", e < 0 ? json_null() : json_integer(e));
            json_object_set_new(o, "bytes", json_integer((json_int_t)vlen));
            char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s\n", s);
            free(s);
            json_decref(o);
        } else {
            char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            if (e < 0) printf("%-40s %10s %10zu\n", s, "?", vlen);
            else printf("%-40s %10lld %10zu\n", s, e, vlen);
            free(s);
            json_decref(j);
        }
    }
    return 0;
}

/* The plan's metadata: watermarks, counters, blobs. */
typedef struct meta {
    json_t *sources, *ops, *blobs, *producers;
} meta;

static json_t *producers_json(const unsigned char *p, size_t len) {
    const unsigned char *end = p + len;
    json_t *arr = json_array();
    if (len < 5 || p[0] != 1) return arr;
    uint32_t sections = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    p += 5;
    for (uint32_t s = 0; s < sections; s++) {
        if (end - p < 2) break;
        size_t nlen = (size_t)p[0] << 8 | p[1];
        if ((size_t)(end - p) < 2 + nlen + 8) break;
        char *name = strndup((const char *)p + 2, nlen);
        const unsigned char *q = p + 2 + nlen;
        uint32_t ordinal = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        size_t tlen = (size_t)q[4] << 24 | (size_t)q[5] << 16 | (size_t)q[6] << 8 | q[7];
        q += 8;
        if ((size_t)(end - q) < tlen || tlen < 4) {
            free(name);
            break;
        }
        const unsigned char *t = q + 4, *tend = q + tlen;
        uint32_t n = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        for (uint32_t i = 0; i < n && t < tend; i++) {
            size_t il = t[0];
            if ((size_t)(tend - t) < 1 + il + 8) break;
            uint64_t last = 0;
            for (int b = 0; b < 8; b++) last = last << 8 | t[1 + il + b];
            json_t *o = json_object();
            json_object_set_new(o, "source", json_string(name ? name : ""));
            json_object_set_new(o, "reliable_source", json_integer(ordinal));
            json_t *id = json_stringn((const char *)t + 1, il);
            json_object_set_new(o, "producer", id ? id : hex(t + 1, il));
            json_object_set_new(o, "last_applied_seq", json_integer((json_int_t)last));
            json_array_append_new(arr, o);
            t += 1 + il + 8;
        }
        free(name);
        p = q + tlen;
    }
    return arr;
}

static json_t *ts_json(int64_t t) {
    return t == INT64_MIN ? json_null() : json_integer(t);
}

static int meta_visit(void *user, const void *key, size_t klen, const void *val, size_t vlen) {
    meta *m = user;
    const char *k = key;
    const unsigned char *v = val;
    if (klen > 4 && !memcmp(k, "src:", 4) && vlen == 8) {
        char *name = strndup(k + 4, klen - 4);
        if (name) json_object_set_new(m->sources, name, ts_json(rd64(v)));
        free(name);
    } else if (klen > 3 && !memcmp(k, "op:", 3) && vlen == 32) {
        char *name = strndup(k + 3, klen - 3);
        json_t *o = json_object();
        json_object_set_new(o, "watermark", ts_json(rd64(v)));
        json_object_set_new(o, "events_in", json_integer(rd64(v + 8)));
        json_object_set_new(o, "late", json_integer(rd64(v + 16)));
        json_object_set_new(o, "emitted", json_integer(rd64(v + 24)));
        if (name) json_object_set_new(m->ops, name, o);
        else json_decref(o);
        free(name);
    } else if (klen > 5 && !memcmp(k, "blob:", 5)) {
        char *name = strndup(k + 5, klen - 5);
        if (name) json_object_set_new(m->blobs, name, json_integer((json_int_t)vlen));
        if (name && !strcmp(name, "rill.engine.producers")) m->producers = producers_json(v, vlen);
        free(name);
    }
    return 0;
}

static int cmd_list(rill_state *s, graph *g, bool as_json) {
    meta m = { json_object(), json_object(), json_object(), NULL };
    rill_state_scan(s, "rill.plan", NULL, 0, NULL, 0, meta_visit, &m);
    if (!as_json) printf("%-28s %10s %10s %12s  %s\n", "namespace", "keys", "entries", "bytes", "what");
    for (size_t i = 0;; i++) {
        const char *ns;
        if (rill_state_ns_name(s, i, &ns) != RILL_OK) break;
        const opinfo *op = !strncmp(ns, "op:", 3) ? find_op(g, ns + 3) : NULL;
        counts c = { .op = op, .entries_known = op != NULL };
        int rc = rill_state_scan(s, ns, NULL, 0, NULL, 0, count_visit, &c);
        if (rc) {
            fprintf(stderr, "rill-state: reading %s: %s\n", ns, rill_state_errmsg(s));
            return EXIT_OPEN;
        }
        json_t *o = json_object();
        json_object_set_new(o, "namespace", json_string(ns));
        json_object_set_new(o, "keys", json_integer(c.keys));
        json_object_set_new(o, "entries", c.entries_known ? json_integer(c.entries) : json_null());
        json_object_set_new(o, "bytes", json_integer(c.bytes));
        char what[400] = "";
        if (op) {
            json_object_set_new(o, "operator", json_string(op->name));
            json_object_set_new(o, "window", json_string(window_name(op->window)));
            json_object_set_new(o, "emit", json_string(op->emit ? "on_event" : "on_close"));
            if (op->window == RILL_WINDOW_SESSION) json_object_set_new(o, "gap_ms", json_integer(op->gap));
            else if (op->window != RILL_WINDOW_GLOBAL) {
                json_object_set_new(o, "size_ms", json_integer(op->size));
                json_object_set_new(o, "slide_ms", json_integer(op->slide));
            }
            json_object_set_new(o, "aggregates", json_string(op->aggs));
            json_t *om = json_object_get(m.ops, op->name);
            if (om) json_object_set(o, "checkpoint", om);
            const char *em = op->window == RILL_WINDOW_GLOBAL ? "" : op->emit ? ", on event" : ", on close";
            if (op->window == RILL_WINDOW_SESSION)
                snprintf(what, sizeof what, "session, gap %lld ms%s", op->gap, em);
            else if (op->window == RILL_WINDOW_GLOBAL)
                snprintf(what, sizeof what, "global, trigger %s %lld",
                         op->trigger == RILL_TRIGGER_EVERY_N ? "every N events:" :
                         op->trigger == RILL_TRIGGER_EVERY_MS ? "every ms:" : "every event", op->every);
            else if (op->window == RILL_WINDOW_SLIDING)
                snprintf(what, sizeof what, "sliding %lld ms by %lld ms%s", op->size, op->slide, em);
            else
                snprintf(what, sizeof what, "%s %lld ms%s", window_name(op->window), op->size, em);
        } else if (!strcmp(ns, "rill.plan")) {
            json_object_set(o, "source_watermarks", m.sources);
            json_object_set(o, "blobs", m.blobs);
            if (m.producers) json_object_set(o, "producers", m.producers);
            snprintf(what, sizeof what, "the plan: graph, watermarks, counters, %zu blob(s)",
                     json_object_size(m.blobs));
        } else if (!strncmp(ns, "op:", 3)) {
            snprintf(what, sizeof what, "an operator the stored graph does not name");
        }
        if (as_json) {
            char *t = json_dumps(o, JSON_COMPACT);
            printf("%s\n", t);
            free(t);
        } else if (c.entries_known) {
            printf("%-28s %10lld %10lld %12lld  %s\n", ns, c.keys, c.entries, c.bytes, what);
        } else {
            printf("%-28s %10lld %10s %12lld  %s\n", ns, c.keys, "-", c.bytes, what);
        }
        json_decref(o);
    }
    if (!as_json) {
        const char *name;
        json_t *v;
        json_object_foreach(m.sources, name, v) {
            if (json_is_integer(v)) printf("source %s: watermark %" JSON_INTEGER_FORMAT "\n", name, json_integer_value(v));
            else printf("source %s: no event yet\n", name);
        }
        json_object_foreach(m.ops, name, v) {
            printf("operator %s: %" JSON_INTEGER_FORMAT " events in, %" JSON_INTEGER_FORMAT
                   " late, %" JSON_INTEGER_FORMAT " emitted\n", name,
                   json_integer_value(json_object_get(v, "events_in")),
                   json_integer_value(json_object_get(v, "late")),
                   json_integer_value(json_object_get(v, "emitted")));
        }
        size_t i;
        json_array_foreach(m.producers, i, v) {
            printf("producer %s on %s: last applied seq %" JSON_INTEGER_FORMAT "\n",
                   json_string_value(json_object_get(v, "producer")),
                   json_string_value(json_object_get(v, "source")),
                   json_integer_value(json_object_get(v, "last_applied_seq")));
        }
    }
    json_decref(m.sources);
    json_decref(m.ops);
    json_decref(m.blobs);
    json_decref(m.producers);
    return 0;
}

static int cmd_keys(rill_state *s, graph *g, const char *opname, bool as_json, long long limit) {
    char ns[600];
    snprintf(ns, sizeof ns, "op:%s", opname);
    counts c = { .op = find_op(g, opname), .entries_known = true, .print = true, .as_json = as_json,
                 .limit = limit };
    if (!as_json) printf("%-40s %10s %10s\n", "key", "entries", "bytes");
    int rc = rill_state_scan(s, ns, NULL, 0, NULL, 0, count_visit, &c);
    if (rc == RILL_ENOT_FOUND) {
        fprintf(stderr, "rill-state: no operator '%s' in this state\n", opname);
        return EXIT_NOT_FOUND;
    }
    if (rc) {
        fprintf(stderr, "rill-state: %s\n", rill_state_errmsg(s));
        return EXIT_OPEN;
    }
    if (!as_json && limit >= 0 && c.keys > limit) printf("... %lld keys in all\n", c.keys);
    return 0;
}

/* ---- dump ---------------------------------------------------------------------------- */

typedef struct find_block { opinfo *op; } find_block;

static int block_visit(void *user, const void *k, size_t klen, const void *v, size_t vlen) {
    find_block *f = user;
    long long b = block_of(f->op, v, vlen);
    if (b < 0) return 0;
    f->op->block = b;
    return 1; /* found: stop */
}

static long long gcd(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static long long floor_div(long long a, long long b) {
    long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The window starts on the grid offset + k*slide that hold time t. */
static void windows_of(const opinfo *o, long long t, long long *lo, long long *hi) {
    long long last = o->offset + floor_div(t - o->offset, o->slide) * o->slide;
    *hi = last;
    *lo = last - ((o->size - 1) / o->slide) * o->slide;
    while (*lo + o->size <= t) *lo += o->slide;
}

static json_t *dump_sliced(opinfo *o, const unsigned char *v, size_t n, long long bs) {
    json_t *r = json_object();
    int64_t fired = rd64(v + 1);
    uint32_t k = rd32(v + 9);
    long long g = gcd(o->size, o->slide);
    json_object_set_new(r, "fired_upto", ts_json(fired));
    json_t *slices = json_array();
    long long wlo = 0, whi = 0;
    bool any = false;
    for (uint32_t i = 0; i < k; i++) {
        const unsigned char *e = v + 13 + (size_t)i * (size_t)(8 + bs);
        int64_t start = rd64(e);
        json_t *s = json_object();
        json_object_set_new(s, "start", json_integer(start));
        json_object_set_new(s, "end", json_integer(start + g));
        json_object_set_new(s, "block", hex(e + 8, (size_t)bs));
        json_array_append_new(slices, s);
        long long lo, hi;
        windows_of(o, start, &lo, &hi);
        if (!any || lo < wlo) wlo = lo;
        if (!any || hi > whi) whi = hi;
        any = true;
    }
    json_object_set_new(r, "slices", slices);
    /* the windows those slices belong to, and whether each was emitted */
    json_t *wins = json_array();
    for (long long w = wlo; any && w <= whi && json_array_size(wins) < 1000; w += o->slide) {
        json_t *x = json_object();
        json_object_set_new(x, "start", json_integer(w));
        json_object_set_new(x, "end", json_integer(w + o->size));
        json_object_set_new(x, "emitted", json_boolean(w + o->size <= fired));
        json_array_append_new(wins, x);
    }
    json_object_set_new(r, "windows", wins);
    return r;
}

static json_t *dump_session(opinfo *o, const unsigned char *v, size_t n, long long bs) {
    json_t *r = json_object();
    uint32_t k = rd32(v + 1);
    json_t *arr = json_array();
    for (uint32_t i = 0; i < k; i++) {
        const unsigned char *e = v + 5 + (size_t)i * (size_t)(24 + bs);
        int64_t start = rd64(e), last = rd64(e + 8);
        uint64_t flags = (uint64_t)rd64(e + 16);
        json_t *s = json_object();
        json_object_set_new(s, "start", json_integer(start));
        json_object_set_new(s, "last", json_integer(last));
        json_object_set_new(s, "end", json_integer(last + o->gap));
        json_object_set_new(s, "fired", json_boolean(flags & 1));
        json_object_set_new(s, "emitted_before", json_boolean(flags & 2));
        json_object_set_new(s, "block", hex(e + 24, (size_t)bs));
        json_array_append_new(arr, s);
    }
    json_object_set_new(r, "sessions", arr);
    return r;
}

static json_t *dump_global(opinfo *o, const unsigned char *v, size_t n, long long bs) {
    json_t *r = json_object();
    json_object_set_new(r, "count", json_integer(rd64(v + 1)));
    json_object_set_new(r, "unemitted", json_integer(rd64(v + 9)));
    json_object_set_new(r, "first_ts", json_integer(rd64(v + 17)));
    json_object_set_new(r, "last_ts", json_integer(rd64(v + 25)));
    json_object_set_new(r, "total_block", hex(v + 37, (size_t)bs));
    uint32_t k = rd32(v + 33);
    json_t *arr = json_array();
    for (uint32_t i = 0; i < k; i++) {
        const unsigned char *e = v + 37 + (size_t)bs + (size_t)i * (size_t)(8 + bs);
        json_t *s = json_object();
        json_object_set_new(s, "start", json_integer(rd64(e)));
        json_object_set_new(s, "end", json_integer(rd64(e) + o->every));
        json_object_set_new(s, "block", hex(e + 8, (size_t)bs));
        json_array_append_new(arr, s);
    }
    json_object_set_new(r, "pending_slices", arr);
    return r;
}

static json_t *dump_on_event(opinfo *o, const unsigned char *v, size_t n, long long bs) {
    json_t *r = json_object();
    uint32_t nf = rd32(v + 17), np = rd32(v + 21);
    json_object_set_new(r, "next_seq", json_integer(rd64(v + 1)));
    json_object_set_new(r, "run_start", json_integer(rd64(v + 9)));
    const unsigned char *p = v + 25, *end = v + n;
    json_t *fifo = json_array(), *pend = json_array();
    for (uint32_t i = 0; i < nf && (size_t)(end - p) >= (size_t)(8 + bs); i++) {
        json_t *s = json_object();
        json_object_set_new(s, "ts", json_integer(rd64(p)));
        json_object_set_new(s, "block", hex(p + 8, (size_t)bs));
        json_array_append_new(fifo, s);
        p += 8 + bs;
    }
    for (uint32_t i = 0; i < np && end - p >= 12; i++) {
        uint32_t il = rd32(p + 8);
        if ((size_t)(end - p) < 12 + (size_t)il + (size_t)bs) break;
        json_t *s = json_object();
        json_object_set_new(s, "ts", json_integer(rd64(p)));
        json_object_set_new(s, "id", il ? key_json(p + 12, il) : json_null());
        json_object_set_new(s, "block", hex(p + 12 + il, (size_t)bs));
        json_array_append_new(pend, s);
        p += 12 + il + bs;
    }
    json_object_set_new(r, "window_events", fifo);
    json_object_set_new(r, "pending_events", pend);
    return r;
}

static int cmd_dump(rill_state *s, graph *g, const char *opname, const char *keyarg, int key_type,
                    bool compact) {
    char ns[600];
    snprintf(ns, sizeof ns, "op:%s", opname);
    unsigned char kb[RILL_KEY_MAX + 16];
    size_t klen = 0;
    void *val = NULL;
    size_t vlen = 0;
    int rc = RILL_ENOT_FOUND;
    char *end;
    errno = 0;
    long long iv = strtoll(keyarg, &end, 10);
    bool is_int = *keyarg && !*end && !errno;
    if (key_type != 's' && (key_type == 'i' || is_int)) {
        if (!is_int) {
            fprintf(stderr, "rill-state: '%s' is not an integer key\n", keyarg);
            return EXIT_USAGE;
        }
        klen = rill_state_key_encode(rill_i64(iv), kb, sizeof kb);
        rc = rill_state_get(s, ns, kb, klen, &val, &vlen);
    }
    if (rc == RILL_ENOT_FOUND && key_type != 'i') {
        klen = rill_state_key_encode(rill_str(keyarg), kb, sizeof kb);
        if (!klen) {
            fprintf(stderr, "rill-state: key too long\n");
            return EXIT_USAGE;
        }
        rc = rill_state_get(s, ns, kb, klen, &val, &vlen);
    }
    if (rc == RILL_ENOT_FOUND) {
        const char *probe;
        bool has_op = false;
        for (size_t i = 0; rill_state_ns_name(s, i, &probe) == RILL_OK; i++) has_op = has_op || !strcmp(probe, ns);
        if (has_op) fprintf(stderr, "rill-state: operator '%s' holds no state for key %s\n", opname, keyarg);
        else fprintf(stderr, "rill-state: no operator '%s' in this state\n", opname);
        return EXIT_NOT_FOUND;
    }
    if (rc) {
        fprintf(stderr, "rill-state: %s\n", rill_state_errmsg(s));
        return EXIT_OPEN;
    }
    opinfo *o = find_op(g, opname);
    const unsigned char *v = val;
    json_t *r = json_object();
    json_object_set_new(r, "operator", json_string(opname));
    json_object_set_new(r, "key", key_json(kb, klen));
    json_object_set_new(r, "bytes", json_integer((json_int_t)vlen));
    if (o) {
        json_object_set_new(r, "window", json_string(window_name(o->window)));
        json_object_set_new(r, "emit", json_string(o->emit ? "on_event" : "on_close"));
        json_object_set_new(r, "aggregates", json_string(o->aggs));
    }
    json_object_set_new(r, "version", vlen ? json_integer(v[0]) : json_null());
    long long bs = o ? block_of(o, v, vlen) : -1;
    if (o && bs < 0 && o->f != FMT_UNKNOWN && vlen && v[0] == layout_version(o)) {
        /* this record cannot tell its block size: another key's can */
        find_block f = { o };
        rill_state_scan(s, ns, NULL, 0, NULL, 0, block_visit, &f);
        bs = o->block;
        if (o->f == FMT_ON_EVENT && bs < 0 && vlen >= 25 && rd32(v + 17) == 0 && rd32(v + 21) == 0) bs = 0;
    }
    json_t *body = NULL;
    if (o && bs >= 0 && vlen && v[0] == layout_version(o)) {
        json_object_set_new(r, "block_bytes", json_integer(bs));
        switch (o->f) {
        case FMT_SLICED: body = dump_sliced(o, v, vlen, bs); break;
        case FMT_SESSION: body = dump_session(o, v, vlen, bs); break;
        case FMT_GLOBAL: body = dump_global(o, v, vlen, bs); break;
        case FMT_ON_EVENT: body = dump_on_event(o, v, vlen, bs); break;
        default: break;
        }
    }
    if (body) json_object_update(r, body);
    else json_object_set_new(r, "raw", hex(v, vlen));
    json_decref(body);
    char *t = json_dumps(r, compact ? JSON_COMPACT : JSON_INDENT(2));
    printf("%s\n", t);
    free(t);
    json_decref(r);
    free(val);
    return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    bool as_json = false, compact = false;
    int key_type = 0;
    long long limit = -1;
    enum { O_JSON = 256, O_COMPACT, O_INT, O_STRING, O_LIMIT };
    static const struct option lo[] = {
        { "json", no_argument, 0, O_JSON }, { "compact", no_argument, 0, O_COMPACT },
        { "int", no_argument, 0, O_INT }, { "string", no_argument, 0, O_STRING },
        { "limit", required_argument, 0, O_LIMIT }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_JSON: as_json = true; break;
        case O_COMPACT: compact = true; break;
        case O_INT: key_type = 'i'; break;
        case O_STRING: key_type = 's'; break;
        case O_LIMIT: limit = atoll(optarg); break;
        case 'h': fputs(s_usage, stdout); return 0;
        default: goto usage;
        }
    }
    if (argc - optind < 2) goto usage;
    const char *dir = argv[optind], *cmd = argv[optind + 1];
    int nargs = argc - optind - 2;
    char **args = argv + optind + 2;
    if (!((!strcmp(cmd, "list") && nargs == 0) || (!strcmp(cmd, "graph") && nargs == 0) ||
          (!strcmp(cmd, "keys") && nargs == 1) || (!strcmp(cmd, "dump") && nargs == 2)))
        goto usage;

    rill_state *s;
    rill_rocksdb_opts ro = { .read_only = true };
    int rc = rill_state_open_rocksdb(dir, &ro, &s);
    if (rc) {
        fprintf(stderr, "rill-state: %s: %s\n", rill_errname(rc), rill_state_errmsg(NULL));
        return EXIT_OPEN;
    }
    graph g = { 0 };
    void *fp = NULL;
    size_t fplen = 0;
    rc = rill_state_get(s, "rill.plan", "fingerprint", 11, &fp, &fplen);
    if (rc == RILL_OK) {
        g.fp = malloc(fplen + 1);
        if (!g.fp) abort();
        memcpy(g.fp, fp, fplen);
        g.fp[fplen] = 0;
        free(fp);
        parse_graph(&g);
    } else if (rc != RILL_ENOT_FOUND) {
        fprintf(stderr, "rill-state: reading the graph: %s\n", rill_state_errmsg(s));
    }
    int ex;
    if (!strcmp(cmd, "graph")) {
        if (g.fp) fputs(g.fp, stdout);
        else fprintf(stderr, "rill-state: no graph has committed to this state yet\n");
        ex = g.fp ? 0 : EXIT_NOT_FOUND;
    } else if (!strcmp(cmd, "list")) {
        ex = cmd_list(s, &g, as_json);
    } else if (!strcmp(cmd, "keys")) {
        ex = cmd_keys(s, &g, args[0], as_json, limit);
    } else {
        ex = cmd_dump(s, &g, args[0], args[1], key_type, compact);
    }
    for (size_t i = 0; i < g.n_ops; i++) {
        free(g.ops[i].name);
        free(g.ops[i].aggs);
    }
    free(g.ops);
    free(g.fp);
    rill_state_close(s);
    return ex;

usage:
    fprintf(stderr, "%srun 'rill-state --help' for the commands\n",
            argc - optind < 2 ? "rill-state: a directory and a command are needed; " : "rill-state: bad command; ");
    return EXIT_USAGE;
}
