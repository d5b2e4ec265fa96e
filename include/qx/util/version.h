/*
 * Version banners in the shape QEMU's tools print them, with our own
 * version in the parenthesis: "qemu-img version 7.2.0 (qx 0.1.0)".
 */
#ifndef QX_UTIL_VERSION_H
#define QX_UTIL_VERSION_H

/* "7.2.0": the QEMU release whose interfaces we follow. */
const char *qx_qemu_version(void);
/* "0.1.0": our own version. */
const char *qx_version(void);
/* "7.2.0 (qx 0.1.0)": what goes after "version" in a banner. */
const char *qx_version_string(void);
/* The copyright line printed after the banner, with its newline. */
const char *qx_copyright(void);

#endif
