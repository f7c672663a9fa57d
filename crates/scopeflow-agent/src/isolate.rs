//! Panic isolation: a panic in a reader, a destination back-end or a dependency fails that
//! file (or that copy) with the panic's message, like any other failure, instead of taking
//! the agent, the other files or the other destinations with it.
//!
//! Test hooks, honoured only by debug builds (`cfg(debug_assertions)`); release builds ignore
//! the variables:
//! - `SCOPEFLOW_TEST_PANIC=reader:NAME` panics while processing a raw file named NAME;
//! - `SCOPEFLOW_TEST_PANIC=destination:NAME` panics while delivering to destination NAME;
//! - `SCOPEFLOW_TEST_ABORT_ON=NAME` aborts the process (as a failed allocation does) while
//!   processing a raw file named NAME.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::deliver::DeliverError;
use crate::process::ProcessError;

/// Runs `f`, the processing of `raw`; a panic becomes [`ProcessError::Input`] naming the file.
pub(crate) fn file<T>(
    raw: &Path,
    f: impl FnOnce() -> Result<T, ProcessError>,
) -> Result<T, ProcessError> {
    let name = raw.file_name().map(|n| n.to_string_lossy().into_owned());
    catch_unwind(AssertUnwindSafe(|| {
        test_hooks::processing(name.as_deref().unwrap_or(""));
        f()
    }))
    .unwrap_or_else(|p| {
        Err(ProcessError::Input(format!(
            "{}: panicked while processing: {}",
            raw.display(),
            message(p.as_ref())
        )))
    })
}

/// Awaits `fut`, the delivery of one copy to `destination`; a panic becomes
/// [`DeliverError::Panicked`].
pub(crate) async fn copy<T>(
    destination: &str,
    fut: impl Future<Output = Result<T, DeliverError>>,
) -> Result<T, DeliverError> {
    let guarded = async {
        test_hooks::delivering(destination);
        fut.await
    };
    CatchUnwind(Box::pin(guarded)).await.unwrap_or_else(|p| {
        Err(DeliverError::Panicked {
            destination: destination.to_owned(),
            message: message(p.as_ref()),
        })
    })
}

/// Awaits a whole job: whatever panics outside [`file`] and [`copy`] (a journal call, our own
/// code) is logged, and the job ends as if interrupted, to be run again.
pub(crate) async fn job(rel: &str, fut: impl Future<Output = ()>) {
    if let Err(p) = CatchUnwind(Box::pin(fut)).await {
        tracing::error!(file = rel, panic = %message(p.as_ref()), "the job panicked");
    }
}

/// The text a panic was raised with.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic without a message".to_owned()
    }
}

/// A future whose panics (while being polled) come out as `Err(payload)`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

#[cfg(debug_assertions)]
mod test_hooks {
    fn var(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    pub(super) fn processing(file: &str) {
        if var("SCOPEFLOW_TEST_ABORT_ON").is_some_and(|v| v == file) {
            eprintln!("SCOPEFLOW_TEST_ABORT_ON: aborting while processing {file}");
            std::process::abort();
        }
        if var("SCOPEFLOW_TEST_PANIC").is_some_and(|v| v.strip_prefix("reader:") == Some(file)) {
            panic!("SCOPEFLOW_TEST_PANIC: a reader panicked on {file}");
        }
    }

    pub(super) fn delivering(destination: &str) {
        if var("SCOPEFLOW_TEST_PANIC")
            .is_some_and(|v| v.strip_prefix("destination:") == Some(destination))
        {
            panic!("SCOPEFLOW_TEST_PANIC: destination {destination} panicked");
        }
    }
}

#[cfg(not(debug_assertions))]
mod test_hooks {
    pub(super) fn processing(_file: &str) {}
    pub(super) fn delivering(_destination: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_reader_fails_its_file() {
        let r = file(Path::new("acq/a.tif"), || -> Result<(), ProcessError> {
            panic!("index out of bounds")
        });
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("acq/a.tif") && e.contains("index out of bounds"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_panicking_destination_fails_its_copy() {
        let r: Result<(), _> = copy("objects", async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("signing failed");
            }
            Ok(())
        })
        .await;
        let e = r.unwrap_err().to_string();
        assert!(e.contains("objects") && e.contains("signing failed"), "{e}");
        assert!(copy("nas", async { Ok(1) }).await.is_ok());
    }
}
