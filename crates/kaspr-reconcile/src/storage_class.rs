//! Whether the StorageClass of a new shared packages cache can give `ReadWriteMany`, as upstream
//! checks it (`check_storage_class_rwx_support`) when it creates the cache PVC: the class named
//! in `cache.storageClass`, else the cluster's default class; its provisioner is compared with
//! those known to offer RWX. Best effort: some provisioners offer it without a known name, so a
//! miss is a warning, never a refusal.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};

/// Provisioners known to offer ReadWriteMany (matched as a part of the provisioner's name).
const RWX_PROVISIONERS: &[&str] = &[
    "efs.csi.aws.com",
    "file.csi.azure.com",
    "filestore.csi.storage.gke.io",
    "nfs.csi.k8s.io",
    "csi-nfsplugin",
    "nfs",
    "glusterfs",
    "cephfs",
];

/// The annotations that mark the default class (the beta one is still honoured by clusters).
const DEFAULT_CLASS_ANNOTATIONS: &[&str] = &[
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// What to do after reading the classes: nothing, or warn with this text.
pub fn rwx_warning(class: Option<&StorageClass>, named: Option<&str>) -> Option<String> {
    let Some(class) = class else {
        return Some(match named {
            Some(name) => format!(
                "the StorageClass {name:?} of spec.pythonPackages.cache.storageClass does not \
                 exist: the cache PVC stays Pending until it does"
            ),
            None => "no default StorageClass: the cache PVC needs \
                     spec.pythonPackages.cache.storageClass naming one that offers ReadWriteMany \
                     (or set cache.enabled: false for a per-pod cache)"
                .to_owned(),
        });
    };
    let provisioner = class.provisioner.to_ascii_lowercase();
    if RWX_PROVISIONERS.iter().any(|p| provisioner.contains(p)) {
        return None;
    }
    Some(format!(
        "the StorageClass {:?} (provisioner {:?}) may not offer ReadWriteMany, which the shared \
         packages cache needs; if the cache PVC stays Pending, use a class that does (NFS, EFS, \
         Azure Files, Filestore, CephFS), or set spec.pythonPackages.cache.enabled: false for a \
         per-pod cache",
        class.metadata.name.as_deref().unwrap_or_default(),
        class.provisioner
    ))
}

/// The cluster's default class, if one is marked.
pub fn default_class(classes: &[StorageClass]) -> Option<&StorageClass> {
    classes.iter().find(|c| {
        c.metadata.annotations.as_ref().is_some_and(|a| {
            DEFAULT_CLASS_ANNOTATIONS
                .iter()
                .any(|k| a.get(*k).is_some_and(|v| v == "true"))
        })
    })
}

/// Reads the class the cache PVC gets (`named`, else the default) and says whether to warn.
/// One list, whether a class is named or not, so the operator needs only `list` on
/// StorageClasses. An error (e.g. no permission to list them, as under a namespace-scoped
/// install) is returned for the caller to log.
pub(crate) async fn check(
    client: &kube::Client,
    named: Option<&str>,
) -> Result<Option<String>, kube::Error> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let classes = api.list(&ListParams::default()).await?.items;
    let class = match named {
        Some(name) => classes
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name)),
        None => default_class(&classes),
    };
    Ok(rwx_warning(class, named))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn class(name: &str, provisioner: &str, default: bool) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: default.then(|| {
                    BTreeMap::from([(DEFAULT_CLASS_ANNOTATIONS[0].to_owned(), "true".to_owned())])
                }),
                ..Default::default()
            },
            provisioner: provisioner.into(),
            ..Default::default()
        }
    }

    #[test]
    fn known_rwx_provisioners_pass_and_others_are_named() {
        for p in [
            "efs.csi.aws.com",
            "File.CSI.Azure.com",
            "cluster.local/nfs-subdir-external-provisioner",
            "rook-ceph.cephfs.csi.ceph.com",
        ] {
            assert_eq!(
                rwx_warning(Some(&class("shared", p, false)), Some("shared")),
                None,
                "{p}"
            );
        }
        let w = rwx_warning(Some(&class("gp3", "ebs.csi.aws.com", true)), None).expect("a warning");
        assert!(w.starts_with("the StorageClass \"gp3\" (provisioner \"ebs.csi.aws.com\") may not offer ReadWriteMany"), "{w}");
    }

    #[test]
    fn a_missing_class_or_no_default_is_said() {
        let w = rwx_warning(None, Some("fast")).expect("a warning");
        assert!(
            w.contains("\"fast\"") && w.contains("does not exist"),
            "{w}"
        );
        let w = rwx_warning(None, None).expect("a warning");
        assert!(w.starts_with("no default StorageClass"), "{w}");
    }

    #[test]
    fn the_default_is_the_annotated_class() {
        let classes = [class("a", "x", false), class("b", "nfs.csi.k8s.io", true)];
        assert_eq!(
            default_class(&classes).and_then(|c| c.metadata.name.as_deref()),
            Some("b")
        );
        assert!(default_class(&classes[..1]).is_none());
    }
}
