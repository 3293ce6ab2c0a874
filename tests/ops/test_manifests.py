"""manifests/: the kustomize base and the PostgreSQL overlay, rendered and checked offline.

Every object is validated against the Kubernetes OpenAPI schemas shipped by kubernetes-validate
(strict: an unknown or misspelt field fails) for the oldest and newest versions we support; the
PrometheusRule, a custom resource, against the Prometheus Operator's own schema (as models
generated from its CRD by cloudcoil), as strictly.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings, parse_config
from tests.ops.kustomize import find, render

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "manifests" / "base"
POSTGRES = ROOT / "manifests" / "overlays" / "postgres"
CHECK = ROOT / "manifests" / "components" / "check"
PROMETHEUS_RULE = ROOT / "manifests" / "components" / "prometheus-rule"
RECOMMENDED_LABELS = {"app.kubernetes.io/name": "latchkey", "app.kubernetes.io/instance": "latchkey",
                      "app.kubernetes.io/component": "server", "app.kubernetes.io/part-of": "latchkey",
                      "app.kubernetes.io/managed-by": "kustomize"}
KUBERNETES_VERSIONS = ("1.28", kubernetes_validate.latest_version())  # oldest supported, newest known


def secret_example(directory: Path) -> dict:
    return yaml.safe_load((directory / "secret.example.yaml").read_text())


def pod(documents) -> dict:
    [deployment] = find(documents, "Deployment", "latchkey")
    return deployment["spec"]["template"]


def with_check(base: Path, tmp_path: Path) -> list[dict]:
    """`base` rendered as an operator's overlay that turns the optional `latchkey check` on."""
    return with_component(base, CHECK, tmp_path)


def with_component(base: Path, component: Path, tmp_path: Path) -> list[dict]:
    """`base` rendered as an operator's overlay that lists `component`."""
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": [str(base)], "components": [str(component)]}))
    return render(tmp_path)


def prometheus_rule_problems(document: dict) -> list[str]:
    """What the Prometheus Operator's schema refuses in a PrometheusRule, unknown fields included."""
    import pydantic

    # Imported here: its models of every Prometheus Operator resource take seconds to build.
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule

    try:
        model = PrometheusRule.model_validate(document)
    except pydantic.ValidationError as exc:
        return [f"{_path(error['loc'])}: {error['msg']}" for error in exc.errors()]
    # The models ignore what they do not know: what did not come back out was not understood.
    kept = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{_path(loc)}: unknown field" for loc in _left_out(document, kept)]


def _left_out(given, kept, loc: tuple = ()) -> list[tuple]:
    if isinstance(given, dict) and isinstance(kept, dict):
        return [found for key, value in given.items()
                for found in (_left_out(value, kept[key], (*loc, key)) if key in kept else [(*loc, key)])]
    if isinstance(given, list) and isinstance(kept, list):
        return [found for i, (a, b) in enumerate(zip(given, kept)) for found in _left_out(a, b, (*loc, i))]
    return []


def _path(loc) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc).lstrip(".")


def alone(component: Path) -> list[dict]:
    """The resources a component adds, as written."""
    kustomization = yaml.safe_load((component / "kustomization.yaml").read_text())
    return [d for entry in kustomization["resources"] for d in yaml.safe_load_all((component / entry).read_text())]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("check", [False, True], ids=["", "with-check"])
@pytest.mark.parametrize("directory", [BASE, POSTGRES], ids=["base", "postgres"])
def test_every_object_is_valid_for_kubernetes(directory, check, version, tmp_path):
    documents = (with_check(directory, tmp_path) if check else render(directory)) + [secret_example(directory)]
    assert {d["kind"] for d in documents} >= {"Deployment", "Service", "ConfigMap", "Secret",
                                              "PodDisruptionBudget"}
    problems = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:  # its repr holds the whole schema
            problems.append(f"{document['kind']} {document['metadata']['name']}: {exc.message} "
                            f"at {'/'.join(map(str, exc.path))}")
    assert not problems, "\n".join(problems)


