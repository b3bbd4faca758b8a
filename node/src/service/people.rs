//! People: an employee's directory entry with their profile, finding people, pictures and
//! editing one's own profile.

use std::sync::Arc;

use weft_crdt::{DocId, ProfileUpdate, ProfileView};
use weft_keys::Employee;

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;

/// Someone, as the directory lists them and as their profile describes them.
#[derive(Debug, Clone)]
pub struct Person {
    pub employee: Employee,
    pub profile: Arc<ProfileView>,
}

/// What a person's page shows its viewer.
#[derive(Debug, Clone)]
pub struct PersonPage {
    pub person: Person,
    /// Their manager's id and name, if the directory names one it lists.
    pub manager: Option<(String, String)>,
    /// Whether the viewer follows them.
    pub following: bool,
    /// The people whose manager they are (id, name, title), by name.
    pub reports: Vec<(String, String, String)>,
}

/// A page of the people directory (see [`Service::browse_people`]).
#[derive(Debug, Clone)]
pub struct DirectoryPage {
    /// The people of this page, by name.
    pub people: Vec<Employee>,
    /// How many match in all.
    pub total: usize,
    /// Every site (id, name) and department, to filter by.
    pub sites: Vec<(String, String)>,
    pub departments: Vec<String>,
    /// The profiles of the people of this page that this node holds (their photos).
    pub profiles: std::collections::HashMap<String, Arc<ProfileView>>,
}

/// What the people directory is filtered by (each `None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryFilter {
    pub site: Option<String>,
    pub department: Option<String>,
    /// Words of the title, in any case and with any accents.
    pub title: Option<String>,
    /// Direct reports of this employee.
    pub manager: Option<String>,
}

/// The fields of one's profile to change (those left `None` stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    pub about: Option<String>,
    pub career: Option<String>,
    pub expertise: Option<Vec<String>>,
    pub interests: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub locale: Option<String>,
    /// An IANA time zone, or empty for the browser's.
    pub time_zone: Option<String>,
    /// A new picture: its digest (what `photo` records) and its bytes; an empty digest and
    /// no bytes remove it.
    pub picture: Option<(String, Vec<u8>)>,
}

impl Service {
    /// An employee's profile (everyone's is visible to every employee). Off the loop when a
    /// view of it is kept; otherwise one job reads it back and keeps it.
    pub async fn profile(
        &self,
        _v: &Viewer,
        employee: &str,
    ) -> Result<Arc<ProfileView>, NodeError> {
        if let Some(p) = self.reader().profile(employee) {
            return Ok(p);
        }
        let who = employee.to_owned();
        self.run("people.profile", move |c| Ok(c.profile_view_of(&who)))
            .await
    }

    /// Someone the directory lists (whatever their status), with their profile; `NotFound`
    /// if it does not list them.
    pub async fn person(&self, v: &Viewer, employee: &str) -> Result<Person, NodeError> {
        let e = self
            .reader()
            .employee(employee)
            .ok_or(NodeError::NotFound)?;
        let profile = self.profile(v, employee).await?;
        Ok(Person {
            employee: e,
            profile,
        })
    }

    /// The name the directory gives `employee`, else their id. Off the loop.
    pub fn display_name(&self, employee: &str) -> String {
        self.reader()
            .employee(employee)
            .map_or_else(|| employee.to_owned(), |e| e.display_name)
    }

    /// A person's page: the person, their manager and whether the viewer follows them.
    pub async fn person_page(&self, v: &Viewer, employee: &str) -> Result<PersonPage, NodeError> {
        let person = self.person(v, employee).await?;
        let manager = person
            .employee
            .manager
            .as_ref()
            .and_then(|m| self.reader().employee(m))
            .map(|m| (m.id.clone(), m.display_name.clone()));
        let following = self.reader().follows_person(v.id(), employee)?;
        let dir = self.reader().directory();
        let mut reports: Vec<(String, String, String)> = dir
            .employees
            .values()
            .filter(|e| {
                e.manager.as_deref() == Some(employee) && e.status == weft_keys::Status::Active
            })
            .map(|e| (e.id.clone(), e.display_name.clone(), e.title.clone()))
            .collect();
        reports.sort_by_cached_key(|r| crate::readmodel::fold(&r.1));
        Ok(PersonPage {
            person,
            manager,
            following,
            reports,
        })
    }

