//! A generated company in the test suite (issue 15): thousands of people, hundreds of
//! groups, tens of thousands of posts written through a node's real write path into a real
//! store, then the node's answers — feeds, access, search, people search — checked against
//! brute-force oracles that read the documents themselves (not the read models or indexes
//! the node answers from), before and after a restart.
//!
//! One test: generating the company is the expensive part, and every check reads it.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use weft_crdt::testkit::Rng;
use weft_crdt::{DocId, DocKind, GroupView, ThreadView, Visibility};
use weft_keys::{Directory, Status};
use weft_node::company::{Company, Spec, Truth};
use weft_node::search::{HitKind, SearchQuery};
use weft_node::service::{Access, fold, last_activity};
use weft_node::{Core, Store};

/// The scaled-down company: a tenth of the people and groups of the big one, with enough
/// posts that every group size and thread length of the plan occurs.
fn spec() -> Spec {
    Spec {
        people: 5_000,
        sites: 40,
        groups: 400,
        posts: 20_000,
        days: 60,
        seed: 7,
    }
}

/// What the oracles know, read from the documents.
struct Oracle {
    dir: Directory,
    groups: BTreeMap<DocId, GroupView>,
    /// Thread → (group, author, last activity).
    threads: BTreeMap<DocId, (DocId, String, i64)>,
    all_company: DocId,
}

impl Oracle {
    fn read(core: &mut Core, truth: &Truth) -> Oracle {
        let dir = core.replica().directory().unwrap().directory.clone();
        let mut groups = BTreeMap::new();
        let mut threads = BTreeMap::new();
        let ids: Vec<DocId> = core.replica().doc_ids().cloned().collect();
        for id in ids {
            assert!(core.load(&id), "{id} is readable");
            let doc = core.replica().doc(&id).unwrap();
            match id.kind() {
                DocKind::Group => {
                    groups.insert(id.clone(), GroupView::of(doc).unwrap());
                }
                DocKind::Thread => {
                    let v = ThreadView::of(doc).unwrap();
                    threads.insert(
                        id.clone(),
                        (v.group.clone(), v.author.clone(), last_activity(&v)),
                    );
                }
                DocKind::Profile => {}
            }
        }
        let all_company = DocId::parse(&truth.groups[0].id).unwrap();
        Oracle {
            dir,
            groups,
            threads,
            all_company,
        }
    }

    /// The access rule, from the group document: public groups to everyone; the others to
    /// members and invitees, a private one's listing to everyone else.
    fn group_access(&self, employee: &str, group: &DocId) -> Access {
        let Some(g) = self.groups.get(group) else {
            return Access::None;
        };
        if g.visibility == Visibility::Public
            || g.members.iter().any(|m| m == employee)
            || g.invitations.iter().any(|m| m == employee)
        {
            Access::Full
        } else if g.visibility == Visibility::Private {
            Access::Listing
        } else {
            Access::None
        }
    }

    fn doc_access(&self, employee: &str, doc: &DocId) -> Access {
        match doc.kind() {
            DocKind::Group => self.group_access(employee, doc),
            DocKind::Thread => match self.threads.get(doc) {
                Some((g, _, _)) if self.group_access(employee, g) == Access::Full => Access::Full,
                _ => Access::None,
            },
            DocKind::Profile => Access::Full,
        }
    }

    /// Whether a site may hold a document: public, or a member or invitee is homed there.
    fn may_hold(&self, site: &str, doc: &DocId) -> bool {
        let group = match doc.kind() {
            DocKind::Group => doc,
            DocKind::Thread => &self.threads[doc].0,
            DocKind::Profile => return true,
        };
        let g = &self.groups[group];
        g.visibility == Visibility::Public
            || g.members
                .iter()
                .chain(&g.invitations)
                .any(|m| self.dir.employees.get(m).is_some_and(|e| e.site == site))
    }

