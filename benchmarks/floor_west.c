/*
 * floor_west.c -- W6's floor: the "Fastest Autograd in the West" graph on a
 * C tape of multi-input ops, forward and backward, in plain C.
 *
 * The graph (A. Rogozhnikov, 2023): 100 leaves holding 0, 1, ..., 99, then
 * op k appends, by k mod 4: softplus(v[-10]); v[-30] + v[-25] + v[-20] +
 * v[-15]; v[-20] * v[-10]; the 4 outputs of softmax(v[-4:]). It is built
 * once as a tape of ops, each with up to MAX_IN inputs (indices of earlier
 * values) and its outputs at consecutive values from `out` (softmax is one
 * op with 4 outputs); then each iteration is one forward sweep over the tape
 * and one reverse sweep, from a fresh set of grads with the root's at 1. The
 * root is the last value appended.
 *
 * The formulas are the plain C a tape would use, as the post describes:
 * sums fold left; softplus(x) is x + log1p(e ** -x) for x > 0, else
 * log1p(e ** x); softmax is the one multi-output op, e ** (x_i - max) over
 * their sum: 4 exps, where micrograd_c's softmax (a node per output, over
 * logsumexp folded from logaddexp) takes 3 exps and 3 log1p more forward and
 * 3 exps backward. So values agree with micrograd_c's to rounding, not bit
 * for bit. Backward: softplus' slope is 1 - e ** -y (y its output),
 * softmax's the usual y_i * (g_i - sum_j g_j y_j) over its outputs.
 *
 * Invariants: every input index is below its op's first output (the tape is
 * in topological order); each value has exactly one producer (a leaf or one
 * op's output); a forward sweep reads only values already computed in it.
 *
 *     cc -O3 -ffp-contract=off -std=c11 floor_west.c -o floor_west -lm
 *     ./floor_west OPS ITERATIONS
 *
 * Output: one JSON line: ops, values, the mean seconds per iteration over
 * ITERATIONS timed ones (after one untimed), the root's value and every
 * value's grad after the last (the leaves' first), in the order appended. Owns everything it allocates; exits with
 * status 1 on bad arguments or when memory runs out.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { LEAVES = 100, MAX_IN = 8 };
enum { SOFTPLUS, SUM, MUL, SOFTMAX };

typedef struct {
    int32_t kind, nin, out; /* outputs: out .. out + nin - 1 for softmax, else out */
    int32_t in[MAX_IN];
} op;

static void forward(const op *tape, int32_t nops, double *v)
{
    for (int32_t k = 0; k < nops; k++) {
        const op *o = &tape[k];
        switch (o->kind) {
        case SOFTPLUS: {
            double x = v[o->in[0]];
            v[o->out] = x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
            break;
        }
        case SUM: {
            double s = v[o->in[0]];
            for (int32_t i = 1; i < o->nin; i++)
                s += v[o->in[i]];
            v[o->out] = s;
            break;
        }
        case MUL:
            v[o->out] = v[o->in[0]] * v[o->in[1]];
            break;
        case SOFTMAX: { /* e ** (x_i - max) / their sum: nin exps */
            double m = v[o->in[0]], sum = 0.0;
            for (int32_t i = 1; i < o->nin; i++)
                m = v[o->in[i]] > m ? v[o->in[i]] : m;
            for (int32_t i = 0; i < o->nin; i++)
                sum += v[o->out + i] = exp(v[o->in[i]] - m);
            for (int32_t i = 0; i < o->nin; i++)
                v[o->out + i] /= sum;
            break;
        }
        }
    }
}

static void backward(const op *tape, int32_t nops, const double *v, double *g)
{
    for (int32_t k = nops - 1; k >= 0; k--) {
        const op *o = &tape[k];
        switch (o->kind) {
        case SOFTPLUS:
            g[o->in[0]] += -expm1(-v[o->out]) * g[o->out];
            break;
        case SUM:
            for (int32_t i = 0; i < o->nin; i++)
                g[o->in[i]] += g[o->out];
            break;
        case MUL:
            g[o->in[0]] += v[o->in[1]] * g[o->out];
            g[o->in[1]] += v[o->in[0]] * g[o->out];
            break;
        case SOFTMAX: {
            const double *y = &v[o->out], *gy = &g[o->out];
            double dot = 0.0;
            for (int32_t i = 0; i < o->nin; i++)
                dot += gy[i] * y[i];
            for (int32_t i = 0; i < o->nin; i++)
                g[o->in[i]] += y[i] * (gy[i] - dot);
            break;
        }
        }
    }
}

/* The tape of the graph with nops ops; the number of values in *nvalues. */
static op *build(int32_t nops, int32_t *nvalues)
{
    op *tape = malloc((size_t)nops * sizeof *tape);
    if (!tape)
        return NULL;
    int32_t n = LEAVES;
    for (int32_t k = 0; k < nops; k++) {
        op o;
        switch (k % 4) {
        case 0:
            o = (op){SOFTPLUS, 1, n, {n - 10}};
            break;
        case 1:
            o = (op){SUM, 4, n, {n - 30, n - 25, n - 20, n - 15}};
            break;
        case 2:
            o = (op){MUL, 2, n, {n - 20, n - 10}};
            break;
        default:
            o = (op){SOFTMAX, 4, n, {n - 4, n - 3, n - 2, n - 1}};
            break;
        }
        tape[k] = o;
        n += o.kind == SOFTMAX ? o.nin : 1;
    }
    *nvalues = n;
    return tape;
}

static double seconds_between(struct timespec t0, struct timespec t1)
{
    return (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
}

/* One iteration: fresh grads, forward, backward from the last value. */
static void iterate(const op *tape, int32_t nops, double *v, double *g, int32_t n)
{
    memset(g, 0, (size_t)n * sizeof *g);
    forward(tape, nops, v);
    g[n - 1] = 1.0;
    backward(tape, nops, v, g);
}

int main(int argc, char **argv)
{
    long nops = argc == 3 ? strtol(argv[1], NULL, 10) : 0;
    long iterations = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (nops < 1 || nops > INT32_MAX / 8 || iterations < 1) {
        fprintf(stderr, "usage: floor_west OPS ITERATIONS (both 1 or more)\n");
        return 1;
    }
    int32_t n = 0;
    op *tape = build((int32_t)nops, &n);
    double *v = tape ? malloc((size_t)n * sizeof *v) : NULL;
    double *g = tape ? malloc((size_t)n * sizeof *g) : NULL;
    if (!tape || !v || !g) {
        fprintf(stderr, "floor_west: out of memory\n");
        free(tape);
        free(v);
        free(g);
        return 1;
    }
    for (int32_t i = 0; i < LEAVES; i++)
        v[i] = i;
    iterate(tape, (int32_t)nops, v, g, n); /* untimed: pages touched, caches warm */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long r = 0; r < iterations; r++)
        iterate(tape, (int32_t)nops, v, g, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("{\"ops\": %ld, \"values\": %d, \"seconds_per_iteration\": %.9g, \"root\": %.17g, "
           "\"grads\": [",
           nops, (int)n, seconds_between(t0, t1) / iterations, v[n - 1]);
    for (int32_t i = 0; i < n; i++)
        printf("%s%.17g", i ? ", " : "", g[i]);
    printf("]}\n");
    free(tape);
    free(v);
    free(g);
    return 0;
}
