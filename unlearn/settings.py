"""Building a component from its config node, with every setting checked against the type
its dataclass declares, so that `labels.alpha=abc`, `labels.alpha=nan` or a misspelt key
stops the run in one line naming the key, before anything is built or trained."""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from typing import Any, Union

from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from unlearn.errors import SettingError, UserError

_NAMES = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def fits(value: Any, hint: Any) -> bool:
    """Whether a composed value has the declared type (ints count as floats; floats must be finite)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args, strict=True))
        return not args or all(fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and (not args or all(fits(v, args[1]) for v in value.values()))
    return True


def _hints(cls: type) -> dict[str, Any]:
    """Each field's declared type; Any for one named only for type checkers (a class whose
    import costs seconds, e.g. a Lightning logger), which settings never hold anyway."""
    namespace = vars(sys.modules[cls.__module__])
    hints = {}
    for field in dataclasses.fields(cls):
        try:
            hints[field.name] = eval(field.type, namespace) if isinstance(field.type, str) else field.type
        except NameError:
            hints[field.name] = Any
    return hints


def _declares_float(hint: Any) -> bool:
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    return float in options and int not in options


def check_node(node: dict, cls: type, group: str) -> dict:
    """Every key of `node` is a field of the dataclass `cls`, of its type; every field without a
    default is given. Returns the node with integers given for float settings made floats, so that
    `labels.alpha=5` and `labels.alpha=5.0` build the same component (and the same cache keys)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _hints(cls)
    for key, value in node.items():
        if key.startswith("_"):
            continue
        if key not in fields:
            raise UserError(f"{group}.{key} is not a setting of {group} ({cls.__name__}); its settings are {sorted(fields)}")
        if isinstance(value, dict) and "_target_" in value:
            continue
        if not fits(value, hints[key]):
            raise UserError(f"{group}.{key}={value!r} is not {describe(hints[key])}; set {group}.{key} to {describe(hints[key])}")
    for name, field in fields.items():
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if required and name not in node:
            raise UserError(f"{group}.{name} is not set; set it on the command line, e.g. {group}.{name}=<value>")
    return {
        key: float(value) if isinstance(value, int) and key in hints and _declares_float(hints[key]) else value
        for key, value in node.items()
    }


def check(node: DictConfig, group: str) -> Any:
    """The settings of the component `node` describes, checked against its dataclass without
    building it; returns them as the component will take them (see check_node)."""
    plain = OmegaConf.to_container(node, resolve=True)
    target = plain.get("_target_") if isinstance(plain, dict) else None
    if target and not plain.get("_partial_"):
        try:
            cls = get_class(target)
        except (ImportError, ValueError):
            cls = None
        if cls is not None and dataclasses.is_dataclass(cls):
            return check_node(plain, cls, group)
    return plain


def build(node: DictConfig | None, group: str) -> Any:
    """The component `node` describes, its settings checked first; a SettingError raised while
    it is built names the full key (`group.field`)."""
    if node is None:
        return None
    settings = check(node, group)
    try:
        return instantiate(settings, _convert_="all")
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, SettingError):
            raise cause.within(group) from None
        if isinstance(cause, UserError):
            raise cause from None
        raise
