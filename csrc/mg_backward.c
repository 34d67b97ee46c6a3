/*
 * mg_backward.c -- the reverse pass, in reverse creation order, with no sort.
 *
 * The arena hands out slots in creation order: region by region in seq
 * order, slot by slot within a region (mg_arena.c). Children are made before
 * their parents, so walking a graph from its root newest-first is a
 * topological order, and it is the same order every time the program builds
 * the same graph: results do not depend on memory layout or other threads.
 *
 * The walk (sweep_locked) keeps the nodes reached but not yet processed in
 * mg_A.reached, one bit a slot, and a count of them per region (pending). It goes
 * through the open regions from the root's towards older ones, skipping any
 * with nothing pending, and through a region's bitmap words from high to
 * low; the next node is the highest set bit, since everything pending is
 * older than the node being processed. The word in hand is kept in a
 * register, where children in the same word are added. Leaves are never
 * added: they have no rule to apply. The bitmap and counts are zero again
 * when the walk ends.
 *
 * What costs time is waiting: for a child's cache line, and on branches a
 * predictor cannot learn. So a node says itself which children to visit
 * (its walk bits, set when it was made: a leaf's op never changes), instead
 * of the walk reading each child first; whether a child was reached already
 * is added in, not branched on; and the children of the node AHEAD slots
 * below are prefetched, since the walk goes down through a region's slots
 * (a slot of the region in hand, set up when it was opened: mg_arena.c).
 *
 * Only the rules of log (at 0) and of powers can fail (Python raises for
 * 1 / 0.0, 0.0 ** -1 and on overflow), and a power's only if its exponent
 * is not the constant 1 or 2 (mg_may_fail: the node's may_fail byte). Such a rule is checked when its
 * node is made; it can fail later only if data changes, and every write of
 * data goes through C (mg_set_data, the optimizers, replay, mg_reset),
 * which marks the arena suspect while any may-fail node is alive
 * (mg_data_written_locked). So when the root says such a power is under it
 * (its MG_WALK_FAILS bit) and the arena is suspect, a first sweep only
 * checks the reachable nodes, before the second applies any rule: on error
 * no gradient changes. Once no may-fail node is alive, the arena is no
 * longer suspect.
 *
 * Rules written in Python (an op built by hand, Value(x, children, op), or
 * a _backward assigned to any Value) cannot run under the lock: a rule may
 * build Values or call backward itself. A graph that may hold one (its
 * root has MG_WALK_BELOW, or some node is stale: mg_internal.h) is walked
 * in steps instead. mg_walk_start collects the order the sweep would take
 * into the caller's mg_walk, holding a reference on every node in it, so
 * nothing Python does meanwhile frees one; mg_walk_next applies C rules
 * along it up to the next Python rule, which Python then runs with the
 * lock free. The scratch bitmap is used only within one call, so other
 * threads, and backward calls made by the Python rules, run meanwhile.
 *
 * Each node's local chain rule is in mg_rules.h, shared with replay.
 */
#include <stdlib.h>
#include "mg_rules.h"

/* 0, or the error that applying node n's local rule would raise. */
static int mg_check_rule(const mg_node *n)
{
    return n->may_fail ? mg_rule_check(n, mg_at(n->a), n->b >= 0 ? mg_at(n->b) : NULL) : 0;
}

void mg_may_fail_made_locked(const mg_node *n)
{
    mg_A.may_fail++;
    if (mg_check_rule(n))
        mg_A.suspect = 1;
}

/* What a sweep does at each node it reaches. */
enum { CHECK, APPLY, COLLECT };

/* Append node i (n) to w's order, taking a reference on it. 0 or MG_ENOMEM. */
static int push(mg_walk *w, int32_t i, mg_node *n)
{
    if (w->n == w->cap) {
        int32_t cap = w->cap ? 2 * w->cap : 256;
        int32_t *bigger = cap > w->cap ? mg_realloc(w->order, (size_t)cap * sizeof *bigger) : NULL;
        if (!bigger)
            return MG_ENOMEM;
        w->order = bigger;
        w->cap = cap;
    }
    w->order[w->n++] = i;
    n->refs++;
    return 0;
}

#define AHEAD 16 /* slots: the nodes whose children are prefetched */
#define INLINE static inline __attribute__((always_inline))

/* Prefetch the children of the node AHEAD slots below v, the slot-th of
 * its region, if there is one: the sweep goes down through a region. */
