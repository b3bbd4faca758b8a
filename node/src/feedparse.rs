//! Reading the feeds groups follow: RSS 2.0, RSS 1.0 (RDF) and Atom 1.0, with `xml-rs` (no
//! entity declarations, so no "billion laughs"). What an item says is kept as plain text:
//! its title, its link, its summary with any HTML removed, its date.

use xml::reader::{EventReader, ParserConfig, XmlEvent};

/// The most items read from one feed.
pub const MAX_ITEMS: usize = 200;

/// The longest summary kept (characters).
pub const MAX_SUMMARY: usize = 2_000;

/// One item of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What identifies it across fetches: its `guid` or `id`, else its link, else its title.
    pub id: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: String,
    /// When it was published or last updated (ms), if the feed says.
    pub at: Option<i64>,
}

/// A feed: its title and items, in the feed's order (usually the newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Default)]
struct Building {
    id: String,
    title: String,
    link: Option<String>,
    summary: String,
    content: String,
    date: String,
}

/// Parses a feed; `Err` (with why) if it is not RSS or Atom.
pub fn parse(bytes: &[u8]) -> Result<Feed, String> {
    let config = ParserConfig::new()
        .trim_whitespace(false)
        .cdata_to_characters(true)
        .ignore_comments(true);
    let reader = EventReader::new_with_config(bytes, config);
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut title = String::new();
    let mut items = Vec::new();
    let mut item: Option<Building> = None;
    let mut text = String::new();
    for event in reader {
        match event.map_err(|e| format!("not XML: {e}"))? {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                let local = name.local_name.to_ascii_lowercase();
                if root.is_none() {
                    root = Some(local.clone());
                }
                if (local == "item" || local == "entry") && items.len() < MAX_ITEMS {
                    item = Some(Building::default());
                }
                // Atom's link is an attribute: the alternate one (or one without `rel`).
                if local == "link"
                    && let Some(b) = item.as_mut()
                {
                    let attr = |n: &str| {
                        attributes
                            .iter()
                            .find(|a| a.name.local_name == n)
                            .map(|a| a.value.clone())
                    };
                    if let Some(href) = attr("href")
                        && attr("rel").is_none_or(|r| r == "alternate")
                        && b.link.is_none()
                    {
                        b.link = Some(href);
                    }
                }
                stack.push(local);
                text.clear();
            }
            XmlEvent::Characters(t) | XmlEvent::CData(t) if text.len() < 256 * 1024 => {
                text.push_str(&t);
            }
            XmlEvent::Whitespace(t) => text.push_str(&t),
            XmlEvent::EndElement { .. } => {
                let Some(local) = stack.pop() else { continue };
                let parent = stack.last().map(String::as_str);
                let value = std::mem::take(&mut text);
                match (item.as_mut(), local.as_str()) {
                    (Some(_), "item" | "entry") => {
                        if let Some(b) = item.take() {
                            items.push(finish(b));
                        }
                    }
                    (Some(b), "title") if matches!(parent, Some("item" | "entry")) => {
                        b.title = value.trim().to_owned();
                    }
                    (Some(b), "link") if b.link.is_none() && !value.trim().is_empty() => {
                        b.link = Some(value.trim().to_owned());
                    }
                    (Some(b), "guid" | "id") => b.id = value.trim().to_owned(),
                    (Some(b), "description" | "summary") => b.summary = value,
                    (Some(b), "encoded" | "content") => b.content = value,
                    (Some(b), "pubdate" | "published" | "updated" | "date")
                        if b.date.is_empty() || local == "published" =>
                    {
                        b.date = value.trim().to_owned();
                    }
                    (None, "title")
                        if title.is_empty() && matches!(parent, Some("channel" | "feed")) =>
                    {
                        title = value.trim().to_owned();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    match root.as_deref() {
        Some("rss" | "feed" | "rdf") => Ok(Feed { title, items }),
        Some(other) => Err(format!("<{other}> is neither RSS nor Atom")),
        None => Err("empty".into()),
    }
}

fn finish(b: Building) -> Item {
    let summary = if b.summary.trim().is_empty() {
        b.content
    } else {
        b.summary
    };
    let summary = cut(&text_of_html(&summary), MAX_SUMMARY);
    let title = match b.title.trim() {
        "" => cut(&summary, 120),
        // A title is text (entities written twice, as Atom's `type="html"` does, decoded).
        t => cut(&entities(t), 300),
    };
    let id = [
        b.id.as_str(),
        b.link.as_deref().unwrap_or(""),
        title.as_str(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or_default()
    .to_owned();
    Item {
        id,
        title,
        link: b
            .link
            .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
        summary,
        at: date(&b.date),
    }
}

/// A date as RSS (RFC 2822) or Atom (RFC 3339) writes it, in ms.
fn date(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    jiff::fmt::rfc2822::parse(s)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// `s` cut to `max` characters (with an ellipsis).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// HTML's common entities decoded (`&amp;` last, so `&amp;lt;` stays `&lt;`).
fn entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text of an HTML fragment: tags dropped (a paragraph or line break ends a line),
/// the common entities decoded, white space folded.
pub fn text_of_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt].to_ascii_lowercase();
        let name = tag
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap_or("");
        if matches!(name, "p" | "br" | "div" | "li" | "h1" | "h2" | "h3" | "tr") {
            out.push('\n');
        } else {
            out.push(' ');
        }
        // What a script or style element holds is not text.
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            let end = format!("</{name}");
            match rest[lt + gt..].to_ascii_lowercase().find(&end) {
                Some(e) => rest = &rest[lt + gt + e..],
                None => {
                    rest = "";
                    break;
                }
            }
            continue;
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(rest);
    entities(&out)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_and_atom_give_their_items() {
        let rss = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Les Échos du marché</title>
<item><title>Hausse du &lt;cuivre&gt;</title><link>https://news.example.com/cuivre</link>
<guid>urn:news:1</guid><pubDate>Fri, 04 Dec 2026 09:30:00 +0100</pubDate>
<description><![CDATA[<p>Le cuivre <b>monte</b>.</p><script>alert(1)</script><p>Encore&nbsp;plus.</p>]]></description></item>
<item><title>Sans lien</title><description>Texte</description></item>
</channel></rss>"#;
        let f = parse(rss.as_bytes()).unwrap();
        assert_eq!(f.title, "Les Échos du marché");
        assert_eq!(f.items.len(), 2);
        let i = &f.items[0];
        assert_eq!(i.title, "Hausse du <cuivre>");
        assert_eq!(i.id, "urn:news:1");
        assert_eq!(i.link.as_deref(), Some("https://news.example.com/cuivre"));
        assert_eq!(i.summary, "Le cuivre monte .\nEncore plus.");
        assert_eq!(i.at, Some(1_796_373_000_000));
        assert_eq!(f.items[1].id, "Sans lien", "no guid, no link: the title");
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
<entry><title type="html">Nouveau &amp;amp; mieux</title><id>tag:blog,2026:1</id>
<link rel="self" href="https://blog.example.com/self"/><link href="https://blog.example.com/1"/>
<updated>2026-12-04T08:00:00Z</updated><content type="html">&lt;p&gt;Bonjour&lt;/p&gt;</content></entry></feed>"#;
        let f = parse(atom.as_bytes()).unwrap();
        assert_eq!(f.items[0].title, "Nouveau & mieux");
        assert_eq!(
            f.items[0].link.as_deref(),
            Some("https://blog.example.com/1")
        );
        assert_eq!(f.items[0].summary, "Bonjour");
        assert_eq!(f.items[0].at, Some(1_796_371_200_000));
        // Not a feed; not XML; an entity bomb is no feed either.
        assert!(parse(b"<html><body>x</body></html>").is_err());
        assert!(parse(b"not xml at all").is_err());
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss><channel><item><title>&lol2;</title></item></channel></rss>"#;
        assert!(
            parse(bomb.as_bytes())
                .map(|f| f.items[0].title.len() < 100)
                .unwrap_or(true)
        );
    }
}
