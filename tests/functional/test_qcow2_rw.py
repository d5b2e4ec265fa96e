"""qcow2 driver: reads and writes through our block layer, checked against
QEMU 7.2 (qemu-img check must be clean, qemu-io reads back our data, and
images QEMU wrote read back identically through ours).

Driven with tests/unit/qcow2-rw-helper (our block layer on one image) until
our qemu-io covers these operations.
"""
import os
import random
import subprocess

import pytest

from conftest import build_dir

QEMU_IMG = '/usr/bin/qemu-img'
QEMU_IO = '/usr/bin/qemu-io'


def helper():
    return str(build_dir() / 'tests' / 'unit' / 'qcow2-rw-helper')


def our_img():
    return str(build_dir() / 'tools' / 'qemu-img' / 'qemu-img')


def sh(args, cwd=None, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True,
                       text=True, cwd=cwd)
    if check:
        assert r.returncode == 0, f'{args}\n{r.stdout}{r.stderr}'
    return r


def ours(img, *ops, fmt=None, check=True):
    args = [helper()]
    if fmt:
        args += ['-f', fmt]
    return sh(args + [img] + list(ops), check=check)


def qemu_check(img):
    r = sh([QEMU_IMG, 'check', img], check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'No errors were found on the image.' in r.stdout, r.stdout
    assert 'leaked' not in r.stdout, r.stdout


def qemu_create(path, size, opts=''):
    args = [QEMU_IMG, 'create', '-q', '-f', 'qcow2']
    if opts:
        args += ['-o', opts]
    sh(args + [path, size])


def same_content(img, raw, tmp_path):
    out = tmp_path / 'dump.raw'
    ours(img, f'dump:{out}', fmt='qcow2')
    a = out.read_bytes()
    b = raw.read_bytes()
    return a == b[:len(a)] and len(a) == len(b)


def test_reads_qemu_written_image(tmp_path):
    img = str(tmp_path / 'a.qcow2')
    qemu_create(img, '10M')
    sh([QEMU_IO, '-c', 'write -P 0x11 0 100k', '-c', 'write -P 0x22 1M 4k',
        '-c', 'write -z 2M 64k', '-c', 'write -P 0x33 3M 64k',
        '-c', 'discard 3M 64k', img])
    ours(img, 'r:0:102400:0x11', 'r:1048576:4096:0x22',
         'r:2097152:65536:0', 'r:102400:1000:0', 'r:3145728:65536:0',
         fmt='qcow2')


@pytest.mark.parametrize('opts', [
    '', 'compat=0.10', 'cluster_size=512', 'cluster_size=4k',
    'cluster_size=2M', 'refcount_bits=1', 'refcount_bits=64',
    'cluster_size=512,refcount_bits=64', 'cluster_size=512,refcount_bits=1',
    'extended_l2=on', 'extended_l2=on,cluster_size=16k',
    'lazy_refcounts=on', 'compression_type=zstd', 'refcount_bits=2',
    'refcount_bits=4,cluster_size=1k', 'refcount_bits=8,cluster_size=8k',
    'refcount_bits=32', 'extended_l2=on,cluster_size=2M',
])
def test_random_writes_match_shadow(tmp_path, opts):
    size = 8 << 20
    img = str(tmp_path / 'r.qcow2')
    qemu_create(img, str(size), opts)
    raw = tmp_path / 'shadow.raw'
    data = tmp_path / 'data.bin'
    rng = random.Random(opts)
    data.write_bytes(rng.randbytes(size))
    shadow = bytearray(size)
    ops = []
    for _ in range(120):
        length = rng.choice([1, 511, 512, 4096, 65536, 70000, 200000])
        off = rng.randrange(0, size - length)
        kind = rng.random()
        if kind < 0.8:
            ops.append(f'wf:{off}:{length}:{data}')
            shadow[off:off + length] = data.read_bytes()[off:off + length]
        elif kind < 0.9:
            ops.append(f'z:{off}:{length}' + (':unmap' if kind < 0.85
                                              else ''))
            shadow[off:off + length] = bytes(length)
        else:
            ops.append('flush')
    # Split into a few runs: reopening exercises the on-disk state.
    for i in range(0, len(ops), 40):
        ours(img, *ops[i:i + 40], fmt='qcow2')
    raw.write_bytes(bytes(shadow))
    assert same_content(img, raw, tmp_path)
    qemu_check(img)
    r = sh([QEMU_IMG, 'compare', '-f', 'qcow2', '-F', 'raw', img, str(raw)],
           check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_refcount_table_growth(tmp_path):
    # 512-byte clusters with 64-bit refcounts: one refblock covers 32 KiB,
    # the first refcount table 2 MiB; 4 MiB of data grows it.
    img = str(tmp_path / 'g.qcow2')
    qemu_create(img, '8M', 'cluster_size=512,refcount_bits=64')
    ours(img, 'w:0:4194304:0x5a', fmt='qcow2')
    qemu_check(img)
    sh([QEMU_IO, '-c', 'read -P 0x5a 0 4M', img])


def test_backing_chain(tmp_path):
    base = str(tmp_path / 'base.qcow2')
    top = str(tmp_path / 'top.qcow2')
    qemu_create(base, '4M')
    sh([QEMU_IO, '-c', 'write -P 0x61 0 4M', base])
    sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F',
        'qcow2', top], cwd=tmp_path)
    # Partial-cluster write: the rest of the cluster comes from the backing.
    ours(top, 'w:1000:100:0x62', 'r:0:1000:0x61', 'r:1000:100:0x62',
         'r:1100:4193204:0x61', fmt='qcow2')
    qemu_check(top)
    sh([QEMU_IO, '-c', 'read -P 0x61 0 1000', '-c', 'read -P 0x62 1000 100',
        '-c', 'read -P 0x61 1100 64436', top])
    # Zeroes over a backing file must hide it.
    ours(top, 'z:65536:65536', 'r:65536:65536:0', 'r:131072:1000:0x61',
         fmt='qcow2')
    qemu_check(top)


