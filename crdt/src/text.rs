//! Mentions and topics in Markdown post bodies.
//!
//! `@id` mentions a directory id (letters, digits, `.`, `_`, `-`); `#topic` names a topic
//! (letters of any script, digits, `_`, `-`). Code spans (`` `…` ``) and fenced code blocks
//! are skipped, so `#include` in a code sample is not a topic. Topics are lower-cased.

/// A piece of plain text: text as it is, or a mention or topic (without its `@`/`#`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Mention(&'a str),
    Topic(&'a str),
}

fn word_char(c: char, mention: bool) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || (mention && c == '.')
}

/// Splits plain text (code already removed) into text, `@mentions` and `#topics`. A mention
/// or topic starts a word; its trailing `.` and `-` stay text ("@hdupre." ends a sentence);
/// it is at most 64 bytes; a topic of digits only (`#42`) is text. The web layer links the
/// same words that [`mentions_and_topics`] extracts because both use this.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut plain_from = 0;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let at_start = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
        prev = Some(c);
        if !(at_start && (c == '@' || c == '#')) {
            continue;
        }
        let mention = c == '@';
        let word_start = i + 1;
        let mut end = word_start;
        while let Some(&(j, d)) = iter.peek() {
            if !word_char(d, mention) {
                break;
            }
            end = j + d.len_utf8();
            prev = Some(d);
            iter.next();
        }
        let word = text[word_start..end].trim_end_matches(['.', '-']);
        let valid = !word.is_empty()
            && word.len() <= 64
            && (mention || !word.chars().all(|d| d.is_ascii_digit()));
        if !valid {
            continue;
        }
        if plain_from < i {
            out.push(Segment::Text(&text[plain_from..i]));
        }
        out.push(if mention {
            Segment::Mention(word)
        } else {
            Segment::Topic(word)
        });
        plain_from = word_start + word.len();
    }
    if plain_from < text.len() {
        out.push(Segment::Text(&text[plain_from..]));
    }
    out
}

/// The ids mentioned with `@` and the topics named with `#`, in first-seen order, deduplicated;
/// topics lower-cased. Code spans and fenced code blocks are skipped.
pub fn mentions_and_topics(body: &str) -> (Vec<String>, Vec<String>) {
    let mut mentions: Vec<String> = Vec::new();
    let mut topics: Vec<String> = Vec::new();
    let mut in_fence = false;
    for line in body.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Odd pieces between backticks are code spans.
        for (k, piece) in line.split('`').enumerate() {
            if k % 2 == 1 {
                continue;
            }
            for seg in segments(piece) {
                match seg {
                    Segment::Mention(m) if !mentions.iter().any(|x| x == m) => {
                        mentions.push(m.to_owned());
                    }
                    Segment::Topic(t) => {
                        let t = t.to_lowercase();
                        if !topics.contains(&t) {
                            topics.push(t);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (mentions, topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mentions_and_topics() {
        let (m, t) = mentions_and_topics(
            "Merci @hdupre et @j.smith. pour #Transformation #IT-2026 ! Voir issue #42.\n`@notme #notatopic`\n```\n#include <x>\n```\nmail me at a@b.com #Été",
        );
        assert_eq!(m, vec!["hdupre", "j.smith"]);
        assert_eq!(t, vec!["transformation", "it-2026", "été"]);
    }

    #[test]
    fn segments_keep_every_byte() {
        for text in [
            "Merci @hdupre. Voir #IT-2026 !",
            "#42 et a@b.com",
            "@",
            "x#y @é.t.é-",
        ] {
            let joined: String = segments(text)
                .iter()
                .map(|s| match s {
                    Segment::Text(t) => t.to_string(),
                    Segment::Mention(m) => format!("@{m}"),
                    Segment::Topic(t) => format!("#{t}"),
                })
                .collect();
            assert_eq!(joined, text);
        }
        assert_eq!(
            segments("Hi @hdupre."),
            vec![
                Segment::Text("Hi "),
                Segment::Mention("hdupre"),
                Segment::Text(".")
            ]
        );
    }
}
