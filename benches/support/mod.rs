//! What the bench binaries share: the PostgreSQL server they measure against, fresh
//! migrated databases, the server settings they print, and CPU readings from /proc.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::Pool;
use paymetrics::ingest::Accepted;
use paymetrics::store::{self, PoolSettings};
use serde_json::json;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

/// The server on `PAYMETRICS_TEST_PG` (default 127.0.0.1:5432), as user `postgres`.
pub struct Server {
    /// host:port
    pub address: String,
    /// A connection to the `postgres` database, for CREATE/DROP DATABASE.
    pub admin: tokio_postgres::Client,
}

/// A database of its own for one run, migrated to this build's schema.
pub struct Database {
    /// Its name.
    pub name: String,
    /// Its connection string.
    pub url: String,
    /// A pool on it.
    pub pool: Pool,
}

impl Server {
    /// The server, or `None` (after saying so) when none answers: a bench without a
    /// database skips instead of failing.
    pub async fn connect(bench: &str) -> Option<Self> {
        let address =
            std::env::var("PAYMETRICS_TEST_PG").unwrap_or_else(|_| "127.0.0.1:5432".into());
        let url = format!("postgres://postgres@{address}/postgres");
        let Ok((admin, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
        else {
            println!("{bench}: skipped, no PostgreSQL at {address}");
            return None;
        };
        tokio::spawn(connection);
        Some(Self { address, admin })
    }

    /// A new database `{prefix}_{pid}_{n}`, migrated, with a pool of `pool_size`.
    pub async fn fresh_database(&self, prefix: &str, n: usize, pool_size: usize) -> Database {
        let name = format!("{prefix}_{}_{n}", std::process::id());
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            self.admin.batch_execute(&statement).await.unwrap();
        }
        let url = format!("postgres://postgres@{}/{name}", self.address);
        let pool = store::pool(
            &url,
            PoolSettings {
                max_size: pool_size,
                timeout: Duration::from_secs(10),
                statement_timeout: Duration::from_secs(1800),
                lock_timeout: Duration::from_secs(30),
            },
        )
        .unwrap();
        let mut conn = pool.get().await.unwrap();
        store::migrate(&mut conn).await.unwrap();
        // An experiment's schema change (an index dropped, a setting), applied to every
        // database of the run alike: PAYMETRICS_BENCH_AFTER_MIGRATE="SQL".
        if let Ok(sql) = std::env::var("PAYMETRICS_BENCH_AFTER_MIGRATE") {
            conn.batch_execute(&sql).await.unwrap();
        }
        drop(conn);
        Database { name, url, pool }
    }

    /// Drops `database` unless `PAYMETRICS_BENCH_KEEP_DB` is set (then says it kept it).
    pub async fn drop_database(&self, database: Database) {
        let Database { name, pool, .. } = database;
        pool.close();
        drop(pool);
        if std::env::var_os("PAYMETRICS_BENCH_KEEP_DB").is_some() {
            println!("kept database {name}");
            return;
        }
        self.admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
    }

    /// The version and the settings that decide write and aggregate speed, one line.
    pub async fn describe(&self) -> String {
        let version: String = self
            .admin
            .query_one("SHOW server_version", &[])
            .await
            .unwrap()
            .get(0);
        let rows = self
            .admin
            .query(
                "SELECT name, setting, coalesce(unit, '') FROM pg_settings
                 WHERE name IN ('shared_buffers', 'work_mem', 'fsync', 'synchronous_commit',
                                'max_parallel_workers_per_gather', 'jit', 'wal_level',
                                'max_wal_size')
                 ORDER BY name",
                &[],
            )
            .await
            .unwrap();
        let settings: Vec<String> = rows
            .iter()
            .map(|row| {
                let (name, setting, unit): (String, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                format!("{name}={setting}{unit}")
            })
            .collect();
        format!("PostgreSQL {version}: {}", settings.join(" "))
    }
}

/// A whole number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: not a whole number"))
    })
}

/// A comma-separated list of whole numbers from the environment, or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name).ok().map_or(default.to_vec(), |v| {
        v.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: not a list of whole numbers"))
            })
            .collect()
    })
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time (user + system) the process `pid` has used, from /proc; zero when it is gone.
pub fn process_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces; the fields after it are fixed.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 1000 / clock_ticks())
}

