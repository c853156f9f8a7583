//! Garbage collection under real use: the operator's live set protects every env a pod uses,
//! and a full volume recovers by itself. Each test runs the rendered script.

mod support;

use kaspr_script::InstallResult;
use kaspr_types::InstallErrorType;
use support::*;

/// Four different specs on the authenticated index, with `extra` YAML.
fn four_specs(server: &Server, extra: &str) -> Vec<kaspr_types::PythonPackagesSpec> {
    [
        "[kaspr-demo==1.0]",
        "[kaspr-demo==2.0]",
        "[kaspr-other]",
        "[kaspr-demo==1.0, kaspr-other]",
    ]
    .iter()
    .map(|p| authed(server, p, extra))
    .collect()
}

#[test]
fn a_running_pods_env_survives_every_later_publish() {
    let server = pypiserver();
    for keep in [0, 2] {
        let cache = Cache::new();
        let specs = four_specs(
            &server,
            &format!("installPolicy: {{retries: 0}}\ncache: {{keepEnvs: {keep}}}\n"),
        );
        let hashes: Vec<String> = specs.iter().map(hash_of).collect();
        cache.set_live(&[&hashes[0]]);
        let a = run_authed("dash", "app-0", specs[0].clone(), &cache);
        a.assert_installed("spec 0");
        for (i, s) in specs.iter().enumerate().skip(1) {
            // As the operator lists it: app-0 still runs on A, the spec now asks for this one.
            cache.set_live(&[&hashes[0], &hashes[i]]);
            let out = run_authed(SHELLS[i % 3], &format!("app-{i}"), s.clone(), &cache);
            out.assert_installed(format!("spec {i}"));
            assert_eq!(
                import_version(&a.site(), "kaspr_demo").as_deref(),
                Ok("1.0"),
                "keepEnvs {keep}: app-0 lost its env when spec {i} was published"
            );
        }
        let mut expected: Vec<String> = if keep == 0 {
            // B and C were neither live nor kept: collected.
            vec![env_key(&specs[0]), env_key(&specs[3])]
        } else {
            specs.iter().map(env_key).collect()
        };
        expected.sort();
        assert_eq!(cache.envs(), expected, "keepEnvs {keep}");
    }
}

#[test]
fn without_a_readable_live_set_no_env_is_removed() {
    let server = pypiserver();
    let policy = "installPolicy: {retries: 0}\ncache: {keepEnvs: 0}\n";
    for live in [None, Some(""), Some("not a hash\n")] {
        let cache = Cache::new();
        if let Some(text) = live {
            std::fs::create_dir_all(cache.live_file().parent().expect("parent")).expect("dir");
            std::fs::write(cache.live_file(), text).expect("live file");
        }
        let specs = four_specs(&server, policy);
        for (i, s) in specs.iter().take(3).enumerate() {
            run_authed("dash", &format!("app-{i}"), s.clone(), &cache).assert_installed(i);
        }
        assert_eq!(
            cache.envs().len(),
            3,
            "live set {live:?}: nothing collected"
        );
    }
}

#[test]
fn two_hashes_installing_at_once_both_keep_their_envs() {
    let server = pypiserver();
    let cache = Cache::new();
    let policy = "installPolicy: {retries: 0}\ncache: {keepEnvs: 0}\n";
    let a = authed(&server, "[kaspr-big, kaspr-demo==1.0]", policy);
    let b = authed(&server, "[kaspr-big, kaspr-demo==2.0]", policy);
    // A rolling update: pods on A and on B at once, both listed. The list is dated in the
    // future so that only its contents protect the envs (not the rule that keeps envs used
    // after the list was written).
    cache.set_live(&[&hash_of(&a), &hash_of(&b)]);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(cache.live_file())
        .and_then(|f| f.set_modified(later))
        .expect("date the live set");
    let started = [
        start(&Run::authed("dash", "app-0", a), &cache),
        start(&Run::authed("busybox", "app-1", b), &cache),
    ];
    let outs: Vec<Outcome> = started.into_iter().map(Started::finish).collect();
    for (out, version) in outs.iter().zip(["1.0", "2.0"]) {
        out.assert_installed(version);
        assert_eq!(
            import_version(&out.site(), "kaspr_demo").as_deref(),
            Ok(version),
            "{}",
            out.output
        );
        assert_eq!(
            import_version(&out.site(), "kaspr_big").as_deref(),
            Ok("1.0")
        );
    }
    assert_eq!(cache.envs().len(), 2);
}

