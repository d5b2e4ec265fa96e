"""qemu-nbd: our NBD server against Debian's QEMU 7.2 qemu-nbd.

The same image is served by both, and libnbd's nbdinfo / nbdcopy and QEMU's
qemu-img / qemu-io talk to each; what they print must be identical.  Also:
hostile clients, TLS (x509 certificates made with certtool, PSK), graceful
SIGTERM, --fork / --pid-file, and QEMU's messages for bad command lines.
"""

import os
import pathlib
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import free_port, run

NBD_MAGIC = 0x4E42444D41474943
OPTS_MAGIC = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


class Server:
    """A qemu-nbd process (ours or QEMU's) serving until stopped."""

    def __init__(self, binary, args, sock=None, port=None):
        self.sock = sock
        self.port = port
        cmd = [str(binary)] + [str(a) for a in args]
        if sock:
            cmd += ["-k", str(sock)]
        else:
            cmd += ["-b", "127.0.0.1", "-p", str(port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, LC_ALL="C"))
        ok = wait_for(self._ready)
        if not ok:
            self.stop()
            pytest.fail(f"server {cmd} did not start: {self.proc.stderr.read()}")

    def _ready(self):
        if self.proc.poll() is not None:
            return True
        if self.sock:
            return os.path.exists(self.sock)
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def uri(self, name=""):
        if self.sock:
            return f"nbd+unix:///{name}?socket={self.sock}"
        return f"nbd://127.0.0.1:{self.port}/{name}"

    def list_args(self):
        if self.sock:
            return ["-k", str(self.sock)]
        return ["-b", "127.0.0.1", "-p", str(self.port)]

    def connect(self):
        if self.sock:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(self.sock))
        else:
            s = socket.create_connection(("127.0.0.1", self.port))
        s.settimeout(10)
        return s

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


@pytest.fixture
def servers():
    started = []

    def start(binary, args, sock=None, port=None):
        srv = Server(binary, args, sock=sock, port=port)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop(signal.SIGKILL)


def make_image(path, size=4 << 20):
    """A sparse raw image with a few data islands."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off in (0, 65536, 1 << 20, size - 4096):
            f.seek(off)
            f.write(bytes([(off >> 12) & 0xFF or 1]) * 4096)
    return path


def pair(qx, ref, servers, tmp_dir, args, tcp=False):
    """Starts ours and QEMU's on the same kind of socket with args."""
    out = []
    for kind, binary in (("qx", qx.path("qemu-nbd")),
                         ("ref", ref.path("qemu-nbd"))):
        if tcp:
            out.append(servers(binary, args, port=free_port()))
        else:
            out.append(servers(binary, args, sock=tmp_dir / f"{kind}.sock"))
    return out


def same_output(cmd_for, ours, theirs):
    a = run(cmd_for(ours))
    b = run(cmd_for(theirs))
    norm = lambda r, s: (r.stdout.replace(s.uri(""), "URI")
                         .replace(str(s.sock or s.port), "SOCK"))
    assert b.returncode == 0, b
    assert a.returncode == b.returncode, a
    assert norm(a, ours) == norm(b, theirs), f"ours:\n{a}\nQEMU's:\n{b}"
    return a


# ---- Priority 1 and 2: interoperability -----------------------------------

@pytest.mark.parametrize("args", [
    [],
    ["-r"],
    ["-e", "3"],
    ["-r", "-e", "3"],
    ["-A", "-x", "foo", "-D", "my desc"],
])
def test_list_and_nbdinfo_match_qemu(qx, ref, servers, tmp_dir, args):
    img = make_image(tmp_dir / "a.raw")
    ours, theirs = pair(qx, ref, servers, tmp_dir,
                        ["-t", "-f", "raw", *args, img])
    name = "foo" if "-x" in args else ""
    same_output(lambda s: [qx.path("qemu-nbd"), "-L", *s.list_args()],
                ours, theirs)
    same_output(lambda s: ["nbdinfo", s.uri(name)], ours, theirs)
    same_output(lambda s: ["nbdinfo", "--list", s.uri(name)], ours, theirs)
    same_output(lambda s: ["nbdinfo", "--map", s.uri(name)], ours, theirs)
    if "-A" in args:
        same_output(lambda s: ["nbdinfo", "--map=qemu:allocation-depth",
                               s.uri(name)], ours, theirs)
    # QEMU's -L on our server prints what it prints on its own.
    same_output(lambda s: [ref.path("qemu-nbd"), "-L", *s.list_args()],
                ours, theirs)


