/*
 * mg_ops.c -- the forward pass: every operation that creates a node.
 *
 * Each function takes the lock, checks its operands are live nodes, computes
 * the value (returning Python's error, if any), reserves every slot it
 * needs, and only then creates nodes and takes references on the children.
 * So on any error the arena is exactly as before. The reference a function
 * returns is recorded with mg_hand_locked (mg_handoff.c) as it goes to Python.
 * Every public function takes and releases the lock itself; the *_locked
 * helpers build under it and return the new node (handed) or an error.
 *
 * Values are computed with the same C operations, in the same order, as
 * micrograd's Python float arithmetic, so they match it bit for bit.
 * An operand that is a number, not a Value, becomes a leaf child of its own
 * (as micrograd wraps it in a Value); a constant exponent is kept the same
 * way, as child b of a MG_POWI or MG_POWF node.
 */
#include "mg_internal.h"

/* Whether a and b (which may be the same) are live nodes. */
static int live2_locked(int a, int b)
{
    return mg_live_locked(a) && mg_live_locked(b);
}

/* A node over live children a and (if b >= 0) b, after reservation. */
static int link_locked(double data, int op, int a, int b)
{
    int i = mg_new_locked(data, op, a, b);
    mg_at(a)->refs++;
    if (b >= 0)
        mg_at(b)->refs++;
    return i;
}

/* Unless err: node (op, a, b) whose value is x, b -1 for none; handed. */
static int binary_locked(int op, int a, int b, double x, int err)
{
    int r = err ? err : mg_reserve_locked(1);
    if (!r)
        r = link_locked(x, op, a, b);
    return mg_hand_locked(r);
}

/* Unless err: node (op, a, leaf c) whose value is x; handed. */
static int with_const_locked(int op, int a, double c, double x, int err)
{
    int r = err ? err : mg_reserve_locked(2);
    if (!r) {
        int k = mg_new_locked(c, MG_LEAF, -1, -1);
        r = mg_new_locked(x, op, a, k); /* k's one reference is this edge */
        mg_at(a)->refs++;
    }
    return mg_hand_locked(r);
}

