//! Key files and atomic file writes.
//!
//! A secret key file holds one line, `weft-secret-key/v1 <64 hex digits>`, and is created with
//! mode `0600` (owner only) — never overwritten, never world-readable: reading one whose mode
//! lets others read it is refused, as ssh does. A public key file holds the key's 64 hex
//! digits. Every other file is written atomically (a temporary file in the same folder,
//! flushed, then renamed over the target), so a crash never leaves a half-written directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use weft_keys::{PublicKey, SecretKey, from_hex};
use zeroize::Zeroizing;

const SECRET_HEADER: &str = "weft-secret-key/v1";

/// Why a key or data file could not be read or written. Always names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("{path}: already exists; refusing to overwrite a key (move it away first)")]
    KeyExists { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a Weft secret key file ({reason})")]
    BadSecretKey { path: PathBuf, reason: &'static str },
    #[error("{path}: not a public key: {reason}")]
    BadPublicKey { path: PathBuf, reason: String },
    #[error("{path}: readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a new secret key file with mode 0600. Refuses to overwrite an existing file.
pub fn write_secret_key(path: &Path, key: &SecretKey) -> Result<(), FileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                FileError::KeyExists {
                    path: path.to_owned(),
                }
            } else {
                io_err(path)(e)
            }
        })?;
    let seed = key.to_seed();
    let line = Zeroizing::new(format!(
        "{SECRET_HEADER} {}\n",
        weft_keys::to_hex(seed.as_ref())
    ));
    file.write_all(line.as_bytes()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    sync_parent(path)
}

/// Reads a secret key file written by [`write_secret_key`].
pub fn read_secret_key(path: &Path) -> Result<SecretKey, FileError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
    let bad = |reason| FileError::BadSecretKey {
        path: path.to_owned(),
        reason,
    };
    let hex = text
        .trim()
        .strip_prefix(SECRET_HEADER)
        .ok_or_else(|| bad("missing header"))?
        .trim();
    let bytes = Zeroizing::new(from_hex(hex).ok_or_else(|| bad("not hex"))?);
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("wrong length"))?,
    );
    Ok(SecretKey::from_seed(&seed))
}

/// Writes a public key file (64 hex digits and a newline).
pub fn write_public_key(path: &Path, key: &PublicKey) -> Result<(), FileError> {
    write_atomic(path, format!("{key}\n").as_bytes())
}

/// Reads a public key file.
pub fn read_public_key(path: &Path) -> Result<PublicKey, FileError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    text.trim().parse().map_err(|e| FileError::BadPublicKey {
        path: path.to_owned(),
        reason: format!("{e}"),
    })
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    fs::read(path).map_err(io_err(path))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// renamed over `path`, and the folder flushed. Readers see the old content or the new, never
/// a mix; a crash leaves at worst a stray temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = parent(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    sync_parent(path)
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_parent(path: &Path) -> Result<(), FileError> {
    let dir = parent(path);
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_file_is_private_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = SecretKey::from_seed(&[9; 32]);
        write_secret_key(&path, &key).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_secret_key(&path).unwrap().public(), key.public());
        let other = SecretKey::from_seed(&[8; 32]);
        assert!(matches!(
            write_secret_key(&path, &other),
            Err(FileError::KeyExists { .. })
        ));
        assert_eq!(read_secret_key(&path).unwrap().public(), key.public());
    }

    #[test]
    fn world_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_secret_key(&path, &SecretKey::from_seed(&[9; 32])).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_key(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        fs::write(&path, "hello").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read_secret_key(&path),
            Err(FileError::BadSecretKey { .. })
        ));
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
