//! `epc sweep --slurm`: a study's unfinished cells as one Slurm job array (each task runs
//! `epc sweep cell STUDY --index I` and writes only inside its cell), the analysis as a job that
//! depends on it, and the job ids recorded in `STUDY/slurm/jobs.jsonl`.

use crate::folder::{CellStatus, StudyDir};
use crate::plan::{Cell, Plan};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of the submitted jobs (recorded, so that a resubmission uses them again).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlurmOptions {
    /// Slurm partition (`sbatch --partition`).
    pub partition: Option<String>,
    /// Time limit of each task (`sbatch --time`, e.g. 04:00:00).
    pub time: Option<String>,
    /// CPUs of each task (`sbatch --cpus-per-task`).
    pub cpus_per_task: Option<u32>,
    /// GPUs of each task (`sbatch --gpus-per-task`).
    pub gpus_per_task: Option<u32>,
    /// Any other sbatch option for every job.
    pub sbatch_args: Vec<String>,
}

/// One submitted job and what Slurm says of it now.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// The job id.
    pub job: String,
    /// `train` or `analyze`.
    pub kind: String,
    /// `squeue`'s line, "not in the queue (ended)", or "squeue unavailable".
    pub state: String,
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

/// Submits every unfinished cell of `study` as one job array, and the analysis (when the plan
/// has one) as a job that runs after it succeeded. `epc` is the binary the tasks run (with
/// `epc-train` beside it); `say` gets one line per step.
pub fn submit(
    study: &StudyDir,
    plan: &Plan,
    cells: &[Cell],
    opts: &SlurmOptions,
    epc: &Path,
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    let dir = study.slurm();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let options = dir.join("options.json");
    epc_core::fsutil::write_json_atomic(&options, opts)?;
    let mut todo = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        match study.status(cell)? {
            CellStatus::Done => {}
            CellStatus::Running => {
                return Err(Error::study(format!(
                    "cell {} is being trained now; wait for it",
                    cell.name
                )))
            }
            CellStatus::Failed(why) => say(&format!(
                "cell {} failed earlier ({why}); delete its folder to retrain it",
                cell.name
            )),
            CellStatus::Partial { .. } | CellStatus::Waiting => todo.push(i),
        }
    }
    if todo.is_empty() {
        say(&format!(
            "every cell of {} is done; nothing to submit",
            study.path().display()
        ));
        return Ok(());
    }
    let root = std::path::absolute(study.path()).map_err(|e| Error::io(study.path(), e))?;
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
        quote(epc),
        quote(&root)
    );
    let script = write_script(&dir, "train.sbatch", &header, &train)?;
    let job = sbatch(&script, &[])?;
    let names: Vec<String> = todo.iter().map(|&i| cells[i].name.clone()).collect();
    record(&dir, &job, "train", &array, names)?;
    say(&format!(
        "submitted {} cells as Slurm job array {job} (logs: {})",
        todo.len(),
        logs.display()
    ));
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
        let cmd = format!("exec {} sweep analyze {}", quote(epc), quote(&root));
        let script = write_script(&dir, "analyze.sbatch", &header, &cmd)?;
        let after = sbatch(&script, &[format!("--dependency=afterok:{job}")])?;
        record(&dir, &after, "analyze", "", Vec::new())?;
        say(&format!(
            "the analysis is job {after}, after {job} succeeds"
        ));
    }
    Ok(())
}

/// The unfinished cells of the study at `root` again, with the recorded options.
pub fn resubmit(root: &Path, epc: &Path, say: &mut dyn FnMut(&str)) -> Result<()> {
    let (study, plan, cells) = StudyDir::open(root)?;
    let options = study.slurm().join("options.json");
    if !options.exists() {
        return Err(Error::study(format!(
            "{}: not found (was the study submitted with --slurm?)",
            options.display()
        )));
    }
    let opts: SlurmOptions = epc_core::fsutil::read_json(&options)?;
    submit(&study, &plan, &cells, &opts, epc, say)
}

impl StudyDir {
    /// The study's recorded Slurm jobs and what `squeue` says of them (none when the study
    /// was never submitted).
    pub fn slurm_jobs(&self) -> Vec<SlurmJob> {
        let Ok(text) = std::fs::read_to_string(self.slurm().join("jobs.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<JobRecord>(l).ok())
            .map(|rec| SlurmJob {
                state: queue_state(&rec.job),
                job: rec.job,
                kind: rec.kind,
            })
            .collect()
    }
}

/// `squeue`'s line for `job`.
fn queue_state(job: &str) -> String {
    let out = Command::new("squeue")
        .args(["-h", "-j", job, "-o", "%i %T %R"])
        .output();
    match out {
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
            return Err(Error::Slurm(
                "--slurm needs sbatch on PATH (Slurm's client commands); it was not found".into(),
            ))
        }
        Err(e) => return Err(Error::Slurm(format!("running sbatch: {e}"))),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Slurm(format!(
            "sbatch {} failed: {}",
            script.display(),
            err.lines().next().unwrap_or("no message").trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(Error::Slurm(format!(
            "sbatch {} printed no job id",
            script.display()
        )));
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
        submitted_utc: epc_core::clock::utc_now(),
    };
    let line = serde_json::to_string(&rec)
        .map_err(|e| Error::study(format!("cannot record job {job}: {e}")))?;
    text.push_str(&line);
    text.push('\n');
    epc_core::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(())
}
