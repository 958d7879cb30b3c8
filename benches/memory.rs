//! Peak heap of the processor for one subscription batch of about 1 MB compressed, as large as
//! an asynchronous Lambda invocation gets. A counting allocator around the system one records
//! the high-water mark from just before the event body is parsed to the end of the handler.
//!
//! Run: `cargo bench --bench memory` (figures in the README).

#[expect(
    dead_code,
    reason = "the whole corpus is the pipeline benchmark's; one batch is enough here"
)]
mod corpus;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use corpus::{batch, data_of, processor};

struct PeakAlloc;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    // Forwarded, so that buffers grow in place as they do without the counter.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let mut invocations = 1000;
    let (event, text) = loop {
        let (event, text) = batch(9_999, invocations, false);
        if data_of(&event).len() * 3 / 4 >= 1_000_000 {
            break (event, text);
        }
        invocations += 500;
    };
    let compressed = data_of(&event).len() * 3 / 4;
    let body = event.to_string();
    let mut p = processor();
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    // As in Lambda: the runtime parses the event body, then the handler runs.
    let parsed: Value = serde_json::from_str(&body).expect("event JSON");
    let outcome = p.handle_event(&parsed);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop((parsed, outcome));
    println!(
        "peak heap for one batch: {:.1} MB ({:.2} MB compressed, {:.1} MB of log text, {invocations} invocations)",
        peak as f64 / 1e6,
        compressed as f64 / 1e6,
        text as f64 / 1e6
    );
}
