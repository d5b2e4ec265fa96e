"""qemu-img compare, measure, resize, dd and bench: ours against QEMU 7.2.

Same method as the convert suite: both tools, same arguments, sibling
directories with identical inputs; exit code, stdout and stderr compared
byte for byte, and the images each command writes compared afterwards.
bench timings are masked.
"""

import re

import pytest

from test_qemu_img_convert import Pair, make_qcow2_chain, our_formats


@pytest.fixture
def pair(qx, ref, tmp_dir):
    p = Pair(qx, ref, tmp_dir)
    src = p.src
    data = (src / "small.raw").read_bytes()
    (src / "small2.raw").write_bytes(data)
    changed = bytearray(data)
    changed[700] ^= 0xff
    (src / "small-diff.raw").write_bytes(bytes(changed))
    (src / "small-long.raw").write_bytes(data + b"\0" * 3096)
    (src / "small-tail.raw").write_bytes(data + b"\0" * 2000 + b"x")
    return p


@pytest.fixture
def need_qcow2(qx):
    if "qcow2" not in our_formats(qx):
        pytest.skip("our qemu-img has no qcow2 driver yet")


# ---- compare ---------------------------------------------------------------

COMPARE = [
    [],
    ["small.raw"],
    ["small.raw", "small2.raw", "x"],
    ["small.raw", "small2.raw"],
    ["small.raw", "small-diff.raw"],
    ["-s", "small.raw", "small-diff.raw"],
    ["small.raw", "small-long.raw"],
    ["-s", "small.raw", "small-long.raw"],
    ["small-long.raw", "small.raw"],
    ["small.raw", "small-tail.raw"],
    ["small-tail.raw", "small.raw"],
    ["zero.raw", "big.raw"],
    ["-s", "zero.raw", "big.raw"],
    ["zero.raw", "full0.raw"],
    ["-s", "zero.raw", "full0.raw"],
    ["-s", "full0.raw", "zero.raw"],
    ["mix.raw", "mix.raw"],
    ["-U", "mix.raw", "mix.raw"],
    ["small.raw", "missing"],
    ["missing", "small.raw"],
    ["-p", "small.raw", "small-diff.raw"],
    ["-p", "zero.raw", "full0.raw"],
    ["-p", "zero.raw", "big.raw"],
    ["-q", "small.raw", "small-diff.raw"],
    ["-q", "small.raw", "small2.raw"],
    ["-T", "foo", "small.raw", "small2.raw"],
    ["-T", "none", "small.raw", "small2.raw"],
    ["-f", "qcow2", "small.raw", "small2.raw"],
    ["-F", "qcow2", "small.raw", "small2.raw"],
    ["-f", "raw", "-F", "raw", "small.raw", "small2.raw"],
    ["--image-opts", "driver=raw,file.filename=small.raw",
     "driver=raw,file.filename=small2.raw"],
    ["-x", "a", "b"],
]


@pytest.mark.parametrize("args", COMPARE, ids=lambda a: " ".join(a) or "-")
def test_compare(pair, args):
    pair.run("compare", *args)


@pytest.mark.parametrize("args", [
    ["top.qcow2", "base.qcow2"],
    ["-s", "top.qcow2", "top.qcow2"],
    ["-f", "qcow2", "-F", "raw", "mix.qcow2", "mix.raw"],
    ["-s", "mix.qcow2", "mix.raw"],
    ["comp.qcow2", "mix.raw"],
], ids=" ".join)
def test_compare_qcow2(pair, need_qcow2, args):
    make_qcow2_chain(pair)
    pair.run("compare", *args)


# ---- measure ---------------------------------------------------------------

MEASURE = [
    [],
    ["--size", "1G"],
    ["--output=json", "--size", "1G"],
    ["--output=human", "--size", "1000"],
    ["small.raw"],
    ["mix.raw"],
    ["--output=json", "mix.raw"],
    ["--size", "1G", "small.raw"],
    ["-f", "raw"],
    ["a", "b"],
    ["--output=x", "--size", "1G"],
    ["--size", "foo"],
    ["-O", "foo", "--size", "1G"],
    ["-O", "null-co", "--size", "1G"],
    ["-O", "raw", "-o", "foo=bar", "--size", "1G"],
    ["-O", "raw", "-o", "preallocation=full", "--size", "1G"],
    ["-O", "raw", "-o", "help"],
    ["-l", "snap", "small.raw"],
    ["missing"],
    ["-x"],
    ["-O"],
]


@pytest.mark.parametrize("args", MEASURE, ids=lambda a: " ".join(a) or "-")
def test_measure(pair, args):
    if args in (["-x"], ["-O"]):
        # getopt's message, then the full help on stdout, exit 0.
        pair.reset()
        ours = pair.qx.run("qemu-img", "measure", *args,
                           cwd=pair.base / "qx")
        theirs = pair.ref.run("qemu-img", "measure", *args,
                              cwd=pair.base / "ref")
        assert (ours.returncode, ours.stderr) == \
            (theirs.returncode, theirs.stderr)
        assert "usage: qemu-img" in ours.stdout
        return
    pair.run("measure", *args)


