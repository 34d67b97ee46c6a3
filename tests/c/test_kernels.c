/*
 * test_kernels.c -- C unit tests of the fused kernels, replay and the power
 * checks at their bounds, through the public API only (run by test_core.c's
 * main: see there).
 */
#include "check.h"

/* record, forward, backward and set_inputs equal a rebuilt graph, bit for
 * bit, and every allocation mg_record makes can fail cleanly. */
static int replay_graph(int x, int y, int *side)
{
    int xy = mg_mul(x, y), s = mg_add(xy, x), r = mg_relu(s);
    int sq = mg_powi(y, 2.0), root = mg_div(r, sq);
    *side = mg_tanh(xy);
    mg_decref(xy);
    mg_decref(s);
    mg_decref(r);
    mg_decref(sq);
    return root;
}

void test_replay(void)
{
    int64_t base = live();
    int x = mg_leaf(1.5), y = mg_leaf(-2.0), side;
    int root = replay_graph(x, y, &side);
    int ins[2] = {x, y};
    int64_t start = mg_allocations();
    mg_tape *t = NULL;
    CHECK(mg_record(root, &side, 1, ins, 2, &t) == 0 && t);
    int64_t allocations = mg_allocations() - start;
    CHECK(allocations >= 8);
    for (int64_t n = 1; n <= allocations; n++) {
        mg_tape *u = (mg_tape *)1;
        mg_fail_allocation(n);
        CHECK(mg_record(root, &side, 1, ins, 2, &u) == MG_ENOMEM && u == NULL);
    }
    mg_fail_allocation(0);
    mg_decref(root);
    mg_decref(side);
    CHECK(mg_tape_nodes(t) == 11); /* with the tanh output and the constants 2 and -1 */
    double xs[2] = {3.0, 0.5}, values[2];
    CHECK(mg_tape_set_inputs(t, xs, 2) == 0);
    CHECK(mg_tape_forward(t, values) == 0);
    CHECK(mg_tape_backward(t) == 0);
    double gx = node(x)->grad, gy = node(y)->grad;
    node(x)->grad = node(y)->grad = 0.0;
    root = replay_graph(x, y, &side);
    CHECK(mg_backward(root) == 0);
    CHECK(values[0] == node(root)->data && values[1] == node(side)->data);
    CHECK(gx == node(x)->grad && gy == node(y)->grad);
    CHECK(mg_tape_set_inputs(t, xs, 1) == MG_EINDEX);
    mg_decref(root);
    mg_decref(side);
    mg_decref(x);
    mg_decref(y);
    CHECK(live() == base + 2); /* x and y: the recording holds them */
    mg_tape_free(t);
    CHECK(live() == base);
}

/* The fused kernels build the nodes a hand-written composition of single
 * operations builds: same values, same gradients, bit for bit. */
static int by_hand_neuron(const int *w, int b, const int *x, int nin, int relu)
{
    int act = b, prev = -1;
    for (int i = 0; i < nin; i++) { /* sum((wi * xi for ...), b) */
        int prod = mg_mul(w[i], x[i]);
        act = mg_add(act, prod);
        mg_decref(prod);
        if (prev >= 0)
            mg_decref(prev);
        prev = act;
    }
    if (!relu)
        return act;
    int out = mg_relu(act);
    mg_decref(act);
    return out;
}

void test_fused_kernels(void)
{
    int64_t base = live();
    /* MLP(2, [2, 1]): per neuron its weights then its bias */
    double init[9] = {0.5, -1.25, 0.1, 2.0, 0.75, -0.3, 1.5, -0.5, 0.2};
    int params[9], sizes[3] = {2, 2, 1}, nonlin[2] = {1, 0}, scratch[4], fused;
    for (int k = 0; k < 9; k++)
        params[k] = mg_leaf(init[k]);
    int x[2] = {mg_leaf(0.8), -1};
    double xv[2] = {0.0, -0.6};
    CHECK(mg_mlp(params, sizes, nonlin, 2, x, xv, scratch, &fused) == 0);
    int x1 = mg_leaf(-0.6), in[2] = {x[0], x1}, hidden[2];
    hidden[0] = by_hand_neuron(&params[0], params[2], in, 2, 1);
    hidden[1] = by_hand_neuron(&params[3], params[5], in, 2, 1);
    int manual = by_hand_neuron(&params[6], params[8], hidden, 2, 0);
    CHECK(node(fused)->data == node(manual)->data);
    /* the demo's loss over each: two graphs sharing only leaves */
    double label = -1.0; /* the score is 1.65: a margin of 2.65 */
    int loss_f = mg_svm(&fused, &label, 1);
    int m = mg_mul_const(manual, -label), one = mg_add_const(m, 1.0);
    int term = mg_relu(one), sum = mg_add_const(term, 0.0); /* 0 + term */
    int loss_m = mg_mul_const(sum, 1.0 / 1);
    CHECK(node(loss_f)->data == node(loss_m)->data && node(loss_f)->data > 0.0);
    int l2 = mg_dot(params, params, 9);
    double l2_by_hand = 0.0;
    for (int k = 0; k < 9; k++)
        l2_by_hand += init[k] * init[k];
    CHECK(node(l2)->data == l2_by_hand);
    /* gradients through each: the same bits */
    double g_fused[9], g_manual[9];
    CHECK(mg_backward(loss_f) == 0);
    for (int k = 0; k < 9; k++) {
        g_fused[k] = node(params[k])->grad;
        node(params[k])->grad = 0.0;
    }
    node(x[0])->grad = 0.0;
    CHECK(mg_backward(loss_m) == 0);
    for (int k = 0; k < 9; k++)
        g_manual[k] = node(params[k])->grad;
    for (int k = 0; k < 9; k++)
        CHECK(g_fused[k] == g_manual[k]);
    /* SGD: micrograd's update, and nothing changes on a bad index */
    CHECK(mg_sgd(params, 9, 0.1, 0.0, NULL) == 0);
    CHECK(node(params[0])->data == init[0] - 0.1 * g_manual[0]);
    int bad[2] = {params[0], 1 << 30};
    double before = node(params[0])->data;
    CHECK(mg_sgd(bad, 2, 0.1, 0.0, NULL) == MG_EINDEX && node(params[0])->data == before);
    int drop[] = {fused, manual, hidden[0], hidden[1], loss_f, loss_m, m, one, term, sum, l2,
                  x[0], x1};
    mg_decref_many(drop, (int)(sizeof drop / sizeof *drop));
    mg_decref_many(params, 9);
    CHECK(live() == base);
}

/* Powers near the bounds within which backward skips computing a check:
 * x ** (k - 1) of 2 ** 960 is fine, of 2 ** 1037 overflows, by eager
 * backward and replay alike. */
void test_power_checks_at_their_bounds(void)
{
    const double cases[][3] = {
        {0x1p16, 61.0, 0}, {0x1p17, 62.0, MG_ERANGE}, {0x1p-16, -59.0, 0},
        {0x1p-17, -60.0, MG_ERANGE}, {0x1p-16, 0.5, 0}, {-0x1p-16, 0.5, MG_ECOMPLEX},
    };
    for (int c = 0; c < 6; c++) {
        int x = mg_leaf(1.0), p = mg_powf(x, cases[c][1]);
        CHECK(mg_set_data(x, cases[c][0]) == 0);
        mg_tape *t = NULL;
        CHECK(mg_record(p, NULL, 0, NULL, 0, &t) == 0);
        CHECK(mg_backward(p) == (int)cases[c][2] && mg_tape_backward(t) == (int)cases[c][2]);
        mg_tape_free(t);
        mg_decref(p);
        mg_decref(x);
    }
}
