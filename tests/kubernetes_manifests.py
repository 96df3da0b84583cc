"""Offline check of deploy/kubernetes: render every kustomization, validate each
resource against the Kubernetes schemas, and check what helixq relies on.

kustomize is not needed: this renders the subset of kustomize the manifests use
(resources, namespace, labels, images, patches merged by kind and name, lists of
named items merged by name) and refuses any other kustomization field, so a
manifest that needs more fails here rather than passing unchecked. Built-in kinds
are validated strictly (unknown fields fail) with `kubernetes-validate`'s bundled
schemas, for the oldest and the newest Kubernetes we support; KEDA's kinds are
not in those schemas, so they are checked against SCALED_OBJECT_SCHEMA below: the
fields helixq uses, not KEDA's whole definition.

Run by `make lint` (`python -m tests.kubernetes_manifests`) and by
tests/unit/test_kubernetes_manifests.py.
"""

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ("1.29", "1.37")
KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}

Resource = dict[str, Any]

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "apiVersion": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metadata": _STRING_MAP,
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                            },
                        },
                    },
                },
            },
        },
    },
}
LOCAL_SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT_SCHEMA}


class ManifestError(Exception):
    """A kustomization that does not render, or a resource that is not valid."""


def kustomizations(root: Path = MANIFESTS) -> list[Path]:
    """Every folder under `root` holding a kustomization.yaml."""
    return sorted(path.parent for path in root.rglob("kustomization.yaml"))


def render(folder: Path) -> list[Resource]:
    """The resources `kustomize build folder` would give, for the fields above."""
    kustomization = _load_one(folder / "kustomization.yaml")
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    if unknown:
        raise ManifestError(
            f"{folder}: kustomization fields {sorted(unknown)} are not supported by "
            "the offline check"
        )
    resources = _resources(folder, kustomization.get("resources", []))
    for patch in kustomization.get("patches", []):
        _apply_patch_file(folder, patch, resources)
    for pairs in kustomization.get("labels", []):
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(pairs["pairs"])
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    _set_namespace(resources, kustomization.get("namespace"))
    _refuse_duplicates(folder, resources)
    return resources


def _resources(folder: Path, entries: list[str]) -> list[Resource]:
    resources: list[Resource] = []
    for entry in entries:
        path = (folder / entry).resolve()
        if path.is_dir():
            resources.extend(render(path))
        elif path.is_file():
            resources.extend(_load_all(path))
        else:
            raise ManifestError(f"{folder}: resource {entry} does not exist")
    return resources


def _set_namespace(resources: list[Resource], namespace: str | None) -> None:
    if namespace is None:
        return
    for resource in resources:
        if resource["kind"] not in CLUSTER_SCOPED:
            resource["metadata"]["namespace"] = namespace


def validate(resource: Resource) -> None:
    """Raise ManifestError unless `resource` fits its kind's schema."""
    name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
    local = LOCAL_SCHEMAS.get((resource.get("apiVersion"), resource.get("kind")))
    if local is not None:
        try:
            jsonschema.validate(resource, local)
        except jsonschema.ValidationError as error:
            raise ManifestError(f"{name}: {error.message}") from None
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            raise ManifestError(
                f"{name}: no schema for {resource.get('apiVersion')} in "
                f"Kubernetes {version}"
            ) from None
        except kubernetes_validate.ValidationError as error:
            first = str(error).splitlines()[0]
            raise ManifestError(f"{name} (Kubernetes {version}): {first}") from None


def unused_files(root: Path = MANIFESTS) -> list[Path]:
    """YAML files under `root` that no kustomization names (left out by mistake)."""
    named: set[Path] = set()
    for folder in kustomizations(root):
        kustomization = _load_one(folder / "kustomization.yaml")
        entries = [*kustomization.get("resources", [])]
        entries += [patch["path"] for patch in kustomization.get("patches", [])]
        named.update((folder / entry).resolve() for entry in entries)
        named.add((folder / "kustomization.yaml").resolve())
    return sorted(path for path in root.rglob("*.yaml") if path.resolve() not in named)


def pod_specs(resources: list[Resource]) -> Iterator[tuple[Resource, Resource]]:
    """(resource, its pod spec) for every kind that runs pods."""
    for resource in resources:
        if resource["kind"] in POD_TEMPLATE_KINDS:
            yield resource, resource["spec"]["template"]["spec"]


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    """The one resource of `kind` named `name`."""
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise ManifestError(f"no {kind}/{name}")


