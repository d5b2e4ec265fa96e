#!/usr/bin/python3
"""Boot the QX guest kit under a riscv64 emulator and run a script in it.

Launches EMULATOR (the reference /usr/bin/qemu-system-riscv64 or ours) on the
"virt" machine with the kit's kernel and initramfs, optional raw/qcow2 disks
as virtio-blk devices, and a shell script that the kit's /init runs
(tests/guest/init).  It captures the serial console and reports:

    exit status   the script's own status (the QX-GUEST-EXIT=N marker)
    emulator rc   the emulator's exit code (0 after the guest powers off)

Command line (exit code: the script's status when the guest ran it and
powered off cleanly; 124 on timeout; 125 when the guest did not report):

    run-in-guest.py [--emulator BIN] [--kit DIR] [--disk FILE[:FORMAT]]...
                    [--smp N] [--memory SIZE] [--net] [--timeout S]
                    [--append ARGS] [--log FILE] [--quiet] [--no-rng]
                    [--emulator-arg ARG]...
                    (--script FILE | --command CMD | --shell)

As a module (tests load it with importlib, the file name has dashes):

    result = run_in_guest(emulator, script, kit=..., disks=[...])
    result.exit_status, result.emulator_rc, result.output, result.ok
"""

import argparse
import base64
import dataclasses
import gzip
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_EMULATOR = "/usr/bin/qemu-system-riscv64"
DEFAULT_APPEND = "console=ttyS0 earlycon panic=-1"

READY = "QX-GUEST-READY"
EXIT_RE = re.compile(r"^QX-GUEST-EXIT=(\d+)\s*$", re.M)
POWEROFF = "QX-GUEST-POWEROFF"
PANIC_RE = re.compile(r"Kernel panic - not syncing.*$", re.M)

# The kernel keeps 1024 bytes of command line on riscv; leave room for the
# console and caller arguments.
MAX_INLINE_SCRIPT = 640
SCRIPT_MAGIC = b"#QX-SCRIPT\n"


class KitError(Exception):
    """The guest kit is not built and could not be built."""


def find_kit(build=True):
    """Directory holding Image and initramfs.cpio.gz; builds it if asked."""
    env_kit = os.environ.get("QX_GUEST_KIT")
    if env_kit:
        return pathlib.Path(env_kit)
    args = [str(HERE / "build-kit"), "--print-dir"]
    if not build:
        args.append("--check")
    proc = subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise KitError(f"tests/guest/build-kit failed "
                       f"(exit {proc.returncode}): {tail}")
    return pathlib.Path(proc.stdout.strip().splitlines()[-1])


@dataclasses.dataclass
class GuestResult:
    """What one boot of the guest left behind."""

    args: list
    output: str            # serial console, \r\n turned into \n
    emulator_rc: int       # None when killed at the timeout
    exit_status: int       # the script's status, None if never reported
    ready: bool            # /init came up (QX-GUEST-READY seen)
    powered_off: bool      # /init asked for poweroff
    timed_out: bool
    panic: str             # the kernel panic line, or ""
    boot_seconds: float    # emulator start until QX-GUEST-READY
    total_seconds: float

    @property
    def ok(self):
        """Script ran, exited 0, and the guest powered the machine off."""
        return (self.exit_status == 0 and self.emulator_rc == 0
                and not self.timed_out and not self.panic)

    def script_output(self):
        """Console text between QX-GUEST-READY and QX-GUEST-EXIT."""
        start = self.output.find(READY + "\n")
        start = 0 if start < 0 else start + len(READY) + 1
        match = EXIT_RE.search(self.output, start)
        end = match.start() if match else len(self.output)
        return self.output[start:end]

    def describe(self):
        """One paragraph for assertion messages."""
        tail = "\n".join(self.output.splitlines()[-30:])
        return (f"emulator rc={self.emulator_rc} exit_status="
                f"{self.exit_status} ready={self.ready} timed_out="
                f"{self.timed_out} panic={self.panic!r}\n"
                f"command: {' '.join(map(str, self.args))}\n"
                f"--- last console lines ---\n{tail}")


def _script_args(script, tmp):
    """Kernel arguments (and maybe a script disk) that carry the script."""
    data = script.encode() if isinstance(script, str) else bytes(script)
    inline = base64.b64encode(data).decode()
    if len(inline) <= MAX_INLINE_SCRIPT:
        return f"qx.run={inline}", None
    packed = base64.b64encode(gzip.compress(data, mtime=0)).decode()
    if len(packed) <= MAX_INLINE_SCRIPT:
        return f"qx.runz={packed}", None
    disk = pathlib.Path(tmp) / "script.img"
    blob = SCRIPT_MAGIC + data + b"\n"
    blob += b"\0" * (-len(blob) % 4096)
    disk.write_bytes(blob)
    return "qx.script=disk", disk


def build_command(emulator, kit, *, disks=(), smp=2, memory="256M",
                  net=False, append="", extra_args=(), script_arg="",
                  script_disk=None, rng=True):
    """The emulator command line for one boot."""
    kit = pathlib.Path(kit)
    args = [str(emulator), "-M", "virt", "-nographic", "-bios", "default",
            "-smp", str(smp), "-m", str(memory), "-no-reboot",
            "-kernel", str(kit / "Image"),
            "-initrd", str(kit / "initramfs.cpio.gz")]
    cmdline = " ".join(x for x in (DEFAULT_APPEND, append, script_arg) if x)
    args += ["-append", cmdline]
    all_disks = list(disks)
    if script_disk is not None:
        all_disks.append((script_disk, "raw"))
    for i, disk in enumerate(all_disks):
        if isinstance(disk, (tuple, list)):
            path, fmt = disk
        else:
            path, fmt = disk, "raw"
        args += ["-drive", f"file={path},format={fmt},if=none,id=hd{i}",
                 "-device", f"virtio-blk-device,drive=hd{i}"]
    if rng:
        args += ["-device", "virtio-rng-device"]
    if net:
        args += ["-netdev", "user,id=net0",
                 "-device", "virtio-net-device,netdev=net0"]
    args += list(extra_args)
    return args


