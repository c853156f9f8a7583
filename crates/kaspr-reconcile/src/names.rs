//! Names and labels of the child objects. They follow the upstream (Python) operator, so that
//! switching operators adopts the existing objects: a StatefulSet's selector cannot change.

use std::collections::BTreeMap;

use kaspr_types::KasprApp;
use kube::ResourceExt;

/// The init container that installs the packages.
pub const INIT_CONTAINER: &str = "install-packages";
/// The main container.
pub(crate) const MAIN_CONTAINER: &str = "kaspr";
/// Pod-template annotation holding the packages hash; a change rolls the StatefulSet.
pub const HASH_ANNOTATION: &str = "kaspr.io/python-packages-hash";
/// The label every child of an app or a component carries (the kind it belongs to).
pub const COMPONENT_TYPE_LABEL: &str = "kaspr.io/component-type";
/// The hash of what a child holds, as upstream names it (component ConfigMaps carry it).
pub const RESOURCE_HASH_ANNOTATION: &str = "kaspr.io/resource-hash";
/// Annotation that pauses reconciling an app when `"true"` (any case), as upstream.
pub const PAUSE_ANNOTATION: &str = "kaspr.io/pause-reconciliation";
/// The finalizer upstream's framework (kopf) puts on every KasprApp it handled. Nothing removes
/// it once upstream is gone, so a deleted app would never go; this operator removes it.
pub const UPSTREAM_FINALIZER: &str = "kopf.zalando.org/KopfFinalizerMarker";
/// Label carrying the app's name on every child object and pod.
pub(crate) const APP_LABEL: &str = "kaspr.io/app";
/// The one field manager of every server-side apply.
pub(crate) const FIELD_MANAGER: &str = "kaspr-operator";
const KIND: &str = "KasprApp";

/// `<name>-app`: the StatefulSet, its headless Service and the ServiceAccount.
pub(crate) fn component(app: &KasprApp) -> String {
    format!("{}-app", app.name_any())
}

/// `<name>-app-api`: the ClusterIP Service of the web port.
pub(crate) fn api_service(app: &KasprApp) -> String {
    format!("{}-api", component(app))
}

/// `<name>-app-hpa`: the HorizontalPodAutoscaler that owns the StatefulSet's replicas.
pub(crate) fn hpa(app: &KasprApp) -> String {
    format!("{}-hpa", component(app))
}

/// `<name>-app-config`: the app's settings as `K_*` keys.
pub(crate) fn config_map(app: &KasprApp) -> String {
    format!("{}-config", component(app))
}

/// `<name>-app-pv`: the table storage volume (claim template or emptyDir).
pub(crate) fn table_volume(app: &KasprApp) -> String {
    format!("{}-pv", component(app))
}

/// `<name>-app-python-packages`: the shared packages PVC.
pub(crate) fn packages_pvc(app: &KasprApp) -> String {
    format!("{}-python-packages", component(app))
}

/// `<name>-app-python-packages`: the live-set ConfigMap (the packages hashes in use), named
/// like the packages PVC it protects.
pub(crate) fn live_set(app: &KasprApp) -> String {
    packages_pvc(app)
}

/// Labels that select the app's pods, exactly as upstream (selectors are immutable).
pub(crate) fn selector_labels(app: &KasprApp) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("kaspr.io/cluster".to_owned(), app.name_any()),
        ("kaspr.io/name".to_owned(), component(app)),
        ("kaspr.io/kind".to_owned(), KIND.to_owned()),
    ])
}

/// Labels on every child object and pod.
pub(crate) fn labels(app: &KasprApp) -> BTreeMap<String, String> {
    let mut labels = selector_labels(app);
    let name = app.name_any();
    labels.extend([
        (COMPONENT_TYPE_LABEL.to_owned(), KIND.to_owned()),
        ("app.kubernetes.io/name".to_owned(), KIND.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), name.clone()),
        (
            "app.kubernetes.io/part-of".to_owned(),
            label_value(&format!("kaspr-{name}")),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        ),
        (APP_LABEL.to_owned(), name),
    ]);
    labels
}

/// A label value: at most 63 characters, ending in an alphanumeric.
pub(crate) fn label_value(value: &str) -> String {
    let cut: String = value.chars().take(63).collect();
    cut.trim_end_matches(['.', '-', '_']).to_owned()
}

/// Whether the app's members keep their static group membership (`K_CONSUMER_GROUP_INSTANCE_ID`
/// is set): unless `kaspr.io/disable-static-group-membership` is `"true"` (any case), as upstream.
pub fn static_group_membership(app: &KasprApp) -> bool {
    !app.annotations()
        .get("kaspr.io/disable-static-group-membership")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether `kaspr.io/pause-reconciliation` holds the app (`"true"` in any case, as upstream).
pub fn paused(app: &KasprApp) -> bool {
    app.annotations()
        .get(PAUSE_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}
