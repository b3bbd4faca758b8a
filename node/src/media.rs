//! Photos as the node keeps them: a **thumbnail** for every PNG, JPEG, WebP or GIF uploaded
//! (the `image` crate, pure Rust), and JPEG originals **without their metadata**.
//!
//! * A thumbnail fits in [`THUMB_EDGE`]×[`THUMB_EDGE`] pixels, turned upright as the photo's
//!   EXIF orientation says, and re-encoded (JPEG, or PNG when it has transparency): it
//!   carries no metadata at all. Decoding is bounded ([`MAX_EDGE`] pixels a side,
//!   [`MAX_DECODE_BYTES`] of memory), so a crafted "decompression bomb" is refused instead of
//!   filling the node's memory; an image that cannot be decoded simply gets no thumbnail.
//! * A JPEG original loses the segments that say where and with what it was taken — EXIF
//!   (GPS position, camera, dates), XMP, IPTC, comments — before anyone else can read it.
//!   Its pixels are not touched (no re-encoding): the segments are dropped and the
//!   compressed image copied as it is. Only the orientation is kept (a minimal EXIF block
//!   with that one tag), so phones' portrait photos still show upright. Colour profiles
//!   (ICC, APP2) and Adobe's colour transform (APP14) stay: they are how the image looks.
//!   PNG, WebP and GIF originals are kept as uploaded (cameras and phones write JPEG).

use std::io::{self, BufReader, Read, Write};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// The longest side of a thumbnail, in pixels.
pub const THUMB_EDGE: u32 = 480;

/// The longest side of an image the node decodes to make a thumbnail.
pub const MAX_EDGE: u32 = 16_384;

/// The most memory one decoding may take.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Whether a thumbnail is made for files of this media type.
pub fn is_photo(media_type: &str) -> bool {
    matches!(
        media_type,
        "image/png" | "image/jpeg" | "image/webp" | "image/gif"
    )
}

/// A thumbnail of the image `from` holds, and its media type; `None` if it is not an image
/// this node decodes, or is larger than the limits.
pub fn thumbnail(from: impl Read + io::Seek) -> Option<(Vec<u8>, &'static str)> {
    let mut reader = ImageReader::new(BufReader::new(from))
        .with_guessed_format()
        .ok()?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)
    ) {
        return None;
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().ok()?;
    let mut image = DynamicImage::from_decoder(decoder).ok()?;
    image.apply_orientation(orientation);
    let small = if image.width().max(image.height()) > THUMB_EDGE {
        image.thumbnail(THUMB_EDGE, THUMB_EDGE)
    } else {
        image
    };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        small
            .write_to(&mut io::Cursor::new(&mut out), ImageFormat::Png)
            .ok()?;
        Some((out, "image/png"))
    } else {
        let rgb = small.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82)
            .encode_image(&rgb)
            .ok()?;
        Some((out, "image/jpeg"))
    }
}

/// The markers of a JPEG segment dropped from originals: APP1 (EXIF, XMP), APP12, APP13
/// (IPTC), COM.
fn is_metadata(marker: u8) -> bool {
    matches!(marker, 0xE1 | 0xEC | 0xED | 0xFE)
}

/// Reads a JPEG's segments up to its first scan and returns them without the metadata ones
/// (with a minimal EXIF block for a non-default orientation); `from` is then positioned at
/// the scan, so the result followed by the rest of `from` is the stripped file. `None` if
/// `from` is not a JPEG or has no metadata to drop (keep the original).
pub fn strip_jpeg_head(from: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut byte = [0u8; 2];
    from.read_exact(&mut byte)?;
    if byte != [0xFF, 0xD8] {
        return Ok(None);
    }
    let mut kept = vec![0xFF, 0xD8];
    let mut dropped = false;
    let mut orientation = 1u16;
    loop {
        from.read_exact(&mut byte)?;
        if byte[0] != 0xFF {
            return Ok(None);
        }
        let marker = byte[1];
        if marker == 0xD8 || marker == 0xD9 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            // No length: not expected before the scan; leave such a file alone.
            return Ok(None);
        }
        from.read_exact(&mut byte)?;
        let len = u16::from_be_bytes(byte) as usize;
        if len < 2 {
            return Ok(None);
        }
        let mut body = vec![0u8; len - 2];
        from.read_exact(&mut body)?;
        if is_metadata(marker) {
            let o = if marker == 0xE1 {
                exif_orientation(&body)
            } else {
                None
            };
            if let Some(o) = o {
                orientation = o;
            }
            // The block this function writes itself is not metadata to drop.
            let ours = o.is_some_and(|o| body[..] == orientation_block(o)[4..]);
            dropped |= !ours;
        } else {
            if marker == 0xDA {
                // The first scan: what follows is compressed data, copied as it is. The
                // orientation goes right after the segments kept so far (after JFIF's
                // APP0, which must come first).
                if !dropped {
                    return Ok(None);
                }
                if orientation != 1 {
                    let at = jfif_end(&kept);
                    let block = orientation_block(orientation);
                    kept.splice(at..at, block);
                }
                kept.extend_from_slice(&[0xFF, marker]);
                kept.extend_from_slice(&(len as u16).to_be_bytes());
                kept.extend_from_slice(&body);
                return Ok(Some(kept));
            }
            kept.extend_from_slice(&[0xFF, marker]);
            kept.extend_from_slice(&(len as u16).to_be_bytes());
            kept.extend_from_slice(&body);
        }
    }
}

