//! `cargo xtask flip REFERENCE TEST [--max-mean X] [--diff OUT.png]`: the perceptual
//! difference of two PNGs with NVIDIA's ꟻLIP (the `nv-flip` crate, as wgpu's image
//! tests use it). Prints `{"mean":…,"p95":…,"max":…,"width":…,"height":…}` and, with
//! `--max-mean`, fails when the mean error is above it. The browser parity test runs
//! it on the frames WebGPU, WebGL2 and native lavapipe draw of the same scene.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What `flip` was asked.
#[derive(Debug)]
struct Options {
    reference: PathBuf,
    test: PathBuf,
    max_mean: Option<f32>,
    diff: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options> {
    let usage = "usage: cargo xtask flip REFERENCE.png TEST.png [--max-mean X] [--diff OUT.png]";
    let mut files = Vec::new();
    let mut max_mean = None;
    let mut diff = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--max-mean" => {
                let v: f32 = it
                    .next()
                    .context("--max-mean needs a number")?
                    .parse()
                    .context("--max-mean needs a number")?;
                if !(0.0..=1.0).contains(&v) {
                    bail!("--max-mean must be between 0 and 1");
                }
                max_mean = Some(v);
            }
            "--diff" => diff = Some(PathBuf::from(it.next().context("--diff needs a file")?)),
            other if other.starts_with("--") => bail!("unknown option {other:?}; {usage}"),
            file => files.push(PathBuf::from(file)),
        }
    }
    let [reference, test] =
        <[PathBuf; 2]>::try_from(files).map_err(|_| anyhow::anyhow!("{usage}"))?;
    Ok(Options {
        reference,
        test,
        max_mean,
        diff,
    })
}

/// An image as tightly packed RGB8 rows.
struct Rgb {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

fn read_rgb(path: &Path) -> Result<Rgb> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("{} is not a PNG", path.display()))?;
    let size = reader
        .output_buffer_size()
        .with_context(|| format!("{} is too large", path.display()))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .with_context(|| format!("decoding {}", path.display()))?;
    buf.truncate(info.buffer_size());
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Indexed => bail!("{}: indexed colour left after expansion", path.display()),
    };
    let pixels = buf
        .chunks_exact(channels)
        .flat_map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    Ok(Rgb {
        width: info.width,
        height: info.height,
        pixels,
    })
}

/// ꟻLIP statistics of `test` against `reference`, and the error map as a magma-coloured
/// RGB8 image.
fn compare(reference: &Rgb, test: &Rgb) -> Result<(Stats, Vec<u8>)> {
    if (reference.width, reference.height) != (test.width, test.height) {
        bail!(
            "the images differ in size: {}x{} and {}x{}",
            reference.width,
            reference.height,
            test.width,
            test.height
        );
    }
    let a = nv_flip::FlipImageRgb8::with_data(reference.width, reference.height, &reference.pixels);
    let b = nv_flip::FlipImageRgb8::with_data(test.width, test.height, &test.pixels);
    let error = nv_flip::flip(a, b, nv_flip::DEFAULT_PIXELS_PER_DEGREE);
    let mut pool = nv_flip::FlipPool::from_image(&error);
    let stats = Stats {
        mean: pool.mean(),
        p95: pool.get_percentile(0.95, true),
        max: pool.max_value(),
    };
    let map = error.apply_color_lut(&nv_flip::magma_lut()).to_vec();
    Ok((stats, map))
}

/// Summary of a ꟻLIP error map (0 = identical, 1 = as different as can be).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stats {
    /// Mean error.
    mean: f32,
    /// Weighted 95th percentile.
    p95: f32,
    /// Largest error.
    max: f32,
}

fn write_rgb(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(rgb))
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs `cargo xtask flip`.
pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let reference = read_rgb(&options.reference)?;
    let test = read_rgb(&options.test)?;
    let (stats, map) = compare(&reference, &test)?;
    if let Some(path) = &options.diff {
        write_rgb(path, test.width, test.height, &map)?;
    }
    println!(
        "{{\"mean\":{},\"p95\":{},\"max\":{},\"width\":{},\"height\":{}}}",
        stats.mean, stats.p95, stats.max, test.width, test.height
    );
    if let Some(limit) = options.max_mean
        && stats.mean > limit
    {
        bail!(
            "{} differs from {}: mean FLIP {:.4} is over {limit}",
            options.test.display(),
            options.reference.display(),
            stats.mean
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Rgb {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| f(x, y))
            .collect();
        Rgb {
            width,
            height,
            pixels,
        }
    }

    fn scene(x: u32, y: u32) -> [u8; 3] {
        // Dark water with a bright diagonal band: edges FLIP cares about.
        if (x + y) % 40 < 8 {
            [220, 230, 240]
        } else {
            [10, 40, 70]
        }
    }

    #[test]
    fn identical_images_have_no_error() {
        let a = image(64, 48, scene);
        let (stats, map) = compare(&a, &a)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stats.mean, 0.0);
        assert_eq!(map.len(), 64 * 48 * 3);
    }

    #[test]
    fn a_colour_space_mistake_is_a_large_error_and_a_one_step_rounding_is_not() {
        let a = image(64, 48, scene);
        // sRGB bytes shown as if they were linear: what a missing encode looks like.
        let dark = image(64, 48, |x, y| {
            scene(x, y).map(|c| ((f32::from(c) / 255.0).powf(2.2) * 255.0).round() as u8)
        });
        let rounding = image(64, 48, |x, y| scene(x, y).map(|c| c.saturating_add(1)));
        let big = compare(&a, &dark)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .0;
        let small = compare(&a, &rounding)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .0;
        // Measured: 0.455 and 0.038 (FLIP weighs small steps in dark colours).
        assert!(big.mean > 0.3, "{big:?}");
        assert!(small.mean < 0.06, "{small:?}");
    }

    #[test]
    fn sizes_must_match_and_arguments_are_checked() {
        assert!(compare(&image(4, 4, scene), &image(4, 5, scene)).is_err());
        assert!(parse(&["a.png".into()]).is_err());
        assert!(parse(&["a".into(), "b".into(), "--max-mean".into(), "2".into()]).is_err());
        assert!(parse(&["a".into(), "b".into(), "--bogus".into()]).is_err());
        let ok = parse(&["a".into(), "b".into(), "--max-mean".into(), "0.05".into()]);
        assert!(ok.is_ok_and(|o| o.max_mean == Some(0.05)));
    }
}
