"""qemu-io: scripted sessions run through our binary and QEMU 7.2's.

Each session starts from freshly made images in its own directory, runs
once with each binary, and the transcripts (stdout, stderr, exit code, and
the image bytes afterwards) must be identical after masking the timing
figures of the statistics lines.  qcow2 sessions run only once our qemu-img
lists qcow2 among its supported formats.
"""

import os
import re
import subprocess
import time

import pytest

from conftest import normalize, run

# "4 KiB, 1 ops; 00.00 sec (5.516 MiB/sec and 1411.9846 ops/sec)": the
# time and rates vary; what was counted must not.
_STATS_RE = re.compile(r"^(.*, \d+ ops; ).*$", re.M)
# -C: "512,1,0:00:00.00,2920207.609,5703.530"
_CSV_RE = re.compile(r"^(\d+,\d+,)[0-9:.]+,[0-9.a-z]+,[0-9.a-z]+$", re.M)


def mask_timings(text):
    text = _STATS_RE.sub(r"\1TIME", text)
    return _CSV_RE.sub(r"\1TIME", text)


def _pattern_file(path):
    path.write_bytes(bytes(range(256)))


def make_raw(directory, name="t.raw", size=1 << 20):
    """A raw image with some data: 0x11 at 0..64k, 0x22 at 128k..192k."""
    data = bytearray(size)
    data[0:65536] = b"\x11" * 65536
    data[131072:196608] = b"\x22" * 65536
    (directory / name).write_bytes(bytes(data))


def make_qcow2(directory, name="q.qcow2"):
    """A 1 MiB qcow2 image made and filled by QEMU's own tools."""
    path = directory / name
    subprocess.run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2",
                    str(path), "1M"], check=True)
    subprocess.run(["/usr/bin/qemu-io", "-f", "qcow2",
                    "-c", "write -P 0x33 64k 64k",
                    "-c", "write -z 256k 64k", str(path)],
                   check=True, capture_output=True)


def setup_images(directory, qcow2=False):
    make_raw(directory)
    make_raw(directory, "small.raw", 4096)
    _pattern_file(directory / "pattern.bin")
    (directory / "empty.bin").write_bytes(b"")
    if qcow2:
        make_qcow2(directory)


# (id, arguments, stdin or None).  Images: t.raw (1 MiB), small.raw (4 KiB),
# q.qcow2 (qcow2 sessions), pattern.bin (bytes 0..255), empty.bin.
RAW = ["-f", "raw", "t.raw"]


def c(*cmds):
    """-c options for each command."""
    out = []
    for cmd in cmds:
        out += ["-c", cmd]
    return out


