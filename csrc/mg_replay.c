/*
 * mg_replay.c -- recordings: a graph copied once, then replayed in C.
 *
 * A recording (mg_tape) is a private copy of the graph under a root (and
 * any extra outputs): its nodes in creation order, which is a topological
 * order (mg_arena.c), with children named by position in the copy. It owns
 * its arrays and is independent of the graph it was made from, which may
 * die: it holds no reference on any computed node.
 *
 * Leaves. A leaf that something outside the recorded graph could reach when
 * it was recorded (a Python handle, or another graph: its refs exceeded its
 * edges in the graph) is a variable: the recording holds one reference on
 * it, given back by mg_tape_free, so it is never freed under the recording.
 * Forward reads its data, backward adds to its grad. Every other leaf can be
 * reached by nobody, so its data can never change: it is copied, a constant.
 * Inputs are variables too, referenced the same way.
 *
 * In the copy, a node's refs field is not a count: it is 1 when backward
 * applies the node's rule (it is not a leaf, and is reached from the root),
 * else 0 (a leaf, or a node that only feeds the extra outputs). A unary
 * node's child b is its child a, which its rule ignores, and a leaf's
 * children are itself, so that rules are applied to every node without a
 * test for a missing child (a leaf's rule does nothing). Without extra
 * outputs every node before the root is reached from it, so refs need not
 * be read.
 *
 * Locking: t->lock serialises the calls on one recording, then mg_lock is
 * taken for arena access: while reading variables for forward (the compute
 * runs unlocked, on the copy), and for all of backward, which gathers the
 * variables' arena grads into the copy, adds to them exactly as the eager
 * pass does, in the same order, and writes them back, so replayed
 * gradients equal eager ones bit for bit. While t->lock exists, t is on
 * mg_fork.c's list, so fork() takes and re-initialises it with the others
 * (the order: recordings' locks, then mg_lock). Nothing here recurses or
 * aborts; allocation failure returns MG_ENOMEM with nothing made.
 */
#include <stdlib.h>
#include <string.h>
#include "mg_rules.h"

struct mg_tape {
    pthread_mutex_t lock;
    mg_fork_link link;  /* on mg_fork.c's list while lock is initialised       */
    mg_node *nodes;     /* the copy, in creation order                        */
    int32_t n;          /* its length                                          */
    int32_t root;       /* position of the root                                */
    int32_t nout;       /* extra outputs, and their positions                  */
    int32_t *outs;
    int32_t nvar;       /* variable leaves: position, arena index (referenced) */
    int32_t *var_pos;
    int32_t *var_idx;
    int32_t nin;        /* inputs, set by mg_tape_set_inputs (referenced)      */
    int32_t *in_idx;
    int32_t npow;       /* positions of the powers reached from the root whose
                           rule may fail (mg_may_fail): checked by backward    */
    int32_t *pows;
    int32_t nvar_held;  /* references taken so far (all, once recorded)        */
    int32_t nin_held;
};

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

static uint64_t seq_of_locked(int32_t i)
{
    return mg_A.regions[i >> MG_REGION_SHIFT].seq;
}

void mg_tape_free(mg_tape *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&mg_lock);
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
    return sorted[lo].pos;
}

