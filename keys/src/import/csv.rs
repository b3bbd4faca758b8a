//! A CSV reader for directory exports from spreadsheets and HR tools.
//!
//! The first row names the columns, in any order and case. Recognised columns (aliases in
//! brackets): `id` (uid), `display_name` (name, cn), `given_name` (givenname, first_name),
//! `family_name` (sn, surname, last_name), `email` (mail), `phone` (telephone,
//! telephonenumber), `site` (l, location, office), `country` (c), `title`, `department` (ou),
//! `manager` (an employee id), `roles` (separated by `;` or `|`), `status` (`active` or
//! `left`). Other columns are ignored. `id` and `site` are required.

use super::{ImportError, Imported, RawPerson, parse_role, parse_status};

fn column_for(header: &str) -> Option<&'static str> {
    let h = header.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    Some(match h.as_str() {
        "id" | "uid" => "id",
        "display_name" | "name" | "cn" | "displayname" => "display_name",
        "given_name" | "givenname" | "first_name" => "given_name",
        "family_name" | "sn" | "surname" | "last_name" => "family_name",
        "email" | "mail" | "e_mail" => "email",
        "phone" | "telephone" | "telephonenumber" => "phone",
        "site" | "l" | "location" | "office" => "site",
        "country" | "c" => "country",
        "title" | "job_title" => "title",
        "department" | "ou" => "department",
        "manager" => "manager",
        "roles" | "role" => "roles",
        "status" => "status",
        _ => return None,
    })
}

/// Parses a CSV export into people and sites.
pub fn parse_csv(text: &str) -> Result<Imported, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(false)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::new(1, format!("cannot read the header row: {e}")))?
        .clone();
    let columns: Vec<Option<&'static str>> = headers.iter().map(column_for).collect();
    for required in ["id", "site"] {
        if !columns.contains(&Some(required)) {
            return Err(ImportError::new(
                1,
                format!("the header row has no '{required}' column"),
            ));
        }
    }
    let mut imported = Imported::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            ImportError::new(line, format!("malformed CSV row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut p = RawPerson {
            line,
            ..RawPerson::default()
        };
        for (value, column) in record.iter().zip(&columns) {
            let value = value.to_owned();
            match column {
                Some("id") => p.id = value,
                Some("display_name") => p.display_name = value,
                Some("given_name") => p.given_name = value,
                Some("family_name") => p.family_name = value,
                Some("email") => p.email = value,
                Some("phone") => p.phone = value,
                Some("site") => p.site_name = value,
                Some("country") => p.country = value,
                Some("title") => p.title = value,
                Some("department") => p.department = value,
                Some("manager") => p.manager = Some(value),
                Some("roles") => {
                    for r in value.split([';', '|']).filter(|r| !r.trim().is_empty()) {
                        p.roles.push(parse_role(line, r)?);
                    }
                }
                Some("status") => p.status = parse_status(line, &value)?,
                _ => {}
            }
        }
        imported.add(p)?;
    }
    imported.check_managers();
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Role, Status};

    #[test]
    fn reads_quoted_utf8_rows_in_any_column_order() {
        let text = "Site,ID,Name,E-mail,Roles,Status,Manager,Extra\nParis,hdupre,\"Dupré, Hélène\",h@x.com,Community Manager,,,ignored\n\"New York\",jsmith,John Smith,j@x.com,,left,hdupre,\n";
        let im = parse_csv(text).unwrap();
        assert_eq!(im.employees["hdupre"].display_name, "Dupré, Hélène");
        assert_eq!(im.employees["hdupre"].roles, vec![Role::CommunityManager]);
        assert_eq!(im.employees["jsmith"].status, Status::Left);
        assert_eq!(im.employees["jsmith"].manager.as_deref(), Some("hdupre"));
        assert_eq!(im.employees["jsmith"].site, "new-york");
    }

    #[test]
    fn missing_required_column() {
        let err = parse_csv("name,site\nA,Paris\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("'id'"));
    }

    #[test]
    fn bad_row_names_its_line() {
        let err = parse_csv("id,site,status\na,Paris,active\nb,Paris,retired\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse_csv("id,site\na,Paris\nb,Paris,extra\n").unwrap_err();
        assert_eq!(err.line, 3);
    }
}