SESSIONS = [
    ("read-write-basic", c("write 0 4k", "read 0 4k", "read -P 0xcd 0 4k",
                           "write -P 0x5a 512 1k", "read -P 0x5a 512 1k")
     + RAW, None),
    ("read-pattern-fail", c("read -P 0x11 0 64k", "read -P 0x12 0 64k",
                            "read -P 0x11 -s 512 -l 1k 0 4k",
                            "read -P 0x13 -s 10 -l 20 0 100")
     + RAW, None),
    ("read-pattern-range", c("read -P 0x11 -s 10 -l 200 0 100",
                             "read -l 5 0 10", "read -s 5 0 10",
                             "read -P 300 0 1", "read -P abc 0 1",
                             "read -P 0x11 -s abc 0 1",
                             "read -P 0x11 -l 1x 0 1") + RAW, None),
    ("read-dump", c("read -v 0 32", "read -v 65530 40", "read -v 100 7",
                    "write -s pattern.bin 1M-256 256",
                    "read -v 1M-256 256") + RAW, None),
    ("read-quiet-csv", c("read -q 0 4k", "read -C 0 512", "write -q 0 1",
                         "write -C 0 512", "discard -C 0 4k",
                         "readv -C 0 1 2", "writev -C 0 1 2") + RAW, None),
    ("past-eof", c("read 0 2M", "read 1M 1", "read 1M-1 2", "write 1M 1",
                   "writev 1M 1", "readv 1M-512 512 1", "discard 0 2M",
                   "discard 1M 1", "read 1M 0", "write 1M 0") + RAW, None),
    ("bad-numbers", c("read abc 1", "read 0 abc", "read -1 1", "read 0 -1",
                      "read 0 1k7", "read 0x10 0x10", "read 0 5G",
                      "read 0 2G", "read 1.5k 512", "read 0 99999999999E",
                      "write 0 3G", "discard 0 3G", "alloc abc",
                      "alloc 0 -5") + RAW, None),
    ("arg-counts", c("bogus", "read", "read 1 2 3", "length 1", "sleep",
                     "sleep 1 2", "alloc", "alloc 1 2 3", "map 1",
                     "truncate", "truncate 1 2 3 4", "discard 1",
                     "help a b", "flush x", "writev 0", "readv 0",
                     "aio_read 0", "aio_write 0", "info x", "close x",
                     "break x", "sigraise") + RAW, None),
    ("bad-options", c("read -x 0 1", "r -x 0 1", "write -Q 0 1",
                      "readv -b 0 1", "writev -z 0 1", "discard -v 0 1",
                      "truncate -z 1", "open -f raw t.raw",
                      "aio_read -z 0 1", "aio_write -v 0 1",
                      "read -P", "write -s") + RAW, None),
    ("aliases", c("r 0 512", "w 0 512", "l", "i", "a 0", "d 0 512", "f",
                  "t 2M", "l", "o t.raw", "c", "c", "l") + RAW, None),
    ("no-file", c("read 0 1", "length", "help read", "close", "info",
                  "flush", "map", "alloc 0", "discard 0 1", "aio_flush",
                  "truncate 0", "reopen", "sleep 1", "length 1",
                  "write 0 1", "quit", "read 0 1"), None),
    ("help-all", c("help", "?", "help ?", "help q", "help bogus",
                   "help length", "help map"), None),
    ("help-each", c(*["help " + n for n in (
        "abort", "aio_flush", "aio_read", "aio_write", "alloc", "break",
        "close", "discard", "flush", "info", "length", "map", "open",
        "quit", "read", "readv", "remove_break", "reopen", "resume",
        "sigraise", "sleep", "truncate", "wait_break", "write",
        "writev")]), None),
    ("write-flags", c("write -c 0 64k", "write -f 0 512", "write -n 0 512",
                      "write -u 0 512", "write -z -u 0 512",
                      "write -z -n 0 512", "write -z -P 1 0 1",
                      "write -z -c 0 1", "write -b -z 0 512",
                      "write -f -b 0 512", "write -f -c 0 512",
                      "write -b 1 512", "write -b 0 511", "write -c 512 1k",
                      "write -b 0 512", "read -b 0 512", "read -b 1 512",
                      "write -p 0 512", "read -p 0 512",
                      "write -z 0 3G", "write -z -n 0 3G") + RAW, None),
    ("write-from-file", c("write -s pattern.bin 0 3", "read -v 0 16",
                          "write -s nonexist.bin 0 3",
                          "write -s pattern.bin -P 1 0 3",
                          "write -s empty.bin 0 3",
                          "write -s pattern.bin 4096 1000",
                          "read -v 4096 1000") + RAW, None),
    ("zero-writes", c("write -z 0 64k", "read -P 0 0 64k", "write -z 1 3",
                      "read -v 0 16", "write -z -u 128k 4k",
                      "read -P 0 128k 4k", "read -P 0x22 132k 60k")
     + RAW, None),
    ("vectors", c("writev -P 7 0 512 1k", "readv -P 7 0 512 1k",
                  "readv -v 0 8 8", "readv -P 8 0 512", "writev 0 1 0",
                  "writev -q 0 1", "writev -f 0 1", "readv -q 0 1",
                  "readv 0 3G", "readv 0 1G 1G 1G", "readv 0 1x",
                  "writev -P 300 0 1", "readv -v 2 3 5 7") + RAW, None),
    ("aio", c("aio_write -P 0x33 0 4k 4k", "aio_flush",
              "aio_read -P 0x33 0 8k", "aio_flush",
              "aio_read -P 0x34 0 4k", "aio_flush",
              "aio_read -v 0 16", "aio_flush",
              "aio_read 1M 4k", "aio_flush", "aio_write 1M 1", "aio_flush",
              "aio_read -C 0 512", "aio_flush", "aio_read -q 0 512",
              "aio_flush", "aio_read -i 0 512", "aio_write -i 0 512",
              "aio_write -f 0 512", "aio_flush", "aio_write 0 0",
              "aio_flush", "aio_read 0 0", "aio_flush") + RAW, None),
    ("aio-errors", c("aio_write -u 0 512", "aio_write -z 0 512 512",
                     "aio_read abc 1", "aio_write 0 abc",
                     "aio_read -P 300 0 1", "aio_write -P x 0 1",
                     "aio_read 0 3G", "aio_write -z 0 1k", "aio_flush",
                     "read -P 0 0 1k") + RAW, None),
    ("aio-at-exit", c("aio_write -P 0x44 0 4k") + RAW, None),
    ("map-alloc-raw", c("map", "alloc 0", "alloc 0 1M", "alloc 64k 1M",
                        "alloc 70000 10", "alloc 1M", "alloc 2M",
                        "alloc 0 0", "alloc 1M-1 10") + RAW, None),
    ("length-truncate", c("length", "truncate 2M", "length",
                          "truncate -m full 3M", "length",
                          "truncate -m bogus 3M", "truncate abc",
                          "truncate -m falloc abc", "truncate 1 2",
                          "truncate 1000", "length", "read 0 1024",
                          "read 1000 24", "truncate -1", "truncate 0",
                          "length", "read 0 1") + RAW, None),
    ("info-raw", c("info", "flush", "f") + RAW, None),
    ("info-probed", c("info", "read 0 512") + ["-r", "t.raw"], None),
    ("read-only", ["-r"] + c("write 0 512", "discard 0 512",
                             "truncate 2M", "writev 0 512",
                             "aio_write 0 512", "aio_flush",
                             "write -z 0 512", "read 0 512") + RAW, None),
    ("open-close", c("open -o driver=raw t.raw", "info", "close", "close",
                     "open -r -o driver=raw t.raw", "write 0 1",
                     "open -o driver=raw t.raw", "close",
                     "open nonexist.raw", "open -o driver=raw nonexist.raw",
                     "open -t bogus t.raw", "open -d bogus t.raw",
                     "open -i bogus t.raw", "open a b",
                     "open -o driver=raw,foo=bar t.raw",
                     "open -U -o driver=raw t.raw",
                     "open -o driver=null-co", "length", "close",
                     "open -r -U -o driver=raw t.raw", "read 0 1",
                     "open -n -o driver=raw t.raw", "close",
                     "open -t none -d ignore -o driver=raw t.raw",
                     "discard 0 4k", "read -P 0x11 0 4k"), None),
    ("reopen", c("open -r -o driver=raw t.raw", "write 0 1", "reopen -w",
                 "write 0 1", "reopen -r", "write 0 1", "reopen -r -w",
                 "reopen -c none", "read 0 4k", "reopen -c bogus",
                 "reopen -o foo=bar", "reopen -o read-only=on",
                 "reopen x", "reopen -x", "reopen -w -o read-only=off",
                 "reopen -c none -o cache.direct=on", "length"), None),
    ("sleep-and-signals", c("sleep abc", "sleep 10", "sleep 1k",
                            "sleep -5", "sleep 0x10", "sigraise abc",
                            "sigraise 99999", "sigraise 0",
                            "break write_aio A", "remove_break A",
                            "resume A") + RAW, None),
    ("null-co", ["-f", "null-co"] + c("info", "map", "length", "alloc 0",
                                      "read -v 0 16", "write 0 1",
                                      "truncate 1M", "length")
     + ["null-co://"], None),
    ("image-opts", ["--image-opts"] + c("info", "length", "read 0 512",
                                        "open -o driver=raw t.raw",
                                        "close", "open -o driver=raw",
                                        "open driver=raw,file=t.raw",
                                        "read -P 0x11 0 512")
     + ["driver=raw,file.filename=t.raw"], None),
    ("image-opts-null", ["--image-opts", "-c", "info", "-c", "read -v 0 8",
                         "driver=null-co,size=1000,read-zeroes=on"], None),
    ("quit-stops", c("read 0 1", "q", "read 0 1") + RAW, None),
    ("main-options", ["-n", "-t", "writeback", "-d", "on", "-i", "threads"]
     + c("read -P 0x11 0 512", "write 0 512") + RAW, None),
    ("cache-none-unaligned", ["-n"] + c("read 1 3", "write 5 7",
                                        "read -P 0xcd 5 7") + RAW, None),
    ("misalign", ["-m", "-n"] + c("read -P 0x11 0 4k", "write 0 4k",
                                  "readv -P 0xcd 0 1k 3k") + RAW, None),
    ("force-share-rw", ["-U"] + c("read 0 1") + RAW, None),
    ("force-share-ro", ["-U", "-r"] + c("read 0 1") + RAW, None),
    ("bad-cache", ["-t", "bogus", "t.raw"], None),
    ("bad-discard", ["-d", "bogus", "t.raw"], None),
    ("bad-aio", ["-i", "bogus", "t.raw"], None),
    ("aio-native-needs-direct", ["-i", "native"] + RAW, None),
    ("aio-native-direct", ["-k", "-n"] + c("read 0 512") + RAW, None),
    ("format-and-image-opts", ["--image-opts", "-f", "raw", "t.raw"], None),
    ("unknown-option", ["-q", "t.raw"], None),
    ("missing-file", c("read 0 1") + ["-f", "raw", "nonexist.raw"], None),
    ("wrong-format", c("read 0 1") + ["-f", "qcow2", "t.raw"], None),
    ("interactive", ["-f", "raw", "t.raw"],
     "read 0 1\n\nhelp length\nbogus\nread -P 1 0 1\n  read   0   1  \n"
     "read \"0\" 1\nq\nread 0 1\n"),
    ("interactive-no-newline", ["-f", "raw", "t.raw"], "read -P 0x11 0 1"),
    ("interactive-no-file", [], "length\nopen -o driver=raw t.raw\n"
     "length\nquit extra\n"),
    ("interactive-aio", ["-f", "raw", "t.raw"],
     "aio_write -P 0x66 0 512\naio_flush\nread -P 0x66 0 512\n"),
    ("getopt-permutes", c("read 0 512 -v", "read 0 -v 16", "write 0 512 -P 5",
                          "read -- 0 1", "read -P 5 -- 0 512",
                          "readv 0 -q 512") + RAW, None),
    ("aio-zero-pattern", c("aio_write -z -P 1 0 512", "aio_flush",
                           "aio_write -z -u 0 512", "aio_flush",
                           "aio_write -z -f 4k 512", "aio_flush",
                           "read -P 0 0 512") + RAW, None),
    ("sigraise-term", c("read 0 1", "sigraise 15", "read 0 1") + RAW, None),
    ("help-exit-code", c("help bogus"), None),
    ("help-no-error", c("help", "help read"), None),
    ("small-image", c("read 0 4k", "read 4k 1", "map", "alloc 0 1M",
                      "write -P 1 4095 1", "read -v 4080 16",
                      "truncate 5000", "length", "read -v 4090 16")
     + ["-f", "raw", "small.raw"], None),
    ("probed-raw-rw", c("write -P 0x51 0 512", "read -P 0x51 0 512",
                        "write -s pattern.bin 512 512", "info")
     + ["t.raw"], None),
    ("empty-commands", c("", " ", "read 0 1", "  ") + RAW, None),
    ("image-opts-open-o", ["--image-opts"] + c("close",
                                               "open -o driver=raw t.raw",
                                               "open -r driver=raw,file=x",
                                               "open driver=raw,"
                                               "file.filename=t.raw",
                                               "length")
     + ["driver=raw,file.filename=t.raw"], None),
    ("image-opts-force-share", ["--image-opts", "-U", "-c", "read 0 1",
                                "driver=raw,file.filename=t.raw,"
                                "read-only=on"], None),
    ("image-opts-force-share-conflict",
     ["--image-opts", "-U", "-c", "read 0 1",
      "driver=raw,file.filename=t.raw,read-only=on,force-share=off"], None),
    ("file-protocol", ["-f", "file"] + c("info", "map", "truncate 8M", "map",
                                         "alloc 2M 1M", "discard 4M 1M",
                                         "read -P 0 4M 1M", "length")
     + ["t.raw"], None),
    ("tabs-are-words", c("read\t0 1", "read 0\t1") + RAW, None),
]

