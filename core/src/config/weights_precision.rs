//! Two choices of the training loop: which weights a run keeps, and the arithmetic of its
//! matrix products.

/// Which weights a run keeps as its final `weights.safetensors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FinalWeights {
    /// The epoch with the lowest validation loss (ours: never the test set).
    #[default]
    Best,
    /// The last epoch's (the published code's choice; with no validation split, "best" would
    /// be judged on the training loss).
    Last,
}

/// The arithmetic of the training's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Everything in float32 (the paper's).
    #[default]
    Fp32,
    /// Matrix products on bfloat16 operands with float32 accumulation; weights, Adam's state,
    /// activations and the loss stay float32 (needs AVX512-BF16 on a CPU, or a GPU with bf16).
    Bf16,
}

impl Precision {
    /// The name used on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }
}
