#!/usr/bin/python3
"""Where a machine's CPU went, by process name, over a window of wall-clock time.

Usage:
  cpu_by_process.py sample OUT.jsonl      every 0.5 s, the CPU seconds used so far by each
                                          process name (utime + stime of /proc/PID/stat,
                                          live processes only), one JSON line per sample
                                          with the wall-clock time; until killed
  cpu_by_process.py window OUT.jsonl START END
                                          cores used per process name between the samples
                                          nearest to START and END (ISO 8601 UTC, as the
                                          operator's JSON logs write them), largest first

Used for the profile of the rollback burst (docs/benchmarks.md): which of the operator, the
API server, etcd and the bench's own stand-ins took the two cores while it ran. A process
that ends inside the window is missed for its last half second; one that starts inside it
counts from its start.
"""
import datetime
import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def snapshot():
    """{pid: (name, cpu seconds)} of the live processes."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        # The name is in parentheses and may hold spaces; the fields follow the last ')'.
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        out[pid] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def sample(path):
    with open(path, "a") as f:
        while True:
            f.write(json.dumps({"t": time.time(), "cpu": snapshot()}) + "\n")
            f.flush()
            time.sleep(0.5)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def window(path, start, end):
    samples = [json.loads(line) for line in open(path)]
    first = min(samples, key=lambda s: abs(s["t"] - start))
    last = min(samples, key=lambda s: abs(s["t"] - end))
    seconds = last["t"] - first["t"]
    if seconds <= 0:
        sys.exit("no samples between %s and %s" % (start, end))
    used = {}
    for pid, (name, cpu) in last["cpu"].items():
        before = first["cpu"].get(pid)
        delta = cpu - (before[1] if before and before[0] == name else 0.0)
        used[name] = used.get(name, 0.0) + delta
    total = sum(used.values())
    print(json.dumps({"seconds": round(seconds, 2), "cores_all": round(total / seconds, 3),
                      "cores": {k: round(v / seconds, 3)
                                for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v > 0}}))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "sample":
        sample(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "window":
        window(sys.argv[2], parse_time(sys.argv[3]), parse_time(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
