//! A throwaway PostgreSQL server for tests that must own the server: a private
//! authentication or TLS setup, or a server to stop and start again.
//! Included by path from the test binaries that need it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// A throwaway PostgreSQL server, stopped and removed on drop.
pub struct PrivatePg {
    /// Holds the data directory, the Unix socket and the log.
    pub dir: PathBuf,
    bin: PathBuf,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// The account the server runs as when the tests run as root.
    user: Option<String>,
    /// pg_ctl's `-o`: port, socket directory and the caller's settings, for restarts.
    options: String,
}

/// The folder of `initdb` and `pg_ctl`: `PAYMETRICS_TEST_PG_BIN` when set, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), else `pg_config --bindir` (Homebrew,
/// other packagings).
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PAYMETRICS_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    if let Some(bin) = found.pop() {
        return bin;
    }
    Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|bin| bin.join("initdb").exists())
        .expect(
            "PostgreSQL server binaries (initdb, pg_ctl): under /usr/lib/postgresql/*/bin, \
             in `pg_config --bindir`, or in PAYMETRICS_TEST_PG_BIN",
        )
}

impl PrivatePg {
    /// Starts a server with `hba` as pg_hba.conf and `extra` server settings, after
    /// `prepare` has put files into its data directory.
    pub fn start(hba: &str, extra: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pm-pg-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // PostgreSQL refuses to run as root: use its own account when we are root.
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let user = root.then(|| "postgres".to_string());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.display()
        );
        for setting in extra {
            options.push_str(&format!(" -c {setting}"));
        }
        let pg = Self {
            dir,
            bin: pg_bin(),
            port,
            user,
            options,
        };
        if let Some(user) = &pg.user {
            assert!(
                Command::new("chown")
                    .args([user.as_str(), pg.dir.to_str().unwrap()])
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
            ],
        );
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        prepare(&data);
        if let Some(user) = &pg.user {
            Command::new("chown")
                .args(["-R", user.as_str(), data.to_str().unwrap()])
                .status()
                .unwrap();
        }
        pg.start_again();
        pg
    }

    /// Starts the server again after [`PrivatePg::stop`], with the same settings.
    pub fn start_again(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                self.dir.join("log").to_str().unwrap(),
                "-w",
                "-o",
                &self.options,
                "start",
            ],
        );
    }

    /// Stops the server the way a crash does (`-m immediate`): every connection is cut,
    /// and the next start recovers from the write-ahead log.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = command.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// SQL as the superuser over the Unix socket (trusted).
    pub fn psql(&self, sql: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                self.dir.to_str().unwrap(),
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.stop());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
