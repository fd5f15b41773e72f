//! A TCP proxy to PostgreSQL that holds back every chunk, in each direction, for a
//! random time in a range that can be changed while connections are open: a database
//! that answers slowly, without touching the shared server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Rng, pg_address};

#[derive(Default)]
struct Delay {
    min_ms: AtomicU64,
    max_ms: AtomicU64,
    /// Chunks held back so far.
    delayed: AtomicU64,
}

pub struct DelayProxy {
    pub address: String,
    delay: Arc<Delay>,
}

impl DelayProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let delay = Arc::new(Delay::default());
        let shared = delay.clone();
        tokio::spawn(async move {
            let mut seed = 1;
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(pg_address()).await else {
                    continue;
                };
                let (client_read, client_write) = inbound.into_split();
                let (server_read, server_write) = outbound.into_split();
                for (from, to) in [(client_read, server_write), (server_read, client_write)] {
                    seed += 1;
                    tokio::spawn(pipe(from, to, shared.clone(), Rng::new(seed)));
                }
            }
        });
        Self { address, delay }
    }

    /// From now on, each chunk waits between `min` and `max` before it is passed on.
    pub fn set(&self, min: Duration, max: Duration) {
        self.delay
            .min_ms
            .store(min.as_millis() as u64, Ordering::SeqCst);
        self.delay
            .max_ms
            .store(max.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn delayed_chunks(&self) -> u64 {
        self.delay.delayed.load(Ordering::SeqCst)
    }
}

/// Copies one direction, chunk by chunk, in order, each after its delay.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Arc<Delay>,
    mut rng: Rng,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (min, max) = (
            delay.min_ms.load(Ordering::SeqCst),
            delay.max_ms.load(Ordering::SeqCst),
        );
        if max > 0 {
            delay.delayed.fetch_add(1, Ordering::SeqCst);
            let ms = min + rng.below(max - min + 1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