    /// The feed's rule: threads of one's groups and of All company, followed threads and
    /// threads by followed people, that one may read; newest activity first, then id.
    fn feed(
        &self,
        employee: &str,
        followed: &HashSet<DocId>,
        people: &HashSet<String>,
        limit: usize,
    ) -> Vec<DocId> {
        let mut picked: Vec<(&DocId, i64)> = self
            .threads
            .iter()
            .filter(|(id, (g, author, _))| {
                let mine = self.groups[g].members.iter().any(|m| m == employee)
                    || *g == self.all_company
                    || followed.contains(*id)
                    || people.contains(author);
                mine && self.group_access(employee, g) == Access::Full
            })
            .map(|(id, (_, _, t))| (id, *t))
            .collect();
        picked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        picked
            .into_iter()
            .take(limit)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// People search by scanning the directory: every word of the query begins a word of
    /// what the directory or the profile says of an active employee.
    fn people(&self, core: &Core, query: &str) -> BTreeSet<String> {
        let q: Vec<String> = fold(query).split_whitespace().map(str::to_owned).collect();
        let model = core.model();
        self.dir
            .employees
            .values()
            .filter(|e| e.status == Status::Active)
            .filter(|e| {
                let text = fold(&format!(
                    "{} {} {} {} {} {} {}",
                    e.id,
                    e.display_name,
                    e.email,
                    e.site,
                    e.title,
                    e.department,
                    model.profile_words(&e.id)
                ));
                let words: Vec<&str> = text
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                q.iter()
                    .all(|w| words.iter().any(|x| x.starts_with(w.as_str())))
            })
            .map(|e| e.id.clone())
            .collect()
    }
}

/// Everything the node answers that the oracles check, in a form to compare before and
/// after a restart.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    feeds: Vec<Vec<DocId>>,
    access: Vec<Access>,
    holds: Vec<bool>,
    search: Vec<BTreeSet<(String, String)>>,
    people: Vec<BTreeSet<String>>,
}

struct Samples {
    readers: Vec<String>,
    pairs: Vec<(String, DocId)>,
    holds: Vec<(String, DocId)>,
    tokens: Vec<(String, String)>,
    people: Vec<String>,
}

fn samples(core: &Core, oracle: &Oracle, truth: &Truth) -> Samples {
    let mut rng = Rng::new(99);
    let here: Vec<String> = oracle
        .dir
        .employees
        .values()
        .filter(|e| e.site == core.site())
        .map(|e| e.id.clone())
        .collect();
    let everyone: Vec<String> = oracle.dir.employees.keys().cloned().collect();
    // Members of private and secret groups are the interesting readers: half the sample.
    let closed: Vec<&GroupView> = oracle
        .groups
        .values()
        .filter(|g| g.visibility != Visibility::Public)
        .collect();
    assert!(!closed.is_empty(), "the company has private groups");
    let mut readers = Vec::new();
    for i in 0..50 {
        readers.push(if i % 2 == 0 {
            here[rng.below(here.len())].clone()
        } else {
            let g = closed[rng.below(closed.len())];
            g.members[rng.below(g.members.len())].clone()
        });
    }
    let docs: Vec<DocId> = oracle
        .groups
        .keys()
        .chain(oracle.threads.keys())
        .cloned()
        .collect();
    let closed_docs: Vec<DocId> = docs
        .iter()
        .filter(|d| {
            let g = match d.kind() {
                DocKind::Group => *d,
                _ => &oracle.threads[*d].0,
            };
            oracle.groups[g].visibility != Visibility::Public
        })
        .cloned()
        .collect();
    let mut pairs = Vec::new();
    for i in 0..500 {
        let doc = if i % 2 == 0 {
            closed_docs[rng.below(closed_docs.len())].clone()
        } else {
            docs[rng.below(docs.len())].clone()
        };
        // A member of the doc's group a third of the time, anyone otherwise.
        let g = match doc.kind() {
            DocKind::Group => &doc,
            _ => &oracle.threads[&doc].0,
        };
        let members = &oracle.groups[g].members;
        let who = if i % 3 == 0 && !members.is_empty() {
            members[rng.below(members.len())].clone()
        } else {
            everyone[rng.below(everyone.len())].clone()
        };
        pairs.push((who, doc));
    }
    let sites: Vec<&String> = oracle.dir.sites.keys().collect();
    let holds = (0..500)
        .map(|i| {
            let doc = if i % 2 == 0 {
                closed_docs[rng.below(closed_docs.len())].clone()
            } else {
                docs[rng.below(docs.len())].clone()
            };
            (sites[rng.below(sites.len())].clone(), doc)
        })
        .collect();
    let tokens: Vec<&String> = truth.tokens.keys().collect();
    assert!(tokens.len() >= 100, "{} planted words", tokens.len());
    let mut token_samples = Vec::new();
    for i in 0..100 {
        let token = tokens[rng.below(tokens.len())].clone();
        // Searchers: the token's group's members and anyone, in turn.
        let (thread, _) = &truth.tokens[&token];
        let g = &oracle.threads[&DocId::parse(thread).unwrap()].0;
        let members = &oracle.groups[g].members;
        let who = if i % 2 == 0 {
            members[rng.below(members.len())].clone()
        } else {
            everyone[rng.below(everyone.len())].clone()
        };
        token_samples.push((who, token));
    }
    // People queries: a family name, a given name and a site, a department's first letters.
    let mut people = Vec::new();
    for _ in 0..30 {
        let e = &oracle.dir.employees[&everyone[rng.below(everyone.len())]];
        people.push(e.family_name.clone());
        people.push(format!("{} {}", e.given_name, e.site));
        people.push(e.department.chars().take(4).collect());
    }
    Samples {
        readers,
        pairs,
        holds,
        tokens: token_samples,
        people,
    }
}

