/*
 * NBD transmission phase: the client's main coroutine reads requests (and
 * write payloads) one after the other and starts a coroutine per request,
 * at most NBD_MAX_REQUESTS_IN_FLIGHT at a time; each request coroutine
 * does its I/O through the BlockBackend and sends its reply under
 * send_lock, so replies may go out of order.
 *
 * Untrusted fields are checked before anything is allocated: READ and
 * WRITE lengths are capped at NBD_MAX_BUFFER_SIZE (32 MiB, as QEMU), the
 * range must lie inside the export, unknown flags and commands get
 * EINVAL.  A bad magic, an oversized WRITE (whose payload we cannot skip
 * safely) or NBD_CMD_DISC end the connection.
 */
#include <errno.h>

#include "qx/block/block.h"
#include "nbd-internal.h"

/* Extents per context in one BLOCK_STATUS reply (QEMU sends at most 1M). */
#define NBD_MAX_EXTENTS (1024 * 1024 / 8)
/* Chunks a sparse read is split into before the rest goes out as data. */
#define NBD_MAX_READ_CHUNKS 256

typedef struct NbdRequest {
    NbdClient *client;
    uint16_t flags;
    uint16_t type;
    uint64_t handle;
    uint64_t offset;
    uint32_t len;
    uint8_t *data; /* WRITE payload or READ buffer (blk_blockalign) */
    int err;       /* set while parsing: reply with this error */
} NbdRequest;

/* ---- Replies ---------------------------------------------------------- */

static int send_simple_reply(NbdClient *client, uint64_t handle, int err,
                             void *data, uint32_t len)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = sizeof(hdr)},
        {.iov_base = data, .iov_len = len},
    };
    int ret;

    nbd_put32(hdr, NBD_SIMPLE_REPLY_MAGIC);
    nbd_put32(hdr + 4, nbd_errno_to_wire(err));
    nbd_put64(hdr + 8, handle);
    qx_co_mutex_lock(&client->send_lock);
    ret = nbd_conn_writev_co(client, iov, data ? 2 : 1);
    qx_co_mutex_unlock(&client->send_lock);
    return ret;
}

/* One structured chunk; head (may be NULL) and data follow the header. */
static int send_chunk_locked(NbdClient *client, uint64_t handle,
                             uint16_t flags, uint16_t type, const void *head,
                             uint32_t head_len, void *data,
                             uint32_t data_len)
{
    uint8_t hdr[NBD_STRUCTURED_REPLY_SIZE];
    struct iovec iov[3] = {
        {.iov_base = hdr, .iov_len = sizeof(hdr)},
        {.iov_base = (void *)head, .iov_len = head_len},
        {.iov_base = data, .iov_len = data_len},
    };

    nbd_put32(hdr, NBD_STRUCTURED_REPLY_MAGIC);
    nbd_put16(hdr + 4, flags);
    nbd_put16(hdr + 6, type);
    nbd_put64(hdr + 8, handle);
    nbd_put32(hdr + 16, head_len + data_len);
    return nbd_conn_writev_co(client, iov, 3);
}

static int send_chunk(NbdClient *client, uint64_t handle, uint16_t flags,
                      uint16_t type, const void *head, uint32_t head_len,
                      void *data, uint32_t data_len)
{
    int ret;

    qx_co_mutex_lock(&client->send_lock);
    ret = send_chunk_locked(client, handle, flags, type, head, head_len,
                            data, data_len);
    qx_co_mutex_unlock(&client->send_lock);
    return ret;
}

static int send_error(NbdClient *client, uint64_t handle, int err,
                      const char *msg)
{
    uint8_t head[6 + 256];
    size_t mlen = msg ? strlen(msg) : 0;

    if (!client->structured) {
        return send_simple_reply(client, handle, err, NULL, 0);
    }
    if (mlen > 256) {
        mlen = 256;
    }
    nbd_put32(head, nbd_errno_to_wire(err));
    nbd_put16(head + 4, mlen);
    memcpy(head + 6, msg, mlen);
    return send_chunk(client, handle, NBD_REPLY_FLAG_DONE,
                      NBD_REPLY_TYPE_ERROR, head, 6 + mlen, NULL, 0);
}

