/*
 * Version strings for the tools' banners.
 *
 * QX_VERSION and QX_QEMU_VERSION come from the build system (meson.build),
 * so that one place decides what every tool prints.
 */
#include "qx/util/version.h"

#ifndef QX_VERSION
#error "QX_VERSION must be defined by the build system"
#endif
#ifndef QX_QEMU_VERSION
#error "QX_QEMU_VERSION must be defined by the build system"
#endif

const char *qx_qemu_version(void)
{
    return QX_QEMU_VERSION;
}

const char *qx_version(void)
{
    return QX_VERSION;
}

const char *qx_version_string(void)
{
    return QX_QEMU_VERSION " (qx " QX_VERSION ")";
}

const char *qx_copyright(void)
{
    return "Copyright (c) 2026 the QX developers\n";
}
