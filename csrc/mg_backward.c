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
 * mg_A.reached, one bit a slot, and a count of them per region. It goes
 * through the open regions from the root's towards older ones, skipping any
 * with nothing pending, and through a region's bitmap words from high to
 * low; the next node is the highest set bit, since everything pending is
 * older than the node being processed. The word in hand is kept in a
 * register, where children in the same word are added. Leaves are never
 * added: they have no rule to apply. The bitmap and counts are zero again
 * when the walk ends.
 *
 * Only a power's rule can fail (Python raises for 0.0 ** -1 and on
 * overflow). A first walk only checks the reachable nodes, before the second
 * applies any rule, when a live power failed its check when it was made (its
 * fallible bit), or when powers are alive and data was written since the
 * last backward (which may make them fail); on error no gradient changes.
 *
 * Each node's local chain rule is the statement micrograd's _backward
 * closure runs, in the same floating-point order.
 */
#include <math.h>
#include "mg_internal.h"

/* The derivative k * x ** (k - 1) of x ** k, with Python's errors. */
static int pow_slope(double x, double k, double *out)
{
    double p = 0.0;
    int err = mg_float_pow(x, k - 1.0, &p);
    *out = k * p;
    return err;
}

/* 0, or the error that applying node n's local rule would raise. */
int mg_check_rule(const mg_node *n)
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

/* Node n's local chain rule, once. mg_check_rule(n) must have returned 0. */
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

/* Add node c (if it exists and is no leaf) to the pending set. */
static inline void reach(int32_t c, int64_t *total)
{
    if (c < 0 || mg_at(c)->op == MG_LEAF)
        return;
    uint64_t bit = 1ULL << (c & 63), *word = &mg_A.reached[c >> 6];
    if (!(*word & bit)) {
        *word |= bit;
        mg_A.regions[c >> MG_REGION_SHIFT].pending++;
        (*total)++;
    }
}

/* Walk the graph under root newest-first, applying each node's rule
 * (apply) or only checking that it can run. 0 or the first error met. */
static int sweep_locked(int root, int apply)
{
    int64_t total = 0;
    int err = 0;
    reach(root, &total);
    for (int32_t r = root >> MG_REGION_SHIFT; r >= 0 && total; r = mg_A.regions[r].older) {
        mg_region *g = &mg_A.regions[r];
        mg_node *base = mg_at((int64_t)r << MG_REGION_SHIFT);
        int64_t first = (int64_t)r << (MG_REGION_SHIFT - 6);
        for (int64_t w = first + MG_REGION_NODES / 64 - 1; g->pending; w--) {
            uint64_t word = mg_A.reached[w];
            mg_A.reached[w] = 0;
            while (word) {
                int bit = 63 - __builtin_clzll(word);
                word &= ~(1ULL << bit);
                g->pending--;
                total--;
                mg_node *v = base + ((w - first) << 6) + bit;
                if (err)
                    continue; /* a check failed: only clear what is pending */
                if (apply)
                    apply_rule(v);
                else if ((err = mg_check_rule(v)))
                    continue;
                int32_t kids[2] = {v->a, v->b};
                for (int k = 0; k < 2; k++) {
                    int32_t c = kids[k];
                    if (c >> 6 == w && mg_at(c)->op != MG_LEAF) { /* same word */
                        uint64_t m = 1ULL << (c & 63);
                        if (!(word & m)) {
                            word |= m;
                            g->pending++;
                            total++;
                        }
                    } else {
                        reach(c, &total);
                    }
                }
            }
        }
    }
    return err;
}

int mg_backward(int root, int data_written)
{
    pthread_mutex_lock(&mg_lock);
    int err = mg_live_locked(root) ? 0 : MG_EINDEX;
    if (!err && (mg_A.fallible || (data_written && mg_A.live_pow)))
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
