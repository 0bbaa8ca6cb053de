//! Where the keep bits of the steps go: nowhere, a packed bit mask, or one
//! byte per element.

use super::lanes::Gen16;
use super::LANES;
use core::marker::PhantomData;

/// A consumer of keep bits, in element order.
///
/// # Safety
/// Implementations write through raw pointers: the creator of a sink
/// guarantees its buffer holds every element that will be pushed.
pub unsafe trait Sink: Sized {
    /// The keep bits of the next `cnt` (at most 32) elements, bit 0 first.
    ///
    /// # Safety
    /// The buffer holds those elements.
    unsafe fn push(&mut self, bits: u32, cnt: usize);
    /// The keep bits of the next 64 elements.
    ///
    /// # Safety
    /// As [`Sink::push`].
    #[inline(always)]
    unsafe fn push_word(&mut self, bits: u64) {
        // SAFETY: forwarded contract.
        unsafe {
            self.push(bits as u32, 32);
            self.push((bits >> 32) as u32, 32);
        }
    }
    /// A sink for the elements from `ahead` on, written independently of
    /// this one; `None` where that cannot be done.
    ///
    /// # Safety
    /// The buffer holds at least `ahead` more elements.
    unsafe fn fork(&self, _ahead: usize) -> Option<Self> {
        None
    }
    /// Called once when the piece is done.
    ///
    /// # Safety
    /// As [`Sink::push`].
    unsafe fn finish(&mut self) {}
}

/// No mask.
pub struct NoSink;

// SAFETY: writes nothing.
unsafe impl Sink for NoSink {
    #[inline(always)]
    unsafe fn push(&mut self, _: u32, _: usize) {}
    #[inline(always)]
    unsafe fn fork(&self, _: usize) -> Option<Self> {
        Some(NoSink)
    }
}

/// Packs keep bits LSB-first into whole `u64` words. The piece starts at a
/// word boundary; the last word is written with zeros past the end.
pub struct BitSink {
    words: *mut u64,
    acc: u64,
    fill: usize,
}

impl BitSink {
    /// A sink writing from `words` on.
    pub fn new(words: *mut u64) -> Self {
        BitSink {
            words,
            acc: 0,
            fill: 0,
        }
    }
}

// SAFETY: writes only whole words covering the pushed elements, which the
// creator guarantees the buffer holds.
unsafe impl Sink for BitSink {
    #[inline(always)]
    unsafe fn push_word(&mut self, bits: u64) {
        // SAFETY: the buffer holds these 64 elements (caller's contract).
        unsafe {
            if self.fill == 0 {
                self.words.write(bits);
                self.words = self.words.add(1);
            } else {
                self.push(bits as u32, 32);
                self.push((bits >> 32) as u32, 32);
            }
        }
    }
    /// Only at a word boundary (the usual case: offsets that are multiples
    /// of 64), so that the two sinks never share a word.
    #[inline(always)]
    unsafe fn fork(&self, ahead: usize) -> Option<Self> {
        // SAFETY: `ahead / 64` words are within the buffer (caller's
        // contract).
        (self.fill == 0 && ahead.is_multiple_of(64))
            .then(|| BitSink::new(unsafe { self.words.add(ahead / 64) }))
    }
    #[inline(always)]
    unsafe fn push(&mut self, bits: u32, cnt: usize) {
        let bits = u64::from(bits);
        self.acc |= bits << self.fill;
        self.fill += cnt;
        if self.fill >= 64 {
            // SAFETY: the word holds pushed elements (caller's contract).
            unsafe {
                self.words.write(self.acc);
                self.words = self.words.add(1);
            }
            self.fill -= 64;
            // The bits of this push that did not fit (none when fill == 0).
            self.acc = if self.fill == 0 {
                0
            } else {
                bits >> (cnt - self.fill)
            };
        }
    }
    #[inline(always)]
    unsafe fn finish(&mut self) {
        if self.fill > 0 {
            // SAFETY: the word holds the last pushed elements.
            unsafe { self.words.write(self.acc) }
        }
    }
}

/// One byte per element: 1 kept, 0 dropped.
pub struct ByteSink<G> {
    bytes: *mut u8,
    gen: PhantomData<G>,
}

impl<G> ByteSink<G> {
    /// A sink writing from `bytes` on.
    pub fn new(bytes: *mut u8) -> Self {
        ByteSink {
            bytes,
            gen: PhantomData,
        }
    }
}

// SAFETY: writes one byte per pushed element.
unsafe impl<G: Gen16> Sink for ByteSink<G> {
    #[inline(always)]
    unsafe fn fork(&self, ahead: usize) -> Option<Self> {
        // SAFETY: within the buffer (caller's contract).
        Some(ByteSink::new(unsafe { self.bytes.add(ahead) }))
    }
    #[inline(always)]
    unsafe fn push(&mut self, bits: u32, cnt: usize) {
        let mut done = 0;
        // SAFETY: the buffer holds `cnt` more bytes (caller's contract); the
        // ISA of `G` is available wherever a sink of it runs.
        unsafe {
            while cnt - done >= LANES {
                G::store_bytes16(bits >> done, self.bytes);
                self.bytes = self.bytes.add(LANES);
                done += LANES;
            }
            while done < cnt {
                let bytes = spread_bits((bits >> done) as u8).to_le_bytes();
                let take = (cnt - done).min(8);
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.bytes, take);
                self.bytes = self.bytes.add(take);
                done += take;
            }
        }
    }
}

/// Byte `k` of the result is bit `k` of `b` (0 or 1).
#[inline(always)]
pub fn spread_bits(b: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    // Byte k keeps only bit k of its copy of `b`: 0 or 2^k, at most 0x80, so
    // adding 0x7f sets the byte's top bit exactly when the bit was set.
    let isolated = (u64::from(b) * LOW) & 0x8040_2010_0804_0201;
    ((isolated + 0x7f7f_7f7f_7f7f_7f7f) & 0x8080_8080_8080_8080) >> 7
}

/// Bit `k` of the result is set iff byte `k` of `w` is non-zero.
#[inline(always)]
pub fn gather_nonzero(w: u64) -> u32 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Top bit of each byte: set iff the byte is non-zero (no carries cross
    // bytes, since the low seven bits are added to 0x7f at most).
    let nz = (((w & !HIGH) + !HIGH) | w) & HIGH;
    // Multiply-gather: byte k's bit lands on bit 56 + k, with no carries.
    ((nz >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}
