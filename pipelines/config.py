"""Run configuration as plain data: a dataclass of defaults, an optional TOML file on top, `key=value` on top of that.

Every value is type-checked against the dataclass field, and range-checked where the field is declared with
`setting(..., ge=, gt=, le=, lt=)` or typed as a `Literal` of choices; an unknown key is an error that lists
the valid keys. The resolved config is saved beside everything a run writes, so a result can always be traced back.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import inspect
import json
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A config key or value that does not fit the config's dataclass."""


STEPS = ("features", "train")


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    min_items: int | None = None,
    step: Literal["features", "train"] = "train",
    result: bool = True,
    member: str | None = None,
) -> Any:
    """A config field with its valid range, checked when the config is resolved (for a list, each item, and
    `min_items`, the fewest items it may have):
    `epochs: int = setting(10, ge=1)`, `layers: list[int] = setting(factory=lambda: [1000, 500], ge=1)`.

    `step`: the pipeline step whose output depends on it (a field declared without `setting` is "train").
    `result=False`: it says how to run, not what comes out (n_seeds, resume, workers), so it is left out of
    the settings that decide whether finished work is reused (`result_settings`). `member="gbdt"`: it shapes one ensemble
    member (or the ensemble, "ensemble") alone, so the other members' finished work is reused when it changes
    (see `result_settings`). A subclass that only changes the default
    keeps all of this from the class that declared it."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    meta = {"range": bounds, "step": step, "result": result, "member": member, "min_items": min_items}
    return dataclasses.field(default=default, default_factory=factory, metadata=meta)


def with_defaults(base: type, defaults: dict, where: str = "defaults") -> type:
    """`base` (a config dataclass) with other defaults: a card's `defaults={"sizes": [64]}`. ValueError naming
    a key that is not one of its settings; the values are checked, with the rest, when a config is resolved."""
    if not defaults:
        return base
    known = {f.name: f for f in dataclasses.fields(base)}
    unknown = sorted(set(defaults) - set(known))
    if unknown:
        raise ValueError(f"{where} names {unknown}, not settings of {base.__name__} (make config COMP=... lists them)")
    namespace: dict[str, Any] = {"__annotations__": {k: known[k].type for k in defaults}, "__module__": base.__module__}
    for k, v in defaults.items():
        namespace[k] = dataclasses.field(default_factory=lambda v=v: copy.deepcopy(v))
    return dataclasses.dataclass(type(base.__name__, (base,), namespace))


def field_meta(cls: type, name: str, key: str, default: Any = None) -> Any:
    """Metadata `key` of field `name`, from the first class in `cls`'s MRO that declares it with `setting`."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and key in f.metadata:
            return f.metadata[key]
    return default


def sections(cls: type) -> dict[str, list[str]]:
    """Field names by step ({"features": [...], "train": [...]}): each field in exactly one."""
    out: dict[str, list[str]] = {step: [] for step in STEPS}
    for f in dataclasses.fields(cls):
        out[field_meta(cls, f.name, "step", "train")].append(f.name)
    return out


