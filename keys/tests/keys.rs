//! Integration tests of weft-keys: trust chains, the directory, certificates, envelopes, and
//! every way a forged, stale or garbled object must be refused.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use weft_keys::certs::{verify_employee_cert, verify_site_cert};
use weft_keys::directory::{self, Directory, DirectoryError, Employee, Role, Site, Status};
use weft_keys::{
    CertError, ChainError, CrossCert, Domain, EmployeeCert, Envelope, EnvelopeError, SecretKey,
    Signed, SignedError, SiteCert, TrustAnchors,
};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

struct World {
    root: SecretKey,
    paris_node: SecretKey,
    ny_node: SecretKey,
    dir: Directory,
}

fn employee(id: &str, site: &str, status: Status) -> Employee {
    Employee {
        id: id.into(),
        display_name: format!("Employee {id}"),
        given_name: "E".into(),
        family_name: id.into(),
        email: format!("{id}@example.com"),
        phone: String::new(),
        site: site.into(),
        title: String::new(),
        department: String::new(),
        manager: None,
        roles: if id == "cm" {
            vec![Role::CommunityManager]
        } else {
            vec![]
        },
        status,
        history: vec![],
    }
}

fn world() -> World {
    let root = key(1);
    let paris_node = key(2);
    let ny_node = key(3);
    let mut sites = BTreeMap::new();
    for (id, node) in [("paris", &paris_node), ("new-york", &ny_node)] {
        sites.insert(
            id.to_string(),
            Site {
                id: id.into(),
                name: id.into(),
                region: "Europe".into(),
                node_key: Some(node.public()),
                addresses: vec![],
                key_history: vec![],
            },
        );
    }
    let mut employees = BTreeMap::new();
    for e in [
        employee("alice", "paris", Status::Active),
        employee("bob", "new-york", Status::Active),
        employee("gone", "paris", Status::Left),
        employee("cm", "paris", Status::Active),
    ] {
        employees.insert(e.id.clone(), e);
    }
    World {
        root,
        paris_node,
        ny_node,
        dir: Directory {
            version: 3,
            issued_at: 1_700_000_000,
            organisation: "Example".into(),
            authority_chain: vec![],
            sites,
            employees,
            ..Directory::default()
        },
    }
}

fn trust(w: &World) -> TrustAnchors {
    TrustAnchors::single(w.root.public())
}

fn emp_cert(node: &SecretKey, employee: &str, site: &str, k: &SecretKey) -> Signed<EmployeeCert> {
    Signed::sign(
        node,
        &EmployeeCert {
            employee: employee.into(),
            site: site.into(),
            key: k.public(),
            issued_at: 1,
        },
    )
}

#[test]
fn directory_signed_by_root_verifies_and_versions_only_go_up() {
    let w = world();
    let signed = Signed::sign(&w.root, &w.dir);
    let held = directory::accept(None, &signed, &trust(&w)).unwrap();
    assert_eq!(held.version(), 3);
    assert_eq!(held.authority, w.root.public());

    // Same version again, and an older one: refused.
    assert_eq!(
        directory::accept(Some(&held), &signed, &trust(&w)).unwrap_err(),
        DirectoryError::NotNewer {
            held: 3,
            offered: 3
        }
    );
    let mut older = w.dir.clone();
    older.version = 2;
    let older = Signed::sign(&w.root, &older);
    assert!(matches!(
        directory::accept(Some(&held), &older, &trust(&w)),
        Err(DirectoryError::NotNewer {
            held: 3,
            offered: 2
        })
    ));

    // A newer one: accepted.
    let mut newer = w.dir.clone();
    newer.version = 4;
    let newer = Signed::sign(&w.root, &newer);
    assert_eq!(
        directory::accept(Some(&held), &newer, &trust(&w))
            .unwrap()
            .version(),
        4
    );
}

