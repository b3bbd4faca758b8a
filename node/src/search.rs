//! Full-text search (tantivy): posts, groups and people, in English and French.
//!
//! Each word of a text is indexed with its English and its French stem (one term when both
//! stemmers agree, both at the word's position otherwise: see [`BothStems`]), and a query's
//! words are looked up by both stems, so "réunions" finds "réunion" and "meetings" finds
//! "meeting" whatever the language of the post. (Layouts before 5 indexed each text twice,
//! in an English and a French field: every common word's posts were walked twice per
//! search.) The index is kept on disk, in the store's directory, and updated
//! as documents change; each commit records (as tantivy's commit payload) the last stored
//! change it covers, so a restart reindexes only the documents changed since — or everything,
//! if the index is missing, unreadable or of another version. What a searcher may see is
//! decided at query time by the node's visibility rules, never by the index.
//!
//! # Queries are built here, from words
//!
//! A user's text never reaches a query grammar: [`SearchQuery::parse`] cuts it into at most
//! [`MAX_WORDS`] words and [`MAX_PHRASES`] quoted phrases (of at most [`MAX_PHRASE_WORDS`]
//! words) from at most [`MAX_QUERY_BYTES`] bytes, and [`SearchIndex::search`] turns those into
//! a flat query of term and phrase queries, one level deep. No input can nest, recurse or
//! name a field; anything beyond the limits is refused (the API answers 400), so the cost of
//! a search is bounded whatever is typed. (tantivy's own query grammar recursed once per
//! parenthesis: 2 KB of `(` overflowed the stack and aborted the node.)
//!
//! # Ranking sees only the searcher's own documents, and no statistics of any others
//!
//! BM25 weighs a word by how many documents of the whole index hold it, so with the index's
//! statistics the order of two visible results could tell whether a word is frequent in
//! groups the searcher may not read. Two things prevent it:
//!
//! * **The searcher's scope filters every match before it is scored**: posts only of the
//!   groups the searcher reads, groups only those they may see listed, and people (each
//!   entry carries its group's key in a fast field, and the filter is a set of the scope's
//!   keys). Documents outside it are never scored, kept or counted, so they cannot push
//!   visible results out of a page either. (The scope was first a query clause, a set of the
//!   scope's group terms: at 4,000 groups and a million posts, building it read the postings
//!   of every post in scope at every search, 70 ms a query.)
//! * **Scores use fixed collection statistics** ([`FixedStatistics`]): every word is given
//!   the same rarity and every field a fixed typical length. A document's score is then a
//!   function of that document alone: how often each word occurs in it (saturating, as in
//!   BM25), its length, whether the word is in the title (counted twice), and its age (a
//!   post loses up to a quarter of its score over about a year, see [`recency`]).
//!
//! The cost in quality: a rare word no longer outweighs a common one, so for "the
//! kubernetes migration" a post saying "the" many times can rank above one saying
//! "kubernetes" once. Every word counts alike; posts that hold more of the words still come
//! first, and quoting a phrase requires it. Per-scope statistics (document frequencies
//! counted over the searcher's own scope) would restore rarity without leaking, at the cost
//! of a pass over the scope's postings for every word of every query; at our sizes the
//! simple, fixed score is the better trade, and it is what the ranking test pins down.

use std::collections::BTreeMap;

use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::{Bm25StatisticsProvider, BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, Term, doc};
use weft_crdt::{DocId, DocKind, GroupView, Replica, ThreadView};
use weft_keys::{Directory, Status};

use crate::error::NodeError;

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    Post,
    Group,
    Person,
}

impl HitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Post => "post",
            HitKind::Group => "group",
            HitKind::Person => "person",
        }
    }

    pub fn parse(s: &str) -> Option<HitKind> {
        match s {
            "post" => Some(HitKind::Post),
            "group" => Some(HitKind::Group),
            "person" => Some(HitKind::Person),
            _ => None,
        }
    }
}

/// One search result, before visibility filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: HitKind,
    /// The thread (posts), group or employee id.
    pub id: String,
    /// For posts: the post's id within the thread.
    pub post: Option<String>,
    pub title: String,
    /// An excerpt with the matched words in `<b>`, HTML-escaped by tantivy.
    pub snippet_html: String,
}

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    id: Field,
    post: Field,
    /// `thread~post`, to replace one post.
    key: Field,
    title: Field,
    /// The title's words, by both stems.
    title_words: Field,
    /// The body as written (stored: results and their excerpts are made from it).
    body: Field,
    /// The body's words, by both stems.
    body_words: Field,
    /// A post's #topics, exactly as the post view gives them (one term each).
    topic: Field,
    /// A post's group (its thread's group).
    group: Field,
    /// Who may match the entry, as a number a fast filter reads (see [`scope_key`]): a
    /// post's group's key, a group's own key with the top bit set, `u64::MAX` for a person.
    scope: Field,
    /// When the post or group was made (ms since the epoch; 0 for people), for recency.
    at: Field,
    /// The tier a hit is ranked in before its score (see [`rank_of`]): a post of an
    /// official thread first, of an outdated one last.
    rank: Field,
}

/// Little words left out when names are compared ([`name_words`]), in English and French.
const LITTLE_WORDS: [&str; 24] = [
    "a", "an", "and", "at", "au", "aux", "d", "de", "des", "du", "en", "et", "for", "l", "la",
    "le", "les", "of", "on", "pour", "the", "to", "un", "une",
];

/// The words of a name as the index finds them — lower case, accents folded, each by its
/// English and French stems — without the little words: "Club de photo" and "Photo club"
/// give the same two words. For telling likely duplicate groups.
pub fn name_words(text: &str) -> Vec<std::collections::BTreeSet<String>> {
    use tantivy::tokenizer::TokenStream;
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(BothStems)
        .build();
    let mut words: Vec<(usize, std::collections::BTreeSet<String>)> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        match words.last_mut() {
            Some((pos, stems)) if *pos == t.position => {
                stems.insert(t.text.clone());
            }
            _ => words.push((t.position, [t.text.clone()].into())),
        }
    }
    let mut out: Vec<std::collections::BTreeSet<String>> = Vec::new();
    for (_, stems) in words {
        if !stems.iter().any(|s| LITTLE_WORDS.contains(&s.as_str())) && !out.contains(&stems) {
            out.push(stems);
        }
    }
    out
}

