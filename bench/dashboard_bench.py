"""The dashboard at scale (issue 21's performance goals), measured in Debian's Chromium.

With N AgentRollouts (default 1,000) in one namespace of a real kube-apiserver:
  - overview first paint: from navigation to every row on the page (goal <= 1 s);
  - a status change reaching the page: from sending the status write (one PATCH straight
    to the API server) to the row showing it (goal <= 1 s);
  - the plugin's resident memory with N rollouts watched (goal <= 64 MiB).

Usage: bash bench/dashboard_bench.sh [N]   (starts and stops its own cluster)
Prints one JSON object with the medians and every sample.
"""

import base64
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("AGENTROLLOUT_BUILD_DIR", os.path.join(ROOT, "build", "default"))
NS = "dashboard-bench-" + os.urandom(3).hex()
REPEATS = 5


def kubectl(kubeconfig, args, input_text=None):
    kube_bins = subprocess.run(["bash", os.path.join(ROOT, "hack/kube-bins.sh"), "--print-dir"],
                               capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run([os.path.join(kube_bins, "kubectl"), "--kubeconfig", kubeconfig] + args,
                          input=input_text, capture_output=True, text=True, check=True).stdout


def rollout(i):
    return {"apiVersion": "rollouts.agentops.dev/v1alpha1", "kind": "AgentRollout",
            "metadata": {"name": f"agent-{i:04d}", "namespace": NS},
            "spec": {"revision": "1.0.0",
                     "flag": {"key": f"agent_{i}", "configMap": {"name": "flags"}},
                     "phases": [{"name": "canary", "flagPercent": 5, "duration": "1h"},
                                {"name": "half", "flagPercent": 50, "duration": "1h"},
                                {"name": "all", "flagPercent": 100}]}}


def status_patcher(kubeconfig, work):
    """A function PATCHing an AgentRollout's status straight to the API server (no kubectl
    start-up in the measured time), with the kubeconfig's client certificate."""
    config = json.loads(kubectl(kubeconfig, ["config", "view", "--raw", "--minify", "--flatten",
                                             "-o", "json"]))
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    files = {}
    for name, data in (("ca", cluster["certificate-authority-data"]),
                       ("cert", user["client-certificate-data"]),
                       ("key", user["client-key-data"])):
        files[name] = os.path.join(work, name + ".pem")
        with open(files[name], "wb") as f:
            f.write(base64.b64decode(data))
    context = ssl.create_default_context(cafile=files["ca"])
    context.load_cert_chain(files["cert"], files["key"])
    server = cluster["server"]

    def patch(name, status):
        request = urllib.request.Request(
            f"{server}/apis/rollouts.agentops.dev/v1alpha1/namespaces/{NS}/agentrollouts/{name}/status",
            data=json.dumps({"status": status}).encode(), method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"})
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            response.read()
    return patch


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kubeconfig = os.environ["KUBECONFIG"]
    kubectl(kubeconfig, ["create", "namespace", NS])
    for start in range(0, n, 250):
        items = [rollout(i) for i in range(start, min(n, start + 250))]
        kubectl(kubeconfig, ["create", "-f", "-"],
                json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    work = tempfile.mkdtemp(prefix="dashboard-bench-")
    with open(os.path.join(work, "dashboard.log"), "w") as log:
        plugin = subprocess.Popen(
            [os.path.join(BUILD, "plugin/kubectl-agentrollout"), "dashboard", "--kubeconfig",
             kubeconfig, "-n", NS, "--address", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=log, text=True)
    patch = status_patcher(kubeconfig, work)
    try:
        url = plugin.stdout.readline().split()[1].rstrip("/")
        results = {"rollouts": n, "first_paint_s": [], "change_to_page_s": []}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            for _ in range(REPEATS):
                started = time.monotonic()
                page.goto(url + "/")
                page.wait_for_function(
                    "n => document.querySelectorAll('#overview tbody tr').length === n", arg=n,
                    polling="raf", timeout=60_000)
                results["first_paint_s"].append(time.monotonic() - started)
            page.wait_for_selector("#live.on")
            for i in range(REPEATS):
                name = f"agent-{(i * 97) % n:04d}"
                message = f"bench change {i}"
                started = time.monotonic()
                patch(name, {"phase": "Paused", "message": message})
                page.wait_for_function(
                    """([key, message]) => {
                        const row = document.querySelector(`tr[data-key="${key}"]`);
                        return row && row.textContent.includes(message);
                    }""", arg=[f"{NS}/{name}", message], polling="raf", timeout=30_000)
                results["change_to_page_s"].append(time.monotonic() - started)
            browser.close()
        results["plugin_rss_mib"] = round(rss_kib(plugin.pid) / 1024, 1)
        results["first_paint_median_s"] = round(statistics.median(results["first_paint_s"]), 3)
        results["change_to_page_median_s"] = round(statistics.median(results["change_to_page_s"]), 3)
        results["first_paint_s"] = [round(x, 3) for x in results["first_paint_s"]]
        results["change_to_page_s"] = [round(x, 3) for x in results["change_to_page_s"]]
        print(json.dumps(results, indent=2))
    finally:
        plugin.stdout.close()
        plugin.terminate()
        plugin.wait(timeout=15)


if __name__ == "__main__":
    main()
