#!/usr/bin/env python3
"""deploy/prometheus and deploy/grafana as an operator's Prometheus and
Grafana would take them:

- the alert rules (a PrometheusRule's spec) pass `promtool check rules`, and
  promtool's unit tests of them (evnet-rules-test.yaml) pass: each alert
  fires when it should and not before; every alert has a test that fires it;
- every metric a rule or a dashboard panel queries is one central exports
  (central/metrics.cc), so no panel stays empty and no alert never fires;
- the dashboard is Grafana's JSON with a Prometheus datasource variable.
"""

import copy
import json
import os
import re
import subprocess
import tempfile
import unittest

import yaml

ROOT = os.environ.get("TEST_SRCDIR", "")
HERE = os.path.join(ROOT, os.environ.get("TEST_WORKSPACE", "evnet")) if ROOT else os.getcwd()
RULES = os.path.join(HERE, "deploy", "prometheus", "evnet-rules.yaml")
RULES_TEST = os.path.join(HERE, "deploy", "prometheus", "evnet-rules-test.yaml")
DASHBOARD = os.path.join(HERE, "deploy", "grafana", "evnet-dashboard.json")
METRICS_CC = os.path.join(HERE, "central", "metrics.cc")
PROMTOOL = os.environ.get("PROMTOOL", "/usr/bin/promtool")
METRIC = re.compile(r"\bevnet_[a-z0-9_]+")


def exported_metrics():
    """Every series name central's /metrics can carry."""
    with open(METRICS_CC) as f:
        source = f.read()
    names = set()
    for name, kind in re.findall(r'Header\(&out, "([a-z0-9_]+)", "([a-z]+)"', source):
        names.add(name)
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def rules():
    with open(RULES) as f:
        manifest = yaml.safe_load(f)
    return manifest


class MonitoringTest(unittest.TestCase):
    def setUp(self):
        if not os.access(PROMTOOL, os.X_OK):
            self.fail(f"{PROMTOOL} is missing: run tools/ev setup (it installs Debian's prometheus)")
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.manifest = rules()
        self.plain = os.path.join(self.dir, "evnet-rules.plain.yaml")
        with open(self.plain, "w") as f:
            yaml.safe_dump(self.manifest["spec"], f)
        self.alerts = {r["alert"]: r for g in self.manifest["spec"]["groups"] for r in g["rules"]}

    def promtool(self, *args):
        run = subprocess.run([PROMTOOL, *args], cwd=self.dir, capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, f"promtool {' '.join(args)}:\n{run.stdout}{run.stderr}")
        return run.stdout

    def test_the_rules_are_a_prometheus_rule_that_promtool_takes(self):
        self.assertEqual(self.manifest["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(self.manifest["kind"], "PrometheusRule")
        out = self.promtool("check", "rules", self.plain)
        self.assertIn(f"SUCCESS: {len(self.alerts)} rules found", out)
        for name, rule in self.alerts.items():
            self.assertIn(rule["labels"].get("severity"), ("warning", "critical"), name)
            self.assertTrue(rule["annotations"].get("summary"), name)

    def test_each_alert_fires_when_it_should_and_not_before(self):
        with open(RULES_TEST) as f:
            tests = yaml.safe_load(f)
        fired = set()
        for test in tests["tests"]:
            for case in test["alert_rule_test"]:
                name = case["alertname"]
                self.assertIn(name, self.alerts, "a test of an alert the rules lack")
                for alert in case.get("exp_alerts", []):
                    fired.add(name)
                    alert["exp_annotations"] = copy.deepcopy(self.alerts[name]["annotations"])
        self.assertEqual(fired, set(self.alerts), "every alert needs a test in which it fires")
        path = os.path.join(self.dir, "evnet-rules-test.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(tests, f)
        self.promtool("test", "rules", path)

    def test_every_query_names_a_metric_central_exports(self):
        exported = exported_metrics()
        self.assertIn("evnet_ready", exported)
        self.assertIn("evnet_request_accept_seconds_bucket", exported)
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        queries = [(f"alert {n}", r["expr"]) for n, r in self.alerts.items()]
        for panel in dashboard["panels"]:
            self.assertTrue(panel.get("targets"), f"panel {panel.get('title')} queries nothing")
            self.assertEqual(panel["datasource"]["uid"], "${datasource}", panel["title"])
            queries += [(f"panel {panel['title']}", t["expr"]) for t in panel["targets"]]
        for where, expr in queries:
            names = METRIC.findall(expr)
            self.assertTrue(names, f"{where} names no evnet metric: {expr}")
            for name in names:
                self.assertIn(name, exported, f"{where} queries {name}, which central does not export")
        variables = [v["name"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
        self.assertEqual(variables, ["datasource"])
        ids = [p["id"] for p in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")


if __name__ == "__main__":
    unittest.main(verbosity=2)
