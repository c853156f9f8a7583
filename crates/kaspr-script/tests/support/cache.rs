//! The packages volume of one test: a directory (or a small tmpfs that really fills up) with
//! the operator's live set beside it.

use std::path::PathBuf;
use std::process::Command;

/// A packages root standing for the PVC, shared by the runs of one test.
pub struct Cache {
    pub dir: tempfile::TempDir,
    /// The root is a tmpfs of its own (unmounted on drop).
    mounted: bool,
}

impl Drop for Cache {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.root()).status();
        }
    }
}

impl Cache {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            mounted: false,
        }
    }

    /// A root on a tmpfs of `mib` MiB: a small volume that really fills up.
    pub fn on_tmpfs(mib: u32) -> Self {
        let mut cache = Self::new();
        std::fs::create_dir_all(cache.root()).expect("root");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(cache.root())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            mounted,
            "mounting a {mib} MiB tmpfs failed: this test needs root (CI runs as root) to make a small volume"
        );
        cache.mounted = true;
        cache
    }

    /// Grows (or shrinks) the tmpfs, as growing the PVC would.
    pub fn resize(&self, mib: u32) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(self.root())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remounting the tmpfs at {mib} MiB failed");
    }

    /// Bytes in use on the root's filesystem.
    pub fn used_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=used"])
            .arg(self.root())
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("df prints the used bytes")
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("packages")
    }
    /// The live-set file (the operator's ConfigMap); absent until a test writes it.
    pub fn live_file(&self) -> PathBuf {
        self.dir.path().join("live/live-hashes")
    }
    /// Writes the live set as the operator would: the hashes, sorted, one a line.
    pub fn set_live(&self, hashes: &[&str]) {
        let mut sorted: Vec<&str> = hashes.to_vec();
        sorted.sort();
        sorted.dedup();
        let path = self.live_file();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("live dir");
        std::fs::write(
            path,
            sorted.iter().map(|h| format!("{h}\n")).collect::<String>(),
        )
        .expect("live file");
    }
    /// Names under envs/.
    pub fn envs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("envs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}
