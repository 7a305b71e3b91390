//! A CPU inference engine for a trained [`ConditionalRealNvp`]: the same noise → data map
//! ([`ConditionalRealNvp::inverse_tiled`]) on host `f32` buffers, for posterior sampling on
//! machines without a GPU.
//!
//! Why a second implementation of the inverse pass: on burn 0.21's CPU backend one batched
//! pass of 64 posterior samples at `D = 1890` spends most of its time outside the matrix
//! products — every element-wise step (split, bias, SiLU as `exp∘neg∘log∘…`, `tanh` in `f64`,
//! `exp`, the affine update, the reversal) allocates and walks a fresh tensor, one scalar at a
//! time, on one core. Here each coupling is two to three dense products (faer, with its
//! runtime-dispatched AVX2/AVX-512 kernels) and one fused pass over the transformed half, in
//! place, compiled for AVX2 + FMA where the CPU has it ([`pulp`]'s dispatch). Many rows are
//! split between threads, each running the whole flow on its share; for a few rows the large
//! products are split instead. Training stays on burn (autodiff, any backend); this engine only
//! reads a trained flow's weights, and its tests hold it to burn's output (about 64 samples at
//! `D = 1890` in 17–18 ms on two cores against burn's 40 ms: `docs/benchmarks.md`).
//!
//! The exponentials and `tanh` are polynomial approximations that the compiler vectorises
//! (relative error of `exp` ≤ 3e-7, absolute error of `tanh` ≤ 3e-7 in the tests), so
//! samples agree with burn's to about `1e-5` relative, not bit for bit.

use std::num::NonZeroUsize;

use burn::nn::Linear;
use burn::tensor::backend::Backend;
use faer::{Accum, MatMut, MatRef, Par};
use rand::Rng;

use super::{AffineCoupling, ConditionalRealNvp};
use crate::util;

/// A dense layer `y = x W + b` in host memory; `W` is row-major `[d_in, d_out]` (burn's
/// `Linear` layout).
#[derive(Clone, Debug)]
struct Dense {
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    fn from_linear<B: Backend>(layer: &Linear<B>) -> Self {
        let [d_in, d_out] = layer.weight.dims();
        Self {
            weight: util::param_to_vec(layer.weight.val()),
            bias: layer.bias.as_ref().map(|b| util::param_to_vec(b.val())),
            d_in,
            d_out,
        }
    }

    /// `out = x W + b` for `rows` rows of `x` (row `r` starts at `x[r · stride]`).
    ///
    /// # Shapes
    /// - `x`: `rows` rows of `d_in` values, row stride `stride`; `out`: `[rows, d_out]`
    fn apply(&self, x: &[f32], stride: usize, rows: usize, out: &mut [f32], threads: usize) {
        matmul(
            out,
            x,
            stride,
            rows,
            &self.weight,
            self.d_in,
            self.d_out,
            threads,
        );
        if let Some(bias) = &self.bias {
            for row in out[..rows * self.d_out].chunks_exact_mut(self.d_out) {
                row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
            }
        }
    }
}

/// Fewest rows a worker thread is given: below this, splitting the rows costs more in
/// re-read weights (every thread streams all of them) than it gains in arithmetic, and the
/// large products are split across threads instead.
const MIN_ROWS_PER_THREAD: usize = 16;

/// How many blocks of rows `rows` rows are split into for `threads` threads (each block at
/// least [`MIN_ROWS_PER_THREAD`] rows; 1 = no split).
fn row_blocks(threads: usize, rows: usize) -> usize {
    threads.min(rows / MIN_ROWS_PER_THREAD).max(1)
}

