//! Markdown to safe HTML.
//!
//! Posts are Markdown (CommonMark with tables and strikethrough). Rendering goes through
//! pulldown-cmark, which escapes all text; what it would pass through unescaped is removed
//! here: raw HTML in a post is shown as text, link and image addresses must be `http`,
//! `https`, `mailto` or relative (so no `javascript:`), and images become links (no third-party
//! image is fetched by a reader's browser). `@id` links to the person, `#topic` to the topic.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

fn safe_url(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    u.starts_with("https://")
        || u.starts_with("http://")
        || u.starts_with("mailto:")
        || (u.starts_with('/') && !u.starts_with("//"))
        || u.starts_with('#')
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Turns `@id` and `#topic` in plain text into links (the same words the node extracts as
/// mentions and topics); everything else escaped.
fn link_words(text: &str) -> String {
    use weft_node::crdt::text::{Segment, segments};
    let mut out = String::new();
    for seg in segments(text) {
        match seg {
            Segment::Text(t) => out.push_str(&escape(t)),
            Segment::Mention(m) => out.push_str(&format!(
                "<a class=\"mention\" href=\"/people/{}\">@{}</a>",
                escape(m),
                escape(m)
            )),
            Segment::Topic(t) => out.push_str(&format!(
                "<a class=\"topic\" href=\"/topics/{}\">#{}</a>",
                escape(&t.to_lowercase()),
                escape(t)
            )),
        }
    }
    out
}

/// Renders a post's Markdown to HTML that is safe to insert into a page.
pub fn render(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut in_code = 0usize;
    let mut image_depth = 0usize;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options)
        .map(|e| match e {
            // Raw HTML is shown, not interpreted.
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: if safe_url(&dest_url) {
                    dest_url
                } else {
                    CowStr::from("#")
                },
                title,
                id,
            }),
            // Images become links to the image.
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => {
                image_depth += 1;
                Event::Start(Tag::Link {
                    link_type: pulldown_cmark::LinkType::Inline,
                    dest_url: if safe_url(&dest_url) {
                        dest_url
                    } else {
                        CowStr::from("#")
                    },
                    title,
                    id: CowStr::from(""),
                })
            }
            Event::End(TagEnd::Image) => {
                image_depth = image_depth.saturating_sub(1);
                Event::End(TagEnd::Link)
            }
            Event::Start(Tag::CodeBlock(k)) => {
                in_code += 1;
                Event::Start(Tag::CodeBlock(k))
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = in_code.saturating_sub(1);
                Event::End(TagEnd::CodeBlock)
            }
            Event::Text(t)
                if in_code == 0 && image_depth == 0 && (t.contains('@') || t.contains('#')) =>
            {
                Event::InlineHtml(CowStr::from(link_words(&t)))
            }
            other => other,
        })
        .collect();
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_never_survive() {
        for evil in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](JaVaScRiPt:alert(1))",
            "<svg onload=alert(1)>",
        ] {
            let html = render(evil);
            assert!(!html.contains("<script"), "{evil} → {html}");
            assert!(!html.contains("<img"), "{evil} → {html}");
            assert!(!html.contains("<svg"), "{evil} → {html}");
            assert!(
                !html.to_lowercase().contains("<a href=\"javascript"),
                "{evil} → {html}"
            );
            assert!(
                !html.contains("onerror=alert") || html.contains("&lt;"),
                "{evil} → {html}"
            );
        }
    }

    #[test]
    fn markdown_mentions_and_topics() {
        let html = render(
            "**Bonjour** @hdupre, voir #Kubernetes et [le wiki](https://example.com).\n\n`@notme`",
        );
        assert!(html.contains("<strong>Bonjour</strong>"), "{html}");
        assert!(
            html.contains("<a class=\"mention\" href=\"/people/hdupre\">@hdupre</a>"),
            "{html}"
        );
        assert!(html.contains("href=\"/topics/kubernetes\""), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com\">le wiki</a>"),
            "{html}"
        );
        assert!(html.contains("<code>@notme</code>"), "{html}");
    }
}
