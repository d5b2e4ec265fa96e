"""qemu-img create and info on raw images: ours against QEMU 7.2's.

Every comparison runs our qemu-img and QEMU's with the same arguments in
two sibling directories (so relative names in messages are equal) and
compares exit code, stdout and stderr byte for byte.  Images made by one
tool are also inspected by the other, and image locks are checked against
QEMU processes holding the image.
"""

import os
import pathlib
import subprocess
import time

import pytest

from conftest import BASE_ENV, run


def run_both(qx, ref, tmp_dir, args, setup=None):
    """Runs qemu-img args with both tools; returns (ours, QEMU's)."""
    results = {}
    for kind, binaries in (("ref", ref), ("qx", qx)):
        work = tmp_dir / kind
        work.mkdir(exist_ok=True)
        if setup:
            setup(work)
        results[kind] = binaries.run("qemu-img", *args, cwd=work)
    return results["qx"], results["ref"]


def assert_same(ours, theirs):
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"


def compare(qx, ref, tmp_dir, *args, setup=None):
    ours, theirs = run_both(qx, ref, tmp_dir, list(args), setup=setup)
    assert_same(ours, theirs)
    return ours


def allocated(path):
    st = os.stat(path)
    return st.st_size, st.st_blocks


# ---- create -------------------------------------------------------------

CREATE_SIZES = ["0", "1", "512", "1000", "4095", "4096", "1k", "1K",
                "512B", "1b", "1M", "1.5G", "1G", "10T", "0x1000", "+4k"]


@pytest.mark.parametrize("size", CREATE_SIZES)
def test_create_sizes(qx, ref, tmp_dir, size):
    compare(qx, ref, tmp_dir, "create", "-f", "raw", "x.raw", size)
    # Same file size and allocation (QEMU writes the first block).
    assert allocated(tmp_dir / "qx" / "x.raw") == \
        allocated(tmp_dir / "ref" / "x.raw")
    # Each tool reads the other's image the same way.
    compare(qx, ref, tmp_dir, "info", "x.raw")
    compare(qx, ref, tmp_dir, "info", "--output=json", "x.raw")


@pytest.mark.parametrize("opts,size", [
    ("preallocation=off", "1M"),
    ("preallocation=falloc", "3M"),
    ("preallocation=full", "3M"),
    ("preallocation=full", "1000"),
    ("preallocation=falloc", "1000"),
    ("nocow=on", "1M"),
    ("nocow=yes,extent_size_hint=0,preallocation=off", "1M"),
    ("extent_size_hint=1M", "1M"),
    ("size=2M", None),
    ("size=1k,size=2M", None),
])
def test_create_options(qx, ref, tmp_dir, opts, size):
    args = ["create", "-f", "raw", "-o", opts, "x.raw"]
    if size:
        args.append(size)
    compare(qx, ref, tmp_dir, *args)
    assert allocated(tmp_dir / "qx" / "x.raw") == \
        allocated(tmp_dir / "ref" / "x.raw")
    compare(qx, ref, tmp_dir, "info", "x.raw")
    compare(qx, ref, tmp_dir, "info", "--output=json", "x.raw")


def test_create_default_format_quiet_and_repeated_o(qx, ref, tmp_dir):
    compare(qx, ref, tmp_dir, "create", "x.raw", "64k")
    compare(qx, ref, tmp_dir, "create", "-q", "-f", "raw", "y.raw", "1M")
    compare(qx, ref, tmp_dir, "create", "-f", "raw", "-o", "size=1k", "-o",
            "preallocation=full", "z.raw")
    compare(qx, ref, tmp_dir, "create", "-f", "raw", "w.raw", "1M", "-o",
            "nocow=on")
    compare(qx, ref, tmp_dir, "create", "-f", "file", "f.raw", "1M")
    compare(qx, ref, tmp_dir, "create", "-f", "raw", "file:p.raw", "1M")


