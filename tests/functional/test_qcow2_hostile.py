"""Corrupt and hostile qcow2 images: our tools fail cleanly.

Every image starts as a small image QEMU made and wrote (4 MiB, 64 KiB
clusters, 128 KiB of 0x01 at offset 0: header at 0, refcount table at
0x10000, refcount block at 0x20000, L1 at 0x30000, L2 at 0x40000, data
from 0x50000), then one field is patched.  Our qemu-img info/check/convert
and qemu-io read/write run on it under a 2 GiB address-space limit and a
timeout; QEMU 7.2 runs on an identical copy.

- Images QEMU refuses to open: our exit code and stderr equal QEMU's.
- Images QEMU opens (metadata pointing past the end of the file or into
  other metadata): check and info equal QEMU's; convert, read and write may
  succeed or fail (we are stricter than QEMU in places, and QEMU itself
  aborts on some of them) but never crash, and a failure is explained on
  stderr.
- Backing chains that loop or are 1000 deep end with a clear error in
  bounded time and memory.
"""

import pathlib
import shutil
import struct
import tempfile

import pytest

from qcow2util import Header, limited

IMG = "h.qcow2"
CB = 16  # cluster_bits of the base image
COPIED = 1 << 63

# (tool, arguments); IMG is replaced by the image's name.
COMMANDS = {
    "info": ("qemu-img", ["info", "-f", "qcow2", IMG]),
    "check": ("qemu-img", ["check", "-f", "qcow2", IMG]),
    "convert": ("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", IMG,
                             "out.raw"]),
    "read": ("qemu-io", ["-f", "qcow2", "-r", "-c", "read -P 1 0 128k",
                         IMG]),
    "write": ("qemu-io", ["-f", "qcow2", "-c", "write -P 2 64k 4k", IMG]),
}


def compressed_entry(offset, sectors):
    """An L2 entry for a compressed cluster (64 KiB clusters)."""
    x = 62 - (CB - 8)
    return (1 << 62) | ((sectors - 1) << x) | offset


def header_extension(h, ext_type, length):
    h.poke(h["header_length"], struct.pack(">II", ext_type, length))


# Images QEMU refuses to open, with its message.
OPEN_ERRORS = {
    "magic": (lambda h: h.patch("magic", 0x12345678),
              "Image is not in qcow2 format"),
    "version-1": (lambda h: h.patch("version", 1),
                  "Unsupported qcow2 version 1"),
    "version-4": (lambda h: h.patch("version", 4),
                  "Unsupported qcow2 version 4"),
    "cluster-bits-8": (lambda h: h.patch("cluster_bits", 8),
                       "Unsupported cluster size: 2^8"),
    "cluster-bits-22": (lambda h: h.patch("cluster_bits", 22),
                        "Unsupported cluster size: 2^22"),
    "cluster-bits-63": (lambda h: h.patch("cluster_bits", 63),
                        "Unsupported cluster size: 2^63"),
    "size-2^62": (lambda h: h.patch("size", 1 << 62), "Image is too big"),
    "size-2^64": (lambda h: h.patch("size", (1 << 64) - 512),
                  "Could not refresh total sector count: File too large"),
    "l1-size-huge": (lambda h: h.patch("l1_size", 0x10000000),
                     "Active L1 table too large"),
    "l1-offset-unaligned": (lambda h: h.patch("l1_table_offset", 0x30008),
                            "Active L1 table offset invalid"),
    "reftable-offset-unaligned": (
        lambda h: h.patch("refcount_table_offset", 0x10200),
        "Reference count table offset invalid"),
    "reftable-clusters-huge": (
        lambda h: h.patch("refcount_table_clusters", 0xffffff),
        "Reference count table too large"),
    "refcount-order-7": (
        lambda h: h.patch("refcount_order", 7),
        "Reference count entry width too large; may not exceed 64 bits"),
    "header-length-short": (lambda h: h.patch("header_length", 50),
                            "qcow2 header too short"),
    "header-length-long": (lambda h: h.patch("header_length", 0x20000),
                           "qcow2 header exceeds cluster size"),
    "incompatible-bit-40": (
        lambda h: h.patch("incompatible_features", 1 << 40),
        "Unsupported qcow2 feature(s): Unknown incompatible feature: "
        "10000000000"),
    "crypt-method-9": (lambda h: h.patch("crypt_method", 9),
                       "Unsupported encryption method 9"),
    "backing-offset-past-eof": (
        lambda h: (h.patch("backing_file_offset", 0x1000000),
                   h.patch("backing_file_size", 10)),
        "Invalid backing file offset"),
    "backing-name-past-cluster": (
        lambda h: (h.patch("backing_file_offset", 0xfff0),
                   h.patch("backing_file_size", 100)),
        "Backing file name too long"),
    "backing-name-overlong": (
        lambda h: (h.patch("backing_file_offset", 0x200),
                   h.patch("backing_file_size", 2000)),
        "Backing file name too long"),
    "extension-huge": (lambda h: header_extension(h, 0x12345678,
                                                  0x7fffffff),
                       "Header extension too large"),
    "backing-format-overlong": (
        lambda h: header_extension(h, 0xe2792aca, 0xff00),
        "ERROR: ext_backing_format: len=65280 too large (>=16)"),
    "snapshots-too-many": (
        lambda h: (h.patch("nb_snapshots", 0xffffffff),
                   h.patch("snapshots_offset", 0x10000)),
        "Snapshot table too large"),
    "snapshots-unaligned": (
        lambda h: (h.patch("nb_snapshots", 1),
                   h.patch("snapshots_offset", 0x10008)),
        "Snapshot table offset invalid"),
}

