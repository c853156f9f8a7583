//! The generated CRD against a real API server: accepted, Established, defaults applied,
//! malformed resources rejected with a field path, status written by server-side apply.

use kaspr_apiserver_tests::{FIELD_MANAGER, client_with_crd};
use kaspr_types::{KasprApp, KasprAppStatus};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, ValidationDirective};
use serde_json::{Value, json};

const NAMESPACE: &str = "default";

fn app(name: &str, python_packages: Value) -> Value {
    json!({
        "apiVersion": "kaspr.io/v1alpha1",
        "kind": "KasprApp",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"bootstrapServers": "kafka:9092", "pythonPackages": python_packages}
    })
}

/// A client for the API server under test (the CRD installed) and its KasprApps in [`NAMESPACE`].
async fn apps() -> (Client, Api<KasprApp>) {
    let client = client_with_crd().await;
    let api = Api::namespaced(client.clone(), NAMESPACE);
    (client, api)
}

/// Server-side applies `object` with strict field validation; returns the server's error text on
/// refusal. Objects are sent as JSON, so malformed ones need not fit the Rust type.
async fn apply(api: &Api<KasprApp>, object: Value) -> Result<KasprApp, String> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(&name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| e.to_string())
}

/// Applies `object` as [`apply`] does and returns the server's refusal; panics with `why` when
/// the server accepts it.
async fn refused(api: &Api<KasprApp>, object: Value, why: &str) -> String {
    apply(api, object).await.expect_err(why)
}

/// Creates `object` as `kubectl apply` (client-side) and `kubectl create` do, with strict field
/// validation, and returns the server's refusal; panics with `why` when it is accepted. Unknown
/// fields inside known ones are refused this way; a server-side apply prunes them silently under
/// a schema that preserves unknown fields at `spec` (as upstream's did and ours does).
async fn refused_at_create(client: &Client, object: &Value, why: &str) -> String {
    let request = http::Request::post(format!(
        "/apis/kaspr.io/v1alpha1/namespaces/{NAMESPACE}/kasprapps?fieldValidation=Strict"
    ))
    .header(http::header::CONTENT_TYPE, "application/json")
    .body(serde_json::to_vec(object).expect("json"))
    .expect("request");
    match client.request::<Value>(request).await {
        Ok(created) => panic!("{why}: {created}"),
        Err(e) => e.to_string(),
    }
}

/// The object as stored, read as untyped JSON so that Rust-side serde defaults cannot mask a
/// default the server failed to apply.
async fn get_untyped(client: &Client, name: &str) -> Value {
    let resource = ApiResource::erase::<KasprApp>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
    api.get(name)
        .await
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
        .data
}

#[tokio::test]
async fn full_app_is_accepted_and_read_back_with_defaults() {
    let (client, api) = apps().await;
    let object = app(
        "full",
        json!({
            "packages": ["requests==2.31.0", "pandas>=2.0"],
            "indexUrl": "https://pypi.example.com/simple",
            "extraIndexUrls": ["https://mirror.example.com/simple"],
            "trustedHosts": ["pypi.example.com", "10.0.0.5:8080"],
            "credentials": {"secretRef": {"name": "pypi-creds"}},
            "installPolicy": {"retries": 5},
            "installer": "uv",
            "cache": {"enabled": true, "size": "5Gi", "storageClass": "fast"},
            "resources": {"requests": {"cpu": "100m"}}
        }),
    );
    apply(&api, object)
        .await
        .expect("a full KasprApp is accepted");
    let read = api.get("full").await.expect("read back");
    let pp = read.spec.python_packages.expect("pythonPackages kept");
    assert_eq!(pp.packages, ["requests==2.31.0", "pandas>=2.0"]);
    assert_eq!(pp.installer, kaspr_types::Installer::Uv);
    assert_eq!(pp.install_policy.retries, 5);
    // Defaults the server filled in (visible to `kubectl get -o yaml`).
    let raw = get_untyped(&client, "full").await;
    let spp = &raw["spec"]["pythonPackages"];
    assert_eq!(spp["installPolicy"]["timeout"], 600);
    assert_eq!(spp["installPolicy"]["onFailure"], "block");
    assert_eq!(spp["credentials"]["secretRef"]["usernameKey"], "username");
    assert_eq!(spp["credentials"]["secretRef"]["passwordKey"], "password");
    assert_eq!(spp["cache"]["accessMode"], "ReadWriteMany");
    assert_eq!(spp["cache"]["deleteClaim"], true);
    assert_eq!(spp["cache"]["keepEnvs"], 2);
}

