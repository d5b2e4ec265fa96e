"""qcow2 interoperability with QEMU 7.2, both directions.

Ours -> QEMU: images our qemu-img creates or converts, and our qemu-io
writes (a seeded list of writes, zero writes and discards), for each value
of compat, cluster_size, refcount_bits, compression_type, extended_l2 and
preallocation and the pairs that interact (refcount_bits x cluster_size,
compat x everything that needs 1.1), plus a backing chain of depth 3: QEMU's
check finds no errors or leaks and QEMU's compare finds the data of a
"shadow" raw file that received the same operations.

QEMU -> ours: the same matrix made and written by QEMU reads back
identically through our qemu-io (read -P) and our convert to raw; after
our random writes QEMU's check is clean and its compare equals the shadow.

info, check, map and measure (human and JSON) print what QEMU prints, on
images made by QEMU and by us.

Images are 8 MiB so that the whole module runs in well under 90 s.
"""

import pathlib
import shutil
import tempfile

import pytest

from qcow2util import (Workload, qemu_check_clean, qemu_compare,
                       write_compressible, write_mixed)

SIZE = 8 << 20
CHUNK = 64 << 10

# -o strings for images we create and QEMU checks.  Every value of every
# dimension appears, and the pairs that interact.
CREATE_OPTS = [
    "compat=0.10",
    "compat=0.10,cluster_size=4k",
    "compat=0.10,cluster_size=2M",
    "compat=1.1",
] + [
    f"cluster_size={cs},refcount_bits={rb}"
    for cs in ("4k", "64k", "2M") for rb in (1, 16, 64)
] + [
    "compression_type=zlib",
    "compression_type=zstd",
    "extended_l2=on",
    "extended_l2=on,cluster_size=16k,refcount_bits=1",
    "extended_l2=on,cluster_size=2M,refcount_bits=64",
    "lazy_refcounts=on",
    "preallocation=off",
    "preallocation=metadata",
    "preallocation=falloc",
    "preallocation=full",
    "preallocation=metadata,cluster_size=4k,refcount_bits=1",
    "preallocation=full,compat=0.10",
    "preallocation=falloc,cluster_size=2M,refcount_bits=64",
    "preallocation=metadata,extended_l2=on",
]

# What QEMU refuses for compat=0.10 (zstd, extended_l2, refcount_bits != 16)
# is covered by test_qcow2_rw.py's create cases.

CONVERT_OPTS = [
    "compat=0.10",
    "compat=1.1",
    "cluster_size=4k,refcount_bits=1",
    "cluster_size=2M,refcount_bits=64",
    "cluster_size=4k,refcount_bits=64",
    "cluster_size=2M,refcount_bits=1",
    "extended_l2=on",
    "preallocation=metadata",
    "preallocation=falloc",
    "preallocation=full",
    "compat=0.10,cluster_size=2M,preallocation=metadata",
]

COMPRESS_OPTS = [
    "compression_type=zlib",
    "compression_type=zstd",
    "compression_type=zlib,compat=0.10",
    "compression_type=zstd,cluster_size=4k,refcount_bits=1",
    "compression_type=zlib,cluster_size=2M,refcount_bits=64",
    "compression_type=zstd,extended_l2=on",
]


def ok(r):
    assert r.returncode == 0, str(r)
    return r


def verify_commands(shadow, chunk=CHUNK):
    """qemu-io read -P commands for every uniform chunk of shadow, and
    the number of chunks that were not uniform."""
    args = []
    mixed = 0
    for off in range(0, len(shadow), chunk):
        piece = shadow[off:off + chunk]
        if piece.count(piece[0]) == len(piece):
            args += ["-c", f"read -q -P {piece[0]} {off} {len(piece)}"]
        else:
            mixed += 1
    return args, mixed


def reads_back_through_ours(qx, img, shadow, d):
    """Our qemu-io and our convert see exactly shadow in img."""
    args, _ = verify_commands(shadow)
    r = qx.run("qemu-io", "-r", "-f", "qcow2", *args, img)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", str(r)
    out = d / "ours-out.raw"
    ok(qx.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", img, out))
    assert out.read_bytes() == bytes(shadow), \
        f"our convert of {img} to raw differs from the shadow"
    out.unlink()


def our_check_matches(qx, ref, img):
    """Our check prints what QEMU's prints on the same image."""
    theirs = ref.run("qemu-img", "check", img)
    ours = qx.run("qemu-img", "check", img)
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"


# --- ours -> QEMU -----------------------------------------------------------

@pytest.mark.parametrize("opts", CREATE_OPTS)
def test_ours_create_and_write(qx, ref, tmp_dir, opts):
    img = tmp_dir / "x.qcow2"
    ok(qx.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, img,
              str(SIZE)))
    qemu_check_clean(ref, img)
    work = Workload(SIZE, seed=f"ours-{opts}")
    ok(qx.run("qemu-io", "-f", "qcow2", *work.args(), img))
    work.write_shadow(tmp_dir / "shadow.raw")
    qemu_check_clean(ref, img)
    qemu_compare(ref, img, tmp_dir / "shadow.raw")
    our_check_matches(qx, ref, img)


