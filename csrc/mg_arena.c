/*
 * mg_arena.c -- node storage: chunks, a free bitmap, reference counts.
 *
 * Nodes live in chunks of MG_CHUNK_NODES slots. A chunk, once allocated, is
 * never moved or freed, so an index stays valid and Python can hold a
 * memoryview of every chunk. Slots [0, top) have been used at least once;
 * a slot below top is free if and only if its bit in freebits is set, and
 * then its op is MG_FREE. Every free slot lies at or above cursor.
 *
 * Allocation takes the lowest free slot, else bumps top, else adds a chunk.
 * Lowest-first keeps a graph that is built after another was dropped in
 * ascending, creation order in memory, which is what keeps the sort and the
 * reverse pass streaming through the cache instead of jumping around.
 *
 * A node's refs counts the references callers own plus one per parent
 * edge. mg_decref frees a node when it reaches zero and then drops the
 * references that node held on its children, using a list threaded through
 * the dead nodes' mark fields, so freeing any graph needs neither recursion
 * nor memory.
 *
 * Failure: growing may fail; it then returns MG_ENOMEM having changed
 * nothing that matters (at most a table was enlarged). Nothing here aborts.
 */
#include <stdlib.h>
#include <string.h>
#include "mg_internal.h"

mg_arena mg_A = {.limit = -1, .epoch = 1};
pthread_mutex_t mg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Add one chunk. 0 or MG_ENOMEM, with the arena unchanged but for capacity. */
static int add_chunk_locked(void)
{
    int64_t slots = (mg_A.nchunks + 1) * (int64_t)MG_CHUNK_NODES;
    if (slots > INT32_MAX)
        return MG_ENOMEM;
    mg_node **table = realloc(mg_A.chunks, (size_t)(mg_A.nchunks + 1) * sizeof *table);
    if (!table)
        return MG_ENOMEM;
    mg_A.chunks = table;
    size_t words = (size_t)slots / 64;
    uint64_t *bits = realloc(mg_A.freebits, words * sizeof *bits);
    if (!bits)
        return MG_ENOMEM;
    mg_A.freebits = bits;
    mg_node *chunk = malloc(MG_CHUNK_NODES * sizeof *chunk);
    if (!chunk)
        return MG_ENOMEM;
    memset(bits + words - MG_CHUNK_NODES / 64, 0, MG_CHUNK_NODES / 8);
    table[mg_A.nchunks++] = chunk;
    return 0;
}

int mg_reserve_locked(int64_t n)
{
    if (mg_A.limit >= 0 && mg_A.live + n > mg_A.limit)
        return MG_ENOMEM;
    while (mg_A.nfree + mg_A.nchunks * (int64_t)MG_CHUNK_NODES - mg_A.top < n) {
        int err = add_chunk_locked();
        if (err)
            return err;
    }
    return 0;
}

/* The lowest free slot below top; there must be one. */
static int64_t take_free_locked(void)
{
    int64_t w = mg_A.cursor >> 6;
    uint64_t bits = mg_A.freebits[w] & (~0ULL << (mg_A.cursor & 63));
    while (!bits)
        bits = mg_A.freebits[++w];
    int64_t i = w * 64 + __builtin_ctzll(bits);
    mg_A.freebits[w] &= ~(1ULL << (i & 63));
    mg_A.nfree--;
    mg_A.cursor = i + 1;
    return i;
}

int mg_new_locked(double data, int op, int a, int b)
{
    int64_t i = mg_A.nfree ? take_free_locked() : mg_A.top++;
    mg_node *n = mg_at(i);
    n->data = data;
    n->grad = 0.0;
    n->a = a;
    n->b = b;
    n->refs = 1;
    n->mark = 0;
    n->op = (uint8_t)op;
    mg_A.live++;
    return (int)i;
}

/* Return slot i to the free set. */
static void release_locked(int64_t i)
{
    mg_at(i)->op = MG_FREE;
    mg_A.freebits[i >> 6] |= 1ULL << (i & 63);
    mg_A.nfree++;
    mg_A.live--;
    if (i < mg_A.cursor)
        mg_A.cursor = i;
}

int mg_grow_locked(void **buf, int64_t *cap, int64_t n, size_t item)
{
    if (n <= *cap)
        return 0;
    int64_t want = *cap ? *cap : 1024;
    while (want < n)
        want *= 2;
    void *p = realloc(*buf, (size_t)want * item);
    if (!p)
        return MG_ENOMEM;
    *buf = p;
    *cap = want;
    return 0;
}

int mg_incref(int i)
{
    pthread_mutex_lock(&mg_lock);
    int ok = mg_live_locked(i);
    if (ok)
        mg_at(i)->refs++;
    pthread_mutex_unlock(&mg_lock);
    return ok ? 0 : MG_EINDEX;
}

/* Drop one reference on i; if it was the last, push i on the dead list. */
static void drop_locked(int64_t i, int64_t *dead)
{
    mg_node *n = mg_at(i);
    if (--n->refs == 0) {
        n->mark = (uint32_t)*dead;
        *dead = i;
    }
}

/* Drop a caller's reference on i and free whatever that leaves unreached. */
static void decref_locked(int i)
{
    if (!mg_live_locked(i))
        return;
    int64_t dead = -1; /* nodes at zero refs, linked through mark */
    drop_locked(i, &dead);
    while (dead >= 0) {
        mg_node *n = mg_at(dead);
        int64_t next = n->mark == UINT32_MAX ? -1 : (int64_t)n->mark;
        release_locked(dead);
        dead = next;
        if (n->a >= 0)
            drop_locked(n->a, &dead);
        if (n->b >= 0)
            drop_locked(n->b, &dead);
    }
}

void mg_decref(int i)
{
    pthread_mutex_lock(&mg_lock);
    decref_locked(i);
    pthread_mutex_unlock(&mg_lock);
}

void mg_decref_many(const int *idx, int n)
{
    pthread_mutex_lock(&mg_lock);
    for (int k = 0; k < n; k++)
        decref_locked(idx[k]);
    pthread_mutex_unlock(&mg_lock);
}

int mg_child(int i, int k)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(i) && (k == 0 || k == 1))
        r = k == 0 ? mg_at(i)->a : mg_at(i)->b;
    pthread_mutex_unlock(&mg_lock);
    return r;
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
    out->bytes = cap * (int64_t)sizeof(mg_node) + cap / 8
                 + mg_A.nchunks * (int64_t)sizeof(mg_node *)
                 + mg_A.stack_cap * (int64_t)sizeof *mg_A.stack
                 + mg_A.topo_cap * (int64_t)sizeof *mg_A.topo;
    pthread_mutex_unlock(&mg_lock);
}

void mg_set_node_limit(int64_t max_nodes)
{
    pthread_mutex_lock(&mg_lock);
    mg_A.limit = max_nodes;
    pthread_mutex_unlock(&mg_lock);
}
