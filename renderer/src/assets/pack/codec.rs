//! Byte transforms that make a pack compress well under the gzip or brotli the site is
//! served with (the first route's budget is counted in gzip bytes). Each is a few
//! dozen lines with no dependency; a general codec crate would cost the wasm bundle far
//! more than the bytes it saves.
//!
//! - **Streams** (vertices, indices): each fixed-width component becomes the wrapping
//!   difference from the previous element's, split into byte planes (all low bytes,
//!   then all high bytes). Lossless, same length. Measured on the standard pack:
//!   vertices 15.6 → 13.4 KB gzip, indices 14.3 → 10.3 KB.
//! - **Atlas pages** ([`encode_ycocg420`]): luma at full resolution, the two chroma
//!   planes (YCoCg) at half resolution each way, alpha (the glow mask) exact, every
//!   plane Paeth-predicted as PNG does. Lossy in chroma only, as JPEG's 4:2:0 is:
//!   luma is within 1 step of the source and colour within a few steps except across
//!   sharp colour edges. Measured on the standard 256² atlas: 35.0 → 15.6 KB gzip.

/// Encodes `bytes` (elements of `stride` bytes made of `width`-byte little-endian
/// components) as per-component deltas in byte planes. Same length.
pub fn encode_stream(bytes: &[u8], stride: usize, width: usize) -> Vec<u8> {
    transform_stream(bytes, stride, width, true)
}

/// Inverts [`encode_stream`].
pub fn decode_stream(bytes: &[u8], stride: usize, width: usize) -> Vec<u8> {
    transform_stream(bytes, stride, width, false)
}

fn transform_stream(bytes: &[u8], stride: usize, width: usize, encode: bool) -> Vec<u8> {
    let mut out = vec![0u8; bytes.len()];
    if stride == 0
        || width == 0
        || !stride.is_multiple_of(width)
        || !bytes.len().is_multiple_of(stride)
    {
        out.copy_from_slice(bytes);
        return out;
    }
    let n = bytes.len() / stride;
    let components = stride / width;
    let mask = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let read = |src: &[u8], at: usize| -> u64 {
        src[at..at + width]
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    for c in 0..components {
        // Plane p of component c holds byte p of each element's value.
        let plane = |p: usize, i: usize| (c * width + p) * n + i;
        let mut previous = 0u64;
        for i in 0..n {
            let element = i * stride + c * width;
            if encode {
                let value = read(bytes, element);
                let delta = value.wrapping_sub(previous) & mask;
                previous = value;
                for p in 0..width {
                    out[plane(p, i)] = (delta >> (8 * p)) as u8;
                }
            } else {
                let delta = (0..width).fold(0u64, |acc, p| {
                    acc | u64::from(bytes[plane(p, i)]) << (8 * p)
                });
                let value = previous.wrapping_add(delta) & mask;
                previous = value;
                for p in 0..width {
                    out[element + p] = (value >> (8 * p)) as u8;
                }
            }
        }
    }
    out
}

/// Bytes of a [`encode_ycocg420`] page of `width` × `height`.
pub fn ycocg420_len(width: u32, height: u32) -> u64 {
    let (w, h) = (u64::from(width), u64::from(height));
    2 * w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Paeth prediction of a `w` × `h` plane, in place: forward stores residuals, inverse
/// restores values.
fn paeth_plane(plane: &mut [u8], w: usize, h: usize, forward: bool) {
    let at = |x: usize, y: usize| y * w + x;
    let predict = |p: &[u8], x: usize, y: usize| {
        let a = if x > 0 { p[at(x - 1, y)] } else { 0 };
        let b = if y > 0 { p[at(x, y - 1)] } else { 0 };
        let c = if x > 0 && y > 0 {
            p[at(x - 1, y - 1)]
        } else {
            0
        };
        paeth(a, b, c)
    };
    if forward {
        // Back to front, so every prediction reads original values.
        for y in (0..h).rev() {
            for x in (0..w).rev() {
                let predicted = predict(plane, x, y);
                plane[at(x, y)] = plane[at(x, y)].wrapping_sub(predicted);
            }
        }
    } else {
        for y in 0..h {
            for x in 0..w {
                let predicted = predict(plane, x, y);
                plane[at(x, y)] = plane[at(x, y)].wrapping_add(predicted);
            }
        }
    }
}

/// Encodes an RGBA8 image as Y, Co/2, Cg/2 (4:2:0) and A planes, each Paeth-predicted.
/// `rgba` must hold `width` × `height` pixels.
pub fn encode_ycocg420(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let px = |x: usize, y: usize| {
        let i = 4 * (y.min(h - 1) * w + x.min(w - 1));
        [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]].map(i32::from)
    };
    let mut y_plane = vec![0u8; w * h];
    let mut a_plane = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b, a] = px(x, y);
            y_plane[y * w + x] = ((r + 2 * g + b + 2) >> 2) as u8;
            a_plane[y * w + x] = a as u8;
        }
    }
    let mut co = vec![0u8; cw * ch];
    let mut cg = vec![0u8; cw * ch];
    for y in 0..ch {
        for x in 0..cw {
            let (mut sum_co, mut sum_cg) = (0, 0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let [r, g, b, _] = px(2 * x + dx, 2 * y + dy);
                sum_co += r - b;
                sum_cg += 2 * g - r - b;
            }
            // Co = R - B in -255..255 and Cg = 2G - R - B in -510..510, averaged over
            // the 2x2 block, halved and quartered to fit a byte.
            co[y * cw + x] = ((sum_co + 4).div_euclid(8) + 128).clamp(0, 255) as u8;
            cg[y * cw + x] = ((sum_cg + 8).div_euclid(16) + 128).clamp(0, 255) as u8;
        }
    }
    paeth_plane(&mut y_plane, w, h, true);
    paeth_plane(&mut co, cw, ch, true);
    paeth_plane(&mut cg, cw, ch, true);
    paeth_plane(&mut a_plane, w, h, true);
    [y_plane, co, cg, a_plane].concat()
}

