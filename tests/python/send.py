"""Sends traces, metrics and logs to an OTLP endpoint with the real
OpenTelemetry Python SDK, and records exactly what was sent.

Used by weir's end-to-end tests (tests/tests/*.rs):

    python send.py --protocol grpc --endpoint http://127.0.0.1:4317 --out DIR
    python send.py --protocol http --endpoint http://127.0.0.1:4318 --out DIR

Every request the SDK's OTLP exporters serialised and the server
acknowledged is appended to DIR/{traces,metrics,logs}.bin as a frame: a
4-byte big-endian length, then the Export*ServiceRequest protobuf bytes.
The capture sits where the exporter hands the request to its transport
(the gRPC stub's Export, the HTTP client's export), so the bytes are the
SDK's own encoding, taken only on success. A summary (requests and items
per signal) is printed as JSON on stdout. Exit status 1 if any export
failed: the test must never compare against data the server refused.
"""

import argparse
import json
import logging
import os
import struct
import sys
import threading
import time
import warnings

from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

FAILED = []


class Recorder:
    """Appends acknowledged requests of one signal to a frame file."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.requests = 0
        open(path, "wb").close()

    def record(self, data: bytes):
        with self.lock:
            with open(self.path, "ab") as f:
                f.write(struct.pack(">I", len(data)))
                f.write(data)
            self.requests += 1


class _RecordingStub:
    """Wraps a gRPC stub: records a request once Export returned OK."""

    def __init__(self, stub, recorder):
        self._stub = stub
        self._recorder = recorder

    def Export(self, request, **kwargs):  # noqa: N802 (gRPC method name)
        response = self._stub.Export(request, **kwargs)
        # grpcio serialises requests with SerializeToString.
        self._recorder.record(request.SerializeToString())
        return response


class _RecordingHttpClient:
    """Wraps the HTTP exporters' client: records a body once it succeeded."""

    def __init__(self, client, recorder):
        self._client = client
        self._recorder = recorder

    def export(self, data, *args, **kwargs):
        result = self._client.export(data, *args, **kwargs)
        if result.success:
            self._recorder.record(bytes(data))
        return result

    def __getattr__(self, name):
        return getattr(self._client, name)


def grpc_exporter(cls, recorder, **kwargs):
    """A gRPC exporter of class `cls` whose stub records what it sends."""

    class Recording(cls):
        def _initialize_channel_and_stub(self):
            super()._initialize_channel_and_stub()
            self._client = _RecordingStub(self._client, recorder)

    return Recording(**kwargs)


def http_exporter(cls, recorder, **kwargs):
    """An HTTP exporter of class `cls` whose client records what it sends."""
    exporter = cls(**kwargs)
    exporter._client = _RecordingHttpClient(exporter._client, recorder)
    return exporter


def check(result, what):
    """Remembers a failed export, flush or shutdown."""
    if result is False or (hasattr(result, "name") and result.name == "FAILURE"):
        FAILED.append(what)


def checked(exporter, signal):
    """Makes every failed export of `exporter` fail the script: the SDK's
    batch processors only log them."""
    export = exporter.export

    def export_checked(*args, **kwargs):
        result = export(*args, **kwargs)
        check(result, f"{signal} export")
        return result

    exporter.export = export_checked
    return exporter


class Exporters:
    """Builds recording exporters for the chosen protocol."""

    def __init__(self, protocol, endpoint, out, compression):
        self.protocol = protocol
        self.endpoint = endpoint.rstrip("/")
        self.compression = compression
        self.recorders = {s: Recorder(os.path.join(out, f"{s}.bin")) for s in ("traces", "metrics", "logs")}

    def make(self, signal, **kwargs):
        rec = self.recorders[signal]
        if self.protocol == "grpc":
            from grpc import Compression

            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            cls = {"traces": OTLPSpanExporter, "metrics": OTLPMetricExporter, "logs": OTLPLogExporter}[signal]
            comp = Compression.Gzip if self.compression == "gzip" else Compression.NoCompression
            exporter = grpc_exporter(cls, rec, endpoint=self.endpoint, insecure=True, compression=comp, timeout=10, **kwargs)
            return checked(exporter, signal)
        from opentelemetry.exporter.otlp.proto.http import Compression

        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        cls = {"traces": OTLPSpanExporter, "metrics": OTLPMetricExporter, "logs": OTLPLogExporter}[signal]
        comp = Compression.Gzip if self.compression == "gzip" else Compression.NoCompression
        url = f"{self.endpoint}/v1/{signal}"
        exporter = http_exporter(cls, rec, endpoint=url, compression=comp, timeout=10, **kwargs)
        return checked(exporter, signal)


