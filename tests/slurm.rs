//! `epc sweep --slurm` against a real one-node Slurm cluster (Debian's slurm-wlm and munge,
//! installed by `scripts/setup.sh --slurm`), started in a temporary folder and stopped by pid.
//! Without those programs (or without root, which slurmd needs) the test says so and passes.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// munged, slurmctld and slurmd on localhost, configured in `dir`.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Cluster {
    fn start(dir: &Path) -> Option<Cluster> {
        let missing: Vec<&str> = [
            "munged",
            "slurmctld",
            "slurmd",
            "sbatch",
            "squeue",
            "scancel",
        ]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
        let root = rustix::process::geteuid().is_root();
        if !missing.is_empty() || !root {
            eprintln!(
                "skipped: a test Slurm cluster needs root and {missing:?} (scripts/setup.sh --slurm)"
            );
            return None;
        }
        let host = String::from_utf8(Command::new("hostname").arg("-s").output().ok()?.stdout)
            .ok()?
            .trim()
            .to_string();
        for sub in ["state", "spool", "log", "munge"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let key = dir.join("munge/munge.key");
        let bytes: Vec<u8> = (0..1024u32).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(&key, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        let sock = dir.join("munge/sock");
        let d = |p: &str| dir.join(p).display().to_string();
        let ok = Command::new("munged")
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", d("munge/pid")))
            .arg(format!("--log-file={}", d("munge/log")))
            .arg(format!("--seed-file={}", d("munge/seed")))
            .arg("--force")
            .status()
            .unwrap();
        assert!(ok.success(), "munged did not start");
        // Ports from the process id, so that two test runs on one machine do not meet.
        let port = 20000 + (std::process::id() % 20000) as u16 * 2;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let conf = dir.join("slurm.conf");
        let text = format!(
            "ClusterName=epctest\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={port}\n\
             SlurmdPort={}\nAuthType=auth/munge\nAuthInfo=socket={}\nCredType=cred/munge\n\
             SlurmUser=root\nSlurmdUser=root\nStateSaveLocation={}\nSlurmdSpoolDir={}\n\
             SlurmctldPidFile={}\nSlurmdPidFile={}\nSlurmctldLogFile={}\nSlurmdLogFile={}\n\
             ProctrackType=proctrack/pgid\nTaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
             SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\nMpiDefault=none\n\
             ReturnToService=2\nKillWait=60\nUnkillableStepTimeout=300\n\
             NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            port + 1,
            sock.display(),
            d("state"),
            d("spool"),
            d("slurmctld.pid"),
            d("slurmd.pid"),
            d("log/slurmctld.log"),
            d("log/slurmd.log"),
        );
        std::fs::write(&conf, text).unwrap();
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            conf,
        };
        for daemon in ["slurmctld", "slurmd"] {
            let ok = Command::new(daemon)
                .arg("-f")
                .arg(&cluster.conf)
                .env("SLURM_CONF", &cluster.conf)
                .status()
                .unwrap();
            assert!(ok.success(), "{daemon} did not start");
        }
        let start = Instant::now();
        loop {
            let o = cluster
                .cmd("sinfo")
                .args(["-h", "-o", "%t"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&o.stdout).trim() == "idle" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the node never became idle"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(cluster)
    }

    /// A command that talks to this cluster.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn epc(&self) -> Command {
        self.cmd(env!("CARGO_BIN_EXE_epc"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Let finishing steps report to slurmd first (a step daemon left without one lingers),
        // then stop the daemons by their pids.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let o = self.cmd("squeue").arg("-h").output();
            if o.map_or(true, |o| {
                String::from_utf8_lossy(&o.stdout).trim().is_empty()
            }) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.cmd("scontrol").arg("shutdown").status();
        std::thread::sleep(Duration::from_millis(500));
        for pid_file in ["slurmd.pid", "slurmctld.pid", "munge/pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pid_file)) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

impl Cluster {
    /// What the queue, the node, the study and the daemons say: the message of a timed-out wait,
    /// so that a failure on a CI machine explains itself.
    fn diagnose(&self, study: &Path) -> String {
        let run = |program: &str, args: &[&str]| {
            self.cmd(program).args(args).output().map_or_else(
                |e| format!("{program}: {e}"),
                |o| String::from_utf8_lossy(&o.stdout).into_owned() + &stderr(&o),
            )
        };
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        let mut out = format!(
            "squeue:\n{}\nsinfo:\n{}\nepc sweep status:\n{}",
            run("squeue", &["-h", "-o", "%i %T %r"]),
            run("sinfo", &["-h", "-N", "-o", "%N %T %E"]),
            status(self, study)
        );
        if let Ok(logs) = std::fs::read_dir(study.join("logs")) {
            for log in logs.flatten() {
                out += &format!("\n{}:\n{}", log.path().display(), tail(&log.path()));
            }
        }
        for log in ["log/slurmctld.log", "log/slurmd.log"] {
            out += &format!("\n{log}:\n{}", tail(&self.dir.join(log)));
        }
        out
    }
}

/// Polls `done` until it holds; after `secs` seconds fails with `what` and `diagnose()`.
fn wait_until(
    what: &str,
    secs: u64,
    mut done: impl FnMut() -> bool,
    diagnose: impl FnOnce() -> String,
) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(secs) {
            panic!("timed out waiting for {what}\n{}", diagnose());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(cluster: &Cluster, study: &Path) -> String {
    let o = cluster
        .epc()
        .args(["sweep", "status"])
        .arg(study)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A digits study as a job array with a dependent analysis; then a task cancelled mid-run,
/// resubmitted, and resumed to the result of an uninterrupted local study.
#[test]
fn studies_run_as_slurm_job_arrays_and_cancelled_tasks_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(cluster) = Cluster::start(&tmp.path().join("cluster")) else {
        return;
    };

    let plan = tmp.path().join("losses.toml");
    std::fs::write(
        &plan,
        "seeds = [0, 1]\n[grid]\nloss = [\"l1-pre\", \"l1-post\"]\n[set]\nepochs = 30\n\
         lr = 0.001\ndevice = \"cpu\"\n[analyze]\nargs = [\"--no-figures\", \"--bootstrap\", \"200\"]\n",
    )
    .unwrap();
    let study = tmp.path().join("study");
    let o = cluster
        .epc()
        .args(["sweep"])
        .arg(&plan)
        .arg("--out")
        .arg(&study)
        .args(["--slurm", "--time", "00:10:00", "--cpus-per-task", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Slurm job array"), "{}", stderr(&o));
    let report = study.join("report/summary.json");
    wait_until(
        "the study's report",
        300,
        || report.exists(),
        || cluster.diagnose(&study),
    );
    let text = status(&cluster, &study);
    assert!(text.contains("2 of 2 cells done"), "{text}");
    let summary = read_json(&report);
    assert_eq!(summary["groups"].as_array().unwrap().len(), 2);
    for cell in ["loss=l1-pre", "loss=l1-post"] {
        let state = read_json(
            &study
                .join("cells")
                .join(cell)
                .join("seed-1/train_state.json"),
        );
        assert_eq!(state["epochs_trained"], 30);
    }
    let script = std::fs::read_to_string(study.join("slurm/train.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0,1") && script.contains("--cpus-per-task=1"));

    // Cancel a long task mid-run, resubmit, and compare with an uninterrupted local study.
    let long = tmp.path().join("long.toml");
    std::fs::write(
        &long,
        "seeds = [0]\n[grid]\nloss = [\"l1-pre\"]\n[set]\nepochs = 1500\ndevice = \"cpu\"\nno-export = true\n",
    )
    .unwrap();
    let local = tmp.path().join("local");
    let o = cluster
        .epc()
        .arg("sweep")
        .arg(&long)
        .arg("--out")
        .arg(&local)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cut = tmp.path().join("cut");
    let o = cluster
        .epc()
        .arg("sweep")
        .arg(&long)
        .arg("--out")
        .arg(&cut)
        .arg("--slurm")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let jobs = std::fs::read_to_string(cut.join("slurm/jobs.jsonl")).unwrap();
    let job: serde_json::Value = serde_json::from_str(jobs.lines().next().unwrap()).unwrap();
    let job = job["job"].as_str().unwrap().to_string();
    let history = cut.join("cells/loss=l1-pre/seed-0/history.jsonl");
    wait_until(
        "epoch 3 of the array task",
        60,
        || std::fs::read_to_string(&history).map_or(0, |t| t.lines().count()) >= 3,
        || cluster.diagnose(&cut),
    );
    let ok = cluster
        .cmd("scancel")
        .arg(format!("{job}_0"))
        .status()
        .unwrap();
    assert!(ok.success());
    wait_until(
        "the cancelled task to leave the queue",
        90,
        || {
            let o = cluster
                .cmd("squeue")
                .args(["-h", "-j", &job])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).trim().is_empty()
        },
        || cluster.diagnose(&cut),
    );
    let text = status(&cluster, &cut);
    assert!(text.contains("loss=l1-pre\tinterrupted after"), "{text}");

    let o = cluster
        .epc()
        .args(["sweep", "resubmit"])
        .arg(&cut)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until(
        "the resubmitted task",
        300,
        || status(&cluster, &cut).contains("1 of 1 cells done"),
        || cluster.diagnose(&cut),
    );
    for f in ["weights.safetensors", "last.safetensors"] {
        let a = std::fs::read(local.join("cells/loss=l1-pre/seed-0").join(f)).unwrap();
        let b = std::fs::read(cut.join("cells/loss=l1-pre/seed-0").join(f)).unwrap();
        assert_eq!(a, b, "{f} differs after a cancelled task was resubmitted");
    }
    drop(cluster);
}

/// Without sbatch on PATH, `--slurm` is one line and submits nothing.
#[test]
fn slurm_without_sbatch_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("p.toml");
    std::fs::write(&plan, "[set]\nepochs = 1\n").unwrap();
    let o = epc()
        .arg("sweep")
        .arg(&plan)
        .arg("--out")
        .arg(tmp.path().join("s"))
        .arg("--slurm")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_clean_failure(&o, "sbatch");
}
