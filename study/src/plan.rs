//! The plan file and its expansion into cells, each resolved to a typed config.

use crate::{Error, Result};
use epc_core::config::vocabulary::{self, Setting};
use epc_core::config::RunConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed plan.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Base config file (relative paths are relative to the plan file).
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Seeds of every cell's instances.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Folder of the data set's files, for every cell.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The axes: a setting (its name, `lr`, or its dotted key, `optim.lr`) to its values.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// Settings that only make sense together (`[[cases]]`, each a table: `order = "markov"`
    /// with `entropy = 1.0`, `order = "successors"` with `successors = 2`): every cell of the
    /// grid is trained once per case. Empty: the grid alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<BTreeMap<String, toml::Value>>,
    /// Settings shared by every cell, and the trainer's options (`no-export`, `threads`,
    /// `batch-instances`).
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// Analyse the cells when they are trained.
    #[serde(default)]
    pub analyze: Option<AnalyzePlan>,
}

/// The analysis step of a plan.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzePlan {
    /// Extra `epc analyze` arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// How the trainer runs a cell (never changes the result).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainerOptions {
    /// Do not export `model.onnx` (`no-export = true`).
    pub no_export: bool,
    /// libtorch CPU threads (`threads`).
    pub threads: Option<u64>,
    /// Instances stacked into one computation (`batch-instances`).
    pub batch_instances: Option<u64>,
}

impl TrainerOptions {
    /// The trainer's flags for these options.
    pub fn args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.no_export {
            v.push("--no-export".to_string());
        }
        if let Some(t) = self.threads {
            v.extend(["--threads".to_string(), t.to_string()]);
        }
        if let Some(b) = self.batch_instances {
            v.extend(["--batch-instances".to_string(), b.to_string()]);
        }
        v
    }

    /// Takes `key` if it is a trainer option; `Ok(false)` when it is not one.
    fn take(&mut self, key: &str, v: &toml::Value) -> std::result::Result<bool, String> {
        let count = || {
            v.as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| format!("`{key}` must be a whole number >= 0"))
        };
        match key {
            "no-export" | "no_export" => {
                self.no_export = v.as_bool().ok_or("`no-export` must be true or false")?
            }
            "threads" => self.threads = Some(count()?),
            "batch-instances" | "batch_instances" => self.batch_instances = Some(count()?),
            // The study always writes plain log lines.
            "plain" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// One cell of the grid: its folder name, its resolved config and how to train it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Folder name under `STUDY/cells/` (`loss=l1-pre,lr=0.001`, then the case's settings;
    /// `all` for an empty grid without cases).
    pub name: String,
    /// The resolved config every instance trains from (its seed is replaced per instance).
    pub config: RunConfig,
    /// The instances' seeds.
    pub seeds: Vec<u64>,
    /// How the trainer runs.
    pub options: TrainerOptions,
    /// The equivalent `epc train` flags, for people to read (`--dry-run`); never parsed.
    pub shown: Vec<String>,
}