MEASURE_QCOW2 = [
    ["--size", "1G"],
    ["--output=json", "--size", "1G"],
    ["top.qcow2"],
    ["--output=json", "top.qcow2"],
    ["-o", "compat=0.10", "top.qcow2"],
    ["mix.raw"],
    ["mix.qcow2"],
    ["comp.qcow2"],
    ["-o", "cluster_size=4k,refcount_bits=1", "mix.raw"],
    ["-o", "preallocation=full", "mix.raw"],
    ["-o", "preallocation=metadata", "mix.raw"],
    ["-o", "backing_file=x", "mix.raw"],
    ["-o", "extended_l2=on", "--size", "10G"],
    ["-o", "extended_l2=on,cluster_size=4k", "--size", "10G"],
    ["-o", "cluster_size=3k", "--size", "10G"],
    ["-o", "compat=foo", "--size", "10G"],
    ["-o", "compat=0.10,refcount_bits=8", "--size", "10G"],
    ["-o", "refcount_bits=3", "--size", "10G"],
    ["-o", "foo=bar", "--size", "10G"],
    ["--size", "1P"],
    ["-o", "cluster_size=512", "--size", "100T"],
    ["-o", "cluster_size=512", "--size", "1T"],
    ["-o", "preallocation=foo", "--size", "1G"],
    ["-o", "cluster_size=2M,refcount_bits=64", "--size", "7T"],
    ["--size", "0"],
]


@pytest.mark.parametrize("args", MEASURE_QCOW2, ids=" ".join)
def test_measure_qcow2(pair, need_qcow2, args):
    make_qcow2_chain(pair)
    pair.run("measure", "-O", "qcow2", *args)


# ---- resize ----------------------------------------------------------------

RESIZE = [
    [],
    ["small.raw"],
    ["small.raw", "2M"],
    ["-f", "raw", "small.raw", "+1M"],
    ["small.raw", "-1k"],
    ["small.raw", "--", "-1k"],
    ["--shrink", "small.raw", "--", "-512"],
    ["--shrink", "-f", "raw", "small.raw", "100"],
    ["small.raw", "100"],
    ["small.raw", "foo"],
    ["small.raw", "+foo"],
    ["--shrink", "small.raw", "--", "-2M"],
    ["--preallocation=full", "small.raw", "2M"],
    ["--preallocation=falloc", "small.raw", "+1M"],
    ["--preallocation=metadata", "small.raw", "2M"],
    ["--preallocation=foo", "small.raw", "2M"],
    ["--preallocation=full", "--shrink", "small.raw", "100"],
    ["-q", "small.raw", "2M"],
    ["missing", "1M"],
    ["-f", "qcow2", "small.raw", "1M"],
    ["small.raw", "1024"],
    ["--image-opts", "driver=raw,file.filename=small.raw", "4k"],
    ["small.raw", "1M", "x"],
    ["small.raw", "0x1000"],
    ["-f", "raw", "small.raw", "1E"],
    ["-f", "raw", "small.raw", "+16E"],
    ["-f", "raw", "small.raw", "0"],
]


@pytest.mark.parametrize("args", RESIZE, ids=lambda a: " ".join(a) or "-")
def test_resize(pair, args):
    pair.run("resize", *args)
    pair.same_file("small.raw")


@pytest.mark.parametrize("args", [
    ["base.qcow2", "+1M"],
    ["--shrink", "base.qcow2", "512k"],
    ["base.qcow2", "512k"],
    ["-f", "qcow2", "top.qcow2", "4M"],
], ids=" ".join)
def test_resize_qcow2(pair, need_qcow2, args):
    make_qcow2_chain(pair)
    pair.run("resize", *args)
    res = pair.ref.run("qemu-img", "check", pair.base / "qx" / args[-2])
    assert res.returncode == 0, str(res)


# ---- dd --------------------------------------------------------------------

DD = [
    [],
    ["if=small.raw"],
    ["if=small.raw", "of=o.raw"],
    ["if=small.raw", "of=o.raw", "bs=100", "count=3"],
    ["if=small.raw", "of=o.raw", "bs=100", "count=3", "skip=1"],
    ["if=small.raw", "of=o.raw", "bs=100", "skip=20"],
    ["if=small.raw", "of=o.raw", "bs=0"],
    ["if=small.raw", "of=o.raw", "bs=foo"],
    ["if=small.raw", "of=o.raw", "bs=3G"],
    ["if=small.raw", "of=o.raw", "count=-1"],
    ["if=small.raw", "of=o.raw", "skip=x"],
    ["if=small.raw", "of=o.raw", "foo=1"],
    ["if=small.raw", "of=o.raw", "foo"],
    ["-O", "foo", "if=small.raw", "of=o.raw"],
    ["-O", "null-co", "if=small.raw", "of=o.raw"],
    ["if=missing", "of=o.raw"],
    ["-f", "qcow2", "if=small.raw", "of=o.raw"],
    ["if=mix.raw", "of=o.raw", "bs=64k", "skip=2", "count=6"],
    ["-U", "-f", "raw", "-O", "raw", "if=mix.raw", "of=o.raw", "bs=1M"],
    ["--image-opts", "if=driver=raw,file.filename=mix.raw", "of=o.raw"],
]


