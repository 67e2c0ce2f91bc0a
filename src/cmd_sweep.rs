//! `epc sweep`: train every cell of a plan's grid into a study folder, one `epc-train` process
//! per cell, skipping finished cells and resuming interrupted ones; then analyse them together.

use crate::train_args::TrainCommand;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use epc_core::study::{Cell, CellStatus, Plan, StudyDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `epc sweep`.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "A plan (TOML):\n  config = \"../configs/fast-digits.toml\"   # base config (paths: relative to the plan)\n  seeds = [0, 1]                           # instances of every cell\n  [grid]                                   # axes: epc train flags and their values\n  loss = [\"l1-pre\", \"l1-post\"]\n  [set]                                    # flags shared by every cell\n  epochs = 100\n  [analyze]                                # analyse all cells at the end\n  args = [\"--no-figures\"]\n\nRunning the same command again skips finished cells and resumes interrupted ones.\nExamples:\n  epc sweep plans/digits-losses.toml --out studies/losses\n  epc sweep status studies/losses"
)]
pub struct SweepArgs {
    /// What else to do with a study
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The plan file (TOML; see below)
    #[arg(required = true)]
    pub plan: Option<PathBuf>,
    /// The study folder: plan.toml, cells/NAME/ (one run folder per cell), logs/, report/
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// List the cells and their `epc train` commands without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Submit the cells as a Slurm job array (one array task per unfinished cell) instead of
    /// running them here; a shared file system between the nodes is assumed
    #[arg(long)]
    pub slurm: bool,
    /// The jobs' resources (with --slurm)
    #[command(flatten)]
    pub slurm_options: crate::sweep_slurm::SlurmOptions,
}

/// `epc sweep` subcommands.
#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// Where each cell of a study stands: done, running, interrupted, failed (why) or waiting
    Status {
        /// The study folder
        study: PathBuf,
    },
    /// Submit the unfinished cells of a study to Slurm again (cancelled or failed tasks resume
    /// from their checkpoints), with the options of the first submission
    Resubmit {
        /// The study folder
        study: PathBuf,
    },
    /// Analyse every cell of a study into STUDY/report (what the dependent Slurm job runs)
    Analyze {
        /// The study folder
        study: PathBuf,
    },
    /// Train one cell of a study (what each Slurm array task runs)
    #[command(hide = true)]
    Cell {
        /// The study folder
        study: PathBuf,
        /// The cell's index in the plan's grid
        #[arg(long)]
        index: usize,
    },
}

/// Runs `epc sweep`.
pub fn run(args: SweepArgs) -> Result<()> {
    match args.action {
        Some(SweepAction::Status { study }) => return status(&study),
        Some(SweepAction::Resubmit { study }) => return crate::sweep_slurm::resubmit(&study),
        Some(SweepAction::Analyze { study }) => {
            let (study, plan, _) = open(&study)?;
            let extra = plan.analyze.unwrap_or_default().args;
            return analyze(&study, &extra);
        }
        Some(SweepAction::Cell { study, index }) => return run_cell(&study, index),
        None => {}
    }
    let plan_path = args.plan.expect("clap requires the plan");
    let out = args.out.expect("clap requires --out");
    let plan = Plan::from_file(&plan_path)?;
    let cells = plan
        .cells()
        .with_context(|| format!("{}", plan_path.display()))?;
    let study = StudyDir::new(&out);
    for cell in &cells {
        let mut argv = vec!["epc train".to_string()];
        argv.extend(cell.train_args.iter().cloned());
        argv.extend(["--out".into(), study.cell(&cell.name).display().to_string()]);
        if let Err(e) = TrainCommand::try_parse_from(&argv) {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            bail!("{}, cell {}: {first}", plan_path.display(), cell.name);
        }
    }
    if args.dry_run {
        for cell in &cells {
            println!("{}: epc train {}", cell.name, cell.train_args.join(" "));
        }
        return Ok(());
    }
    study.create_or_check(&plan, &plan_path)?;
    if args.slurm {
        return crate::sweep_slurm::submit(&study, &plan, &cells, &args.slurm_options);
    }
    let _ = crate::INTERRUPT_HINT.set(format!(
        "finished cells of {} are kept; the same `epc sweep` command continues the rest",
        out.display()
    ));
    let trainer = crate::trainer_path()?;
    let mut failed = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let tag = format!("cell {}/{} {}", i + 1, cells.len(), cell.name);
        let resume = match study.status(cell)? {
            CellStatus::Done => {
                eprintln!("epc: {tag}: done, skipped");
                continue;
            }
            CellStatus::Running => bail!("{tag} is being trained by another process"),
            CellStatus::Failed(why) => {
                eprintln!("epc: {tag}: failed earlier ({why}); delete its folder to retrain it");
                failed.push(cell.name.clone());
                continue;
            }
            CellStatus::Partial { .. } => true,
            CellStatus::Waiting => false,
        };
        let log = study.log(&cell.name);
        eprintln!(
            "epc: {tag}: {} (log: {})",
            if resume { "resuming" } else { "training" },
            log.display()
        );
        let started = Instant::now();
        let ok = train_cell(&trainer, &study, cell, resume, &log)?;
        if ok {
            eprintln!(
                "epc: {tag}: done in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        } else {
            eprintln!("epc: {tag}: failed: {}", last_line(&log));
            failed.push(cell.name.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} cells failed ({}); see {}",
            failed.len(),
            cells.len(),
            failed.join(", "),
            study.path().join("logs").display()
        );
    }
    if let Some(analysis) = &plan.analyze {
        analyze(&study, &analysis.args)?;
    }
    eprintln!("epc: study {}: {} cells done", out.display(), cells.len());
    Ok(())
}