/* Success without payload. */
static int send_ok(NbdClient *client, uint64_t handle)
{
    if (!client->structured) {
        return send_simple_reply(client, handle, 0, NULL, 0);
    }
    return send_chunk(client, handle, NBD_REPLY_FLAG_DONE,
                      NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
}

/* ---- Commands --------------------------------------------------------- */

typedef struct ReadChunk {
    uint64_t offset;
    uint32_t len;
    bool hole;
} ReadChunk;

/*
 * Structured read without NBD_CMD_FLAG_DF: ranges that read as zeroes go
 * out as OFFSET_HOLE chunks, the rest is read and sent as OFFSET_DATA.
 */
static int co_read_sparse(NbdRequest *req)
{
    NbdClient *client = req->client;
    BlockBackend *blk = client->exp->blk;
    ReadChunk chunks[NBD_MAX_READ_CHUNKS];
    int n = 0;
    uint64_t pos = 0;
    int ret;

    while (pos < req->len) {
        int64_t pnum = req->len - pos;
        bool hole = false;

        if (n < NBD_MAX_READ_CHUNKS - 1) {
            ret = blk_block_status_co(blk, req->offset + pos, req->len - pos,
                                      &pnum, NULL, NULL);
            if (ret < 0) {
                return send_error(client, req->handle, -ret,
                                  "block status failed");
            }
            if (pnum <= 0 || (uint64_t)pnum > req->len - pos) {
                pnum = req->len - pos;
            }
            hole = ret & BLOCK_STATUS_ZERO;
        }
        if (n > 0 && chunks[n - 1].hole == hole) {
            chunks[n - 1].len += pnum;
        } else {
            chunks[n++] = (ReadChunk){req->offset + pos, (uint32_t)pnum,
                                      hole};
        }
        pos += pnum;
    }
    for (int i = 0; i < n; i++) {
        if (chunks[i].hole) {
            continue;
        }
        ret = blk_pread_co(blk, chunks[i].offset, chunks[i].len,
                           req->data + (chunks[i].offset - req->offset), 0);
        if (ret < 0) {
            return send_error(client, req->handle, -ret, "read failed");
        }
    }
    qx_co_mutex_lock(&client->send_lock);
    ret = 0;
    for (int i = 0; i < n && ret >= 0; i++) {
        uint16_t flags = i == n - 1 ? NBD_REPLY_FLAG_DONE : 0;
        uint8_t head[12];

        nbd_put64(head, chunks[i].offset);
        if (chunks[i].hole) {
            nbd_put32(head + 8, chunks[i].len);
            ret = send_chunk_locked(client, req->handle, flags,
                                    NBD_REPLY_TYPE_OFFSET_HOLE, head, 12,
                                    NULL, 0);
        } else {
            ret = send_chunk_locked(
                client, req->handle, flags, NBD_REPLY_TYPE_OFFSET_DATA, head,
                8, req->data + (chunks[i].offset - req->offset),
                chunks[i].len);
        }
    }
    qx_co_mutex_unlock(&client->send_lock);
    return ret;
}

static int co_read(NbdRequest *req)
{
    NbdClient *client = req->client;
    uint8_t head[8];
    int ret;

    if (req->len == 0) {
        return send_ok(client, req->handle);
    }
    req->data = blk_blockalign(client->exp->blk, req->len);
    if (client->structured && !(req->flags & NBD_CMD_FLAG_DF)) {
        return co_read_sparse(req);
    }
    ret = blk_pread_co(client->exp->blk, req->offset, req->len, req->data, 0);
    if (ret < 0) {
        return send_error(client, req->handle, -ret, "read failed");
    }
    if (!client->structured) {
        return send_simple_reply(client, req->handle, 0, req->data,
                                 req->len);
    }
    nbd_put64(head, req->offset);
    return send_chunk(client, req->handle, NBD_REPLY_FLAG_DONE,
                      NBD_REPLY_TYPE_OFFSET_DATA, head, 8, req->data,
                      req->len);
}

static int co_cache(NbdRequest *req)
{
    BlockBackend *blk = req->client->exp->blk;
    uint32_t chunk = 1024 * 1024;
    uint8_t *buf = blk_blockalign(blk, chunk);
    uint64_t pos = 0;
    int ret = 0;

    /* Reading pulls the range through every cache on the way. */
    while (pos < req->len && ret >= 0) {
        uint32_t n = req->len - pos < chunk ? req->len - pos : chunk;

        ret = blk_pread_co(blk, req->offset + pos, n, buf, 0);
        pos += n;
    }
    blk_vfree(buf);
    return ret;
}

static int co_block_status(NbdRequest *req)
{
    NbdClient *client = req->client;
    NbdMetaSelection *sel = &client->meta;
    int max = req->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : NBD_MAX_EXTENTS;
    GArray *ids = g_array_new(false, false, sizeof(uint32_t));
    g_autofree uint32_t *ext = NULL;
    int ret = 0;

    if (sel->base_allocation) {
        uint32_t id = NBD_META_ID_BASE_ALLOCATION;
        g_array_append_val(ids, id);
    }
    if (sel->allocation_depth) {
        uint32_t id = NBD_META_ID_ALLOCATION_DEPTH;
        g_array_append_val(ids, id);
    }
    for (int i = 0; i < client->exp->nbitmaps; i++) {
        if (sel->bitmaps[i]) {
            uint32_t id = NBD_META_ID_DIRTY_BITMAP + i;
            g_array_append_val(ids, id);
        }
    }
    ext = g_new(uint32_t, 2 * (size_t)max);
    for (guint i = 0; i < ids->len; i++) {
        uint32_t id = g_array_index(ids, uint32_t, i);
        uint8_t head[4];
        int n = nbd_meta_extents_co(client->exp, id, req->offset, req->len,
                                    ext, max);

        if (n < 0) {
            ret = send_error(client, req->handle, -n, "block status failed");
            break;
        }
        for (int j = 0; j < 2 * n; j++) {
            nbd_put32((uint8_t *)&ext[j], ext[j]);
        }
        nbd_put32(head, id);
        ret = send_chunk(client, req->handle,
                         i == ids->len - 1 ? NBD_REPLY_FLAG_DONE : 0,
                         NBD_REPLY_TYPE_BLOCK_STATUS, head, 4, ext,
                         (uint32_t)n * 8);
        if (ret < 0) {
            break;
        }
    }
    g_array_free(ids, true);
    return ret;
}

/* Runs a request that passed validation; returns -errno of the command. */
static int co_execute(NbdRequest *req)
{
    BlockBackend *blk = req->client->exp->blk;
    BlockReqFlags fua = req->flags & NBD_CMD_FLAG_FUA ? BLOCK_REQ_FUA : 0;
    BlockReqFlags flags;
    int ret;

    switch (req->type) {
    case NBD_CMD_WRITE:
        if (req->len == 0) {
            return 0;
        }
        return blk_pwrite_co(blk, req->offset, req->len, req->data, fua);
    case NBD_CMD_WRITE_ZEROES:
        if (req->len == 0) {
            return 0;
        }
        flags = fua;
        if (!(req->flags & NBD_CMD_FLAG_NO_HOLE)) {
            flags |= BLOCK_REQ_MAY_UNMAP;
        }
        if (req->flags & NBD_CMD_FLAG_FAST_ZERO) {
            flags |= BLOCK_REQ_NO_FALLBACK;
        }
        return blk_pwrite_zeroes_co(blk, req->offset, req->len, flags);
    case NBD_CMD_TRIM:
        if (req->len) {
            ret = blk_pdiscard_co(blk, req->offset, req->len);
            if (ret < 0) {
                return ret;
            }
        }
        return fua ? blk_flush_co(blk) : 0;
    case NBD_CMD_FLUSH:
        return blk_flush_co(blk);
    case NBD_CMD_CACHE:
        return co_cache(req);
    default:
        return -EINVAL;
    }
}

static void request_co(void *opaque)
{
    NbdRequest *req = opaque;
    NbdClient *client = req->client;

    if (req->err) {
        send_error(client, req->handle, req->err, "invalid request");
    } else if (req->type == NBD_CMD_READ) {
        co_read(req);
    } else if (req->type == NBD_CMD_BLOCK_STATUS) {
        co_block_status(req);
    } else {
        int ret = co_execute(req);

        if (ret < 0) {
            send_error(client, req->handle, -ret, strerror(-ret));
        } else {
            send_ok(client, req->handle);
        }
    }
    if (req->data) {
        blk_vfree(req->data);
    }
    g_free(req);
    client->in_flight--;
    qx_co_queue_next(&client->slot_queue);
    if (client->in_flight == 0) {
        qx_co_queue_restart_all(&client->idle_queue);
    }
}

/* ---- Receiving -------------------------------------------------------- */

static uint16_t valid_flags(NbdClient *client, uint16_t type)
{
    uint16_t valid = NBD_CMD_FLAG_FUA;

    if (type == NBD_CMD_READ && client->structured) {
        valid |= NBD_CMD_FLAG_DF;
    } else if (type == NBD_CMD_WRITE_ZEROES) {
        valid |= NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
    } else if (type == NBD_CMD_BLOCK_STATUS) {
        valid |= NBD_CMD_FLAG_REQ_ONE;
    }
    return valid;
}

/*
 * Reads one request (and its payload).  Returns the request, or NULL
 * when the connection must end.
 */
static NbdRequest *receive_request_co(NbdClient *client)
{
    NbdExport *exp = client->exp;
    uint8_t hdr[NBD_REQUEST_SIZE];
    NbdRequest *req;

    if (nbd_conn_read_co(client, hdr, sizeof(hdr)) < 0 ||
        nbd_get32(hdr) != NBD_REQUEST_MAGIC) {
        return NULL;
    }
    req = g_new0(NbdRequest, 1);
    req->client = client;
    req->flags = nbd_get16(hdr + 4);
    req->type = nbd_get16(hdr + 6);
    req->handle = nbd_get64(hdr + 8);
    req->offset = nbd_get64(hdr + 16);
    req->len = nbd_get32(hdr + 24);

    if (req->type == NBD_CMD_DISC) {
        goto drop;
    }
    if (req->type == NBD_CMD_WRITE) {
        if (req->len > NBD_MAX_BUFFER_SIZE) {
            goto drop; /* cannot skip 4 GiB safely: resync is impossible */
        }
        req->data = blk_blockalign(exp->blk, req->len ? req->len : 1);
        if (nbd_conn_read_co(client, req->data, req->len) < 0) {
            goto drop;
        }
    }
    switch (req->type) {
    case NBD_CMD_READ:
    case NBD_CMD_WRITE:
    case NBD_CMD_FLUSH:
    case NBD_CMD_TRIM:
    case NBD_CMD_CACHE:
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_BLOCK_STATUS:
        break;
    default:
        req->err = EINVAL;
        return req;
    }
    if (req->type == NBD_CMD_READ && req->len > NBD_MAX_BUFFER_SIZE) {
        req->err = EINVAL;
    } else if (!exp->writable && (req->type == NBD_CMD_WRITE ||
                                  req->type == NBD_CMD_TRIM ||
                                  req->type == NBD_CMD_WRITE_ZEROES)) {
        req->err = EPERM;
    } else if (req->type != NBD_CMD_FLUSH &&
               (req->offset > (uint64_t)exp->size ||
                req->len > (uint64_t)exp->size - req->offset)) {
        req->err = req->type == NBD_CMD_WRITE ||
                           req->type == NBD_CMD_WRITE_ZEROES
                       ? ENOSPC
                       : EINVAL;
    } else if (req->flags & ~valid_flags(client, req->type)) {
        req->err = EINVAL;
    } else if (req->type == NBD_CMD_BLOCK_STATUS &&
               (!client->structured || client->meta.count == 0 ||
                client->meta.exp != exp || req->len == 0)) {
        req->err = EINVAL;
    }
    return req;

drop:
    if (req->data) {
        blk_vfree(req->data);
    }
    g_free(req);
    return NULL;
}

void nbd_transmit_co(NbdClient *client)
{
    while (!client->closing) {
        NbdRequest *req;
        Coroutine *co;

        while (client->in_flight >= NBD_MAX_REQUESTS_IN_FLIGHT) {
            qx_co_queue_wait(&client->slot_queue, NULL);
        }
        req = receive_request_co(client);
        if (!req) {
            break;
        }
        client->in_flight++;
        co = qx_coroutine_create(request_co, req);
        qx_coroutine_enter(co);
    }
}