/// Where the segments after SOI and an APP0 (JFIF) start in `kept`.
fn jfif_end(kept: &[u8]) -> usize {
    if kept.len() >= 6 && kept[2] == 0xFF && kept[3] == 0xE0 {
        4 + u16::from_be_bytes([kept[4], kept[5]]) as usize
    } else {
        2
    }
}

/// The orientation tag (0x0112) of an APP1 EXIF body, if it has one from 2 to 8.
fn exif_orientation(body: &[u8]) -> Option<u16> {
    let tiff = body.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(i..i + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    (0..entries.min(512)).find_map(|n| {
        let e = ifd + 2 + n * 12;
        (u16_at(e)? == 0x0112)
            .then(|| u16_at(e + 8))
            .flatten()
            .filter(|o| (2..=8).contains(o))
    })
}

/// An APP1 segment holding only an EXIF orientation tag.
fn orientation_block(orientation: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xE1, 0, 34];
    b.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08");
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&0x0112u16.to_be_bytes());
    b.extend_from_slice(&3u16.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&orientation.to_be_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&0u32.to_be_bytes());
    b
}

/// Writes a JPEG as [`strip_jpeg_head`] would keep it (for tests and tools).
pub fn strip_jpeg(mut from: impl Read, mut to: impl Write) -> io::Result<bool> {
    match strip_jpeg_head(&mut from)? {
        Some(head) => {
            to.write_all(&head)?;
            io::copy(&mut from, &mut to)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small JPEG made here, with an EXIF block (orientation 6, a GPS tag) and a comment
    /// inserted after its JFIF header.
    fn photo_with_exif() -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(64, 32, |x, y| image::Rgb([x as u8 * 4, y as u8 * 8, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        // EXIF: little-endian, IFD0 with orientation = 6 and GPS IFD pointer (0x8825).
        let mut tiff = b"II\x2a\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&[6, 0, 0, 0]);
        tiff.extend_from_slice(&0x8825u16.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(b"GPS 48.8566N 2.3522E");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut seg = vec![0xFF, 0xE1];
        seg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        seg.extend_from_slice(&app1);
        let comment = b"taken at home";
        seg.extend_from_slice(&[0xFF, 0xFE]);
        seg.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
        seg.extend_from_slice(comment);
        let at = jfif_end(&jpeg);
        jpeg.splice(at..at, seg);
        jpeg
    }

    #[test]
    fn a_jpeg_loses_its_metadata_but_keeps_its_pixels_and_orientation() {
        let original = photo_with_exif();
        assert!(original.windows(4).any(|w| w == b"GPS "));
        let mut stripped = Vec::new();
        assert!(strip_jpeg(&original[..], &mut stripped).unwrap());
        assert!(!stripped.windows(4).any(|w| w == b"GPS "), "no position");
        assert!(
            !stripped.windows(13).any(|w| w == b"taken at home"),
            "no comment"
        );
        // The same pixels, and still turned as the camera said.
        let a = image::load_from_memory(&original).unwrap().to_rgb8();
        let b = image::load_from_memory(&stripped).unwrap().to_rgb8();
        assert_eq!(a, b);
        let mut decoder = ImageReader::new(io::Cursor::new(&stripped))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(
            decoder.orientation().unwrap(),
            image::metadata::Orientation::Rotate90
        );
        // Stripped again: nothing more to drop.
        assert!(!strip_jpeg(&stripped[..], &mut Vec::new()).unwrap());
        // Not a JPEG: left alone.
        assert!(!strip_jpeg(&b"\x89PNG\r\n"[..], &mut Vec::new()).unwrap());
    }

    #[test]
    fn a_thumbnail_is_small_upright_and_bombs_are_refused() {
        let original = photo_with_exif();
        let (thumb, kind) = thumbnail(io::Cursor::new(&original)).unwrap();
        assert_eq!(kind, "image/jpeg");
        let t = image::load_from_memory(&thumb).unwrap();
        // 64×32 turned a quarter: 32×64.
        assert_eq!((t.width(), t.height()), (32, 64));
        assert!(!thumb.windows(4).any(|w| w == b"Exif"));
        // A large photo comes down to the thumbnail's size.
        let big = image::RgbaImage::from_pixel(2000, 1000, image::Rgba([1, 2, 3, 128]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(big)
            .write_to(&mut io::Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let (thumb, kind) = thumbnail(io::Cursor::new(&png)).unwrap();
        assert_eq!(kind, "image/png", "transparency kept");
        let t = image::load_from_memory(&thumb).unwrap();
        assert_eq!((t.width(), t.height()), (THUMB_EDGE, THUMB_EDGE / 2));
        // A PNG header claiming 100,000 × 100,000 pixels: refused, not decoded.
        let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        assert!(thumbnail(io::Cursor::new(&bomb)).is_none());
        assert!(thumbnail(io::Cursor::new(b"not an image at all")).is_none());
    }
}
