#!/usr/bin/env python3
"""Opens N SDK streams (GET /stream) to one proxy, checks each is answered 200 text/event-stream, holds them
until stdin closes, and reports how many are open. Used by bench/http-load.sh to measure memory per stream."""
import asyncio
import sys


async def open_stream(host, port, token, api_key):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"GET /stream?cluster=1 HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                  f"API-Key: {api_key}\r\nAccept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" " or b"text/event-stream" not in head:
        raise RuntimeError(f"stream refused: {status.decode(errors='replace')}")
    return reader, writer


async def drain(reader):
    while await reader.read(65536):
        pass


async def main():
    host, port, token, api_key, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    streams = []
    for start in range(0, count, 100):
        streams += await asyncio.gather(*(open_stream(host, port, token, api_key) for _ in range(start, min(count, start + 100))))
    print(f"open {len(streams)}", flush=True)
    # Drain heartbeats so the proxy's writes never block, until told to stop.
    drains = [asyncio.create_task(drain(r)) for r, _ in streams]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for task in drains:
        task.cancel()
    for _, writer in streams:
        writer.close()


asyncio.run(main())
