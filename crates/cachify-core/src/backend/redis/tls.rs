//! `rediss://`: every connection of a client is made from one `redis::Client` (or one
//! `ClusterClient`) whose address carries the TLS settings, so the sync side, the async
//! side of every runtime, the pub/sub connection and the cluster connection all speak
//! TLS with the same certificates.

use super::options::RedisOptions;
use crate::error::BackendError;

/// A client for `url` with the TLS certificates of `options` (when built with `tls`
/// and a CA or client certificate is set; a `rediss://` URL without them uses the
/// system's roots).
pub(crate) fn client(url: &str, options: &RedisOptions) -> Result<redis::Client, BackendError> {
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(options)? {
        return redis::Client::build_with_tls(url, certificates).map_err(BackendError::new);
    }
    let _ = options;
    redis::Client::open(url).map_err(BackendError::new)
}

/// The certificates set on `options`, if any; a CA text without a certificate in it, or
/// with any block that does not parse, is an error (redis-rs would trust nothing, or
/// less than was given, and handshakes would fail later and less clearly).
#[cfg(feature = "tls")]
pub(crate) fn certificates(
    options: &RedisOptions,
) -> Result<Option<redis::TlsCertificates>, BackendError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};

    if let Some(pem) = &options.tls.root_cert {
        // Every block: a bad second certificate would otherwise be skipped silently.
        let mut count = 0;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            if let Err(error) = certificate {
                return Err(BackendError::new(format!(
                    "the TLS root certificates are not valid PEM: {error}"
                )));
            }
            count += 1;
        }
        if count == 0 {
            return Err(BackendError::new(
                "the TLS root certificates hold no PEM certificate",
            ));
        }
    }
    let set = options.tls.root_cert.is_some() || options.tls.client_tls.is_some();
    Ok(set.then(|| options.tls.clone()))
}

/// Makes sure rustls has a process-wide crypto provider before any connection to
/// `servers` is made, when one of them speaks TLS (`rediss://`): redis-rs enables none of
/// rustls's, and `rustls::ClientConfig::builder` panics when it finds none, or more than
/// one enabled by the application's other crates. An application that installed its own
/// keeps it; one that only uses `redis://` gets none installed, so its own later
/// `install_default` still succeeds.
pub(crate) fn install_crypto_provider(servers: &[redis::Client]) {
    if servers.iter().any(speaks_tls) {
        install_crypto_provider_now();
    }
}

/// Installs rustls's `ring` provider as the process default unless one is installed.
pub(crate) fn install_crypto_provider_now() {
    #[cfg(feature = "tls")]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Loses only to a provider installed meanwhile by another thread: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether connections to `server` speak TLS.
fn speaks_tls(server: &redis::Client) -> bool {
    matches!(
        server.get_connection_info().addr(),
        redis::ConnectionAddr::TcpTls { .. }
    )
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::speaks_tls;

    #[test]
    fn only_rediss_urls_speak_tls() {
        let plain = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let tls = redis::Client::open("rediss://127.0.0.1:6380").unwrap();
        assert!(!speaks_tls(&plain));
        assert!(speaks_tls(&tls));
    }

    /// No test of this binary builds a `rediss://` client, so the process default is
    /// still unset after a `redis://` one: an application's own `install_default` runs.
    #[test]
    fn a_client_for_a_redis_url_installs_no_crypto_provider() {
        let _client = crate::backend::RedisClient::open("redis://127.0.0.1:1").unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }
}
