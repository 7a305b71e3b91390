"""JAX (CPU, jit) timing of meshflow's amortised posterior sampler, side by side with
`flows/examples/sampler_timing.rs`.

What it measures, for D in [1890, 4140] (the same work as the Rust example):

* one batched pass of 64 posterior samples `x = G(z; y)` of one measurement, and of 1 sample;
* one amortised VI training step at 64 flow rows, as 64 y × 1 z and as 16 y × 4 z: measurement
  simulation (random 50 % mask, σ = 0.1), the flow's noise → data pass, the VI loss
  `‖y − mask ⊙ x‖²/(2σ²) + λ·ELBO_θ(x) − log|det ∂G/∂z|` with the frozen MLP score prior in the
  DSM-ELBO surrogate (importance-sampled t, antithetic noise, one time sample), the gradient
  w.r.t. the flow's parameters only, gradient-norm clipping relative to the running mean, and
  an Adam update (burn's AdamW defaults with zero weight decay, lr 1e-3).

It mirrors sampler_timing.rs's architecture (flows/src/realnvp/mod.rs, amortized.rs, dsm.rs,
score.rs, sde.rs at their defaults):

* conditional RealNVP, K = 8 steps of ActNorm → affine coupling A (transforms the second
  ⌊D/2⌋ coordinates given the first ⌈D/2⌉) → affine coupling B (the first part given the
  second) → reversal of the D coordinates; each coupling network has 2 hidden layers of
  width max(D/8, 8), SiLU, reads [unchanged part, context embedding] and outputs
  (shift, raw) with log_scale = scale ⊙ tanh(raw), a learned per-coordinate scale (init 1) and
  a zero-initialised last layer;
* context encoder Linear(2D → 256) → SiLU → Linear(256 → 128) on [y, mask], computed once per
  measurement, and each coupling's first-layer share of the embedding (plus its bias) computed
  once per measurement and broadcast over the z draws (Rust's `inverse_tiled` with `times`);
* frozen prior MlpScore(D) at its defaults: input D → 256, sinusoidal time embedding (64) →
  256 → 256, 2 pre-activation residual blocks of three 256 × 256 layers, output 256 → D,
  divided by σ(t) of the VP-SDE (β_min 0.1, β_max 20, T 1, eps 1e-3);
* weights initialised U(−1/√fan_in, 1/√fan_in) like `util::linear`.

Medians over ROUNDS timed calls after warm-up (compilation is excluded), each call ended with
`.block_until_ready()`. Run on an otherwise idle machine:

    pip install "jax[cpu]"
    python3 scripts/jax_reference_timing.py 10              # ROUNDS = 10, D = 1890 and 4140
    python3 scripts/jax_reference_timing.py 2 64            # quick check at D = 64
    python3 scripts/jax_reference_timing.py 5 1890,4140     # argv[2]: comma-separated dims

argv[2] (or the env var MESHFLOW_JAX_DIMS) overrides the list of dimensions. At startup a
self-check on tiny flows asserts invertibility (forward∘inverse and inverse∘forward within
1e-4), log-dets against autodiff Jacobians and tiled vs repeated contexts; when every
requested D is ≤ 256 it also checks the flow at that D and that the VI loss is finite and
decreases over 20 Adam steps. MESHFLOW_JAX_SKIP_SELFCHECK=1 skips all of it.
"""

import math
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

# ---------------------------------------------------------------------------------------------
# Configuration (defaults of ConditionalRealNvpConfig, SamplerTrainConfig, MlpScoreConfig, VpSde)
# ---------------------------------------------------------------------------------------------

STEPS = 8  # K
HIDDEN_LAYERS = 2
CONTEXT_HIDDEN = 256
CONTEXT_EMBEDDING = 128  # E
PRIOR_HIDDEN = 256
PRIOR_BLOCKS = 2
PRIOR_TIME_EMBEDDING = 64
BETA_MIN, BETA_MAX, T_END, T_EPS = 0.1, 20.0, 1.0, 1e-3
NOISE_STD = 0.1
OBSERVED_FRACTION = 0.5
PRIOR_WEIGHT = 1.0
LEARNING_RATE = 1e-3
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-5  # burn's AdamWConfig defaults
CLIP_FACTOR, CLIP_DECAY = 5.0, 0.99
DATASET_ROWS = 256


