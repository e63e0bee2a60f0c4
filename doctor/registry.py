"""The registry: every declared check, found once (built-in ``checks`` package, entry points,
``$AME_DOCTOR_CHECK_MODULES``), in report order; and what is derived from the declarations (the
signal vocabulary, the known check ids).

Built-in checks live in ``checks/<id with _ for .>.py`` + ``.toml``; third-party checks register
through the entry-point group ``ame_doctor.checks``. The models and the ``@check`` decorator are in
:mod:`doctor.checkapi`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from doctor.checkapi import DECLARED, CheckFunc, CheckMeta, on_declare

ENTRY_POINT_GROUP = "ame_doctor.checks"
# Extra check modules to import, comma-separated (local checks without packaging; tests use it too).
MODULES_ENV = "AME_DOCTOR_CHECK_MODULES"


class RegistryError(Exception):
    pass


class RegisteredCheck:
    def __init__(self, meta: CheckMeta, func: CheckFunc, origin: str) -> None:
        self.meta = meta
        self.func = func
        self.origin = origin

    @property
    def id(self) -> str:
        return self.meta.id


_REGISTRY: dict[str, RegisteredCheck] = {}
_LOADED = False


def _register(meta: CheckMeta, func: CheckFunc) -> None:
    """A duplicate id is an error naming both places."""
    origin = f"{func.__module__}.{func.__qualname__}"
    existing = _REGISTRY.get(meta.id)
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


def builtin_module(check_id: str) -> str:
    """The module of a built-in check: ``checks.<id with _ for .>``."""
    return "checks." + check_id.replace(".", "_")


def load_checks() -> dict[str, RegisteredCheck]:
    """Import every module of the built-in ``checks`` package, then entry points, then
    ``$AME_DOCTOR_CHECK_MODULES``. Idempotent."""
    global _LOADED
    if not _LOADED:
        import checks as builtin

        for mod in pkgutil.iter_modules(builtin.__path__):
            if not mod.name.startswith("_"):
                _import(f"checks.{mod.name}", "check module")
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
        _LOADED = True
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].meta.order, kv[0])))


def all_checks() -> list[RegisteredCheck]:
    return list(load_checks().values())


def get_check(check_id: str) -> RegisteredCheck:
    checks = load_checks()
    if check_id not in checks:
        raise KeyError(check_id)
    return checks[check_id]


def vocabulary() -> frozenset[str]:
    """Every signal a registered check can emit: the union of the declared finding kinds' signals."""
    return frozenset(s for rc in load_checks().values() for s in rc.meta.signals())


def check_ids() -> tuple[str, ...]:
    """The registered check ids in report order."""
    return tuple(load_checks())
