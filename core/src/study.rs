//! Studies: a plan file names a grid of training runs; a study folder holds one run folder per
//! cell of the grid. This module owns the plan format, the expansion into cells and the study
//! folder's layout and status; running the cells is the command line's job (`epc sweep`).
//!
//! A plan (TOML):
//!
//! ```toml
//! config = "../configs/fast-digits.toml"   # optional base config
//! seeds = [0, 1]                           # the instances of every cell (trained stacked)
//! data_dir = "/data/mnist"                 # optional, for every cell
//! # (relative paths are relative to the plan file)
//!
//! [grid]                                   # axes: `epc train` flags, each with its values
//! loss = ["l1-pre", "l1-post"]
//! lr = [1e-3, 1e-4]
//!
//! [set]                                    # flags shared by every cell
//! epochs = 40
//!
//! [analyze]                                # optional: analyse every cell at the end
//! args = ["--no-figures"]                  # extra `epc analyze` flags
//! ```

use crate::run::{RunDir, StopReason};
use crate::{Error, Result};
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
    /// The axes: flag name (without `--`) to its values.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// Flags shared by every cell.
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

/// One cell of the grid: its folder name and the `epc train` flags that make it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Folder name under `STUDY/cells/` (`loss=l1-pre,lr=0.001`; `all` for an empty grid).
    pub name: String,
    /// `epc train` arguments (without `--out`).
    pub train_args: Vec<String>,
}

/// Where a cell stands.
#[derive(Debug, Clone, PartialEq)]
pub enum CellStatus {
    /// No run folder yet.
    Waiting,
    /// A trainer holds the run folder's lock.
    Running,
    /// Some epochs trained (the least of the instances) of the planned number.
    Partial {
        /// Epochs of the least advanced instance.
        epochs: usize,
        /// Planned epochs.
        of: usize,
    },
    /// Every instance finished (all epochs, or an early stop).
    Done,
    /// An instance failed; the reason as one line.
    Failed(String),
}

impl std::fmt::Display for CellStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellStatus::Waiting => write!(f, "waiting"),
            CellStatus::Running => write!(f, "running"),
            CellStatus::Partial { epochs, of } => {
                write!(f, "interrupted after {epochs}/{of} epochs")
            }
            CellStatus::Done => write!(f, "done"),
            CellStatus::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl Plan {
    /// Reads and checks a plan file; the base config path becomes absolute.
    pub fn from_file(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut plan: Plan = toml::from_str(&text)
            .map_err(|e| Error::format(path, e.to_string().replace('\n', " ")))?;
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
        plan.check().map_err(|e| Error::format(path, e))?;
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
                return Err(format!("`{axis}` is both an axis and a shared flag"));
            }
        }
        for key in self.grid.keys().chain(self.set.keys()) {
            if RESERVED.contains(&key.as_str()) {
                return Err(format!(
                    "`{key}` cannot be set in a plan (the study decides it; seeds: use `seeds`)"
                ));
            }
        }
        Ok(())
    }

    /// The cells: the Cartesian product of the axes (one cell when there are none).
    pub fn cells(&self) -> Result<Vec<Cell>> {
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (axis, values) in &self.grid {
            let mut next = Vec::new();
            for combo in &combos {
                for v in values {
                    let mut c = combo.clone();
                    c.push((axis.clone(), flag_value(axis, v)?));
                    next.push(c);
                }
            }
            combos = next;
        }
        let mut cells = Vec::with_capacity(combos.len());
        for values in combos {
            let name = if values.is_empty() {
                "all".to_string()
            } else {
                values
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.replace(['/', '\\'], "_")))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut args = Vec::new();
            if let Some(c) = &self.config {
                args.extend(["--config".to_string(), c.display().to_string()]);
            }
            if let Some(d) = &self.data_dir {
                args.extend(["--data-dir".to_string(), d.display().to_string()]);
            }
            let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
            args.extend(["--seeds".to_string(), seeds.join(",")]);
            for (k, v) in &self.set {
                push_flag(&mut args, k, v)?;
            }
            for (k, v) in &values {
                args.extend([format!("--{k}"), v.clone()]);
            }
            cells.push(Cell {
                name,
                train_args: args,
            });
        }
        Ok(cells)
    }
}

/// Flags a plan may not set: the study owns the output folder and the instances.
const RESERVED: [&str; 4] = ["out", "resume", "seeds", "instances"];

/// A TOML value as a flag value (lists joined by commas).
fn flag_value(key: &str, v: &toml::Value) -> Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| flag_value(key, x))
            .collect::<Result<Vec<_>>>()?
            .join(","),
        other => {
            return Err(Error::Config(format!(
                "`{key}`: a {} is not a flag value",
                other.type_str()
            )))
        }
    })
}

/// `--key value`, or `--key` alone for `true` (a switch such as `no-export`).
fn push_flag(args: &mut Vec<String>, key: &str, v: &toml::Value) -> Result<()> {
    match v {
        toml::Value::Boolean(true) => args.push(format!("--{key}")),
        toml::Value::Boolean(false) => {}
        other => args.extend([format!("--{key}"), flag_value(key, other)?]),
    }
    Ok(())
}

