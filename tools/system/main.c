/*
 * qemu-system-riscv64: the virtual machine.
 *
 * So far only -h/-help and -version work.  The command line is checked as
 * QEMU 7.2 checks it: first every option is looked up (an unknown one is
 * "invalid option", a missing argument "requires an argument"), then the
 * options act in order.  Options QEMU knows and we do not implement yet are
 * rejected by name rather than ignored.
 */
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "qx/util/error.h"
#include "qx/util/version.h"

typedef struct {
    const char *name;
    bool has_arg;
} SystemOption;

/* QEMU 7.2's qemu-system-riscv64 options, with whether they take a value. */
static const SystemOption system_options[] = {
    {"D", true},
    {"L", true},
    {"M", true},
    {"S", false},
    {"accel", true},
    {"acpitable", true},
    {"action", true},
    {"add-fd", true},
    {"append", true},
    {"async-teardown", false},
    {"audio", true},
    {"audio-help", false},
    {"audiodev", true},
    {"bios", true},
    {"blockdev", true},
    {"boot", true},
    {"cdrom", true},
    {"chardev", true},
    {"chroot", true},
    {"compat", true},
    {"cpu", true},
    {"d", true},
    {"daemonize", false},
    {"debugcon", true},
    {"device", true},
    {"dfilter", true},
    {"display", true},
    {"drive", true},
    {"dtb", true},
    {"dump-vmstate", true},
    {"echr", true},
    {"enable-kvm", false},
    {"enable-sync-profile", false},
    {"fda", true},
    {"fdb", true},
    {"fsdev", true},
    {"full-screen", false},
    {"fw_cfg", true},
    {"g", true},
    {"gdb", true},
    {"global", true},
    {"h", false},
    {"hda", true},
    {"hdb", true},
    {"hdc", true},
    {"hdd", true},
    {"help", false},
    {"icount", true},
    {"incoming", true},
    {"initrd", true},
    {"iscsi", true},
    {"k", true},
    {"kernel", true},
    {"loadvm", true},
    {"m", true},
    {"machine", true},
    {"mem-path", true},
    {"mem-prealloc", false},
    {"mon", true},
    {"monitor", true},
    {"msg", true},
    {"mtdblock", true},
    {"name", true},
    {"net", true},
    {"netdev", true},
    {"nic", true},
    {"no-acpi", false},
    {"no-fd-bootchk", false},
    {"no-hpet", false},
    {"no-reboot", false},
    {"no-shutdown", false},
    {"no-user-config", false},
    {"nodefaults", false},
    {"nographic", false},
    {"numa", true},
    {"object", true},
    {"old-param", false},
    {"only-migratable", false},
    {"option-rom", true},
    {"overcommit", true},
    {"parallel", true},
    {"pflash", true},
    {"pidfile", true},
    {"plugin", true},
    {"portrait", false},
    {"preconfig", false},
    {"prom-env", true},
    {"qmp", true},
    {"qmp-pretty", true},
    {"qtest", true},
    {"qtest-log", true},
    {"readconfig", true},
    {"rotate", true},
    {"rtc", true},
    {"runas", true},
    {"s", false},
    {"sandbox", true},
    {"sd", true},
    {"seed", true},
    {"semihosting", false},
    {"semihosting-config", true},
    {"serial", true},
    {"set", true},
    {"singlestep", false},
    {"smbios", true},
    {"smp", true},
    {"snapshot", false},
    {"spice", true},
    {"tpmdev", true},
    {"trace", true},
    {"usb", false},
    {"usbdevice", true},
    {"uuid", true},
    {"version", false},
    {"vga", true},
    {"virtfs", true},
    {"vnc", true},
    {"watchdog-action", true},
    {"win2k-hack", false},
    {"xen-attach", false},
    {"xen-domid", true},
    {"xen-domid-restrict", false},
};

/* "-name" or "--name" (QEMU accepts both); NULL if unknown. */
static const SystemOption *lookup_option(const char *arg)
{
    const char *name = arg + 1;
    size_t i;

    if (name[0] == '-') {
        name++;
    }
    for (i = 0; i < G_N_ELEMENTS(system_options); i++) {
        if (!strcmp(system_options[i].name, name)) {
            return &system_options[i];
        }
    }
    return NULL;
}

static void print_version(void)
{
    printf("QEMU emulator version %s\n%s", qx_version_string(), qx_copyright());
}

static void print_help(void)
{
    print_version();
    printf("usage: qemu-system-riscv64 [options]\n"
           "\n"
           "Standard options:\n"
           "-h or -help     display this help and exit\n"
           "-version        display version information and exit\n"
           "\n"
           "Running virtual machines is not supported yet.\n");
}

int main(int argc, char **argv)
{
    const char *unsupported = NULL;
    bool disk_image = false;
    int i;

    error_set_progname("qemu-system-riscv64");

    /* First pass: every option must exist and have its argument. */
    for (i = 1; i < argc; i++) {
        const SystemOption *opt;

        if (argv[i][0] != '-') {
            continue; /* a disk image */
        }
        opt = lookup_option(argv[i]);
        if (!opt) {
            error_report("%s: invalid option", argv[i]);
            return 1;
        }
        if (opt->has_arg) {
            if (i + 1 >= argc) {
                error_report("%s: requires an argument", argv[i]);
                return 1;
            }
            i++;
        }
    }

    /* Second pass: options act in order. */
    for (i = 1; i < argc; i++) {
        const SystemOption *opt;

        if (argv[i][0] != '-') {
            disk_image = true;
            continue;
        }
        opt = lookup_option(argv[i]);
        if (!strcmp(opt->name, "h") || !strcmp(opt->name, "help")) {
            print_help();
            return 0;
        }
        if (!strcmp(opt->name, "version")) {
            print_version();
            return 0;
        }
        if (!unsupported) {
            unsupported = argv[i];
        }
        if (opt->has_arg) {
            i++;
        }
    }

    if (unsupported) {
        error_report("option '%s' is not supported yet", unsupported);
    } else if (disk_image) {
        error_report("disk images on the command line are not supported "
                     "yet");
    } else {
        error_report("running a virtual machine is not supported yet");
    }
    return 1;
}