/// How many of `a`'s words `b` holds (a word matches by either of its stems).
pub fn words_shared(
    a: &[std::collections::BTreeSet<String>],
    b: &[std::collections::BTreeSet<String>],
) -> usize {
    a.iter()
        .filter(|w| b.iter().any(|v| !w.is_disjoint(v)))
        .count()
}

/// The tier of a post of a thread marked `mark`: official 2, unmarked (and every group and
/// person) 1, outdated 0. Hits are ordered by tier, then by score.
pub fn rank_of(mark: Option<weft_crdt::ThreadMark>) -> u64 {
    match mark {
        Some(weft_crdt::ThreadMark::Official) => 2,
        None => 1,
        Some(weft_crdt::ThreadMark::Outdated) => 0,
    }
}

/// One document of the index, as [`SearchIndex::add`] takes it.
struct Entry<'a> {
    kind: HitKind,
    id: &'a str,
    post: &'a str,
    title: &'a str,
    body: &'a str,
    topics: &'a [String],
    group: &'a str,
    at: i64,
    /// See [`rank_of`].
    rank: u64,
}

/// A change to the index, buffered until the next commit.
enum Op {
    Delete(Term),
    Add(TantivyDocument),
}

/// The node's search index.
///
/// Changes are buffered and applied at [`SearchIndex::commit`] by a writer made for the
/// occasion and dropped after: tantivy's writer reserves at least 15 MB of memory, which an
/// idle node should not hold.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    pending: Vec<Op>,
    /// Whether `pending` holds anything, for readers off the loop ([`SearchReader`]).
    dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    f: Fields,
    /// Each thread's Automerge heads when it was last indexed.
    seen: std::collections::HashMap<DocId, Vec<automerge::ChangeHash>>,
    /// The last stored change that what was indexed covers, and the one the last commit
    /// recorded.
    covered: Option<u64>,
    committed: Option<u64>,
    /// The directory version whose people were indexed, and the one the last commit
    /// recorded.
    people: Option<u64>,
    committed_people: Option<u64>,
}

/// The index's layout version, kept in every commit's payload: an index written with another
/// one is rebuilt.
/// * 1: the first.
/// * 2: adds `topic`.
/// * 3: adds `group` and `at` (scoped, statistics-free ranking).
/// * 4: adds `scope`, the fast field the searcher's scope filters on (a set of thousands of
///   group terms in the query cost a pass over every post of those groups per search).
/// * 5: one field for a title's words and one for a body's, each word by both stems, instead
///   of an English and a French field each (and the body stored once, not twice).
/// * 6: adds `rank`: official threads' posts first, outdated ones' last.
const LAYOUT: u32 = 6;

/// The analyzer of titles and bodies (see [`BothStems`]).
const ANALYZER: &str = "weft_words";

/// A token filter that gives each (lower-cased, accent-folded) word its English stem and,
/// when it differs, its French stem at the same position: one field finds a word by either
/// language's stem. A phrase is looked up by English stems, which every position holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct BothStems;

impl tantivy::tokenizer::TokenFilter for BothStems {
    type Tokenizer<T: tantivy::tokenizer::Tokenizer> = BothStemsFilter<T>;

    fn transform<T: tantivy::tokenizer::Tokenizer>(self, tokenizer: T) -> BothStemsFilter<T> {
        BothStemsFilter { inner: tokenizer }
    }
}

/// [`BothStems`] applied to a tokenizer.
#[derive(Clone)]
pub struct BothStemsFilter<T> {
    inner: T,
}

impl<T: tantivy::tokenizer::Tokenizer> tantivy::tokenizer::Tokenizer for BothStemsFilter<T> {
    type TokenStream<'a> = BothStemsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        BothStemsStream {
            tail: self.inner.token_stream(text),
            en: frostem::Stemmer::new(frostem::Algorithm::English),
            fr: frostem::Stemmer::new(frostem::Algorithm::French),
            french: None,
            token: tantivy::tokenizer::Token::default(),
        }
    }
}

/// The token stream of [`BothStemsFilter`].
pub struct BothStemsStream<T> {
    tail: T,
    en: frostem::Stemmer,
    fr: frostem::Stemmer,
    /// The French stem of the word just given, when it is to come next.
    french: Option<String>,
    token: tantivy::tokenizer::Token,
}

impl<T: tantivy::tokenizer::TokenStream> tantivy::tokenizer::TokenStream for BothStemsStream<T> {
    fn advance(&mut self) -> bool {
        if let Some(fr) = self.french.take() {
            self.token.text = fr;
            return true;
        }
        if !self.tail.advance() {
            return false;
        }
        let word = self.tail.token();
        let en = self.en.stem(&word.text).into_owned();
        let fr = self.fr.stem(&word.text);
        if fr != en {
            self.french = Some(fr.into_owned());
        }
        self.token = tantivy::tokenizer::Token {
            text: en,
            ..word.clone()
        };
        true
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        &mut self.token
    }
}

/// How many index entries may wait in memory while a start-up reindexes (see
/// [`SearchIndex::commit_if_large`]).
const PENDING_COMMIT: usize = 20_000;

/// The top bit of a group entry's [`Fields::scope`] value.
const LISTED_BIT: u64 = 1 << 63;
/// A person's [`Fields::scope`] value: everyone may find people.
const PERSON_SCOPE: u64 = u64::MAX;

/// A group's key in [`Fields::scope`]: the first 63 bits of its id's random part (ids are
/// `g-` and 32 hexadecimal digits made from a hash), or of the id's SHA-256 for any other
/// form. Two groups sharing a key would only widen what the index offers for a scope; the
/// service checks every hit against the read model before showing it.
/// A set of scope keys. The keys are hashes already (of group ids), so they are hashed with
/// one multiplication by a key drawn when the node starts, not SipHash (which took a
/// measurable share of every search: each match is looked up); the key keeps anyone from
/// choosing group ids that collide.
pub type ScopeSet = std::collections::HashSet<u64, ScopeHash>;

/// The hasher of [`ScopeSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeHash(u64);

impl Default for ScopeHash {
    fn default() -> ScopeHash {
        static KEY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        ScopeHash(*KEY.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
        }))
    }
}

impl std::hash::BuildHasher for ScopeHash {
    type Hasher = ScopeHasher;
    fn build_hasher(&self) -> ScopeHasher {
        ScopeHasher(self.0)
    }
}

/// One [`ScopeSet`] key's hash.
#[derive(Debug, Clone, Copy)]
pub struct ScopeHasher(u64);

