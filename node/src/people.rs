//! Finding people as they type, without reading the whole directory at each keystroke.
//!
//! Each active employee is filed under the words of what the directory says of them (id,
//! name, e-mail, site, title, department) and of what their profile says (expertise,
//! interests, languages), folded (lower case, no accents, see [`fold`]). A query's words each
//! must begin one of a person's words, as people type ("hel dup" finds Hélène Dupré); the
//! answer is ordered by folded display name, then id. The words are kept in a sorted map, so
//! a word of the query is a range of it; people are kept in name order, so an empty query is
//! the first `limit` of that order.
//!
//! The index is rebuilt when a directory version is installed (rare) and changed in place
//! for one employee when their profile changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use weft_keys::{Directory, Employee, Status};

use crate::readmodel::fold;

/// The words a text is filed under: folded, split at anything not alphanumeric.
fn words_of(text: &str) -> BTreeSet<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// At most this many words of a query are looked up (a name search has two or three; a
/// query of hundreds of one-letter words must not cost hundreds of scans of the company).
pub const MAX_QUERY_WORDS: usize = 8;

/// The words a query asks for: folded, split at spaces and commas, `@` dropped; a word that
/// begins another one of the query is left out (whoever has the longer one has it too), and
/// at most [`MAX_QUERY_WORDS`] are kept, the longest first.
pub fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = fold(query)
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_start_matches('@').to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    words.dedup();
    let mut kept: Vec<String> = Vec::new();
    for w in words {
        if !kept.iter().any(|k| k.starts_with(w.as_str())) {
            kept.push(w);
        }
    }
    kept.truncate(MAX_QUERY_WORDS);
    kept
}

/// What the directory says of someone, as searched.
fn directory_text(e: &Employee) -> String {
    format!(
        "{} {} {} {} {} {}",
        e.id, e.display_name, e.email, e.site, e.title, e.department
    )
}

#[derive(Debug, Clone, Default)]
struct Person {
    /// Folded display name: the order of answers.
    name: String,
    /// From the directory.
    directory: BTreeSet<String>,
    /// From the profile.
    profile: BTreeSet<String>,
}

/// People by the words they are found by (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PeopleIndex {
    people: HashMap<String, Person>,
    /// Word → the employees filed under it.
    words: BTreeMap<String, HashSet<String>>,
    /// Every filed employee as (folded name, id): the order of answers.
    by_name: BTreeSet<(String, String)>,
}

