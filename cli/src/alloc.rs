//! The memory allocator: the system's, with one change. When the system refuses an
//! allocation (a tight `ulimit -v`, a container's memory limit), Rust would print a bare
//! "memory allocation of N bytes failed" and abort with SIGABRT (exit 134, maybe a core
//! file). Here the CLI says what happened and what to do, and ends with exit code 1 at
//! once, as a kill would end it: what the design guarantees under a kill (no torn
//! credentials file, no lock left behind) holds the same way. Nothing that could allocate
//! runs on that path.

use std::alloc::{GlobalAlloc, Layout, System};

pub(crate) struct Allocator;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

#[allow(unsafe_code)]
// SAFETY: every call is passed to the system allocator unchanged; only a null answer is
// acted on, and that action never returns.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded as is
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory(new_size);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Writes the error (without allocating) and ends the process.
#[cold]
#[allow(unsafe_code)]
fn out_of_memory(size: usize) -> ! {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let parts: [&[u8]; 3] = [
        b"error: out of memory (the system refused ",
        &digits[at..],
        b" bytes)\n  hint: raise the process's memory limit (`ulimit -v`, the container's \
          memory limit) or free some memory, then run the command again\n",
    ];
    for part in parts {
        // SAFETY: write(2) reads `part.len()` bytes of a live slice; a failure is ignored,
        // there is nothing else to tell
        unsafe {
            libc::write(2, part.as_ptr().cast(), part.len());
        }
    }
    // SAFETY: _exit ends the process without running anything that could allocate
    unsafe { libc::_exit(1) }
}
