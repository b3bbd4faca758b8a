//! An LDIF reader (RFC 2849 content records).
//!
//! Handles what real exports contain: an optional `version: 1` line, `#` comments (folded
//! too), lines folded by a leading space, LF or CRLF line ends, base64 values (`attr:: …`),
//! attribute options (`cn;lang-fr:`), UTF-8 written raw (not strictly RFC 2849, but common),
//! many entries, and attributes we do not map, which are ignored. Change records
//! (`changetype:`) and URL values (`attr:< file://…`) for attributes we map are refused with
//! the line they are on.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::{ImportError, Imported, RawPerson, parse_role, parse_status};

/// A value as written in the file, decoded only if the attribute is one we map.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RawValue {
    Text(String),
    Base64(String),
    Url(String),
}

/// One attribute line of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attr {
    /// Lower-cased attribute name, without options.
    name: String,
    /// Whether the attribute had options (`cn;lang-fr`).
    has_options: bool,
    value: RawValue,
    line: usize,
}

/// One LDIF entry: its DN and its attributes, with the line each started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdifEntry {
    pub dn: String,
    /// Line of the `dn:` line.
    pub line: usize,
    attrs: Vec<Attr>,
}

impl LdifEntry {
    /// All values of `name` (case-insensitive), decoded to text. Values written without
    /// attribute options come first; values with options are used only when there are none.
    pub fn values(&self, name: &str) -> Result<Vec<String>, ImportError> {
        let name = name.to_ascii_lowercase();
        let plain: Vec<&Attr> = self
            .attrs
            .iter()
            .filter(|a| a.name == name && !a.has_options)
            .collect();
        let chosen: Vec<&Attr> = if plain.is_empty() {
            self.attrs.iter().filter(|a| a.name == name).collect()
        } else {
            plain
        };
        chosen.into_iter().map(decode).collect()
    }

    /// The first value of `name`, or an empty string.
    pub fn first(&self, name: &str) -> Result<String, ImportError> {
        Ok(self.values(name)?.into_iter().next().unwrap_or_default())
    }

    /// The first value of the first of `names` that the entry has.
    fn first_of(&self, names: &[&str]) -> Result<String, ImportError> {
        for n in names {
            let v = self.first(n)?;
            if !v.trim().is_empty() {
                return Ok(v);
            }
        }
        Ok(String::new())
    }

    /// The line of the first attribute called `name`, or the entry's line.
    fn line_of(&self, name: &str) -> usize {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map_or(self.line, |a| a.line)
    }
}

fn decode(a: &Attr) -> Result<String, ImportError> {
    match &a.value {
        RawValue::Text(t) => Ok(t.clone()),
        RawValue::Base64(b) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| {
                    ImportError::new(a.line, format!("{}: bad base64 value: {e}", a.name))
                })?;
            String::from_utf8(bytes).map_err(|_| {
                ImportError::new(
                    a.line,
                    format!("{}: base64 value is not UTF-8 text", a.name),
                )
            })
        }
        RawValue::Url(u) => Err(ImportError::new(
            a.line,
            format!(
                "{}: URL values ({u}) are not supported; export the value inline",
                a.name
            ),
        )),
    }
}

