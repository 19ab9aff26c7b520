from __future__ import annotations

import errno

import pytest

from fs3._paths import check_name, normalize, split_path
from fs3._url import parse_url


@pytest.mark.parametrize("path, expected", [
    ("/", "/"), ("/a", "/a"), ("a/b", "/a/b"), ("//a///b/", "/a/b"), ("/é/ü", "/é/ü"),
])
def test_normalize(path, expected):
    assert normalize(path) == expected


@pytest.mark.parametrize("name, code", [
    ("", errno.EINVAL), (".", errno.EINVAL), ("..", errno.EINVAL), ("a\0b", errno.EINVAL),
    ("a/b", errno.EINVAL), ("x" * 256, errno.ENAMETOOLONG), ("é" * 128, errno.ENAMETOOLONG),
])
def test_bad_names(name, code):
    with pytest.raises(OSError) as info:
        check_name(name)
    assert info.value.errno == code


def test_name_limits_are_bytes():
    assert check_name("x" * 255) == "x" * 255
    assert check_name("é" * 127)


@pytest.mark.parametrize("path, code", [
    ("", errno.EINVAL), ("/a\0", errno.EINVAL),
    ("/" + "/".join(["d" * 200] * 330), errno.ENAMETOOLONG),  # over 64 KiB
])
def test_bad_paths(path, code):
    with pytest.raises(OSError) as info:
        split_path(path)
    assert info.value.errno == code


def test_urls():
    assert parse_url("fs3:///a/b").address is None
    assert parse_url("fs3:///a/b").path == "/a/b"
    assert parse_url("fs3://127.0.0.1:9000/x").address == "127.0.0.1:9000"
    assert parse_url("fs3://127.0.0.1:9000").path == "/"
    with pytest.raises(OSError):
        parse_url("fs3://host/x")
    with pytest.raises(OSError):
        parse_url("s3://bucket/x")


def test_dot_components_are_kept_for_meta_to_resolve():
    assert split_path("/a/./b/../c") == ["a", ".", "b", "..", "c"]
    assert normalize("/a/..") == "/a/.."
