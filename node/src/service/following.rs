//! Groups following outside feeds (RSS/Atom in): a group's owner (or a community manager)
//! makes the group follow a feed's address; this site's node fetches it every
//! `feeds_poll_minutes` (see [`crate::outside`]: timeouts, size limits, conditional
//! requests, no internal addresses) and posts each new item as a thread of the group,
//! signed by the site's feed account (`feed_bot`, an employee the directory lists here).
//!
//! What a group follows is kept at the site where it was set (the owner's), not in the
//! group's document: one site fetches and posts, every site sees the posts. The first
//! fetch posts the [`FIRST_ITEMS`] newest items (not a feed's whole history); later ones
//! post what is new, oldest first, at most [`ITEMS_PER_FETCH`] at a time. An item is known
//! by its `guid`/`id` (else its link, else its title): the last [`SEEN_KEPT`] are kept.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weft_crdt::{DocId, Visibility};

use super::{Access, Service, Viewer};
use crate::error::NodeError;
use crate::feedparse::Item;
use crate::outside::Fetched;

/// Feeds one group follows at most.
pub const MAX_FEEDS_PER_GROUP: usize = 20;
/// Items posted when a feed is first followed.
pub const FIRST_ITEMS: usize = 3;
/// Items posted per fetch at most.
pub const ITEMS_PER_FETCH: usize = 10;
/// Item ids remembered per feed.
pub const SEEN_KEPT: usize = 1_000;
/// The longest feed address.
pub const MAX_URL: usize = 2_000;

/// An outside feed a group follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedFeed {
    pub group: DocId,
    pub url: String,
    /// The feed's own title.
    pub title: String,
    pub added_by: String,
    pub added_at: i64,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Ids of the items already seen, the newest last.
    #[serde(default)]
    pub seen: Vec<String>,
    /// When it was last fetched (ms), and what went wrong then, if anything.
    #[serde(default)]
    pub last_fetch: i64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Items posted so far.
    #[serde(default)]
    pub posted: u64,
}

impl FollowedFeed {
    /// Its id: the SHA-256 of its address (hex).
    pub fn id(&self) -> String {
        feed_id(&self.url)
    }
}

fn feed_id(url: &str) -> String {
    weft_keys::to_hex(&Sha256::digest(url.as_bytes()))
}

impl Service {
    /// The feed account of this site, if configured and listed here.
    fn feed_bot(&self) -> Result<String, NodeError> {
        let bot = self.node.feeds().bot.clone().ok_or_else(|| {
            NodeError::Invalid(
                "this site has no feed account: its operator sets feed_bot in weft.toml".into(),
            )
        })?;
        let reader = self.reader();
        let here = reader
            .directory()
            .active_employee(&bot)
            .is_some_and(|e| e.site.as_str() == reader.site());
        if !here {
            return Err(NodeError::Invalid(format!(
                "the feed account {bot} is not an active employee of this site in the directory"
            )));
        }
        Ok(bot)
    }

    /// That the viewer may set what `group` follows: its owner or a community manager.
    fn may_manage_feeds(&self, v: &Viewer, group: &DocId) -> Result<Visibility, NodeError> {
        let reader = self.reader();
        let Some((g, access)) = reader.group(v.id(), group) else {
            return Err(NodeError::NotFound);
        };
        let cm = self.is_community_manager(v);
        if access != Access::Full && !cm {
            return Err(NodeError::NotFound);
        }
        if !(g.owners.iter().any(|o| o == v.id()) || cm) {
            return Err(NodeError::Forbidden(
                "only the group's owners choose the feeds it follows".into(),
            ));
        }
        Ok(g.visibility)
    }

