/*
 * test_core.c -- C unit tests of the arena, the backward walk, freeing,
 * the fused kernels, replay and allocation failures, through the public API
 * only. Built and run by tests/test_c_core.py, with AddressSanitizer and
 * UBSan when the compiler has them. Exits non-zero, naming the failed
 * check, on the first failure.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "micrograd.h"

static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

static mg_node *node(int i)
{
    return mg_chunk(i >> MG_CHUNK_SHIFT) + (i & (MG_CHUNK_NODES - 1));
}

static int64_t live(void)
{
    mg_stats s;
    mg_stats_get(&s);
    return s.live;
}

/* z = x*y + b: the chapter's example, and freeing it leaves nothing. */
static void test_chapter_example(void)
{
    int64_t base = live();
    int x = mg_leaf(2.0), y = mg_leaf(3.0), b = mg_leaf(1.0);
    int xy = mg_mul(x, y), z = mg_add(xy, b);
    mg_decref(xy);
    CHECK(node(z)->data == 7.0);
    CHECK(mg_backward(z) == 0);
    CHECK(node(x)->grad == 3.0 && node(y)->grad == 2.0 && node(b)->grad == 1.0);
    mg_decref(z);
    CHECK(live() == base + 3);
    mg_decref(x);
    mg_decref(y);
    mg_decref(b);
    CHECK(live() == base);
}

/* A chain deeper than any C stack: built, backpropagated and freed iteratively. */
static void test_deep_chain(void)
{
    int64_t base = live();
    int x0 = mg_leaf(1.0), x = x0;
    mg_incref(x0);
    const int n = 3000000;
    for (int k = 0; k < n; k++) {
        int m = mg_mul_const(x, 1.0000001);
        mg_decref(x);
        x = mg_add_const(m, 0.0);
        mg_decref(m);
    }
    CHECK(live() == base + 1 + 4 * (int64_t)n);
    CHECK(mg_backward(x) == 0);
    CHECK(fabs(node(x0)->grad / pow(1.0000001, n) - 1.0) < 1e-9);
    mg_decref(x);
    CHECK(live() == base + 1);
    mg_decref(x0);
    CHECK(live() == base);
}

/* A shared node gets every parent's contribution, once each. */
static void test_shared_subexpression(void)
{
    int a = mg_leaf(3.0);
    int sq = mg_mul(a, a);           /* a*a */
    int s = mg_add(sq, sq);          /* 2a^2 */
    int r = mg_mul(s, a);            /* 2a^3: d/da = 6a^2 = 54 */
    CHECK(mg_backward(r) == 0);
    CHECK(node(a)->grad == 54.0);
    int nodes[] = {sq, s, r, a};
    for (int k = 0; k < 4; k++)
        mg_decref(nodes[k]);
}

/* A hand-built node over four children (a chain of MG_MORE nodes) with a
 * Python rule: backward hands it to the caller, who walks in steps; the
 * walk holds references until it ends, and everything is freed after. */
static void test_hand_built_and_walks(void)
{
    int64_t base = live();
    int a = mg_leaf(2.0), b = mg_leaf(3.0), ab = mg_mul(a, b);
    int kids[] = {a, ab, b, ab};
    int h = mg_hand(5.0, kids, 4);
    CHECK(h >= 0 && mg_op(h) == MG_HAND && live() == base + 3 + 3);
    int top = mg_mul(h, a);                   /* no Python rule yet: one C call */
    CHECK(mg_backward(top) == 0 && node(a)->grad == 5.0 && node(b)->grad == 0.0);
    int all[] = {a, b, ab, h, top};
    for (int k = 0; k < 5; k++)
        node(all[k])->grad = 0.0;
    CHECK(mg_set_python(h) == 0);             /* h has a parent: stale, walks from now on */
    CHECK(mg_backward(top) == MG_IN_PYTHON);
    mg_walk w = {0};
    CHECK(mg_walk_start(top, &w) == 0 && node(top)->grad == 1.0);
    CHECK(mg_walk_next(&w) == h);             /* top's rule first, then h is Python's */
    CHECK(node(h)->grad == 2.0 && node(a)->grad == 5.0);
    mg_decref(top);                           /* the walk keeps the graph alive */
    node(ab)->grad += node(h)->grad;          /* "Python" applies h's rule: d/d(ab) = 1 */
    CHECK(mg_walk_next(&w) == MG_WALK_END);
    CHECK(node(a)->grad == 5.0 + 2.0 * 3.0 && node(b)->grad == 2.0 * 2.0);
    mg_walk_end(&w);
    mg_walk_end(&w);                          /* twice is harmless */
    int fresh = mg_mul(h, b);                 /* made after: inherits the Python bit */
    CHECK(mg_backward(fresh) == MG_IN_PYTHON);
    mg_decref(fresh);
    int pure = mg_mul(a, b);                  /* a graph without it: still one C call */
    mg_decref(h);                             /* the stale node goes: back to one C call */
    CHECK(mg_backward(pure) == 0);
    int nodes[] = {pure, ab, a, b};
    for (int k = 0; k < 4; k++)
        mg_decref(nodes[k]);
    CHECK(live() == base);
    CHECK(mg_hand(1.0, kids, 4) == MG_EINDEX); /* dead children */
    CHECK(live() == base);
}

