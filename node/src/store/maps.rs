//! The catalogue of sled trees: every tree the node uses, in one place, with what its keys
//! and values are. Nothing outside `store` names a tree.

/// Format version and node-wide settings. Keys are ASCII names; `log_end` and `log_last`
/// (u64 BE) say where the change log ends and where its last record starts.
pub(super) const META: &str = "meta";
/// Formats 1 to 3 only (read once, to upgrade): the accepted signed changes. Key: u64 BE
/// sequence number. Value: document id (u16 BE length, UTF-8) then the signed change. Since
/// format 4 the changes — the source of truth — are in the change log beside sled
/// (`log.rs`), numbered by their offset in it (the order of acceptance, hence a
/// topological order per document).
pub(super) const LEGACY_CHANGES: &str = "changes";
/// Formats 2 and 3 only (dropped by the upgrade to 4): each document's changes in
/// `changes`, key = document id (u16 BE length, UTF-8) then u64 BE sequence number. Since
/// format 4 each change's record in the log points to its document's previous one, and
/// `docs` holds the last.
pub(super) const LEGACY_DOC_CHANGES: &str = "doc_changes";
/// Which documents hold changes, and how many bytes. Key: document id. Value: u64 BE count,
/// u64 BE bytes, u64 BE offset of its last record in the change log.
pub(super) const DOCS: &str = "docs";
/// Employee certificates. Key: key id (16 bytes). Value: signed certificate bytes.
pub(super) const CERTS: &str = "certs";
/// The latest accepted signed directory. Key: `current`. Value: signed directory bytes.
pub(super) const DIRECTORY: &str = "directory";
/// Read model: thread summaries. Key: thread id. Value: JSON `ThreadSummary`. `meta`'s
/// `read_models_at` is the last change they (and `doc_summaries`, `read_profiles`) cover,
/// written last in each commit: at start-up a summary is used only if its document has no
/// change stored after the mark (those documents are replayed).
pub(super) const THREADS: &str = "read_threads";
/// Each thread's and profile's summary (groups have theirs in `groups`): key = document id; value =
/// the binary `DocSummary` of `snapshot.rs`. Valid, like `read_threads`, up to `meta`'s
/// `read_models_at`: start-up records these documents without reading them.
pub(super) const SUMMARIES: &str = "doc_summaries";
/// Each group as start-up needs it without reading its history: key = group id; value =
/// the binary `GroupRecord` of `snapshot.rs` (its `DocSummary`, its view, its read-model
/// heads). Written now and then, not at every commit: a record is used only while it
/// counts as many changes as `docs` says the group holds; otherwise the group is replayed.
pub(super) const GROUPS: &str = "groups";
/// Read model: what each profile says, for finding people. Key: employee id. Value: JSON
/// `ProfileWords`. Valid up to `read_models_at`.
pub(super) const PROFILES: &str = "read_profiles";

/// Local accounts: the password hashes of this site's employees. Key: employee id. Value: the
/// argon2 PHC string. Never replicated.
pub(super) const ACCOUNTS: &str = "accounts";

/// Each employee's own state at their home node, never replicated: what they follow, how
/// far they have read, their notifications and settings. Keys (all ASCII prefixes, `\0`
/// separating parts; employee and document ids contain no NUL):
/// * `ft\0<thread>\0<employee>` and `fe\0<employee>\0<thread>`: `1` follows, `0` stopped
///   following (so being the author does not follow the thread again);
/// * `fp\0<employee>\0<person>`: follows a person;
/// * `rd\0<employee>\0<thread>`: i64 BE, the activity time read up to;
/// * `nt\0<employee>\0<u64 BE id>`: JSON `Notification`;
/// * `st\0<employee>`: JSON `Settings`;
/// * `ca\0<SHA-256 hex of a calendar token>`: the employee whose token it is;
/// * `up\0<employee>\0<blob hash>`: JSON `FileInfo` of a file the employee uploaded;
/// * `rm\0<employee>\0<kind>:<thread>`: a reminder or a closed poll the employee was told of;
/// * `dm\0<employee>\0<thread>`: an announcement the employee dismissed (empty);
/// * `bm\0<employee>\0<thread>\0<post>`: a bookmark, i64 BE the time it was kept;
/// * `ml\0<u64 BE due ms>\0<u64 BE id>`: JSON `MailJob`, a mail to send (see `mail.rs`);
/// * `md\0<employee>`: the key of the employee's scheduled digest in `ml`;
/// * `cd\0<group>\0<employee>`: a request made on the group's card that an owner here
///   declined (empty);
/// * `us\0<week>\0<kind>\0<scope>\0<who>`: who took part in what that week (see
///   `usage.rs`).
pub(super) const PERSONAL: &str = "personal";

/// Web sessions of this site's employees, never replicated. Key: the SHA-256 of the
/// session's token (32 bytes; the token itself is never stored). Value: JSON
/// `SessionRecord` (employee, started, last used).
pub(super) const SESSIONS: &str = "sessions";

/// Every tree, for opening and for diagnostics.
pub(super) const ALL: [&str; 11] = [
    META, DOCS, CERTS, DIRECTORY, THREADS, SUMMARIES, GROUPS, PROFILES, ACCOUNTS, PERSONAL,
    SESSIONS,
];

/// Not a tree: the search index (tantivy's files) lives in this subdirectory of the store's
/// directory, beside sled's files. It is derived data: deleted and rebuilt if unreadable.
pub(super) const SEARCH_DIR: &str = "search-index";

/// The on-disk format this build writes. (Adding a tree keeps the version when sled's
/// creating it empty is what an older store means.) A store with another version is refused
/// with a clear error rather than misread.
///
/// * 1: the first format.
/// * 2: adds `doc_changes`, the per-document index of `changes`. A version-1 store is
///   upgraded in place when opened: the index is built from `changes`, then the version is
///   written (a crash in between upgrades again on the next start).
/// * 3: thread summaries hold the heads they were made at instead of their posts' ids. A
///   version-2 store (or a version-1 store, once indexed) forgets its read models' mark when
///   opened, so the node rebuilds them from the documents at that start.
/// * 4: the signed changes leave sled for the change log (`changes.log`, see `log.rs`):
///   sled kept them at 3.6 times their size on disk. A version-3 store (or older, once
///   upgraded to 3) moves them when opened (minutes for a company of a million posts, with
///   progress in the log), the index and the read models' mark renumbered; the search index
///   is rebuilt at that start.
pub const FORMAT_VERSION: u32 = 4;