def result_settings(
    config: Any, steps: tuple[str, ...] = STEPS, members: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The values of `steps`' fields that shape a result (not the `result=False` ones): what must match for
    finished work to be reused. `members`: only the fields shared by all (no `member`) and those of these
    members (None: every field)."""
    full, cls = to_dict(config), type(config)
    keys = [k for step in steps for k in sections(cls)[step] if field_meta(cls, k, "result", True)]
    if members is not None:
        keys = [k for k in keys if field_meta(cls, k, "member") in (None, *members)]
    return {k: full[k] for k in keys}


_BOUNDS = {
    "ge": (">=", lambda v, b: v >= b),
    "gt": (">", lambda v, b: v > b),
    "le": ("<=", lambda v, b: v <= b),
    "lt": ("<", lambda v, b: v < b),
}


@functools.cache
def _declared(cls: type, name: str) -> tuple[dict, tuple | None]:
    """The range and the Literal choices of field `name`, from the first class in `cls`'s MRO declaring them."""
    choices = None
    for klass in cls.__mro__:
        hint = typing.get_type_hints(klass).get(name) if dataclasses.is_dataclass(klass) else None
        if typing.get_origin(hint) is typing.Literal:
            choices = typing.get_args(hint)
            break
    return field_meta(cls, name, "range", {}), choices


@functools.cache
def _comments(klass: type) -> dict[str, str]:
    """Each field's description as written beside it in `klass`'s source: its trailing comment, else the
    comment lines right above it (a `# --- section ---` line is a heading, not a description)."""
    try:
        lines = inspect.getsource(klass).splitlines()
    except (OSError, TypeError):  # a class made at run time (config.with_defaults): its base has the words
        return {}
    out, above, field = {}, [], None
    for line in lines:
        text = line.strip()
        inside = line.startswith("     ")  # a continuation line of a field's definition
        if field and inside and not out[field] and "# " in line:  # the comment of a definition on several lines
            out[field] = line.split("# ", 1)[1]
        if inside:
            continue
        if text.startswith("#"):
            above = [] if text.startswith("# ---") else [*above, text.lstrip("# ")]
            continue
        match = re.match(r"([A-Za-z_]\w*)\s*:[^=]*=", text)
        field = match.group(1) if match and line.startswith("    ") else None
        if field:
            out[field] = text.split("  # ", 1)[1] if "  # " in text else " ".join(above)
        above = []
    return out


def describe(cls: type) -> list[dict[str, str]]:
    """Every key of config class `cls`: its name, type, default, valid range or choices, the step it shapes
    and its description (from the comments beside the field in the source): what `make config` prints."""
    rows, defaults = [], to_dict(cls())
    for f in dataclasses.fields(cls):
        bounds, choices = _declared(cls, f.name)
        valid = (
            " | ".join(map(str, choices)) if choices else ", ".join(f"{_BOUNDS[k][0]} {v}" for k, v in bounds.items())
        )
        hint = next(
            typing.get_type_hints(k)[f.name] for k in cls.__mro__ if f.name in getattr(k, "__annotations__", {})
        )
        kind = "choice" if choices else getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
        words = next((c for k in cls.__mro__ if dataclasses.is_dataclass(k) and (c := _comments(k).get(f.name))), "")
        rows.append(
            {
                "key": f.name,
                "type": kind,
                "default": json.dumps(defaults[f.name]),
                "valid": valid,
                "step": field_meta(cls, f.name, "step", "train"),
                "description": words,
            }
        )
    return rows


def key_table(cls: type, width: int = 36) -> str:
    """`describe(cls)` as a text table, each description cut to its first sentence (the rest, figures and all,
    stays beside the field in the source)."""
    rows = describe(cls)
    cut = lambda text, n: text if len(text) <= n else text[: n - 3] + "..."
    first = lambda text: re.split(r"(?<=\.)\s(?=[A-Z`])", text, maxsplit=1)[0] if text else ""
    cols = ["key", "type", "default", "valid", "step"]
    table = [{**r, "default": cut(r["default"], width), "valid": cut(r["valid"], width)} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols) + "  description"]
    for r in table:
        lines.append("  ".join(r[c].ljust(widths[c]) for c in cols) + "  " + first(r["description"]))
    return "\n".join(lines)


