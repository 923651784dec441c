//! gzip (RFC 1952) of a response body, with our own deflate (RFC 1951) encoder: LZ77 matches
//! found through a hash chain over the whole body (it is in memory, so there is no window to
//! slide), then each block of tokens written as the smallest of dynamic Huffman, fixed
//! Huffman or stored. A crate would cost more binary than the ~500 lines here (DESIGN.md:
//! "gzip" has the numbers and why this level).
//!
//! [`Gzip`] allocates its tables once; the output `Vec` is the caller's and keeps its
//! capacity, so compressing the same-sized body again does not touch the heap.

/// Deflate's largest distance; also the size of the chain table.
const WINDOW: usize = 1 << 14;
const HASH_BITS: u32 = 12;
const HASH_SIZE: usize = 1 << HASH_BITS;
/// Matches are found through a hash of 4 bytes: a 3-byte match saves too little in text.
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 258;
/// Tokens per block: the Huffman codes adapt this often.
const BLOCK_TOKENS: usize = 1 << 12;
/// A token with this bit is a match: `(len - 3) << 16 | (dist - 1)`; else a literal byte.
const MATCH: u32 = 1 << 31;
const END_OF_BLOCK: usize = 256;
/// Literal/length and distance alphabets (RFC 1951 3.2.5), and the code length alphabet.
const LITLEN: usize = 286;
const DISTS: usize = 30;
const CODELEN: usize = 19;
/// The order in which code length code lengths are sent (RFC 1951 3.2.7).
const CODELEN_ORDER: [usize; CODELEN] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// How hard the match finder looks.
#[derive(Debug, Clone, Copy)]
pub struct Level {
    /// Candidates tried per position.
    pub chain: u16,
    /// A match this long is taken at once.
    pub nice: u16,
    /// Lazy matching (look one byte further before taking a match) below this length; 0 takes
    /// every match at once.
    pub lazy: u16,
    /// The positions inside a match are indexed for matches shorter than this (258: always).
    pub insert: u16,
}

/// The level proctap serves with; DESIGN.md ("gzip") has the measurements behind it.
pub const LEVEL: Level = Level {
    chain: 4,
    nice: 64,
    lazy: 16,
    insert: 16,
};

/// One canonical Huffman code: lengths, and codes bit-reversed for LSB-first output.
struct Code<const N: usize> {
    lens: [u8; N],
    codes: [u16; N],
}

impl<const N: usize> Code<N> {
    fn new() -> Self {
        Code {
            lens: [0; N],
            codes: [0; N],
        }
    }

    fn assign(&mut self) {
        assign_codes(&self.lens, &mut self.codes);
    }

    /// Huffman code lengths for `freq`, none longer than `max_bits` (≤ 15).
    fn build(&mut self, freq: &[u32; N], max_bits: usize) {
        huffman_lengths(freq, max_bits, &mut self.lens);
        self.assign();
    }

    /// Bits to send the symbols counted in `freq` with this code.
    fn cost(&self, freq: &[u32; N]) -> u64 {
        cost(freq, &self.lens)
    }
}

// The functions below take slices, not arrays, so that the three alphabets share one copy of
// the code in the binary.

#[inline(never)]
fn cost(freq: &[u32], lens: &[u8]) -> u64 {
    freq.iter()
        .zip(lens)
        .map(|(&f, &l)| u64::from(f) * u64::from(l))
        .sum()
}

/// Codes for `lens` (RFC 1951 3.2.2).
#[inline(never)]
fn assign_codes(lens: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l & 15)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (l, c) in lens.iter().zip(codes.iter_mut()) {
        let l = usize::from(l & 15);
        if l > 0 {
            *c = next[l].reverse_bits() >> (16 - l);
            next[l] += 1;
        }
    }
}

/// Sorts symbols by (frequency, symbol): a shell sort, a few hundred bytes of code where the
/// standard sort would be kilobytes, and quick enough for 286 symbols per block.
fn sort_by_freq(syms: &mut [u16], freq: &[u32]) {
    let key = |s: u16| (freq.get(usize::from(s)).copied().unwrap_or(0), s);
    for gap in [132, 57, 23, 10, 4, 1] {
        for i in gap..syms.len() {
            let v = syms[i];
            let kv = key(v);
            let mut j = i;
            while j >= gap && key(syms[j - gap]) > kv {
                syms[j] = syms[j - gap];
                j -= gap;
            }
            syms[j] = v;
        }
    }
}

