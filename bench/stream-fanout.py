#!/usr/bin/env python3
"""Holds N SDK streams (GET /stream) on one proxy, reports resident memory per stream of the processes named, then
edits a flag in the offline directory the Primary watches and times how long the LAST stream takes to receive
`event: *`, then reports resident memory per stream again (an event is a burst of writes to every stream). Used by
bench/sdk-ratios.sh; python3 stdlib only.

    bench/stream-fanout.py --port P --token T --api-key K --streams N --redis-port R --env E \
        --flags-file <env dir>/feature_config.json --flag dark_mode --edits 5 --rss Replica=<pid> [--rss ...]

Each edit also reports the CPU time the processes named with --rss used from the file write to the last arrival:
unlike the latency, it hardly depends on what else runs on the machine.

Clock: the kernel's receive time of each socket's data (SO_TIMESTAMPNS, CLOCK_REALTIME), so neither this process's
reading nor its sharing of the cores with the proxy delays the figures; when the kernel gives no timestamp, the time
epoll returned the socket (an upper bound) is used and the output says so. The start of each edit is when Redis
announces (keyspace notification, enabled here with CONFIG SET) that the Primary has written
env-E-feature-configs-latest; the file write time and the Primary's XADD to proxy:sse_events are reported too.
One warm-up edit (tiered JIT in the proxy) is reported but not counted.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

EVENT = b"event: *"
SO_TIMESTAMPNS = 35  # Linux; SCM_TIMESTAMPNS has the same value. Python's socket module does not name them.
ANCILLARY = socket.CMSG_SPACE(16)


def timestamp_receives(sock):
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def receive(sock):
    """(data, kernel receive time in seconds or None)."""
    data, ancillary, _, _ = sock.recvmsg(65536, ANCILLARY)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = struct.unpack("qq", value[:16])
            return data, seconds + nanoseconds / 1e9
    return data, None


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_ms(pid):
    """User + system CPU time the process has used so far, in ms (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def open_streams(host, port, token, api_key, count):
    request = (f"GET /stream?cluster=1 HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"API-Key: {api_key}\r\nAccept: text/event-stream\r\n\r\n").encode()
    streams = []
    for start in range(0, count, 200):
        batch = []
        for _ in range(start, min(count, start + 200)):
            s = socket.create_connection((host, port), timeout=60)
            s.sendall(request)
            batch.append(s)
        for s in batch:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("stream closed before its response head")
                head += chunk
            status = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status + b" " or b"text/event-stream" not in head.lower():
                raise RuntimeError(f"stream refused: {status.decode(errors='replace')}")
            s.setblocking(False)
            timestamp_receives(s)
        streams += batch
    return streams


class Redis:
    """Just enough RESP to enable keyspace notifications and subscribe to two keys."""

    def __init__(self, port, keys):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nK$t\r\n")
        reply = self.sock.recv(100)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"CONFIG SET notify-keyspace-events: {reply!r}")
        channels = [f"__keyspace@0__:{k}".encode() for k in keys]
        command = b"*%d\r\n$9\r\nSUBSCRIBE\r\n" % (len(channels) + 1)
        for c in channels:
            command += b"$%d\r\n%s\r\n" % (len(c), c)
        self.sock.sendall(command)
        received = b""
        while received.count(b"subscribe") < len(channels):
            received += self.sock.recv(4096)
        self.sock.setblocking(False)
        timestamp_receives(self.sock)
        self.buffer = b""

    def read(self, polled):
        """Returns the (key, event, receive time) notifications complete so far."""
        chunk, received = receive(self.sock)
        self.buffer += chunk
        at = received if received is not None else polled
        out = []
        # Each message: *3 $7 message $n __keyspace@0__:<key> $m <event>
        parts = self.buffer.split(b"\r\n")
        i = 0
        while i + 7 <= len(parts) - 1 and parts[i] == b"*3":
            out.append((parts[i + 4].split(b":", 1)[1].decode(), parts[i + 6].decode(), at))
            i += 7
        self.buffer = b"\r\n".join(parts[i:])
        return out


def edit_flag(path, flag):
    """Toggles the flag's state and bumps its version, written atomically (a rename) as an editor would."""
    with open(path, encoding="utf-8") as f:
        flags = json.load(f)
    entry = next(x for x in flags if x["feature"] == flag)
    entry["state"] = "off" if entry["state"] == "on" else "on"
    entry["version"] = entry.get("version", 1) + 1
    temporary = path + ".bench-edit"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(flags, f, indent=1)
    os.replace(temporary, path)
    return time.time()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main():
    parser = argparse.ArgumentParser()
    for name in ("--token", "--api-key", "--env", "--flags-file", "--flag"):
        parser.add_argument(name, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--warmup-edits", type=int, default=1, help="edits first, reported but not counted")
    parser.add_argument("--settle", type=float, default=5)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--rss", action="append", default=[], help="label=pid, measured before and after opening")
    args = parser.parse_args()
    watched = {label: int(pid) for label, pid in (r.split("=", 1) for r in args.rss)}

    before = {label: rss_kb(pid) for label, pid in watched.items()}
    streams = open_streams(args.host, args.port, args.token, args.api_key, args.streams)
    by_fd = {s.fileno(): i for i, s in enumerate(streams)}
    poller = select.epoll(sizehint=len(streams) + 1)
    for s in streams:
        poller.register(s.fileno(), select.EPOLLIN)
    tails = [b""] * len(streams)
    closed = set()
    got = bytearray(len(streams))
    arrival = [0.0] * len(streams)
    state = {"count": 0, "busy": 0.0, "untimed": 0}

    def pump(seconds, until=lambda: False):
        """Reads every ready stream (marking first `event: *` arrivals) for up to `seconds` or until done."""
        deadline = time.monotonic() + seconds
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            events = poller.poll(min(left, 0.5), len(streams) + 1)
            polled, now = time.time(), time.monotonic()
            for fd, _ in events:
                if fd == redis_fd:
                    notes.extend(redis.read(polled))
                    continue
                i = by_fd[fd]
                # One read per readiness (epoll is level-triggered): a second read would only raise EAGAIN.
                data, received = receive(streams[i])
                if not data:
                    poller.unregister(fd)  # end of stream
                    closed.add(i)
                if not got[i] and EVENT in tails[i] + data:
                    got[i] = 1
                    arrival[i] = received if received is not None else polled
                    state["untimed"] += received is None
                    state["count"] += 1
                tails[i] = (tails[i] + data)[-len(EVENT):]
            state["busy"] += time.monotonic() - now
        return True

    redis_fd = -1
    notes = []
    print(f"{len(streams)} SDK streams open on port {args.port}", flush=True)
    pump(args.settle)
    for label, pid in watched.items():
        after = rss_kb(pid)
        print(f"memory: {label}: resident {before[label]} kB -> {after} kB with {len(streams)} streams, "
              f"{(after - before[label]) * 1024 / len(streams) / 1024:.1f} KB per stream", flush=True)

    if args.edits <= 0:
        return
    feature_configs = f"env-{args.env}-feature-configs"
    redis = Redis(args.redis_port, [feature_configs + "-latest", "proxy:sse_events"])
    redis_fd = redis.sock.fileno()
    poller.register(redis_fd, select.EPOLLIN)
    from_redis, from_file, primary_write = [], [], []
    for edit in range(-args.warmup_edits, args.edits):
        label = f"edit {edit + 1}" if edit >= 0 else "warm-up edit (not counted)"
        got[:] = bytes(len(streams))
        state["count"] = 0
        state["busy"] = 0.0
        state["untimed"] = 0
        notes.clear()
        open_now = len(streams) - len(closed)
        cpu_before = {label: cpu_ms(pid) for label, pid in watched.items()}
        written = edit_flag(args.flags_file, args.flag)
        done = pump(args.timeout, lambda: state["count"] >= open_now and any(n[1] == "set" for n in notes))
        cpu = ", ".join(f"{label} {cpu_ms(pid) - cpu_before[label]:.0f} ms" for label, pid in watched.items())
        stored = next((t for key, event, t in notes if key.endswith("-latest") and event == "set"), None)
        published = next((t for key, event, t in notes if key == "proxy:sse_events" and event == "xadd"), None)
        times = [arrival[i] for i in range(len(streams)) if got[i]]
        if not done or stored is None:
            print(f"fan-out {label}: only {len(times)} of {open_now} streams got the event within "
                  f"{args.timeout:.0f} s (Redis write seen: {stored is not None}); {len(closed)} streams closed",
                  flush=True)
            sys.exit(1)
        last, first = max(times), min(times)
        if edit >= 0:
            from_redis.append(last - stored)
            from_file.append(last - written)
            primary_write.append(stored - written)
        xadd = f"{(published - stored) * 1000:.0f}" if published is not None else "?"
        print(f"fan-out {label}: file write -> Redis write {(stored - written) * 1000:.0f} ms, "
              f"-> XADD +{xadd} ms; Redis write -> first stream {(first - stored) * 1000:.0f} ms, "
              f"-> last of {len(times)} {(last - stored) * 1000:.0f} ms (this client busy reading: "
              f"{state['busy'] * 1000:.0f} ms; {state['untimed']} arrivals timed by epoll, not the kernel; CPU used from the "
              f"file write to the last arrival: {cpu})", flush=True)
        pump(1.0)

    def summary(values):
        ms = [v * 1000 for v in values]
        return (f"p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms "
                f"over {len(ms)} edits")

    print(f"fan-out to the last of {len(streams)} streams, from the Primary's Redis write: {summary(from_redis)}")
    print(f"  from the file write: {summary(from_file)}; the Primary's own file write -> Redis write: "
          f"{summary(primary_write)}", flush=True)
    # Each event is a burst of writes to every stream at once; what the buffers grew to during it stays resident.
    for label, pid in watched.items():
        after = rss_kb(pid)
        print(f"memory after the edits: {label}: resident {after} kB with {len(streams) - len(closed)} streams, "
              f"{(after - before[label]) / len(streams):.1f} KB per stream", flush=True)


main()
