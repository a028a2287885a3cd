/* state/inspect.c — the public inspection functions of a state store:
 * list namespaces, scan or read one by name, and the canonical key form.
 *
 * The idea: tools (rill-state) and users debugging their state need to see
 * what a plan stored without the plan. Namespaces are found by name and
 * never made here (a typo must not add an empty namespace to a store), so a
 * name is first looked up through the backend's ns_name listing, and only a
 * name the store already has is opened for its id. Everything goes through
 * the same rill__state_* wrappers as the core.
 *
 * It does not decode records: their layouts belong to the operators and the
 * plan (rill-state decodes what it knows of them).
 */
#include <string.h>

#include "engine/batch.h"
#include "state/state.h"

/* The id of namespace name if the store has it: RILL_ENOT_FOUND if not. */
static int ns_lookup(rill_state *s, const char *name, uint32_t *id) {
    if (!s->m->ns_name)
        return rill__state_error(s, RILL_EINVAL, "%s state: cannot list its namespaces",
                                 s->m->name);
    for (size_t i = 0;; i++) {
        const char *n;
        int rc = s->m->ns_name(s, i, &n);
        if (rc == RILL_ENOT_FOUND)
            return rc;
        if (rc)
            return rill__state_error(s, rc, "%s state: listing namespaces: %s", s->m->name,
                                     rill_strerror(rc));
        if (!strcmp(n, name))
            return rill__state_ns_open(s, name, id);
    }
}

int rill_state_ns_name(rill_state *s, size_t i, const char **name) {
    if (!s || !name)
        return RILL_EINVAL;
    if (!s->m->ns_name)
        return rill__state_error(s, RILL_EINVAL, "%s state: cannot list its namespaces",
                                 s->m->name);
    return s->m->ns_name(s, i, name);
}

int rill_state_scan(rill_state *s, const char *ns, const void *from, size_t flen,
                    const void *to, size_t tlen, rill_state_entry_fn fn, void *user) {
    if (!s || !ns || !fn)
        return RILL_EINVAL;
    uint32_t id;
    int rc = ns_lookup(s, ns, &id);
    if (rc)
        return rc;
    return rill__state_scan(s, id, from, from ? flen : 0, to, to ? tlen : 0, fn, user);
}

int rill_state_get(rill_state *s, const char *ns, const void *key, size_t klen, void **val,
                   size_t *vlen) {
    if (!s || !ns || !val || !vlen)
        return RILL_EINVAL;
    *val = NULL;
    *vlen = 0;
    uint32_t id;
    int rc = ns_lookup(s, ns, &id);
    if (rc)
        return rc;
    return rill__state_get(s, id, key, klen, val, vlen);
}

size_t rill_state_key_encode(rill_value key, unsigned char *buf, size_t cap) {
    size_t need = key.type == RILL_I64      ? 9
                  : key.type == RILL_STRING ? 1 + key.as.str.len
                                            : 0;
    if (!need || need > cap || need > RILL_KEY_ENC_MAX || !buf)
        return 0;
    return rill__key_encode(key, buf);
}

rill_value rill_state_key_decode(const void *bytes, size_t len) {
    if (!bytes || !len)
        return rill_null();
    return rill__key_decode(bytes, len);
}
