//! What the node's integration tests share: opening a core over a real store, and moving
//! frames between two cores.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;

use weft_crdt::sync::Config as SyncConfig;
use weft_crdt::testkit::World;
use weft_keys::TrustAnchors;
use weft_node::{Core, Store};

/// Makes `dir` private to this user, as a store's folder must be (`tempfile` makes them as
/// the umask says).
pub(crate) fn private(dir: &Path) -> &Path {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Opens site `site`'s core of `w` over the store in `dir`.
pub(crate) fn open(w: &World, site: usize, dir: &Path) -> Core {
    private(dir);
    Core::open(
        &w.sites[site],
        w.nodes[site].clone(),
        TrustAnchors::single(w.authority.public()),
        Some(w.directory.clone()),
        Store::open(dir).unwrap(),
        SyncConfig::default(),
        1,
    )
    .unwrap()
}

/// Moves frames between two cores until none is left.
pub(crate) fn pump(a: &mut Core, b: &mut Core) {
    loop {
        let mut moved = false;
        while let Some((to, f)) = a.poll_transmit() {
            assert_eq!(to, b.site());
            let from = a.site().to_owned();
            b.frame(&from, &f, 0);
            moved = true;
        }
        while let Some((to, f)) = b.poll_transmit() {
            assert_eq!(to, a.site());
            let from = b.site().to_owned();
            a.frame(&from, &f, 0);
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

/// A search as a user would type it.
pub(crate) fn q(text: &str) -> weft_node::search::SearchQuery {
    weft_node::search::SearchQuery::parse(text).unwrap()
}
