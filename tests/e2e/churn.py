#!/usr/bin/python3
"""Connection churn for the capture-leak e2e (issue 10, item 1), standard
library only. After /work/scratch/leak's reproduction (churn.py, servers.py).

  churn.py client DST PORT N CONC TAG
      N connections to DST:PORT, CONC at a time, unpaced. Each sends one
      request carrying its own marker "LEAKMARK-TAG-<i>" and reads to EOF.
      Prints {"answered", "reset", "refused", "timeout", "other", "seconds"}.
  churn.py serve PORT rst|ok
      rst: read the request, close with SO_LINGER 0 (a reset);
      ok: answer "HTTP/1.0 200 OK" and close.
"""
import asyncio
import json
import socket
import struct
import sys
import time

LINGER0 = struct.pack("ii", 1, 0)


async def one(dst, port, i, tag, res):
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
    s.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(s, (dst, port)), 5)
        await loop.sock_sendall(s, b"GET /LEAKMARK-%s-%d HTTP/1.0\r\n\r\n" % (tag.encode(), i))
        got = b""
        while True:
            d = await asyncio.wait_for(loop.sock_recv(s, 4096), 5)
            if not d:
                break
            got += d
        res["answered" if got else "empty"] += 1
    except ConnectionRefusedError:
        res["refused"] += 1
    except (ConnectionResetError, BrokenPipeError):
        res["reset"] += 1
    except asyncio.TimeoutError:
        res["timeout"] += 1
    except OSError:
        res["other"] += 1
    finally:
        s.close()


async def client(dst, port, n, conc, tag):
    res = dict(answered=0, empty=0, reset=0, refused=0, timeout=0, other=0)
    todo = iter(range(n))

    async def worker():
        for i in todo:
            await one(dst, port, i, tag, res)

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conc)))
    res["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(res), flush=True)


async def serve(port, mode):
    async def handle(reader, writer):
        try:
            await asyncio.wait_for(reader.read(4096), 5)
            if mode == "rst":
                writer.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
                writer.transport.abort()
                return
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()
        except Exception:
            writer.transport.abort()

    srv = await asyncio.start_server(handle, None, port, backlog=4096, reuse_address=True)
    await srv.serve_forever()


def main():
    if sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                           sys.argv[6]))
    else:
        asyncio.run(serve(int(sys.argv[2]), sys.argv[3]))


if __name__ == "__main__":
    main()
