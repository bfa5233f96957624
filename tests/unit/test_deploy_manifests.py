"""The deployment files in deploy/ cannot be built or run here (no registry), so they are checked instead:
every YAML parses; Kubernetes objects match the API schemas (kubernetes-validate, strict) and the KEDA
ScaledObject its CRD schema (vendored in tests/schemas/); selectors match pod labels; Services, probes, the HPA
and the KEDA ScaledObject point at things that exist; the worker can open its engine's socket and write its job
folder; grace periods let the longest job finish; every ASMAN_* name is one the code really reads; compose
wires the services together; hadolint passes both Dockerfiles; `kubectl kustomize` builds the base when
kubectl is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from asman.core.units import parse_duration
from asman.settings import Scope, Settings, fields_for, parse_networks
from asman.settings import env_names as settings_env_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KEDA_SCHEMA = ROOT / "tests" / "schemas" / "keda-scaledobject.json"
# The oldest Kubernetes the manifests are for (native sidecars: restartPolicy on an init container) and the
# newest the installed kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "ScaledObject": "keda.sh/v1alpha1",
}
# Names the deployment sets that are not ASMAN_* settings of the code.
FOREIGN_ENV = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "DOCKER_HOST",
    "DOCKER_TLS_CERTDIR",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    # The queue of a worker Deployment: passed as `asman worker $(ASMAN_QUEUE)`, not read as a setting.
    "ASMAN_QUEUE",
}


def scope_env_names(scope: Scope) -> set[str]:
    return {variable for name in fields_for(scope) for variable in settings_env_names(name)}


def server_env_names() -> set[str]:
    return scope_env_names(Scope.SERVER)


def worker_env_names() -> set[str]:
    names = scope_env_names(Scope.WORKER)
    assert "ASMAN_API_URL" in names
    return names


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                doc["__file__"] = path.name
                docs.append(doc)
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in k8s_documents() if doc["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_names(container: dict[str, Any]) -> set[str]:
    return {item["name"] for item in container.get("env", [])}


def test_every_yaml_file_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {path.name for path in files} >= {"compose.yaml", "kustomization.yaml"}
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert {image["name"] for image in kustomization["images"]} == {"asman-server", "asman-worker"}


def test_kinds_api_versions_and_names() -> None:
    docs = k8s_documents()
    for doc in docs:
        assert doc["kind"] in API_VERSIONS, doc["__file__"]
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], doc["__file__"]
        assert doc["metadata"]["name"], doc["__file__"]
    kinds = {doc["kind"] for doc in docs}
    assert kinds >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "ConfigMap",
        "Secret",
    }
    assert set(by_kind("Deployment")) == {"asman-api", "asman-worker"}


def test_deployment_selectors_match_their_pod_labels() -> None:
    for name, deployment in by_kind("Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector and selector.items() <= labels.items(), name
    selectors = [
        tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in by_kind("Deployment").values()
    ]
    assert len(set(selectors)) == len(selectors), "two Deployments would select each other's pods"


def test_service_reaches_the_api_pods_on_a_named_port() -> None:
    api = by_kind("Deployment")["asman-api"]
    labels = api["spec"]["template"]["metadata"]["labels"]
    [container] = api["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000}
    service = by_kind("Service")["asman-api"]
    assert service["spec"]["selector"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in ports and port["port"] == 8000
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
        assert container[probe]["httpGet"]["path"] in ("/readyz", "/healthz")
    # The pod's own name tells replicas apart in worker listings.
    [replica] = [item for item in container["env"] if item["name"] == "ASMAN_REPLICA_ID"]
    assert replica["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert {"name": "ASMAN_HOST", "value": "0.0.0.0"} in container["env"]
    # The HPA needs CPU requests to compute utilisation.
    assert container["resources"]["requests"]["cpu"]
    pdb = by_kind("PodDisruptionBudget")["asman-api"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_autoscalers_target_the_right_deployments() -> None:
    hpa = by_kind("HorizontalPodAutoscaler")["asman-api"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "asman-api",
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    scaled = by_kind("ScaledObject")["asman-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "asman-worker"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert "asman_queue_length{" in trigger["metadata"]["query"]
    assert trigger["metadata"]["serverAddress"].startswith("http")
    assert float(trigger["metadata"]["threshold"]) > 0
    # The queue KEDA watches is the queue the workers serve.
    worker_config = by_kind("ConfigMap")["asman-worker-config"]["data"]
    assert f'queue="{worker_config["ASMAN_QUEUE"]}"' in trigger["metadata"]["query"]


def test_every_env_name_is_read_by_the_code() -> None:
    server, worker = server_env_names(), worker_env_names()
    config_maps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    for name in config_maps["asman-config"]["data"]:
        assert name in server | FOREIGN_ENV, name
    for name in secrets["asman-secrets"]["stringData"]:
        assert name in server | FOREIGN_ENV, name
    assert "ASMAN_DATABASE_URL" in secrets["asman-secrets"]["stringData"]
    assert config_maps["asman-config"]["data"]["ASMAN_BLOB_URL"].startswith("s3://")
    for name in config_maps["asman-worker-config"]["data"]:
        assert name in worker | FOREIGN_ENV, name
    deployments = by_kind("Deployment")
    for container in containers(deployments["asman-api"]):
        assert env_names(container) <= server | FOREIGN_ENV
    for container in containers(deployments["asman-worker"]):
        assert env_names(container) <= worker | FOREIGN_ENV


def test_env_references_point_at_objects_that_exist() -> None:
    config_maps, secrets = by_kind("ConfigMap"), by_kind("Secret")
    for deployment in by_kind("Deployment").values():
        for container in containers(deployment):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in config_maps[ref["name"]]["data"]


def test_worker_pod_shares_socket_and_job_folder_with_its_engine() -> None:
    worker = by_kind("Deployment")["asman-worker"]
    spec = worker["spec"]["template"]["spec"]
    [engine] = spec["initContainers"]
    [main] = spec["containers"]
    assert engine["restartPolicy"] == "Always", "the engine must be a native sidecar that outlives the worker"
    assert main["args"] == ["$(ASMAN_QUEUE)"] and "ASMAN_QUEUE" in env_names(main)
    docker_host = next(item["value"] for item in main["env"] if item["name"] == "DOCKER_HOST")
    assert f"--host={docker_host}" in engine["args"]
    data_dir = by_kind("ConfigMap")["asman-worker-config"]["data"]["ASMAN_WORKER_DATA_DIRECTORY"]
    mounts = {c["name"]: {m["name"]: m["mountPath"] for m in c["volumeMounts"]} for c in (engine, main)}
    assert mounts["dind"]["jobs"] == mounts["worker"]["jobs"] == data_dir
    assert mounts["dind"]["dind-socket"] == mounts["worker"]["dind-socket"]
    volumes = {volume["name"] for volume in spec["volumes"]}
    assert set(mounts["dind"]) | set(mounts["worker"]) <= volumes
    grace = parse_duration(by_kind("ConfigMap")["asman-worker-config"]["data"]["ASMAN_WORKER_GRACE_PERIOD"])
    assert spec["terminationGracePeriodSeconds"] > grace


def test_compose_stack() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "seaweedfs", "api-1", "api-2", "worker", "lb"} <= set(services)
    server, worker = server_env_names(), worker_env_names()
    for name in ("api-1", "api-2"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile.server"
        env = service["environment"]
        assert (
            env["ASMAN_DATABASE_URL"].startswith("postgresql://")
            and "@postgres:5432/" in env["ASMAN_DATABASE_URL"]
        )
        assert (
            env["ASMAN_BLOB_URL"].startswith("s3://")
            and "endpoint=http://seaweedfs:8333" in env["ASMAN_BLOB_URL"]
        )
        assert set(env) <= server | FOREIGN_ENV
        assert set(service["depends_on"]) <= set(services)
    assert (
        services["api-1"]["environment"]["ASMAN_REPLICA_ID"]
        != services["api-2"]["environment"]["ASMAN_REPLICA_ID"]
    )
    assert services["worker"]["build"]["dockerfile"] == "deploy/Dockerfile.worker"
    assert set(services["worker"]["environment"]) <= worker | FOREIGN_ENV
    postgres_env = services["postgres"]["environment"]
    database_url = services["api-1"]["environment"]["ASMAN_DATABASE_URL"]
    assert f"{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}@" in database_url
    assert database_url.endswith(f"/{postgres_env['POSTGRES_DB']}")
    s3_config = compose["configs"]["seaweedfs-s3"]["content"]
    assert services["api-1"]["environment"]["AWS_SECRET_ACCESS_KEY"] in s3_config
    for upstream in ("api-1:8000", "api-2:8000"):
        assert upstream in compose["configs"]["nginx"]["content"]


@pytest.mark.parametrize(
    "name,command,extra",
    [("Dockerfile.server", '["server"]', "server"), ("Dockerfile.worker", '"worker"]', "worker")],
)
def test_dockerfiles(name: str, command: str, extra: str) -> None:
    text = (DEPLOY / name).read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("FROM ")
    assert any(line.startswith("USER ") and not line.endswith(("root", " 0")) for line in lines)
    assert any(command in line for line in lines if line.startswith(("CMD", "ENTRYPOINT")))
    assert "uv sync --frozen --no-dev" in text
    # Each image installs its own extra and no other: the worker has no web framework, the server no Docker SDK.
    syncs = [line for line in lines if "uv sync" in line]
    assert syncs and all(f"--extra {extra}" in line and "--all-extras" not in line for line in syncs)
    for copied in ("pyproject.toml", "uv.lock", "src"):
        assert copied in text
    if name == "Dockerfile.server":
        assert "EXPOSE 8000" in text and "ASMAN_HOST=0.0.0.0" in text


def image_ids(name: str) -> tuple[int, int]:
    """The uid and gid an image runs as: its USER line, which must match the account it creates."""
    text = (DEPLOY / name).read_text()
    [user] = re.findall(r"^USER (\d+):(\d+)$", text, flags=re.M)
    uid, gid = int(user[0]), int(user[1])
    assert f"--gid {gid} " in text and f"--uid {uid} --gid {gid} " in text, "groupadd/useradd with fixed ids"
    return uid, gid


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is missing: it comes with the dev dependencies (make install)"
    return found


@pytest.mark.parametrize("name", ["Dockerfile.server", "Dockerfile.worker"])
def test_hadolint_passes_the_dockerfiles(name: str) -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", str(DEPLOY / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def without_marker(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "__file__"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_api_schemas(version: str) -> None:
    checked = 0
    for doc in k8s_documents():
        if doc["kind"] == "ScaledObject":
            continue
        try:
            kubernetes_validate.validate(without_marker(doc), version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['__file__']} ({doc['kind']}) against Kubernetes {version}: {error.message}")
        checked += 1
    assert checked >= 8


def keda_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(KEDA_SCHEMA.read_text())
    assert "KEDA 2." in schema["$comment"] and "Apache-2.0" in schema["$comment"]
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_scaled_object_matches_the_keda_crd_schema() -> None:
    validator = keda_validator()
    scaled = without_marker(by_kind("ScaledObject")["asman-worker"])
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(scaled)]
    assert not errors, errors
    # The schema is strict: a misspelt field fails rather than being dropped by the API server.
    misspelt = {**scaled, "spec": {**scaled["spec"], "fallBack": scaled["spec"]["fallback"]}}
    assert not validator.is_valid(misspelt)


def test_keda_keeps_workers_when_prometheus_is_silent() -> None:
    spec = by_kind("ScaledObject")["asman-worker"]["spec"]
    fallback = spec["fallback"]
    assert fallback["failureThreshold"] >= 1
    assert spec["minReplicaCount"] < fallback["replicas"] <= spec["maxReplicaCount"]
    [trigger] = spec["triggers"]
    # An empty answer must be an error (so the fallback), not a queue of zero; metricName is deprecated.
    assert trigger["metadata"]["ignoreNullValues"] == "false"
    assert "metricName" not in trigger["metadata"]
    assert trigger.get("metricType", "AverageValue") == "AverageValue", "KEDA's fallback needs AverageValue"


def test_worker_pod_can_open_the_engine_socket() -> None:
    spec = by_kind("Deployment")["asman-worker"]["spec"]["template"]["spec"]
    [engine] = spec["initContainers"]
    [main] = spec["containers"]
    [socket_group] = [int(arg.split("=", 1)[1]) for arg in engine["args"] if arg.startswith("--group=")]
    context = main["securityContext"]
    groups = {context.get("runAsGroup"), *spec.get("securityContext", {}).get("supplementalGroups", [])}
    assert socket_group in groups, "the worker must be in the group of the dind socket"
    uid, gid = image_ids("Dockerfile.worker")
    assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid) and gid == socket_group


def test_api_pods_run_as_the_image_user_and_drain_before_stopping() -> None:
    spec = by_kind("Deployment")["asman-api"]["spec"]["template"]["spec"]
    context = spec["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == image_ids("Dockerfile.server")
    [container] = spec["containers"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    # The pause plus uvicorn's own 5 s graceful shutdown must fit in the grace period.
    assert spec["terminationGracePeriodSeconds"] > float(pause[1]) + 5


def test_a_stopping_worker_lets_its_longest_job_finish() -> None:
    """Scale-downs and restarts must not cut a job short: grace period >= max job duration, and the platform
    waits longer than the grace period (Kubernetes, and compose)."""
    config = by_kind("ConfigMap")["asman-worker-config"]["data"]
    longest = parse_duration(config["ASMAN_WORKER_MAX_JOB_DURATION"])
    grace = parse_duration(config["ASMAN_WORKER_GRACE_PERIOD"])
    pod = by_kind("Deployment")["asman-worker"]["spec"]["template"]["spec"]
    assert longest <= grace < pod["terminationGracePeriodSeconds"]
    worker = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["worker"]
    env = worker["environment"]
    longest = parse_duration(env["ASMAN_WORKER_MAX_JOB_DURATION"])
    assert (
        longest
        <= parse_duration(env["ASMAN_WORKER_GRACE_PERIOD"])
        < parse_duration(worker["stop_grace_period"])
    )


def test_compose_hands_the_job_folder_to_the_worker_user() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    worker, init = services["worker"], services["worker-init"]
    data_dir = worker["environment"]["ASMAN_WORKER_DATA_DIRECTORY"]
    assert f"{data_dir}:{data_dir}" in worker["volumes"] and f"{data_dir}:{data_dir}" in init["volumes"]
    uid, gid = image_ids("Dockerfile.worker")
    assert init["user"] == "0:0"
    assert init["entrypoint"] == ["chown", f"{uid}:{gid}", data_dir]
    assert worker["depends_on"]["worker-init"]["condition"] == "service_completed_successfully"
    assert init["image"] == worker["image"]


def test_kubectl_kustomize_builds_the_base() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the structure checks above still ran")
    built = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert len(docs) == len(k8s_documents())
    assert all(doc["metadata"].get("namespace") == "asman" for doc in docs if doc["kind"] != "Namespace")
    images = {c["image"] for doc in docs if doc["kind"] == "Deployment" for c in containers(doc)}
    assert "registry.example.org/asman/server:0.1.0" in images
    assert "registry.example.org/asman/worker:0.1.0" in images


def test_the_api_believes_forwarded_addresses_only_from_its_proxies() -> None:
    """A client must not pick its own address for the rate limit by sending X-Forwarded-For (issue 17)."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    nginx = compose["configs"]["nginx"]["content"]
    # nginx replaces what the client sent rather than appending to it, and no replica is published past it.
    assert "X-Forwarded-For $$remote_addr;" in nginx and "proxy_add_x_forwarded_for" not in nginx
    for name in ("api-1", "api-2"):
        service = compose["services"][name]
        assert "ports" not in service
        proxies = Settings.from_env(
            {"ASMAN_TRUSTED_PROXIES": service["environment"]["ASMAN_TRUSTED_PROXIES"]}
        )
        assert all(network.is_private for network in parse_networks(proxies.trusted_proxies))
    [config] = [doc for doc in k8s_documents() if doc["metadata"]["name"] == "asman-config"]
    assert not parse_networks(config["data"].get("ASMAN_TRUSTED_PROXIES", "")), (
        "the operator names the ingress"
    )