def run_in_guest(emulator, script, *, kit=None, disks=(), smp=2,
                 memory="256M", net=False, append="", extra_args=(),
                 timeout=180, log=None, echo=False, rng=True):
    """Boot, run SCRIPT (shell text) in the guest, wait for poweroff."""
    if kit is None:
        kit = find_kit()
    with tempfile.TemporaryDirectory(prefix="qx-guest-") as tmp:
        script_arg, script_disk = _script_args(script, tmp)
        args = build_command(emulator, kit, disks=disks, smp=smp,
                             memory=memory, net=net, append=append,
                             extra_args=extra_args, script_arg=script_arg,
                             script_disk=script_disk, rng=rng)
        return _run(args, timeout=timeout, log=log, echo=echo)


def _run(args, *, timeout, log=None, echo=False, stdin=subprocess.DEVNULL):
    start = time.monotonic()
    chunks = []
    ready_at = [None]
    proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def reader():
        seen = b""
        while True:
            data = proc.stdout.read1(65536)
            if not data:
                break
            chunks.append(data)
            if echo:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            if ready_at[0] is None:
                seen = (seen + data)[-4096:]
                if READY.encode() in seen:
                    ready_at[0] = time.monotonic() - start

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    timed_out = False
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
        rc = None
    thread.join(timeout=10)
    total = time.monotonic() - start

    raw = b"".join(chunks).decode("utf-8", "replace")
    output = raw.replace("\r\n", "\n").replace("\r", "\n")
    if log:
        pathlib.Path(log).write_text(output)
    match = EXIT_RE.search(output)
    panic = PANIC_RE.search(output)
    return GuestResult(
        args=args, output=output, emulator_rc=rc,
        exit_status=int(match.group(1)) if match else None,
        ready=READY in output,
        powered_off=re.search(r"^" + POWEROFF + r"\s*$", output,
                              re.M) is not None,
        timed_out=timed_out, panic=panic.group(0) if panic else "",
        boot_seconds=ready_at[0] if ready_at[0] is not None else -1.0,
        total_seconds=total)


def _parse_disk(text):
    path, sep, fmt = text.rpartition(":")
    if sep and fmt in ("raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx", "qed"):
        return (path, fmt)
    return (text, "raw")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run a shell script inside the QX riscv64 guest kit.")
    parser.add_argument("--emulator", default=DEFAULT_EMULATOR)
    parser.add_argument("--kit", help="kit directory (default: build-kit)")
    parser.add_argument("--disk", action="append", default=[],
                        help="FILE[:FORMAT], a virtio-blk disk (repeatable)")
    parser.add_argument("--smp", type=int, default=2)
    parser.add_argument("--memory", default="256M")
    parser.add_argument("--net", action="store_true",
                        help="add a virtio-net device on user networking")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--append", default="", help="more kernel arguments")
    parser.add_argument("--no-rng", action="store_true",
                        help="no virtio-rng device")
    parser.add_argument("--emulator-arg", action="append", default=[],
                        metavar="ARG", help="extra emulator argument "
                        "(repeatable, e.g. --emulator-arg=-s)")
    parser.add_argument("--log", help="write the console output here")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the script's output, not the "
                        "whole console")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--script", help="shell script file to run")
    what.add_argument("--command", help="shell command line to run")
    what.add_argument("--shell", action="store_true",
                      help="interactive shell on the console")
    opts = parser.parse_args(argv)

    try:
        kit = pathlib.Path(opts.kit) if opts.kit else find_kit()
    except KitError as exc:
        print(f"run-in-guest: {exc}", file=sys.stderr)
        return 125
    disks = [_parse_disk(d) for d in opts.disk]
    if opts.shell:
        args = build_command(opts.emulator, kit, disks=disks, smp=opts.smp,
                             memory=opts.memory, net=opts.net,
                             append=opts.append, rng=not opts.no_rng,
                             extra_args=opts.emulator_arg)
        return subprocess.call(args)
    if opts.script:
        script = pathlib.Path(opts.script).read_text()
    else:
        script = opts.command + "\n"
    result = run_in_guest(opts.emulator, script, kit=kit, disks=disks,
                          smp=opts.smp, memory=opts.memory, net=opts.net,
                          append=opts.append, timeout=opts.timeout,
                          log=opts.log, echo=not opts.quiet,
                          rng=not opts.no_rng, extra_args=opts.emulator_arg)
    if opts.quiet:
        sys.stdout.write(result.script_output())
    sys.stdout.flush()
    summary = (f"run-in-guest: boot {result.boot_seconds:.2f}s total "
               f"{result.total_seconds:.2f}s emulator rc="
               f"{result.emulator_rc} script exit={result.exit_status}")
    print(summary, file=sys.stderr)
    if result.timed_out:
        print("run-in-guest: timed out", file=sys.stderr)
        return 124
    if result.panic:
        print(f"run-in-guest: {result.panic}", file=sys.stderr)
        return 125
    if result.exit_status is None or result.emulator_rc != 0:
        return 125
    return result.exit_status


if __name__ == "__main__":
    sys.exit(main())