QCOW2_SESSIONS = [
    ("qcow2-compressed", c("write -c 0 64k", "read -P 0xcd 0 64k", "map",
                           "write -c -P 0x11 64k 64k", "read -P 0x11 64k 64k",
                           "write -c 4k 64k", "write -c 0 4k")
     + ["q.qcow2"], None),
    ("qcow2-map", c("map", "alloc 0 1M", "alloc 64k 1M", "alloc 64k",
                    "write 200k 1k", "map", "read -P 0x33 64k 64k",
                    "read -P 0 256k 64k") + ["q.qcow2"], None),
    ("qcow2-info", c("info", "length") + ["q.qcow2"], None),
    ("qcow2-rw", ["-f", "qcow2"] + c("write -P 0x77 1000 5000",
                                     "read -P 0x77 1000 5000",
                                     "write -z 0 64k", "discard 64k 64k",
                                     "map", "truncate 2M", "length")
     + ["q.qcow2"], None),
    ("qcow2-probe-ro", ["-r"] + c("info", "map", "write 0 1", "alloc 0 1M")
     + ["q.qcow2"], None),
    ("qcow2-aio", c("aio_write -P 0x12 0 4k 4k", "aio_flush",
                    "aio_read -P 0x12 0 8k", "aio_flush",
                    "aio_write -z 8k 8k", "aio_flush",
                    "readv -P 0 8k 4k 4k", "map") + ["q.qcow2"], None),
    ("qcow2-reopen", c("reopen -r", "write 0 1", "reopen -w", "write 0 1",
                       "reopen -o cache.no-flush=on", "write 0 1",
                       "reopen -o detect-zeroes=on", "info")
     + ["q.qcow2"], None),
    ("qcow2-grow-info", c("truncate 3G", "info", "length", "map")
     + ["q.qcow2"], None),
]

