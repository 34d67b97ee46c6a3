/*
 * mg_alloc.c -- the core's heap allocations, with a fault-injection hook.
 *
 * Every malloc, calloc and realloc of the core goes through these wrappers,
 * so a test can make the Nth allocation from now fail (return NULL) and
 * check that the caller reports MG_ENOMEM, changes nothing and leaks
 * nothing. Unarmed, they are the C library's functions. The countdown and
 * the count are atomic: allocations happen on any thread, some outside
 * mg_lock. Memory is freed with free(); nothing here owns any.
 *
 * Chunks of nodes are mapped (mg_map: anonymous, private, never unmapped, so
 * they never move) rather than taken from malloc, so that the pages of a
 * chunk with no node left can be handed back to the OS (mg_give_back,
 * madvise MADV_DONTNEED) while its address stays valid: Python holds a view
 * of every chunk. Such pages read as zeros when next touched. mg_map counts
 * as an allocation for the hook.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
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

void *mg_map(size_t n)
{
    if (injected())
        return NULL;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mg_give_back(void *p, size_t n)
{
    madvise(p, n, MADV_DONTNEED); /* advice: if refused, the memory just stays */
}

void mg_fail_allocation(int64_t n)
{
    atomic_store(&countdown, n >= 1 ? n - 1 : -1);
}

int64_t mg_allocations(void)
{
    return atomic_load(&attempts);
}
