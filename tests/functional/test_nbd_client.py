"""Our NBD client driver against real servers: QEMU 7.2's qemu-nbd and
nbdkit.  What our qemu-img prints for nbd:// images must match QEMU's
qemu-img on the same export, errors included."""

import os
import signal
import subprocess
import time

import pytest

from conftest import free_port, run


def wait_for(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


class Server:
    """A server process that is killed when the test ends."""

    def __init__(self, args, sock=None, port=None):
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if sock:
            wait_for(lambda: os.path.exists(sock), f"{sock} to appear")
        if port:
            import socket

            def listening():
                with socket.socket() as s:
                    return s.connect_ex(("127.0.0.1", port)) == 0
            wait_for(listening, f"port {port}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def servers():
    started = []
    yield started
    for srv in started:
        srv.stop()


@pytest.fixture
def qemu_nbd_export(ref, tmp_dir, servers):
    """A qcow2 image with data and holes, exported by QEMU's qemu-nbd on a
    Unix socket (export "exp") and on TCP (default export)."""
    img = tmp_dir / "a.qcow2"
    assert ref.run("qemu-img", "create", "-f", "qcow2", img,
                   "64M").returncode == 0
    assert ref.run("qemu-io", "-c", "write -P 0x11 0 1M",
                   "-c", "write -P 0x22 8M 64k",
                   "-c", "write -z 16M 1M", img).returncode == 0
    sock = tmp_dir / "s.sock"
    port = free_port()
    servers.append(Server([ref.path("qemu-nbd"), "-t", "-r", "-x", "exp",
                           "-f", "qcow2", "-k", sock, "--shared=4", img],
                          sock=str(sock)))
    servers.append(Server([ref.path("qemu-nbd"), "-t", "-r", "-f", "qcow2",
                           "-p", str(port), "-b", "127.0.0.1",
                           "--shared=4", img], port=port))
    return {"sock": sock, "port": port, "img": img}


def both(qx, ref, *args):
    ours = qx.run("qemu-img", *args)
    theirs = ref.run("qemu-img", *args)
    return ours, theirs


@pytest.mark.parametrize("output", ["human", "json"])
@pytest.mark.parametrize("form", ["unix-uri", "unix-legacy", "tcp-uri",
                                  "tcp-legacy", "image-opts"])
def test_info_matches_qemu(qx, ref, qemu_nbd_export, form, output):
    sock, port = qemu_nbd_export["sock"], qemu_nbd_export["port"]
    args = {
        "unix-uri": [f"nbd+unix:///exp?socket={sock}"],
        "unix-legacy": [f"nbd:unix:{sock}:exportname=exp"],
        "tcp-uri": [f"nbd://127.0.0.1:{port}"],
        "tcp-legacy": [f"nbd:127.0.0.1:{port}"],
        "image-opts": ["--image-opts",
                       f"driver=nbd,server.type=unix,server.path={sock},"
                       "export=exp"],
    }[form]
    ours, theirs = both(qx, ref, "info", f"--output={output}", *args)
    assert ours.returncode == theirs.returncode == 0, ours
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr


@pytest.mark.parametrize("name,make", [
    ("missing-export", lambda s, p: f"nbd+unix:///nope?socket={s}"),
    ("refused", lambda s, p: f"nbd://127.0.0.1:{free_port()}/x"),
    ("no-socket", lambda s, p: "nbd+unix://?socket=/nonexistent/sock"),
    ("query-on-tcp", lambda s, p: f"nbd://127.0.0.1:{p}/?x=1"),
    ("no-socket-param", lambda s, p: "nbd+unix:///"),
    ("unix-with-host", lambda s, p: f"nbd+unix://h/?socket={s}"),
])
def test_errors_match_qemu(qx, ref, qemu_nbd_export, name, make):
    target = make(qemu_nbd_export["sock"], qemu_nbd_export["port"])
    ours, theirs = both(qx, ref, "info", target)
    assert ours.returncode == theirs.returncode == 1
    # QEMU adds the server's own words on a second line for a missing
    # export; libnbd does not pass them on, so compare the first line.
    assert ours.stderr.splitlines()[0] == theirs.stderr.splitlines()[0]
    if name != "missing-export":
        assert ours.stderr == theirs.stderr


def test_unsupported_option_is_named(qx, qemu_nbd_export):
    sock = qemu_nbd_export["sock"]
    res = qx.run("qemu-img", "info", "--image-opts",
                 f"driver=nbd,server.type=unix,server.path={sock},"
                 "export=exp,tls-creds=tls0")
    assert res.returncode == 1
    assert "NBD option 'tls-creds' is not supported yet" in res.stderr
    res = qx.run("qemu-img", "info", "--image-opts",
                 f"driver=nbd,server.type=unix,server.path={sock},"
                 "export=exp,x-foo=1")
    assert res.returncode == 1
    assert ("Block protocol 'nbd' doesn't support the option 'x-foo'"
            in res.stderr)


def test_nbdkit_sparse_random(qx, ref, tmp_dir, servers):
    """nbdkit's sparse-random plugin: our info agrees with QEMU's."""
    sock = tmp_dir / "k.sock"
    servers.append(Server(["nbdkit", "-f", "-U", sock, "sparse-random",
                           "size=32M", "seed=7"], sock=str(sock)))
    ours, theirs = both(qx, ref, "info", "--output=json",
                        f"nbd+unix://?socket={sock}")
    assert ours.returncode == theirs.returncode == 0, ours
    assert ours.stdout == theirs.stdout