/// A study folder: `plan.toml` (the plan it was made from), `cells/NAME/` (one run folder per
/// cell), `logs/NAME.log` (each cell's trainer output), `report/` (the analysis).
#[derive(Debug, Clone)]
pub struct StudyDir {
    root: PathBuf,
}

impl StudyDir {
    /// The study folder at `root` (nothing is read or made).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The copy of the plan.
    pub fn plan_file(&self) -> PathBuf {
        self.root.join("plan.toml")
    }

    /// The run folder of a cell.
    pub fn cell(&self, name: &str) -> PathBuf {
        self.root.join("cells").join(name)
    }

    /// The trainer log of a cell.
    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(format!("{name}.log"))
    }

    /// The analysis folder.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }

    /// Makes the folder for `plan` (read from `plan_path`), or checks that an existing one was
    /// made from the same plan: a different plan would mix incompatible runs and is refused.
    pub fn create_or_check(&self, plan: &Plan, plan_path: &Path) -> Result<()> {
        let stored = self.plan_file();
        if stored.exists() {
            let old = Plan::from_file(&stored)?;
            if &old != plan {
                return Err(Error::Config(format!(
                    "{} was made from another plan ({}); use another --out, or the plan in {}",
                    self.root.display(),
                    plan_path.display(),
                    stored.display()
                )));
            }
            return Ok(());
        }
        std::fs::create_dir_all(self.root.join("cells")).map_err(|e| Error::io(&self.root, e))?;
        std::fs::create_dir_all(self.root.join("logs")).map_err(|e| Error::io(&self.root, e))?;
        let text = toml::to_string(plan)
            .map_err(|e| Error::Config(format!("cannot write the plan: {e}")))?;
        crate::fsutil::write_atomic(&stored, text.as_bytes())
    }

    /// Where `cell` stands, from its run folder.
    pub fn status(&self, cell: &Cell) -> Result<CellStatus> {
        let dir = self.cell(&cell.name);
        if !dir.exists() {
            return Ok(CellStatus::Waiting);
        }
        let run = RunDir::new(&dir);
        if run.is_busy()? {
            return Ok(CellStatus::Running);
        }
        let instances = run.instances()?;
        if instances.is_empty() {
            return Ok(CellStatus::Waiting);
        }
        let (mut least, mut of) = (usize::MAX, 0);
        for inst in &instances {
            let planned = inst.read_config()?.train.epochs;
            of = of.max(planned);
            match inst.read_state()? {
                Some(s) => {
                    if let Some(reason) = s.stopped.as_ref().filter(|r| r.is_failure()) {
                        return Ok(CellStatus::Failed(describe(reason)));
                    }
                    let finished = s.stopped.is_some() || s.epochs_trained >= planned;
                    least = least.min(if finished {
                        usize::MAX
                    } else {
                        s.epochs_trained
                    });
                }
                None => least = 0,
            }
        }
        Ok(if least == usize::MAX {
            CellStatus::Done
        } else {
            CellStatus::Partial { epochs: least, of }
        })
    }
}

fn describe(reason: &StopReason) -> String {
    match reason {
        StopReason::NonFinite { epoch, .. } => format!("the loss was not finite at epoch {epoch}"),
        StopReason::EarlyStop { .. } => "stopped early".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_expands_to_its_cartesian_product_of_flags() {
        let plan: Plan = toml::from_str(
            "seeds = [3, 4]\ndata_dir = \"/d\"\n[grid]\nloss = [\"l1-pre\", \"l1-post\"]\n\
             lr = [0.001, 0.0001]\n[set]\nepochs = 40\nno-export = true\nplain = false\n\
             order = \"ascending\"\n",
        )
        .unwrap();
        plan.check().unwrap();
        let cells = plan.cells().unwrap();
        let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "loss=l1-pre,lr=0.001",
                "loss=l1-pre,lr=0.0001",
                "loss=l1-post,lr=0.001",
                "loss=l1-post,lr=0.0001"
            ]
        );
        assert_eq!(
            cells[2].train_args,
            [
                "--data-dir",
                "/d",
                "--seeds",
                "3,4",
                "--epochs",
                "40",
                "--no-export",
                "--order",
                "ascending",
                "--loss",
                "l1-post",
                "--lr",
                "0.001"
            ]
        );
        let one: Plan = toml::from_str("").unwrap();
        let cells = one.cells().unwrap();
        assert_eq!((cells.len(), cells[0].name.as_str()), (1, "all"));
        assert_eq!(cells[0].train_args, ["--seeds", "0"]);
    }

    #[test]
    fn plans_that_make_no_grid_are_refused() {
        for (text, needle) in [
            ("[grid]\nloss = []\n", "no values"),
            ("seeds = []\n", "seeds"),
            ("[grid]\nlr = [1]\n[set]\nlr = 2\n", "both an axis"),
            ("[set]\ninstances = 3\n", "cannot be set"),
        ] {
            let plan: Plan = toml::from_str(text).unwrap();
            let err = plan.check().unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let nested: Plan = toml::from_str("[grid]\nlr = [{ a = 1 }]\n").unwrap();
        assert!(nested.cells().is_err());
    }
}
