//! The Capture container in Blob Storage, read with `azure_storage_blob`: its names
//! listed page by page (only the files a replay wants are kept), each file downloaded, two
//! 4 MiB ranges at a time, to an anonymous temporary file, so a replay holds no more than
//! one download's buffers in memory, whatever the file's size.
//!
//! Authentication follows the URL: a URL with a shared access signature (`sig=` in its
//! query) is used as it is; any other is read with a Microsoft Entra ID token from the
//! handler's identity ([`crate::store::connect::default_credential`]: the Function App's
//! managed identity in Azure, the Azure CLI's sign-in on a developer's machine), which
//! Terraform grants Storage Blob Data Reader on the container.

use std::fs::File;
use std::io::{Seek, Write};
use std::num::NonZero;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::Url;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::BlobClientDownloadOptions;
use futures_util::{StreamExt, TryStreamExt};

use super::{ArchiveError, ArchiveFile};

/// A Capture container: where its files are and how to read them.
pub struct Container {
    client: BlobContainerClient,
    /// The URL without its query, for messages (a SAS is a secret).
    shown: String,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// How a container URL is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAuth {
    /// The URL carries a shared access signature.
    Sas,
    /// Microsoft Entra ID tokens from the handler's identity.
    Entra,
}

impl ContainerAuth {
    /// What `url` asks for: [`Self::Sas`] when its query has a `sig` parameter.
    pub fn of(url: &Url) -> Self {
        if url.query_pairs().any(|(key, _)| key == "sig") {
            Self::Sas
        } else {
            Self::Entra
        }
    }
}

impl Container {
    /// The container at `url` (`https://<account>.blob.core.windows.net/<container>`,
    /// optionally with a SAS), read with `credential` unless the URL has a SAS.
    ///
    /// # Errors
    /// [`ArchiveError::ContainerUrl`] for a URL that is not a container's, or an Entra ID
    /// URL that is not HTTPS.
    pub fn new(
        url: &str,
        credential: impl FnOnce() -> Result<Arc<dyn TokenCredential>, String>,
    ) -> Result<Self, ArchiveError> {
        let bad = |reason: String| ArchiveError::ContainerUrl {
            url: redact(url),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if parsed.cannot_be_a_base()
            || parsed
                .path_segments()
                .is_none_or(|mut s| s.all(str::is_empty))
        {
            return Err(bad("it names no container".to_owned()));
        }
        let credential = match ContainerAuth::of(&parsed) {
            ContainerAuth::Sas => None,
            ContainerAuth::Entra => {
                if parsed.scheme() != "https" {
                    return Err(bad(
                        "Microsoft Entra ID tokens are only sent over https; use an https URL \
                         or a URL with a shared access signature"
                            .to_owned(),
                    ));
                }
                Some(credential().map_err(bad)?)
            }
        };
        let shown = redact(url);
        let client =
            BlobContainerClient::new(parsed, credential, None).map_err(|e| bad(e.to_string()))?;
        Ok(Self { client, shown })
    }

    /// The container's URL without its query.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The files of the container `keep` takes, from the names of all its blobs, listed
    /// 5,000 to a request.
    pub(super) async fn files(
        &self,
        keep: impl Fn(&ArchiveFile) -> bool,
    ) -> Result<Vec<ArchiveFile>, ArchiveError> {
        let error = |e: azure_core::Error| ArchiveError::Blob {
            name: self.shown.clone(),
            message: describe(&e),
        };
        let mut pages = self.client.list_blobs(None).map_err(error)?;
        let mut files = Vec::new();
        while let Some(item) = pages.try_next().await.map_err(error)? {
            if let Some(file) = item.name.as_deref().and_then(ArchiveFile::parse)
                && keep(&file)
            {
                files.push(file);
            }
        }
        Ok(files)
    }

    /// Downloads `file` into an anonymous temporary file (no name in the file system,
    /// readable by this process alone, gone when closed), positioned at its start.
    pub(super) async fn download(&self, file: &ArchiveFile) -> Result<File, ArchiveError> {
        let error = |e: azure_core::Error| ArchiveError::Download(describe(&e));
        let io = |source| ArchiveError::Io {
            path: file.name.clone().into(),
            source,
        };
        let options = BlobClientDownloadOptions {
            parallel: NonZero::new(2),
            partition_size: NonZero::new(4 << 20),
            ..Default::default()
        };
        let response = self
            .client
            .blob_client(&file.name)
            .download(Some(options))
            .await
            .map_err(error)?;
        let mut local = tempfile::tempfile().map_err(io)?;
        let mut body = response.body;
        while let Some(chunk) = body.next().await {
            local.write_all(&chunk.map_err(error)?).map_err(io)?;
        }
        local.rewind().map_err(io)?;
        Ok(local)
    }
}

/// What a storage error says, without the request's URL (and so its SAS): the status and
/// the service's error code for a refusal (`HTTP 403 AuthorizationPermissionMismatch`),
/// else the kind and the message with any signed query cut.
fn describe(e: &azure_core::Error) -> String {
    match e.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => format!(
            "HTTP {} {}",
            u16::from(*status),
            error_code.as_deref().unwrap_or("(no error code)")
        ),
        kind => format!("{kind}: {}", scrub(&e.to_string())),
    }
}