/// Writes `lens` for `freq` (the zero-frequency symbols get 0). The tree is built on the
/// symbols sorted by frequency with two queues, then lengths over `max_bits` are folded back
/// by moving leaves up while keeping the Kraft sum at exactly one.
#[inline(never)]
fn huffman_lengths(freq: &[u32], max_bits: usize, lens: &mut [u8]) {
    let max_bits = max_bits.clamp(1, 15);
    lens.fill(0);
    let mut syms = [0u16; 288];
    let mut n = 0;
    for (i, &f) in freq.iter().enumerate() {
        if let (true, Some(slot)) = (f > 0, syms.get_mut(n)) {
            *slot = i as u16;
            n += 1;
        }
    }
    // Decoders want a complete code; with fewer than two symbols, give two symbols one bit.
    if n < 2 {
        let first = if n == 1 { usize::from(syms[0]) } else { 0 };
        for i in [first, usize::from(first == 0)] {
            if let Some(l) = lens.get_mut(i) {
                *l = 1;
            }
        }
        return;
    }
    let syms = &mut syms[..n];
    sort_by_freq(syms, freq);
    // Leaves 0..n (ascending weight), then internal nodes in the order they are made; a
    // node's parent always comes later.
    let mut weight = [0u64; 2 * 288];
    let mut parent = [0u16; 2 * 288];
    if 2 * n > weight.len() {
        return;
    }
    for (w, &s) in weight.iter_mut().zip(syms.iter()) {
        *w = u64::from(freq.get(usize::from(s)).copied().unwrap_or(0));
    }
    let (mut leaf, mut inner) = (0, n);
    for node in n..2 * n - 1 {
        let mut pick = || {
            let take_leaf = leaf < n && (inner >= node || weight[leaf] <= weight[inner]);
            let i = if take_leaf { leaf } else { inner };
            if take_leaf {
                leaf += 1;
            } else {
                inner += 1;
            }
            i
        };
        let (a, b) = (pick(), pick());
        weight[node] = weight[a] + weight[b];
        parent[a] = node as u16;
        parent[b] = node as u16;
    }
    // Depths, root first; `weight` is reused for them.
    let root = 2 * n - 2;
    weight[root] = 0;
    for i in (0..root).rev() {
        weight[i] = weight[usize::from(parent[i])] + 1;
    }
    let mut count = [0u32; 16];
    for &d in &weight[..n] {
        count[(d as usize).min(max_bits)] += 1;
    }
    let kraft =
        |count: &[u32; 16]| -> u32 { (1..=max_bits).map(|l| count[l] << (max_bits - l)).sum() };
    let mut total = kraft(&count);
    while total > 1 << max_bits && count[max_bits] > 0 {
        // One leaf from the deepest level goes beside a leaf one level up, which moves down.
        count[max_bits] -= 1;
        match (1..max_bits).rev().find(|&l| count[l] > 0) {
            Some(l) => {
                count[l] -= 1;
                count[l + 1] += 2;
            }
            None => break,
        }
        total -= 1;
    }
    // The rarest symbols get the longest codes.
    let mut it = syms.iter();
    for l in (1..=max_bits).rev() {
        for _ in 0..count[l] {
            if let Some(len) = it.next().and_then(|&s| lens.get_mut(usize::from(s))) {
                *len = l as u8;
            }
        }
    }
}

/// Index (0..29) into the length codes 257..285 of `len - 3`, its extra bits and their base.
fn length_code(len3: u32) -> (usize, u32, u32) {
    if len3 < 8 {
        return (len3 as usize, 0, len3);
    }
    if len3 == 255 {
        return (28, 0, 255);
    }
    let top = 31 - len3.leading_zeros();
    let code = 4 * (top - 1) + ((len3 >> (top - 2)) & 3);
    let extra = (code >> 2) - 1;
    (code as usize, extra, (4 | (code & 3)) << extra)
}

/// Distance code (0..29) of `dist - 1`, its extra bits and their base.
fn distance_code(dist1: u32) -> (usize, u32, u32) {
    if dist1 < 4 {
        return (dist1 as usize, 0, dist1);
    }
    let top = 31 - dist1.leading_zeros();
    let code = 2 * top + ((dist1 >> (top - 1)) & 1);
    let extra = (code >> 1) - 1;
    (code as usize, extra, (2 | (code & 1)) << extra)
}

/// LSB-first bit output into a byte vector.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Appends the low `n` bits of `v` (at most 32 at once).
    #[inline]
    fn put(&mut self, v: u32, n: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += n;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pads to a byte boundary and writes out what is held.
    fn align(&mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.acc = 0;
    }
}

/// A code length sequence, run-length coded (RFC 1951 3.2.7): `(symbol, extra bits value)`.
struct Header {
    items: [(u8, u8); LITLEN + DISTS],
    len: usize,
    hlit: usize,
    hdist: usize,
    hclen: usize,
    code: Code<CODELEN>,
    freq: [u32; CODELEN],
}

impl Header {
    fn new() -> Self {
        Header {
            items: [(0, 0); LITLEN + DISTS],
            len: 0,
            hlit: 0,
            hdist: 0,
            hclen: 0,
            code: Code::new(),
            freq: [0; CODELEN],
        }
    }