def test_discard_frees_clusters(tmp_path):
    img = str(tmp_path / 'd.qcow2')
    qemu_create(img, '4M')
    ours(img, 'w:0:4194304:0x77', 'd:0:2097152', 'r:0:2097152:0',
         'r:2097152:2097152:0x77', fmt='qcow2')
    qemu_check(img)
    r = sh([QEMU_IMG, 'check', img])
    assert '32/64 = 50.00% allocated' in r.stdout


def test_resize_grow_and_shrink(tmp_path):
    img = str(tmp_path / 't.qcow2')
    qemu_create(img, '1M', 'cluster_size=512')
    ours(img, 'w:0:1048576:0x41', 't:100007936', 'w:99999000:1000:0x42',
         fmt='qcow2')
    qemu_check(img)
    sh([QEMU_IO, '-c', 'read -P 0x41 0 1M', '-c',
        'read -P 0x42 99999000 1000', '-c', 'read -P 0 1M 1M', img])
    ours(img, 't:524288', 'r:0:524288:0x41', fmt='qcow2')
    qemu_check(img)
    r = sh([QEMU_IMG, 'info', '--output=json', img])
    assert '"virtual-size": 524288' in r.stdout


def test_compressed_clusters_from_qemu(tmp_path):
    for ctype in ['zlib', 'zstd']:
        src = tmp_path / 'src.raw'
        rng = random.Random(1)
        blob = b''.join(bytes([rng.randrange(4)]) * rng.randrange(1, 300)
                        for _ in range(20000))[:2 << 20]
        src.write_bytes(blob.ljust(2 << 20, b'\0'))
        img = str(tmp_path / f'c-{ctype}.qcow2')
        sh([QEMU_IMG, 'convert', '-c', '-O', 'qcow2', '-o',
            f'compression_type={ctype}', str(src), img])
        assert same_content(img, src, tmp_path)
        # Overwriting part of a compressed cluster copies it out first.
        ours(img, 'w:100:10:0x99', fmt='qcow2')
        blob2 = bytearray(src.read_bytes())
        blob2[100:110] = b'\x99' * 10
        src.write_bytes(bytes(blob2))
        assert same_content(img, src, tmp_path)
        qemu_check(img)


