/*
 * Private declarations shared by the files of lib/block.  Tools and other
 * layers never include this header.
 */
#ifndef QX_BLOCK_INTERNAL_H
#define QX_BLOCK_INTERNAL_H

#include "qx/block/block-backend.h"
#include "qx/block/block.h"
#include "qx/block/driver.h"
#include "qx/util/thread-pool.h"

struct BlockGraph {
    QxLoop *loop;
    ThreadPool *pool;     /* created on first use */
    QxAio *aio[2];        /* indexed by QxAioBackend; created on first use */
    GPtrArray *nodes;     /* BlockNode *, creation order, not referenced */
    uint64_t next_auto_name;
    uint64_t next_request_seq; /* orders tracked requests (io.c) */
    struct QxObjects *objects; /* --object registry, not owned */
};

/* An in-flight request on a node (io.c). */
struct BlockTrackedRequest {
    BlockNode *node;
    int64_t offset;
    int64_t bytes;
    bool is_write;
    bool serialising;      /* read-modify-write: excludes overlaps */
    uint64_t seq;          /* start order: waits go to older requests only */
    CoQueue wait_queue;    /* requests waiting for this one */
    BlockTrackedRequest *next;
    BlockTrackedRequest *prev;
};

/* drivers.c: the registry. */
extern const BlockDriver *const block_drivers[];

/* graph.c */
void block_graph_add_node(BlockGraph *graph, BlockNode *node);
void block_graph_remove_node(BlockGraph *graph, BlockNode *node);

/* perm.c */
/* Cumulative perm/shared of node's parents; (0, ALL) without parents. */
void block_node_cumulative_perms(const BlockNode *node, unsigned *perm,
                                 unsigned *shared);
/*
 * Re-derives the permissions of every edge below node from node's own
 * cumulative permissions and applies them, rolling back on failure.
 */
bool block_perm_update_subtree(BlockNode *node, Error **errp);
/* Checks the edges into node against each other (in-process conflicts). */
bool block_perm_check_parents(BlockNode *node, Error **errp);

/* io.c */
void block_io_init_node(BlockNode *node);
/* In-flight accounting: every request holds the node while it runs. */
void block_inc_in_flight(BlockNode *node);
void block_dec_in_flight(BlockNode *node);
/* Generic request checks: offset/bytes in range of what offsets allow. */
int block_check_request(int64_t offset, int64_t bytes);

/* block-backend.c: for the sync and callback forms. */
QxLoop *blk_get_loop(const BlockBackend *blk);
void blk_inc_in_flight(BlockBackend *blk);
void blk_dec_in_flight(BlockBackend *blk);

/* open.c */
void block_node_refresh_limits(BlockNode *node);
void block_node_refresh_filename(BlockNode *node);

/* qdict-order.c */
unsigned block_qdict_bucket(const char *key);

/* Small helpers. */
static inline int64_t block_align_down(int64_t n, int64_t align)
{
    return n - (n % align);
}

static inline int64_t block_align_up(int64_t n, int64_t align)
{
    return block_align_down(n + align - 1, align);
}

/*
 * Node sizes are kept in whole 512-byte sectors, rounded up, as QEMU 7.2
 * does (a 1000-byte file is a 1024-byte image; the tail reads as zeroes).
 */
static inline int64_t block_round_len(int64_t len)
{
    return len < 0 ? len : block_align_up(len, 512);
}

#endif
