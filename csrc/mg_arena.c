/*
 * mg_arena.c -- node storage: chunks, regions, reference counts.
 *
 * Nodes live in chunks of MG_CHUNK_NODES slots (2 MiB), each mapped on its
 * own (mg_map). A chunk, once mapped, is never moved or unmapped, so an
 * index stays valid and Python can hold a memoryview of every chunk. A slot
 * that holds no node has op MG_FREE, or reads as zeros (below); a live node
 * has refs >= 1, and mg_live_locked asks for both.
 *
 * Chunks are cut into regions of MG_REGION_NODES slots. Every node, whichever
 * thread makes it, goes in the next slot of one current region: the newest
 * open one, mg_A.newest. When that is full, a free region is opened, stamped
 * with the next sequence number, and becomes the current one. Allocation
 * happens under mg_lock, so (region seq, slot) is the order the nodes were
 * made in, by construction: every node comes after its children, which
 * existed before it. The reverse of that order is therefore a topological
 * order of every graph. mg_backward.c walks graphs that way, with no sort,
 * and the result depends only on the order the program made its nodes, not
 * on where they landed in memory.
 *
 * Open regions (those with live nodes, and the current one) sit on a list
 * ordered by seq, the current one at its newest end. A region other than
 * the current becomes free again when its last node dies, and is reused
 * first (the free regions are a stack); the current one, when it is full
 * and empty, as the next is opened.
 *
 * Why not a current region per thread. Each thread used to fill a region
 * of its own (thread-local, given up at thread exit and in a fork child),
 * to keep a thread's nodes together when threads build at once. That bought
 * no concurrency (all of this is under mg_lock) and cost a check of both
 * children on every node made (another thread's child could lie in a newer
 * region). What it did keep together matters little. How finely two
 * building threads interleave is up to the scheduler: a 400k-node graph
 * built by a Python thread while another builds spans 1.01 to 1.07 times
 * the regions of one built alone in most runs (the GIL changes hands after
 * long runs), 1.8 times in some, and then its backward took about 1.4
 * times as long (noisy). At worst, two graphs built op by op in turn (as
 * one thread may do, which per-thread regions never separated) span twice
 * the regions and backward took 2.5 times as long (14 to 36 ns a node, C).
 * But building dominates in Python: two threads each building and
 * backpropagating graphs of their own ran as fast as before (wall 0.998
 * times; the soak, equal within noise).
 * And 3,000 short-lived threads keeping a Value each now leave 141 regions
 * open, not 3,000 (2.1 MB, not 6.4 MB).
 *
 * What one survivor costs. Slots inside an open region are not reused: a
 * node made later in a free slot of an old region would sort before its
 * older children, and a node's place cannot change, since Python holds
 * indices (so no compaction either). One long-lived node therefore keeps
 * its whole region from reuse, and the size of a region is what that costs:
 * 64 slots, 2 KiB. A loop that keeps a Value or two a step (a metric, a new
 * leaf), or many short-lived threads each leaving one Value behind, grow
 * the arena by 2 KiB per survivor at most, not 128 KiB as with regions of
 * 4,096 slots. Taking leaves from a pool of their own that reuses freed
 * slots (a leaf has no children, so order does not bind it) would help only
 * leaves; a computed survivor would still pin a region. Smaller regions cost
 * a region switch every 64 nodes (a few loads and stores) and 32 bytes of
 * region table per 2 KiB, and backward skips the regions with nothing
 * reached; no slowdown was measurable in build or backward.
 *
 * Memory given back. A chunk all of whose regions are free is an empty
 * chunk. Up to keep_empty of them stay resident (4 at first, 8 MiB); the
 * pages of any other are handed back to the OS (mg_give_back, madvise
 * MADV_DONTNEED), so after a peak the process shrinks to what is alive. The
 * chunk stays mapped and its regions stay on the free stack. If such a
 * chunk is needed again, the program cycles through more memory than is
 * kept, and giving back would cost a page fault per page every cycle:
 * keep_empty grows by one each time, so a build/drop loop stops giving back
 * after its first cycles, and a one-off peak still goes back at once.
 *
 * Zeroed memory. A new chunk (never touched) and a given-back chunk read as
 * zeros: op MG_LEAF, refs 0, children 0. Their regions are marked zeroed,
 * and a zeroed region's slots are set to free (op MG_FREE, children -1)
 * when the region is opened, before any node goes in; until then a zero
 * slot is not live for its refs of 0, and its children (0) are a valid
 * index for backward's prefetch. Nothing is read from a chunk's memory
 * after the node freeing its last region has been read (mg_decref_locked
 * reads the children first).
 *
 * A node's refs counts the references callers own plus one per parent
 * edge. mg_decref frees a node when it reaches zero and then drops the
 * references that node held on its children, using a stack threaded through
 * the dead nodes' own refs fields, so freeing any graph needs neither
 * recursion nor memory.
 *
 * Failure: only adding a chunk can fail (its tables grow with realloc, the
 * chunk is mapped, both through mg_alloc.c's fault hook); it then returns
 * MG_ENOMEM having changed nothing that matters (at most a table was
 * enlarged). Nothing here aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mg_internal.h"

#define REGIONS_PER_CHUNK (MG_CHUNK_NODES / MG_REGION_NODES)
#define KEEP_EMPTY 4 /* empty chunks kept resident at first (8 MiB) */
enum { GIVEN_BACK_NEW = 1, GIVEN_BACK_USED = 2 }; /* mg_chunk_state.given_back */

