"""The refusals an operation can answer — (status, code) pairs — found by reading the code it runs,
for the OpenAPI document (each operation lists the error codes of each of its 4xx answers).

Reading starts at the handler method and at the `prepare` of its audience's base classes, and
follows every call into the project's own functions (handlers, services, lib, models, events),
however deep: a call `conflict("sold_out", …)` there is 409 `sold_out`, `not_found(…)` 404
`not_found`, `field_error(…)` 422 `validation_failed`, `ApiError(400, "malformed_json", …)` itself,
and a kind of lib/errors.py constructed directly (`RateLimited("too_many_attempts", …)`) has the
status handlers/base.py's STATUS_OF gives it. Besides literal codes it understands a function that
passes its parameter on as the code (called with literals), a module-level mapping of codes, the
order-lifecycle reactions an `announce` runs (as services/wiring.py registers them), and methods
of a class of the module the call is in. A call through any other object (a payment provider, a
limiter) cannot be followed by reading: the handler names what it raises with `@refuses`.

What is found can over-state (a branch that cannot be reached with this operation's arguments)
but should never under-state: the test suite checks every error answer it receives against the
document (tests/conftest.py), so a code the reading misses fails the test that provoked it.
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import textwrap
import types
from typing import NamedTuple

from handlers.base import STATUS_OF
from lib import errors

PROJECT = ("handlers", "services", "lib", "models", "events")
HELPERS = {  # lib/errors.py's constructors: (status, code when none is given)
    "not_found": (404, "not_found"), "conflict": (409, None), "invalid": (422, "validation_failed"),
    "field_error": (422, "validation_failed"), "forbidden": (403, "forbidden"), "unauthorized": (401, "unauthorized")}
KINDS = {kind.__name__: status for kind, status in STATUS_OF.items()}
# raised by a `paid` reaction and answered as a conflict with its code (services/orders/paying.py)
FORWARDED = {"PaymentRefused": 409}
# every request may meet a database or Redis outage (handlers/base.py answers it as 503)
ALWAYS = {(503, "service_unavailable")}


def refuses(*refusals: tuple[int, str]):
    """Name refusals of a handler method that reading its code cannot find (raised through an
    object, such as a limiter the runtime holds): `@refuses((429, "too_many_registrations"))`."""
    def mark(function):
        function.declared_refusals = set(refusals)
        return function
    return mark


def _ours(value) -> bool:
    module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return (module or "").split(".")[0] in PROJECT


def _function(value):
    value = inspect.unwrap(value) if callable(value) else value
    return value if isinstance(value, types.FunctionType) and _ours(value) else None


@functools.cache
def _tree(function) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


@functools.cache
def _reactions() -> dict[str, tuple]:
    """lifecycle event -> the reactions services/wiring.py registers for it, read from its source."""
    from services import wiring
    from services.orders import lifecycle

    found: dict[str, list] = {}
    for node in ast.walk(_tree(wiring.wire)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "react" and node.args:
            event = getattr(lifecycle, getattr(node.args[0], "attr", ""), None)
            found.setdefault(event, []).extend(
                _resolve(argument, wiring.wire.__globals__, None) for argument in node.args[1:])
    return {event: tuple(f for f in functions if f) for event, functions in found.items()}


def _resolve(node: ast.AST, scope: dict, owner: type | None):
    """The project function an expression names: `name`, `module.name`, `self.name`."""
    if isinstance(node, ast.Name):
        return _function(scope.get(node.id))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "self" and owner is not None:
            return _function(getattr(owner, node.attr, None))
        base = scope.get(node.value.id)
        if isinstance(base, types.ModuleType) and _ours(base) or isinstance(base, type) and _ours(base):
            return _function(getattr(base, node.attr, None))
    return None


def _constant(node: ast.AST | None, scope: dict, owner: type | None = None):
    """The value of a literal, a module constant (`BALANCE`, `lifecycle.PAID`) or a handler's class
    attribute (`self.currency`)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        base = owner if node.value.id == "self" else scope.get(node.value.id)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _codes(node: ast.AST | None, scope: dict, parameters: list[str], owner: type | None,
           table: dict | None = None) -> tuple[set[str], dict[str, dict | None]]:
    """(the codes an expression can be, {parameter it passes on: the table of codes it is looked
    up in, or None}). `table`: the expression is a key of that module-level table of codes."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and isinstance(scope.get(node.value.id), dict):  # INSUFFICIENT[currency]
        return _codes(node.slice, scope, parameters, owner, scope[node.value.id])
    if isinstance(node, ast.Name) and node.id in parameters:
        return set(), {node.id: table}
    value = _constant(node, scope, owner)
    if isinstance(value, str):
        return ({table[value]} if value in table else set()) if table is not None else {value}, {}
    if table is not None:  # a key this reading cannot tell: any code of the table
        return {code for code in table.values() if isinstance(code, str)}, {}
    return set(), {}


def _argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[:index + 1]):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


class Reading(NamedTuple):
    """What one function's own text says."""
    refusals: frozenset  # (status, code) it makes itself (with what it hands to a factory)
    calls: frozenset  # (function, owner) of the project functions it calls or hands on to be called
    forwards: dict  # parameter index -> (status, table): a parameter it passes on as a refusal's code


