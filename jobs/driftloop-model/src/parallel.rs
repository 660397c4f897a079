//! A small scoped thread pool: maps a function over items on up to `threads` threads and
//! returns the results in the items' order, so the outcome never depends on scheduling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = threads.max(1).min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let result = f(&items[i]);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

/// Gives back to the system the memory threads freed, after work that spread over
/// threads and is over (a cross-validation). glibc keeps what a thread frees in that
/// thread's heap, whole pages of it, until a trim; elsewhere this does nothing.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the system;
    // it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order_whatever_the_threads() {
        let items: Vec<u64> = (0..50).collect();
        for threads in [1, 2, 7] {
            let squares = super::parallel_map(&items, threads, |v| v * v);
            assert_eq!(squares, items.iter().map(|v| v * v).collect::<Vec<_>>());
        }
    }
}
