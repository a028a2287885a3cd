/* rill/state.h — where a plan keeps its state.
 *
 * A state store holds operator state in namespaced byte keys and commits it
 * in atomic write batches. Open one and hand it to rill_graph_compile();
 * a plan compiled against a store that holds a checkpoint of the same graph
 * resumes from it.
 */
#ifndef RILL_STATE_H
#define RILL_STATE_H

#include "rill/error.h"

typedef struct rill_state rill_state;

/* An in-memory store: fast, lost with the process. It survives the plans
 * that use it, so a plan can be freed and another resume from its commits. */
int rill_state_open_memory(rill_state **out);

void rill_state_close(rill_state *s); /* accepts NULL */
const char *rill_state_errmsg(const rill_state *s);

#endif