def _direct(function, owner: type | None = None) -> Reading:
    """Read one function (`owner`: the handler class `self` is, for handler methods)."""
    key = (function, owner)
    if key in _readings:
        return _readings[key]
    tree, scope = _tree(function), function.__globals__
    if tree is None or key in _reading:  # no source; or a call back into a function being read, whose
        return Reading(frozenset(), frozenset(), {})  # forwards are not known yet (its calls are, above)
    _reading.add(key)
    local_imports = {alias.asname or alias.name: f"{node.module}.{alias.name}" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level for alias in node.names}
    if local_imports:  # `from services import idempotency` inside the function
        scope = {**scope, **{name: _import(path) for name, path in local_imports.items()}}
    definition = tree.body[0]
    parameters = [a.arg for a in definition.args.posonlyargs + definition.args.args + definition.args.kwonlyargs] \
        if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
    found: set[tuple[int, str]] = set()
    calls: set[tuple] = set()
    forwards: dict[int, tuple[int, dict | None]] = {}

    def refusal(status: int, code_node: ast.AST | None, default: str | None, table: dict | None = None) -> None:
        codes, passed = _codes(code_node, scope, parameters, owner, table)
        if code_node is None and default:
            codes = {default}
        found.update((status, code) for code in codes)
        for name, via in passed.items():
            forwards[parameters.index(name)] = (status, via)

    module_classes = [v for v in scope.values() if isinstance(v, type) and v.__module__ == function.__module__]
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            # a function handed on to be called: a callback, a transaction's body
            if (callee := _function(scope.get(node.id))) is not None and callee is not function:
                calls.add((callee, None))
            continue
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name in HELPERS:
            status, default = HELPERS[name]
            code = _argument(node, 0, "code") if name not in ("invalid", "field_error", "not_found") else \
                next((k.value for k in node.keywords if k.arg == "code"), None)
            refusal(status, code, default)
        elif name in KINDS or name in FORWARDED:
            refusal(KINDS.get(name) or FORWARDED[name], _argument(node, 0, "code"), None)
        elif name == "ApiError" and node.args and isinstance(node.args[0], ast.Constant):
            refusal(node.args[0].value, _argument(node, 1, "code"), None)
        elif name == "get_query_argument":  # Tornado refuses a query string that is not UTF-8
            found.add((400, "bad_request"))
        elif name == "announce" and node.args:  # the order-lifecycle reactions of that event
            event = _constant(node.args[0], scope)
            reactions = _reactions().get(event, ()) if event else [f for fs in _reactions().values() for f in fs]
            calls.update((reaction, None) for reaction in reactions)
        callee = _resolve(node.func, scope, owner)
        if callee is None and isinstance(node.func, ast.Attribute):  # a method of a class of this module
            callee = next((_function(getattr(cls, name)) for cls in module_classes if name in vars(cls)), None)
        if callee is None or callee is function:
            continue
        on_self = isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", None) == "self"
        calls.add((callee, owner if on_self else None))
        for index, (status, table) in _direct(callee, owner if on_self else None).forwards.items():
            callee_parameters = list(inspect.signature(callee).parameters)
            offset = 1 if callee_parameters and callee_parameters[0] in ("self", "cls") else 0
            refusal(status, _argument(node, index - offset, callee_parameters[index]), None, table)
    _reading.discard(key)
    _readings[key] = Reading(frozenset(found), frozenset(calls), forwards)
    return _readings[key]


_readings: dict[tuple, Reading] = {}
_reading: set = set()  # functions being read right now (a call's forwards may lead back to one)


def _reach(function, owner: type | None = None) -> set[tuple[int, str]]:
    """Everything `function` and all it reaches, however deep, can refuse (cycles included)."""
    found: set = set()
    seen: set = set()
    todo = [(function, owner)]
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            reading = _direct(*item)
            found |= reading.refusals
            todo += reading.calls
    return found


def _import(path: str):
    """A module (`services.idempotency`) or a name in one (`services.orders.cart`)."""
    module, _, name = path.rpartition(".")
    try:
        return importlib.import_module(path)
    except ImportError:
        return getattr(importlib.import_module(module), name, None)


def _hook(handler: type, name: str) -> frozenset:
    """What a request hook of the handler (`prepare` of each base class, ...) can refuse."""
    found: set = set()
    for cls in handler.__mro__:
        if name in vars(cls) and (function := _function(vars(cls)[name])) is not None:
            found |= _reach(function, handler)
    return frozenset(found)


def of_operation(handler: type, method: str) -> dict[int, set[str]]:
    """status -> the error codes an API handler's method can answer with. 405 is left out (the
    document lists only methods the handler implements), and so are the checks its audience
    skips for this method: the token for a shopper's public method, the permission for a
    method any staff member may call."""
    function = getattr(handler, method)
    found = _reach(_function(function), handler) | getattr(function, "declared_refusals", set()) | ALWAYS
    skipped = set()
    if method.upper() in getattr(handler, "public_methods", ()):
        skipped |= _hook(handler, "authenticate")
    if method.upper() in getattr(handler, "any_staff", ()):
        skipped |= _hook(handler, "check_permission")
    found |= (_hook(handler, "prepare") | _hook(handler, "refuse_early")) - skipped
    by_status: dict[int, set[str]] = {}
    for status, code in found:
        if status != 405:
            by_status.setdefault(status, set()).add(code)
    return by_status


assert set(KINDS) == {kind.__name__ for kind in vars(errors).values()
                      if isinstance(kind, type) and issubclass(kind, errors.DomainError) and kind is not errors.DomainError}