#[test]
fn cross_signed_subsidiary_directory_verifies() {
    let w = world();
    let subsidiary = key(20);
    let cross = Signed::sign(
        &w.root,
        &CrossCert {
            subsidiary: subsidiary.public(),
            name: "Example India".into(),
            issued_at: 5,
        },
    );
    let mut dir = w.dir.clone();
    dir.authority_chain = vec![cross.clone()];
    let signed = Signed::sign(&subsidiary, &dir);
    let v = directory::verify(&signed, &trust(&w)).unwrap();
    assert_eq!(v.authority, subsidiary.public());

    // Two levels: the subsidiary vouches for a sub-subsidiary.
    let grandchild = key(21);
    let cross2 = Signed::sign(
        &subsidiary,
        &CrossCert {
            subsidiary: grandchild.public(),
            name: "Example Bangalore".into(),
            issued_at: 6,
        },
    );
    dir.authority_chain = vec![cross.clone(), cross2.clone()];
    assert!(directory::verify(&Signed::sign(&grandchild, &dir), &trust(&w)).is_ok());

    // Out of order, the chain is broken.
    dir.authority_chain = vec![cross2, cross];
    assert!(matches!(
        directory::verify(&Signed::sign(&grandchild, &dir), &trust(&w)),
        Err(DirectoryError::Untrusted(ChainError::Broken {
            index: 0,
            ..
        }))
    ));

    // Without the chain, the subsidiary is not trusted.
    dir.authority_chain.clear();
    assert!(matches!(
        directory::verify(&Signed::sign(&subsidiary, &dir), &trust(&w)),
        Err(DirectoryError::Untrusted(ChainError::Untrusted(_)))
    ));
}

#[test]
fn a_cross_cert_signed_by_a_stranger_is_refused() {
    let w = world();
    let stranger = key(30);
    let rogue = key(31);
    let cross = Signed::sign(
        &stranger,
        &CrossCert {
            subsidiary: rogue.public(),
            name: "Rogue".into(),
            issued_at: 0,
        },
    );
    let mut dir = w.dir.clone();
    dir.authority_chain = vec![cross];
    assert!(matches!(
        directory::verify(&Signed::sign(&rogue, &dir), &trust(&w)),
        Err(DirectoryError::Untrusted(ChainError::Broken { .. }))
    ));
}

#[test]
fn chain_length_is_bounded() {
    let w = world();
    let mut keys = vec![key(1)];
    let mut chain = vec![];
    for i in 0..6u8 {
        let next = key(40 + i);
        chain.push(Signed::sign(
            keys.last().unwrap(),
            &CrossCert {
                subsidiary: next.public(),
                name: format!("level {i}"),
                issued_at: 0,
            },
        ));
        keys.push(next);
    }
    let mut dir = w.dir.clone();
    dir.authority_chain = chain;
    assert!(matches!(
        directory::verify(&Signed::sign(keys.last().unwrap(), &dir), &trust(&w)),
        Err(DirectoryError::Untrusted(ChainError::TooLong(6)))
    ));
}

#[test]
fn forged_directory_signature_is_refused() {
    let w = world();
    let forger = key(66);
    // The forger signs but the bytes claim the root as signer.
    let genuine = Signed::sign(&w.root, &w.dir).to_bytes();
    let forged = Signed::sign(&forger, &w.dir).to_bytes();
    let mut frankenstein = genuine.clone();
    frankenstein[38..102].copy_from_slice(&forged[38..102]);
    let parsed = Signed::<Directory>::from_bytes(&frankenstein).unwrap();
    assert_eq!(
        directory::verify(&parsed, &trust(&w)).unwrap_err(),
        DirectoryError::Signed(SignedError::BadSignature("directory"))
    );
    // Signed honestly by the forger: the signature is fine but the signer is not trusted.
    let parsed = Signed::<Directory>::from_bytes(&forged).unwrap();
    assert!(matches!(
        directory::verify(&parsed, &trust(&w)),
        Err(DirectoryError::Untrusted(ChainError::Untrusted(_)))
    ));
}