mg_arena mg_A = {.free_region = -1, .newest = -1, .limit = -1, .keep_empty = KEEP_EMPTY};
pthread_mutex_t mg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Add one chunk and its regions (pushed free). 0 or MG_ENOMEM, with the
 * arena unchanged but for the size of its tables. The chunk is mapped, not
 * touched: it counts as given back until a region of it is opened. */
static int add_chunk_locked(void)
{
    int64_t c = mg_A.nchunks;
    if ((c + 1) * (int64_t)MG_CHUNK_NODES > INT32_MAX)
        return MG_ENOMEM;
    mg_node **table = mg_realloc(mg_A.chunks, (size_t)(c + 1) * sizeof *table);
    if (!table)
        return MG_ENOMEM;
    mg_A.chunks = table;
    mg_chunk_state *state = mg_realloc(mg_A.chunk_state, (size_t)(c + 1) * sizeof *state);
    if (!state)
        return MG_ENOMEM;
    mg_A.chunk_state = state;
    size_t words = (size_t)(c + 1) * MG_CHUNK_NODES / 64;
    uint64_t *reached = mg_realloc(mg_A.reached, words * sizeof *reached);
    if (!reached)
        return MG_ENOMEM;
    mg_A.reached = reached;
    mg_region *regions = mg_realloc(mg_A.regions,
                                    (size_t)(c + 1) * REGIONS_PER_CHUNK * sizeof *regions);
    if (!regions)
        return MG_ENOMEM;
    mg_A.regions = regions;
    mg_node *chunk = mg_map(MG_CHUNK_NODES * sizeof *chunk); /* zeros: chunk_take_locked */
    if (!chunk)
        return MG_ENOMEM;
    memset(reached + words - MG_CHUNK_NODES / 64, 0, MG_CHUNK_NODES / 8);
    for (int k = REGIONS_PER_CHUNK - 1; k >= 0; k--) { /* lowest ends on top */
        int32_t r = (int32_t)(c * REGIONS_PER_CHUNK + k);
        regions[r] = (mg_region){.older = mg_A.free_region, .newer = -1, .zeroed = 1};
        mg_A.free_region = r;
    }
    state[c] = (mg_chunk_state){.free_regions = REGIONS_PER_CHUNK, .given_back = GIVEN_BACK_NEW};
    mg_A.free_regions += REGIONS_PER_CHUNK;
    table[mg_A.nchunks++] = chunk;
    return 0;
}

