//! The acquisition PC's own screen, where the person at the microscope is looking.
//!
//! The alarm is always written to the log (`scopeflow::alarm`), which is what counts as
//! delivered: an agent running as a service may have no desktop to show anything on, and a
//! notification nobody can receive must not be retried forever. On top of it, a native
//! notification is shown where a session exists:
//! - freedesktop systems (Linux, BSD): `org.freedesktop.Notifications` on the session's D-Bus
//!   (what GNOME, KDE, XFCE, dunst… display), found through `DBUS_SESSION_BUS_ADDRESS` or
//!   `$XDG_RUNTIME_DIR/bus`; a system service has neither, so only the log line remains;
//! - Windows: a message box on the active console session (`WTSSendMessageW`), which a
//!   service in session 0 can show too, unlike toast notifications; it does not wait for the
//!   button and closes itself after [`WINDOWS_TIMEOUT_S`].

/// How long the Windows message box stays up unless someone closes it.
#[cfg_attr(not(windows), allow(dead_code))]
const WINDOWS_TIMEOUT_S: u32 = 600;

/// Writes the alarm to the log, then shows it natively where possible; a native failure
/// is logged, never an error (the log line was written).
pub(super) async fn show(title: &str, text: &str) {
    tracing::warn!(target: "scopeflow::alarm", "{text}");
    match native(title, text).await {
        Ok(()) => tracing::debug!("QC alarm shown on the desktop"),
        Err(why) => {
            tracing::info!(reason = %why, "QC alarm not shown on the desktop (log line only)")
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
async fn native(title: &str, text: &str) -> Result<(), String> {
    let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| std::path::Path::new(&d).join("bus"))
        .is_some_and(|p| p.exists());
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !runtime_bus {
        return Err(
            "no desktop session (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus)".into(),
        );
    }
    notify_rust::Notification::new()
        .appname("scopeflow")
        .summary(title)
        .body(text)
        .icon("dialog-warning")
        .urgency(notify_rust::Urgency::Critical)
        .show_async()
        .await
        .map(drop)
        .map_err(|e| format!("desktop notification: {e}"))
}

#[cfg(windows)]
async fn native(title: &str, text: &str) -> Result<(), String> {
    let (title, text) = (title.to_owned(), text.to_owned());
    tokio::task::spawn_blocking(move || windows_message(&title, &text))
        .await
        .map_err(|e| format!("desktop message: {e}"))?
}

#[cfg(windows)]
#[allow(unsafe_code, reason = "Win32 calls, no safe wrapper in windows-sys")]
fn windows_message(title: &str, text: &str) -> Result<(), String> {
    use windows_sys::Win32::System::RemoteDesktop::{
        WTS_CURRENT_SERVER_HANDLE, WTSGetActiveConsoleSessionId, WTSSendMessageW,
    };
    use windows_sys::Win32::UI::WindowsAndMessaging::{MB_ICONWARNING, MB_OK, MB_SETFOREGROUND};
    let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let (title, text) = (wide(title), wide(text));
    // SAFETY: plain Win32 calls; the buffers outlive them and their lengths are in bytes as
    // WTSSendMessageW expects.
    unsafe {
        let session = WTSGetActiveConsoleSessionId();
        if session == u32::MAX {
            return Err("no user is logged on at the console".into());
        }
        let mut response = 0;
        let ok = WTSSendMessageW(
            WTS_CURRENT_SERVER_HANDLE,
            session,
            title.as_ptr(),
            (title.len() * 2) as u32,
            text.as_ptr(),
            (text.len() * 2) as u32,
            MB_OK | MB_ICONWARNING | MB_SETFOREGROUND,
            WINDOWS_TIMEOUT_S,
            &mut response,
            0,
        );
        if ok == 0 {
            return Err(format!(
                "WTSSendMessageW: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

#[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
async fn native(_title: &str, _text: &str) -> Result<(), String> {
    Err("no native notification on this system".into())
}
