"""Check metadata as validated data, the @check decorator, and discovery.

A check is a function ``run(ctx) -> Iterable[Finding]`` (sync or async) declared once with
``@check(CheckMeta(...))``. Built-in checks live in ``checks/<id with _ for .>.py``; third-party
checks register through the entry-point group ``ame_doctor.checks``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from doctor.model import Severity

if TYPE_CHECKING:
    from doctor.engine import CheckContext

ENTRY_POINT_GROUP = "ame_doctor.checks"
# Extra check modules to import, comma-separated (local checks without packaging; tests use it too).
MODULES_ENV = "AME_DOCTOR_CHECK_MODULES"


class RegistryError(Exception):
    pass


class CheckMeta(BaseModel):
    """What users see about a check (ruff-style: what it checks, why it matters, the fix)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+\.[a-z0-9_]+$")
    title: str
    order: int = Field(ge=1)
    severity: Severity = Severity.error
    proves: str
    why: str
    remediation: str
    iam_actions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    needs: tuple[str, ...] = Field(default=(), description="inputs: 'aws', 'redis', 'mysql', 'env-file', 'exec'")
    timeout: float | None = Field(default=None, gt=0, description="overrides [run] check_timeout")

    @field_validator("iam_actions")
    @classmethod
    def _actions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if ":" not in a:
                raise ValueError(f"IAM action {a!r} must look like 'service:Action'")
        return v


CheckFunc = Callable[["CheckContext"], Any]


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


def check(meta: CheckMeta) -> Callable[[CheckFunc], CheckFunc]:
    """Register ``func`` under ``meta.id``; a duplicate id is an error naming both places."""

    def register(func: CheckFunc) -> CheckFunc:
        origin = f"{func.__module__}.{func.__qualname__}"
        existing = _REGISTRY.get(meta.id)
        if existing is not None and existing.origin != origin:
            raise RegistryError(f"duplicate check id {meta.id!r}: {existing.origin} and {origin}")
        _REGISTRY[meta.id] = RegisteredCheck(meta, func, origin)
        return func

    return register


def _import(name: str, what: str) -> None:
    try:
        importlib.import_module(name)
    except RegistryError:
        raise
    except Exception as e:  # one clear line naming the module, not a traceback
        raise RegistryError(f"{what} {name!r} cannot be imported: {type(e).__name__}: {e}") from e


def load_checks() -> dict[str, RegisteredCheck]:
    """Import every module of the built-in ``checks`` package, then entry points, then
    ``$AME_DOCTOR_CHECK_MODULES``. Idempotent."""
    global _LOADED
    if not _LOADED:
        import os

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
