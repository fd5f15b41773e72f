//! The raw-event archive and its replay. Event Hubs Capture writes every event the hub
//! receives to Blob Storage as Avro files named
//! `{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro`
//! (docs/ARCHIVE.md); [`ArchiveFile`] reads that layout, [`Source`] lists and opens the
//! files of the container in Blob Storage ([`Container`]) or of a local copy of it, and
//! [`replay`] runs the archived events of a time range through the ingest path again
//! ([`crate::ingest::capture`] reads a file's records).

mod container;
mod replay;

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

pub use container::{Container, ContainerAuth};
pub use replay::{Progress, ReplayError, ReplayPlan, ReplayReport, replay};

/// Why the archive cannot be listed or a file opened.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A folder or file of a local archive cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// `--container` is not a URL the archive can be read from.
    #[error("--container {url}: {reason}")]
    ContainerUrl {
        /// The URL, without its query.
        url: String,
        /// Why.
        reason: String,
    },
    /// Blob Storage refused or failed listing the container.
    #[error("{name}: {message}")]
    Blob {
        /// The container's URL, without its query.
        name: String,
        /// What went wrong: `HTTP 403 AuthorizationPermissionMismatch`, or the network's
        /// error (never the request's URL, which may hold a SAS).
        message: String,
    },
    /// Blob Storage refused or failed downloading a file (the caller names the file).
    #[error("downloading it: {0}")]
    Download(String),
}

/// One archive file: its name in the container and what the name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// The name relative to the container (or to the local copy's folder), `/`-separated.
    pub name: String,
    /// The partition whose events it holds.
    pub partition_id: String,
    /// The start of the Capture window it was written for (UTC).
    pub written_at: DateTime<Utc>,
}

impl ArchiveFile {
    /// Reads Capture's layout from the last seven parts of `name`
    /// (`…/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro`); `None` for
    /// a name that is not an archive file.
    pub fn parse(name: &str) -> Option<Self> {
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() < 7 {
            return None;
        }
        let tail = &parts[parts.len() - 7..];
        let second = tail[6].strip_suffix(".avro")?;
        let number = |text: &str| text.parse::<u32>().ok();
        let date =
            NaiveDate::from_ymd_opt(tail[1].parse().ok()?, number(tail[2])?, number(tail[3])?)?;
        let time = date.and_hms_opt(number(tail[4])?, number(tail[5])?, number(second)?)?;
        let partition_id = tail[0];
        if partition_id.is_empty() {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            partition_id: partition_id.to_owned(),
            written_at: time.and_utc(),
        })
    }

    /// Replay order: by partition (numerically when both are numbers), then by time.
    fn replay_order(&self, other: &Self) -> Ordering {
        let partition = match (
            self.partition_id.parse::<u64>(),
            other.partition_id.parse::<u64>(),
        ) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => self.partition_id.cmp(&other.partition_id),
        };
        partition
            .then(self.written_at.cmp(&other.written_at))
            .then(self.name.cmp(&other.name))
    }
}

/// How far before a file's name time its events can have been enqueued, and after: the
/// longest Capture window (15 minutes), so a range never misses a file that holds part
/// of it.
const WINDOW_SLACK: TimeDelta = TimeDelta::minutes(15);

/// Where the archive is read from.
#[derive(Debug)]
pub enum Source {
    /// The Capture container in Blob Storage.
    Container(Container),
    /// A local copy of the container (`az storage blob download-batch`, or azcopy): the
    /// folder that holds the `{Namespace}` folders.
    Dir(PathBuf),
}

impl Source {
    /// The archive files that may hold events enqueued in `[from, to)` of `partitions`
    /// (all when empty), in replay order.
    ///
    /// # Errors
    /// [`ArchiveError::Io`] when a folder cannot be read, [`ArchiveError::Blob`] when the
    /// container cannot be listed.
    pub async fn list(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        partitions: &[String],
    ) -> Result<Vec<ArchiveFile>, ArchiveError> {
        let wanted = |f: &ArchiveFile| {
            (partitions.is_empty() || partitions.contains(&f.partition_id))
                && f.written_at >= from - WINDOW_SLACK
                && f.written_at < to + WINDOW_SLACK
        };
        let mut files: Vec<ArchiveFile> = match self {
            Self::Container(container) => container.files(wanted).await?,
            Self::Dir(root) => {
                let mut names = Vec::new();
                walk(root, "", &mut names)?;
                names
                    .iter()
                    .filter_map(|name| ArchiveFile::parse(name))
                    .filter(wanted)
                    .collect()
            }
        };
        files.sort_by(ArchiveFile::replay_order);
        Ok(files)
    }

    /// The file's bytes, read as they are needed (a blob is downloaded to a temporary
    /// file first).
    ///
    /// # Errors
    /// [`ArchiveError::Io`] when it cannot be opened, [`ArchiveError::Blob`] when it
    /// cannot be downloaded.
    pub async fn open(&self, file: &ArchiveFile) -> Result<Box<dyn Read + Send>, ArchiveError> {
        let opened = match self {
            Self::Container(container) => container.download(file).await?,
            Self::Dir(root) => {
                let path = root.join(&file.name);
                File::open(&path).map_err(|source| ArchiveError::Io { path, source })?
            }
        };
        Ok(Box::new(BufReader::with_capacity(1 << 16, opened)))
    }
}

/// Every file under `dir`, named relative to the root with `/`.
fn walk(dir: &Path, prefix: &str, names: &mut Vec<String>) -> Result<(), ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().map_err(io)?.is_dir() {
            walk(&entry.path(), &format!("{name}/"), names)?;
        } else {
            names.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn capture_names_give_the_partition_and_the_window() {
        let file = ArchiveFile::parse("evhns-pm/evh-pm/3/2026/12/01/20/55/03.avro").unwrap();
        assert_eq!(file.partition_id, "3");
        assert_eq!(
            file.written_at,
            Utc.with_ymd_and_hms(2026, 12, 1, 20, 55, 3).unwrap()
        );
        for bad in [
            "evhns-pm/evh-pm/3/2026/12/01/20/55/03.json",
            "3/2026/12/01/20/55",
            "ns/hub/3/2026/13/01/20/55/03.avro",
            "ns/hub//2026/12/01/20/55/03.avro",
        ] {
            assert_eq!(ArchiveFile::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_local_archive_lists_the_files_of_the_range_and_partitions_in_replay_order() {
        let root = std::env::temp_dir().join(format!("pm-archive-list-{}", std::process::id()));
        let names = [
            "ns/hub/10/2026/12/01/20/00/00.avro",
            "ns/hub/2/2026/12/01/20/05/00.avro",
            "ns/hub/2/2026/12/01/20/00/00.avro",
            "ns/hub/2/2026/12/01/18/00/00.avro",
            "ns/hub/2/2026/12/01/20/00/00.json",
        ];
        for name in names {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
        let at = |h, m| Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap();
        let source = Source::Dir(root.clone());
        let listed: Vec<String> = source
            .list(at(20, 0), at(21, 0), &[])
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(listed, [names[2], names[1], names[0]]);
        let only_10 = source
            .list(at(20, 0), at(21, 0), &["10".into()])
            .await
            .unwrap();
        assert_eq!(only_10.len(), 1);
        assert!(source.open(&only_10[0]).await.is_ok());
        assert!(matches!(
            Source::Dir(root.join("missing"))
                .list(at(20, 0), at(21, 0), &[])
                .await,
            Err(ArchiveError::Io { .. })
        ));
        std::fs::remove_dir_all(root).unwrap();
    }
}