/// Builds the wire form of a signed object by hand, with a signature made in `domain`.
fn wire(kind: u8, signer: &SecretKey, domain: Domain, body: &[u8]) -> Vec<u8> {
    let sig = signer.sign(domain, body);
    let mut out = b"weft".to_vec();
    out.push(1);
    out.push(kind);
    out.extend_from_slice(&signer.public().to_bytes());
    out.extend_from_slice(&sig.0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn a_signature_made_for_another_domain_is_refused() {
    let w = world();
    let body = postcard::to_stdvec(&w.dir).unwrap();
    // The root signed these exact bytes, but as a site certificate.
    let bytes = wire(1, &w.root, Domain::SITE_CERT, &body);
    let parsed = Signed::<Directory>::from_bytes(&bytes).unwrap();
    assert_eq!(
        directory::verify(&parsed, &trust(&w)).unwrap_err(),
        DirectoryError::Signed(SignedError::BadSignature("directory"))
    );
    // The same bytes signed in the right domain verify, so the test above is meaningful.
    let good = wire(1, &w.root, Domain::DIRECTORY, &body);
    assert!(directory::verify(&Signed::from_bytes(&good).unwrap(), &trust(&w)).is_ok());

    // Envelopes: a change signature does not verify as anything else.
    let alice = key(10);
    let env = Envelope::seal(Domain::CHANGE, &alice, "alice", b"payload");
    assert_eq!(
        env.verify(Domain::custom("blob/v1"), &alice.public()),
        Err(EnvelopeError::BadSignature)
    );
}

#[test]
fn an_object_of_another_kind_is_named() {
    let w = world();
    let cert = Signed::sign(
        &w.root,
        &SiteCert {
            site: "paris".into(),
            node_key: w.paris_node.public(),
            issued_at: 0,
        },
    );
    assert_eq!(
        Signed::<Directory>::from_bytes(&cert.to_bytes()).unwrap_err(),
        SignedError::WrongKind {
            expected: "directory",
            found: "site certificate"
        }
    );
}

#[test]
fn site_certificates() {
    let w = world();
    let held = directory::verify(&Signed::sign(&w.root, &w.dir), &trust(&w)).unwrap();
    let cert = |site: &str, node: &SecretKey, by: &SecretKey| {
        Signed::sign(
            by,
            &SiteCert {
                site: site.into(),
                node_key: node.public(),
                issued_at: 0,
            },
        )
    };
    assert!(verify_site_cert(&held, &cert("paris", &w.paris_node, &w.root)).is_ok());
    // A site the directory does not list.
    assert_eq!(
        verify_site_cert(&held, &cert("tokyo", &key(50), &w.root)).unwrap_err(),
        CertError::UnknownSite("tokyo".into())
    );
    // A listed site with a node key the directory does not list for it.
    assert!(matches!(
        verify_site_cert(&held, &cert("paris", &w.ny_node, &w.root)),
        Err(CertError::NotSiteKey { .. })
    ));
    // Not signed by the authority.
    assert!(matches!(
        verify_site_cert(&held, &cert("paris", &w.paris_node, &w.paris_node)),
        Err(CertError::NotAuthority(_))
    ));
}

#[test]
fn employee_certificates_and_envelopes() {
    let w = world();
    let alice_key = key(10);
    let cert = emp_cert(&w.paris_node, "alice", "paris", &alice_key);
    let env = Envelope::seal(Domain::CHANGE, &alice_key, "alice", b"hello");
    let ok = env.verify_author(Domain::CHANGE, &w.dir, &cert).unwrap();
    assert_eq!(ok.employee, "alice");

    // Issued by another site's node.
    let wrong_node = emp_cert(&w.ny_node, "alice", "paris", &alice_key);
    assert!(matches!(
        env.verify_author(Domain::CHANGE, &w.dir, &wrong_node),
        Err(EnvelopeError::Certificate(CertError::NotSiteKey { .. }))
    ));
    // Claims a site the directory does not list.
    let unlisted = emp_cert(&key(50), "alice", "tokyo", &alice_key);
    assert_eq!(
        verify_employee_cert(&w.dir, &unlisted).unwrap_err(),
        CertError::UnknownSite("tokyo".into())
    );
    // New York's node certifying a Paris employee as if homed in New York.
    let moved = emp_cert(&w.ny_node, "alice", "new-york", &alice_key);
    assert!(matches!(
        verify_employee_cert(&w.dir, &moved),
        Err(CertError::NotHomedAt { .. })
    ));
    // An employee who has left.
    let gone_key = key(11);
    let gone = emp_cert(&w.paris_node, "gone", "paris", &gone_key);
    let env_gone = Envelope::seal(Domain::CHANGE, &gone_key, "gone", b"still here");
    assert_eq!(
        env_gone
            .verify_author(Domain::CHANGE, &w.dir, &gone)
            .unwrap_err(),
        EnvelopeError::Certificate(CertError::EmployeeLeft("gone".into()))
    );
    // Someone unknown.
    let ghost = emp_cert(&w.paris_node, "ghost", "paris", &gone_key);
    assert_eq!(
        verify_employee_cert(&w.dir, &ghost).unwrap_err(),
        CertError::UnknownEmployee("ghost".into())
    );
    // Alice's certificate on an envelope claiming to be from the community manager.
    let impostor = Envelope::seal(Domain::CHANGE, &alice_key, "cm", b"I moderate");
    assert!(matches!(
        impostor.verify_author(Domain::CHANGE, &w.dir, &cert),
        Err(EnvelopeError::AuthorMismatch { .. })
    ));
    // Signed with a key other than the certified one.
    let other = Envelope::seal(Domain::CHANGE, &key(12), "alice", b"hello");
    assert!(matches!(
        other.verify_author(Domain::CHANGE, &w.dir, &cert),
        Err(EnvelopeError::WrongKey { .. })
    ));
}

#[test]
fn leaving_revokes_a_key_once_the_directory_says_so() {
    let w = world();
    let alice_key = key(10);
    let cert = emp_cert(&w.paris_node, "alice", "paris", &alice_key);
    assert!(verify_employee_cert(&w.dir, &cert).is_ok());
    let mut next = w.dir.clone();
    next.version += 1;
    next.employees.get_mut("alice").unwrap().status = Status::Left;
    assert_eq!(
        verify_employee_cert(&next, &cert).unwrap_err(),
        CertError::EmployeeLeft("alice".into())
    );
}

#[test]
fn inconsistent_directory_is_refused() {
    let w = world();
    let mut dir = w.dir.clone();
    dir.employees.get_mut("bob").unwrap().site = "atlantis".into();
    assert!(matches!(
        directory::verify(&Signed::sign(&w.root, &dir), &trust(&w)),
        Err(DirectoryError::Invalid(m)) if m.contains("atlantis")
    ));
}

#[test]
fn truncated_objects_are_refused_without_panic() {
    let w = world();
    let bytes = Signed::sign(&w.root, &w.dir).to_bytes();
    for len in 0..bytes.len() {
        assert!(
            Signed::<Directory>::from_bytes(&bytes[..len]).is_err(),
            "len {len}"
        );
    }
    let env = Envelope::seal(Domain::CHANGE, &key(10), "alice", b"hello world").to_bytes();
    for len in 0..env.len() {
        assert!(
            Envelope::from_bytes(&env[..len], 1024).is_err(),
            "len {len}"
        );
    }
    assert!(matches!(
        Envelope::from_bytes(&env, 4),
        Err(EnvelopeError::PayloadTooLarge { size: 11, limit: 4 })
    ));
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[bit / 8] ^= 1 << (bit % 8);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn envelope_round_trips(author in "[a-z0-9._-]{1,40}", payload in proptest::collection::vec(any::<u8>(), 0..512), seed in any::<[u8; 32]>()) {
        let k = SecretKey::from_seed(&seed);
        let env = Envelope::seal(Domain::CHANGE, &k, &author, &payload);
        let back = Envelope::from_bytes(&env.to_bytes(), 1024).unwrap();
        prop_assert_eq!(back.author(), author.as_str());
        prop_assert_eq!(back.payload(), &payload[..]);
        prop_assert!(back.verify(Domain::CHANGE, &k.public()).is_ok());
    }

    #[test]
    fn signed_objects_round_trip(site in "[a-z][a-z0-9-]{0,20}", t in any::<u64>(), seed in any::<[u8; 32]>()) {
        let k = SecretKey::from_seed(&seed);
        let value = SiteCert { site, node_key: key(2).public(), issued_at: t };
        let back = Signed::<SiteCert>::from_bytes(&Signed::sign(&k, &value).to_bytes()).unwrap();
        prop_assert_eq!(back.open_by(&k.public()).unwrap(), value);
    }

    #[test]
    fn flipping_any_bit_of_a_signed_directory_fails(bit_seed in any::<usize>()) {
        let w = world();
        let bytes = Signed::sign(&w.root, &w.dir).to_bytes();
        let bit = bit_seed % (bytes.len() * 8);
        let result = Signed::<Directory>::from_bytes(&flip(&bytes, bit))
            .map_err(DirectoryError::from)
            .and_then(|s| directory::verify(&s, &trust(&w)));
        prop_assert!(result.is_err(), "bit {} still verifies", bit);
    }

    #[test]
    fn flipping_any_bit_of_an_envelope_fails(bit_seed in any::<usize>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let k = key(10);
        let bytes = Envelope::seal(Domain::CHANGE, &k, "alice", &payload).to_bytes();
        let bit = bit_seed % (bytes.len() * 8);
        let result = Envelope::from_bytes(&flip(&bytes, bit), 1024)
            .and_then(|e| e.verify(Domain::CHANGE, &k.public()).map(|()| e))
            .and_then(|e| if e.author() == "alice" { Ok(()) } else { Err(EnvelopeError::BadSignature) });
        prop_assert!(result.is_err(), "bit {} still verifies", bit);
    }

    #[test]
    fn flipping_any_bit_of_a_certificate_fails(bit_seed in any::<usize>()) {
        let w = world();
        let bytes = emp_cert(&w.paris_node, "alice", "paris", &key(10)).to_bytes();
        let bit = bit_seed % (bytes.len() * 8);
        let ok = Signed::<EmployeeCert>::from_bytes(&flip(&bytes, bit))
            .ok()
            .and_then(|c| verify_employee_cert(&w.dir, &c).ok());
        prop_assert!(ok.is_none(), "bit {} still verifies", bit);
    }

    #[test]
    fn random_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Signed::<Directory>::from_bytes(&bytes).map(|s| s.open());
        let _ = Signed::<SiteCert>::from_bytes(&bytes).map(|s| s.open());
        let _ = Signed::<EmployeeCert>::from_bytes(&bytes).map(|s| s.open());
        let _ = Signed::<CrossCert>::from_bytes(&bytes).map(|s| s.open());
        let _ = Signed::<weft_keys::EnrollRequest>::from_bytes(&bytes).map(|s| s.open());
        let _ = Envelope::from_bytes(&bytes, 1 << 20);
    }

    #[test]
    fn random_bodies_with_valid_framing_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), prefix in any::<bool>()) {
        // A valid signature over random bytes exercises the body decoders (postcard) on input
        // an attacker chose, with the framing and signature checks passed.
        let k = key(9);
        let mut body = body;
        if prefix { body.insert(0, 3); }
        let d = Signed::<Directory>::from_bytes(&wire(1, &k, Domain::DIRECTORY, &body)).unwrap();
        let _ = d.open();
        let c = Signed::<EmployeeCert>::from_bytes(&wire(4, &k, Domain::EMPLOYEE_CERT, &body)).unwrap();
        let _ = c.open();
    }
}

