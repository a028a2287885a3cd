/* tools/rill-tap.c — print what a rill engine publishes, one JSON line per
 * record.
 *
 * It connects a SUB socket to an engine's PUB sink (or a PULL socket to a
 * PUSH sink), subscribes to the topics asked for and prints every message
 * [topic, msgpack map] as one JSON object: "topic" first, then the map's
 * members. The msgpack map is unpacked with msgpack-c and written with
 * jansson: binary values (the offending bytes of a dead letter) become hex
 * strings, strings that are not UTF-8 have their bad bytes replaced by
 * U+FFFD. Output is line-buffered so that scripts see each record as it
 * arrives.
 *
 * It does not reorder, filter on content or keep anything: a subscriber
 * that connects late misses what was published before (ZeroMQ PUB/SUB).
 */
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
#define EXIT_ENDPOINT 3
#define EXIT_TIMEOUT 4

static const char *s_usage =
"usage: rill-tap [options] [TOPIC...]\n"
"\n"
"Subscribe to TOPICs (none = all) of a rill engine's PUB socket and print each\n"
"record as one JSON line: {\"topic\": ..., <the record's fields>}. Topics are\n"
"operator names and metrics, dead, late; a topic matches by prefix.\n"
"\n"
"  -e, --endpoint EP   the engine's PUB (or PUSH) endpoint\n"
"                      (default tcp://127.0.0.1:5556)\n"
"      --bind          bind EP instead of connecting (the engine connects)\n"
"      --pull          read a PUSH sink with a PULL socket (topics ignored)\n"
"  -n, --count N       exit after N records\n"
"  -t, --timeout MS    exit when nothing arrives for MS (with --count: an error)\n"
"  -c, --compact       omit the topic member\n"
"  -h, --help          this text\n"
"\n"
"Examples:\n"
"  rill-tap -e tcp://127.0.0.1:5556                  every output\n"
"  rill-tap -e tcp://127.0.0.1:5556 stats            the records of operator stats\n"
"  rill-tap dead late                                rejected and late events\n"
"  rill-tap -n 1 metrics | jq .decoded               one metrics record\n"
"\n"
"Exit status:\n"
"  0  stopped by SIGINT/SIGTERM, --count records printed, or --timeout\n"
"     passed without --count\n"
"  1  usage error\n"
"  3  endpoint error: a bad endpoint, or the connection never came up before\n"
"     --timeout\n"
"  4  --timeout passed before --count records arrived\n";

static volatile sig_atomic_t s_stop;
static void on_signal(int sig) { (void)sig; s_stop = 1; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- msgpack to JSON ------------------------------------------------------------ */

/* A jansson string of bytes that may not be UTF-8: bad bytes -> U+FFFD. */
static json_t *json_bytes_string(const char *p, size_t n) {
    json_t *j = json_stringn(p, n);
    if (j) return j;
    char *buf = malloc(3 * n + 1);
    if (!buf) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            buf[o++] = (char)c;
            continue;
        }
        /* try the longest valid sequence here; else one replacement */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        json_t *t = len && i + len <= n ? json_stringn(p + i, len) : NULL;
        if (t) {
            memcpy(buf + o, p + i, len);
            o += len;
            i += len - 1;
            json_decref(t);
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *to_json(const msgpack_object *o);

static char *key_text(const msgpack_object *k, char *buf, size_t n) {
    switch (k->type) {
    case MSGPACK_OBJECT_STR:
        snprintf(buf, n, "%.*s", (int)k->via.str.size, k->via.str.ptr);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(buf, n, "%" PRIu64, k->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(buf, n, "%" PRId64, k->via.i64); break;
    default: snprintf(buf, n, "?");
    }
    return buf;
}

static json_t *to_json(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR: return json_bytes_string(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        char *hex = malloc(2 * (size_t)o->via.bin.size + 1);
        if (!hex) return NULL;
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)o->via.bin.ptr[i]);
        hex[2 * (size_t)o->via.bin.size] = 0;
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++)
            json_array_append_new(a, to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        char buf[512];
        for (uint32_t i = 0; m && i < o->via.map.size; i++) {
            json_t *v = to_json(&o->via.map.ptr[i].val);
            if (v) json_object_set_new(m, key_text(&o->via.map.ptr[i].key, buf, sizeof buf), v);
        }
        return m;
    }
    default: return json_null();
    }
}

/* Print one message; false when it is not [topic, msgpack] (reported). */
static bool print_record(const char *topic, size_t tlen, const void *data, size_t len,
                         bool compact, msgpack_zone *zone) {
    msgpack_object o;
    size_t off = 0;
    int urc = msgpack_unpack(data, len, &off, zone, &o);
    json_t *rec = json_object();
    if (!rec) return false;
    if (!compact && topic) json_object_set_new(rec, "topic", json_bytes_string(topic, tlen));
    bool ok = urc == MSGPACK_UNPACK_SUCCESS && o.type == MSGPACK_OBJECT_MAP;
    if (ok) {
        char buf[512];
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            json_t *v = to_json(&o.via.map.ptr[i].val);
            if (v) json_object_set_new(rec, key_text(&o.via.map.ptr[i].key, buf, sizeof buf), v);
        }
    } else {
        fprintf(stderr, "rill-tap: a message of %zu bytes is not a msgpack map; printed as "
                        "{\"topic\", \"error\"}\n", len);
        json_object_set_new(rec, "error", json_string("not a msgpack map"));
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        free(line);
    }
    json_decref(rec);
    msgpack_zone_clear(zone);
    return ok;
}