impl std::hash::Hasher for ScopeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn scope_key(group: &str) -> u64 {
    let hex = group.strip_prefix("g-").filter(|h| h.len() >= 16);
    let n = match hex.and_then(|h| u64::from_str_radix(&h[..16], 16).ok()) {
        Some(n) => n,
        None => {
            use sha2::Digest;
            let d = sha2::Sha256::digest(group.as_bytes());
            u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]))
        }
    };
    n & !LISTED_BIT
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    layout: u32,
    seq: Option<u64>,
    /// The directory version whose people the index holds (absent in indexes written
    /// before it was recorded: people are indexed again once).
    #[serde(default)]
    people: Option<u64>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchIndex")
    }
}

fn text(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The index's fields.
fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        post: b.add_text_field("post", STRING | STORED),
        key: b.add_text_field("key", STRING),
        title: b.add_text_field("title", STORED),
        title_words: b.add_text_field("title_words", text(ANALYZER)),
        body: b.add_text_field("body", STORED),
        body_words: b.add_text_field("body_words", text(ANALYZER)),
        topic: b.add_text_field("topic", STRING),
        group: b.add_text_field("group", STRING),
        scope: b.add_u64_field("scope", FAST),
        at: b.add_i64_field("at", INDEXED | FAST),
        rank: b.add_u64_field("rank", FAST),
    };
    (b.build(), f)
}

fn err(e: tantivy::TantivyError) -> NodeError {
    NodeError::Corrupt(format!("search index: {e}"))
}

impl SearchIndex {
    /// An empty index in memory (for tests and tools that keep nothing).
    pub fn new() -> Result<SearchIndex, NodeError> {
        let (schema, f) = schema();
        SearchIndex::with(Index::create_in_ram(schema), f, None)
    }

    /// The index kept in `dir`. An index that is missing, unreadable or of another layout is
    /// replaced by an empty one (and [`SearchIndex::covered`] is then `None`: everything must
    /// be indexed again).
    pub fn open(dir: &std::path::Path) -> Result<SearchIndex, NodeError> {
        let (schema, f) = schema();
        match Self::open_existing(dir, &schema) {
            Ok(Some((index, p))) => {
                let mut s = SearchIndex::with(index, f, p.seq)?;
                s.people = p.people;
                s.committed_people = p.people;
                return Ok(s);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "search index unreadable: rebuilding it"),
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| NodeError::Corrupt(format!("cannot clear {}: {e}", dir.display())))?;
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| NodeError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
        let index = Index::create_in_dir(dir, schema).map_err(err)?;
        SearchIndex::with(index, f, None)
    }

