//! A short video made by the demo itself, with no codec library: H.264 (Baseline profile)
//! whose every macroblock is `I_PCM` — the samples stored as they are, which the standard
//! allows and every decoder plays — in an MP4 file. Large for its length (a 320×240 frame
//! is 115 KB), but real: a browser plays it from the node with range requests like any
//! video an employee uploads.

/// Writes bits, most significant first.
struct Bits {
    bytes: Vec<u8>,
    bit: u8,
}

impl Bits {
    fn new() -> Bits {
        Bits {
            bytes: Vec::new(),
            bit: 0,
        }
    }

    fn put(&mut self, value: u32, count: u8) {
        for i in (0..count).rev() {
            if self.bit == 0 {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 0x80 >> self.bit;
            }
            self.bit = (self.bit + 1) % 8;
        }
    }

    /// Exp-Golomb, unsigned.
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros() as u8;
        self.put(0, len - 1);
        self.put(x, len);
    }

    /// Exp-Golomb, signed.
    fn se(&mut self, v: i32) {
        let m = if v > 0 {
            2 * v as u32 - 1
        } else {
            (-2 * v) as u32
        };
        self.ue(m);
    }

    fn align_zero(&mut self) {
        while self.bit != 0 {
            self.put(0, 1);
        }
    }

    /// The RBSP trailing bits.
    fn trail(mut self) -> Vec<u8> {
        self.put(1, 1);
        self.align_zero();
        self.bytes
    }
}

/// A NAL unit's payload with emulation prevention bytes, behind its header byte.
fn nal(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = vec![header];
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

fn sps(mbs_w: u32, mbs_h: u32) -> Vec<u8> {
    let mut b = Bits::new();
    b.put(66, 8); // profile_idc: Baseline
    b.put(0b1100_0000, 8); // constraint_set0 and 1
    b.put(30, 8); // level 3.0
    b.ue(0); // seq_parameter_set_id
    b.ue(0); // log2_max_frame_num_minus4
    b.ue(2); // pic_order_cnt_type 2: order is decoding order
    b.ue(0); // max_num_ref_frames
    b.put(0, 1); // gaps_in_frame_num_value_allowed_flag
    b.ue(mbs_w - 1);
    b.ue(mbs_h - 1);
    b.put(1, 1); // frame_mbs_only_flag
    b.put(1, 1); // direct_8x8_inference_flag
    b.put(0, 1); // frame_cropping_flag
    b.put(0, 1); // vui_parameters_present_flag
    nal(0x67, &b.trail())
}

fn pps() -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // pic_parameter_set_id
    b.ue(0); // seq_parameter_set_id
    b.put(0, 1); // entropy_coding_mode_flag: CAVLC
    b.put(0, 1); // bottom_field_pic_order_in_frame_present_flag
    b.ue(0); // num_slice_groups_minus1
    b.ue(0); // num_ref_idx_l0_default_active_minus1
    b.ue(0); // num_ref_idx_l1_default_active_minus1
    b.put(0, 1); // weighted_pred_flag
    b.put(0, 2); // weighted_bipred_idc
    b.se(0); // pic_init_qp_minus26
    b.se(0); // pic_init_qs_minus26
    b.se(0); // chroma_qp_index_offset
    b.put(1, 1); // deblocking_filter_control_present_flag
    b.put(0, 1); // constrained_intra_pred_flag
    b.put(0, 1); // redundant_pic_cnt_present_flag
    nal(0x68, &b.trail())
}

/// One IDR picture of `pixel(x, y) -> (r, g, b)`, every macroblock I_PCM.
fn picture(mbs_w: u32, mbs_h: u32, idr_id: u32, pixel: &dyn Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // first_mb_in_slice
    b.ue(7); // slice_type: I (all slices)
    b.ue(0); // pic_parameter_set_id
    b.put(0, 4); // frame_num (log2_max_frame_num = 4)
    b.ue(idr_id); // idr_pic_id
    b.put(0, 1); // no_output_of_prior_pics_flag
    b.put(0, 1); // long_term_reference_flag
    b.se(0); // slice_qp_delta
    b.ue(1); // disable_deblocking_filter_idc: off
    // Samples are kept from 1 to 254: no 0x0000 run inside, fewer emulation bytes.
    let clamp = |v: f32| v.round().clamp(1.0, 254.0) as u32;
    for my in 0..mbs_h {
        for mx in 0..mbs_w {
            b.ue(25); // mb_type: I_PCM
            b.align_zero();
            let mut cb = [[0f32; 8]; 8];
            let mut cr = [[0f32; 8]; 8];
            for y in 0..16 {
                for x in 0..16 {
                    let [r, g, bl] = pixel(mx * 16 + x, my * 16 + y);
                    let (r, g, bl) = (f32::from(r), f32::from(g), f32::from(bl));
                    let luma = 16.0 + 0.257 * r + 0.504 * g + 0.098 * bl;
                    b.put(clamp(luma), 8);
                    cb[(y / 2) as usize][(x / 2) as usize] +=
                        (128.0 - 0.148 * r - 0.291 * g + 0.439 * bl) / 4.0;
                    cr[(y / 2) as usize][(x / 2) as usize] +=
                        (128.0 + 0.439 * r - 0.368 * g - 0.071 * bl) / 4.0;
                }
            }
            for plane in [cb, cr] {
                for row in plane {
                    for v in row {
                        b.put(clamp(v), 8);
                    }
                }
            }
        }
    }
    nal(0x65, &b.trail())
}

fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut out = ((content.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(content);
    out
}

fn full(kind: &[u8; 4], version_flags: u32, content: &[u8]) -> Vec<u8> {
    let mut c = version_flags.to_be_bytes().to_vec();
    c.extend_from_slice(content);
    boxed(kind, &c)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The identity matrix of `mvhd` and `tkhd`.
fn matrix() -> Vec<u8> {
    let mut m = Vec::new();
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m
}

/// An MP4 video of `frames` frames at `fps`, `width`×`height` (multiples of 16), each frame
/// drawn by `pixel(frame, x, y)`.
pub(crate) fn mp4(
    width: u32,
    height: u32,
    frames: u32,
    fps: u32,
    pixel: impl Fn(u32, u32, u32) -> [u8; 3],
) -> Vec<u8> {
    let (mbs_w, mbs_h) = (width / 16, height / 16);
    let (sps, pps) = (sps(mbs_w, mbs_h), pps());
    // Samples: each picture as a length-prefixed NAL unit.
    let samples: Vec<Vec<u8>> = (0..frames)
        .map(|f| {
            let p = picture(mbs_w, mbs_h, f % 2, &|x, y| pixel(f, x, y));
            let mut s = (p.len() as u32).to_be_bytes().to_vec();
            s.extend_from_slice(&p);
            s
        })
        .collect();
    let timescale = fps * 1000;
    let duration = frames * 1000;
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
    let mvhd = full(
        b"mvhd",
        0,
        &cat(&[
            0u32.to_be_bytes().to_vec(),
            0u32.to_be_bytes().to_vec(),
            timescale.to_be_bytes().to_vec(),
            duration.to_be_bytes().to_vec(),
            0x0001_0000u32.to_be_bytes().to_vec(),
            0x0100u16.to_be_bytes().to_vec(),
            vec![0; 10],
            matrix(),
            vec![0; 24],
            2u32.to_be_bytes().to_vec(),
        ]),
    );
    let tkhd = full(
        b"tkhd",
        3,
        &cat(&[
            0u32.to_be_bytes().to_vec(),
            0u32.to_be_bytes().to_vec(),
            1u32.to_be_bytes().to_vec(),
            0u32.to_be_bytes().to_vec(),
            duration.to_be_bytes().to_vec(),
            vec![0; 8],
            0u16.to_be_bytes().to_vec(),
            0u16.to_be_bytes().to_vec(),
            0u16.to_be_bytes().to_vec(),
            0u16.to_be_bytes().to_vec(),
            matrix(),
            (width << 16).to_be_bytes().to_vec(),
            (height << 16).to_be_bytes().to_vec(),
        ]),
    );
    let mdhd = full(
        b"mdhd",
        0,
        &cat(&[
            0u32.to_be_bytes().to_vec(),
            0u32.to_be_bytes().to_vec(),
            timescale.to_be_bytes().to_vec(),
            duration.to_be_bytes().to_vec(),
            0x55c4u16.to_be_bytes().to_vec(),
            0u16.to_be_bytes().to_vec(),
        ]),
    );
    let hdlr = full(
        b"hdlr",
        0,
        &cat(&[
            vec![0; 4],
            b"vide".to_vec(),
            vec![0; 12],
            b"Weft demo\0".to_vec(),
        ]),
    );
    let vmhd = full(b"vmhd", 1, &[0; 8]);
    let dref = full(
        b"dref",
        0,
        &cat(&[1u32.to_be_bytes().to_vec(), full(b"url ", 1, &[])]),
    );
    let dinf = boxed(b"dinf", &dref);
    let avcc = boxed(
        b"avcC",
        &cat(&[
            vec![1, sps[1], sps[2], sps[3], 0xFF, 0xE1],
            (sps.len() as u16).to_be_bytes().to_vec(),
            sps.clone(),
            vec![1],
            (pps.len() as u16).to_be_bytes().to_vec(),
            pps.clone(),
        ]),
    );
    let avc1 = boxed(
        b"avc1",
        &cat(&[
            vec![0; 6],
            1u16.to_be_bytes().to_vec(),
            vec![0; 16],
            (width as u16).to_be_bytes().to_vec(),
            (height as u16).to_be_bytes().to_vec(),
            0x0048_0000u32.to_be_bytes().to_vec(),
            0x0048_0000u32.to_be_bytes().to_vec(),
            0u32.to_be_bytes().to_vec(),
            1u16.to_be_bytes().to_vec(),
            vec![0; 32],
            0x0018u16.to_be_bytes().to_vec(),
            0xFFFFu16.to_be_bytes().to_vec(),
            avcc,
        ]),
    );
    let stsd = full(b"stsd", 0, &cat(&[1u32.to_be_bytes().to_vec(), avc1]));
    let stts = full(
        b"stts",
        0,
        &cat(&[
            1u32.to_be_bytes().to_vec(),
            frames.to_be_bytes().to_vec(),
            1000u32.to_be_bytes().to_vec(),
        ]),
    );
    let stsc = full(
        b"stsc",
        0,
        &cat(&[
            1u32.to_be_bytes().to_vec(),
            1u32.to_be_bytes().to_vec(),
            frames.to_be_bytes().to_vec(),
            1u32.to_be_bytes().to_vec(),
        ]),
    );
    let mut sizes = cat(&[0u32.to_be_bytes().to_vec(), frames.to_be_bytes().to_vec()]);
    for s in &samples {
        sizes.extend_from_slice(&(s.len() as u32).to_be_bytes());
    }
    let stsz = full(b"stsz", 0, &sizes);
    // The chunk offset depends on the size of `moov`, which holds it: computed with a
    // placeholder first (the offset's size does not change).
    let build = |offset: u32| {
        let stco = full(
            b"stco",
            0,
            &cat(&[1u32.to_be_bytes().to_vec(), offset.to_be_bytes().to_vec()]),
        );
        let stbl = boxed(
            b"stbl",
            &cat(&[stsd.clone(), stts.clone(), stsc.clone(), stsz.clone(), stco]),
        );
        let minf = boxed(b"minf", &cat(&[vmhd.clone(), dinf.clone(), stbl]));
        let mdia = boxed(b"mdia", &cat(&[mdhd.clone(), hdlr.clone(), minf]));
        let trak = boxed(b"trak", &cat(&[tkhd.clone(), mdia]));
        boxed(b"moov", &cat(&[mvhd.clone(), trak]))
    };
    let moov_len = build(0).len();
    let offset = (ftyp.len() + moov_len + 8) as u32;
    let moov = build(offset);
    let mdat = boxed(b"mdat", &samples.concat());
    cat(&[ftyp, moov, mdat])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_video_is_an_mp4_of_the_frames_asked() {
        let v = mp4(64, 48, 3, 10, |f, x, y| {
            [(x * 4) as u8, (y * 5) as u8, (f * 80) as u8]
        });
        assert_eq!(&v[4..8], b"ftyp");
        let moov_at = u32::from_be_bytes(v[0..4].try_into().unwrap()) as usize;
        assert_eq!(&v[moov_at + 4..moov_at + 8], b"moov");
        let moov_len = u32::from_be_bytes(v[moov_at..moov_at + 4].try_into().unwrap()) as usize;
        let mdat_at = moov_at + moov_len;
        assert_eq!(&v[mdat_at + 4..mdat_at + 8], b"mdat");
        // Three samples, each a length-prefixed IDR NAL unit of 12 I_PCM macroblocks.
        let mut at = mdat_at + 8;
        for _ in 0..3 {
            let len = u32::from_be_bytes(v[at..at + 4].try_into().unwrap()) as usize;
            assert_eq!(v[at + 4], 0x65);
            assert!(len > 12 * 384, "{len}");
            at += 4 + len;
        }
        assert_eq!(at, v.len());
        // The Exp-Golomb codes are the standard's.
        let mut b = Bits::new();
        b.ue(0);
        b.ue(3);
        b.se(-1);
        assert_eq!(b.trail(), vec![0b1001_0001, 0b1100_0000]);
    }
}