def test_corrupt_l2_offset_marks_image(tmp_path):
    img = str(tmp_path / 'k.qcow2')
    qemu_create(img, '1M')
    sh([QEMU_IO, '-c', 'write -P 1 0 4k', img])
    with open(img, 'r+b') as f:
        f.seek(40)
        l1 = int.from_bytes(f.read(8), 'big')
        f.seek(l1)
        e = int.from_bytes(f.read(8), 'big')
        f.seek(l1)
        f.write((e | 0x200).to_bytes(8, 'big'))
    r = ours(img, 'r:0:4096:1', fmt='qcow2', check=False)
    assert r.returncode == 1
    assert ('qcow2: Marking image as corrupt: L2 table offset 0x40200 '
            'unaligned (L1 index: 0); further corruption events will be '
            'suppressed\n') in r.stderr
    r = sh([QEMU_IMG, 'info', img])
    assert 'corrupt: true' in r.stdout
    r = ours(img, 'r:0:4096:1', fmt='qcow2', check=False)
    assert r.returncode == 1
    assert 'Image is corrupt; cannot be opened read/write' in r.stderr


def test_unknown_incompatible_feature_refused(tmp_path):
    img = str(tmp_path / 'u.qcow2')
    qemu_create(img, '1M')
    with open(img, 'r+b') as f:
        f.seek(72)
        f.write((1 << 40).to_bytes(8, 'big'))
    r = ours(img, fmt='qcow2', check=False)
    assert r.returncode == 1
    assert 'Unsupported qcow2 feature(s): Unknown incompatible feature: ' \
           '10000000000' in r.stderr


def test_dirty_image_repaired_on_open(tmp_path):
    # QEMU killed after writing with lazy refcounts: refcounts are stale
    # and the dirty bit is set; opening read-write repairs it like QEMU.
    img = str(tmp_path / 'l.qcow2')
    qemu_create(img, '4M', 'lazy_refcounts=on')
    subprocess.run([QEMU_IO, '-c', 'write -P 7 0 128k', '-c', 'sigraise 9',
                    img], capture_output=True)
    copy = str(tmp_path / 'l2.qcow2')
    sh(['cp', img, copy])
    ref = subprocess.run([QEMU_IO, '-c', 'read -P 7 0 128k', copy],
                         capture_output=True, text=True)
    r = ours(img, 'r:0:131072:7', 'w:131072:1000:8', fmt='qcow2')
    assert r.stderr == ref.stderr
    assert 'Rebuilding refcount structure' in r.stderr
    qemu_check(img)
    r = sh([QEMU_IMG, 'info', img])
    assert 'cleanly shut down' not in r.stdout


def test_lazy_refcounts_dirty_bit_cleared_on_close(tmp_path):
    img = str(tmp_path / 'lz.qcow2')
    qemu_create(img, '4M', 'lazy_refcounts=on')
    ours(img, 'w:0:65536:3', fmt='qcow2')
    with open(img, 'rb') as f:
        f.seek(72)
        assert int.from_bytes(f.read(8), 'big') & 1 == 0
    qemu_check(img)


@pytest.mark.parametrize('opts', ['compression_type=zlib',
                                  'compression_type=zstd',
                                  'cluster_size=512,refcount_bits=1',
                                  'extended_l2=on'])
def test_compressed_writes(tmp_path, opts):
    src = tmp_path / 'c.raw'
    rng = random.Random(5)
    blob = b''.join(bytes([rng.randrange(4)]) * rng.randrange(1, 300)
                    for _ in range(8000))[:1 << 20]
    # One incompressible cluster: stored normally.
    blob = rng.randbytes(65536) + blob[65536:]
    src.write_bytes(blob.ljust(1 << 20, b'\0'))
    img = str(tmp_path / 'cw.qcow2')
    qemu_create(img, '1M', opts)
    ours(img, f'wc:0:1048576:{src}', fmt='qcow2')
    qemu_check(img)
    r = sh([QEMU_IMG, 'check', img])
    assert 'compressed clusters' in r.stdout
    assert '0.00% compressed' not in r.stdout
    r = sh([QEMU_IMG, 'compare', '-f', 'qcow2', '-F', 'raw', img, str(src)])
    # Compression never overwrites an allocated cluster (as QEMU).
    r = ours(img, f'wc:65536:65536:{src}', fmt='qcow2', check=False)
    assert r.returncode == 1