/// In a pass that is not split by rows, products of at least this many multiply–adds are
/// split across threads (faer's own parallel kernels): at one row of `D = 1890`'s couplings
/// (`236 × 1890`) that costs more than it gains; at one row of `D = 4140` (`517 × 4140`) a
/// pass is 1.25× faster on two cores.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// `out[rows, n] = x[rows, k] · w[k, n]`, `x` read with row stride `stride`, on up to
/// `threads` threads.
fn matmul(
    out: &mut [f32],
    x: &[f32],
    stride: usize,
    rows: usize,
    w: &[f32],
    k: usize,
    n: usize,
    threads: usize,
) {
    if rows == 0 || n == 0 {
        return;
    }
    let lhs = MatRef::from_row_major_slice_with_stride(x, rows, k, stride);
    let rhs = MatRef::from_row_major_slice(w, k, n);
    let dst = MatMut::from_row_major_slice_mut(&mut out[..rows * n], rows, n);
    let par = if threads > 1 && rows * k * n >= PARALLEL_MIN_MACS {
        Par::rayon(threads)
    } else {
        Par::Seq
    };
    faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0f32, par);
}

/// `e^x` for `f32`, branch-free so loops over slices vectorise: Cody–Waite range reduction
/// `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`, and Cephes' degree-6 polynomial for `e^r`. Relative error
/// ≤ 3e-7 on `[-87, 88]`; inputs are clamped to that range (`e^88 ≈ 1.7e38`, `e^-87 ≈ 1.6e-38`).
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds x·log2 e to the nearest integer n (|n| < 2²²), which then sits in
    // the low mantissa bits: bits(t) = bits(1.5·2²³) + n. Integer arithmetic on those bits
    // gives 2ⁿ without a float → int conversion, so the loop vectorises.
    const ROUND: f32 = 12_582_912.0;
    const ROUND_BITS: u32 = 0x4B40_0000;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // 2ⁿ from the exponent bits; n ∈ [-126, 127] after the clamp.
    let pow2 = (t.to_bits().wrapping_sub(ROUND_BITS).wrapping_add(127)) << 23;
    er * f32::from_bits(pow2)
}

/// `tanh x` for `f32`, branch-free: Cephes' odd polynomial for `|x| < 0.625`, else
/// `1 − 2 / (e^{2|x|} + 1)` with the sign of `x`. Absolute error ≤ 3e-7.
#[inline(always)]
fn tanh_approx(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3;
    let p = p * z + 2.063_909e-2;
    let p = p * z - 5.373_971_6e-2;
    let p = p * z + 1.333_144_2e-1;
    let p = p * z - 3.333_328e-1;
    let small = x + x * z * p;
    let large = (1.0 - 2.0 / (exp_approx(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// SiLU `x σ(x) = x / (1 + e^{-x})`, in place.
#[inline(always)]
fn silu_in_place(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x /= 1.0 + exp_approx(-*x));
}

/// Lanes of the partial sums in [`inverse_affine`] (one AVX2 register of `f32`).
const LANES: usize = 8;

/// The inverse affine update of one row's transformed part: `log_scale = scale ⊙ tanh(raw)`
/// (written over `raw`), `u ← (u − shift) ⊙ e^{−log_scale}`; returns `Σ log_scale`. All slices
/// have `d_trans` values. Three plain passes, each of which the compiler vectorises.
#[inline(always)]
fn inverse_affine(u: &mut [f32], shift: &[f32], raw: &mut [f32], scale: &[f32]) -> f32 {
    raw.iter_mut()
        .zip(scale)
        .for_each(|(r, k)| *r = k * tanh_approx(*r));
    u.iter_mut()
        .zip(shift.iter().zip(raw.iter()))
        .for_each(|(u, (s, ls))| *u = (*u - s) * exp_approx(-ls));
    // Partial sums in LANES lanes (one running f32 sum would fix the order and stay scalar).
    let mut acc = [0.0f32; LANES];
    let chunks = raw.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        acc.iter_mut().zip(c).for_each(|(a, v)| *a += v);
    }
    acc.iter().sum::<f32>() + tail
}

/// SiLU over a buffer, run through [`pulp::Arch::dispatch`] so the loop is compiled for the
/// widest vector unit the CPU has (AVX2 + FMA on x86-64) instead of the SSE2 baseline.
struct SiluKernel<'a>(&'a mut [f32]);

impl pulp::WithSimd for SiluKernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        silu_in_place(self.0)
    }
}