int mg_reset(int i, double x)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? 0 : MG_EINDEX;
    if (!err) {
        mg_node *n = mg_at(i);
        int32_t a = n->a, b = n->b;
        mg_A.stale -= (n->walk & MG_WALK_STALE) != 0;
        mg_A.may_fail -= n->may_fail;
        mg_assert(mg_A.stale >= 0 && mg_A.may_fail >= 0);
        mg_data_written_locked();
        *n = (mg_node){.data = x, .refs = n->refs, .op = MG_LEAF, .a = -1, .b = -1,
                       .handed = n->handed};
        mg_decref_locked(a); /* (-1 is no node) */
        mg_decref_locked(b);
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

int mg_set_data(int i, double x)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(i) ? 0 : MG_EINDEX;
    if (!err) {
        mg_at(i)->data = x;
        mg_data_written_locked();
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

int mg_add(int a, int b)
{
    pthread_mutex_lock(&mg_lock);
    int r = live2_locked(a, b) ? binary_locked(MG_ADD, a, b, mg_at(a)->data + mg_at(b)->data, 0)
                               : MG_EINDEX;
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_mul(int a, int b)
{
    pthread_mutex_lock(&mg_lock);
    int r = live2_locked(a, b) ? binary_locked(MG_MUL, a, b, mg_at(a)->data * mg_at(b)->data, 0)
                               : MG_EINDEX;
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_pow(int a, int b)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (live2_locked(a, b)) {
        double x = 0.0;
        int err = mg_float_pow(mg_at(a)->data, mg_at(b)->data, &x);
        r = binary_locked(MG_POW, a, b, x, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_logaddexp(int a, int b)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (live2_locked(a, b)) {
        double x = mg_logaddexp_value(mg_at(a)->data, mg_at(b)->data);
        r = binary_locked(MG_LOGADDEXP, a, b, x, 0);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

static int unary(int a, int op)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(a)) {
        double x = 0.0;
        int err = mg_unary_value(op, mg_at(a)->data, &x);
        r = binary_locked(op, a, -1, x, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

/* One function per unary op: a call with one argument is cheaper from Python. */
int mg_relu(int a) { return unary(a, MG_RELU); }
int mg_tanh(int a) { return unary(a, MG_TANH); }
int mg_exp(int a) { return unary(a, MG_EXP); }
int mg_log(int a) { return unary(a, MG_LOG); }
int mg_sigmoid(int a) { return unary(a, MG_SIGMOID); }
int mg_softplus(int a) { return unary(a, MG_SOFTPLUS); }

/* a op Value(c), op MG_ADD, MG_MUL or MG_LOGADDEXP, unless err (computing
 * c failed). */
static int const_op(int a, int op, double c, int err)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(a)) {
        double d = mg_at(a)->data;
        double x = op == MG_ADD ? d + c : op == MG_MUL ? d * c : mg_logaddexp_value(d, c);
        r = with_const_locked(op, a, c, x, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_add_const(int a, double c) { return const_op(a, MG_ADD, c, 0); }
int mg_mul_const(int a, double c) { return const_op(a, MG_MUL, c, 0); }
int mg_sub_const(int a, double c) { return const_op(a, MG_ADD, -c, 0); } /* a + (-c) */
int mg_logaddexp_const(int a, double c) { return const_op(a, MG_LOGADDEXP, c, 0); }

int mg_div_const(int a, double c) /* a * c ** -1 */
{
    double inv = 0.0;
    int err = mg_float_pow(c, -1.0, &inv);
    return const_op(a, MG_MUL, inv, err);
}

static int pow_const(int a, double k, int op)
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(a)) {
        double x = 0.0;
        int err = mg_float_pow(mg_at(a)->data, k, &x);
        r = with_const_locked(op, a, k, x, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_powi(int a, double k) { return pow_const(a, k, MG_POWI); }
int mg_powf(int a, double k) { return pow_const(a, k, MG_POWF); }

/* micrograd's composite operators build an inner node, x * -1 or x ** -1
 * (op), then a root over it: (a, inner) for a - x and a / x, (inner, c)
 * for c - x and c / x. After reservation: the inner node, whose value is
 * v, holding a reference on x and the one on its new leaf -1. */
static int by_minus_one_locked(int op, int x, double v)
{
    int leaf = mg_new_locked(-1.0, MG_LEAF, -1, -1);
    mg_at(x)->refs++;
    return mg_new_locked(v, op, x, leaf);
}

/* Unless err: a root2 (x op1 -1), whose values are v and root_v; handed. */
static int operand_first_locked(int a, int op2, int x, int op1, double v, double root_v, int err)
{
    int r = err ? err : mg_reserve_locked(3);
    if (!r) {
        int inner = by_minus_one_locked(op1, x, v);
        r = mg_new_locked(root_v, op2, a, inner); /* inner's one reference */
        mg_at(a)->refs++;
    }
    return mg_hand_locked(r);
}

/* Unless err: (x op1 -1) op2 c, whose values are v and root_v; handed. */
static int constant_last_locked(int x, int op1, double v, int op2, double c, double root_v,
                                int err)
{
    int r = err ? err : mg_reserve_locked(4);
    if (!r) {
        int inner = by_minus_one_locked(op1, x, v);
        int leaf_c = mg_new_locked(c, MG_LEAF, -1, -1);
        r = mg_new_locked(root_v, op2, inner, leaf_c); /* their one references */
    }
    return mg_hand_locked(r);
}

int mg_sub(int a, int b) /* a + (b * -1) */
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (live2_locked(a, b)) {
        double neg = mg_at(b)->data * -1.0;
        r = operand_first_locked(a, MG_ADD, b, MG_MUL, neg, mg_at(a)->data + neg, 0);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_div(int a, int b) /* a * b ** -1 */
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (live2_locked(a, b)) {
        double inv = 0.0;
        int err = mg_float_pow(mg_at(b)->data, -1.0, &inv);
        r = operand_first_locked(a, MG_MUL, b, MG_POWI, inv, mg_at(a)->data * inv, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_rsub(int a, double c) /* (a * -1) + c */
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(a)) {
        double neg = mg_at(a)->data * -1.0;
        r = constant_last_locked(a, MG_MUL, neg, MG_ADD, c, neg + c, 0);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}

int mg_rdiv(int a, double c) /* (a ** -1) * c */
{
    pthread_mutex_lock(&mg_lock);
    int r = MG_EINDEX;
    if (mg_live_locked(a)) {
        double inv = 0.0;
        int err = mg_float_pow(mg_at(a)->data, -1.0, &inv);
        r = constant_last_locked(a, MG_POWI, inv, MG_MUL, c, inv * c, err);
    }
    pthread_mutex_unlock(&mg_lock);
    return r;
}
