//! A Cloud Storage bucket for the `cache.type: gcs` tests: the emulator from PyPI
//! (`gcp-storage-emulator`, in the test venv) behind `gcs_fixtures.py front`, which is also the
//! token endpoint. The service account key is an RSA key made with openssl for each test; the
//! token endpoint verifies the JWT with its public key and hands out the access token that the
//! front then requires of every storage request.

use std::path::{Path, PathBuf};
use std::process::Command;

use kaspr_test_support::net::free_port;
use kaspr_types::PythonPackagesSpec;

use super::{GcsAccess, Server, authed, python, venv};

/// The bucket the emulator has from the start.
pub const BUCKET: &str = "kaspr-test-cache";
/// The service account of the test keys.
pub const CLIENT_EMAIL: &str = "kaspr-cache@kaspr-test.iam.gserviceaccount.com";

/// What the front refuses.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcsFaults {
    /// Uploads get 403 (a service account with read access only).
    pub deny_uploads: bool,
    /// The token endpoint answers 401 to everything.
    pub refuse_tokens: bool,
}

/// The emulator, the front (token endpoint + authenticated storage API) and a key.
pub struct Gcs {
    pub emulator: Server,
    pub front: Server,
    /// The access token the token endpoint hands out.
    pub token: String,
    /// The service account key file (JSON) a pod mounts.
    pub key_file: PathBuf,
    /// The PEM private key inside it.
    pub private_key: String,
    dir: tempfile::TempDir,
}

fn gcs_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gcs_fixtures.py")
}

fn openssl(args: &[&str]) {
    let ok = Command::new("openssl").args(args).status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "openssl {args:?} failed (apt-get install openssl)"
    );
}

/// A fresh 2048-bit RSA key: (private PEM file, public PEM file).
fn rsa_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let p = private.to_string_lossy();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &p,
    ]);
    openssl(&[
        "pkey",
        "-in",
        &p,
        "-pubout",
        "-out",
        &public.to_string_lossy(),
    ]);
    (private, public)
}

impl Gcs {
    pub fn start() -> Self {
        Self::start_with(GcsFaults::default())
    }

    pub fn start_with(faults: GcsFaults) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (private, public) = rsa_key(dir.path(), "sa");

        let emulator_port = free_port();
        let mut command = Command::new(venv().join("bin/gcp-storage-emulator"));
        command
            .args(["start", "--host", "127.0.0.1", "--port"])
            .arg(emulator_port.to_string())
            .args(["--in-memory", "--default-bucket", BUCKET, "-q"])
            .stdout(std::process::Stdio::null());
        let emulator_url = format!("http://127.0.0.1:{emulator_port}");
        let emulator = Server::spawn(
            command,
            "127.0.0.1",
            emulator_port,
            emulator_url.clone(),
            dir.path().join("emulator.log"),
            tempfile::tempdir().expect("temp dir"),
        );

        let token = format!("ya29.kaspr-test-token-{}", std::process::id());
        let front_port = free_port();
        let log = dir.path().join("front.log");
        let mut command = Command::new(python());
        command
            .arg(gcs_fixtures())
            .arg("front")
            .arg(front_port.to_string())
            .arg(&emulator_url)
            .arg(&log)
            .arg(&public)
            .env("GCS_TOKEN", &token)
            .env("DENY_UPLOADS", if faults.deny_uploads { "1" } else { "0" })
            .env("TOKEN_REFUSE", if faults.refuse_tokens { "1" } else { "0" })
            .stdout(std::process::Stdio::null());
        let front = Server::spawn(
            command,
            "127.0.0.1",
            front_port,
            format!("http://127.0.0.1:{front_port}"),
            log,
            tempfile::tempdir().expect("temp dir"),
        );

