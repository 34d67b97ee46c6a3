/*
 * mg_tape.h -- a recording (mg_tape): what mg_record.c makes and mg_replay.c
 * runs.
 *
 * A recording is a private copy of the graph under a root (and any extra
 * outputs): its nodes in creation order, which is a topological order
 * (mg_arena.c), with children named by position in the copy. It owns its
 * arrays and is independent of the graph it was made from, which may die:
 * it holds no reference on any computed node.
 *
 * Leaves. A leaf that something outside the recorded graph could reach when
 * it was recorded (a Python handle, or another graph: its refs exceeded its
 * edges in the graph) is a variable: the recording holds one reference on
 * it, given back by mg_tape_free, so it is never freed under the recording.
 * Forward reads its data, backward adds to its grad. Every other leaf can be
 * reached by nobody, so its data can never change: it is copied, a constant.
 * Inputs are variables too, referenced the same way.
 *
 * Invariants of the copy. A node's children are at lower positions; a leaf's
 * children are itself, and a unary node's child b is its child a, which its
 * rule ignores, so that rules are applied to every node without a test for
 * a missing child (a leaf's rule does nothing). A node's refs field is not a
 * count: it is 1 when backward applies the node's rule (it is not a leaf,
 * and is reached from the root), else 0 (a leaf, or a node that only feeds
 * the extra outputs). Without extra outputs every node before the root is
 * reached from it, so refs need not be read. pows lists, in order, the
 * positions of the nodes with refs 1 whose rule may fail (mg_may_fail:
 * powers, and log).
 */
#ifndef MG_TAPE_H
#define MG_TAPE_H

#include "mg_internal.h"

struct mg_tape {
    pthread_mutex_t lock;
    mg_fork_link link;  /* on mg_fork.c's list while lock is initialised       */
    mg_node *nodes;     /* the copy, in creation order                        */
    int32_t n;          /* its length                                          */
    int32_t root;       /* position of the root                                */
    int32_t nout;       /* extra outputs, and their positions                  */
    int32_t *outs;
    int32_t nvar;       /* variable leaves: position, arena index (referenced) */
    int32_t *var_pos;
    int32_t *var_idx;
    int32_t nin;        /* inputs, set by mg_tape_set_inputs (referenced)      */
    int32_t *in_idx;
    int32_t npow;       /* positions of the powers (and logs) reached from the
                           root whose rule may fail (mg_may_fail): checked by
                           backward                                            */
    int32_t *pows;
    int32_t nvar_held;  /* references taken so far (all, once recorded)        */
    int32_t nin_held;
    int32_t clean;      /* 1: every node's grad in the copy is 0 but the
                           variables' (which backward gathers anew): forward
                           zeroed them, as it computed each node, and no
                           backward ran since (mg_replay.c)                   */
};

#endif
