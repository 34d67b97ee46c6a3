/*
 * mg_internal.h -- what the C files share and Python never sees.
 *
 * There is one arena per process (mg_arena, defined in mg_arena.c). Every
 * field of it, and every node in it, is read or written only while mg_lock
 * is held: each public function takes the lock on entry and drops it on
 * every return path. Functions named *_locked expect the caller to hold it.
 */
#ifndef MG_INTERNAL_H
#define MG_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include "micrograd.h"

typedef struct mg_arena {
    mg_node **chunks;     /* chunk table; the chunks themselves never move  */
    int64_t nchunks;      /* chunks allocated                               */
    uint64_t *freebits;   /* bit i set iff slot i < top is free             */
    int64_t top;          /* slots [0, top) have been handed out before     */
    int64_t cursor;       /* no free slot lies below cursor                 */
    int64_t nfree;        /* free slots below top                           */
    int64_t live;         /* slots in use                                   */
    int64_t limit;        /* test cap on live nodes, -1 for none            */
    uint32_t epoch;       /* current sort epoch; marks equal to it are seen */
    uint32_t *stack;      /* scratch: depth-first stack of the sort         */
    int64_t stack_cap;
    mg_node **topo;       /* scratch: nodes in topological order            */
    int64_t topo_cap;
} mg_arena;

extern mg_arena mg_A;
extern pthread_mutex_t mg_lock;

/* The node at index i. i must be a slot below top. */
static inline mg_node *mg_at(int64_t i)
{
    return mg_A.chunks[i >> MG_CHUNK_SHIFT] + (i & (MG_CHUNK_NODES - 1));
}

/* Whether i names a live node. */
static inline int mg_live_locked(int64_t i)
{
    return i >= 0 && i < mg_A.top && mg_at(i)->op != MG_FREE;
}

/* Make sure the next n allocations cannot fail. 0 or MG_ENOMEM. */
int mg_reserve_locked(int64_t n);
/* A fresh node with one reference. Only after mg_reserve_locked succeeded. */
int mg_new_locked(double data, int op, int a, int b);
/* Grow a scratch array to hold at least n items. 0 or MG_ENOMEM. */
int mg_grow_locked(void **buf, int64_t *cap, int64_t n, size_t item);

/* Python's float ** float, with its errors: 0 or MG_EZERODIV, MG_ECOMPLEX, MG_ERANGE. */
int mg_float_pow(double x, double y, double *out);
/* The forward value of a unary op: 0 or MG_EDOMAIN, MG_ERANGE. */
int mg_unary_value(int op, double x, double *out);

#endif
