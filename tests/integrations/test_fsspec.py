"""fs3 as an fsspec filesystem on a real cluster: fsspec's own abstract test suite, ranges on the batched
read path, and pandas / pyarrow reading and writing fs3:// paths."""

from __future__ import annotations

import os
import posixpath
import uuid

import fsspec
import numpy as np
import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from fs3.client.fsspec import FS3FileSystem


@pytest.fixture(scope="module")
def fs3fs(cluster):
    fs = FS3FileSystem(cluster=cluster.meta[0], skip_instance_cache=True)
    yield fs


class FS3Fixtures(AbstractFixtures):
    @pytest.fixture
    def fs(self, fs3fs):
        return fs3fs

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs3fs):
        path = f"/fsspec-{uuid.uuid4().hex[:10]}"
        fs3fs.makedirs(path, exist_ok=True)
        return path


class TestFS3Copy(FS3Fixtures, AbstractCopyTests):
    pass


class TestFS3Get(FS3Fixtures, AbstractGetTests):
    pass


class TestFS3Put(FS3Fixtures, AbstractPutTests):
    pass


class TestFS3Open(FS3Fixtures, AbstractOpenTests):
    pass


class TestFS3Pipe(FS3Fixtures, AbstractPipeTests):
    pass


def test_registered_by_entry_point(cluster):
    fs = fsspec.filesystem("fs3", cluster=cluster.meta[0])
    assert isinstance(fs, FS3FileSystem)
    host = cluster.meta[0]
    with fsspec.open(f"fs3://{host}/ep/hello.txt", "w") as f:
        f.write("hello through fsspec")
    with fsspec.open(f"fs3://{host}/ep/hello.txt", "r") as f:
        assert f.read() == "hello through fsspec"
    assert fs.ls("/ep", detail=False) == ["/ep/hello.txt"]
    assert fs.info("fs3:///ep/hello.txt")["size"] == 20


def test_ranges_use_the_batch_path(fs3fs):
    data = np.random.default_rng(0).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()
    fs3fs.pipe("/ranges/a.bin", data)
    fs3fs.pipe("/ranges/b.bin", data[::-1])
    assert fs3fs.cat_file("/ranges/a.bin", start=100, end=200) == data[100:200]
    assert fs3fs.cat_file("/ranges/a.bin", start=-10) == data[-10:]
    calls = []
    aclient = fs3fs._aclient  # the filesystem's own AsyncClient: count its batched reads
    original = aclient.read_batch

    async def counting(reqs, buffers=None):
        calls.append(len(reqs))
        return await original(reqs, buffers)

    aclient.read_batch = counting
    try:
        starts = list(range(0, 3 << 20, 100_003))
        got = fs3fs.cat_ranges(["/ranges/a.bin", "/ranges/b.bin"] * len(starts),
                               [s for s in starts for _ in (0, 1)], [s + 4096 for s in starts for _ in (0, 1)])
    finally:
        aclient.read_batch = original
    assert calls == [2 * len(starts)]  # one batched round for every range of both files
    rev = data[::-1]
    for k, s in enumerate(starts):
        assert got[2 * k] == data[s:s + 4096] and got[2 * k + 1] == rev[s:s + 4096]
    missing = fs3fs.cat_ranges(["/ranges/none"], [0], [1])
    assert isinstance(missing[0], FileNotFoundError)


def test_mv_is_a_rename(fs3fs, client):
    fs3fs.pipe("/mv/x", b"abc")
    before = client.stat("/mv/x").inode
    fs3fs.mv("fs3:///mv/x", "fs3:///mv/y")
    assert client.stat("/mv/y").inode == before and not fs3fs.exists("/mv/x")


def test_pandas_and_pyarrow_read_and_write_fs3_paths(cluster):
    pd = pytest.importorskip("pandas")
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    os.environ["FS3_CLUSTER"] = cluster.meta[0]
    try:
        df = pd.DataFrame({"id": np.arange(50_000), "text": [f"row {i}" for i in range(50_000)],
                           "x": np.random.default_rng(1).random(50_000)})
        df.to_parquet("fs3:///tables/t.parquet")
        back = pd.read_parquet("fs3:///tables/t.parquet")
        pd.testing.assert_frame_equal(df, back)
        df.to_csv("fs3:///tables/t.csv", index=False)
        pd.testing.assert_frame_equal(df, pd.read_csv("fs3:///tables/t.csv"))

        fs = FS3FileSystem()
        table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
        pq.write_table(table, "/tables/arrow.parquet", filesystem=fs)
        assert pq.read_table("/tables/arrow.parquet", filesystem=fs).equals(table)
        dataset = ds.dataset("/tables/arrow.parquet", filesystem=fs, format="parquet")
        assert dataset.to_table(filter=ds.field("a") < 10).num_rows == 10
    finally:
        os.environ.pop("FS3_CLUSTER", None)
