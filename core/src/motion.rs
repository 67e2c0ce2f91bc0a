//! The moving-digit stream: spatial predictability (docs/STREAMS.md).
//!
//! Each frame's image is pasted onto a larger blank canvas at a position that moves with a
//! constant velocity, drawn per sequence, and bounces off the canvas edges. The class order
//! still decides *what* is shown; the motion decides *where*. With `order = "random"` only
//! the position is predictable; with `ascending` both are.
//!
//! A track is a function of its start position and velocity alone, so a sequence's frames
//! are reproducible from the sampler's seed like every other draw.

use crate::data::ImageShape;
use crate::{Error, Result};
use rand::Rng;

/// The speed limit `epc train --canvas` uses unless told otherwise (pixels per frame).
pub const DEFAULT_MAX_SPEED: usize = 2;

/// Settings of the moving-digit stream (the `[sequence.motion]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Motion {
    /// Side of the square canvas in pixels (at least the image's height and width).
    pub canvas: usize,
    /// Largest speed per axis in pixels per frame; each sequence draws its velocity per axis
    /// uniformly from `-max_speed..=max_speed`, never standing still on both axes.
    pub max_speed: usize,
    /// The control: every frame at a fresh uniform position (nothing about where is
    /// predictable; `max_speed` is then unused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub teleport: bool,
}

impl Motion {
    /// An error unless images of `image` fit on the canvas and the speed is positive.
    pub fn check(&self, image: ImageShape) -> Result<()> {
        if self.max_speed == 0 {
            return Err(Error::Config(
                "motion.max_speed must be at least 1 pixel per frame".into(),
            ));
        }
        if self.canvas < image.height || self.canvas < image.width {
            return Err(Error::Config(format!(
                "a motion canvas of {0}x{0} pixels is smaller than the images ({1}x{2})",
                self.canvas, image.height, image.width
            )));
        }
        Ok(())
    }

    /// The shape of a frame: the canvas, with the images' colour planes.
    pub fn frame_shape(&self, image: ImageShape) -> ImageShape {
        ImageShape {
            channels: image.channels,
            height: self.canvas,
            width: self.canvas,
        }
    }

    /// Draws one sequence's track of `steps` frames for images of `image`: a uniform start
    /// position (top-left corner) and a velocity, then [`bounce`] per axis; or, for the
    /// teleport control, a uniform position per frame.
    pub fn draw(&self, image: ImageShape, steps: usize, rng: &mut impl Rng) -> Track {
        let span = [self.canvas - image.height, self.canvas - image.width];
        let mut uniform = || [rng.gen_range(0..=span[0]), rng.gen_range(0..=span[1])];
        if self.teleport {
            return Track {
                canvas: self.frame_shape(image),
                positions: (0..steps).map(|_| uniform().map(|p| p as u16)).collect(),
            };
        }
        let start = uniform();
        let s = self.max_speed as i64;
        let velocity = loop {
            let v = [rng.gen_range(-s..=s), rng.gen_range(-s..=s)];
            if v != [0, 0] {
                break v;
            }
        };
        let positions = (0..steps)
            .map(|t| std::array::from_fn(|a| bounce(start[a], velocity[a], span[a], t) as u16))
            .collect();
        Track {
            canvas: self.frame_shape(image),
            positions,
        }
    }
}

/// Where a sequence's frames sit: the canvas and each frame's top-left corner `[row, col]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The frame's shape.
    pub canvas: ImageShape,
    /// `[row, column]` of the image's top-left pixel, one per frame.
    pub positions: Vec<[u16; 2]>,
}

/// The coordinate after `t` frames of a point starting at `start` with velocity `v` that
/// reflects off 0 and `span` (a path of period `2 * span`).
pub fn bounce(start: usize, v: i64, span: usize, t: usize) -> usize {
    if span == 0 {
        return 0;
    }
    let period = 2 * span as i64;
    let x = (start as i64 + v * t as i64).rem_euclid(period);
    (if x > span as i64 { period - x } else { x }) as usize
}

/// Writes `image` (of `shape`) onto the blank `canvas`-shaped `out` at `[row, col]`: zeros
/// elsewhere, each colour plane on its own plane of the canvas.
pub fn place(image: &[f32], shape: ImageShape, canvas: ImageShape, at: [u16; 2], out: &mut [f32]) {
    out[..canvas.len()].fill(0.0);
    let (r0, c0) = (at[0] as usize, at[1] as usize);
    for ch in 0..shape.channels {
        for r in 0..shape.height {
            let src = (ch * shape.height + r) * shape.width;
            let dst = (ch * canvas.height + r0 + r) * canvas.width + c0;
            out[dst..dst + shape.width].copy_from_slice(&image[src..src + shape.width]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_reflects_at_both_edges() {
        // span 3: 0 1 2 3 2 1 0 1 ...
        let path: Vec<usize> = (0..9).map(|t| bounce(0, 1, 3, t)).collect();
        assert_eq!(path, [0, 1, 2, 3, 2, 1, 0, 1, 2]);
        let back: Vec<usize> = (0..6).map(|t| bounce(1, -2, 3, t)).collect();
        assert_eq!(back, [1, 1, 3, 1, 1, 3]);
        assert_eq!(bounce(0, 5, 0, 7), 0);
    }

    #[test]
    fn place_puts_each_plane_at_its_offset() {
        let shape = ImageShape {
            channels: 2,
            height: 2,
            width: 2,
        };
        let canvas = ImageShape {
            channels: 2,
            height: 3,
            width: 4,
        };
        let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mut out = vec![9.0; canvas.len()];
        place(&image, shape, canvas, [1, 2], &mut out);
        #[rustfmt::skip]
        let want = [
            0.0, 0.0, 0.0, 0.0,  0.0, 0.0, 1.0, 2.0,  0.0, 0.0, 3.0, 4.0,
            0.0, 0.0, 0.0, 0.0,  0.0, 0.0, 5.0, 6.0,  0.0, 0.0, 7.0, 8.0,
        ];
        assert_eq!(out, want);
    }
}
