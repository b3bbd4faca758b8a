//! The text of uploaded documents, so that search finds a document by what it says and not
//! only by its name. The uploader's node extracts it once, at upload; the first
//! [`MAX_TEXT`] bytes travel with the attachment in the signed post (see
//! `weft_crdt::Attachment::text`), so every site that holds the post can search it without
//! fetching the file.
//!
//! Formats indexed, each because a pure-Rust reader exists and the format is what
//! companies' documents are written in:
//!
//! | format | how |
//! |---|---|
//! | plain text, Markdown, CSV | the bytes, as UTF-8 |
//! | PDF | `pdf-extract` (on `lopdf`); its panics on malformed files are caught |
//! | Word, PowerPoint, Excel (`.docx`, `.pptx`, `.xlsx`: Office Open XML) | the text of their XML parts, read from the zip with `zip` |
//! | OpenDocument (`.odt`, `.odp`, `.ods`) | the text of `content.xml` |
//!
//! Not indexed: the old binary Office formats (`.doc`, `.ppt`, `.xls`: no maintained pure-Rust
//! reader), images (no OCR), archives. Every reading is bounded — at most [`MAX_PDF_BYTES`]
//! of PDF, [`MAX_PART_BYTES`] uncompressed per XML part (a zip bomb stops there) — and a
//! document that cannot be read simply has no text.

use std::io::{Read, Seek};

/// The most text kept per file (bytes, cut at a character boundary).
pub const MAX_TEXT: usize = 16 * 1024;

/// The largest PDF read for its text.
pub const MAX_PDF_BYTES: u64 = 50 * 1024 * 1024;

/// The most bytes read of one XML part of an office document.
pub const MAX_PART_BYTES: u64 = 20 * 1024 * 1024;

/// The kinds of document this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    OpenDocument,
}

fn kind(media_type: &str, name: &str) -> Option<Kind> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Some(match (media_type, ext.as_str()) {
        ("text/plain" | "text/markdown" | "text/csv", _) | (_, "txt" | "md" | "csv") => Kind::Text,
        ("application/pdf", _) | (_, "pdf") => Kind::Pdf,
        (_, "docx") => Kind::Docx,
        (_, "pptx") => Kind::Pptx,
        (_, "xlsx") => Kind::Xlsx,
        (_, "odt" | "odp" | "ods") => Kind::OpenDocument,
        (t, _) if t.ends_with("wordprocessingml.document") => Kind::Docx,
        (t, _) if t.ends_with("presentationml.presentation") => Kind::Pptx,
        (t, _) if t.ends_with("spreadsheetml.sheet") => Kind::Xlsx,
        (t, _) if t.starts_with("application/vnd.oasis.opendocument.") => Kind::OpenDocument,
        _ => return None,
    })
}

/// Whether a file of this type and name has text this module reads.
pub fn readable(media_type: &str, name: &str) -> bool {
    kind(media_type, name).is_some()
}

/// The text of the document `file` holds (`size` bytes), at most [`MAX_TEXT`] bytes, its
/// white space folded; `None` if it is not a format read here, cannot be read, or says
/// nothing.
pub fn text(mut file: impl Read + Seek, size: u64, media_type: &str, name: &str) -> Option<String> {
    let raw = match kind(media_type, name)? {
        Kind::Text => {
            let mut buf = Vec::new();
            file.by_ref()
                .take(MAX_TEXT as u64 * 2)
                .read_to_end(&mut buf)
                .ok()?;
            String::from_utf8_lossy(&buf).into_owned()
        }
        Kind::Pdf => {
            if size > MAX_PDF_BYTES {
                return None;
            }
            let mut buf = Vec::new();
            file.read_to_end(&mut buf).ok()?;
            std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&buf))
                .ok()?
                .ok()?
        }
        Kind::Docx => office(file, |n| n == "word/document.xml", "w:p")?,
        Kind::Pptx => office(
            file,
            |n| n.starts_with("ppt/slides/slide") && n.ends_with(".xml"),
            "a:p",
        )?,
        Kind::Xlsx => office(file, |n| n == "xl/sharedStrings.xml", "si")?,
        Kind::OpenDocument => office(file, |n| n == "content.xml", "text:p")?,
    };
    let folded = fold(&raw);
    (!folded.is_empty()).then_some(folded)
}

/// The text of the XML parts of a zip whose names `wanted` accepts, in the zip's order;
/// `paragraph` is the element that ends a line.
fn office(
    file: impl Read + Seek,
    wanted: impl Fn(&str) -> bool,
    paragraph: &str,
) -> Option<String> {
    let mut zip = zip::ZipArchive::new(file).ok()?;
    let mut out = String::new();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).ok()?;
        if !wanted(part.name()) {
            continue;
        }
        let mut xml = String::new();
        part.by_ref()
            .take(MAX_PART_BYTES)
            .read_to_string(&mut xml)
            .ok()?;
        out.push_str(&xml_text(&xml, paragraph));
        out.push('\n');
        if out.len() > MAX_TEXT * 4 {
            break;
        }
    }
    Some(out)
}

