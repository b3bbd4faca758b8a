//! The web layer's invariants, checked on its sources (ARCHITECTURE.md, "Invariants"):
//! it calls the node only through the service layer, and reads no clock and no random
//! source of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each line of the web crate's sources that is code (not a comment), with where it is.
fn code_lines() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10, "the sources were found");
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !code.trim().is_empty() {
                out.push((format!("{}:{}", f.display(), i + 1), code.to_owned()));
            }
        }
    }
    out
}

fn offenders(words: &[&str]) -> Vec<String> {
    code_lines()
        .into_iter()
        .filter(|(_, code)| words.iter().any(|w| code.contains(w)))
        .map(|(at, code)| format!("{at}: {}", code.trim()))
        .collect()
}

#[test]
fn web_calls_the_node_only_through_the_service_layer() {
    let found = offenders(&[
        "Core",
        "NodeHandle",
        ".store()",
        ".replica()",
        ".engine()",
        ".reader()",
        "weft_node::store",
        "weft_node::core",
        "weft_node::reader",
        "weft_node::readmodel",
        "weft_node::personal",
        "weft_node::search",
        "weft_node::net",
        ".call(move",
    ]);
    assert!(
        found.is_empty(),
        "web reaches past the service layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn web_reads_no_clock_and_no_randomness_of_its_own() {
    let found = offenders(&["SystemTime", "getrandom", "UNIX_EPOCH", "rand::"]);
    assert!(
        found.is_empty(),
        "the time and random numbers come from the service:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_would_see_an_offence() {
    // The scan reads code, not comments: a line that names the core in code is caught.
    let code = "let x = core.replica(); // Core";
    let kept = code.split("//").next().unwrap();
    assert!(kept.contains(".replica()") && !kept.contains("Core"));
}
