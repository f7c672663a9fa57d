//! `scopeflow batch submit|status|resume`: a backlog converted as one Slurm job array (or
//! locally), state under `DEST/.scopeflow-batch/ID/`. `batch task` is what each array task runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use scopeflow_batch::{BatchError, Engine, ServerRef, Status, SubmitRequest};

use super::print_json;
use crate::Failure;
use crate::flags::ConvertFlags;

// Parsed once per run: the size of the flags' variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub(crate) enum BatchCommand {
    /// Plan every image under --from, split it into --tasks shards balanced by bytes, and
    /// submit one Slurm job array (or run the shards here with --engine local).
    Submit {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        to: PathBuf,
        #[arg(long, default_value = "slurm", value_parser = ["slurm", "local"])]
        engine: String,
        /// Array tasks (shards); default 100 under Slurm, one per core locally.
        #[arg(long)]
        tasks: Option<usize>,
        #[arg(long)]
        partition: Option<String>,
        /// Passed to sbatch as is (repeat: `--sbatch-arg=--time=02:00:00 --sbatch-arg=--mem=2G`).
        #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
        sbatch_args: Vec<String>,
        /// Globs of the agent's include rules; default: every file of a format scopeflow reads.
        #[arg(long)]
        include: Vec<String>,
        #[command(flatten)]
        convert: ConvertFlags,
        /// Report files and QC to this central server (with --token-file and --agent).
        #[arg(long, requires_all = ["token_file", "agent"])]
        server: Option<String>,
        /// An agent token of the server (`scopeflow server token create --agent NAME`).
        #[arg(long, requires = "server")]
        token_file: Option<PathBuf>,
        /// The agent name the token was created for.
        #[arg(long, requires = "server")]
        agent: Option<String>,
    },
    /// Per file state and error, per task Slurm state, totals and throughput.
    Status {
        id: String,
        /// The batch's destination, when the id is not remembered on this machine.
        #[arg(long)]
        to: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Return once no task is pending or running (exit 1 if a file is not done).
        #[arg(long)]
        wait: bool,
        /// Seconds between polls with --wait.
        #[arg(long, default_value_t = 5)]
        interval: u64,
    },
    /// Resubmit only the shards with files not done; finished files are never redone.
    Resume {
        id: String,
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// One array task (what the job array runs; not for interactive use).
    #[command(hide = true)]
    Task { dir: PathBuf, task: usize },
}

fn fail(e: BatchError) -> Failure {
    if e.is_usage() {
        Failure::usage(e)
    } else {
        Failure::work(e)
    }
}

fn exe() -> Result<PathBuf, Failure> {
    std::env::current_exe()
        .map_err(|e| Failure::work(anyhow::anyhow!("cannot find the scopeflow binary: {e}")))
}

