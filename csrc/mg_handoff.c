/*
 * mg_handoff.c -- handing a new reference over to Python, safely.
 *
 * A function that returns a node index with a caller reference (a creating
 * function, mg_incref) hands that reference to Python, where a handle (a
 * Value) takes it by storing the index. Between the C call's return and that
 * store Python can raise: KeyboardInterrupt after the call, a trace function
 * at any bytecode, MemoryError while boxing the returned int. The index is
 * then lost to Python, and with it the reference.
 *
 * So such a function records the index it returns in a per-thread record
 * (mg_hand_locked), and counts it. Python's handler for such an exception
 * reads the record back (mg_handed_last) and gives the reference back if no
 * handle holds it; where a node may have other handles (mg_incref), Python
 * reads the count before the call instead (mg_handed_count): if it moved,
 * the reference was handed.
 *
 * Invariant: a record names a node whose handed reference Python has not
 * given back, or is -1. Else Python would give back a reference that is
 * not its own: one a parent, a recording or another handle holds (the node
 * is alive, but the handed reference went back through mg_decref), or one
 * on a later node in the slot of a freed one. So each node counts the
 * records that name it (mg_node.handed, saturating at 255: a saturated
 * count stays, which only means "look"), and when Python gives a reference
 * on such a node back, or the node is freed, the records naming it are
 * cleared (mg_handoff_forget_locked). Giving back another reference on the
 * same node clears them too: then, at worst, a reference lost by an
 * exception at that very moment leaks; none is ever given back twice. The records
 * live in each thread's own storage, linked into one list under mg_lock, so
 * recording allocates nothing and cannot fail: a thread joins the list on
 * its first record and leaves it when it exits (a pthread key). If the key
 * cannot be made, the thread records nothing, and a lost reference leaks as
 * it would without this file. In a child made by fork only the forking
 * thread exists, so the list is cut back to its record.
 */
#include <stdint.h>
#include "mg_internal.h"

typedef struct record {
    int64_t count;               /* references handed to this thread so far    */
    int32_t idx;                 /* the node last handed to this thread, or -1 */
    int joined;                  /* on the list: 1; could not join: -1; 0 not yet */
    struct record *prev, *next;
} record;

static __thread record mine __attribute__((tls_model("initial-exec"))) = {.idx = -1};
static record *first; /* the list of joined records, under mg_lock */
static pthread_key_t leave_key;
static int key_made; /* 1 made, -1 failed, 0 not tried; under mg_lock */

static void unlink_locked(record *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        first = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* Stop counting as a record of node i. */
static void forget_locked(int32_t i)
{
    mg_assert(i < 0 || (mg_live_locked(i) && mg_at(i)->handed > 0)); /* a record names it */
    if (i >= 0 && mg_at(i)->handed < UINT8_MAX)
        mg_at(i)->handed--;
}

static void leave(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mg_lock);
    forget_locked(mine.idx);
    mine.idx = -1;
    unlink_locked(&mine);
    mine.joined = 0;
    pthread_mutex_unlock(&mg_lock);
}

static void after_fork_in_child(void)
{
    first = mine.joined == 1 ? &mine : NULL;
    mine.prev = mine.next = NULL;
}

/* Put this thread's record on the list, once; 0 if it cannot be. */
static int join_locked(void)
{
    if (!key_made) {
        key_made = pthread_key_create(&leave_key, leave) == 0
                   && pthread_atfork(NULL, NULL, after_fork_in_child) == 0 ? 1 : -1;
    }
    if (!mine.joined)
        mine.joined = key_made == 1 && pthread_setspecific(leave_key, &mine) == 0 ? 1 : -1;
    if (mine.joined == 1 && !mine.prev && first != &mine) {
        mine.next = first;
        if (first)
            first->prev = &mine;
        first = &mine;
    }
    return mine.joined == 1;
}

int mg_hand_locked(int r)
{
    if (r < 0)
        return r;
    mg_assert(mg_live_locked(r));
    mine.count++;
    if (mine.joined != 1 && !join_locked())
        return r;
    forget_locked(mine.idx);
    mine.idx = r;
    if (mg_at(r)->handed < UINT8_MAX)
        mg_at(r)->handed++;
    return r;
}

void mg_handoff_forget_locked(int32_t i)
{
    for (record *r = first; r; r = r->next)
        if (r->idx == i)
            r->idx = -1;
    mg_at(i)->handed = 0;
}

int64_t mg_handed_count(void)
{
    return mine.count;
}

int mg_handed_last(void)
{
    pthread_mutex_lock(&mg_lock);
    int i = mine.idx;
    pthread_mutex_unlock(&mg_lock);
    return i;
}
