//! The reference for the Python tests: dropkit's own calls on whole tensors
//! (no pieces, no ORT), reading inputs from stdin and writing raw outputs to
//! stdout.
//!
//! ```text
//! dropkit-ort-reference dropout DTYPE RATE SEED STREAM OFFSET MASK_SHAPE DIMS
//!     stdin: X;                 stdout: Y, byte mask (M bytes), bit mask (ceil(M/64) u64)
//! dropkit-ort-reference fused   DTYPE RATE SEED STREAM OFFSET DIMS
//!     stdin: X, bias, residual; stdout: as above (M = X's elements)
//! ```
//!
//! DTYPE is f32, f64, f16 or bf16 (the half types as their 16-bit
//! patterns), DIMS comma-separated (empty for a scalar), every number
//! little-endian; RATE is read as an `f64` from its decimal text.

use std::io::{Read, Write};
use std::process::ExitCode;

use dropkit::half::{bf16, f16};
use dropkit::{mask_words, Dropout, Element, Layout, MaskOut, MaskShape, Site, View, ViewMut};

/// Element types as raw little-endian bytes.
trait Raw: Element {
    const SIZE: usize;
    fn read(b: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
}

macro_rules! raw {
    ($t:ty, $n:expr, $from:expr, $to:expr) => {
        impl Raw for $t {
            const SIZE: usize = $n;
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; $n];
                a.copy_from_slice(b);
                $from(a)
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&$to(self));
            }
        }
    };
}

raw!(f32, 4, f32::from_le_bytes, f32::to_le_bytes);
raw!(f64, 8, f64::from_le_bytes, f64::to_le_bytes);
raw!(
    f16,
    2,
    |a| f16::from_bits(u16::from_le_bytes(a)),
    |v: f16| v.to_bits().to_le_bytes()
);
raw!(
    bf16,
    2,
    |a| bf16::from_bits(u16::from_le_bytes(a)),
    |v: bf16| v.to_bits().to_le_bytes()
);

fn take<E: Raw>(input: &mut &[u8], n: usize) -> Result<Vec<E>, String> {
    let bytes = n * E::SIZE;
    if input.len() < bytes {
        return Err(format!(
            "stdin: expected {bytes} more bytes, got {}",
            input.len()
        ));
    }
    let (head, tail) = input.split_at(bytes);
    *input = tail;
    Ok(head.chunks(E::SIZE).map(E::read).collect())
}

fn shape_of(name: &str) -> Result<MaskShape, String> {
    MaskShape::named(name).ok_or_else(|| format!("unknown mask shape {name}"))
}

fn run<E: Raw>(args: &[String], stdin: &[u8]) -> Result<Vec<u8>, String> {
    let fused = args[0] == "fused";
    let rate: f64 = args[2].parse().map_err(|e| format!("rate: {e}"))?;
    let seed: u64 = args[3].parse().map_err(|e| format!("seed: {e}"))?;
    let stream: u64 = args[4].parse().map_err(|e| format!("stream: {e}"))?;
    let offset: u64 = args[5].parse().map_err(|e| format!("offset: {e}"))?;
    let (shape, dims_arg) = if fused {
        (MaskShape::elementwise(), &args[6])
    } else {
        (shape_of(&args[6])?, &args[7])
    };
    let dims: Vec<usize> = dims_arg
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e| format!("dims: {e}")))
        .collect::<Result<_, _>>()?;
    let n: usize = dims.iter().product();
    let drop = Dropout::new(rate)
        .map_err(|e| e.to_string())?
        .with_seed(seed);
    let site = Site::new(stream).at(offset);
    let mut input = stdin;
    let x: Vec<E> = take(&mut input, n)?;
    let mut y = vec![E::from_f64(0.0); n];
    let m = if shape == MaskShape::elementwise() {
        n
    } else {
        shape
            .mask_layout(&Layout::dense(&dims).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?
            .len()
    };
    let mut bytes = vec![0u8; m];
    let mut words = vec![0u64; mask_words(m)];
    if fused {
        let f = dims.last().copied().unwrap_or(0);
        let bias: Vec<E> = take(&mut input, f)?;
        let residual: Vec<E> = take(&mut input, n)?;
        let mut y2 = y.clone();
        drop.at(site)
            .bias(&bias)
            .residual(&residual)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(&x, &mut y)
            .map_err(|e| e.to_string())?;
        drop.at(site)
            .bias(&bias)
            .residual(&residual)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y2)
            .map_err(|e| e.to_string())?;
    } else if shape == MaskShape::elementwise() {
        let mut y2 = y.clone();
        drop.at(site)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(&x, &mut y)
            .map_err(|e| e.to_string())?;
        drop.at(site)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y2)
            .map_err(|e| e.to_string())?;
    } else {
        let xv = View::dense(&x, &dims).map_err(|e| e.to_string())?;
        drop.at(site)
            .shape(shape)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(
                &xv,
                &mut ViewMut::dense(&mut y, &dims).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        let mut y2 = vec![E::from_f64(0.0); n];
        drop.at(site)
            .shape(shape)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(
                &xv,
                &mut ViewMut::dense(&mut y2, &dims).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
    }
    let mut out = Vec::with_capacity(n * E::SIZE + m + words.len() * 8);
    for v in y {
        v.write(&mut out);
    }
    out.extend_from_slice(&bytes);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = match args.first().map(String::as_str) {
        Some("dropout") => 8,
        Some("fused") => 7,
        _ => 0,
    };
    if want == 0 || args.len() != want {
        eprintln!(
            "usage: dropkit-ort-reference dropout DTYPE RATE SEED STREAM OFFSET MASK_SHAPE DIMS"
        );
        eprintln!("       dropkit-ort-reference fused DTYPE RATE SEED STREAM OFFSET DIMS");
        return ExitCode::from(2);
    }
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        eprintln!("stdin: {e}");
        return ExitCode::FAILURE;
    }
    let result = match args[1].as_str() {
        "f32" => run::<f32>(&args, &stdin),
        "f64" => run::<f64>(&args, &stdin),
        "f16" => run::<f16>(&args, &stdin),
        "bf16" => run::<bf16>(&args, &stdin),
        other => Err(format!("unknown dtype {other}")),
    };
    match result {
        Ok(out) => {
            let mut so = std::io::stdout().lock();
            if so.write_all(&out).and_then(|()| so.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dropkit-ort-reference: {e}");
            ExitCode::FAILURE
        }
    }
}
