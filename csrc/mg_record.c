/*
 * mg_record.c -- making a recording (mg_tape.h) of a graph, and freeing it.
 *
 * mg_record, under mg_lock, finds every node reachable from the root and
 * the extra outputs (reachable_locked, with the backward scratch bitmap,
 * zero again after), refuses a graph C cannot replay (a node built by
 * hand, a rule written in Python), sorts the nodes into creation order and
 * copies them (build_locked), then takes one reference on each variable
 * leaf and each input, which mg_tape_free gives back. The copy's
 * invariants are mg_tape.h's. Nothing here recurses or aborts; on any error
 * (MG_ENOMEM, MG_EINDEX, MG_EPYTHON) nothing is made and no reference kept.
 */
#include <stdlib.h>
#include <string.h>
#include "mg_tape.h"

/* A node's place in creation order, and its index. */
typedef struct {
    uint64_t key;
    int32_t idx;
    int32_t pos;
} placed;

static int by_key(const void *x, const void *y)
{
    uint64_t a = ((const placed *)x)->key, b = ((const placed *)y)->key;
    return (a > b) - (a < b);
}

static int by_idx(const void *x, const void *y)
{
    return (((const placed *)x)->idx > ((const placed *)y)->idx)
           - (((const placed *)x)->idx < ((const placed *)y)->idx);
}

void mg_tape_free(mg_tape *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&mg_lock);
    mg_assert(t->nvar_held <= t->nvar && t->nin_held <= t->nin);
    for (int32_t k = 0; k < t->nvar_held; k++)
        mg_decref_locked(t->var_idx[k]);
    for (int32_t k = 0; k < t->nin_held; k++)
        mg_decref_locked(t->in_idx[k]);
    pthread_mutex_unlock(&mg_lock);
    mg_fork_untrack(&t->link);
    pthread_mutex_destroy(&t->lock);
    free(t->nodes);
    free(t->outs);
    free(t->var_pos);
    free(t->var_idx);
    free(t->in_idx);
    free(t->pows);
    free(t);
}

/* Mark node i in bitmap seen; 1 if it was not marked before. */
static inline int first_visit(uint64_t *seen, int32_t i)
{
    uint64_t m = 1ULL << (i & 63), old = seen[i >> 6];
    seen[i >> 6] = old | m;
    return !(old & m);
}

/* Every node reachable from the n roots, each once, in the array *out
 * (malloc'd; *count of them). Marks with mg_A.reached, cleared after.
 * 0 or MG_ENOMEM. */
static int reachable_locked(const int *roots, int n, placed **out, int32_t *count)
{
    int64_t cap = 1024 + 2 * (int64_t)n, len = 0;
    placed *all = mg_malloc(cap * sizeof *all);
    if (!all)
        return MG_ENOMEM;
    uint64_t *seen = mg_A.reached;
    int err = 0;
    for (int k = 0; k < n; k++)
        if (first_visit(seen, roots[k]))
            all[len++].idx = roots[k];
    /* all[] doubles as the work list: entries before `done` are expanded. */
    for (int64_t done = 0; done < len; done++) {
        if (len + 2 > cap) {
            placed *bigger = mg_realloc(all, 2 * cap * sizeof *all);
            if (!bigger) {
                err = MG_ENOMEM;
                break;
            }
            all = bigger;
            cap *= 2;
        }
        const mg_node *v = mg_at(all[done].idx);
        int32_t kids[2] = {v->a, v->b};
        for (int j = 0; j < 2; j++)
            if (kids[j] >= 0 && first_visit(seen, kids[j]))
                all[len++].idx = kids[j];
    }
    for (int64_t k = 0; k < len; k++) /* the bitmap is zero between walks */
        seen[all[k].idx >> 6] = 0;
    if (err) {
        free(all);
        return err;
    }
    *out = all;
    *count = (int32_t)len;
    return 0;
}

/* The position of arena node i in the copy (sorted: the placed array in
 * index order). i is known to be there. */
