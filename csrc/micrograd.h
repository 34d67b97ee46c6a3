/*
 * micrograd.h -- the public C API of micrograd_c, the only header Python sees.
 *
 * The engine keeps every scalar of every graph in one process-wide arena of
 * 32-byte nodes (mg_arena.c). A node is named by its index, an int >= 0.
 * Functions that create a node return its index; a negative return is one of
 * the MG_E* codes below and means nothing was created or changed.
 *
 * Ownership: every index returned by a creating function carries one
 * reference, owned by the caller, who gives it back with mg_decref(). A node
 * also holds one reference on each of its children, so a graph lives exactly
 * as long as someone holds its root. Children are created before their
 * parents, so graphs are acyclic and plain reference counting frees them.
 *
 * Threads: every function here may be called from any thread at any time;
 * one mutex serialises all access to the arena. fork() may be called at
 * any time too: a child can use everything here at once (mg_fork.c).
 */
#ifndef MICROGRAD_H
#define MICROGRAD_H

#include <stdint.h>

/* Everything from here to the #endif is read by cffi's cdef as it is
 * (build_ext.py drops only the preprocessor lines): so constants are enums,
 * which both C and cdef understand, and there are no macros. */

/* Nodes per chunk: chunks never move, so Python may read them directly.
 * Nodes per region, the unit the arena allocates from (mg_arena.c): 2 KiB,
 * the most one long-lived node can keep from reuse. */
enum {
    MG_CHUNK_SHIFT = 16,
    MG_CHUNK_NODES = 1 << MG_CHUNK_SHIFT,
    MG_REGION_SHIFT = 6,
    MG_REGION_NODES = 1 << MG_REGION_SHIFT
};

/* Error codes, all negative. Python turns them into exceptions in one place. */
enum {
    MG_ENOMEM = -1,   /* out of memory, or the arena's test cap reached */
    MG_EZERODIV = -2, /* 0.0 raised to a negative power                 */
    MG_EDOMAIN = -3,  /* math domain error (log of x <= 0, ...)         */
    MG_ERANGE = -4,   /* result too large (pow, exp)                    */
    MG_ECOMPLEX = -5, /* negative number to a fractional power          */
    MG_EINDEX = -6,   /* not the index of a live node                   */
    MG_EPYTHON = -7   /* a recording met a rule written in Python       */
};

/* MG_IN_PYTHON: mg_backward's answer when the graph has rules written in
 * Python: nothing was done, Python walks it with mg_walk_start (below).
 * MG_WALK_END: mg_walk_next's answer once every rule is applied. */
enum { MG_IN_PYTHON = 1, MG_WALK_END = -100 };

/* Operation codes, as stored in a node. */
enum {
    MG_LEAF = 0,
    MG_ADD,      /* a + b                                   */
    MG_MUL,      /* a * b                                   */
    MG_POWI,     /* a ** k, k an int, held in leaf child b  */
    MG_POWF,     /* a ** k, k a float, held in leaf child b */
    MG_POW,      /* a ** b, both Values                     */
    MG_RELU,
    MG_TANH,
    MG_EXP,
    MG_LOG,
    MG_SIGMOID,
    MG_SOFTPLUS, /* log(1 + e ** a), without overflow         */
    MG_LOGADDEXP, /* log(e ** a + e ** b), without overflow   */
    MG_HAND,     /* built by hand, Value(x, children, op): no
                    rule of its own; children a, b, and the
                    rest in a chain of MG_MORE nodes at b   */
    MG_MORE,     /* holds one more child (a) of an MG_HAND
                    node, and the chain's rest (b)          */
    MG_FREE      /* an unused slot                          */
};

/* One graph node. Exactly 32 bytes, two to a cache line: Python views a
 * chunk as 4 doubles a node (data, grad) or 8 int32s (children at 4, 5). */
typedef struct mg_node {
    double data;
    double grad;
    int32_t a, b;          /* children, -1 where absent                       */
    uint32_t refs;         /* caller references + parent references          */
    uint8_t op;            /* MG_* operation code                             */
    uint8_t may_fail;      /* 1: its rule may fail for some data (a power)    */
    uint8_t walk;          /* bits 0, 1: child a, b must be visited by
                              backward (not a leaf); the MG_WALK_* bits      */
    uint8_t handed;        /* threads whose last handed reference this is,
                              saturating (mg_handoff.c)                       */
} mg_node;