fn answers(core: &mut Core, s: &Samples) -> Answers {
    let reader = core.reader();
    let feeds = s
        .readers
        .iter()
        .map(|e| {
            reader
                .feed(e, None, 20)
                .unwrap()
                .into_iter()
                .map(|i| i.thread.id)
                .collect()
        })
        .collect();
    let access = s
        .pairs
        .iter()
        .map(|(e, d)| reader.doc_access(e, d))
        .collect();
    let holds = s
        .holds
        .iter()
        .map(|(site, d)| core.replica().may_hold(site, d))
        .collect();
    let mut search = Vec::new();
    for (who, token) in &s.tokens {
        let q = SearchQuery::parse(token).unwrap();
        let hits = core.search(who, &q, Some(HitKind::Post), 50).unwrap();
        search.push(
            hits.into_iter()
                .map(|h| (h.hit.id, h.hit.post.unwrap_or_default()))
                .collect(),
        );
    }
    let people = s
        .people
        .iter()
        .map(|q| {
            reader
                .find_people(q, 100_000)
                .into_iter()
                .map(|e| e.id)
                .collect()
        })
        .collect();
    Answers {
        feeds,
        access,
        holds,
        search,
        people,
    }
}

fn check(core: &mut Core, oracle: &Oracle, truth: &Truth, s: &Samples, got: &Answers) {
    // Feeds.
    let mut nonempty = 0;
    for (e, feed) in s.readers.iter().zip(&got.feeds) {
        // Follows are this node's own records (never replicated): the feed's input.
        let followed: HashSet<DocId> = core
            .store()
            .followed_threads(e)
            .unwrap()
            .into_iter()
            .collect();
        let people: HashSet<String> = core
            .store()
            .followed_people(e)
            .unwrap()
            .into_iter()
            .collect();
        let want = oracle.feed(e, &followed, &people, 20);
        assert_eq!(feed, &want, "the feed of {e}");
        nonempty += usize::from(!feed.is_empty());
    }
    assert!(nonempty >= 45, "feeds hold threads ({nonempty} of 50)");
    // Access and where documents may go.
    let mut full = 0;
    for ((e, d), a) in s.pairs.iter().zip(&got.access) {
        assert_eq!(*a, oracle.doc_access(e, d), "{e} on {d}");
        full += usize::from(*a == Access::Full);
    }
    assert!(
        (50..450).contains(&full),
        "both answers occur ({full} of 500 full)"
    );
    for ((site, d), h) in s.holds.iter().zip(&got.holds) {
        assert_eq!(*h, oracle.may_hold(site, d), "may {site} hold {d}");
    }
    // Search: a planted word finds its post for whoever may read it, and nothing else.
    let mut found = 0;
    for ((who, token), hits) in s.tokens.iter().zip(&got.search) {
        let (thread, post) = &truth.tokens[token];
        let t = DocId::parse(thread).unwrap();
        let want: BTreeSet<(String, String)> = if oracle.doc_access(who, &t) == Access::Full {
            BTreeSet::from([(thread.clone(), post.clone())])
        } else {
            BTreeSet::new()
        };
        assert_eq!(hits, &want, "{who} searching {token}");
        found += hits.len();
    }
    assert!(found >= 40, "planted words are found ({found} of 100)");
    // People.
    for (q, got) in s.people.iter().zip(&got.people) {
        assert_eq!(got, &oracle.people(core, q), "people search {q:?}");
    }
}

