"""A real voicesmith server on a free loopback port, driven by stock boto3 and openai clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import RunningServer, make_settings, openai_client, polly_client, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_cache) -> Iterator[RunningServer]:
    """One open (no keys) server per test module."""
    settings = make_settings(tmp_path_factory.mktemp("server"), shared_cache)
    yield from serve(settings)


@pytest.fixture(scope="module")
def polly(server):
    return polly_client(server.url)


@pytest.fixture(scope="module")
def oai(server):
    return openai_client(server.url)


@pytest.fixture(scope="session")
def doors_server(tmp_path_factory, shared_cache) -> Iterator[RunningServer]:
    """One open server with the Wyoming door on, shared by the door tests (Wyoming, MaryTTS, ElevenLabs),
    so the voice loads once for all of them."""
    settings = make_settings(
        tmp_path_factory.mktemp("doors"), shared_cache, wyoming_port=0, wyoming_host="127.0.0.1"
    )
    yield from serve(settings)


@pytest.fixture(scope="session")
def keyed_doors_server(tmp_path_factory, shared_cache) -> Iterator[RunningServer]:
    """The same with keys configured (OpenAI/ElevenLabs/MaryTTS keys, AWS credentials)."""
    from .harness import ACCESS_KEY, OPENAI_KEY, SECRET_KEY

    settings = make_settings(
        tmp_path_factory.mktemp("keyed-doors"),
        shared_cache,
        wyoming_port=0,
        wyoming_host="127.0.0.1",
        openai_api_keys=[OPENAI_KEY],
        aws_credentials={ACCESS_KEY: SECRET_KEY},
    )
    yield from serve(settings)
