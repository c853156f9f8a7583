//! Children in their own process group, so that a test can kill everything they started (an
//! installer under a shell under `timeout`) the way the kubelet kills a container.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Makes `command` start in a process group of its own, whose id is the child's pid.
pub fn own_process_group(command: &mut Command) -> &mut Command {
    command.process_group(0)
}

/// SIGKILL to every process of group `pgid` (through `kill(1)`: the workspace has no unsafe code).
pub fn kill_process_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}

/// A child in its own process group; dropping it kills the group and reaps the child.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
}

impl GroupChild {
    /// Spawns `command` in a process group of its own.
    pub fn spawn(command: &mut Command) -> io::Result<Self> {
        own_process_group(command)
            .spawn()
            .map(|child| Self { child })
    }

    /// The child's pid, which is also its process group's id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, e.g. to wait on it.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the whole group now and reaps the child.
    pub fn kill(mut self) {
        self.kill_and_reap();
    }

    fn kill_and_reap(&mut self) {
        kill_process_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Whether `pid` still runs (not gone, not a zombie).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit(')').next().map(str::trim).map(str::to_owned))
            .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
    }

    #[test]
    fn killing_the_group_kills_the_grandchildren() {
        let dir = std::env::temp_dir().join(format!("kaspr-test-support-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pid_file = dir.join("grandchild.pid");
        let child = GroupChild::spawn(
            Command::new("sh")
                .arg("-c")
                .arg("sleep 300 & echo $! > \"$0\"; wait")
                .arg(&pid_file),
        )
        .expect("sh starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        let grandchild = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "the grandchild never started");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(running(grandchild));
        drop(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(grandchild) {
            assert!(
                Instant::now() < deadline,
                "the grandchild outlived its group"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