    /// The index in `dir` and the change it covers, if it is there and of this layout.
    fn open_existing(
        dir: &std::path::Path,
        schema: &Schema,
    ) -> Result<Option<(Index, Payload)>, tantivy::TantivyError> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir)?;
        let metas = index.load_metas()?;
        let payload: Option<Payload> = metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        match payload {
            Some(p) if p.layout == LAYOUT && index.schema() == *schema => Ok(Some((index, p))),
            _ => Ok(None),
        }
    }

    fn with(index: Index, f: Fields, covered: Option<u64>) -> Result<SearchIndex, NodeError> {
        index.tokenizers().register(
            ANALYZER,
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .filter(BothStems)
                .build(),
        );
        // Reloaded by hand after each commit: no thread watching the files.
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(SearchIndex {
            index,
            reader,
            pending: Vec::new(),
            dirty: Default::default(),
            f,
            seen: Default::default(),
            covered,
            committed: covered,
            people: None,
            committed_people: None,
        })
    }

    /// The directory version whose people the index holds; `None` if they must be indexed.
    pub fn people_version(&self) -> Option<u64> {
        self.people
    }

    /// The last stored change the index covers; `None` if it must be built from scratch.
    pub fn covered(&self) -> Option<u64> {
        self.covered
    }

    /// Records that every change up to `seq` has been given to the index (it is written with
    /// the next commit).
    pub fn set_covered(&mut self, seq: u64) {
        self.covered = Some(seq);
    }

    fn push_op(&mut self, op: Op) {
        self.pending.push(op);
        self.dirty.store(true, std::sync::atomic::Ordering::Release);
    }

    fn add(&mut self, e: Entry<'_>) {
        let f = self.f;
        let mut d = doc!(
            f.kind => e.kind.as_str(),
            f.id => e.id,
            f.post => e.post,
            f.key => format!("{}~{}", e.id, e.post),
            f.title => e.title,
            f.title_words => e.title,
            f.body => e.body,
            f.body_words => e.body,
            f.group => e.group,
            f.scope => match e.kind {
                HitKind::Post => scope_key(e.group),
                HitKind::Group => scope_key(e.id) | LISTED_BIT,
                HitKind::Person => PERSON_SCOPE,
            },
            f.at => e.at,
            f.rank => e.rank,
        );
        for t in e.topics {
            d.add_text(f.topic, t);
        }
        self.push_op(Op::Add(d));
    }

    /// (Re)indexes one document: a group's name and description, or each visible post of a
    /// thread.
    pub fn index_doc(&mut self, replica: &Replica, id: &DocId) {
        let Some(doc) = replica.doc(id) else {
            self.push_op(Op::Delete(Term::from_field_text(self.f.id, id.as_str())));
            return;
        };
        // A group's card is found among groups, by the groups page: not among posts.
        if id.kind() == DocKind::Thread
            && (doc.root_str("card_of").is_some() || doc.root_str("stats_site").is_some())
        {
            return;
        }
        // A thread seen before: only the posts its new changes touched.
        if id.kind() == DocKind::Thread
            && let Some(touched) = self.seen.get(id).and_then(|h| doc.touched_post_views(h))
        {
            let root = weft_crdt::PostView::root_id(doc);
            let title = doc.root_str("title").unwrap_or_default();
            let group = doc.root_str("group").unwrap_or_default();
            let rank = rank_of(
                doc.root_str("mark")
                    .and_then(|m| weft_crdt::ThreadMark::parse(&m)),
            );
            for (pid, p) in touched.iter() {
                self.push_op(Op::Delete(Term::from_field_text(
                    self.f.key,
                    &format!("{id}~{pid}"),
                )));
                if let Some(p) = p
                    && !p.deleted
                    && !p.hidden
                {
                    let t = if root.as_deref() == Some(pid.as_str()) {
                        title.as_str()
                    } else {
                        ""
                    };
                    let body = searchable(p);
                    self.add(Entry {
                        kind: HitKind::Post,
                        id: id.as_str(),
                        post: pid,
                        title: t,
                        body: &body,
                        topics: &p.topics,
                        group: &group,
                        at: p.created_at,
                        rank,
                    });
                }
            }
            self.seen.insert(id.clone(), doc.applied_heads());
            return;
        }
        self.push_op(Op::Delete(Term::from_field_text(self.f.id, id.as_str())));
        if id.kind() == DocKind::Thread {
            self.seen.insert(id.clone(), doc.applied_heads());
        }
        match id.kind() {
            DocKind::Group => {
                if let Some(g) = GroupView::settings_of(doc) {
                    self.add(Entry {
                        kind: HitKind::Group,
                        id: id.as_str(),
                        post: "",
                        title: &g.name,
                        body: &g.description,
                        topics: &[],
                        group: "",
                        at: g.created_at,
                        rank: 1,
                    });
                }
            }
            DocKind::Thread => {
                if let Some(t) = ThreadView::of(doc) {
                    for (i, p) in t.posts.iter().enumerate() {
                        if p.deleted || p.hidden {
                            continue;
                        }
                        let title = if i == 0 { t.title.as_str() } else { "" };
                        let body = searchable(p);
                        self.add(Entry {
                            kind: HitKind::Post,
                            id: id.as_str(),
                            post: &p.id,
                            title,
                            body: &body,
                            topics: &p.topics,
                            group: t.group.as_str(),
                            at: p.created_at,
                            rank: rank_of(t.mark),
                        });
                    }
                }
            }
            DocKind::Profile => {}
        }
    }

    /// (Re)indexes people: directory fields plus their profile's about and expertise (from
    /// the read model: no profile document is read).
    pub fn index_people(&mut self, dir: &Directory, model: &crate::readmodel::ReadModel) {
        self.people = Some(dir.version);
        self.push_op(Op::Delete(Term::from_field_text(
            self.f.kind,
            HitKind::Person.as_str(),
        )));
        for e in dir
            .employees
            .values()
            .filter(|e| e.status == Status::Active)
        {
            self.add_person(e, model);
        }
    }

    /// Adds one person: their name as the title, and their title, department, site and
    /// profile as the body.
    fn add_person(&mut self, e: &weft_keys::Employee, model: &crate::readmodel::ReadModel) {
        let body = format!(
            "{} {} {} {}",
            e.title,
            e.department,
            e.site,
            model.profile_text(&e.id)
        );
        self.add(Entry {
            kind: HitKind::Person,
            id: &e.id,
            post: "",
            title: &e.display_name,
            body: &body,
            topics: &[],
            group: "",
            at: 0,
            rank: 1,
        });
    }

    /// Indexes one person again (their profile changed), not everyone: a company's tens of
    /// thousands of people are indexed only when a directory version is installed. An
    /// employee id that could be a document's id (their entries share the `key` form) is
    /// handled by indexing everyone again.
    pub fn index_person(
        &mut self,
        dir: &Directory,
        model: &crate::readmodel::ReadModel,
        employee: &str,
    ) {
        if DocId::parse(employee).is_ok() {
            self.index_people(dir, model);
            return;
        }
        self.push_op(Op::Delete(Term::from_field_text(
            self.f.key,
            &format!("{employee}~"),
        )));
        if let Some(e) = dir
            .employees
            .get(employee)
            .filter(|e| e.status == Status::Active)
        {
            self.add_person(e, model);
        }
    }

    /// Commits once [`PENDING_COMMIT`] entries wait: for long reindexing (a start-up that
    /// rebuilds the index), so that a million posts are not held in memory until the end.
    /// What is committed records the change the index covered before, not the one being
    /// reached: a crash in between reindexes the same documents again.
    pub fn commit_if_large(&mut self) -> Result<(), NodeError> {
        if self.pending.len() >= PENDING_COMMIT {
            self.commit()?;
        }
        Ok(())
    }

    /// Makes what was indexed searchable, and durable with the change it covers.
    pub fn commit(&mut self) -> Result<(), NodeError> {
        if self.pending.is_empty()
            && self.covered == self.committed
            && self.people == self.committed_people
        {
            return Ok(());
        }
        // One indexing thread with tantivy's smallest arena: the index is small and the node
        // shares the machine.
        let mut writer: IndexWriter = self
            .index
            .writer_with_num_threads(1, 15_000_000)
            .map_err(err)?;
        for op in self.pending.drain(..) {
            match op {
                Op::Delete(t) => {
                    writer.delete_term(t);
                }
                Op::Add(d) => {
                    writer.add_document(d).map_err(err)?;
                }
            }
        }
        let payload = serde_json::to_string(&Payload {
            layout: LAYOUT,
            seq: self.covered,
            people: self.people,
        })
        .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        let mut prepared = writer.prepare_commit().map_err(err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(err)?;
        self.committed = self.covered;
        self.committed_people = self.people;
        // Let merges finish before the writer goes, so segments do not pile up.
        writer.wait_merging_threads().map_err(err)?;
        self.reader.reload().map_err(err)?;
        self.dirty.store(
            !self.pending.is_empty(),
            std::sync::atomic::Ordering::Release,
        );
        Ok(())
    }

    /// What readers off the loop search with: shares this index's files and reader, so it
    /// sees every commit.
    pub fn reader(&self) -> SearchReader {
        SearchReader {
            index: self.index.clone(),
            reader: self.reader.clone(),
            f: self.f,
            pending: self.dirty.clone(),
        }
    }

    /// See [`SearchReader::threads_about`].
    pub fn threads_about(
        &self,
        topic: &str,
        groups: &[DocId],
        limit: usize,
    ) -> Result<Vec<DocId>, NodeError> {
        self.reader().threads_about(topic, groups, limit)
    }

    /// See [`SearchReader::search`].
    pub fn search(
        &self,
        query: &SearchQuery,
        scope: &Scope,
        kind: Option<HitKind>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Hit>, NodeError> {
        self.reader().search(query, scope, kind, limit, now)
    }
}

/// The searching side of the index, for readers off the node's loop: cheap to clone (it
/// shares the index's files and its reader, reloaded after each commit), and it says whether
/// entries wait to be committed ([`SearchReader::has_pending`]): a search then asks the loop
/// to commit them first, so that what someone just wrote is found.
#[derive(Clone)]
pub struct SearchReader {
    index: Index,
    reader: IndexReader,
    f: Fields,
    pending: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for SearchReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SearchReader")
    }
}

