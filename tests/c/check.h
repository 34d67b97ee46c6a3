/*
 * check.h -- what the C unit tests share: CHECK, which counts a failed
 * condition in failures and names it on stderr, node access, the live count,
 * and the tests test_kernels.c holds for test_core.c's main.
 */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "micrograd.h"

extern int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* Node i, read through its chunk as Python reads it. */
mg_node *node(int i);
/* Live nodes in the arena. */
int64_t live(void);

void test_replay(void);
void test_fused_kernels(void);
void test_power_checks_at_their_bounds(void);

#endif
