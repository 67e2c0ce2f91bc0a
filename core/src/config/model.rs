//! The model section's rules: which flags apply to which architecture, and their defaults
//! (docs/NETWORKS.md).

use super::{Architecture, RunConfig};
use crate::{Error, Result};

/// Which units the energy loss covers (architectures with units beyond the pixel-mapped ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EnergyScope {
    /// Every unit's preactivation.
    #[default]
    All,
    /// The pixel-mapped units only (the published code's "input units" variant).
    Input,
}

impl Architecture {
    /// True for the architectures whose `units` counts the units of a recurrent layer rather
    /// than the pixel-mapped units.
    pub fn has_hidden_layers(self) -> bool {
        matches!(
            self,
            Architecture::Hierarchical | Architecture::LstmErr | Architecture::GruErr
        )
    }
}

impl RunConfig {
    /// Checks the model section against its architecture and fills the defaults that apply.
    pub(super) fn resolve_model(&mut self) -> Result<()> {
        use Architecture as A;
        let n_in = self.frame_shape().len();
        let m = &mut self.model;
        let arch = m.architecture;
        let refuse = |flag: &str, allowed: &str| {
            Err(Error::Config(format!(
                "{flag} does not apply to the {} architecture (only to {allowed})",
                arch.name()
            )))
        };
        if m.latent.is_some() && arch != A::RnnLatent {
            return refuse("--latent", "rnn-latent");
        }
        if m.layers.is_some() && arch != A::Hierarchical {
            return refuse("--layers", "hierarchical");
        }
        if m.inhibitory.is_some() && arch != A::Dale {
            return refuse("--inhibitory", "dale");
        }
        if m.bias.is_some() && !matches!(arch, A::LstmErr | A::GruErr) {
            return refuse("--bias", "lstm-err and gru-err");
        }
        if m.energy.is_some() && matches!(arch, A::Rnn | A::Dale) {
            return refuse("--energy", "rnn-latent, hierarchical, lstm-err and gru-err");
        }
        if arch.has_hidden_layers() {
            if m.units == 0 {
                m.units = crate::arch::DEFAULT_HIDDEN;
            }
        } else {
            if m.units == 0 {
                m.units = n_in;
            }
            if m.units != n_in {
                return Err(Error::Config(format!(
                    "the {} architecture has one unit per pixel: {n_in} units for {}, not {}",
                    arch.name(),
                    self.data.dataset,
                    m.units
                )));
            }
        }
        match arch {
            A::RnnLatent => {
                let l = *m.latent.get_or_insert(crate::arch::DEFAULT_LATENT);
                if l == 0 {
                    return Err(Error::Config("--latent must be at least 1".into()));
                }
            }
            A::Hierarchical => {
                let l = *m.layers.get_or_insert(crate::arch::DEFAULT_LAYERS);
                if l == 0 {
                    return Err(Error::Config("--layers must be at least 1".into()));
                }
            }
            A::Dale => {
                let f = *m.inhibitory.get_or_insert(crate::arch::DEFAULT_INHIBITORY);
                if !(f > 0.0 && f < 1.0) {
                    return Err(Error::Config(format!(
                        "--inhibitory {f} must be a fraction between 0 and 1"
                    )));
                }
            }
            A::LstmErr | A::GruErr => {
                m.bias.get_or_insert(true);
            }
            _ => {}
        }
        if !matches!(arch, A::Rnn | A::Dale) {
            m.energy.get_or_insert(EnergyScope::All);
        }
        crate::arch::ArchSpec::of(self).map(|_| ())
    }
}
