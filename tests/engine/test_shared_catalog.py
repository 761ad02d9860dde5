"""The shared voice catalog: a voice added on one node is listed and spoken by another, files come from
the shared store (moto's S3 server) and are checked by digest; loaded voices stay under a memory budget."""

from __future__ import annotations

import shutil
import time

import pytest

from voicesmith.engine import shared_voices
from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.errors import VoiceExistsError, VoiceNotFoundError
from voicesmith.settings import Settings


def node(
    tmp_path, shared_cache, name: str, db_url: str, shared_url: str, endpoint: str, **options
) -> Settings:
    root = tmp_path / name
    root.mkdir()
    (root / "cache").symlink_to(shared_cache, target_is_directory=True)
    return Settings(
        data_dir=root, db_url=db_url, shared_storage_url=shared_url, s3_endpoint_url=endpoint, **options
    )


@pytest.fixture()
def nodes(tmp_path, shared_cache, pg_url, s3_endpoint):
    bucket = s3_endpoint.bucket("shared-catalog")
    prefix = f"s3://{bucket}/run-{tmp_path.name}"
    return [node(tmp_path, shared_cache, n, pg_url, prefix, s3_endpoint.url) for n in ("a", "b")]


def test_a_voice_added_on_one_node_is_spoken_by_another(nodes, tiny_voices, monkeypatch):
    monkeypatch.setattr(shared_voices, "ROW_TTL_SECONDS", 0.0)
    a, b = VoiceCatalog(nodes[0]), VoiceCatalog(nodes[1])
    assert [v.id for v in b.list()] == ["joe"]
    added = a.add(tiny_voices[3], voice_id="tiny", name="Tiny", gender="Female")
    listed = {v.id: v for v in b.list()}
    assert set(listed) == {"joe", "tiny"} and listed["tiny"].digest == added.digest
    assert listed["tiny"].speakers == added.speakers and listed["tiny"].gender == "Female"
    assert not (nodes[1].voices_dir / "tiny").exists()  # not fetched until it speaks
    request = SynthesisRequest(text="Hello there.", voice="tiny", speaker="speaker_1")
    result = Synthesizer(nodes[1], catalog=b).synthesize(request)
    assert len(result.audio) > 1000
    assert (nodes[1].voices_dir / "tiny" / "model.onnx").is_file()
    with pytest.raises(VoiceExistsError):
        b.add(tiny_voices[1], voice_id="tiny")
    a.remove("tiny")
    with pytest.raises(VoiceNotFoundError):
        b.get("tiny")
    assert [v.id for v in b.list()] == ["joe"]


def test_a_damaged_shared_file_is_refused(nodes, tiny_voices, s3_endpoint):
    a, b = VoiceCatalog(nodes[0]), VoiceCatalog(nodes[1])
    a.add(tiny_voices[1], voice_id="tiny1")
    bucket, prefix = nodes[0].shared_storage_url.removeprefix("s3://").split("/", 1)
    s3_endpoint.client().put_object(Bucket=bucket, Key=f"{prefix}/voices/tiny1/model.onnx", Body=b"junk")
    with pytest.raises(OSError, match="digest"):
        b.load("tiny1")
    assert not (nodes[1].voices_dir / "tiny1").exists()


def test_voices_past_the_memory_budget_are_dropped_least_recently_used(data_dir, tiny_voices, tmp_path):
    settings = Settings(voice_memory_budget_mb=1)
    catalog = VoiceCatalog(settings)
    assert catalog.shared is None
    for n, path in enumerate((tiny_voices[1], tiny_voices[3], tiny_voices[1])):
        copy = tmp_path / f"v{n}.onnx"
        shutil.copyfile(path, copy)
        shutil.copyfile(f"{path}.json", f"{copy}.json")
        catalog.add(copy, voice_id=f"v{n}")
    loads: list[str] = []
    catalog.on_load = lambda voice_id, seconds, size: loads.append(voice_id)
    first = catalog.load("v0")
    assert catalog.load("v0") is first and loads == ["v0"]  # loaded once
    time.sleep(0.01)
    catalog.load("v1")
    catalog.load("v2")
    loaded = catalog.loaded()
    assert "v2" in loaded and sum(v.bytes for v in loaded.values()) <= (1 << 20) or len(loaded) == 1
    assert "v0" not in loaded  # the least recently used went first
    catalog.load("v0")
    assert loads == ["v0", "v1", "v2", "v0"]
