//! The deployment: the Kubernetes overlays rendered with `kubectl kustomize` and checked offline
//! by `tests/k8s/check.py` (strict schemas for every resource, the policy rules, and the binary's
//! own `check-config` run with each container's arguments, environment and ConfigMaps), and the
//! same check failing, by name, on manifests broken on purpose. Then every target's migrations
//! run at once from separate processes on one PostgreSQL database, as pods starting together do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use concordat_e2e::{concordat_bin, tests_dir};
use concordat_platform::testkit::{TestBackend, TestDb};

fn root() -> PathBuf {
    tests_dir().parent().unwrap().to_path_buf()
}

fn check(k8s: &Path, dockerfile: &Path) -> (bool, String) {
    let python = tests_dir().join("python/.venv/bin/python");
    assert!(
        python.exists(),
        "run tests/python/setup.sh first (scripts/test does)"
    );
    let Output {
        status,
        stdout,
        stderr,
    } = std::process::Command::new(python)
        .arg(tests_dir().join("k8s/check.py"))
        .arg("--concordat")
        .arg(concordat_bin())
        .arg("--k8s")
        .arg(k8s)
        .arg("--dockerfile")
        .arg(dockerfile)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

#[test]
fn both_overlays_render_validate_and_agree_with_the_binary() {
    let (ok, out) = check(&root().join("deploy/k8s"), &root().join("Dockerfile"));
    assert!(ok, "{out}");
    assert!(out.contains("Dockerfile: OK"), "{out}");
    for line in [
        "all-in-one: 7 resources (1 Cluster, 2 ConfigMap, 1 Deployment, 1 NetworkPolicy, 1 Service, 1 ServiceAccount); 6 validated against Kubernetes 1.35.0, 1.36.0, 1.37.0, 1 against custom-resource schemas; 2 containers checked by the binary; OK",
        "ics-ha: 32 resources (1 Cluster, 2 ConfigMap, 5 Deployment, 5 HorizontalPodAutoscaler, 1 NetworkPolicy, 5 PodDisruptionBudget, 1 PodMonitor, 1 Pooler, 5 Service, 5 ServiceAccount, 1 ServiceMonitor); 28 validated against Kubernetes 1.35.0, 1.36.0, 1.37.0, 4 against custom-resource schemas; 10 containers checked by the binary; OK",
    ] {
        assert!(out.contains(line), "{line}\nmissing from:\n{out}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn broken_manifests_fail_the_check_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let k8s = dir.path().join("k8s");
    copy_dir(&root().join("deploy/k8s"), &k8s);
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::copy(root().join("Dockerfile"), &dockerfile).unwrap();

    // A misspelt field of a custom resource, and of a core one.
    edit(
        &k8s.join("components/cnpg/cluster.yaml"),
        "  instances: 1\n",
        "  instances: 1\n  instancez: 2\n",
    );
    edit(
        &k8s.join("workload/deployment.yaml"),
        "  revisionHistoryLimit: 5\n",
        "  revisionHistoryLimit: 5\n  paused: false\n  minReadySecond: 5\n",
    );
    // A writable root filesystem; a secret key the operator does not make.
    edit(
        &k8s.join("workload/deployment.yaml"),
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
    );
    edit(
        &k8s.join("components/cnpg/kustomization.yaml"),
        "key: password}}",
        "key: passwd}}",
    );
    // The gRPC port the binary listens on and the container's disagree.
    edit(
        &k8s.join("config/concordat.toml"),
        "listen = \"0.0.0.0:50051\"",
        "listen = \"0.0.0.0:50052\"",
    );
    // An upstream at a Service that does not exist; a target without the upstream it needs.
    edit(
        &k8s.join("targets/convergence/kustomization.yaml"),
        "http://concordat-shared-config:50051",
        "http://concordat-shared-configuration:50051",
    );
    edit(
        &k8s.join("targets/shared-config/kustomization.yaml"),
        "CONCORDAT_UPSTREAM__CHANGE_CONTROL",
        "CONCORDAT_UPSTREAM__CHANGE_CONTROLS",
    );
    // The monitors lose the label their Prometheus selects them by.
    edit(
        &k8s.join("components/monitoring/kustomization.yaml"),
        "          release: prometheus",
        "          team: platform",
    );
    // The image exposes a port the binary does not listen on.
    edit(&dockerfile, "EXPOSE 50051 9464", "EXPOSE 8080 9464");

    let (ok, out) = check(&k8s, &dockerfile);
    assert!(!ok, "{out}");
    for failure in [
        "FAIL [schema] Cluster/concordat-db: cluster_v1.json: spec: Additional properties are not allowed ('instancez' was unexpected)",
        "FAIL [schema] Deployment/concordat-all: Kubernetes 1.35.0: spec: Additional properties are not allowed ('minReadySecond' was unexpected)",
        "FAIL [security] Deployment/concordat-benefits: container concordat: read-only root",
        "FAIL [references] Deployment/concordat-platform: env DATABASE_PASSWORD: Secret concordat-db-app has no key passwd",
        "FAIL [ports] Deployment/concordat-all: container concordat (serve --config /etc/concordat/concordat.toml --target all --no-migrate): the binary listens for gRPC on 50052, the container port grpc is 50051",
        "FAIL [upstreams] Deployment/concordat-convergence: upstream shared-config: no Service concordat-shared-configuration",
        "upstream.change-control",
        "FAIL [monitoring] ServiceMonitor/concordat: no `release` label",
        "FAIL [ports] Dockerfile: EXPOSE [8080, 9464], the binary listens on [9464, 50051]",
    ] {
        assert!(out.contains(failure), "{failure}\nmissing from:\n{out}");
    }
}

/// Every target's pods run `concordat migrate --target …` as they start, all against one
/// database: the migrations take turns instead of racing on the platform's tables.
#[tokio::test]
async fn every_target_migrates_at_once_on_one_postgres_database() {
    let Some(db) = TestDb::new(TestBackend::Postgres).await else {
        return;
    };
    let targets = [
        "platform",
        "change-control",
        "shared-config",
        "convergence",
        "benefits",
        "change-control",
        "benefits",
    ];
    let runs = targets.iter().map(|target| {
        let data = tempfile::tempdir().unwrap();
        let url = db.url.clone();
        async move {
            let out = tokio::process::Command::new(concordat_bin())
                .args(["migrate", "--target", target, "--database-url", &url])
                .arg("--data-dir")
                .arg(data.path())
                .env_remove("CONCORDAT_DATABASE_URL")
                .output()
                .await
                .unwrap();
            (target, out)
        }
    });
    for (target, out) in futures::future::join_all(runs).await {
        assert!(
            out.status.success(),
            "migrate --target {target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Each service's migrations table holds each of its migrations once.
    let conn = db.connect().await;
    use sea_orm::ConnectionTrait as _;
    let rows = conn
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT table_name::text AS t FROM information_schema.tables \
             WHERE table_name LIKE 'concordat\\_%\\_migrations' AND table_schema = 'public'"
                .to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        5,
        "the platform's and four services' migration tables"
    );
    for row in rows {
        let table: String = row.try_get("", "t").unwrap();
        let dup = conn
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                format!("SELECT version FROM {table} GROUP BY version HAVING count(*) > 1"),
            ))
            .await
            .unwrap();
        assert!(dup.is_empty(), "{table} lists a migration twice");
    }
}