# Where we knowingly differ from QEMU: (case, command) -> reason.
OPEN_XFAIL = {
    **{("size-2^64", cmd): (
        "size=2^64-512: ours says 'Image is too big', QEMU 'Could not "
        "refresh total sector count: File too large'")
       for cmd in COMMANDS},
    ("snapshots-too-many", "check"): (
        "nb_snapshots=0xffffffff: QEMU's check opens the image and prints "
        "'qemu-img: ERROR snapshot table too large' / 'You can force-remove "
        "all 4294901759 overhanging snapshots with qemu-img check -r all' / "
        "'qemu-img: Check failed: File too large'; ours refuses to open "
        "('Could not open ...: Snapshot table too large')"),
    ("snapshots-unaligned", "check"): (
        "snapshots_offset unaligned: QEMU's check prints 'qemu-img: ERROR "
        "snapshot table offset invalid' / 'qemu-img: Check failed: Invalid "
        "argument'; ours refuses to open ('Could not open ...: Snapshot "
        "table offset invalid')"),
}

# Images QEMU opens although their metadata is broken.
CORRUPT = {
    "l1-size-too-big": lambda h: h.patch("l1_size", 0x100000),
    "l1-size-4M-entries": lambda h: (h.patch("size", 1 << 45),
                                     h.patch("l1_size", 4 << 20)),
    "l1-past-eof": lambda h: h.patch("l1_table_offset", 0x10000000),
    "l1-over-header": lambda h: h.patch("l1_table_offset", 0),
    "reftable-over-header": lambda h: h.patch("refcount_table_offset", 0),
    "reftable-past-eof": lambda h: h.patch("refcount_table_offset",
                                           0x10000000),
    "header-length-105": lambda h: h.patch("header_length", 105),
    "l2-past-eof": lambda h: h.poke_u64(h.l1_entry(), COPIED | 0x10000000),
    "l2-unaligned": lambda h: h.poke_u64(h.l1_entry(), COPIED | 0x40200),
    "l2-over-reftable": lambda h: h.poke_u64(h.l1_entry(), COPIED | 0x10000),
    "l2-over-header": lambda h: h.poke_u64(h.l1_entry(), COPIED),
    "data-past-eof": lambda h: h.poke_u64(h.l2_table(), COPIED | 0x10000000),
    "data-over-header": lambda h: h.poke_u64(h.l2_table(), COPIED),
    "data-over-l1": lambda h: h.poke_u64(h.l2_table(), COPIED | 0x30000),
    "data-unaligned": lambda h: h.poke_u64(h.l2_table(), COPIED | 0x50200),
    "zero-flag-on-data": lambda h: h.poke_u64(
        h.l2_table(), h.peek_u64(h.l2_table()) | 1),
    "compressed-garbage": lambda h: (
        h.poke_u64(h.l2_table(), compressed_entry(0x50000, 1)),
        h.poke(0x50000, b"\xff" * 512)),
    "compressed-past-eof": lambda h: h.poke_u64(
        h.l2_table(), compressed_entry(0x1000000, 64)),
    "refblock-past-eof": lambda h: h.poke_u64(0x10000, 0x10000000),
    "refblock-unaligned": lambda h: h.poke_u64(0x10000, 0x20200),
    "refblock-over-header": lambda h: h.poke_u64(0x10000, 0),
    "refblock-over-l1": lambda h: h.poke_u64(0x10000, 0x30000),
    "snapshot-past-eof": lambda h: (h.patch("nb_snapshots", 1),
                                    h.patch("snapshots_offset",
                                            0x10000000)),
    "dirty-bit": lambda h: h.patch("incompatible_features", 1),
    "corrupt-bit": lambda h: h.patch("incompatible_features", 2),
}