/* Fill t from the nodes in all[0..n) (reachable, in any order). */
static int build_locked(mg_tape *t, placed *all, int32_t n, int root, const int *outs)
{
    for (int32_t k = 0; k < n; k++)
        all[k].key = seq_of_locked(all[k].idx) << MG_REGION_SHIFT
                     | (uint64_t)(all[k].idx & (MG_REGION_NODES - 1));
    qsort(all, n, sizeof *all, by_key);
    int32_t *order = mg_malloc(n * sizeof *order);     /* arena index by position */
    int32_t *edges = mg_calloc(n, sizeof *edges);      /* in-graph parents, by position */
    t->nodes = mg_malloc(n * sizeof *t->nodes);
    if (!order || !edges || !t->nodes) {
        free(order);
        free(edges);
        return MG_ENOMEM;
    }
    for (int32_t k = 0; k < n; k++) {
        all[k].pos = k;
        order[k] = all[k].idx;
    }
    qsort(all, n, sizeof *all, by_idx);
    t->n = n;
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
    }
    t->root = position(all, n, root);
    for (int k = 0; k < t->nout; k++)
        t->outs[k] = position(all, n, outs[k]);
    /* Reached from the root: a reverse sweep over creation order. */
    t->nodes[t->root].refs = 1;
    for (int32_t k = t->root; k >= 0; k--) {
        mg_node *c = &t->nodes[k];
        if (c->op == MG_LEAF)
            c->refs = 0;
        if (!c->refs)
            continue;
        t->nodes[c->a].refs = t->nodes[c->b].refs = 1;
        t->npow += mg_is_pow(c->op) && mg_may_fail(c->op, &t->nodes[c->b]);
    }
    for (int32_t k = 0; k < n; k++) { /* variables: more references than parents here */
        edges[k] = t->nodes[k].op == MG_LEAF && mg_at(order[k])->refs > (uint32_t)edges[k];
        t->nvar += edges[k]; /* edges[k] now says whether k is a variable */
    }
    t->pows = mg_malloc((t->npow + 1) * sizeof *t->pows);
    t->var_pos = mg_malloc((t->nvar + 1) * sizeof *t->var_pos);
    t->var_idx = mg_malloc((t->nvar + 1) * sizeof *t->var_idx);
    int err = t->pows && t->var_pos && t->var_idx ? 0 : MG_ENOMEM;
    for (int32_t k = 0, p = 0, q = 0; k < n && !err; k++) {
        const mg_node *c = &t->nodes[k];
        if (c->refs && mg_is_pow(c->op) && mg_may_fail(c->op, &t->nodes[c->b]))
            t->pows[p++] = k;
        if (edges[k]) {
            t->var_pos[q] = k;
            t->var_idx[q++] = order[k];
        }
    }
    free(order);
    free(edges);
    return err;
}