#[tokio::test]
async fn server_fills_defaults_of_omitted_objects() {
    let (client, api) = apps().await;
    apply(&api, app("minimal", json!({"packages": ["requests"]})))
        .await
        .expect("accepted");
    let obj = get_untyped(&client, "minimal").await;
    let pp = &obj["spec"]["pythonPackages"];
    assert_eq!(
        pp["installPolicy"],
        json!({"retries": 3, "timeout": 600, "onFailure": "block"})
    );
    assert_eq!(pp["installer"], "pip");
    assert_eq!(
        pp["cache"],
        json!({"type": "pvc", "enabled": false, "size": "256Mi", "accessMode": "ReadWriteMany", "deleteClaim": true, "keepEnvs": 2})
    );
}

#[tokio::test]
async fn malformed_apps_are_rejected_with_a_field_path() {
    let (client, _) = apps().await;
    let cases = [
        (
            json!({"packages": ["a"], "indexUrl": "ftp://x"}),
            "spec.pythonPackages.indexUrl",
        ),
        (
            json!({"packages": ["a"], "extraIndexUrls": ["https://ok.example", "https://u:p@x.example"]}),
            "spec.pythonPackages.extraIndexUrls[1]",
        ),
        (
            json!({"packages": ["a"], "installPolicy": {"onFailure": "warn"}}),
            "spec.pythonPackages.installPolicy.onFailure",
        ),
        (
            json!({"packages": ["a"], "installPolicy": {"retries": -1}}),
            "spec.pythonPackages.installPolicy.retries",
        ),
        (
            json!({"packages": ["a"], "installPolicy": {"retries": 11}}),
            "spec.pythonPackages.installPolicy.retries",
        ),
        (
            json!({"packages": ["a"], "installPolicy": {"timeout": 5}}),
            "spec.pythonPackages.installPolicy.timeout",
        ),
        (
            json!({"packages": ["a"], "credentials": {"secretRef": {"name": "creds"}}}),
            "spec.pythonPackages.credentials",
        ),
        (
            json!({"packages": ["a"], "bogus": 1}),
            "spec.pythonPackages.bogus",
        ),
        (json!({"packages": []}), "spec.pythonPackages.packages"),
        (
            json!({"packages": ["--index-url http://x"]}),
            "spec.pythonPackages.packages[0]",
        ),
        (
            json!({"packages": ["a"], "trustedHosts": ["https://h.example"]}),
            "spec.pythonPackages.trustedHosts[0]",
        ),
        (
            json!({"packages": ["a"], "cache": {"accessMode": "ReadOnlyMany"}}),
            "spec.pythonPackages.cache.accessMode",
        ),
        (
            json!({"packages": ["a"], "cache": {"size": "lots"}}),
            "spec.pythonPackages.cache.size",
        ),
        (
            json!({"packages": ["a"], "installer": "conda"}),
            "spec.pythonPackages.installer",
        ),
        // Control characters and Unicode separators would split the one-a-line list the
        // script reads into a second, unvalidated requirement.
        (
            json!({"packages": ["a\u{1c}b"]}),
            "spec.pythonPackages.packages[0]",
        ),
        (
            json!({"packages": ["ok", "a\u{2028}--index-url=http://x"]}),
            "spec.pythonPackages.packages[1]",
        ),
        (
            json!({"packages": ["a\u{0b}b"]}),
            "spec.pythonPackages.packages[0]",
        ),
        (
            json!({"packages": ["a"], "indexUrl": "https://i.example/\u{85}x"}),
            "spec.pythonPackages.indexUrl",
        ),
    ];
    for (n, (pp, path)) in cases.into_iter().enumerate() {
        let err = refused_at_create(
            &client,
            &app(&format!("bad-{n}"), pp.clone()),
            &format!("the server accepted {pp}"),
        )
        .await;
        assert!(
            err.contains(path),
            "error for {pp} does not name {path}: {err}"
        );
    }
}

