#!/usr/bin/env python3
"""deploy/k8s as a cluster would take it, and as it must work as written.

- every manifest of a core kind passes `kubernetes-validate --strict`
  against Kubernetes KUBERNETES_VERSION;
- kustomization.yaml applies every manifest of the folder;
- every probe reaches its container: the port is one the container listens
  on beyond loopback (from the program's own listen flags in its env);
- every container has resource requests and limits, runs as non-root with a
  read-only root filesystem, no privilege escalation and no capabilities,
  and can read the Secrets it mounts;
- replicated workloads have a PodDisruptionBudget;
- only monitors (CP pods, OCPP gateways) may reach central's gRPC port;
- Kafka is Strimzi's (KRaft, a KafkaNodePool) with a KafkaTopic for every
  topic of common/kafka/topics.h, compacted where evnet keeps state per key.
"""

import glob
import ipaddress
import os
import re
import subprocess
import sys
import unittest

import yaml

KUBERNETES_VERSION = "1.37.0"
ROOT = os.environ.get("TEST_SRCDIR", "")
HERE = os.path.join(ROOT, os.environ.get("TEST_WORKSPACE", "evnet")) if ROOT else os.getcwd()
K8S = os.path.join(HERE, "deploy", "k8s")
TOPICS_H = os.path.join(HERE, "common", "kafka", "topics.h")
KAFKA_BRIDGE = os.path.join(HERE, "central", "kafka_bridge.cc")

# Where each program listens, by the env var of its flag: a port alone
# listens on every address.
LISTEN_ENV = {
    "central": {"CENTRAL_GRPC_PORT": "port", "CENTRAL_HTTP_PORT": "port",
                "CENTRAL_PROBE_PORT": "port"},
    "cp_engine": {"ENGINE_LISTEN": "address", "HEALTH_LISTEN": "address"},
    "cp_monitor": {"HEALTH_LISTEN": "address"},
    "ocpp_gateway": {"OCPP_LISTEN": "address"},
}
KEYED_PARTITIONS = 6  # kTopicPartitions


def topics_central_makes():
    """{topic: (partitions, compacted)} as central/kafka_bridge.cc creates them."""
    with open(TOPICS_H) as f:
        names = dict(re.findall(r'(k\w+Topic)\[\] = "([^"]+)"', f.read()))
    with open(KAFKA_BRIDGE) as f:
        specs = re.findall(r'\{(k\w+Topic), (kTopicPartitions|\d+), (true|false)', f.read())
    return {names[k]: (KEYED_PARTITIONS if n == "kTopicPartitions" else int(n), c == "true")
            for k, n, c in specs}


def documents():
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    yield os.path.basename(path), doc


def workloads():
    for name, doc in documents():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield name, doc


def listens(container):
    """(host, port) pairs the container listens on, from its env."""
    env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
    out = []
    for var, kind in LISTEN_ENV.get(container["command"][0], {}).items():
        if var not in env:
            continue
        if kind == "port":
            out.append(("0.0.0.0", int(env[var])))
        else:
            host, _, port = env[var].rpartition(":")
            out.append((host, int(port)))
    return out


def beyond_loopback(host):
    if host in ("", "0.0.0.0", "::", "[::]"):
        return True
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a name: resolved by the cluster, not loopback


