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