def hidden_units(d):
    return max(d // 8, 8)


# ---------------------------------------------------------------------------------------------
# VP-SDE and the importance sampler of t ∝ β/σ² (host constants in float64)
# ---------------------------------------------------------------------------------------------


def integrated_beta(t):
    return BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t


def _log_expm1(b):
    return b + math.log1p(-math.exp(-b)) if b > 30 else math.log(math.expm1(b))


L_EPS = _log_expm1(integrated_beta(T_EPS))
Z_NORM = _log_expm1(integrated_beta(T_END)) - L_EPS
A_EPS = math.exp(-0.5 * integrated_beta(T_EPS))
S_EPS2 = -math.expm1(-integrated_beta(T_EPS))


def alpha_sigma(t):
    b = integrated_beta(t)
    return jnp.exp(-0.5 * b), jnp.sqrt(jnp.maximum(-jnp.expm1(-b), 0.0))


def importance_times(key, n):
    """t ~ q(t) ∝ β(t)/σ(t)² on [eps, T] by the exact inverse CDF."""
    u = jax.random.uniform(key, (n,))
    b = jax.nn.softplus(L_EPS + u * Z_NORM)
    a = 0.5 * (BETA_MAX - BETA_MIN)
    t = 2.0 * b / (BETA_MIN + jnp.sqrt(BETA_MIN * BETA_MIN + 4.0 * a * b))
    return jnp.clip(t, T_EPS, T_END)


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def _uniform(key, shape, fan_in):
    k = 1.0 / math.sqrt(max(fan_in, 1))
    return jax.random.uniform(key, shape, jnp.float32, -k, k)


def _linear(key, d_in, d_out, zero=False):
    kw, kb = jax.random.split(key)
    if zero:
        return {"w": jnp.zeros((d_in, d_out), jnp.float32), "b": jnp.zeros((d_out,), jnp.float32)}
    return {"w": _uniform(kw, (d_in, d_out), d_in), "b": _uniform(kb, (d_out,), d_in)}


def _coupling(key, d_cond, d_trans, hidden, e):
    """First layer on [cond, embedding] stored as its two row blocks (same matrix, same count)."""
    keys = jax.random.split(key, HIDDEN_LAYERS + 1)
    first = _linear(keys[0], d_cond + e, hidden)
    p = {"w0x": first["w"][:d_cond], "w0c": first["w"][d_cond:], "b0": first["b"], "layers": []}
    d_in = hidden
    for i in range(1, HIDDEN_LAYERS):
        p["layers"].append(_linear(keys[i], d_in, hidden))
    p["layers"].append(_linear(keys[HIDDEN_LAYERS], hidden, 2 * d_trans, zero=True))
    p["scale"] = jnp.ones((d_trans,), jnp.float32)
    return p


def init_flow(key, d, steps=STEPS, hidden=None, e=CONTEXT_EMBEDDING, context_hidden=CONTEXT_HIDDEN):
    hidden = hidden or hidden_units(d)
    d1, d2 = (d + 1) // 2, d // 2
    keys = jax.random.split(key, 2 * steps + 2)
    step_params = []
    for k in range(steps):
        step_params.append(
            {
                "an_log_scale": jnp.zeros((d,), jnp.float32),
                "an_shift": jnp.zeros((d,), jnp.float32),
                "a": _coupling(keys[2 * k], d1, d2, hidden, e),  # transforms the second part
                "b": _coupling(keys[2 * k + 1], d2, d1, hidden, e),  # transforms the first part
            }
        )
    encoder = {
        "input": _linear(keys[-2], 2 * d, context_hidden),
        "output": _linear(keys[-1], context_hidden, e),
    }
    return {"steps": step_params, "encoder": encoder}


def init_prior(key, d):
    h = PRIOR_HIDDEN
    keys = iter(jax.random.split(key, 4 + 3 * PRIOR_BLOCKS))
    return {
        "input": _linear(next(keys), d, h),
        "time1": _linear(next(keys), PRIOR_TIME_EMBEDDING, h),
        "time2": _linear(next(keys), h, h),
        "blocks": [
            {
                "fc1": _linear(next(keys), h, h),
                "time": _linear(next(keys), h, h),
                "fc2": _linear(next(keys), h, h, zero=True),
            }
            for _ in range(PRIOR_BLOCKS)
        ],
        "output": _linear(next(keys), h, d),
    }


def count_params(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


# ---------------------------------------------------------------------------------------------
# The conditional RealNVP
# ---------------------------------------------------------------------------------------------


def _dense(p, x):
    return x @ p["w"] + p["b"]


def encode(params, context):
    """[N, 2D] → [N, E]."""
    enc = params["encoder"]
    return _dense(enc["output"], jax.nn.silu(_dense(enc["input"], context)))


def _coupling_params(p, cond, feat, times):
    """(shift, log_scale) for rows r·N + i conditioned on feat[i]; the embedding's share of the
    first layer is computed once per distinct condition and broadcast over the `times` blocks."""
    n = feat.shape[0]
    c_part = feat @ p["w0c"] + p["b0"]  # [N, h]
    h = cond @ p["w0x"]  # [times·N, h]
    h = (h.reshape(times, n, -1) + c_part[None]).reshape(times * n, -1)
    for layer in p["layers"]:
        h = _dense(layer, jax.nn.silu(h))
    d_trans = p["scale"].shape[0]
    shift, raw = h[:, :d_trans], h[:, d_trans:]
    return shift, jnp.tanh(raw) * p["scale"]


def _split(x, d_trans, transform_second):
    d = x.shape[1]
    if transform_second:
        return x[:, : d - d_trans], x[:, d - d_trans :]
    return x[:, d_trans:], x[:, :d_trans]


def _join(cond, u, transform_second):
    return jnp.concatenate([cond, u] if transform_second else [u, cond], axis=1)


def _coupling_forward(p, x, feat, times, transform_second):
    cond, u = _split(x, p["scale"].shape[0], transform_second)
    shift, ls = _coupling_params(p, cond, feat, times)
    return _join(cond, u * jnp.exp(ls) + shift, transform_second), ls.sum(axis=1)


def _coupling_inverse(p, z, feat, times, transform_second):
    cond, u = _split(z, p["scale"].shape[0], transform_second)
    shift, ls = _coupling_params(p, cond, feat, times)
    return _join(cond, (u - shift) * jnp.exp(-ls), transform_second), -ls.sum(axis=1)


def flow_forward(params, x, context, times=1):
    """Data → noise: (z, log|det ∂z/∂x|) for x [times·N, D], context [N, 2D]."""
    feat = encode(params, context)
    logdet = jnp.zeros((x.shape[0],), x.dtype)
    h = x
    for s in params["steps"]:
        h = h * jnp.exp(s["an_log_scale"]) + s["an_shift"]
        logdet = logdet + s["an_log_scale"].sum()
        h, ld = _coupling_forward(s["a"], h, feat, times, True)
        logdet = logdet + ld
        h, ld = _coupling_forward(s["b"], h, feat, times, False)
        logdet = logdet + ld
        h = h[:, ::-1]
    return h, logdet


def flow_inverse(params, z, context, times=1):
    """Noise → data: (x, log|det ∂x/∂z|) for z [times·N, D], context [N, 2D]."""
    feat = encode(params, context)
    logdet = jnp.zeros((z.shape[0],), z.dtype)
    h = z
    for s in reversed(params["steps"]):
        h, ld = _coupling_inverse(s["b"], h[:, ::-1], feat, times, False)
        logdet = logdet + ld
        h, ld = _coupling_inverse(s["a"], h, feat, times, True)
        logdet = logdet + ld
        h = (h - s["an_shift"]) * jnp.exp(-s["an_log_scale"])
        logdet = logdet - s["an_log_scale"].sum()
    return h, logdet


def sample(params, y, mask, key, n):
    """n posterior samples of one measurement y [D] with mask [D], in one batched pass → [n, D]."""
    context = jnp.concatenate([y, mask])[None, :]
    z = jax.random.normal(key, (n, y.shape[0]), jnp.float32)
    return flow_inverse(params, z, context, times=n)[0]


sample_jit = jax.jit(sample, static_argnames="n")


# ---------------------------------------------------------------------------------------------
# Frozen MLP score prior and the DSM-ELBO surrogate
# ---------------------------------------------------------------------------------------------


def sinusoidal_embedding(t, size):
    half = size // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half) / (max(half, 2) - 1)).astype(np.float32)
    arg = (999.0 * t)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(arg), jnp.cos(arg)], axis=1)


