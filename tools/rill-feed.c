/* tools/rill-feed.c — send events from a CSV or JSON-lines file to a rill
 * engine over ZeroMQ.
 *
 * Each input row becomes one event in rill's wire format (a msgpack map with
 * "ts", "key", optional "id" and the other columns as fields); events are
 * grouped into messages of up to --batch events (a msgpack array, or a bare
 * map for --batch 1) and sent on a PUSH socket, or on a DEALER socket to a
 * reliable ROUTER source with sequence numbers, acknowledgements and
 * resends. Three paces: as fast as possible, a fixed rate, or a replay of
 * the event times at N times their speed.
 *
 * CSV: the first row names the columns; fields are separated by commas (or
 * --delimiter), may be quoted with "..." ("" is a quote inside), and quoted
 * fields may hold delimiters and newlines. A value's type is inferred
 * (integer, float, true/false, else string) unless --type says otherwise;
 * an empty value is a missing field. JSON lines are read with jansson.
 *
 * It does not transform values beyond the type conversions listed in
 * --help, and without --reliable it cannot know what the engine received:
 * it only knows ZeroMQ accepted the messages for a connected peer.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define EXIT_USAGE 1
#define EXIT_INPUT 2
#define EXIT_ENDPOINT 3
#define EXIT_UNACKED 4
#define EXIT_INTERRUPTED 5

static const char *s_usage =
"usage: rill-feed [options] [FILE]\n"
"\n"
"Send the rows of FILE (CSV with a header row, or JSON lines; '-' or none =\n"
"standard input) as events to a rill engine.\n"
"\n"
"  -e, --endpoint EP     where to send (default tcp://127.0.0.1:5555)\n"
"      --bind            bind EP and wait for the engine to connect\n"
"  -f, --format FMT      csv or jsonl (default: from the file name, else csv)\n"
"  -d, --delimiter C     CSV field delimiter (default ,)\n"
"      --ts NAME         column with the event time (default ts)\n"
"      --no-ts           send no event time (processing-time sources)\n"
"      --ts-unit U       ms, s, us or ns: how to read a numeric time (default ms;\n"
"                        s may have decimals)\n"
"      --ts-format F     read the time as text with strptime format F, in UTC,\n"
"                        with optional .fraction seconds and Z; 'iso8601' means\n"
"                        %%Y-%%m-%%dT%%H:%%M:%%S\n"
"      --key NAME        column with the key (default key)\n"
"      --id NAME         column with the event id (default id, when present)\n"
"      --fields A,B,..   send only these columns as fields (default: all others)\n"
"      --type NAME=T     the type to send column NAME as: i64, f64, bool, string\n"
"                        (repeatable; NAME may be key or id; default inferred)\n"
"  -b, --batch N         events per message (default 100; 1 sends bare maps)\n"
"  -r, --rate N          send N events per second\n"
"  -x, --speed X         replay event time at X times real time\n"
"      --reliable        EP is a reliable (ROUTER) source: number the messages,\n"
"                        wait for acknowledgements, resend on timeout\n"
"      --producer ID     producer id for --reliable (default rill-feed-PID; give a\n"
"                        stable one so that a restart is recognised)\n"
"      --seq-start N     first sequence number (default 1)\n"
"      --window N        messages in flight without an ack (default 1000)\n"
"      --ack-timeout MS  resend what is unacknowledged after MS (default 1000)\n"
"      --retries N       resends before giving up (default 10)\n"
"  -t, --timeout MS      wait at most MS for a peer (default 5000)\n"
"  -q, --quiet           no progress display\n"
"  -h, --help            this text\n"
"\n"
"Examples:\n"
"  rill-feed -e tcp://127.0.0.1:5555 events.csv\n"
"  rill-feed --rate 10000 --key user --type user=string clicks.csv\n"
"  rill-feed --speed 60 --ts time --ts-format iso8601 trips.csv\n"
"  rill-feed -e tcp://127.0.0.1:5557 --reliable --producer loader-1 events.jsonl\n"
"  producer | rill-feed -f jsonl -\n"
"\n"
"Exit status:\n"
"  0  every row was sent (and acknowledged, with --reliable)\n"
"  1  usage error\n"
"  2  input error: the file could not be read, or some rows were skipped\n"
"     (each is reported; the others were sent)\n"
"  3  endpoint error: a bad endpoint, or no peer within --timeout\n"
"  4  --reliable: messages remain unacknowledged after --retries resends\n"
"  5  interrupted (SIGINT/SIGTERM); what was read so far was sent\n";

/* ---- options ------------------------------------------------------------------ */

typedef enum { T_AUTO, T_F64, T_I64, T_BOOL, T_STR } vtype;

typedef struct type_opt { char *name; vtype t; } type_opt;

typedef struct opts {
    const char *endpoint, *file, *format;
    char delim;
    bool bind, no_ts, reliable, quiet;
    const char *ts_col, *key_col, *id_col, *ts_format;
    int64_t ts_mul, ts_div; /* ms = value * mul / div */
    bool ts_seconds;        /* s: decimals allowed */
    char **fields;
    size_t n_fields;
    type_opt *types;
    size_t n_types;
    size_t batch;
    double rate, speed;
    char producer[256];
    uint64_t seq_start;
    size_t window;
    int ack_timeout, retries, timeout;
} opts;