#[test]
fn huge_declared_lengths_are_refused_before_allocation() {
    let k = key(9);
    let mut bytes = wire(1, &k, Domain::DIRECTORY, b"x");
    bytes[102..106].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Signed::<Directory>::from_bytes(&bytes),
        Err(SignedError::TooLarge { .. })
    ));
    // A body that claims a vector of 2^32 sites must fail cleanly, not allocate.
    let body = [1u8, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let d = Signed::<Directory>::from_bytes(&wire(1, &k, Domain::DIRECTORY, &body)).unwrap();
    assert!(matches!(d.open(), Err(SignedError::Malformed { .. })));
}

/// A change names the directory version it was signed under; every node must give the same
/// verdict whatever later version it holds. The history in each version makes that possible.
#[test]
fn certificates_are_judged_as_of_the_version_they_name() {
    let w = world();
    let v1 = Directory::next_version(None, &w.dir, 10);
    assert_eq!(v1.version, 1);
    let alice_key = key(10);
    let cert = emp_cert(&w.paris_node, "alice", "paris", &alice_key);

    // Version 2: Alice leaves and Paris rotates its node key.
    let new_paris = key(60);
    let mut draft = v1.clone();
    draft.employees.get_mut("alice").unwrap().status = Status::Left;
    draft.sites.get_mut("paris").unwrap().node_key = Some(new_paris.public());
    let v2 = Directory::next_version(Some(&v1), &draft, 20);
    assert!(v2.validate().is_ok());
    assert_eq!(v2.employees["alice"].history.len(), 2);
    assert_eq!(v2.employees["bob"].history.len(), 1);

    // Signed under version 1: valid with v1 and with v2 alike.
    assert!(verify_certificate_at(&v1, &cert, 1).is_ok());
    assert!(verify_certificate_at(&v2, &cert, 1).is_ok());
    // Signed under version 2: Alice has left, and the old key no longer speaks for Paris.
    let renewed = emp_cert(&new_paris, "alice", "paris", &alice_key);
    assert_eq!(
        verify_certificate_at(&v2, &renewed, 2).unwrap_err(),
        CertError::EmployeeLeft("alice".into())
    );
    assert!(matches!(
        verify_certificate_at(&v2, &cert, 2),
        Err(CertError::NotSiteKey { .. })
    ));
    let cm_old_key = emp_cert(&w.paris_node, "cm", "paris", &key(11));
    assert!(matches!(
        verify_certificate_at(&v2, &cm_old_key, 2),
        Err(CertError::NotSiteKey { .. })
    ));
    let cm_new_key = emp_cert(&new_paris, "cm", "paris", &key(11));
    assert!(verify_certificate_at(&v2, &cm_new_key, 2).is_ok());
    assert!(matches!(
        verify_certificate_at(&v2, &cm_new_key, 1),
        Err(CertError::NotSiteKey { .. })
    ));
    // A node that holds only version 1 cannot judge a version-2 change yet: it must wait.
    assert_eq!(
        verify_certificate_at(&v1, &cm_new_key, 2).unwrap_err(),
        CertError::FutureVersion { named: 2, held: 1 }
    );

    // People dropped from the draft are kept as having left.
    let mut draft3 = v2.clone();
    draft3.employees.remove("bob");
    let v3 = Directory::next_version(Some(&v2), &draft3, 30);
    assert_eq!(v3.employees["bob"].status, Status::Left);
    assert_eq!(
        v3.employee_at("bob", 2).map(|t| t.status),
        Some(Status::Active)
    );
    assert_eq!(
        v3.employee_at("bob", 3).map(|t| t.status),
        Some(Status::Left)
    );
}

