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
 * Only a power's rule can fail (Python raises for 0.0 ** -1 and on
 * overflow). A first walk only checks the reachable nodes, before the second
 * applies any rule, when a live power failed its check when it was made (its
 * fallible bit), or once data was written while powers were alive (which may
 * make them fail), until no power is left; on error no gradient changes.
 *
 * Each node's local chain rule is in mg_rules.h, shared with replay.
 */
#include "mg_rules.h"

/* 0, or the error that applying node n's local rule would raise. */
int mg_check_rule(const mg_node *n)
{
    double s;
    return mg_is_pow(n->op) ? mg_pow_slope(mg_at(n->a)->data, mg_at(n->b)->data, &s) : 0;
}


/* Walk the graph under root newest-first, applying each node's rule
 * (apply) or only checking that it can run. 0 or the first error met.
 * The arena's tables are read into locals once: nothing is allocated here,
 * and the compiler could not otherwise keep them in registers (extensions
 * are built with -fno-strict-aliasing, so every store might change them). */
#define AHEAD 16 /* slots: the nodes whose children are prefetched */
static int sweep_locked(int root, int apply)
{
    mg_node *const *chunks = mg_A.chunks;
    mg_region *regions = mg_A.regions;
    uint64_t *reached = mg_A.reached;
#define NODE(i) (chunks[(i) >> MG_CHUNK_SHIFT] + ((i) & (MG_CHUNK_NODES - 1)))
    uint32_t cap = (uint32_t)(mg_A.nchunks * MG_CHUNK_NODES);
    int64_t total = 1;
    int err = 0;
    reached[root >> 6] |= 1ULL << (root & 63);
    regions[root >> MG_REGION_SHIFT].pending++;
    for (int32_t r = root >> MG_REGION_SHIFT; r >= 0 && total; r = regions[r].older) {
        int32_t here = regions[r].pending; /* kept in a register while in r */
        regions[r].pending = 0;
        mg_node *base = NODE((int64_t)r << MG_REGION_SHIFT);
        int64_t first = (int64_t)r << (MG_REGION_SHIFT - 6);
        for (int64_t w = first + MG_REGION_NODES / 64 - 1; here; w--) {
            uint64_t word = reached[w];
            reached[w] = 0;
            while (word) {
                int bit = 63 - __builtin_clzll(word);
                word &= ~(1ULL << bit);
                here--;
                total--;
                if (err)
                    continue; /* a check failed: only clear what is pending */
                int64_t slot = ((w - first) << 6) + bit;
                mg_node *v = base + slot;
                if (slot >= AHEAD) { /* the children of a node soon to come */
                    uint32_t pa = (uint32_t)v[-AHEAD].a, pb = (uint32_t)v[-AHEAD].b;
                    __builtin_prefetch(NODE(pa < cap ? pa : 0u), 1);
                    __builtin_prefetch(NODE(pb < cap ? pb : 0u), 1);
                }
                int32_t kids[2] = {v->a, v->b};
                mg_node *a = kids[0] >= 0 ? NODE(kids[0]) : NULL;
                mg_node *b = kids[1] >= 0 ? NODE(kids[1]) : NULL;
                if (apply)
                    mg_apply_rule(v, a, b);
                else if ((err = mg_check_rule(v)))
                    continue;
                unsigned walk = v->walk; /* known early: no wait on a child */
                for (int k = 0; k < 2; k++) {
                    if (!(walk >> k & 1))
                        continue;
                    int32_t c = kids[k];
                    uint64_t m = 1ULL << (c & 63);
                    int fresh;
                    if (c >> 6 == w) { /* in the word in hand */
                        fresh = !(word & m);
                        word |= m;
                        here += fresh;
                    } else {
                        uint64_t old = reached[c >> 6];
                        reached[c >> 6] = old | m;
                        fresh = !(old & m);
                        if (c >> MG_REGION_SHIFT == r)
                            here += fresh;
                        else
                            regions[c >> MG_REGION_SHIFT].pending += fresh;
                    }
                    total += fresh;
                }
            }
        }
    }
#undef NODE
    return err;
}

int mg_backward(int root, int data_written)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(root) ? 0 : MG_EINDEX;
    if (data_written)
        mg_data_written_locked();
    if (!err && (mg_A.fallible || mg_A.suspect))
        err = sweep_locked(root, 0);
    if (!err) {
        mg_at(root)->grad = 1.0;
        sweep_locked(root, 1);
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
