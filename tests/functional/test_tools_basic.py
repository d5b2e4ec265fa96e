"""Every tool's --version, --help and command-line error handling.

Banners and getopt-style messages are compared with the reference QEMU 7.2
binaries after masking versions and paths (see conftest.normalize).
"""

import re

import pytest

from conftest import REFERENCE_TOOLS, TOOLS, normalize

# The option that prints the version, and a short alias where QEMU has one.
VERSION_FLAGS = {
    "qemu-img": ["--version", "-V"],
    "qemu-io": ["--version", "-V"],
    "qemu-nbd": ["--version", "-V"],
    "qemu-storage-daemon": ["--version", "-V"],
    "qemu-system-riscv64": ["--version", "-version"],
    "qx-migrate-file": ["--version", "-V"],
}

HELP_FLAGS = {
    "qemu-img": ["--help", "-h"],
    "qemu-io": ["--help", "-h"],
    "qemu-nbd": ["--help", "-h"],
    "qemu-storage-daemon": ["--help", "-h"],
    "qemu-system-riscv64": ["--help", "-h", "-help"],
    "qx-migrate-file": ["--help", "-h"],
}


def expected_banner(name, versions):
    """The first lines of our --version output."""
    if name == "qemu-nbd":
        return f"qemu-nbd {versions.string}\n"
    if name == "qemu-system-riscv64":
        return f"QEMU emulator version {versions.string}\n"
    return f"{name} version {versions.string}\n"


def version_cases():
    return [(name, flag) for name, flags in VERSION_FLAGS.items()
            for flag in flags]


def help_cases():
    return [(name, flag) for name, flags in HELP_FLAGS.items()
            for flag in flags]


@pytest.mark.parametrize("name,flag", version_cases())
def test_version_banner(qx, versions, name, flag):
    res = qx.run(name, flag, argv0=name)
    assert res.returncode == 0, res
    assert res.stderr == "", res
    assert res.stdout.startswith(expected_banner(name, versions)), res
    assert "Copyright (c) 2026 the QX developers\n" in res.stdout, res


@pytest.mark.parametrize("name,flag", [c for c in version_cases()
                                       if c[0] in REFERENCE_TOOLS])
def test_version_banner_matches_qemu(qx, ref, name, flag):
    # Run by path: qemu-nbd names itself by argv[0] in its banner.
    ours = qx.run(name, flag)
    theirs = ref.run(name, flag)
    binaries = [qx.path(name), ref.path(name)]
    assert theirs.returncode == 0, theirs
    assert ours.returncode == theirs.returncode, ours
    assert (normalize(ours.stdout, binaries=binaries)
            == normalize(theirs.stdout, binaries=binaries)), \
        f"ours:\n{ours.stdout}\nQEMU's:\n{theirs.stdout}"
    assert ours.stderr == theirs.stderr == "", ours


@pytest.mark.parametrize("name,flag", help_cases())
def test_help(qx, name, flag):
    # By name: qemu-nbd's usage line shows argv[0], as QEMU's does.
    res = qx.run(name, flag, argv0=name)
    assert res.returncode == 0, res
    assert res.stderr == "", res
    assert re.search(rf"^usage: {re.escape(name)}\b", res.stdout,
                     re.M | re.I), res
    # Every tool documents at least -h itself ("-h, --help", "'-h',
    # '--help'" or "-h or -help").
    assert re.search(r"-h\b.*-help\b", res.stdout), res


@pytest.mark.parametrize("name", REFERENCE_TOOLS)
@pytest.mark.parametrize("option", ["--no-such-option", "--foo=bar", "-Z"])
@pytest.mark.parametrize("by_name", [False, True],
                         ids=["by-path", "by-name"])
def test_unknown_option_matches_qemu(qx, ref, name, option, by_name):
    """Same exit code, same stderr; stdout empty or usage in both."""
    ours_bin = qx.path(name)
    theirs_bin = ref.path(name)
    # By path, getopt names the program by its full path: mask it.  By
    # name, argv[0] is what a user typing the command produces.
    argv0 = name if by_name else None
    ours = qx.run(name, option, argv0=argv0)
    theirs = ref.run(name, option, argv0=argv0)
    assert theirs.returncode == 1, theirs
    assert ours.returncode == 1, ours
    binaries = [ours_bin, theirs_bin]
    assert (normalize(ours.stderr, binaries=binaries)
            == normalize(theirs.stderr, binaries=binaries)), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"
    assert ours.stderr.strip(), ours
    assert bool(ours.stdout) == bool(theirs.stdout), \
        f"ours:\n{ours}\nQEMU's:\n{theirs}"
    if theirs.stdout:
        assert re.search(rf"^usage: {re.escape(name)}\b", ours.stdout,
                         re.M | re.I), ours