    /// Makes `group` follow the feed at `url`: fetched now (an address that gives no feed
    /// is refused with why), its newest items posted.
    pub async fn follow_feed(
        &self,
        v: &Viewer,
        group: &DocId,
        url: &str,
    ) -> Result<FollowedFeed, NodeError> {
        let visibility = self.may_manage_feeds(v, group)?;
        let bot = self.feed_bot()?;
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > MAX_URL {
            return Err(NodeError::Invalid(
                "a feed's address starts with http:// or https://".into(),
            ));
        }
        let mine = self.followed_feeds(v, group).await?;
        if mine.iter().any(|f| f.url == url) {
            return Err(NodeError::Invalid(
                "the group already follows this feed".into(),
            ));
        }
        if mine.len() >= MAX_FEEDS_PER_GROUP {
            return Err(NodeError::Invalid(format!(
                "a group follows at most {MAX_FEEDS_PER_GROUP} feeds"
            )));
        }
        let limits = self.node.feeds().limits.clone();
        let (bytes, etag, last_modified) = match crate::outside::get(url, None, None, &limits).await
        {
            Ok(Fetched::Body {
                bytes,
                etag,
                last_modified,
            }) => (bytes, etag, last_modified),
            Ok(Fetched::NotModified) => {
                return Err(NodeError::Invalid("the feed answered with nothing".into()));
            }
            Err(e) => {
                return Err(NodeError::Invalid(format!(
                    "the feed could not be read: {e}"
                )));
            }
        };
        let feed = crate::feedparse::parse(&bytes)
            .map_err(|e| NodeError::Invalid(format!("this address gives no feed: {e}")))?;
        // A private or secret group: its feed account must be a member to post there.
        if visibility != Visibility::Public {
            let member = self
                .reader()
                .group(&bot, group)
                .is_some_and(|(_, a)| a == Access::Full);
            if !member {
                self.add_member(v, group, &bot).await?;
            }
        }
        // Only the newest few are posted; the rest counts as seen.
        let mut record = FollowedFeed {
            group: group.clone(),
            url: url.to_owned(),
            title: feed.title.clone(),
            added_by: v.id().to_owned(),
            added_at: self.now_ms(),
            etag,
            last_modified,
            seen: feed
                .items
                .iter()
                .skip(FIRST_ITEMS)
                .map(|i| i.id.clone())
                .collect(),
            last_fetch: self.now_ms(),
            last_error: None,
            posted: 0,
        };
        self.post_new_items(&bot, &mut record, feed.items).await;
        self.save_feed(&record).await?;
        Ok(record)
    }

    /// Stops `group` following feed `id`.
    pub async fn unfollow_feed(
        &self,
        v: &Viewer,
        group: &DocId,
        id: &str,
    ) -> Result<(), NodeError> {
        self.may_manage_feeds(v, group)?;
        let (g, id) = (group.to_string(), id.to_owned());
        let exists = self
            .reader()
            .followed_feeds(Some(&g))?
            .iter()
            .any(|(_, i, _)| *i == id);
        if !exists {
            return Err(NodeError::NotFound);
        }
        self.run("feeds.unfollow", move |c| {
            Ok(c.store().put_followed_feed(&g, &id, None)?)
        })
        .await
    }

    /// The feeds `group` follows from this site (its members see them).
    pub async fn followed_feeds(
        &self,
        v: &Viewer,
        group: &DocId,
    ) -> Result<Vec<FollowedFeed>, NodeError> {
        let cm = self.is_community_manager(v);
        if self.reader().group_access(v.id(), group) != Access::Full && !cm {
            return Err(NodeError::NotFound);
        }
        self.feeds_of(Some(group))
    }

    fn feeds_of(&self, group: Option<&DocId>) -> Result<Vec<FollowedFeed>, NodeError> {
        let g = group.map(DocId::to_string);
        let mut out: Vec<FollowedFeed> = self
            .reader()
            .followed_feeds(g.as_deref())?
            .into_iter()
            .filter_map(|(_, _, bytes)| serde_json::from_slice(&bytes).ok())
            .collect();
        out.sort_by_key(|f| f.added_at);
        Ok(out)
    }

    async fn save_feed(&self, f: &FollowedFeed) -> Result<(), NodeError> {
        let bytes = serde_json::to_vec(f)
            .map_err(|e| NodeError::Invalid(format!("a feed's record: {e}")))?;
        let (g, id) = (f.group.to_string(), f.id());
        self.run("feeds.save", move |c| {
            Ok(c.store().put_followed_feed(&g, &id, Some(&bytes))?)
        })
        .await
    }

    /// Fetches feed `id` of `group` now (its owner asks; the site does it every
    /// `feeds_poll_minutes` anyway). Returns it as it is after.
    pub async fn refresh_feed(
        &self,
        v: &Viewer,
        group: &DocId,
        id: &str,
    ) -> Result<FollowedFeed, NodeError> {
        self.may_manage_feeds(v, group)?;
        let f = self
            .feeds_of(Some(group))?
            .into_iter()
            .find(|f| f.id() == id)
            .ok_or(NodeError::NotFound)?;
        self.fetch_feed(f).await
    }

