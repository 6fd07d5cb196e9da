"""Write weir processor plugins in Python.

A plugin is a module defining a class ``Processor`` (the name the
``weir:pipeline/processor`` interface gives it) that subclasses
:class:`Plugin`. ``componentize-py`` turns the module into a WebAssembly
component weir loads with ``processor "x" type="wasm" { plugin "x.wasm" }``::

    from weir_plugin import Plugin, Scope

    class Processor(Plugin):
        def configure(self, config):
            self.key = config.str("key", default="password")
            config.deny_unknown()

        def handle(self, batch):
            batch.delete_attributes(Scope.RECORD, [self.key])

Build it with ``python -m weir_plugin build app.py -o app.wasm`` (which
runs componentize-py against weir's WIT), or with ``weir plugin new``'s
scaffold. This module wraps the bindings componentize-py generates
(``wit_world``): Arrow-layout columns and attribute columns become Python
lists, selections are lists of booleans, errors are exceptions.

Everything a method does is one host call over whole columns: nothing is
serialised per record, and the redaction kernels (``redact``,
``hash_attributes``, ``delete_attributes``, ``keep_trace_id_ratio``) run in
the host without copying values into Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

try:  # Present inside the component (componentize-py generates it).
    from componentize_py_types import Err
    from wit_world.imports import host, types
except ImportError:  # pragma: no cover - imported outside a build
    Err = None  # type: ignore[assignment]
    host = None  # type: ignore[assignment]
    types = None  # type: ignore[assignment]

ABI_VERSION = "weir:pipeline@0.1.0"


class _Scopes:
    """The attribute sets: ``Scope.RECORD``, ``Scope.RESOURCE``, ``Scope.SCOPE``."""

    @property
    def RECORD(self):  # noqa: N802 - reads as a constant
        return types.AttributeScope.RECORD

    @property
    def RESOURCE(self):  # noqa: N802
        return types.AttributeScope.RESOURCE

    @property
    def SCOPE(self):  # noqa: N802
        return types.AttributeScope.SCOPE


Scope = _Scopes()


class InvalidConfig(Exception):
    """Raised from ``configure``: the pipeline refuses to start, with this message."""


class Failed(Exception):
    """Raised from ``handle``: the node applies its ``on-error`` policy to the batch."""


def _plugin_error(e: BaseException):
    if isinstance(e, InvalidConfig):
        return Err(types.PluginError_InvalidConfig(str(e)))
    if Err is not None and isinstance(e, Err):
        value = e.value
        if isinstance(value, (types.PluginError_InvalidConfig, types.PluginError_Failed)):
            return e
        return Err(types.PluginError_Failed(describe(value)))
    return Err(types.PluginError_Failed(f"{type(e).__name__}: {e}"))


def describe(error: Any) -> str:
    """A host error as a sentence fragment (``unknown column: foo``)."""
    names = {
        "HostError_UnknownColumn": "unknown column",
        "HostError_InvalidColumn": "invalid column",
        "HostError_InvalidPattern": "invalid pattern",
        "HostError_LimitExceeded": "host limit exceeded",
    }
    label = names.get(type(error).__name__)
    if label is None:
        return str(error)
    return f"{label}: {error.value}"


class Config:
    """The node's ``config { ... }`` block as key/value pairs (see docs/plugins.md)."""

    def __init__(self, pairs: Sequence[Tuple[str, str]]):
        self.pairs = list(pairs)
        self._read: set = set()

    def all(self, key: str) -> List[str]:
        """Every value of ``key`` (``keys "a" "b"`` gives two)."""
        self._read.add(key)
        return [v for k, v in self.pairs if k == key]

    def str(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The last value of ``key``, or ``default``."""
        values = self.all(key)
        return values[-1] if values else default

    def float(self, key: str, default: Optional[float] = None) -> Optional[float]:
        """``key`` as a number; :class:`InvalidConfig` when it is not one."""
        v = self.str(key)
        if v is None:
            return default
        try:
            return float(v)
        except ValueError:
            raise InvalidConfig(f"`{key}` must be a number, got {v!r}") from None

    def int(self, key: str, default: Optional[int] = None) -> Optional[int]:
        """``key`` as an integer; :class:`InvalidConfig` when it is not one."""
        v = self.str(key)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise InvalidConfig(f"`{key}` must be an integer, got {v!r}") from None

    def bool(self, key: str, default: Optional[bool] = None) -> Optional[bool]:
        """``key`` as ``true``/``false``."""
        v = self.str(key)
        if v is None:
            return default
        if v in ("true", "false"):
            return v == "true"
        raise InvalidConfig(f"`{key}` must be true or false, got {v!r}")

    def deny_unknown(self) -> None:
        """Refuses settings the plugin never read."""
        unknown = sorted({k for k, _ in self.pairs if k not in self._read})
        if unknown:
            raise InvalidConfig(f"unknown setting `{unknown[0]}`")


def _strings(a) -> List[str]:
    data = bytes(a.data)
    off = a.offsets
    return [data[off[i]:off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]


def _binaries(a) -> List[bytes]:
    data = bytes(a.data)
    off = a.offsets
    return [data[off[i]:off[i + 1]] for i in range(len(off) - 1)]


def _bit(bitmap: bytes, i: int) -> bool:
    return bool(bitmap[i >> 3] >> (i & 7) & 1)


def _bitmap(bits: Iterable[bool], n: int) -> bytes:
    out = bytearray((n + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def column_values(col) -> List[Any]:
    """A projected column as a list (``None`` for null rows)."""
    v = col.values
    n = col.len
    name = type(v).__name__
    if name == "ColumnValues_Boolean":
        values: List[Any] = [_bit(v.value, i) for i in range(n)]
    elif name == "ColumnValues_Utf8":
        values = _strings(v.value)
    elif name == "ColumnValues_Binary":
        values = _binaries(v.value)
    elif name == "ColumnValues_FixedBinary":
        width, data = v.value
        data = bytes(data)
        values = [data[i * width:(i + 1) * width] for i in range(n)]
    else:
        values = list(v.value)
    if col.validity is not None:
        values = [x if _bit(col.validity, i) else None for i, x in enumerate(values)]
    return values


def attribute_values(col) -> List[Any]:
    """An attribute column as a list: ``None`` where the row lacks the key,
    else a ``str``, ``bool``, ``int``, ``float`` or ``bytes`` (arrays and
    key-value lists as their protobuf ``AnyValue`` bytes)."""
    K = types.ValueKind
    strings = _strings(col.strings)
    blobs = _binaries(col.bytes)
    out: List[Any] = []
    for i, kind in enumerate(col.kinds):
        if kind == K.ABSENT:
            out.append(None)
        elif kind == K.EMPTY:
            out.append("")
        elif kind == K.STRING:
            out.append(strings[i])
        elif kind == K.BOOLEAN:
            out.append(_bit(col.bools, i))
        elif kind == K.INT:
            out.append(col.ints[i])
        elif kind == K.DOUBLE:
            out.append(col.doubles[i])
        else:
            out.append(blobs[i])
    return out


def attribute_column(key: str, values: Sequence[Any]):
    """Builds the ``attribute-column`` that sets ``key`` to ``values[i]`` on
    row i (``None``: the row loses the key)."""
    K = types.ValueKind
    kinds, offsets, data = [], [0], bytearray()
    boffsets, bdata = [0], bytearray()
    ints, doubles, bools = [], [], []
    for v in values:
        s, b, i, d, flag = b"", b"", 0, 0.0, False
        if v is None:
            kinds.append(K.ABSENT)
        elif isinstance(v, bool):
            kinds.append(K.BOOLEAN)
            flag = v
        elif isinstance(v, int):
            kinds.append(K.INT)
            i = v
        elif isinstance(v, float):
            kinds.append(K.DOUBLE)
            d = v
        elif isinstance(v, str):
            kinds.append(K.STRING)
            s = v.encode("utf-8")
        elif isinstance(v, (bytes, bytearray)):
            kinds.append(K.BYTES)
            b = bytes(v)
        else:
            raise TypeError(f"attribute {key!r}: unsupported value {v!r}")
        data += s
        offsets.append(len(data))
        bdata += b
        boffsets.append(len(bdata))
        ints.append(i)
        doubles.append(d)
        bools.append(flag)
    return types.AttributeColumn(
        key=key,
        kinds=kinds,
        strings=types.Utf8Array(offsets=offsets, data=bytes(data)),
        ints=ints,
        doubles=doubles,
        bools=_bitmap(bools, len(values)),
        bytes=types.BinaryArray(offsets=boffsets, data=bytes(bdata)),
    )


class Batch:
    """The batch being processed: a handle on data the host owns."""

    def __init__(self, raw):
        self.raw = raw

    def __len__(self) -> int:
        return self.raw.len()

    @property
    def signal(self) -> str:
        """``traces``, ``metrics`` or ``logs``."""
        return self.raw.signal().name.lower()

    def column_names(self) -> List[str]:
        return self.raw.column_names()

    def attribute_keys(self, scope) -> List[str]:
        return self.raw.attribute_keys(scope)

    def columns(self, names: Sequence[str]) -> Dict[str, List[Any]]:
        """The named record columns as lists."""
        return {c.name: column_values(c) for c in self.raw.read_columns(list(names))}

    def column(self, name: str) -> List[Any]:
        return self.columns([name])[name]

    def attributes(self, scope, keys: Sequence[str]) -> Dict[str, List[Any]]:
        """The named attribute keys of a scope, one list per key."""
        return {c.key: attribute_values(c) for c in self.raw.read_attributes(scope, list(keys))}

    def resource_index(self) -> List[int]:
        return self.raw.resource_index()

    def scope_index(self) -> List[int]:
        return self.raw.scope_index()

    def set_attribute(self, scope, key: str, values: Sequence[Any]) -> None:
        """Sets ``key`` on every row of a scope (``None``: the row loses it)."""
        self.raw.set_attribute(scope, attribute_column(key, values))

    def keep(self, selection: Sequence[bool]) -> int:
        """Keeps the records whose entry is true; returns how many remain."""
        return self.raw.keep_rows(_bitmap(selection, len(selection)))

    def emit_counter(self, name: str, value: float, attributes: Dict[str, str], time: int,
                     start_time: int = 0, description: str = "", unit: str = "") -> None:
        """Emits one cumulative counter point (sent as a metrics batch)."""
        self.raw.emit_metrics([types.MetricPoint(
            name=name, description=description, unit=unit, kind=types.MetricKind.COUNTER,
            attributes=list(attributes.items()), start_time=start_time, time=time,
            value=float(value), bounds=[], counts=[])])

    def delete_attributes(self, scope, keys: Sequence[str]) -> int:
        return self.raw.delete_attributes(scope, list(keys))

    def redact(self, scope, keys: Sequence[str], pattern: str, replacement: str) -> int:
        return self.raw.redact(scope, list(keys), pattern, replacement)

    def redact_body(self, pattern: str, replacement: str) -> int:
        """Masks matches of ``pattern`` in string log bodies (host kernel)."""
        return self.raw.redact_body(pattern, replacement)

    def hash_attributes(self, scope, keys: Sequence[str], salt: str) -> int:
        return self.raw.hash_attributes(scope, list(keys), salt)

    def keep_trace_id_ratio(self, ratio: float) -> int:
        return self.raw.keep_trace_id_ratio(ratio)


def log(level: str, message: str, **fields: Any) -> None:
    """A line in weir's log (``level``: trace, debug, info, warn, error)."""
    host.log(getattr(types.LogLevel, level.upper()), message,
             [(k, str(v)) for k, v in fields.items()])


def counter_add(name: str, value: int, **labels: str) -> None:
    """Adds to the plugin's counter ``weir_plugin_<name>``."""
    host.counter_add(name, value, [(k, str(v)) for k, v in labels.items()])


def now() -> int:
    """Wall-clock time, nanoseconds since the Unix epoch."""
    return host.now()


class Plugin:
    """Base class of a plugin: override :meth:`configure` and :meth:`handle`.

    The subclass must be called ``Processor`` (componentize-py looks the
    export up by that name). Exceptions become plugin errors: an
    :class:`InvalidConfig` from ``configure`` stops the pipeline at start-up
    with its message, anything raised from ``handle`` fails the batch.
    """

    def configure(self, config: Config) -> None:
        config.deny_unknown()

    def handle(self, batch: Batch) -> None:
        raise NotImplementedError

    def on_tick(self, now: int) -> list:
        return []

    # The `weir:pipeline/processor` exports. componentize-py makes a new
    # object of the export class for every call, so the configured plugin
    # lives on the class: one per component instance (instances are
    # single-threaded and never shared).

    _configured: "Optional[Plugin]" = None

    def _plugin(self) -> "Plugin":
        plugin = type(self)._configured
        if plugin is None:
            raise Failed("the plugin was called before `init` succeeded")
        return plugin

    def init(self, config):
        try:
            self.configure(Config(config))
            type(self)._configured = self
        except Exception as e:  # noqa: BLE001 - every error is reported
            raise _plugin_error(e)

    def process(self, batch):
        try:
            self._plugin().handle(Batch(batch))
        except Exception as e:  # noqa: BLE001
            raise _plugin_error(e)

    def tick(self, now):
        try:
            return self._plugin().on_tick(now)
        except Exception as e:  # noqa: BLE001
            raise _plugin_error(e)

    def snapshot_state(self):
        return b""

    def restore_state(self, state):
        return None



def build(app: str, out: str, wit: Optional[str] = None) -> None:
    """Builds the plugin module ``app`` (a ``.py`` file) into the component
    ``out`` with componentize-py, against weir's WIT (``wit``, default: the
    ``wit/`` directory of the weir checkout this SDK is in)."""
    here = os.path.dirname(os.path.abspath(__file__))
    wit = wit or os.path.join(here, "..", "..", "wit")
    if not os.path.isfile(os.path.join(wit, "pipeline.wit")):
        raise SystemExit(f"no pipeline.wit in {wit}: pass --wit DIR (weir's wit/ directory)")
    app = os.path.abspath(app)
    module = os.path.splitext(os.path.basename(app))[0]
    tool = os.path.join(os.path.dirname(sys.executable), "componentize-py")
    if not os.path.exists(tool):
        import shutil

        tool = shutil.which("componentize-py") or ""
    if not tool:
        raise SystemExit("componentize-py is not installed: pip install componentize-py==0.25.1")
    cmd = [tool, "-d", wit, "-w", "plugin", "componentize",
           "-p", os.path.dirname(app), "-p", here, module, "-o", out]
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise SystemExit(f"componentize-py failed ({result.returncode}): {' '.join(cmd)}")


def _main(argv: List[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m weir_plugin", description="Builds a weir plugin.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a plugin module into a WebAssembly component")
    b.add_argument("app", help="the plugin module, e.g. app.py")
    b.add_argument("-o", "--out", required=True, help="the component to write, e.g. app.wasm")
    b.add_argument("--wit", help="weir's wit/ directory (default: next to this SDK)")
    args = parser.parse_args(argv)
    build(args.app, args.out, args.wit)


if __name__ == "__main__":
    _main(sys.argv[1:])