def test_unknown_option_migrate_file(qx):
    res = qx.run("qx-migrate-file", "--no-such-option")
    assert res.returncode == 1, res
    assert res.stdout == "", res
    assert res.stderr == (
        "qx-migrate-file: unrecognized option '--no-such-option'\n"
        "Try 'qx-migrate-file --help' for more information\n"), res
    res = qx.run("qx-migrate-file", "-Z")
    assert res.returncode == 1, res
    assert res.stderr.startswith(
        "qx-migrate-file: invalid option -- 'Z'\n"), res


# Options given wrongly (missing or extra value, unknown after a valid one).
# qemu-img has its own tests.
OPTION_ERRORS = [
    ("qemu-io", ["-f"]),
    ("qemu-io", ["--format"]),
    ("qemu-nbd", ["-f"]),
    ("qemu-nbd", ["--export-name"]),
    ("qemu-storage-daemon", ["--blockdev"]),
    ("qemu-storage-daemon", ["--help=x"]),
    ("qemu-system-riscv64", ["-machine"]),
    ("qemu-system-riscv64", ["--m"]),
    ("qemu-system-riscv64", ["-h", "-no-such-option"]),
]


@pytest.mark.parametrize("name,args", OPTION_ERRORS)
def test_option_errors_match_qemu(qx, ref, name, args):
    ours = qx.run(name, *args, argv0=name)
    theirs = ref.run(name, *args, argv0=name)
    assert theirs.returncode == 1, theirs
    assert ours.returncode == 1, ours
    assert ours.stderr == theirs.stderr, f"ours:\n{ours}\nQEMU's:\n{theirs}"
    assert bool(ours.stdout) == bool(theirs.stdout), ours


# QEMU options we do not implement yet: each must fail and name itself,
# never be ignored, even with a file argument that would make QEMU work.
UNSUPPORTED = [
    ("qemu-nbd", ["-l", "snap", "x.img"], "-l"),
    ("qemu-nbd", ["--selinux-label=l", "x.img"], "--selinux-label"),
    ("qemu-io", ["-s", "x.img"], "-s"),
    ("qemu-io", ["--object", "secret,id=s,data=x", "x.img"], "--object"),
    ("qemu-storage-daemon", ["--blockdev", "null-co,node-name=n"],
     "--blockdev"),
    ("qemu-storage-daemon", ["--daemonize"], "--daemonize"),
    ("qemu-system-riscv64", ["-machine", "virt", "-nographic"], "-machine"),
    ("qemu-system-riscv64", ["--nographic"], "--nographic"),
]


@pytest.mark.parametrize("name,args,option", UNSUPPORTED)
def test_unsupported_option_is_rejected(qx, name, args, option):
    res = qx.run(name, *args)
    assert res.returncode == 1, res
    assert res.stderr == f"{name}: option '{option}' is not supported yet\n", \
        res


# Command lines that ask for real work, which does not exist yet.
NOT_YET = [
    ("qemu-storage-daemon", []),
    ("qemu-system-riscv64", []),
    ("qemu-system-riscv64", ["disk.img"]),
    ("qx-migrate-file", ["info", "stream.bin"]),
    ("qx-migrate-file", ["dump", "stream.bin"]),
]


@pytest.mark.parametrize("name,args", NOT_YET)
def test_real_work_fails_clearly(qx, name, args):
    res = qx.run(name, *args)
    assert res.returncode != 0, res
    assert re.fullmatch(rf"{re.escape(name)}: .* not (supported|available) "
                        r"yet\n", res.stderr), res


@pytest.mark.parametrize("name,args", [
    ("qemu-nbd", []),
    ("qemu-nbd", ["a", "b"]),
    ("qemu-io", ["a", "b"]),
    ("qemu-storage-daemon", ["stray"]),
])
def test_argument_count_errors_match_qemu(qx, ref, name, args):
    ours = qx.run(name, *args, argv0=name)
    theirs = ref.run(name, *args, argv0=name)
    assert theirs.returncode == 1, theirs
    assert ours.returncode == 1, ours
    assert ours.stderr == theirs.stderr, f"ours:\n{ours}\nQEMU's:\n{theirs}"
    assert bool(ours.stdout) == bool(theirs.stdout), ours


def test_every_tool_is_covered():
    """A new tool must be added to the tables above."""
    assert set(VERSION_FLAGS) == set(TOOLS)
    assert set(HELP_FLAGS) == set(TOOLS)
