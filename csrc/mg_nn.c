/*
 * mg_nn.c -- fused kernels for micrograd's nn: a whole MLP forward for one
 * sample in one call; sum(a_k * b_k for k), the demo's L2 term; and the
 * demo's max-margin loss.
 *
 * mg_mlp builds exactly the nodes micrograd's MLP builds, in the same order
 * and with the same arithmetic, so values match micrograd bit for bit. For
 * each neuron (w, b) of each layer, Neuron.__call__ is
 *     act = sum((wi * xi for wi, xi in zip(w, x)), b)
 *     out = act.relu() if nonlin else act
 * that is: act = b; then for each i, p = w_i * x_i and act = act + p. An
 * input given as a number becomes a fresh leaf for every product, as
 * micrograd's Value(x) does.
 *
 * Ownership: the caller owns one reference on each out[j]. Every other node
 * made here is held only by its parents; inputs and parameters gain one
 * reference per edge. A node's first reference, taken when it is made, is
 * handed to the edge that first uses it ("fresh" below) or, for the last
 * layer's outputs, to the caller; hidden outputs give theirs up once the
 * next layer holds them. On error (MG_ENOMEM, MG_EINDEX) nothing is made.
 */
#include "mg_internal.h"

/* Make a reference to node i for a new edge: take over its first
 * reference if it is fresh (made here, not yet used), else add one. */
static int use(int i, int *fresh)
{
    if (*fresh)
        *fresh = 0;
    else
        mg_at(i)->refs++;
    return i;
}

/* One neuron over inputs in[0..nin) (in_v for numbers where in < 0). */
static int neuron_locked(const int *w, int b, int nin, const int *in, const double *in_v,
                         int nonlin)
{
    int act = b, act_fresh = 0;
    for (int i = 0; i < nin; i++) {
        int x = in[i], x_fresh = 0;
        if (x < 0) {
            x = mg_new_locked(in_v[i], MG_LEAF, -1, -1);
            x_fresh = 1;
        }
        mg_node *wi = mg_at(w[i]); /* (chunks never move: it stays valid) */
        double product = wi->data * mg_at(x)->data;
        int p = mg_new_locked(product, MG_MUL, w[i], x);
        wi->refs++;
        use(x, &x_fresh);
        int sum = mg_new_locked(mg_at(act)->data + product, MG_ADD, act, p);
        use(act, &act_fresh); /* p's first reference is its edge from sum */
        act = sum;
        act_fresh = 1;
    }
    if (nonlin) {
        double y = 0.0;
        mg_unary_value(MG_RELU, mg_at(act)->data, &y);
        int r = mg_new_locked(y, MG_RELU, act, -1);
        use(act, &act_fresh);
        return r;
    }
    return act_fresh ? act : use(act, &act_fresh); /* the caller's reference */
}

/* Nodes mg_mlp will make. */
static int64_t mlp_nodes(const int *sizes, const int *nonlin, int nlayers, const int *x)
{
    int64_t numbers = 0, n = 0;
    for (int i = 0; i < sizes[0]; i++)
        numbers += x[i] < 0;
    n = numbers * sizes[1];
    for (int l = 0; l < nlayers; l++)
        n += (int64_t)sizes[l + 1] * (2 * (int64_t)sizes[l] + (nonlin[l] != 0));
    return n;
}

/* Whether every parameter and every input node is live. */
static int mlp_live_locked(const int *params, int nparams, const int *x, int nin)
{
    if (!mg_all_live_locked(params, nparams))
        return 0;
    for (int i = 0; i < nin; i++)
        if (x[i] >= 0 && !mg_live_locked(x[i]))
            return 0;
    return 1;
}

