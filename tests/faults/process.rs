//! The real `handler` binary as a process the tests can kill and start again on the same
//! port, logging to a file (a pipe nobody reads would stall it).

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::Child;

use crate::helpers::{free_port, handler, wait_ready};

pub struct HandlerProcess {
    child: Child,
    pub port: u16,
    url: String,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl HandlerProcess {
    /// Starts the handler against `url` with `env` on top of the host's settings and
    /// waits until it answers.
    pub async fn start(url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "pm-faults-handler-{}-{port}.log",
            std::process::id()
        ));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn(url, port, &env, &log);
        wait_ready(port).await;
        Self {
            child,
            port,
            url: url.to_owned(),
            env,
            log,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the handler runs")
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is cut.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Starts the binary again on the same port, as the host restarts its worker.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.url, self.port, &self.env, &self.log);
        wait_ready(self.port).await;
    }

    /// Everything the handler logged so far, over all its starts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HandlerProcess {
    /// SIGTERM first, as the host stops its worker, so the handler exits on its own and
    /// writes what it buffered (its coverage profile too); SIGKILL after 5 s.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            for _ in 0..50 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The resident set size (VmRSS) of process `pid` in KiB; None once it has ended.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn spawn(url: &str, port: u16, env: &[(String, String)], log: &PathBuf) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    handler(url, port)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap()
}