@pytest.mark.parametrize("args", DD, ids=lambda a: " ".join(a) or "-")
def test_dd(pair, args):
    pair.run("dd", *args)
    pair.same_file("o.raw")


def test_dd_qcow2(pair, need_qcow2):
    make_qcow2_chain(pair)
    pair.run("dd", "-f", "qcow2", "-O", "qcow2", "if=top.qcow2",
             "of=o.qcow2", "bs=64k", "count=10", "skip=1")
    pair.same_file("o.qcow2", fmt="qcow2")


# ---- bench -----------------------------------------------------------------

BENCH = [
    [],
    ["-c", "x", "small.raw"],
    ["-c", "-1", "small.raw"],
    ["-i", "foo", "small.raw"],
    ["-t", "foo", "small.raw"],
    ["-s", "3G", "small.raw"],
    ["-S", "foo", "small.raw"],
    ["--pattern=256", "small.raw"],
    ["--flush-interval=2", "small.raw"],
    ["-w", "--flush-interval=2", "small.raw"],
    ["-c", "10", "-s", "512", "small.raw"],
    ["-c", "10", "-w", "-f", "raw", "-s", "512", "--flush-interval=64",
     "small.raw"],
    ["-c", "3", "small.raw"],
    ["-c", "3", "-s", "1024", "-o", "512", "small.raw"],
    ["-c", "0", "small.raw"],
    ["-q", "-c", "10", "small.raw"],
    ["-c", "10", "-n", "small.raw"],
    ["-c", "10", "-n", "-t", "none", "-s", "512", "small.raw"],
    ["-c", "10", "-i", "threads", "-s", "512", "small.raw"],
    ["missing"],
    ["-c", "10", "-s", "512", "-o", "2000", "small.raw"],
    ["-c", "10", "-s", "512", "-S", "0", "small.raw"],
    ["-c", "10", "-s", "0", "small.raw"],
    ["-c", "100", "-d", "4", "-w", "-f", "raw", "-s", "512", "-S", "512",
     "--pattern=0x41", "--flush-interval=8", "--no-drain", "small.raw"],
    ["-c", "100", "-d", "4", "-w", "-s", "512", "-S", "512",
     "--pattern=0x41", "--flush-interval=8", "small.raw"],
    ["-c", "1000", "-d", "16", "-w", "-f", "raw", "-s", "512", "-S", "512",
     "--pattern=7", "--flush-interval=16", "mix.raw"],
    ["-c", "2000", "-f", "raw", "-s", "4k", "-S", "8k", "mix.raw"],
]

_TIME = re.compile(r"Run completed in [0-9.]+ seconds\.")


@pytest.mark.parametrize("args", BENCH, ids=lambda a: " ".join(a) or "-")
def test_bench(pair, args):
    pair.reset()
    theirs = pair.ref.run("qemu-img", "bench", *args, cwd=pair.base / "ref")
    ours = pair.qx.run("qemu-img", "bench", *args, cwd=pair.base / "qx")
    mask = lambda t: _TIME.sub("Run completed in T seconds.", t)
    assert (ours.returncode, mask(ours.stdout), ours.stderr) == \
        (theirs.returncode, mask(theirs.stdout), theirs.stderr), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"
    pair.same_file("small.raw")
    pair.same_file("mix.raw")


def test_bench_zero_depth(qx, tmp_dir):
    """QEMU accepts -d 0 and never finishes; we refuse it."""
    img = tmp_dir / "x.raw"
    img.write_bytes(b"\0" * 4096)
    res = qx.run("qemu-img", "bench", "-d", "0", img)
    assert (res.returncode, res.stderr) == \
        (1, "qemu-img: Invalid queue depth specified\n")


def test_bench_qcow2(pair, need_qcow2):
    make_qcow2_chain(pair)
    for args in (["-c", "1000", "-d", "16", "-w", "-f", "qcow2", "-s", "4k",
                  "-S", "8k", "base.qcow2"],
                 ["-c", "100", "-f", "qcow2", "-s", "4k", "top.qcow2"]):
        pair.reset()
        theirs = pair.ref.run("qemu-img", "bench", *args,
                              cwd=pair.base / "ref")
        ours = pair.qx.run("qemu-img", "bench", *args, cwd=pair.base / "qx")
        assert ours.returncode == theirs.returncode == 0
        assert _TIME.sub("", ours.stdout) == _TIME.sub("", theirs.stdout)
        res = pair.ref.run("qemu-img", "compare", "base.qcow2",
                           pair.base / "ref" / "base.qcow2",
                           cwd=pair.base / "qx")
        assert res.returncode == 0, str(res)
