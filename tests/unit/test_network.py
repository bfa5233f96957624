"""The job network: what the worker asks the engine for, without an engine (no test may create a network here:
a new bridge takes a private-range subnet). DockerRuntime talks to a stub client; the fake records."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import pytest
import requests
from typer.testing import CliRunner

from asman.cli import work
from asman.cli.main import app
from asman.worker.daemon import WorkerSettings
from asman.worker.network import JOB_NETWORK, network_create_arguments
from asman.worker.runtimes import ContainerSpec, DockerRuntime, FakeRuntime, NetworkError


class StubNetworks:
    """`DockerClient.networks` over a dict; every call is recorded."""

    def __init__(self, existing: dict[str, dict[str, str]] | None = None, conflict: bool = False) -> None:
        self.existing = dict(existing or {})
        self.conflict = conflict
        self.calls: list[tuple[str, Any]] = []

    def get(self, name: str) -> Any:
        self.calls.append(("get", name))
        if name not in self.existing:
            raise docker.errors.NotFound(f"network {name} not found")
        return type("Network", (), {"attrs": {"Name": name, "Options": self.existing[name]}})()

    def create(self, **arguments: Any) -> None:
        self.calls.append(("create", arguments))
        if self.conflict:
            response = requests.Response()
            response.status_code = 409
            raise docker.errors.APIError("already exists", response=response)
        self.existing[arguments["name"]] = arguments["options"]


def runtime_over(networks: StubNetworks) -> DockerRuntime:
    client = type("Client", (), {"networks": networks})()
    return DockerRuntime(client=cast(docker.DockerClient, client))


def test_the_workers_own_network_reaches_the_internet_but_no_other_container() -> None:
    assert network_create_arguments(JOB_NETWORK) == {
        "name": "asman-jobs",
        "driver": "bridge",
        "options": {
            "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
        },
        "labels": {"io.asman.managed": "1"},
        "internal": False,
        "enable_ipv6": False,
    }


async def test_the_job_network_is_created_once_then_reused() -> None:
    networks = StubNetworks()
    runtime = runtime_over(networks)
    await runtime.ensure_network(JOB_NETWORK)
    await runtime.ensure_network(JOB_NETWORK)
    assert networks.calls == [("get", JOB_NETWORK), ("create", network_create_arguments(JOB_NETWORK))]


async def test_an_existing_job_network_is_used_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    networks = StubNetworks({JOB_NETWORK: network_create_arguments(JOB_NETWORK)["options"]})
    await runtime_over(networks).ensure_network(JOB_NETWORK)
    assert networks.calls == [("get", JOB_NETWORK)]
    leaky = StubNetworks({JOB_NETWORK: {}})
    with caplog.at_level(logging.WARNING):
        await runtime_over(leaky).ensure_network(JOB_NETWORK)
    assert "lets containers reach each other" in caplog.text


async def test_a_network_another_worker_just_made_is_fine() -> None:
    networks = StubNetworks(conflict=True)
    await runtime_over(networks).ensure_network(JOB_NETWORK)
    assert [call for call, _ in networks.calls] == ["get", "create"]


async def test_none_needs_no_engine_and_other_networks_must_exist() -> None:
    networks = StubNetworks({"lab-net": {}})
    runtime = runtime_over(networks)
    await runtime.ensure_network("none")
    assert networks.calls == []
    await runtime.ensure_network("lab-net")
    with pytest.raises(NetworkError, match=r"'typo-net' does not exist.*--network none"):
        await runtime.ensure_network("typo-net")
    assert [call for call, _ in networks.calls] == ["get", "get"], "the worker creates only its own network"


def test_containers_join_the_network_hardened() -> None:
    spec = ContainerSpec(image="x", name="asman-w-job-1", network=JOB_NETWORK, memory=1024**2)
    arguments = DockerRuntime(client=cast(docker.DockerClient, object()))._create_arguments(spec)
    assert arguments["network_mode"] == JOB_NETWORK
    assert (arguments["cap_drop"], arguments["security_opt"], arguments["user"]) == (
        ["ALL"],
        ["no-new-privileges"],
        "1000:1000",
    )
    assert arguments["mem_limit"] == arguments["memswap_limit"] == 1024**2


async def test_the_fake_creates_what_docker_would() -> None:
    fake = FakeRuntime()
    await fake.ensure_network(JOB_NETWORK)
    await fake.ensure_network(JOB_NETWORK)
    await fake.ensure_network("none")
    assert fake.created_networks == [JOB_NETWORK]
    assert fake.networks[JOB_NETWORK] == network_create_arguments(JOB_NETWORK)
    with pytest.raises(NetworkError):
        await fake.ensure_network("typo-net")


@pytest.mark.parametrize(
    ("args", "env", "network"),
    [
        ([], {}, JOB_NETWORK),
        (["--network", "none"], {}, "none"),
        ([], {"ASMAN_WORKER_NETWORK": "none"}, "none"),
        (["--network", "lab-net"], {"ASMAN_WORKER_NETWORK": "none"}, "lab-net"),
    ],
)
def test_the_network_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], env: dict[str, str], network: str
) -> None:
    seen: list[WorkerSettings] = []

    async def serve(settings: WorkerSettings, *_: object) -> None:
        seen.append(settings)

    monkeypatch.setattr(work, "_serve", serve)
    monkeypatch.setattr(work, "start_logging", lambda settings: None)  # the test process keeps its logging
    monkeypatch.delenv("ASMAN_WORKER_NETWORK", raising=False)
    result = CliRunner().invoke(app, ["worker", "q", "--data-directory", str(tmp_path), *args], env=env)
    assert result.exit_code == 0, result.output
    assert [settings.network for settings in seen] == [network]
    assert WorkerSettings(api_url="http://x", queue="q", data_dir=tmp_path).network == JOB_NETWORK
