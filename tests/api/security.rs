//! Database authentication and transport against PostgreSQL servers the tests start
//! themselves (initdb + pg_ctl in a temporary directory): Entra ID tokens as passwords,
//! and TLS verification with a test certificate authority.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use paymetrics::store::connect::{AccessToken, Password, Tls, TokenCache, TokenSource};
use paymetrics::store::{self, PoolSettings};

use crate::private_pg::PrivatePg;

fn limits() -> PoolSettings {
    PoolSettings {
        max_size: 2,
        timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(10),
        lock_timeout: Duration::from_secs(5),
    }
}

/// A test credential: a fixed token, counting how often it is asked for.
struct TestTokens {
    secret: &'static str,
    lifetime: Duration,
    calls: Arc<AtomicU32>,
}

impl TokenSource for TestTokens {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Ok(AccessToken {
                secret: self.secret.to_owned(),
                expires_at: SystemTime::now() + self.lifetime,
            })
        })
    }
}

fn config(pg: &PrivatePg, host: &str, user: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(pg.port)
        .user(user)
        .dbname("postgres");
    config
}

#[tokio::test]
async fn an_entra_token_is_each_new_connections_password_and_a_wrong_one_is_refused() {
    let pg = PrivatePg::start(
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        &["password_encryption=scram-sha-256"],
        |_| {},
    );
    let token = "eyJ0eXAiOiJKV1QifQ.test-token-for-func-paymetrics";
    pg.psql(&format!(
        "CREATE ROLE \"func-paymetrics\" LOGIN PASSWORD '{token}'"
    ));

    // A token that expires within the refresh margin is fetched again for each connection.
    let calls = Arc::new(AtomicU32::new(0));
    let tokens = TestTokens {
        secret: token,
        lifetime: Duration::from_secs(60),
        calls: calls.clone(),
    };
    let pool = store::pool_with(
        config(&pg, "127.0.0.1", "func-paymetrics"),
        &Tls::Disable,
        Password::Entra(Arc::new(TokenCache::new(Box::new(tokens)))),
        limits(),
    )
    .unwrap();
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    let who: String = a
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "func-paymetrics");
    drop(b);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a near-expiry token is refreshed"
    );

    // A long-lived token is reused.
    let calls = Arc::new(AtomicU32::new(0));
    let tokens = TestTokens {
        secret: token,
        lifetime: Duration::from_secs(3600),
        calls: calls.clone(),
    };
    let pool = store::pool_with(
        config(&pg, "127.0.0.1", "func-paymetrics"),
        &Tls::Disable,
        Password::Entra(Arc::new(TokenCache::new(Box::new(tokens)))),
        limits(),
    )
    .unwrap();
    let _held = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let wrong = TestTokens {
        secret: "not-the-token",
        lifetime: Duration::from_secs(3600),
        calls: Arc::default(),
    };
    let pool = store::pool_with(
        config(&pg, "127.0.0.1", "func-paymetrics"),
        &Tls::Disable,
        Password::Entra(Arc::new(TokenCache::new(Box::new(wrong)))),
        limits(),
    )
    .unwrap();
    let err = format!("{:?}", pool.get().await.unwrap_err());
    assert!(err.contains("password authentication failed"), "{err}");
}

/// A fresh certificate authority.
pub(crate) fn self_signed_ca() -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

#[tokio::test]
async fn tls_is_verified_against_the_right_root_and_refused_with_another() {
    use rcgen::{CertificateParams, KeyPair, SanType};

    let ca = self_signed_ca();
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_cert = server.signed_by(&server_key, &ca).unwrap();
    let other_ca = self_signed_ca();

    let pg = PrivatePg::start(
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n",
        &[
            "ssl=on",
            "ssl_cert_file=server.crt",
            "ssl_key_file=server.key",
        ],
        |data| {
            std::fs::write(data.join("server.crt"), server_cert.pem()).unwrap();
            std::fs::write(data.join("server.key"), server_key.serialize_pem()).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        },
    );
    let roots = pg.dir.join("ca.pem");
    std::fs::write(&roots, ca.pem()).unwrap();
    let other = pg.dir.join("other.pem");
    std::fs::write(&other, other_ca.pem()).unwrap();

    let mut tls_config = config(&pg, "localhost", "postgres");
    tls_config.ssl_mode(tokio_postgres::config::SslMode::Require);
    let connect = |tls: Tls| {
        let config = tls_config.clone();
        async move {
            let pool = store::pool_with(config, &tls, Password::Fixed, limits()).unwrap();
            let client = pool.get().await.map_err(|e| format!("{e:?}"))?;
            let ssl: bool = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            Ok::<bool, String>(ssl)
        }
    };
    assert_eq!(connect(Tls::verify(Some(&roots)).unwrap()).await, Ok(true));
    let refused = connect(Tls::verify(Some(&other)).unwrap())
        .await
        .unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let public_roots = connect(Tls::verify(None).unwrap()).await.unwrap_err();
    assert!(
        public_roots.to_lowercase().contains("certificate"),
        "{public_roots}"
    );
    // Plain TCP is rejected by this server's pg_hba.conf.
    assert!(connect(Tls::Disable).await.is_err());
}
