/* rill/rill.h — the whole public API of rill. */
#ifndef RILL_H
#define RILL_H

#include "rill/error.h"
#include "rill/types.h"
#include "rill/graph.h"
#include "rill/plan.h"
#include "rill/state.h"
#include "rill/engine.h"
#include "rill/learn.h"
#include "rill/pipeline.h"

#define RILL_VERSION "0.1.0"

#endif
