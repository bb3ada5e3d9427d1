//! The engine's tokio runtime, shared by every database handle in the process.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Runtime;

/// How often a blocking wait wakes to let the caller check for interruption (Ctrl-C).
pub const TICK: Duration = Duration::from_millis(50);

/// The shared runtime. It mostly moves bytes (decoding runs on the rayon pool, but for
/// partitioned reads on small machines: see `Limit::Cores`), so it gets one worker per four
/// cores: fewer threads mean fewer cross-thread wake-ups between a connection's task and the
/// read task it feeds, which cost more CPU than they save.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers())
            .thread_name("data-bridge-io")
            .enable_all()
            .build()
            .expect("the OS refused to start the I/O runtime's threads")
    })
}

/// The cores of this machine.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The shared runtime's worker threads: one per four cores.
pub(crate) fn workers() -> usize {
    (cores() / 4).clamp(1, 8)
}

/// Spawns `future` on the current runtime, or on the shared one when called from outside any
/// (a `Drop` may run on either): for cleanup that must not block the dropping thread.
pub(crate) fn spawn_detached(future: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn(future)),
        Err(_) => drop(runtime().spawn(future)),
    }
}

/// Runs `future` to completion from a thread outside the runtime, calling `interrupted` every
/// [`TICK`]; when it returns an error the future is dropped (cancelling its work) and the
/// error returned.
pub fn block_on_interruptible<F, E>(future: F, mut interrupted: impl FnMut() -> Result<(), E>) -> Result<F::Output, E>
where
    F: Future,
{
    let mut future = std::pin::pin!(future);
    loop {
        // The timer must be created inside the runtime, hence the async block.
        match runtime().block_on(async { tokio::time::timeout(TICK, future.as_mut()).await }) {
            Ok(output) => return Ok(output),
            Err(_elapsed) => interrupted()?,
        }
    }
}
