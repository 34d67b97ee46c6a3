/*
 * test_core.c -- C unit tests of the arena, the backward walk and freeing,
 * through the public API only. Built and run by tests/test_c_core.py, with
 * AddressSanitizer and UBSan when the compiler has them. Exits non-zero,
 * naming the failed check, on the first failure.
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
    CHECK(mg_backward(z, 0) == 0);
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
    CHECK(mg_backward(x, 0) == 0);
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
    CHECK(mg_backward(r, 0) == 0);
    CHECK(node(a)->grad == 54.0);
    int nodes[] = {sq, s, r, a};
    for (int k = 0; k < 4; k++)
        mg_decref(nodes[k]);
}

/* Errors change nothing: a failing power's check, dead indices, the node cap. */
static void test_errors_leave_state_alone(void)
{
    int64_t base = live();
    int x = mg_leaf(0.0);
    CHECK(mg_pow_const(x, -1.0, 1) == MG_EZERODIV);
    CHECK(live() == base + 1);
    int root = mg_pow_const(x, 0.5, 0); /* fine forward, its derivative divides by zero */
    int sum = mg_add(root, x);
    CHECK(mg_backward(sum, 0) == MG_EZERODIV);
    CHECK(node(x)->grad == 0.0 && node(sum)->grad == 0.0);
    CHECK(mg_add(x, 123456789) == MG_EINDEX && mg_backward(-5, 0) == MG_EINDEX);
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
    mg_backward(acc, 0);
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

int main(void)
{
    test_chapter_example();
    test_deep_chain();
    test_shared_subexpression();
    test_errors_leave_state_alone();
    test_threads();
    CHECK(live() == 0);
    if (failures)
        return 1;
    printf("C core: all checks passed\n");
    return 0;
}