def test_the_deployment_probes_health_and_readiness_on_the_served_port():
    template = pod(render(BASE))
    [container] = template["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"][container["args"].index("--port") + 1] == str(port["http"])
    assert template["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"


def test_every_container_is_non_root_limited_and_reads_its_settings_from_the_secret(tmp_path):
    template = pod(with_check(BASE, tmp_path))
    spec = template["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
    assert spec["automountServiceAccountToken"] is False
    for container in spec["initContainers"] + spec["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        assert container["envFrom"] == [{"secretRef": {"name": "latchkey"}}]
        assert container["image"] == "registry.example.com/latchkey:0.1.0"


def test_no_init_container_by_default_so_an_outage_cannot_block_restarts():
    """A pod that waits for `latchkey check` cannot start while Slack or a connector is down."""
    for directory in (BASE, POSTGRES):
        assert "initContainers" not in pod(render(directory))["spec"]


@pytest.mark.parametrize("directory", [BASE, POSTGRES], ids=["base", "postgres"])
def test_the_check_component_runs_latchkey_check_with_the_same_settings(directory, tmp_path):
    spec = pod(with_check(directory, tmp_path))["spec"]
    [check], [serve] = spec["initContainers"], spec["containers"]
    assert check["args"] == ["check"]
    for key in ("image", "envFrom", "env", "volumeMounts", "securityContext", "resources"):
        assert check[key] == serve[key]


def test_labels_and_selectors_agree():
    documents = render(BASE)
    template = pod(documents)
    [deployment] = find(documents, "Deployment")
    [service], [budget] = find(documents, "Service"), find(documents, "PodDisruptionBudget")
    assert template["metadata"]["labels"]["app"] == "latchkey"
    for selector in (deployment["spec"]["selector"]["matchLabels"], service["spec"]["selector"],
                     budget["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= template["metadata"]["labels"].items()
    assert all(d["metadata"]["labels"]["app"] == "latchkey" for d in documents)
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("directory", [BASE, POSTGRES], ids=["base", "postgres"])
def test_every_object_and_pod_carries_the_recommended_labels(directory):
    documents = render(directory)
    for labels in [d["metadata"]["labels"] for d in documents] + [pod(documents)["metadata"]["labels"]]:
        assert RECOMMENDED_LABELS.items() <= labels.items(), labels


def test_the_configmap_is_a_valid_latchkey_config_mounted_where_latchkey_reads_it():
    documents = render(BASE)
    [config_map] = find(documents, "ConfigMap", "latchkey-config")
    text = config_map["data"]["latchkey.yaml"]
    variables = set(re.findall(r"\$\{(\w+)\}", text))
    parse_config(text, "configmap", env=dict.fromkeys(variables, "placeholder"))
    assert variables <= set(secret_example(BASE)["stringData"]), "every ${VAR} must be in the Secret"

    spec = pod(documents)["spec"]
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in spec["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == "latchkey-config"
    assert env["LATCHKEY_CONFIG"] == f"{mount['mountPath']}/latchkey.yaml"
    assert set(env) <= {name.upper() for name in Settings.model_fields}


def test_the_secret_examples_hold_every_required_setting():
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    for directory in (BASE, POSTGRES):
        assert required <= set(secret_example(directory)["stringData"])


def test_the_base_keeps_sqlite_on_a_volume_and_replaces_the_pod_before_starting_another():
    documents = render(BASE)
    [deployment] = find(documents, "Deployment")
    [claim] = find(documents, "PersistentVolumeClaim")
    data = next(v for v in pod(documents)["spec"]["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def test_the_postgres_overlay_runs_several_replicas_without_a_volume():
    documents = render(POSTGRES)
    [deployment] = find(documents, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert not find(documents, "PersistentVolumeClaim")
    data = next(v for v in pod(documents)["spec"]["volumes"] if v["name"] == "data")
    assert "persistentVolumeClaim" not in data and "emptyDir" in data
    assert pod(documents)["spec"]["topologySpreadConstraints"]
    url = make_url(secret_example(POSTGRES)["stringData"]["DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    [budget] = find(documents, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]


def test_the_renderer_refuses_what_it_does_not_understand(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(NotImplementedError, match="namePrefix"):
        render(tmp_path)


@pytest.mark.parametrize("directory", [BASE, POSTGRES], ids=["base", "postgres"])
def test_the_prometheus_rule_component_adds_a_valid_labelled_prometheus_rule_and_nothing_else(directory, tmp_path):
    documents = with_component(directory, PROMETHEUS_RULE, tmp_path)
    [rule] = find(documents, "PrometheusRule", "latchkey")
    assert prometheus_rule_problems(rule) == []
    assert RECOMMENDED_LABELS.items() <= rule["metadata"]["labels"].items()
    assert [d for d in documents if d is not rule] == render(directory)


def test_the_prometheus_rule_check_refuses_a_misspelt_field_and_a_bad_duration():
    [rule] = alone(PROMETHEUS_RULE)
    first = rule["spec"]["groups"][0]["rules"][0]
    first["fro"] = first.pop("for")
    assert prometheus_rule_problems(rule) == ["spec.groups[0].rules[0].fro: unknown field"]
    first["for"] = "5 minutes"
    [problem] = prometheus_rule_problems(rule)
    assert problem.startswith("spec.groups[0].rules[0].for: String should match pattern")