/* Errors change nothing: a failing power's check, dead indices, the node cap. */
static void test_errors_leave_state_alone(void)
{
    int64_t base = live();
    int x = mg_leaf(0.0);
    CHECK(mg_powi(x, -1.0) == MG_EZERODIV);
    CHECK(live() == base + 1);
    int root = mg_powf(x, 0.5); /* fine forward, its derivative divides by zero */
    int sum = mg_add(root, x);
    CHECK(mg_backward(sum) == MG_EZERODIV);
    CHECK(node(x)->grad == 0.0 && node(sum)->grad == 0.0);
    CHECK(mg_add(x, 123456789) == MG_EINDEX && mg_backward(-5) == MG_EINDEX);
    int y = mg_leaf(1.0), inverse = mg_powi(y, -1.0);
    CHECK(mg_set_data(y, 0.0) == 0 && mg_set_data(-5, 0.0) == MG_EINDEX);
    CHECK(mg_backward(inverse) == MG_EZERODIV && node(y)->grad == 0.0);
    mg_decref(inverse);
    mg_decref(y);
    mg_set_node_limit(live());
    CHECK(mg_leaf(1.0) == MG_ENOMEM && mg_sub(x, root) == MG_ENOMEM);
    mg_set_node_limit(-1);
    mg_decref(sum);
    mg_decref(root);
    mg_decref(x);
    CHECK(live() == base);
}

/* Threads building and backpropagating at once each get exact results. */
static void *worker(void *arg)
{
    double *out = arg;
    int a = mg_leaf(1.5), acc = mg_leaf(0.0);
    for (int k = 0; k < 20000; k++) {
        int p = mg_mul_const(a, 1.0 + k * 1e-6);
        int next = mg_add(acc, p);
        mg_decref(p);
        mg_decref(acc);
        acc = next;
    }
    mg_backward(acc);
    *out = node(a)->grad;
    mg_decref(acc);
    mg_decref(a);
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[8];
    double grads[8], expected;
    worker(&expected);
    for (int k = 0; k < 8; k++)
        pthread_create(&t[k], NULL, worker, &grads[k]);
    for (int k = 0; k < 8; k++) {
        pthread_join(t[k], NULL);
        CHECK(grads[k] == expected);
    }
}

/* Every heap allocation that growing the arena makes can fail: the
 * operation returns MG_ENOMEM, the graph held stays usable, nothing leaks
 * (LeakSanitizer checks at exit). Run first, while the arena is empty. */
static void test_allocation_faults_growing_the_arena(void)
{
    for (int n = 1; n <= 5; n++) { /* the first chunk: 4 tables and the chunk */
        mg_fail_allocation(n);
        CHECK(mg_leaf(1.0) == MG_ENOMEM);
    }
    mg_fail_allocation(0);
    int root = mg_leaf(0.0);
    CHECK(root >= 0);
    for (int n = 1; n <= 5; n++) { /* the next chunk, once the first is full */
        mg_fail_allocation(n);
        int next;
        while ((next = mg_add_const(root, 1.0)) >= 0) {
            mg_decref(root);
            root = next;
        }
        CHECK(next == MG_ENOMEM);
        CHECK(mg_backward(root) == 0); /* the chain is intact */
    }
    mg_fail_allocation(0);
    CHECK(node(root)->data == (live() - 1) / 2); /* a leaf, a node a step */
    mg_decref(root);
    CHECK(live() == 0);
}

/* A peak of many chunks, freed: the chunks' pages go back to the OS (and
 * read as zeros), yet no freed index reads as live, and the same chunks
 * serve new graphs, built, backpropagated and freed as before. Twice, so
 * that chunks given back are used again. */
static void test_chunks_given_back_and_reused(void)
{
    int64_t base = live();
    for (int round = 0; round < 2; round++) {
        int x0 = mg_leaf(2.0), x = x0, n = 12 * MG_CHUNK_NODES / 2;
        mg_incref(x0);
        int *seen = malloc((size_t)n * sizeof *seen);
        for (int k = 0; k < n; k++) {
            int y = k % 2 ? mg_add(x, x0) : mg_mul_const(x, 0.5);
            mg_decref(x);
            seen[k] = x = y;
        }
        CHECK(mg_backward(x) == 0);
        double d = 0.5; /* x = x * 0.5 + x0 a step pair: dx/dx0 = sum of 0.5 ** i */
        for (int k = 1; k < n / 2; k++)
            d = d * 0.5 + 1.0;
        CHECK(fabs(node(x0)->grad - (d * 0.5 + 1.0)) < 1e-12);
        mg_decref(x);
        CHECK(live() == base + 1);
        int stale = 0;
        for (int k = 0; k < n; k += 97)
            stale += mg_op(seen[k]) != MG_EINDEX || mg_incref(seen[k]) != MG_EINDEX;
        CHECK(stale == 0);
        free(seen);
        mg_decref(x0);
    }
    CHECK(live() == base);
}

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

static void test_replay(void)
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

static void test_fused_kernels(void)
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
static void test_power_checks_at_their_bounds(void)
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

int main(void)
{
    test_allocation_faults_growing_the_arena();
    test_chunks_given_back_and_reused(); /* early: on chunks not given back before */
    test_replay();
    test_fused_kernels();
    test_chapter_example();
    test_deep_chain();
    test_shared_subexpression();
    test_hand_built_and_walks();
    test_errors_leave_state_alone();
    test_power_checks_at_their_bounds();
    test_threads();
    CHECK(live() == 0);
    if (failures)
        return 1;
    printf("C core: all checks passed\n");
    return 0;
}
