/*
 * virtio-blk-device (VIRTIO 1.1 §5.2) over a BlockBackend.
 *
 * Each request is a chain: a 16-byte header {le32 type, le32 reserved,
 * le64 sector} and any data in readable buffers, then writable data and a
 * final status byte.  Requests are started as they are popped and complete
 * independently (any order) through the backend's callback API; a request
 * that completes after a device reset is dropped.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"

enum {
    VIRTIO_BLK_F_SIZE_MAX = 1,
    VIRTIO_BLK_F_SEG_MAX = 2,
    VIRTIO_BLK_F_RO = 5,
    VIRTIO_BLK_F_BLK_SIZE = 6,
    VIRTIO_BLK_F_FLUSH = 9,
    VIRTIO_BLK_F_TOPOLOGY = 10,
    VIRTIO_BLK_F_CONFIG_WCE = 11,
    VIRTIO_BLK_F_MQ = 12,
    VIRTIO_BLK_F_DISCARD = 13,
    VIRTIO_BLK_F_WRITE_ZEROES = 14,
};

enum {
    VIRTIO_BLK_T_IN = 0,
    VIRTIO_BLK_T_OUT = 1,
    VIRTIO_BLK_T_FLUSH = 4,
    VIRTIO_BLK_T_GET_ID = 8,
    VIRTIO_BLK_T_DISCARD = 11,
    VIRTIO_BLK_T_WRITE_ZEROES = 13,
};

#define VIRTIO_BLK_T_BARRIER 0x80000000u
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_WZ_F_UNMAP 1u
#define VIRTIO_BLK_CONFIG_SIZE 60
#define SECTOR 512
/* QEMU's defaults for the discard and write-zeroes limits. */
#define BLK_MAX_DISCARD_DEFAULT 4194303u
#define BLK_QUEUE_MAX 1024

typedef struct VirtioBlk {
    VirtioDevice *vdev;
    BlockBackend *blk;
    char *serial;
    uint32_t queue_size;
    uint64_t num_queues;
    bool seg_max_adjust;
    bool config_wce;
    bool read_only;
    bool initial_wce; /* the drive's write cache setting */
    uint64_t max_discard, max_write_zeroes;
    int inflight;
} VirtioBlk;

typedef struct BlkReq {
    VirtQueueElement elem; /* first: popped as one allocation */
    VirtioBlk *s;
    VirtQueue *vq;
    uint64_t generation;
    BlockIOVec qiov;
    bool has_qiov;
    uint8_t *status;
    uint32_t in_bytes; /* data bytes written to the guest */
} BlkReq;

static void blk_req_finish(BlkReq *req, uint8_t status)
{
    VirtioBlk *s = req->s;
    VirtioDevice *vdev = s->vdev;

    if (req->has_qiov) {
        block_iov_destroy(&req->qiov);
    }
    if (req->generation != vdev->generation) {
        /* the device was reset meanwhile: nothing goes back to the guest */
        virtqueue_element_free(&req->elem);
        return;
    }
    *req->status = status;
    virtqueue_push(req->vq, &req->elem, req->in_bytes + 1);
}