/* Region r, free, leaves the free regions of its chunk. */
static void chunk_take_locked(int32_t r)
{
    mg_chunk_state *s = &mg_A.chunk_state[r / REGIONS_PER_CHUNK];
    mg_assert(s->free_regions > 0);
    if (s->free_regions-- == REGIONS_PER_CHUNK) { /* the chunk was all free */
        if (s->given_back) {
            /* given back, then needed again: the program cycles through
             * more memory than is kept, so keep one more from now on */
            mg_A.keep_empty += s->given_back == GIVEN_BACK_USED;
            s->given_back = 0;
        } else {
            mg_A.empty_resident--;
        }
    }
    mg_region *g = &mg_A.regions[r];
    if (g->zeroed) { /* never-touched or given-back memory: slots made free */
        mg_node *n = mg_at((int64_t)r * MG_REGION_NODES);
        for (int k = 0; k < MG_REGION_NODES; k++)
            n[k] = (mg_node){.a = -1, .b = -1, .op = MG_FREE};
        g->zeroed = 0;
    }
}

/* Region r is free again: when its whole chunk is, the chunk stays
 * resident if fewer than keep_empty others do, else its memory goes back. */
static void chunk_return_locked(int32_t r)
{
    int64_t c = r / REGIONS_PER_CHUNK;
    mg_chunk_state *s = &mg_A.chunk_state[c];
    mg_assert(s->free_regions < REGIONS_PER_CHUNK);
    if (++s->free_regions < REGIONS_PER_CHUNK)
        return;
    if (mg_A.empty_resident < mg_A.keep_empty) {
        mg_A.empty_resident++;
        return;
    }
    mg_give_back(mg_A.chunks[c], MG_CHUNK_NODES * sizeof(mg_node));
    for (int k = 0; k < REGIONS_PER_CHUNK; k++)
        mg_A.regions[c * REGIONS_PER_CHUNK + k].zeroed = 1;
    s->given_back = GIVEN_BACK_USED;
}

/* Open a free region (there must be one) as the current, the newest. */
static int32_t open_region_locked(void)
{
    int32_t r = mg_A.free_region;
    mg_assert(r >= 0 && mg_A.free_regions > 0); /* mg_reserve_locked saw to it */
    mg_region *g = &mg_A.regions[r];
    mg_A.free_region = g->older;
    mg_A.free_regions--;
    chunk_take_locked(r);
    *g = (mg_region){.seq = ++mg_A.seq, .older = mg_A.newest, .newer = -1};
    if (mg_A.newest >= 0)
        mg_A.regions[mg_A.newest].newer = r;
    mg_A.newest = r;
    mg_A.open_regions++;
    mg_assert(mg_A.free_regions + mg_A.open_regions == mg_A.nchunks * REGIONS_PER_CHUNK);
    return r;
}

/* Put region r, open and empty, back on the free stack. */
static void recycle_locked(int32_t r)
{
    mg_region *g = &mg_A.regions[r];
    mg_assert(g->live == 0 && mg_A.open_regions > 0);
    if (g->older >= 0)
        mg_A.regions[g->older].newer = g->newer;
    if (g->newer >= 0)
        mg_A.regions[g->newer].older = g->older;
    else
        mg_A.newest = g->older;
    g->older = mg_A.free_region;
    g->newer = -1;
    mg_A.free_region = r;
    mg_A.free_regions++;
    mg_A.open_regions--;
    chunk_return_locked(r);
}

int mg_reserve_locked(int64_t n)
{
    if (mg_A.limit >= 0 && mg_A.live + n > mg_A.limit)
        return MG_ENOMEM;
    /* n nodes open at most 1 + n / MG_REGION_NODES regions: one when the
     * current is full, one more for every region they fill */
    while (mg_A.free_regions < 1 + n / MG_REGION_NODES) {
        int err = add_chunk_locked();
        if (err)
            return err;
    }
    return 0;
}

int32_t mg_next_region_locked(void)
{
    int32_t full = mg_A.newest;
    mg_assert(full < 0 || mg_A.regions[full].used == MG_REGION_NODES);
    if (full >= 0 && mg_A.regions[full].live == 0) /* all its nodes died: it is */
        recycle_locked(full); /* the top of the free stack, opened again below */
    return open_region_locked();
}

int mg_incref(int i)
{
    pthread_mutex_lock(&mg_lock);
    int ok = mg_live_locked(i);
    if (ok)
        mg_at(mg_hand_locked(i))->refs++;
    pthread_mutex_unlock(&mg_lock);
    return ok ? 0 : MG_EINDEX;
}

