//! `epc sweep`: the command line of the study library (`epc-study`), which trains every cell
//! of a plan's grid into a study folder, one `epc-train` process per cell, skipping finished
//! cells and resuming interrupted ones, then analyses them together. This file only parses
//! and calls it.

use anyhow::{Context, Result};
use clap::{Args, FromArgMatches, Subcommand};
use epc_study::{CellStatus, Plan, Programs, SlurmOptions, StudyDir};
use std::path::{Path, PathBuf};

/// Options of `epc sweep`.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "A plan (TOML):\n  config = \"../configs/fast-digits.toml\"   # base config (paths: relative to the plan)\n  seeds = [0, 1]                           # instances of every cell\n  [grid]                                   # axes: settings (epc train's flags or dotted keys)\n  loss = [\"l1-pre\", \"l1-post\"]\n  [set]                                    # settings shared by every cell\n  epochs = 100\n  [analyze]                                # analyse all cells at the end\n  args = [\"--no-figures\"]\n\nRunning the same command again skips finished cells and resumes interrupted ones.\nExamples:\n  epc sweep plans/digits-losses.toml --out studies/losses\n  epc sweep status studies/losses"
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
    /// List the cells and their equivalent `epc train` commands without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Submit the cells as a Slurm job array (one array task per unfinished cell) instead of
    /// running them here; a shared file system between the nodes is assumed
    #[arg(long)]
    pub slurm: bool,
    /// The jobs' resources (with --slurm)
    #[command(flatten)]
    pub slurm_options: SlurmArgs,
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

/// The submitted jobs' resources (recorded, so that `epc sweep resubmit` uses them again).
#[derive(Args, Debug, Clone, Default)]
pub struct SlurmArgs {
    /// Slurm partition (`sbatch --partition`)
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Time limit of each task (`sbatch --time`, e.g. 04:00:00)
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// CPUs of each task (`sbatch --cpus-per-task`)
    #[arg(long, requires = "slurm")]
    pub cpus_per_task: Option<u32>,
    /// GPUs of each task (`sbatch --gpus-per-task`)
    #[arg(long, requires = "slurm")]
    pub gpus_per_task: Option<u32>,
    /// Any other sbatch option for every job, repeatable (`--sbatch-arg=--account=lab`)
    #[arg(long = "sbatch-arg", requires = "slurm", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
}

impl From<SlurmArgs> for SlurmOptions {
    fn from(a: SlurmArgs) -> Self {
        SlurmOptions {
            partition: a.partition,
            time: a.time,
            cpus_per_task: a.cpus_per_task,
            gpus_per_task: a.gpus_per_task,
            sbatch_args: a.sbatch_args,
        }
    }
}

fn say(line: &str) {
    eprintln!("epc: {line}");
}

fn programs() -> Result<Programs> {
    Ok(Programs {
        trainer: crate::trainer_path()?,
        epc: std::env::current_exe().context("locating the epc binary")?,
    })
}

/// Runs `epc sweep`.
pub fn run(args: SweepArgs) -> Result<()> {
    match args.action {
        Some(SweepAction::Status { study }) => return status(&study),
        Some(SweepAction::Resubmit { study }) => {
            programs()?; // the tasks need epc-train beside epc
            let epc = std::env::current_exe().context("locating the epc binary")?;
            return Ok(epc_study::resubmit(&study, &epc, &mut say)?);
        }
        Some(SweepAction::Analyze { study }) => return analyze(&study),
        Some(SweepAction::Cell { study, index }) => {
            return Ok(epc_study::run_cell(&study, index, &crate::trainer_path()?)?)
        }
        None => {}
    }
    let plan_path = args.plan.expect("clap requires the plan");
    let out = args.out.expect("clap requires --out");
    let plan = Plan::from_file(&plan_path)?;
    let cells = plan.cells(&plan_path)?;
    if args.dry_run {
        for cell in &cells {
            println!("{}: epc train {}", cell.name, cell.shown.join(" "));
        }
        return Ok(());
    }
    let study = StudyDir::new(&out);
    study.create_or_check(&plan, &plan_path)?;
    let programs = programs()?;
    if args.slurm {
        let opts = SlurmOptions::from(args.slurm_options);
        return Ok(epc_study::submit(
            &study,
            &plan,
            &cells,
            &opts,
            &programs.epc,
            &mut say,
        )?);
    }
    let _ = crate::INTERRUPT_HINT.set(format!(
        "finished cells of {} are kept; the same `epc sweep` command continues the rest",
        out.display()
    ));
    epc_study::run_local(&study, &plan, &cells, &programs, &mut say)?;
    eprintln!("epc: study {}: {} cells done", out.display(), cells.len());
    Ok(())
}

/// `epc sweep analyze STUDY`: `epc analyze --study STUDY` with the plan's extra flags.
fn analyze(study: &Path) -> Result<()> {
    let finished = StudyDir::finished(study)?;
    let mut argv = vec![
        "epc analyze".into(),
        "--study".into(),
        study.as_os_str().to_owned(),
    ];
    argv.extend(finished.analyze_args.iter().map(Into::into));
    let cmd =
        <crate::cmd_analyze::AnalyzeArgs as Args>::augment_args(clap::Command::new("epc analyze"));
    let matches = cmd.try_get_matches_from(argv).map_err(|e| {
        anyhow::anyhow!(
            "the plan's [analyze] args: {}",
            e.to_string()
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
        )
    })?;
    let args = crate::cmd_analyze::AnalyzeArgs::from_arg_matches(&matches)?;
    eprintln!(
        "epc: analysing {} into {}",
        study.display(),
        finished.report.display()
    );
    crate::cmd_analyze::run(args)
}

/// `epc sweep status STUDY`: one line per cell.
fn status(root: &Path) -> Result<()> {
    let (study, _, cells) = StudyDir::open(root)?;
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
    for job in study.slurm_jobs() {
        println!("slurm job {} ({}): {}", job.job, job.kind, job.state);
    }
    Ok(())
}