static int32_t position(const placed *sorted, int32_t n, int32_t i)
{
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (sorted[mid].idx < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    mg_assert(sorted[lo].idx == i);
    return sorted[lo].pos;
}

/* Number all[0..n) by creation order (pos), and write the arena index at
 * each position in order[]; all[] is left in index order, for position(). */
static void creation_order_locked(placed *all, int32_t n, int32_t *order)
{
    for (int32_t k = 0; k < n; k++)
        all[k].key = mg_order_locked(all[k].idx);
    qsort(all, n, sizeof *all, by_key);
    for (int32_t k = 0; k < n; k++) {
        all[k].pos = k;
        order[k] = all[k].idx;
    }
    qsort(all, n, sizeof *all, by_idx);
}

/* Copy the nodes at order[0..n) into t->nodes, children as positions, and
 * count in edges[] each node's parents in the copy. */
static void copy_nodes_locked(mg_tape *t, const placed *all, const int32_t *order, int32_t *edges)
{
    int32_t n = t->n;
    for (int32_t k = 0; k < n; k++) {
        const mg_node *v = mg_at(order[k]);
        mg_node *c = &t->nodes[k];
        *c = (mg_node){.data = v->data, .op = v->op, .a = k, .b = k}; /* leaves: themselves */
        if (v->a >= 0)
            edges[c->a = position(all, n, v->a)]++;
        if (v->b >= 0)
            edges[c->b = position(all, n, v->b)]++;
        else if (v->a >= 0)
            c->b = c->a; /* unary */
        mg_assert(c->op == MG_LEAF ? c->a == k && c->b == k : c->a < k && c->b < k);
    }
}

/* Set refs on the nodes backward applies (reached from the root, not
 * leaves), a reverse sweep over creation order; count in npow those whose
 * rule may fail. */
static void mark_reached(mg_tape *t)
{
    t->nodes[t->root].refs = 1;
    for (int32_t k = t->root; k >= 0; k--) {
        mg_node *c = &t->nodes[k];
        if (c->op == MG_LEAF)
            c->refs = 0;
        if (!c->refs)
            continue;
        t->nodes[c->a].refs = t->nodes[c->b].refs = 1;
        t->npow += mg_may_fail(c->op, &t->nodes[c->b]);
    }
}

/* t's index arrays: pows, and the variables: leaves with more references
 * than parents in the copy (edges[], overwritten). 0 or MG_ENOMEM. */
static int index_locked(mg_tape *t, const int32_t *order, int32_t *edges)
{
    for (int32_t k = 0; k < t->n; k++) {
        edges[k] = t->nodes[k].op == MG_LEAF && mg_at(order[k])->refs > (uint32_t)edges[k];
        t->nvar += edges[k]; /* edges[k] now says whether k is a variable */
    }
    t->pows = mg_malloc((t->npow + 1) * sizeof *t->pows);
    t->var_pos = mg_malloc((t->nvar + 1) * sizeof *t->var_pos);
    t->var_idx = mg_malloc((t->nvar + 1) * sizeof *t->var_idx);
    if (!t->pows || !t->var_pos || !t->var_idx)
        return MG_ENOMEM;
    for (int32_t k = 0, p = 0, q = 0; k < t->n; k++) {
        const mg_node *c = &t->nodes[k];
        if (c->refs && mg_may_fail(c->op, &t->nodes[c->b]))
            t->pows[p++] = k;
        if (edges[k]) {
            t->var_pos[q] = k;
            t->var_idx[q++] = order[k];
        }
    }
    return 0;
}

/* Fill t from the nodes in all[0..n) (reachable, in any order). */
static int build_locked(mg_tape *t, placed *all, int32_t n, int root, const int *outs)
{
    int32_t *order = mg_malloc(n * sizeof *order); /* arena index by position */
    int32_t *edges = mg_calloc(n, sizeof *edges);  /* in-graph parents, by position */
    t->nodes = mg_malloc(n * sizeof *t->nodes);
    int err = order && edges && t->nodes ? 0 : MG_ENOMEM;
    if (!err) {
        t->n = n;
        creation_order_locked(all, n, order);
        copy_nodes_locked(t, all, order, edges);
        t->root = position(all, n, root);
        for (int k = 0; k < t->nout; k++)
            t->outs[k] = position(all, n, outs[k]);
        mark_reached(t);
        err = index_locked(t, order, edges);
    }
    free(order);
    free(edges);
    return err;
}

/* A recording with room for nout outputs and nin inputs, its lock made and
 * tracked by mg_fork.c; NULL if out of memory. */
static mg_tape *new_tape(int nout, int nin)
{
    mg_tape *t = mg_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nout = nout;
    t->nin = nin;
    t->outs = mg_malloc((nout + 1) * sizeof *t->outs);
    t->in_idx = mg_malloc((nin + 1) * sizeof *t->in_idx);
    if (!t->outs || !t->in_idx || pthread_mutex_init(&t->lock, NULL)) {
        free(t->outs);
        free(t->in_idx);
        free(t);
        return NULL;
    }
    mg_fork_track(&t->link, &t->lock);
    return t;
}

/* Record into t the graph under roots[0..nout] (the root, then the extra
 * outputs), with inputs ins[0..nin), taking the recording's references.
 * all holds the reachable nodes (the caller frees it). 0 or an error. */
static int record_locked(mg_tape *t, const int *roots, const int *ins, placed **all)
{
    int nout = t->nout, nin = t->nin, err = 0;
    if (!mg_all_live_locked(roots, nout + 1) || !mg_all_live_locked(ins, nin))
        return MG_EINDEX;
    for (int k = 0; k < nin; k++) {
        if (mg_at(ins[k])->op != MG_LEAF)
            return MG_EINDEX;
        t->in_idx[k] = ins[k];
    }
    int32_t n = 0;
    if ((err = reachable_locked(roots, nout + 1, all, &n)))
        return err;
    for (int32_t k = 0; k < n; k++) /* C cannot run a Python op's forward */
        if (mg_at((*all)[k].idx)->op >= MG_HAND || mg_at((*all)[k].idx)->walk & MG_WALK_PY)
            return MG_EPYTHON;
    if ((err = build_locked(t, *all, n, roots[0], roots + 1)))
        return err;
    for (; t->nvar_held < t->nvar; t->nvar_held++)
        mg_at(t->var_idx[t->nvar_held])->refs++;
    for (; t->nin_held < nin; t->nin_held++)
        mg_at(ins[t->nin_held])->refs++;
    return 0;
}

int mg_record(int root, const int *outs, int nout, const int *ins, int nin, mg_tape **out)
{
    *out = NULL;
    mg_tape *t = new_tape(nout, nin);
    int *roots = t ? mg_malloc((nout + 1) * sizeof *roots) : NULL;
    if (!roots) {
        mg_tape_free(t);
        return MG_ENOMEM;
    }
    roots[0] = root;
    if (nout) /* (outs may be NULL then) */
        memcpy(roots + 1, outs, nout * sizeof *outs);
    placed *all = NULL;
    pthread_mutex_lock(&mg_lock);
    int err = record_locked(t, roots, ins, &all);
    pthread_mutex_unlock(&mg_lock);
    free(roots);
    free(all);
    if (err) {
        mg_tape_free(t);
        return err;
    }
    *out = t;
    return 0;
}
