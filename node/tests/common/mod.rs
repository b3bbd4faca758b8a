//! What the node's integration tests share: opening a core over a real store, and moving
//! frames between two cores.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;

use weft_crdt::sync::Config as SyncConfig;
use weft_crdt::testkit::World;
use weft_keys::TrustAnchors;
use weft_node::{Core, Store};

/// Opens site `site`'s core of `w` over the store in `dir`.
pub(crate) fn open(w: &World, site: usize, dir: &Path) -> Core {
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
