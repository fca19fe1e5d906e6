#!/usr/bin/python3
"""What reading N AgentRollouts costs: a paged LIST against a streaming list, and the
operator's time to Ready on the same objects.

Usage (against a cluster of hack/cluster.sh; objects are created once, then reused):
  eval "$(bash hack/cluster.sh env)"
  python3 bench/list_cost.py --n 20000 --repeats 3 \\
      [--operator build/default/operator/agentrollout-operator] [--out RESULT.json]

- paged LIST: GET ...?limit=500 following continue tokens, as the operator's informer
  lists (kube/reflector.h);
- streaming list: one WATCH with sendInitialEvents=true&resourceVersionMatch=NotOlderThan
  (KEP-3157) read until the bookmark annotated k8s.io/initial-events-end;
- both read the raw bytes only (no JSON parse on this side), so the wall time is the API
  server's and the transfer's; the API server's CPU-seconds come from /proc/PID/stat of the
  pid hack/cluster.sh recorded;
- with --operator: process start -> /readyz 200 of the operator on the namespace, and the
  operator's CPU-seconds at that moment (the API server's CPU-seconds run until the
  operator has stopped). The operator runs as a standby: with --leader-elect while the
  bench holds its Lease, so it lists and watches but writes nothing, and every run reads
  the same objects.
Used for docs/benchmarks.md (Ready at 50,000): whether a streaming list would cut Ready.
"""
import argparse
import base64
import http.client
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
GROUP = "/apis/rollouts.agentops.dev/v1alpha1"

