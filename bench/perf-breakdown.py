#!/usr/bin/env python3
"""Where a process's CPU goes, from `perf script` output of `perf record -g` on it (bench/sdk-ratios.sh PERF_SECONDS).

Each sample is charged to its innermost frame, grouped as:
  kernel time by the system call it ran under (sending on loopback TCP includes delivering to the receiver and
  waking it; samples outside any system call are interrupts and scheduling),
  the runtime's native code (libcoreclr: GC, allocation helpers, write barriers, casts, stubs),
  other native libraries (libc, System.Native),
  and managed code by the assembly of its class (needs DOTNET_PerfMapEnabled=1; with W^X on, jitted code is
  only seen as "memfd:doublemapper", hence DOTNET_EnableWriteXorExecute=0 while profiling).

  perf script -i perf.data | bench/perf-breakdown.py [--us-per-request 33.2] [--title Gateway]
"""
import argparse
import re
import sys
from collections import Counter

SYSCALL = re.compile(r"__(?:x64|ia32)_sys_(\w+)")
KERNEL_GROUPS = [
    ("kernel: send (loopback TCP: delivery to and wake-up of the receiver included)", {"sendto", "sendmsg", "write", "writev"}),
    ("kernel: receive", {"recvfrom", "recvmsg", "read", "readv"}),
    ("kernel: epoll", {"epoll_wait", "epoll_pwait", "epoll_ctl"}),
    ("kernel: thread waits and wake-ups (futex, sched_yield)", {"futex", "sched_yield", "nanosleep", "clock_nanosleep"}),
]
MANAGED_GROUPS = [
    ("Kestrel (HTTP/1.1 server, socket transport)", ("Microsoft.AspNetCore.Server.Kestrel",)),
    ("HttpClient (SocketsHttpHandler)", ("System.Net.Http",)),
    ("YARP", ("Yarp.",)),
    ("System.Net.Sockets", ("System.Net.Sockets",)),
    ("System.IO.Pipelines", ("System.IO.Pipelines",)),
    ("ASP.NET Core (hosting, routing, HttpContext, features)", ("Microsoft.AspNetCore.", "Microsoft.Extensions.Features")),
    ("FfProxy", ("FfProxy.",)),
    ("CoreLib (async machinery, threading, strings, collections)", ("System.Private.CoreLib",)),
]


def classify(frames):
    """frames: list of (symbol, dso), innermost first."""
    symbol, dso = frames[0]
    if dso == "[kernel.kallsyms]":
        for sym, _ in frames:
            match = SYSCALL.search(sym)
            if match:
                name = match.group(1)
                for label, names in KERNEL_GROUPS:
                    if name in names:
                        return label
                return f"kernel: other system calls ({name}, ...)"
        return "kernel: interrupts and scheduling outside system calls"
    if dso.endswith("libcoreclr.so") or symbol.startswith("stub "):
        return "runtime native code (GC, allocation, write barriers, casts, stubs)"
    if dso.startswith("/tmp/perf-") or "[JIT]" in dso:
        head = symbol.split("::", 1)[0]
        # "[Assembly] Namespace.Type::Method": the class's assembly is the bracket followed by a space (return types
        # and generic arguments are not).
        assemblies = re.findall(r"\[([\w.]+)\] ", head)
        assembly = assemblies[-1] if assemblies else ""
        for label, prefixes in MANAGED_GROUPS:
            if assembly.startswith(prefixes):
                return "managed: " + label
        return "managed: other (" + (assembly or "unknown") + ")"
    if "memfd:doublemapper" in dso:
        return "managed (unresolved: W^X on)"
    return "native libraries (libc, System.Native, ...)"


def samples(lines):
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith(("\t", " ")):
            match = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)$", line)
            if match:
                symbol = re.sub(r"\+0x[0-9a-f]+$", "", match.group(1))
                frames.append((symbol, match.group(2)))
    if frames:
        yield frames


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--us-per-request", type=float, help="the process's CPU µs per request while recorded")
    parser.add_argument("--title", default="process")
    args = parser.parse_args()
    counts = Counter(classify(frames) for frames in samples(sys.stdin))
    total = sum(counts.values())
    if not total:
        sys.exit("perf-breakdown: no samples")
    unit = f" | µs per request (of {args.us_per_request:.1f})" if args.us_per_request else ""
    print(f"| {args.title}: where the CPU goes ({total} samples) | share{unit} |")
    print("|---|---:" + ("|---:" if args.us_per_request else "") + "|")
    for label, count in counts.most_common():
        share = count / total
        cost = f" | {share * args.us_per_request:.1f}" if args.us_per_request else ""
        print(f"| {label} | {share:.1%}{cost} |")


if __name__ == "__main__":
    main()
