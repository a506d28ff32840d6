//! TLS pieces that the client, the server and the tests share: where CA certificates are read from,
//! (named "danger") the verifiers that accept any certificate, and the sentences a client's TLS
//! failures read as.

mod danger;
mod failure;

use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::CertificateDer;

pub use danger::{DangerAnyClientCertificate, DangerAnyServerCertificate};
pub use failure::TlsFailure;

/// The files a CA setting (`tls.ca`, `keystore.azure.keyvault.tls.ca`, `--ca`) names: the file itself,
/// or every file in the directory (not its subdirectories), sorted so that an error always names the
/// same file.
pub fn ca_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let file = entry?.path();
        if !file.is_dir() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// The certificates in PEM text, in order; blocks of other kinds are skipped.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    CertificateDer::pem_slice_iter(pem).collect()
}