impl SearchReader {
    /// Whether indexed entries wait for a commit (then a search would miss them).
    pub fn has_pending(&self) -> bool {
        self.pending.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The threads with a visible post about `topic` in one of `groups` (at most `limit`
    /// posts looked at, newest first), before any further visibility check; each thread once.
    pub fn threads_about(
        &self,
        topic: &str,
        groups: &[DocId],
        limit: usize,
    ) -> Result<Vec<DocId>, NodeError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_text(self.f.topic, topic),
            IndexRecordOption::Basic,
        );
        let keys: std::sync::Arc<ScopeSet> =
            std::sync::Arc::new(groups.iter().map(|g| scope_key(g.as_str())).collect());
        let top = searcher
            .search(
                &q,
                &FilterCollector::new(
                    "scope".to_owned(),
                    move |v: u64| keys.contains(&v),
                    TopDocs::with_limit(limit.max(1))
                        .order_by_fast_field::<i64>("at", tantivy::Order::Desc),
                ),
            )
            .map_err(err)?;
        let mut out: Vec<DocId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (_, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
            if let Some(id) = d
                .get_first(self.f.id)
                .and_then(|v| v.as_str())
                .and_then(|s| DocId::parse(s).ok())
                && seen.insert(id.clone())
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The terms `word` gives in `field` (through that field's analyzer: lower case, accents
    /// folded, both stems; none for a word longer than the analyzer keeps), with the
    /// position of each (the English stem first at each position).
    fn terms_at(&self, field: Field, word: &str) -> Vec<(usize, Term)> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(word);
        while let Some(t) = stream.next() {
            out.push((t.position, Term::from_field_text(field, &t.text)));
        }
        out
    }

    /// The terms `word` gives in `field`, each once.
    fn terms(&self, field: Field, word: &str) -> Vec<Term> {
        let mut out: Vec<Term> = Vec::new();
        for (_, t) in self.terms_at(field, word) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// The text part of a query: each word by either stem in the title (counted twice) or
    /// the body, at least one word; each phrase required, as a phrase of English stems, in
    /// one of them.
    fn text_query(&self, q: &SearchQuery) -> Option<Box<dyn Query>> {
        let f = self.f;
        let fields = [(f.title_words, 2.0), (f.body_words, 1.0)];
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in &q.words {
            let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in fields {
                for term in self.terms(field, word) {
                    let tq: Box<dyn Query> =
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                    per_field.push((
                        Occur::Should,
                        Box::new(tantivy::query::BoostQuery::new(tq, boost)),
                    ));
                }
            }
            if !per_field.is_empty() {
                clauses.push((Occur::Should, Box::new(BooleanQuery::new(per_field))));
            }
        }
        for phrase in &q.phrases {
            let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in fields {
                // The first term at each position: its English stem.
                let terms: Vec<Term> = phrase
                    .iter()
                    .flat_map(|w| {
                        let mut last = None;
                        self.terms_at(field, w)
                            .into_iter()
                            .filter(move |(pos, _)| last.replace(*pos) != Some(*pos))
                            .map(|(_, t)| t)
                    })
                    .collect();
                // A phrase query needs two terms or more (and panics otherwise).
                let pq: Box<dyn Query> = match terms.len() {
                    0 => continue,
                    1 => Box::new(TermQuery::new(
                        terms.into_iter().next()?,
                        IndexRecordOption::WithFreqs,
                    )),
                    _ => Box::new(PhraseQuery::new(terms)),
                };
                per_field.push((
                    Occur::Should,
                    Box::new(tantivy::query::BoostQuery::new(pq, boost)),
                ));
            }
            if per_field.is_empty() {
                // A phrase of words no field keeps cannot match anything.
                return None;
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(per_field))));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// What of the index a searcher may match, as a query that adds nothing to scores.
    /// The searcher's scope as a filter on [`Fields::scope`]: posts of the groups they read,
    /// groups they may see listed, people — of `kind` if given. `None` if nothing can match.
    fn scope_filter(
        scope: &Scope,
        kind: Option<HitKind>,
    ) -> Option<impl Fn(u64) -> bool + Clone + Send + Sync + 'static> {
        let wants = |k: HitKind| kind.is_none_or(|w| w == k);
        let none = || (std::sync::Arc::default(), ScopeSet::default());
        let posts = if wants(HitKind::Post) {
            (scope.shared_read.clone(), scope.readable.clone())
        } else {
            none()
        };
        let groups = if wants(HitKind::Group) {
            (scope.shared_list.clone(), scope.listed.clone())
        } else {
            none()
        };
        let people = wants(HitKind::Person);
        let empty = |(shared, own): &(std::sync::Arc<ScopeSet>, ScopeSet)| {
            shared.is_empty() && own.is_empty()
        };
        if empty(&posts) && empty(&groups) && !people {
            return None;
        }
        let sets = std::sync::Arc::new((posts, groups));
        Some(move |v: u64| {
            let has = |(shared, own): &(std::sync::Arc<ScopeSet>, ScopeSet)| {
                shared.contains(&v) || own.contains(&v)
            };
            if v == PERSON_SCOPE {
                people
            } else if v & LISTED_BIT != 0 {
                has(&sets.1)
            } else {
                has(&sets.0)
            }
        })
    }

    /// Up to `limit` hits for `query` within `scope`, best first, ranked as the module's
    /// documentation says: by each document's own words and age (`now`, ms), with no
    /// statistics of documents outside the hit itself.
    pub fn search(
        &self,
        query: &SearchQuery,
        scope: &Scope,
        kind: Option<HitKind>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Hit>, NodeError> {
        let f = self.f;
        let (Some(q), Some(within)) = (self.text_query(query), Self::scope_filter(scope, kind))
        else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let stats = FixedStatistics { f };
        // Ordered by tier (official threads' posts first, outdated ones' last), then score.
        let collector = TopDocs::with_limit(limit.max(1)).tweak_score(
            move |segment: &tantivy::SegmentReader| {
                let at = segment
                    .fast_fields()
                    .i64("at")
                    .ok()
                    .map(|c| c.first_or_default_col(0));
                let rank = segment
                    .fast_fields()
                    .u64("rank")
                    .ok()
                    .map(|c| c.first_or_default_col(1));
                move |doc: tantivy::DocId, score: tantivy::Score| {
                    let made = at.as_ref().map_or(0, |c| c.get_val(doc));
                    let tier = rank.as_ref().map_or(1, |c| c.get_val(doc));
                    (tier, score * recency(made, now))
                }
            },
        );
        // The scope filters every match before it is ranked: what the searcher may not see
        // is never scored, kept or counted.
        let collector = FilterCollector::new("scope".to_owned(), within, collector);
        let top = searcher
            .search_with_statistics_provider(&*q, &collector, &stats)
            .map_err(err)?;
        // Every word weighs the same in the excerpt too (tantivy's own generator weighs them
        // by the whole index's document frequencies).
        let mut words = BTreeMap::new();
        for w in query.words.iter().chain(query.phrases.iter().flatten()) {
            for t in self.terms(f.body_words, w) {
                if let Some(text) = t.value().as_str() {
                    words.insert(text.to_owned(), 1.0);
                }
            }
        }
        let snippets = self
            .index
            .tokenizer_for_field(f.body_words)
            .map(|analyzer| SnippetGenerator::new(words, analyzer, f.body, 150))
            .map_err(err)?;
        let mut hits = Vec::new();
        for (_, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
            let get = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            let Some(k) = HitKind::parse(&get(f.kind)) else {
                continue;
            };
            let snippet = snippets.snippet_from_doc(&d);
            let body = get(f.body);
            let snippet_html = if snippet.is_empty() {
                tantivy_escape(&body.chars().take(160).collect::<String>())
            } else {
                snippet.to_html()
            };
            let post = get(f.post);
            hits.push(Hit {
                kind: k,
                id: get(f.id),
                post: (!post.is_empty()).then_some(post),
                title: get(f.title),
                snippet_html,
            });
        }
        Ok(hits)
    }
}

/// What a searcher may match: computed by the service from the read models, for one
/// employee, at the time of the query.
/// Kept as the groups' keys in the index's `scope` field (see [`scope_key`]): sets shared by
/// every searcher (public groups…), and the searcher's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    shared_read: std::sync::Arc<ScopeSet>,
    shared_list: std::sync::Arc<ScopeSet>,
    /// Groups whose threads the searcher reads (their posts may match).
    readable: ScopeSet,
    /// Groups the searcher may see listed (their names and descriptions may match), with
    /// [`LISTED_BIT`] set.
    listed: ScopeSet,
}

impl Scope {
    /// A scope of `readable` groups' posts and `listed` groups' names.
    pub fn new<'a>(
        readable: impl IntoIterator<Item = &'a DocId>,
        listed: impl IntoIterator<Item = &'a DocId>,
    ) -> Scope {
        let mut s = Scope::default();
        readable.into_iter().for_each(|g| s.read(g));
        listed.into_iter().for_each(|g| s.list(g));
        s
    }

    /// A scope starting from sets of keys shared with other searchers (made by
    /// [`Scope::into_sets`]).
    pub fn shared(read: std::sync::Arc<ScopeSet>, list: std::sync::Arc<ScopeSet>) -> Scope {
        Scope {
            shared_read: read,
            shared_list: list,
            ..Scope::default()
        }
    }

    /// The keys of what this scope reads and lists (its own, for sharing).
    pub fn into_sets(self) -> (ScopeSet, ScopeSet) {
        (self.readable, self.listed)
    }

    /// The searcher reads `group`'s threads.
    pub fn read(&mut self, group: &DocId) {
        self.readable.insert(scope_key(group.as_str()));
    }

    /// The searcher may see `group` listed.
    pub fn list(&mut self, group: &DocId) {
        self.listed.insert(scope_key(group.as_str()) | LISTED_BIT);
    }
}

/// Collection statistics that are the same whatever the index holds: every term as rare as
/// any other, every field of a fixed typical length. With these, BM25 keeps what depends on
/// the document itself (how often a word occurs in it, saturating; how long it is) and loses
/// what depends on other documents (how rare a word is among them) — which is what could
/// leak words of documents the searcher may not see.
struct FixedStatistics {
    f: Fields,
}

/// The number of documents the fixed statistics pretend the index holds; any term is in
/// one of them.
const FIXED_DOCS: u64 = 1_000;
/// Typical lengths, in words, of a title and of a post.
const TITLE_WORDS: u64 = 6;
const BODY_WORDS: u64 = 60;

impl Bm25StatisticsProvider for FixedStatistics {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let typical = if field == self.f.title_words {
            TITLE_WORDS
        } else {
            BODY_WORDS
        };
        Ok(FIXED_DOCS * typical)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(FIXED_DOCS)
    }