pub(crate) fn run(cmd: BatchCommand) -> Result<(), Failure> {
    match cmd {
        BatchCommand::Submit {
            from,
            to,
            engine,
            tasks,
            partition,
            sbatch_args,
            include,
            convert,
            server,
            token_file,
            agent,
        } => {
            let options = convert.options(false);
            options
                .validate()
                .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
            let server = match (server, token_file, agent) {
                (Some(url), Some(token_file), Some(agent)) => Some(ServerRef {
                    url,
                    token_file: std::path::absolute(&token_file).unwrap_or(token_file),
                    agent,
                }),
                _ => None,
            };
            let sub = scopeflow_batch::submit(SubmitRequest {
                from,
                to,
                engine: if engine == "local" {
                    Engine::Local
                } else {
                    Engine::Slurm
                },
                tasks,
                partition,
                sbatch_args,
                include,
                options,
                server,
                exe: exe()?,
            })
            .map_err(fail)?;
            let p = &sub.plan;
            eprintln!(
                "scopeflow: {} files, {:.1} MB in {} shards; state in {}",
                p.files,
                p.bytes as f64 / 1e6,
                p.tasks,
                p.dir().display()
            );
            if let Some(job) = &sub.job {
                println!("submitted job array {job} (tasks 0-{})", p.tasks - 1);
            }
            let failed = sub.local.as_ref().map_or(0, |s| s.failed);
            if let Some(s) = &sub.local {
                settle_quietly(&p.dir());
                println!("converted {} files, {} failed", s.done, s.failed);
            }
            println!("batch {}", p.id);
            if failed > 0 {
                return Err(Failure::work(anyhow::anyhow!(
                    "{failed} files failed: `scopeflow batch status {}` says why",
                    p.id
                )));
            }
            Ok(())
        }
        BatchCommand::Status {
            id,
            to,
            json,
            wait,
            interval,
        } => {
            let dir = scopeflow_batch::locate(&id, to.as_deref()).map_err(fail)?;
            let mut st = scopeflow_batch::status(&dir).map_err(fail)?;
            if wait {
                while st.active() {
                    std::thread::sleep(Duration::from_secs(interval.max(1)));
                    st = scopeflow_batch::status(&dir).map_err(fail)?;
                }
                settle_quietly(&dir);
            }
            if json {
                print_json(&serde_json::to_value(&st).map_err(Failure::work)?)?;
            } else {
                print_text(&st);
            }
            if wait && st.totals.done < st.totals.files {
                return Err(Failure::work(anyhow::anyhow!(
                    "batch {}: {} of {} files not done{}",
                    st.batch,
                    st.totals.files - st.totals.done,
                    st.totals.files,
                    if st.totals.failed > 0 {
                        format!("; `scopeflow batch resume {}` retries them", st.batch)
                    } else {
                        String::new()
                    }
                )));
            }
            Ok(())
        }
        BatchCommand::Resume { id, to } => {
            let dir = scopeflow_batch::locate(&id, to.as_deref()).map_err(fail)?;
            let r = scopeflow_batch::resume(&dir, &exe()?).map_err(fail)?;
            if !r.busy.is_empty() {
                eprintln!(
                    "scopeflow: tasks {:?} are still pending or running in Slurm: left alone",
                    r.busy
                );
            }
            if r.tasks.is_empty() {
                println!("nothing to resume: every file is done or in a running task");
            } else if let Some(job) = &r.job {
                println!("resubmitted tasks {:?} as job array {job}", r.tasks);
            } else if let Some(s) = &r.local {
                settle_quietly(&dir);
                println!(
                    "tasks {:?}: converted {} files, {} failed",
                    r.tasks, s.done, s.failed
                );
            }
            Ok(())
        }
        BatchCommand::Task { dir, task } => {
            // Slurm gives the task its CPUs; rayon would otherwise take every core of the node.
            if let Some(n) = std::env::var("SLURM_CPUS_PER_TASK")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
            {
                let _ = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build_global();
            }
            let job = match (
                std::env::var("SLURM_ARRAY_JOB_ID"),
                std::env::var("SLURM_ARRAY_TASK_ID"),
            ) {
                (Ok(j), Ok(t)) => Some(format!("{j}_{t}")),
                _ => None,
            };
            let s = scopeflow_batch::run_task(&dir, task, job).map_err(fail)?;
            eprintln!(
                "scopeflow: task {task}: {} converted, {} already done, {} failed",
                s.done, s.skipped, s.failed
            );
            if s.failed > 0 {
                return Err(Failure::work(anyhow::anyhow!(
                    "task {task}: {} files failed (see `scopeflow batch status`)",
                    s.failed
                )));
            }
            Ok(())
        }
    }
}

/// The manifest merge and server report after a run: a failure is said, not fatal (the next
/// `status --wait` or `resume` does it again).
fn settle_quietly(dir: &Path) {
    match scopeflow_batch::settle(dir) {
        Ok(Some(n)) if n > 0 => eprintln!("scopeflow: reported {n} events to the central server"),
        Ok(_) => {}
        Err(e) => eprintln!("scopeflow: warning: {e}"),
    }
}

fn print_text(st: &Status) {
    for f in &st.files {
        match &f.error {
            Some(e) => println!("{:<8} {}  ({e})", f.state, f.path),
            None => println!("{:<8} {}", f.state, f.path),
        }
    }
    for t in &st.tasks {
        println!(
            "task {:>4} {:<12} {:<11} {}/{} done, {} failed",
            t.task,
            t.job.as_deref().unwrap_or("-"),
            t.state,
            t.done,
            t.files,
            t.failed
        );
    }
    let tot = &st.totals;
    println!(
        "batch {}: {} files ({:.1} MB): {} done, {} running, {} pending, {} failed{}",
        st.batch,
        tot.files,
        tot.bytes as f64 / 1e6,
        tot.done,
        tot.running,
        tot.pending,
        tot.failed,
        st.throughput_mb_s
            .map_or(String::new(), |t| format!(", {t:.1} MB/s"))
    );
}
