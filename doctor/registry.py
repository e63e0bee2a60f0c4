"""The registry: every declared check, found once (built-in ``checks`` package, entry points,
``$AME_DOCTOR_CHECK_MODULES``), in report order; and what is derived from the declarations (the
signal vocabulary, the known check ids).

Built-in checks live in ``checks/<id with _ for .>.py`` + ``.toml``; third-party checks register
through the entry-point group ``ame_doctor.checks``. The models and the ``@check`` decorator are in
:mod:`doctor.checkapi`.

Built-in checks are known from their TOML files without importing their Python (:func:`registered_checks`):
a check's module is imported the first time its metadata or function is needed, so ``run --only X``
imports X's module and what it needs, not every check's. The vocabulary and the check ids are read from the
declarations (the TOML files, plus any third-party check's metadata) the same way.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

from doctor.checkapi import DECLARED, CheckFunc, CheckMeta, on_declare

ENTRY_POINT_GROUP = "ame_doctor.checks"
# Extra check modules to import, comma-separated (local checks without packaging; tests use it too).
MODULES_ENV = "AME_DOCTOR_CHECK_MODULES"


class RegistryError(Exception):
    pass


class RegisteredCheck:
    """A declared check: its metadata and function. A built-in check found in its TOML file (:meth:`builtin`)
    imports its module the first time either is asked for."""

    def __init__(self, meta: CheckMeta, func: CheckFunc, origin: str) -> None:
        self._meta: CheckMeta | None = meta
        self._func: CheckFunc | None = func
        self.origin = origin
        self.id, self.order, self.module = meta.id, meta.order, func.__module__

    @classmethod
    def builtin(cls, check_id: str, order: int, module: str) -> RegisteredCheck:
        """The built-in check ``check_id`` of ``module``, not imported yet."""
        rc = cls.__new__(cls)
        rc._meta, rc._func, rc.origin = None, None, module
        rc.id, rc.order, rc.module = check_id, order, module
        return rc

    @property
    def loaded(self) -> bool:
        return self._func is not None

    def _load(self) -> None:
        if self._func is None:
            _import(self.module, "check module")
        if self._func is None:
            raise RegistryError(f"check module {self.module!r} declares no check {self.id!r} (its TOML file does)")

    @property
    def meta(self) -> CheckMeta:
        self._load()
        assert self._meta is not None
        return self._meta

    @property
    def func(self) -> CheckFunc:
        self._load()
        assert self._func is not None
        return self._func


_REGISTRY: dict[str, RegisteredCheck] = {}
_LOADED = False      # every check imported (load_checks)
_DECLARED = False    # built-ins known from their TOML, third-party checks imported (registered_checks)
_BUILTIN_TOML: dict[str, dict[str, Any]] = {}  # every checks/*.toml (incl. shared ones), parsed once


def _register(meta: CheckMeta, func: CheckFunc) -> None:
    """A duplicate id is an error naming both places."""
    origin = f"{func.__module__}.{func.__qualname__}"
    existing = _REGISTRY.get(meta.id)
    if existing is not None and not existing.loaded and existing.module == func.__module__:
        existing._meta, existing._func, existing.origin = meta, func, origin  # the built-in, imported now
        existing.order = meta.order
        return
    if existing is not None and existing.origin != origin:
        raise RegistryError(f"duplicate check id {meta.id!r}: {existing.origin} and {origin}")
    _REGISTRY[meta.id] = RegisteredCheck(meta, func, origin)


for _meta, _func in DECLARED:  # declared before this module was imported
    _register(_meta, _func)
on_declare(_register)


def _import(name: str, what: str) -> None:
    try:
        importlib.import_module(name)
    except RegistryError:
        raise
    except Exception as e:  # one clear line naming the module, not a traceback
        raise RegistryError(f"{what} {name!r} cannot be imported: {type(e).__name__}: {e}") from e


def _builtin_declarations() -> dict[str, dict[str, Any]]:
    """Every TOML file of the built-in ``checks`` package by stem, parsed once (a check's file and the shared
    ``_<name>.toml`` kinds)."""
    if not _BUILTIN_TOML:
        import checks as builtin

        for folder in builtin.__path__:
            for path in sorted(Path(folder).glob("*.toml")):
                try:
                    with path.open("rb") as fh:
                        _BUILTIN_TOML[path.stem] = tomllib.load(fh)
                except (OSError, tomllib.TOMLDecodeError) as e:
                    raise RegistryError(f"{path}: {e}") from None
    return _BUILTIN_TOML


def builtin_module(check_id: str) -> str:
    """The module of a built-in check: ``checks.<id with _ for .>``."""
    return "checks." + check_id.replace(".", "_")


def registered_checks() -> dict[str, RegisteredCheck]:
    """Every check, in report order, importing only what must be: built-ins from their TOML files (imported
    when used), then entry points and ``$AME_DOCTOR_CHECK_MODULES`` (imported: they declare themselves).
    Idempotent."""
    global _DECLARED
    if not _DECLARED:
        import checks as builtin

        modules = {m.name for m in pkgutil.iter_modules(builtin.__path__) if not m.name.startswith("_")}
        for stem, data in _builtin_declarations().items():
            if stem in modules and isinstance(data.get("id"), str) and data["id"] not in _REGISTRY:
                _REGISTRY[data["id"]] = RegisteredCheck.builtin(data["id"], int(data.get("order", 0)),
                                                                f"checks.{stem}")
        for stem in sorted(modules - set(_builtin_declarations())):  # a module without a TOML: it says why
            _import(f"checks.{stem}", "check module")
        _load_third_party()
        _DECLARED = True
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


def _load_third_party() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except RegistryError:
            raise
        except Exception as e:
            raise RegistryError(f"entry point {ep.name!r} ({ep.value}) of {ENTRY_POINT_GROUP} cannot be "
                                f"loaded: {type(e).__name__}: {e}") from e
    for name in os.environ.get(MODULES_ENV, "").split(","):
        if name.strip():
            _import(name.strip(), f"{MODULES_ENV} module")


def load_checks() -> dict[str, RegisteredCheck]:
    """Every check, each module imported: the built-in ``checks`` package, then entry points, then
    ``$AME_DOCTOR_CHECK_MODULES``. Idempotent."""
    global _LOADED, _DECLARED
    if not _LOADED:
        import checks as builtin

        for mod in pkgutil.iter_modules(builtin.__path__):
            if not mod.name.startswith("_"):
                _import(f"checks.{mod.name}", "check module")
        _load_third_party()  # imported once; asking again costs nothing
        _LOADED = _DECLARED = True
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


def all_checks() -> list[RegisteredCheck]:
    return list(load_checks().values())


def get_check(check_id: str) -> RegisteredCheck:
    checks = load_checks()
    if check_id not in checks:
        raise KeyError(check_id)
    return checks[check_id]


def vocabulary() -> frozenset[str]:
    """Every signal a registered check can emit: the union of the declared finding kinds' signals (a built-in
    check's from its TOML files, without importing it)."""
    found: set[str] = set()
    for data in _builtin_declarations().values():
        found.update(_toml_signals(data))
    for rc in registered_checks().values():
        if rc.loaded or not rc.module.startswith("checks."):
            found.update(rc.meta.signals())
    return frozenset(found)


def _toml_signals(data: dict[str, Any]) -> set[str]:
    """The signals a TOML file's ``[kinds.*]`` (and their variants) declare."""
    out: set[str] = set()
    for kind in (data.get("kinds") or {}).values():
        for decl in [kind, *(kind.get("variants") or {}).values()]:
            if decl.get("signal"):
                out.add(decl["signal"])
            out.update(decl.get("signals") or ())
    return out


def check_ids() -> tuple[str, ...]:
    """The registered check ids in report order."""
    return tuple(registered_checks())