/// The character data of an XML text, entities decoded, a new line after each `paragraph`
/// element and a space between other elements.
fn xml_text(xml: &str, paragraph: &str) -> String {
    let close = format!("</{paragraph}>");
    let mut out = String::with_capacity(xml.len() / 4);
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt..lt + gt + 1];
        if tag == close {
            out.push('\n');
        } else if tag.starts_with("</") || tag.ends_with("/>") {
            out.push(' ');
        }
        rest = &rest[lt + gt + 1..];
    }
    out
}

/// XML's entities and character references decoded (others left as written).
fn decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|n| *n <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let ent = &after[..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// White space folded (runs of spaces to one, blank lines dropped), control characters
/// dropped, cut at [`MAX_TEXT`] bytes on a character boundary.
fn fold(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        for w in words {
            let w: String = w.chars().filter(|c| !c.is_control()).collect();
            if w.is_empty() {
                continue;
            }
            if !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            if out.len() + w.len() > MAX_TEXT {
                let room = MAX_TEXT.saturating_sub(out.len());
                let cut = (0..=room.min(w.len()))
                    .rev()
                    .find(|i| w.is_char_boundary(*i))
                    .unwrap_or(0);
                out.push_str(&w[..cut]);
                return out;
            }
            out.push_str(&w);
        }
        if out.len() + 1 > MAX_TEXT {
            return out;
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    /// A zip holding `parts` (name, XML), stored uncompressed or deflated.
    fn zip_of(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        for (name, xml) in parts {
            z.start_file(
                *name,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            z.write_all(xml.as_bytes()).unwrap();
        }
        z.finish().unwrap();
        out.into_inner()
    }

    /// A one-page PDF saying `words` in Helvetica, its cross-reference table computed.
    pub(crate) fn pdf_saying(words: &str) -> Vec<u8> {
        let stream = format!("BT /F1 24 Tf 72 712 Td ({words}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
            format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        ];
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    #[test]
    fn a_pdf_gives_its_words() {
        let pdf = pdf_saying("Rapport annuel Weft");
        let got = text(
            Cursor::new(&pdf),
            pdf.len() as u64,
            "application/pdf",
            "r.pdf",
        );
        assert!(
            got.as_deref()
                .is_some_and(|t| t.contains("Rapport annuel Weft")),
            "{got:?}"
        );
    }

    #[test]
    fn office_documents_and_text_give_their_words() {
        let docx = zip_of(&[
            ("[Content_Types].xml", "<Types/>"),
            (
                "word/document.xml",
                "<w:document><w:body><w:p><w:r><w:t>Procédure d'accueil</w:t></w:r></w:p>\
                 <w:p><w:r><w:t>Badge &amp; clés</w:t></w:r><w:r><w:t xml:space=\"preserve\"> au 3e étage</w:t></w:r></w:p></w:body></w:document>",
            ),
        ]);
        let len = docx.len() as u64;
        assert_eq!(
            text(
                Cursor::new(docx),
                len,
                "application/octet-stream",
                "Accueil.docx"
            )
            .as_deref(),
            Some("Procédure d'accueil\nBadge & clés au 3e étage")
        );
        let pptx = zip_of(&[
            (
                "ppt/slides/slide1.xml",
                "<p:sld><a:p><a:r><a:t>Résultats 2026</a:t></a:r></a:p></p:sld>",
            ),
            (
                "ppt/slides/slide2.xml",
                "<p:sld><a:p><a:r><a:t>Objectifs</a:t></a:r></a:p></p:sld>",
            ),
        ]);
        let got = text(Cursor::new(&pptx), pptx.len() as u64, "", "deck.pptx").unwrap();
        assert!(
            got.contains("Résultats 2026") && got.contains("Objectifs"),
            "{got}"
        );
        let odt = zip_of(&[(
            "content.xml",
            "<office:text><text:p>Compte rendu</text:p></office:text>",
        )]);
        assert_eq!(
            text(
                Cursor::new(&odt),
                odt.len() as u64,
                "application/vnd.oasis.opendocument.text",
                "cr.odt"
            )
            .as_deref(),
            Some("Compte rendu")
        );
        assert_eq!(
            text(
                Cursor::new(b"  Hello\n\n\n   world \x07 "),
                20,
                "text/plain",
                "a.txt"
            )
            .as_deref(),
            Some("Hello\nworld")
        );
        // Not read: an image, a broken zip, a "PDF" that is not one (no panic escapes).
        assert!(text(Cursor::new(b"\x89PNG"), 4, "image/png", "a.png").is_none());
        assert!(text(Cursor::new(b"PK\x03\x04 broken"), 12, "", "a.docx").is_none());
        assert!(
            text(
                Cursor::new(b"%PDF-1.4 nonsense"),
                17,
                "application/pdf",
                "a.pdf"
            )
            .is_none()
        );
        // Long text is cut at the limit, on a character boundary.
        let long = "é".repeat(MAX_TEXT);
        let got = text(
            Cursor::new(long.as_bytes()),
            long.len() as u64,
            "text/plain",
            "l.txt",
        )
        .unwrap();
        assert!(got.len() <= MAX_TEXT && got.len() > MAX_TEXT - 4);
        assert!(got.chars().all(|c| c == 'é'));
    }
}
