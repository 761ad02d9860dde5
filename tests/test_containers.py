"""The Dockerfiles cannot be built here (no registry is reachable): keep them honest instead. What they
COPY exists, their Python and torch versions and extras match pyproject.toml, and their entry point,
port and health check match the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "docker" / name).read_text()
    text = re.sub(r"\\\n", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def args(name: str) -> dict[str, str]:
    return dict(rest.split("=", 1) for word, rest in instructions(name) if word == "ARG" and "=" in rest)


def extras(name: str) -> set[str]:
    """An extra and the extras it includes (``voicesmith[a,b]``), recursively."""
    seen, todo = set(), [name]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
            match = re.fullmatch(r"voicesmith\[([^\]]+)\]", requirement)
            if match:
                todo.extend(part.strip() for part in match[1].split(","))
    return seen


def requirements(extra_names: set[str]) -> list[str]:
    groups = PYPROJECT["project"]["optional-dependencies"]
    return [*PYPROJECT["project"]["dependencies"], *(r for e in extra_names for r in groups[e])]


def python_ok(version: str) -> bool:
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    return tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))


@pytest.mark.parametrize("name", ["train.Dockerfile", "serve.Dockerfile"])
def test_what_they_copy_exists(name):
    copies = [rest for word, rest in instructions(name) if word == "COPY" and not rest.startswith("--from")]
    assert copies
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for rest in copies:
        *sources, _target = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{name} copies {source}, which is not in the repository"
            assert f"!{source.split('/')[0]}" in ignored, f".dockerignore leaves {source} out of the context"


def test_training_image_matches_pyproject_and_the_entry_point():
    values = args("train.Dockerfile")
    torch_pin = next(
        r for r in PYPROJECT["project"]["optional-dependencies"]["train"] if r.startswith("torch")
    )
    assert torch_pin == f"torch=={values['TORCH_VERSION']}"
    tag = values["PYTHON_TAG"]
    assert python_ok(f"{tag[2]}.{tag[3:]}")
    base = next(rest for word, rest in instructions("train.Dockerfile") if word == "FROM")
    assert "pytorch-training:${TORCH_VERSION}-gpu-${PYTHON_TAG}" in base and base.endswith("-sagemaker")
    runs = " ".join(rest for word, rest in instructions("train.Dockerfile") if word == "RUN")
    assert '".[train]"' in runs and "--constraint" in runs
    env = " ".join(rest for word, rest in instructions("train.Dockerfile") if word == "ENV")
    program = re.search(r"SAGEMAKER_PROGRAM=(\S+)", env)[1]
    directory = re.search(r"SAGEMAKER_SUBMIT_DIRECTORY=(\S+)", env)[1]
    assert f"sagemaker_entry.py {directory}/{program}" in " ".join(
        rest for word, rest in instructions("train.Dockerfile") if word == "COPY"
    )
    entry = (ROOT / program).read_text()
    assert "def main(" in entry and "SM_CHANNEL_TRAINING" in entry and "SM_MODEL_DIR" in entry


def test_serving_image_has_no_torch_runs_unprivileged_and_checks_health():
    from voicesmith.settings import Settings

    steps = instructions("serve.Dockerfile")
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert all(re.fullmatch(r"python:3\.\d+-slim", b) for b in bases)
    assert all(python_ok(b.split(":")[1].removesuffix("-slim")) for b in bases)
    installed = set(
        re.findall(r'voicesmith\[([^\]]+)\]|"\.\[([^\]]+)\]"', " ".join(r for w, r in steps if w == "RUN"))
    )
    names = {part for pair in installed for group in pair if group for part in group.split(",")}
    assert names == {"server", "s3", "postgres"}
    closure = set().union(*(extras(n) for n in names))
    assert not any(r.startswith(("torch", "lightning")) for r in requirements(closure))
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    port = str(Settings().port)
    assert ("EXPOSE", port) in steps and f"VOICESMITH_PORT={port}" in " ".join(
        r for w, r in steps if w == "ENV"
    )
    health = next(rest for word, rest in steps if word == "HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/healthz" in health
    assert '@app.get("/healthz"' in (ROOT / "src/voicesmith/server/app.py").read_text()
    command = next(rest for word, rest in steps if word == "CMD")
    assert command == '["voicesmith", "serve"]'
    assert PYPROJECT["project"]["scripts"]["voicesmith"] == "voicesmith.cli:main"
    from voicesmith.cli import _COMMANDS

    assert "serve" in _COMMANDS


def test_deploy_docs_say_how_to_build_and_push():
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text.split("## Container images", 1)[1].split("\n## ", 1)[0]
    for needle in (
        "docker/train.Dockerfile",
        "docker/serve.Dockerfile",
        "docker push",
        "ecr get-login-password",
    ):
        assert needle in section