    /// People still at the company matching `query` (names, ids, e-mails, titles,
    /// departments, sites), with their profiles. Off the loop, but for profiles no one read
    /// lately (one job reads them all back).
    pub async fn find_people(
        &self,
        _v: &Viewer,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Person>, NodeError> {
        let found = self.reader().find_people(query, limit);
        // Each profile from the read model's card (no document is read); from a view kept
        // for readers, or the loop, only for a profile recorded without one.
        let mut cards: Vec<Option<Arc<ProfileView>>> = {
            let reader = self.reader();
            let model = reader.model();
            found
                .iter()
                .map(|e| model.profile_card(&e.id).map(Arc::new))
                .collect()
        };
        for (card, e) in cards.iter_mut().zip(&found) {
            if card.is_none() {
                *card = self.reader().profile(&e.id);
            }
        }
        let missing: Vec<String> = found
            .iter()
            .zip(&cards)
            .filter(|(_, c)| c.is_none())
            .map(|(e, _)| e.id.clone())
            .collect();
        if !missing.is_empty() {
            self.run("people.profiles", move |c| {
                for who in &missing {
                    c.profile_view_of(who);
                }
                Ok(())
            })
            .await?;
        }
        Ok(found
            .into_iter()
            .zip(cards)
            .map(|(e, card)| {
                let profile = card
                    .or_else(|| self.reader().profile(&e.id))
                    .unwrap_or_default();
                Person {
                    employee: e,
                    profile,
                }
            })
            .collect())
    }

    /// An employee's profile picture, if they have one. One job: pictures are not kept.
    pub async fn picture(&self, _v: &Viewer, employee: &str) -> Result<Option<Vec<u8>>, NodeError> {
        let who = employee.to_owned();
        self.run("people.picture", move |c| Ok(c.picture_of(&who)))
            .await
    }

    /// The people directory: active employees, by name, filtered by site, department and
    /// words of their title (any case, any accents), `limit` from `offset`.
    pub fn browse_people(&self, f: &DirectoryFilter, offset: usize, limit: usize) -> DirectoryPage {
        use crate::readmodel::fold;
        let dir = self.reader().directory();
        let (site, department, manager) = (
            f.site.as_deref(),
            f.department.as_deref(),
            f.manager.as_deref(),
        );
        let words: Vec<String> = f
            .title
            .as_deref()
            .map(|t| fold(t).split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        // In name order already: the people index keeps the active employees so.
        let matching: Vec<&Employee> = {
            let model = self.reader().model();
            model
                .people()
                .in_order()
                .filter_map(|id| dir.employees.get(id))
                .filter(|e| site.is_none_or(|s| e.site.as_str() == s))
                .filter(|e| department.is_none_or(|d| e.department == d))
                .filter(|e| manager.is_none_or(|m| e.manager.as_deref() == Some(m)))
                .filter(|e| {
                    words.is_empty() || {
                        let t = fold(&e.title);
                        words.iter().all(|w| t.contains(w.as_str()))
                    }
                })
                .collect()
        };
        let distinct: std::collections::BTreeSet<&str> = dir
            .employees
            .values()
            .filter(|e| e.status == weft_keys::Status::Active && !e.department.is_empty())
            .map(|e| e.department.as_str())
            .collect();
        let mut departments: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
        departments.sort_by_cached_key(|d| fold(d));
        let people: Vec<Employee> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|e| (*e).clone())
            .collect();
        let model = self.reader().model();
        let profiles = people
            .iter()
            .filter_map(|e| Some((e.id.clone(), Arc::new(model.profile_card(&e.id)?))))
            .collect();
        drop(model);
        DirectoryPage {
            total: matching.len(),
            profiles,
            people,
            sites: dir
                .sites
                .values()
                .map(|s| (s.id.to_string(), s.name.clone()))
                .collect(),
            departments,
        }
    }

    /// Changes the viewer's own profile.
    pub async fn update_profile(&self, v: &Viewer, edit: ProfileEdit) -> Result<(), NodeError> {
        let (me, now) = (v.0.clone(), self.now_ms());
        self.run("people.update_profile", move |c| {
            let update = ProfileUpdate {
                about: edit.about.as_deref(),
                career: edit.career.as_deref(),
                expertise: edit.expertise.as_deref(),
                interests: edit.interests.as_deref(),
                languages: edit.languages.as_deref(),
                locale: edit.locale.as_deref(),
                time_zone: edit.time_zone.as_deref(),
                photo: edit.picture.as_ref().map(|(d, _)| d.as_str()),
                picture: edit.picture.as_ref().map(|(_, b)| b.as_slice()),
            };
            c.update_profile(&me, &update, now)
        })
        .await
    }
}

impl Core {
    /// `employee`'s profile view (empty if they have none), read back if need be and kept
    /// for readers.
    pub(crate) fn profile_view_of(&mut self, employee: &str) -> Arc<ProfileView> {
        let id = DocId::profile(employee);
        self.load(&id);
        let view = self
            .replica()
            .doc(&id)
            .map(ProfileView::of)
            .unwrap_or_default();
        self.keep_profile_view(employee, view)
    }

    /// An employee's own profile fields.
    pub fn profile_of(&mut self, employee: &str) -> ProfileView {
        (*self.profile_view_of(employee)).clone()
    }

    /// An employee's profile picture.
    pub fn picture_of(&mut self, employee: &str) -> Option<Vec<u8>> {
        self.load(&DocId::profile(employee));
        self.replica()
            .doc(&DocId::profile(employee))
            .and_then(ProfileView::picture_of)
    }

    /// Edits one's profile.
    pub fn update_profile(
        &mut self,
        employee: &str,
        update: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.local_one(employee, |r, me| r.update_profile(me, update, now))
    }
}