def prior_score(prior, x_t, t):
    """MlpScore::forward with scale_by_sigma: network(x_t, t) / σ(t)."""
    temb = sinusoidal_embedding(t, PRIOR_TIME_EMBEDDING)
    temb = jax.nn.silu(_dense(prior["time2"], jax.nn.silu(_dense(prior["time1"], temb))))
    h = _dense(prior["input"], x_t)
    for blk in prior["blocks"]:
        u = jax.nn.silu(_dense(blk["fc1"], jax.nn.silu(h)) + _dense(blk["time"], temb))
        h = h + _dense(blk["fc2"], u)
    out = _dense(prior["output"], jax.nn.silu(h))
    return out / alpha_sigma(t)[1][:, None]


def dsm_elbo_surrogate(prior, x, key):
    """Upper bound on −log p_θ(x) per row (dsm.rs, one time sample, antithetic, constants)."""
    n, d = x.shape
    kt, kz = jax.random.split(key)
    t = importance_times(kt, n)
    z = jax.random.normal(kz, (n, d), jnp.float32)
    z = jnp.concatenate([z, -z], axis=0)
    t = jnp.concatenate([t, t])
    xr = jnp.concatenate([x, x], axis=0)
    alpha, sigma = alpha_sigma(t)
    alpha, sigma = alpha[:, None], sigma[:, None]
    xt = xr * alpha + z * sigma
    r = prior_score(prior, xt, t) * sigma + z
    r_ref = z * (alpha * alpha) - xr * (sigma * alpha)
    sq = (r * r).sum(axis=1) - (r_ref * r_ref).sum(axis=1)
    score_term = (sq * (0.5 * Z_NORM)).reshape(2, n).mean(axis=0)
    const = 0.5 * d * math.log(2.0 * math.pi) + 0.5 * d * S_EPS2
    return score_term + 0.5 * A_EPS * A_EPS * (x * x).sum(axis=1) + const


