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
                 "export=exp,x-dirty-bitmap=qemu:dirty-bitmap:b")
    assert res.returncode == 1
    assert "NBD option 'x-dirty-bitmap' is not supported yet" in res.stderr
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



def certtool(*args, cwd):
    res = run(["certtool", *args], cwd=cwd)
    assert res.returncode == 0, res
    return res


def make_x509(base, cn="localhost", ip="127.0.0.1"):
    """A CA, a server and a client certificate laid out as QEMU's
    tls-creds-x509 directories: base/server and base/client."""
    base.mkdir(exist_ok=True)
    (base / "ca.info").write_text("cn = QX test CA\nca\ncert_signing_key\n")
    (base / "server.info").write_text(
        f"organization = QX\ncn = {cn}\ndns_name = {cn}\n"
        + (f"ip_address = {ip}\n" if ip else "") +
        "tls_www_server\nencryption_key\nsigning_key\n")
    (base / "client.info").write_text(
        "organization = QX\ncn = client\ntls_www_client\nencryption_key\n"
        "signing_key\n")
    for key in ("ca-key.pem", "server-key.pem", "client-key.pem"):
        res = certtool("--generate-privkey", cwd=base)
        (base / key).write_text(res.stdout)
    certtool("--generate-self-signed", "--load-privkey", "ca-key.pem",
             "--template", "ca.info", "--outfile", "ca-cert.pem", cwd=base)
    for who in ("server", "client"):
        certtool("--generate-certificate", "--load-privkey",
                 f"{who}-key.pem", "--load-ca-certificate", "ca-cert.pem",
                 "--load-ca-privkey", "ca-key.pem", "--template",
                 f"{who}.info", "--outfile", f"{who}-cert.pem", cwd=base)
        d = base / who
        d.mkdir(exist_ok=True)
        for name in ("ca-cert.pem", f"{who}-cert.pem", f"{who}-key.pem"):
            (d / name).write_bytes((base / name).read_bytes())
    return base / "server", base / "client"


@pytest.fixture
def tls_export(ref, tmp_dir, servers):
    """QEMU's qemu-nbd serving a raw image over x509 TLS on a socket."""
    server_dir, client_dir = make_x509(tmp_dir / "pki")
    img = tmp_dir / "t.raw"
    img.write_bytes(b"\x5a" * 65536 + b"\0" * (1 << 20))
    sock = tmp_dir / "tls.sock"
    servers.append(Server([ref.path("qemu-nbd"), "-t", "-r", "-f", "raw",
                           "-k", sock, "--object",
                           f"tls-creds-x509,id=tls0,dir={server_dir},"
                           "endpoint=server", "--tls-creds", "tls0", img],
                          sock=str(sock)))
    return {"sock": sock, "client_dir": client_dir, "pki": tmp_dir / "pki"}


def tls_info_args(sock, client_dir, output="json"):
    return ["info", f"--output={output}", "--object",
            f"tls-creds-x509,id=tls0,dir={client_dir},endpoint=client",
            "--image-opts",
            f"driver=nbd,server.type=unix,server.path={sock},tls-creds=tls0,"
            "tls-hostname=localhost"]


def test_tls_x509_matches_qemu(qx, ref, tls_export):
    args = tls_info_args(tls_export["sock"], tls_export["client_dir"])
    ours, theirs = both(qx, ref, *args)
    assert theirs.returncode == 0, theirs
    assert ours.returncode == 0, ours
    assert ours.stdout == theirs.stdout


def test_tls_required_by_server(qx, ref, tls_export):
    """Without TLS the server refuses us, as it refuses QEMU."""
    target = f"nbd+unix://?socket={tls_export['sock']}"
    ours, theirs = both(qx, ref, "info", target)
    assert theirs.returncode == 1
    assert ours.returncode == 1
    assert ours.stderr.startswith("qemu-img: Could not open")


def test_tls_wrong_ca_refused(qx, tls_export, tmp_dir):
    """A client whose CA did not sign the server's certificate fails."""
    _, other_client = make_x509(tmp_dir / "other-pki")
    res = qx.run("qemu-img", *tls_info_args(tls_export["sock"], other_client))
    assert res.returncode == 1
    assert "Could not open" in res.stderr


def test_tls_creds_errors(qx, ref, tls_export):
    sock, client_dir = tls_export["sock"], tls_export["client_dir"]
    # Unknown id, server-endpoint credentials used by a client, and x509
    # over a Unix socket without tls-hostname.
    for obj, want in [
        (None, "No TLS credentials with id 'tls0'"),
        (f"tls-creds-x509,id=tls0,dir={client_dir},endpoint=server",
         None),
        (f"tls-creds-x509,id=tls0,dir={client_dir},endpoint=client",
         "No hostname for certificate validation"),
    ]:
        args = ["info"]
        if obj:
            args += ["--object", obj]
        args += ["--image-opts",
                 f"driver=nbd,server.type=unix,server.path={sock},"
                 "tls-creds=tls0"]
        ours, theirs = both(qx, ref, *args)
        assert ours.returncode == theirs.returncode == 1
        if want:
            assert want in ours.stderr
        assert ours.stderr == theirs.stderr


