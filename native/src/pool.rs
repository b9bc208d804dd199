//! The core's threads: one rayon pool per process, one thread per core.
//!
//! A process forked from one whose pool had started (a ProcessPoolExecutor with "fork")
//! inherits the pool's bookkeeping but not its threads, and would wait on them forever;
//! so the pool is keyed by the process id and a child builds its own. blst's own thread
//! pool has the same flaw and is compiled out (`no-threads`): its msms run on these.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, Mutex};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

pub fn get() -> Arc<ThreadPool> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return pool.clone();
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("clearnode-native-{i}"))
            .build()
            .expect("cannot start the native core's threads"),
    );
    *slot = Some((pid, pool.clone()));
    pool
}

/// Run `f` on the pool (its rayon calls use the pool's threads).
pub fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    get().install(f)
}
