"""Shared fixtures and helpers for the functional tier.

The tests drive our built binaries and, side by side, the reference QEMU 7.2
tools that Debian installs in /usr/bin, and compare what users see.

meson's test runner sets QX_BUILD_DIR and QX_SOURCE_DIR; to run pytest by
hand, set QX_BUILD_DIR to a configured build directory, e.g.

    QX_BUILD_DIR=/tmp/build /usr/bin/python3 -m pytest tests/functional

Fixtures:
    qx          our binaries: qx.path(name), qx.run(name, *args, ...)
    ref         the reference QEMU binaries, same interface
    tmp_dir     a fresh short directory under /tmp (Unix socket paths must
                stay under 108 bytes, which pytest's tmp_path may not)
    versions    the versions our banners must print (from meson.build)

Helpers:
    run()          run a command, capture stdout, stderr and exit code
    normalize()    mask version strings, copyright lines and absolute paths
                   so that our output and QEMU's compare as text
    free_port()    a TCP port on 127.0.0.1 that nothing listens on
"""

import dataclasses
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

# Tool name (what QEMU calls it) -> path of our binary in the build tree.
TOOLS = {
    "qemu-img": "tools/qemu-img/qemu-img",
    "qemu-io": "tools/qemu-io/qemu-io",
    "qemu-nbd": "tools/qemu-nbd/qemu-nbd",
    "qemu-storage-daemon": "tools/storage-daemon/qemu-storage-daemon",
    "qemu-system-riscv64": "tools/system/qemu-system-riscv64",
    "qx-migrate-file": "tools/migrate-file/qx-migrate-file",
}

# Tools that have a QEMU counterpart to compare with.
REFERENCE_DIR = pathlib.Path("/usr/bin")
REFERENCE_TOOLS = [name for name in TOOLS if name.startswith("qemu-")]

SOURCE_DIR = pathlib.Path(
    os.environ.get("QX_SOURCE_DIR",
                   pathlib.Path(__file__).resolve().parents[2]))

# Messages (getopt's, strerror's) must not depend on the caller's locale.
BASE_ENV = dict(os.environ, LC_ALL="C", LANG="C")
BASE_ENV.pop("LANGUAGE", None)


def build_dir():
    """The build directory under test; fails clearly when unknown."""
    value = os.environ.get("QX_BUILD_DIR")
    if not value:
        pytest.fail("QX_BUILD_DIR is not set: run the functional tests "
                    "through 'meson test --suite functional', or set it to "
                    "a configured build directory", pytrace=False)
    path = pathlib.Path(value)
    if not path.is_dir():
        pytest.fail(f"QX_BUILD_DIR={value} is not a directory",
                    pytrace=False)
    return path


@dataclasses.dataclass
class Result:
    """What a finished command left behind."""

    args: list
    returncode: int
    stdout: str
    stderr: str

    def __str__(self):
        return (f"command: {self.args}\nexit code: {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n"
                f"{self.stderr}")


def run(args, *, argv0=None, input=None, timeout=30, env=None, cwd=None):
    """Runs args (a list), returns a Result; never raises on failure.

    argv0 replaces the program name the child sees (argv[0]), so that a
    binary run by absolute path can still call itself "qemu-nbd".  stdin is
    empty unless input is given, so that nothing waits on a terminal.
    """
    args = [str(a) for a in args]
    full_env = dict(BASE_ENV)
    if env:
        full_env.update(env)
    executable = None
    if argv0 is not None:
        executable = args[0]
        args = [argv0] + args[1:]
    try:
        proc = subprocess.run(args, executable=executable, input=input,
                              stdin=None if input is not None
                              else subprocess.DEVNULL,
                              capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args} did not finish within {timeout} s "
                    f"(stdout so far: {exc.stdout!r}, stderr: "
                    f"{exc.stderr!r})", pytrace=False)
    return Result(args, proc.returncode, proc.stdout, proc.stderr)