#[tokio::test]
async fn an_unknown_spec_field_is_kept_as_upstream_kept_it_but_not_one_inside_a_known_field() {
    let (client, api) = apps().await;
    let mut object = app("typo", json!({"packages": ["a"]}));
    // Accepted under strict field validation (kubectl's default), and stored: the operator
    // names it in a warning instead.
    object["spec"]["pythonPackage"] = json!({"packages": ["a"]});
    apply(&api, object.clone())
        .await
        .expect("accepted, as upstream's CRD accepts it");
    let stored = get_untyped(&client, "typo").await;
    assert_eq!(stored["spec"]["pythonPackage"], json!({"packages": ["a"]}));
    // Inside a known field it is refused, as by upstream's schema (kubectl apply and create).
    object["metadata"]["name"] = json!("nested-typo");
    object["spec"]["pythonPackages"]["cache"] = json!({"sise": "1Gi"});
    let err = refused_at_create(&client, &object, "a misspelt nested field is refused").await;
    assert!(err.contains("spec.pythonPackages.cache.sise"), "{err}");
}

#[tokio::test]
async fn cache_size_may_grow_but_not_shrink() {
    let (_, api) = apps().await;
    let _ = api.delete("sized", &Default::default()).await;
    let with_size = |size: &str| {
        app(
            "sized",
            json!({"packages": ["a"], "cache": {"enabled": true, "size": size}}),
        )
    };
    apply(&api, with_size("2Gi")).await.expect("created");
    apply(&api, with_size("3Gi"))
        .await
        .expect("growing is allowed");
    let err = refused(&api, with_size("1Gi"), "shrinking is refused").await;
    assert!(err.contains("may grow but not shrink"), "{err}");
}

#[tokio::test]
async fn storage_size_may_grow_but_not_shrink() {
    let (_, api) = apps().await;
    let _ = api.delete("stored", &Default::default()).await;
    let with_size = |size: &str| {
        let mut a = app("stored", json!({"packages": ["a"]}));
        a["spec"]["storage"] = json!({"type": "persistent-claim", "size": size});
        a
    };
    apply(&api, with_size("2Gi")).await.expect("created");
    apply(&api, with_size("3Gi"))
        .await
        .expect("growing is allowed");
    let err = refused(&api, with_size("1Gi"), "shrinking is refused").await;
    assert!(
        err.contains("storage.size may grow but not shrink"),
        "{err}"
    );
}

/// Upstream's own example manifests, unchanged: every KasprApp of the version upstream serves
/// (`kaspr.io/v1alpha1`) is accepted; its two `kaspr.io/v1` drafts are refused by upstream's
/// CRD too (no such version), so they are listed here to be sure they are the only ones.
#[tokio::test]
async fn every_upstream_example_app_is_accepted_unchanged() {
    let (_, api) = apps().await;
    let mut accepted = 0;
    let mut other_version = Vec::new();
    for (path, mut object) in kaspr_test_support::upstream::example_documents() {
        if object["kind"] != "KasprApp" {
            continue;
        }
        if object["apiVersion"] != "kaspr.io/v1alpha1" {
            other_version.push(path.file_name().map(|n| n.to_string_lossy().into_owned()));
            continue;
        }
        object["metadata"]["namespace"] = json!(NAMESPACE);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.field_validation = Some(ValidationDirective::Strict);
        params.dry_run = true;
        api.patch(&name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("{}: refused: {e}", path.display()));
        accepted += 1;
    }
    assert!(accepted >= 15, "{accepted} upstream apps accepted");
    assert_eq!(
        other_version,
        [
            Some("python-packages-minimal.yaml".to_owned()),
            Some("python-packages.yaml".to_owned())
        ]
    );
}