typedef struct mg_stats {
    int64_t live;      /* nodes in use                                 */
    int64_t capacity;  /* node slots allocated                         */
    int64_t regions;   /* regions holding live nodes, or being filled  */
    int64_t bytes;     /* bytes held by the arena and its scratch (with
                          chunks whose pages went back to the OS)      */
    int64_t chunks;    /* chunks allocated (mapped)                    */
} mg_stats;

/* Creation. Each returns a new node holding one caller reference. */
int mg_leaf(double x);
/* A node built by hand (MG_HAND) with data x over the n live nodes kids[]
 * (in order, n >= 0, repeats allowed): its rule is Python's to give. */
int mg_hand(double x, const int *kids, int n);
/* Node i becomes a leaf holding x, in place: its grad 0, its children let
 * go (Value.__init__ run again). Parents and references are kept; 0 or
 * MG_EINDEX. */
int mg_reset(int i, double x);
/* Node i's data becomes x (Value.data = x): 0 or MG_EINDEX. Every write of
 * data goes through C, here or in the optimizers and replay, so that
 * backward knows when to check the powers again (mg_backward.c). */
int mg_set_data(int i, double x);
int mg_add(int a, int b);
int mg_mul(int a, int b);
int mg_add_const(int a, double c);          /* a + Value(c)               */
int mg_mul_const(int a, double c);          /* a * Value(c)               */
int mg_sub_const(int a, double c);          /* a + Value(-c)              */
int mg_div_const(int a, double c);          /* a * Value(c ** -1)         */
int mg_powi(int a, double k);               /* a ** k, k an int           */
int mg_powf(int a, double k);               /* a ** k, k a float          */
int mg_pow(int a, int b);                   /* a ** b                     */
int mg_relu(int a);
int mg_tanh(int a);
int mg_exp(int a);
int mg_log(int a);
int mg_sigmoid(int a);
int mg_softplus(int a);
int mg_logaddexp(int a, int b);
int mg_logaddexp_const(int a, double c);    /* logaddexp(a, Value(c))     */

/* micrograd's composite operators in one call, building the same nodes
 * as it does: a - b is a + (b * -1), a / b is a * b ** -1, c - a is
 * (a * -1) + c and c / a is a ** -1 * c (c a number). */
int mg_sub(int a, int b);
int mg_div(int a, int b);
int mg_rsub(int a, double c);
int mg_rdiv(int a, double c);

/* A whole MLP forward for one sample, building micrograd's nodes (mg_nn.c).
 * sizes[0..nlayers] are the layer widths (sizes[0] the inputs); params are
 * micrograd's parameters() in order (per neuron: its weights, then its
 * bias); nonlin[l] says layer l applies ReLU. x[i] is an input node, or -1
 * for the number xv[i]. scratch holds 2 * (widest layer) ints. out receives
 * the last layer's sizes[nlayers] outputs, each with one caller reference.
 * 0 or an error code; on error nothing is made. */
int mg_mlp(const int *params, const int *sizes, const int *nonlin, int nlayers, const int *x,
           const double *xv, int *scratch, int *out);

/* sum(a[k] * b[k] for k in range(n)), micrograd's nodes: Python's sum()
 * starts from 0, so the first product is added to a leaf 0. n >= 1. The
 * root (with one caller reference) or an error code. */
int mg_dot(const int *a, const int *b, int n);
/* micrograd's demo loss, its nodes: sum((1 + -y * s).relu() ...) * (1.0 / n)
 * over scores s and labels y. The root (one caller reference) or an error. */
int mg_svm(const int *scores, const double *labels, int n);

/* Optimizer steps over n parameters (mg_optim.c); 0 or MG_EINDEX, and on
 * error nothing changed. velocity, m and v hold one double a parameter. */
int mg_sgd(const int *idx, int n, double lr, double momentum, double *velocity);
int mg_adam(const int *idx, int n, double lr, double beta1, double beta2, double eps, int t,
            double *m, double *v);
/* The Euclidean norm of the n parameters' grads (nan if one is not live). */
double mg_grad_norm(const int *idx, int n);

/* References. mg_decref frees what nothing else reaches, without recursion.
 * mg_decref_many does mg_decref on each index >= 0 under one lock and sets
 * it to -1 as it goes, so calling it again on the same array is harmless. */
