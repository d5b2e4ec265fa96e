/*
 * Unit tests for the raw format (windowing with offset/size), the null
 * protocols, option handling in block_open (leftover keys and their
 * messages, json: filenames) and creation options.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/block/driver.h"
#include "qx/block/image-info.h"
#include "qx/util/coroutine.h"
#include "qx/util/opts.h"

static BlockGraph *new_graph(void)
{
    return block_graph_new(qx_loop_current(), &error_abort);
}

/* A 64 KiB file whose byte i is (i / 512) & 0xff. */
static char *make_image(char **dir_out)
{
    char *dir = g_strdup("/tmp/qx-test-block-raw-XXXXXX");
    char *path;
    uint8_t buf[65536];
    int fd;

    g_assert_nonnull(g_mkdtemp(dir));
    path = g_build_filename(dir, "img.raw", NULL);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i / 512);
    }
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, buf, sizeof(buf)), ==, sizeof(buf));
    close(fd);
    *dir_out = dir;
    return path;
}

static void remove_image(char *dir, char *path)
{
    unlink(path);
    rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* Opens keyval text (as --image-opts would give it) under a backend. */
static BlockBackend *open_keyval(BlockGraph *graph, const char *text,
                                 unsigned flags, Error **errp)
{
    json_object *opts = qx_opts_parse(text, QX_OPTS_FLAT, NULL, NULL,
                                      &error_abort);
    return blk_new_open(graph, NULL, opts, flags, errp);
}

static void test_raw_window(void)
{
    g_autofree char *dir = NULL;
    char *path = make_image(&dir);
    BlockGraph *graph = new_graph();
    g_autofree char *text = g_strdup_printf(
        "driver=raw,offset=4096,size=8192,file.driver=file,"
        "file.filename=%s", path);
    g_autofree char *want_name = g_strdup_printf(
        "json:{\"offset\": \"4096\", \"driver\": \"raw\", \"size\": "
        "\"8192\", \"file\": {\"driver\": \"file\", \"filename\": \"%s\"}}",
        path);
    BlockBackend *blk = open_keyval(graph, text, BLOCK_OPEN_RDWR,
                                    &error_abort);
    uint8_t buf[8192];
    int64_t pnum;
    int64_t map;
    BlockNode *file;
    int ret;

    g_assert_cmpint(blk_getlength(blk), ==, 8192);
    g_assert_cmpstr(block_node_get_filename(blk_node(blk)), ==, want_name);
    g_assert_cmpint(blk_pread(blk, 0, 8192, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 8);
    g_assert_cmpint(buf[8191], ==, 23);
    g_assert_cmpint(blk_pread(blk, 4096, 8192, buf, 0), ==, -EIO);

    memset(buf, 0xee, 512);
    g_assert_cmpint(blk_pwrite(blk, 512, 512, buf, 0), ==, 0);
    ret = blk_block_status(blk, 1000, 100, &pnum, &map, &file);
    g_assert_true(ret & BLOCK_STATUS_DATA);
    g_assert_true(ret & BLOCK_STATUS_OFFSET_VALID);
    g_assert_cmpint(map, ==, 4096 + 1000);
    g_assert_cmpint(pnum, ==, 100);
    g_assert_true(file == block_node_get_file(blk_node(blk)));
    blk_unref(blk);

    /* The write landed at offset + 512 of the file. */
    blk = blk_new_open(graph, path, NULL, 0, &error_abort);
    g_assert_cmpstr(block_node_get_format(blk_node(blk)), ==, "raw");
    g_assert_cmpstr(block_node_get_filename(blk_node(blk)), ==, path);
    g_assert_cmpint(blk_pread(blk, 4096 + 511, 3, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 8);
    g_assert_cmpint(buf[1], ==, 0xee);
    g_assert_cmpint(buf[2], ==, 0xee);
    blk_unref(blk);

    block_graph_free(graph);
    remove_image(g_steal_pointer(&dir), path);
}

static bool count_node(BlockNode *node, void *opaque)
{
    (*(int *)opaque)++;
    return true;
}

static void test_raw_window_errors(void)
{
    g_autofree char *dir = NULL;
    char *path = make_image(&dir);
    BlockGraph *graph = new_graph();
    static const struct {
        const char *opts;
        const char *error;
    } cases[] = {
        {"offset=131072",
         "Offset (131072) cannot be greater than size of the containing "
         "file (65536)"},
        {"size=131072",
         "The sum of offset (0) and size (131072) has to be smaller or "
         "equal to the  actual size of the containing file (65536)"},
        {"size=1000", "Specified size is not multiple of 512"},
        {"offset=x",
         "Parameter 'offset' expects a non-negative number below 2^64"},
        {"foo=bar", "Block format 'raw' does not support the option 'foo'"},
        {"file.foo=bar",
         "Block protocol 'file' doesn't support the option 'foo'"},
        {"detect-zeroes=unmap",
         "setting detect-zeroes to unmap is not allowed without setting "
         "discard operation to unmap"},
        {"discard=bogus", "Invalid discard option"},
        {"node-name=1x", "Invalid node-name: '1x'"},
        {"read-only=maybe", "Parameter 'read-only' expects 'on' or 'off'"},
        {"file.aio=native",
         "aio=native was specified, but it requires cache.direct=on, which "
         "was not specified."},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "driver=raw,file.filename=%s,%s", path, cases[i].opts);
        Error *err = NULL;
        g_assert_null(open_keyval(graph, text, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, cases[i].error);
        error_free(err);
    }
    /* Nothing is left open after the failures. */
    int nodes = 0;
    block_graph_foreach_node(graph, count_node, &nodes);
    g_assert_cmpint(nodes, ==, 0);
    block_graph_free(graph);
    remove_image(g_steal_pointer(&dir), path);
}

static void test_open_errors(void)
{
    BlockGraph *graph = new_graph();
    static const struct {
        const char *opts;
        const char *error;
    } cases[] = {
        {"driver=raw", "A block device must be specified for \"file\""},
        {"driver=file", "The 'file' block driver requires a file name"},
        {"driver=null-co,file.filename=x",
         "Block protocol 'null-co' doesn't support the option "
         "'file.filename'"},
        {"node-name=a", "Must specify either driver or file"},
        {"driver=raw,file=nonode",
         "Cannot find device='nonode' nor node-name='nonode'"},
        {"driver=foo", "Unknown driver 'foo'"},
        {"driver=raw,file.driver=null-co,node-name=a,file.node-name=a",
         "Duplicate nodes with node-name='a'"},
        {"driver=null-co,size=x",
         "Parameter 'size' expects a non-negative number below 2^64"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        Error *err = NULL;
        g_assert_null(open_keyval(graph, cases[i].opts, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, cases[i].error);
        error_free(err);
    }
    block_graph_free(graph);
}

static void test_null(void)
{
    BlockGraph *graph = new_graph();
    BlockBackend *blk;
    uint8_t buf[4096];
    int64_t pnum;
    int ret;

    blk = blk_new_open(graph, "null-co://", NULL,
                       BLOCK_OPEN_RDWR | BLOCK_OPEN_QUIET, &error_abort);
    /* Probed as raw over null-co, QEMU's default size. */
    g_assert_cmpstr(block_node_get_format(blk_node(blk)), ==, "raw");
    g_assert_cmpstr(block_node_get_filename(blk_node(blk)), ==,
                    "null-co://");
    g_assert_cmpint(blk_getlength(blk), ==, 1 << 30);
    memset(buf, 0x33, sizeof(buf));
    g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x33); /* read-zeroes=off: untouched */
    g_assert_cmpint(blk_pwrite(blk, 0, sizeof(buf), buf, 0), ==, 0);
    blk_unref(blk);

    blk = open_keyval(graph, "driver=null-aio,size=1000,read-zeroes=on",
                      BLOCK_OPEN_RDWR, &error_abort);
    g_assert_cmpstr(block_node_get_filename(blk_node(blk)), ==,
                    "json:{\"read-zeroes\": \"on\", \"driver\": "
                    "\"null-aio\", \"size\": \"1000\"}");
    g_assert_cmpint(blk_getlength(blk), ==, 1024);
    g_assert_cmpint(blk_pread(blk, 0, 1024, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0);
    g_assert_cmpint(buf[1023], ==, 0);
    ret = blk_block_status(blk, 0, 1024, &pnum, NULL, NULL);
    g_assert_true(ret & BLOCK_STATUS_ZERO);
    g_assert_cmpint(pnum, ==, 1024);
    blk_unref(blk);

    blk = blk_new_open(graph, "json:{\"driver\":\"null-co\",\"size\":1024}",
                       NULL, 0, &error_abort);
    /* JSON keeps its types in the regenerated name. */
    g_assert_cmpstr(block_node_get_filename(blk_node(blk)), ==,
                    "json:{\"driver\": \"null-co\", \"size\": 1024}");
    blk_unref(blk);

    Error *err = NULL;
    g_assert_null(blk_new_open(graph, "null-co://x", NULL, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "The only allowed filename for this driver is "
                    "'null-co://'");
    error_free(err);
    block_graph_free(graph);
}

static void test_image_info(void)
{
    BlockGraph *graph = new_graph();
    BlockBackend *blk = open_keyval(graph, "driver=null-co,size=1536", 0,
                                    &error_abort);
    json_object *info = block_query_image_info(blk_node(blk), &error_abort);
    GString *human = g_string_new(NULL);
    char *json;

    block_image_info_format_human(info, human);
    g_assert_cmpstr(human->str, ==,
                    "image: json:{\"driver\": \"null-co\", \"size\": "
                    "\"1536\"}\n"
                    "file format: null-co\n"
                    "virtual size: 1.5 KiB (1536 bytes)\n"
                    "disk size: 0 B\n");
    json = block_image_info_to_json(info);
    g_assert_cmpstr(json, ==,
                    "{\n"
                    "    \"virtual-size\": 1536,\n"
                    "    \"filename\": \"json:{\\\"driver\\\": "
                    "\\\"null-co\\\", \\\"size\\\": \\\"1536\\\"}\",\n"
                    "    \"format\": \"null-co\",\n"
                    "    \"actual-size\": 0\n"
                    "}\n");
    g_free(json);
    g_string_free(human, true);
    json_object_put(info);
    blk_unref(blk);
    block_graph_free(graph);
}

static void test_qdict_order(void)
{
    json_object *obj = json_object_new_object();
    json_object *ordered;
    const char *order[] = {"offset", "read-zeroes", "driver", "size", "file",
                           "filename"};
    const char *want[] = {"read-zeroes", "offset", "driver", "filename",
                          "size", "file"};
    int i = 0;

    for (size_t k = 0; k < G_N_ELEMENTS(order); k++) {
        json_object_object_add(obj, order[k], json_object_new_int((int)k));
    }
    ordered = block_qdict_order(obj);
    json_object_object_foreach(ordered, key, val)
    {
        (void)val;
        g_assert_cmpstr(key, ==, want[i++]);
    }
    g_assert_cmpint(i, ==, 6);
    json_object_put(ordered);
    json_object_put(obj);
}

static void test_create_opts(void)
{
    const BlockDriver *raw = block_driver_find("raw");
    BlockCreateOpts *opts = block_create_opts_for(raw, "x.raw", &error_abort);
    GString *help = g_string_new(NULL);
    Error *err = NULL;
    bool want_help = false;
    char *line;

    g_assert_true(block_create_opts_parse(
        opts, "preallocation=full,nocow=on,size=1k", &want_help,
        &error_abort));
    g_assert_false(want_help);
    line = block_create_opts_to_string(opts);
    /* Printed in list order (format's, then the protocol's), sizes in
     * bytes. */
    g_assert_cmpstr(line, ==, "size=1024 nocow=on preallocation=full");
    g_free(line);
    g_assert_cmpuint(block_create_opts_get_size(opts, "size", 0), ==, 1024);
    g_assert_true(block_create_opts_get_bool(opts, "nocow", false));

    g_assert_false(block_create_opts_parse(opts, "foo=bar", NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'foo'");
    error_free_or_null(&err);
    g_assert_false(block_create_opts_set(opts, "nocow", "bad", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'nocow' expects 'on' or 'off'");
    error_free_or_null(&err);

    g_assert_true(block_create_opts_parse(opts, "help", &want_help,
                                          &error_abort));
    g_assert_true(want_help);
    block_create_opts_format_help(opts, help);
    g_assert_cmpstr(help->str, ==,
                    "  extent_size_hint=<size> - Extent size hint for the "
                    "image file, 0 to disable\n"
                    "  nocow=<bool (on/off)>  - Turn off copy-on-write "
                    "(valid only on btrfs)\n"
                    "  preallocation=<str>    - Preallocation mode (allowed "
                    "values: off, falloc, full)\n"
                    "  size=<size>            - Virtual disk size\n");
    g_string_free(help, true);
    block_create_opts_free(opts);

    g_assert_null(block_create_opts_for(raw, "x:y.raw", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown protocol 'x'");
    error_free(err);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);

    g_test_add_func("/block-raw/window", test_raw_window);
    g_test_add_func("/block-raw/window-errors", test_raw_window_errors);
    g_test_add_func("/block-raw/open-errors", test_open_errors);
    g_test_add_func("/block-raw/null", test_null);
    g_test_add_func("/block-raw/image-info", test_image_info);
    g_test_add_func("/block-raw/qdict-order", test_qdict_order);
    g_test_add_func("/block-raw/create-opts", test_create_opts);
    return g_test_run();
}