def check(config: C, source: str = "config") -> C:
    """Raise ConfigError for a value outside its declared range or choices (naming the key and what is valid)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        bounds, choices = _declared(type(config), f.name)
        if choices is not None and value not in choices:
            raise ConfigError(
                f"{source}: config key {f.name!r}: {value!r} is not one of {', '.join(map(repr, choices))}"
            )
        fewest = field_meta(type(config), f.name, "min_items")
        if fewest and isinstance(value, (list, tuple)) and len(value) < fewest:
            raise ConfigError(f"{source}: config key {f.name!r}: {value!r} needs at least {fewest} item(s)")
        for item in value if isinstance(value, (list, tuple)) else [value]:
            for kind, bound in bounds.items():
                op, ok = _BOUNDS[kind]
                if isinstance(item, (int, float)) and not ok(item, bound):
                    valid = " and ".join(f"{_BOUNDS[k][0]} {b}" for k, b in bounds.items())
                    what = f"item {item!r} of {value!r}" if isinstance(value, (list, tuple)) else repr(item)
                    raise ConfigError(f"{source}: config key {f.name!r}: {what} is out of range (valid: {valid})")
    return config


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Convert `value` (from TOML or a command-line string) to the field type `tp`, or raise ConfigError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"config key {name!r}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(name, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"config key {name!r}: {value!r} is not a valid {tp}")
    if origin in (list, tuple):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as e:
                    if not text.endswith("]"):
                        raise ConfigError(f"config key {name!r}: {value!r} is not a JSON list ({e})") from None
                    value = [v.strip().strip("'\"") for v in text[1:-1].split(",") if v.strip()]  # [nn,gbdt]
            else:
                value = [v for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {name!r}: expected a list, got {value!r}")
        item = args[0] if args else Any
        out = [_coerce(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"config key {name!r}: {value!r} is not a boolean (use true/false)")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"config key {name!r}: {value!r} is not a valid {tp.__name__}")
        try:
            converted = tp(value) if not isinstance(value, str) or tp is float else int(value, 0)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"config key {name!r}: {value!r} is not a valid {tp.__name__}") from None
        if tp is int and isinstance(value, float) and value != int(value):
            raise ConfigError(f"config key {name!r}: {value!r} is not a valid int")
        if not math.isfinite(converted):
            raise ConfigError(f"config key {name!r}: {value!r} is not a finite number")
        return converted
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {name!r}: {value!r} is not a string")
        return value
    raise ConfigError(f"config key {name!r}: unsupported field type {tp}")


def update(config: C, values: dict[str, Any], source: str) -> C:
    """Return a copy of dataclass `config` with `values` applied, type-checked; unknown keys raise."""
    hints = typing.get_type_hints(type(config))
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(values) - fields)
    if unknown:
        near = "".join(did_you_mean(k, fields, "=") for k in unknown)
        raise ConfigError(f"{source}: unknown config key(s) {unknown}{near}; valid keys: {sorted(fields)}")
    return dataclasses.replace(config, **{k: _coerce(k, v, hints[k]) for k, v in values.items()})


def did_you_mean(name: str, names, suffix: str = "") -> str:
    """ " (did you mean 'x'?)" for the one of `names` that `name` misspells (the same letters in another case first,
    else difflib's closest), or "" where none is near; `suffix` after the name (a card line's "=")."""
    names = [str(n) for n in names]
    near = [n for n in names if n.lower() == name.lower()] or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f" (did you mean {near[0]}{suffix}?)" if near and suffix else f" (did you mean {near[0]!r}?)" if near else ""


def parse_overrides(args: list[str]) -> dict[str, str]:
    """['epochs=3', 'lr=3e-3'] -> {'epochs': '3', 'lr': '3e-3'}; a word without '=' is an error."""
    out = {}
    for arg in args:
        key, sep, value = arg.lstrip("-").partition("=")
        if not sep or not key:
            raise ConfigError(f"override {arg!r} is not of the form key=value (e.g. epochs=3)")
        key = key.replace("-", "_")
        if key in out:
            raise ConfigError(f"config key {key!r} given twice ({key}={out[key]}, {key}={value}); give it once")
        out[key] = value
    return out


def resolve(defaults: C, file: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Defaults, then the TOML file (if any), then command-line `key=value` overrides."""
    config = defaults
    if file:
        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found (CONFIG=path/to/file.toml)")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: not valid TOML ({e})") from None
        config = update(config, data, str(path))
    config = update(config, parse_overrides(overrides or []), "command line")
    return check(config, f"{file} and the command line" if file else "command line")


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-able dict."""
    return dataclasses.asdict(config)
