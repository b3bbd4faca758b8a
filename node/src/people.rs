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

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Place in the order of answers (folded display name, then id), from 0.
    rank: u32,
    /// From the directory.
    directory: BTreeSet<String>,
    /// From the profile.
    profile: BTreeSet<String>,
}

/// People by the words they are found by (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PeopleIndex {
    people: HashMap<String, Person>,
    /// Every filed employee's id, in the order of answers: a person's rank is their index.
    order: Vec<String>,
    /// Word → the ranks of the employees filed under it, ascending.
    words: BTreeMap<String, Vec<u32>>,
}

impl PeopleIndex {
    /// Files every active employee of `dir`, with the profile words `profile` gives.
    pub fn build<'a>(dir: &Directory, profile: impl Fn(&str) -> &'a str) -> PeopleIndex {
        let mut active: Vec<(String, &Employee)> = dir
            .employees
            .values()
            .filter(|e| e.status == Status::Active)
            .map(|e| (fold(&e.display_name), e))
            .collect();
        active.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        let mut index = PeopleIndex::default();
        for (rank, (_, e)) in active.into_iter().enumerate() {
            let person = Person {
                rank: rank as u32,
                directory: words_of(&directory_text(e)),
                profile: words_of(profile(&e.id)),
            };
            index.order.push(e.id.clone());
            // Ranks are filed in ascending order: every list stays sorted by pushing.
            for w in person.directory.iter().chain(&person.profile) {
                let ranks = index.words.entry(w.clone()).or_default();
                if ranks.last() != Some(&person.rank) {
                    ranks.push(person.rank);
                }
            }
            index.people.insert(e.id.clone(), person);
        }
        index
    }

    /// Files `employee` under the words their profile now says (`words`, as the read model
    /// keeps them). Someone the directory does not list as active stays out.
    pub fn set_profile_words(&mut self, employee: &str, words: &str) {
        let Some(person) = self.people.get_mut(employee) else {
            return;
        };
        let new = words_of(words);
        let old = std::mem::replace(&mut person.profile, new.clone());
        let (rank, directory) = (person.rank, person.directory.clone());
        for w in old.difference(&new).filter(|w| !directory.contains(*w)) {
            if let Some(ranks) = self.words.get_mut(w) {
                if let Ok(i) = ranks.binary_search(&rank) {
                    ranks.remove(i);
                }
                if ranks.is_empty() {
                    self.words.remove(w);
                }
            }
        }
        for w in new.difference(&old) {
            let ranks = self.words.entry(w.clone()).or_default();
            if let Err(i) = ranks.binary_search(&rank) {
                ranks.insert(i, rank);
            }
        }
    }

    /// How many people are filed.
    /// Every filed (active) employee, in folded-name order.
    pub fn in_order(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Whether no one is filed.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The ids of the first `limit` people (by folded name, then id) found by `query`.
    ///
    /// One word: the first `limit` ranks of each word it begins, merged (the first `limit`
    /// of a union are among the first `limit` of each part). Several: the people the word
    /// with the fewest candidates finds, in rank order, kept while they also have a word
    /// beginning with each of the others, until `limit` are found.
    pub fn search(&self, query: &str, limit: usize) -> Vec<String> {
        let wanted = query_words(query);
        let by_rank = |ranks: &[u32]| -> Vec<String> {
            ranks
                .iter()
                .filter_map(|r| self.order.get(*r as usize).cloned())
                .collect()
        };
        if wanted.is_empty() {
            return self.order.iter().take(limit).cloned().collect();
        }
        let lists: Vec<Vec<&[u32]>> = wanted.iter().map(|w| self.starting(w)).collect();
        if lists.len() == 1 {
            let mut first: Vec<u32> = lists[0]
                .iter()
                .flat_map(|ranks| ranks.iter().take(limit).copied())
                .collect();
            first.sort_unstable();
            first.dedup();
            first.truncate(limit);
            return by_rank(&first);
        }
        let count = |parts: &Vec<&[u32]>| parts.iter().map(|r| r.len()).sum::<usize>();
        let Some((narrowest, _)) = lists.iter().enumerate().min_by_key(|(_, l)| count(l)) else {
            return Vec::new();
        };
        let mut candidates: Vec<u32> = lists[narrowest]
            .iter()
            .flat_map(|ranks| ranks.iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let others: Vec<&str> = wanted
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != narrowest)
            .map(|(_, w)| w.as_str())
            .collect();
        let mut found = Vec::new();
        for r in candidates {
            let Some(person) = self
                .order
                .get(r as usize)
                .and_then(|id| self.people.get(id))
            else {
                continue;
            };
            if others.iter().all(|w| person.has_word_starting(w)) {
                found.push(r);
                if found.len() == limit {
                    break;
                }
            }
        }
        by_rank(&found)
    }

    /// The rank lists of the words that begin with `prefix`.
    fn starting(&self, prefix: &str) -> Vec<&[u32]> {
        self.words
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(w, _)| w.starts_with(prefix))
            .map(|(_, ranks)| ranks.as_slice())
            .collect()
    }
}

impl Person {
    fn has_word_starting(&self, prefix: &str) -> bool {
        [&self.directory, &self.profile].iter().any(|set| {
            set.range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|w| w.starts_with(prefix))
        })
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
