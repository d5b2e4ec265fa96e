"""qemu-img map: ours against QEMU 7.2's, human and JSON output.

The inputs are the convert suite's (raw images with data, zeroes, holes
and unaligned ends; a qcow2 backing chain QEMU made), run in sibling
directories so relative file names in the output match.
"""

import pytest

from test_qemu_img_convert import Pair, make_qcow2_chain, our_formats


@pytest.fixture
def pair(qx, ref, tmp_dir):
    return Pair(qx, ref, tmp_dir)


RAW_IMAGES = ["mix.raw", "small.raw", "zero.raw", "full0.raw", "empty.raw"]


@pytest.mark.parametrize("output", [[], ["--output=human"],
                                    ["--output=json"]])
@pytest.mark.parametrize("image", RAW_IMAGES)
def test_map_raw(pair, image, output):
    pair.run("map", *output, image)


@pytest.mark.parametrize("args", [
    ["--start-offset=2000", "small.raw"],
    ["--start-offset=2000", "--output=json", "small.raw"],
    ["--start-offset=512", "--max-length=100", "small.raw"],
    ["--start-offset=512", "--max-length=100", "--output=json",
     "small.raw"],
    ["--max-length=0", "small.raw"],
    ["--max-length=0", "--output=json", "small.raw"],
    ["--start-offset=64k", "--max-length=200k", "--output=json", "mix.raw"],
    ["--start-offset=1k", "--max-length=9E", "--output=json", "mix.raw"],
    ["-f", "raw", "mix.raw"],
    ["-U", "mix.raw"],
    ["--image-opts", "driver=raw,file.filename=mix.raw"],
    ["--image-opts", "--output=json",
     "driver=raw,offset=4096,size=200k,file.filename=mix.raw"],
    ["--output=json", "json:{\"driver\":\"null-co\",\"size\":1048576,"
     "\"read-zeroes\":true}"],
], ids=" ".join)
def test_map_options(pair, args):
    pair.run("map", *args)


@pytest.mark.parametrize("args", [
    [],
    ["a", "b"],
    ["--output=foo", "mix.raw"],
    ["--start-offset=foo", "mix.raw"],
    ["--start-offset=-1", "mix.raw"],
    ["--max-length=foo", "mix.raw"],
    ["--max-length=1x", "mix.raw"],
    ["missing"],
    ["-f", "qcow2", "mix.raw"],
    ["-f", "foo", "mix.raw"],
    ["--image-opts", "-f", "raw", "mix.raw"],
    ["-o", "x", "mix.raw"],
    ["--start-offset"],
], ids=lambda a: " ".join(a) or "-")
def test_map_errors(pair, args):
    pair.run("map", *args)


@pytest.fixture
def need_qcow2(qx):
    if "qcow2" not in our_formats(qx):
        pytest.skip("our qemu-img has no qcow2 driver yet")


@pytest.mark.parametrize("args", [
    ["top.qcow2"],
    ["--output=json", "top.qcow2"],
    ["-f", "qcow2", "--output=json", "base.qcow2"],
    ["--start-offset=100k", "--max-length=500k", "--output=json",
     "top.qcow2"],
    ["--image-opts", "driver=qcow2,file.filename=top.qcow2"],
    ["--output=json", "mix.qcow2"],
    ["mix.qcow2"],
    ["comp.qcow2"],            # compressed clusters: human output refuses
    ["--output=json", "comp.qcow2"],
], ids=" ".join)
def test_map_qcow2(pair, need_qcow2, args):
    make_qcow2_chain(pair)
    pair.run("map", *args)
