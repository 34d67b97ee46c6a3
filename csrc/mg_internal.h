/*
 * mg_internal.h -- what the C files share and Python never sees.
 *
 * There is one arena per process (mg_A, defined in mg_arena.c). Every field
 * of it, and every node in it, is read or written only while mg_lock is
 * held: each public function takes the lock on entry and drops it on every
 * return path. Functions named *_locked expect the caller to hold it.
 */
#ifndef MG_INTERNAL_H
#define MG_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include "micrograd.h"

/* mg_assert(cond): in a debug build (MICROGRAD_C_DEBUG=1 at build time makes
 * build_ext.py define MG_DEBUG), a false cond, an invariant a file's header
 * comment states, is a bug: it is reported with its place, and the process
 * aborts. Otherwise cond is not even evaluated. */
#ifdef MG_DEBUG
#include <stdio.h>
#include <stdlib.h>
static inline void mg_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, cond);
    abort();
}
#define mg_assert(cond) ((cond) ? (void)0 : mg_assert_failed(#cond, __FILE__, __LINE__))
#else
#define mg_assert(cond) ((void)0)
#endif

/* A region: MG_REGION_NODES consecutive slots, filled in creation order. */
typedef struct mg_region {
    uint64_t seq;      /* when it was opened; open regions are ordered by it  */
    int32_t live;      /* live nodes in it                                    */
    int32_t used;      /* slots handed out since it was opened                */
    int32_t older;     /* neighbours in the list of open regions, by seq,     */
    int32_t newer;     /*   -1 at the ends; next free region while free       */
    int32_t pending;   /* backward scratch: reached, unprocessed nodes in it  */
    int32_t zeroed;    /* free, and its memory may read as zeros (never used,
                          or given back): its slots are set up when opened   */
} mg_region;

/* What the arena knows of a chunk's memory (mg_arena.c). */
typedef struct mg_chunk_state {
    int32_t free_regions; /* of its regions, how many are free              */
    int32_t given_back;   /* all free, and its memory is not resident: 1
                             never touched, 2 given back to the OS; else 0  */
} mg_chunk_state;

typedef struct mg_arena {
    mg_node **chunks;     /* chunk table; the chunks themselves never move   */
    int64_t nchunks;      /* chunks allocated                                */
    mg_region *regions;   /* nchunks * regions per chunk                      */
    mg_chunk_state *chunk_state; /* one a chunk                               */
    int64_t empty_resident; /* chunks all free but still resident             */
    int64_t keep_empty;   /* how many of those may stay so (mg_arena.c)       */
    int32_t free_region;  /* stack of free regions, linked through older      */
    int64_t free_regions; /* how many are on it                               */
    int32_t newest;       /* newest open region, -1 if none: the current one,
                             where every new node goes (mg_arena.c)          */
    int64_t open_regions; /* regions not free                                 */
    uint64_t seq;         /* seq of the newest region opened                  */
    uint64_t *reached;    /* backward scratch, one bit a slot; zero between  */
    int64_t live;         /* nodes in use                                     */
    int64_t may_fail;     /* live nodes whose rule may fail (may_fail set)    */
    int suspect;          /* a may-fail rule may fail with the data now: one
                             failed its check when made, or data was written
                             since; cleared when no may-fail node is left     */
    int64_t stale;        /* live nodes given a Python rule while they had
                             parents, whose MG_WALK_BELOW bits it missed     */
    int64_t limit;        /* test cap on live nodes, -1 for none              */
} mg_arena;

/* A node's walk bits beyond the first two (which say which children the
 * backward pass visits). MG_WALK_PY: Python applies its rule. MG_WALK_BELOW:
 * a node with MG_WALK_PY was under it (itself included) when it was made,
 * or when it got that bit; parents made later inherit it, so a backward
 * from a root without it, while mg_A.stale is 0, meets no Python rule.
 * MG_WALK_STALE: it got MG_WALK_PY while it had parents (counted in
 * mg_A.stale until it is freed or reset). A leaf with MG_WALK_BELOW is
 * visited like an operation. MG_WALK_FAILS: a node whose rule may fail
 * (mg_may_fail) was under it (itself included) when it was made; parents
 * inherit it too, so a backward from a root without it cannot fail. */
enum { MG_WALK_PY = 4, MG_WALK_BELOW = 8, MG_WALK_STALE = 16, MG_WALK_FAILS = 32 };

_Static_assert(sizeof(mg_node) == 32, "Python views a chunk as 32 bytes a node");

extern mg_arena mg_A;
extern pthread_mutex_t mg_lock;

/* The node at index i. i must be a slot of an allocated chunk. */
static inline mg_node *mg_at(int64_t i)
{
    return mg_A.chunks[i >> MG_CHUNK_SHIFT] + (i & (MG_CHUNK_NODES - 1));
}

/* The same, given the chunk table: loops that store to nodes keep it in a
 * local, or the compiler (-fno-strict-aliasing) reloads mg_A.chunks after
 * every store. */
static inline mg_node *mg_at_in(mg_node *const *chunks, int64_t i)
{
    return chunks[i >> MG_CHUNK_SHIFT] + (i & (MG_CHUNK_NODES - 1));
}

/* Whether i names a live node. A live node has refs >= 1; a slot of a free
 * region whose memory reads as zeros has op MG_LEAF but refs 0. */
static inline int mg_live_locked(int64_t i)
{
    return i >= 0 && i < mg_A.nchunks * MG_CHUNK_NODES && mg_at(i)->op != MG_FREE
           && mg_at(i)->refs != 0;
}

/* Whether all n indices name live nodes. */
static inline int mg_all_live_locked(const int *idx, int n)
{
    for (int k = 0; k < n; k++)
        if (!mg_live_locked(idx[k]))
            return 0;
    return 1;
}