/* Whether the socket's connection came up (from its monitor). */
static bool s_connected;

static void read_monitor(void *mon) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&m) >= 2) {
            uint16_t ev;
            memcpy(&ev, zmq_msg_data(&m), 2);
            if (ev == ZMQ_EVENT_CONNECTED || ev == ZMQ_EVENT_ACCEPTED) s_connected = true;
        }
        /* the second frame (the endpoint) follows */
        if (zmq_msg_more(&m)) zmq_msg_recv(&m, mon, ZMQ_DONTWAIT);
    }
    zmq_msg_close(&m);
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
    const char *endpoint = "tcp://127.0.0.1:5556";
    bool bind = false, pull = false, compact = false;
    double count = 0, timeout = 0, d;
    enum { O_BIND = 256, O_PULL };
    static const struct option lo[] = {
        { "endpoint", required_argument, 0, 'e' }, { "bind", no_argument, 0, O_BIND },
        { "pull", no_argument, 0, O_PULL }, { "count", required_argument, 0, 'n' },
        { "timeout", required_argument, 0, 't' }, { "compact", no_argument, 0, 'c' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "e:n:t:ch", lo, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case O_BIND: bind = true; break;
        case O_PULL: pull = true; break;
        case 'n': if (!parse_num(optarg, 1, 1e18, &d)) goto usage_bad; count = d; break;
        case 't': if (!parse_num(optarg, 1, 1e9, &d)) goto usage_bad; timeout = d; break;
        case 'c': compact = true; break;
        case 'h': fputs(s_usage, stdout); return 0;
        default: goto usage;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 0;
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, pull ? ZMQ_PULL : ZMQ_SUB) : NULL;
    void *mon = NULL;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    zmq_msg_t topic, payload;
    zmq_msg_init(&topic);
    zmq_msg_init(&payload);
    if (!sock) {
        fprintf(stderr, "rill-tap: cannot make a socket: %s\n", zmq_strerror(errno));
        rc = EXIT_ENDPOINT;
        goto out;
    }
    int zero = 0, hwm = 1000000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (!pull) {
        if (optind == argc) zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
        for (int i = optind; i < argc; i++) zmq_setsockopt(sock, ZMQ_SUBSCRIBE, argv[i], strlen(argv[i]));
    }
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://rill-tap-monitor-%ld", (long)getpid());
    if (zmq_socket_monitor(sock, monep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_ACCEPTED) == 0) {
        mon = zmq_socket(ctx, ZMQ_PAIR);
        if (mon && zmq_connect(mon, monep)) {
            zmq_close(mon);
            mon = NULL;
        }
    }
    if (bind ? zmq_bind(sock, endpoint) : zmq_connect(sock, endpoint)) {
        fprintf(stderr, "rill-tap: cannot %s %s: %s\n", bind ? "bind" : "connect to", endpoint,
                zmq_strerror(errno));
        rc = EXIT_ENDPOINT;
        goto out;
    }

    uint64_t printed = 0, bad = 0;
    double last = now_s();
    zmq_pollitem_t items[2] = { { .socket = sock, .events = ZMQ_POLLIN },
                                { .socket = mon, .events = ZMQ_POLLIN } };
    while (!s_stop && (count == 0 || (double)printed < count)) {
        long wait = 200;
        int n = zmq_poll(items, mon ? 2 : 1, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "rill-tap: poll failed: %s\n", zmq_strerror(errno));
            rc = EXIT_ENDPOINT;
            break;
        }
        if (mon && (items[1].revents & ZMQ_POLLIN)) read_monitor(mon);
        while ((count == 0 || (double)printed < count) &&
               zmq_msg_recv(&topic, sock, ZMQ_DONTWAIT) >= 0) {
            last = now_s();
            if (zmq_msg_more(&topic)) {
                zmq_msg_recv(&payload, sock, 0);
                while (zmq_msg_more(&payload)) zmq_msg_recv(&payload, sock, 0); /* keep the last */
                if (!print_record(zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&payload),
                                  zmq_msg_size(&payload), compact, &zone))
                    bad++;
            } else if (!print_record(NULL, 0, zmq_msg_data(&topic), zmq_msg_size(&topic), compact,
                                     &zone)) {
                bad++;
            }
            printed++;
        }
        if (timeout > 0 && (now_s() - last) * 1000 >= timeout) {
            if (mon && !s_connected) {
                fprintf(stderr, "rill-tap: no connection to %s within %.0f ms (is the engine "
                                "running and publishing there?)\n", endpoint, timeout);
                rc = EXIT_ENDPOINT;
            } else if (count > 0) {
                fprintf(stderr, "rill-tap: %" PRIu64 " of %.0f records before the %.0f ms timeout\n",
                        printed, count, timeout);
                rc = EXIT_TIMEOUT;
            }
            break;
        }
    }
    if (bad) fprintf(stderr, "rill-tap: %" PRIu64 " messages were not msgpack maps\n", bad);

out:
    zmq_msg_close(&topic);
    zmq_msg_close(&payload);
    if (mon) zmq_close(mon);
    if (sock) {
        zmq_socket_monitor(sock, NULL, 0);
        zmq_close(sock);
    }
    if (ctx) zmq_ctx_term(ctx);
    msgpack_zone_destroy(&zone);
    return rc;

usage_bad:
    fprintf(stderr, "rill-tap: bad value for an option: %s\n", optarg ? optarg : "");
usage:
    fprintf(stderr, "run 'rill-tap --help' for the options\n");
    return EXIT_USAGE;
}
