//! Certificates: a node's key for its site, and an employee's key for the employee.
//!
//! * A [`SiteCert`] is signed by the authority: "this node key is site `paris`". The directory
//!   also lists the node key; the certificate lets a node prove its site before its peer holds
//!   the directory version that lists it.
//! * An [`EmployeeCert`] is signed by the employee's **home node**: "this key belongs to
//!   employee `hdupre`, homed at `paris`". It is valid only while the directory lists that
//!   employee as active and homed at that site, and that site's node key is the signer — so
//!   when someone leaves or moves, publishing the directory revokes their key everywhere.
//! * An [`EnrollRequest`] is what `weft site enroll` prints: the node key, signed by itself
//!   (proof that the requester holds the secret half), for the authority to sign.

use serde::{Deserialize, Serialize};

use crate::directory::{Directory, EmployeeId, SiteId, Status, VerifiedDirectory};
use crate::key::PublicKey;
use crate::signed::{Domain, Signed, SignedError, SignedKind};

/// The authority binding a node key to a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteCert {
    pub site: SiteId,
    pub node_key: PublicKey,
    /// Seconds since the Unix epoch, passed in by the caller.
    pub issued_at: u64,
}

impl SignedKind for SiteCert {
    const DOMAIN: Domain = Domain::SITE_CERT;
    const KIND: u8 = 3;
    const NAME: &'static str = "site certificate";
    const MAX_BODY: usize = 4 * 1024;
}

/// A home node binding an employee's signing key to the employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeCert {
    pub employee: EmployeeId,
    pub site: SiteId,
    pub key: PublicKey,
    /// Seconds since the Unix epoch, passed in by the caller.
    pub issued_at: u64,
}

impl SignedKind for EmployeeCert {
    const DOMAIN: Domain = Domain::EMPLOYEE_CERT;
    const KIND: u8 = 4;
    const NAME: &'static str = "employee certificate";
    const MAX_BODY: usize = 4 * 1024;
}

/// A node asking the authority to list its key for a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub site: SiteId,
    pub node_key: PublicKey,
    /// Multiaddrs where peers may reach the node, to publish in the directory.
    pub addresses: Vec<String>,
    /// Seconds since the Unix epoch, passed in by the caller.
    pub requested_at: u64,
}

impl SignedKind for EnrollRequest {
    const DOMAIN: Domain = Domain::ENROLL_REQUEST;
    const KIND: u8 = 5;
    const NAME: &'static str = "enrollment request";
    const MAX_BODY: usize = 8 * 1024;
}

/// Why a certificate or request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error(transparent)]
    Signed(#[from] SignedError),
    #[error("site {0:?} is not listed in the directory")]
    UnknownSite(String),
    #[error("site {site:?} is listed with another node key (or none) than {key}")]
    NotSiteKey { site: String, key: String },
    #[error("signed by {0}, which is not the directory's authority")]
    NotAuthority(String),
    #[error("employee {0:?} is not listed in the directory")]
    UnknownEmployee(String),
    #[error("employee {0:?} has left the company")]
    EmployeeLeft(String),
    #[error("employee {employee:?} is homed at {actual:?}, not at {claimed:?}")]
    NotHomedAt {
        employee: String,
        claimed: String,
        actual: String,
    },
    #[error("signed under directory version {named}, but this node holds only version {held}")]
    FutureVersion { named: u64, held: u64 },
    #[error("enrollment request for {site:?} is signed by another key than the one it enrolls")]
    NotSelfSigned { site: String },
}

/// Verifies a site certificate: signed by the authority that signed the directory, for a site
/// the directory lists with that very node key.
pub fn verify_site_cert(
    dir: &VerifiedDirectory,
    cert: &Signed<SiteCert>,
) -> Result<SiteCert, CertError> {
    let body = cert.open()?;
    if cert.signer() != &dir.authority {
        return Err(CertError::NotAuthority(cert.signer().short()));
    }
    let site = dir
        .directory
        .sites
        .get(&body.site)
        .ok_or_else(|| CertError::UnknownSite(body.site.clone()))?;
    if site.node_key != Some(body.node_key) || dir.directory.is_revoked(&body.node_key) {
        return Err(CertError::NotSiteKey {
            site: body.site.clone(),
            key: body.node_key.short(),
        });
    }
    Ok(body)
}

/// Verifies an employee certificate against the directory's current version: the employee is
/// active and homed at the certificate's site, and that site's node key signed it.
pub fn verify_employee_cert(
    dir: &Directory,
    cert: &Signed<EmployeeCert>,
) -> Result<EmployeeCert, CertError> {
    verify_employee_cert_at(dir, cert, dir.version)
}

/// Verifies an employee certificate as of directory `version`, using the history that `dir`
/// (the same or a later version) carries: the same verdict on every node that holds any
/// version at least `version`. A node holding an older directory must wait for a newer one
/// ([`CertError::FutureVersion`]).
pub fn verify_employee_cert_at(
    dir: &Directory,
    cert: &Signed<EmployeeCert>,
    version: u64,
) -> Result<EmployeeCert, CertError> {
    if version > dir.version {
        return Err(CertError::FutureVersion {
            named: version,
            held: dir.version,
        });
    }
    let body = cert.open()?;
    if !dir.sites.contains_key(&body.site) {
        return Err(CertError::UnknownSite(body.site.clone()));
    }
    if dir.node_key_at(&body.site, version).as_ref() != Some(cert.signer()) {
        return Err(CertError::NotSiteKey {
            site: body.site.clone(),
            key: cert.signer().short(),
        });
    }
    let tenure = dir
        .employee_at(&body.employee, version)
        .ok_or_else(|| CertError::UnknownEmployee(body.employee.clone()))?;
    if tenure.status != Status::Active {
        return Err(CertError::EmployeeLeft(body.employee.clone()));
    }
    if tenure.site != body.site {
        return Err(CertError::NotHomedAt {
            employee: body.employee.clone(),
            claimed: body.site.clone(),
            actual: tenure.site,
        });
    }
    Ok(body)
}

/// Verifies an enrollment request: signed by the very key it enrolls.
pub fn verify_enroll_request(req: &Signed<EnrollRequest>) -> Result<EnrollRequest, CertError> {
    let body = req.open()?;
    if &body.node_key != req.signer() {
        return Err(CertError::NotSelfSigned { site: body.site });
    }
    Ok(body)
}