#[test]
fn a_history_that_disagrees_with_the_current_state_is_invalid() {
    let w = world();
    let v1 = Directory::next_version(None, &w.dir, 10);
    let mut bad = v1.clone();
    bad.employees.get_mut("alice").unwrap().status = Status::Left;
    assert!(bad.validate().unwrap_err().contains("history"));
}

use weft_keys::certs::verify_employee_cert_at as verify_certificate_at;

/// The directory's layout before issue times and revoked keys (layout 1).
#[derive(serde::Serialize)]
struct Layout1 {
    version: u64,
    issued_at: u64,
    organisation: String,
    authority_chain: Vec<Signed<CrossCert>>,
    sites: BTreeMap<String, Site>,
    employees: BTreeMap<String, Employee>,
}

#[test]
fn a_directory_signed_in_the_older_layout_still_opens() {
    let w = world();
    let old = Layout1 {
        version: w.dir.version,
        issued_at: w.dir.issued_at,
        organisation: w.dir.organisation.clone(),
        authority_chain: vec![],
        sites: w.dir.sites.clone(),
        employees: w.dir.employees.clone(),
    };
    let body = postcard::to_stdvec(&old).unwrap();
    let bytes = wire(1, &w.root, Domain::DIRECTORY, &body);
    let signed: Signed<Directory> = Signed::from_bytes(&bytes).unwrap();
    let opened = directory::verify(&signed, &trust(&w)).unwrap().directory;
    assert_eq!(opened.version, w.dir.version);
    assert_eq!(opened.employees, w.dir.employees);
    assert_eq!(opened.issued.get(&w.dir.version), Some(&w.dir.issued_at));
    assert!(opened.revoked_keys.is_empty());
    // Garbage in either layout is still refused with a reason.
    let junk = wire(1, &w.root, Domain::DIRECTORY, &[1, 2, 3]);
    let signed: Signed<Directory> = Signed::from_bytes(&junk).unwrap();
    assert!(matches!(signed.open(), Err(SignedError::Malformed { .. })));
}

