"""qcow2 create layout: our generator against QEMU 7.2's qemu-img create.

Runs tests/unit/qcow2-layout-dump (the layout code alone) and qemu-img
create with the same options, compares the files byte for byte and has
QEMU's qemu-img check the image we wrote.
"""
import os
import subprocess

import pytest

BUILD = os.environ.get('QX_BUILD_DIR', 'build')
DUMP = os.path.join(BUILD, 'tests', 'unit', 'qcow2-layout-dump')
QEMU_IMG = '/usr/bin/qemu-img'
OUR_IMG = os.path.join(BUILD, 'tools', 'qemu-img', 'qemu-img')

pytestmark = pytest.mark.skipif(
    not (os.path.exists(DUMP) and os.path.exists(QEMU_IMG)),
    reason='needs qcow2-layout-dump and /usr/bin/qemu-img')

SIZES = ['0', '1M', '1G', '100G', '1000005']
OPTIONS = [
    '',
    'compat=0.10',
    'cluster_size=512',
    'cluster_size=4k',
    'cluster_size=2M',
    'refcount_bits=1',
    'refcount_bits=64',
    'cluster_size=512,refcount_bits=1',
    'cluster_size=512,refcount_bits=64',
    'extended_l2=on',
    'compression_type=zstd',
    'lazy_refcounts=on',
    'backing_file=BACK,backing_fmt=raw',
    'compat=0.10,backing_file=BACK,backing_fmt=raw',
]
# Metadata preallocation writes every L2 table: keep sizes modest (QEMU
# itself takes minutes for 1G with 512-byte clusters).
PREALLOC = [
    ('preallocation=metadata', s) for s in ['0', '1000005', '1M', '1G']
] + [
    ('preallocation=metadata,cluster_size=512', '1000005'),
    ('preallocation=metadata,cluster_size=512', '64M'),
    ('preallocation=metadata,cluster_size=4k', '1G'),
    ('preallocation=metadata,cluster_size=2M', '1000005'),
    ('preallocation=metadata,extended_l2=on', '1000005'),
    ('preallocation=metadata,extended_l2=on,cluster_size=16k', '100M'),
    ('preallocation=metadata,compat=0.10', '1G'),
    ('preallocation=metadata,refcount_bits=1,cluster_size=1k', '16M'),
]
CASES = [(o, s) for o in OPTIONS for s in SIZES] + PREALLOC


def same_files(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        while True:
            ca = fa.read(1 << 20)
            cb = fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


@pytest.mark.parametrize('opts,size', CASES,
                         ids=[f'{o or "default"}-{s}' for o, s in CASES])
def test_layout_matches_qemu(tmp_path, opts, size):
    back = tmp_path / 'back.raw'
    subprocess.run([QEMU_IMG, 'create', '-q', '-f', 'raw', str(back), '1M'],
                   check=True)
    opts = opts.replace('BACK', 'back.raw')
    ref = tmp_path / 'ref.qcow2'
    ours = tmp_path / 'ours.qcow2'
    cmd = [QEMU_IMG, 'create', '-f', 'qcow2']
    if opts:
        cmd += ['-o', opts]
    ref_out = subprocess.run(cmd + ['ref.qcow2', size], check=True,
                             cwd=tmp_path, capture_output=True, text=True)
    args = opts.split(',') if opts else []
    subprocess.run([DUMP, str(ours), size] + args, check=True, cwd=tmp_path)

    assert same_files(ref, ours), f'{opts} {size}: files differ'
    chk = subprocess.run([QEMU_IMG, 'check', str(ours)], cwd=tmp_path,
                         capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert 'No errors were found on the image.' in chk.stdout

    # Our qemu-img create (the qcow2 driver's create_co) writes the same
    # bytes and prints the same "Formatting" line.
    if os.path.exists(OUR_IMG):
        cmd = ['create', '-f', 'qcow2'] + (['-o', opts] if opts else [])
        mine = subprocess.run([OUR_IMG] + cmd + ['mine.qcow2', size],
                              cwd=tmp_path, capture_output=True, text=True)
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout.replace('mine.qcow2', 'ref.qcow2') == \
            ref_out.stdout
        assert same_files(ref, tmp_path / 'mine.qcow2'), \
            f'{opts} {size}: qemu-img create output differs'


def test_layout_rejects_like_qemu(tmp_path):
    ours = tmp_path / 'ours.qcow2'
    r = subprocess.run([DUMP, str(ours), '1M', 'cluster_size=4k',
                        'extended_l2=on'], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == ('Extended L2 entries are only supported with '
                        'cluster sizes of at least 16384 bytes\n')
