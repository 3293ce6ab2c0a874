"""What a PromQL expression reads, checked against what Latchkey exports.

`exported()` turns a `GET /metrics` answer into the series Prometheus stores: a counter `x` is
stored as `x_total`, a histogram `x` as `x_bucket` (with `le`), `x_sum` and `x_count`.
`problems()` parses an expression with promql-parser (Prometheus' grammar, function signatures
included: `rate()` of an instant vector is an error) and names every series it selects that is
not exported, every label it matches or groups by that those series do not carry, and every
label value it matches exactly that the bot was not seen to export (`le="60.0"`, a state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import promql_parser
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics

SCRAPE_LABELS = frozenset({"job", "instance"})  # added by Prometheus to every series it scrapes
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
             "summary": ("", "_sum", "_count"), "info": ("_info",)}


@dataclass
class Series:
    labels: set[str] = field(default_factory=set)
    values: dict[str, set[str]] = field(default_factory=dict)  # label → the values seen


def exported(exposition: str) -> dict[str, Series]:
    """Every series name the exposition text stores, with its labels.

    A labelled metric nobody has used yet shows no sample, hence no label: its label names
    come from its declaration in bot/metrics.py.
    """
    declared = {m._name: set(m._labelnames) for m in vars(metrics).values()
                if isinstance(m, MetricWrapperBase)}
    found: dict[str, Series] = {}
    for family in text_string_to_metric_families(exposition):
        for suffix in _SUFFIXES.get(family.type, ("",)):
            labels = declared.get(family.name, set()) | ({"le"} if suffix == "_bucket" else set())
            found[family.name + suffix] = Series(set(labels))
        for sample in family.samples:
            series = found.setdefault(sample.name, Series())
            for label, value in sample.labels.items():
                series.labels.add(label)
                series.values.setdefault(label, set()).add(value)
    return found


def problems(expression: str, series: dict[str, Series]) -> list[str]:
    """What in `expression` does not match `series`; raises ValueError on a syntax error."""
    tree = promql_parser.parse(expression)
    found = []
    for selector in _nodes(tree, promql_parser.VectorSelector):
        if selector.name not in series:
            found.append(f"{selector.name} is not exported")
            continue
        known = series[selector.name]
        for matcher in selector.matchers.matchers:
            if matcher.name in SCRAPE_LABELS:
                continue
            if matcher.name not in known.labels:
                found.append(f"{selector.name} has no label {matcher.name}")
            elif (matcher.op == promql_parser.MatchOp.Equal
                  and matcher.value not in known.values.get(matcher.name, set())):
                found.append(f'{selector.name} never has {matcher.name}="{matcher.value}"')
    for labels, within in _groupings(tree):
        carried = set(SCRAPE_LABELS).union(*(series[s.name].labels for s in _nodes(
            within, promql_parser.VectorSelector) if s.name in series))
        found += [f"no series under {within} has the label {label} it groups by"
                  for label in sorted(labels - carried)]
    return found


def _nodes(tree, kind) -> list:
    found: list = []
    promql_parser.walk(tree, pre_visit=lambda node: found.append(node) if isinstance(node, kind) else None)
    return found


def _groupings(tree) -> list[tuple[set[str], object]]:
    """(labels, the expression whose series must carry them) of every `by`, `without`, `on`,
    `ignoring` and `group_left/right`."""
    found: list[tuple[set[str], object]] = []
    for node in _nodes(tree, promql_parser.AggregateExpr):
        if node.modifier is not None:
            found.append((set(node.modifier.labels), node.expr))
    for node in _nodes(tree, promql_parser.BinaryExpr):
        if node.modifier is not None:
            labels = set(node.modifier.matching.labels if node.modifier.matching else [])
            found.append((labels | set(node.modifier.group_labels or []), node))
    return found