def make_info_images(d):
    """Images covering the qcow2 info fields; returns their names."""
    sh([QEMU_IMG, 'create', '-q', '-f', 'raw', 'back.raw', '2M'], cwd=d)
    specs = {
        'v2.qcow2': ['-o', 'compat=0.10', 'v2.qcow2', '1M'],
        'v3.qcow2': ['v3.qcow2', '1M'],
        'opts.qcow2': ['-o', 'extended_l2=on,compression_type=zstd,'
                       'lazy_refcounts=on,refcount_bits=64', 'opts.qcow2',
                       '3G'],
        'small.qcow2': ['-o', 'cluster_size=512,refcount_bits=1',
                        'small.qcow2', '1000005'],
        'back.qcow2': ['-b', 'back.raw', '-F', 'raw', 'back.qcow2'],
        'bitmaps.qcow2': ['bitmaps.qcow2', '1M'],
        'written.qcow2': ['written.qcow2', '4M'],
    }
    for spec in specs.values():
        sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2'] + spec, cwd=d)
    sh([QEMU_IMG, 'bitmap', '--add', 'bitmaps.qcow2', 'b0'], cwd=d)
    sh([QEMU_IMG, 'bitmap', '--add', '-g', '1M', 'bitmaps.qcow2', 'b1'],
       cwd=d)
    sh([QEMU_IMG, 'bitmap', '--add', '--disable', 'bitmaps.qcow2', 'b2'],
       cwd=d)
    ours(str(d / 'written.qcow2'), 'w:0:1000000:1', fmt='qcow2')
    sh(['cp', 'v3.qcow2', 'corrupt.qcow2'], cwd=d)
    sh(['cp', 'v3.qcow2', 'dirty.qcow2'], cwd=d)
    with open(d / 'corrupt.qcow2', 'r+b') as f:
        f.seek(72)
        f.write((2).to_bytes(8, 'big'))
    with open(d / 'dirty.qcow2', 'r+b') as f:
        f.seek(72)
        f.write((1).to_bytes(8, 'big'))
    return list(specs) + ['corrupt.qcow2', 'dirty.qcow2']


@pytest.mark.parametrize('output', ['human', 'json'])
def test_info_matches_qemu(tmp_path, output):
    for name in make_info_images(tmp_path):
        mine = sh([our_img(), 'info', f'--output={output}', name],
                  cwd=tmp_path)
        theirs = sh([QEMU_IMG, 'info', f'--output={output}', name],
                    cwd=tmp_path)
        assert mine.stdout == theirs.stdout, name
        assert mine.stderr == theirs.stderr, name


def test_create_help_matches_qemu(tmp_path):
    mine = sh([our_img(), 'create', '-f', 'qcow2', '-o', 'help', 'x', '1M'],
              cwd=tmp_path)
    theirs = sh([QEMU_IMG, 'create', '-f', 'qcow2', '-o', 'help', 'x', '1M'],
                cwd=tmp_path)
    assert mine.stdout == theirs.stdout


