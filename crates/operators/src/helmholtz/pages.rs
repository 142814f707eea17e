//! Multi-megabyte work buffers on transparent huge pages where the kernel allows it.
//!
//! The solves scatter and gather rows of a 16 MB right-hand-side block in the factor's order
//! and of the 40 MB factor: with 4 KiB pages nearly every such access misses the TLB. On Linux
//! with transparent huge pages in `madvise` mode (the common default) a buffer gets 2 MiB pages
//! only when asked, before its pages are first touched. Elsewhere, or when the kernel declines,
//! the buffer is an ordinary one: the advice changes speed, never values.

/// A vector of `len` copies of `value`, its 2 MiB-aligned interior advised onto huge pages
/// before the first write.
pub(crate) fn filled<T: Copy>(len: usize, value: T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(len);
    advise_huge(v.as_mut_ptr().cast::<u8>(), len * std::mem::size_of::<T>());
    v.resize(len, value);
    v
}

/// Resize `v` to `len` copies of `value` (contents not kept), reallocating onto huge pages when
/// its capacity is short.
pub(crate) fn refill<T: Copy>(v: &mut Vec<T>, len: usize, value: T) {
    if v.capacity() < len {
        *v = filled(len, value);
    } else {
        v.clear();
        v.resize(len, value);
    }
}

const HUGE: usize = 2 << 20;

#[cfg(target_os = "linux")]
fn advise_huge(ptr: *mut u8, bytes: usize) {
    if bytes < 2 * HUGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation behind `ptr`; MADV_HUGEPAGE changes
        // only how the kernel backs those pages, not their contents or validity. A refusal
        // (an old kernel, THP disabled) leaves ordinary pages and is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_ptr: *mut u8, _bytes: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_and_refilled_buffers_hold_the_value_at_every_size() {
        for len in [0, 1, 1000, 3 * HUGE / 8 + 5] {
            let v = filled(len, 7u64);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 7));
            let mut w = v;
            refill(&mut w, len / 2, 3u64);
            assert_eq!(w.len(), len / 2);
            assert!(w.iter().all(|&x| x == 3));
            refill(&mut w, len + 10, 1u64);
            assert_eq!(w.len(), len + 10);
            assert!(w.iter().all(|&x| x == 1));
        }
    }
}
