/* state/state.c — the wrappers through which the core calls a state backend.
 *
 * Every call into a backend goes through one rill__state_* function here:
 * it checks the arguments once for all backends (so a backend may assume
 * non-NULL pointers and a valid-looking namespace id), makes sure a failure
 * leaves a message in s->errmsg, and is the one place where tests inject
 * faults (rill__state_fail_commit). This is SQLite's os.c idea: the VFS
 * methods are only ever reached through thin wrappers.
 *
 * Open failures have no object to carry their message, so it goes to a
 * per-thread buffer that rill_state_errmsg(NULL) reads (like dlerror()).
 *
 * Not here: anything a backend knows better (unknown namespace ids, I/O).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "state/state.h"

/* Longest namespace name, in bytes. Names are operator names plus a suffix;
 * the limit only keeps metadata keys small. */
#define NS_NAME_MAX 255

static _Thread_local char open_errmsg[512];

int rill__state_error(rill_state *s, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

int rill__state_open_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(open_errmsg, sizeof open_errmsg, fmt, ap);
    va_end(ap);
    return status;
}

/* A backend that failed without saying why still leaves a message. */
static int ensure_msg(rill_state *s, int rc, const char *what) {
    if (rc < 0 && s->errmsg[0] == '\0')
        rill__state_error(s, rc, "%s state: %s: %s", s->m->name, what, rill_strerror(rc));
    return rc;
}

int rill__state_ns_open(rill_state *s, const char *name, uint32_t *ns) {
    if (!s)
        return RILL_EINVAL;
    if (!name || !ns)
        return rill__state_error(s, RILL_EINVAL, "ns_open: name and ns must not be NULL");
    size_t n = strlen(name);
    if (n == 0 || n > NS_NAME_MAX)
        return rill__state_error(s, RILL_EINVAL,
                                 "ns_open: namespace name must be 1 to %d bytes, not %zu",
                                 NS_NAME_MAX, n);
    s->errmsg[0] = '\0';
    return ensure_msg(s, s->m->ns_open(s, name, ns), "ns_open");
}

int rill__state_get(rill_state *s, uint32_t ns, const void *key, size_t klen,
                    void **val, size_t *vlen) {
    if (!s)
        return RILL_EINVAL;
    if (!val || !vlen)
        return rill__state_error(s, RILL_EINVAL, "get: val and vlen must not be NULL");
    *val = NULL;
    *vlen = 0;
    if (!key && klen)
        return rill__state_error(s, RILL_EINVAL, "get: key is NULL with length %zu", klen);
    if (ns == 0)
        return rill__state_error(s, RILL_EINVAL, "get: namespace 0 was never opened");
    s->errmsg[0] = '\0';
    int rc = s->m->get(s, ns, key, klen, val, vlen);
    if (rc == RILL_ENOT_FOUND)
        return rc; /* an answer, not a failure: no message */
    return ensure_msg(s, rc, "get");
}

int rill__state_scan(rill_state *s, uint32_t ns, const void *from, size_t flen,
                     const void *to, size_t tlen, rill_state_visit_fn fn, void *user) {
    if (!s)
        return RILL_EINVAL;
    if (!fn)
        return rill__state_error(s, RILL_EINVAL, "scan: visit function is NULL");
    if ((!from && flen) || (!to && tlen))
        return rill__state_error(s, RILL_EINVAL, "scan: bound is NULL with a length");
    if (ns == 0)
        return rill__state_error(s, RILL_EINVAL, "scan: namespace 0 was never opened");
    /* No ensure_msg: a non-zero return may be fn's own, which is not ours
     * to explain. Backends set a message for their own failures. */
    s->errmsg[0] = '\0';
    return s->m->scan(s, ns, from, flen, to, tlen, fn, user);
}

int rill__state_commit(rill_state *s, const rill_state_batch *wb) {
    if (!s)
        return RILL_EINVAL;
    if (!wb)
        return rill__state_error(s, RILL_EINVAL, "commit: batch is NULL");
    if (s->fail_commit_countdown > 0 && --s->fail_commit_countdown == 0) {
        s->fail_commit_countdown = -1;
        return rill__state_error(s, RILL_ESTATE,
                                 "%s state: commit: injected failure (nothing applied)",
                                 s->m->name);
    }
    s->errmsg[0] = '\0';
    return ensure_msg(s, s->m->commit(s, wb), "commit");
}

void rill__state_fail_commit(rill_state *s, long n) {
    if (s)
        s->fail_commit_countdown = n >= 1 ? n : -1;
}

void rill_state_close(rill_state *s) {
    if (s)
        s->m->close(s);
}

const char *rill_state_errmsg(const rill_state *s) {
    return s ? s->errmsg : open_errmsg;
}