    fn doc_freq(&self, _term: &Term) -> tantivy::Result<u64> {
        Ok(1)
    }
}

/// How much of its relevance a document made at `made` keeps at `now` (both ms): 1 when
/// new, tending to 3/4 (half way after about six months). Relevance comes first; between
/// equally relevant posts, the newer wins. People (`made` = 0) do not age.
pub fn recency(made: i64, now: i64) -> f32 {
    const HALF_LIFE_DAYS: f32 = 180.0;
    if made <= 0 || made >= now {
        return 1.0;
    }
    let days = (now - made) as f32 / 86_400_000.0;
    0.75 + 0.25 * (-days / HALF_LIFE_DAYS * std::f32::consts::LN_2).exp()
}

/// The most bytes a search may be; longer ones are refused.
pub const MAX_QUERY_BYTES: usize = 1_000;
/// The most distinct words a search may hold (outside quotes).
pub const MAX_WORDS: usize = 16;
/// The most quoted phrases a search may hold.
pub const MAX_PHRASES: usize = 4;
/// The most words one quoted phrase may hold.
pub const MAX_PHRASE_WORDS: usize = 8;

/// A search as the user asked it: words, and "quoted phrases". Built only by
/// [`SearchQuery::parse`], so always within the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
    phrases: Vec<Vec<String>>,
}

/// Why a search was refused. Each names its limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("a search is at most {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("a search holds at most {MAX_WORDS} words")]
    TooManyWords,
    #[error("a search holds at most {MAX_PHRASES} quoted phrases")]
    TooManyPhrases,
    #[error("a quoted phrase holds at most {MAX_PHRASE_WORDS} words")]
    PhraseTooLong,
}

