//! The local runner: one trainer process per cell, skipping finished cells and resuming
//! interrupted ones, then the analysis.

use crate::folder::{CellStatus, StudyDir};
use crate::plan::{Cell, Plan};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The programs a study runs: the trainer (`epc-train`) and `epc` itself (for the analysis).
#[derive(Debug, Clone)]
pub struct Programs {
    /// `epc-train`.
    pub trainer: PathBuf,
    /// `epc`.
    pub epc: PathBuf,
}

/// Trains every unfinished cell of `plan` into `study` here, one after another, then analyses
/// the study when the plan asks for it. `say` gets one line per step (progress for people).
/// A cell that fails does not stop the others; the error lists them at the end.
pub fn run_local(
    study: &StudyDir,
    plan: &Plan,
    cells: &[Cell],
    programs: &Programs,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    let mut failed = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let tag = format!("cell {}/{} {}", i + 1, cells.len(), cell.name);
        let resume = match study.status(cell)? {
            CellStatus::Done => {
                say(&format!("{tag}: done, skipped"));
                continue;
            }
            CellStatus::Running => {
                return Err(Error::study(format!(
                    "{tag} is being trained by another process"
                )))
            }
            CellStatus::Failed(why) => {
                say(&format!(
                    "{tag}: failed earlier ({why}); delete its folder to retrain it"
                ));
                failed.push(cell.name.clone());
                continue;
            }
            CellStatus::Partial { .. } => true,
            CellStatus::Waiting => false,
        };
        let log = study.log(&cell.name);
        say(&format!(
            "{tag}: {} (log: {})",
            if resume { "resuming" } else { "training" },
            log.display()
        ));
        let started = Instant::now();
        if train_cell(&programs.trainer, study, cell, resume)? {
            say(&format!(
                "{tag}: done in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        } else {
            say(&format!("{tag}: failed: {}", last_line(&log)));
            failed.push(cell.name.clone());
        }
    }
    if !failed.is_empty() {
        return Err(Error::study(format!(
            "{} of {} cells failed ({}); see {}",
            failed.len(),
            cells.len(),
            failed.join(", "),
            study.logs().display()
        )));
    }
    if plan.analyze.is_some() {
        analyze(&programs.epc, study, say)?;
    }
    Ok(())
}

/// Trains (or resumes) the cell at `index` of the study at `root` (what each Slurm array task
/// runs); a done cell succeeds at once.
pub fn run_cell(root: &Path, index: usize, trainer: &Path) -> Result<()> {
    let (study, _, cells) = StudyDir::open(root)?;
    let Some(cell) = cells.get(index) else {
        return Err(Error::study(format!(
            "{} has {} cells; there is no cell {index}",
            root.display(),
            cells.len()
        )));
    };
    let resume = match study.status(cell)? {
        CellStatus::Done => return Ok(()),
        CellStatus::Running => {
            return Err(Error::study(format!(
                "cell {} is being trained by another process",
                cell.name
            )))
        }
        CellStatus::Failed(why) => {
            return Err(Error::study(format!(
                "cell {} failed earlier: {why}",
                cell.name
            )))
        }
        CellStatus::Partial { .. } => true,
        CellStatus::Waiting => false,
    };
    if !train_cell(trainer, &study, cell, resume)? {
        return Err(Error::study(format!(
            "cell {} failed: {}",
            cell.name,
            last_line(&study.log(&cell.name))
        )));
    }
    Ok(())
}

/// Trains a new cell from its config file, or resumes it from its run folder, in a trainer
/// process whose output goes to the cell's log; true when it succeeded. A stop signal is
/// passed on to the trainer, which keeps its last epoch.
fn train_cell(trainer: &Path, study: &StudyDir, cell: &Cell, resume: bool) -> Result<bool> {
    let dir = study.cell(&cell.name);
    let mut cmd = Command::new(trainer);
    if resume {
        cmd.arg("--resume").arg(&dir);
    } else {
        let config = study.cell_config(&cell.name);
        epc_core::fsutil::write_json_atomic(&config, &cell.config)?;
        let seeds: Vec<String> = cell.seeds.iter().map(u64::to_string).collect();
        cmd.arg("--config")
            .arg(&config)
            .args(["--seeds", &seeds.join(",")])
            .arg("--out")
            .arg(&dir);
    }
    cmd.args(cell.options.args()).arg("--plain");
    let log = study.log(&cell.name);
    let logs = study.logs();
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| Error::io(&log, e))?;
    let copy = file.try_clone().map_err(|e| Error::io(&log, e))?;
    cmd.stdout(Stdio::from(copy)).stderr(Stdio::from(file));
    let mut child = cmd.spawn().map_err(|e| Error::io(trainer, e))?;
    let status = wait_forwarding_signals(&mut child).map_err(|e| Error::io(trainer, e))?;
    if let Some(signal) = epc_core::interrupt::requested() {
        return Err(epc_core::Error::Interrupted { signal }.into());
    }
    Ok(status.success())
}

/// Waits for `child`; when this process is asked to stop, the child is asked too, with
/// [`epc_core::interrupt::FORWARDED`] (SIGUSR1). Not with the same signal: the child may have
/// had it already (a terminal's Ctrl-C reaches the whole process group, Slurm signals every
/// process of a job), and a second SIGINT or SIGTERM would end it at once, mid-checkpoint.
pub fn wait_forwarding_signals(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if epc_core::interrupt::requested().is_some() && !forwarded {
            forwarded = true;
            let pid = rustix::process::Pid::from_raw(child.id() as i32);
            let signal = rustix::process::Signal::from_named_raw(epc_core::interrupt::FORWARDED);
            if let (Some(pid), Some(signal)) = (pid, signal) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last non-empty line of a log (why a cell failed).
fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "no output".into())
}

/// `epc sweep analyze STUDY` in a process of its own (the analysis links ONNX Runtime, which
/// this library does not).
fn analyze(epc: &Path, study: &StudyDir, say: &mut dyn FnMut(&str)) -> Result<()> {
    say(&format!(
        "analysing {} into {}",
        study.path().display(),
        study.report().display()
    ));
    let status = Command::new(epc)
        .arg("sweep")
        .arg("analyze")
        .arg(study.path())
        .status()
        .map_err(|e| Error::io(epc, e))?;
    if !status.success() {
        return Err(Error::study(format!(
            "the analysis of {} failed",
            study.path().display()
        )));
    }
    Ok(())
}