/// `text` with the query of every URL that carries a signature (`sig=`) cut to `?…`.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('?') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\''))
            .unwrap_or(tail.len());
        if tail[..end].contains("sig=") {
            out.push_str("?…");
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `url` without its query (where a SAS would be) for messages.
fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_credential() -> Result<Arc<dyn TokenCredential>, String> {
        Err("no identity here".to_owned())
    }

    #[test]
    fn a_sas_url_needs_no_identity_and_stays_out_of_messages() {
        let url =
            "http://127.0.0.1:10000/devstoreaccount1/archive?sv=2020-12-06&sr=c&sp=rl&sig=c2VjcmV0";
        let container = Container::new(url, no_credential).unwrap();
        assert_eq!(
            container.url(),
            "http://127.0.0.1:10000/devstoreaccount1/archive?…"
        );
        assert!(!format!("{container:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn an_identity_url_must_be_https_and_asks_for_the_credential() {
        let http = Container::new("http://acct.blob.core.windows.net/archive", no_credential)
            .unwrap_err()
            .to_string();
        assert!(http.contains("only sent over https"), "{http}");
        let failed = Container::new("https://acct.blob.core.windows.net/archive", no_credential)
            .unwrap_err()
            .to_string();
        assert!(failed.contains("no identity here"), "{failed}");
        for bad in [
            "not a url",
            "https://acct.blob.core.windows.net/",
            "mailto:a@b",
        ] {
            assert!(
                matches!(
                    Container::new(bad, no_credential),
                    Err(ArchiveError::ContainerUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn signed_queries_are_cut_from_messages() {
        let text = "error sending request for url (http://127.0.0.1:9/acct/archive?restype=container&comp=list&sv=2020&sig=c2VjcmV0): connection refused? yes";
        let clean = scrub(text);
        assert!(!clean.contains("c2VjcmV0"), "{clean}");
        assert!(
            clean.contains("http://127.0.0.1:9/acct/archive?…): connection refused? yes"),
            "{clean}"
        );
        assert_eq!(scrub("no url here"), "no url here");
    }

    #[test]
    fn the_url_says_which_authentication() {
        let of = |u: &str| ContainerAuth::of(&Url::parse(u).unwrap());
        assert_eq!(
            of("https://a.blob.core.windows.net/c?sv=1&sig=x"),
            ContainerAuth::Sas
        );
        assert_eq!(
            of("https://a.blob.core.windows.net/c"),
            ContainerAuth::Entra
        );
        assert_eq!(
            of("https://a.blob.core.windows.net/c?signature=x"),
            ContainerAuth::Entra
        );
    }
}