    fn push(&mut self, sym: u8, extra: u8) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (sym, extra);
            self.len += 1;
            self.freq[usize::from(sym).min(CODELEN - 1)] += 1;
        }
    }

    /// Run-length codes the lengths of `lit` and `dist` and builds the code for it.
    fn build(&mut self, lit: &[u8; LITLEN], dist: &[u8; DISTS]) {
        self.hlit = lit
            .iter()
            .rposition(|&l| l > 0)
            .map_or(0, |i| i + 1)
            .max(257);
        self.hdist = dist
            .iter()
            .rposition(|&l| l > 0)
            .map_or(0, |i| i + 1)
            .max(1);
        let mut seq = [0u8; LITLEN + DISTS];
        let total = self.hlit + self.hdist;
        for (s, l) in seq
            .iter_mut()
            .zip(lit[..self.hlit].iter().chain(&dist[..self.hdist]))
        {
            *s = *l;
        }
        self.len = 0;
        self.freq = [0; CODELEN];
        let mut i = 0;
        while i < total {
            let l = seq[i];
            let run = seq[i..total].iter().take_while(|&&x| x == l).count();
            if l == 0 && run >= 3 {
                let run = run.min(138);
                if run >= 11 {
                    self.push(18, (run - 11) as u8);
                } else {
                    self.push(17, (run - 3) as u8);
                }
                i += run;
                continue;
            }
            self.push(l, 0);
            let mut rest = run - 1;
            if l != 0 {
                while rest >= 3 {
                    let n = rest.min(6);
                    self.push(16, (n - 3) as u8);
                    rest -= n;
                }
            }
            for _ in 0..rest {
                self.push(l, 0);
            }
            i += run;
        }
        self.code.build(&self.freq, 7);
        self.hclen = CODELEN_ORDER
            .iter()
            .rposition(|&s| self.code.lens[s] > 0)
            .map_or(0, |i| i + 1)
            .max(4);
    }

    fn extra_bits(sym: u8) -> u32 {
        match sym {
            16 => 2,
            17 => 3,
            18 => 7,
            _ => 0,
        }
    }

    fn cost(&self) -> u64 {
        let items: u64 = self.items[..self.len]
            .iter()
            .map(|&(s, _)| {
                u64::from(self.code.lens[usize::from(s).min(CODELEN - 1)])
                    + u64::from(Self::extra_bits(s))
            })
            .sum();
        5 + 5 + 4 + 3 * self.hclen as u64 + items
    }

    fn write(&self, bits: &mut Bits) {
        bits.put((self.hlit - 257) as u32, 5);
        bits.put((self.hdist - 1) as u32, 5);
        bits.put((self.hclen - 4) as u32, 4);
        for &s in &CODELEN_ORDER[..self.hclen] {
            bits.put(u32::from(self.code.lens[s]), 3);
        }
        for &(s, extra) in &self.items[..self.len] {
            let s = usize::from(s).min(CODELEN - 1);
            bits.put(u32::from(self.code.codes[s]), u32::from(self.code.lens[s]));
            let n = Self::extra_bits(s as u8);
            if n > 0 {
                bits.put(u32::from(extra), n);
            }
        }
    }
}

/// A reusable gzip encoder.
pub struct Gzip {
    level: Level,
    /// Latest position + 1 of each 4-byte hash; 0: none.
    head: Box<[u32; HASH_SIZE]>,
    /// Distance from a position to the previous one with the same hash; 0: none.
    prev: Box<[u16; WINDOW]>,
    tokens: Vec<u32>,
    lit_freq: [u32; LITLEN],
    dist_freq: [u32; DISTS],
    lit: Code<LITLEN>,
    dist: Code<DISTS>,
    fixed_lit: Code<LITLEN>,
    fixed_dist: Code<DISTS>,
    header: Header,
    /// CRC-32 tables for eight bytes at a time, made at start rather than stored in the binary.
    crc: Box<[[u32; 256]; 8]>,
}

impl Gzip {
    pub fn new(level: Level) -> Gzip {
        let mut fixed_lit = Code::new();
        for (i, l) in fixed_lit.lens.iter_mut().enumerate() {
            *l = match i {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        fixed_lit.assign();
        let mut fixed_dist = Code::new();
        fixed_dist.lens = [5; DISTS];
        fixed_dist.assign();
        let mut crc = Box::new([[0u32; 256]; 8]);
        for i in 0..256 {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            crc[0][i] = c;
        }
        for k in 1..8 {
            for i in 0..256 {
                let c = crc[k - 1][i];
                crc[k][i] = (c >> 8) ^ crc[0][(c & 0xff) as usize];
            }
        }
        Gzip {
            level,
            head: Box::new([0; HASH_SIZE]),
            prev: Box::new([0; WINDOW]),
            tokens: Vec::with_capacity(BLOCK_TOKENS),
            lit_freq: [0; LITLEN],
            dist_freq: [0; DISTS],
            lit: Code::new(),
            dist: Code::new(),
            fixed_lit,
            fixed_dist,
            header: Header::new(),
            crc,
        }
    }

    /// Replaces `out` with `input` gzipped. `false` (and `out` empty) for an input too large
    /// for the position table (4 GiB): serve it plain.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if input.len() >= u32::MAX as usize {
            return false;
        }
        // Magic, deflate, no flags, no mtime, no extra flags, OS unknown (as Go writes it).
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        self.deflate(input, out);
        let crc = self.crc32(input);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        true
    }

