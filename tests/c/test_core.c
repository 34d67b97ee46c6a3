/*
 * test_core.c -- C unit tests of the arena, the backward walk, freeing,
 * threads and allocation failures, through the public API only; with
 * test_kernels.c (the fused kernels, replay, the power checks), one program.
 * Built and run by tests/test_c_core.py, with AddressSanitizer and UBSan
 * when the compiler has them. Exits non-zero, naming each failed check.
 */
#include <pthread.h>
#include "check.h"

int failures;

mg_node *node(int i)
{
    return mg_chunk(i >> MG_CHUNK_SHIFT) + (i & (MG_CHUNK_NODES - 1));
}

int64_t live(void)
{
    mg_stats s;
    mg_stats_get(&s);
    return s.live;
}

/* z = x*y + b: the tutorial's first example, and freeing it leaves nothing. */
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
