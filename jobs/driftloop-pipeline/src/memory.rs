//! How a driftloop process gives freed memory back to the system.
//!
//! glibc's allocator starts by serving large blocks (128 KiB and up) with their own
//! mappings, returned to the system on free, but raises that threshold each time such a
//! block is freed, up to 32 MiB, and trims its heaps only above twice the threshold. A
//! train job allocates and frees blocks of every size by the hundred (a bulk read's
//! rounds, the training rows, each fit's buffers), so the threshold climbs and the freed
//! blocks stay with the process: a train job over 1,000,000 rows peaked at 265 MB of RSS.
//! Fixing the trim threshold keeps the mapping threshold where it starts, so large
//! blocks go back when freed: 172 to 181 MB for the same job, in about the same time
//! (README, "Drift at scale"). glibc also gives threads heaps of their own, up to eight a
//! core, and memory a thread frees stays in its heap; at one heap a core ([`arenas`]) the
//! same job peaks about 15 MB lower again.

/// What the trim threshold is fixed at: free memory at the top of a heap beyond this much
/// goes back to the system. Lower costs time in `free` without saving more.
pub const TRIM_THRESHOLD_BYTES: i32 = 4 << 20;

/// How many heaps (arenas) glibc keeps at most: one a core. Its default, eight a core,
/// lets each of a job's threads keep a heap of its own, and what a thread frees stays in
/// its heap for that thread: the train job over 1,000,000 rows peaked at 161 to 174 MB
/// with the default, 154 to 158 MB with two on two cores, in the same time (README,
/// "Drift at scale").
pub fn arenas() -> i32 {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 64) as i32
}

/// Sets the allocator up as the module documentation says. Call it once, first thing in
/// `main`; elsewhere than glibc it does nothing.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a parameter of the process's allocator; any value is valid
    // for M_TRIM_THRESHOLD and any positive one for M_ARENA_MAX, and it is called before
    // the process allocates much.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
        libc::mallopt(libc::M_ARENA_MAX, arenas());
    }
}