impl PeopleIndex {
    /// Files every active employee of `dir`, with the profile words `profile` gives.
    pub fn build<'a>(dir: &Directory, profile: impl Fn(&str) -> &'a str) -> PeopleIndex {
        let mut index = PeopleIndex::default();
        for e in dir.employees.values() {
            if e.status != Status::Active {
                continue;
            }
            let person = Person {
                name: fold(&e.display_name),
                directory: words_of(&directory_text(e)),
                profile: words_of(profile(&e.id)),
            };
            index.file(&e.id, person);
        }
        index
    }

    fn file(&mut self, id: &str, person: Person) {
        for w in person.directory.iter().chain(&person.profile) {
            self.words
                .entry(w.clone())
                .or_default()
                .insert(id.to_owned());
        }
        self.by_name.insert((person.name.clone(), id.to_owned()));
        self.people.insert(id.to_owned(), person);
    }

    fn unfile(&mut self, id: &str) -> Option<Person> {
        let person = self.people.remove(id)?;
        for w in person.directory.iter().chain(&person.profile) {
            if let Some(ids) = self.words.get_mut(w) {
                ids.remove(id);
                if ids.is_empty() {
                    self.words.remove(w);
                }
            }
        }
        self.by_name.remove(&(person.name.clone(), id.to_owned()));
        Some(person)
    }

    /// Files `employee` under the words their profile now says (`words`, as the read model
    /// keeps them). Someone the directory does not list as active stays out.
    pub fn set_profile_words(&mut self, employee: &str, words: &str) {
        if let Some(mut person) = self.unfile(employee) {
            person.profile = words_of(words);
            self.file(employee, person);
        }
    }

    /// How many people are filed.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Whether no one is filed.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The ids of the first `limit` people (by folded name, then id) found by `query`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<String> {
        let wanted = query_words(query);
        if wanted.is_empty() {
            return self
                .by_name
                .iter()
                .take(limit)
                .map(|(_, id)| id.clone())
                .collect();
        }
        // The rarest word first: the others only narrow what it found.
        let mut sets: Vec<HashSet<&String>> = wanted.iter().map(|w| self.starting(w)).collect();
        sets.sort_by_key(HashSet::len);
        let mut sets = sets.into_iter();
        let Some(mut found) = sets.next() else {
            return Vec::new();
        };
        for s in sets {
            found.retain(|id| s.contains(id));
            if found.is_empty() {
                break;
            }
        }
        let mut ranked: Vec<(&str, &String)> = found
            .into_iter()
            .filter_map(|id| self.people.get(id).map(|p| (p.name.as_str(), id)))
            .collect();
        ranked.sort();
        ranked
            .into_iter()
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The employees filed under a word that begins with `prefix`.
    fn starting(&self, prefix: &str) -> HashSet<&String> {
        self.words
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(w, _)| w.starts_with(prefix))
            .flat_map(|(_, ids)| ids.iter())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_keys::directory::Employee;

    /// What people search did before the index: every active employee's words, scanned.
    fn scan(
        dir: &Directory,
        profile: &HashMap<String, String>,
        query: &str,
        limit: usize,
    ) -> Vec<String> {
        let wanted = query_words(query);
        let mut out: Vec<&Employee> = dir
            .employees
            .values()
            .filter(|e| e.status == Status::Active)
            .filter(|e| {
                let mut hay = directory_text(e);
                hay.push(' ');
                hay.push_str(profile.get(&e.id).map_or("", String::as_str));
                let words = words_of(&hay);
                wanted
                    .iter()
                    .all(|w| words.iter().any(|h| h.starts_with(w.as_str())))
            })
            .collect();
        out.sort_by_key(|e| (fold(&e.display_name), e.id.clone()));
        out.into_iter().take(limit).map(|e| e.id.clone()).collect()
    }

    fn company() -> (Directory, HashMap<String, String>) {
        let first = [
            "Hélène", "Jean", "Amélie", "John", "Søren", "Li", "Hélène", "Zoé",
        ];
        let last = [
            "Dupré",
            "Martin",
            "Smith",
            "Ødegaard",
            "Wang",
            "Dupont",
            "Müller",
        ];
        let titles = [
            "Ingénieure réseau",
            "Sales manager",
            "Volcanologue",
            "",
            "Chef de projet",
        ];
        let depts = ["R&D", "Ventes", "IT", "Communication"];
        let sites = ["paris", "new-york", "shanghai"];
        let mut dir = Directory::default();
        let mut profile = HashMap::new();
        for i in 0..400usize {
            let id = format!("u{i:03}");
            let name = format!("{} {}", first[i % first.len()], last[(i / 3) % last.len()]);
            dir.employees.insert(
                id.clone(),
                Employee {
                    id: id.clone(),
                    display_name: name,
                    email: format!("{id}@example.com"),
                    site: sites[i % sites.len()].into(),
                    title: titles[i % titles.len()].into(),
                    department: depts[(i / 7) % depts.len()].into(),
                    status: if i % 17 == 0 {
                        Status::Left
                    } else {
                        Status::Active
                    },
                    given_name: String::new(),
                    family_name: String::new(),
                    phone: String::new(),
                    manager: None,
                    roles: Vec::new(),
                    history: Vec::new(),
                },
            );
            if i % 5 == 0 {
                profile.insert(id, format!("kubernetes rust theatre{}", i % 3));
            }
        }
        (dir, profile)
    }

    #[test]
    fn the_index_finds_who_a_scan_of_the_directory_finds_in_the_same_order() {
        let (dir, mut profile) = company();
        let mut index = PeopleIndex::build(&dir, |id| profile.get(id).map_or("", String::as_str));
        assert_eq!(
            index.len(),
            dir.employees
                .values()
                .filter(|e| e.status == Status::Active)
                .count()
        );
        let queries = [
            "",
            "h",
            "hel",
            "helene",
            "Hélène Dupré",
            "hel dup",
            "@u01",
            "u1",
            "zo",
            "soren",
            "odegaard",
            "ingenieure",
            "sales, manager",
            "r",
            "rd",
            "ventes paris",
            "new",
            "york",
            "kube",
            "theatre1",
            "rust u0",
            "example",
            "nobody",
            "muller jean",
            "chef projet shanghai",
            "li wang it",
        ];
        for q in queries {
            for limit in [1, 7, 50, 1000] {
                assert_eq!(
                    index.search(q, limit),
                    scan(&dir, &profile, q, limit),
                    "{q:?} {limit}"
                );
            }
        }
        assert!(!index.search("hel", 1000).is_empty());
        // Hundreds of words cost a few lookups: repeated ones and those another one begins
        // with are left out, and no more than eight are looked up.
        let many: String = (0..300)
            .map(|i| format!("{} ", ["h", "he", "hel", "u", "u1"][i % 5]))
            .collect();
        assert_eq!(query_words(&many), vec!["hel".to_owned(), "u1".to_owned()]);
        assert_eq!(index.search(&many, 50), scan(&dir, &profile, &many, 50));
        let letters: String = ('a'..='z').map(|c| format!("{c} ")).collect();
        assert_eq!(query_words(&letters).len(), MAX_QUERY_WORDS);
        assert!(index.search("nobody", 10).is_empty());
        // A profile that changes: found by its new words, no longer by its old ones.
        profile.insert("u001".into(), "volcans islande".into());
        index.set_profile_words("u001", "volcans islande");
        assert_eq!(index.search("islande", 10), vec!["u001".to_owned()]);
        assert_eq!(
            index.search("volc", 1000),
            scan(&dir, &profile, "volc", 1000)
        );
        profile.insert("u005".into(), String::new());
        index.set_profile_words("u005", "");
        assert_eq!(
            index.search("kube", 1000),
            scan(&dir, &profile, "kube", 1000)
        );
        // Someone who left is never filed, even when their profile changes.
        index.set_profile_words("u017", "kubernetes");
        assert!(!index.search("u017", 10).contains(&"u017".to_owned()));
    }
}