def check_references(resources: list[Resource], *, with_secret: bool) -> None:
    """What the resources name exists among them: ConfigMaps and Secrets the pods
    read, the targets of autoscalers, the pods of selectors."""
    for _owner, spec in pod_specs(resources):
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    find(resources, "ConfigMap", source["configMapRef"]["name"])
                if "secretRef" in source and with_secret:
                    find(resources, "Secret", source["secretRef"]["name"])
    for resource in resources:
        _check_target_and_selector(resources, resource)


def _check_target_and_selector(resources: list[Resource], resource: Resource) -> None:
    kind, spec = resource["kind"], resource.get("spec", {})
    if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        find(resources, "Deployment", spec["scaleTargetRef"]["name"])
    selector = None
    if kind == "Service":
        selector = spec["selector"]
    elif kind == "PodDisruptionBudget":
        selector = spec["selector"]["matchLabels"]
    if selector is not None and not _selects_pods(resources, selector):
        raise ManifestError(f"{kind}/{resource['metadata']['name']} selects no pods")


def check_all(root: Path = MANIFESTS) -> list[str]:
    """Every problem found under `root`, one line each (none: all is well)."""
    problems = [f"{path}: named by no kustomization" for path in unused_files(root)]
    for folder in kustomizations(root):
        try:
            resources = render(folder)
            for resource in resources:
                validate(resource)
            # A base leaves the Secret to its overlays.
            check_references(resources, with_secret=folder.name != "base")
        except (ManifestError, yaml.YAMLError, KeyError) as error:
            problems.append(f"{folder.relative_to(root)}: {error}")
    return problems


def main() -> int:
    """Exit 1 listing every problem, else 0 with a one-line summary."""
    problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    folders = kustomizations()
    print(f"{len(folders)} kustomizations render and validate offline")
    return 0


def _load_all(path: Path) -> list[Resource]:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for document in documents:
        if not isinstance(document, dict) or "kind" not in document:
            raise ManifestError(f"{path}: a document without a kind")
    return documents


def _load_one(path: Path) -> Resource:
    documents = _load_all(path)
    if len(documents) != 1:
        raise ManifestError(f"{path}: expected one document")
    return documents[0]


def _apply_patch_file(
    folder: Path, patch: dict[str, Any], resources: list[Resource]
) -> None:
    if set(patch) != {"path"}:
        raise ManifestError(f"{folder}: only `patches: - path: FILE` is supported")
    path = folder / patch["path"]
    if not path.is_file():
        raise ManifestError(f"{folder}: patch {patch['path']} does not exist")
    for document in _load_all(path):
        kind, name = document["kind"], document["metadata"]["name"]
        targets = [
            resource
            for resource in resources
            if resource["kind"] == kind and resource["metadata"]["name"] == name
        ]
        if len(targets) != 1:
            raise ManifestError(
                f"{folder}: patch {patch['path']} targets {kind}/{name}, which the "
                "resources do not hold"
            )
        _merge(targets[0], document)


def _merge(target: Resource, patch: Resource) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif _named_items(value) and _named_items(target.get(key)):
            _merge_named(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _named_items(value: object) -> bool:
    # Containers, env, volumes, ports: kustomize merges such lists by name.
    return isinstance(value, list) and all(
        isinstance(item, dict) and "name" in item for item in value
    )


def _merge_named(target: list[Resource], patch: list[Resource]) -> None:
    by_name = {item["name"]: item for item in target}
    for item in patch:
        if item["name"] in by_name:
            _merge(by_name[item["name"]], item)
        else:
            target.append(copy.deepcopy(item))


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    replaced = f"{image.get('newName', image['name'])}"
    if "newTag" in image:
        replaced += f":{image['newTag']}"
    for _owner, spec in pod_specs(resources):
        for container in spec["containers"]:
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = replaced


def _selects_pods(resources: list[Resource], selector: dict[str, str]) -> bool:
    for resource in resources:
        if resource["kind"] in POD_TEMPLATE_KINDS:
            labels = resource["spec"]["template"]["metadata"].get("labels", {})
            if selector.items() <= labels.items():
                return True
    return False


def _refuse_duplicates(folder: Path, resources: list[Resource]) -> None:
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        key = (resource["kind"], resource["metadata"]["name"])
        if key in seen:
            raise ManifestError(f"{folder}: {key[0]}/{key[1]} is defined twice")
        seen.add(key)


if __name__ == "__main__":
    sys.exit(main())
