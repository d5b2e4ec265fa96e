"""Crash consistency: kill -9 a qemu-io that writes to a qcow2 image at a
random moment; QEMU 7.2's `qemu-img check` must find no corruption (leaks
are allowed), and every write that a completed flush covered must read
back.

The writer runs under a pseudo-terminal so that each "wrote ..." line
reaches us the moment the write completes (a pipe would buffer them).
Commands run one after another, so a "wrote" line printed after a flush
proves that flush completed.  QX_CRASH_TRIALS sets the number of trials
(the bench script runs 1000).
"""

import os
import pty
import random
import select
import signal
import subprocess
import time

import pytest

from conftest import BASE_ENV, run

TRIALS = int(os.environ.get("QX_CRASH_TRIALS", "100"))
IMAGE_SIZE = 16 << 20
CLUSTER = 65536


def make_script(rng, count):
    """A list of (command, write) pairs; write is (offset, length, byte) or
    None for a flush."""
    script = []
    for i in range(count):
        if i and rng.random() < 0.25:
            script.append(("flush", None))
            continue
        # Mix cluster-aligned, sub-cluster and cluster-crossing writes.
        length = rng.choice([512, 4096, CLUSTER, CLUSTER + 4096, 3 * CLUSTER])
        offset = rng.randrange(0, IMAGE_SIZE - length) // 512 * 512
        pattern = rng.randrange(1, 256)
        script.append((f"write -P {pattern} {offset} {length}",
                       (offset, length, pattern)))
    return script


def run_and_kill(qemu_io, img, script, kill_after):
    """Runs the script under a pty, kills it after kill_after seconds (or
    when it ends); returns how many "wrote" lines were printed."""
    args = [str(qemu_io), "-f", "qcow2", "-t", "writeback"]
    for cmd, _ in script:
        args += ["-c", cmd]
    args.append(str(img))
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=BASE_ENV, close_fds=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + kill_after
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            break
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                output += os.read(master, 65536)
            except OSError:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Drain what reached the pty before the kill.
    while True:
        ready, _, _ = select.select([master], [], [], 0)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return output.decode(errors="replace").count("wrote ")


def durable_writes(script, printed):
    """Writes that a completed flush covers: those before the last flush
    that is followed by at least one printed write."""
    done_writes = 0
    last_safe = 0   # number of writes covered by a completed flush
    pending_flush_at = None
    for _, write in script:
        if write is None:
            pending_flush_at = done_writes
            continue
        if done_writes >= printed:
            break
        done_writes += 1
        if pending_flush_at is not None:
            last_safe = pending_flush_at
            pending_flush_at = None
    return last_safe


def expected_regions(script, safe_count):
    """Byte ranges whose content is fixed: written by a durable write and
    not overlapped by any later write (which may or may not have landed).
    Returns a list of (offset, length, pattern)."""
    writes = [w for _, w in script if w is not None]
    regions = []
    for i, (off, length, pattern) in enumerate(writes[:safe_count]):
        pieces = [(off, off + length)]
        for (o2, l2, _) in writes[i + 1:]:
            new = []
            for a, b in pieces:
                if o2 + l2 <= a or o2 >= b:
                    new.append((a, b))
                    continue
                if a < o2:
                    new.append((a, o2))
                if o2 + l2 < b:
                    new.append((o2 + l2, b))
            pieces = new
        regions += [(a, b - a, pattern) for a, b in pieces]
    return regions


def verify(ref, img, regions):
    check = ref.run("qemu-img", "check", "-f", "qcow2", img)
    # 0: clean; 3: leaked clusters only (allowed after a crash).
    assert check.returncode in (0, 3), check
    assert "ERROR" not in check.stdout, check
    cmds = []
    for off, length, pattern in regions:
        cmds += ["-c", f"read -q -P {pattern} {off} {length}"]
    for start in range(0, len(cmds), 400):
        res = ref.run("qemu-io", "-f", "qcow2", "-r", *cmds[start:start + 400],
                      img)
        assert res.returncode == 0, res
        assert "Pattern verification failed" not in res.stdout, res


def crash_trials(writer, ref, tmp_dir, trials, seed):
    rng = random.Random(seed)
    killed_mid_run = 0
    for trial in range(trials):
        img = tmp_dir / f"t{trial % 4}.qcow2"
        if img.exists():
            img.unlink()
        assert ref.run("qemu-img", "create", "-f", "qcow2", "-o",
                       f"cluster_size={CLUSTER}", img,
                       str(IMAGE_SIZE)).returncode == 0
        script = make_script(rng, rng.randrange(40, 400))
        printed = run_and_kill(writer, img, script,
                               rng.uniform(0.003, 0.08))
        writes = sum(1 for _, w in script if w is not None)
        killed_mid_run += printed < writes
        safe = durable_writes(script, printed)
        verify(ref, img, expected_regions(script, safe))
    return killed_mid_run


def test_harness_logic():
    """The bookkeeping itself: which writes count as durable."""
    w = lambda o, n, p: (f"write -P {p} {o} {n}", (o, n, p))
    f = ("flush", None)
    script = [w(0, 512, 1), f, w(512, 512, 2), w(0, 512, 3), f, w(4096, 1, 4)]
    assert durable_writes(script, 0) == 0
    assert durable_writes(script, 1) == 0
    assert durable_writes(script, 2) == 1
    assert durable_writes(script, 4) == 3
    # Write 1 (0..512) is overwritten by write 3: only 2's region is fixed.
    assert expected_regions(script, 2) == [(512, 512, 2)]
    assert expected_regions(script, 3) == [(512, 512, 2), (0, 512, 3)]


def test_crash_reference_writer(ref, tmp_dir):
    """The harness against QEMU's own qemu-io (a few trials: it proves the
    harness, ours is the subject)."""
    killed = crash_trials(ref.path("qemu-io"), ref, tmp_dir, 10, seed=1)
    assert killed > 0


def test_crash_our_writer(qx, ref, tmp_dir):
    """The acceptance run: our qemu-io killed mid-write TRIALS times."""
    killed = crash_trials(qx.path("qemu-io"), ref, tmp_dir, TRIALS, seed=2)
    # Most trials must really interrupt the writer, or nothing was tested.
    assert killed > TRIALS // 2, killed