# The block layer has no compressed-write or VM-state API yet: qemu-io says
# "Operation not supported" where QEMU's qcow2 succeeds; our qcow2 driver
# does not take the "lazy-refcounts" open option yet.
QCOW2_MISSING = [
    ("qcow2-reopen-lazy", c("reopen -o lazy-refcounts=on", "info")
     + ["q.qcow2"], None),
    ("qcow2-vmstate", c("write -b -P 0x42 0 512", "read -b -P 0x42 0 512")
     + ["q.qcow2"], None),
]


def qcow2_supported(qx):
    res = qx.run("qemu-img", "--help")
    match = re.search(r"^Supported formats: (.*)$", res.stdout, re.M)
    return bool(match) and "qcow2" in match.group(1).split()


def run_session(binaries, base, args, stdin, qcow2):
    """Runs one session in a fresh directory; returns the transcript."""
    work = base / binaries.kind
    work.mkdir()
    setup_images(work, qcow2)
    res = run([binaries.path("qemu-io")] + args, argv0="qemu-io",
              input=stdin, cwd=work, timeout=60)
    images = {}
    for name in ("t.raw", "small.raw", "q.qcow2"):
        path = work / name
        if path.exists():
            images[name] = path.read_bytes()
    text = (f"exit: {res.returncode}\n--- stdout ---\n"
            f"{mask_timings(res.stdout)}--- stderr ---\n{res.stderr}")
    return normalize(text, paths={work: "$WORK"}), images