    /// CRC-32 (ISO-HDLC, gzip's), eight bytes per step.
    pub fn crc32(&self, data: &[u8]) -> u32 {
        let t = &self.crc;
        let mut crc = !0u32;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let a = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let b = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            crc = t[7][(a & 0xff) as usize]
                ^ t[6][((a >> 8) & 0xff) as usize]
                ^ t[5][((a >> 16) & 0xff) as usize]
                ^ t[4][(a >> 24) as usize]
                ^ t[3][(b & 0xff) as usize]
                ^ t[2][((b >> 8) & 0xff) as usize]
                ^ t[1][((b >> 16) & 0xff) as usize]
                ^ t[0][(b >> 24) as usize];
        }
        for &b in chunks.remainder() {
            crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        !crc
    }

    fn hash(data: &[u8], pos: usize) -> usize {
        let w = data
            .get(pos..pos + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        (w.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
    }

    /// Records `pos`, whose 4 bytes hash to `h`, in the hash chains.
    #[inline]
    fn insert(&mut self, h: usize, pos: usize) {
        let h = h & (HASH_SIZE - 1);
        let last = self.head[h] as usize;
        self.head[h] = pos as u32 + 1;
        let d = pos + 1 - last;
        self.prev[pos & (WINDOW - 1)] = if last == 0 || d > WINDOW { 0 } else { d as u16 };
    }

    /// The longest earlier match for `pos` (hash `h`) longer than `better_than`: (length,
    /// distance).
    fn longest_match(
        &self,
        data: &[u8],
        pos: usize,
        h: usize,
        better_than: usize,
    ) -> (usize, usize) {
        let max = (data.len() - pos).min(MAX_MATCH);
        let (mut best_len, mut best_dist) = (better_than, 0);
        if max < MIN_MATCH || best_len >= max {
            return (0, 0);
        }
        let mut cand = self.head[h & (HASH_SIZE - 1)] as usize;
        let mut chain = self.level.chain;
        while cand != 0 && chain > 0 {
            let p = cand - 1;
            let dist = pos - p;
            if dist > WINDOW {
                break;
            }
            // Cheap rejection: the byte that would make this match the longest.
            if data.get(p + best_len) == data.get(pos + best_len) {
                let len = match_len(data, p, pos, max);
                if len > best_len {
                    best_len = len;
                    best_dist = dist;
                    if len >= usize::from(self.level.nice) || len == max {
                        break;
                    }
                }
            }
            let back = usize::from(self.prev[p & (WINDOW - 1)]);
            if back == 0 {
                break;
            }
            cand = p + 1 - back;
            chain -= 1;
        }
        if best_dist == 0 || best_len < MIN_MATCH {
            (0, 0)
        } else {
            (best_len, best_dist)
        }
    }

    fn literal(&mut self, b: u8) {
        self.tokens.push(u32::from(b));
        self.lit_freq[usize::from(b)] += 1;
    }

    fn matched(&mut self, len: usize, dist: usize) {
        let (len3, dist1) = ((len - 3) as u32, (dist - 1) as u32);
        self.tokens.push(MATCH | len3 << 16 | dist1);
        self.lit_freq[257 + length_code(len3).0] += 1;
        self.dist_freq[distance_code(dist1).0] += 1;
    }

    /// Inserts the positions after a match's first byte, up to where hashing still has 4
    /// bytes; none for a match longer than the level indexes.
    fn insert_range(&mut self, data: &[u8], from: usize, to: usize) {
        if to - from >= usize::from(self.level.insert) {
            return;
        }
        let end = to.min(data.len().saturating_sub(MIN_MATCH - 1));
        for p in from..end {
            self.insert(Self::hash(data, p), p);
        }
    }

    fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.head.fill(0);
        self.tokens.clear();
        self.lit_freq = [0; LITLEN];
        self.dist_freq = [0; DISTS];
        let mut bits = Bits { out, acc: 0, n: 0 };
        let hashable = data.len().saturating_sub(MIN_MATCH - 1);
        let lazy = usize::from(self.level.lazy);
        let mut block_start = 0;
        let mut pos = 0;
        while pos < data.len() {
            let (mut len, mut dist) = (0, 0);
            if pos < hashable {
                let h = Self::hash(data, pos);
                (len, dist) = self.longest_match(data, pos, h, MIN_MATCH - 1);
                self.insert(h, pos);
            }
            if len > 0 && len < lazy && pos + 1 < hashable {
                let h = Self::hash(data, pos + 1);
                let (len2, dist2) = self.longest_match(data, pos + 1, h, len);
                if let (true, Some(&b)) = (len2 > len, data.get(pos)) {
                    self.literal(b);
                    pos += 1;
                    self.insert(h, pos);
                    (len, dist) = (len2, dist2);
                }
            }
            if len > 0 {
                self.matched(len, dist);
                self.insert_range(data, pos + 1, pos + len);
                pos += len;
            } else if let Some(&b) = data.get(pos) {
                self.literal(b);
                pos += 1;
            }
            if self.tokens.len() >= BLOCK_TOKENS - 1 {
                self.flush_block(data.get(block_start..pos).unwrap_or(&[]), false, &mut bits);
                block_start = pos;
            }
        }
        self.flush_block(data.get(block_start..).unwrap_or(&[]), true, &mut bits);
        bits.align();
    }

    /// Writes the collected tokens as one block, `raw` being the bytes they stand for.
    fn flush_block(&mut self, raw: &[u8], last: bool, bits: &mut Bits) {
        self.lit_freq[END_OF_BLOCK] = 1;
        let extra: u64 = self.lit_freq[257..]
            .iter()
            .enumerate()
            .map(|(i, &f)| u64::from(f) * u64::from(length_code_extra(i)))
            .sum::<u64>()
            + self
                .dist_freq
                .iter()
                .enumerate()
                .map(|(i, &f)| u64::from(f) * u64::from(distance_code_extra(i)))
                .sum::<u64>();
        self.lit.build(&self.lit_freq, 15);
        self.dist.build(&self.dist_freq, 15);
        self.header.build(&self.lit.lens, &self.dist.lens);
        let dynamic = 3
            + self.header.cost()
            + self.lit.cost(&self.lit_freq)
            + self.dist.cost(&self.dist_freq)
            + extra;
        let fixed =
            3 + self.fixed_lit.cost(&self.lit_freq) + self.fixed_dist.cost(&self.dist_freq) + extra;
        let chunks = raw.len().div_ceil(0xffff).max(1) as u64;
        // Header bits and the padding to a byte, at most 7 + 3 per chunk, then LEN/NLEN.
        let stored = chunks * (10 + 32) + raw.len() as u64 * 8;
        let last_bit = u32::from(last);
        if stored < dynamic.min(fixed) {
            let mut chunks = raw.chunks(0xffff).peekable();
            if raw.is_empty() {
                bits.put(last_bit, 3);
                bits.align();
                bits.out.extend_from_slice(&[0, 0, 0xff, 0xff]);
            }
            while let Some(c) = chunks.next() {
                let final_chunk = last && chunks.peek().is_none();
                bits.put(u32::from(final_chunk), 3);
                bits.align();
                let n = c.len() as u16;
                bits.out.extend_from_slice(&n.to_le_bytes());
                bits.out.extend_from_slice(&(!n).to_le_bytes());
                bits.out.extend_from_slice(c);
            }
        } else if fixed <= dynamic {
            bits.put(last_bit | 1 << 1, 3);
            write_tokens(&self.tokens, &self.fixed_lit, &self.fixed_dist, bits);
        } else {
            bits.put(last_bit | 2 << 1, 3);
            self.header.write(bits);
            write_tokens(&self.tokens, &self.lit, &self.dist, bits);
        }
        self.tokens.clear();
        self.lit_freq = [0; LITLEN];
        self.dist_freq = [0; DISTS];
    }
}

fn length_code_extra(i: usize) -> u32 {
    match i {
        8..=27 => (i as u32 >> 2) - 1,
        _ => 0,
    }
}

fn distance_code_extra(i: usize) -> u32 {
    match i {
        4..=29 => (i as u32 >> 1) - 1,
        _ => 0,
    }
}

fn write_tokens(tokens: &[u32], lit: &Code<LITLEN>, dist: &Code<DISTS>, bits: &mut Bits) {
    let put_sym = |bits: &mut Bits, code: &[u16], lens: &[u8], s: usize| {
        if let (Some(&c), Some(&l)) = (code.get(s), lens.get(s)) {
            bits.put(u32::from(c), u32::from(l));
        }
    };
    for &t in tokens {
        if t & MATCH == 0 {
            put_sym(bits, &lit.codes, &lit.lens, (t & 0xff) as usize);
            continue;
        }
        let (lc, lextra, lbase) = length_code((t >> 16) & 0xff);
        put_sym(bits, &lit.codes, &lit.lens, 257 + lc);
        if lextra > 0 {
            bits.put(((t >> 16) & 0xff) - lbase, lextra);
        }
        let dist1 = t & 0xffff;
        let (dc, dextra, dbase) = distance_code(dist1);
        put_sym(bits, &dist.codes, &dist.lens, dc);
        if dextra > 0 {
            bits.put(dist1 - dbase, dextra);
        }
    }
    put_sym(bits, &lit.codes, &lit.lens, END_OF_BLOCK);
}

/// Bytes from `a` and `b` (`a < b`) that are equal, up to `max` (with `b + max` in `data`).
#[inline]
fn match_len(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let load = |i: usize| {
        data.get(i..i + 8)
            .map(|s| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
    };
    let mut n = 0;
    while n + 8 <= max {
        let (Some(x), Some(y)) = (load(a + n), load(b + n)) else {
            break;
        };
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data.get(a + n).is_some() && data.get(a + n) == data.get(b + n) {
        n += 1;
    }
    n
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small inflate written from RFC 1951 and 1952 for these tests only, sharing nothing
    /// with the encoder: bit by bit, canonical codes decoded by counting.
    pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
        let body = data
            .strip_prefix(&[0x1f, 0x8b, 8][..])
            .ok_or("not a gzip header")?;
        if body.len() < 7 + 8 || body[0] != 0 {
            return Err("flags or short".into());
        }
        let mut r = Reader {
            d: &body[7..],
            pos: 0,
            bit: 0,
        };
        let mut out = Vec::new();
        loop {
            let last = r.bits(1)?;
            match r.bits(2)? {
                0 => {
                    let len = r.byte()? as usize | (r.byte()? as usize) << 8;
                    let nlen = r.byte()? as usize | (r.byte()? as usize) << 8;
                    if len != !nlen & 0xffff {
                        return Err("stored LEN/NLEN".into());
                    }
                    for _ in 0..len {
                        out.push(r.byte()?);
                    }
                }
                1 => {
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    codes(&mut r, &mut out, &Huff::new(&l), &Huff::new(&[5; 30]))?;
                }
                2 => {
                    let hlit = r.bits(5)? as usize + 257;
                    let hdist = r.bits(5)? as usize + 1;
                    let hclen = r.bits(4)? as usize + 4;
                    let mut cl = [0u8; 19];
                    for &s in &CODELEN_ORDER[..hclen] {
                        cl[s] = r.bits(3)? as u8;
                    }
                    let clh = Huff::new(&cl);
                    let mut lens = Vec::new();
                    while lens.len() < hlit + hdist {
                        let (v, n) = match clh.decode(&mut r)? {
                            s @ 0..=15 => (s as u8, 1),
                            16 => (*lens.last().ok_or("repeat first")?, 3 + r.bits(2)?),
                            17 => (0, 3 + r.bits(3)?),
                            _ => (0, 11 + r.bits(7)?),
                        };
                        lens.extend(std::iter::repeat(v).take(n as usize));
                    }
                    if lens.len() != hlit + hdist {
                        return Err("code lengths overrun".into());
                    }
                    let lit = Huff::new(&lens[..hlit]);
                    let dist = Huff::new(&lens[hlit..]);
                    codes(&mut r, &mut out, &lit, &dist)?;
                }
                _ => return Err("block type 3".into()),
            }
            if last == 1 {
                break;
            }
        }
        let rest = &r.d[r.pos + usize::from(r.bit > 0)..];
        if rest.len() != 8 {
            return Err(format!("{} bytes after the stream, not 8", rest.len()));
        }
        let crc = u32::from_le_bytes(rest[..4].try_into().unwrap());
        let size = u32::from_le_bytes(rest[4..].try_into().unwrap());
        if crc != bitwise_crc(&out) || size != out.len() as u32 {
            return Err("CRC or size mismatch".into());
        }
        Ok(out)
    }

    struct Reader<'a> {
        d: &'a [u8],
        pos: usize,
        bit: u32,
    }

    impl Reader<'_> {
        fn bits(&mut self, n: u32) -> Result<u32, String> {
            let mut v = 0;
            for i in 0..n {
                let byte = *self.d.get(self.pos).ok_or("out of input")?;
                v |= u32::from(byte >> self.bit & 1) << i;
                self.bit += 1;
                if self.bit == 8 {
                    self.bit = 0;
                    self.pos += 1;
                }
            }
            Ok(v)
        }

        /// A whole byte, after a stored block header aligned the input.
        fn byte(&mut self) -> Result<u8, String> {
            if self.bit != 0 {
                self.bit = 0;
                self.pos += 1;
            }
            let b = *self.d.get(self.pos).ok_or("out of input")?;
            self.pos += 1;
            Ok(b)
        }
    }