/// [`inverse_affine`] for every row of a block, through [`pulp::Arch::dispatch`] (see
/// [`SiluKernel`]): row `r` updates `h[r·dim + t0 ..][..d_trans]` from `params[r]` =
/// `[shift, raw]` (`raw` is overwritten) and subtracts its `Σ log_scale` from `log_det[r]`.
struct InverseAffineKernel<'a> {
    h: &'a mut [f32],
    dim: usize,
    t0: usize,
    params: &'a mut [f32],
    scale: &'a [f32],
    log_det: &'a mut [f32],
}

impl pulp::WithSimd for InverseAffineKernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let dt = self.scale.len();
        let rows = self.h.chunks_exact_mut(self.dim);
        for ((row, p), ld) in rows
            .zip(self.params.chunks_exact_mut(2 * dt))
            .zip(self.log_det.iter_mut())
        {
            let (shift, raw) = p.split_at_mut(dt);
            *ld -= inverse_affine(&mut row[self.t0..self.t0 + dt], shift, raw, self.scale);
        }
    }
}

/// One affine coupling on host memory (see [`AffineCoupling`]).
#[derive(Clone, Debug)]
struct Coupling {
    /// Rows of the first layer's weight that act on the unchanged part, `[d_cond, width]`.
    first_unchanged: Vec<f32>,
    /// Rows that act on the condition, with the first layer's bias: `[E, width]`.
    first_condition: Dense,
    /// The remaining layers (hidden ones, then the output layer `[width, 2 d_trans]`).
    rest: Vec<Dense>,
    /// Per-coordinate bound of the log-scales, `[d_trans]`.
    scale: Vec<f32>,
    d_cond: usize,
    d_trans: usize,
    width: usize,
    transform_second: bool,
}

impl Coupling {
    /// The coupling of a flow of dimension `dim` (both couplings leave `dim − d_trans`
    /// coordinates unchanged).
    fn from_burn<B: Backend>(c: &AffineCoupling<B>, dim: usize) -> Self {
        let first = Dense::from_linear(&c.layers[0]);
        let d_cond = dim - c.d_trans;
        let width = first.d_out;
        let mut first_unchanged = first.weight;
        let condition = first_unchanged.split_off(d_cond * width);
        Self {
            first_unchanged,
            first_condition: Dense {
                weight: condition,
                bias: first.bias,
                d_in: first.d_in - d_cond,
                d_out: width,
            },
            rest: c.layers[1..].iter().map(Dense::from_linear).collect(),
            scale: util::param_to_vec(c.scale.val()),
            d_cond,
            d_trans: c.d_trans,
            width,
            transform_second: c.transform_second,
        }
    }

    /// Widest intermediate row (hidden width or output `2 d_trans`).
    fn widest(&self) -> usize {
        self.rest
            .iter()
            .map(|l| l.d_out)
            .chain([self.width])
            .max()
            .unwrap_or(self.width)
    }

    /// The inverse coupling on `rows` rows of `h` (`[rows, D]`, in place), subtracting each
    /// row's `log|det|` contribution from `log_det`. Row `r` uses row `(row0 + r) % n_cond` of
    /// `cond_part` (`[n_cond, width]`: the condition's share of the first layer, bias included).
    fn inverse_rows(
        &self,
        h: &mut [f32],
        dim: usize,
        log_det: &mut [f32],
        cond_part: &[f32],
        row0: usize,
        n_cond: usize,
        scratch: &mut [Vec<f32>; 2],
        threads: usize,
    ) {
        let rows = log_det.len();
        let (c0, t0) = if self.transform_second {
            (0, self.d_cond)
        } else {
            (self.d_trans, 0)
        };
        let [a, b] = scratch;
        let need = rows * self.widest();
        a.resize(need, 0.0);
        b.resize(need, 0.0);
        let w = self.width;
        matmul(
            a,
            &h[c0..],
            dim,
            rows,
            &self.first_unchanged,
            self.d_cond,
            w,
            threads,
        );
        for (r, row) in a[..rows * w].chunks_exact_mut(w).enumerate() {
            let c = (row0 + r) % n_cond;
            row.iter_mut()
                .zip(&cond_part[c * w..(c + 1) * w])
                .for_each(|(x, p)| *x += p);
        }
        let (mut cur, mut next) = (a, b);
        let mut cur_width = w;
        let simd = pulp::Arch::new();
        for layer in &self.rest {
            simd.dispatch(SiluKernel(&mut cur[..rows * cur_width]));
            layer.apply(cur, cur_width, rows, next, threads);
            cur_width = layer.d_out;
            std::mem::swap(&mut cur, &mut next);
        }
        let dt = self.d_trans;
        simd.dispatch(InverseAffineKernel {
            h,
            dim,
            t0,
            params: &mut cur[..rows * 2 * dt],
            scale: &self.scale,
            log_det,
        });
    }
}