def compare(qx, ref, tmp_dir, args, stdin, qcow2=False):
    ours, our_images = run_session(qx, tmp_dir, args, stdin, qcow2)
    theirs, their_images = run_session(ref, tmp_dir, args, stdin, qcow2)
    assert ours == theirs, f"ours:\n{ours}\nQEMU's:\n{theirs}"
    for name in their_images:
        if name.endswith(".raw"):
            assert our_images[name] == their_images[name], \
                f"{name} differs after the session"


@pytest.mark.parametrize("args,stdin",
                         [pytest.param(a, s, id=i) for i, a, s in SESSIONS])
def test_session_matches_qemu(qx, ref, tmp_dir, args, stdin):
    compare(qx, ref, tmp_dir, args, stdin)


@pytest.mark.parametrize("args,stdin",
                         [pytest.param(a, s, id=i)
                          for i, a, s in QCOW2_SESSIONS])
def test_qcow2_session_matches_qemu(qx, ref, tmp_dir, args, stdin):
    if not qcow2_supported(qx):
        pytest.skip("our qemu-img does not list qcow2 yet")
    compare(qx, ref, tmp_dir, args, stdin, qcow2=True)


@pytest.mark.xfail(strict=True, reason="no VM state area or "
                   "qcow2 lazy-refcounts option yet")
@pytest.mark.parametrize("args,stdin",
                         [pytest.param(a, s, id=i)
                          for i, a, s in QCOW2_MISSING])