@pytest.mark.parametrize("opts", CONVERT_OPTS)
def test_ours_convert(qx, ref, tmp_dir, opts):
    src = tmp_dir / "src.raw"
    write_mixed(src, SIZE, seed=opts)
    img = tmp_dir / "x.qcow2"
    ok(qx.run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", opts,
              src, img))
    qemu_check_clean(ref, img)
    qemu_compare(ref, img, src)
    our_check_matches(qx, ref, img)
    # Same options, same input: QEMU's image has the same virtual size and
    # the same clusters allocated (check's summary lines agree).
    theirs = tmp_dir / "q.qcow2"
    ok(ref.run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", opts,
               src, theirs))
    a = ref.run("qemu-img", "check", img).stdout
    b = ref.run("qemu-img", "check", theirs).stdout
    assert a.splitlines()[:2] == b.splitlines()[:2], f"ours:\n{a}QEMU's:\n{b}"


@pytest.mark.parametrize("opts", COMPRESS_OPTS)
def test_ours_convert_compressed(qx, ref, tmp_dir, opts):
    src = tmp_dir / "src.raw"
    write_compressible(src, SIZE // 2, seed=opts)
    with open(src, "r+b") as f:     # a hole and an incompressible cluster
        f.seek(SIZE // 2 + 3 * CHUNK)
        f.write(bytes(range(256)) * 4096)
        f.truncate(SIZE)
    img = tmp_dir / "x.qcow2"
    ok(qx.run("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
              opts, src, img))
    r = qemu_check_clean(ref, img)
    assert ", 0.00% compressed clusters" not in r.stdout, r.stdout
    qemu_compare(ref, img, src)
    our_check_matches(qx, ref, img)
    # Our writes over compressed clusters.
    base = src.read_bytes()
    work = Workload(SIZE, seed=f"c-{opts}", count=30, base=base)
    ok(qx.run("qemu-io", "-f", "qcow2", *work.args(), img))
    work.write_shadow(tmp_dir / "shadow.raw")
    qemu_check_clean(ref, img)
    qemu_compare(ref, img, tmp_dir / "shadow.raw")


CHAIN_LEVELS = [
    # (name, -o options): mixed geometries along one chain
    ("base.qcow2", "compat=0.10,cluster_size=4k"),
    ("mid.qcow2", "cluster_size=64k,refcount_bits=1"),
    ("top.qcow2", "cluster_size=2M,extended_l2=on,refcount_bits=64"),
]


def build_chain(binaries, d, seed):
    """A depth-3 chain written level by level; returns the top's shadow."""
    shadow = bytes(SIZE)
    backing = None
    for i, (name, opts) in enumerate(CHAIN_LEVELS):
        args = ["create", "-q", "-f", "qcow2", "-o", opts]
        if backing:
            args += ["-b", backing, "-F", "qcow2"]
        ok(binaries.run("qemu-img", *args, name, str(SIZE), cwd=d))
        work = Workload(SIZE, seed=f"{seed}-{i}", count=25, base=shadow)
        ok(binaries.run("qemu-io", "-f", "qcow2", *work.args(), name, cwd=d))
        shadow = bytes(work.shadow)
        backing = name
    return shadow


def test_ours_backing_chain(qx, ref, tmp_dir):
    shadow = build_chain(qx, tmp_dir, "ours-chain")
    (tmp_dir / "shadow.raw").write_bytes(shadow)
    for name, _ in CHAIN_LEVELS:
        qemu_check_clean(ref, tmp_dir / name)
    qemu_compare(ref, tmp_dir / "top.qcow2", tmp_dir / "shadow.raw")
    ok(ref.run("qemu-img", "convert", "-O", "raw", "top.qcow2", "q.raw",
               cwd=tmp_dir))
    assert (tmp_dir / "q.raw").read_bytes() == shadow
    # Our flattening convert.
    ok(qx.run("qemu-img", "convert", "-O", "qcow2", "top.qcow2", "flat.qcow2",
              cwd=tmp_dir))
    qemu_check_clean(ref, tmp_dir / "flat.qcow2")
    qemu_compare(ref, tmp_dir / "flat.qcow2", tmp_dir / "shadow.raw")
    # Info of the chain, as QEMU prints it.
    for output in ("human", "json"):
        args = ["info", "--backing-chain", f"--output={output}", "top.qcow2"]
        theirs = ref.run("qemu-img", *args, cwd=tmp_dir)
        ours = qx.run("qemu-img", *args, cwd=tmp_dir)
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr)


def test_ours_convert_with_backing(qx, ref, tmp_dir):
    """convert -B: only what differs from the backing file is written."""
    shadow = build_chain(ref, tmp_dir, "ours-B")
    (tmp_dir / "shadow.raw").write_bytes(shadow)
    ok(qx.run("qemu-img", "convert", "-O", "qcow2", "-B", "mid.qcow2", "-F",
              "qcow2", "top.qcow2", "delta.qcow2", cwd=tmp_dir))
    qemu_check_clean(ref, tmp_dir / "delta.qcow2")
    qemu_compare(ref, tmp_dir / "delta.qcow2", tmp_dir / "shadow.raw")
    r = ok(ref.run("qemu-img", "info", "--output=json",
                   tmp_dir / "delta.qcow2"))
    assert '"backing-filename": "mid.qcow2"' in r.stdout


# --- QEMU -> ours -----------------------------------------------------------

QEMU_OPTS = CREATE_OPTS + [
    "extended_l2=on,cluster_size=64k,lazy_refcounts=on",
    "extended_l2=on,compression_type=zstd",
    "cluster_size=512,refcount_bits=8",
    "cluster_size=1k,refcount_bits=2,compat=1.1",
    "refcount_bits=32",
    "refcount_bits=4,cluster_size=4k",
]


@pytest.mark.parametrize("opts", QEMU_OPTS)
def test_qemu_image_through_ours(qx, ref, tmp_dir, opts):
    img = tmp_dir / "q.qcow2"
    ok(ref.run("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, img,
               str(SIZE)))
    written = Workload(SIZE, seed=f"qemu-{opts}")
    ok(ref.run("qemu-io", "-f", "qcow2", *written.args(), img))
    reads_back_through_ours(qx, img, written.shadow, tmp_dir)
    our_check_matches(qx, ref, img)
    # Our random writes on top of QEMU's.
    more = Workload(SIZE, seed=f"then-ours-{opts}", base=written.shadow)
    ok(qx.run("qemu-io", "-f", "qcow2", *more.args(), img))
    more.write_shadow(tmp_dir / "shadow.raw")
    qemu_check_clean(ref, img)
    qemu_compare(ref, img, tmp_dir / "shadow.raw")


@pytest.mark.parametrize("opts", COMPRESS_OPTS)
def test_qemu_compressed_through_ours(qx, ref, tmp_dir, opts):
    src = tmp_dir / "src.raw"
    write_compressible(src, SIZE // 2, seed=opts)
    with open(src, "r+b") as f:
        f.truncate(SIZE)
    img = tmp_dir / "q.qcow2"
    ok(ref.run("qemu-img", "convert", "-c", "-O", "qcow2", "-o", opts, src,
               img))
    reads_back_through_ours(qx, img, src.read_bytes(), tmp_dir)
    our_check_matches(qx, ref, img)
    work = Workload(SIZE, seed=f"qc-{opts}", count=30, base=src.read_bytes())
    ok(qx.run("qemu-io", "-f", "qcow2", *work.args(), img))
    work.write_shadow(tmp_dir / "shadow.raw")
    qemu_check_clean(ref, img)
    qemu_compare(ref, img, tmp_dir / "shadow.raw")


def test_qemu_backing_chain_through_ours(qx, ref, tmp_dir):
    shadow = build_chain(ref, tmp_dir, "qemu-chain")
    reads_back_through_ours(qx, tmp_dir / "top.qcow2", shadow, tmp_dir)
    for name, _ in CHAIN_LEVELS:
        our_check_matches(qx, ref, tmp_dir / name)
    work = Workload(SIZE, seed="qemu-chain-ours", base=shadow)
    ok(qx.run("qemu-io", "-f", "qcow2", *work.args(), "top.qcow2",
              cwd=tmp_dir))
    work.write_shadow(tmp_dir / "shadow.raw")
    for name, _ in CHAIN_LEVELS:
        qemu_check_clean(ref, tmp_dir / name)
    qemu_compare(ref, tmp_dir / "top.qcow2", tmp_dir / "shadow.raw")


# --- info, check, map, measure against QEMU's --------------------------------

@pytest.fixture(scope="module")
def images():
    """A directory of images made by QEMU (q-*) and by us (x-*)."""
    from conftest import Binaries, _our_path, _reference_path
    qx = Binaries("qx", _our_path)
    ref = Binaries("reference", _reference_path)
    d = pathlib.Path(tempfile.mkdtemp(prefix="qx-interop-", dir="/tmp"))
    write_mixed(d / "mixed.raw", SIZE, seed="images")
    write_compressible(d / "comp.raw", SIZE, seed="images")
    specs = {
        "v2": ["-o", "compat=0.10"],
        "4k-r1": ["-o", "cluster_size=4k,refcount_bits=1"],
        "2M-r64": ["-o", "cluster_size=2M,refcount_bits=64"],
        "extl2": ["-o", "extended_l2=on"],
        "prealloc": ["-o", "preallocation=metadata"],
    }
    names = []
    for who, binaries in (("q", ref), ("x", qx)):
        for tag, opts in specs.items():
            name = f"{who}-{tag}.qcow2"
            r = binaries.run("qemu-img", "convert", "-O", "qcow2", *opts,
                             "mixed.raw", name, cwd=d)
            if r.returncode == 0:
                names.append(name)
        name = f"{who}-zstd.qcow2"
        r = binaries.run("qemu-img", "convert", "-c", "-O", "qcow2", "-o",
                         "compression_type=zstd", "comp.raw", name, cwd=d)
        if r.returncode == 0:
            names.append(name)
        # A written chain: base <- top.
        base, top = f"{who}-base.qcow2", f"{who}-top.qcow2"
        r1 = binaries.run("qemu-img", "create", "-q", "-f", "qcow2", base,
                          str(SIZE), cwd=d)
        r2 = binaries.run("qemu-img", "create", "-q", "-f", "qcow2", "-b",
                          base, "-F", "qcow2", top, cwd=d)
        w1 = Workload(SIZE, seed="base", count=20)
        w2 = Workload(SIZE, seed="top", count=20)
        r3 = binaries.run("qemu-io", *w1.args(), base, cwd=d)
        r4 = binaries.run("qemu-io", *w2.args(), top, cwd=d)
        if all(r.returncode == 0 for r in (r1, r2, r3, r4)):
            names.append(top)
    yield d, names
    shutil.rmtree(d, ignore_errors=True)


IMAGE_TAGS = ["v2", "4k-r1", "2M-r64", "extl2", "prealloc", "zstd", "top"]

REPORTS = {
    "info": ["info"],
    "info-json": ["info", "--output=json"],
    "info-chain-json": ["info", "--backing-chain", "--output=json"],
    "check": ["check"],
    "check-json": ["check", "--output=json"],
    "map": ["map"],
    "map-json": ["map", "--output=json"],
    "measure": ["measure", "-O", "qcow2"],
    "measure-json": ["measure", "--output=json", "-O", "qcow2"],
    "measure-4k-json": ["measure", "--output=json", "-O", "qcow2", "-o",
                        "cluster_size=4k"],
    "measure-raw-json": ["measure", "--output=json", "-O", "raw"],
}


REPORT_XFAIL = {}


def report_params():
    out = []
    for tag in IMAGE_TAGS:
        for who in "qx":
            for report in REPORTS:
                reason = REPORT_XFAIL.get((tag, who, report))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] \
                    if reason else []
                by = "by-qemu" if who == "q" else "by-ours"
                out.append(pytest.param(tag, who, report, marks=marks,
                                        id=f"{tag}-{by}-{report}"))
    return out


@pytest.mark.parametrize("tag,who,report", report_params())
def test_reports_match_qemu(qx, ref, images, tag, who, report):
    d, names = images
    name = f"{who}-{tag}.qcow2"
    if name not in names:
        pytest.fail(f"{name} could not be made (see the tests above)")
    args = REPORTS[report] + [name]
    theirs = ref.run("qemu-img", *args, cwd=d)
    ours = qx.run("qemu-img", *args, cwd=d)
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"


@pytest.mark.parametrize("args", [
    ["--size", "1G", "-O", "qcow2"],
    ["--size", "1G", "-O", "qcow2", "-o", "cluster_size=2M"],
    ["--size", "100G", "-O", "qcow2", "-o", "cluster_size=4k,"
     "refcount_bits=64"],
    ["--size", "16T", "-O", "qcow2", "-o", "extended_l2=on"],
    ["--size", "1G", "-O", "qcow2", "-o", "preallocation=full"],
    ["--size", "1G", "-O", "qcow2", "-o", "compat=0.10,refcount_bits=16"],
    ["--size", "1G", "-O", "raw"],
    ["--size", "0", "-O", "qcow2"],
], ids=lambda a: " ".join(a[1:]).replace(" ", "_"))
@pytest.mark.parametrize("output", ["human", "json"])
def test_measure_size_matches_qemu(qx, ref, args, output):
    args = ["measure", f"--output={output}"] + args
    theirs = ref.run("qemu-img", *args)
    ours = qx.run("qemu-img", *args)
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr)