/// ActNorm on host memory: `z = x ⊙ e^{log_scale} + shift`.
#[derive(Clone, Debug)]
struct ActNormHost {
    /// `e^{-log_scale}`, `[D]`.
    inv_scale: Vec<f32>,
    shift: Vec<f32>,
    log_det: f32,
}

/// One flow step on host memory.
#[derive(Clone, Debug)]
struct Step {
    actnorm: Option<ActNormHost>,
    coupling_a: Coupling,
    coupling_b: Coupling,
}

/// The output map `x = μ + A g`, `A = Vᵀ diag(s − s_⊥) V + s_⊥ I` (see
/// [`crate::basis::DataBasis::to_data`]).
#[derive(Clone, Debug)]
struct OutputBasis {
    mean: Vec<f32>,
    /// `Vᵀ`, row-major `[D, r]`.
    vectors_t: Vec<f32>,
    /// `V`, row-major `[r, D]`.
    vectors: Vec<f32>,
    gain: Vec<f32>,
    residual_std: f32,
    rank: usize,
    log_det: f32,
}

impl OutputBasis {
    /// `g ← μ + A g` for `rows` rows of `g` (`[rows, D]`, in place).
    fn to_data(&self, g: &mut [f32], rows: usize, d: usize, threads: usize) {
        let r = self.rank;
        let mut u = vec![0.0; rows * r];
        matmul(&mut u, g, d, rows, &self.vectors_t, d, r, threads);
        for row in u.chunks_exact_mut(r) {
            row.iter_mut().zip(&self.gain).for_each(|(v, k)| *v *= k);
        }
        let mut low_rank = vec![0.0; rows * d];
        matmul(&mut low_rank, &u, r, rows, &self.vectors, r, d, threads);
        for (row, lr) in g.chunks_exact_mut(d).zip(low_rank.chunks_exact(d)) {
            row.iter_mut()
                .zip(lr.iter().zip(&self.mean))
                .for_each(|(v, (l, m))| *v = m + l + *v * self.residual_std);
        }
    }
}

/// The inverse ActNorm `x = (z − shift) ⊙ e^{−log_scale}` on every row of `h`, through
/// [`pulp::Arch::dispatch`] (see [`SiluKernel`]).
struct ActNormInverseKernel<'a> {
    h: &'a mut [f32],
    actnorm: &'a ActNormHost,
}

impl pulp::WithSimd for ActNormInverseKernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let an = self.actnorm;
        for row in self.h.chunks_exact_mut(an.shift.len()) {
            row.iter_mut()
                .zip(an.shift.iter().zip(&an.inv_scale))
                .for_each(|(v, (s, is))| *v = (*v - s) * is);
        }
    }
}

/// A trained [`ConditionalRealNvp`]'s noise → data map on host `f32` buffers (see the module
/// docs): posterior samples on the CPU without burn's per-operation overhead.
///
/// Build it once from a flow ([`CpuRealNvp::from_flow`]; the weights are copied, the flow is
/// not kept) and call [`CpuRealNvp::inverse_tiled`] or [`CpuRealNvp::sample_posterior`].
#[derive(Clone, Debug)]
pub struct CpuRealNvp {
    steps: Vec<Step>,
    encoder: Option<(Dense, Dense)>,
    output_basis: Option<OutputBasis>,
    dim: usize,
    context_dim: usize,
    threads: usize,
}