def test_qcow2_missing_features(qx, ref, tmp_dir, args, stdin):
    if not qcow2_supported(qx):
        pytest.fail("our qemu-img does not list qcow2 yet")
    compare(qx, ref, tmp_dir, args, stdin, qcow2=True)


# What QX does not implement yet fails clearly instead of being ignored.
REFUSED = [
    (["-s", "-f", "raw", "t.raw"],
     "qemu-io: option '-s' is not supported yet\n"),
    (["--snapshot", "-f", "raw", "t.raw"],
     "qemu-io: option '--snapshot' is not supported yet\n"),
    (["-C", "-f", "raw", "t.raw"],
     "qemu-io: option '-C' is not supported yet\n"),
    (["-T", "foo", "-f", "raw", "t.raw"],
     "qemu-io: option '-T' is not supported yet\n"),
    (["--object", "secret,id=s0,data=x", "-f", "raw", "t.raw"],
     "qemu-io: option '--object' is not supported yet\n"),
    (["-c", "open -s -o driver=raw t.raw"],
     "qemu-io: open: option '-s' is not supported yet\n"),
    (["-c", "open -C -o driver=raw t.raw"],
     "qemu-io: open: option '-C' is not supported yet\n"),
    (["-f", "raw", "-c", "wait_break A", "t.raw"],
     "qemu-io: no request can reach breakpoint 'A': blkdebug is not "
     "supported\n"),
]


@pytest.mark.parametrize("args,stderr", REFUSED)
def test_unsupported_is_refused(qx, tmp_dir, args, stderr):
    setup_images(tmp_dir)
    before = (tmp_dir / "t.raw").read_bytes()
    res = qx.run("qemu-io", *args, cwd=tmp_dir, argv0="qemu-io")
    assert res.returncode == 1, res
    assert res.stdout == "", res
    assert res.stderr == stderr, res
    assert (tmp_dir / "t.raw").read_bytes() == before


def test_help_still_works_after_refused_option(qx):
    res = qx.run("qemu-io", "-s", "--help", argv0="qemu-io")
    assert res.returncode == 0, res
    assert res.stdout.startswith("Usage: qemu-io [OPTIONS]..."), res


def test_aio_completes_during_sleep(qx, tmp_dir):
    """Completions print while a later command waits, as in QEMU."""
    setup_images(tmp_dir)
    res = qx.run("qemu-io", "-f", "raw", "-c", "aio_write -P 0x55 0 4k",
                 "-c", "sleep 200", "-c", "read -P 0x55 0 4k", "t.raw",
                 cwd=tmp_dir)
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert lines[0] == "wrote 4096/4096 bytes at offset 0", res
    assert lines[2] == "read 4096/4096 bytes at offset 0", res
    assert (tmp_dir / "t.raw").read_bytes()[:4096] == b"\x55" * 4096


def _lock_offsets(path):
    """Start offsets of the locks any process holds on path."""
    inode = os.stat(path).st_ino
    offsets = set()
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            # "1: OFDLCK ADVISORY READ -1 08:01:1234 100 100"
            if fields[5].endswith(f":{inode}"):
                offsets.add(int(fields[6]))
    return offsets


def _held_locks(binary, directory, args):
    proc = subprocess.Popen([str(binary)] + args, cwd=directory,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        offsets = set()
        while time.monotonic() < deadline:
            offsets = _lock_offsets(directory / "t.raw")
            if offsets and ("truncate 1M" not in args or
                            103 in offsets):
                break
            time.sleep(0.05)
        return offsets
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("args", [
    ["-f", "raw", "-c", "sleep 100000", "t.raw"],
    ["-r", "-f", "raw", "-c", "sleep 100000", "t.raw"],
    ["-f", "raw", "-c", "truncate 1M", "-c", "sleep 100000", "t.raw"],
], ids=["rw", "ro", "after-truncate"])
def test_locks_match_qemu(qx, ref, tmp_dir, args):
    """Other QEMU processes see the same image locks from both tools."""
    setup_images(tmp_dir)
    ours = _held_locks(qx.path("qemu-io"), tmp_dir, args)
    theirs = _held_locks(ref.path("qemu-io"), tmp_dir, args)
    assert theirs, "QEMU's qemu-io took no lock"
    assert ours == theirs
