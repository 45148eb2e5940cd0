#!/usr/bin/env python3
"""A gRPC health service (grpc.health.v1.Health/Check) on a real gRPC server
(Debian's python3-grpcio), for the app-probe tests:

  grpchealth.py PORT SERVICE FLAG_FILE

Answers SERVING for "" and SERVICE while FLAG_FILE exists, NOT_SERVING
otherwise, and NOT_FOUND for any other service, as grpc-health-probe servers
do. Messages are encoded by hand (two fields), so no generated code is
needed: HealthCheckRequest{string service = 1}, HealthCheckResponse{enum
status = 1} with SERVING = 1, NOT_SERVING = 2."""
import os
import sys
import time
from concurrent import futures

import grpc

port, service, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def decode_service(data):
    # field 1, wire type 2 (tag 0x0a), a one-byte length for short names
    if not data:
        return ""
    if data[0] != 0x0A or len(data) < 2 or data[1] != len(data) - 2:
        raise ValueError("not a short HealthCheckRequest")
    return data[2:].decode()


def check(request, context):
    name = decode_service(request)
    if name not in ("", service):
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
    return bytes([0x08, 1 if os.path.exists(flag) else 2])


handler = grpc.method_handlers_generic_handler(
    "grpc.health.v1.Health",
    {"Check": grpc.unary_unary_rpc_method_handler(check)})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:%d" % port)
server.start()
while True:
    time.sleep(3600)
