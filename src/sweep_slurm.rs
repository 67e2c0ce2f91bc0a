//! `epc sweep --slurm`: a study's unfinished cells as one Slurm job array (each task runs
//! `epc sweep cell STUDY --index I` and writes only inside its cell), the analysis as a job that
//! depends on it, and the job ids recorded in `STUDY/slurm/jobs.jsonl`.

use anyhow::{bail, Context, Result};
use clap::Args;
use epc_core::study::{Cell, CellStatus, Plan, StudyDir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of the submitted jobs (recorded, so that `epc sweep resubmit` uses them again).
#[derive(Args, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SlurmOptions {
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

/// One submitted job, a line of `STUDY/slurm/jobs.jsonl`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct JobRecord {
    job: String,
    kind: String,
    array: String,
    cells: Vec<String>,
    submitted_utc: String,
}

fn slurm_dir(study: &StudyDir) -> PathBuf {
    study.path().join("slurm")
}

/// Submits every unfinished cell of `study` as one job array, and the analysis (when the plan
/// has one) as a job that runs after it succeeded.
pub fn submit(study: &StudyDir, plan: &Plan, cells: &[Cell], opts: &SlurmOptions) -> Result<()> {
    let dir = slurm_dir(study);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let options = dir.join("options.json");
    epc_core::fsutil::write_json_atomic(&options, opts)?;
    let mut todo = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        match study.status(cell)? {
            CellStatus::Done => {}
            CellStatus::Running => bail!("cell {} is being trained now; wait for it", cell.name),
            CellStatus::Failed(why) => {
                eprintln!(
                    "epc: cell {} failed earlier ({why}); delete its folder to retrain it",
                    cell.name
                )
            }
            CellStatus::Partial { .. } | CellStatus::Waiting => todo.push(i),
        }
    }
    if todo.is_empty() {
        eprintln!(
            "epc: every cell of {} is done; nothing to submit",
            study.path().display()
        );
        return Ok(());
    }
    let epc = std::env::current_exe().context("locating the epc binary")?;
    crate::trainer_path()?; // the tasks need it beside epc
    let root = std::path::absolute(study.path())?;
    let logs = root.join("logs");
    let array: Vec<String> = todo.iter().map(usize::to_string).collect();
    let array = array.join(",");
    let mut header = vec![
        "--job-name=epc-sweep".to_string(),
        format!("--output={}/slurm-%A_%a.out", logs.display()),
        format!("--array={array}"),
    ];
    header.extend(resource_args(opts));
    let train = format!(
        "exec {} sweep cell {} --index \"$SLURM_ARRAY_TASK_ID\"",
        quote(&epc),
        quote(&root)
    );
    let script = write_script(&dir, "train.sbatch", &header, &train)?;
    let job = sbatch(&script, &[])?;
    let names: Vec<String> = todo.iter().map(|&i| cells[i].name.clone()).collect();
    record(&dir, &job, "train", &array, names)?;
    eprintln!(
        "epc: submitted {} cells as Slurm job array {job} (logs: {})",
        todo.len(),
        logs.display()
    );
    if plan.analyze.is_some() {
        let mut header = vec![
            "--job-name=epc-sweep-analyze".to_string(),
            format!("--output={}/slurm-analyze-%j.out", logs.display()),
        ];
        header.extend(
            resource_args(opts)
                .into_iter()
                .filter(|a| !a.starts_with("--gpus")),
        );
        let cmd = format!("exec {} sweep analyze {}", quote(&epc), quote(&root));
        let script = write_script(&dir, "analyze.sbatch", &header, &cmd)?;
        let after = sbatch(&script, &[format!("--dependency=afterok:{job}")])?;
        record(&dir, &after, "analyze", "", Vec::new())?;
        eprintln!("epc: the analysis is job {after}, after {job} succeeds");
    }
    Ok(())
}

/// `epc sweep resubmit STUDY`: the unfinished cells again, with the recorded options.
pub fn resubmit(root: &Path) -> Result<()> {
    let (study, plan, cells) = crate::cmd_sweep::open(root)?;
    let options = slurm_dir(&study).join("options.json");
    let text = std::fs::read_to_string(&options).with_context(|| {
        format!(
            "{} (was the study submitted with --slurm?)",
            options.display()
        )
    })?;
    let opts: SlurmOptions =
        serde_json::from_str(&text).with_context(|| format!("{}", options.display()))?;
    submit(&study, &plan, &cells, &opts)
}

/// Prints what Slurm says of the study's recorded jobs (nothing without `squeue`).
pub fn print_jobs(study: &StudyDir) {
    let Ok(text) = std::fs::read_to_string(slurm_dir(study).join("jobs.jsonl")) else {
        return;
    };
    for rec in text
        .lines()
        .filter_map(|l| serde_json::from_str::<JobRecord>(l).ok())
    {
        let out = Command::new("squeue")
            .args(["-h", "-j", &rec.job, "-o", "%i %T %R"])
            .output();
        let state = match out {
            Ok(o) if o.status.success() => {
                let t = String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .replace('\n', "; ");
                if t.is_empty() {
                    "not in the queue (ended)".to_string()
                } else {
                    t
                }
            }
            _ => "squeue unavailable".to_string(),
        };
        println!("slurm job {} ({}): {state}", rec.job, rec.kind);
    }
}

fn resource_args(opts: &SlurmOptions) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(p) = &opts.partition {
        v.push(format!("--partition={p}"));
    }
    if let Some(t) = &opts.time {
        v.push(format!("--time={t}"));
    }
    if let Some(c) = opts.cpus_per_task {
        v.push(format!("--cpus-per-task={c}"));
    }
    if let Some(g) = opts.gpus_per_task {
        v.push(format!("--gpus-per-task={g}"));
    }
    v.extend(opts.sbatch_args.iter().cloned());
    v
}

/// A single-quoted shell word.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn write_script(dir: &Path, name: &str, header: &[String], command: &str) -> Result<PathBuf> {
    let mut text = String::from("#!/bin/bash\n");
    for h in header {
        text.push_str(&format!("#SBATCH {h}\n"));
    }
    text.push_str(command);
    text.push('\n');
    let path = dir.join(name);
    epc_core::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `sbatch --parsable`: the job id, or a one-line error.
fn sbatch(script: &Path, extra: &[String]) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--slurm needs sbatch on PATH (Slurm's client commands); it was not found")
        }
        Err(e) => return Err(anyhow::Error::new(e).context("running sbatch")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "sbatch {} failed: {}",
            script.display(),
            err.lines().next().unwrap_or("no message").trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        bail!("sbatch {} printed no job id", script.display());
    }
    Ok(id)
}

fn record(dir: &Path, job: &str, kind: &str, array: &str, cells: Vec<String>) -> Result<()> {
    let path = dir.join("jobs.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    let rec = JobRecord {
        job: job.into(),
        kind: kind.into(),
        array: array.into(),
        cells,
        submitted_utc: epc_exporter::utc_now(),
    };
    text.push_str(&serde_json::to_string(&rec)?);
    text.push('\n');
    epc_core::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(())
}