impl CpuRealNvp {
    /// Copies the weights of `flow` (on any backend) into host memory. Uses every core the
    /// process may run on; see [`Self::with_threads`].
    pub fn from_flow<B: Backend>(flow: &ConditionalRealNvp<B>) -> Self {
        let steps = flow
            .steps
            .iter()
            .map(|s| Step {
                actnorm: s.actnorm.as_ref().map(|an| {
                    let ls = util::param_to_vec(an.log_scale.val());
                    ActNormHost {
                        inv_scale: ls.iter().map(|v| (-v).exp()).collect(),
                        shift: util::param_to_vec(an.shift.val()),
                        log_det: ls.iter().sum(),
                    }
                }),
                coupling_a: Coupling::from_burn(&s.coupling_a, flow.dim),
                coupling_b: Coupling::from_burn(&s.coupling_b, flow.dim),
            })
            .collect();
        let encoder = flow
            .encoder
            .as_ref()
            .map(|e| (Dense::from_linear(&e.input), Dense::from_linear(&e.output)));
        let output_basis = flow.output_basis.as_ref().map(|basis| {
            let vectors = util::param_to_vec(basis.vectors());
            let [rank, dim] = basis.vectors().dims();
            let residual_std = util::scalar(basis.residual_std());
            let mut vectors_t = vec![0.0; rank * dim];
            for k in 0..rank {
                for j in 0..dim {
                    vectors_t[j * rank + k] = vectors[k * dim + j];
                }
            }
            OutputBasis {
                mean: util::param_to_vec(basis.mean()),
                vectors_t,
                vectors,
                gain: util::param_to_vec(basis.std())
                    .iter()
                    .map(|s| s - residual_std)
                    .collect(),
                residual_std,
                rank,
                log_det: util::scalar(basis.log_det()),
            }
        });
        Self {
            steps,
            encoder,
            output_basis,
            dim: flow.dim,
            context_dim: flow.context_dim,
            threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        }
    }

    /// Uses at most `threads` threads (at least 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Signal dimension `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Context width `C`.
    pub fn context_dim(&self) -> usize {
        self.context_dim
    }

