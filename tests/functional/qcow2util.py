"""Helpers for the qcow2 interop and hostile-image suites.

- Header: read and patch the fields of a qcow2 header in place (offsets
  from docs/interop/qcow2.txt of QEMU 7.2).
- write_mixed(): a deterministic raw file with random data, compressible
  runs, explicit zeroes and holes.
- Workload: a seeded list of qemu-io writes, zero writes and discards, with
  the raw "shadow" content they must leave behind.
- limited(): a command line run under `ulimit -v` so that a runaway
  allocation fails instead of taking the machine down.
"""

import random
import struct

from conftest import run

# Header fields: name -> (offset, struct format).
FIELDS = {
    "magic": (0, ">I"),
    "version": (4, ">I"),
    "backing_file_offset": (8, ">Q"),
    "backing_file_size": (16, ">I"),
    "cluster_bits": (20, ">I"),
    "size": (24, ">Q"),
    "crypt_method": (32, ">I"),
    "l1_size": (36, ">I"),
    "l1_table_offset": (40, ">Q"),
    "refcount_table_offset": (48, ">Q"),
    "refcount_table_clusters": (56, ">I"),
    "nb_snapshots": (60, ">I"),
    "snapshots_offset": (64, ">Q"),
    "incompatible_features": (72, ">Q"),
    "compatible_features": (80, ">Q"),
    "autoclear_features": (88, ">Q"),
    "refcount_order": (96, ">I"),
    "header_length": (100, ">I"),
    "compression_type": (104, ">B"),
}

L1E_OFFSET_MASK = 0x00fffffffffffe00
QCOW_OFLAG_COPIED = 1 << 63


class Header:
    """The qcow2 header of the file at path; patch() writes through."""

    def __init__(self, path):
        self.path = path

    def __getitem__(self, name):
        off, fmt = FIELDS[name]
        with open(self.path, "rb") as f:
            f.seek(off)
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

    def patch(self, name, value):
        off, fmt = FIELDS[name]
        self.poke(off, struct.pack(fmt, value))

    def poke(self, offset, data):
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def peek_u64(self, offset):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return struct.unpack(">Q", f.read(8))[0]

    def poke_u64(self, offset, value):
        self.poke(offset, struct.pack(">Q", value))

    @property
    def cluster_size(self):
        return 1 << self["cluster_bits"]

    def l1_entry(self, index=0):
        """File offset of L1 entry index."""
        return self["l1_table_offset"] + 8 * index

    def l2_table(self, l1_index=0):
        return self.peek_u64(self.l1_entry(l1_index)) & L1E_OFFSET_MASK

    def refblock(self, index=0):
        return self.peek_u64(self["refcount_table_offset"] + 8 * index)


def write_mixed(path, size, seed):
    """A raw file of size bytes: random data, compressible runs, explicit
    zeroes and holes, in 64 KiB pieces chosen by seed."""
    rng = random.Random(seed)
    piece = 65536
    with open(path, "wb") as f:
        for off in range(0, size, piece):
            kind = rng.randrange(4)
            n = min(piece, size - off)
            f.seek(off)
            if kind == 0:
                f.write(rng.randbytes(n))
            elif kind == 1:
                f.write(bytes([rng.randrange(1, 256)]) * n)
            elif kind == 2:
                f.write(b"\0" * n)
            # kind 3: hole
        f.truncate(size)


def write_compressible(path, size, seed):
    """size bytes of short runs of few symbols: compresses well."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += bytes([rng.randrange(4)]) * rng.randrange(1, 300)
    with open(path, "wb") as f:
        f.write(bytes(out[:size]))


class Workload:
    """A seeded list of qemu-io commands and the raw image they produce.

    Writes use a pattern byte (-P), so the shadow is exact; zero writes
    alternate between plain and -u (unmap allowed); discards only change
    the shadow when they may not leave data behind, so they are followed by
    a zero write of the same range (qcow2 discard of a partial cluster
    keeps the data; QEMU's and ours may differ there legitimately).
    """

    SIZES = [512, 4096, 65536, 70000, 200000, 1 << 20]

    def __init__(self, size, seed, count=60, base=None):
        self.size = size
        self.rng = random.Random(seed)
        self.shadow = bytearray(base if base is not None else bytes(size))
        self.commands = []
        for _ in range(count):
            self._one()

    def _range(self):
        length = self.rng.choice(self.SIZES)
        length = min(length, self.size)
        # Sector-aligned: qemu-io accepts any offset, but image formats
        # at 512-byte granularity keep every driver on its fast path.
        off = self.rng.randrange(0, (self.size - length) // 512 + 1) * 512
        return off, length

    def _one(self):
        off, length = self._range()
        kind = self.rng.random()
        if kind < 0.7:
            pattern = self.rng.randrange(1, 256)
            self.commands.append(f"write -q -P {pattern} {off} {length}")
            self.shadow[off:off + length] = bytes([pattern]) * length
        elif kind < 0.85:
            flag = "-z -u" if self.rng.random() < 0.5 else "-z"
            self.commands.append(f"write -q {flag} {off} {length}")
            self.shadow[off:off + length] = bytes(length)
        else:
            self.commands.append(f"discard -q {off} {length}")
            self.commands.append(f"write -q -z {off} {length}")
            self.shadow[off:off + length] = bytes(length)

    def args(self):
        """qemu-io arguments: -c CMD for each command."""
        out = []
        for cmd in self.commands:
            out += ["-c", cmd]
        return out

    def write_shadow(self, path):
        with open(path, "wb") as f:
            f.write(bytes(self.shadow))


LIMIT_AS = 2 << 30


def limited(args, *, timeout=30, cwd=None):
    """Runs args with a 2 GiB address-space limit (prlimit --as)."""
    return run(["prlimit", f"--as={LIMIT_AS}", "--"] + [str(a) for a in args],
               timeout=timeout, cwd=cwd)


def qemu_check_clean(ref, img, fmt="qcow2"):
    """QEMU's check finds no errors and no leaks; returns its Result."""
    r = ref.run("qemu-img", "check", "-f", fmt, img)
    assert r.returncode == 0, f"QEMU's check of {img}:\n{r}"
    assert "No errors were found on the image." in r.stdout, str(r)
    assert "leaked" not in r.stdout, str(r)
    return r


def qemu_compare(ref, a, b, fmt_a="qcow2", fmt_b="raw"):
    """QEMU's compare says a and b have the same content."""
    r = ref.run("qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, a, b)
    assert r.returncode == 0, f"QEMU's compare {a} {b}:\n{r}"
    return r