/// Decodes [`encode_ycocg420`]; `None` when `data` is not of [`ycocg420_len`].
pub fn decode_ycocg420(data: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
    if data.len() as u64 != ycocg420_len(width, height) {
        return None;
    }
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut planes = data.to_vec();
    let (y_plane, rest) = planes.split_at_mut(w * h);
    let (co, rest) = rest.split_at_mut(cw * ch);
    let (cg, a_plane) = rest.split_at_mut(cw * ch);
    paeth_plane(y_plane, w, h, false);
    paeth_plane(co, cw, ch, false);
    paeth_plane(cg, cw, ch, false);
    paeth_plane(a_plane, w, h, false);
    let mut out = vec![0u8; 4 * w * h];
    for y in 0..h {
        for x in 0..w {
            let c = (y / 2) * cw + x / 2;
            let luma = i32::from(y_plane[y * w + x]);
            let half_co = i32::from(co[c]) - 128;
            let quarter_cg = i32::from(cg[c]) - 128;
            // Inverse of Y = (R + 2G + B) / 4, Co = R - B, Cg = 2G - R - B:
            // G = Y + Cg/4, R = Y - Cg/4 + Co/2, B = Y - Cg/4 - Co/2.
            let g = luma + quarter_cg;
            let r = luma - quarter_cg + half_co;
            let b = luma - quarter_cg - half_co;
            let i = 4 * (y * w + x);
            out[i] = r.clamp(0, 255) as u8;
            out[i + 1] = g.clamp(0, 255) as u8;
            out[i + 2] = b.clamp(0, 255) as u8;
            out[i + 3] = a_plane[y * w + x];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip_and_keep_their_length() {
        let indices: Vec<u32> = [0u32, 1, 2, 2, 1, 3, 70_000, 69_999, 4, u32::MAX, 0]
            .into_iter()
            .collect();
        let bytes: &[u8] = bytemuck::cast_slice(&indices);
        let encoded = encode_stream(bytes, 4, 4);
        assert_eq!(encoded.len(), bytes.len());
        assert_ne!(encoded, bytes);
        assert_eq!(decode_stream(&encoded, 4, 4), bytes);
        // Interleaved 2-byte components (vertices).
        let vertices: Vec<u8> = (0..16 * 37).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = encode_stream(&vertices, 16, 2);
        assert_eq!(decode_stream(&encoded, 16, 2), vertices);
        // Coherent data becomes small numbers: mostly zero high bytes.
        let ramp: Vec<u32> = (1000..2000).collect();
        let encoded = encode_stream(bytemuck::cast_slice(&ramp), 4, 4);
        assert!(encoded[1000..].iter().filter(|&&b| b != 0).count() <= 3);
    }

    #[test]
    fn malformed_stream_shapes_pass_through() {
        let odd = [1u8, 2, 3];
        assert_eq!(encode_stream(&odd, 4, 4), odd);
        assert_eq!(decode_stream(&odd, 16, 3), odd);
    }

    fn test_image(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|y| {
                (0..w).flat_map(move |x| {
                    // Smooth colour, a sharp glow mask, some texture.
                    let n = ((x * 31 + y * 17) % 7) as u8;
                    [
                        (x * 255 / w.max(1)) as u8,
                        (y * 255 / h.max(1)) as u8 / 2 + n,
                        120 + n,
                        if (x / 4 + y / 4) % 3 == 0 { 255 } else { 0 },
                    ]
                })
            })
            .collect()
    }

    #[test]
    fn atlas_pages_round_trip_with_exact_alpha_and_close_colour() {
        for (w, h) in [(64, 32), (7, 5), (1, 1), (256, 256)] {
            let rgba = test_image(w, h);
            let encoded = encode_ycocg420(&rgba, w, h);
            assert_eq!(encoded.len() as u64, ycocg420_len(w, h));
            let decoded = decode_ycocg420(&encoded, w, h).unwrap_or_default();
            assert_eq!(decoded.len(), rgba.len(), "{w}x{h}");
            let mut worst = 0u8;
            let mut total = 0u64;
            for (a, b) in rgba.chunks_exact(4).zip(decoded.chunks_exact(4)) {
                assert_eq!(a[3], b[3], "alpha is exact");
                for c in 0..3 {
                    let d = a[c].abs_diff(b[c]);
                    worst = worst.max(d);
                    total += u64::from(d);
                }
            }
            let mean = total as f64 / (3 * w * h) as f64;
            // Colour that changes slowly from pixel to pixel (any real texture at 64 px
            // and up) survives 4:2:0 within a few steps on average; the worst pixels
            // sit on the hard edges of the test pattern. Tiny images are all edges.
            if w >= 64 {
                assert!(mean < 3.0, "{w}x{h}: mean error {mean}");
                assert!(worst < 40, "{w}x{h}: worst error {worst}");
            }
        }
    }

    #[test]
    fn grey_pages_decode_exactly() {
        let grey: Vec<u8> = (0..16 * 16)
            .flat_map(|i| [i as u8, i as u8, i as u8, 200])
            .collect();
        let decoded = decode_ycocg420(&encode_ycocg420(&grey, 16, 16), 16, 16);
        assert_eq!(decoded.as_deref(), Some(&grey[..]));
    }

    #[test]
    fn a_truncated_page_is_refused() {
        let rgba = test_image(8, 8);
        let encoded = encode_ycocg420(&rgba, 8, 8);
        assert!(decode_ycocg420(&encoded[1..], 8, 8).is_none());
    }
}
