/*
 * qemu-io: number arguments and the statistics lines every I/O command
 * prints, in QEMU 7.2's formats.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "qemu-io.h"
#include "qx/util/cutils.h"

int64_t io_cvtnum(const char *str)
{
    uint64_t value;
    int ret = qx_strtosz(str, NULL, 'B', &value);

    if (ret < 0) {
        return ret;
    }
    if (value > INT64_MAX) {
        return -ERANGE;
    }
    return (int64_t)value;
}

void io_print_cvtnum_err(int64_t err, const char *str)
{
    switch (err) {
    case -EINVAL:
        printf("Parsing error: non-numeric argument, or extraneous/"
               "unrecognized suffix -- %s\n",
               str);
        break;
    case -ERANGE:
        printf("Parsing error: argument too large -- %s\n", str);
        break;
    default:
        printf("Parsing error: %s\n", str);
        break;
    }
}

/*
 * Three decimals in the largest binary unit the value reaches ("%f" for
 * plain bytes); a fraction that starts with ".000" is cut off there, as
 * QEMU's qemu-io does (so "12.000500 bytes" prints as "12 bytes").
 */
void io_cvtstr(double value, char *buf, size_t size)
{
    static const struct {
        double scale;
        const char *suffix;
    } units[] = {
        {1152921504606846976.0, " EiB"},
        {1125899906842624.0, " PiB"},
        {1099511627776.0, " TiB"},
        {1073741824.0, " GiB"},
        {1048576.0, " MiB"},
        {1024.0, " KiB"},
    };
    const char *suffix = " bytes";
    char num[64];
    char *cut;

    snprintf(num, sizeof(num), "%f", value);
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (value >= units[i].scale) {
            snprintf(num, sizeof(num), "%.3f", value / units[i].scale);
            suffix = units[i].suffix;
            break;
        }
    }
    cut = strstr(num, ".000");
    if (cut) {
        *cut = '\0';
    }
    snprintf(buf, size, "%s%s", num, suffix);
}

struct timespec io_clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

struct timespec io_clock_since(const struct timespec *start)
{
    struct timespec now = io_clock_now();
    struct timespec d;

    d.tv_sec = now.tv_sec - start->tv_sec;
    d.tv_nsec = now.tv_nsec - start->tv_nsec;
    if (d.tv_nsec < 0) {
        d.tv_sec--;
        d.tv_nsec += 1000000000L;
    }
    return d;
}

/*
 * "SS.cc sec" under a second unless fixed, else "H:MM:SS.cc" (QEMU's
 * timestr(); -C always uses the fixed form).
 */
static void format_time(const struct timespec *t, bool fixed, char *buf,
                        size_t size)
{
    double frac = t->tv_nsec / 1e9;
    unsigned long secs = (unsigned long)t->tv_sec;

    if (fixed || secs) {
        snprintf(buf, size, "%lu:%02lu:%05.2f", secs / 3600, (secs % 3600) / 60,
                 (double)(secs % 60) + frac);
    } else {
        snprintf(buf, size, "%05.2f sec", frac);
    }
}

static double per_second(double value, const struct timespec *t)
{
    return value / ((double)t->tv_sec + t->tv_nsec / 1e9);
}

void io_print_report(const char *op, const struct timespec *elapsed,
                     int64_t offset, int64_t count, int64_t total, int cnt,
                     bool csv)
{
    char ts[64], s1[64], s2[64];

    format_time(elapsed, csv, ts, sizeof(ts));
    if (csv) {
        /* bytes,ops,time,bytes/sec,ops/sec */
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts,
               per_second((double)total, elapsed),
               per_second((double)cnt, elapsed));
        return;
    }
    io_cvtstr((double)total, s1, sizeof(s1));
    io_cvtstr(per_second((double)total, elapsed), s2, sizeof(s2));
    printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n", op,
           total, count, offset);
    printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1, cnt, ts, s2,
           per_second((double)cnt, elapsed));
}