#[tokio::test]
async fn status_subresource_accepts_python_packages_status() {
    let (_, api) = apps().await;
    // A fresh object: a status an operator run earlier against the same server left on an
    // older one would stay beside this test's.
    if api.get_opt("with-status").await.ok().flatten().is_some() {
        let _ = api.delete("with-status", &Default::default()).await;
        for _ in 0..100 {
            if api.get_opt("with-status").await.ok().flatten().is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    apply(
        &api,
        app("with-status", json!({"packages": ["requests==2.31.0"]})),
    )
    .await
    .expect("created");
    let status: KasprAppStatus = serde_json::from_value(json!({
        "observedGeneration": 1,
        "availableMembers": "1/1",
        "conditions": [{
            "type": "PythonPackagesReady", "status": "True", "reason": "PackagesInstalled",
            "message": "installed by with-status-app-0 in 45s",
            "lastTransitionTime": "2026-11-26T10:30:45Z", "observedGeneration": 1
        }],
        "pythonPackages": {
            "state": "Ready", "hash": "a38d296f011adb6e", "installed": ["requests==2.31.0"],
            "lastInstallTime": "2026-11-26T10:30:45Z", "installDuration": "45s",
            "installedBy": "with-status-app-0", "cacheMode": "per-pod",
            "cacheUsage": {"totalBytes": 1000, "usedBytes": 850, "availableBytes": 150, "usagePercent": 85.0},
            "warnings": ["Package cache 85.0% full"], "errorType": "disk_full", "error": "example"
        }
    }))
    .expect("status JSON fits the type");
    let patch = json!({"apiVersion": "kaspr.io/v1alpha1", "kind": "KasprApp", "status": status});
    api.patch_status(
        "with-status",
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .expect("status accepted by server-side apply");
    let read = api.get_status("with-status").await.expect("read status");
    assert_eq!(read.status, Some(status));
}

#[tokio::test]
async fn every_example_is_accepted_by_the_api_server() {
    let (_, api) = apps().await;
    let examples = kaspr_test_support::examples::example_app_documents();
    assert!(
        examples.len() >= 9,
        "expected the examples, found {}",
        examples.len()
    );
    for (path, mut object) in examples {
        // Into the namespace under test (crdserver serves no Namespaces), under the name as
        // written; a server-side dry run goes through schema, defaults and strict field
        // validation and stores nothing.
        object["metadata"]["namespace"] = json!(NAMESPACE);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no metadata.name", path.display()))
            .to_owned();
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.field_validation = Some(ValidationDirective::Strict);
        params.dry_run = true;
        let stored = api
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("{}: refused: {e}", path.display()));
        assert_eq!(
            serde_json::to_value(&stored.spec).expect("serialises")["bootstrapServers"],
            object["spec"]["bootstrapServers"],
            "{}",
            path.display()
        );
    }
}

#[tokio::test]
async fn a_repeated_extra_index_or_trusted_host_is_accepted_as_upstream_accepted_it() {
    let (_, api) = apps().await;
    let object = app(
        "repeats",
        json!({"packages": ["a"],
               "extraIndexUrls": ["https://a.example/simple", "https://a.example/simple"],
               "trustedHosts": ["H.example", "h.example"]}),
    );
    let stored = apply(&api, object).await.expect("accepted");
    let pp = stored.spec.python_packages.expect("packages");
    assert_eq!(pp.extra_index_urls.len(), 2, "stored as written");
    assert_eq!(pp.distinct_trusted_hosts(), ["H.example"]);
}