impl SearchQuery {
    /// Cuts `input` into words (runs of letters and digits, as the index cuts text) and
    /// phrases (the words between double quotes; an unclosed quote runs to the end).
    /// Everything else — parentheses, `field:`, `+`, `-`, `*`, `~`, `^` — separates words and
    /// means nothing. Repeated words count once; a phrase of one word is a word.
    pub fn parse(input: &str) -> Result<SearchQuery, QueryError> {
        if input.len() > MAX_QUERY_BYTES {
            return Err(QueryError::TooLong);
        }
        let mut q = SearchQuery::default();
        for (i, part) in input.split('"').enumerate() {
            let words: Vec<String> = part
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            // Odd parts are inside quotes.
            if i % 2 == 1 && words.len() > 1 {
                if words.len() > MAX_PHRASE_WORDS {
                    return Err(QueryError::PhraseTooLong);
                }
                if !q.phrases.contains(&words) {
                    q.phrases.push(words);
                }
                continue;
            }
            for w in words {
                if !q.words.contains(&w) {
                    q.words.push(w);
                }
            }
        }
        if q.words.len() > MAX_WORDS {
            return Err(QueryError::TooManyWords);
        }
        if q.phrases.len() > MAX_PHRASES {
            return Err(QueryError::TooManyPhrases);
        }
        Ok(q)
    }

    /// Whether there is nothing to look for (no word at all).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// The words outside quotes.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The quoted phrases.
    pub fn phrases(&self) -> &[Vec<String>] {
        &self.phrases
    }
}