@pytest.mark.parametrize("tcp", [False, True])
def test_qemu_img_info_map_convert(qx, ref, servers, tmp_dir, tcp):
    img = make_image(tmp_dir / "a.raw")
    ours, theirs = pair(qx, ref, servers, tmp_dir, ["-t", "-r", "-f", "raw",
                                                    img], tcp=tcp)
    for sub in (["info"], ["map", "--output=json"], ["map"]):
        same_output(lambda s: [ref.path("qemu-img"), *sub, s.uri()],
                    ours, theirs)
    out = tmp_dir / "copy.raw"
    res = run([ref.path("qemu-img"), "convert", "-O", "raw", ours.uri(), out])
    assert res.returncode == 0, res
    assert out.read_bytes() == img.read_bytes()


def test_qemu_io_writes_then_we_read(qx, ref, servers, tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    srv = servers(qx.path("qemu-nbd"), ["-t", "-f", "raw", img],
                  port=free_port())
    res = run([ref.path("qemu-io"), "-f", "raw",
               "-c", "write -P 0xab 4096 8192",
               "-c", "write -z 2097152 65536",
               "-c", "write -P 0xcd -f 3145728 4096",
               "-c", "flush",
               "-c", "read -P 0xab 4096 8192",
               "-c", "read -P 0 2097152 65536",
               "-c", "discard 0 4096",
               srv.uri()])
    assert res.returncode == 0, res
    assert "Pattern verification failed" not in res.stdout, res
    data = img.read_bytes()
    assert data[4096:12288] == b"\xab" * 8192
    assert data[3145728:3149824] == b"\xcd" * 4096
    # nbdcopy reads it back through us identically.
    out = tmp_dir / "back.raw"
    res = run(["nbdcopy", srv.uri(), str(out)])
    assert res.returncode == 0, res
    assert out.read_bytes() == data


def test_nbdcopy_into_server_multi_conn(qx, servers, tmp_dir):
    src = make_image(tmp_dir / "src.raw")
    dst = tmp_dir / "dst.raw"
    with open(dst, "wb") as f:
        f.truncate(src.stat().st_size)
    srv = servers(qx.path("qemu-nbd"), ["-t", "-e", "4", "-f", "raw", dst],
                  sock=tmp_dir / "s.sock")
    res = run(["nbdcopy", "--connections=4", str(src), srv.uri()])
    assert res.returncode == 0, res
    assert dst.read_bytes() == src.read_bytes()


def test_exits_after_last_client(qx, servers, tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    srv = servers(qx.path("qemu-nbd"), ["-f", "raw", img],
                  sock=tmp_dir / "s.sock")
    res = run(["nbdinfo", "--size", srv.uri()])
    assert res.stdout == f"{4 << 20}\n", res
    assert wait_for(lambda: srv.proc.poll() is not None)
    assert srv.proc.returncode == 0
    assert not (tmp_dir / "s.sock").exists()


def test_sigterm_drains_and_flushes(qx, servers, tmp_dir):
    """Requests read before SIGTERM complete and are answered; exit 0."""
    img = tmp_dir / "a.raw"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    srv = servers(qx.path("qemu-nbd"), ["-t", "-f", "raw", img],
                  sock=tmp_dir / "s.sock")
    s = srv.connect()
    handshake(s)
    for i in range(8):
        request(s, 1, i << 20, 1 << 20, handle=i,
                data=bytes([i + 1]) * (1 << 20))
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    replies = []
    try:
        while True:
            replies.append(simple_reply(s))
    except (struct.error, ConnectionResetError, AssertionError):
        pass
    code, _, err = srv.stop()
    assert code == 0 and err == "", err
    assert replies, "no reply before the server went away"
    data = img.read_bytes()
    for errno_, handle in replies:
        assert errno_ == 0
        assert data[handle << 20:(handle + 1) << 20] == \
            bytes([handle + 1]) * (1 << 20)


def test_fork_and_pid_file(qx, tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    pid_file = tmp_dir / "pid"
    sock = tmp_dir / "s.sock"
    res = run([qx.path("qemu-nbd"), "--fork", "--pid-file", pid_file, "-t",
               "-f", "raw", "-k", sock, img])
    assert res.returncode == 0, res
    pid = int(pid_file.read_text())
    try:
        assert sock.exists()
        res = run(["nbdinfo", "--size", f"nbd+unix:///?socket={sock}"])
        assert res.stdout == f"{4 << 20}\n", res
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not pid_file.exists())


# ---- Command-line errors: QEMU's messages and exit codes -----------------

@pytest.mark.parametrize("args", [
    ["-f", "raw", "-k", "rel.sock", "IMG"],
    ["-k", "SOCK", "-f", "raw", "NOFILE"],
    ["-k", "SOCK", "-f", "foo", "IMG"],
    ["-e", "x", "IMG"],
    ["-o", "x", "IMG"],
    ["--cache=foo", "IMG"],
    ["-n", "--cache=none", "IMG"],
    ["--aio=foo", "IMG"],
    ["--aio=threads", "--aio=threads", "IMG"],
    ["--discard=foo", "IMG"],
    ["--detect-zeroes=foo", "IMG"],
    ["--detect-zeroes=unmap", "-k", "SOCK", "IMG"],
    ["--tls-creds=t0", "-k", "SOCK", "IMG"],
    ["--tls-authz=x", "-k", "SOCK", "IMG"],
    ["--tls-hostname=x", "-k", "SOCK", "IMG"],
    ["--object", "foo,id=x", "IMG"],
    ["--object", "tls-creds-x509,dir=/x", "IMG"],
    ["--object", "tls-creds-x509,id=a,dir=/x,foo=1", "IMG"],
    ["--object", "tls-creds-x509,id=a,dir=/x,endpoint=bad", "IMG"],
    ["--object", "tls-creds-x509,id=a,dir=/x,verify-peer=bad", "IMG"],
    ["--object", "tls-creds-x509,id=a,dir=/nonexist,endpoint=server",
     "IMG"],
    ["--object", "tls-creds-psk,id=a,dir=/nonexist,endpoint=server", "IMG"],
    ["-x", "a" * 4097, "-k", "SOCK", "IMG"],
    ["-D", "d" * 4097, "-k", "SOCK", "IMG"],
    ["-L", "-x", "foo", "-k", "SOCK"],
    ["-L", "-k", "SOCK", "IMG"],
    ["-L", "-k", "/nonexistent.sock"],
    ["--image-opts", "-f", "raw", "-k", "SOCK", "IMG"],
    ["-k", "/nonexistent/dir/s.sock", "-f", "raw", "IMG"],
    ["-c", "/dev/nbd-nonexistent", "-f", "raw", "IMG"],
    [],
    ["a", "b"],
])
def test_errors_match_qemu(qx, ref, tmp_dir, args):
    img = make_image(tmp_dir / "a.raw")
    subst = {"IMG": str(img), "SOCK": str(tmp_dir / "s.sock"),
             "NOFILE": str(tmp_dir / "nofile.raw")}
    args = [subst.get(a, a) for a in args]
    ours = qx.run("qemu-nbd", *args, argv0="qemu-nbd", cwd=tmp_dir)
    theirs = ref.run("qemu-nbd", *args, argv0="qemu-nbd", cwd=tmp_dir)
    assert theirs.returncode == 1, theirs
    assert ours.returncode == 1, ours
    assert ours.stderr == theirs.stderr, f"ours:\n{ours}\nQEMU's:\n{theirs}"


@pytest.mark.parametrize("args,option", [
    (["-l", "snap", "IMG"], "-l"),
    (["-B", "bm", "IMG"], "-B"),
    (["-T", "foo", "IMG"], "-T"),
    (["--selinux-label=x", "IMG"], "--selinux-label"),
])
def test_unsupported_options_name_themselves(qx, tmp_dir, args, option):
    res = qx.run("qemu-nbd", *[str(tmp_dir / "a") if a == "IMG" else a
                               for a in args])
    assert res.returncode == 1, res
    assert res.stderr == f"qemu-nbd: option '{option}' is not supported yet\n"


# ---- Priority 3: hostile clients ------------------------------------------

def handshake(s, structured=False, name=b""):
    hello = s.recv(18, socket.MSG_WAITALL)
    assert struct.unpack(">QQH", hello)[:2] == (NBD_MAGIC, OPTS_MAGIC)
    s.sendall(struct.pack(">I", 3))
    if structured:
        s.sendall(struct.pack(">QII", OPTS_MAGIC, 8, 0))
        rep = s.recv(20, socket.MSG_WAITALL)
        assert struct.unpack(">QIII", rep)[2] == 1
    payload = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    s.sendall(struct.pack(">QII", OPTS_MAGIC, 7, len(payload)) + payload)
    while True:
        magic, opt, typ, ln = struct.unpack(">QIII",
                                            s.recv(20, socket.MSG_WAITALL))
        assert magic == REP_MAGIC
        body = s.recv(ln, socket.MSG_WAITALL) if ln else b""
        if typ == 1:
            return
        assert typ == 3, (typ, body)


def request(s, typ, offset, length, handle=1, flags=0, data=b""):
    s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, typ, handle, offset,
                          length) + data)


