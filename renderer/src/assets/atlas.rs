//! Texture atlases: rectangle packing into bounded pages ([`skyline`]), gutters made
//! by extruding edge texels, and mip chains that never mix a neighbour's texels.

pub mod skyline;

/// An RGBA8 image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGBA8 pixels, `width * height * 4` bytes.
    pub pixels: Vec<u8>,
}

impl Image {
    /// A blank (transparent black) image.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            pixels: vec![0; width as usize * height as usize * 4],
        }
    }

    /// The pixel at `(x, y)`.
    pub fn get(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Sets the pixel at `(x, y)`.
    pub fn set(&mut self, x: u32, y: u32, rgba: [u8; 4]) {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        self.pixels[i..i + 4].copy_from_slice(&rgba);
    }
}

/// One atlas page with its mip chain (level 0 first, each half the previous).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtlasImage {
    /// Mip levels.
    pub mips: Vec<Image>,
}

impl AtlasImage {
    /// Width of level 0.
    pub fn width(&self) -> u32 {
        self.mips.first().map_or(0, |m| m.width)
    }

    /// Height of level 0.
    pub fn height(&self) -> u32 {
        self.mips.first().map_or(0, |m| m.height)
    }
}

/// Where a rectangle was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Page index.
    pub page: u32,
    /// Left edge of the content (gutter excluded).
    pub x: u32,
    /// Top edge of the content (gutter excluded).
    pub y: u32,
    /// Content width.
    pub width: u32,
    /// Content height.
    pub height: u32,
}

/// Errors packing an atlas.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AtlasError {
    /// A rectangle plus its gutters does not fit on an empty page.
    #[error(
        "texture {index} ({width}x{height}) plus {padding}px gutters exceeds the {page_size}px atlas page"
    )]
    TooLarge {
        /// Index of the rectangle.
        index: usize,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// Gutter on each side.
        padding: u32,
        /// Page size.
        page_size: u32,
    },
    /// A rectangle has zero width or height.
    #[error("texture {0} has zero size")]
    Empty(usize),
    /// The page size is zero or not a power of two.
    #[error("atlas page size {0} must be a non-zero power of two")]
    BadPageSize(u32),
}

/// How well a packing used its pages. Areas include each rectangle's gutters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Pages used.
    pub pages: u32,
    /// Side of each (square) page.
    pub page_size: u32,
    /// Sum of the rectangles' areas including gutters.
    pub rect_area: u64,
    /// Sum over pages of page width × the height up to the top of the highest
    /// rectangle (the page region actually used).
    pub used_area: u64,
}

impl PackStats {
    /// Rectangle area / used page region: how tightly the packer packs.
    pub fn occupancy_used(&self) -> f64 {
        self.rect_area as f64 / self.used_area.max(1) as f64
    }

    /// Rectangle area / area of all pages: what the GPU memory holds.
    pub fn occupancy_pages(&self) -> f64 {
        let total = u64::from(self.pages) * u64::from(self.page_size) * u64::from(self.page_size);
        self.rect_area as f64 / total.max(1) as f64
    }
}

/// Packs rectangles onto as few square pages of `page_size` as the skyline packer
/// manages, leaving `padding` pixels of gutter on every side of each.
pub fn pack(
    sizes: &[(u32, u32)],
    page_size: u32,
    padding: u32,
) -> Result<Vec<Placement>, AtlasError> {
    pack_with_stats(sizes, page_size, padding).map(|(placements, _)| placements)
}