fn tantivy_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of a post that search finds it by: its body, its poll's question and options or
/// its event's place, and its files' names and texts.
fn searchable(p: &weft_crdt::PostView) -> std::borrow::Cow<'_, str> {
    if p.poll.is_none()
        && p.event.as_ref().is_none_or(|e| e.location.is_empty())
        && p.attachments.is_empty()
    {
        return std::borrow::Cow::Borrowed(&p.body);
    }
    let mut text = p.body.clone();
    for a in &p.attachments {
        text.push_str("\n\n");
        // The name's words: "rapport_annuel-2026.pdf" is found by "rapport" and "annuel".
        text.push_str(&a.name.replace(['_', '-', '.'], " "));
        if !a.text.is_empty() {
            text.push('\n');
            text.push_str(&a.text);
        }
    }
    if let Some(poll) = &p.poll {
        text.push_str("\n\n");
        text.push_str(&poll.question);
        for (_, label) in &poll.options {
            text.push('\n');
            text.push_str(label);
        }
    }
    if let Some(e) = &p.event {
        text.push_str("\n\n");
        text.push_str(&e.location);
    }
    std::borrow::Cow::Owned(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn q(s: &str) -> SearchQuery {
        SearchQuery::parse(s).unwrap()
    }

    #[test]
    fn a_query_is_words_and_phrases_and_nothing_else() {
        let p = q(r#"kubernetes (migration OR "cloud native" title:secret) -x +y* ~z^2 "#);
        assert_eq!(
            p.words(),
            [
                "kubernetes",
                "migration",
                "OR",
                "title",
                "secret",
                "x",
                "y",
                "z",
                "2"
            ]
        );
        assert_eq!(p.phrases(), [vec!["cloud".to_owned(), "native".to_owned()]]);
        // Nesting means nothing: only the words inside remain.
        let nested = format!("{}a{}", "(".repeat(400), ")".repeat(400));
        assert_eq!(q(&nested).words(), ["a"]);
        assert!(q(&"((([[[{{{".repeat(100)).is_empty());
        // An unclosed quote runs to the end; a phrase of one word is a word; repeats count once.
        let p = q(r#"réunion "lundi matin"#);
        assert_eq!(p.words(), ["réunion"]);
        assert_eq!(p.phrases(), [vec!["lundi".to_owned(), "matin".to_owned()]]);
        assert_eq!(q(r#""seul" seul SEUL"#).words(), ["seul", "SEUL"]);
    }

    #[test]
    fn queries_beyond_the_limits_are_refused() {
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        assert_eq!(SearchQuery::parse(&long), Err(QueryError::TooLong));
        let words: Vec<String> = (0..=MAX_WORDS).map(|i| format!("w{i}")).collect();
        assert_eq!(
            SearchQuery::parse(&words.join(" ")),
            Err(QueryError::TooManyWords)
        );
        assert!(SearchQuery::parse(&words[..MAX_WORDS].join(" ")).is_ok());
        let phrases = r#""a b" "c d" "e f" "g h" "i j""#;
        assert_eq!(SearchQuery::parse(phrases), Err(QueryError::TooManyPhrases));
        let phrase = format!("\"{}\"", words[..=MAX_PHRASE_WORDS].join(" "));
        assert_eq!(SearchQuery::parse(&phrase), Err(QueryError::PhraseTooLong));
    }

    fn group(n: u8) -> DocId {
        DocId::parse(&format!("g-{}", format!("{n:02x}").repeat(16))).unwrap()
    }

    fn thread(n: u8) -> DocId {
        DocId::parse(&format!("t-{}", format!("{n:02x}").repeat(16))).unwrap()
    }

    fn post(ix: &mut SearchIndex, g: &DocId, t: u8, body: &str, at: i64) {
        ix.add(Entry {
            kind: HitKind::Post,
            id: thread(t).as_str(),
            post: "p",
            title: "note",
            body,
            topics: &[],
            group: g.as_str(),
            at,
            rank: 1,
        });
    }

    #[test]
    fn official_threads_come_first_and_outdated_ones_last_whatever_their_scores() {
        let g = group(1);
        let mut ix = SearchIndex::new().unwrap();
        let mut add = |t: u8, body: &str, at: i64, mark: Option<weft_crdt::ThreadMark>| {
            ix.add(Entry {
                kind: HitKind::Post,
                id: thread(t).as_str(),
                post: "p",
                title: "note",
                body,
                topics: &[],
                group: g.as_str(),
                at,
                rank: rank_of(mark),
            })
        };
        use weft_crdt::ThreadMark::{Official, Outdated};
        // The outdated post says "expenses" most and is newest: it would come first.
        add(1, "expenses expenses expenses", 1_900, Some(Outdated));
        add(
            2,
            "expenses and more words about other things",
            1_000,
            Some(Official),
        );
        add(3, "expenses expenses", 1_500, None);
        ix.commit().unwrap();
        let scope = Scope::new([&g], [&g]);
        let ids = |v: &[u8]| -> Vec<String> { v.iter().map(|t| thread(*t).to_string()).collect() };
        assert_eq!(order(&ix, &scope, "expenses"), ids(&[2, 3, 1]));
        // Unmarked, the scores decide (a control: the marks made the difference).
        let mut plain = SearchIndex::new().unwrap();
        for (t, body, at) in [
            (1, "expenses expenses expenses", 1_900),
            (2, "expenses and more words about other things", 1_000),
            (3, "expenses expenses", 1_500),
        ] {
            plain.add(Entry {
                kind: HitKind::Post,
                id: thread(t).as_str(),
                post: "p",
                title: "note",
                body,
                topics: &[],
                group: g.as_str(),
                at,
                rank: 1,
            });
        }
        plain.commit().unwrap();
        assert_eq!(order(&plain, &scope, "expenses")[0], thread(1).to_string());
    }

    #[test]
    fn names_are_compared_by_their_words_in_either_language() {
        assert_eq!(
            words_shared(&name_words("Club de photos"), &name_words("Photo club")),
            2
        );
        assert_eq!(name_words("Le club des photos").len(), 2);
        assert_eq!(
            words_shared(&name_words("Réunions"), &name_words("reunion")),
            1
        );
        assert_eq!(
            words_shared(&name_words("Running club"), &name_words("Photo club")),
            1
        );
        assert!(name_words("de la du").is_empty());
    }

    /// The visible corpus of the ranking tests: the same two posts, one with a word a hidden
    /// group uses a lot, and the same with a word nobody else uses.
    fn corpus(hidden: bool) -> (SearchIndex, Scope) {
        let (open, secret) = (group(1), group(2));
        let mut ix = SearchIndex::new().unwrap();
        post(&mut ix, &open, 1, "report alpha beta gamma delta", 1_000);
        post(&mut ix, &open, 2, "zeppelin", 1_000);
        post(&mut ix, &open, 3, "quokka", 1_000);
        if hidden {
            for i in 0..40 {
                post(&mut ix, &secret, 10 + i, "zeppelin zeppelin merger", 1_000);
            }
        }
        ix.commit().unwrap();
        let scope = Scope::new([&open], [&open]);
        (ix, scope)
    }

    fn order(ix: &SearchIndex, scope: &Scope, text: &str) -> Vec<String> {
        order_at(ix, scope, text, 2_000)
    }

    fn order_at(ix: &SearchIndex, scope: &Scope, text: &str, now: i64) -> Vec<String> {
        ix.search(&q(text), scope, None, 10, now)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    }

    #[test]
    fn ranking_does_not_depend_on_what_the_searcher_may_not_see() {
        let (ix, scope) = corpus(true);
        let hidden = order(&ix, &scope, "report zeppelin");
        let control = order(&ix, &scope, "report quokka");
        let swap = |ids: Vec<String>| -> Vec<String> {
            ids.into_iter()
                .map(|id| {
                    if id == thread(3).as_str() {
                        thread(2).to_string()
                    } else {
                        id
                    }
                })
                .collect()
        };
        assert_eq!(hidden.len(), 2, "{hidden:?}");
        assert_eq!(hidden, swap(control), "the hidden word moved a result");
        // And the same as if the hidden posts did not exist at all.
        let (bare, scope) = corpus(false);
        assert_eq!(order(&bare, &scope, "report zeppelin"), hidden);
        // Nothing outside the scope is ever found.
        assert!(order(&ix, &scope, "merger").is_empty());
    }

    #[test]
    fn more_of_the_words_rank_first_and_newer_breaks_ties() {
        let g = group(1);
        let mut ix = SearchIndex::new().unwrap();
        let day = 86_400_000;
        post(&mut ix, &g, 1, "velo", 100 * day);
        post(&mut ix, &g, 2, "velo", 300 * day);
        post(&mut ix, &g, 3, "velo lundi", 10 * day);
        ix.commit().unwrap();
        let scope = Scope::new([&g], []);
        let ids = order_at(&ix, &scope, "velo lundi", 400 * day);
        assert_eq!(
            ids,
            [thread(3), thread(2), thread(1)].map(|t| t.to_string())
        );
        let phrase = order(&ix, &scope, "\"velo lundi\"");
        assert_eq!(phrase, [thread(3).to_string()]);
        assert!(recency(0, 5) == 1.0 && recency(1, 1 + 180 * day) < 0.88);
    }

    /// One field finds a word by its English or its French stem, phrases still match word
    /// for word, and the excerpt marks each word once.
    #[test]
    fn words_are_found_by_either_stem_in_one_field() {
        let g = group(1);
        let mut ix = SearchIndex::new().unwrap();
        post(&mut ix, &g, 1, "Les réunions du lundi", 1_000);
        post(
            &mut ix,
            &g,
            2,
            "Weekly meetings about cloud migrations",
            1_000,
        );
        post(&mut ix, &g, 3, "migration report", 1_000);
        ix.commit().unwrap();
        let scope = Scope::new([&g], []);
        assert_eq!(order(&ix, &scope, "réunion"), [thread(1).to_string()]);
        assert_eq!(order(&ix, &scope, "reunions"), [thread(1).to_string()]);
        assert_eq!(order(&ix, &scope, "meeting"), [thread(2).to_string()]);
        let both = order(&ix, &scope, "migration");
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(
            order(&ix, &scope, "\"cloud migration\""),
            [thread(2).to_string()]
        );
        assert!(order(&ix, &scope, "\"migration cloud\"").is_empty());
        let hits = ix.search(&q("réunions"), &scope, None, 10, 2_000).unwrap();
        assert_eq!(
            hits[0].snippet_html.matches("<b>").count(),
            1,
            "{}",
            hits[0].snippet_html
        );
        assert!(
            hits[0].snippet_html.contains("<b>réunions</b>"),
            "{}",
            hits[0].snippet_html
        );
    }

    /// Whatever is typed, a search answers (and never panics): bytes from a fixed
    /// pseudo-random sequence, over the characters query grammars give meaning to.
    #[test]
    fn no_input_breaks_the_search() {
        let (ix, scope) = corpus(true);
        let alphabet: Vec<char> = "()[]{}\"'+-*~^:!&|\\/ AND OR NOT a é 𝔸 \0\u{202e}"
            .chars()
            .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..2_000 {
            let len = round % 300;
            let s: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Ok(query) = SearchQuery::parse(&s) {
                ix.search(&query, &scope, None, 5, 0).unwrap();
            }
        }
        let long_word = "x".repeat(400);
        ix.search(&q(&long_word), &scope, None, 5, 0).unwrap();
        ix.search(
            &q(&format!("\"{long_word} {long_word}\"")),
            &scope,
            None,
            5,
            0,
        )
        .unwrap();
    }
}
