/*
 * floor_tape.c -- backward over a graph already in memory, in plain C: W2's floor.
 *
 * What a careful C programmer would write to backpropagate through a graph
 * with no Python in the way: the nodes reached from the root laid out once
 * in topological order (value, grad, children, op: 32 bytes, as in
 * micrograd_c), then per repeat the grads zeroed (untimed) and one reverse
 * sweep applying each node's chain rule with micrograd's floating-point
 * operations. The benchmark compares the sum of all grads with micrograd_c's,
 * which shows this program does the same work.
 *
 * Input (stdin, native binary): int32 n, root, repeats; then n int32 ops
 * (0 leaf, 1 add, 2 mul, 3 power by a constant held in child b, 4 relu),
 * n int32 children a, n int32 children b (-1: none), n doubles of data.
 * Children are indices into these arrays, in any order. Output: one JSON
 * line with the nodes reached, the seconds of each repeat and the grad sum
 * (null if it is not finite). A cycle is bad input.
 *
 *     cc -O3 -ffp-contract=off -std=c11 floor_tape.c -o floor_tape -lm
 *
 * Owns everything it allocates; exits with status 1 on bad input or when
 * memory runs out. The sort is iterative, so any depth works.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { LEAF, ADD, MUL, POW_CONST, RELU, NOPS };

typedef struct {
    double data, grad;
    int32_t a, b;
    int32_t op;
} node;

static int fail(const char *why)
{
    fprintf(stderr, "floor_tape: %s\n", why);
    return 1;
}

static int read_ints(int32_t *p, int32_t n) { return fread(p, sizeof *p, n, stdin) == (size_t)n; }

/* The reverse sweep from the last node, the root. */
static void backward(node *t, int32_t n)
{
    t[n - 1].grad = 1.0;
    for (int32_t k = n - 1; k >= 0; k--) {
        node *v = &t[k];
        double g = v->grad;
        switch (v->op) {
        case ADD:
            t[v->a].grad += g;
            t[v->b].grad += g;
            break;
        case MUL:
            t[v->a].grad += t[v->b].data * g;
            t[v->b].grad += t[v->a].data * g;
            break;
        case POW_CONST: { /* (k * x ** (k - 1)) * g, where x ** 1 is x exactly */
            double e = t[v->b].data, x = t[v->a].data;
            t[v->a].grad += e * (e - 1.0 == 1.0 ? x : pow(x, e - 1.0)) * g;
            break;
        }
        case RELU:
            t[v->a].grad += (v->data > 0.0 ? 1.0 : 0.0) * g;
            break;
        }
    }
}

/* Whether every node's op and children are valid (children -1 or in [0, n)). */
static int valid_nodes(const int32_t *op, const int32_t *ca, const int32_t *cb, int32_t n)
{
    for (int32_t k = 0; k < n; k++)
        if (op[k] < 0 || op[k] >= NOPS || ca[k] < -1 || ca[k] >= n || cb[k] < -1 || cb[k] >= n
            || (op[k] != LEAF && ca[k] < 0)
            || ((op[k] == ADD || op[k] == MUL || op[k] == POW_CONST) && cb[k] < 0))
            return 0;
    return 1;
}

/* Post-order from the root, children first, into order[0..count): the count,
 * or -1 for a cycle. place[k] is node k's slot once placed, -2 while on the
 * stack, -1 before. A stack entry is a node, negated (minus one) once its
 * children were pushed. */
static int32_t post_order(const int32_t *ca, const int32_t *cb, int32_t n, int32_t root,
                          int32_t *order, int32_t *place, int32_t *stack)
{
    int32_t count = 0, top = 0;
    for (int32_t k = 0; k < n; k++)
        place[k] = -1;
    stack[top++] = root;
    while (top) {
        int32_t s = stack[--top];
        if (s < 0) {
            place[-s - 1] = count;
            order[count++] = -s - 1;
            continue;
        }
        if (place[s] != -1)
            continue;
        place[s] = -2;
        stack[top++] = -s - 1;
        int32_t kids[2] = {ca[s], cb[s]};
        for (int c = 0; c < 2; c++) {
            if (kids[c] >= 0 && place[kids[c]] == -2)
                return -1;
            if (kids[c] >= 0 && place[kids[c]] == -1)
                stack[top++] = kids[c];
        }
    }
    return count;
}

/* Time backward over t[0..count) repeats times, grads zeroed before each,
 * into seconds[]; print the JSON result. */
static void time_and_report(node *t, int32_t count, int32_t repeats, double *seconds)
{
    double sum = 0.0;
    for (int32_t r = 0; r < repeats; r++) {
        for (int32_t k = 0; k < count; k++)
            t[k].grad = 0.0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        backward(t, count);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        seconds[r] = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    }
    for (int32_t k = 0; k < count; k++)
        sum += t[k].grad;
    printf("{\"nodes\": %d, \"seconds\": [", (int)count);
    for (int32_t r = 0; r < repeats; r++)
        printf("%s%.9g", r ? ", " : "", seconds[r]);
    if (isfinite(sum))
        printf("], \"grad_sum\": %.17g}\n", sum);
    else
        printf("], \"grad_sum\": null}\n");
}

int main(void)
{
    int32_t head[3];
    if (!read_ints(head, 3) || head[0] < 1 || head[0] > INT32_MAX / 3 || head[1] < 0
        || head[1] >= head[0] || head[2] < 1)
        return fail("bad header (n, root, repeats)");
    int32_t n = head[0], root = head[1], repeats = head[2];
    int32_t *in = malloc(3 * (size_t)n * sizeof *in), *order = malloc(n * sizeof *order);
    int32_t *place = malloc(n * sizeof *place);
    int32_t *stack = malloc((3 * (size_t)n + 1) * sizeof *stack); /* pushes: edges + nodes + 1 */
    double *data = malloc(n * sizeof *data), *seconds = malloc(repeats * sizeof *seconds);
    node *t = malloc(n * sizeof *t);
    int status = 1;
    int32_t *op = in, *ca = in + n, *cb = in + 2 * (size_t)n, count = -1;
    if (!in || !order || !place || !stack || !data || !seconds || !t)
        fail("out of memory");
    else if (!read_ints(in, 3 * n) || fread(data, sizeof *data, n, stdin) != (size_t)n)
        fail("input too short");
    else if (!valid_nodes(op, ca, cb, n))
        fail("bad node");
    else if ((count = post_order(ca, cb, n, root, order, place, stack)) < 0)
        fail("the graph has a cycle");
    else {
        for (int32_t k = 0; k < count; k++) {
            int32_t s = order[k];
            t[k] = (node){data[s], 0.0, ca[s] >= 0 ? place[ca[s]] : -1,
                          cb[s] >= 0 ? place[cb[s]] : -1, op[s]};
        }
        time_and_report(t, count, repeats, seconds);
        status = 0;
    }
    free(in);
    free(order);
    free(place);
    free(stack);
    free(data);
    free(seconds);
    free(t);
    return status;
}
