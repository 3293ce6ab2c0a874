"""A small kustomize, enough to render manifests/ in a test without the kustomize binary.

It understands only what Latchkey's kustomizations use: `resources` (files and directories),
`components` (directories whose resources are added and whose patches and `replacements` apply
after the resources; a replacement copies one field to others, by paths such as
`spec.containers.[name=x].image`),
`labels` (added to every
object and, with `includeTemplates`, its pod template; never to selectors), `images`, `replicas`
and `patches` (strategic merge: maps merged, `null` deletes a key, lists of named items merged by
`name`, `$patch: delete` removes a resource).  Anything else raises, so a kustomization that
grows a feature this does not render fails the test instead of passing unrendered.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

KNOWN = {"apiVersion", "kind", "resources", "components", "labels", "images", "replicas", "patches"}


def render(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    if unknown := set(kustomization) - KNOWN:
        raise NotImplementedError(f"{directory}: this renderer does not support {sorted(unknown)}")
    documents = _resources(directory, kustomization)
    for entry in kustomization.get("components", []):
        component = yaml.safe_load((directory / entry / "kustomization.yaml").read_text())
        if set(component) - {"apiVersion", "kind", "resources", "patches", "replacements"}:
            raise NotImplementedError(f"{directory / entry}: this renderer supports only resources, "
                                      "patches and replacements in a component")
        documents += _resources(directory / entry, component)
        documents = _patched(documents, directory / entry, component)
        for replacement in component.get("replacements", []):
            _replace(documents, replacement)
    documents = _patched(documents, directory, kustomization)
    for labels in kustomization.get("labels", []):
        _label(documents, labels)
    for image in kustomization.get("images", []):
        for container in _containers(documents):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    for replicas in kustomization.get("replicas", []):
        _one(documents, "Deployment", replicas["name"])["spec"]["replicas"] = replicas["count"]
    return documents


def _resources(directory: Path, kustomization: dict) -> list[dict]:
    documents: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            documents += render(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def _patched(documents: list[dict], directory: Path, kustomization: dict) -> list[dict]:
    for patch in kustomization.get("patches", []):
        if set(patch) - {"path", "patch"}:
            raise NotImplementedError(f"{directory}: patch options {sorted(set(patch))}")
        text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
        documents = _apply(documents, yaml.safe_load(text))
    return documents


def _replace(documents: list[dict], replacement: dict) -> None:
    source = replacement["source"]
    value = _field(_one(documents, source["kind"], source["name"]), source["fieldPath"])
    for target in replacement["targets"]:
        document = _one(documents, target["select"]["kind"], target["select"]["name"])
        for path in target["fieldPaths"]:
            *parents, last = path.split(".")
            _field(document, ".".join(parents))[last] = value


def _field(document: dict, path: str):
    """The value at a kustomize field path: map keys, and `[key=value]` to pick a list item."""
    value = document
    for step in path.split("."):
        if step.startswith("["):
            key, _, wanted = step.strip("[]").partition("=")
            [value] = [item for item in value if item.get(key) == wanted]
        else:
            value = value[step]
    return value


def _label(documents: list[dict], labels: dict) -> None:
    if set(labels) - {"pairs", "includeTemplates", "includeSelectors"} or labels.get("includeSelectors"):
        raise NotImplementedError(f"labels options {sorted(labels)}")
    for document in documents:
        targets = [document["metadata"]]
        if labels.get("includeTemplates") and "template" in document.get("spec", {}):
            targets.append(document["spec"]["template"]["metadata"])
        for metadata in targets:
            metadata["labels"] = {**metadata.get("labels", {}), **labels["pairs"]}


def find(documents: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in documents if d["kind"] == kind
            and (name is None or d["metadata"]["name"] == name)]


def _apply(documents: list[dict], patch: dict) -> list[dict]:
    target = _one(documents, patch["kind"], patch["metadata"]["name"])
    if patch.get("$patch") == "delete":
        return [d for d in documents if d is not target]
    merged = _merge(target, patch)
    return [merged if d is target else d for d in documents]


def _merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        if "$patch" in patch:
            raise NotImplementedError(f"$patch: {patch['$patch']} inside a resource")
        result = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            elif key in result:
                result[key] = _merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
        return result
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        result = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, old in enumerate(result) if old["name"] == item["name"]), None)
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = _merge(result[index], item)
        return result
    return copy.deepcopy(patch)


def _named(items: list) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _one(documents: list[dict], kind: str, name: str) -> dict:
    matches = find(documents, kind, name)
    if len(matches) != 1:
        raise LookupError(f"expected one {kind} {name}, found {len(matches)}")
    return matches[0]


def _containers(documents: list[dict]):
    for document in documents:
        spec = document.get("spec", {}).get("template", {}).get("spec", {})
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])
