//! Turning a directory export (LDIF or CSV) into directory entries.
//!
//! Parsing is pure: text in, [`Imported`] out, or an [`ImportError`] that names the line. The
//! CLI reads the file, merges the result into the draft directory ([`merge`]) and writes it
//! only when everything parsed, so a bad line never leaves a half-written draft.

mod csv;
mod ldif;

use std::collections::BTreeMap;
use std::fmt;

pub use self::csv::parse_csv;
pub use self::ldif::{LdifEntry, parse_ldif, parse_ldif_entries};

use crate::directory::{Directory, Employee, EmployeeId, Role, Site, SiteId, Status};
use crate::directory::{is_site_id, site_id_from_name};

/// A directory export that did not parse. `line` is 1-based, in the input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    pub line: usize,
    pub message: String,
}

impl ImportError {
    pub(crate) fn new(line: usize, message: impl fmt::Display) -> ImportError {
        ImportError {
            line,
            message: message.to_string(),
        }
    }
}

/// What an export holds, before merging into a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub sites: BTreeMap<SiteId, Site>,
    pub employees: BTreeMap<EmployeeId, Employee>,
    /// Entries that are not people (organisational units, groups), skipped.
    pub skipped: usize,
    /// Things the operator should know that did not stop the import.
    pub warnings: Vec<String>,
}

/// One person's fields, as read from an export, before ids and sites are resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawPerson {
    pub line: usize,
    pub id: String,
    pub display_name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub phone: String,
    pub site_name: String,
    pub country: String,
    pub title: String,
    pub department: String,
    pub manager: Option<String>,
    pub roles: Vec<Role>,
    pub status: Status,
}

impl Imported {
    /// Adds a person, creating their site if it is new. Refuses a duplicate id.
    pub(crate) fn add(&mut self, p: RawPerson) -> Result<(), ImportError> {
        if p.id.is_empty() {
            return Err(ImportError::new(p.line, "entry has no id (uid)"));
        }
        if p.id.len() > 128 || p.id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ImportError::new(
                p.line,
                format!(
                    "id {:?} must be at most 128 characters, without spaces",
                    p.id
                ),
            ));
        }
        if self.employees.contains_key(&p.id) {
            return Err(ImportError::new(p.line, format!("duplicate id {:?}", p.id)));
        }
        let site_name = p.site_name.trim();
        if site_name.is_empty() {
            return Err(ImportError::new(
                p.line,
                format!("{}: no site (l or physicalDeliveryOfficeName)", p.id),
            ));
        }
        let site_id = if is_site_id(site_name) {
            site_name.to_owned()
        } else {
            site_id_from_name(site_name)
        };
        let region = region_of_country(&p.country);
        let site = self.sites.entry(site_id.clone()).or_insert_with(|| Site {
            id: site_id.clone(),
            name: site_name.to_owned(),
            region: region.clone(),
            node_key: None,
            addresses: Vec::new(),
            key_history: Vec::new(),
        });
        if site.region.is_empty() {
            site.region = region;
        }
        let display_name = if p.display_name.trim().is_empty() {
            format!("{} {}", p.given_name.trim(), p.family_name.trim())
                .trim()
                .to_owned()
        } else {
            p.display_name.trim().to_owned()
        };
        let display_name = if display_name.is_empty() {
            p.id.clone()
        } else {
            display_name
        };
        let mut roles = p.roles;
        roles.sort();
        roles.dedup();
        self.employees.insert(
            p.id.clone(),
            Employee {
                id: p.id,
                display_name,
                given_name: p.given_name.trim().to_owned(),
                family_name: p.family_name.trim().to_owned(),
                email: p.email.trim().to_lowercase(),
                phone: p.phone.trim().to_owned(),
                site: site_id,
                title: p.title.trim().to_owned(),
                department: p.department.trim().to_owned(),
                manager: p.manager.filter(|m| !m.trim().is_empty()),
                roles,
                status: p.status,
                history: Vec::new(),
            },
        );
        Ok(())
    }

    /// Warns about managers that are not in the export.
    pub(crate) fn check_managers(&mut self) {
        for e in self.employees.values() {
            if let Some(m) = &e.manager
                && !self.employees.contains_key(m)
            {
                self.warnings
                    .push(format!("{}: manager {m:?} is not in this export", e.id));
            }
        }
    }
}

/// Parses a role or status value from an export.
pub(crate) fn parse_status(line: usize, text: &str) -> Result<Status, ImportError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "active" => Ok(Status::Active),
        "left" | "inactive" | "disabled" => Ok(Status::Left),
        other => Err(ImportError::new(
            line,
            format!("status {other:?} is neither 'active' nor 'left'"),
        )),
    }
}

