/*
 * mg_rules.h -- each operation's local chain rule, shared by the eager
 * backward pass (mg_backward.c) and replay (mg_replay.c).
 *
 * The rules work on nodes wherever they live (the arena, or a recording's
 * private array), so the same statements, in the same floating-point order,
 * give eager and replayed results that are equal bit for bit. Each rule is
 * the statement micrograd's _backward closure runs. Nothing here touches
 * shared state; no lock is needed beyond what guards the nodes passed in.
 */
#ifndef MG_RULES_H
#define MG_RULES_H

#include <math.h>
#include "mg_internal.h"

/* The derivative k * x ** (k - 1) of x ** k, with Python's errors: 0, or an
 * MG_E* code and then *out means nothing. */
static inline int mg_pow_slope(double x, double k, double *out)
{
    double p = x; /* x ** 1, as x ** 2 needs, without a call */
    int err = k - 1.0 == 1.0 ? 0 : mg_float_pow(x, k - 1.0, &p);
    *out = k * p;
    return err;
}

/* 0, or the error mg_pow_slope(x, k) would return. Most are known without
 * a call: for x in [2 ** -16, 2 ** 16] and |k - 1| <= 60, x ** (k - 1) is
 * within 2 ** +-960, so nothing can fail. */
static inline int mg_pow_check(double x, double k)
{
    double s;
    if (x >= 0x1p-16 && x <= 0x1p16 && fabs(k - 1.0) <= 60.0)
        return 0;
    return mg_pow_slope(x, k, &s);
}

/* 0, or the error applying node n's rule (over children a and b) would
 * raise: a power's (mg_pow_check), or log's at a == 0 (ZeroDivisionError,
 * as 1 / 0.0 in Python). Other rules cannot fail. */
static inline int mg_rule_check(const mg_node *n, const mg_node *a, const mg_node *b)
{
    if (n->op == MG_LOG)
        return a->data == 0.0 ? MG_EZERODIV : 0;
    return mg_is_pow(n->op) ? mg_pow_check(a->data, b->data) : 0;
}

/* d(a ** b)/db = a ** b * ln(a); 0 where a == 0 and b > 0, as torch does. */
static inline double mg_pow_exponent_slope(double a, double b, double out)
{
    if (a == 0.0 && b >= 0.0)
        return 0.0;
    return out * log(a);
}

/* The slopes of logaddexp(x, y), e ** x / (e ** x + e ** y) in *sx and
 * e ** y / (e ** x + e ** y) in *sy, from one exp that cannot overflow,
 * e = e ** -|x - y| <= 1, each to full precision (neither is 1 - the
 * other). Both 0.5 where x == y, infinities included. */
static inline void mg_logaddexp_slopes(double x, double y, double *sx, double *sy)
{
    double e = x == y ? 1.0 : exp(-fabs(x - y));
    double big = 1.0 / (1.0 + e), small = e / (1.0 + e);
    *sx = x > y ? big : small;
    *sy = x > y ? small : big;
}

/* Node n's local chain rule, once, given its children a and b (NULL where
 * absent). mg_pow_slope must have succeeded for a power. */
static inline __attribute__((always_inline)) void mg_apply_rule(const mg_node *n, mg_node *a,
                                                                mg_node *b)
{
    double g = n->grad, s = 0.0;
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
        mg_pow_slope(a->data, b->data, &s);
        a->grad += s * g;
        break;
    case MG_POW:
        mg_pow_slope(a->data, b->data, &s);
        a->grad += s * g;
        b->grad += mg_pow_exponent_slope(a->data, b->data, n->data) * g;
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
    case MG_LOG: /* (1 / a) * g, as Python would write it: it overflows where Python's does */
        a->grad += (1.0 / a->data) * g;
        break;
    case MG_SIGMOID:
        a->grad += n->data * (1.0 - n->data) * g;
        break;
    case MG_SOFTPLUS: /* the slope is sigmoid(a) = 1 - e ** -n */
        a->grad += -expm1(-n->data) * g;
        break;
    case MG_LOGADDEXP: {
        double t;
        mg_logaddexp_slopes(a->data, b->data, &s, &t);
        a->grad += s * g;
        b->grad += t * g;
        break;
    }
    default: /* leaves */
        break;
    }
}

/* mg_apply_rule, with adds and multiplies (most nodes) tested for first, by
 * the very statements of their cases above, so results do not change.
 * Replay's sweep uses it: on a recording, which goes through every node in
 * order, conditional branches follow the graph's repeating pattern of ops
 * better than the switch's one jump through a table (the moons step's
 * backward took 10% less time). The eager sweep, whose order comes from its
 * bitmap, took 10% more with it, so it keeps mg_apply_rule. */
static inline __attribute__((always_inline)) void mg_apply_rule_fast(const mg_node *n,
                                                                     mg_node *a, mg_node *b)
{
    double g = n->grad;
    if (n->op == MG_ADD) {
        a->grad += g;
        b->grad += g;
    } else if (n->op == MG_MUL) {
        a->grad += b->data * g;
        b->grad += a->data * g;
    } else {
        mg_apply_rule(n, a, b);
    }
}

#endif