/// [`pack`], also reporting occupancy.
pub fn pack_with_stats(
    sizes: &[(u32, u32)],
    page_size: u32,
    padding: u32,
) -> Result<(Vec<Placement>, PackStats), AtlasError> {
    if page_size == 0 || !page_size.is_power_of_two() {
        return Err(AtlasError::BadPageSize(page_size));
    }
    let mut padded = Vec::with_capacity(sizes.len());
    let mut rect_area = 0u64;
    for (index, &(width, height)) in sizes.iter().enumerate() {
        if width == 0 || height == 0 {
            return Err(AtlasError::Empty(index));
        }
        let pad = |v: u32| {
            v.checked_add(padding.saturating_mul(2))
                .filter(|&v| v <= page_size)
        };
        let (Some(w), Some(h)) = (pad(width), pad(height)) else {
            return Err(AtlasError::TooLarge {
                index,
                width,
                height,
                padding,
                page_size,
            });
        };
        rect_area += u64::from(w) * u64::from(h);
        padded.push((w, h));
    }
    let (spots, pages) = skyline::pack_padded(&padded, page_size);
    let placements = spots
        .iter()
        .zip(sizes)
        .map(|(&(page, x, y), &(width, height))| Placement {
            page,
            x: x + padding,
            y: y + padding,
            width,
            height,
        })
        .collect();
    let stats = PackStats {
        pages: pages.len() as u32,
        page_size,
        rect_area,
        used_area: pages
            .iter()
            .map(|p| u64::from(page_size) * u64::from(p.used_height()))
            .sum(),
    };
    Ok((placements, stats))
}

/// A packed atlas: pages and each source image's normalized rectangle.
#[derive(Clone, Debug, PartialEq)]
pub struct Atlas {
    /// Pages, each with its mip chain.
    pub pages: Vec<AtlasImage>,
    /// Per source image: its placement.
    pub placements: Vec<Placement>,
    /// Occupancy of the packing.
    pub stats: PackStats,
}

impl Atlas {
    /// Normalized `[u0, v0, u1, v1]` of image `i` on its page.
    pub fn uv_rect(&self, i: usize) -> [f32; 4] {
        let p = self.placements[i];
        let size = self
            .pages
            .get(p.page as usize)
            .map_or(1, |pg| pg.width())
            .max(1) as f32;
        [
            p.x as f32 / size,
            p.y as f32 / size,
            (p.x + p.width) as f32 / size,
            (p.y + p.height) as f32 / size,
        ]
    }
}

/// Packs `images`, extrudes gutters and builds mip chains. Mips stop when a level
/// would let a texel mix with a neighbour's (the gutter shrinks with each level), so
/// distant sampling never bleeds.
pub fn build(images: &[Image], page_size: u32, padding: u32) -> Result<Atlas, AtlasError> {
    let sizes: Vec<(u32, u32)> = images.iter().map(|i| (i.width, i.height)).collect();
    let (placements, stats) = pack_with_stats(&sizes, page_size, padding)?;
    let page_count = placements.iter().map(|p| p.page + 1).max().unwrap_or(0);
    let mut pages: Vec<Image> = (0..page_count)
        .map(|_| Image::new(page_size, page_size))
        .collect();
    for (img, p) in images.iter().zip(&placements) {
        let page = &mut pages[p.page as usize];
        let pad = padding as i64;
        for dy in -pad..i64::from(img.height) + pad {
            for dx in -pad..i64::from(img.width) + pad {
                let sx = dx.clamp(0, i64::from(img.width) - 1) as u32;
                let sy = dy.clamp(0, i64::from(img.height) - 1) as u32;
                let tx = (i64::from(p.x) + dx) as u32;
                let ty = (i64::from(p.y) + dy) as u32;
                page.set(tx, ty, img.get(sx, sy));
            }
        }
    }
    // Level k averages 2^k texels: with gutters of `padding`, levels up to
    // log2(padding) + 1 stay inside each rectangle's own texels and gutter.
    let levels = if padding == 0 { 1 } else { padding.ilog2() + 2 };
    let pages = pages
        .into_iter()
        .map(|page| AtlasImage {
            mips: mip_chain(page, levels),
        })
        .collect();
    Ok(Atlas {
        pages,
        placements,
        stats,
    })
}