pub(crate) fn parse_role(line: usize, text: &str) -> Result<Role, ImportError> {
    Role::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        ImportError::new(
            line,
            format!("unknown role {text:?} (known: {})", known.join(", ")),
        )
    })
}

/// The region of a two-letter country code, for the sites' `region` field. Unknown codes are
/// kept as they are; the operator can edit the draft.
pub fn region_of_country(code: &str) -> String {
    let code = code.trim().to_ascii_uppercase();
    let region = match code.as_str() {
        "" => "",
        "FR" | "DE" | "GB" | "UK" | "IE" | "ES" | "PT" | "IT" | "NL" | "BE" | "LU" | "CH"
        | "AT" | "DK" | "SE" | "NO" | "FI" | "PL" | "CZ" | "HU" | "RO" | "GR" | "RU" | "UA"
        | "TR" => "Europe",
        "US" | "CA" | "MX" => "North America",
        "BR" | "AR" | "CL" | "CO" | "PE" | "UY" => "South America",
        "IN" | "CN" | "JP" | "KR" | "SG" | "HK" | "TW" | "MY" | "TH" | "VN" | "ID" | "PH"
        | "AE" | "SA" | "IL" | "QA" => "Asia",
        "ZA" | "NG" | "EG" | "KE" | "MA" | "TN" | "DZ" | "SN" | "CI" | "GH" => "Africa",
        "AU" | "NZ" => "Oceania",
        _ => return code,
    };
    region.to_owned()
}

/// What merging an export into a draft changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Employees in the draft but not in the export, now marked as having left.
    pub left: Vec<EmployeeId>,
    pub new_sites: Vec<SiteId>,
}

/// Merges an export into a draft directory. The export is the truth for people: new ones are
/// added, known ones updated, and people missing from it are kept but marked as having left
/// (their past posts keep an author; their keys stop being valid once published). Sites keep
/// what enrollment added (node key, addresses) and the region if one was set.
pub fn merge(draft: &mut Directory, imported: Imported) -> MergeReport {
    let mut report = MergeReport::default();
    for (id, site) in imported.sites {
        match draft.sites.get_mut(&id) {
            Some(existing) => {
                existing.name = site.name;
                if existing.region.is_empty() {
                    existing.region = site.region;
                }
            }
            None => {
                report.new_sites.push(id.clone());
                draft.sites.insert(id, site);
            }
        }
    }
    for (id, e) in &mut draft.employees {
        if !imported.employees.contains_key(id) && e.status == Status::Active {
            e.status = Status::Left;
            report.left.push(id.clone());
        }
    }
    for (id, e) in imported.employees {
        match draft.employees.insert(id, e.clone()) {
            None => report.added += 1,
            Some(old) if old == e => report.unchanged += 1,
            Some(_) => report.updated += 1,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, site: &str) -> RawPerson {
        RawPerson {
            line: 1,
            id: id.into(),
            given_name: "A".into(),
            family_name: id.into(),
            site_name: site.into(),
            country: "FR".into(),
            ..RawPerson::default()
        }
    }

    #[test]
    fn merge_marks_missing_people_as_left_and_keeps_enrollment() {
        let mut first = Imported::default();
        first.add(person("a", "Paris")).unwrap();
        first.add(person("b", "Paris")).unwrap();
        let mut draft = Directory::default();
        let r = merge(&mut draft, first);
        assert_eq!((r.added, r.new_sites.len()), (2, 1));
        let key = crate::SecretKey::from_seed(&[3; 32]).public();
        draft.sites.get_mut("paris").unwrap().node_key = Some(key);

        let mut second = Imported::default();
        second.add(person("a", "Paris")).unwrap();
        second.add(person("c", "Lyon")).unwrap();
        let r = merge(&mut draft, second);
        assert_eq!(r.added, 1);
        assert_eq!(r.unchanged, 1);
        assert_eq!(r.left, vec!["b".to_string()]);
        assert_eq!(r.new_sites, vec!["lyon".to_string()]);
        assert_eq!(draft.employees["b"].status, Status::Left);
        assert_eq!(draft.sites["paris"].node_key, Some(key));
        assert_eq!(draft.sites["paris"].region, "Europe");
    }

    #[test]
    fn duplicate_id_is_an_error_naming_the_line() {
        let mut im = Imported::default();
        im.add(person("a", "Paris")).unwrap();
        let mut dup = person("a", "Paris");
        dup.line = 42;
        let err = im.add(dup).unwrap_err();
        assert_eq!(err.line, 42);
        assert!(err.message.contains("duplicate"));
    }
}
