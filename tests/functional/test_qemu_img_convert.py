"""qemu-img convert: ours against QEMU 7.2's on the same inputs.

Each case runs both tools with the same arguments in two sibling
directories holding identical copies of the inputs, then compares exit
code, stdout and stderr byte for byte, and the output images: contents,
apparent size, allocated blocks (sparseness) and QEMU's map of them.
qcow2 cases use images QEMU made and skip while our qemu-img does not
list qcow2 among its formats.
"""

import os
import shutil

import pytest

from conftest import run

SECTOR = 512


def write_mixed_raw(path):
    """Data, explicit zeroes, holes, a short tail: every convert path."""
    rnd = os.urandom
    with open(path, "wb") as f:
        f.write(rnd(65536))                 # data
        f.write(b"\0" * 65536)              # explicit zeroes
        f.seek(3 * 65536)
        f.write(rnd(1000))                  # unaligned data
        f.seek(5 * 65536 + 512)
        f.write(rnd(512))                   # one sector inside a block
        f.seek(6 * 65536)
        f.write(rnd(4096) + b"\0" * 4096 + rnd(4096))  # small zero run
        f.truncate(8 * 65536 + 100)         # unaligned end


def populate(src):
    """The shared inputs, written once per test into src."""
    src.mkdir(exist_ok=True)
    write_mixed_raw(src / "mix.raw")
    with open(src / "small.raw", "wb") as f:
        f.write(os.urandom(1000))
    with open(src / "zero.raw", "wb") as f:
        f.truncate(1 << 20)
    with open(src / "full0.raw", "wb") as f:
        f.write(b"\0" * (1 << 20))
    (src / "empty.raw").write_bytes(b"")
    with open(src / "big.raw", "wb") as f:
        f.truncate(2 << 20)


class Pair:
    """Two work directories with the same inputs: ref (QEMU) and qx."""

    def __init__(self, qx, ref, tmp_dir):
        self.qx = qx
        self.ref = ref
        self.base = tmp_dir
        self.src = tmp_dir / "src"
        populate(self.src)

    def reset(self):
        for kind in ("ref", "qx"):
            shutil.rmtree(self.base / kind, ignore_errors=True)
            shutil.copytree(self.src, self.base / kind)

    def run(self, *args, reset=True):
        if reset:
            self.reset()
        theirs = self.ref.run("qemu-img", *args, cwd=self.base / "ref")
        ours = self.qx.run("qemu-img", *args, cwd=self.base / "qx")
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr), \
            f"ours:\n{ours}\nQEMU's:\n{theirs}"
        return ours

    def same_file(self, name, *, alloc=True, exact=True, fmt="raw"):
        """Asserts the output images agree (as QEMU sees them)."""
        a = self.base / "ref" / name
        b = self.base / "qx" / name
        assert a.exists() == b.exists()
        if not a.exists():
            return
        if exact:
            assert a.read_bytes() == b.read_bytes(), f"{name} differs"
        if alloc:
            assert (os.stat(a).st_size, os.stat(a).st_blocks) == \
                (os.stat(b).st_size, os.stat(b).st_blocks), \
                f"{name}: allocation differs"
        # Same guest view, as QEMU reads both.
        res = run(["/usr/bin/qemu-img", "compare", "-f", fmt, "-F", fmt,
                   a, b])
        assert res.returncode == 0, str(res)
        if fmt == "raw":
            ma = run(["/usr/bin/qemu-img", "map", "--output=json", "-f",
                      fmt, a])
            mb = run(["/usr/bin/qemu-img", "map", "--output=json", "-f",
                      fmt, b])
            assert ma.stdout == mb.stdout


@pytest.fixture
def pair(qx, ref, tmp_dir):
    return Pair(qx, ref, tmp_dir)


def our_formats(qx):
    out = qx.run("qemu-img", "--help").stdout
    for line in out.splitlines():
        if line.startswith("Supported formats:"):
            return line.split(":", 1)[1].split()
    return []


@pytest.fixture
def need_qcow2(qx):
    if "qcow2" not in our_formats(qx):
        pytest.skip("our qemu-img has no qcow2 driver yet")


# ---- raw -> raw ------------------------------------------------------------

CONVERT_RAW = [
    ["mix.raw"],
    ["small.raw"],
    ["zero.raw"],
    ["full0.raw"],
    ["empty.raw"],
    ["-S", "0", "mix.raw"],
    ["-S", "0", "full0.raw"],
    ["-S", "512", "mix.raw"],
    ["-S", "64k", "mix.raw"],
    ["-S", "16M", "mix.raw"],
    ["-m", "1", "mix.raw"],
    ["-m", "16", "mix.raw"],
    ["-W", "mix.raw"],
    ["-W", "-m", "3", "mix.raw"],
    ["-C", "mix.raw"],
    ["--salvage", "mix.raw"],
    ["-r", "1G", "mix.raw"],
    ["-t", "none", "mix.raw"],
    ["-t", "writethrough", "-T", "none", "mix.raw"],
    ["-U", "mix.raw"],
    ["-f", "raw", "-O", "raw", "mix.raw"],
    ["-o", "preallocation=full", "mix.raw"],
    ["-o", "preallocation=falloc", "mix.raw"],
    ["mix.raw", "small.raw", "mix.raw"],
    ["small.raw", "empty.raw", "small.raw"],
    ["--image-opts", "driver=raw,file.filename=mix.raw"],
    ["-q", "mix.raw"],
]


