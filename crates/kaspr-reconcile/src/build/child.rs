//! Children as apply and `render` handle them: type-erased to their API resource and JSON, so
//! one loop applies them all and one prints them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::ApiResource;

/// One child object: where it goes and what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    /// `StatefulSet`, `ConfigMap`, ... (for errors and status messages).
    pub kind: &'static str,
    /// Group, version and plural: the URL it is applied at.
    pub resource: ApiResource,
    pub name: String,
    /// The object with apiVersion and kind, as it is sent.
    pub object: serde_json::Value,
    /// Part of the rollout itself (the StatefulSet): held while the credentials Secret is
    /// missing, so running pods keep running.
    pub rollout: bool,
}

impl Child {
    pub(crate) fn of<K>(object: &K) -> Child
    where
        K: Resource<DynamicType = ()> + k8s_openapi::Resource + serde::Serialize,
    {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".into(), K::api_version(&()).into());
            map.insert("kind".into(), K::kind(&()).into());
        }
        Child {
            kind: <K as k8s_openapi::Resource>::KIND,
            resource: ApiResource::erase::<K>(&()),
            name: object.meta().name.clone().unwrap_or_default(),
            object: value,
            rollout: false,
        }
    }
}

/// A child that exists and is this app's (an owner reference to it), but that the spec no
/// longer asks for: deleted after the apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Orphan {
    pub kind: &'static str,
    pub resource: ApiResource,
    pub name: String,
    /// Deleted only while it is this very object (a delete precondition).
    pub uid: Option<String>,
}

impl Orphan {
    pub(super) fn of<K>(meta: &ObjectMeta) -> Orphan
    where
        K: Resource<DynamicType = ()> + k8s_openapi::Resource,
    {
        Orphan {
            kind: <K as k8s_openapi::Resource>::KIND,
            resource: ApiResource::erase::<K>(&()),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
        }
    }
}