INLINE void prefetch_ahead(mg_node *const *chunks, uint32_t cap, const mg_node *v, int64_t slot)
{
    if (slot >= AHEAD) {
        uint32_t pa = (uint32_t)v[-AHEAD].a, pb = (uint32_t)v[-AHEAD].b;
        __builtin_prefetch(mg_at_in(chunks, pa < cap ? pa : 0u), 1);
        __builtin_prefetch(mg_at_in(chunks, pb < cap ? pb : 0u), 1);
    }
}

/* The children of a node (a and b, NULL where absent) that COLLECT visits
 * (bits 0, 1): those that are not leaves, and leaves with a Python rule. */
INLINE unsigned collected_kids(const mg_node *a, const mg_node *b)
{
    return (a && (a->op != MG_LEAF || a->walk & MG_WALK_PY))
           | (b && (b->op != MG_LEAF || b->walk & MG_WALK_PY)) << 1;
}

/* The scratch the sweep uses: the bitmap of reached nodes, a region's
 * pending count, and the word of the bitmap in hand. */
typedef struct {
    uint64_t *reached;
    mg_region *regions;
    int32_t r;     /* the region in hand                          */
    int32_t here;  /* its pending count, kept here while in hand   */
    int64_t w;     /* the bitmap word in hand                      */
    uint64_t word; /* its bits still pending                       */
} scratch;

/* Mark node c reached; 1 if it was not before. Children in the word in
 * hand are added to it, not to the bitmap; pending counts go up. */
INLINE int reach(scratch *s, int32_t c)
{
    uint64_t m = 1ULL << (c & 63);
    int fresh;
    if (c >> 6 == s->w) {
        fresh = !(s->word & m);
        s->word |= m;
        s->here += fresh;
        return fresh;
    }
    uint64_t old = s->reached[c >> 6];
    s->reached[c >> 6] = old | m;
    fresh = !(old & m);
    if (c >> MG_REGION_SHIFT == s->r)
        s->here += fresh;
    else
        s->regions[c >> MG_REGION_SHIFT].pending += fresh;
    return fresh;
}

#ifdef MG_DEBUG
/* Whether the sweep's scratch is all zero, as it is between sweeps. */
static int scratch_clear_locked(void)
{
    int64_t regions = mg_A.nchunks * (MG_CHUNK_NODES / MG_REGION_NODES);
    for (int64_t r = 0; r < regions; r++)
        if (mg_A.regions[r].pending)
            return 0;
    for (int64_t w = 0; w < mg_A.nchunks * (MG_CHUNK_NODES / 64); w++)
        if (mg_A.reached[w])
            return 0;
    return 1;
}
#endif

/* Walk the graph under root newest-first: at each node, apply its rule
 * (APPLY), only check that it can run (CHECK), or append it to order
 * (COLLECT). 0 or the first error met; after one, the walk only clears
 * what is pending. mode is a constant wherever this is inlined. The
 * bitmap and pending counts are zero before and after. */
INLINE int sweep_locked(int root, int mode, mg_walk *order)
{
    mg_assert(scratch_clear_locked());
    mg_node *const *chunks = mg_A.chunks;
    scratch s = {.reached = mg_A.reached, .regions = mg_A.regions};
    uint32_t cap = (uint32_t)(mg_A.nchunks * MG_CHUNK_NODES);
    int64_t total = 1; /* reached, not yet processed */
    int err = 0;
    s.reached[root >> 6] |= 1ULL << (root & 63);
    s.regions[root >> MG_REGION_SHIFT].pending++;
    for (s.r = root >> MG_REGION_SHIFT; s.r >= 0 && total; s.r = s.regions[s.r].older) {
        s.here = s.regions[s.r].pending;
        s.regions[s.r].pending = 0;
        mg_node *base = mg_at_in(chunks, (int64_t)s.r << MG_REGION_SHIFT);
        int64_t first = (int64_t)s.r << (MG_REGION_SHIFT - 6);
        for (s.w = first + MG_REGION_NODES / 64 - 1; s.here; s.w--) {
            s.word = s.reached[s.w];
            s.reached[s.w] = 0;
            while (s.word) {
                int bit = 63 - __builtin_clzll(s.word);
                s.word &= ~(1ULL << bit);
                s.here--;
                total--;
                if (err)
                    continue;
                int64_t slot = ((s.w - first) << 6) + bit;
                mg_node *v = base + slot;
                prefetch_ahead(chunks, cap, v, slot);
                int32_t kids[2] = {v->a, v->b};
                mg_node *a = kids[0] >= 0 ? mg_at_in(chunks, kids[0]) : NULL;
                mg_node *b = kids[1] >= 0 ? mg_at_in(chunks, kids[1]) : NULL;
                unsigned walk = v->walk; /* known early: no wait on a child */
                int32_t i = (int32_t)((int64_t)s.r << MG_REGION_SHIFT) + (int32_t)slot;
                if (mode == APPLY)
                    mg_apply_rule(v, a, b);
                else if (mode == CHECK && (err = mg_check_rule(v)))
                    continue;
                else if (mode == COLLECT && (err = push(order, i, v)))
                    continue;
                if (mode == COLLECT)
                    walk = collected_kids(a, b);
                for (int k = 0; k < 2; k++)
                    if (walk >> k & 1)
                        total += reach(&s, kids[k]);
            }
        }
    }
    mg_assert(total == 0 && scratch_clear_locked());
    return err;
}

