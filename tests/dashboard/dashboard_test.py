"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against the real
kube-apiserver + etcd (hack/cluster.sh), a real Prometheus (hack/prometheus.sh) scraping two
agentrollout-test-exporter "agents", and agentrollout-operator.

Run by tests/dashboard/run.sh (ctest: dashboard_browser_test). Environment:
  AGENTROLLOUT_BUILD_DIR      the build tree with the operator, exporter and plugin
  AGENTROLLOUT_KUBECONFIG     a running cluster to use (else this test starts its own)
  AGENTROLLOUT_RUN_DIR        where servers keep their state (checked for leftovers)
  AGENTROLLOUT_DASHBOARD_SCREENSHOTS  where to write dashboard-*.png (default: the work dir)
The tests run in order (unittest sorts by name) through one scenario.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("AGENTROLLOUT_BUILD_DIR", os.path.join(ROOT, "build", "default"))
# A namespace of this run's own: without a namespace controller (hack/cluster.sh runs none)
# a deleted namespace stays Terminating, so a name is never reused.
NS = "dashboard-" + os.urandom(3).hex()
LIVE_TIMEOUT_MS = 120_000


def log(*args):
    print("[dashboard-test]", *args, file=sys.stderr, flush=True)


def run(args, env=None, input_text=None, check=True):
    result = subprocess.run(args, env=env, input=input_text, capture_output=True, text=True,
                            timeout=180)
    if check and result.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def start_reading_first_line(args, log_path, env=None):
    """Starts a server that prints its address first; returns (process, first line)."""
    with open(log_path, "w") as logfile:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=logfile, text=True,
                                   env=env, start_new_session=True)
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        raise RuntimeError(f"{args[0]} printed nothing; see {log_path}")
    return process, line


def rollout(name, prometheus, bake, approval_phase=None, failure_limit=0):
    """An AgentRollout over the two test agents, on its own HTTPRoute and flag key."""
    phases = []
    for i, (phase, percent) in enumerate([("canary", 5), ("early-adopters", 10),
                                          ("expansion", 25), ("majority", 50)]):
        phases.append({"name": phase, "flagPercent": percent, "trafficWeight": percent,
                       "duration": bake, "approval": i == approval_phase})
    phases.append({"name": "complete", "flagPercent": 100, "trafficWeight": 100})
    version = 'version="{{canary}}"'
    return {
        "apiVersion": "rollouts.agentops.dev/v1alpha1",
        "kind": "AgentRollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "revision": "2.0.0",
            "flag": {"key": name.replace("-", "_"), "configMap": {"name": "feature-flags"}},
            "traffic": {"gatewayAPI": {"httpRoute": "route-" + name,
                                       "stableBackend": "voice-agent-v1",
                                       "canaryBackend": "voice-agent-v2"}},
            "analysis": {
                "prometheus": {"address": prometheus},
                "interval": "2s",
                "failureLimit": failure_limit,
                "metrics": [
                    {"name": "error-rate",
                     "query": f'sum(rate(agent_requests_total{{agent="voice",{version},outcome="error"}}[10s]))'
                              f' / sum(rate(agent_requests_total{{agent="voice",{version}}}[10s]))',
                     "go": "< 0.02", "noGo": "> 0.05"},
                    {"name": "latency-p95-ms",
                     "query": 'histogram_quantile(0.95, sum by (le) (rate(agent_latency_seconds_bucket'
                              f'{{agent="voice",{version}}}[10s]))) * 1000',
                     "go": "< 800", "noGo": "> 1200"},
                ],
            },
            "phases": phases,
        },
    }


def route(name):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "route-" + name, "namespace": NS},
            "spec": {"parentRefs": [{"name": "public-gateway"}],
                     "rules": [{"backendRefs": [
                         {"name": "voice-agent-v1", "port": 8080, "weight": 100},
                         {"name": "voice-agent-v2", "port": 8080, "weight": 0}]}]}}


class DashboardBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.processes = []
        cls.cleanups = []
        run_dir = os.environ.get("AGENTROLLOUT_RUN_DIR") or tempfile.gettempdir()
        cls.work = tempfile.mkdtemp(prefix="dashboard-test-", dir=run_dir)
        cls.shots = os.environ.get("AGENTROLLOUT_DASHBOARD_SCREENSHOTS") or cls.work
        try:
            cls._start_servers()
            cls.pw = sync_playwright().start()
            cls.browser = cls.pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox"])
        except BaseException:
            cls._stop_servers()
            raise
        cls.console = []

    @classmethod
    def tearDownClass(cls):
        try:
            cls.browser.close()
            cls.pw.stop()
        finally:
            cls._stop_servers()

    # ------------------------------------------------------------------ servers

    @classmethod
    def _start_servers(cls):
        kube_bins = run(["bash", os.path.join(ROOT, "hack/kube-bins.sh"), "--print-dir"]).strip()
        cls.kubectl_bin = os.path.join(kube_bins, "kubectl")
        cls.env = dict(os.environ)
        cls.kubeconfig = os.environ.get("AGENTROLLOUT_KUBECONFIG")
        if not cls.kubeconfig:
            cls.env["AGENTROLLOUT_STATE_DIR"] = os.path.join(cls.work, "cluster")
            cls.env["AGENTROLLOUT_CLUSTER_OWNER_PID"] = str(os.getpid())
            log("starting a cluster")
            run(["bash", os.path.join(ROOT, "hack/cluster.sh"), "up"], env=cls.env)
            cls.cleanups.append(lambda: run(["bash", os.path.join(ROOT, "hack/cluster.sh"), "down"],
                                            env=cls.env, check=False))
            cls.kubeconfig = os.path.join(cls.work, "cluster", "kubeconfig")

        exporter = os.path.join(BUILD, "analysis/exporter/agentrollout-test-exporter")
        cls.agents = {}
        for version in ("voice-agent-v1", "voice-agent-v2"):
            process, port = start_reading_first_line(
                [exporter, "--listen", "127.0.0.1:0", "--version-label", version, "--rps", "50",
                 "--latency-ms", "350"], os.path.join(cls.work, version + ".log"))
            cls.processes.append(process)
            cls.agents[version] = "http://127.0.0.1:" + port

        cls.env["AGENTROLLOUT_PROM_STATE_DIR"] = os.path.join(cls.work, "prometheus")
        cls.prometheus = run(["bash", os.path.join(ROOT, "hack/prometheus.sh"), "start",
                              cls.agents["voice-agent-v1"], cls.agents["voice-agent-v2"]],
                             env=cls.env).strip().splitlines()[-1]
        cls.cleanups.append(lambda: run(["bash", os.path.join(ROOT, "hack/prometheus.sh"), "stop"],
                                        env=cls.env, check=False))

        cls.kubectl(["create", "namespace", NS])
        cls.cleanups.append(lambda: cls.kubectl(["delete", "namespace", NS, "--wait=false"],
                                                check=False))
        cls.kubectl_apply({"apiVersion": "v1", "kind": "List", "items": [
            route("voice-a"), route("voice-b"), route("voice-c")]})
        cls._restricted_kubeconfig()

        with open(os.path.join(cls.work, "operator.log"), "w") as operator_log:
            operator = subprocess.Popen(
                [os.path.join(BUILD, "operator/agentrollout-operator"), "--kubeconfig",
                 cls.kubeconfig, "--namespace", NS, "--metrics-addr", "127.0.0.1:0",
                 "--health-addr", "127.0.0.1:0", "--log-format", "text"],
                stdout=operator_log, stderr=subprocess.STDOUT, start_new_session=True)
        cls.processes.append(operator)

        plugin = os.path.join(BUILD, "plugin/kubectl-agentrollout")
        cls.dashboards = {}
        for who, kubeconfig in (("admin", cls.kubeconfig), ("viewer", cls.viewer_kubeconfig)):
            process, line = start_reading_first_line(
                [plugin, "dashboard", "--kubeconfig", kubeconfig, "-n", NS, "--address",
                 "127.0.0.1:0"], os.path.join(cls.work, "dashboard-" + who + ".log"))
            cls.processes.append(process)
            # "dashboard: http://127.0.0.1:PORT/ (namespace NS); Ctrl-C stops it"
            cls.dashboards[who] = line.split()[1].rstrip("/")
        log("dashboards", cls.dashboards, "prometheus", cls.prometheus)

    @classmethod
    def _restricted_kubeconfig(cls):
        """A ServiceAccount that may read AgentRollouts and Events but not patch them."""
        cls.kubectl_apply({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "viewer", "namespace": NS}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "agentrollout-viewer", "namespace": NS},
             "rules": [{"apiGroups": ["rollouts.agentops.dev"], "resources": ["agentrollouts"],
                        "verbs": ["get", "list", "watch"]},
                       {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "agentrollout-viewer", "namespace": NS},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                         "name": "agentrollout-viewer"},
             "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": NS}]}]})
        token = cls.kubectl(["create", "token", "viewer", "-n", NS, "--duration", "1h"]).strip()
        admin = json.loads(cls.kubectl(["config", "view", "--raw", "--minify", "--flatten", "-o", "json"]))
        cluster = admin["clusters"][0]
        cls.viewer_kubeconfig = os.path.join(cls.work, "viewer.kubeconfig")
        with open(cls.viewer_kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config",
                       "clusters": [cluster],
                       "users": [{"name": "viewer", "user": {"token": token}}],
                       "contexts": [{"name": "viewer", "context": {
                           "cluster": cluster["name"], "user": "viewer", "namespace": NS}}],
                       "current-context": "viewer"}, f)

    @classmethod
    def _stop_servers(cls):
        for process in reversed(cls.processes):
            if process.stdout:
                process.stdout.close()
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for cleanup in reversed(cls.cleanups):
            cleanup()
        if not os.environ.get("AGENTROLLOUT_KEEP_WORK"):
            shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def kubectl(cls, args, input_text=None, check=True):
        return run([cls.kubectl_bin, "--kubeconfig", cls.kubeconfig] + args, input_text=input_text,
                   check=check)

    @classmethod
    def kubectl_apply(cls, obj):
        cls.kubectl(["apply", "-f", "-"], input_text=json.dumps(obj))

    def get_rollout(self, name):
        return json.loads(self.kubectl(["get", "agentrollout", name, "-n", NS, "-o", "json"]))

    def wait_for_rollout(self, name, predicate, what, timeout=LIVE_TIMEOUT_MS / 1000):
        deadline = time.time() + timeout
        while True:
            obj = self.get_rollout(name)
            if predicate(obj):
                return obj
            if time.time() > deadline:
                self.fail(f"{name}: {what} did not happen; status {json.dumps(obj.get('status'))[:800]}")
            time.sleep(0.5)

    # ------------------------------------------------------------------ browser helpers

    def page(self, who="admin", path="/"):
        page = self.browser.new_page(viewport={"width": 1360, "height": 900})
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        response = page.goto(self.dashboards[who] + path)
        page.wait_for_selector("#live.on", timeout=20_000)
        # Marks this document: it must survive every live change (no reload).
        page.evaluate("window.__noReload = 'kept'")
        return page, response

    def assert_not_reloaded(self, page):
        self.assertEqual(page.evaluate("window.__noReload"), "kept")

    def wait_dom(self, page, script, arg=None, timeout=LIVE_TIMEOUT_MS):
        page.wait_for_function(script, arg=arg, timeout=timeout, polling=100)

    def phase_shown(self, page):
        return page.get_attribute(".head h2 [data-phase]", "data-phase")

    def verdict_shown(self, page):
        return page.get_attribute(".head h2 [data-verdict]", "data-verdict")

    def click_action(self, page, action, expect_text):
        page.click(f'#actions button[data-action="{action}"]')
        page.wait_for_selector("#confirm[open]")
        self.assertIn(expect_text, page.text_content("#confirm-text"))
        page.click("#confirm-ok")
        page.wait_for_selector(".toast.ok", timeout=10_000)

    def screenshot(self, page, name):
        os.makedirs(self.shots, exist_ok=True)
        page.screenshot(path=os.path.join(self.shots, name), full_page=True)

    def post(self, url, headers):
        request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def session_token(self, who):
        with urllib.request.urlopen(self.dashboards[who] + "/api/session", timeout=10) as response:
            return json.loads(response.read())["token"]

    # ------------------------------------------------------------------ the scenario

    def test_1_overview_lists_rollouts_live(self):
        page, _ = self.page()
        self.wait_dom(page, "() => document.querySelector('#empty, #overview')")
        self.kubectl_apply(rollout("voice-a", self.prometheus, "6s", approval_phase=3))
        self.kubectl_apply(rollout("voice-c", self.prometheus, "10m"))
        # Both appear without a reload, and reach Progressing from the operator's writes.
        for name in ("voice-a", "voice-c"):
            self.wait_dom(page, """key => {
                const row = document.querySelector(`tr[data-key="${key}"]`);
                return row && row.querySelector('[data-phase="Progressing"]');
            }""", arg=f"{NS}/{name}")
        # voice-a advances phase by phase (6 s bakes): its phase bar moves on the open page.
        start = int(page.get_attribute(f'tr[data-key="{NS}/voice-a"] .phasebar', "data-current"))
        self.wait_dom(page, """([key, start]) => {
            const bar = document.querySelector(`tr[data-key="${key}"] .phasebar`);
            return bar && Number(bar.dataset.current) > start;
        }""", arg=[f"{NS}/voice-a", start])
        row = page.text_content(f'tr[data-key="{NS}/voice-a"]')
        self.assertIn("2.0.0", row)
        self.assertIn("canary", row)
        self.assert_not_reloaded(page)
        page.close()

    def test_2_abort_button_rolls_back(self):
        page, _ = self.page(path=f"/rollouts/{NS}/voice-c")
        self.wait_dom(page, "() => document.querySelector('.head [data-phase=\"Progressing\"]')")
        self.click_action(page, "abort", "flag off, all traffic to stable")
        self.wait_for_rollout("voice-c", lambda o: o.get("status", {}).get("phase") == "RolledBack",
                              "RolledBack after abort")
        self.wait_dom(page, "() => document.querySelector('.head [data-phase=\"RolledBack\"]')")
        self.wait_dom(page, "() => document.querySelector('#rollback')")
        obj = self.get_rollout("voice-c")
        self.assertNotIn("rollouts.agentops.dev/action",
                         obj["metadata"].get("annotations", {}),
                         "the operator removes the annotation after acting")
        self.assertTrue(page.is_disabled('#actions button[data-action="abort"]'))
        self.assertTrue(page.is_enabled('#actions button[data-action="retry"]'))
        self.assert_not_reloaded(page)
        page.close()

    def test_3_approval_gate_then_promote(self):
        page, _ = self.page(path=f"/rollouts/{NS}/voice-a")
        # Up to the approval gate of phase 4 (majority) on live metrics, without a reload.
        self.wait_dom(page, "() => document.querySelector('.head [data-phase=\"AwaitingApproval\"]')")
        self.assertEqual(page.get_attribute(".head .phasebar", "data-current"), "3")
        self.assertIn("50%", page.text_content('.facts [data-field="flag"]'))
        # Charts and the V1/V2 cards from Prometheus (refreshed at the analysis interval).
        self.wait_dom(page, "() => document.querySelectorAll('.chart .uplot').length >= 2",
                      timeout=30_000)
        self.wait_dom(page, """() => {
            const v = document.querySelector('#versions .canary [data-metric="latency-p95-ms"]');
            return v && v.textContent !== 'no data';
        }""", timeout=30_000)
        self.screenshot(page, "dashboard-rollout-healthy.png")
        self.assertTrue(page.is_enabled('#actions button[data-action="promote"]'))
        self.click_action(page, "promote", "grant any approval")
        self.wait_dom(page, "() => document.querySelector('.head [data-phase=\"Succeeded\"]')")
        obj = self.wait_for_rollout("voice-a", lambda o: o["status"].get("phase") == "Succeeded",
                                    "Succeeded after promote")
        self.assertEqual(obj["status"]["currentPhase"]["flagPercent"], 100)
        self.assert_not_reloaded(page)
        page.close()

    def test_4_breach_shows_nogo_then_rolledback(self):
        self.kubectl_apply(rollout("voice-b", self.prometheus, "10m", failure_limit=2))
        page, _ = self.page(path=f"/rollouts/{NS}/voice-b")
        self.wait_dom(page, """() => document.querySelector('.head [data-phase="Progressing"]') &&
                                     document.querySelector('.head [data-verdict="Go"]')""")
        self.post(self.agents["voice-agent-v2"] + "/control?errorRatio=0.12&latencyMs=1500", {})
        try:
            # NoGo while still Progressing (failureLimit 2 tolerates two), then the rollback.
            self.wait_dom(page, """() => document.querySelector('.head [data-phase="Progressing"]') &&
                                         document.querySelector('.head [data-verdict="NoGo"]')""")
            self.wait_dom(page, "() => document.querySelector('.head [data-phase=\"RolledBack\"]')")
            self.wait_dom(page, "() => document.querySelector('#rollback')")
            self.assertIn("crossed", page.text_content("#rollback"))
            self.assert_not_reloaded(page)
            self.wait_dom(page, "() => document.querySelectorAll('.chart .uplot').length >= 2",
                          timeout=30_000)
            self.screenshot(page, "dashboard-rollout-rolledback.png")
        finally:
            self.post(self.agents["voice-agent-v2"] + "/control?errorRatio=0&latencyMs=350", {})
        page.close()
        overview, _ = self.page()
        self.wait_dom(overview, "() => document.querySelectorAll('#overview tbody tr').length === 3")
        first = overview.get_attribute("#overview tbody tr", "data-key")
        self.assertIn(first, (f"{NS}/voice-b", f"{NS}/voice-c"), "rollbacks come first")
        self.screenshot(overview, "dashboard-overview.png")
        overview.close()

    def test_5_restricted_user_sees_buttons_disabled_and_is_refused(self):
        page, _ = self.page("viewer", f"/rollouts/{NS}/voice-a")
        self.wait_dom(page, "() => document.querySelector('#actions')")
        for action in ("promote", "abort", "pause", "resume", "retry"):
            self.assertTrue(page.is_disabled(f'#actions button[data-action="{action}"]'), action)
        self.assertIn("RBAC", page.text_content("#rbac-note"))
        # The server refuses too: the page's own token, the API server's 403.
        status, body = page.evaluate("""async () => {
            const session = await (await fetch('/api/session')).json();
            const r = await fetch(location.pathname.replace('/rollouts/', '/api/rollouts/') + '/actions/abort',
                                  {method: 'POST', headers: {'X-Agentrollout-Token': session.token}});
            return [r.status, await r.json()];
        }""")
        self.assertEqual(status, 403, body)
        self.assertIn("forbidden", body["error"])
        self.assertNotIn("rollouts.agentops.dev/action",
                         self.get_rollout("voice-a")["metadata"].get("annotations", {}))
        page.close()

    def test_6_cross_origin_post_is_refused(self):
        admin = self.dashboards["admin"]
        target = f"{admin}/api/rollouts/{NS}/voice-a/actions/abort"
        # From a foreign site in the browser (served by Playwright as http://evil.example): a
        # simple no-cors POST reaches the server with a foreign Origin, and a POST with the
        # token header needs a preflight that the server never grants.
        page = self.browser.new_page()
        page.route("http://evil.example/**",
                   lambda r: r.fulfill(status=200, content_type="text/html", body="<p>evil</p>"))
        page.goto("http://evil.example/")
        page.evaluate("""async target => {
            await fetch(target, {method: 'POST', mode: 'no-cors'}).catch(() => {});
        }""", target)
        blocked = page.evaluate("""async target => {
            try { await fetch(target, {method: 'POST', headers: {'X-Agentrollout-Token': 'x'}});
                  return false; } catch (e) { return true; }
        }""", target)
        self.assertTrue(blocked, "the browser must not complete a cross-origin POST with the token header")
        page.close()
        token = self.session_token("admin")
        host = admin.split("//")[1]
        status, body = self.post(target, {"Origin": "http://evil.example",
                                          "X-Agentrollout-Token": token})
        self.assertEqual(status, 403, body)
        self.assertIn("cross-origin", body["error"])
        status, body = self.post(target, {"Origin": admin, "Host": "rebound.example:" + host.split(":")[1],
                                          "X-Agentrollout-Token": token})
        self.assertEqual(status, 403, body)
        self.assertIn("Host", body["error"])
        status, body = self.post(target, {"Origin": admin})
        self.assertEqual(status, 403, body)
        self.assertIn("CSRF", body["error"])
        self.assertNotIn("rollouts.agentops.dev/action",
                         self.get_rollout("voice-a")["metadata"].get("annotations", {}))
        self.assertEqual(self.get_rollout("voice-a")["status"]["phase"], "Succeeded")

    def test_7_unknown_rollout_is_a_404_page(self):
        page = self.browser.new_page()
        response = page.goto(self.dashboards["admin"] + f"/rollouts/{NS}/no-such-rollout")
        self.assertEqual(response.status, 404)
        page.wait_for_selector("#not-found")
        self.assertIn("not found", page.text_content("#not-found"))
        page.close()

    def test_8_no_content_security_policy_violations(self):
        violations = [m for m in self.console if "Content Security Policy" in m or "pageerror" in m]
        self.assertEqual(violations, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
