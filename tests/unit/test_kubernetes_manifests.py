"""deploy/kubernetes renders and validates offline, and holds what helixq relies
on: probes on the right endpoints and commands, a grace period longer than a
call, a beat that may have replicas; the check itself catches broken manifests."""

import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from helixq.cli import build_parser
from shared.durations import parse_duration_s
from shared.liveness import ROLES
from tests.kubernetes_manifests import (
    MANIFESTS,
    ROOT,
    Resource,
    check_all,
    find,
    pod_specs,
    render,
)

OVERLAY = MANIFESTS / "overlays" / "example"


@pytest.fixture(scope="module")
def rendered() -> list[Resource]:
    return render(OVERLAY)


def _container(resources: list[Resource], name: str) -> Resource:
    spec = find(resources, "Deployment", name)["spec"]["template"]["spec"]
    container: Resource = spec["containers"][0]
    return container


def test_every_kustomization_renders_and_validates() -> None:
    assert check_all() == []


def test_every_container_runs_a_helixq_command_that_parses(
    rendered: list[Resource],
) -> None:
    parser = build_parser()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for _resource, spec in pod_specs(rendered):
        for container in spec["containers"]:
            parser.parse_args(container["args"])  # exits on an unknown command
            for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command")
                if command is not None:
                    assert command[0] in scripts, command
                    assert command[1] in ROLES, command


def test_workers_outlast_a_call_when_stopped(rendered: list[Resource]) -> None:
    config = find(rendered, "ConfigMap", "helixq-config")["data"]
    grace_s = parse_duration_s(
        config.get("HELIXQ_WORKER_STOP_GRACE_S", config["OPENROUTER_TIMEOUT"])
    )
    worker = find(rendered, "Deployment", "helixq-worker")["spec"]["template"]
    assert worker["spec"]["terminationGracePeriodSeconds"] > grace_s + 10


def test_workers_and_beat_are_probed_on_their_own_heartbeat(
    rendered: list[Resource],
) -> None:
    for name, role in (("helixq-worker", "worker"), ("helixq-beat", "beat")):
        probe = _container(rendered, name)["livenessProbe"]
        assert probe["exec"]["command"] == ["helixq-alive", role]


def test_the_api_is_probed_scaled_and_protected_from_drains(
    rendered: list[Resource],
) -> None:
    api = _container(rendered, "helixq-api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--workers" in api["args"]
    find(rendered, "PodDisruptionBudget", "helixq-api")
    hpa = find(rendered, "HorizontalPodAutoscaler", "helixq-api")["spec"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    scaled = find(rendered, "ScaledObject", "helixq-worker")["spec"]
    assert "helixq_queue_depth" in scaled["triggers"][0]["metadata"]["query"]


def test_beat_runs_more_than_one_replica(rendered: list[Resource]) -> None:
    assert find(rendered, "Deployment", "helixq-beat")["spec"]["replicas"] >= 2


def test_every_variable_set_is_documented_in_env_example(
    rendered: list[Resource],
) -> None:
    documented = (ROOT / "deploy" / "env.example").read_text()
    config = find(rendered, "ConfigMap", "helixq-config")["data"]
    secret = find(rendered, "Secret", "helixq-secrets")["stringData"]
    for name in [*config, *secret]:
        assert f"{name}=" in documented, name


# --- the check catches what it is there for --------------------------------------


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    copied = tmp_path / "kubernetes"
    shutil.copytree(MANIFESTS, copied)
    return copied


def _edit(path: Path, change: dict[str, object]) -> None:
    document = yaml.safe_load(path.read_text())
    document.update(change)
    path.write_text(yaml.safe_dump(document))


def test_a_missing_resource_is_reported(manifests: Path) -> None:
    (manifests / "base" / "api-pdb.yaml").unlink()
    problems = check_all(manifests)
    assert any("api-pdb.yaml does not exist" in line for line in problems), problems


def test_a_patch_of_nothing_is_reported(manifests: Path) -> None:
    patch = manifests / "overlays" / "example" / "api-scale.yaml"
    _edit(patch, {"metadata": {"name": "helixq-apii"}})
    problems = check_all(manifests)
    assert any("HorizontalPodAutoscaler/helixq-apii" in line for line in problems)


def test_an_unknown_field_is_reported(manifests: Path) -> None:
    path = manifests / "base" / "worker-deployment.yaml"
    path.write_text(path.read_text().replace("livenessProbe:", "livenesProbe:"))
    problems = check_all(manifests)
    assert any("livenesProbe" in line for line in problems), problems


def test_an_unknown_scaled_object_field_is_reported(manifests: Path) -> None:
    path = manifests / "base" / "worker-scaledobject.yaml"
    path.write_text(path.read_text().replace("maxReplicaCount", "maxReplicas"))
    problems = check_all(manifests)
    assert any("maxReplicas" in line for line in problems), problems


def test_a_file_no_kustomization_names_is_reported(manifests: Path) -> None:
    (manifests / "base" / "forgotten.yaml").write_text("kind: ConfigMap\n")
    problems = check_all(manifests)
    assert any("forgotten.yaml: named by no kustomization" in p for p in problems)


def test_a_service_selecting_no_pods_is_reported(manifests: Path) -> None:
    path = manifests / "base" / "api-service.yaml"
    path.write_text(
        path.read_text().replace("component: api\n  ports", "component: apii\n  ports")
    )
    problems = check_all(manifests)
    assert any("Service/helixq-api selects no pods" in line for line in problems)