# One rollout of the size the scale bench uses: a flag with pinned tenants, two metrics,
# three phases, and a finished status with its conditions.
SPEC = {
    "revision": "2.4.0",
    "flag": {"key": "", "configMap": {"name": "feature-flags"},
             "enabledTenants": ["acme-corp", "globex"], "disabledTenants": ["initech-regulated"]},
    "analysis": {
        "prometheus": {"address": "http://prometheus.monitoring.svc:9090"},
        "interval": "2m", "failureLimit": 2,
        "args": {"agent": "support", "version": "2.4.0"},
        "metrics": [
            {"name": "latency-p95-seconds", "go": "< 3", "noGo": "> 5",
             "query": "histogram_quantile(0.95, sum by (le) (rate(agent_latency_seconds_bucket"
                      "{agent=\"{{agent}}\",version=\"{{version}}\"}[10m])))"},
            {"name": "error-rate", "go": "< 0.01", "noGo": "> 0.03",
             "query": "sum(rate(agent_requests_total{agent=\"{{agent}}\",version=\"{{version}}\","
                      "outcome=\"error\"}[10m])) / sum(rate(agent_requests_total{agent=\"{{agent}}\","
                      "version=\"{{version}}\"}[10m]))"}]},
    "phases": [{"name": "ten-percent", "flagPercent": 10, "duration": "24h"},
               {"name": "half", "flagPercent": 50, "duration": "72h"},
               {"name": "all-tenants", "flagPercent": 100}],
}
STATUS = {
    "observedGeneration": 1, "revision": "2.4.0", "phase": "Succeeded", "verdict": "Go",
    "currentPhase": {"index": 2, "name": "all-tenants", "startedAt": "2026-01-01T00:00:00Z",
                     "flagPercent": 100, "trafficWeight": 100},
    "message": "all phases passed; the flag is at 100 % for every tenant not pinned off",
    "conditions": [{"type": t, "status": "True", "reason": "Succeeded",
                    "message": "all phases passed at 2026-01-01T00:00:00Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
                   for t in ("Ready", "Progressing", "Analysis")],
}


class Api:
    def __init__(self, kubeconfig, kubectl):
        config = json.loads(subprocess.check_output(
            [kubectl, "--kubeconfig", kubeconfig, "config", "view", "--raw", "-o", "json"]))
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        url = urllib.request.urlparse(cluster["server"])
        self.host, self.port = url.hostname, url.port
        self.context = ssl.create_default_context(
            cafile=self._file(cluster["certificate-authority-data"]))
        self.context.load_cert_chain(self._file(user["client-certificate-data"]),
                                     self._file(user["client-key-data"]))

    @staticmethod
    def _file(data):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(base64.b64decode(data))
            return f.name

    def connect(self):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=600)

    @staticmethod
    def call(connection, method, path, body=None):
        connection.request(method, path, None if body is None else json.dumps(body),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def populate(api, namespace, n, threads=8):
    base = f"{GROUP}/namespaces/{namespace}/agentrollouts"
    connection = api.connect()
    api.call(connection, "POST", "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    have = paged_list(api, namespace)["items"]
    if have >= n:
        return 0.0
    start = time.monotonic()
    failures = []

    def create(indices):
        connection = api.connect()
        for i in indices:
            spec = json.loads(json.dumps(SPEC))
            spec["flag"]["key"] = f"flag_{i}"
            obj = {"apiVersion": "rollouts.agentops.dev/v1alpha1", "kind": "AgentRollout",
                   "metadata": {"name": f"rollout-{i}"}, "spec": spec}
            status, body = api.call(connection, "POST", base, obj)
            if status == 201:
                obj = json.loads(body)
                obj["status"] = STATUS
                status, body = api.call(connection, "PUT", f"{base}/rollout-{i}/status", obj)
            if status not in (200, 201, 409):
                failures.append(f"rollout-{i}: {status} {body[:200]!r}")
                return

    workers = [threading.Thread(target=create, args=(range(have + k, n, threads),))
               for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        sys.exit("populate failed: " + failures[0])
    return time.monotonic() - start


def paged_list(api, namespace):
    base = f"{GROUP}/namespaces/{namespace}/agentrollouts?limit=500"
    connection = api.connect()
    token, size, items = "", 0, 0
    while True:
        status, body = api.call(connection, "GET", base + (f"&continue={token}" if token else ""))
        if status != 200:
            sys.exit(f"list: {status} {body[:300]!r}")
        size += len(body)
        items += body.count(b'"kind":"AgentRollout"')
        # The list's metadata (with the continue token) comes after the items.
        match = re.search(rb'"continue":"([^"]*)"', body[-4096:])
        token = match.group(1).decode() if match else ""
        if not token:
            return {"bytes": size, "items": items}


def streaming_list(api, namespace):
    connection = api.connect()
    connection.request("GET", f"{GROUP}/namespaces/{namespace}/agentrollouts?watch=1"
                       "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                       "&allowWatchBookmarks=true")
    response = connection.getresponse()
    if response.status != 200:
        sys.exit(f"streaming list: {response.status} {response.read()[:300]!r}")
    size, items = 0, 0
    while True:
        line = response.readline()
        if not line:
            sys.exit("streaming list: the stream ended before the initial-events-end bookmark")
        size += len(line)
        if not line.startswith(b'{"type":"BOOKMARK"'):
            items += 1
        elif b'"k8s.io/initial-events-end":"true"' in line:
            connection.close()
            return {"bytes": size, "items": items}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hold_lease(api, namespace):
    """The operator's Lease in `namespace`, held by the bench for an hour from now."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "agentrollout-operator", "namespace": namespace},
             "spec": {"holderIdentity": "list-cost-bench", "leaseDurationSeconds": 3600,
                      "acquireTime": now, "renewTime": now}}
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    connection = api.connect()
    status, body = api.call(connection, "GET", f"{path}/agentrollout-operator")
    if status == 200:  # renewed: an update names the version it replaces
        lease["metadata"]["resourceVersion"] = json.loads(body)["metadata"]["resourceVersion"]
        status, body = api.call(connection, "PUT", f"{path}/agentrollout-operator", lease)
    else:
        status, body = api.call(connection, "POST", path, lease)
    if status not in (200, 201):
        sys.exit(f"lease: {status} {body[:300]!r}")


def operator_ready(api, binary, kubeconfig, namespace):
    hold_lease(api, namespace)
    port = free_port()
    start = time.monotonic()
    process = subprocess.Popen(
        [binary, f"--kubeconfig={kubeconfig}", f"--namespace={namespace}", "--concurrency=4",
         f"--metrics-addr=127.0.0.1:{free_port()}", f"--health-addr=127.0.0.1:{port}",
         "--log-format=json", "--leader-elect", f"--leader-election-namespace={namespace}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None:
                sys.exit(f"the operator exited with {process.returncode} before Ready")
            time.sleep(0.02)
        return {"ready_s": time.monotonic() - start, "cpu_s": cpu_seconds(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--namespace", default="list-cost")
    parser.add_argument("--operator", help="the operator binary: measure its Ready too")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    kubeconfig = os.environ["KUBECONFIG"]
    state = os.environ["AGENTROLLOUT_STATE_DIR"]
    with open(os.path.join(state, "apiserver.pid")) as f:
        apiserver = int(f.read())
    api = Api(kubeconfig, os.environ.get("AGENTROLLOUT_KUBECTL", "kubectl"))
    result = {"n": args.n, "populate_s": populate(api, args.namespace, args.n), "runs": []}
    ways = [("paged LIST", lambda: paged_list(api, args.namespace)),
            ("streaming list", lambda: streaming_list(api, args.namespace))]
    if args.operator:
        ways.append(("operator Ready",
                     lambda: operator_ready(api, args.operator, kubeconfig, args.namespace)))
    for repeat in range(args.repeats):
        for name, read in ways:
            time.sleep(2)  # let the previous reader's work settle
            before, start = cpu_seconds(apiserver), time.monotonic()
            run = read()
            run.update(way=name, repeat=repeat, apiserver_cpu_s=cpu_seconds(apiserver) - before)
            if "ready_s" not in run:  # the operator's wall time includes its shutdown
                run["wall_s"] = time.monotonic() - start
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
    for name, _ in ways:
        runs = [r for r in result["runs"] if r["way"] == name]
        for key in ("wall_s", "ready_s", "apiserver_cpu_s", "cpu_s"):
            values = sorted(r[key] for r in runs if key in r)
            if values:
                print(f"{name:15s} {key:16s} min {values[0]:.2f}  median "
                      f"{statistics.median(values):.2f}  max {values[-1]:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
