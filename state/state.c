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
 * Background commits: a store whose backend allows gets during a commit
 * gets one writer thread (started at its first background commit), so the
 * plan goes on processing events while RocksDB inserts the batch. The
 * writer's messages go to a buffer of their own (a thread-local pointer
 * redirects rill__state_error on the writer thread), so a get on the main
 * thread never races it; the wait copies the message over.
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
/* On a writer thread: the store whose commit it runs. */
static _Thread_local rill_state *writing_for;

static char *msg_buf(rill_state *s) {
    return writing_for == s ? s->writer.errmsg : s->errmsg;
}

int rill__state_error(rill_state *s, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg_buf(s), sizeof s->errmsg, fmt, ap);
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
    if (rc < 0 && msg_buf(s)[0] == '\0')
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

/* Tests' injected failure, decided on the caller's thread. */
static int injected_failure(rill_state *s) {
    if (s->fail_commit_countdown > 0 && --s->fail_commit_countdown == 0) {
        s->fail_commit_countdown = -1;
        return rill__state_error(s, RILL_ESTATE,
                                 "%s state: commit: injected failure (nothing applied)",
                                 s->m->name);
    }
    return RILL_OK;
}

/* The commit itself, on whichever thread runs it; messages go to msg_buf. */
static int run_commit(rill_state *s, const rill_state_batch *wb) {
    msg_buf(s)[0] = '\0';
    return ensure_msg(s, s->m->commit(s, wb), "commit");
}

/* What both kinds of commit refuse: no batch, or one still in flight. */
static int commit_refused(rill_state *s, const rill_state_batch *wb) {
    if (!s)
        return RILL_EINVAL;
    if (!wb)
        return rill__state_error(s, RILL_EINVAL, "commit: batch is NULL");
    if (s->writer.busy)
        return rill__state_error(s, RILL_EINVAL, "commit: a background commit is in flight");
    return RILL_OK;
}

int rill__state_commit(rill_state *s, const rill_state_batch *wb) {
    int rc = commit_refused(s, wb);
    if (rc)
        return rc;
    rc = injected_failure(s);
    return rc ? rc : run_commit(s, wb);
}

static void *writer_main(void *arg) {
    rill_state *s = arg;
    rill_state_writer *w = &s->writer;
    writing_for = s;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->running && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->running)
            break; /* quit, nothing handed over */
        const rill_state_batch *wb = w->wb;
        pthread_mutex_unlock(&w->mu);
        int rc = run_commit(s, wb);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->running = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int writer_start(rill_state *s) {
    rill_state_writer *w = &s->writer;
    if (pthread_mutex_init(&w->mu, NULL))
        return RILL_ENOMEM;
    if (pthread_cond_init(&w->cv, NULL)) {
        pthread_mutex_destroy(&w->mu);
        return RILL_ENOMEM;
    }
    if (pthread_create(&w->thread, NULL, writer_main, s)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return RILL_ENOMEM;
    }
    w->started = true;
    return RILL_OK;
}

int rill__state_commit_start(rill_state *s, const rill_state_batch *wb) {
    int rc = commit_refused(s, wb);
    if (rc)
        return rc;
    rill_state_writer *w = &s->writer;
    /* Inline: an injected failure, a backend that cannot read during a
     * commit, or no thread to be had. The wait returns the status. */
    rc = injected_failure(s);
    if (rc || !s->m->concurrent_commit || (!w->started && writer_start(s) != RILL_OK)) {
        w->rc = rc ? rc : run_commit(s, wb);
        w->busy = true;
        w->threaded = false;
        return RILL_OK;
    }
    pthread_mutex_lock(&w->mu);
    w->wb = wb;
    w->running = w->busy = w->threaded = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return RILL_OK;
}

int rill__state_commit_wait(rill_state *s) {
    if (!s)
        return RILL_EINVAL;
    rill_state_writer *w = &s->writer;
    if (!w->busy)
        return RILL_OK;
    if (w->threaded) {
        pthread_mutex_lock(&w->mu);
        while (w->running)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        if (w->rc != RILL_OK)
            memcpy(s->errmsg, w->errmsg, sizeof s->errmsg);
    }
    w->busy = false;
    return w->rc;
}

bool rill__state_commit_in_background(const rill_state *s) {
    return s && s->writer.busy && s->writer.threaded;
}

bool rill__state_commit_finished(rill_state *s) {
    if (!rill__state_commit_in_background(s))
        return true;
    rill_state_writer *w = &s->writer;
    pthread_mutex_lock(&w->mu);
    bool running = w->running;
    pthread_mutex_unlock(&w->mu);
    return !running;
}

/* Finish what is in flight and end the writer thread. */
static void writer_stop(rill_state *s) {
    rill_state_writer *w = &s->writer;
    rill__state_commit_wait(s);
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = false;
}

void rill__state_fail_commit(rill_state *s, long n) {
    if (s)
        s->fail_commit_countdown = n >= 1 ? n : -1;
}

void rill_state_close(rill_state *s) {
    if (!s)
        return;
    writer_stop(s);
    s->m->close(s);
}

const char *rill_state_errmsg(const rill_state *s) {
    return s ? s->errmsg : open_errmsg;
}
