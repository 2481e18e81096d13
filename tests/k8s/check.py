#!/usr/bin/env python3
"""Renders every overlay of deploy/k8s and checks it offline.

For each overlay (deploy/k8s/overlays/*):

1. render it with `kubectl kustomize`;
2. validate every resource: Kubernetes' own kinds with kubernetes-validate, strictly, against each
   Kubernetes version in KUBERNETES_VERSIONS; custom resources against the strict JSON schemas in
   deploy/k8s/schemas. A resource neither validates is a failure, never a skip;
3. apply the policy rules below to the rendered YAML (a rule may be waived for one resource only
   in WAIVERS, with its reason);
4. run `concordat check-config` with the arguments, environment and mounted ConfigMaps of every
   Concordat container, as the pod would, and compare what the binary resolves (listen ports,
   targets, upstreams) with the manifests' ports, probes, labels and Services.

Prints one line per overlay and per failure; exits 1 if anything failed, 2 if a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The manifests' directory and the Dockerfile (--k8s, --dockerfile).
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
# Kubernetes minor releases in support when these manifests were last checked.
KUBERNETES_VERSIONS = ["1.35.0", "1.36.0", "1.37.0"]
GRPC_PORT_NAME = "grpc"
METRICS_PORT_NAME = "metrics"
IMAGE = "concordat/concordat"

# (rule, "Kind/name") -> why that resource may break that rule.
WAIVERS: dict[tuple[str, str], str] = {}

Resource = dict[str, Any]


class Failures:
    """The failures found in one overlay."""

    def __init__(self, overlay: str) -> None:
        self.overlay = overlay
        self.items: list[str] = []
        self.waived: list[str] = []

    def check(self, ok: bool, rule: str, resource: Resource | str, message: str) -> None:
        rid = resource if isinstance(resource, str) else ident(resource)
        if ok:
            return
        reason = WAIVERS.get((rule, rid))
        if reason:
            self.waived.append(f"{rule} {rid}: waived: {reason}")
        else:
            self.items.append(f"[{rule}] {rid}: {message}")


def ident(r: Resource) -> str:
    return f"{r.get('kind')}/{r.get('metadata', {}).get('name')}"


def render(overlay: Path) -> list[Resource]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"kubectl kustomize {overlay} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


def custom_schema(r: Resource) -> Path | None:
    group, _, version = r["apiVersion"].rpartition("/")
    if not group:
        return None
    path = K8S / "schemas" / group / f"{r['kind'].lower()}_{version}.json"
    return path if path.is_file() else None


def validate_schemas(resources: list[Resource], f: Failures) -> tuple[int, int]:
    """Validates every resource; returns how many were validated as core and as custom kinds."""
    core = custom = 0
    for r in resources:
        schema_file = custom_schema(r)
        if schema_file is not None:
            schema = json.loads(schema_file.read_text())
            validator = jsonschema.validators.validator_for(schema)(schema)
            errors = sorted(validator.iter_errors(r), key=lambda e: list(e.path))
            for e in errors:
                path = "/".join(str(p) for p in e.path)
                f.check(False, "schema", r, f"{schema_file.name}: {path}: {e.message}")
            custom += 1
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(r, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                f.check(
                    False,
                    "schema",
                    r,
                    f"no schema for {r['apiVersion']} {r['kind']} in Kubernetes {version} nor in "
                    "deploy/k8s/schemas: not validated",
                )
                break
            except kubernetes_validate.ValidationError as e:
                path = "/".join(str(p) for p in e.path)
                f.check(False, "schema", r, f"Kubernetes {version}: {path}: {e.message}")
                break
        else:
            core += 1
    return core, custom


# ---------------------------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------------------------


def pod_spec(r: Resource) -> dict[str, Any] | None:
    if r["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return r["spec"]["template"]["spec"]
    return None


def containers(spec: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    for c in spec.get("initContainers", []):
        yield c, True
    for c in spec.get("containers", []):
        yield c, False


def port_number(container: dict[str, Any], port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    return None


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_security_and_probes(r: Resource, spec: dict[str, Any], f: Failures) -> None:
    psc = spec.get("securityContext", {})
    f.check(psc.get("runAsNonRoot") is True, "security", r, "pod securityContext.runAsNonRoot")
    f.check(
        psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
        "security",
        r,
        "pod seccompProfile RuntimeDefault",
    )
    for c, init in containers(spec):
        name = f"container {c['name']}"
        sc = c.get("securityContext", {})
        f.check(sc.get("runAsNonRoot") is True, "security", r, f"{name}: runAsNonRoot")
        f.check(
            sc.get("readOnlyRootFilesystem") is True, "security", r, f"{name}: read-only root"
        )
        f.check(
            sc.get("allowPrivilegeEscalation") is False,
            "security",
            r,
            f"{name}: allowPrivilegeEscalation false",
        )
        f.check(
            "ALL" in sc.get("capabilities", {}).get("drop", []),
            "security",
            r,
            f"{name}: capabilities drop ALL",
        )
        f.check(
            sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            "security",
            r,
            f"{name}: seccompProfile RuntimeDefault",
        )
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for what in ("cpu", "memory"):
                f.check(what in res.get(kind, {}), "resources", r, f"{name}: {kind}.{what}")
        image = c.get("image", "")
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        f.check(
            ("@sha256:" in image) or (tag not in ("", "latest")),
            "image",
            r,
            f"{name}: image {image!r} has no pinned tag",
        )
        if init:
            continue
        ready = c.get("readinessProbe", {})
        grpc_port = port_number(c, GRPC_PORT_NAME)
        f.check(
            "grpc" in ready and ready["grpc"].get("port") == grpc_port,
            "probes",
            r,
            f"{name}: readiness must be the native gRPC probe on the gRPC port ({grpc_port})",
        )
        live = c.get("livenessProbe", {}).get("httpGet", {})
        f.check(
            live.get("path") == "/healthz"
            and port_number(c, live.get("port", -1)) == port_number(c, METRICS_PORT_NAME),
            "probes",
            r,
            f"{name}: liveness must be GET /healthz on the metrics port",
        )


def check_env_order(r: Resource, spec: dict[str, Any], f: Failures) -> None:
    for c, _ in containers(spec):
        seen: set[str] = set()
        for e in c.get("env", []):
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
                f.check(
                    ref in seen,
                    "references",
                    r,
                    f"container {c['name']}: {e['name']} refers to $({ref}), which is not "
                    "defined before it",
                )
            seen.add(e["name"])


# The keys of the basic-auth secrets CloudNativePG makes for each Cluster.
CNPG_SECRET_KEYS = {
    "username", "user", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass",
    "fqdn-uri", "fqdn-jdbc-uri",
}


def operator_secrets(resources: list[Resource]) -> dict[str, set[str]]:
    """Secrets CloudNativePG makes for each Cluster (`<name>-app`, `<name>-superuser`): keys."""
    out: dict[str, set[str]] = {}
    for r in resources:
        if r["kind"] == "Cluster" and r["apiVersion"].startswith("postgresql.cnpg.io/"):
            n = r["metadata"]["name"]
            out[f"{n}-app"] = out[f"{n}-superuser"] = CNPG_SECRET_KEYS
    return out


def check_references(resources: list[Resource], f: Failures) -> None:
    by_kind: dict[str, dict[str, Resource]] = {}
    for r in resources:
        by_kind.setdefault(r["kind"], {})[r["metadata"]["name"]] = r
    config_maps = by_kind.get("ConfigMap", {})
    secret_keys = {
        n: set(r.get("data", {})) | set(r.get("stringData", {}))
        for n, r in by_kind.get("Secret", {}).items()
    } | operator_secrets(resources)
    secrets = set(secret_keys)
    accounts = set(by_kind.get("ServiceAccount", {}))
    workloads = [r for r in resources if pod_spec(r) is not None]

    def pod_labels(w: Resource) -> dict[str, str]:
        return w["spec"]["template"]["metadata"].get("labels", {})

    for w in workloads:
        spec = pod_spec(w)
        assert spec is not None
        sa = spec.get("serviceAccountName")
        f.check(sa is None or sa in accounts, "references", w, f"serviceAccount {sa} not found")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v:
                f.check(
                    v["configMap"]["name"] in config_maps,
                    "references",
                    w,
                    f"volume {v['name']}: ConfigMap {v['configMap']['name']} not found",
                )
            if "secret" in v:
                f.check(
                    v["secret"]["secretName"] in secrets,
                    "references",
                    w,
                    f"volume {v['name']}: Secret {v['secret']['secretName']} not found",
                )
        for c, _ in containers(spec):
            for m in c.get("volumeMounts", []):
                v = volumes.get(m["name"])
                f.check(v is not None, "references", w, f"mount {m['name']}: no such volume")
                if v is not None and "configMap" in v and "subPath" in m:
                    data = config_maps.get(v["configMap"]["name"], {}).get("data", {})
                    f.check(
                        m["subPath"] in data,
                        "references",
                        w,
                        f"mount {m['name']}: ConfigMap has no key {m['subPath']}",
                    )
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    s = ref["secretKeyRef"]["name"]
                    f.check(s in secrets, "references", w, f"env {e['name']}: Secret {s} not found")
                    k = ref["secretKeyRef"]["key"]
                    f.check(
                        k in secret_keys.get(s, {k}),
                        "references",
                        w,
                        f"env {e['name']}: Secret {s} has no key {k}",
                    )
                if "configMapKeyRef" in ref:
                    k = ref["configMapKeyRef"]
                    data = config_maps.get(k["name"], {}).get("data", {})
                    f.check(
                        k["key"] in data,
                        "references",
                        w,
                        f"env {e['name']}: ConfigMap {k['name']} has no key {k['key']}",
                    )
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    n = src["configMapRef"]["name"]
                    f.check(n in config_maps, "references", w, f"envFrom ConfigMap {n} not found")
                if "secretRef" in src:
                    n = src["secretRef"]["name"]
                    f.check(n in secrets, "references", w, f"envFrom Secret {n} not found")
        check_env_order(w, spec, f)
        check_security_and_probes(w, spec, f)

    for svc in by_kind.get("Service", {}).values():
        selector = svc["spec"].get("selector", {})
        targets = [w for w in workloads if matches(selector, pod_labels(w))]
        f.check(bool(targets), "references", svc, f"selector {selector} matches no pods")
        for p in svc["spec"].get("ports", []):
            tp = p.get("targetPort", p["port"])
            for w in targets:
                spec = pod_spec(w)
                assert spec is not None
                found = any(port_number(c, tp) is not None for c in spec["containers"])
                f.check(found, "references", svc, f"port {p['name']}: {ident(w)} has no {tp}")
    for name, kind in (("PodDisruptionBudget", "pods"), ("NetworkPolicy", "pods")):
        for r in by_kind.get(name, {}).values():
            sel = r["spec"].get("selector", r["spec"].get("podSelector", {})).get("matchLabels", {})
            f.check(
                any(matches(sel, pod_labels(w)) for w in workloads),
                "references",
                r,
                f"selector {sel} matches no {kind}",
            )
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        f.check(
            ref["name"] in by_kind.get(ref["kind"], {}),
            "references",
            hpa,
            f"scale target {ref['kind']}/{ref['name']} not found",
        )
    clusters = {
        n for n, r in by_kind.get("Cluster", {}).items() if r["apiVersion"].startswith("postgresql")
    }
    for pooler in by_kind.get("Pooler", {}).values():
        c = pooler["spec"]["cluster"]["name"]
        f.check(c in clusters, "references", pooler, f"cluster {c} not found")
    for sm in by_kind.get("ServiceMonitor", {}).values():
        sel = sm["spec"]["selector"].get("matchLabels", {})
        services = [
            s for s in by_kind.get("Service", {}).values() if matches(sel, s["metadata"].get("labels", {}))
        ]
        f.check(bool(services), "references", sm, f"selector {sel} matches no Service")
        for ep in sm["spec"]["endpoints"]:
            f.check(
                all(any(p.get("name") == ep["port"] for p in s["spec"]["ports"]) for s in services),
                "references",
                sm,
                f"a selected Service has no port {ep['port']}",
            )
    for pm in by_kind.get("PodMonitor", {}).values():
        sel = pm["spec"]["selector"].get("matchLabels", {})
        cluster = sel.get("cnpg.io/cluster")
        f.check(
            cluster in clusters or any(matches(sel, pod_labels(w)) for w in workloads),
            "references",
            pm,
            f"selector {sel} matches no pods of this overlay (nor a CloudNativePG Cluster's)",
        )
    for kind in ("ServiceMonitor", "PodMonitor"):
        for m in by_kind.get(kind, {}).values():
            f.check(
                "release" in m["metadata"].get("labels", {}),
                "monitoring",
                m,
                "no `release` label: a Prometheus selecting monitors by it never scrapes this one",
            )


# ---------------------------------------------------------------------------------------------
# The binary's own view
# ---------------------------------------------------------------------------------------------

# What the placeholder values of secret keys look like (the binary parses but does not use them).
SECRET_PLACEHOLDERS = {
    "uri": "postgresql://app:secret@concordat-db-rw:5432/app",
    "username": "app",
    "password": "secret",
}


def container_env(c: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), e["value"]
            )
        elif "secretKeyRef" in e.get("valueFrom", {}):
            env[e["name"]] = SECRET_PLACEHOLDERS.get(e["valueFrom"]["secretKeyRef"]["key"], "x")
    return env


def check_binary(resources: list[Resource], concordat: Path, f: Failures) -> int:
    """Runs `concordat check-config` as each Concordat container would; returns how many ran."""
    config_maps = {r["metadata"]["name"]: r for r in resources if r["kind"] == "ConfigMap"}
    services = [r for r in resources if r["kind"] == "Service"]
    workloads = [r for r in resources if r["kind"] == "Deployment"]
    served: dict[str, list[Resource]] = {}
    runs = 0
    resolved: dict[str, dict[str, Any]] = {}
    for w in workloads:
        spec = w["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c, init in containers(spec):
            if not c.get("image", "").startswith(IMAGE):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                paths: dict[str, str] = {}
                for m in c.get("volumeMounts", []):
                    v = volumes.get(m["name"], {})
                    local = root / m["mountPath"].lstrip("/")
                    paths[m["mountPath"]] = str(local)
                    data = config_maps.get(v.get("configMap", {}).get("name", ""), {}).get("data", {})
                    if "subPath" in m:
                        local.parent.mkdir(parents=True, exist_ok=True)
                        local.write_text(data.get(m["subPath"], ""))
                    else:
                        local.mkdir(parents=True, exist_ok=True)
                        for k, text in data.items():
                            (local / k).write_text(text)

                # Every mount path to its local copy, in one pass (longest first).
                pattern = re.compile(
                    "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
                )

                def local(text: str) -> str:
                    return pattern.sub(lambda m: paths[m.group(0)], text) if paths else text

                for file in root.rglob("*"):
                    if file.is_file():
                        file.write_text(local(file.read_text()))
                args = [local(a) for a in c["args"]]
                env = {k: local(v) for k, v in container_env(c).items()}
                base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONCORDAT_")}
                out = subprocess.run(
                    [str(concordat), "check-config", *args],
                    env={**base_env, **env},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                runs += 1
                name = f"container {c['name']} ({' '.join(c['args'])})"
                f.check(
                    out.returncode == 0,
                    "binary",
                    w,
                    f"{name}: concordat check-config refused it: {out.stderr.strip()}",
                )
                if out.returncode != 0:
                    continue
                got = json.loads(out.stdout)
            f.check(
                not got["ignored_environment"],
                "binary",
                w,
                f"{name}: environment the binary ignores: {got['ignored_environment']}",
            )
            if init:
                f.check(c["args"][0] == "migrate", "binary", w, f"{name}: expected `migrate`")
                resolved.setdefault(w["metadata"]["name"], {})["migrate"] = got["targets"]
                continue
            f.check(c["args"][0] == "serve", "binary", w, f"{name}: expected `serve`")
            resolved.setdefault(w["metadata"]["name"], {})["serve"] = got["targets"]
            listen_port = int(got["listen"].rpartition(":")[2])
            metrics_port = int(got["metrics_listen"].rpartition(":")[2])
            f.check(
                listen_port == port_number(c, GRPC_PORT_NAME),
                "ports",
                w,
                f"{name}: the binary listens for gRPC on {listen_port}, the container port "
                f"{GRPC_PORT_NAME} is {port_number(c, GRPC_PORT_NAME)}",
            )
            f.check(
                metrics_port == port_number(c, METRICS_PORT_NAME),
                "ports",
                w,
                f"{name}: the binary serves metrics on {metrics_port}, the container port "
                f"{METRICS_PORT_NAME} is {port_number(c, METRICS_PORT_NAME)}",
            )
            for listen in (got["listen"], got["metrics_listen"]):
                f.check(
                    not listen.startswith("127.") and not listen.startswith("[::1]"),
                    "ports",
                    w,
                    f"{name}: {listen} is loopback: nothing outside the pod reaches it",
                )
            component = w["spec"]["template"]["metadata"]["labels"].get(
                "app.kubernetes.io/component"
            )
            expected = got["all_targets"] if component == "all" else [component]
            f.check(
                sorted(got["targets"]) == sorted(expected),
                "binary",
                w,
                f"{name}: serves {got['targets']}, labelled {component}",
            )
            for t in got["targets"]:
                served.setdefault(t, []).append(w)
            resolved[w["metadata"]["name"]]["upstreams"] = got["upstreams"]
    for w in workloads:
        r = resolved.get(w["metadata"]["name"], {})
        f.check(
            r.get("migrate") == r.get("serve"),
            "binary",
            w,
            f"migrates {r.get('migrate')} but serves {r.get('serve')}",
        )
        for target, url in r.get("upstreams", {}).items():
            m = re.fullmatch(r"https?://([a-z0-9.-]+):(\d+)/?", url)
            f.check(m is not None, "upstreams", w, f"upstream {target}: {url} is not http://host:port")
            if m is None:
                continue
            host, port = m.group(1).split(".")[0], int(m.group(2))
            svc = next((s for s in services if s["metadata"]["name"] == host), None)
            f.check(svc is not None, "upstreams", w, f"upstream {target}: no Service {host}")
            if svc is None:
                continue
            f.check(
                any(p["port"] == port and p.get("name") == GRPC_PORT_NAME for p in svc["spec"]["ports"]),
                "upstreams",
                w,
                f"upstream {target}: Service {host} has no gRPC port {port}",
            )
            selected = [
                x
                for x in workloads
                if matches(svc["spec"]["selector"], x["spec"]["template"]["metadata"]["labels"])
            ]
            f.check(
                bool(selected) and all(x in served.get(target, []) for x in selected),
                "upstreams",
                w,
                f"upstream {target}: Service {host} does not select pods serving {target}",
            )
    return runs


def check_dockerfile(concordat: Path) -> list[str]:
    """Runs `concordat check-config` as the image's default command would, with its ENV, a
    federation file and a database URL; the EXPOSEd ports must be those it listens on."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    failures = []
    env: dict[str, str] = {}
    exposed: list[int] = []
    cmd: list[str] = []
    entrypoint: list[str] = []
    user = ""
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", rest)))
        elif word == "EXPOSE":
            exposed = [int(p) for p in rest.split()]
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "USER":
            user = rest.strip()
    if not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", user):
        failures.append(f"[image] Dockerfile: USER {user!r} is not a numeric non-root user")
    if entrypoint != ["/usr/local/bin/concordat"] or not cmd:
        failures.append(f"[image] Dockerfile: ENTRYPOINT {entrypoint}, CMD {cmd}")
        return failures
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONCORDAT_")}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v.replace("/var/lib/concordat", tmp) for k, v in env.items()}
        env["CONCORDAT_FEDERATION"] = str(K8S / "config" / "federation.toml")
        env["CONCORDAT_DATABASE_URL"] = SECRET_PLACEHOLDERS["uri"]
        out = subprocess.run(
            [str(concordat), "check-config", *cmd],
            env={**base_env, **env},
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        failures.append(f"[binary] Dockerfile: CMD {cmd} refused: {out.stderr.strip()}")
        return failures
    got = json.loads(out.stdout)
    ports = sorted(int(a.rpartition(":")[2]) for a in (got["listen"], got["metrics_listen"]))
    if ports != sorted(exposed):
        failures.append(f"[ports] Dockerfile: EXPOSE {exposed}, the binary listens on {ports}")
    if got["ignored_environment"]:
        failures.append(f"[binary] Dockerfile: ENV it ignores: {got['ignored_environment']}")
    return failures


def main() -> int:
    global K8S, DOCKERFILE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concordat", required=True, type=Path, help="the concordat binary")
    parser.add_argument("--out", type=Path, help="write each overlay's rendering here")
    parser.add_argument("--k8s", type=Path, default=K8S, help="the manifests (deploy/k8s)")
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE, help="the Dockerfile")
    args = parser.parse_args()
    K8S, DOCKERFILE = args.k8s.resolve(), args.dockerfile.resolve()
    if shutil.which("kubectl") is None:
        print("check.py: kubectl is not installed: it renders the overlays (kubectl kustomize)")
        return 2
    if not args.concordat.is_file():
        print(f"check.py: {args.concordat} is missing: build the concordat binary first")
        return 2
    overlays = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    failed = False
    docker = check_dockerfile(args.concordat)
    print(f"Dockerfile: {'OK' if not docker else f'{len(docker)} failures'}")
    for line in docker:
        print(f"  FAIL {line}")
    failed |= bool(docker)
    for overlay in overlays:
        resources = render(overlay)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{overlay.name}.yaml").write_text(yaml.safe_dump_all(resources))
        f = Failures(overlay.name)
        core, custom = validate_schemas(resources, f)
        check_references(resources, f)
        runs = check_binary(resources, args.concordat, f)
        kinds: dict[str, int] = {}
        for r in resources:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        print(
            f"{overlay.name}: {len(resources)} resources ({summary}); {core} validated against "
            f"Kubernetes {', '.join(KUBERNETES_VERSIONS)}, {custom} against custom-resource "
            f"schemas; {runs} containers checked by the binary; "
            f"{'OK' if not f.items else f'{len(f.items)} failures'}"
        )
        for line in f.waived:
            print(f"  {line}")
        for line in f.items:
            print(f"  FAIL {line}")
        failed |= bool(f.items)
        if core + custom != len(resources):
            print(f"  FAIL {len(resources) - core - custom} resources did not validate")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