    /// Noise → data, `x = G(z; context)`, and `log|det ∂x/∂z|` per row, for `times` noise draws
    /// per context: row `r·N + i` of `z` is conditioned on row `i` of `context` (the layout of
    /// [`ConditionalRealNvp::inverse_tiled`], which this equals to float rounding).
    ///
    /// # Shapes
    /// - `z`: row-major `[times·N, D]`, `context`: `[N, C]` → (`x`: `[times·N, D]`,
    ///   log-det: `[times·N]`)
    ///
    /// # Errors
    /// [`crate::FlowError::InvalidArgument`] if the lengths do not fit these shapes, `times`
    /// is 0, or an input is not finite.
    pub fn inverse_tiled(
        &self,
        z: &[f32],
        context: &[f32],
        times: usize,
    ) -> crate::Result<(Vec<f32>, Vec<f32>)> {
        let (d, c) = (self.dim, self.context_dim);
        if times == 0 || context.is_empty() || !context.len().is_multiple_of(c) {
            return Err(crate::FlowError::InvalidArgument(format!(
                "CpuRealNvp::inverse_tiled needs times >= 1 and a context of N rows of {c} \
                 values; got times = {times} and {} context values",
                context.len()
            )));
        }
        let n = context.len() / c;
        if z.len() != times * n * d {
            return Err(crate::FlowError::InvalidArgument(format!(
                "CpuRealNvp::inverse_tiled: z has {} values, expected times·N·D = {times}·{n}·{d}",
                z.len()
            )));
        }
        if let Some(bad) = z.iter().chain(context).find(|v| !v.is_finite()) {
            return Err(crate::FlowError::InvalidArgument(format!(
                "CpuRealNvp::inverse_tiled: non-finite input value {bad}"
            )));
        }
        let rows = times * n;
        // The condition: encoded once per distinct context, then its share of every
        // coupling's first layer (bias included), in inverse order of use.
        let features = match &self.encoder {
            Some((input, output)) => {
                let mut hidden = vec![0.0; n * input.d_out];
                input.apply(context, c, n, &mut hidden, self.threads);
                pulp::Arch::new().dispatch(SiluKernel(&mut hidden));
                let mut e = vec![0.0; n * output.d_out];
                output.apply(&hidden, input.d_out, n, &mut e, self.threads);
                e
            }
            None => context.to_vec(),
        };
        let e = features.len() / n;
        let cond_parts: Vec<[Vec<f32>; 2]> = self
            .steps
            .iter()
            .map(|s| {
                [&s.coupling_a, &s.coupling_b].map(|cp| {
                    let mut part = vec![0.0; n * cp.width];
                    cp.first_condition
                        .apply(&features, e, n, &mut part, self.threads);
                    part
                })
            })
            .collect();

        let mut x = z.to_vec();
        let mut log_det = vec![0.0f32; rows];
        // Enough rows: each thread runs the whole flow on its share (no synchronisation between
        // layers). Too few: one pass, its large products split across the threads.
        let chunks = row_blocks(self.threads, rows);
        let per = rows.div_ceil(chunks);
        let threads_per_chunk = if chunks == 1 { self.threads } else { 1 };
        std::thread::scope(|scope| {
            for (k, (xs, ld)) in x
                .chunks_mut(per * d)
                .zip(log_det.chunks_mut(per))
                .enumerate()
            {
                let cond_parts = &cond_parts;
                let mut work =
                    move || self.inverse_rows(xs, ld, cond_parts, k * per, n, threads_per_chunk);
                if chunks == 1 {
                    work();
                } else {
                    scope.spawn(work);
                }
            }
        });
        Ok((x, log_det))
    }

    /// The whole inverse flow on a block of rows `h` (`[rows, D]`, in place) that starts at
    /// row `row0` of the call's rows (so row `r` uses condition `(row0 + r) % n_cond`).
    fn inverse_rows(
        &self,
        h: &mut [f32],
        log_det: &mut [f32],
        cond_parts: &[[Vec<f32>; 2]],
        row0: usize,
        n_cond: usize,
        threads: usize,
    ) {
        let (d, rows) = (self.dim, log_det.len());
        let mut scratch = [Vec::new(), Vec::new()];
        let simd = pulp::Arch::new();
        for (step, [part_a, part_b]) in self.steps.iter().zip(cond_parts).rev() {
            h.chunks_exact_mut(d).for_each(<[f32]>::reverse);
            for (coupling, part) in [(&step.coupling_b, part_b), (&step.coupling_a, part_a)] {
                coupling.inverse_rows(h, d, log_det, part, row0, n_cond, &mut scratch, threads);
            }
            if let Some(an) = &step.actnorm {
                simd.dispatch(ActNormInverseKernel { h, actnorm: an });
                log_det.iter_mut().for_each(|l| *l -= an.log_det);
            }
        }
        if let Some(basis) = &self.output_basis {
            basis.to_data(h, rows, d, threads);
            log_det.iter_mut().for_each(|l| *l += basis.log_det);
        }
    }

