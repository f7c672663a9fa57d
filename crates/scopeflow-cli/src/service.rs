//! Running the agent as a Windows service (acquisition PCs mostly run Windows):
//! `scopeflow service install --config C:\ProgramData\scopeflow\confocal-1.yaml --name confocal-1`
//! registers `scopeflow service run …` with the Service Control Manager, which then starts it at
//! boot and stops it like any service; a stop reaches the agent as its shutdown signal.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::anyhow;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::Failure;
use crate::commands::load_pipeline;

/// The dispatcher calls `service_main` with no way to pass our arguments: they wait here.
static CONFIG: OnceLock<(PathBuf, String)> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// What the Service Control Manager runs.
pub(crate) fn run(config: &Path, name: &str) -> Result<(), Failure> {
    if let Ok(pipeline) = scopeflow_pipeline::load(config) {
        let log = log_file(&pipeline.state);
        if let Err(e) = init_file_logging(&log) {
            eprintln!("scopeflow service: {}: {e}", log.display());
        }
    }
    let _ = CONFIG.set((config.to_path_buf(), name.to_string()));
    service_dispatcher::start(name, ffi_service_main).map_err(Failure::work)
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = serve() {
        tracing::error!(error = %format!("{e:#}"), "scopeflow service stopped on an error");
    }
}

fn serve() -> anyhow::Result<()> {
    let (config, name) = CONFIG
        .get()
        .cloned()
        .ok_or_else(|| anyhow!("service started without a configuration"))?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let on_stop = stop.clone();
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            on_stop.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = service_control_handler::register(&name, handler)?;
    let report = |state: ServiceState, accept: ServiceControlAccept, code: u32| {
        status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: ServiceExitCode::Win32(code),
            checkpoint: 0,
            wait_hint: Duration::from_secs(10),
            process_id: None,
        })
    };
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        0,
    )?;
    let outcome = scopeflow_pipeline::load(&config)
        .map_err(|e| anyhow!("{e}"))
        .and_then(|pipeline| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(scopeflow_agent::run(pipeline, false, async move {
                    stop.notified().await
                }))
                .map_err(anyhow::Error::from)
        });
    report(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        u32::from(outcome.is_err()),
    )?;
    outcome.map(|_| ())
}

/// The service's log: `scopeflow-agent.log` in the folder of the journal (`state:`).
fn log_file(journal: &Path) -> PathBuf {
    journal
        .parent()
        .unwrap_or(Path::new("."))
        .join("scopeflow-agent.log")
}

/// Logs (level info, or `SCOPEFLOW_LOG`) appended to `path`. A log past 64 MiB at start is
/// kept as `scopeflow-agent.log.1` (replacing the previous one), so the log stays bounded.
fn init_file_logging(path: &Path) -> std::io::Result<()> {
    const KEEP: u64 = 64 << 20;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > KEEP) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let _ = std::fs::remove_file(&old);
        std::fs::rename(path, &old)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCOPEFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init();
    Ok(())
}

/// Registers the service (started at boot, as LocalSystem unless changed in services.msc).
pub(crate) fn install(config: &Path, name: &str) -> Result<(), Failure> {
    load_pipeline(config)?;
    // `absolute`, not `canonicalize`: the latter gives a `\\?\C:\…` path, in which `/` is not a
    // separator, and the pipeline's relative paths (`nas/confocal-1`) are joined onto it.
    let config = std::path::absolute(config)
        .map_err(|e| Failure::work(anyhow!("{}: {e}", config.display())))?;
    let exe = std::env::current_exe().map_err(Failure::work)?;
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(Failure::work)?;
    let info = ServiceInfo {
        name: OsString::from(name),
        display_name: OsString::from(format!("scopeflow agent ({name})")),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec![
            "service".into(),
            "run".into(),
            "--config".into(),
            config.clone().into_os_string(),
            "--name".into(),
            name.into(),
        ],
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .map_err(Failure::work)?;
    service
        .set_description("Watches acquisition folders and delivers verified copies (scopeflow)")
        .map_err(Failure::work)?;
    println!(
        "installed service {name}; start it with `sc start {name}`; it logs to {}",
        scopeflow_pipeline::load(&config)
            .map(|p| log_file(&p.state).display().to_string())
            .unwrap_or_default()
    );
    Ok(())
}

/// Stops (if running) and removes the service.
pub(crate) fn uninstall(name: &str) -> Result<(), Failure> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(Failure::work)?;
    let service = manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(Failure::work)?;
    if service.query_status().map_err(Failure::work)?.current_state != ServiceState::Stopped {
        service.stop().map_err(Failure::work)?;
        // Windows removes a service only once it has stopped: wait for the agent to finish
        // its shutdown (jobs in flight get a few seconds), so that the command returns when
        // the service is gone, not merely marked for deletion.
        if !stopped_within(&service, STOP_WAIT)? {
            service.delete().map_err(Failure::work)?;
            println!(
                "service {name} did not stop within {} s; it is removed once it stops",
                STOP_WAIT.as_secs()
            );
            return Ok(());
        }
    }
    service.delete().map_err(Failure::work)?;
    println!("removed service {name}");
    Ok(())
}

/// How long `service uninstall` waits for the agent to stop: beyond its shutdown grace.
const STOP_WAIT: Duration = Duration::from_secs(30);

fn stopped_within(
    service: &windows_service::service::Service,
    limit: Duration,
) -> Result<bool, Failure> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if service.query_status().map_err(Failure::work)?.current_state == ServiceState::Stopped {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(false)
}