/* The C library's malloc, calloc and realloc, and anonymous mmap for
 * chunks, through mg_fail_allocation's hook (mg_alloc.c). The core
 * allocates with nothing else. mg_map returns zeroed memory that is never
 * unmapped, or NULL; mg_give_back hands its pages back to the OS (they
 * read as zeros afterwards). */
void *mg_malloc(size_t n);
void *mg_calloc(size_t n, size_t size);
void *mg_realloc(void *p, size_t n);
void *mg_map(size_t n);
void mg_give_back(void *p, size_t n);

/* Node i's place in creation order: its region's seq, then its slot. */
static inline uint64_t mg_order_locked(int64_t i)
{
    return mg_A.regions[i >> MG_REGION_SHIFT].seq << MG_REGION_SHIFT
           | (uint64_t)(i & (MG_REGION_NODES - 1));
}

/* Make sure the next n allocations cannot fail. 0 or MG_ENOMEM. */
int mg_reserve_locked(int64_t n);

/* The current region is full (or there is none yet): open the next one,
 * which becomes mg_A.newest, and return it (mg_arena.c). */
int32_t mg_next_region_locked(void);

static inline int mg_is_pow(int op)
{
    return op == MG_POWI || op == MG_POWF || op == MG_POW;
}

/* Whether the rule of op (child b, NULL for none) may fail for some data:
 * log's (1 / a, at a == 0, which Python raises for), a ** b's always, and
 * a ** k's unless k is 1 or 2 (slopes 1.0 and 2 * x, which Python computes
 * without raising). Data may change after a node is made, so this, known
 * then, is what backward goes by (mg_backward.c). */
static inline int mg_may_fail(int op, const mg_node *b)
{
    return op == MG_LOG || op == MG_POW
           || (mg_is_pow(op) && b->data != 1.0 && b->data != 2.0);
}

/* Data was (or is about to be) written, by mg_set_data, an optimizer step,
 * replay or mg_reset: a may-fail rule alive now may fail, so backward checks
 * them first until none is left (mg_backward.c). */
static inline void mg_data_written_locked(void)
{
    mg_A.suspect |= mg_A.may_fail != 0;
}

/* Node n, just made, has a rule that may fail: count it, and if its rule
 * fails with the data now, mark the arena suspect (mg_backward.c). */
void mg_may_fail_made_locked(const mg_node *n);

/* A fresh node with one reference, with children a and b (-1: none), taken
 * from the current region. Only after mg_reserve_locked succeeded. Inline:
 * it runs for every node made. */
static inline int mg_new_locked(double data, int op, int a, int b)
{
    int32_t r = mg_A.newest; /* the current region: every child was made before */
    mg_region *g = &mg_A.regions[r < 0 ? 0 : r];
    if (r < 0 || g->used == MG_REGION_NODES) {
        r = mg_next_region_locked();
        g = &mg_A.regions[r];
    }
    int64_t i = (int64_t)r * MG_REGION_NODES + g->used++;
    g->live++;
    mg_assert(a < 0 || (mg_live_locked(a) && mg_order_locked(a) < mg_order_locked(i)));
    mg_assert(b < 0 || (mg_live_locked(b) && mg_order_locked(b) < mg_order_locked(i)));
    mg_node *n = mg_at(i);
    n->data = data;
    n->grad = 0.0;
    n->a = a;
    n->b = b;
    n->refs = 1;
    n->op = (uint8_t)op;
    n->may_fail = (uint8_t)mg_may_fail(op, b >= 0 ? mg_at(b) : NULL);
    n->handed = 0;
    unsigned wa = a >= 0 ? mg_at(a)->walk : 0, wb = b >= 0 ? mg_at(b)->walk : 0;
    n->walk = (uint8_t)((a >= 0 && (mg_at(a)->op != MG_LEAF || wa & MG_WALK_BELOW))
                        | (b >= 0 && (mg_at(b)->op != MG_LEAF || wb & MG_WALK_BELOW)) << 1
                        | ((wa | wb) & (MG_WALK_BELOW | MG_WALK_FAILS))
                        | (n->may_fail ? MG_WALK_FAILS : 0));
    mg_A.live++;
    if (n->may_fail)
        mg_may_fail_made_locked(n);
    return (int)i;
}

/* Record that the reference on node r goes to the caller (mg_handoff.c),
 * and return r; an error code r is returned as it is. */
int mg_hand_locked(int r);
/* Node i is freed, or Python gives a reference on it back: no thread's
 * record may name it any more. */
void mg_handoff_forget_locked(int32_t i);

/* fork() (mg_fork.c). A recording's link on the list of locks that
 * pthread_atfork's handlers take: track once its lock is initialised,
 * untrack (idempotent) before destroying it. The link must be zeroed first. */
typedef struct mg_fork_link {
    pthread_mutex_t *lock; /* NULL while not on the list */
    struct mg_fork_link *prev, *next;
} mg_fork_link;
void mg_fork_track(mg_fork_link *l, pthread_mutex_t *lock);
void mg_fork_untrack(mg_fork_link *l);

/* Drop a reference on i and free whatever that leaves unreached. */
void mg_decref_locked(int i);

/* Python's float ** float, with its errors: 0 or MG_EZERODIV, MG_ECOMPLEX, MG_ERANGE. */
int mg_float_pow(double x, double y, double *out);
/* The forward value of a unary op: 0 or MG_EDOMAIN, MG_ERANGE. */
int mg_unary_value(int op, double x, double *out);
/* log(e ** a + e ** b), never overflowing (it cannot fail). */
double mg_logaddexp_value(double a, double b);

#endif
