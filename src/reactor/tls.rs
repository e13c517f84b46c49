//! The server's TLS settings: the certificate and key from PEM files, or a
//! self-signed pair made on first start and kept next to the database so it
//! stays the same across restarts.
//!
//! This runs once at start, before the reactor; it never touches a client.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::Config;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Where the generated pair lives for a database at `db`: `parley.db` gives
/// `parley-cert.pem` and `parley-key.pem` in the same directory.
pub fn generated_paths(db: &Path) -> (PathBuf, PathBuf) {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "parley".into());
    let dir = db.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{stem}-cert.pem")),
        dir.join(format!("{stem}-key.pem")),
    )
}

/// Builds the rustls server settings from the configuration.
pub fn server_config(config: &Config) -> io::Result<Arc<ServerConfig>> {
    let (certs, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => load(c, k)?,
        (None, None) => self_signed(config)?,
        _ => return Err(invalid("tls_cert and tls_key go together".into())),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("TLS certificate: {e}")))?;
    Ok(Arc::new(tls))
}

type Pair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load(cert: &Path, key: &Path) -> io::Result<Pair> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("tls_cert {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "tls_cert {}: no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(format!("tls_key {}: {e}", key.display())))?;
    Ok((certs, key))
}

/// The stored self-signed pair, made and stored first if there is none. An
/// in-memory database (`:memory:`) gets a pair that is not stored.
fn self_signed(config: &Config) -> io::Result<Pair> {
    let in_memory = config.db.as_os_str() == ":memory:";
    let (cert_path, key_path) = generated_paths(&config.db);
    if !in_memory && cert_path.exists() && key_path.exists() {
        log::info!(
            "TLS: using the self-signed certificate {} (give tls_cert/tls_key to use your own)",
            cert_path.display()
        );
        return load(&cert_path, &key_path);
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !names.contains(&config.server_name) {
        names.push(config.server_name.clone());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| io::Error::other(format!("generating a TLS certificate: {e}")))?;
    let cert_pem = made.cert.pem();
    let key_pem = made.signing_key.serialize_pem();
    if in_memory {
        log::info!(
            "TLS: generated a self-signed certificate (not stored: the database is in memory)"
        );
    } else {
        write_private(&key_path, key_pem.as_bytes())?;
        std::fs::write(&cert_path, cert_pem.as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", cert_path.display())))?;
        log::info!(
            "TLS: generated a self-signed certificate, stored as {} and {}; clients must trust it or skip verification",
            cert_path.display(),
            key_path.display()
        );
    }
    let certs = vec![made.cert.der().clone()];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| io::Error::other(format!("generated key: {e}")))?;
    Ok((certs, key))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    f.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_sits_next_to_the_database() {
        let (c, k) = generated_paths(Path::new("./parley.db"));
        assert_eq!(c, Path::new("./parley-cert.pem"));
        assert_eq!(k, Path::new("./parley-key.pem"));
        let (c, _) = generated_paths(Path::new("/var/lib/chat.sqlite"));
        assert_eq!(c, Path::new("/var/lib/chat-cert.pem"));
    }

    #[test]
    fn self_signed_pair_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            db: dir.path().join("parley.db"),
            ..Config::default()
        };
        server_config(&config).unwrap();
        let (c, k) = generated_paths(&config.db);
        let first = std::fs::read(&c).unwrap();
        assert!(k.exists());
        server_config(&config).unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), first, "reused, not remade");
    }
}
