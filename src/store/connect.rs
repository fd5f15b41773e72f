//! How pooled connections are made: TLS with certificate verification (rustls), and the
//! password, which is either fixed (a connection string) or a Microsoft Entra ID access
//! token fetched for each new connection and refreshed before it expires.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use rustls::pki_types::CertificateDer;
use tokio::sync::Mutex;
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The scope of Azure Database for PostgreSQL access tokens.
pub const POSTGRES_SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// Transport security of database connections.
#[derive(Debug, Clone)]
pub enum Tls {
    /// Plain TCP (local development only).
    Disable,
    /// TLS, with the server's certificate verified against these roots and its name
    /// against the host (libpq's `verify-full`; `require` is treated the same: an
    /// unverified certificate protects against nothing but eavesdropping).
    Verify(Arc<rustls::RootCertStore>),
}

impl Tls {
    /// TLS verified against the Mozilla root set (which includes the roots Azure
    /// Database for PostgreSQL chains to), or against the PEM file `roots` instead.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read or holds no certificate.
    pub fn verify(roots: Option<&std::path::Path>) -> Result<Self, String> {
        let mut store = rustls::RootCertStore::empty();
        match roots {
            None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let certs: Vec<CertificateDer<'static>> =
                    rustls_pemfile::certs(&mut pem.as_slice())
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                if certs.is_empty() {
                    return Err(format!("{}: no PEM certificate in it", path.display()));
                }
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("{}: no usable root certificate", path.display()));
                }
            }
        }
        Ok(Self::Verify(Arc::new(store)))
    }

    fn connector(&self) -> Option<MakeRustlsConnect> {
        match self {
            Self::Disable => None,
            Self::Verify(roots) => {
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("the default provider supports the default versions")
                .with_root_certificates(roots.as_ref().clone())
                .with_no_client_auth();
                Some(MakeRustlsConnect::new(config))
            }
        }
    }
}

/// An access token and when it stops working.
#[derive(Clone)]
pub struct AccessToken {
    /// The token (used as the database password).
    pub secret: String,
    /// When the token stops working; the cache fetches a new one before then.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// Where tokens come from: `azure_identity` in Azure, a fixed token in tests.
pub trait TokenSource: Send + Sync {
    /// A fresh token for [`POSTGRES_SCOPE`].
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, String>>;
}

/// Tokens from an `azure_identity` credential (managed identity in Azure; workload
/// identity or the Azure CLI elsewhere).
pub struct AzureTokens(pub Arc<dyn azure_core::credentials::TokenCredential>);

impl TokenSource for AzureTokens {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, String>> {
        Box::pin(async move {
            let token = self
                .0
                .get_token(&[POSTGRES_SCOPE], None)
                .await
                .map_err(|e| format!("getting a Microsoft Entra ID token for PostgreSQL: {e}"))?;
            let expires_at = SystemTime::UNIX_EPOCH
                + Duration::from_secs(
                    u64::try_from(token.expires_on.unix_timestamp()).unwrap_or(0),
                );
            Ok(AccessToken {
                secret: token.token.secret().to_owned(),
                expires_at,
            })
        })
    }
}

/// The default credential chain for the handler: the managed identity in Azure
/// (`IDENTITY_ENDPOINT` set by App Service), else workload identity when its variables are
/// set, else the Azure CLI (a developer's machine).
///
/// `client_id` (`PAYMETRICS_DB_CLIENT_ID`) picks a user-assigned managed identity by its
/// client id; without it the managed identity is the system-assigned one. It only applies
/// under a managed identity.
///
/// # Errors
/// The credential's error text.
pub fn default_credential(
    client_id: Option<&str>,
) -> Result<Arc<dyn azure_core::credentials::TokenCredential>, String> {
    use azure_identity::{
        AzureCliCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
        UserAssignedId, WorkloadIdentityCredential,
    };
    let result: azure_core::Result<Arc<dyn azure_core::credentials::TokenCredential>> =
        if std::env::var_os("IDENTITY_ENDPOINT").is_some()
            || std::env::var_os("MSI_ENDPOINT").is_some()
        {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_owned())),
                ..Default::default()
            };
            ManagedIdentityCredential::new(Some(options)).map(|c| c as _)
        } else if std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            WorkloadIdentityCredential::new(None).map(|c| c as _)
        } else {
            AzureCliCredential::new(None).map(|c| c as _)
        };
    result.map_err(|e| e.to_string())
}

/// How the password of a new connection is found.
#[derive(Clone)]
pub enum Password {
    /// The one in the connection string (or none).
    Fixed,
    /// A Microsoft Entra ID token, cached and refreshed five minutes before it expires.
    Entra(Arc<TokenCache>),
}

impl Password {
    /// The password `database` asks for: the URL's, or Microsoft Entra ID tokens from
    /// [`default_credential`] with its `client_id`.
    ///
    /// # Errors
    /// The credential's error text, when Entra ID is asked for and none can be made.
    pub fn for_settings(database: &super::config::DatabaseSettings) -> Result<Self, String> {
        Ok(match database.auth {
            super::config::DbAuth::Password => Self::Fixed,
            super::config::DbAuth::Entra => {
                let credential = default_credential(database.client_id.as_deref())?;
                Self::Entra(Arc::new(TokenCache::new(Box::new(AzureTokens(credential)))))
            }
        })
    }
}

/// A token cache in front of a [`TokenSource`].
pub struct TokenCache {
    source: Box<dyn TokenSource>,
    current: Mutex<Option<AccessToken>>,
}

impl TokenCache {
    /// A cache for `source`.
    pub fn new(source: Box<dyn TokenSource>) -> Self {
        Self {
            source,
            current: Mutex::new(None),
        }
    }

    /// A token valid for at least five more minutes.
    ///
    /// # Errors
    /// The source's error when a new token is needed and cannot be had.
    pub async fn token(&self) -> Result<String, String> {
        let mut current = self.current.lock().await;
        let fresh = |t: &AccessToken| t.expires_at > SystemTime::now() + Duration::from_secs(300);
        if let Some(token) = current.as_ref().filter(|t| fresh(t)) {
            return Ok(token.secret.clone());
        }
        let token = self.source.token().await?;
        let secret = token.secret.clone();
        *current = Some(token);
        Ok(secret)
    }
}

/// The pool's connection factory.
pub struct Connector {
    tls: Option<MakeRustlsConnect>,
    password: Password,
}

impl Connector {
    /// A factory for `tls` and `password`.
    pub fn new(tls: &Tls, password: Password) -> Self {
        Self {
            tls: tls.connector(),
            password,
        }
    }
}

impl Connect for Connector {
    fn connect(
        &self,
        pg_config: &Config,
    ) -> BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let mut config = pg_config.clone();
        Box::pin(async move {
            if let Password::Entra(cache) = &self.password {
                match cache.token().await {
                    Ok(token) => {
                        config.password(token);
                    }
                    // The connection attempt below then fails authentication; the cause is
                    // logged here (the driver's error type cannot carry it).
                    Err(e) => tracing::error!(error = %e, "no database token"),
                }
            }
            let log_failure = |e: &tokio_postgres::Error| {
                tracing::debug!(error = %e, "database connection closed");
            };
            match &self.tls {
                None => {
                    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                    let handle = tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            log_failure(&e);
                        }
                    });
                    Ok((client, handle))
                }
                Some(tls) => {
                    let (client, connection) = config.connect(tls.clone()).await?;
                    let handle = tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            log_failure(&e);
                        }
                    });
                    Ok((client, handle))
                }
            }
        })
    }
}