@pytest.mark.parametrize("args", CONVERT_RAW, ids=" ".join)
def test_convert_raw(pair, args):
    pair.run("convert", *args, "out.raw")
    pair.same_file("out.raw")


@pytest.mark.parametrize("progress", [["-p"], ["-p", "-q"]])
def test_convert_progress(pair, progress):
    res = pair.run("convert", *progress, "mix.raw", "out.raw")
    if "-q" not in progress:
        # (text mode turns QEMU's "\r" into "\n")
        assert res.stdout.endswith("(100.00/100%)\n")
    pair.same_file("out.raw")


@pytest.mark.parametrize("args", [
    ["mix.raw", "big.raw"],
    ["-S", "0", "mix.raw", "big.raw"],
    ["--target-is-zero", "mix.raw", "big.raw"],
    ["-m", "1", "mix.raw", "big.raw"],
    ["mix.raw", "small.raw"],          # target too small
    ["mix.raw", "missing.raw"],
    ["--target-image-opts", "mix.raw", "driver=raw,file.filename=big.raw"],
], ids=" ".join)
def test_convert_existing_target(pair, args):
    # Fill the target with data first: zero areas must be written.
    pair.reset()
    for kind in ("ref", "qx"):
        with open(pair.base / kind / "big.raw", "r+b") as f:
            f.write(b"\xaa" * (2 << 20))
    pair.run("convert", "-n", *args, reset=False)
    pair.same_file("big.raw")


ERRORS = [
    [],
    ["mix.raw"],
    ["-S", "1000", "a", "b"],
    ["-S", "0x1000001", "a", "b"],
    ["-S", "foo", "a", "b"],
    ["-m", "0", "a", "b"],
    ["-m", "17", "a", "b"],
    ["-m", "x", "a", "b"],
    ["-r", "foo", "a", "b"],
    ["-n", "-o", "size=1", "mix.raw", "o.raw"],
    ["--target-is-zero", "mix.raw", "o.raw"],
    ["-C", "-c", "a", "b"],
    ["-C", "-S", "4k", "a", "b"],
    ["-C", "--salvage", "a", "b"],
    ["--target-image-opts", "a", "b"],
    ["--skip-broken-bitmaps", "a", "b"],
    ["missing", "o.raw"],
    ["-O", "foo", "mix.raw", "o.raw"],
    ["-O", "raw", "-o", "foo=bar", "mix.raw", "o.raw"],
    ["-B", "base", "mix.raw", "o.raw"],
    ["-c", "mix.raw", "o.raw"],
    ["-l", "snap", "mix.raw", "o.raw"],
    ["--bitmaps", "mix.raw", "o.raw"],
    ["-O", "raw", "-o", "help", "mix.raw", "o.raw"],
    ["-o", "help", "mix.raw", "o.raw"],
    ["-t", "foo", "mix.raw", "o.raw"],
    ["-T", "foo", "mix.raw", "o.raw"],
    ["-f", "qcow2", "mix.raw", "o.raw"],
    ["-x", "a", "b"],
    ["-O"],
    ["-O", "null-co", "mix.raw", "null-co://"],
    ["-O", "raw", "mix.raw", "nosuchproto:x"],
]


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a) or "-")
def test_convert_errors(pair, args):
    pair.run("convert", *args)
    pair.same_file("o.raw", alloc=False)


# ---- qcow2 ------------------------------------------------------------------

def make_qcow2_chain(pair):
    """base.qcow2 <- top.qcow2, made by QEMU, in src."""
    q = "/usr/bin/qemu-img"
    io = "/usr/bin/qemu-io"
    src = pair.src
    for args in (
        [q, "create", "-q", "-f", "qcow2", "base.qcow2", "1M"],
        [io, "-f", "qcow2", "-c", "write -P 0x11 0 128k",
         "-c", "write -z 256k 64k", "-c", "write -P 0x22 512k 4k",
         "base.qcow2"],
        [q, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F",
         "qcow2", "top.qcow2", "2M"],
        [io, "-f", "qcow2", "-c", "write -P 0x33 64k 64k",
         "-c", "write -z 512k 64k", "-c", "write -P 0x44 1536k 1k",
         "-c", "discard 0 64k", "top.qcow2"],
        [q, "convert", "-O", "qcow2", "mix.raw", "mix.qcow2"],
        [q, "convert", "-c", "-O", "qcow2", "mix.raw", "comp.qcow2"],
    ):
        res = run(args, cwd=src)
        assert res.returncode == 0, str(res)


