//! The live-set ConfigMap through reconcile, against the mock API server: the desired hash and
//! every existing pod's, kept current while a rollout is under way or held.

mod support;

use serde_json::{Value, json};
use support::{
    APP_UID, PLAIN, WITH_SECRET, app, context, desired_hash, finished, fixture_with_hash, start,
    volume,
};

fn live_hashes(live_set: &Value) -> &str {
    live_set["data"]["live-hashes"].as_str().unwrap_or_default()
}

/// The hashes one a line, sorted, each line ending in a newline.
fn lines(mut hashes: Vec<&str>) -> String {
    hashes.sort_unstable();
    hashes.iter().map(|h| format!("{h}\n")).collect()
}

const OLD: &str = "c69dac6587e76619";

#[tokio::test]
async fn the_live_set_keeps_an_old_hash_until_its_last_pod_is_gone() {
    let app = app(PLAIN);
    let new = desired_hash(&app);
    // Mid-rollout: app-0 installs the new hash, app-1 and app-2 still import from the old env.
    let rolling = fixture_with_hash("rolling-update.json", &new);
    let pods = |names: &[&str]| -> Value {
        let all = rolling.as_array().cloned().unwrap_or_default();
        let kept: Vec<Value> = all
            .into_iter()
            .filter(|p| names.iter().any(|n| p["metadata"]["name"] == *n))
            .collect();
        Value::Array(kept)
    };
    let rounds: [(Value, String); 3] = [
        (
            pods(&["orders-app-0", "orders-app-1", "orders-app-2"]),
            lines(vec![&new, OLD]),
        ),
        // app-1 is deleted (its replacement is not there yet): app-2 still runs the old env.
        (
            pods(&["orders-app-0", "orders-app-2"]),
            lines(vec![&new, OLD]),
        ),
        // The last pod on the old hash is gone: the next reconcile drops it.
        (pods(&["orders-app-0"]), lines(vec![&new])),
    ];
    for (pods, expected) in rounds {
        // A fresh operator each round (an unchanged status would not be written again).
        let (ctx, mut api, mut cluster) = context();
        cluster.pods(pods);
        let task = start(&app, &ctx);
        let applied = api.applies(true).await;
        assert_eq!(live_hashes(&applied.live_set), expected);
        assert_eq!(applied.live_set["kind"], "ConfigMap");
        assert_eq!(
            applied.live_set["metadata"]["ownerReferences"][0]["uid"],
            APP_UID
        );
        assert_eq!(
            applied.live_set["metadata"]["labels"]["kaspr.io/app"],
            "orders"
        );
        let sts = applied.statefulset.expect("statefulset applied");
        assert_eq!(
            volume(&sts, "python-packages-live")["configMap"],
            json!({"name": "orders-app-python-packages", "optional": true})
        );
        api.status(&app).await;
        api.nothing_more().await;
        finished(task).await;
    }
}

#[tokio::test]
async fn a_held_rollout_still_keeps_the_live_set_current() {
    let (ctx, mut api, mut cluster) = context();
    let app = app(WITH_SECRET);
    let new = desired_hash(&app);
    // Every pod still runs the old hash; the Secret the new spec names is missing.
    cluster.pods(fixture_with_hash("installed.json", OLD));
    let task = start(&app, &ctx);
    api.secret_missing().await;
    // The rollout is held (no StatefulSet apply), but the live set is applied.
    let held = api.held(&app).await;
    assert_eq!(live_hashes(&held.applied.live_set), lines(vec![&new, OLD]));
    finished(task).await;
}
