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
//! (README, "Drift at scale").

/// What the trim threshold is fixed at: free memory at the top of a heap beyond this much
/// goes back to the system. Lower costs time in `free` without saving more.
pub const TRIM_THRESHOLD_BYTES: i32 = 4 << 20;

/// Sets the allocator up as the module documentation says. Call it once, first thing in
/// `main`; elsewhere than glibc it does nothing.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a parameter of the process's allocator; any value is valid
    // for M_TRIM_THRESHOLD, and it is called before the process allocates much.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}
