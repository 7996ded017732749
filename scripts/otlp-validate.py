#!/usr/bin/env python3
"""Check one OTLP/HTTP JSON request body against the official OpenTelemetry protobuf definitions.

    "$(scripts/otlp-proto python)" scripts/otlp-validate.py --kind logs|traces|metrics [FILE] < body.json

Reads the body from FILE, or from stdin without one. --kind picks the message: ExportLogsServiceRequest,
ExportTraceServiceRequest or ExportMetricsServiceRequest (opentelemetry.proto.collector.*.v1). Needs the packages
that scripts/otlp-proto installs (opentelemetry-proto and protobuf); run it with that virtualenv's python.

The checks, in order (the OTLP/JSON rules are those of the OTLP specification, "JSON Protobuf Encoding"):
  1. The body is one JSON object (no duplicate keys, no NaN/Infinity tokens).
  2. Every key is a field's lowerCamelCase JSON name (OTLP/JSON refuses the proto names such as `trace_id`), and every
     enum value is an integer (OTLP/JSON refuses enum names).
  3. Every `traceId` is 32 and every `spanId` / `parentSpanId` 16 lowercase hex digits, not all zero; OTLP/JSON writes
     these bytes fields in hex where protobuf's JSON mapping has base64, so they are rewritten to base64 for step 4.
  4. google.protobuf.json_format.Parse into the request message, strict: an unknown field is an error.
  5. For traces: every span has a traceId and a spanId.
On success prints a one-line JSON summary on stdout and exits 0:
  logs     {"ok": true, "kind": "logs", "resource_logs": N, "scope_logs": S, "log_records": M}
  traces   {"ok": true, "kind": "traces", "resource_spans": N, "scope_spans": S, "spans": M, "root_spans": R,
            "parent_links": K, "broken_parent_links": [span ids], "duplicate_span_ids": [span ids]}
           parent_links counts the spans whose parentSpanId is the spanId of another span of the same trace in this
           request; broken_parent_links lists (in hex) the spans whose parentSpanId is set but matches no such span.
  metrics  {"ok": true, "kind": "metrics", "resource_metrics": N, "scope_metrics": S, "metrics": M, "data_points": P}
On any failure prints the reason on stderr (prefixed `otlp-validate: error:`) and exits 1.
"""

import argparse
import base64
import json
import re
import sys

PROG = "otlp-validate"

# The hex-encoded id fields of OTLP/JSON, with their length in hex digits.
ID_LENGTHS = {"traceId": 32, "spanId": 16, "parentSpanId": 16}
LOWER_HEX = re.compile(r"[0-9a-f]*")


class Invalid(Exception):
    pass


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(1)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1 too, like every other failure
        self.print_usage(sys.stderr)
        fail(message)