CORRUPT_XFAIL = {
    ("snapshot-past-eof", "check"): (
        "nb_snapshots=1 at 0x10000000 (past EOF): QEMU's check prints "
        "'ERROR snapshot table entry 0 is incomplete' and counts 2 errors; "
        "ours omits that line and counts 1"),
    ("snapshot-past-eof", "info"): (
        "nb_snapshots=1 at 0x10000000 (past EOF): QEMU's info reads the "
        "entry as zeroes and prints a 'Snapshot list:' with one empty "
        "snapshot; ours prints no snapshot list (internal snapshots are "
        "not listed at all)"),
}


_BASE = {}


def base_image(ref, d):
    """The unpatched image, made and written by QEMU (once per session)."""
    if "bytes" not in _BASE:
        path = d / "base.qcow2"
        r = ref.run("qemu-img", "create", "-q", "-f", "qcow2", path, "4M")
        assert r.returncode == 0, str(r)
        r = ref.run("qemu-io", "-c", "write -P 1 0 128k", path)
        assert r.returncode == 0, str(r)
        _BASE["bytes"] = path.read_bytes()
        path.unlink()
    path = d / IMG
    path.write_bytes(_BASE["bytes"])
    return path


def run_both(qx, ref, d, command):
    """Runs command on copies of d/IMG: ours in d/qx, QEMU's in d/ref."""
    tool, args = COMMANDS[command]
    results = []
    for kind, binaries in (("ref", ref), ("qx", qx)):
        work = d / kind
        work.mkdir()
        shutil.copy(d / IMG, work / IMG)
        results.append(limited([binaries.path(tool)] + args, cwd=work,
                               timeout=30))
    return results


def assert_sane(r, tool):
    """No crash, no sanitizer report; a failure says why on stderr."""
    assert r.returncode >= 0, f"killed by signal {-r.returncode}:\n{r}"
    assert r.returncode < 128, str(r)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, \
        str(r)
    assert "Assertion" not in r.stderr, str(r)
    if r.returncode != 0:
        failed_on_stdout = any(line.endswith(": Input/output error") or
                               "verification failed" in line
                               for line in r.stdout.splitlines())
        assert r.stderr.strip() or failed_on_stdout, str(r)
        for line in r.stderr.splitlines():
            assert line.startswith((f"{tool}: ", "qcow2: ", "ERROR",
                                    "Leaked", "Warning", "Can't get",
                                    "Rebuilding")) or not line, str(r)


