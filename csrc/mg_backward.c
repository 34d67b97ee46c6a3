/*
 * mg_backward.c -- topological sort and the reverse pass.
 *
 * The sort is an iterative depth-first search from the root over an
 * explicit stack (mg_A.stack), so graphs of any depth are fine. A node is
 * reached at most once per sort: it is marked with the sort's epoch when
 * first expanded, and each sort uses a new epoch, so marks never need
 * clearing (only when the 32-bit epoch wraps around). Nodes are appended to
 * mg_A.topo after their children, as pointers, so the reverse pass touches
 * the arena only through them.
 *
 * The sort also checks every local derivative that can fail under Python's
 * rules (a power's x ** (k - 1)). If one fails, mg_backward returns that
 * error before any gradient changes.
 *
 * Each node's local chain rule is the statement micrograd's _backward
 * closure runs, in the same floating-point order.
 */
#include <math.h>
#include <string.h>
#include "mg_internal.h"

#define PHASE_DONE 0x80000000u /* stack entry: children done, emit node */

/* The derivative k * x ** (k - 1) of x ** k, with Python's errors. */
static int pow_slope(double x, double k, double *out)
{
    double p = 0.0;
    int err = mg_float_pow(x, k - 1.0, &p);
    *out = k * p;
    return err;
}

/* 0, or the error that applying node n's local rule would raise. */
static int check_rule(const mg_node *n)
{
    double s;
    if (n->op == MG_POWI || n->op == MG_POWF || n->op == MG_POW)
        return pow_slope(mg_at(n->a)->data, mg_at(n->b)->data, &s);
    return 0;
}

/* d(a ** b)/db = a ** b * ln(a); 0 where a == 0 and b > 0, as torch does. */
static double pow_exponent_slope(double a, double b, double out)
{
    if (a == 0.0 && b >= 0.0)
        return 0.0;
    return out * log(a);
}

/* Node n's local chain rule, once. check_rule(n) must have returned 0. */
static void apply_rule(const mg_node *n)
{
    double g = n->grad, s = 0.0;
    mg_node *a = n->a >= 0 ? mg_at(n->a) : NULL;
    mg_node *b = n->b >= 0 ? mg_at(n->b) : NULL;
    switch (n->op) {
    case MG_ADD:
        a->grad += g;
        b->grad += g;
        break;
    case MG_MUL:
        a->grad += b->data * g;
        b->grad += a->data * g;
        break;
    case MG_POWI:
    case MG_POWF:
        pow_slope(a->data, b->data, &s);
        a->grad += s * g;
        break;
    case MG_POW:
        pow_slope(a->data, b->data, &s);
        a->grad += s * g;
        b->grad += pow_exponent_slope(a->data, b->data, n->data) * g;
        break;
    case MG_RELU:
        a->grad += (n->data > 0.0 ? 1.0 : 0.0) * g;
        break;
    case MG_TANH:
        a->grad += (1.0 - n->data * n->data) * g;
        break;
    case MG_EXP:
        a->grad += n->data * g;
        break;
    case MG_LOG:
        a->grad += g / a->data;
        break;
    case MG_SIGMOID:
        a->grad += n->data * (1.0 - n->data) * g;
        break;
    default: /* leaves */
        break;
    }
}

/* Start a new epoch, clearing all marks when the counter wraps. */
static uint32_t next_epoch_locked(void)
{
    if (++mg_A.epoch == 0) {
        for (int64_t i = 0; i < mg_A.top; i++)
            mg_at(i)->mark = 0;
        mg_A.epoch = 1;
    }
    return mg_A.epoch;
}

/* Fill mg_A.topo with the graph under root, children first. */
static int topo_sort_locked(int root, int64_t *count)
{
    uint32_t epoch = next_epoch_locked();
    int64_t sp = 0, n = 0;
    int err = mg_grow_locked((void **)&mg_A.stack, &mg_A.stack_cap, 1, sizeof *mg_A.stack);
    if (err)
        return err;
    mg_A.stack[sp++] = (uint32_t)root;
    while (sp > 0) {
        uint32_t e = mg_A.stack[--sp];
        if (e & PHASE_DONE) {
            mg_node *v = mg_at(e & ~PHASE_DONE);
            if ((err = check_rule(v)))
                return err;
            if (n == mg_A.topo_cap
                && (err = mg_grow_locked((void **)&mg_A.topo, &mg_A.topo_cap, n + 1,
                                         sizeof *mg_A.topo)))
                return err;
            mg_A.topo[n++] = v;
            continue;
        }
        mg_node *v = mg_at(e);
        if (v->mark == epoch)
            continue;
        v->mark = epoch;
        if (sp + 3 > mg_A.stack_cap
            && (err = mg_grow_locked((void **)&mg_A.stack, &mg_A.stack_cap, sp + 3,
                                     sizeof *mg_A.stack)))
            return err;
        mg_A.stack[sp++] = e | PHASE_DONE;
        if (v->b >= 0 && mg_at(v->b)->mark != epoch)
            mg_A.stack[sp++] = (uint32_t)v->b;
        if (v->a >= 0 && mg_at(v->a)->mark != epoch)
            mg_A.stack[sp++] = (uint32_t)v->a;
    }
    *count = n;
    return 0;
}

int mg_backward(int root)
{
    pthread_mutex_lock(&mg_lock);
    int64_t n = 0;
    int err = mg_live_locked(root) ? topo_sort_locked(root, &n) : MG_EINDEX;
    if (!err) {
        mg_at(root)->grad = 1.0;
        for (int64_t k = n - 1; k >= 0; k--)
            apply_rule(mg_A.topo[k]);
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_node_backward(int i)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? check_rule(mg_at(i)) : MG_EINDEX;
    if (!err)
        apply_rule(mg_at(i));
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_zero_grad(const int *idx, int n)
{
    pthread_mutex_lock(&mg_lock);
    int err = 0;
    for (int k = 0; k < n && !err; k++)
        err = mg_live_locked(idx[k]) ? 0 : MG_EINDEX;
    for (int k = 0; k < n && !err; k++)
        mg_at(idx[k])->grad = 0.0;
    pthread_mutex_unlock(&mg_lock);
    return err;
}