        let private_key = std::fs::read_to_string(&private).expect("private key");
        let key_file = dir.path().join("sa.json");
        write_key_file(&key_file, &private_key, &front.url);
        Self {
            emulator,
            front,
            token,
            key_file,
            private_key,
            dir,
        }
    }

    /// What a pod gets: the key file and the storage endpoint (the front).
    pub fn access(&self) -> GcsAccess {
        GcsAccess {
            key: self.key_file.clone(),
            endpoint: self.front.url.clone(),
        }
    }

    /// A key file of the same account and token endpoint, but with another private key (one
    /// that was rotated away, say): the token endpoint refuses its signature.
    pub fn other_key_file(&self) -> PathBuf {
        let (private, _) = rsa_key(self.dir.path(), "other");
        let pem = std::fs::read_to_string(&private).expect("other key");
        let path = self.dir.path().join("other-sa.json");
        write_key_file(&path, &pem, &self.front.url);
        path
    }

    /// A file in the test dir holding `text` (e.g. a key file that is no key).
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn fixture(&self) -> Command {
        let mut cmd = Command::new(python());
        cmd.arg(gcs_fixtures());
        cmd
    }

    /// The object `name` as the emulator holds it (asked directly, without the front).
    pub fn object(&self, name: &str) -> Option<Vec<u8>> {
        let out = self.dir.path().join("object.out");
        let _ = std::fs::remove_file(&out);
        let status = self
            .fixture()
            .args(["get", &self.emulator.url, BUCKET, name])
            .arg(&out)
            .status()
            .expect("gcs_fixtures get");
        status
            .success()
            .then(|| std::fs::read(&out).expect("object"))
    }

    /// Stores `bytes` as the object `name` (directly in the emulator).
    pub fn put(&self, name: &str, bytes: &[u8]) {
        let file = self.dir.path().join("object.in");
        std::fs::write(&file, bytes).expect("write");
        let status = self
            .fixture()
            .args(["put", &self.emulator.url, BUCKET, name])
            .arg(&file)
            .status()
            .expect("gcs_fixtures put");
        assert!(status.success(), "storing {name} in the emulator");
    }

    /// The object names in the bucket.
    pub fn objects(&self) -> Vec<String> {
        let out = self
            .fixture()
            .args(["list", &self.emulator.url, BUCKET])
            .output()
            .expect("gcs_fixtures list");
        assert!(out.status.success(), "listing the bucket");
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// A hostile archive (`escape`: a `../` path; `link`: a link to /etc).
    pub fn hostile_archive(&self, kind: &str) -> Vec<u8> {
        let out = self.dir.path().join(format!("{kind}.tar.gz"));
        let status = self
            .fixture()
            .arg("archive")
            .arg(&out)
            .arg(kind)
            .status()
            .expect("gcs_fixtures archive");
        assert!(status.success());
        std::fs::read(out).expect("archive")
    }

    /// The front's log: token grants and storage requests.
    pub fn log(&self) -> String {
        self.front.log_text()
    }

    /// Token requests whose JWT the token endpoint verified.
    pub fn tokens_granted(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| *l == format!("token ok {CLIENT_EMAIL}"))
            .count()
    }

    /// Everything secret about the bucket: each line of the private key's body, and the
    /// access token.
    pub fn secret_forms(&self) -> Vec<String> {
        let mut forms: Vec<String> = self
            .private_key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_owned)
            .collect();
        forms.push(self.token.clone());
        forms
    }
}

fn write_key_file(path: &Path, private_key: &str, front: &str) {
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "kaspr-test",
        "private_key_id": "0123456789abcdef",
        "private_key": private_key,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": format!("{front}/token"),
    });
    std::fs::write(path, key.to_string()).expect("key file");
}

/// The object name of an env in the bucket: `<prefix><app>/<env key>.tar.gz`.
pub fn object_name(prefix: &str, app: &str, env_key: &str) -> String {
    format!("{prefix}{app}/{env_key}.tar.gz")
}

/// A spec with the authenticated `pypiserver()` as its index and `BUCKET` as its cache;
/// `gcs_extra` is appended inside `cache.gcs` (e.g. `, maxArchiveSize: 1Ki`).
pub fn gcs_spec(server: &Server, packages: &str, gcs_extra: &str) -> PythonPackagesSpec {
    authed(
        server,
        packages,
        &format!(
            "cache: {{type: gcs, gcs: {{bucket: {BUCKET}, secretRef: {{name: gcs-key}}{gcs_extra}}}}}\ninstallPolicy: {{retries: 0}}\n"
        ),
    )
}