    /// One fetch of a followed feed: what is new posted, the record saved.
    async fn fetch_feed(&self, mut f: FollowedFeed) -> Result<FollowedFeed, NodeError> {
        let bot = self.feed_bot()?;
        let limits = self.node.feeds().limits.clone();
        let answer = crate::outside::get(
            &f.url,
            f.etag.as_deref(),
            f.last_modified.as_deref(),
            &limits,
        )
        .await;
        f.last_fetch = self.now_ms();
        match answer {
            Ok(Fetched::NotModified) => f.last_error = None,
            Ok(Fetched::Body {
                bytes,
                etag,
                last_modified,
            }) => match crate::feedparse::parse(&bytes) {
                Ok(feed) => {
                    f.etag = etag;
                    f.last_modified = last_modified;
                    f.last_error = None;
                    if !feed.title.is_empty() {
                        f.title = feed.title.clone();
                    }
                    self.post_new_items(&bot, &mut f, feed.items).await;
                }
                Err(e) => f.last_error = Some(format!("no feed: {e}")),
            },
            Err(e) => f.last_error = Some(e.to_string()),
        }
        if let Some(e) = &f.last_error {
            tracing::warn!(group = %f.group, url = %f.url, error = %e, "a followed feed could not be read");
        }
        self.save_feed(&f).await?;
        Ok(f)
    }

    /// Posts the items not seen yet, oldest first, at most [`ITEMS_PER_FETCH`].
    async fn post_new_items(&self, bot: &str, f: &mut FollowedFeed, items: Vec<Item>) {
        let mut new: Vec<Item> = items
            .into_iter()
            .filter(|i| !i.id.is_empty() && !f.seen.contains(&i.id))
            .collect();
        // Feeds list the newest first; posts go oldest first.
        new.reverse();
        let mut seen_now = std::collections::HashSet::new();
        new.retain(|i| seen_now.insert(i.id.clone()));
        for item in new.into_iter().take(ITEMS_PER_FETCH) {
            let mut body = item.summary.clone();
            if let Some(link) = &item.link {
                if !body.is_empty() {
                    body.push_str("\n\n");
                }
                body.push_str(&format!("[{}]({link})", escape_md(&f.title_or(link))));
            }
            if body.trim().is_empty() {
                body = item.title.clone();
            }
            let (me, g, title) = (bot.to_owned(), f.group.clone(), item.title.clone());
            let (now, nonce) = (
                self.now_ms(),
                match self.nonce() {
                    Ok(n) => n,
                    Err(_) => break,
                },
            );
            let made = self
                .run("feeds.post", move |c| {
                    c.create_thread(&me, &g, &title, &body, now, nonce)
                })
                .await;
            match made {
                Ok(_) => {
                    f.posted += 1;
                    f.seen.push(item.id);
                }
                Err(e) => {
                    f.last_error = Some(format!("an item could not be posted: {e}"));
                    break;
                }
            }
        }
        if f.seen.len() > SEEN_KEPT {
            let extra = f.seen.len() - SEEN_KEPT;
            f.seen.drain(..extra);
        }
    }

    /// Fetches every followed feed when it is due, for as long as the node runs.
    pub async fn follow_feeds_forever(&self) {
        let every = self.node.feeds().every;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            let feeds = match self.feeds_of(None) {
                Ok(f) => f,
                Err(NodeError::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "followed feeds could not be read");
                    continue;
                }
            };
            let now = self.now_ms();
            for f in feeds {
                if now - f.last_fetch < every.as_millis() as i64 {
                    continue;
                }
                if let Err(NodeError::ShuttingDown) = self.fetch_feed(f).await {
                    return;
                }
            }
        }
    }
}

impl FollowedFeed {
    /// The feed's title, or `fallback` when it has none.
    fn title_or(&self, fallback: &str) -> String {
        if self.title.trim().is_empty() {
            fallback.to_owned()
        } else {
            self.title.clone()
        }
    }
}

/// Text safe inside a Markdown link's brackets.
fn escape_md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
}