static void blk_req_complete(void *opaque, int ret)
{
    BlkReq *req = opaque;
    VirtQueue *vq = req->vq;
    VirtioBlk *s = req->s;
    bool current = req->generation == s->vdev->generation;

    if (ret < 0) {
        req->in_bytes = 0;
    }
    s->inflight--;
    blk_req_finish(req, ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
    if (current) {
        virtqueue_notify(vq);
    }
}

/* Adds bytes [offset, offset + len) of an iovec array to the request. */
static void blk_req_add_iov(BlkReq *req, const struct iovec *iov, unsigned n,
                            size_t offset, size_t len)
{
    for (unsigned i = 0; i < n && len; i++) {
        size_t l = iov[i].iov_len;
        size_t c;

        if (offset >= l) {
            offset -= l;
            continue;
        }
        c = MIN(l - offset, len);
        block_iov_add(&req->qiov, (uint8_t *)iov[i].iov_base + offset, c);
        len -= c;
        offset = 0;
    }
}

/* True if [sector, +bytes) is a whole-sector range inside the disk. */
static bool blk_range_ok(VirtioBlk *s, uint64_t sector, uint64_t bytes)
{
    int64_t len = blk_getlength(s->blk);

    if (len < 0 || bytes % SECTOR || bytes > BLOCK_REQUEST_MAX_BYTES ||
        sector > (uint64_t)len / SECTOR) {
        return false;
    }
    return bytes <= (uint64_t)len - sector * SECTOR;
}

static uint8_t blk_do_rw(BlkReq *req, bool write, uint64_t sector)
{
    VirtioBlk *s = req->s;
    VirtQueueElement *e = &req->elem;
    size_t bytes = write ? e->out_len - 16 : e->in_len - 1;

    if (write && s->read_only) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (!blk_range_ok(s, sector, bytes)) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (bytes == 0) {
        return VIRTIO_BLK_S_OK;
    }
    block_iov_init(&req->qiov, write ? e->out_num : e->in_num);
    req->has_qiov = true;
    if (write) {
        blk_req_add_iov(req, e->out_sg, e->out_num, 16, bytes);
        s->inflight++;
        blk_aio_pwritev(s->blk, sector * SECTOR, &req->qiov, 0,
                        blk_req_complete, req);
    } else {
        blk_req_add_iov(req, e->in_sg, e->in_num, 0, bytes);
        req->in_bytes = bytes;
        s->inflight++;
        blk_aio_preadv(s->blk, sector * SECTOR, &req->qiov, 0, blk_req_complete,
                       req);
    }
    return 0xff; /* in flight */
}

static uint8_t blk_do_discard_zeroes(BlkReq *req, bool zeroes)
{
    VirtioBlk *s = req->s;
    VirtQueueElement *e = &req->elem;
    uint8_t seg[16];
    uint64_t sector;
    uint32_t num, flags;
    uint64_t max = zeroes ? s->max_write_zeroes : s->max_discard;

    if (!virtio_has_feature(s->vdev, zeroes ? VIRTIO_BLK_F_WRITE_ZEROES
                                            : VIRTIO_BLK_F_DISCARD)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    /* we advertise one segment per request */
    if (e->out_len - 16 != sizeof(seg)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    virtio_iov_to_buf(e->out_sg, e->out_num, 16, seg, sizeof(seg));
    sector = virtio_ldq(seg);
    num = virtio_ldl(seg + 8);
    flags = virtio_ldl(seg + 12);
    if (flags & ~VIRTIO_BLK_WZ_F_UNMAP) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    /* §5.2.6.2: discard with the unmap flag is unsupported */
    if (!zeroes && flags) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    if (s->read_only || num > max ||
        !blk_range_ok(s, sector, (uint64_t)num * SECTOR)) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (num == 0) {
        return VIRTIO_BLK_S_OK;
    }
    s->inflight++;
    if (zeroes) {
        blk_aio_pwrite_zeroes(s->blk, sector * SECTOR, (int64_t)num * SECTOR,
                              flags ? BLOCK_REQ_MAY_UNMAP : 0, blk_req_complete,
                              req);
    } else {
        blk_aio_pdiscard(s->blk, sector * SECTOR, (int64_t)num * SECTOR,
                         blk_req_complete, req);
    }
    return 0xff;
}

/* Starts one request; returns a status to complete now, 0xff if started. */
static uint8_t blk_start(BlkReq *req)
{
    VirtioBlk *s = req->s;
    VirtQueueElement *e = &req->elem;
    uint8_t hdr[16];
    uint32_t type;
    uint64_t sector;

    virtio_iov_to_buf(e->out_sg, e->out_num, 0, hdr, sizeof(hdr));
    type = virtio_ldl(hdr) & ~VIRTIO_BLK_T_BARRIER;
    sector = virtio_ldq(hdr + 8);

    switch (type) {
    case VIRTIO_BLK_T_IN:
        return blk_do_rw(req, false, sector);
    case VIRTIO_BLK_T_OUT:
        return blk_do_rw(req, true, sector);
    case VIRTIO_BLK_T_FLUSH:
        s->inflight++;
        blk_aio_flush(s->blk, blk_req_complete, req);
        return 0xff;
    case VIRTIO_BLK_T_GET_ID: {
        char id[VIRTIO_BLK_ID_BYTES] = {0};
        size_t n = MIN(e->in_len - 1, sizeof(id));

        if (s->serial) {
            memcpy(id, s->serial, MIN(strlen(s->serial), sizeof(id)));
        }
        req->in_bytes = virtio_iov_from_buf(e->in_sg, e->in_num, 0, id, n);
        return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_DISCARD:
        return blk_do_discard_zeroes(req, false);
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return blk_do_discard_zeroes(req, true);
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void blk_handle(VirtioDevice *vdev, VirtQueue *vq)
{
    VirtioBlk *s = vdev->state;
    BlkReq *req;
    bool pushed = false;

    while ((req = (BlkReq *)virtqueue_pop(vq, sizeof(BlkReq)))) {
        VirtQueueElement *e = &req->elem;
        uint8_t st;

        req->s = s;
        req->vq = vq;
        req->generation = vdev->generation;
        if (e->out_len < 16 || e->in_len < 1) {
            virtqueue_element_free(e);
            virtio_error(vdev, "request without header or status byte");
            return;
        }
        /* the status byte is the last byte of the writable buffers */
        for (unsigned i = e->in_num; i-- > 0;) {
            if (e->in_sg[i].iov_len) {
                req->status =
                    (uint8_t *)e->in_sg[i].iov_base + e->in_sg[i].iov_len - 1;
                e->in_sg[i].iov_len--;
                break;
            }
        }
        st = blk_start(req);
        if (st != 0xff) {
            blk_req_finish(req, st);
            pushed = true;
        }
    }
    if (pushed) {
        virtqueue_notify(vq);
    }
}

static void blk_get_config(VirtioDevice *vdev, uint8_t *c)
{
    VirtioBlk *s = vdev->state;
    int64_t len = blk_getlength(s->blk);

    memset(c, 0, VIRTIO_BLK_CONFIG_SIZE);
    virtio_stq(c, len < 0 ? 0 : (uint64_t)len / SECTOR);
    virtio_stl(c + 8, 0); /* size_max */
    virtio_stl(c + 12, s->seg_max_adjust ? s->queue_size - 2 : 126);
    virtio_stl(c + 20, SECTOR);             /* blk_size */
    c[24] = 0;                              /* physical_block_exp */
    c[32] = blk_enable_write_cache(s->blk); /* writeback */
    virtio_stw(c + 34, s->num_queues);
    virtio_stl(c + 36, s->max_discard);
    virtio_stl(c + 40, 1); /* max_discard_seg */
    virtio_stl(c + 44, 1); /* alignment */
    virtio_stl(c + 48, s->max_write_zeroes);
    virtio_stl(c + 52, 1); /* max_wz_seg */
    c[56] = 1;             /* wz may unmap */
}

static void blk_set_config(VirtioDevice *vdev, const uint8_t *c,
                           unsigned offset, unsigned size)
{
    VirtioBlk *s = vdev->state;

    /* only the writeback byte is writable, with CONFIG_WCE */
    if (offset <= 32 && offset + size > 32 &&
        virtio_has_feature(vdev, VIRTIO_BLK_F_CONFIG_WCE)) {
        blk_set_enable_write_cache(s->blk, c[32] != 0);
    }
}

static void blk_set_features(VirtioDevice *vdev, uint64_t features)
{
    VirtioBlk *s = vdev->state;

    /* a driver that cannot flush gets writethrough (§5.2.5.1) */
    if (!(features & (1ull << VIRTIO_BLK_F_FLUSH))) {
        blk_set_enable_write_cache(s->blk, false);
    }
}

static bool blk_parse(VirtioBlk *s, json_object *props, const VirtioHost *host,
                      Error **errp)
{
    g_autofree char *drive = NULL;
    bool discard = true, write_zeroes = true;
    uint64_t queue_size = 256;

    s->num_queues = 1;
    s->seg_max_adjust = true;
    s->config_wce = true;
    s->max_discard = s->max_write_zeroes = BLK_MAX_DISCARD_DEFAULT;
    if (!qx_opts_take_str(props, "drive", &drive, NULL, errp) ||
        !qx_opts_take_str(props, "serial", &s->serial, NULL, errp) ||
        !qx_opts_take_uint(props, "queue-size", &queue_size, NULL, errp) ||
        !qx_opts_take_uint(props, "num-queues", &s->num_queues, NULL, errp) ||
        !qx_opts_take_bool(props, "seg-max-adjust", &s->seg_max_adjust, NULL,
                           errp) ||
        !qx_opts_take_bool(props, "config-wce", &s->config_wce, NULL, errp) ||
        !qx_opts_take_bool(props, "discard", &discard, NULL, errp) ||
        !qx_opts_take_bool(props, "write-zeroes", &write_zeroes, NULL, errp) ||
        !qx_opts_take_uint(props, "max-discard-sectors", &s->max_discard, NULL,
                           errp) ||
        !qx_opts_take_uint(props, "max-write-zeroes-sectors",
                           &s->max_write_zeroes, NULL, errp)) {
        return false;
    }
    if (!virtio_check_props(s->vdev, props, errp)) {
        return false;
    }
    /* as QEMU: a bad property value first, then realize's checks */
    s->blk = drive && host && host->find_blk
                 ? host->find_blk(host->opaque, drive)
                 : NULL;
    if (drive && !s->blk) {
        error_setg(errp,
                   "Property 'virtio-blk-device.drive' can't find "
                   "value '%s'",
                   drive);
        return false;
    }
    if (!drive) {
        error_setg(errp, "drive property not set");
        return false;
    }
    /* QEMU's limits and messages */
    if (s->num_queues == 0) {
        error_setg(errp, "num-queues property must be larger than 0");
        return false;
    }
    if (s->num_queues > VIRTIO_MAX_QUEUES) {
        error_setg(errp, "num-queues property must be <= %d",
                   VIRTIO_MAX_QUEUES);
        return false;
    }
    if (queue_size <= 2) {
        error_setg(errp,
                   "invalid queue-size property (%" PRIu64 "), "
                   "must be > 2",
                   queue_size);
        return false;
    }
    if (queue_size > BLK_QUEUE_MAX || (queue_size & (queue_size - 1))) {
        error_setg(errp,
                   "invalid queue-size property (%" PRIu64 "), "
                   "must be a power of 2 (max %d)",
                   queue_size, BLK_QUEUE_MAX);
        return false;
    }
    s->queue_size = queue_size;
    if (discard && (s->max_discard == 0 || s->max_discard > UINT32_MAX ||
                    s->max_discard > BLOCK_REQUEST_MAX_BYTES / SECTOR)) {
        error_setg(errp,
                   "invalid max-discard-sectors property (%" PRIu64
                   "), must be between 1 and %d",
                   s->max_discard, (int)(BLOCK_REQUEST_MAX_BYTES / SECTOR));
        return false;
    }
    if (write_zeroes &&
        (s->max_write_zeroes == 0 ||
         s->max_write_zeroes > BLOCK_REQUEST_MAX_BYTES / SECTOR)) {
        error_setg(errp,
                   "invalid max-write-zeroes-sectors property (%" PRIu64
                   "), must be between 1 and %d",
                   s->max_write_zeroes,
                   (int)(BLOCK_REQUEST_MAX_BYTES / SECTOR));
        return false;
    }
    if (s->serial && strlen(s->serial) > VIRTIO_BLK_ID_BYTES) {
        /* QEMU truncates silently too; keep the first 20 bytes */
        s->serial[VIRTIO_BLK_ID_BYTES] = '\0';
    }
    s->vdev->host_features |=
        1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
        1ull << VIRTIO_BLK_F_TOPOLOGY | 1ull << VIRTIO_BLK_F_FLUSH;
    if (s->config_wce) {
        s->vdev->host_features |= 1ull << VIRTIO_BLK_F_CONFIG_WCE;
    }
    if (discard) {
        s->vdev->host_features |= 1ull << VIRTIO_BLK_F_DISCARD;
    }
    if (write_zeroes) {
        s->vdev->host_features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
    }
    if (s->num_queues > 1) {
        s->vdev->host_features |= 1ull << VIRTIO_BLK_F_MQ;
    }
    return true;
}

static void blk_free_state(VirtioBlk *s)
{
    g_free(s->serial);
    g_free(s);
}

static void *blk_create(VirtioDevice *vdev, json_object *props,
                        const VirtioHost *host, Error **errp)
{
    VirtioBlk *s = g_new0(VirtioBlk, 1);

    s->vdev = vdev;
    if (!blk_parse(s, props, host, errp)) {
        blk_free_state(s);
        return NULL;
    }
    s->read_only = blk_is_read_only(s->blk);
    s->initial_wce = blk_enable_write_cache(s->blk);
    if (s->read_only) {
        vdev->host_features |= 1ull << VIRTIO_BLK_F_RO;
    }
    for (uint64_t i = 0; i < s->num_queues; i++) {
        virtio_add_queue(vdev, s->queue_size, blk_handle);
    }
    vdev->config_size = VIRTIO_BLK_CONFIG_SIZE;
    return s;
}

static void blk_reset(VirtioDevice *vdev)
{
    VirtioBlk *s = vdev->state;

    /* a new driver starts with the write cache of the drive */
    blk_set_enable_write_cache(s->blk, s->initial_wce);
}

static void blk_free(VirtioDevice *vdev)
{
    VirtioBlk *s = vdev->state;

    /* completions touch s: wait for every request */
    while (s->inflight) {
        qx_loop_run_once(vdev->loop, true);
    }
    blk_free_state(s);
}

const VirtioDeviceOps virtio_blk_ops = {
    .name = "virtio-blk-device",
    .device_id = 2,
    .create = blk_create,
    .get_config = blk_get_config,
    .set_config = blk_set_config,
    .set_features = blk_set_features,
    .reset = blk_reset,
    .free = blk_free,
};
