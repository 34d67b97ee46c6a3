/*
 * mg_ops.c -- the forward pass: every operation that creates a node.
 *
 * Each function takes the lock, checks its operands are live nodes, computes
 * the value (returning Python's error, if any), reserves every slot it
 * needs, and only then creates nodes and takes references on the children.
 * So on any error the arena is exactly as before. The reference a function
 * returns is recorded with mg_hand_locked (mg_handoff.c) as it goes to Python.
 *
 * Values are computed with the same C operations, in the same order, as
 * micrograd's Python float arithmetic, so they match it bit for bit.
 * An operand that is a number, not a Value, becomes a leaf child of its own
 * (as micrograd wraps it in a Value); a constant exponent is kept the same
 * way, as child b of a MG_POWI or MG_POWF node.
 */
#include "mg_internal.h"

/* A node over live children a and (if b >= 0) b, after reservation. */
static int link_locked(double data, int op, int a, int b)
{
    int i = mg_new_locked(data, op, a, b);
    mg_at(a)->refs++;
    if (b >= 0)
        mg_at(b)->refs++;
    return i;
}

/* Node (op, a, b) whose value is x; b may be -1. Entered locked; unlocks. */
static int binary(int op, int a, int b, double x, int err)
{
    int r = err;
    if (!r)
        r = mg_reserve_locked(1);
    if (!r)
        r = link_locked(x, op, a, b);
    r = mg_hand_locked(r);
    pthread_mutex_unlock(&mg_lock);
    return r;
}