def cases(table, xfails):
    out = []
    for name in table:
        for command in COMMANDS:
            marks = []
            if (name, command) in xfails:
                marks = [pytest.mark.xfail(strict=True,
                                           reason=xfails[name, command])]
            out.append(pytest.param(name, command, marks=marks,
                                    id=f"{name}-{command}"))
    return out


@pytest.mark.parametrize("name,command", cases(OPEN_ERRORS, OPEN_XFAIL))
def test_open_error_matches_qemu(qx, ref, tmp_dir, name, command):
    patch, message = OPEN_ERRORS[name]
    patch(Header(base_image(ref, tmp_dir)))
    theirs, ours = run_both(qx, ref, tmp_dir, command)
    tool = COMMANDS[command][0]
    assert_sane(ours, tool)
    assert theirs.returncode == 1 and message in theirs.stderr, \
        f"QEMU changed:\n{theirs}"
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"
    assert len(ours.stderr.splitlines()) == 1


@pytest.mark.parametrize("name,command", cases(CORRUPT, CORRUPT_XFAIL))
def test_corrupt_metadata(qx, ref, tmp_dir, name, command):
    CORRUPT[name](Header(base_image(ref, tmp_dir)))
    theirs, ours = run_both(qx, ref, tmp_dir, command)
    tool = COMMANDS[command][0]
    assert_sane(ours, tool)
    if command in ("info", "check"):
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr), \
            f"ours:\n{ours}\nQEMU's:\n{theirs}"
    elif theirs.returncode == 1 and command != "write":
        # QEMU found the damage: so must we.
        assert ours.returncode == 1, f"ours:\n{ours}\nQEMU's:\n{theirs}"


def test_encrypted_image_refused(qx, ref, tmp_dir):
    """crypt_method=1 (AES): QEMU wants a key, we do not support it."""
    Header(base_image(ref, tmp_dir)).patch("crypt_method", 1)
    for command in COMMANDS:
        tool, args = COMMANDS[command]
        r = limited([qx.path(tool)] + args, cwd=tmp_dir)
        assert_sane(r, tool)
        assert r.returncode == 1, str(r)
        assert r.stderr.endswith(
            "qcow2: encrypted images are not supported\n"), str(r)
        assert len(r.stderr.splitlines()) == 1


# --- backing chains --------------------------------------------------------

CHAIN_COMMANDS = [
    ("qemu-img", ["info", "--backing-chain", "TOP"]),
    ("qemu-img", ["check", "TOP"]),
    ("qemu-img", ["convert", "-O", "raw", "TOP", "out.raw"]),
    ("qemu-img", ["map", "--output=json", "TOP"]),
    ("qemu-img", ["measure", "-O", "qcow2", "TOP"]),
    ("qemu-img", ["compare", "TOP", "TOP"]),
    ("qemu-io", ["-r", "-c", "read 0 64k", "TOP"]),
]


def chain_ids():
    return [" ".join([tool] + args[:1]) for tool, args in CHAIN_COMMANDS]


def make_chain(ref, d, depth):
    """c0000.qcow2 -> c0001.qcow2 -> ... -> c{depth}.qcow2 (no backing).

    One image is made by QEMU, the others are byte copies with the backing
    name patched (same length), so a deep chain costs no process per link.
    """
    top = d / "c0000.qcow2"
    r = ref.run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b",
                "c0001.qcow2", "-F", "qcow2", top, "1M")
    assert r.returncode == 0, str(r)
    template = top.read_bytes()
    for i in range(1, depth):
        name = f"c{i + 1:04d}.qcow2".encode()
        (d / f"c{i:04d}.qcow2").write_bytes(
            template.replace(b"c0001.qcow2", name, 1))
    r = ref.run("qemu-img", "create", "-q", "-f", "qcow2",
                d / f"c{depth:04d}.qcow2", "1M")
    assert r.returncode == 0, str(r)
    return top