@pytest.mark.parametrize('args', [
    ['-o', 'compat=1.2'], ['-o', 'compression_type=lz'],
    ['-o', 'refcount_bits=3'], ['-o', 'cluster_size=1000'],
    ['-o', 'preallocation=foo'], ['-o', 'compat=0.10,refcount_bits=8'],
    ['-o', 'compat=0.10,lazy_refcounts=on'],
    ['-o', 'compat=0.10,extended_l2=on'],
    ['-o', 'extended_l2=on,cluster_size=4k'],
    ['-b', 'back.raw', '-F', 'raw', '-o', 'preallocation=metadata'],
    ['-b', 'nonexist.raw', '-F', 'raw'], ['-b', 'back.raw'],
    ['-u', '-b', 'nonexist.raw', '-F', 'raw'],
    ['-o', 'backing_fmt=raw'], ['-o', 'cluster_size=4M'],
    ['-o', 'preallocation=falloc'], ['-o', 'preallocation=full'],
    ['-o', 'refcount_bits=128'], ['-o', 'lazy_refcounts=maybe'],
])
def test_create_matches_qemu(tmp_path, args):
    sh([QEMU_IMG, 'create', '-q', '-f', 'raw', 'back.raw', '2M'],
       cwd=tmp_path)
    size = [] if '-b' in args and 'nonexist.raw' not in args else ['1M']
    mine = sh([our_img(), 'create', '-f', 'qcow2'] + args + ['a.qcow2'] +
              size, cwd=tmp_path, check=False)
    mine_exists = (tmp_path / 'a.qcow2').exists()
    if mine_exists:
        os.rename(tmp_path / 'a.qcow2', tmp_path / 'mine.qcow2')
    theirs = sh([QEMU_IMG, 'create', '-f', 'qcow2'] + args + ['a.qcow2'] +
                size, cwd=tmp_path, check=False)
    assert (mine.returncode, mine.stdout, mine.stderr) == \
        (theirs.returncode, theirs.stdout, theirs.stderr)
    if theirs.returncode == 0 and '-u' not in args:
        qemu_check(str(tmp_path / 'mine.qcow2'))
        r = sh([QEMU_IMG, 'compare', str(tmp_path / 'mine.qcow2'),
                str(tmp_path / 'a.qcow2')], check=False)
        assert r.returncode == 0, r.stdout


@pytest.mark.parametrize('opts,message', [
    ('encryption=on', 'qcow2: encrypted images are not supported'),
    ('encrypt.format=luks', 'qcow2: encrypted images are not supported'),
    ('data_file=d.raw', 'qcow2: external data files are not supported'),
])
def test_create_refuses_unsupported(tmp_path, opts, message):
    r = sh([our_img(), 'create', '-q', '-f', 'qcow2', '-o', opts, 'a.qcow2',
            '1M'], cwd=tmp_path, check=False)
    assert r.returncode == 1
    assert r.stderr == f'qemu-img: a.qcow2: {message}\n'


def test_crash_consistency_our_writer(tmp_path):
    """kill -9 our qemu-io mid-write on qcow2 images: QEMU's check finds no
    corruption and every flushed write reads back (harness of
    test_crash_consistency.py)."""
    import test_crash_consistency as crash
    from conftest import Binaries, _reference_path

    qemu_io = build_dir() / 'tools' / 'qemu-io' / 'qemu-io'
    if not qemu_io.exists():
        pytest.skip('our qemu-io is not built')
    ref = Binaries('reference', _reference_path)
    crash.crash_trials(qemu_io, ref, tmp_path, 20, seed=11)


@pytest.mark.parametrize('steps', [
    [['IMG', '2M'], ['--shrink', 'IMG', '512K'],
     ['--preallocation=metadata', 'IMG', '4M'],
     ['--preallocation=full', 'IMG', '5M'],
     ['--preallocation=falloc', 'IMG', '6M'],
     ['--preallocation=full', '--shrink', 'IMG', '1M'],
     ['IMG', '1000'], ['--shrink', 'IMG', '1000000']],
])
def test_resize_matches_qemu(tmp_path, steps):
    qemu_create(str(tmp_path / 'mine.qcow2'), '1M')
    ours(str(tmp_path / 'mine.qcow2'), 'w:0:1048576:0x31', fmt='qcow2')
    sh(['cp', 'mine.qcow2', 'theirs.qcow2'], cwd=tmp_path)
    for step in steps:
        mine = sh([our_img(), 'resize'] +
                  [a.replace('IMG', 'mine.qcow2') for a in step],
                  cwd=tmp_path, check=False)
        theirs = sh([QEMU_IMG, 'resize'] +
                    [a.replace('IMG', 'theirs.qcow2') for a in step],
                    cwd=tmp_path, check=False)
        assert mine.returncode == theirs.returncode, step
        assert mine.stdout == theirs.stdout
        assert mine.stderr.replace('mine', 'theirs') == theirs.stderr
        qemu_check(str(tmp_path / 'mine.qcow2'))
    r = sh([QEMU_IMG, 'compare', 'mine.qcow2', 'theirs.qcow2'], cwd=tmp_path)
    assert 'Images are identical.' in r.stdout