void mg_decref_locked(int i)
{
    if (!mg_live_locked(i))
        return;
    /* Tables in locals: nothing is allocated while freeing, and with
     * -fno-strict-aliasing the compiler would reload them after every store. */
    mg_node *const *chunks = mg_A.chunks;
    mg_region *regions = mg_A.regions;
    int64_t dead = -1, freed = 0, stale = 0, may_fail = 0; /* dead: linked by refs */
    if (--mg_at_in(chunks, i)->refs == 0) {
        mg_at_in(chunks, i)->refs = UINT32_MAX; /* (int32_t)-1 ends the stack */
        dead = i;
    }
    while (dead >= 0) {
        mg_node *n = mg_at_in(chunks, dead);
        int64_t next = (int32_t)n->refs;
        n->refs = 0;
        stale += (n->walk & MG_WALK_STALE) != 0;
        may_fail += n->may_fail;
        n->op = MG_FREE;
        if (n->handed)
            mg_handoff_forget_locked((int32_t)dead);
        freed++;
        int32_t kids[2] = {n->a, n->b}; /* before recycling may give n's memory back */
        int32_t r = (int32_t)(dead >> MG_REGION_SHIFT);
        mg_assert(regions[r].live > 0);
        if (--regions[r].live == 0 && r != mg_A.newest) /* not the current one */
            recycle_locked(r);
        dead = next;
        for (int k = 0; k < 2; k++) {
            if (kids[k] < 0)
                continue;
            mg_node *c = mg_at_in(chunks, kids[k]);
            mg_assert(c->refs > 0 && c->refs != UINT32_MAX); /* a child is not dead yet */
            if (--c->refs == 0) {
                c->refs = (uint32_t)dead;
                dead = kids[k];
            }
        }
    }
    mg_A.live -= freed;
    mg_A.stale -= stale;
    mg_A.may_fail -= may_fail;
    mg_assert(mg_A.live >= 0 && mg_A.stale >= 0 && mg_A.may_fail >= 0);
    if (mg_A.may_fail == 0)
        mg_A.suspect = 0;
}

/* Python gives back a reference: no record may name its node (mg_handoff.c). */
static void returned_locked(int i)
{
    if (mg_live_locked(i) && mg_at(i)->handed)
        mg_handoff_forget_locked(i);
    mg_decref_locked(i);
}

void mg_decref(int i)
{
    pthread_mutex_lock(&mg_lock);
    returned_locked(i);
    pthread_mutex_unlock(&mg_lock);
}

void mg_decref_many(int *idx, int n)
{
    pthread_mutex_lock(&mg_lock);
    for (int k = 0; k < n; k++) {
        returned_locked(idx[k]);
        idx[k] = -1;
    }
    pthread_mutex_unlock(&mg_lock);
}

int mg_op(int i)
{
    pthread_mutex_lock(&mg_lock);
    int r = mg_live_locked(i) ? mg_at(i)->op : MG_EINDEX;
    pthread_mutex_unlock(&mg_lock);
    return r;
}

mg_node *mg_chunk(int c)
{
    pthread_mutex_lock(&mg_lock);
    mg_node *p = c >= 0 && c < mg_A.nchunks ? mg_A.chunks[c] : NULL;
    pthread_mutex_unlock(&mg_lock);
    return p;
}

int mg_chunk_count(void)
{
    pthread_mutex_lock(&mg_lock);
    int n = (int)mg_A.nchunks;
    pthread_mutex_unlock(&mg_lock);
    return n;
}

void mg_stats_get(mg_stats *out)
{
    pthread_mutex_lock(&mg_lock);
    int64_t cap = mg_A.nchunks * (int64_t)MG_CHUNK_NODES;
    out->live = mg_A.live;
    out->capacity = cap;
    out->chunks = mg_A.nchunks;
    out->regions = mg_A.open_regions;
    out->bytes = cap * (int64_t)sizeof(mg_node) + cap / 8
                 + cap / MG_REGION_NODES * (int64_t)sizeof(mg_region)
                 + mg_A.nchunks * (int64_t)(sizeof(mg_node *) + sizeof(mg_chunk_state));
    pthread_mutex_unlock(&mg_lock);
}

void mg_set_node_limit(int64_t max_nodes)
{
    pthread_mutex_lock(&mg_lock);
    mg_A.limit = max_nodes;
    pthread_mutex_unlock(&mg_lock);
}
