//! Full-text search (tantivy): posts, groups and people, in English and French.
//!
//! Each text is indexed twice, once with an English and once with a French stemmer, and queries
//! search both, so "réunions" finds "réunion" and "meetings" finds "meeting" whatever the
//! language of the post. The index lives in memory and is rebuilt from the documents at
//! start-up and kept up to date as documents change, so it never disagrees with them. What a
//! searcher may see is decided at query time by the node's visibility rules, never by the
//! index.

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

fn err(e: tantivy::TantivyError) -> NodeError {
    NodeError::Corrupt(format!("search index: {e}"))
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Result<SearchIndex, NodeError> {
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
        };
        let index = Index::create_in_ram(b.build());
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
        let reader = index.reader().map_err(err)?;
        Ok(SearchIndex {
            index,
            reader,
            pending: Vec::new(),
            f,
            seen: Default::default(),
        })
    }

    fn add(&mut self, kind: HitKind, id: &str, post: &str, title: &str, body: &str) {
        let f = self.f;
        self.pending.push(Op::Add(doc!(
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
        )));
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
                    self.add(HitKind::Post, id.as_str(), &pid, t, &p.body);
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
                        self.add(HitKind::Post, id.as_str(), &p.id, title, &p.body);
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

    /// Makes what was indexed searchable.
    pub fn commit(&mut self) -> Result<(), NodeError> {
        if self.pending.is_empty() {
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
        writer.commit().map_err(err)?;
        // Let merges finish before the writer goes, so segments do not pile up.
        writer.wait_merging_threads().map_err(err)?;
        self.reader.reload().map_err(err)?;
        Ok(())
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
