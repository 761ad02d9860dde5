"""Task output storage: Polly's bucket/prefix rules, no escape from the root, whole-or-nothing writes."""

from __future__ import annotations

import pytest

from voicesmith.errors import InvalidS3BucketError, InvalidS3KeyError
from voicesmith.tasks.storage import OutputStorage, check_bucket, check_prefix


@pytest.mark.parametrize("bucket", ["my-bucket", "a.b.c", "abc", "x" * 63])
def test_valid_buckets(bucket):
    assert check_bucket(bucket) == bucket


@pytest.mark.parametrize("bucket", ["", "ab", "UPPER", "-lead", "trail-", "a..b", "../x", "a/b", "x" * 64])
def test_invalid_buckets(bucket):
    with pytest.raises(InvalidS3BucketError):
        check_bucket(bucket)


@pytest.mark.parametrize("prefix", ["", "out/", "a/b/c-", "name_"])
def test_valid_prefixes(prefix):
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["../", "a/../../b", "/abs", "a//b", "./", "sp ace", "back\\slash", "x" * 801]
)
def test_invalid_prefixes(prefix):
    with pytest.raises(InvalidS3KeyError):
        check_prefix(prefix)


def test_local_write_and_uri(tmp_path):
    storage = OutputStorage((tmp_path / "out").as_uri())
    key = storage.key("bucket", "deep/er/", "task.mp3")
    assert storage.write(key, iter([b"ab", b"", b"cd"])) == 4
    path = tmp_path / "out" / "bucket" / "deep" / "er" / "task.mp3"
    assert path.read_bytes() == b"abcd"
    assert storage.uri(key) == path.as_uri()
    assert [p.name for p in path.parent.iterdir()] == ["task.mp3"]


def test_a_failed_write_leaves_no_object(tmp_path):
    storage = OutputStorage((tmp_path / "out").as_uri())
    key = storage.key("bucket", "", "task.pcm")

    def broken():
        yield b"start"
        raise RuntimeError("synthesis failed")

    with pytest.raises(RuntimeError):
        storage.write(key, broken())
    assert not storage.exists(key)


def test_memory_store(tmp_path):
    storage = OutputStorage("memory://unit-test-root")
    key = storage.key("bucket", "p/", "x.pcm")
    storage.write(key, [b"data"])
    assert storage.read(key) == b"data"
    assert storage.uri(key) == "memory:///unit-test-root/bucket/p/x.pcm"
