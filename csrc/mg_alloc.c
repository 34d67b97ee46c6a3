/*
 * mg_alloc.c -- the core's heap allocations, with a fault-injection hook.
 *
 * Every malloc, calloc and realloc of the core goes through these wrappers,
 * so a test can make the Nth allocation from now fail (return NULL) and
 * check that the caller reports MG_ENOMEM, changes nothing and leaks
 * nothing. Unarmed, they are the C library's functions. The countdown and
 * the count are atomic: allocations happen on any thread, some outside
 * mg_lock. Memory is freed with free(); nothing here owns any.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include "mg_internal.h"

static _Atomic int64_t countdown = -1; /* allocations to let through first; < 0: unarmed */
static _Atomic int64_t attempts;       /* allocations asked for so far                  */

/* Whether this allocation is the one to fail. */
static int injected(void)
{
    atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed);
    return atomic_load_explicit(&countdown, memory_order_relaxed) >= 0
           && atomic_fetch_sub(&countdown, 1) == 0;
}

void *mg_malloc(size_t n)
{
    return injected() ? NULL : malloc(n);
}

void *mg_calloc(size_t n, size_t size)
{
    return injected() ? NULL : calloc(n, size);
}

void *mg_realloc(void *p, size_t n)
{
    return injected() ? NULL : realloc(p, n);
}

void mg_fail_allocation(int64_t n)
{
    atomic_store(&countdown, n >= 1 ? n - 1 : -1);
}

int64_t mg_allocations(void)
{
    return atomic_load(&attempts);
}