int mg_backward(int root)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(root) ? 0 : MG_EINDEX;
    if (!err && (mg_at(root)->walk & MG_WALK_BELOW || mg_A.stale))
        err = MG_IN_PYTHON;
    if (!err && mg_at(root)->walk & MG_WALK_FAILS && mg_A.suspect)
        err = sweep_locked(root, CHECK, NULL);
    if (!err) {
        mg_at(root)->grad = 1.0;
        sweep_locked(root, APPLY, NULL);
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_node_backward(int i)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? mg_check_rule(mg_at(i)) : MG_EINDEX;
    if (!err)
        mg_apply_rule(mg_at(i), mg_at(i)->a >= 0 ? mg_at(mg_at(i)->a) : NULL,
                      mg_at(i)->b >= 0 ? mg_at(mg_at(i)->b) : NULL);
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_set_python(int i)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? 0 : MG_EINDEX;
    if (!err) {
        mg_node *n = mg_at(i);
        if (!(n->walk & MG_WALK_PY) && n->refs > 1) { /* parents may lack MG_WALK_BELOW */
            n->walk |= MG_WALK_STALE;
            mg_A.stale++;
        }
        n->walk |= MG_WALK_PY | MG_WALK_BELOW;
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

/* Give back the references the walk holds on order[w->done .. upto). */
static void release_locked(mg_walk *w, int32_t upto)
{
    mg_assert(upto <= w->n);
    for (; w->done < upto; w->done++) {
        mg_assert(mg_live_locked(w->order[w->done])); /* the walk's reference holds it */
        mg_decref_locked(w->order[w->done]);
    }
}

void mg_walk_end(mg_walk *w)
{
    pthread_mutex_lock(&mg_lock);
    release_locked(w, w->n);
    pthread_mutex_unlock(&mg_lock);
    free(w->order);
    *w = (mg_walk){0};
}

int mg_walk_order(int root, mg_walk *w)
{
    mg_walk_end(w);
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(root) ? sweep_locked(root, COLLECT, w) : MG_EINDEX;
    pthread_mutex_unlock(&mg_lock);
    if (err)
        mg_walk_end(w);
    return err;
}

int mg_walk_start(int root, mg_walk *w)
{
    int err = mg_walk_order(root, w);
    pthread_mutex_lock(&mg_lock);
    for (int32_t k = 0; k < w->n && !err; k++) /* a Python rule replaces the node's own */
        err = mg_at(w->order[k])->walk & MG_WALK_PY ? 0 : mg_check_rule(mg_at(w->order[k]));
    if (!err)
        mg_at(root)->grad = 1.0;
    pthread_mutex_unlock(&mg_lock);
    if (err)
        mg_walk_end(w);
    return err;
}

int mg_walk_next(mg_walk *w)
{
    int r = MG_WALK_END;
    pthread_mutex_lock(&mg_lock);
    mg_assert(w->done <= w->at && w->at <= w->done + 1 && w->at <= w->n);
    release_locked(w, w->at); /* the node whose Python rule just ran */
    while (w->at < w->n) {
        mg_node *v = mg_at(w->order[w->at]);
        if (v->walk & MG_WALK_PY) {
            r = w->order[w->at++];
            break;
        }
        if ((r = mg_check_rule(v)))
            break; /* data changed since the walk began: Python raises */
        mg_apply_rule(v, v->a >= 0 ? mg_at(v->a) : NULL, v->b >= 0 ? mg_at(v->b) : NULL);
        release_locked(w, ++w->at); /* done with it: its children hold their own */
        r = MG_WALK_END;
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}
