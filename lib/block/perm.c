/*
 * Permissions on graph edges.  Each edge (BlockChild) says what its parent
 * does with the child node (perm) and tolerates from others (shared).  A
 * node's cumulative permissions are the union of its parents' perm and the
 * intersection of their shared sets; the protocol driver turns them into
 * image locks (set_perm), which is how separate processes see each other.
 */
#include <assert.h>

#include "internal.h"

static const char *const perm_names[BLOCK_PERM_COUNT] = {
    "consistent read",
    "write",
    "write unchanged",
    "resize",
};

const char *block_perm_name(unsigned perm_bit_index)
{
    if (perm_bit_index >= BLOCK_PERM_COUNT) {
        return "unknown";
    }
    return perm_names[perm_bit_index];
}

void block_default_perms(BlockNode *node, unsigned role, unsigned parent_perm,
                         unsigned parent_shared, unsigned *perm,
                         unsigned *shared)
{
    unsigned p = parent_perm;
    unsigned s = parent_shared;

    if (role & BLOCK_CHILD_COW) {
        /* Backing files are only read, and anyone may do anything else. */
        p = (parent_perm & BLOCK_PERM_CONSISTENT_READ);
        if (!(node->open_flags & BLOCK_OPEN_NO_IO)) {
            p |= BLOCK_PERM_CONSISTENT_READ;
        }
        s = BLOCK_PERM_ALL;
    } else if (role & BLOCK_CHILD_METADATA) {
        /*
         * The parent's own structures live here: it reads them even when
         * its users do not, updates them when writable, and cannot let
         * anyone else change or resize them underneath.
         */
        if (!(node->open_flags & BLOCK_OPEN_NO_IO)) {
            p |= BLOCK_PERM_CONSISTENT_READ;
        }
        if (!node->read_only) {
            p |= BLOCK_PERM_WRITE | BLOCK_PERM_RESIZE;
        }
        s &= ~(BLOCK_PERM_WRITE | BLOCK_PERM_RESIZE);
        s |= BLOCK_PERM_WRITE_UNCHANGED;
    } else {
        /*
         * Filtered or plain data child: what the users do passes through.
         * Unchanged-data writes (e.g. copy-on-read) are always tolerated.
         */
        s |= BLOCK_PERM_WRITE_UNCHANGED;
    }
    if (node->force_share) {
        s = BLOCK_PERM_ALL;
    }
    *perm = p;
    *shared = s;
}

void block_node_cumulative_perms(const BlockNode *node, unsigned *perm,
                                 unsigned *shared)
{
    unsigned p = 0;
    unsigned s = BLOCK_PERM_ALL;

    for (guint i = 0; i < node->parents->len; i++) {
        BlockChild *c = g_ptr_array_index(node->parents, i);
        p |= c->perm;
        s &= c->shared;
    }
    *perm = p;
    *shared = s;
}

static const char *parent_description(const BlockChild *c)
{
    if (c->parent) {
        return c->parent->node_name;
    }
    return "a block device";
}

bool block_perm_check_parents(BlockNode *node, Error **errp)
{
    for (guint i = 0; i < node->parents->len; i++) {
        BlockChild *a = g_ptr_array_index(node->parents, i);
        for (guint j = 0; j < node->parents->len; j++) {
            BlockChild *b = g_ptr_array_index(node->parents, j);
            unsigned conflict;
            if (a == b) {
                continue;
            }
            conflict = a->perm & ~b->shared;
            if (conflict) {
                unsigned bit = (unsigned)__builtin_ctz(conflict);
                error_setg(errp,
                           "Conflicts with use by %s as '%s', which does "
                           "not allow '%s' on %s",
                           parent_description(b), b->name,
                           block_perm_name(bit), node->node_name);
                return false;
            }
        }
    }
    return true;
}

