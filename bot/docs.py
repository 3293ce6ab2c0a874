"""The README's configuration reference, rendered from the settings models so it cannot drift.

`make docs` (``python -m bot.docs --write README.md``) replaces the text between the markers;
a test fails when the README and the models disagree.  The walk starts at `Settings` (the
environment) and `Config` (the YAML file) and follows every nested model, so a new connector type
appears here as soon as it is registered (connectors/registry.py), and a policy section as soon as
it is part of `Config`.
"""

from __future__ import annotations

import argparse
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bot.config import Config, Settings

BEGIN = "<!-- BEGIN configuration reference: generated from bot/config/ by `make docs`; do not edit -->"
END = "<!-- END configuration reference -->"


def render() -> str:
    """The whole generated reference, without the markers."""
    parts = ["### Environment", "",
             "Secrets and process settings, read from environment variables of these names.", "",
             *_table(["variable", "type", "default", "meaning"],
                     [[f"`{_env_name(name)}`", *_cells(field)]
                      for name, field in Settings.model_fields.items()]),
             "", "### YAML file (`LATCHKEY_CONFIG`)", "",
             "Any string may use `${VAR}`, replaced by the environment variable `VAR` when the file "
             "is loaded. Durations are a whole number with `m`, `h` or `d` (`30m`, `4h`, `1d`).", ""]
    for title, model in sections():
        parts += [f"#### {title}", ""]
        if (note := model.__dict__.get("__doc__")):  # the model's own docstring, not one inherited
            parts += [" ".join(note.split()), ""]
        parts += [
                  *_table(["key", "type", "default", "meaning"],
                          [[f"`{name}`", *_cells(field)] for name, field in _fields(model)]),
                  ""]
    return "\n".join(parts).rstrip() + "\n"


def sections() -> list[tuple[str, type[BaseModel]]]:
    """(title, model) for the top level and every model nested in it, in reading order."""
    found: list[tuple[str, type[BaseModel]]] = [("Top level", Config)]
    queue: list[tuple[str, type[BaseModel]]] = [("", Config)]
    while queue:
        path, model = queue.pop(0)
        for name, field in model.model_fields.items():
            nested = _models(field.annotation)
            for child in nested:
                if any(child is seen for _, seen in found):
                    continue  # documented once, under the first key that uses it
                child_path = f"{path}.{name}" if path else name
                child_path += _container_suffix(field.annotation)
                title = f"`{child_path}`"
                if len(nested) > 1 or _literal_type(child):
                    title += f" with `type: {_literal_type(child)}`" if _literal_type(child) else \
                        f" ({child.__name__})"
                found.append((title, child))
                queue.append((child_path, child))
    return found


def undocumented() -> list[str]:
    """Fields without a description: each would show an empty meaning in the reference."""
    missing = [f"Settings.{name}" for name, field in Settings.model_fields.items()
               if not field.description]
    for _, model in sections():
        missing += [f"{model.__name__}.{name}" for name, field in model.model_fields.items()
                    if not field.description and not (name == "type" and _is_literal(field.annotation))]
    return missing


def replace_in(text: str, generated: str) -> str:
    """`text` with the part between the markers replaced; the markers must be there once."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError("the README must contain each configuration reference marker exactly once")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def generated_part(text: str) -> str:
    _, rest = text.split(BEGIN, 1)
    return rest.split(END, 1)[0].removeprefix("\n")


def _fields(model: type[BaseModel]):
    """A model's fields with a `type` discriminator first: it says which table applies."""
    return sorted(model.model_fields.items(), key=lambda item: not _is_literal(item[1].annotation))


# -- cells -----------------------------------------------------------------------------------
def _cells(field: FieldInfo) -> list[str]:
    meaning = field.description or ""
    if not meaning and _is_literal(field.annotation):
        meaning = "selects this kind of entry"
    return [_type_name(field.annotation, field.metadata), _default(field), _escape(meaning)]


def _env_name(name: str) -> str:
    return (Settings.model_config.get("env_prefix") or "").upper() + name.upper()


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    value = field.default_factory() if field.default is PydanticUndefined else field.default
    if value is None:
        return "(unset)"
    if isinstance(value, BaseModel):
        return "(empty)"
    return f"`{_yaml_value(value)}`" if value != "" else '`""`'


def _yaml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return str(value)


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _type_name(annotation, metadata=()) -> str:
    annotation, metadata = _own_type(annotation, metadata)
    name = _bare_type_name(annotation)
    limits = [_limit(m, annotation) for m in metadata]
    return ", ".join([name, *filter(None, limits)])


def _own_type(annotation, metadata) -> tuple:
    """An optional key's type without `| None` (its default says it may be unset), with the
    limits declared on that type: those of a rule's keys are inside the union
    (bot/config/policy.py)."""
    origin, args = get_origin(annotation), get_args(annotation)
    kept = [a for a in args if a is not type(None)]
    if origin in (Union, types.UnionType) and len(kept) == 1:
        return _own_type(kept[0], metadata)
    if origin is Annotated:
        return _own_type(args[0], [*metadata, *annotation.__metadata__])
    return annotation, list(metadata)


def _bare_type_name(annotation) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _bare_type_name(args[0])
    if origin in (Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        if len(kept) > 1 and all(_models(a) == [a] for a in kept):
            return "one of: " + ", ".join(f"`type: {_literal_type(m)}`" for m in kept)
        return " or ".join(_bare_type_name(a) for a in kept)
    if origin is Literal:
        return " or ".join(f"`{_yaml_value(a)}`" for a in args)
    if origin is list:
        return f"list of {_bare_type_name(args[0])}"
    if origin is dict:
        return f"map of id → {_bare_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _literal_type(annotation) and f"`type: {_literal_type(annotation)}`" or "mapping (below)"
    return _SIMPLE.get(annotation, getattr(annotation, "__name__", str(annotation)))


_SIMPLE = {str: "text", int: "integer", float: "number", bool: "true / false", Path: "path",
           SecretStr: "secret", timedelta: "duration"}


def _limit(item, annotation) -> str | None:
    if isinstance(item, annotated_types.Ge):
        return f"≥ {item.ge}"
    if isinstance(item, annotated_types.Gt):
        return f"> {item.gt}"
    if isinstance(item, annotated_types.Le):
        return f"≤ {item.le}"
    if isinstance(item, annotated_types.Lt):
        return f"< {item.lt}"
    if isinstance(item, annotated_types.MinLen) and item.min_length:
        kind = get_origin(annotation)
        return f"at least {item.min_length}" if kind in (list, dict) else "not empty"
    return None


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


# -- walking the models -------------------------------------------------------------------------
def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        for model in _models(arg):
            if model not in found:
                found.append(model)
    return found


def _container_suffix(annotation) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated or origin in (Union, types.UnionType):
        return next((s for s in map(_container_suffix, args) if s), "")
    if origin is dict:
        return ".<id>" + _container_suffix(args[1])
    if origin is list:
        return "[]" + _container_suffix(args[0])
    return ""


def _literal_type(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("type")
    if field is not None and _is_literal(field.annotation):
        return str(get_args(field.annotation)[0])
    return None


def _is_literal(annotation) -> bool:
    return get_origin(annotation) is Literal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, metavar="README", help="replace the reference in this file")
    parser.add_argument("--check", type=Path, metavar="README", help="exit 1 if this file is stale")
    args = parser.parse_args(argv)
    generated = render()
    if args.write:
        args.write.write_text(replace_in(args.write.read_text(), generated))
    elif args.check:
        if generated_part(args.check.read_text()) != generated:
            print(f"{args.check}: the configuration reference is stale; run `make docs`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