/// CPU time every running `postgres` process has used: the server's whole cost,
/// backends, WAL writer and checkpointer included.
pub fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(process_cpu)
        .sum()
}

/// CPU time the whole machine has spent busy (not idle, not waiting for I/O).
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return Duration::ZERO;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .take(8)
        .sum();
    Duration::from_millis(busy * 1000 / clock_ticks())
}

/// The peak resident set (VmHWM) of `pid` in kB, from /proc.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The kernel's clock ticks per second for /proc times (USER_HZ: 100 on Linux).
fn clock_ticks() -> u64 {
    100
}

/// The machine in one line: CPUs and memory, from /proc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {:.0} GiB",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

/// `PAYMETRICS_BENCH_CSV`, opened for appending one line per result, when it is set.
pub fn csv_appender() -> Option<std::fs::File> {
    std::env::var_os("PAYMETRICS_BENCH_CSV").map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
    })
}

/// A cheap, deterministic scramble of `n`, so amounts are not sorted by time (the close
/// growth bench's history SQL computes the same).
pub fn scramble(n: usize) -> usize {
    (n.wrapping_mul(2_654_435_761) >> 7) & 0xff_ffff
}

/// The close benches' host-shaped invocation of transactions `first..first + len`: the
/// n-th at `start + n * step_us` microseconds, base64 bodies as `dataType: binary` sends.
pub fn close_body(start: DateTime<Utc>, step_us: i64, first: usize, len: usize) -> Vec<u8> {
    let events: Vec<String> = (first..first + len)
        .map(|n| {
            let h = scramble(n);
            let currency = ["USD", "EUR", "JPY", "GBP"][n % 4];
            let status = [
                "approved", "approved", "approved", "declined", "refunded", "failed", "approved",
                "pending",
            ][h % 8];
            let amount = if currency == "JPY" {
                format!("{}", 100 + h % 90_000)
            } else {
                format!("{}.{:02}", 1 + h % 2_000, (h >> 11) % 100)
            };
            let payment_type = ["card", "ach", "wallet", "wire", "bnpl"][n % 5];
            let category = ["grocery", "travel", "electronics", "fuel"][h % 4];
            let country = ["US", "DE", "FR", "GB", "JP"][(h >> 5) % 5];
            let channel = ["pos", "online", "mobile"][(h >> 2) % 3];
            let occurred_at = start + TimeDelta::microseconds(step_us * n as i64);
            let event = json!({
                "transaction_id": format!("close-{n:010}"),
                "occurred_at": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "amount": amount,
                "currency": currency,
                "payment_type": payment_type,
                "status": status,
                "merchant_id": format!("m-{}", h % 997),
                "merchant_category": category,
                "customer_id": format!("c-{}", (h >> 3) % 50_000),
                "country": country,
                "channel": channel,
                "is_fraud": h.is_multiple_of(97)
            });
            base64::engine::general_purpose::STANDARD.encode(event.to_string())
        })
        .collect();
    let sequence: Vec<usize> = (first..first + len).collect();
    serde_json::to_vec(&json!({
        "Data": {"events": serde_json::to_string(&events).unwrap()},
        "Metadata": {
            "SequenceNumberArray": serde_json::to_string(&sequence).unwrap(),
            "TriggerPartitionContext": {"PartitionId": "0"},
        }
    }))
    .unwrap()
}

/// Writes `rows` as the batch writer would store them, by one binary `COPY` into
/// `copy_target` (a table `LIKE normalized_transactions INCLUDING ALL`): the limit the
/// ingest and replay benches measure against.
pub async fn copy_rows(conn: &tokio_postgres::Client, rows: &[Accepted], now: DateTime<Utc>) {
    if rows.is_empty() {
        return;
    }
    let sink = conn
        .copy_in(&format!(
            "COPY copy_target ({}) FROM STDIN (FORMAT binary)",
            store::TRANSACTION_COPY_COLUMNS
        ))
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(sink, store::TRANSACTION_COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    for accepted in rows {
        let row = store::TransactionRow::new(accepted, now);
        writer.as_mut().write(&row.values()).await.unwrap();
    }
    writer.finish().await.unwrap();
}
