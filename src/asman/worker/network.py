"""The job network: none at all, or (the default) the worker's own, which the worker creates once on its engine.

That network reaches the internet through the host (masquerading), but inter-container communication is off, so
a job cannot reach another job, or anything else in a container on that engine. Kept apart from the runtimes so
the CLI can name the default without importing the Docker SDK.
"""

from __future__ import annotations

from typing import Any

from asman.settings import DEFAULT_JOB_NETWORK

NO_NETWORK = "none"
JOB_NETWORK = DEFAULT_JOB_NETWORK
JOB_NETWORK_OPTIONS = {
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
}
# Every network and container a runtime creates carries this label, so cleanup never touches anyone else's.
MANAGED_LABEL = "io.asman.managed"


def network_create_arguments(name: str) -> dict[str, Any]:
    """What the worker asks the engine for when it creates its job network (`DockerClient.networks.create`)."""
    return {
        "name": name,
        "driver": "bridge",
        "options": dict(JOB_NETWORK_OPTIONS),
        "labels": {MANAGED_LABEL: "1"},
        # An internal network would keep its containers from each other, but from the internet as well.
        "internal": False,
        "enable_ipv6": False,
    }
