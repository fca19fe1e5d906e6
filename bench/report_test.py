#!/usr/bin/python3
"""Unit test of bench/report.py (run by ctest as bench_report_test): it writes the report
from a small made-up results directory, so the report cannot rot between the long runs
that use it. The figures are invented; the test checks the arithmetic and the verdicts."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def write(directory, name, data):
    with open(os.path.join(directory, name), "w") as f:
        json.dump(data, f)


def scale_run(controller, n, cpu_steady, steady_rss, status_writes_per_min, steady=True):
    run = {"controller": controller, "n": n, "progressing": n // 5, "finished": n - n // 5,
           "peak_rss_mib": steady_rss + 20, "steady_rss_mib": steady_rss if steady else None,
           "cpu_cores_steady": cpu_steady if steady else None, "cpu_cores_window": 0.5,
           "threads_max": 30, "ready_s": 1.0, "synced_s": 60.0, "window_s": 1200,
           "metrics_period_s": 15, "populate_s": 10,
           "queue_depth_metric": "agentrollout_workqueue_depth"}
    bill = {"seconds": 300.0, "apiserver_cpu_cores": 0.1, "etcd_cpu_cores": 0.02,
            "requests_per_minute": {"PUT agentrollouts/status": status_writes_per_min,
                                    "PUT leases": 6.0},
            "requests_per_minute_all": status_writes_per_min + 6.0,
            "writes_per_minute": status_writes_per_min + 6.0,
            "etcd_db_in_use_growth_mib": 12.0}
    run["control_plane"] = {"run": dict(bill, seconds=600.0), "apiserver_rss_max_mib": 900.0}
    if steady:
        run["control_plane"]["steady"] = bill
    return run


def report(runs):
    """The report written from a results directory holding `runs` ({file name: JSON})."""
    with tempfile.TemporaryDirectory() as results:
        write(results, "machine.json", {
            "mode": "full", "date": "2026-12-06T00:00:00Z", "cpus": 2, "cpu_model": "test",
            "mem_total_kib": 1 << 24, "kernel": "k", "kubernetes": "v1.36.3", "etcd": "v3.6.8",
            "prometheus": "p", "argo_rollouts": "argo", "commit": "abc1234",
            "sizes": "1000 10000", "repeats": 1, "scale_repeats": 1, "window_s": 1200,
            "steady_s": 300, "interval": "1m", "skip_argo": False})
        for name, data in runs.items():
            write(results, name, data)
        output = os.path.join(results, "out.md")
        subprocess.run([sys.executable, os.path.join(HERE, "report.py"), results, output],
                       check=True)
        with open(output) as f:
            return f.read()


class ReportTest(unittest.TestCase):
    def test_the_second_round_figures_and_verdicts(self):
        # 2,000 progressing at 10,000: the limit is 400 status writes a minute.
        text = report({
            "scale-agentrollout-1000-1.json": scale_run("agentrollout-operator", 1000, 0.01, 50.0, 30.0),
            "scale-agentrollout-10000-1.json":
                scale_run("agentrollout-operator", 10000, 0.03, 150.0, 399.0),
            "scale-argo-10000-1.json": scale_run("argo-rollouts", 10000, 1.2, 1500.0, 0.0)})
        # Totals: 0.03 + 0.1 + 0.02 = 0.15 against 1.2 + 0.1 + 0.02 = 1.32 (8.8×).
        self.assertIn("0.150 vs 1.320 cores at N = 10000: 8.8× | met |", text)
        self.assertIn("399.0/min for 2000 progressing at N = 10000 (limit 400.0/min) | met |", text)
        # (150 - 50) MiB over 9,000 rollouts = 11.4 KiB each.
        self.assertIn("**11.4 KiB** per rollout at steady state", text)
        self.assertIn("### The control plane's bill", text)
        self.assertIn("`PUT agentrollouts/status` 399.0", text)

    def test_a_restart_over_what_the_operator_wrote_gets_its_own_table(self):
        first = scale_run("agentrollout-operator", 50000, 0.2, 560.0, 399.0)
        second = scale_run("agentrollout-operator", 50000, 0.2, 560.0, 399.0)
        # 120 writes a minute over 90 s = 180 writes; 300 over 60 s = 300.
        first["restart"] = {"ready_s": 8.0, "synced_s": 50.0, "steady_from_s": 70.0,
                            "peak_rss_mib": 600.0, "cpu_seconds": 40.0,
                            "control_plane": {"writes_per_minute": 120.0, "seconds": 90.0}}
        second["restart"] = {"ready_s": 9.0, "synced_s": 40.0, "steady_from_s": 60.0,
                             "peak_rss_mib": 610.0, "cpu_seconds": 42.0,
                             "control_plane": {"writes_per_minute": 300.0, "seconds": 60.0}}
        text = report({"scale-agentrollout-50000-1.json": first,
                       "scale-agentrollout-50000-2.json": second})
        self.assertIn("### Restarted over what it wrote", text)
        self.assertIn("| agentrollout-operator | 50000 | 2 | 8.00 / 8.50 / 9.00 | 40.0 / 45.0 / 50.0 "
                      "| 60.0 / 65.0 / 70.0 | 600.0 / 605.0 / 610.0 | 40.0 / 41.0 / 42.0 "
                      "| 180 / 240 / 300 |", text)
        self.assertNotIn("### Restarted over what it wrote",
                         report({"scale-agentrollout-50000-1.json":
                                 scale_run("agentrollout-operator", 50000, 0.2, 560.0, 399.0)}))

    def test_a_controller_that_never_got_steady_is_billed_for_its_whole_run(self):
        text = report({
            "scale-agentrollout-10000-1.json":
                scale_run("agentrollout-operator", 10000, 0.03, 150.0, 399.0),
            "scale-argo-10000-1.json":
                scale_run("argo-rollouts", 10000, 1.2, 1500.0, 0.0, steady=False)})
        self.assertIn("| Argo Rollouts | 10000 | 600 | 0.500 | 0.100 | 0.020 | 0.620 | 6 |", text)
        self.assertIn("Argo Rollouts at N = 10000, requests per minute by verb and resource over "
                      "the whole run", text)


if __name__ == "__main__":
    unittest.main()
