//! The study folder: its layout, the cells' status and what the analysis takes from it.

use crate::plan::{Cell, Plan};
use crate::{Error, Result};
use epc_core::run::{RunDir, StopReason};
use std::path::{Path, PathBuf};

/// A study folder: `plan.toml` (the plan it was made from), `configs/NAME.json` (the resolved
/// config each cell trains from), `cells/NAME/` (one run folder per cell), `logs/NAME.log`
/// (each cell's trainer output), `slurm/` (submitted jobs), `report/` (the analysis).
#[derive(Debug, Clone)]
pub struct StudyDir {
    root: PathBuf,
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

/// What the analysis of a study takes from it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The run folders of the finished cells, each followed by its patience snapshots
    /// (`CELL/patience-*`, which are run folders too).
    pub cells: Vec<PathBuf>,
    /// `STUDY/report`.
    pub report: PathBuf,
    /// The plan's data folder.
    pub data_dir: Option<PathBuf>,
    /// The `--group-by` keys of the plan's axes (through the config vocabulary), where there
    /// are any.
    pub group_by: Option<String>,
    /// The plan's extra `epc analyze` arguments.
    pub analyze_args: Vec<String>,
}

impl StudyDir {
    /// The study folder at `root` (nothing is read or made).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// An existing study folder with its plan and cells.
    pub fn open(root: &Path) -> Result<(StudyDir, Plan, Vec<Cell>)> {
        let study = StudyDir::new(root);
        let plan_file = study.plan_file();
        if !plan_file.exists() {
            return Err(Error::study(format!(
                "{} is not a study folder (no plan.toml)",
                root.display()
            )));
        }
        let plan = Plan::from_file(&plan_file)?;
        let cells = plan.cells(&plan_file)?;
        Ok((study, plan, cells))
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

    /// The resolved config a cell trains from (beside the run folder: a `config.json` inside
    /// it would make the run folder look like an instance folder).
    pub fn cell_config(&self, name: &str) -> PathBuf {
        self.root.join("configs").join(format!("{name}.json"))
    }

    /// The folder of the trainer logs.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The trainer log of a cell.
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(format!("{name}.log"))
    }

    /// The folder of the Slurm scripts and job records.
    pub fn slurm(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// The analysis folder.
    pub fn report(&self) -> PathBuf {
        self.root.join("report")
    }

    /// Makes the folder for `plan` (read from `plan_path`), or checks that an existing one was
    /// made from the same plan: a different plan would mix incompatible runs and is refused.
    /// (Each cell's config is written when the cell starts training.)
    pub fn create_or_check(&self, plan: &Plan, plan_path: &Path) -> Result<()> {
        let stored = self.plan_file();
        if stored.exists() {
            let old = Plan::from_file(&stored)?;
            if &old != plan {
                return Err(Error::study(format!(
                    "{} was made from another plan ({}); use another --out, or the plan in {}",
                    self.root.display(),
                    plan_path.display(),
                    stored.display()
                )));
            }
        } else {
            for dir in [self.root.join("cells"), self.logs()] {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            let text = toml::to_string(plan)
                .map_err(|e| Error::study(format!("cannot write the plan: {e}")))?;
            epc_core::fsutil::write_atomic(&stored, text.as_bytes())?;
        }
        // Also for a study made before cells had configs.
        let configs = self.root.join("configs");
        std::fs::create_dir_all(&configs).map_err(|e| Error::io(&configs, e))?;
        Ok(())
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

    /// The finished cells of the study at `root` and how to analyse them (an error when none
    /// is finished yet).
    pub fn finished(root: &Path) -> Result<Finished> {
        let (study, plan, cells) = StudyDir::open(root)?;
        let mut done = Vec::new();
        let mut snapshots = false;
        for cell in &cells {
            if study.status(cell)? == CellStatus::Done {
                let run = study.cell(&cell.name);
                let extra = RunDir::new(&run).patience_snapshots()?;
                snapshots |= !extra.is_empty();
                done.push(run);
                done.extend(extra.into_iter().map(|(_, r)| r.path().to_path_buf()));
            }
        }
        if done.is_empty() {
            return Err(Error::study(format!(
                "no cell of {} has finished yet",
                root.display()
            )));
        }
        let mut keys: Vec<String> = Vec::new();
        // A study with patience snapshots compares them by their patience.
        let patience = snapshots.then_some("train.patience");
        for axis in plan.varied().into_iter().chain(patience) {
            let key = epc_core::config::vocabulary::setting(axis)?.group_key();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Finished {
            cells: done,
            report: study.report(),
            data_dir: plan.data_dir.clone(),
            group_by: (!keys.is_empty()).then(|| keys.join(",")),
            analyze_args: plan.analyze.unwrap_or_default().args,
        })
    }
}

fn describe(reason: &StopReason) -> String {
    match reason {
        StopReason::NonFinite { epoch, .. } => format!("the loss was not finite at epoch {epoch}"),
        StopReason::EarlyStop { .. } => "stopped early".into(),
    }
}