static volatile sig_atomic_t s_interrupted;
static void on_signal(int sig) { (void)sig; s_interrupted = 1; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
    for (;;) {
        double d = t - now_s();
        if (d <= 0 || s_interrupted) return;
        struct timespec ts = { .tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static vtype parse_vtype(const char *s, bool *ok) {
    *ok = true;
    if (!strcmp(s, "f64") || !strcmp(s, "float") || !strcmp(s, "double")) return T_F64;
    if (!strcmp(s, "i64") || !strcmp(s, "int") || !strcmp(s, "integer")) return T_I64;
    if (!strcmp(s, "bool")) return T_BOOL;
    if (!strcmp(s, "string") || !strcmp(s, "str")) return T_STR;
    *ok = false;
    return T_AUTO;
}

static vtype type_of(const opts *o, const char *name) {
    for (size_t i = 0; i < o->n_types; i++)
        if (!strcmp(o->types[i].name, name)) return o->types[i].t;
    return T_AUTO;
}

static bool wanted_field(const opts *o, const char *name) {
    if (!o->n_fields) return true;
    for (size_t i = 0; i < o->n_fields; i++)
        if (!strcmp(o->fields[i], name)) return true;
    return false;
}

/* ---- values -------------------------------------------------------------------- */

/* A typed value ready to pack. Strings point into the row being read. */
typedef struct val {
    vtype t; /* T_AUTO = absent */
    union { double f; int64_t i; bool b; struct { const char *p; size_t n; } s; } u;
} val;

static bool parse_i64(const char *s, size_t n, int64_t *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool parse_f64(const char *s, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno == ERANGE || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* Text s[0..n) as a value of type t (T_AUTO: inferred). False when it
 * cannot be read as t. */
static bool text_value(const char *s, size_t n, vtype t, val *v) {
    switch (t) {
    case T_STR:
        v->t = T_STR;
        v->u.s.p = s;
        v->u.s.n = n;
        return true;
    case T_I64: v->t = T_I64; return parse_i64(s, n, &v->u.i);
    case T_F64: v->t = T_F64; return parse_f64(s, n, &v->u.f);
    case T_BOOL:
        v->t = T_BOOL;
        if (n == 4 && !memcmp(s, "true", 4)) { v->u.b = true; return true; }
        if (n == 5 && !memcmp(s, "false", 5)) { v->u.b = false; return true; }
        if (n == 1 && (*s == '1' || *s == '0')) { v->u.b = *s == '1'; return true; }
        return false;
    case T_AUTO:
        if (parse_i64(s, n, &v->u.i)) { v->t = T_I64; return true; }
        if (parse_f64(s, n, &v->u.f)) { v->t = T_F64; return true; }
        if (n == 4 && !memcmp(s, "true", 4)) { v->t = T_BOOL; v->u.b = true; return true; }
        if (n == 5 && !memcmp(s, "false", 5)) { v->t = T_BOOL; v->u.b = false; return true; }
        return text_value(s, n, T_STR, v);
    }
    return false;
}

/* Event time from text, per --ts-unit / --ts-format. */
static bool text_ts(const opts *o, const char *s, size_t n, int64_t *ms) {
    if (o->ts_format) {
        char buf[128];
        if (n >= sizeof buf) return false;
        memcpy(buf, s, n);
        buf[n] = 0;
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(buf, o->ts_format, &tm);
        if (!rest) return false;
        double frac = 0;
        if (*rest == '.') {
            char *end;
            frac = strtod(rest, &end);
            rest = end;
        }
        if (*rest == 'Z') rest++;
        if (*rest) return false;
        time_t secs = timegm(&tm);
        *ms = (int64_t)secs * 1000 + (int64_t)llround(frac * 1000);
        return true;
    }
    int64_t i;
    if (parse_i64(s, n, &i)) {
        if (o->ts_div == 1 && (i > INT64_MAX / o->ts_mul || i < INT64_MIN / o->ts_mul)) return false;
        *ms = i * o->ts_mul / o->ts_div;
        return true;
    }
    double d;
    if (o->ts_seconds && parse_f64(s, n, &d) && fabs(d) < 9e15) {
        *ms = (int64_t)llround(d * 1000);
        return true;
    }
    return false;
}

/* ---- packing ---------------------------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_val(msgpack_packer *pk, const val *v) {
    switch (v->t) {
    case T_F64: msgpack_pack_double(pk, v->u.f); break;
    case T_I64: msgpack_pack_int64(pk, v->u.i); break;
    case T_BOOL: if (v->u.b) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case T_STR: pack_str(pk, v->u.s.p, v->u.s.n); break;
    default: msgpack_pack_nil(pk);
    }
}

/* One event being assembled from a row. */
typedef struct event {
    bool has_ts;
    int64_t ts;
    val key, id;
    size_t n;          /* fields */
    const char **names;
    size_t *name_lens;
    val *vals;
    size_t cap;
} event;

static int event_add(event *ev, const char *name, size_t len, val v) {
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? 2 * ev->cap : 16;
        const char **nm = realloc(ev->names, cap * sizeof *nm);
        if (nm) ev->names = nm;
        size_t *nl = realloc(ev->name_lens, cap * sizeof *nl);
        if (nl) ev->name_lens = nl;
        val *vs = realloc(ev->vals, cap * sizeof *vs);
        if (vs) ev->vals = vs;
        if (!nm || !nl || !vs) return -1;
        ev->cap = cap;
    }
    ev->names[ev->n] = name;
    ev->name_lens[ev->n] = len;
    ev->vals[ev->n++] = v;
    return 0;
}

static void pack_event(msgpack_packer *pk, const event *ev) {
    size_t n = ev->n + ev->has_ts + (ev->key.t != T_AUTO) + (ev->id.t != T_AUTO);
    msgpack_pack_map(pk, n);
    if (ev->has_ts) {
        pack_str(pk, "ts", 2);
        msgpack_pack_int64(pk, ev->ts);
    }
    if (ev->key.t != T_AUTO) {
        pack_str(pk, "key", 3);
        pack_val(pk, &ev->key);
    }
    if (ev->id.t != T_AUTO) {
        pack_str(pk, "id", 2);
        pack_val(pk, &ev->id);
    }
    for (size_t i = 0; i < ev->n; i++) {
        pack_str(pk, ev->names[i], ev->name_lens[i]);
        pack_val(pk, &ev->vals[i]);
    }
}

/* ---- sending ------------------------------------------------------------------------ */

typedef struct inflight {
    uint64_t seq;
    char *data;
    size_t len;
    size_t events;
    double sent_at;
    bool acked;
} inflight;

typedef struct sender {
    const opts *o;
    void *ctx, *sock;
    msgpack_sbuffer events; /* packed events of the message being formed */
    size_t n_events;
    double first_due;       /* --speed: wall time the message is due */
    /* reliable */
    uint64_t next_seq;
    inflight *ring;         /* window slots, indexed by seq % window */
    uint64_t base;          /* oldest unacknowledged seq */
    int resends;            /* consecutive timeouts without progress */
    bool gave_up;
    /* figures */
    uint64_t sent_events, sent_msgs, acked_msgs, acked_events, resent_msgs;
    uint64_t skipped;
    double t0, last_progress;
    bool tty;
    int error;              /* an exit status, 0 while fine */
} sender;

static void progress(sender *s, bool force) {
    if (!s->tty || s->o->quiet) return;
    double t = now_s();
    if (!force && t - s->last_progress < 0.25) return;
    s->last_progress = t;
    double dt = t - s->t0;
    fprintf(stderr, "\rrill-feed: sent %" PRIu64 " events", s->sent_events);
    if (s->o->reliable) fprintf(stderr, ", acknowledged %" PRIu64, s->acked_events);
    fprintf(stderr, ", %.0f events/s   ", dt > 0 ? (double)s->sent_events / dt : 0.0);
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

static const char *peer_hint(const opts *o) {
    return o->bind ? "no engine connected" : "no engine reachable (is it running, bound there?)";
}

/* Send frames; false (with s->error set) when no peer took them in time. */
static bool send_frames(sender *s, const void *a, size_t alen, const void *b, size_t blen) {
    for (;;) {
        int rc = a ? zmq_send(s->sock, a, alen, ZMQ_SNDMORE) : 0;
        if (rc >= 0) rc = zmq_send(s->sock, b, blen, 0);
        if (rc >= 0) return true;
        if (errno == EINTR && !s_interrupted) continue;
        if (errno == EINTR) {
            s->error = EXIT_INTERRUPTED;
            return false;
        }
        if (errno == EAGAIN)
            fprintf(stderr, "\nrill-feed: %s: %s within %d ms\n", s->o->endpoint, peer_hint(s->o),
                    s->o->timeout);
        else
            fprintf(stderr, "\nrill-feed: %s: send failed: %s\n", s->o->endpoint, zmq_strerror(errno));
        s->error = EXIT_ENDPOINT;
        return false;
    }
}

/* Take the acks that arrived, waiting up to wait_ms for the first. */
static void take_acks(sender *s, int wait_ms) {
    zmq_pollitem_t it = { .socket = s->sock, .events = ZMQ_POLLIN };
    if (zmq_poll(&it, 1, wait_ms) <= 0) return;
    unsigned char ack[32];
    int n;
    while ((n = zmq_recv(s->sock, ack, sizeof ack, ZMQ_DONTWAIT)) >= 0) {
        if (n != 16) continue;
        uint64_t first = get_be64(ack), last = get_be64(ack + 8);
        for (uint64_t q = first; q <= last && q >= first; q++) {
            if (q < s->base || q >= s->next_seq) continue;
            inflight *f = &s->ring[q % s->o->window];
            if (f->seq != q || f->acked) continue;
            f->acked = true;
            s->acked_msgs++;
            s->acked_events += f->events;
            free(f->data);
            f->data = NULL;
        }
        bool progressed = false;
        while (s->base < s->next_seq && s->ring[s->base % s->o->window].acked) {
            s->base++;
            progressed = true;
        }
        if (progressed) s->resends = 0;
    }
}

/* Resend everything unacknowledged once the oldest has waited too long. */
static void check_timeouts(sender *s) {
    if (s->base == s->next_seq) return;
    inflight *oldest = &s->ring[s->base % s->o->window];
    if (now_s() - oldest->sent_at < s->o->ack_timeout / 1000.0) return;
    if (s->resends >= s->o->retries) {
        s->gave_up = true;
        return;
    }
    s->resends++;
    for (uint64_t q = s->base; q < s->next_seq; q++) {
        inflight *f = &s->ring[q % s->o->window];
        if (f->acked) continue;
        unsigned char seq[8];
        put_be64(seq, q);
        if (!send_frames(s, seq, 8, f->data, f->len)) return;
        f->sent_at = now_s();
        s->resent_msgs++;
    }
}

/* Send the message formed so far. */
static void flush_message(sender *s) {
    if (!s->n_events || s->error) return;
    msgpack_sbuffer msg;
    msgpack_sbuffer_init(&msg);
    if (s->n_events > 1 || s->o->batch > 1) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &msg, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, s->n_events);
    }
    msgpack_sbuffer_write(&msg, s->events.data, s->events.size);
    if (!s->o->reliable) {
        if (send_frames(s, NULL, 0, msg.data, msg.size)) {
            s->sent_events += s->n_events;
            s->sent_msgs++;
        }
        msgpack_sbuffer_destroy(&msg);
    } else {
        /* a free slot in the window first */
        while (s->next_seq - s->base >= s->o->window && !s->gave_up && !s->error && !s_interrupted) {
            take_acks(s, 50);
            check_timeouts(s);
            progress(s, false);
        }
        if (s->gave_up || s->error || s_interrupted) {
            msgpack_sbuffer_destroy(&msg);
        } else {
            uint64_t q = s->next_seq++;
            inflight *f = &s->ring[q % s->o->window];
            *f = (inflight){ .seq = q, .data = msg.data, .len = msg.size, .events = s->n_events,
                             .sent_at = now_s() };
            msg.data = NULL; /* the slot owns it now */
            unsigned char seq[8];
            put_be64(seq, q);
            if (send_frames(s, seq, 8, f->data, f->len)) {
                s->sent_events += s->n_events;
                s->sent_msgs++;
            }
            take_acks(s, 0);
            check_timeouts(s);
        }
    }
    msgpack_sbuffer_clear(&s->events);
    s->n_events = 0;
    progress(s, false);
}

/* Pace and queue one event. */
static void send_event(sender *s, const event *ev) {
    const opts *o = s->o;
    if (o->speed > 0 && ev->has_ts) {
        static bool started;
        static int64_t ts0;
        if (!started) {
            started = true;
            ts0 = ev->ts;
        }
        double due = s->t0 + (double)(ev->ts - ts0) / 1000.0 / o->speed;
        if (s->n_events && due > s->first_due + 0.0005) flush_message(s);
        if (!s->n_events) {
            s->first_due = due;
            sleep_until(due);
        }
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s->events, msgpack_sbuffer_write);
    pack_event(&pk, ev);
    s->n_events++;
    if (s->n_events >= o->batch) {
        flush_message(s);
        if (o->rate > 0) sleep_until(s->t0 + (double)s->sent_events / o->rate);
    }
}

/* ---- reading CSV ---------------------------------------------------------------------- */

typedef struct csv {
    FILE *f;
    char delim;
    char *buf;          /* field bytes of the current row */
    size_t len, cap;
    size_t *starts, *lens;
    size_t n, cap_f;
    uint64_t line;      /* line of the row's start */
    uint64_t next_line;
} csv;

static int csv_push(csv *c, int ch) {
    if (c->len == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        char *b = realloc(c->buf, cap);
        if (!b) return -1;
        c->buf = b;
        c->cap = cap;
    }
    c->buf[c->len++] = (char)ch;
    return 0;
}

static int csv_end_field(csv *c, size_t start) {
    if (c->n == c->cap_f) {
        size_t cap = c->cap_f ? 2 * c->cap_f : 32;
        size_t *s = realloc(c->starts, cap * sizeof *s);
        if (s) c->starts = s;
        size_t *l = realloc(c->lens, cap * sizeof *l);
        if (l) c->lens = l;
        if (!s || !l) return -1;
        c->cap_f = cap;
    }
    c->starts[c->n] = start;
    c->lens[c->n++] = c->len - start;
    return 0;
}

/* Read one row into c. 1 = a row, 0 = end of input, -1 = error (message
 * printed): an unterminated quote or out of memory. */
static int csv_row(csv *c) {
    c->len = c->n = 0;
    c->line = c->next_line;
    int ch = getc(c->f);
    while (ch == '\r' || ch == '\n') { /* skip blank lines */
        if (ch == '\n') c->line = ++c->next_line;
        ch = getc(c->f);
    }
    if (ch == EOF) return 0;
    size_t start = 0;
    bool quoted = false, was_quoted = false;
    for (;; ch = getc(c->f)) {
        if (quoted) {
            if (ch == EOF) {
                fprintf(stderr, "rill-feed: line %" PRIu64 ": a quoted field is not closed\n", c->line);
                return -1;
            }
            if (ch == '"') {
                int nx = getc(c->f);
                if (nx == '"') {
                    if (csv_push(c, '"')) goto nomem;
                } else {
                    quoted = false;
                    ungetc(nx, c->f);
                }
                continue;
            }
            if (ch == '\n') c->next_line++;
            if (csv_push(c, ch)) goto nomem;
            continue;
        }
        if (ch == '"' && c->len == start && !was_quoted) {
            quoted = was_quoted = true;
            continue;
        }
        if (ch == c->delim || ch == '\n' || ch == EOF) {
            size_t end = c->len;
            /* a CR before the newline belongs to the line ending */
            if ((ch == '\n' || ch == EOF) && !was_quoted && end > start && c->buf[end - 1] == '\r') c->len--;
            if (csv_end_field(c, start)) goto nomem;
            if (ch == '\n') c->next_line++;
            if (ch != c->delim) return 1;
            start = c->len;
            was_quoted = false;
            continue;
        }
        if (ch == '\r' && was_quoted) continue;
        if (csv_push(c, ch)) goto nomem;
    }
nomem:
    fprintf(stderr, "rill-feed: out of memory\n");
    return -1;
}

typedef enum { ROLE_SKIP, ROLE_FIELD, ROLE_TS, ROLE_KEY, ROLE_ID } role;

static int run_csv(sender *s, FILE *f) {
    const opts *o = s->o;
    csv c = { .f = f, .delim = o->delim, .next_line = 1 };
    int rc = 0;
    char **names = NULL;
    role *roles = NULL;
    vtype *types = NULL;
    size_t ncols = 0;
    event ev = { 0 };
    int r = csv_row(&c);
    if (r <= 0) {
        if (r == 0) fprintf(stderr, "rill-feed: the input is empty (a header row is expected)\n");
        rc = EXIT_INPUT;
        goto done;
    }
    ncols = c.n;
    names = calloc(ncols, sizeof *names);
    roles = calloc(ncols, sizeof *roles);
    types = calloc(ncols, sizeof *types);
    if (!names || !roles || !types) {
        fprintf(stderr, "rill-feed: out of memory\n");
        rc = EXIT_INPUT;
        goto done;
    }
    bool have_ts = false, have_key = false;
    for (size_t i = 0; i < ncols; i++) {
        names[i] = strndup(c.buf + c.starts[i], c.lens[i]);
        if (!names[i]) {
            fprintf(stderr, "rill-feed: out of memory\n");
            rc = EXIT_INPUT;
            goto done;
        }
        types[i] = type_of(o, names[i]);
        if (!o->no_ts && !strcmp(names[i], o->ts_col)) roles[i] = ROLE_TS, have_ts = true;
        else if (!strcmp(names[i], o->key_col)) roles[i] = ROLE_KEY, have_key = true;
        else if (!strcmp(names[i], o->id_col)) roles[i] = ROLE_ID;
        else roles[i] = wanted_field(o, names[i]) ? ROLE_FIELD : ROLE_SKIP;
    }
    if (!o->no_ts && !have_ts) {
        fprintf(stderr, "rill-feed: the header has no column '%s' for the event time "
                        "(use --ts NAME, or --no-ts)\n", o->ts_col);
        rc = EXIT_INPUT;
        goto done;
    }
    if (!have_key)
        fprintf(stderr, "rill-feed: warning: no column '%s' for the key; events carry no key\n",
                o->key_col);
    while (!s_interrupted && !s->error && (r = csv_row(&c)) > 0) {
        if (c.n != ncols) {
            fprintf(stderr, "rill-feed: line %" PRIu64 ": %zu fields where the header has %zu; skipped\n",
                    c.line, c.n, ncols);
            s->skipped++;
            continue;
        }
        ev.n = 0;
        ev.has_ts = false;
        ev.key.t = ev.id.t = T_AUTO;
        bool bad = false;
        for (size_t i = 0; i < ncols && !bad; i++) {
            const char *p = c.buf + c.starts[i];
            size_t n = c.lens[i];
            val v = { .t = T_AUTO };
            switch (roles[i]) {
            case ROLE_SKIP: break;
            case ROLE_TS:
                if (!text_ts(o, p, n, &ev.ts)) {
                    fprintf(stderr, "rill-feed: line %" PRIu64 ": cannot read the time '%.*s'; skipped\n",
                            c.line, (int)(n > 64 ? 64 : n), p);
                    bad = true;
                }
                ev.has_ts = true;
                break;
            case ROLE_KEY:
            case ROLE_ID:
                if (n == 0) break;
                if (!text_value(p, n, types[i] == T_AUTO ? T_AUTO : types[i], &v) ||
                    (v.t != T_I64 && v.t != T_STR)) {
                    if (types[i] == T_AUTO) text_value(p, n, T_STR, &v);
                    else {
                        fprintf(stderr, "rill-feed: line %" PRIu64 ": %s '%.*s' is not a %s; skipped\n",
                                c.line, names[i], (int)(n > 64 ? 64 : n), p,
                                types[i] == T_I64 ? "integer" : "string");
                        bad = true;
                    }
                }
                if (roles[i] == ROLE_KEY) ev.key = v;
                else ev.id = v;
                break;
            case ROLE_FIELD:
                if (n == 0) break;
                if (!text_value(p, n, types[i], &v)) {
                    fprintf(stderr, "rill-feed: line %" PRIu64 ": field %s: '%.*s' is not of the type given; skipped\n",
                            c.line, names[i], (int)(n > 64 ? 64 : n), p);
                    bad = true;
                    break;
                }
                if (event_add(&ev, names[i], strlen(names[i]), v)) {
                    fprintf(stderr, "rill-feed: out of memory\n");
                    rc = EXIT_INPUT;
                    goto done;
                }
                break;
            }
        }
        if (bad) {
            s->skipped++;
            continue;
        }
        send_event(s, &ev);
    }
    if (r < 0) rc = EXIT_INPUT;
done:
    for (size_t i = 0; i < ncols && names; i++) free(names[i]);
    free(names);
    free(roles);
    free(types);
    free(ev.names);
    free(ev.name_lens);
    free(ev.vals);
    free(c.buf);
    free(c.starts);
    free(c.lens);
    return rc;
}

/* ---- reading JSON lines ------------------------------------------------------------------ */

/* A JSON value as a wire value of type t (T_AUTO: as it is). */
static bool json_value(json_t *j, vtype t, val *v, char *numbuf, size_t nbl) {
    switch (json_typeof(j)) {
    case JSON_STRING:
        if (t == T_AUTO || t == T_STR) {
            v->t = T_STR;
            v->u.s.p = json_string_value(j);
            v->u.s.n = json_string_length(j);
            return true;
        }
        return text_value(json_string_value(j), json_string_length(j), t, v);
    case JSON_INTEGER:
        if (t == T_AUTO || t == T_I64) { v->t = T_I64; v->u.i = json_integer_value(j); return true; }
        if (t == T_F64) { v->t = T_F64; v->u.f = (double)json_integer_value(j); return true; }
        if (t == T_STR) {
            snprintf(numbuf, nbl, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
            return text_value(numbuf, strlen(numbuf), T_STR, v);
        }
        if (t == T_BOOL) { v->t = T_BOOL; v->u.b = json_integer_value(j) != 0; return true; }
        return false;
    case JSON_REAL:
        if (t == T_AUTO || t == T_F64) { v->t = T_F64; v->u.f = json_real_value(j); return true; }
        if (t == T_STR) {
            snprintf(numbuf, nbl, "%.17g", json_real_value(j));
            return text_value(numbuf, strlen(numbuf), T_STR, v);
        }
        return false;
    case JSON_TRUE:
    case JSON_FALSE:
        if (t == T_AUTO || t == T_BOOL) { v->t = T_BOOL; v->u.b = json_is_true(j); return true; }
        return false;
    default:
        return false;
    }
}

static int run_jsonl(sender *s, FILE *f) {
    const opts *o = s->o;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    event ev = { 0 };
    int rc = 0;
    char keybuf[2][64];
    /* field values point into the JSON object, so keep per-field number buffers */
    char (*nums)[64] = NULL;
    size_t nums_cap = 0;
    while (!s_interrupted && !s->error && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
        if (!len) continue;
        json_error_t err;
        json_t *obj = json_loadb(line, len, 0, &err);
        if (!obj || !json_is_object(obj)) {
            fprintf(stderr, "rill-feed: line %" PRIu64 ": %s; skipped\n", lineno,
                    obj ? "not a JSON object" : err.text);
            json_decref(obj);
            s->skipped++;
            continue;
        }
        ev.n = 0;
        ev.has_ts = false;
        ev.key.t = ev.id.t = T_AUTO;
        bool bad = false;
        if (json_object_size(obj) > nums_cap) {
            nums_cap = json_object_size(obj) * 2;
            void *p = realloc(nums, nums_cap * sizeof *nums);
            if (!p) {
                fprintf(stderr, "rill-feed: out of memory\n");
                json_decref(obj);
                rc = EXIT_INPUT;
                break;
            }
            nums = p;
        }
        const char *k;
        json_t *v;
        size_t fi = 0;
        json_object_foreach(obj, k, v) {
            if (bad) break;
            if (json_is_null(v)) continue;
            if (!o->no_ts && !strcmp(k, o->ts_col)) {
                ev.has_ts = true;
                if (json_is_integer(v) && !o->ts_format) {
                    int64_t i = json_integer_value(v);
                    ev.ts = i * o->ts_mul / o->ts_div;
                } else if (json_is_real(v) && o->ts_seconds) {
                    ev.ts = (int64_t)llround(json_real_value(v) * 1000);
                } else if (!json_is_string(v) ||
                           !text_ts(o, json_string_value(v), json_string_length(v), &ev.ts)) {
                    fprintf(stderr, "rill-feed: line %" PRIu64 ": cannot read the time '%s'; skipped\n",
                            lineno, o->ts_col);
                    bad = true;
                }
            } else if (!strcmp(k, o->key_col) || !strcmp(k, o->id_col)) {
                bool is_key = !strcmp(k, o->key_col);
                val x;
                if (!json_value(v, type_of(o, k), &x, keybuf[is_key], sizeof keybuf[0]) ||
                    (x.t != T_I64 && x.t != T_STR)) {
                    fprintf(stderr, "rill-feed: line %" PRIu64 ": %s must be a string or an integer; skipped\n",
                            lineno, k);
                    bad = true;
                }
                if (is_key) ev.key = x;
                else ev.id = x;
            } else if (wanted_field(o, k)) {
                val x;
                if (!json_value(v, type_of(o, k), &x, nums[fi], sizeof nums[fi])) {
                    fprintf(stderr, "rill-feed: line %" PRIu64 ": field %s has a value rill-feed cannot send as asked; skipped\n",
                            lineno, k);
                    bad = true;
                    break;
                }
                fi++;
                if (event_add(&ev, k, strlen(k), x)) {
                    fprintf(stderr, "rill-feed: out of memory\n");
                    bad = true;
                    rc = EXIT_INPUT;
                }
            }
        }
        if (!bad && !o->no_ts && !ev.has_ts) {
            fprintf(stderr, "rill-feed: line %" PRIu64 ": no '%s' (use --ts NAME or --no-ts); skipped\n",
                    lineno, o->ts_col);
            bad = true;
        }
        if (bad) s->skipped++;
        else send_event(s, &ev);
        json_decref(obj);
        if (rc) break;
    }
    free(nums);
    free(line);
    free(ev.names);
    free(ev.name_lens);
    free(ev.vals);
    if (ferror(f)) {
        fprintf(stderr, "rill-feed: read error: %s\n", strerror(errno));
        rc = EXIT_INPUT;
    }
    return rc;
}

/* ---- main --------------------------------------------------------------------------- */

static int split_list(const char *s, char ***out, size_t *n) {
    char *copy = strdup(s);
    if (!copy) return -1;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        char **l = realloc(*out, (*n + 1) * sizeof *l);
        if (!l) return -1;
        *out = l;
        l[(*n)++] = strdup(tok);
    }
    free(copy);
    return 0;
}

static bool parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    opts o = {
        .endpoint = "tcp://127.0.0.1:5555", .delim = ',', .ts_col = "ts", .key_col = "key",
        .id_col = "id", .ts_mul = 1, .ts_div = 1, .batch = 100, .seq_start = 1, .window = 1000,
        .ack_timeout = 1000, .retries = 10, .timeout = 5000,
    };
    snprintf(o.producer, sizeof o.producer, "rill-feed-%ld", (long)getpid());
    enum { O_BIND = 256, O_NOTS, O_TSUNIT, O_TSFMT, O_TS, O_KEY, O_ID, O_FIELDS, O_TYPE,
           O_RELIABLE, O_PRODUCER, O_SEQ, O_WINDOW, O_ACKTO, O_RETRIES };
    static const struct option lo[] = {
        { "endpoint", required_argument, 0, 'e' }, { "bind", no_argument, 0, O_BIND },
        { "format", required_argument, 0, 'f' }, { "delimiter", required_argument, 0, 'd' },
        { "ts", required_argument, 0, O_TS }, { "no-ts", no_argument, 0, O_NOTS },
        { "ts-unit", required_argument, 0, O_TSUNIT }, { "ts-format", required_argument, 0, O_TSFMT },
        { "key", required_argument, 0, O_KEY }, { "id", required_argument, 0, O_ID },
        { "fields", required_argument, 0, O_FIELDS }, { "type", required_argument, 0, O_TYPE },
        { "batch", required_argument, 0, 'b' }, { "rate", required_argument, 0, 'r' },
        { "speed", required_argument, 0, 'x' }, { "reliable", no_argument, 0, O_RELIABLE },
        { "producer", required_argument, 0, O_PRODUCER }, { "seq-start", required_argument, 0, O_SEQ },
        { "window", required_argument, 0, O_WINDOW }, { "ack-timeout", required_argument, 0, O_ACKTO },
        { "retries", required_argument, 0, O_RETRIES }, { "timeout", required_argument, 0, 't' },
        { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int c;
    double d;
    while ((c = getopt_long(argc, argv, "e:f:d:b:r:x:t:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'e': o.endpoint = optarg; break;
        case O_BIND: o.bind = true; break;
        case 'f':
            if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl")) goto usage_bad;
            o.format = optarg;
            break;
        case 'd':
            if (strlen(optarg) != 1 || *optarg == '"' || *optarg == '\n') goto usage_bad;
            o.delim = *optarg;
            break;
        case O_TS: o.ts_col = optarg; break;
        case O_NOTS: o.no_ts = true; break;
        case O_TSUNIT:
            if (!strcmp(optarg, "ms")) { o.ts_mul = 1; o.ts_div = 1; }
            else if (!strcmp(optarg, "s")) { o.ts_mul = 1000; o.ts_div = 1; o.ts_seconds = true; }
            else if (!strcmp(optarg, "us")) { o.ts_mul = 1; o.ts_div = 1000; }
            else if (!strcmp(optarg, "ns")) { o.ts_mul = 1; o.ts_div = 1000000; }
            else goto usage_bad;
            break;
        case O_TSFMT: o.ts_format = strcmp(optarg, "iso8601") ? optarg : "%Y-%m-%dT%H:%M:%S"; break;
        case O_KEY: o.key_col = optarg; break;
        case O_ID: o.id_col = optarg; break;
        case O_FIELDS:
            if (split_list(optarg, &o.fields, &o.n_fields)) goto nomem;
            break;
        case O_TYPE: {
            const char *eq = strchr(optarg, '=');
            bool ok = false;
            vtype t = eq ? parse_vtype(eq + 1, &ok) : T_AUTO;
            if (!eq || !ok || eq == optarg) goto usage_bad;
            type_opt *l = realloc(o.types, (o.n_types + 1) * sizeof *l);
            if (!l) goto nomem;
            o.types = l;
            l[o.n_types].name = strndup(optarg, (size_t)(eq - optarg));
            l[o.n_types++].t = t;
            break;
        }
        case 'b': if (!parse_num(optarg, 1, 1e7, &d)) goto usage_bad; o.batch = (size_t)d; break;
        case 'r': if (!parse_num(optarg, 1e-3, 1e12, &d)) goto usage_bad; o.rate = d; break;
        case 'x': if (!parse_num(optarg, 1e-6, 1e12, &d)) goto usage_bad; o.speed = d; break;
        case O_RELIABLE: o.reliable = true; break;
        case O_PRODUCER:
            if (!*optarg || strlen(optarg) > 255 || optarg[0] == 0) goto usage_bad;
            snprintf(o.producer, sizeof o.producer, "%s", optarg);
            break;
        case O_SEQ: if (!parse_num(optarg, 1, 9e18, &d)) goto usage_bad; o.seq_start = (uint64_t)d; break;
        case O_WINDOW: if (!parse_num(optarg, 1, 1e6, &d)) goto usage_bad; o.window = (size_t)d; break;
        case O_ACKTO: if (!parse_num(optarg, 1, 1e9, &d)) goto usage_bad; o.ack_timeout = (int)d; break;
        case O_RETRIES: if (!parse_num(optarg, 0, 1e6, &d)) goto usage_bad; o.retries = (int)d; break;
        case 't': if (!parse_num(optarg, 1, 1e9, &d)) goto usage_bad; o.timeout = (int)d; break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(s_usage, stdout); return 0;
        default: goto usage;
        }
    }
    if (optind + 1 < argc) goto usage;
    if (o.rate > 0 && o.speed > 0) {
        fprintf(stderr, "rill-feed: --rate and --speed exclude each other\n");
        return EXIT_USAGE;
    }
    if (o.speed > 0 && o.no_ts) {
        fprintf(stderr, "rill-feed: --speed needs event times (not --no-ts)\n");
        return EXIT_USAGE;
    }
    o.file = optind < argc ? argv[optind] : "-";
    if (!o.format) {
        size_t n = strlen(o.file);
        o.format = (n > 6 && !strcmp(o.file + n - 6, ".jsonl")) || (n > 5 && !strcmp(o.file + n - 5, ".json")) ||
                   (n > 7 && !strcmp(o.file + n - 7, ".ndjson")) ? "jsonl" : "csv";
    }

    FILE *in = strcmp(o.file, "-") ? fopen(o.file, "r") : stdin;
    if (!in) {
        fprintf(stderr, "rill-feed: cannot open %s: %s\n", o.file, strerror(errno));
        return EXIT_INPUT;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sender s = { .o = &o, .next_seq = o.seq_start, .base = o.seq_start, .tty = isatty(2) };
    msgpack_sbuffer_init(&s.events);
    int rc = 0;
    s.ctx = zmq_ctx_new();
    s.sock = s.ctx ? zmq_socket(s.ctx, o.reliable ? ZMQ_DEALER : ZMQ_PUSH) : NULL;
    if (!s.sock) {
        fprintf(stderr, "rill-feed: cannot make a socket: %s\n", zmq_strerror(errno));
        rc = EXIT_ENDPOINT;
        goto out;
    }
    int one = 1, hwm = 10000;
    zmq_setsockopt(s.sock, ZMQ_IMMEDIATE, &one, sizeof one); /* queue only for a live peer */
    zmq_setsockopt(s.sock, ZMQ_SNDTIMEO, &o.timeout, sizeof o.timeout);
    zmq_setsockopt(s.sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s.sock, ZMQ_LINGER, &o.timeout, sizeof o.timeout);
    if (o.reliable) {
        zmq_setsockopt(s.sock, ZMQ_ROUTING_ID, o.producer, strlen(o.producer));
        s.ring = calloc(o.window, sizeof *s.ring);
        if (!s.ring) goto nomem;
    }
    if (o.bind ? zmq_bind(s.sock, o.endpoint) : zmq_connect(s.sock, o.endpoint)) {
        fprintf(stderr, "rill-feed: cannot %s %s: %s\n", o.bind ? "bind" : "connect to", o.endpoint,
                zmq_strerror(errno));
        rc = EXIT_ENDPOINT;
        goto out;
    }

    s.t0 = now_s();
    rc = !strcmp(o.format, "jsonl") ? run_jsonl(&s, in) : run_csv(&s, in);
    flush_message(&s);
    if (o.reliable) {
        while (s.base < s.next_seq && !s.gave_up && !s.error && !s_interrupted) {
            take_acks(&s, 50);
            check_timeouts(&s);
            progress(&s, false);
        }
    }
    progress(&s, true);
    double dt = now_s() - s.t0;
    if (s.tty && !o.quiet) fputc('\n', stderr);
    fprintf(stderr, "rill-feed: sent %" PRIu64 " events in %" PRIu64 " messages in %.3f s (%.0f events/s)",
            s.sent_events, s.sent_msgs, dt, dt > 0 ? (double)s.sent_events / dt : 0.0);
    if (o.reliable)
        fprintf(stderr, "; acknowledged %" PRIu64 " events in %" PRIu64 " messages, %" PRIu64 " resent",
                s.acked_events, s.acked_msgs, s.resent_msgs);
    if (s.skipped) fprintf(stderr, "; %" PRIu64 " rows skipped", s.skipped);
    fputc('\n', stderr);
    if (s.error) rc = s.error;
    else if (s_interrupted) rc = EXIT_INTERRUPTED;
    else if (o.reliable && s.base < s.next_seq) {
        fprintf(stderr, "rill-feed: %" PRIu64 " messages remain unacknowledged after %d resends\n",
                s.next_seq - s.base, o.retries);
        rc = EXIT_UNACKED;
    } else if (!rc && s.skipped) rc = EXIT_INPUT;

out:
    if (s.sock) {
        if (rc == EXIT_ENDPOINT || rc == EXIT_INTERRUPTED) {
            int zero = 0;
            zmq_setsockopt(s.sock, ZMQ_LINGER, &zero, sizeof zero);
        }
        zmq_close(s.sock);
    }
    if (s.ctx) zmq_ctx_term(s.ctx);
    if (s.ring)
        for (size_t i = 0; i < o.window; i++) free(s.ring[i].data);
    free(s.ring);
    msgpack_sbuffer_destroy(&s.events);
    if (in != stdin) fclose(in);
    for (size_t i = 0; i < o.n_fields; i++) free(o.fields[i]);
    free(o.fields);
    for (size_t i = 0; i < o.n_types; i++) free(o.types[i].name);
    free(o.types);
    return rc;

nomem:
    fprintf(stderr, "rill-feed: out of memory\n");
    return EXIT_INPUT;
usage_bad:
    fprintf(stderr, "rill-feed: bad value for an option: %s\n", optarg ? optarg : "");
usage:
    fprintf(stderr, "run 'rill-feed --help' for the options\n");
    return EXIT_USAGE;
}