def test_tls_psk(qx, ref, tmp_dir, servers):
    """PSK: QEMU's server, our client (and QEMU's client for reference)."""
    keys = tmp_dir / "psk"
    keys.mkdir()
    (keys / "keys.psk").write_text(
        "qemu:" + "0123456789abcdef0123456789abcdef" + "\n")
    img = tmp_dir / "p.raw"
    img.write_bytes(b"\x33" * 4096)
    sock = tmp_dir / "psk.sock"
    servers.append(Server([ref.path("qemu-nbd"), "-t", "-r", "-f", "raw",
                           "-k", sock, "--object",
                           f"tls-creds-psk,id=tls0,dir={keys},"
                           "endpoint=server", "--tls-creds", "tls0", img],
                          sock=str(sock)))
    args = ["info", "--output=json", "--object",
            f"tls-creds-psk,id=tls0,dir={keys},endpoint=client",
            "--image-opts",
            f"driver=nbd,server.type=unix,server.path={sock},tls-creds=tls0"]
    ours, theirs = both(qx, ref, *args)
    assert theirs.returncode == 0, theirs
    assert ours.returncode == 0, ours
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("cert_name,host,ok", [
    ("localhost", "localhost", True),
    ("otherhost", "127.0.0.1", False),
])
def test_tls_x509_over_tcp(qx, ref, tmp_dir, servers, cert_name, host, ok):
    """Over TCP the server's certificate must name server.host."""
    server_dir, client_dir = make_x509(
        tmp_dir / "pki", cn=cert_name,
        ip="127.0.0.1" if cert_name == "localhost" else None)
    img = tmp_dir / "tcp.raw"
    img.write_bytes(b"\x77" * 8192)
    port = free_port()
    servers.append(Server([ref.path("qemu-nbd"), "-t", "-r", "-f", "raw",
                           "-b", "127.0.0.1", "-p", str(port), "--object",
                           f"tls-creds-x509,id=tls0,dir={server_dir},"
                           "endpoint=server", "--tls-creds", "tls0", img],
                          port=port))
    args = ["info", "--output=json", "--object",
            f"tls-creds-x509,id=tls0,dir={client_dir},endpoint=client",
            "--image-opts",
            f"driver=nbd,server.type=inet,server.host={host},"
            f"server.port={port},tls-creds=tls0"]
    ours, theirs = both(qx, ref, *args)
    assert theirs.returncode == (0 if ok else 1), theirs
    assert ours.returncode == theirs.returncode, ours
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("output", ["human", "json"])
def test_map_matches_qemu(qx, ref, qemu_nbd_export, output):
    target = f"nbd+unix:///exp?socket={qemu_nbd_export['sock']}"
    ours, theirs = both(qx, ref, "map", f"--output={output}", "-f", "raw",
                        target)
    assert theirs.returncode == 0, theirs
    assert ours.returncode == 0, ours
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_convert_from_export(qx, ref, qemu_nbd_export, tmp_dir, fmt):
    """Our convert from QEMU's export: same bytes, and as sparse as
    QEMU's convert makes it (same map)."""
    target = f"nbd+unix:///exp?socket={qemu_nbd_export['sock']}"
    ours_out, theirs_out = tmp_dir / f"o.{fmt}", tmp_dir / f"q.{fmt}"
    assert qx.run("qemu-img", "convert", "-f", "raw", "-O", fmt, target,
                  ours_out).returncode == 0
    assert ref.run("qemu-img", "convert", "-f", "raw", "-O", fmt, target,
                   theirs_out).returncode == 0
    cmp = ref.run("qemu-img", "compare", "-f", fmt, "-F", "qcow2", ours_out,
                  qemu_nbd_export["img"])
    assert cmp.returncode == 0, cmp
    m1 = ref.run("qemu-img", "map", "--output=json", ours_out).stdout
    m2 = ref.run("qemu-img", "map", "--output=json", theirs_out).stdout
    assert m1 == m2


def test_writes_zeroes_through_our_client(qx, ref, tmp_dir, servers):
    """Writes, zeroes and discards by our qemu-io through QEMU's qemu-nbd
    land in the image as QEMU's qemu-io sees them."""
    img = tmp_dir / "w.qcow2"
    assert ref.run("qemu-img", "create", "-f", "qcow2", img,
                   "16M").returncode == 0
    sock = tmp_dir / "w.sock"
    srv = Server([ref.path("qemu-nbd"), "-t", "-f", "qcow2",
                  "--discard=unmap", "-k", sock, img], sock=str(sock))
    servers.append(srv)
    target = f"nbd+unix://?socket={sock}"
    r = qx.run("qemu-io", "-f", "raw", "-c", "write -P 0x61 0 1M",
               "-c", "write -z 256k 64k", "-c", "discard 512k 64k",
               "-c", "write -P 0x62 -f 2M 4k", "-c", "flush", target)
    assert r.returncode == 0, r
    srv.stop()
    checks = ["read -P 0x61 0 256k", "read -P 0 256k 64k",
              "read -P 0x61 320k 192k", "read -P 0 512k 64k",
              "read -P 0x62 2M 4k"]
    for c in checks:
        res = ref.run("qemu-io", "-r", "-f", "qcow2", "-c", c, img)
        assert res.returncode == 0 and "verification failed" not in \
            res.stdout, (c, res)