int mg_record(int root, const int *outs, int nout, const int *ins, int nin, mg_tape **out)
{
    *out = NULL;
    mg_tape *t = mg_calloc(1, sizeof *t);
    if (!t)
        return MG_ENOMEM;
    t->nout = nout;
    t->nin = nin;
    t->outs = mg_malloc((nout + 1) * sizeof *t->outs);
    t->in_idx = mg_malloc((nin + 1) * sizeof *t->in_idx);
    int *roots = mg_malloc((nout + 1) * sizeof *roots);
    int err = t->outs && t->in_idx && roots && !pthread_mutex_init(&t->lock, NULL)
              ? 0 : MG_ENOMEM;
    if (err) {
        free(t->outs);
        free(t->in_idx);
        free(roots);
        free(t);
        return err;
    }
    mg_fork_track(&t->link, &t->lock);
    roots[0] = root;
    memcpy(roots + 1, outs, nout * sizeof *outs);
    pthread_mutex_lock(&mg_lock);
    if (!mg_all_live_locked(roots, nout + 1) || !mg_all_live_locked(ins, nin))
        err = MG_EINDEX;
    for (int k = 0; k < nin && !err; k++) {
        if (mg_at(ins[k])->op != MG_LEAF)
            err = MG_EINDEX;
        t->in_idx[k] = ins[k];
    }
    placed *all = NULL;
    int32_t n = 0;
    if (!err)
        err = reachable_locked(roots, nout + 1, &all, &n);
    for (int32_t k = 0; k < n && !err; k++) /* C cannot run a Python op's forward */
        if (mg_at(all[k].idx)->op >= MG_HAND || mg_at(all[k].idx)->walk & MG_WALK_PY)
            err = MG_EPYTHON;
    if (!err)
        err = build_locked(t, all, n, root, outs);
    if (!err) {
        for (; t->nvar_held < t->nvar; t->nvar_held++)
            mg_at(t->var_idx[t->nvar_held])->refs++;
        for (; t->nin_held < nin; t->nin_held++)
            mg_at(ins[t->nin_held])->refs++;
    }
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

int mg_tape_nodes(const mg_tape *t)
{
    return t->n;
}

/* Copy the variables' data and grads from the arena into the copy. */
static void gather_locked(mg_tape *t)
{
    for (int32_t k = 0; k < t->nvar; k++) {
        const mg_node *v = mg_at(t->var_idx[k]);
        mg_node *c = &t->nodes[t->var_pos[k]];
        c->data = v->data;
        c->grad = v->grad;
    }
}

int mg_tape_forward(mg_tape *t, double *values)
{
    pthread_mutex_lock(&t->lock);
    pthread_mutex_lock(&mg_lock);
    gather_locked(t);
    pthread_mutex_unlock(&mg_lock);
    int err = 0;
    mg_node *nodes = t->nodes;
    for (int32_t k = 0, n = t->n; k < n && !err; k++) {
        mg_node *v = &nodes[k];
        switch (v->op) {
        case MG_LEAF:
            break;
        case MG_ADD:
            v->data = nodes[v->a].data + nodes[v->b].data;
            break;
        case MG_MUL:
            v->data = nodes[v->a].data * nodes[v->b].data;
            break;
        case MG_RELU:
            v->data = nodes[v->a].data < 0.0 ? 0.0 : nodes[v->a].data;
            break;
        default:
            /* an error stops the loop: Python raises here */
            err = mg_is_pow(v->op) ? mg_float_pow(nodes[v->a].data, nodes[v->b].data, &v->data)
                                   : mg_unary_value(v->op, nodes[v->a].data, &v->data);
        }
    }
    values[0] = nodes[t->root].data;
    for (int k = 0; k < t->nout; k++)
        values[k + 1] = nodes[t->outs[k]].data;
    pthread_mutex_unlock(&t->lock);
    return err;
}

/* Apply the rules from the root down, to the nodes with refs set if
 * check, else to all (specialised by the compiler for each). */
static inline __attribute__((always_inline)) void reverse_sweep(mg_node *nodes, int32_t root,
                                                                int check)
{
    for (int32_t k = root; k >= 0; k--) {
        mg_node *v = &nodes[k];
        if (!check || v->refs)
            mg_apply_rule(v, &nodes[v->a], &nodes[v->b]);
    }
}

int mg_tape_backward(mg_tape *t)
{
    pthread_mutex_lock(&t->lock);
    mg_node *nodes = t->nodes;
    for (int32_t k = 0; k < t->root; k++) /* a fresh graph's grads */
        nodes[k].grad = 0.0;
    pthread_mutex_lock(&mg_lock);
    gather_locked(t); /* grads to add to, and data as the eager pass reads it */
    int err = 0;
    for (int32_t k = 0; k < t->npow && !err; k++) {
        const mg_node *v = &nodes[t->pows[k]];
        double s;
        err = mg_pow_slope(nodes[v->a].data, nodes[v->b].data, &s);
    }
    if (!err) {
        nodes[t->root].grad = 1.0;
        if (t->nout)
            reverse_sweep(nodes, t->root, 1);
        else
            reverse_sweep(nodes, t->root, 0);
        for (int32_t k = 0; k < t->nvar; k++)
            mg_at(t->var_idx[k])->grad = nodes[t->var_pos[k]].grad;
    }
    pthread_mutex_unlock(&mg_lock);
    pthread_mutex_unlock(&t->lock);
    return err;
}

int mg_tape_set_inputs(mg_tape *t, const double *x, int n)
{
    pthread_mutex_lock(&t->lock);
    pthread_mutex_lock(&mg_lock);
    int err = n == t->nin ? 0 : MG_EINDEX;
    for (int32_t k = 0; k < t->nin && !err; k++)
        mg_at(t->in_idx[k])->data = x[k];
    pthread_mutex_unlock(&mg_lock);
    pthread_mutex_unlock(&t->lock);
    return err;
}