    /// `n` posterior samples for one measurement `y` with mask `mask` (`1` observed, `0`
    /// hidden), drawn like [`crate::amortized::sample_posterior`]: the same RNG state gives
    /// the same noise and so the same samples to float rounding.
    ///
    /// # Shapes
    /// - `y`, `mask`: `[D]` → row-major `[n, D]`
    ///
    /// # Errors
    /// [`crate::FlowError::InvalidArgument`] if `y` or `mask` is not `D` long, `n` is 0, or a
    /// value is not finite.
    pub fn sample_posterior<R: Rng + ?Sized>(
        &self,
        y: &[f32],
        mask: &[f32],
        n: usize,
        rng: &mut R,
    ) -> crate::Result<Vec<f32>> {
        let d = self.dim;
        if y.len() != d || mask.len() != d || 2 * d != self.context_dim {
            return Err(crate::FlowError::InvalidArgument(format!(
                "CpuRealNvp::sample_posterior needs a measurement and a mask of {d} values for \
                 a flow with context [y, mask] of {} values; got {} and {}",
                self.context_dim,
                y.len(),
                mask.len()
            )));
        }
        let context = [y, mask].concat();
        let z = util::standard_normal_vec(rng, n * d);
        Ok(self.inverse_tiled(&z, &context, n)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{max_abs_diff, perturbed, perturbed_by};
    use super::*;
    use crate::basis::{DataBasis, PrincipalBasis};
    use crate::realnvp::ConditionalRealNvpConfig;
    use crate::util::{randn, to_vec};
    use burn::backend::NdArray;
    use rand::{rngs::StdRng, SeedableRng};

    type B = NdArray<f32>;

    /// Largest difference of `x` from `reference`, relative to `reference`'s largest magnitude
    /// (at least 1).
    fn relative_error(x: &[f32], reference: &[f32]) -> f32 {
        max_abs_diff(x, reference) / reference.iter().fold(1.0f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn exp_and_tanh_approximations_are_accurate() {
        let mut worst_exp = 0.0f64;
        let mut worst_tanh = 0.0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let e = (x as f64).exp();
            worst_exp = worst_exp.max(((exp_approx(x) as f64 - e) / e).abs());
            if x.abs() < 12.0 {
                let t = (x as f64).tanh();
                worst_tanh = worst_tanh.max((tanh_approx(x) as f64 - t).abs());
            }
        }
        assert!(worst_exp < 3e-7, "exp relative error {worst_exp}");
        assert!(worst_tanh < 3e-7, "tanh absolute error {worst_tanh}");
        // Saturation instead of overflow, and the exact values at 0.
        assert!(exp_approx(1e4).is_finite() && exp_approx(-1e4) > 0.0);
        assert_eq!((exp_approx(0.0), tanh_approx(0.0)), (1.0, 0.0));
        assert_eq!((tanh_approx(50.0), tanh_approx(-50.0)), (1.0, -1.0));
    }

    /// The engine equals burn's `inverse_tiled` on perturbed flows far from the identity, with
    /// and without encoder, ActNorm and output basis, odd `D`, one or several contexts.
    #[test]
    fn matches_the_burn_flow() {
        let dev = Default::default();
        let fit = PrincipalBasis {
            mean: vec![0.3, -0.1, 0.5, 0.0, 0.2, 0.1, -0.4],
            vectors: {
                let h = std::f32::consts::FRAC_1_SQRT_2;
                vec![
                    h, 0.0, h, 0.0, 0.0, 0.0, 0.0, //
                    0.0, 0.6, 0.0, 0.8, 0.0, 0.0, 0.0,
                ]
            },
            std: vec![2.0, 0.5],
            residual_std: 0.1,
            dim: 7,
        };
        for (dim, steps, actnorm, embedding, basis, n, times) in [
            (7, 3, true, Some(5), true, 1, 40),
            (7, 2, false, None, false, 3, 13),
            (33, 4, true, Some(16), false, 2, 24),
            (6, 8, true, Some(8), false, 5, 1),
        ] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(steps)
                .with_actnorm(actnorm)
                .with_hidden(Some(16))
                .with_context_embedding(embedding)
                .with_output_basis_rank(basis.then_some(2));
            let mut flow = perturbed::<B>(&cfg, 3 + dim as u64, &dev);
            if basis {
                flow = flow
                    .with_output_basis(DataBasis::from_fit(&fit, &dev))
                    .unwrap();
            }
            let mut rng = StdRng::seed_from_u64(8);
            let z = randn::<B, _>(&mut rng, n * times, dim, &dev);
            let c = randn::<B, _>(&mut rng, n, 2 * dim, &dev);
            let (x_burn, ld_burn) = flow.inverse_tiled(z.clone(), c.clone(), times);
            let (x_burn, ld_burn) = (to_vec(x_burn), to_vec(ld_burn));
            assert!(
                max_abs_diff(&x_burn, &to_vec(z.clone())) > 1e-2,
                "not the identity"
            );
            for threads in [1, 2, 3] {
                let engine = CpuRealNvp::from_flow(&flow).with_threads(threads);
                let (x, ld) = engine
                    .inverse_tiled(&to_vec(z.clone()), &to_vec(c.clone()), times)
                    .unwrap();
                let err = relative_error(&x, &x_burn);
                assert!(
                    err < 2e-5,
                    "dim {dim}, {threads} threads: relative error {err}"
                );
                let err_ld = max_abs_diff(&ld, &ld_burn);
                assert!(
                    err_ld < 1e-3,
                    "dim {dim}, {threads} threads: log-det error {err_ld}"
                );
            }
        }
    }

    /// Both ways of using threads give the same samples as burn for every thread count: rows
    /// split between threads (150 rows), and one pass whose large products are split (20 rows
    /// of `256 × 256` products). `sample_posterior` draws the noise as the burn sampler does.
    #[test]
    fn posterior_samples_equal_burn_samples_across_threads() {
        let dev = Default::default();
        // Weights of U(−0.3, 0.3) in 256-wide layers would amplify rounding differences of the
        // products' summation order chaotically; 0.05 keeps the layers' gain below 1.
        for (dim, hidden, n, scale) in [(64, 128, 150, 0.3), (256, 256, 20, 0.05)] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(2)
                .with_hidden(Some(hidden))
                .with_context_embedding(Some(12));
            let flow = perturbed_by::<B>(&cfg, 5, scale, &dev);
            let mut rng = StdRng::seed_from_u64(1);
            let y = to_vec(randn::<B, _>(&mut rng, 1, dim, &dev));
            let mask: Vec<f32> = (0..dim).map(|j| (j % 3 != 0) as u8 as f32).collect();
            let burn = to_vec(crate::amortized::sample_posterior(
                &flow,
                util::tensor1::<B>(y.clone(), &dev),
                util::tensor1::<B>(mask.clone(), &dev),
                n,
                &mut StdRng::seed_from_u64(42),
            ));
            for threads in [1, 2, 4] {
                if row_blocks(threads, n) == 1 && threads > 1 {
                    assert!(n * hidden * dim >= PARALLEL_MIN_MACS, "split products");
                }
                let engine = CpuRealNvp::from_flow(&flow).with_threads(threads);
                let x = engine
                    .sample_posterior(&y, &mask, n, &mut StdRng::seed_from_u64(42))
                    .unwrap();
                assert_eq!(x.len(), n * dim);
                let err = relative_error(&x, &burn);
                assert!(
                    err < 2e-5,
                    "D {dim}, {threads} threads: relative error {err}"
                );
            }
        }
    }

    #[test]
    fn bad_shapes_and_values_are_refused() {
        let dev = Default::default();
        let flow = ConditionalRealNvpConfig::new(4, 8)
            .with_steps(1)
            .init::<B>(&dev);
        let engine = CpuRealNvp::from_flow(&flow);
        let mut rng = StdRng::seed_from_u64(0);
        assert!(engine.inverse_tiled(&[0.0; 8], &[0.0; 8], 2).is_ok());
        for (z, c, times) in [
            (vec![0.0; 7], vec![0.0; 8], 2),
            (vec![0.0; 8], vec![0.0; 7], 2),
            (vec![0.0; 8], vec![0.0; 8], 0),
            (vec![f32::NAN; 8], vec![0.0; 8], 2),
            (vec![0.0; 4], vec![f32::INFINITY; 8], 1),
        ] {
            let err = engine.inverse_tiled(&z, &c, times).unwrap_err();
            assert!(matches!(err, crate::FlowError::InvalidArgument(_)), "{err}");
        }
        assert!(engine
            .sample_posterior(&[0.0; 3], &[1.0; 4], 2, &mut rng)
            .is_err());
        let x = engine
            .sample_posterior(&[0.5; 4], &[1.0; 4], 3, &mut rng)
            .unwrap();
        assert_eq!(x.len(), 12);
    }
}