# Attributes of every type OTLP attributes can carry from the Python SDK.
ALL_TYPES = {
    "str": "text with unicode: \u00e9\u00e8 \U0001f600",
    "empty.str": "",
    "bool.true": True,
    "bool.false": False,
    "int": 42,
    "int.negative": -7,
    "int.max": 2**63 - 1,
    "int.min": -(2**63),
    "double": 3.25,
    "double.negative": -1e-300,
    "array.str": ["a", "b", ""],
    "array.bool": [True, False],
    "array.int": [1, -2, 3],
    "array.double": [1.5, -2.5],
    "array.empty": [],
}


def resource(name, extra=None):
    attrs = {"service.name": name, "service.version": "1.2.3", "host.name": "test-host"}
    attrs.update(ALL_TYPES)
    attrs.update(extra or {})
    return Resource.create(attrs, schema_url="https://opentelemetry.io/schemas/1.21.0")


def send_traces(ex, spans_per_provider):
    """Two providers (resources), two tracers (scopes) each, every span shape."""
    count = 0
    providers = []
    for rname in ("frontend", "backend"):
        provider = TracerProvider(resource=resource(rname, {"deployment.environment": "test"}))
        provider.add_span_processor(
            BatchSpanProcessor(ex.make("traces"), max_export_batch_size=64, schedule_delay_millis=50)
        )
        providers.append(provider)
        tracers = [
            provider.get_tracer("weir.tests.a", "0.1.0", schema_url="https://opentelemetry.io/schemas/1.24.0"),
            provider.get_tracer("weir.tests.b", attributes={"scope.attr": "x", "scope.int": 5}),
        ]
        foreign = SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0xB7AD6B7169203331,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=TraceState([("vendor", "value"), ("other", "x-y")]),
        )
        kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]
        for i in range(spans_per_provider // 2):
            tracer = tracers[i % 2]
            with tracer.start_as_current_span(
                f"parent-{i % 7}", kind=kinds[i % 5], attributes=dict(ALL_TYPES, index=i)
            ) as parent:
                parent.add_event("started", {"event.int": i, "event.array": ["x", "y"]})
                parent.add_event("no attributes", timestamp=time.time_ns() - 1000)
                child = tracer.start_span(
                    f"child-{i % 3}",
                    kind=kinds[(i + 1) % 5],
                    links=[Link(foreign, {"link.attr": i}), Link(parent.get_span_context())],
                )
                if i % 3 == 0:
                    child.set_status(Status(StatusCode.ERROR, f"failure {i}"))
                    try:
                        raise ValueError(f"boom {i}")
                    except ValueError as e:
                        child.record_exception(e, {"exception.extra": True})
                elif i % 3 == 1:
                    child.set_status(Status(StatusCode.OK))
                child.set_attribute("late.attr", 1.0 * i)
                child.end()
                count += 2
            if i % 10 == 0:
                # A child of a remote parent: inherits its trace id and trace state.
                remote = trace_api.set_span_in_context(trace_api.NonRecordingSpan(foreign))
                tracer.start_span("remote-child", context=remote, kind=SpanKind.SERVER).end()
                count += 1
    for p in providers:
        check(p.force_flush(10_000), "traces flush")
        p.shutdown()
    return count


def send_metrics(ex, tracer):
    """Every instrument kind, two readers: cumulative and delta temporality."""
    delta = {
        Counter: AggregationTemporality.DELTA,
        UpDownCounter: AggregationTemporality.CUMULATIVE,
        Histogram: AggregationTemporality.DELTA,
        ObservableCounter: AggregationTemporality.DELTA,
        ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
        ObservableGauge: AggregationTemporality.CUMULATIVE,
    }
    views = [
        View(instrument_name="latency.exponential", aggregation=ExponentialBucketHistogramAggregation(max_size=40)),
        View(
            instrument_name="latency.explicit",
            aggregation=ExplicitBucketHistogramAggregation(boundaries=[0.0, 5.0, 10.0, 100.0]),
        ),
    ]
    providers = []
    for rname, temporality in (("metrics-cumulative", None), ("metrics-delta", delta)):
        kwargs = {"preferred_temporality": temporality} if temporality else {}
        reader = PeriodicExportingMetricReader(ex.make("metrics", **kwargs), export_interval_millis=3_600_000)
        providers.append(MeterProvider(metric_readers=[reader], resource=resource(rname), views=views))

    for n, provider in enumerate(providers):
        meter = provider.get_meter("weir.tests.meter", "2.0", schema_url="https://example.com/s", attributes={"m": n})
        other = provider.get_meter("weir.tests.other")
        counter = meter.create_counter("requests", unit="1", description="Requests served.")
        fcounter = meter.create_counter("bytes.float", unit="By")
        updown = meter.create_up_down_counter("queue.depth", description="Items queued.")
        hist = meter.create_histogram("latency.explicit", unit="ms")
        hist_default = other.create_histogram("latency.default", unit="s")
        exp = meter.create_histogram("latency.exponential", unit="ms")
        gauge = meter.create_gauge("temperature", unit="Cel")

        def observe_counter(_options: CallbackOptions):
            yield Observation(100 + n, {"cpu": 0})
            yield Observation(200 + n, {"cpu": 1})

        def observe_updown(_options: CallbackOptions):
            yield Observation(-5, {"pool": "a"})

        def observe_gauge(_options: CallbackOptions):
            yield Observation(0.5, {"disk": "sda", "array": ["x", "y"]})
            yield Observation(7, {"disk": "sdb"})

        meter.create_observable_counter("cpu.time", callbacks=[observe_counter], unit="s")
        meter.create_observable_up_down_counter("pool.size", callbacks=[observe_updown])
        other.create_observable_gauge("disk.usage", callbacks=[observe_gauge], unit="1")

        for round_ in range(2):
            # Inside a sampled span: the default exemplar filter keeps exemplars.
            with tracer.start_as_current_span("metrics-span"):
                for i in range(20):
                    attrs = {"route": f"/r{i % 3}", "ok": i % 2 == 0, "code": 200 + i % 2}
                    counter.add(i + 1, attrs)
                    fcounter.add(0.5 * i, {"dir": "in"})
                    updown.add(1 if i % 4 else -2, {"q": "main"})
                    hist.record(float(i) * 3.5, attrs)
                    hist_default.record(i / 10)
                    exp.record(0.001 * (i + 1) * (round_ + 1), {"route": "/exp"})
                    exp.record(0, {"route": "/zero"})
                    gauge.set(20.5 + i, {"room": f"r{i % 2}"})
            check(provider.force_flush(10_000), "metrics flush")
    for p in providers:
        p.shutdown()


def send_logs(ex, tracer):
    """Logs through the logging handler and the Logs API, bodies of every type."""
    provider = LoggerProvider(resource=resource("logs-service", {"log.source": "python"}))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(ex.make("logs"), max_export_batch_size=4, schedule_delay_millis=50)
    )
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    pylog = logging.getLogger("weir.tests.logging")
    pylog.propagate = False
    pylog.setLevel(logging.DEBUG)
    pylog.addHandler(handler)
    with tracer.start_as_current_span("logging-span"):
        pylog.info("plain message %s", "formatted", extra={"user.id": 7, "tags": ["a", "b"]})
        pylog.warning("a warning")
        try:
            raise RuntimeError("failure in request")
        except RuntimeError:
            pylog.exception("caught an exception")
        count += 3
    pylog.debug("outside any span", extra={"double": 0.25})
    pylog.error("error %d", 5)
    count += 2
    pylog.removeHandler(handler)

    api = provider.get_logger("weir.tests.api", "3.1", schema_url="https://example.com/logs", attributes={"k": "v"})
    bodies = [
        "a string body",
        "",
        12345,
        -1.5,
        True,
        b"\x00\x01binary\xff",
        ["list", 1, 2.5, False, ["nested"]],
        {"map": {"nested": [1, 2]}, "n": 1, "s": "x", "bytes": b"\x01"},
        None,
    ]
    severities = [SeverityNumber.TRACE, SeverityNumber.DEBUG2, SeverityNumber.INFO, SeverityNumber.WARN3,
                  SeverityNumber.ERROR, SeverityNumber.FATAL4]
    with tracer.start_as_current_span("api-span"):
        for i, body in enumerate(bodies):
            sev = severities[i % len(severities)]
            api.emit(
                timestamp=1_700_000_000_000_000_000 + i,
                severity_number=sev,
                severity_text=sev.name,
                body=body,
                attributes=dict(ALL_TYPES, index=i),
                event_name="weir.test.event" if i % 2 else None,
            )
            count += 1
    api.emit(body="no timestamp, no context", severity_number=SeverityNumber.UNSPECIFIED)
    count += 1
    check(provider.force_flush(10_000), "logs flush")
    provider.shutdown()
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True, help="http://HOST:PORT")
    parser.add_argument("--out", required=True, help="directory for the recorded requests")
    parser.add_argument("--signals", default="traces,metrics,logs")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--spans", type=int, default=200, help="spans per resource (two resources)")
    args = parser.parse_args()

    # The SDK reports export errors through logging: show them on stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    ex = Exporters(args.protocol, args.endpoint, args.out, args.compression)
    signals = set(args.signals.split(","))
    # Spans that only give metrics and logs a sampled trace context; not exported.
    context_tracer = TracerProvider().get_tracer("weir.tests.context")

    items = {}
    if "traces" in signals:
        items["traces"] = send_traces(ex, args.spans)
    if "metrics" in signals:
        send_metrics(ex, context_tracer)
    if "logs" in signals:
        items["logs"] = send_logs(ex, context_tracer)

    summary = {s: {"requests": r.requests} for s, r in ex.recorders.items()}
    for s, n in items.items():
        summary[s]["items"] = n
    print(json.dumps(summary))
    if FAILED:
        print(f"send.py: exports failed: {', '.join(FAILED)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
