#!/usr/bin/python3
"""A gRPC server on gRPC's own C core (Debian's python3-grpcio), for numaload's tests: a
third-party HTTP/2 and gRPC stack to load, beside the built-in target written on hyper.

It serves the built-in target's service, numaload.bench.v1.Bench (target-server/proto/
bench.proto, so plans use the same bench.protoset), through a generic handler: no generated
code, the messages read and written as bytes here.
  Work  answers WorkReply{payload} and ends with the grpc-status its request's reply_status asks
        for (0 unless set; over 16 is INVALID_ARGUMENT); it does no work of its own.
  Echo  answers EchoReply{payload}, status 0.
A request that is not a valid message ends INTERNAL.

    /usr/bin/python3 tests/servers/python/grpc_server.py --listen 127.0.0.1:50051 --threads 2

It speaks h2c (gRPC's insecure port), prints "python-grpc-server listening on ADDR" on stdout
once it serves, and exits 0 on SIGTERM or SIGINT (calls in flight get 1 s), or when its parent
goes away (its parent process id changes), so it never outlives what started it.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

try:
    import grpc
except ImportError:
    sys.exit(
        "python-grpc-server: no grpc module for %s: install python3-grpcio "
        "(scripts/setup-system.sh does)" % sys.executable
    )

SERVICE = "numaload.bench.v1.Bench"
# How often the parent is looked for.
PARENT_POLL_SECONDS = 0.2
STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}


class Malformed(Exception):
    """The request bytes are not a protobuf message of the expected fields."""


def varint(data, at):
    """The varint at `at` and the position after it."""
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise Malformed("a varint runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def fields(data):
    """The message's fields by number: varints as ints, length-delimited ones as bytes (the last
    of a repeated number wins, as proto3 reads a singular field)."""
    found, at = {}, 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            found[number], at = varint(data, at)
        elif wire_type == 2:
            length, at = varint(data, at)
            if at + length > len(data):
                raise Malformed("a field runs past the end")
            found[number], at = bytes(data[at : at + length]), at + length
        elif wire_type == 1:
            at += 8
        elif wire_type == 5:
            at += 4
        else:
            raise Malformed("wire type %d" % wire_type)
    if at != len(data):
        raise Malformed("a fixed-width field runs past the end")
    return found


def payload_reply(payload):
    """WorkReply and EchoReply alike: field 1, bytes (left out when empty, as proto3 does)."""
    if not payload:
        return b""
    length, prefix = len(payload), bytearray()
    while length >= 0x80:
        prefix.append((length & 0x7F) | 0x80)
        length >>= 7
    prefix.append(length)
    return b"\x0a" + bytes(prefix) + payload


def read(request, context, kind):
    """The request's fields, or the call aborted with INTERNAL naming `kind`."""
    try:
        return fields(request)
    except Malformed as why:
        context.abort(grpc.StatusCode.INTERNAL, "not a %s: %s" % (kind, why))


def work(request, context):
    found = read(request, context, "numaload.bench.v1.WorkRequest")
    reply_status = found.get(2, 0)
    if not isinstance(reply_status, int) or reply_status > 16:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "reply_status must be a gRPC status code, 0 to 16"
        )
    if reply_status != 0:
        context.abort(STATUS_BY_CODE[reply_status], "reply_status asked for this status")
    return payload_reply(found.get(1, b""))


def echo(request, context):
    found = read(request, context, "numaload.bench.v1.EchoRequest")
    return payload_reply(found.get(1, b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT to serve h2c on (port 0: any)")
    parser.add_argument("--threads", type=int, default=1, help="threads serving calls")
    args = parser.parse_args()

    parent = os.getppid()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max(1, args.threads)))
    handlers = {
        "Work": grpc.unary_unary_rpc_method_handler(work),
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port(args.listen)
    if port == 0:
        print("python-grpc-server: cannot listen on %s" % args.listen, file=sys.stderr)
        return 1
    server.start()
    host = args.listen.rsplit(":", 1)[0]
    print("python-grpc-server listening on %s:%d" % (host, port), flush=True)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(PARENT_POLL_SECONDS):
        if os.getppid() != parent:
            break
    server.stop(grace=1.0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
