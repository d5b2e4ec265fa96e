/* Checked guest RAM access for device DMA. */
#include <string.h>

#include "qx/emu/device.h"

void *qx_guest_mem_map(QxGuestMem *mem, uint64_t gpa, uint64_t len,
                       bool for_write)
{
    uint64_t off;

    if (gpa < mem->base) {
        return NULL;
    }
    off = gpa - mem->base;
    if (off > mem->size || len > mem->size - off) {
        return NULL;
    }
    if (for_write && len && mem->bus) {
        riscv_bus_notify_ram_write(mem->bus, gpa, len);
    }
    return mem->host + off;
}

bool qx_guest_mem_read(QxGuestMem *mem, uint64_t gpa, void *buf,
                       uint64_t len)
{
    void *p = qx_guest_mem_map(mem, gpa, len, false);

    if (!p) {
        return false;
    }
    memcpy(buf, p, len);
    return true;
}

bool qx_guest_mem_write(QxGuestMem *mem, uint64_t gpa, const void *buf,
                        uint64_t len)
{
    void *p = qx_guest_mem_map(mem, gpa, len, true);

    if (!p) {
        return false;
    }
    memcpy(p, buf, len);
    return true;
}