/// Trains or resumes one cell in an `epc-train` process whose output goes to `log`; true when
/// it succeeded. A stop signal is passed on to the trainer, which keeps its last epoch.
fn train_cell(
    trainer: &Path,
    study: &StudyDir,
    cell: &Cell,
    resume: bool,
    log: &Path,
) -> Result<bool> {
    let dir = study.cell(&cell.name);
    let mut cmd = Command::new(trainer);
    if resume {
        cmd.arg("--resume").arg(&dir);
    } else {
        cmd.args(&cell.train_args).arg("--out").arg(&dir);
    }
    cmd.arg("--plain");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    cmd.stdout(Stdio::from(file.try_clone()?))
        .stderr(Stdio::from(file));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", trainer.display()))?;
    let status = wait_forwarding_signals(&mut child)?;
    if let Some(signal) = epc_core::interrupt::requested() {
        return Err(epc_core::Error::Interrupted { signal }.into());
    }
    Ok(status.success())
}

/// Waits for `child`; when this process is asked to stop, the child is asked too, with
/// [`epc_core::interrupt::FORWARDED`] (SIGUSR1). Not with the same signal: the child may have
/// had it already (a terminal's Ctrl-C reaches the whole process group, Slurm signals every
/// process of a job), and a second SIGINT or SIGTERM would end it at once, mid-checkpoint.
fn wait_forwarding_signals(child: &mut Child) -> Result<std::process::ExitStatus> {
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

/// `epc analyze --study` over the study (every cell, grouped by the plan's axes, into
/// `STUDY/report`), with the plan's extra analysis flags.
fn analyze(study: &StudyDir, extra: &[String]) -> Result<()> {
    let me = std::env::current_exe()?;
    eprintln!(
        "epc: analysing {} into {}",
        study.path().display(),
        study.report().display()
    );
    let status = Command::new(me)
        .arg("analyze")
        .arg("--study")
        .arg(study.path())
        .args(extra)
        .status()
        .context("starting epc analyze")?;
    if !status.success() {
        bail!("the analysis of {} failed", study.path().display());
    }
    Ok(())
}

/// The `--group-by` key of a plan axis (`None` where the analysis cannot tell the cells apart
/// by it, such as a training-only option).
fn group_key(axis: &str) -> Option<String> {
    Some(match axis {
        "loss" | "dataset" | "order" | "architecture" => axis.to_string(),
        // The stream's key names its motion too ("ascending, teleporting on a 12x12 canvas").
        "canvas" | "max-speed" | "teleport" => "order".into(),
        "arch" => "architecture".into(),
        "units" => "config.model.units".into(),
        "latent" => "config.model.latent".into(),
        "layers" => "config.model.layers".into(),
        "inhibitory" => "config.model.inhibitory".into(),
        "energy" => "config.model.energy".into(),
        "lr" => "config.optim.lr".into(),
        "epochs" => "config.train.epochs".into(),
        "lr-schedule" => "config.optim.schedule.kind".into(),
        "min-lr" => "config.optim.schedule.min_lr".into(),
        "val-fraction" => "config.data.val_fraction".into(),
        "patience" => "config.train.patience".into(),
        "final-weights" => "config.train.final_weights".into(),
        "entropy" => "config.sequence.entropy".into(),
        "order-seed" => "config.sequence.order_seed".into(),
        _ => return None,
    })
}

/// `epc sweep status STUDY`: one line per cell.
fn status(root: &Path) -> Result<()> {
    let (study, _, cells) = open(root)?;
    let mut done = 0;
    for cell in &cells {
        let s = study.status(cell)?;
        done += usize::from(s == CellStatus::Done);
        println!("{}\t{s}", cell.name);
    }
    println!(
        "{done} of {} cells done; report: {}",
        cells.len(),
        if study.report().join("summary.json").exists() {
            study.report().display().to_string()
        } else {
            "not yet".into()
        }
    );
    crate::sweep_slurm::print_jobs(&study);
    Ok(())
}

/// What `epc analyze --study` takes from a study.
pub(crate) struct FinishedCells {
    /// The run folders of the finished cells.
    pub cells: Vec<PathBuf>,
    /// `STUDY/report`.
    pub report: PathBuf,
    /// The plan's data folder.
    pub data_dir: Option<PathBuf>,
    /// The `--group-by` keys of the plan's axes, where there are any.
    pub group_by: Option<String>,
}

/// The finished cells of a study (an error when none is finished yet).
pub(crate) fn finished_cells(root: &Path) -> Result<FinishedCells> {
    let (study, plan, cells) = open(root)?;
    let mut done = Vec::new();
    for cell in &cells {
        if study.status(cell)? == CellStatus::Done {
            done.push(study.cell(&cell.name));
        }
    }
    if done.is_empty() {
        bail!("no cell of {} has finished yet", root.display());
    }
    let mut keys: Vec<String> = Vec::new();
    for k in plan.grid.keys().filter_map(|k| group_key(k)) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    Ok(FinishedCells {
        cells: done,
        report: study.report(),
        data_dir: plan.data_dir.clone(),
        group_by: (!keys.is_empty()).then(|| keys.join(",")),
    })
}

/// A study folder, its plan and its cells.
pub(crate) fn open(root: &Path) -> Result<(StudyDir, Plan, Vec<Cell>)> {
    let study = StudyDir::new(root);
    let plan_file = study.plan_file();
    if !plan_file.exists() {
        bail!("{} is not a study folder (no plan.toml)", root.display());
    }
    let plan = Plan::from_file(&plan_file)?;
    let cells = plan.cells()?;
    Ok((study, plan, cells))
}

/// `epc sweep cell STUDY --index I`: trains (or resumes) one cell; done cells succeed at once.
fn run_cell(root: &Path, index: usize) -> Result<()> {
    let (study, _, cells) = open(root)?;
    let Some(cell) = cells.get(index) else {
        bail!(
            "{} has {} cells; there is no cell {index}",
            root.display(),
            cells.len()
        );
    };
    let resume = match study.status(cell)? {
        CellStatus::Done => return Ok(()),
        CellStatus::Running => bail!("cell {} is being trained by another process", cell.name),
        CellStatus::Failed(why) => bail!("cell {} failed earlier: {why}", cell.name),
        CellStatus::Partial { .. } => true,
        CellStatus::Waiting => false,
    };
    let log = study.log(&cell.name);
    if !train_cell(&crate::trainer_path()?, &study, cell, resume, &log)? {
        bail!("cell {} failed: {}", cell.name, last_line(&log));
    }
    Ok(())
}