class Binaries:
    """A set of tool binaries: ours in the build tree, or QEMU's."""

    def __init__(self, kind, resolve):
        self.kind = kind
        self._resolve = resolve

    def path(self, name):
        """Absolute path of tool name; fails the test if it is missing."""
        path = self._resolve(name)
        if not (path.is_file() and os.access(path, os.X_OK)):
            if self.kind == "reference":
                pytest.fail(f"reference binary {path} is missing: install "
                            "Debian's qemu-utils, qemu-system-misc and "
                            "qemu-system-common ('make check' does)",
                            pytrace=False)
            pytest.fail(f"our {name} is not built at {path}: run ninja in "
                        "the build directory first", pytrace=False)
        return path

    def run(self, name, *args, **kwargs):
        return run([self.path(name), *args], **kwargs)


def _our_path(name):
    if name not in TOOLS:
        raise KeyError(f"unknown tool {name}")
    return build_dir() / TOOLS[name]


def _reference_path(name):
    return REFERENCE_DIR / name


@pytest.fixture
def qx():
    """Our binaries, from QX_BUILD_DIR."""
    return Binaries("qx", _our_path)


@pytest.fixture
def ref():
    """The reference QEMU 7.2 binaries in /usr/bin."""
    return Binaries("reference", _reference_path)


@pytest.fixture
def tmp_dir():
    """A fresh directory with a short path, removed afterwards."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="qx-test-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Versions:
    qx: str    # our version, "0.1.0"
    qemu: str  # the QEMU release we follow, "7.2.0"

    @property
    def string(self):
        """What our banners print after "version"."""
        return f"{self.qemu} (qx {self.qx})"


def read_versions():
    text = (SOURCE_DIR / "meson.build").read_text()
    qx_version = re.search(r"^\s*version:\s*'([^']+)'", text, re.M)
    qemu_version = re.search(r"^qemu_compat_version\s*=\s*'([^']+)'", text,
                             re.M)
    if not qx_version or not qemu_version:
        pytest.fail("cannot find the project version and "
                    "qemu_compat_version in meson.build", pytrace=False)
    return Versions(qx_version.group(1), qemu_version.group(1))


@pytest.fixture(scope="session")
def versions():
    return read_versions()


# "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" or "7.2.0 (qx 0.1.0)".
_VERSION_RE = re.compile(r"\b\d+\.\d+\.\d+(?: \((?:Debian|qx) [^)]*\))?")
_COPYRIGHT_RE = re.compile(r"^Copyright \(c\) .*$", re.M)
_AUTHOR_RE = re.compile(r"^Written by .*\.$", re.M)


def normalize(text, *, paths=None, binaries=()):
    """Masks what legitimately differs between our output and QEMU's.

    - version strings become VERSION, copyright lines COPYRIGHT, qemu-nbd's
      "Written by ..." line "Written by AUTHORS."
    - each path in binaries (ours or QEMU's, as run) becomes its file name,
      since getopt names the program by argv[0]
    - paths maps further absolute paths to placeholders ({"/tmp/qx-x":
      "$TMP"}); the build and source directories always become $BUILD and
      $SOURCE.  Longer paths are replaced first.
    """
    for binary in binaries:
        text = text.replace(str(binary), pathlib.Path(binary).name)
    mapping = {}
    if os.environ.get("QX_BUILD_DIR"):
        mapping[str(pathlib.Path(os.environ["QX_BUILD_DIR"]).resolve())] = \
            "$BUILD"
        mapping[os.environ["QX_BUILD_DIR"]] = "$BUILD"
    mapping[str(SOURCE_DIR)] = "$SOURCE"
    for path, placeholder in (paths or {}).items():
        mapping[str(path)] = placeholder
    for path in sorted(mapping, key=len, reverse=True):
        text = text.replace(path, mapping[path])
    text = _VERSION_RE.sub("VERSION", text)
    text = _COPYRIGHT_RE.sub("COPYRIGHT", text)
    text = _AUTHOR_RE.sub("Written by AUTHORS.", text)
    return text


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The port is free when returned; another process could take it before
    the caller binds it, which on a test machine is rare enough.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