    struct Huff {
        count: [u32; 16],
        symbols: Vec<u16>,
    }

    impl Huff {
        fn new(lens: &[u8]) -> Huff {
            let mut count = [0u32; 16];
            for &l in lens {
                count[l as usize] += 1;
            }
            count[0] = 0;
            let mut symbols = Vec::new();
            for len in 1..16 {
                for (s, &l) in lens.iter().enumerate() {
                    if l as usize == len {
                        symbols.push(s as u16);
                    }
                }
            }
            Huff { count, symbols }
        }

        fn decode(&self, r: &mut Reader) -> Result<usize, String> {
            let (mut code, mut first, mut index) = (0i64, 0i64, 0i64);
            for len in 1..16 {
                code |= i64::from(r.bits(1)?);
                let count = i64::from(self.count[len]);
                if code - first < count {
                    return Ok(self.symbols[(index + code - first) as usize] as usize);
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            Err("no such code".into())
        }
    }

    fn codes(r: &mut Reader, out: &mut Vec<u8>, lit: &Huff, dist: &Huff) -> Result<(), String> {
        const LBASE: [usize; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        const LEXT: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DBASE: [usize; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        const DEXT: [u32; 30] = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
            12, 13, 13,
        ];
        loop {
            let s = lit.decode(r)?;
            match s {
                0..=255 => out.push(s as u8),
                256 => return Ok(()),
                257..=285 => {
                    let len = LBASE[s - 257] + r.bits(LEXT[s - 257])? as usize;
                    let d = dist.decode(r)?;
                    if d >= 30 {
                        return Err("distance code 30/31".into());
                    }
                    let dist = DBASE[d] + r.bits(DEXT[d])? as usize;
                    if dist > out.len() || dist > 32768 {
                        return Err(format!("distance {dist} too far back"));
                    }
                    for _ in 0..len {
                        out.push(out[out.len() - dist]);
                    }
                }
                _ => return Err("length code 286/287".into()),
            }
        }
    }

    fn bitwise_crc(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    crc >> 1 ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A deterministic stream of bytes (xorshift).
    pub(crate) fn noise(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    /// Exposition-like text: many families, labels and numbers, `n` bytes.
    pub(crate) fn metrics_text(n: usize) -> Vec<u8> {
        let mut out = String::new();
        let mut i = 0u64;
        while out.len() < n {
            let r = noise(8, i + 1);
            out.push_str(&format!(
                "node_cpu_seconds_total{{cpu=\"{}\",mode=\"{}\"}} {}.{:02}\n",
                i % 128,
                ["idle", "user", "system", "iowait"][(i % 4) as usize],
                u32::from_le_bytes([r[0], r[1], r[2], 0]),
                r[3] % 100
            ));
            i += 1;
        }
        out.truncate(n);
        out.into_bytes()
    }

    fn round_trip(g: &mut Gzip, input: &[u8]) -> usize {
        let mut out = Vec::new();
        assert!(g.compress(input, &mut out));
        let back = gunzip(&out).unwrap_or_else(|e| panic!("{} bytes: {e}", input.len()));
        assert!(
            back == input,
            "{} bytes differ after a round trip",
            input.len()
        );
        out.len()
    }

    #[test]
    fn round_trips_through_an_independent_inflate() {
        for level in [
            LEVEL,
            Level {
                chain: 1,
                nice: 8,
                lazy: 0,
                insert: 4,
            },
            Level {
                chain: 128,
                nice: 258,
                lazy: 32,
                insert: 258,
            },
        ] {
            let mut g = Gzip::new(level);
            let mut window_twice = noise(WINDOW, 7);
            window_twice.extend_from_within(..);
            let mut beyond = noise(WINDOW + 1000, 8);
            beyond.extend_from_within(..);
            let all_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
            let inputs: Vec<Vec<u8>> = vec![
                Vec::new(),
                b"x".to_vec(),
                b"abcd".to_vec(),
                b"abcabcabcabcab".to_vec(),
                vec![0; 100_000],
                vec![b'a'; 258 * 3 + 1],
                noise(1000, 1),
                noise(200_000, 2),
                all_bytes,
                window_twice,
                beyond,
                metrics_text(70_000),
                metrics_text(1_300_000),
            ];
            for input in &inputs {
                round_trip(&mut g, input);
            }
        }
    }

    #[test]
    fn sizes_are_what_each_input_deserves() {
        let mut g = Gzip::new(LEVEL);
        // Incompressible data goes out stored: 18 bytes of framing and 5 per block of tokens.
        let n = 200_000;
        let size = round_trip(&mut g, &noise(n, 3));
        assert!(size <= n + 18 + 5 * (n / (BLOCK_TOKENS - 1) + 1), "{size}");
        assert!(round_trip(&mut g, &[]) <= 20);
        // 4,065 matches of 258 bytes, about 10 bits each.
        assert!(round_trip(&mut g, &vec![0; 1 << 20]) < 6_000);
        let text = metrics_text(1 << 20);
        let size = round_trip(&mut g, &text);
        assert!(size < text.len() / 4, "{size} of {}", text.len());
    }

    #[test]
    fn crc32_matches_the_check_value() {
        let g = Gzip::new(LEVEL);
        // The CRC-32/ISO-HDLC check value of "123456789".
        assert_eq!(g.crc32(b"123456789"), 0xcbf4_3926);
        let data = noise(10_001, 4);
        assert_eq!(g.crc32(&data), bitwise_crc(&data));
        assert_eq!(g.crc32(&[]), 0);
    }

    #[test]
    fn length_and_distance_codes_follow_rfc_1951() {
        // (length, code index, extra bits, base) from the table in RFC 1951 3.2.5.
        for (len, code, extra, base) in [
            (3, 0, 0, 3),
            (10, 7, 0, 10),
            (11, 8, 1, 11),
            (12, 8, 1, 11),
            (13, 9, 1, 13),
            (19, 12, 2, 19),
            (130, 23, 4, 115),
            (131, 24, 5, 131),
            (257, 27, 5, 227),
            (258, 28, 0, 258),
        ] {
            let (c, e, b) = length_code(len - 3);
            assert_eq!((c, e, b + 3), (code, extra, base), "length {len}");
            assert_eq!(length_code_extra(c), e);
        }
        for (dist, code, extra, base) in [
            (1, 0, 0, 1),
            (4, 3, 0, 4),
            (5, 4, 1, 5),
            (6, 4, 1, 5),
            (7, 5, 1, 7),
            (24577, 29, 13, 24577),
            (32768, 29, 13, 24577),
            (16384, 27, 12, 12289),
        ] {
            let (c, e, b) = distance_code(dist - 1);
            assert_eq!((c, e, b + 1), (code, extra, base), "distance {dist}");
            assert_eq!(distance_code_extra(c), e);
        }
    }

    #[test]
    fn code_lengths_are_limited_and_complete() {
        // Fibonacci frequencies make the deepest unlimited Huffman tree.
        let mut freq = [0u32; LITLEN];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut().take(30) {
            *f = a;
            (a, b) = (b, a.saturating_add(b));
        }
        let mut lens = [0u8; LITLEN];
        huffman_lengths(&freq, 15, &mut lens);
        assert!(lens.iter().all(|&l| l <= 15));
        let kraft: u64 = lens
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (15 - l))
            .sum();
        assert_eq!(kraft, 1 << 15, "a complete code");
        assert_eq!(lens.iter().filter(|&&l| l > 0).count(), 30);
        // One symbol, or none: two one-bit codes.
        let mut one = [0u32; DISTS];
        one[7] = 5;
        let mut lens = [0u8; DISTS];
        huffman_lengths(&one, 15, &mut lens);
        assert_eq!((lens[7], lens[0]), (1, 1));
        huffman_lengths(&[0; DISTS], 15, &mut lens);
        assert_eq!((lens[0], lens[1]), (1, 1));
    }

    #[test]
    fn compressing_again_does_not_allocate() {
        let text = metrics_text(300_000);
        let mut g = Gzip::new(LEVEL);
        let mut out = Vec::new();
        g.compress(&text, &mut out);
        let first = out.clone();
        let (n, ok) = crate::alloc_count::allocations(|| g.compress(&text, &mut out));
        assert!(ok);
        assert_eq!(n, 0, "allocations in a repeated compression");
        assert!(out == first, "the same input gives the same bytes");
    }
}

/// `PROCTAP_GZIP_INPUT=FILE[,FILE…] cargo test --release --bin proctap gzip::measure -- --ignored
/// --nocapture`: size and CPU time of each level on each file (DESIGN.md "gzip").
/// `PROCTAP_GZIP_ONLY=NAME` runs that level once (for `valgrind --tool=callgrind`);
/// `PROCTAP_GZIP_LEVEL=chain,nice,lazy,insert` runs that level instead of the table.
#[cfg(test)]
mod measure {
    use super::*;

    /// This thread's CPU time: other work on the machine adds wall time, less of this.
    fn cpu_seconds() -> f64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec we pass.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }

    #[test]
    #[ignore = "a measurement: run by hand"]
    fn levels() {
        let Ok(files) = std::env::var("PROCTAP_GZIP_INPUT") else {
            return;
        };
        let l = |chain, nice, lazy, insert| Level {
            chain,
            nice,
            lazy,
            insert,
        };
        let mut levels = vec![
            ("chain 2 insert 8", l(2, 32, 0, 8)),
            ("chain 4 insert 16", l(4, 64, 0, 16)),
            ("proctap", LEVEL),
            ("chain 8 lazy 16 insert 16", l(8, 64, 16, 16)),
            ("chain 4 lazy 32 insert 32", l(4, 128, 32, 32)),
            ("chain 8", l(8, 64, 0, 258)),
            ("chain 8 lazy 16", l(8, 64, 16, 258)),
            ("chain 128 lazy 32", l(128, 258, 32, 258)),
        ];
        let custom: Vec<u16> = std::env::var("PROCTAP_GZIP_LEVEL")
            .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_default();
        if let [c, n, la, i] = custom[..] {
            levels = vec![("custom", l(c, n, la, i))];
        }
        let only = std::env::var("PROCTAP_GZIP_ONLY").ok();
        for file in files.split(',') {
            let input = std::fs::read(file).unwrap();
            println!("{file}: {} bytes", input.len());
            for &(name, level) in &levels {
                if only.as_deref().is_some_and(|o| o != name) {
                    continue;
                }
                let mut g = Gzip::new(level);
                let mut out = Vec::new();
                let mut best = f64::MAX;
                for _ in 0..if only.is_some() { 1 } else { 20 } {
                    let t = cpu_seconds();
                    g.compress(&input, &mut out);
                    best = best.min(cpu_seconds() - t);
                }
                println!(
                    "  {name:26} {:>9} bytes  ratio {:5.2}  {:7.3} ms",
                    out.len(),
                    input.len() as f64 / out.len() as f64,
                    best * 1e3
                );
            }
        }
    }
}