def simple_reply(s):
    magic, err, handle = struct.unpack(">IIQ", s.recv(16, socket.MSG_WAITALL))
    assert magic == 0x67446698
    return err, handle


def closed(s):
    """True once the server closed the connection (after any output)."""
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_hostile_clients_do_not_hurt_others(qx, servers, tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    srv = servers(qx.path("qemu-nbd"), ["-t", "-e", "100", "-f", "raw", img],
                  sock=tmp_dir / "s.sock")
    good = srv.connect()
    handshake(good)
    time.sleep(0.2)
    baseline = srv.fd_count() - 1

    # Garbage instead of the client flags / options.
    s = srv.connect()
    s.sendall(os.urandom(4096))
    assert closed(s)
    s.close()
    # An option with a 4 GiB length: answered or dropped, never allocated.
    s = srv.connect()
    s.recv(18, socket.MSG_WAITALL)
    s.sendall(struct.pack(">I", 3) +
              struct.pack(">QII", OPTS_MAGIC, 7, 0xFFFFFFFF))
    s.close()
    # Oversized read: EINVAL, connection stays usable.
    s = srv.connect()
    handshake(s)
    request(s, 0, 0, 64 << 20)
    assert simple_reply(s) == (22, 1)
    request(s, 0, (4 << 20) - 512, 1024, handle=2)
    assert simple_reply(s) == (22, 2)
    request(s, 1, (4 << 20) - 512, 1024, handle=3, data=b"x" * 1024)
    assert simple_reply(s) == (28, 3)
    request(s, 99, 0, 0, handle=4)
    assert simple_reply(s) == (22, 4)
    request(s, 0, 0, 512, handle=5, flags=0x80)
    assert simple_reply(s) == (22, 5)
    # Oversized write: the payload cannot be skipped, so we are dropped.
    request(s, 1, 0, 64 << 20, handle=6)
    assert closed(s)
    s.close()
    # Bad request magic.
    s = srv.connect()
    handshake(s)
    s.sendall(b"\0" * 28)
    assert closed(s)
    s.close()
    # Disconnect in the middle of a write payload and of a read reply.
    s = srv.connect()
    handshake(s, structured=True)
    request(s, 1, 0, 1 << 20, handle=7, data=b"y" * 1000)
    s.close()
    s = srv.connect()
    handshake(s)
    for h in range(16):
        request(s, 0, 0, 4 << 20, handle=h)
    s.close()

    # The well-behaved client still works, and nothing leaked.
    request(good, 0, 65536, 4096, handle=42)
    assert simple_reply(good) == (0, 42)
    assert good.recv(4096, socket.MSG_WAITALL) == img.read_bytes()[65536:69632]
    assert wait_for(lambda: srv.fd_count() == baseline + 1), srv.fd_count()
    request(good, 2, 0, 0)
    good.close()
    assert srv.proc.poll() is None


def test_structured_replies_out_of_order_and_block_status(qx, servers,
                                                          tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    srv = servers(qx.path("qemu-nbd"), ["-t", "-f", "raw", img],
                  sock=tmp_dir / "s.sock")
    s = srv.connect()
    handshake(s, structured=True)
    # A sparse read: data, hole and data chunks, the last one DONE.
    request(s, 0, 61440, 12288, handle=9)
    chunks = []
    while True:
        magic, flags, typ, handle, ln = struct.unpack(
            ">IHHQI", s.recv(20, socket.MSG_WAITALL))
        assert magic == 0x668E33EF and handle == 9
        body = s.recv(ln, socket.MSG_WAITALL)
        chunks.append((typ, struct.unpack(">Q", body[:8])[0]))
        if flags & 1:
            break
    assert chunks == [(2, 61440), (1, 65536), (2, 69632)], chunks
    # BLOCK_STATUS without a negotiated context is EINVAL (structured).
    request(s, 7, 0, 4096, handle=10)
    magic, flags, typ, handle, ln = struct.unpack(
        ">IHHQI", s.recv(20, socket.MSG_WAITALL))
    body = s.recv(ln, socket.MSG_WAITALL)
    assert (typ, flags, struct.unpack(">I", body[:4])[0]) == (0x8001, 1, 22)
    s.close()


# ---- Priority 4: TLS -------------------------------------------------------

def certtool(*args, cwd):
    res = run(["certtool", *args], cwd=cwd)
    assert res.returncode == 0, res


def make_ca(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "ca.info").write_text("cn = QX test CA\nca\ncert_signing_key\n"
                               "expiration_days = 2\n")
    certtool("--generate-privkey", "--outfile", "ca-key.pem", cwd=d)
    certtool("--generate-self-signed", "--load-privkey", "ca-key.pem",
             "--template", "ca.info", "--outfile", "ca-cert.pem", cwd=d)


def make_cert(ca, d, role):
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{role}.info").write_text(
        "organization = QX\ncn = localhost\ndns_name = localhost\n"
        "ip_address = 127.0.0.1\nexpiration_days = 2\n"
        f"tls_www_{role}\nencryption_key\nsigning_key\n")
    certtool("--generate-privkey", "--outfile", f"{role}-key.pem", cwd=d)
    certtool("--generate-certificate", "--load-privkey", f"{role}-key.pem",
             "--load-ca-certificate", ca / "ca-cert.pem",
             "--load-ca-privkey", ca / "ca-key.pem",
             "--template", f"{role}.info", "--outfile", f"{role}-cert.pem",
             cwd=d)
    (d / "ca-cert.pem").write_bytes((ca / "ca-cert.pem").read_bytes())


@pytest.fixture
def pki(tmp_dir):
    ca, other = tmp_dir / "ca", tmp_dir / "other-ca"
    make_ca(ca)
    make_ca(other)
    make_cert(ca, tmp_dir / "server", "server")
    make_cert(ca, tmp_dir / "client", "client")
    make_cert(other, tmp_dir / "bad-client", "client")
    return tmp_dir


@pytest.mark.parametrize("verify", ["off", "on"])
def test_tls_x509(qx, ref, servers, pki, verify):
    img = make_image(pki / "a.raw")
    port = free_port()
    srv = servers(qx.path("qemu-nbd"), [
        "-t", "-f", "raw", "--object",
        f"tls-creds-x509,id=tls0,dir={pki / 'server'},endpoint=server,"
        f"verify-peer={verify}", "--tls-creds", "tls0", img], port=port)
    uri = f"nbds://localhost:{port}/?tls-certificates={pki / 'client'}"
    res = run(["nbdinfo", "--size", uri])
    assert res.stdout == f"{4 << 20}\n", res
    # Plain clients are refused, and so is a server we cannot verify.
    res = run(["nbdinfo", "--size", f"nbd://localhost:{port}/"])
    assert res.returncode != 0 and "TLS" in res.stderr, res
    res = run(["nbdinfo", "--size", f"nbds://localhost:{port}/"
               f"?tls-certificates={pki / 'bad-client'}"])
    assert res.returncode != 0, res
    # QEMU's client with its own TLS object reads the same bytes.
    out = pki / "copy.raw"
    res = run([ref.path("qemu-img"), "convert", "--object",
               f"tls-creds-x509,id=c0,dir={pki / 'client'},endpoint=client",
               "--image-opts",
               f"driver=nbd,host=localhost,port={port},tls-creds=c0",
               "-O", "raw", out])
    assert res.returncode == 0, res
    assert out.read_bytes() == img.read_bytes()
    # Our -L over TLS.
    res = qx.run("qemu-nbd", "-L", "-b", "localhost", "-p", str(port),
                 "--object", f"tls-creds-x509,id=c0,dir={pki / 'client'},"
                 "endpoint=client", "--tls-creds", "c0")
    assert res.returncode == 0 and "exports available: 1\n" in res.stdout, res
    assert srv.proc.poll() is None


def test_tls_x509_verify_peer_rejects_wrong_client_ca(qx, servers, pki):
    img = make_image(pki / "a.raw")
    port = free_port()
    # The bad client trusts our CA but presents a certificate of another.
    bad = pki / "bad-client"
    (bad / "ca-cert.pem").write_bytes((pki / "ca" / "ca-cert.pem")
                                      .read_bytes())
    servers(qx.path("qemu-nbd"), [
        "-t", "-f", "raw", "--object",
        f"tls-creds-x509,id=tls0,dir={pki / 'server'},endpoint=server,"
        "verify-peer=on", "--tls-creds", "tls0", img], port=port)
    res = run(["nbdinfo", "--size",
               f"nbds://localhost:{port}/?tls-certificates={bad}"])
    assert res.returncode != 0, res
    res = run(["nbdinfo", "--size",
               f"nbds://localhost:{port}/?tls-certificates={pki / 'client'}"])
    assert res.returncode == 0, res


def test_tls_psk(qx, servers, tmp_dir):
    img = make_image(tmp_dir / "a.raw")
    keys = tmp_dir / "psk"
    keys.mkdir()
    res = run(["psktool", "-u", "qemu", "-p", keys / "keys.psk"])
    assert res.returncode == 0, res
    port = free_port()
    srv = servers(qx.path("qemu-nbd"), [
        "-t", "-f", "raw", "--object",
        f"tls-creds-psk,id=tls0,dir={keys},endpoint=server",
        "--tls-creds", "tls0", img], port=port)
    res = run(["nbdinfo", "--size", f"nbds://qemu@localhost:{port}/"
               f"?tls-psk-file={keys / 'keys.psk'}"])
    assert res.stdout == f"{4 << 20}\n", res
    wrong = tmp_dir / "wrong.psk"
    wrong.write_text("qemu:" + "00" * 32 + "\n")
    res = run(["nbdinfo", "--size", f"nbds://qemu@localhost:{port}/"
               f"?tls-psk-file={wrong}"])
    assert res.returncode != 0, res
    assert srv.proc.poll() is None