#[test]
fn a_revoked_node_key_is_no_sites_key_at_any_version_and_versions_are_dated() {
    let w = world();
    let v3 = w.dir.clone();
    let mut draft = v3.clone();
    let new_paris = key(50);
    draft.sites.get_mut("paris").unwrap().node_key = Some(new_paris.public());
    draft.revoked_keys.push(weft_keys::RevokedKey {
        site: "paris".into(),
        key: w.paris_node.public(),
        from_version: 0,
        reason: "laptop stolen".into(),
    });
    let v4 = Directory::next_version(Some(&v3), &draft, 1_800_000_000);
    assert!(v4.validate().is_ok(), "{:?}", v4.validate());
    assert_eq!(v4.revoked_keys[0].from_version, 4);
    assert_eq!(
        v4.node_key_at("paris", 1),
        None,
        "the revoked key at an old version"
    );
    assert_eq!(v4.node_key_at("paris", 4), Some(new_paris.public()));
    assert!(v4.listed_node_key_of("paris", &w.paris_node.public()));
    assert_eq!(v4.issued.get(&4), Some(&1_800_000_000));
    assert_eq!(v4.issued.get(&3), Some(&v3.issued_at));
    assert_eq!(v4.version_in_force(1_799_999_999), Some(3));
    assert_eq!(v4.version_in_force(1_800_000_000), Some(4));
    assert_eq!(v4.version_in_force(v3.issued_at - 1), None);
    // The next version keeps the revocation and its date.
    let v5 = Directory::next_version(Some(&v4), &v4, 1_800_000_100);
    assert_eq!(v5.revoked_keys, v4.revoked_keys);
    // A site certificate for the revoked key no longer verifies.
    let signed = Signed::sign(&w.root, &v5);
    let verified = directory::verify(&signed, &trust(&w)).unwrap();
    let cert = Signed::sign(
        &w.root,
        &SiteCert {
            site: "paris".into(),
            node_key: w.paris_node.public(),
            issued_at: 0,
        },
    );
    assert!(verify_site_cert(&verified, &cert).is_err());
}