/// Longest logical line accepted (after unfolding). A photo in base64 can be large; anything
/// past this is not a directory export.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Splits LDIF text into entries.
pub fn parse_ldif_entries(text: &str) -> Result<Vec<LdifEntry>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Unfold into logical lines, each with the physical line it started on. `None` marks a
    // blank line (entry separator).
    let mut logical: Vec<Option<(usize, String)>> = Vec::new();
    let mut in_comment = false;
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            match logical.last_mut() {
                Some(Some((_, prev))) => {
                    if prev.len() + cont.len() > MAX_LINE {
                        return Err(ImportError::new(line_no, "line too long"));
                    }
                    prev.push_str(cont);
                }
                _ => {
                    return Err(ImportError::new(
                        line_no,
                        "continuation line (starting with a space) has no line to continue",
                    ));
                }
            }
            continue;
        }
        in_comment = false;
        if line.starts_with('#') {
            in_comment = true;
            continue;
        }
        if line.is_empty() {
            logical.push(None);
        } else {
            logical.push(Some((line_no, line.to_owned())));
        }
    }

    let mut entries = Vec::new();
    let mut current: Option<LdifEntry> = None;
    let mut first_record = true;
    for item in logical {
        let Some((line_no, line)) = item else {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            continue;
        };
        let (name, has_options, value) = split_attr(line_no, &line)?;
        if first_record && current.is_none() && name == "version" {
            first_record = false;
            let v = match &value {
                RawValue::Text(t) => t.trim().to_owned(),
                _ => String::new(),
            };
            if v != "1" {
                return Err(ImportError::new(
                    line_no,
                    format!("unsupported LDIF version {v:?} (only 1 exists)"),
                ));
            }
            continue;
        }
        first_record = false;
        match &mut current {
            None => {
                if name != "dn" {
                    return Err(ImportError::new(
                        line_no,
                        format!("an entry must start with 'dn:', found '{name}:'"),
                    ));
                }
                let dn = decode(&Attr {
                    name: "dn".into(),
                    has_options: false,
                    value,
                    line: line_no,
                })?;
                current = Some(LdifEntry {
                    dn: dn.trim().to_owned(),
                    line: line_no,
                    attrs: Vec::new(),
                });
            }
            Some(entry) => {
                if name == "dn" {
                    return Err(ImportError::new(
                        line_no,
                        "a second 'dn:' in one entry (entries are separated by a blank line)",
                    ));
                }
                if name == "changetype" || name == "control" {
                    return Err(ImportError::new(
                        line_no,
                        "change records are not supported: export the directory as content records",
                    ));
                }
                entry.attrs.push(Attr {
                    name,
                    has_options,
                    value,
                    line: line_no,
                });
            }
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    Ok(entries)
}

/// Splits `name[;options]:[:|<] value`.
fn split_attr(line_no: usize, line: &str) -> Result<(String, bool, RawValue), ImportError> {
    let Some(colon) = line.find(':') else {
        return Err(ImportError::new(
            line_no,
            format!("expected 'attribute: value', found {:?}", truncate(line)),
        ));
    };
    let desc = &line[..colon];
    let (name, has_options) = match desc.split_once(';') {
        Some((n, _)) => (n, true),
        None => (desc, false),
    };
    let valid_name = !name.is_empty()
        && (name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            || name.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !valid_name {
        return Err(ImportError::new(
            line_no,
            format!("{:?} is not an attribute name", truncate(desc)),
        ));
    }
    let rest = &line[colon + 1..];
    let value = if let Some(b64) = rest.strip_prefix(':') {
        RawValue::Base64(b64.trim().to_owned())
    } else if let Some(url) = rest.strip_prefix('<') {
        RawValue::Url(url.trim().to_owned())
    } else {
        RawValue::Text(rest.trim_start_matches(' ').to_owned())
    };
    Ok((name.to_ascii_lowercase(), has_options, value))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Object classes that make an entry a person.
const PERSON_CLASSES: [&str; 5] = [
    "person",
    "organizationalperson",
    "inetorgperson",
    "user",
    "posixaccount",
];

/// Parses an LDIF export into people and sites.
///
/// An entry is a person if it has a `uid` or one of the person object classes; other entries
/// (organisational units, groups) are skipped. Mapping: `uid` (or `sAMAccountName`) → id;
/// `displayName` or `cn` → display name; `givenName`, `sn`; `mail`; `telephoneNumber` (or
/// `mobile`); `l` or `physicalDeliveryOfficeName` → site; `c` → the site's region; `title`;
/// `ou`, `departmentNumber` or `department` → department; `manager` (a DN) → the manager's id;
/// `weftRole` → roles (`community_manager`, `site_admin`); `weftStatus` → `active` or `left`.
pub fn parse_ldif(text: &str) -> Result<Imported, ImportError> {
    let entries = parse_ldif_entries(text)?;
    let mut imported = Imported::default();
    // DN → id, to resolve `manager` DNs. DNs compare case-insensitively, spaces after commas
    // ignored.
    let mut dn_to_id: BTreeMap<String, String> = BTreeMap::new();
    let mut people = Vec::new();
    for entry in &entries {
        let classes: Vec<String> = entry
            .values("objectclass")?
            .into_iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let id = entry
            .first_of(&["uid", "samaccountname"])?
            .trim()
            .to_owned();
        let is_person =
            !id.is_empty() || classes.iter().any(|c| PERSON_CLASSES.contains(&c.as_str()));
        if !is_person {
            imported.skipped += 1;
            continue;
        }
        if id.is_empty() {
            return Err(ImportError::new(
                entry.line,
                format!("person entry {:?} has no uid", entry.dn),
            ));
        }
        dn_to_id.insert(normalize_dn(&entry.dn), id.clone());
        people.push((entry, id));
    }
    for (entry, id) in people {
        let mut roles = Vec::new();
        for (i, r) in entry.values("weftrole")?.iter().enumerate() {
            let line = entry
                .attrs
                .iter()
                .filter(|a| a.name == "weftrole")
                .nth(i)
                .map_or(entry.line, |a| a.line);
            roles.push(parse_role(line, r)?);
        }
        let status = parse_status(entry.line_of("weftstatus"), &entry.first("weftstatus")?)?;
        let manager = match entry.first("manager")?.trim() {
            "" => None,
            dn => Some(
                dn_to_id
                    .get(&normalize_dn(dn))
                    .cloned()
                    .or_else(|| uid_from_dn(dn))
                    .unwrap_or_else(|| dn.to_owned()),
            ),
        };
        imported.add(RawPerson {
            line: entry.line,
            id,
            display_name: entry.first_of(&["displayname", "cn"])?,
            given_name: entry.first("givenname")?,
            family_name: entry.first("sn")?,
            email: entry.first("mail")?,
            phone: entry.first_of(&["telephonenumber", "mobile"])?,
            site_name: entry.first_of(&["l", "physicaldeliveryofficename"])?,
            country: entry.first_of(&["c", "countrycode"])?,
            title: entry.first("title")?,
            department: entry.first_of(&["ou", "departmentnumber", "department"])?,
            manager,
            roles,
            status,
        })?;
    }
    imported.check_managers();
    Ok(imported)
}

fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// `uid=jdoe,ou=people,…` → `jdoe`.
fn uid_from_dn(dn: &str) -> Option<String> {
    let first = dn.split(',').next()?;
    let (k, v) = first.split_once('=')?;
    k.trim()
        .eq_ignore_ascii_case("uid")
        .then(|| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Role, Status};

    const BASIC: &str = "version: 1

# The Paris office
dn: uid=hdupre,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: hdupre
cn:: SMOpbMOobmUgRHVwcsOp
givenName: Hélène
sn: Dupré
mail: Helene.Dupre@example.com
telephoneNumber: +33 1 23 45 67 89
l: Paris
c: FR
title: Directrice
ou: Communication
weftRole: community_manager

dn: uid=jsmith,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: jsmith
cn: John Smith
givenName: John
sn: Smith
mail: john.smith@example.com
physicalDeliveryOfficeName: New York
c: US
manager: uid=hdupre, ou=People, dc=example, dc=com
";

    #[test]
    fn reads_basic_entries_with_base64_utf8() {
        let im = parse_ldif(BASIC).unwrap();
        assert_eq!(im.employees.len(), 2);
        let h = &im.employees["hdupre"];
        assert_eq!(h.display_name, "Hélène Dupré");
        assert_eq!(h.given_name, "Hélène");
        assert_eq!(h.email, "helene.dupre@example.com");
        assert_eq!(h.site, "paris");
        assert_eq!(h.department, "Communication");
        assert_eq!(h.roles, vec![Role::CommunityManager]);
        assert_eq!(h.status, Status::Active);
        let j = &im.employees["jsmith"];
        assert_eq!(j.site, "new-york");
        assert_eq!(j.manager.as_deref(), Some("hdupre"));
        assert_eq!(im.sites["new-york"].name, "New York");
        assert_eq!(im.sites["new-york"].region, "North America");
        assert_eq!(im.sites["paris"].region, "Europe");
        assert!(im.warnings.is_empty(), "{:?}", im.warnings);
    }

    #[test]
    fn folded_lines_and_folded_comments() {
        let text = "# a comment that is\n  folded over two lines\ndn: uid=a,dc=x\nuid: a\ncn: Jean-Pier\n re Lefè\n vre\nl: Pa\n ris\n";
        let im = parse_ldif(text).unwrap();
        assert_eq!(im.employees["a"].display_name, "Jean-Pierre Lefèvre");
        assert_eq!(im.employees["a"].site, "paris");
    }

    #[test]
    fn folded_base64_value() {
        // "Hélène Dupré" in base64, folded in the middle.
        let text = "dn: uid=a,dc=x\nuid: a\ncn:: SMOpbMOo\n bmUgRHVwcsOp\nl: Paris\n";
        let im = parse_ldif(text).unwrap();
        assert_eq!(im.employees["a"].display_name, "Hélène Dupré");
    }

    #[test]
    fn crlf_line_ends_and_bom() {
        let text =
            "\u{feff}version: 1\r\n\r\ndn: uid=a,dc=x\r\nuid: a\r\ncn: Ann\r\nl: Paris\r\n\r\n";
        let im = parse_ldif(text).unwrap();
        assert_eq!(im.employees["a"].display_name, "Ann");
    }

    #[test]
    fn unknown_attributes_and_non_person_entries_are_ignored() {
        let text = "dn: ou=people,dc=x\nobjectClass: organizationalUnit\nou: people\n\ndn: uid=a,dc=x\nuid: a\ncn: Ann\nl: Paris\njpegPhoto:< file:///photos/a.jpg\nx-custom;binary:: //79\nuserPassword: {SSHA}secret\n";
        let im = parse_ldif(text).unwrap();
        assert_eq!(im.skipped, 1);
        assert_eq!(im.employees.len(), 1);
    }

    #[test]
    fn attribute_options_prefer_the_plain_value() {
        let text = "dn: uid=a,dc=x\nuid: a\ncn;lang-fr: Jeanne\ncn: Jane\nl: Paris\n\ndn: uid=b,dc=x\nuid: b\ncn;lang-fr: Solène\nl: Paris\n";
        let im = parse_ldif(text).unwrap();
        assert_eq!(im.employees["a"].display_name, "Jane");
        assert_eq!(im.employees["b"].display_name, "Solène");
    }

    #[test]
    fn a_line_without_colon_is_an_error_naming_it() {
        let text = "dn: uid=a,dc=x\nuid: a\nthis line is broken\nl: Paris\n";
        let err = parse_ldif(text).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("attribute: value"), "{err}");
    }

    #[test]
    fn bad_base64_names_its_line() {
        let text = "dn: uid=a,dc=x\nuid: a\ncn:: !!!notbase64\nl: Paris\n";
        let err = parse_ldif(text).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("base64"), "{err}");
    }

    #[test]
    fn base64_that_is_not_utf8_is_an_error_for_mapped_attributes() {
        let text = "dn: uid=a,dc=x\nuid: a\ncn:: //79\nl: Paris\n";
        let err = parse_ldif(text).unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn continuation_without_a_line_is_an_error() {
        let err = parse_ldif(" orphan\ndn: uid=a\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn entry_must_start_with_dn() {
        let err = parse_ldif("uid: a\ncn: A\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("dn:"));
    }

    #[test]
    fn change_records_are_refused() {
        let err = parse_ldif("dn: uid=a,dc=x\nchangetype: delete\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("change records"));
    }

    #[test]
    fn wrong_version_is_refused() {
        let err = parse_ldif("version: 2\n\ndn: uid=a\nuid: a\nl: P\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn person_without_site_names_the_entry_line() {
        let err = parse_ldif("\n\ndn: uid=a,dc=x\nuid: a\ncn: A\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("no site"));
    }

    #[test]
    fn unknown_role_names_its_line() {
        let err = parse_ldif("dn: uid=a,dc=x\nuid: a\nl: Paris\nweftRole: overlord\n").unwrap_err();
        assert_eq!(err.line, 4);
    }

    #[test]
    fn status_left_and_duplicate_ids() {
        let im = parse_ldif("dn: uid=a,dc=x\nuid: a\nl: Paris\nweftStatus: left\n").unwrap();
        assert_eq!(im.employees["a"].status, Status::Left);
        let err = parse_ldif("dn: uid=a,dc=x\nuid: a\nl: P\n\ndn: uid=a,dc=y\nuid: a\nl: P\n")
            .unwrap_err();
        assert_eq!(err.line, 5);
    }

    #[test]
    fn many_entries() {
        let mut text = String::from("version: 1\n");
        for i in 0..5000 {
            text.push_str(&format!(
                "\ndn: uid=u{i},ou=people,dc=x\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nmail: u{i}@x.com\nl: Site {}\nmanager: uid=u0,ou=people,dc=x\n",
                i % 7
            ));
        }
        let im = parse_ldif(&text).unwrap();
        assert_eq!(im.employees.len(), 5000);
        assert_eq!(im.sites.len(), 7);
        assert_eq!(im.employees["u4999"].manager.as_deref(), Some("u0"));
    }

    #[test]
    fn unresolved_manager_is_a_warning_not_an_error() {
        let im = parse_ldif("dn: uid=a,dc=x\nuid: a\nl: Paris\nmanager: uid=boss,dc=x\n").unwrap();
        assert_eq!(im.employees["a"].manager.as_deref(), Some("boss"));
        assert_eq!(im.warnings.len(), 1);
    }
}