/// Like [`build`] with the smallest power-of-two page size up to `max_page_size` that
/// needs no more pages than `max_page_size` itself: small scenes get small pages
/// (less memory and fewer bytes to transfer), large ones stay within the GPU limit.
pub fn build_fitted(
    images: &[Image],
    max_page_size: u32,
    padding: u32,
) -> Result<Atlas, AtlasError> {
    let sizes: Vec<(u32, u32)> = images.iter().map(|i| (i.width, i.height)).collect();
    let (_, at_max) = pack_with_stats(&sizes, max_page_size, padding)?;
    let mut size = max_page_size;
    while size > 1 {
        let smaller = size / 2;
        match pack_with_stats(&sizes, smaller, padding) {
            Ok((_, stats)) if stats.pages <= at_max.pages => size = smaller,
            _ => break,
        }
    }
    build(images, size, padding)
}

/// Box-filtered mip chain of up to `levels` levels.
pub fn mip_chain(base: Image, levels: u32) -> Vec<Image> {
    let mut mips = vec![base];
    while (mips.len() as u32) < levels {
        let Some(prev) = mips.last() else { break };
        if prev.width < 2 || prev.height < 2 {
            break;
        }
        let (w, h) = (prev.width / 2, prev.height / 2);
        let mut next = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0u32; 4];
                for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = prev.get(x * 2 + ox, y * 2 + oy);
                    for c in 0..4 {
                        acc[c] += u32::from(p[c]);
                    }
                }
                next.set(x, y, acc.map(|v| ((v + 2) / 4) as u8));
            }
        }
        mips.push(next);
    }
    mips
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: &Placement, b: &Placement, pad: u32) -> bool {
        a.page == b.page
            && a.x < b.x + b.width + 2 * pad
            && b.x < a.x + a.width + 2 * pad
            && a.y < b.y + b.height + 2 * pad
            && b.y < a.y + a.height + 2 * pad
    }

    #[test]
    fn packed_rectangles_never_overlap_and_stay_inside() {
        let mut rng = crate::rng::Rng::new(11);
        let sizes: Vec<(u32, u32)> = (0..300)
            .map(|_| (1 + rng.below(120), 1 + rng.below(120)))
            .collect();
        let pad = 4;
        let placed = pack(&sizes, 512, pad).unwrap_or_default();
        assert_eq!(placed.len(), sizes.len());
        for (i, a) in placed.iter().enumerate() {
            assert!(a.x >= pad && a.y >= pad);
            assert!(a.x + a.width + pad <= 512 && a.y + a.height + pad <= 512);
            for b in &placed[i + 1..] {
                assert!(!overlaps(a, b, pad), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert_eq!(pack(&[(0, 4)], 64, 2), Err(AtlasError::Empty(0)));
        assert!(matches!(
            pack(&[(62, 4)], 64, 2),
            Err(AtlasError::TooLarge { .. })
        ));
        assert_eq!(pack(&[(4, 4)], 100, 2), Err(AtlasError::BadPageSize(100)));
    }

    #[test]
    fn gutters_copy_edges_and_mips_do_not_bleed() {
        let mut red = Image::new(8, 8);
        let mut blue = Image::new(8, 8);
        for y in 0..8 {
            for x in 0..8 {
                red.set(x, y, [255, 0, 0, 255]);
                blue.set(x, y, [0, 0, 255, 255]);
            }
        }
        let atlas = build(&[red, blue], 64, 4).unwrap_or_else(|e| panic!("{e}"));
        for (i, colour) in [(0, [255, 0, 0, 255]), (1, [0, 0, 255, 255])] {
            let p = atlas.placements[i];
            for (level, mip) in atlas.pages[0].mips.iter().enumerate() {
                // Every texel a bilinear sample inside the rect may touch at this level.
                let s = 1 << level;
                let (x0, y0) = ((p.x - 1) / s, (p.y - 1) / s);
                let (x1, y1) = ((p.x + p.width) / s, (p.y + p.height) / s);
                for y in y0..=y1.min(mip.height - 1) {
                    for x in x0..=x1.min(mip.width - 1) {
                        assert_eq!(mip.get(x, y), colour, "image {i} level {level} at {x},{y}");
                    }
                }
            }
        }
    }
}
