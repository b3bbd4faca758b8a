//! Full-text search (tantivy): posts, groups and people, in English and French.
//!
//! Each text is indexed twice, once with an English and once with a French stemmer, and queries
//! search both, so "réunions" finds "réunion" and "meetings" finds "meeting" whatever the
//! language of the post. The index is kept on disk, in the store's directory, and updated
//! as documents change; each commit records (as tantivy's commit payload) the last stored
//! change it covers, so a restart reindexes only the documents changed since — or everything,
//! if the index is missing, unreadable or of another version. What a searcher may see is
//! decided at query time by the node's visibility rules, never by the index.

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
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
    title_en: Field,
    title_fr: Field,
    body: Field,
    body_en: Field,
    body_fr: Field,
    /// A post's #topics, exactly as the post view gives them (one term each).
    topic: Field,
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
    f: Fields,
    /// Each thread's Automerge heads when it was last indexed.
    seen: std::collections::HashMap<DocId, Vec<automerge::ChangeHash>>,
    /// The last stored change that what was indexed covers, and the one the last commit
    /// recorded.
    covered: Option<u64>,
    committed: Option<u64>,
}

/// The index's layout version, kept in every commit's payload: an index written with another
/// one is rebuilt.
/// * 1: the first.
/// * 2: adds `topic`.
const LAYOUT: u32 = 2;

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    layout: u32,
    seq: Option<u64>,
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
        title_en: b.add_text_field("title_en", text("weft_en")),
        title_fr: b.add_text_field("title_fr", text("weft_fr")),
        body: b.add_text_field("body", STORED),
        body_en: b.add_text_field("body_en", text("weft_en").set_stored()),
        body_fr: b.add_text_field("body_fr", text("weft_fr")),
        topic: b.add_text_field("topic", STRING),
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
            Ok(Some((index, seq))) => return SearchIndex::with(index, f, seq),
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
    ) -> Result<Option<(Index, Option<u64>)>, tantivy::TantivyError> {
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
            Some(p) if p.layout == LAYOUT && index.schema() == *schema => Ok(Some((index, p.seq))),
            _ => Ok(None),
        }
    }

    fn with(index: Index, f: Fields, covered: Option<u64>) -> Result<SearchIndex, NodeError> {
        for (name, lang) in [
            ("weft_en", Language::English),
            ("weft_fr", Language::French),
        ] {
            index.tokenizers().register(
                name,
                TextAnalyzer::builder(SimpleTokenizer::default())
                    .filter(RemoveLongFilter::limit(40))
                    .filter(LowerCaser)
                    .filter(AsciiFoldingFilter)
                    .filter(Stemmer::new(lang))
                    .build(),
            );
        }
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
            f,
            seen: Default::default(),
            covered,
            committed: covered,
        })
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

    fn add(&mut self, kind: HitKind, id: &str, post: &str, title: &str, body: &str) {
        self.add_with_topics(kind, id, post, title, body, &[]);
    }

    fn add_with_topics(
        &mut self,
        kind: HitKind,
        id: &str,
        post: &str,
        title: &str,
        body: &str,
        topics: &[String],
    ) {
        let f = self.f;
        let mut d = doc!(
            f.kind => kind.as_str(),
            f.id => id,
            f.post => post,
            f.key => format!("{id}~{post}"),
            f.title => title,
            f.title_en => title,
            f.title_fr => title,
            f.body => body,
            f.body_en => body,
            f.body_fr => body,
        );
        for t in topics {
            d.add_text(f.topic, t);
        }
        self.pending.push(Op::Add(d));
    }

    /// (Re)indexes one document: a group's name and description, or each visible post of a
    /// thread.
    pub fn index_doc(&mut self, replica: &Replica, id: &DocId) {
        let Some(doc) = replica.doc(id) else {
            self.pending
                .push(Op::Delete(Term::from_field_text(self.f.id, id.as_str())));
            return;
        };
        // A thread seen before: only the posts its new changes touched.
        if id.kind() == DocKind::Thread
            && let Some(touched) = self.seen.get(id).and_then(|h| doc.touched_posts(h))
        {
            let root = weft_crdt::PostView::root_id(doc);
            let title = doc.root_str("title").unwrap_or_default();
            for pid in touched {
                self.pending.push(Op::Delete(Term::from_field_text(
                    self.f.key,
                    &format!("{id}~{pid}"),
                )));
                if let Some(p) = weft_crdt::PostView::of(doc, &pid)
                    && !p.deleted
                    && !p.hidden
                {
                    let t = if root.as_deref() == Some(pid.as_str()) {
                        title.as_str()
                    } else {
                        ""
                    };
                    self.add_with_topics(HitKind::Post, id.as_str(), &pid, t, &p.body, &p.topics);
                }
            }
            self.seen.insert(id.clone(), doc.applied_heads());
            return;
        }
        self.pending
            .push(Op::Delete(Term::from_field_text(self.f.id, id.as_str())));
        if id.kind() == DocKind::Thread {
            self.seen.insert(id.clone(), doc.applied_heads());
        }
        match id.kind() {
            DocKind::Group => {
                if let Some(g) = GroupView::of(doc) {
                    self.add(HitKind::Group, id.as_str(), "", &g.name, &g.description);
                }
            }
            DocKind::Thread => {
                if let Some(t) = ThreadView::of(doc) {
                    for (i, p) in t.posts.iter().enumerate() {
                        if p.deleted || p.hidden {
                            continue;
                        }
                        let title = if i == 0 { t.title.as_str() } else { "" };
                        self.add_with_topics(
                            HitKind::Post,
                            id.as_str(),
                            &p.id,
                            title,
                            &p.body,
                            &p.topics,
                        );
                    }
                }
            }
            DocKind::Profile => {}
        }
    }

    /// (Re)indexes people: directory fields plus their profile's about and expertise (from
    /// the read model: no profile document is read).
    pub fn index_people(&mut self, dir: &Directory, model: &crate::readmodel::ReadModel) {
        self.pending.push(Op::Delete(Term::from_field_text(
            self.f.kind,
            HitKind::Person.as_str(),
        )));
        for e in dir
            .employees
            .values()
            .filter(|e| e.status == Status::Active)
        {
            let body = format!(
                "{} {} {} {}",
                e.title,
                e.department,
                e.site,
                model.profile_text(&e.id)
            );
            self.add(HitKind::Person, &e.id, "", &e.display_name, &body);
        }
    }

    /// Makes what was indexed searchable, and durable with the change it covers.
    pub fn commit(&mut self) -> Result<(), NodeError> {
        if self.pending.is_empty() && self.covered == self.committed {
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
        })
        .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        let mut prepared = writer.prepare_commit().map_err(err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(err)?;
        self.committed = self.covered;
        // Let merges finish before the writer goes, so segments do not pile up.
        writer.wait_merging_threads().map_err(err)?;
        self.reader.reload().map_err(err)?;
        Ok(())
    }

    /// The threads with a visible post about `topic` (at most `limit` posts looked at), before
    /// visibility filtering; each thread once.
    pub fn threads_about(&self, topic: &str, limit: usize) -> Result<Vec<DocId>, NodeError> {
        let searcher = self.reader.searcher();
        let q = tantivy::query::TermQuery::new(
            Term::from_field_text(self.f.topic, topic),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())
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

    /// Up to `limit` hits for `query`, best first (before visibility filtering).
    pub fn search(
        &self,
        query: &str,
        kind: Option<HitKind>,
        limit: usize,
    ) -> Result<Vec<Hit>, NodeError> {
        let f = self.f;
        let searcher = self.reader.searcher();
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![f.title_en, f.title_fr, f.body_en, f.body_fr],
        );
        parser.set_field_boost(f.title_en, 2.0);
        parser.set_field_boost(f.title_fr, 2.0);
        let (q, _) = parser.parse_query_lenient(query);
        let snippets = SnippetGenerator::create(&searcher, &*q, f.body_en).map_err(err)?;
        let fetch = if kind.is_some() { limit * 4 } else { limit };
        let top = searcher
            .search(&q, &TopDocs::with_limit(fetch.max(1)).order_by_score())
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
            if kind.is_some_and(|want| want != k) {
                continue;
            }
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
            if hits.len() >= limit {
                break;
            }
        }
        Ok(hits)
    }
}

fn tantivy_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