/* Node (op, a, leaf c) whose value is x. Entered locked; unlocks. */
static int with_const(int op, int a, double c, double x, int err)
{
    int r = err;
    if (!r)
        r = mg_reserve_locked(2);
    if (!r) {
        int k = mg_new_locked(c, MG_LEAF, -1, -1);
        r = mg_new_locked(x, op, a, k); /* k's one reference is this edge */
        mg_at(a)->refs++;
    }
    r = mg_hand_locked(r);
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_reset(int i, double x)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? 0 : MG_EINDEX;
    if (!err) {
        mg_node *n = mg_at(i);
        int32_t a = n->a, b = n->b;
        mg_A.stale -= (n->walk & MG_WALK_STALE) != 0;
        *n = (mg_node){.data = x, .refs = n->refs, .op = MG_LEAF, .a = -1, .b = -1,
                       .handed = n->handed};
        mg_decref_locked(a); /* (-1 is no node) */
        mg_decref_locked(b);
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_leaf(double x)
{
    pthread_mutex_lock(&mg_lock);
    int r = mg_reserve_locked(1);
    if (!r)
        r = mg_new_locked(x, MG_LEAF, -1, -1);
    r = mg_hand_locked(r);
    pthread_mutex_unlock(&mg_lock);
    return r;
}

/* The chain holding kids[1..n) is built from its end: each MG_MORE node
 * holds one child and the rest of the chain, so the MG_HAND node, made
 * last, is newer than everything under it. */
int mg_hand(double x, const int *kids, int n)
{
    pthread_mutex_lock(&mg_lock);
    int r = n >= 0 && mg_all_live_locked(kids, n) ? 0 : MG_EINDEX;
    if (!r)
        r = mg_reserve_locked(n > 2 ? n - 1 : 1);
    if (!r) {
        int rest = n > 1 ? kids[n - 1] : -1;
        if (rest >= 0)
            mg_at(rest)->refs++;
        for (int k = n - 2; k >= 1; k--) { /* rest's reference is the new node's edge */
            rest = mg_new_locked(0.0, MG_MORE, kids[k], rest);
            mg_at(kids[k])->refs++;
        }
        r = mg_new_locked(x, MG_HAND, n > 0 ? kids[0] : -1, rest);
        if (n > 0)
            mg_at(kids[0])->refs++;
    }
    r = mg_hand_locked(r);
    pthread_mutex_unlock(&mg_lock);
    return r;
}

/* Take the lock; return MG_EINDEX unlocked unless a and b are live. */
#define LOCK_LIVE2(a, b)                                   \
    pthread_mutex_lock(&mg_lock);                          \
    if (!mg_live_locked(a) || !mg_live_locked(b)) {        \
        pthread_mutex_unlock(&mg_lock);                    \
        return MG_EINDEX;                                  \
    }

int mg_add(int a, int b)
{
    LOCK_LIVE2(a, b)
    return binary(MG_ADD, a, b, mg_at(a)->data + mg_at(b)->data, 0);
}

int mg_mul(int a, int b)
{
    LOCK_LIVE2(a, b)
    return binary(MG_MUL, a, b, mg_at(a)->data * mg_at(b)->data, 0);
}

int mg_sub_const(int a, double c) /* a + (-c) */
{
    LOCK_LIVE2(a, a)
    return with_const(MG_ADD, a, -c, mg_at(a)->data + -c, 0);
}

int mg_div_const(int a, double c) /* a * c ** -1 */
{
    double inv = 0.0;
    int err = mg_float_pow(c, -1.0, &inv);
    LOCK_LIVE2(a, a)
    return with_const(MG_MUL, a, inv, mg_at(a)->data * inv, err);
}

int mg_pow(int a, int b)
{
    LOCK_LIVE2(a, b)
    double x = 0.0;
    int err = mg_float_pow(mg_at(a)->data, mg_at(b)->data, &x);
    return binary(MG_POW, a, b, x, err);
}

static int unary(int a, int op)
{
    LOCK_LIVE2(a, a)
    double x = 0.0;
    int err = mg_unary_value(op, mg_at(a)->data, &x);
    return binary(op, a, -1, x, err);
}

/* One function per unary op: a call with one argument is cheaper from Python. */
int mg_relu(int a) { return unary(a, MG_RELU); }
int mg_tanh(int a) { return unary(a, MG_TANH); }
int mg_exp(int a) { return unary(a, MG_EXP); }
int mg_log(int a) { return unary(a, MG_LOG); }
int mg_sigmoid(int a) { return unary(a, MG_SIGMOID); }

int mg_add_const(int a, double c)
{
    LOCK_LIVE2(a, a)
    return with_const(MG_ADD, a, c, mg_at(a)->data + c, 0);
}

int mg_mul_const(int a, double c)
{
    LOCK_LIVE2(a, a)
    return with_const(MG_MUL, a, c, mg_at(a)->data * c, 0);
}

static int pow_const(int a, double k, int op)
{
    LOCK_LIVE2(a, a)
    double x = 0.0;
    int err = mg_float_pow(mg_at(a)->data, k, &x);
    return with_const(op, a, k, x, err);
}

int mg_powi(int a, double k) { return pow_const(a, k, MG_POWI); }
int mg_powf(int a, double k) { return pow_const(a, k, MG_POWF); }

/* micrograd's composite operators build an inner node over operand x and
 * a leaf k, then a root over it. With constant: root = (inner, leaf c), as
 * for c - x and c / x; without: root = (a, inner), as for a - x and a / x.
 * Entered locked; unlocks. Returns the root. */
static int composite(int a, int x, int op1, double k, double inner_x, int op2, double root_x,
                     int constant, double c, int err)
{
    int r = err;
    if (!r)
        r = mg_reserve_locked(constant ? 4 : 3);
    if (!r) {
        int leaf = mg_new_locked(k, MG_LEAF, -1, -1);
        int inner = mg_new_locked(inner_x, op1, x, leaf); /* leaf's one reference */
        mg_at(x)->refs++;
        if (constant) {
            int leaf_c = mg_new_locked(c, MG_LEAF, -1, -1);
            r = mg_new_locked(root_x, op2, inner, leaf_c); /* their one references */
        } else {
            r = mg_new_locked(root_x, op2, a, inner); /* inner's one reference */
            mg_at(a)->refs++;
        }
    }
    r = mg_hand_locked(r);
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_sub(int a, int b) /* a + (b * -1) */
{
    LOCK_LIVE2(a, b)
    double neg = mg_at(b)->data * -1.0;
    return composite(a, b, MG_MUL, -1.0, neg, MG_ADD, mg_at(a)->data + neg, 0, 0.0, 0);
}

int mg_div(int a, int b) /* a * b ** -1 */
{
    LOCK_LIVE2(a, b)
    double inv = 0.0;
    int err = mg_float_pow(mg_at(b)->data, -1.0, &inv);
    return composite(a, b, MG_POWI, -1.0, inv, MG_MUL, mg_at(a)->data * inv, 0, 0.0, err);
}

int mg_rsub(int a, double c) /* (a * -1) + c */
{
    LOCK_LIVE2(a, a)
    double neg = mg_at(a)->data * -1.0;
    return composite(-1, a, MG_MUL, -1.0, neg, MG_ADD, neg + c, 1, c, 0);
}

int mg_rdiv(int a, double c) /* (a ** -1) * c */
{
    LOCK_LIVE2(a, a)
    double inv = 0.0;
    int err = mg_float_pow(mg_at(a)->data, -1.0, &inv);
    return composite(-1, a, MG_POWI, -1.0, inv, MG_MUL, inv * c, 1, c, err);
}
