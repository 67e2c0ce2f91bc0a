//! An in-memory set of labelled images.

use crate::NUM_CLASSES;

/// Shape of one image: channels x height x width, flattened channel-major then row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    /// Colour planes (1 for grey, 3 for RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Number of values in one flattened image (= number of network units).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True when the shape holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Labelled images with pixels scaled to [0, 1], stored contiguously.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// The shape every image has.
    pub shape: ImageShape,
    /// `len() * shape.len()` values, image after image.
    pub pixels: Vec<f32>,
    /// One class label (0..9) per image.
    pub labels: Vec<u8>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image.
    pub fn dim(&self) -> usize {
        self.shape.len()
    }

    /// The flattened pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.pixels[i * d..(i + 1) * d]
    }

    /// A new set holding the images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Images {
        let mut pixels = Vec::with_capacity(indices.len() * self.dim());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Images {
            shape: self.shape,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Image indices grouped by class, each group in data-set order.
    pub fn indices_by_class(&self) -> Vec<Vec<usize>> {
        let mut by_class = vec![Vec::new(); NUM_CLASSES];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        by_class
    }

    /// Number of images of each class.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// Mean of all pixel values (f64 accumulation).
    pub fn mean_pixel(&self) -> f64 {
        self.pixels.iter().map(|&p| p as f64).sum::<f64>() / self.pixels.len().max(1) as f64
    }
}