def test_create_overwrites_existing(qx, ref, tmp_dir):
    def setup(work):
        (work / "x.raw").write_bytes(b"\xff" * 100000)

    compare(qx, ref, tmp_dir, "create", "-f", "raw", "x.raw", "8k",
            setup=setup)
    for kind in ("qx", "ref"):
        assert (tmp_dir / kind / "x.raw").read_bytes() == b"\0" * 8192


@pytest.mark.parametrize("args", [
    ["create", "-f", "raw", "x.raw"],
    ["create", "-f", "raw", "x.raw", "1x"],
    ["create", "-f", "raw", "x.raw", "--", "-1"],
    ["create", "-f", "raw", "x.raw", "1.5"],
    ["create", "-f", "raw", "x.raw", "8E"],
    ["create", "-f", "raw", "x.raw", "16E"],
    ["create", "-f", "raw", "x.raw", "100000000000000000000"],
    ["create", "-f", "raw", "x.raw", "7E"],
    ["create", "-f", "foo", "x.raw", "1G"],
    ["create", "-f", "null-co", "x.raw", "1G"],
    ["create", "-f", "raw", "-o", "foo=bar", "x.raw", "1G"],
    ["create", "-f", "raw", "-o", "size=1M", "x.raw", "2M"],
    ["create", "-f", "raw", "x.raw", "1M", "-o", "size=1"],
    ["create", "-f", "raw", "-o", "size=1x", "x.raw"],
    ["create", "-f", "raw", "-o", "size=-1", "x.raw"],
    ["create", "-f", "raw", "-o", "size=16E", "x.raw"],
    ["create", "-f", "raw", "-o", "preallocation=bogus", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "preallocation=metadata", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "nocow=bad", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "extent_size_hint=4G", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "extent_size_hint=1x", "x.raw", "1M"],
    ["create", "-f", "raw", "-b", "base.raw", "-F", "raw", "x.raw"],
    ["create", "-f", "raw", "-F", "raw", "x.raw", "1M"],
    ["create", "-f", "raw", "x.raw", "1M", "extra"],
    ["create"],
    ["create", "-f", "raw"],
    ["create", "-f"],
    ["create", "-x"],
    ["create", "--bogus"],
    ["create", "-f", "raw", "nodir/x.raw", "1M"],
    ["create", "-f", "raw", "x:y.raw", "1M"],
    ["create", "-f", "raw", "-o", ",,", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", ",a", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "a,,,", "x.raw", "1M"],
    ["create", "-f", "raw", "-o", "size=1M", "-o", "", "x.raw"],
    ["create", "-f", "host_device", "x.raw", "1M"],
    # Devices cannot be created, only checked (and their first sector
    # cleared); /dev/null is empty, so nothing is written.
    ["create", "-f", "raw", "/dev/null", "1M"],
    ["create", "-f", "raw", "/dev/null", "0"],
    ["create", "-f", "host_device", "/dev/null", "0"],
    ["create", "-f", "raw", "-o", "preallocation=full", "/dev/null", "0"],
])
def test_create_errors(qx, ref, tmp_dir, args):
    compare(qx, ref, tmp_dir, *args)
    # Whatever QEMU left behind, we left the same.
    assert sorted(os.listdir(tmp_dir / "qx")) == \
        sorted(os.listdir(tmp_dir / "ref"))


@pytest.mark.parametrize("args", [
    ["create", "-f", "raw", "-o", "help"],
    ["create", "-f", "raw", "-o", "?"],
    ["create", "-f", "raw", "-o", "help", "x.raw"],
    ["create", "-f", "raw", "-o", "size=1k", "-o", "help", "x.raw"],
    ["create", "-o", "help"],
    ["create", "-f", "file", "-o", "help"],
    ["create", "-f", "file", "-o", "help", "x.raw"],
    ["create", "-f", "null-co", "-o", "help"],
    ["create", "-f", "foo", "-o", "help"],
    ["create", "-f", "host_device", "-o", "help"],
    ["create", "-f", "host_device", "-o", "help", "/dev/null"],
    ["create", "-f", "raw", "-o", "help", "/dev/null"],
])
def test_create_option_help(qx, ref, tmp_dir, args):
    compare(qx, ref, tmp_dir, *args)


# ---- info ---------------------------------------------------------------

def make_files(work):
    """Images of several shapes, made without either qemu-img."""
    with open(work / "sparse.raw", "wb") as f:
        f.truncate(64 << 20)
    with open(work / "data.raw", "wb") as f:
        f.write(b"\x5a" * (1 << 20))
        f.truncate(8 << 20)
        f.seek(5 << 20)
        f.write(b"\x01" * 8192)
    with open(work / "small.raw", "wb") as f:
        f.write(os.urandom(1000))
    (work / "empty.raw").write_bytes(b"")


INFO_ARGS = [
    ["info", "sparse.raw"],
    ["info", "data.raw"],
    ["info", "small.raw"],
    ["info", "empty.raw"],
    ["info", "-f", "raw", "data.raw"],
    ["info", "-f", "file", "data.raw"],
    ["info", "-U", "data.raw"],
    ["info", "--force-share", "--output", "json", "data.raw"],
    ["info", "--output=human", "data.raw"],
    ["info", "--output=json", "sparse.raw"],
    ["info", "--output=json", "small.raw"],
    ["info", "--output=json", "-f", "file", "data.raw"],
    ["info", "--backing-chain", "data.raw"],
    ["info", "--backing-chain", "--output=json", "data.raw"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw"],
    ["info", "--image-opts", "--output=json",
     "driver=raw,file.filename=data.raw"],
    ["info", "--image-opts", "file.filename=data.raw"],
    ["info", "--image-opts", "driver=file,filename=data.raw"],
    ["info", "--image-opts",
     "driver=raw,file.filename=data.raw,offset=4096,size=8192"],
    ["info", "--image-opts", "--output=json",
     "driver=raw,file.filename=data.raw,offset=4096,size=8192"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,offset=1000"],
    ["info", "--image-opts",
     "driver=raw,file.filename=data.raw,file.aio=io_uring,cache.direct=on,"
     "node-name=top,read-only=on,discard=unmap"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.locking=off,detect-zeroes=on,force-share=on"],
    ["info", "--image-opts", "driver=null-co"],
    ["info", "--image-opts", "--output=json", "driver=null-co"],
    ["info", "--image-opts", "driver=null-co,size=1G"],
    ["info", "--image-opts", "driver=null-aio,size=1000"],
    ["info", "--image-opts", "driver=null-co,read-zeroes=on"],
    ["info", "--image-opts", "driver=null-co,latency-ns=5"],
    ["info", "--image-opts", "driver=raw,file.driver=null-co"],
    ["info", "--image-opts",
     "driver=raw,size=1M,file.driver=null-co,file.size=2M"],
    ["info", "null-co://"],
    ["info", "--output=json", "null-co://"],
    ["info", "file:data.raw"],
    ["info", 'json:{"driver":"raw","file":{"driver":"file",'
     '"filename":"data.raw"}}'],
    ["info", "--output=json", 'json:{"driver":"raw","size":1024,'
     '"offset":512,"file":{"driver":"file","filename":"data.raw"}}'],
    ["info", 'json:{"driver":"raw","size":"1024","file":{"driver":"file",'
     '"filename":"data.raw"}}'],
    ["info", 'json:{"driver":"null-co","size":1024}'],
    ["info", 'json:{"driver":"null-co","read-zeroes":true}'],
    ["info", "-f", "raw", 'json:{"driver":"raw","file":{"driver":"file",'
     '"filename":"data.raw"}}'],
]


@pytest.mark.parametrize("args", INFO_ARGS)
def test_info(qx, ref, tmp_dir, args):
    compare(qx, ref, tmp_dir, *args, setup=make_files)


INFO_ERRORS = [
    ["info", "missing.raw"],
    ["info", "-f", "raw", "missing.raw"],
    ["info"],
    ["info", "data.raw", "sparse.raw"],
    ["info", "-f", "foo", "data.raw"],
    ["info", "--output=xml", "data.raw"],
    ["info", "--output"],
    ["info", "-f"],
    ["info", "--bogus", "data.raw"],
    ["info", "-T", "foo", "data.raw"],
    ["info", "--image-opts", "-f", "raw", "driver=raw,file.filename=data.raw"],
    ["info", "--image-opts", "data.raw"],
    ["info", "-f", "host_device", "data.raw"],
    ["info", "x:y.raw"],
    ["info", "null-co://x"],
    ["info", "--image-opts", "driver=raw"],
    ["info", "--image-opts", "driver=file"],
    ["info", "--image-opts", "node-name=a"],
    ["info", "--image-opts", "driver=raw,file=nonode"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,foo=bar"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,file.foo=1"],
    ["info", "--image-opts", "driver=file,filename=data.raw,foo=1"],
    ["info", "--image-opts", "driver=null-co,file.filename=data.raw"],
    ["info", "--image-opts", "driver=raw,file.filename="],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.driver=raw"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.driver=raw,file.file.filename=data.raw"],
    ["info", "--image-opts", "driver=raw,file.driver=null-co,node-name=a,"
     "file.node-name=a"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "node-name=1bad"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,node-name="],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "node-name=abcdefghijabcdefghijabcdefghijab"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "detect-zeroes=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "detect-zeroes=unmap"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "discard=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "cache.direct=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "cache.writeback=off"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.aio=native"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.aio=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "file.locking=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "read-only=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "offset=bogus"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,offset=2G"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,size=2G"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,size=1000"],
    ["info", "--image-opts", "driver=file,filename=data.raw,pr-manager=x"],
    ["info", "--image-opts", "driver=file,filename=data.raw,"
     "aio-max-batch=x"],
    ["info", "-f", "file", "/dev/null"],
    ["info", "/dev/null"],
    ["info", "--image-opts", "driver=raw,file.filename=data.raw,"
     "force-share=on,read-only=off"],
    ["info", 'json:{"driver":"raw"'],
    ["info", 'json:[1]'],
]


@pytest.mark.parametrize("args", INFO_ERRORS)
def test_info_errors(qx, ref, tmp_dir, args):
    compare(qx, ref, tmp_dir, *args, setup=make_files)


def test_info_cross_check_after_writes(qx, ref, tmp_dir):
    """Images QEMU's qemu-io changed read the same through both tools."""
    def setup(work):
        run([ref.path("qemu-img"), "create", "-q", "-f", "raw",
             work / "w.raw", "4M"])
        run(["/usr/bin/qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 64k",
             "-c", "write -z 2M 64k", work / "w.raw"])

    compare(qx, ref, tmp_dir, "info", "w.raw", setup=setup)
    compare(qx, ref, tmp_dir, "info", "--output=json", "w.raw")


# ---- global options -----------------------------------------------------

@pytest.mark.parametrize("args", [
    [],
    ["foo"],
    ["-x"],
    ["--bogus"],
    ["-T"],
])
def test_global_errors(qx, ref, tmp_dir, args):
    compare(qx, ref, tmp_dir, *args)


def test_help_lists_our_commands(qx, tmp_dir):
    r = qx.run("qemu-img", "--help")
    assert r.returncode == 0
    assert "  create [--object objectdef] [-q] [-f fmt]" in r.stdout
    assert "  info [--object objectdef] [--image-opts]" in r.stdout
    # Sorted, unique, each one QEMU also has, and at least what we ship.
    ours = [line for line in r.stdout.splitlines()
            if line.startswith("Supported formats: ")]
    assert len(ours) == 1
    names = ours[0].split(": ", 1)[1].split(" ")
    assert names == sorted(set(names))
    theirs = run(["/usr/bin/qemu-img", "--help"]).stdout
    qemu_names = [line for line in theirs.splitlines()
                  if line.startswith("Supported formats: ")][0]
    assert set(names) <= set(qemu_names.split(": ", 1)[1].split(" "))
    assert {"file", "host_device", "nbd", "null-aio", "null-co",
            "raw"} <= set(names)
    assert qx.run("qemu-img", "-h").stdout == r.stdout
    assert qx.run("qemu-img", "info", "-h").stdout == r.stdout


def test_trace_option_is_rejected(qx):
    r = qx.run("qemu-img", "-T", "foo", "info", "x.raw")
    assert r.returncode == 1
    assert r.stderr == "qemu-img: tracing is not supported\n"


# ---- image locking ------------------------------------------------------

def wait_for_locks(path, count, timeout=10.0):
    """Waits until count lock records exist on path's inode."""
    ino = os.stat(path).st_ino
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/locks") as f:
            n = sum(1 for line in f if f":{ino} " in line)
        if n >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"no {count} lock records on {path}")


@pytest.fixture
def holders():
    """Starts QEMU processes that hold images; terminates them after."""
    procs = []

    def start(args, image, lock_records):
        proc = subprocess.Popen([str(a) for a in args],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=BASE_ENV)
        procs.append(proc)
        wait_for_locks(image, lock_records)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def held_image(ref, tmp_dir):
    image = tmp_dir / "held.raw"
    run([ref.path("qemu-img"), "create", "-q", "-f", "raw", image, "1M"])
    return image


def test_lock_guest_disk_blocks_create(qx, ref, tmp_dir, holders):
    """A guest disk (QEMU device, not sharing writes) keeps writers out."""
    image = held_image(ref, tmp_dir)
    holders(["/usr/bin/qemu-system-riscv64", "-machine", "virt", "-S",
             "-display", "none", "-serial", "none", "-monitor", "none",
             "-nodefaults", "-drive",
             f"file={image},format=raw,if=none,id=d",
             "-device", "virtio-blk-device,drive=d"], image, 2)
    for args in (["create", "-f", "raw", "held.raw", "1M"],
                 ["info", "held.raw"],
                 ["info", "-U", "--output=json", "held.raw"]):
        ours = qx.run("qemu-img", *args, cwd=tmp_dir)
        theirs = ref.run("qemu-img", *args, cwd=tmp_dir)
        assert_same(ours, theirs)
    ours = qx.run("qemu-img", "create", "-f", "raw", "held.raw", "1M",
                  cwd=tmp_dir)
    assert ours.returncode == 1
    assert ours.stderr == ('qemu-img: held.raw: Failed to get "write" lock\n'
                           "Is another process using the image "
                           "[held.raw]?\n")
    # The held image was not touched.
    assert os.stat(image).st_size == 1 << 20


def test_lock_nbd_server_blocks_resize(qx, ref, tmp_dir, holders):
    """qemu-nbd does not share resizing: create needs it."""
    image = held_image(ref, tmp_dir)
    holders(["/usr/bin/qemu-nbd", "-f", "raw", "-k", tmp_dir / "nbd.sock",
             image], image, 2)
    for args in (["create", "-f", "raw", "held.raw", "2M"],
                 ["info", "held.raw"]):
        assert_same(qx.run("qemu-img", *args, cwd=tmp_dir),
                    ref.run("qemu-img", *args, cwd=tmp_dir))


def test_lock_shared_writer_allows_create(qx, ref, tmp_dir, holders):
    """qemu-io shares everything, so creating over its image works."""
    image = held_image(ref, tmp_dir)
    holders(["/usr/bin/qemu-io", "-f", "raw", "-c", "sleep 100000", image],
            image, 1)
    for args in (["create", "-f", "raw", "held.raw", "2M"],
                 ["info", "held.raw"]):
        assert_same(qx.run("qemu-img", *args, cwd=tmp_dir),
                    ref.run("qemu-img", *args, cwd=tmp_dir))
