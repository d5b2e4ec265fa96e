/*
 * NBD wire protocol: constants and fixed-size message layouts, as the
 * protocol document (NetworkBlockDevice/nbd doc/proto.md) defines them.
 * Everything on the wire is big-endian; the helpers below read and write
 * fields from byte buffers so no struct packing is relied upon.
 *
 * Private to lib/block/nbd (the server) and its tests.
 */
#ifndef QX_BLOCK_NBD_PROTO_H
#define QX_BLOCK_NBD_PROTO_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Handshake. */
#define NBD_MAGIC 0x4e42444d41474943ULL        /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC 0x49484156454f5054ULL   /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ULL    /* option replies */

#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Options. */
enum {
    NBD_OPT_EXPORT_NAME = 1,
    NBD_OPT_ABORT = 2,
    NBD_OPT_LIST = 3,
    NBD_OPT_PEEK_EXPORT = 4,
    NBD_OPT_STARTTLS = 5,
    NBD_OPT_INFO = 6,
    NBD_OPT_GO = 7,
    NBD_OPT_STRUCTURED_REPLY = 8,
    NBD_OPT_LIST_META_CONTEXT = 9,
    NBD_OPT_SET_META_CONTEXT = 10,
};

/* Option replies; error replies have bit 31 set. */
#define NBD_REP_ERR(x) ((1u << 31) | (x))
enum {
    NBD_REP_ACK = 1,
    NBD_REP_SERVER = 2,
    NBD_REP_INFO = 3,
    NBD_REP_META_CONTEXT = 4,
};
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG NBD_REP_ERR(9)

/* NBD_REP_INFO types. */
enum {
    NBD_INFO_EXPORT = 0,
    NBD_INFO_NAME = 1,
    NBD_INFO_DESCRIPTION = 2,
    NBD_INFO_BLOCK_SIZE = 3,
};

/* Transmission flags (16 bits). */
enum {
    NBD_FLAG_HAS_FLAGS = 1u << 0,
    NBD_FLAG_READ_ONLY = 1u << 1,
    NBD_FLAG_SEND_FLUSH = 1u << 2,
    NBD_FLAG_SEND_FUA = 1u << 3,
    NBD_FLAG_ROTATIONAL = 1u << 4,
    NBD_FLAG_SEND_TRIM = 1u << 5,
    NBD_FLAG_SEND_WRITE_ZEROES = 1u << 6,
    NBD_FLAG_SEND_DF = 1u << 7,
    NBD_FLAG_CAN_MULTI_CONN = 1u << 8,
    NBD_FLAG_SEND_RESIZE = 1u << 9,
    NBD_FLAG_SEND_CACHE = 1u << 10,
    NBD_FLAG_SEND_FAST_ZERO = 1u << 11,
};

/* Transmission phase. */
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

#define NBD_REQUEST_SIZE 28
#define NBD_SIMPLE_REPLY_SIZE 16
#define NBD_STRUCTURED_REPLY_SIZE 20

enum {
    NBD_CMD_READ = 0,
    NBD_CMD_WRITE = 1,
    NBD_CMD_DISC = 2,
    NBD_CMD_FLUSH = 3,
    NBD_CMD_TRIM = 4,
    NBD_CMD_CACHE = 5,
    NBD_CMD_WRITE_ZEROES = 6,
    NBD_CMD_BLOCK_STATUS = 7,
    NBD_CMD_RESIZE = 8,
};

enum {
    NBD_CMD_FLAG_FUA = 1u << 0,
    NBD_CMD_FLAG_NO_HOLE = 1u << 1,
    NBD_CMD_FLAG_DF = 1u << 2,
    NBD_CMD_FLAG_REQ_ONE = 1u << 3,
    NBD_CMD_FLAG_FAST_ZERO = 1u << 4,
};

/* Structured reply chunks. */
#define NBD_REPLY_FLAG_DONE (1u << 0)
#define NBD_REPLY_TYPE_ERR(x) ((1u << 15) | (x))
enum {
    NBD_REPLY_TYPE_NONE = 0,
    NBD_REPLY_TYPE_OFFSET_DATA = 1,
    NBD_REPLY_TYPE_OFFSET_HOLE = 2,
    NBD_REPLY_TYPE_BLOCK_STATUS = 5,
};
#define NBD_REPLY_TYPE_ERROR NBD_REPLY_TYPE_ERR(1)
#define NBD_REPLY_TYPE_ERROR_OFFSET NBD_REPLY_TYPE_ERR(2)

/* Error numbers on the wire (not the host's errno values). */
enum {
    NBD_SUCCESS = 0,
    NBD_EPERM = 1,
    NBD_EIO = 5,
    NBD_ENOMEM = 12,
    NBD_EINVAL = 22,
    NBD_ENOSPC = 28,
    NBD_EOVERFLOW = 75,
    NBD_ENOTSUP = 95,
    NBD_ESHUTDOWN = 108,
};

/* base:allocation flags. */
#define NBD_STATE_HOLE (1u << 0)
#define NBD_STATE_ZERO (1u << 1)

/* Limits. */
#define NBD_MAX_BUFFER_SIZE (32u * 1024 * 1024) /* READ/WRITE payload */
#define NBD_MAX_STRING_SIZE 4096                /* names, descriptions */
#define NBD_MAX_OPTION_SIZE (64u * 1024)        /* option payload we read */
#define NBD_MAX_META_QUERIES 128                /* per LIST/SET request */

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
    nbd_put32(p, v >> 32);
    nbd_put32(p + 4, (uint32_t)v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
    return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

/* Maps a host errno (positive) to the protocol's error numbers. */
static inline uint32_t nbd_errno_to_wire(int err)
{
    switch (err) {
    case 0:
        return NBD_SUCCESS;
    case EPERM:
    case EROFS:
        return NBD_EPERM;
    case ENOMEM:
        return NBD_ENOMEM;
    case EINVAL:
        return NBD_EINVAL;
    case EFBIG:
    case ENOSPC:
        return NBD_ENOSPC;
    case EOVERFLOW:
        return NBD_EOVERFLOW;
    case ENOTSUP:
        return NBD_ENOTSUP;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
    default:
        return NBD_EIO;
    }
}

#endif