def make_loop(ref, d, length):
    """c0000 -> c0001 -> ... -> c{length-1} -> c0000."""
    top = make_chain(ref, d, length)
    last = d / f"c{length - 1:04d}.qcow2"
    last.write_bytes(last.read_bytes().replace(
        f"c{length:04d}.qcow2".encode(), b"c0000.qcow2", 1))
    return top


def run_chain_command(qx, d, tool, args, top):
    args = [top.name if a == "TOP" else a for a in args]
    return limited([qx.path(tool)] + args, cwd=d, timeout=20)


@pytest.mark.parametrize("tool,args", CHAIN_COMMANDS, ids=chain_ids())
@pytest.mark.parametrize("length", [1, 2], ids=["self", "a-b-a"])
def test_backing_loop(qx, ref, tmp_dir, tool, args, length):
    top = make_loop(ref, tmp_dir, length)
    r = run_chain_command(qx, tmp_dir, tool, args, top)
    assert_sane(r, tool)
    assert r.returncode != 0, str(r)
    assert len(r.stderr.splitlines()) == 1, str(r)
    assert r.stderr.startswith(f"{tool}: "), str(r)
    if args[0] == "info":
        # Like QEMU, the loop is found by name before anything is read.
        assert r.stderr.endswith("creates an infinite loop.\n"), str(r)


@pytest.fixture(scope="module")
def deep_chain():
    """A 1000-deep chain (1001 images), made once for the module."""
    from conftest import Binaries, _reference_path
    d = pathlib.Path(tempfile.mkdtemp(prefix="qx-deep-", dir="/tmp"))
    yield make_chain(Binaries("reference", _reference_path), d, 1000)
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("tool,args", CHAIN_COMMANDS, ids=chain_ids())
def test_backing_chain_1000_deep(qx, deep_chain, tool, args):
    top = deep_chain
    r = run_chain_command(qx, top.parent, tool, args, top)
    assert_sane(r, tool)
    if r.returncode != 0:
        assert len(r.stderr.splitlines()) == 1, str(r)
        assert r.stderr.startswith(f"{tool}: "), str(r)


def test_backing_chain_1000_deep_info_matches_qemu(qx, ref, deep_chain):
    top = deep_chain
    args = ["info", "--backing-chain", top.name]
    theirs = limited([ref.path("qemu-img")] + args, cwd=top.parent)
    ours = limited([qx.path("qemu-img")] + args, cwd=top.parent)
    assert (ours.returncode, ours.stderr) == (theirs.returncode,
                                              theirs.stderr)
    assert ours.stdout == theirs.stdout


def test_backing_chain_40_deep_reads_like_qemu(qx, ref, tmp_dir):
    top = make_chain(ref, tmp_dir, 40)
    last = tmp_dir / "c0040.qcow2"
    r = ref.run("qemu-io", "-c", "write -P 7 64k 64k", last)
    assert r.returncode == 0, str(r)
    r = ref.run("qemu-io", "-c", "write -P 8 0 4k", tmp_dir / "c0020.qcow2")
    assert r.returncode == 0, str(r)
    r = ref.run("qemu-img", "convert", "-O", "raw", top, tmp_dir / "q.raw")
    assert r.returncode == 0, str(r)
    r = limited([qx.path("qemu-img"), "convert", "-O", "raw", top.name,
                 "x.raw"], cwd=tmp_dir)
    assert r.returncode == 0, str(r)
    assert (tmp_dir / "q.raw").read_bytes() == \
        (tmp_dir / "x.raw").read_bytes()


def test_backing_loop_info_matches_qemu(qx, ref, tmp_dir):
    top = make_loop(ref, tmp_dir, 2)
    for args in (["info", top.name], ["info", "--output=json", top.name],
                 ["info", "--backing-chain", top.name]):
        theirs = limited([ref.path("qemu-img")] + args, cwd=tmp_dir)
        ours = limited([qx.path("qemu-img")] + args, cwd=tmp_dir)
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr), \
            f"ours:\n{ours}\nQEMU's:\n{theirs}"
