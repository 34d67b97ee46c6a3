/*
 * floor.c -- the moons training step in plain C: the floor for scalar autodiff.
 *
 * This is what a careful C programmer would write for micrograd's demo with
 * no Python in the way: one array of nodes (value, grad, children, op) holding
 * the same graph micrograd builds -- MLP(2, [16, 16, 1]) on 100 points, the
 * mean max-margin loss plus 1e-4 * sum(p * p) -- built once, then per step
 * a forward sweep, a reverse sweep and an SGD update over the parameters.
 * The nodes, their order and every floating-point operation are micrograd's,
 * so the losses printed equal micrograd's (and micrograd_c's) bit for bit;
 * benchmarks check that, which proves this program does the same work.
 *
 * Input (stdin): n, then n lines "x0 x1 label", then the 337 parameters in
 * micrograd's parameters() order. Output: one JSON line with the mean
 * seconds per step over the timed steps and the loss at every step.
 *
 *     cc -O3 -ffp-contract=off -std=c11 floor.c -o floor -lm
 *     ./floor STEPS < data.txt
 *
 * Owns everything it allocates; exits with status 1 on bad input or when
 * memory runs out.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { LEAF, ADD, MUL, RELU };

typedef struct {
    double data, grad;
    int a, b;
    int op;
} node;

static node *nodes;
static int count, capacity;

/* A new node; its value is computed by forward(). */
static int make(int op, int a, int b, double data)
{
    if (count == capacity) {
        capacity = capacity ? 2 * capacity : 1 << 16;
        nodes = realloc(nodes, capacity * sizeof *nodes);
        if (!nodes) {
            fprintf(stderr, "floor: out of memory\n");
            exit(1);
        }
    }
    nodes[count] = (node){data, 0.0, a, b, op};
    return count++;
}

static int leaf(double x) { return make(LEAF, -1, -1, x); }
static int add(int a, int b) { return make(ADD, a, b, nodes[a].data + nodes[b].data); }
static int mul(int a, int b) { return make(MUL, a, b, nodes[a].data * nodes[b].data); }
static int relu(int a) { return make(RELU, a, -1, nodes[a].data < 0.0 ? 0.0 : nodes[a].data); }

static void forward(void)
{
    for (int k = 0; k < count; k++) {
        node *v = &nodes[k];
        switch (v->op) {
        case ADD: v->data = nodes[v->a].data + nodes[v->b].data; break;
        case MUL: v->data = nodes[v->a].data * nodes[v->b].data; break;
        case RELU: v->data = nodes[v->a].data < 0.0 ? 0.0 : nodes[v->a].data; break;
        }
    }
}

static void backward(int root)
{
    for (int k = 0; k < count; k++)
        nodes[k].grad = 0.0;
    nodes[root].grad = 1.0;
    for (int k = root; k >= 0; k--) {
        node *v = &nodes[k];
        double g = v->grad;
        switch (v->op) {
        case ADD:
            nodes[v->a].grad += g;
            nodes[v->b].grad += g;
            break;
        case MUL:
            nodes[v->a].grad += nodes[v->b].data * g;
            nodes[v->b].grad += nodes[v->a].data * g;
            break;
        case RELU:
            nodes[v->a].grad += (v->data > 0.0 ? 1.0 : 0.0) * g;
            break;
        }
    }
}

#define NPARAMS (16 * 3 + 16 * 17 + 17)
static const int sizes[] = {2, 16, 16, 1};

/* One sample through the MLP, micrograd's nodes in its order; the score. */
static int mlp(const int *params, int x0, int x1)
{
    int in[16] = {x0, x1}, out[16], nin = 2, p = 0;
    for (int l = 1; l < 4; l++) {
        for (int j = 0; j < sizes[l]; j++) {
            int w = p, b = p + nin;
            int act = add(b, mul(params[w], in[0])); /* sum(w*x, b) starts at b */
            for (int i = 1; i < nin; i++)
                act = add(act, mul(params[w + i], in[i]));
            out[j] = l < 3 ? relu(act) : act;
            p += nin + 1;
        }
        nin = sizes[l];
        for (int j = 0; j < nin; j++)
            in[j] = out[j];
    }
    return in[0];
}

/* Python's sum() one term at a time: sum starts at 0, and 0 + v wraps the
 * 0 in a leaf. The new partial sum. */
static int plus(int sum, int term, int first)
{
    if (first) {
        int zero = leaf(0.0);
        return add(term, zero);
    }
    return add(sum, term);
}

/* The demo's loss over n samples x[3s], x[3s+1] with labels x[3s+2], node
 * for node as micrograd's demo builds it: its node. Nested calls are split
 * so that nodes are made in Python's order. */
static int demo_loss(const double *x, int n, const int *params, int *scores)
{
    for (int s = 0; s < n; s++) {
        int x0 = leaf(x[3 * s]);
        int x1 = leaf(x[3 * s + 1]);
        scores[s] = mlp(params, x0, x1);
    }
    /* data_loss = sum((1 + -y * score).relu() for ...) * (1.0 / n) */
    int sum = -1;
    for (int s = 0; s < n; s++) {
        int neg_y = leaf(-x[3 * s + 2]);
        int product = mul(scores[s], neg_y);
        int one = leaf(1.0);
        sum = plus(sum, relu(add(product, one)), s == 0);
    }
    int scale = leaf(1.0 / n);
    int data_loss = mul(sum, scale);
    /* reg_loss = alpha * sum(p * p for p in parameters) */
    for (int k = 0; k < NPARAMS; k++)
        sum = plus(sum, mul(params[k], params[k]), k == 0);
    int alpha = leaf(1e-4);
    int reg_loss = mul(sum, alpha);
    return add(data_loss, reg_loss);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 100, n = 0;
    if (steps < 1 || scanf("%d", &n) != 1 || n < 1) {
        fprintf(stderr, "usage: floor STEPS < data (n, n lines 'x0 x1 label', %d params)\n",
                NPARAMS);
        return 1;
    }
    double *x = malloc(3 * n * sizeof *x), *losses = malloc(steps * sizeof *losses);
    int *scores = malloc(n * sizeof *scores), params[NPARAMS];
    if (!x || !losses || !scores)
        return 1;
    for (int k = 0; k < 3 * n; k++)
        if (scanf("%lf", &x[k]) != 1)
            return 1;
    for (int k = 0; k < NPARAMS; k++) {
        double p;
        if (scanf("%lf", &p) != 1)
            return 1;
        params[k] = leaf(p);
    }
    int loss = demo_loss(x, n, params, scores);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < steps; k++) {
        forward();
        losses[k] = nodes[loss].data;
        backward(loss);
        double lr = 1.0 - 0.9 * k / steps;
        for (int j = 0; j < NPARAMS; j++)
            nodes[params[j]].data = nodes[params[j]].data - lr * nodes[params[j]].grad;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    printf("{\"nodes\": %d, \"seconds_per_step\": %.9g, \"losses\": [", count, seconds / steps);
    for (int k = 0; k < steps; k++)
        printf("%s%.17g", k ? ", " : "", losses[k]);
    printf("]}\n");
    free(x);
    free(losses);
    free(scores);
    free(nodes);
    return 0;
}