QCOW2_CASES = [
    # (args, output, byte-identical output expected, same allocation)
    (["-O", "qcow2", "mix.raw"], "o.qcow2", True, True),
    (["-O", "qcow2", "-o", "cluster_size=4k", "mix.raw"], "o.qcow2", True,
     True),
    (["-O", "qcow2", "-S", "0", "mix.raw"], "o.qcow2", True, True),
    (["-O", "qcow2", "mix.qcow2"], "o.qcow2", True, True),
    (["-O", "qcow2", "top.qcow2"], "o.qcow2", True, True),
    (["-O", "qcow2", "-B", "base.qcow2", "-F", "qcow2", "top.qcow2"],
     "o.qcow2", True, True),
    (["-O", "qcow2", "-W", "mix.raw"], "o.qcow2", False, False),
    # Same bytes; the qcow2 driver leaves 4 KiB more of the host file
    # allocated (partial-cluster COW across the source boundary).
    (["-O", "qcow2", "mix.raw", "mix.qcow2"], "o.qcow2", True, False),
    (["top.qcow2"], "o.raw", True, True),
    (["-f", "qcow2", "mix.qcow2"], "o.raw", True, True),
    (["comp.qcow2"], "o.raw", True, True),
    (["-O", "qcow2", "comp.qcow2"], "o.qcow2", True, True),
]


@pytest.mark.parametrize("args,out,exact,alloc", QCOW2_CASES,
                         ids=[" ".join(c[0]) for c in QCOW2_CASES])
def test_convert_qcow2(pair, need_qcow2, args, out, exact, alloc):
    make_qcow2_chain(pair)
    pair.run("convert", *args, out)
    fmt = "qcow2" if out.endswith(".qcow2") else "raw"
    pair.same_file(out, exact=exact, alloc=alloc, fmt=fmt)
    if fmt == "qcow2":
        res = run(["/usr/bin/qemu-img", "check", pair.base / "qx" / out])
        assert res.returncode == 0, str(res)


@pytest.mark.parametrize("args", [
    ["-O", "qcow2", "-B", "x", "mix.raw", "o.qcow2"],
    ["-O", "qcow2", "-B", "x", "-o", "backing_file=y", "mix.raw",
     "o.qcow2"],
    ["-O", "qcow2", "-B", "x", "mix.raw", "mix.raw", "o.qcow2"],
    ["-O", "qcow2", "-o", "preallocation=full", "-c", "mix.raw", "o.q"],
    ["-O", "qcow2", "-o", "cluster_size=3k", "mix.raw", "o.qcow2"],
    ["-n", "--target-is-zero", "-B", "x", "mix.raw", "mix.qcow2"],
], ids=" ".join)
def test_convert_qcow2_errors(pair, need_qcow2, args):
    make_qcow2_chain(pair)
    pair.run("convert", *args)


@pytest.mark.parametrize("args,message", [
    (["-O", "qcow2", "--bitmaps", "mix.qcow2", "o.qcow2"],
     "qemu-img: --bitmaps: copying bitmaps is not supported\n"),
    (["-l", "snap", "mix.qcow2", "o.raw"],
     "qemu-img: Failed to load snapshot: loading internal snapshots (-l) "
     "is not supported\n"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_convert_qcow2_unsupported(pair, need_qcow2, args, message):
    """What we do not implement fails clearly and writes nothing."""
    make_qcow2_chain(pair)
    pair.reset()
    res = pair.qx.run("qemu-img", "convert", *args, cwd=pair.base / "qx")
    assert (res.returncode, res.stdout, res.stderr) == (1, "", message)
    assert not (pair.base / "qx" / args[-1]).exists()


def test_convert_onto_itself_keeps_source(qx, ref, tmp_dir):
    """The source does not share write/resize, so the target's create
    fails on the lock (QEMU's message) and the source is untouched."""
    img = tmp_dir / "self.raw"
    data = os.urandom(65536) + b"\0" * 65536
    img.write_bytes(data)
    ours = qx.run("qemu-img", "convert", "-f", "raw", "-O", "raw", img, img)
    theirs = ref.run("qemu-img", "convert", "-f", "raw", "-O", "raw", img,
                     img)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr == theirs.stderr
    assert img.read_bytes() == data


def test_convert_source_in_use(qx, ref, tmp_dir):
    """A source another process writes is refused unless -U."""
    import subprocess
    import time
    img = tmp_dir / "busy.raw"
    img.write_bytes(b"\x11" * 65536)
    holder = subprocess.Popen([ref.path("qemu-io"), "-f", "raw", img],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        out = tmp_dir / "out.raw"
        ours = qx.run("qemu-img", "convert", "-f", "raw", "-O", "raw", img,
                      out)
        theirs = ref.run("qemu-img", "convert", "-f", "raw", "-O", "raw",
                         img, out)
        assert ours.returncode == theirs.returncode == 1
        assert ours.stderr == theirs.stderr
        forced = qx.run("qemu-img", "convert", "-U", "-f", "raw", "-O", "raw",
                        img, out)
        assert forced.returncode == 0, forced
        assert out.read_bytes() == img.read_bytes()
    finally:
        holder.stdin.close()
        holder.wait(10)