int mg_incref(int i);
void mg_decref(int i);
void mg_decref_many(int *idx, int n);

/* The last node index the calling thread got with a reference, from a
 * creating function or mg_incref (-1 before the first, or once that node
 * is freed), and how many such references it got so far: for Python to
 * give back a reference an exception lost before a handle took it. */
int mg_handed_last(void);
int64_t mg_handed_count(void);

/* Inspection, for _prev and _op: node i's MG_* operation code. (Python reads
 * children, data and grads straight from the chunks.) */
int mg_op(int i);

/* Gradients. mg_backward: root.grad = 1, then the whole reverse pass (if
 * the graph holds a power whose rule may fail, every rule is checked first).
 * mg_node_backward: node i's local chain rule, applied once. Both return 0
 * or an error code; on error no gradient has been changed. */
int mg_backward(int root);
int mg_node_backward(int i);

/* Rules written in Python. mg_set_python: node i's rule is Python's from
 * now on (its C rule, if any, is no longer applied by backward); 0 or
 * MG_EINDEX. mg_backward returns MG_IN_PYTHON, changing nothing, when the
 * graph may hold such a node; Python then walks it in steps:
 * mg_walk_start orders the graph (holding a reference on each node in the
 * order until it is done with it), checks its powers, sets root.grad = 1,
 * and returns 0 or an error (then nothing changed and w holds nothing);
 * each mg_walk_next applies C rules in order up to the next Python rule
 * and returns that node's index for Python to run, MG_WALK_END when done,
 * or an error (a power that fails: data changed meanwhile). mg_walk_end
 * gives the remaining references back; calling it again, or on a zeroed
 * walk, is harmless. The walk's memory is the caller's (start it zeroed);
 * its fields are the walk's own. mg_walk_order only collects the order
 * (holding the references; 0 or an error), changing nothing: for showing
 * the steps backward takes, with mg_node_backward. */
typedef struct mg_walk {
    int32_t *order; /* the nodes to visit, in the order backward visits them */
    int32_t n, cap; /* how many; room for how many                           */
    int32_t at;     /* the next to visit                                     */
    int32_t done;   /* order[done..n) hold a reference                       */
} mg_walk;
int mg_set_python(int i);
int mg_walk_order(int root, mg_walk *w);
int mg_walk_start(int root, mg_walk *w);
int mg_walk_next(mg_walk *w);
void mg_walk_end(mg_walk *w);

/* Zero the grads of n nodes given by index (optimizers, zero_grad). */
int mg_zero_grad(const int *idx, int n);

/* Recordings (mg_replay.c): the graph under root, and under nout extra
 * outputs, copied once and replayed in C. mg_record makes one in *out (0 or
 * an error code: MG_EINDEX if an index is not live or an input not a leaf,
 * MG_EPYTHON if the graph holds a node built by hand or a Python rule).
 * ins[0..nin) are leaves mg_tape_set_inputs later writes, in that order.
 * The recording holds a reference on each leaf it reads (inputs, and
 * leaves that something outside the graph could reach), given back by
 * mg_tape_free; other leaves are copied as constants. mg_tape_forward
 * recomputes every node from the leaves' current data, putting the root's value, then the outputs', in values;
 * mg_tape_backward is mg_backward on the recording: the root's grad is 1
 * and every leaf's grad is added to. Each returns 0 or an error code. */
typedef struct mg_tape mg_tape;
int mg_record(int root, const int *outs, int nout, const int *ins, int nin, mg_tape **out);
void mg_tape_free(mg_tape *t);
int mg_tape_nodes(const mg_tape *t);
int mg_tape_forward(mg_tape *t, double *values);
int mg_tape_backward(mg_tape *t);
int mg_tape_set_inputs(mg_tape *t, const double *x, int n);

/* Memory views for Python: chunk c's nodes, and how many chunks exist. */
mg_node *mg_chunk(int c);
int mg_chunk_count(void);

void mg_stats_get(mg_stats *out);

/* Test hooks. mg_set_node_limit: fail node allocations past max_nodes live
 * nodes (-1: no limit). mg_fail_allocation: the nth heap allocation from now
 * (n >= 1) fails, once (n <= 0: none). mg_allocations: heap allocations
 * attempted so far, to learn how many an operation makes. */
void mg_set_node_limit(int64_t max_nodes);
void mg_fail_allocation(int64_t n);
int64_t mg_allocations(void);

#endif
