"""deploy/ (compose, Kubernetes) cannot run here; this keeps it consistent with the code: settings names,
CLI entry points and their options, ports, probe and scrape routes, selectors."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from voicesmith.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PENDING = {
    "worker": "`voicesmith worker` comes from the backends branch",
    "/readyz": "GET /readyz comes from the bounds branch",
}


def documents() -> list[dict]:
    docs = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def containers() -> list[dict]:
    found = []
    for doc in documents():
        if doc.get("kind") == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            found += spec.get("containers", []) + spec.get("initContainers", [])
        elif "services" in doc:  # the compose file
            found += [s for s in doc["services"].values() if "voicesmith" in str(s.get("image", ""))]
    return found


def env_names() -> set[str]:
    text = "\n".join(path.read_text() for path in DEPLOY.rglob("*.yaml"))
    return set(re.findall(r"\bVOICESMITH_[A-Z0-9_]+", text)) - {"VOICESMITH_IMAGE"}  # compose's own variable


def commands() -> list[list[str]]:
    found = []
    for container in containers():
        command = container.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if command and command[0] == "voicesmith":
            found.append(command)
    return found


def test_every_setting_named_exists():
    fields = set(Settings.model_fields)
    unknown = sorted(name for name in env_names() if name.removeprefix("VOICESMITH_").lower() not in fields)
    assert unknown == []
    assert len(env_names()) >= 10


def test_entry_points_are_real_commands_with_real_options():
    import click

    from voicesmith.cli import _COMMANDS, main

    seen = set()
    for command in commands():
        name, args = command[1], command[2:]
        seen.add(name)
        if name not in _COMMANDS and name in PENDING:
            continue
        assert name in _COMMANDS, command
        group_context = click.Context(main)
        sub = main.get_command(group_context, name)
        sub.make_context(name, list(args), parent=group_context)  # raises on an unknown option
    assert {"serve", "db"} <= seen
    missing = [name for name in ("worker",) if name not in _COMMANDS]
    if missing:
        pytest.skip(f"checked all but {missing}: {PENDING['worker']}")


def test_ports_probes_and_scrape_paths_match_the_app(settings):
    from voicesmith.server.app import create_app

    routes = set(create_app(settings).openapi()["paths"])
    paths: list[str] = []
    for doc in documents():
        if doc.get("kind") != "Deployment":
            continue
        template = doc["spec"]["template"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        scrape = template["metadata"].get("annotations", {})
        for container in template["spec"]["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            command = container["command"]
            if "--port" in command:
                assert int(command[command.index("--port") + 1]) == ports["http"]
            for probe in ("readinessProbe", "livenessProbe"):
                if probe in container:
                    assert container[probe]["httpGet"]["port"] in ports
                    paths.append(container[probe]["httpGet"]["path"])
            if scrape:
                assert int(scrape["prometheus.io/port"]) == ports["http"]
                paths.append(scrape["prometheus.io/path"])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    paths += re.findall(r"127\.0\.0\.1:8000(/[a-z]+)", str(compose["services"]["api"]["healthcheck"]))
    assert {"/healthz", "/readyz", "/metrics"} <= set(paths)
    pending = [p for p in paths if p not in routes and p in PENDING]
    assert [p for p in paths if p not in routes and p not in PENDING] == []
    if pending:
        pytest.skip(f"{sorted(set(pending))} not in this branch yet: {PENDING['/readyz']}")


def test_services_and_autoscaler_point_at_the_api():
    docs = documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Deployment"}
    assert {"voicesmith-api", "voicesmith-worker"} <= set(deployments)
    hpa = next(d for d in docs if d.get("kind") == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "voicesmith-api"
    service = next(d for d in docs if d.get("kind") == "Service")
    api = deployments["voicesmith-api"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= api["metadata"]["labels"].items()
    port_names = {p["name"] for c in api["spec"]["containers"] for p in c["ports"]}
    assert all(p["targetPort"] in port_names for p in service["spec"]["ports"])
    drain = float(Settings.model_fields["shutdown_drain_seconds"].default)
    for deployment in deployments.values():  # time for both drains (requests, then tasks)
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 2 * drain