class Manifests(unittest.TestCase):
    def test_core_kinds_pass_kubernetes_validate_strict(self):
        files = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
        files = [f for f in files if os.path.basename(f) != "kustomization.yaml"]
        validate = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
        run = subprocess.run([validate, "--strict", "-k", KUBERNETES_VERSION] + files,
                             capture_output=True, text=True)
        lines = (run.stdout + run.stderr).splitlines()
        self.assertEqual(run.returncode, 0, "\n".join(lines))
        passed = [l for l in lines if " passed for resource " in l]
        self.assertGreaterEqual(len(passed), 10, "\n".join(lines))
        # Only Strimzi's kinds go unchecked here (no schema of theirs ships
        # with kubernetes-validate); they are checked below.
        for line in lines:
            if "Couldn't find schema" in line:
                self.assertIn("kafka.strimzi.io", line)

    def test_kustomization_applies_every_manifest(self):
        with open(os.path.join(K8S, "kustomization.yaml")) as f:
            kustomization = yaml.safe_load(f)
        listed = set(kustomization["resources"])
        present = {os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml"))}
        present.discard("kustomization.yaml")
        self.assertEqual(listed, present)

    def test_every_probe_reaches_its_container(self):
        probes = 0
        for name, doc in workloads():
            for c in doc["spec"]["template"]["spec"]["containers"]:
                named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
                for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                    probe = c.get(kind)
                    if not probe:
                        continue
                    probes += 1
                    if "exec" in probe:
                        continue
                    action = probe.get("grpc") or probe.get("httpGet") or probe.get("tcpSocket")
                    port = action["port"]
                    port = named.get(port, port)
                    reachable = [h for h, p in listens(c) if p == port and beyond_loopback(h)]
                    self.assertTrue(
                        reachable,
                        f"{name}: {c['name']}'s {kind} dials port {port}, but it listens on "
                        f"{listens(c)}: the kubelet dials the pod's IP")
        self.assertGreaterEqual(probes, 5)

    def test_containers_are_sized_and_locked_down(self):
        for name, doc in workloads():
            pod = doc["spec"]["template"]["spec"]
            pod_security = pod.get("securityContext", {})
            for c in pod["containers"]:
                where = f"{name}: {c['name']}"
                resources = c.get("resources", {})
                for part in ("requests", "limits"):
                    for what in ("cpu", "memory"):
                        self.assertIn(what, resources.get(part, {}), f"{where}: no {part}.{what}")
                security = c.get("securityContext", {})
                self.assertTrue(security.get("runAsNonRoot", pod_security.get("runAsNonRoot")),
                                f"{where}: may run as root")
                self.assertIs(security.get("allowPrivilegeEscalation"), False, where)
                self.assertIs(security.get("readOnlyRootFilesystem"), True, where)
                self.assertIn("ALL", security.get("capabilities", {}).get("drop", []), where)
            # A non-root user reads a Secret's files through its group.
            for volume in pod.get("volumes", []):
                secret = volume.get("secret")
                if secret is None:
                    continue
                mode = secret.get("defaultMode", 0o644)
                readable = mode & 0o004 or (mode & 0o040 and "fsGroup" in pod_security)
                self.assertTrue(readable, f"{name}: the user cannot read Secret "
                                          f"{secret['secretName']} (mode {oct(mode)})")

    def test_replicated_workloads_have_a_disruption_budget(self):
        budgets = [d for _, d in documents() if d["kind"] == "PodDisruptionBudget"]
        for name, doc in workloads():
            if doc["spec"].get("replicas", 1) < 2:
                continue
            labels = doc["spec"]["template"]["metadata"]["labels"]
            covered = [b for b in budgets
                       if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
            self.assertTrue(covered, f"{name}: {doc['metadata']['name']} has no budget")

    def test_only_monitors_reach_centrals_grpc_port(self):
        policies = [d for _, d in documents() if d["kind"] == "NetworkPolicy"]
        central = [p for p in policies
                   if p["spec"]["podSelector"]["matchLabels"].get("component") == "central"]
        self.assertEqual(len(central), 1)
        opened_to = set()
        for rule in central[0]["spec"]["ingress"]:
            ports = {p["port"] for p in rule.get("ports", [])}
            if rule.get("ports") and 50051 not in ports:
                continue
            self.assertIn("from", rule, "central's gRPC port is open to everyone")
            for peer in rule["from"]:
                opened_to.add(peer["podSelector"]["matchLabels"]["component"])
        self.assertEqual(opened_to, {"charging-point", "ocpp-gateway"})
        # The engine listens on loopback; its pod admits only the probes.
        cp = [p for p in policies
              if p["spec"]["podSelector"]["matchLabels"].get("component") == "charging-point"]
        self.assertEqual(len(cp), 1)
        ports = {p["port"] for r in cp[0]["spec"]["ingress"] for p in r.get("ports", [])}
        self.assertNotIn(50061, ports)

    def test_centrals_dashboard_needs_a_login(self):
        central = next(d for _, d in documents()
                       if d["kind"] == "Deployment" and d["metadata"]["name"] == "central")
        spec = central["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        for name in ("OPERATOR_CREDENTIALS", "SESSION_KEY_FILE"):
            self.assertIn(name, env, f"central has no {name}: its dashboard would show nothing")
            mount = next((m for m in container["volumeMounts"]
                          if env[name].startswith(m["mountPath"] + "/")), None)
            self.assertIsNotNone(mount, f"{env[name]} is on no volume")
            volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            self.assertIn("secret", volume, f"{env[name]} is not from a Secret")
            # Readable by central's group only: the key is refused otherwise.
            self.assertEqual(volume["secret"]["defaultMode"] & 0o027, 0, name)

    def test_kafka_is_strimzi_with_every_topic(self):
        docs = [d for _, d in documents() if d["apiVersion"].startswith("kafka.strimzi.io/")]
        kinds = [d["kind"] for d in docs]
        self.assertIn("Kafka", kinds)
        self.assertIn("KafkaNodePool", kinds)
        kafka = next(d for d in docs if d["kind"] == "Kafka")
        self.assertEqual(kafka["metadata"]["annotations"].get("strimzi.io/kraft"), "enabled")
        pool = next(d for d in docs if d["kind"] == "KafkaNodePool")
        self.assertEqual(set(pool["spec"]["roles"]), {"controller", "broker"})
        self.assertEqual(pool["metadata"]["labels"]["strimzi.io/cluster"], kafka["metadata"]["name"])
        for listener in kafka["spec"]["kafka"]["listeners"]:
            self.assertTrue(listener["tls"], f"listener {listener['name']} is plaintext")
        with open(TOPICS_H) as f:
            wanted = set(re.findall(r'Topic\[\] = "([^"]+)"', f.read()))
        self.assertGreaterEqual(len(wanted), 10)
        made = topics_central_makes()
        self.assertEqual(set(made), wanted, "central/kafka_bridge.cc does not make every topic")
        topics = {d["metadata"]["name"]: d for d in docs if d["kind"] == "KafkaTopic"}
        self.assertEqual(set(topics), wanted)
        for name, topic in topics.items():
            self.assertEqual(topic["metadata"]["labels"]["strimzi.io/cluster"],
                             kafka["metadata"]["name"])
            self.assertGreaterEqual(topic["spec"]["replicas"], 3, name)
            # As central makes them: same partitions, same compaction.
            partitions, compacted = made[name]
            self.assertEqual(topic["spec"].get("config", {}).get("cleanup.policy") == "compact",
                             compacted, name)
            self.assertEqual(topic["spec"]["partitions"], partitions, name)

if __name__ == "__main__":
    unittest.main(verbosity=2)
