"""The riscv64 guest kit (tests/guest/) boots and works under QEMU 7.2.

These tests prove the kit itself (kernel config, busybox initramfs, /init,
run-in-guest.py) against the reference /usr/bin/qemu-system-riscv64, so that
our emulator's guest tests can rely on it.  The kit is built on first use
(tests/guest/build-kit, cached per machine); the tests are skipped only when
it cannot be built, with the reason.
"""

import hashlib
import importlib.util
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from conftest import SOURCE_DIR

GUEST_DIR = SOURCE_DIR / "tests" / "guest"
REF_EMULATOR = "/usr/bin/qemu-system-riscv64"


def _load_harness():
    spec = importlib.util.spec_from_file_location(
        "run_in_guest", GUEST_DIR / "run-in-guest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


@pytest.fixture(scope="module")
def kit():
    if not os.access(REF_EMULATOR, os.X_OK):
        pytest.skip(f"{REF_EMULATOR} is not installed")
    try:
        return harness.find_kit(build=True)
    except harness.KitError as exc:
        pytest.skip(f"guest kit cannot be built: {exc}")


def guest(kit, script, **kwargs):
    kwargs.setdefault("timeout", 240)
    return harness.run_in_guest(REF_EMULATOR, script, kit=kit, **kwargs)


def raw_disk(path, size_mb):
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    return path


def test_kit_files(kit):
    stamp = (kit / "stamp").read_text()
    for name in ("Image", "initramfs.cpio.gz"):
        data = (kit / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() + "  " + name in stamp
    # arch/riscv/boot/Image header: "RISCV\0\0\0" magic at offset 48,
    # "RSC\x05" at offset 56.
    header = (kit / "Image").read_bytes()[:64]
    assert header[48:56] == b"RISCV\0\0\0"
    assert header[56:60] == b"RSC\x05"


def test_warm_cache_is_fast(kit):
    start = time.monotonic()
    proc = subprocess.run([str(GUEST_DIR / "build-kit"), "--print-dir"],
                          capture_output=True, text=True, timeout=30,
                          check=False)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    # About 0.2 s on an idle machine; the bound leaves room for load.
    assert elapsed < 5, f"warm build-kit took {elapsed:.1f} s"
    assert pathlib.Path(proc.stdout.strip()) == kit


def test_devices_smp_rng_rtc_net(kit):
    script = r"""
set -e
echo "cpus=$(grep -c '^processor' /proc/cpuinfo)"
grep -m1 '^mmu' /proc/cpuinfo
echo "rng=$(cat /sys/class/misc/hw_random/rng_current)"
echo "rngbytes=$(head -c 32 /dev/hwrng | wc -c)"
echo "rtc=$(cat /sys/class/rtc/rtc0/name)"
echo "year=$(date +%Y)"
udhcpc -q -n -i eth0 -t 5 > /dev/null 2>&1
echo "ip=$(ip -4 addr show dev eth0 | sed -n 's/.*inet \([0-9./]*\).*/\1/p')"
grep -q ' /proc proc' /proc/mounts && echo mounts=ok
"""
    res = guest(kit, script, net=True)
    assert res.ok, res.describe()
    out = res.script_output()
    assert "cpus=2\n" in out, out
    assert "sv39" in out or "sv48" in out or "sv57" in out, out
    assert "rng=virtio_rng" in out, out
    assert "rngbytes=32\n" in out, out
    assert "rtc=rtc-goldfish" in out or "goldfish" in out, out
    year = int(out.split("year=")[1].split()[0])
    assert year >= 2024, out
    assert "ip=10.0.2.15/24\n" in out, out
    assert "mounts=ok" in out, out
    assert res.powered_off
    assert res.boot_seconds > 0


def test_mkfs_write_sha256_poweroff(kit, tmp_dir):
    disk = raw_disk(tmp_dir / "disk.raw", 64)
    payload = "qx guest kit\n" * 1000
    script = r"""
set -e
mke2fs -q /dev/vda
mount -t ext4 /dev/vda /mnt
mkdir /mnt/dir
yes 'qx guest kit' | head -n 1000 > /mnt/dir/payload
dd if=/dev/zero of=/mnt/zero bs=1M count=4 2>/dev/null
sha256sum /mnt/dir/payload /mnt/zero
sync
umount /mnt
mount -t ext4 -o ro /dev/vda /mnt
sha256sum /mnt/dir/payload
umount /mnt
"""
    res = guest(kit, script, disks=[disk])
    assert res.ok, res.describe()
    out = res.script_output()
    want = hashlib.sha256(payload.encode()).hexdigest()
    zero = hashlib.sha256(bytes(4 << 20)).hexdigest()
    assert out.count(f"{want}  /mnt/dir/payload") == 2, out
    assert f"{zero}  /mnt/zero" in out, out
    # The host sees a clean file system holding the same bytes.
    if shutil.which("e2fsck") and shutil.which("debugfs"):
        fsck = subprocess.run(["e2fsck", "-fn", str(disk)],
                              capture_output=True, text=True, check=False)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        cat = subprocess.run(["debugfs", "-R", "cat /dir/payload",
                              str(disk)], capture_output=True, check=False)
        assert cat.stdout == payload.encode()


def test_host_ext4_read_write(kit, tmp_dir):
    mkfs = shutil.which("mkfs.ext4")
    if not mkfs:
        pytest.skip("mkfs.ext4 (e2fsprogs) is not installed on the host")
    src = tmp_dir / "src"
    src.mkdir()
    data = os.urandom(300000)
    (src / "blob").write_bytes(data)
    disk = raw_disk(tmp_dir / "ext4.raw", 32)
    subprocess.run([mkfs, "-q", "-F", "-d", str(src), str(disk)],
                   check=True)
    script = r"""
set -e
mount /dev/vda /mnt
grep ' /mnt ' /proc/mounts
sha256sum /mnt/blob
echo written-by-guest > /mnt/new
umount /mnt
"""
    res = guest(kit, script, disks=[disk])
    assert res.ok, res.describe()
    out = res.script_output()
    assert "/dev/vda /mnt ext4" in out, out
    assert f"{hashlib.sha256(data).hexdigest()}  /mnt/blob" in out, out
    if shutil.which("debugfs"):
        cat = subprocess.run(["debugfs", "-R", "cat /new", str(disk)],
                             capture_output=True, check=False)
        assert cat.stdout == b"written-by-guest\n"


def test_exit_status_and_long_script(kit):
    # Longer than the kernel command line can carry even compressed: it
    # travels on a script disk that /init finds by its #QX-SCRIPT header.
    noise = "".join(f": {os.urandom(24).hex()}\n" for _ in range(40))
    script = noise + "echo long-script-ran\nexit 3\n"
    res = guest(kit, script)
    assert res.exit_status == 3, res.describe()
    assert res.emulator_rc == 0, res.describe()
    assert "qx.script=disk" in " ".join(res.args)
    assert "long-script-ran" in res.script_output()


def test_cli_harness(kit, tmp_dir):
    log = tmp_dir / "console.log"
    proc = subprocess.run(
        ["/usr/bin/python3", str(GUEST_DIR / "run-in-guest.py"),
         "--emulator", REF_EMULATOR, "--kit", str(kit), "--quiet",
         "--log", str(log), "--smp", "1",
         "--command", "echo hello-from-guest; exit 7"],
        capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 7, proc.stderr
    text = log.read_text()
    assert "hello-from-guest" in text
    assert "QX-GUEST-EXIT=7" in text
    assert "emulator rc=0 script exit=7" in proc.stderr


def test_panic_is_reported(kit, tmp_dir):
    # No init to run: the kernel panics, panic=-1 reboots, -no-reboot ends
    # the emulator; the harness must say so instead of waiting.
    log = tmp_dir / "console.log"
    proc = subprocess.run(
        ["/usr/bin/python3", str(GUEST_DIR / "run-in-guest.py"),
         "--emulator", REF_EMULATOR, "--kit", str(kit), "--quiet",
         "--log", str(log), "--timeout", "120",
         "--append", "rdinit=/nonexistent init=/nonexistent",
         "--command", "true"],
        capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 125, proc.stderr
    assert "Kernel panic - not syncing" in proc.stderr
    assert "QX-GUEST-READY" not in log.read_text()
