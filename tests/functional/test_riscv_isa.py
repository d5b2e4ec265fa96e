"""Bare-metal RISC-V ISA programs: our hart against QEMU 7.2.

Each program of tests/guest/isa/ prints one "name value" line per check
and a final "checks N" line, then ends through the sifive_test device.  It
runs under the reference qemu-system-riscv64 (virt board, CPU reduced to
our RV64GC) and under riscv-isa-runner (our hart on a minimal board); the
texts and exit statuses must be identical, and the text must hold the
number of result lines the program is known to print, so an empty or cut
short run cannot pass.

Where our hart is known to differ from QEMU 7.2, the differing lines are
listed in KNOWN_DIFFS with the reason; a run whose only differences are
known ones is an expected failure naming them, any other difference fails.
"""

import re

import pytest

from conftest import build_dir, run

QEMU_CPU = ("rv64,h=off,sstc=off,zba=off,zbb=off,zbc=off,zbs=off,"
            "svinval=off,svnapot=off,svpbmt=off")

# Program -> number of result lines it prints (its "checks N").
PROGRAMS = {
    "amo": 78,
    "fp": 9458,
    "misaligned": 384,
    "pagecross": 1084,
    "paging": 284,
    "trap": 129,
}

# Program -> [(regex on result line names, why ours differs from QEMU
# 7.2)].  The lead decides whether our hart follows QEMU's quirk.
KNOWN_DIFFS = {}

LINE_RE = re.compile(r"^(\S+) (0x[0-9a-f]{16}|none)$")
TIMEOUT = 120


def program_path(name):
    path = build_dir() / "tests/guest/isa" / f"isa-{name}.elf"
    if not path.is_file():
        pytest.skip(f"{path} is not built (no riscv64-linux-gnu-gcc)")
    return path


def run_reference(ref, elf):
    return ref.run("qemu-system-riscv64", "-M", "virt", "-bios", "none",
                   "-nographic", "-kernel", elf, "-cpu", QEMU_CPU,
                   "-smp", "1", "-m", "128M", timeout=TIMEOUT)


def run_ours(elf):
    runner = build_dir() / "tests/guest/isa/riscv-isa-runner"
    return run([runner, elf], timeout=TIMEOUT)


def known_reason(program, line):
    """Why result line differs from QEMU 7.2, if it is a known bug."""
    for pattern, why in KNOWN_DIFFS.get(program, []):
        if re.match(pattern, line):
            return why
    return None


def parse(name, text):
    """Result lines as (name, value) pairs; checks the trailer."""
    lines = text.splitlines()
    assert lines, f"{name}: no output"
    trailer = re.fullmatch(r"checks (\d+)", lines[-1])
    assert trailer, f"{name}: output does not end with 'checks N':\n{text}"
    results = []
    for line in lines[:-1]:
        m = LINE_RE.match(line)
        assert m, f"{name}: malformed result line {line!r}"
        results.append((m.group(1), m.group(2)))
    assert len(results) == int(trailer.group(1)), \
        f"{name}: {len(results)} result lines, trailer says {lines[-1]}"
    return results


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_isa_program(ref, name):
    elf = program_path(name)
    theirs = run_reference(ref, elf)
    ours = run_ours(elf)

    # The reference must run the program to its end: a broken program is
    # not a difference between the harts.
    assert theirs.returncode == 0, f"QEMU run failed:\n{theirs}"
    want = parse(name, theirs.stdout)
    assert len(want) == PROGRAMS[name], \
        f"{name}: QEMU printed {len(want)} result lines, expected " \
        f"{PROGRAMS[name]}"

    assert ours.returncode == theirs.returncode, f"our run:\n{ours}"
    got = parse(name, ours.stdout)
    assert [n for n, _ in got] == [n for n, _ in want], \
        f"{name}: result lines differ in names/order:\n{ours.stdout}"

    diffs = [(n, w, g) for (n, w), (_, g) in zip(want, got) if w != g]
    report = "\n".join(f"  {n}: qemu {w} ours {g}" for n, w, g in diffs)
    reasons = set()
    for n, _, _ in diffs:
        why = known_reason(name, n)
        assert why, f"{name}: our hart differs from QEMU 7.2:\n{report}"
        reasons.add(why)
    if not diffs:
        assert ours.stdout == theirs.stdout
    else:
        pytest.xfail(f"{name}: known differences from QEMU 7.2:\n{report}"
                     "\n" + "\n".join(sorted(reasons)))


def test_runner_rejects_bad_programs(tmp_dir):
    """The runner reports unusable programs instead of running garbage."""
    runner = build_dir() / "tests/guest/isa/riscv-isa-runner"
    missing = run([runner, tmp_dir / "missing.elf"])
    assert missing.returncode == 125
    assert "missing.elf" in missing.stderr

    truncated = tmp_dir / "truncated.elf"
    truncated.write_bytes(b"\x7fELF\x02\x01\x01")
    result = run([runner, truncated])
    assert result.returncode == 125
    assert "truncated ELF header" in result.stderr

    # An ELF64 RISC-V header whose program headers lie past the end.
    header = bytearray(64)
    header[0:7] = b"\x7fELF\x02\x01\x01"
    header[18:20] = (243).to_bytes(2, "little")         # EM_RISCV
    header[32:40] = (4096).to_bytes(8, "little")        # e_phoff
    header[54:56] = (56).to_bytes(2, "little")          # e_phentsize
    header[56:58] = (1).to_bytes(2, "little")           # e_phnum
    bad = tmp_dir / "bad-phdr.elf"
    bad.write_bytes(bytes(header))
    result = run([runner, bad])
    assert result.returncode == 125
    assert "bad program header table" in result.stderr

    # A flat binary that spins forever hits the instruction limit.
    spin = tmp_dir / "spin.bin"
    spin.write_bytes((0x0000006F).to_bytes(4, "little"))   # j .
    result = run([runner, "--max-insns", "100000", spin])
    assert result.returncode == 125
    assert "no result after 100000 instructions" in result.stderr