impl Plan {
    /// Reads and checks a plan file; the base config path becomes absolute.
    pub fn from_file(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut plan: Plan = toml::from_str(&text)
            .map_err(|e| epc_core::Error::format(path, e.to_string().replace('\n', " ")))?;
        // Paths in a plan are relative to the plan file, and made absolute so that the copy in
        // the study folder names the same files.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(d) = &plan.data_dir {
            let joined = base.join(d);
            plan.data_dir = Some(std::path::absolute(&joined).map_err(|e| Error::io(&joined, e))?);
        }
        if let Some(c) = &plan.config {
            let joined = base.join(c);
            plan.config = Some(std::fs::canonicalize(&joined).map_err(|e| Error::io(&joined, e))?);
        }
        plan.check().map_err(|e| epc_core::Error::format(path, e))?;
        Ok(plan)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.seeds.is_empty() {
            return Err("`seeds` is empty: every cell needs at least one instance".into());
        }
        for (axis, values) in &self.grid {
            if values.is_empty() {
                return Err(format!("axis `{axis}` has no values: the grid is empty"));
            }
            if self.set.contains_key(axis) {
                return Err(format!("`{axis}` is both an axis and a shared setting"));
            }
        }
        for (i, case) in self.cases.iter().enumerate() {
            if case.is_empty() {
                return Err(format!("case {} has no setting", i + 1));
            }
            if let Some(k) = case
                .keys()
                .find(|k| self.grid.contains_key(*k) || self.set.contains_key(*k))
            {
                return Err(format!(
                    "`{k}` of case {} is also an axis or a shared setting",
                    i + 1
                ));
            }
        }
        let case_keys = self.cases.iter().flat_map(|c| c.keys());
        for key in self.grid.keys().chain(self.set.keys()).chain(case_keys) {
            if RESERVED.contains(&key.as_str()) {
                return Err(format!(
                    "`{key}` cannot be set in a plan (the study decides it; seeds: use `seeds`)"
                ));
            }
        }
        Ok(())
    }

    /// The cells: the Cartesian product of the axes (one cell when there are none), times the
    /// cases where there are any, each resolved to its config. `origin` (the plan file) names errors.
    pub fn cells(&self, origin: &Path) -> Result<Vec<Cell>> {
        let mut combos: Vec<Vec<(&str, &toml::Value)>> = vec![Vec::new()];
        for (axis, values) in &self.grid {
            let mut next = Vec::new();
            for combo in &combos {
                for v in values {
                    let mut c = combo.clone();
                    c.push((axis.as_str(), v));
                    next.push(c);
                }
            }
            combos = next;
        }
        if !self.cases.is_empty() {
            combos = combos
                .iter()
                .flat_map(|combo| {
                    self.cases.iter().map(move |case| {
                        let mut c = combo.clone();
                        c.extend(case.iter().map(|(k, v)| (k.as_str(), v)));
                        c
                    })
                })
                .collect();
        }
        let base = match &self.config {
            Some(p) => RunConfig::from_file(p)?,
            None => RunConfig::default(),
        };
        let mut cells = Vec::with_capacity(combos.len());
        for values in combos {
            let mut name = Vec::new();
            for (k, v) in &values {
                name.push(format!("{k}={}", shown_value(v).replace(['/', '\\'], "_")));
            }
            let name = if name.is_empty() {
                "all".to_string()
            } else {
                name.join(",")
            };
            let fail = |reason: String| Error::Cell {
                plan: origin.display().to_string(),
                cell: name.clone(),
                reason,
            };
            let mut options = TrainerOptions::default();
            let mut settings: Vec<(&'static Setting, toml::Value)> = Vec::new();
            if let Some(d) = &self.data_dir {
                let s = vocabulary::setting("data.data_dir").map_err(|e| fail(e.to_string()))?;
                settings.push((s, toml::Value::String(d.display().to_string())));
            }
            for (k, v) in self.set.iter().map(|(k, v)| (k.as_str(), v)).chain(values) {
                if options.take(k, v).map_err(&fail)? {
                    continue;
                }
                let s = vocabulary::setting(k).map_err(|e| fail(e.to_string()))?;
                settings.push((s, v.clone()));
            }
            let config =
                vocabulary::apply(base.clone(), &settings).map_err(|e| fail(e.to_string()))?;
            let mut shown = Vec::new();
            if let Some(c) = &self.config {
                shown.extend(["--config".to_string(), c.display().to_string()]);
            }
            let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
            shown.extend(["--seeds".to_string(), seeds.join(",")]);
            for (s, v) in &settings {
                shown.extend([format!("--{}", s.name), shown_value(v)]);
            }
            shown.extend(options.args());
            cells.push(Cell {
                name,
                config,
                seeds: self.seeds.clone(),
                options,
                shown,
            });
        }
        Ok(cells)
    }
}

/// Settings a plan may not set: the study owns the output folder and the instances.
const RESERVED: [&str; 4] = ["out", "resume", "seeds", "instances"];

/// A TOML value as it appears in a cell's name and its shown flags (lists joined by commas).
fn shown_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a.iter().map(shown_value).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;

impl Plan {
    /// The settings that vary between cells: the axes, then the cases' keys (each once).
    pub fn varied(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.grid.keys().map(String::as_str).collect();
        for k in self.cases.iter().flat_map(|c| c.keys()) {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys
    }
}