def test_map_matches_qemu(tmp_path):
    """Block status through our driver, as qemu-img map shows it, on images
    QEMU wrote (zero clusters, subclusters, backing chains, compressed and
    preallocated clusters)."""
    def qio(img, *cmds):
        args = [QEMU_IO]
        for c in cmds:
            args += ['-c', c]
        sh(args + [img], cwd=tmp_path)

    sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on',
        'e.qcow2', '1M'], cwd=tmp_path)
    qio('e.qcow2', 'write -P 1 3k 5k', 'write -z 40k 8k',
        'write -P 2 100k 64k')
    sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2', '-b', 'e.qcow2', '-F',
        'qcow2', 'top.qcow2'], cwd=tmp_path)
    qio('top.qcow2', 'write -P 3 0 1k', 'write -z 200k 64k')
    sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2', 'z.qcow2', '1M'],
       cwd=tmp_path)
    # (No partial-cluster data writes here: QEMU fills the COW tail with
    # fallocated zeroes and reports the whole cluster as data, while our
    # block core always asks the file about holes in data clusters.)
    qio('z.qcow2', 'write -P 1 0 128k', 'write -z 0 64k',
        'write -z -u 256k 64k', 'write -P 5 512k 64k')
    sh([QEMU_IMG, 'create', '-q', '-f', 'qcow2', '-o',
        'preallocation=metadata', 'pre.qcow2', '1000005'], cwd=tmp_path)
    (tmp_path / 'c.raw').write_bytes(b'abc' * 100000)
    sh([QEMU_IMG, 'convert', '-c', '-O', 'qcow2', 'c.raw', 'c.qcow2'],
       cwd=tmp_path)
    for name in ['e.qcow2', 'top.qcow2', 'z.qcow2', 'pre.qcow2',
                 'c.qcow2']:
        for output in ['human', 'json']:
            mine = sh([our_img(), 'map', f'--output={output}', name],
                      cwd=tmp_path, check=False)
            theirs = sh([QEMU_IMG, 'map', f'--output={output}', name],
                        cwd=tmp_path, check=False)
            assert (mine.returncode, mine.stdout, mine.stderr) == \
                (theirs.returncode, theirs.stdout, theirs.stderr), name


def test_writes_keep_internal_snapshot(tmp_path):
    """Clusters and L2 tables shared with a snapshot are copied on write;
    the snapshot keeps its contents."""
    img = str(tmp_path / 'sn.qcow2')
    qemu_create(img, '4M')
    sh([QEMU_IO, '-c', 'write -P 1 0 4M', img])
    sh([QEMU_IMG, 'snapshot', '-c', 's1', img])
    ours(img, 'w:1000:100000:2', 'z:1048576:65536', 'd:2097152:65536',
         'r:1000:100000:2', 'r:0:1000:1', fmt='qcow2')
    qemu_check(img)
    snap = tmp_path / 'snap.raw'
    sh([QEMU_IMG, 'convert', '-l', 'snapshot.name=s1', '-O', 'raw', img,
        str(snap)])
    assert snap.read_bytes() == b'\x01' * (4 << 20)
    sh([QEMU_IO, '-c', 'read -P 2 1000 100000', '-c', 'read -P 0 1M 64k',
        '-c', 'read -P 1 3M 1M', img])


def test_writes_mark_persistent_bitmaps_in_use(tmp_path):
    """We keep no bitmaps: after our writes QEMU sees them as in use
    (stale), still referenced, so its check finds no leaks."""
    img = str(tmp_path / 'bm.qcow2')
    qemu_create(img, '1M')
    sh([QEMU_IMG, 'bitmap', '--add', img, 'b0'])
    ours(img, 'w:0:512:1', fmt='qcow2')
    qemu_check(img)
    r = sh([QEMU_IMG, 'info', '--output=json', img])
    assert '"in-use"' in r.stdout and '"b0"' in r.stdout
    mine = sh([our_img(), 'info', '--output=json', img])
    assert mine.stdout == r.stdout
