//! Arbitrary and mutated bytes never panic a decoder, and never get a change accepted.

use proptest::prelude::*;
use weft_crdt::sync::Message;
use weft_crdt::testkit::{Cluster, World};
use weft_crdt::{NewGroup, SignedChange, Visibility};

fn sample_changes() -> (World, Vec<SignedChange>) {
    let w = World::new(2, 2);
    let mut r = w.replica();
    let a = &w.authors[0];
    let g = r
        .create_group(
            a,
            &NewGroup {
                name: "Décodeurs",
                description: "d",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1,
            1,
        )
        .unwrap();
    let (t, l) = r
        .create_thread(a, g.doc(), "T", "corps du message #fuzz @e1", 2, 2)
        .unwrap();
    let (rep, _) = r.reply(a, t.doc(), "réponse", None, 3, 3).unwrap();
    (w, vec![g, t, l, rep])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = SignedChange::decode(&bytes);
        let _ = Message::decode(&bytes);
        // With a valid frame header in front, the body decoders see the bytes too.
        for kind in 1u8..=8 {
            let mut frame = vec![0, 1, kind];
            frame.extend_from_slice(&bytes);
            let _ = Message::decode(&frame);
        }
    }

    #[test]
    fn mutated_changes_are_refused_or_identical(which in 0usize..4, flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4)) {
        let (w, changes) = sample_changes();
        let original = changes[which].bytes().to_vec();
        let mut bytes = original.clone();
        for (pos, bit) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        let mut r = w.replica();
        // Feed the true history first (except the mutated one), then the mutant.
        let others: Vec<SignedChange> = changes.iter().enumerate().filter(|(i, _)| *i != which).map(|(_, c)| c.clone()).collect();
        r.ingest(others);
        let report = r.ingest_bytes([bytes.as_slice()]);
        if bytes != original {
            // A flipped bit breaks the signature (or the framing): never accepted.
            prop_assert!(report.accepted.is_empty(), "a mutated change was accepted");
        }
    }

    #[test]
    fn random_frames_never_panic_the_engine(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..512), 1..8), kinds in proptest::collection::vec(1u8..=9, 1..8)) {
        let mut c = Cluster::new(World::new(2, 2), Default::default());
        c.connect_all();
        c.run();
        for (f, k) in frames.iter().zip(kinds.iter().cycle()) {
            let mut frame = vec![0, 1, *k];
            frame.extend_from_slice(f);
            c.engines[1].handle_frame("site0", &frame, 0, &mut c.replicas[1]);
            c.engines[1].handle_frame("site0", f, 0, &mut c.replicas[1]);
        }
        c.collect();
        c.run();
    }
}

#[test]
fn compressed_automerge_chunks_are_refused() {
    let (_, changes) = sample_changes();
    // Re-sign a compressed form of a valid change: refused before inflating.
    let mut change = changes[1].change().clone();
    let compressed = change.bytes().to_vec();
    assert_eq!(compressed[8], 2, "large enough to be compressed");
    let mut payload = vec![1u8];
    payload.extend_from_slice(&compressed);
    let w = World::new(2, 2);
    let env =
        weft_keys::Envelope::seal(weft_keys::Domain::CHANGE, &w.authors[0].key, "e0", &payload);
    let err = SignedChange::decode(&env.to_bytes()).unwrap_err();
    assert!(matches!(err, weft_crdt::DecodeError::Compressed), "{err}");
}

#[test]
fn oversized_frames_are_refused_before_decoding() {
    let big = vec![0u8; weft_crdt::sync::message::MAX_FRAME + 1];
    assert!(matches!(
        Message::decode(&big),
        Err(weft_crdt::sync::FrameError::TooLarge(_))
    ));
}
