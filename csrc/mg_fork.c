/*
 * mg_fork.c -- fork(): a child that can use the core at once.
 *
 * fork() copies only the calling thread. A lock that another thread held at
 * that moment stays held in the child forever, and the child's first call
 * that takes it never returns. So, through pthread_atfork (registered once,
 * when the library is loaded):
 *
 *   prepare  takes every lock of the core in the documented order: this
 *            file's registry lock, then every live recording's lock, then
 *            mg_lock. No thread can then be inside the core, so the arena
 *            is consistent (no walk half done, the backward scratch zero).
 *   parent   releases them, in reverse.
 *   child    re-initialises them all. The arena needs nothing more: it holds
 *            no per-thread state (all threads fill the one current region,
 *            mg_arena.c), and the nodes that threads absent in the child
 *            made are freed like any other when the child drops them.
 *
 * The registry: every recording (mg_replay.c) embeds an mg_fork_link, put
 * on a circular list here between the point its lock is initialised and
 * the point mg_tape_free destroys it. The list has a lock of its own,
 * registry_lock, taken only by the functions below, never while holding a
 * recording's lock or mg_lock, so it is first in the order. The links are
 * owned by their recordings; nothing here allocates.
 */
#include "mg_internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static mg_fork_link registry = {.prev = &registry, .next = &registry};
static pthread_once_t registered = PTHREAD_ONCE_INIT;

/* Before fork(): takes every lock of the core, in order, and returns holding
 * them all; parent() (in the parent) or child() (in the child) ends that. */
static void prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (mg_fork_link *l = registry.next; l != &registry; l = l->next)
        pthread_mutex_lock(l->lock);
    pthread_mutex_lock(&mg_lock);
    mg_assert(mg_A.newest < 0 || mg_A.regions[mg_A.newest].newer == -1);
}

/* After fork(), in the parent: releases the locks prepare() took, in reverse. */
static void parent(void)
{
    pthread_mutex_unlock(&mg_lock);
    for (mg_fork_link *l = registry.prev; l != &registry; l = l->prev)
        pthread_mutex_unlock(l->lock);
    pthread_mutex_unlock(&registry_lock);
}

/* After fork(), in the child: the locks prepare() took are held by a thread
 * the child does not have; it re-initialises them, unlocked. */
static void child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    for (mg_fork_link *l = registry.next; l != &registry; l = l->next)
        pthread_mutex_init(l->lock, NULL);
    pthread_mutex_init(&mg_lock, NULL);
}

static void register_handlers(void)
{
    pthread_atfork(prepare, parent, child);
}

__attribute__((constructor)) static void at_load(void)
{
    pthread_once(&registered, register_handlers);
}

void mg_fork_track(mg_fork_link *l, pthread_mutex_t *lock)
{
    pthread_once(&registered, register_handlers);
    pthread_mutex_lock(&registry_lock);
    l->lock = lock;
    l->next = &registry;
    l->prev = registry.prev;
    registry.prev->next = l;
    registry.prev = l;
    pthread_mutex_unlock(&registry_lock);
}

void mg_fork_untrack(mg_fork_link *l)
{
    pthread_mutex_lock(&registry_lock);
    if (l->lock) {
        l->prev->next = l->next;
        l->next->prev = l->prev;
        l->lock = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
}