#[test]
fn a_generated_company_is_served_as_its_documents_say_before_and_after_a_restart() {
    let spec = spec();
    let company = Company::new(spec).unwrap();
    let site = company.founding_site();
    let dir = tempfile::tempdir().unwrap();
    let store_dir = common::private(dir.path()).join("store");
    let open = |c: &Company| {
        c.open_core(
            &site,
            Store::open(&store_dir).unwrap(),
            weft_crdt::sync::Config::default(),
        )
        .unwrap()
    };
    let mut core = open(&company);
    let started = std::time::Instant::now();
    let truth = company.generate(&mut core, &mut |_| {}).unwrap();
    eprintln!(
        "generated {} changes ({} threads, {} posts, {} likes, {} memberships, {} profiles) in {:?}",
        truth.changes,
        truth.threads,
        truth.posts,
        truth.likes,
        truth.memberships,
        truth.profiles,
        started.elapsed()
    );
    assert_eq!(truth.posts, spec.posts, "every planned post was written");
    assert_eq!(truth.groups.len(), spec.groups);
    let stats = core.store().stats();
    assert_eq!(
        stats.changes as usize, truth.changes,
        "every change is stored"
    );
    let sizes: Vec<usize> = truth.groups.iter().map(|g| g.members.len()).collect();
    assert!(sizes.iter().max().unwrap() >= &100 && sizes.iter().min().unwrap() <= &5);
    for v in ["public", "private", "secret"] {
        assert!(
            truth.groups.iter().any(|g| g.visibility == v),
            "a {v} group"
        );
    }

    let started = std::time::Instant::now();
    let oracle = Oracle::read(&mut core, &truth);
    assert_eq!(oracle.threads.len(), truth.threads);
    assert_eq!(oracle.groups.len(), spec.groups);
    // The documents hold what was generated: members, and every planted word.
    for g in &truth.groups {
        let view = &oracle.groups[&DocId::parse(&g.id).unwrap()];
        let want: BTreeSet<&String> = g.members.iter().collect();
        assert_eq!(view.members.iter().collect::<BTreeSet<_>>(), want);
    }
    let s = samples(&core, &oracle, &truth);
    core.set_cache_documents(weft_node::DEFAULT_CACHE_DOCUMENTS);
    let before = answers(&mut core, &s);
    check(&mut core, &oracle, &truth, &s, &before);
    eprintln!("checked in {:?}", started.elapsed());

    // A restart serves the same answers, from the stored read models and group records,
    // replaying nothing.
    core.checkpoint().unwrap();
    drop(core);
    let started = std::time::Instant::now();
    let mut core = open(&company);
    eprintln!(
        "reopened in {:?}: {:?}",
        started.elapsed(),
        core.restore_stats()
    );
    assert!(core.read_models_were_stored());
    assert_eq!(core.restore_stats().replayed_documents, 0);
    assert_eq!(core.restore_stats().groups_from_records, spec.groups);
    let after = answers(&mut core, &s);
    assert_eq!(after, before, "a restart serves the same answers");
}