/// Envs of about 6 MiB each (kaspr-big is incompressible).
fn big_specs(server: &Server, keep: u32) -> Vec<kaspr_types::PythonPackagesSpec> {
    [
        "",
        ", kaspr-demo==1.0",
        ", kaspr-demo==2.0",
        ", kaspr-other",
    ]
    .iter()
    .map(|more| {
        authed(
            server,
            &format!("[kaspr-big{more}]"),
            &format!("installPolicy: {{retries: 0}}\ncache: {{keepEnvs: {keep}}}\n"),
        )
    })
    .collect()
}

#[test]
fn a_full_cache_recovers_by_itself() {
    let server = pypiserver();
    // Room for three envs and a download cache, not for a fourth env: keepEnvs 5 asks to keep
    // them all, but it yields to space. The live set holds only the newest spec.
    let cache = Cache::on_tmpfs(24);
    let specs = big_specs(&server, 5);
    for (i, s) in specs.iter().enumerate() {
        cache.set_live(&[&hash_of(s)]);
        let out = run_authed("dash", &format!("app-{i}"), s.clone(), &cache);
        out.assert_installed(i);
        assert_eq!(
            import_version(&out.site(), "kaspr_big").as_deref(),
            Ok("1.0")
        );
        let cache_bytes = dir_bytes(&cache.root().join(".cache"));
        assert!(
            cache_bytes <= 24 * 1024 * 1024 / 4,
            "download caches {cache_bytes} bytes, over a quarter of the volume"
        );
    }
    assert!(
        cache.envs().len() < specs.len(),
        "space was made by removing old envs: {:?}",
        cache.envs()
    );
    assert!(cache.envs().contains(&env_key(&specs[3])));
}

#[test]
fn growing_the_volume_or_freeing_the_live_set_recovers() {
    let server = pypiserver();
    let cache = Cache::on_tmpfs(20);
    let specs = big_specs(&server, 2);
    let hashes: Vec<String> = specs.iter().map(hash_of).collect();
    let all: Vec<&str> = hashes.iter().map(String::as_str).collect();
    // Every env is in use: nothing may be collected, so the third install cannot fit.
    cache.set_live(&all);
    let mut failed = None;
    for (i, s) in specs.iter().enumerate().take(3) {
        let out = run_authed("dash", &format!("app-{i}"), s.clone(), &cache);
        if out.report().result == InstallResult::Failed {
            failed = Some((i, out));
            break;
        }
    }
    let (i, out) = failed.expect("a 20 MiB volume holds fewer than three live 6 MiB envs");
    out.assert_error(InstallErrorType::DiskFull, i);
    assert!(
        cache.envs().len() >= 2.min(i),
        "live envs are never removed: {:?}",
        cache.envs()
    );
    assert!(
        std::fs::read_dir(cache.root().join(".staging"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "a failed install leaves no staging behind"
    );
    // Growing the PVC: the same pod succeeds on its next start.
    cache.resize(48);
    run_authed("dash", "app-9", specs[i].clone(), &cache).assert_installed("after growing");
    // Back to small, old pods gone: only the newest spec is live, and keepEnvs 0 frees the rest.
    let fourth = authed(
        &server,
        "[kaspr-big, kaspr-other]",
        "installPolicy: {retries: 0}\ncache: {keepEnvs: 0}\n",
    );
    cache.set_live(&[&hash_of(&fourth)]);
    run_authed("bash", "app-10", fourth.clone(), &cache).assert_installed("after freeing");
    assert_eq!(cache.envs(), vec![env_key(&fourth)]);
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    files_under(dir)
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}
