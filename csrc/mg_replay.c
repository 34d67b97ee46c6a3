/*
 * mg_replay.c -- running a recording (mg_tape.h, made by mg_record.c):
 * forward, backward, and setting its inputs.
 *
 * Locking: t->lock serialises the calls on one recording, then mg_lock is
 * taken for arena access: while reading variables for forward (the compute
 * runs unlocked, on the copy), and for all of backward, which gathers the
 * variables' arena grads into the copy, adds to them exactly as the eager
 * pass does, in the same order, and writes them back, so replayed
 * gradients equal eager ones bit for bit. The other nodes' grads start at
 * 0: forward zeroes them as it goes (each node is in cache then), and
 * backward zeroes them first only if a backward ran since (t->clean).
 * Backward first checks the powers that may fail (t->pows), so on error no
 * gradient changes. While t->lock
 * exists, t is on mg_fork.c's list, so fork() takes and re-initialises it
 * with the others (the order: recordings' locks, then mg_lock). Nothing
 * here allocates, recurses or aborts.
 */
#include "mg_rules.h"
#include "mg_tape.h"

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
        mg_assert(mg_live_locked(t->var_idx[k]) && c->op == MG_LEAF); /* referenced */
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
        v->grad = 0.0; /* for backward, while the node is in cache */
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
        case MG_LOGADDEXP:
            v->data = mg_logaddexp_value(nodes[v->a].data, nodes[v->b].data);
            break;
        default:
            /* an error stops the loop: Python raises here */
            err = mg_is_pow(v->op) ? mg_float_pow(nodes[v->a].data, nodes[v->b].data, &v->data)
                                   : mg_unary_value(v->op, nodes[v->a].data, &v->data);
        }
    }
    t->clean |= !err;
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
            mg_apply_rule_fast(v, &nodes[v->a], &nodes[v->b]);
    }
}

int mg_tape_backward(mg_tape *t)
{
    pthread_mutex_lock(&t->lock);
    mg_node *nodes = t->nodes;
    if (!t->clean) /* a fresh graph's grads */
        for (int32_t k = 0; k < t->root; k++)
            nodes[k].grad = 0.0;
    pthread_mutex_lock(&mg_lock);
    gather_locked(t); /* grads to add to, and data as the eager pass reads it */
    int err = 0;
    for (int32_t k = 0; k < t->npow && !err; k++) {
        const mg_node *v = &nodes[t->pows[k]];
        mg_assert(v->refs && mg_may_fail(v->op, &nodes[v->b]));
        err = mg_rule_check(v, &nodes[v->a], &nodes[v->b]);
    }
    if (!err) {
        nodes[t->root].grad = 1.0;
        t->clean = 0;
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
    if (!err)
        mg_data_written_locked(); /* (for eager backward: mg_backward.c) */
    pthread_mutex_unlock(&mg_lock);
    pthread_mutex_unlock(&t->lock);
    return err;
}
