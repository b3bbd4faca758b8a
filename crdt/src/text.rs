//! Mentions and topics in Markdown post bodies.
//!
//! `@id` mentions a directory id (letters, digits, `.`, `_`, `-`); `#topic` names a topic
//! (letters of any script, digits, `_`, `-`). Code spans (`` `…` ``) and fenced code blocks
//! are skipped, so `#include` in a code sample is not a topic. Topics are lower-cased.

/// The ids mentioned with `@` and the topics named with `#`, in first-seen order, deduplicated.
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
        let mut in_code = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                in_code = !in_code;
                i += 1;
                continue;
            }
            let at_word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
            if !in_code && at_word_start && (c == '@' || c == '#') {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_alphanumeric()
                        || chars[j] == '_'
                        || chars[j] == '-'
                        || (c == '@' && chars[j] == '.'))
                {
                    j += 1;
                }
                let mut word: String = chars[i + 1..j].iter().collect();
                while word.ends_with(['.', '-']) {
                    word.pop();
                }
                if !word.is_empty() && word.len() <= 64 {
                    if c == '@' {
                        if !mentions.contains(&word) {
                            mentions.push(word);
                        }
                    } else {
                        let t = word.to_lowercase();
                        if !t.chars().all(|ch| ch.is_ascii_digit()) && !topics.contains(&t) {
                            topics.push(t);
                        }
                    }
                }
                i = j;
                continue;
            }
            i += 1;
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
}