# ---------------------------------------------------------------------------------------------
# VI loss and training step
# ---------------------------------------------------------------------------------------------


def vi_loss(params, prior, data, key, batch, z_per_y):
    k_idx, k_mask, k_noise, k_z, k_elbo = jax.random.split(key, 5)
    d = data.shape[1]
    x0 = data[jax.random.randint(k_idx, (batch,), 0, data.shape[0])]
    mask = (jax.random.uniform(k_mask, (batch, d)) < OBSERVED_FRACTION).astype(jnp.float32)
    y = (x0 + NOISE_STD * jax.random.normal(k_noise, (batch, d), jnp.float32)) * mask
    context = jnp.concatenate([y, mask], axis=1)
    n = batch * z_per_y
    z = jax.random.normal(k_z, (n, d), jnp.float32)
    x, log_det = flow_inverse(params, z, context, times=z_per_y)
    r = jnp.tile(y, (z_per_y, 1)) - jnp.tile(mask, (z_per_y, 1)) * x
    data_term = (r * r).sum(axis=1) / (2.0 * NOISE_STD * NOISE_STD)
    prior_term = dsm_elbo_surrogate(prior, x, k_elbo)
    return jnp.mean(data_term + PRIOR_WEIGHT * prior_term - log_det)


def init_train_state(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return {
        "params": params,
        "m": zeros,
        "v": jax.tree_util.tree_map(jnp.zeros_like, params),
        "step": jnp.zeros((), jnp.int32),
        "clip_mean": jnp.full((), -1.0, jnp.float32),  # < 0: no running mean yet
    }


def train_step(state, prior, data, base_key, batch, z_per_y):
    """One optimiser step; returns (new state, loss)."""
    key = jax.random.fold_in(base_key, state["step"])
    loss, g = jax.value_and_grad(vi_loss)(state["params"], prior, data, key, batch, z_per_y)
    # Gradient clipping relative to the running mean of the (clipped) global norms.
    norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
    mean = state["clip_mean"]
    limit = jnp.where(mean < 0, jnp.inf, CLIP_FACTOR * mean)
    clip = (norm > limit) & jnp.isfinite(norm)
    kept = jnp.where(clip, limit, norm)
    factor = jnp.where(clip, limit / norm, 1.0)
    new_mean = jnp.where(
        jnp.isfinite(kept),
        jnp.where(mean < 0, kept, CLIP_DECAY * mean + (1.0 - CLIP_DECAY) * kept),
        mean,
    )
    # Adam (AdamW with zero weight decay).
    t = (state["step"] + 1).astype(jnp.float32)
    c1 = 1.0 - ADAM_B1**t
    c2 = 1.0 - ADAM_B2**t

    def update(p, gi, m, v):
        gi = gi * factor
        m = ADAM_B1 * m + (1.0 - ADAM_B1) * gi
        v = ADAM_B2 * v + (1.0 - ADAM_B2) * gi * gi
        p = p - LEARNING_RATE * (m / c1) / (jnp.sqrt(v / c2) + ADAM_EPS)
        return p, m, v

    tdef = jax.tree_util.tree_structure(state["params"])
    out = [
        update(p, gi, m, v)
        for p, gi, m, v in zip(
            *(jax.tree_util.tree_leaves(x) for x in (state["params"], g, state["m"], state["v"]))
        )
    ]
    new_state = {
        "params": jax.tree_util.tree_unflatten(tdef, [o[0] for o in out]),
        "m": jax.tree_util.tree_unflatten(tdef, [o[1] for o in out]),
        "v": jax.tree_util.tree_unflatten(tdef, [o[2] for o in out]),
        "step": state["step"] + 1,
        "clip_mean": new_mean,
    }
    return new_state, loss


train_step_jit = jax.jit(train_step, static_argnames=("batch", "z_per_y"), donate_argnums=0)
vi_loss_jit = jax.jit(vi_loss, static_argnames=("batch", "z_per_y"))


# ---------------------------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------------------------


def perturbed(params, key, scale):
    leaves, tdef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(
        tdef,
        [p + scale * jax.random.uniform(k, p.shape, jnp.float32, -1.0, 1.0) for p, k in zip(leaves, keys)],
    )


def check_invertible(params, d, key, rows=16, times=1, jacobian=False):
    kx, kc = jax.random.split(key)
    x = jax.random.normal(kx, (rows * times, d), jnp.float32)
    c = jax.random.normal(kc, (rows, 2 * d), jnp.float32)
    fwd = jax.jit(flow_forward, static_argnames="times")
    inv = jax.jit(flow_inverse, static_argnames="times")
    z, ld_f = fwd(params, x, c, times=times)
    assert float(jnp.max(jnp.abs(z - x))) > 1e-2, "the perturbed flow should not be the identity"
    x2, ld_i = inv(params, z, c, times=times)
    err = float(jnp.max(jnp.abs(x2 - x)))
    assert err < 1e-4, f"D={d}: inverse(forward(x)) error {err}"
    assert float(jnp.max(jnp.abs(ld_f + ld_i))) < 1e-4, f"D={d}: log-dets do not cancel"
    z2, _ = fwd(params, inv(params, z, c, times=times)[0], c, times=times)
    err = float(jnp.max(jnp.abs(z2 - z)))
    assert err < 1e-4, f"D={d}: forward(inverse(z)) error {err}"
    if times > 1:  # tiled context == context repeated row by row
        x_r, ld_r = inv(params, z, jnp.tile(c, (times, 1)), times=1)
        assert float(jnp.max(jnp.abs(x_r - x2))) < 1e-5 and float(jnp.max(jnp.abs(ld_r - ld_i))) < 1e-4
    if jacobian:  # log|det| against the autodiff Jacobian, row 0, both directions
        for f, pt, ld in ((flow_forward, x, ld_f), (flow_inverse, z, ld_i)):
            jac = jax.jacfwd(lambda v: f(params, v[None, :], c[:1])[0][0])(pt[0])
            brute = float(np.linalg.slogdet(np.asarray(jac, np.float64))[1])
            assert abs(brute - float(ld[0])) < 1e-3, f"D={d}: log-det {float(ld[0])} vs {brute}"
    return err


def self_check(dims):
    key = jax.random.PRNGKey(1234)
    # Tiny flows (odd and even D, with and without several steps), far from the identity.
    for d, steps, hidden, e in ((7, 3, 16, 8), (6, 8, 16, CONTEXT_EMBEDDING), (8, 2, 12, 3)):
        key, k1, k2 = jax.random.split(key, 3)
        params = perturbed(init_flow(k1, d, steps=steps, hidden=hidden, e=e), k2, 0.3)
        check_invertible(params, d, k2, rows=4, times=3, jacobian=True)
    print("self-check: tiny flows invertible (1e-4), log-dets match Jacobians, tiling exact")
    if max(dims) > 256:
        return
    for d in dims:
        key, k1, k2, k3, k4, k5 = jax.random.split(key, 6)
        params = init_flow(k1, d)
        err = check_invertible(perturbed(params, k2, 0.02), d, k3, rows=8, times=4)
        prior = init_prior(k4, d)
        data = jax.random.normal(k5, (DATASET_ROWS, d), jnp.float32)
        eval_key = jax.random.PRNGKey(7)
        before = float(vi_loss_jit(params, prior, data, eval_key, batch=16, z_per_y=4))
        state = init_train_state(params)
        losses = []
        for _ in range(20):
            state, loss = train_step_jit(state, prior, data, key, batch=16, z_per_y=4)
            losses.append(float(loss))
        after = float(vi_loss_jit(state["params"], prior, data, eval_key, batch=16, z_per_y=4))
        assert all(math.isfinite(v) for v in losses + [before, after]), losses
        assert after < before, f"D={d}: VI loss did not decrease ({before} → {after})"
        assert statistics.mean(losses[-5:]) < statistics.mean(losses[:5]), losses
        print(
            f"self-check D={d}: round-trip error {err:.1e}; VI loss on a fixed batch "
            f"{before:.1f} → {after:.1f} after 20 Adam steps; step losses "
            + ", ".join(f"{v:.0f}" for v in losses)
        )


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def median_ms(f, rounds, warmup=2):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]  # the upper median, as sampler_timing.rs


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    dims_arg = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("MESHFLOW_JAX_DIMS", "1890,4140")
    dims = [int(v) for v in dims_arg.replace(" ", ",").split(",") if v]
    import jaxlib

    cpus = jax.devices("cpu")
    print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}; backend {jax.default_backend()}, "
          f"{len(cpus)} CPU device(s), os.cpu_count() = {os.cpu_count()}, "
          f"XLA_FLAGS = {os.environ.get('XLA_FLAGS', '')!r}")
    if os.environ.get("MESHFLOW_JAX_SKIP_SELFCHECK") != "1":
        self_check(dims)
    for d in dims:
        n_flow = count_params(jax.eval_shape(lambda: init_flow(jax.random.PRNGKey(0), d)))
        n_prior = count_params(jax.eval_shape(lambda: init_prior(jax.random.PRNGKey(0), d)))
        print(f"D = {d}: flow {n_flow:,} parameters (K = {STEPS}, coupling width {hidden_units(d)}, "
              f"E = {CONTEXT_EMBEDDING}); frozen MLP prior {n_prior:,}")
    print()
    print(f"| D | what | setting | median ms |")
    print("|---|---|---|---|")
    for d in dims:
        key = jax.random.PRNGKey(0)
        k_flow, k_prior, k_y, k_data, k_s, k_t = jax.random.split(key, 6)
        params = init_flow(k_flow, d)
        y = jax.random.normal(k_y, (d,), jnp.float32)
        mask = jnp.ones((d,), jnp.float32)
        for n in (64, 1):
            keys = iter(jax.random.split(jax.random.fold_in(k_s, n), rounds + 10))
            t0 = time.perf_counter()
            sample_jit(params, y, mask, next(keys), n=n).block_until_ready()
            print(f"  (compiled sample n={n} at D={d} in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
            ms = median_ms(lambda: sample_jit(params, y, mask, next(keys), n=n).block_until_ready(), rounds)
            print(f"| {d} | sample, JAX jit | {n} sample(s) of one measurement | {ms:.1f} |", flush=True)
        prior = init_prior(k_prior, d)
        data = jax.random.normal(k_data, (DATASET_ROWS, d), jnp.float32)
        for batch, z_per_y in ((64, 1), (16, 4)):
            box = {"state": init_train_state(jax.tree_util.tree_map(jnp.copy, params))}

            def step():
                box["state"], loss = train_step_jit(box["state"], prior, data, k_t, batch=batch, z_per_y=z_per_y)
                loss.block_until_ready()
                jax.block_until_ready(box["state"])

            t0 = time.perf_counter()
            step()
            print(f"  (compiled VI step {batch}x{z_per_y} at D={d} in {time.perf_counter() - t0:.1f} s)",
                  file=sys.stderr)
            ms = median_ms(step, rounds, warmup=1)
            print(f"| {d} | VI training step, JAX jit | {batch} y × {z_per_y} z = 64 flow rows, MLP prior "
                  f"hidden 256 | {ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