def load_json(text):
    def no_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                raise Invalid(f"duplicate key {key!r} in a JSON object")
            obj[key] = value
        return obj

    def no_constant(name):
        raise Invalid(f"{name} is not valid JSON (a non-finite double is written as the string \"{name}\")")

    try:
        body = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise Invalid(f"not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise Invalid(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def check_keys(obj, descriptor, path):
    """Step 2: lowerCamelCase keys and integer enums, following the message descriptors. Keys that name no field are
    left for json_format.Parse, which refuses them with the list of the fields there are."""
    by_json = {f.json_name: f for f in descriptor.fields}
    for key, value in obj.items():
        here = f"{path}.{key}"
        field = by_json.get(key)
        if field is None:
            proto_field = descriptor.fields_by_name.get(key)
            if proto_field is not None:
                raise Invalid(
                    f"{here}: OTLP/JSON writes field names in lowerCamelCase: "
                    f"{proto_field.json_name!r}, not the proto name {key!r}"
                )
            continue
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if field.enum_type is not None:
            for i, item in enumerate(items):
                if isinstance(item, str):
                    where = f"{here}[{i}]" if isinstance(value, list) else here
                    raise Invalid(
                        f"{where}: OTLP/JSON writes enum values as integers, not names ({item!r} of "
                        f"{field.enum_type.full_name})"
                    )
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    check_keys(item, field.message_type, f"{here}[{i}]" if isinstance(value, list) else here)


def hex_ids_to_base64(node, path):
    """Step 3: every traceId / spanId / parentSpanId, at any depth, checked and rewritten from hex to base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key in ID_LENGTHS:
                node[key] = id_to_base64(value, ID_LENGTHS[key], here)
            else:
                hex_ids_to_base64(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            hex_ids_to_base64(item, f"{path}[{i}]")


def id_to_base64(value, digits, path):
    if not isinstance(value, str):
        raise Invalid(f"{path}: must be a string of {digits} hex digits, not {json.dumps(value)}")
    if len(value) != digits or not LOWER_HEX.fullmatch(value):
        if len(value) == digits and re.fullmatch(r"[0-9a-fA-F]*", value):
            problem = "has upper-case hex digits (OTLP/JSON writes ids in lower case)"
        else:
            problem = f"is not {digits} hex digits ({len(value)} characters)"
        raise Invalid(f"{path}: {json.dumps(value)} {problem}")
    if value == "0" * digits:
        raise Invalid(f"{path}: an all-zero id is invalid in OTLP")
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def summarize_logs(request):
    scopes = [s for r in request.resource_logs for s in r.scope_logs]
    return {
        "resource_logs": len(request.resource_logs),
        "scope_logs": len(scopes),
        "log_records": sum(len(s.log_records) for s in scopes),
    }


def summarize_traces(request):
    scopes = [s for r in request.resource_spans for s in r.scope_spans]
    spans = [span for s in scopes for span in s.spans]
    for i, span in enumerate(spans):
        if not span.trace_id or not span.span_id:
            missing = "traceId" if not span.trace_id else "spanId"
            raise Invalid(f"span #{i} ({span.name!r}) has no {missing}; OTLP requires one")
    seen, duplicates = set(), []
    for span in spans:
        key = (span.trace_id, span.span_id)
        if key in seen:
            duplicates.append(span.span_id.hex())
        seen.add(key)
    parent_links, broken, roots = 0, [], 0
    for span in spans:
        if not span.parent_span_id:
            roots += 1
        elif span.parent_span_id != span.span_id and (span.trace_id, span.parent_span_id) in seen:
            parent_links += 1
        else:
            broken.append(span.span_id.hex())
    return {
        "resource_spans": len(request.resource_spans),
        "scope_spans": len(scopes),
        "spans": len(spans),
        "root_spans": roots,
        "parent_links": parent_links,
        "broken_parent_links": broken,
        "duplicate_span_ids": duplicates,
    }


def summarize_metrics(request):
    scopes = [s for r in request.resource_metrics for s in r.scope_metrics]
    metrics = [m for s in scopes for m in s.metrics]
    points = 0
    for m in metrics:
        data = m.WhichOneof("data")
        if data is not None:
            points += len(getattr(m, data).data_points)
    return {
        "resource_metrics": len(request.resource_metrics),
        "scope_metrics": len(scopes),
        "metrics": len(metrics),
        "data_points": points,
    }


def main():
    parser = Parser(prog=PROG, description="Check an OTLP/HTTP JSON request body against the OTLP protobuf schema.")
    parser.add_argument("--kind", required=True, choices=["logs", "traces", "metrics"])
    parser.add_argument("file", nargs="?", help="the request body (default: stdin)")
    args = parser.parse_args()

    try:
        from google.protobuf import json_format

        if args.kind == "logs":
            from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest as Request

            summarize = summarize_logs
        elif args.kind == "traces":
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest as Request

            summarize = summarize_traces
        else:
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
                ExportMetricsServiceRequest as Request,
            )

            summarize = summarize_metrics
    except ImportError as e:
        fail(f"{e}; run this script with the python that `scripts/otlp-proto python` prints")

    try:
        if args.file:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        else:
            text = sys.stdin.buffer.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read the body: {e}")

    request = Request()
    name = Request.DESCRIPTOR.name
    try:
        body = load_json(text)
        check_keys(body, Request.DESCRIPTOR, name)
        hex_ids_to_base64(body, name)
        json_format.Parse(json.dumps(body), request, ignore_unknown_fields=False)
        summary = summarize(request)
    except Invalid as e:
        fail(str(e))
    except json_format.ParseError as e:
        fail(f"not a valid {Request.DESCRIPTOR.full_name}: {e}")
    print(json.dumps({"ok": True, "kind": args.kind, **summary}))


if __name__ == "__main__":
    main()
