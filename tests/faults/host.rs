//! A stand-in for the Functions host's Event Hubs trigger, as far as delivery goes: one
//! batch in flight per partition, partitions in parallel; a batch answered with anything
//! but 2xx is sent again until it succeeds (`maxRetryCount: -1`); a worker that dies
//! (the connection breaks) makes the host deliver again from the partition's last
//! checkpoint, written every `checkpoint_every` batches. With several targets each batch
//! goes to all of them at once, as two instances do while a partition lease moves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;

use crate::traffic::Batch;

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The handler answered: status and body.
    Answered(u16, String),
    /// No answer: refused, reset or cut.
    Broken(String),
}

/// One POST of one batch to one target.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub target: usize,
    pub started: Instant,
    pub ended: Instant,
    pub outcome: Outcome,
}

/// Everything the host saw.
#[derive(Debug, Default)]
pub struct Log {
    pub attempts: Vec<Attempt>,
    /// `ReturnValue` of every 2xx answer.
    pub answers: Vec<Value>,
    /// Batches delivered again from a checkpoint after a broken connection.
    pub replayed: usize,
    /// Batches delivered (every target answered 2xx).
    pub delivered: usize,
}

impl Log {
    /// Attempts answered with `status`.
    pub fn status_count(&self, status: u16) -> usize {
        self.attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Answered(s, _) if s == status))
            .count()
    }

    pub fn broken(&self) -> impl Iterator<Item = &Attempt> {
        self.attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Broken(_)))
    }

    /// Answers by status, for failure messages and reports.
    pub fn statuses(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for attempt in &self.attempts {
            let key = match &attempt.outcome {
                Outcome::Answered(s, _) => s.to_string(),
                Outcome::Broken(_) => "broken".to_owned(),
            };
            *by.entry(key).or_default() += 1;
        }
        by
    }

    /// The sum of a `ReturnValue` counter (`accepted`, `duplicates`) over 2xx answers.
    pub fn sum(&self, field: &str) -> u64 {
        self.answers
            .iter()
            .map(|a| a[field].as_u64().unwrap())
            .sum()
    }
}

pub struct Host {
    http: reqwest::Client,
    targets: Vec<String>,
    checkpoint_every: usize,
    retry_delay: Duration,
    /// Least time between the starts of two batches of one partition (steady traffic).
    pace: Option<Duration>,
    pub log: Mutex<Log>,
    /// POSTs currently waiting for an answer.
    pub in_flight: AtomicUsize,
}

impl Host {
    pub fn new(targets: Vec<String>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            targets,
            checkpoint_every: 1,
            retry_delay: Duration::from_millis(200),
            pace: None,
            log: Mutex::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    pub fn checkpoint_every(mut self, batches: usize) -> Self {
        self.checkpoint_every = batches;
        self
    }

    pub fn pace(mut self, every: Duration) -> Self {
        self.pace = Some(every);
        self
    }

    /// Delivers every partition's batches, each partition on its own task; returns once
    /// all are delivered (callers bound it with a timeout).
    pub async fn deliver(self: &Arc<Self>, partitions: &[Vec<Batch>]) {
        let tasks: Vec<_> = partitions
            .iter()
            .map(|batches| {
                let host = self.clone();
                let batches = batches.clone();
                tokio::spawn(async move { host.deliver_partition(&batches).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    /// [`Host::deliver`] on a task of its own, so the test can bring its fault meanwhile.
    pub fn start(self: &Arc<Self>, partitions: &[Vec<Batch>]) -> tokio::task::JoinHandle<()> {
        let (host, partitions) = (self.clone(), partitions.to_vec());
        tokio::spawn(async move { host.deliver(&partitions).await })
    }

    async fn deliver_partition(&self, batches: &[Batch]) {
        let (mut next, mut checkpoint) = (0, 0);
        let mut due = Instant::now();
        while next < batches.len() {
            if let Some(pace) = self.pace {
                tokio::time::sleep_until(due.into()).await;
                due += pace;
            }
            let sent = join_all(
                (0..self.targets.len()).map(|target| self.until_answered(target, &batches[next])),
            )
            .await;
            if sent.iter().all(|&delivered| delivered) {
                next += 1;
                self.log.lock().unwrap().delivered += 1;
                if next - checkpoint >= self.checkpoint_every {
                    checkpoint = next;
                }
            } else {
                self.log.lock().unwrap().replayed += next - checkpoint;
                next = checkpoint;
                tokio::time::sleep(self.retry_delay).await;
            }
        }
    }

    /// Sends `batch` to `target` until it answers 2xx (true) or the connection breaks
    /// (false: the host's worker is gone and the partition restarts from its checkpoint).
    async fn until_answered(&self, target: usize, batch: &Batch) -> bool {
        loop {
            match self.attempt(target, batch).await {
                Outcome::Answered(status, _) if (200..300).contains(&status) => return true,
                Outcome::Answered(..) => tokio::time::sleep(self.retry_delay).await,
                Outcome::Broken(_) => return false,
            }
        }
    }

    async fn attempt(&self, target: usize, batch: &Batch) -> Outcome {
        let started = Instant::now();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self
            .http
            .post(format!("{}/EventHubTrigger", self.targets[target]))
            .header("Content-Type", "application/json")
            .body(batch.body.clone())
            .send()
            .await;
        let outcome = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => Outcome::Answered(status, text),
                    Err(e) => Outcome::Broken(e.to_string()),
                }
            }
            Err(e) => Outcome::Broken(format!("{e:?}")),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut log = self.log.lock().unwrap();
        if let Outcome::Answered(200..=299, text) = &outcome {
            let body: Value = serde_json::from_str(text).unwrap();
            log.answers.push(body["ReturnValue"].clone());
        }
        log.attempts.push(Attempt {
            target,
            started,
            ended: Instant::now(),
            outcome: outcome.clone(),
        });
        outcome
    }
}