/* One node whose state changed, for rollback. */
typedef struct PermUndo {
    BlockNode *node;
    unsigned old_perm;
    unsigned old_shared;
    GArray *edges; /* old perm/shared of node's child edges */
} PermUndo;

typedef struct EdgeUndo {
    BlockChild *child;
    unsigned perm;
    unsigned shared;
} EdgeUndo;

static bool update_node(BlockNode *node, GPtrArray *undo, Error **errp);

/* Re-derives the edges below node from its cumulative perms. */
static bool update_children(BlockNode *node, GPtrArray *undo, Error **errp)
{
    for (guint i = 0; i < node->children->len; i++) {
        BlockChild *c = g_ptr_array_index(node->children, i);
        unsigned p;
        unsigned s;
        if (node->drv->child_perm) {
            node->drv->child_perm(node, c->role, node->cur_perm,
                                  node->cur_shared, &p, &s);
        } else {
            block_default_perms(node, c->role, node->cur_perm,
                                node->cur_shared, &p, &s);
        }
        if (c->node->force_share) {
            s = BLOCK_PERM_ALL;
        }
        if (p == c->perm && s == c->shared) {
            continue;
        }
        PermUndo *u = g_ptr_array_index(undo, undo->len - 1);
        EdgeUndo e = {c, c->perm, c->shared};
        g_array_append_val(u->edges, e);
        c->perm = p;
        c->shared = s;
        if (!update_node(c->node, undo, errp)) {
            return false;
        }
    }
    return true;
}

static bool update_node(BlockNode *node, GPtrArray *undo, Error **errp)
{
    unsigned perm;
    unsigned shared;
    PermUndo *u;

    if (!block_perm_check_parents(node, errp)) {
        return false;
    }
    block_node_cumulative_perms(node, &perm, &shared);
    if ((perm & (BLOCK_PERM_WRITE | BLOCK_PERM_WRITE_UNCHANGED)) &&
        node->read_only) {
        error_setg(errp, "Block node is read-only");
        return false;
    }

    u = g_new0(PermUndo, 1);
    u->node = node;
    u->old_perm = node->cur_perm;
    u->old_shared = node->cur_shared;
    u->edges = g_array_new(false, false, sizeof(EdgeUndo));
    g_ptr_array_add(undo, u);

    if (perm != node->cur_perm || shared != node->cur_shared) {
        if (node->drv->set_perm &&
            node->drv->set_perm(node, perm, shared, errp) < 0) {
            return false;
        }
        node->cur_perm = perm;
        node->cur_shared = shared;
    }
    return update_children(node, undo, errp);
}

static void undo_free(gpointer p)
{
    PermUndo *u = p;
    g_array_free(u->edges, true);
    g_free(u);
}

static void rollback(GPtrArray *undo)
{
    for (guint i = undo->len; i-- > 0;) {
        PermUndo *u = g_ptr_array_index(undo, i);
        for (guint j = u->edges->len; j-- > 0;) {
            EdgeUndo *e = &g_array_index(u->edges, EdgeUndo, j);
            e->child->perm = e->perm;
            e->child->shared = e->shared;
        }
        if (u->node->cur_perm != u->old_perm ||
            u->node->cur_shared != u->old_shared) {
            /* Going back to what was applied before cannot conflict. */
            if (u->node->drv->set_perm) {
                u->node->drv->set_perm(u->node, u->old_perm, u->old_shared,
                                       NULL);
            }
            u->node->cur_perm = u->old_perm;
            u->node->cur_shared = u->old_shared;
        }
    }
}

bool block_perm_update_subtree(BlockNode *node, Error **errp)
{
    GPtrArray *undo = g_ptr_array_new_with_free_func(undo_free);
    bool ok = update_node(node, undo, errp);

    if (!ok) {
        rollback(undo);
    }
    g_ptr_array_free(undo, true);
    return ok;
}

bool block_refresh_perms(BlockNode *node, Error **errp)
{
    return block_perm_update_subtree(node, errp);
}
