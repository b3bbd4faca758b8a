//! One-time setup links: `weft user invite` gives an employee a link where they choose their
//! password, instead of the operator choosing it for them.
//!
//! A link's token is 32 random bytes. Only its SHA-256 is kept, as a file named after it in
//! `<data dir>/invites/`, holding the employee's id and the expiry time: so `weft user
//! invite` works whether or not the node is running (it does not open the store), and a copy
//! of the folder gives no usable link. A link works once, until it expires: it is used up
//! ([`take`]) by renaming its file, which only one of several requests racing with the same
//! link can do, before anything else happens.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The folder under the data directory.
pub const DIR: &str = "invites";

/// How long a link works unless said otherwise.
pub const DEFAULT_TTL_HOURS: u64 = 72;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    employee: String,
    /// Milliseconds since the Unix epoch.
    expires: i64,
}

fn file_of(dir: &Path, token: &str) -> Option<std::path::PathBuf> {
    // Tokens are 64 hex digits; anything else cannot name a file here.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(dir.join(format!("{name}.json")))
}

/// Creates a link's token for `employee` from `rng`, valid until `expires` (ms). Replaces
/// nothing: an employee may hold several links until one is used.
pub fn create(
    dir: &Path,
    employee: &str,
    expires: i64,
    rng: &dyn weft_node::clock::Rng,
) -> std::io::Result<String> {
    let mut raw = [0u8; 32];
    rng.fill(&mut raw)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let token = weft_node::keys::to_hex(&raw);
    let path = file_of(dir, &token).ok_or_else(|| std::io::Error::other("bad token"))?;
    std::fs::create_dir_all(dir)?;
    let body = serde_json::to_vec(&Record {
        employee: employee.to_owned(),
        expires,
    })?;
    weft_node::files::write_atomic(&path, &body)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(token)
}

/// The employee a token is for, if it is valid at `now` (ms).
pub fn check(dir: &Path, token: &str, now: i64) -> Option<String> {
    let path = file_of(dir, token)?;
    let bytes = std::fs::read(path).ok()?;
    let r: Record = serde_json::from_slice(&bytes).ok()?;
    (r.expires > now).then_some(r.employee)
}

/// Uses a link up and returns the employee it is for, if it was valid at `now` (ms). Of
/// several requests racing with one link, exactly one gets it: the file is renamed away
/// first (atomic), then read and removed. The link is gone afterwards whether or not it had
/// expired. `claim` is a random number (the claimed file's name must not clash).
pub fn take(dir: &Path, token: &str, now: i64, claim: u64) -> Option<String> {
    let path = file_of(dir, token)?;
    let claimed = path.with_extension(format!("claimed-{claim:016x}"));
    std::fs::rename(&path, &claimed).ok()?;
    let bytes = std::fs::read(&claimed);
    let _ = std::fs::remove_file(&claimed);
    let r: Record = serde_json::from_slice(&bytes.ok()?).ok()?;
    (r.expires > now).then_some(r.employee)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use weft_node::clock::SystemRng;

    #[test]
    fn of_many_requests_racing_with_one_link_exactly_one_gets_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join(DIR);
        for _ in 0..20 {
            let t = create(&d, "hdupre", i64::MAX, &SystemRng).unwrap();
            let won: usize = std::thread::scope(|s| {
                let racers: Vec<_> = (0..8)
                    .map(|i| {
                        let (d, t) = (&d, &t);
                        s.spawn(move || take(d, t, 0, i).is_some())
                    })
                    .collect();
                racers
                    .into_iter()
                    .map(|r| usize::from(r.join().unwrap()))
                    .sum()
            });
            assert_eq!(won, 1);
        }
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn a_link_works_once_and_not_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join(DIR);
        let t = create(&d, "hdupre", 1_000, &SystemRng).unwrap();
        assert_eq!(check(&d, &t, 999).as_deref(), Some("hdupre"));
        assert_eq!(check(&d, &t, 1_000), None, "expired");
        let other = create(&d, "jsmith", 5_000, &SystemRng).unwrap();
        assert_ne!(t, other);
        assert_eq!(take(&d, &other, 0, 1).as_deref(), Some("jsmith"));
        assert_eq!(check(&d, &other, 0), None, "used");
        assert_eq!(take(&d, &other, 0, 1), None, "used");
        assert_eq!(take(&d, &t, 1_000, 2), None, "expired");
        assert_eq!(check(&d, &t, 0), None, "an expired link is used up too");
        assert_eq!(check(&d, "../../etc/passwd", 0), None);
        assert_eq!(check(&d, &"0".repeat(64), 0), None);
        // Only the token's digest is on disk.
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(&t)), "{names:?}");
    }
}