int mg_mlp(const int *params, const int *sizes, const int *nonlin, int nlayers, const int *x,
           const double *xv, int *scratch, int *out)
{
    int64_t nparams = 0;
    int widest = 0;
    for (int l = 0; l < nlayers; l++) {
        nparams += (int64_t)sizes[l + 1] * (sizes[l] + 1);
        widest = sizes[l + 1] > widest ? sizes[l + 1] : widest;
    }
    pthread_mutex_lock(&mg_lock);
    int err = mlp_live_locked(params, (int)nparams, x, sizes[0]) ? 0 : MG_EINDEX;
    if (!err)
        err = mg_reserve_locked(mlp_nodes(sizes, nonlin, nlayers, x));
    const int *in = x, *p = params;
    int *bufs[2] = {scratch, scratch + widest};
    for (int l = 0; l < nlayers && !err; l++) {
        int nin = sizes[l], nout = sizes[l + 1];
        int *dst = l == nlayers - 1 ? out : bufs[l % 2];
        for (int j = 0; j < nout; j++, p += nin + 1)
            dst[j] = neuron_locked(p, p[nin], nin, in, xv, nonlin[l]);
        if (l > 0) /* the previous layer's outputs are held by this one now */
            for (int i = 0; i < nin; i++)
                mg_decref_locked(in[i]);
        in = dst;
    }
    pthread_mutex_unlock(&mg_lock);
    return err;
}

/* acc + v, or, when acc < 0 (Python's sum() starting from 0), v + Value(0):
 * int.__add__ declines, so v.__radd__(0) runs. Takes over the first
 * references of acc and v. */
static int sum_step_locked(int acc, int v)
{
    if (acc >= 0)
        return mg_new_locked(mg_at(acc)->data + mg_at(v)->data, MG_ADD, acc, v);
    int zero = mg_new_locked(0.0, MG_LEAF, -1, -1);
    return mg_new_locked(mg_at(v)->data + 0.0, MG_ADD, v, zero);
}

int mg_dot(const int *a, const int *b, int n)
{
    pthread_mutex_lock(&mg_lock);
    int err = n > 0 && mg_all_live_locked(a, n) && mg_all_live_locked(b, n) ? 0 : MG_EINDEX;
    if (!err)
        err = mg_reserve_locked(2 * (int64_t)n + 1);
    int acc = -1;
    for (int k = 0; k < n && !err; k++) {
        int p = mg_new_locked(mg_at(a[k])->data * mg_at(b[k])->data, MG_MUL, a[k], b[k]);
        mg_at(a[k])->refs++;
        mg_at(b[k])->refs++;
        acc = sum_step_locked(acc, p);
    } /* every node's first reference went to its parent; acc's is the caller's */
    acc = mg_hand_locked(err ? err : acc);
    pthread_mutex_unlock(&mg_lock);
    return acc;
}

int mg_svm(const int *scores, const double *labels, int n)
{
    pthread_mutex_lock(&mg_lock);
    int err = n > 0 && mg_all_live_locked(scores, n) ? 0 : MG_EINDEX;
    if (!err)
        err = mg_reserve_locked(6 * (int64_t)n + 3);
    int acc = -1;
    for (int k = 0; k < n && !err; k++) {
        int s = scores[k], minus_y = mg_new_locked(-labels[k], MG_LEAF, -1, -1);
        int t = mg_new_locked(mg_at(s)->data * -labels[k], MG_MUL, s, minus_y); /* -y * s */
        mg_at(s)->refs++;
        int one = mg_new_locked(1.0, MG_LEAF, -1, -1);
        int u = mg_new_locked(mg_at(t)->data + 1.0, MG_ADD, t, one);            /* 1 + ... */
        double r = 0.0;
        mg_unary_value(MG_RELU, mg_at(u)->data, &r);
        acc = sum_step_locked(acc, mg_new_locked(r, MG_RELU, u, -1));
    }
    if (!err) { /* sum(...) * (1.0 / n) */
        int scale = mg_new_locked(1.0 / n, MG_LEAF, -1, -1);
        acc = mg_new_locked(mg_at(acc)->data * (1.0 / n), MG_MUL, acc, scale);
    }
    acc = mg_hand_locked(err ? err : acc);
    pthread_mutex_unlock(&mg_lock);
    return acc;
}
