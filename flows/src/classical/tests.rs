//! Cross-method tests: every baseline on smooth fields on a lat-lon sphere grid.

use super::*;
use meshflow_geometry::sphere::SphereGrid;
use rand::{rngs::StdRng, SeedableRng};

/// A random polynomial of degree ≤ 3 in (x, y, z) on the unit sphere (= a random combination
/// of spherical harmonics of degree ≤ 3), scaled to about unit amplitude.
fn smooth_field(grid: &SphereGrid, rng: &mut StdRng) -> Vec<f32> {
    let c: Vec<f64> = (0..20)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    grid.mesh()
        .positions()
        .iter()
        .map(|p| {
            let (x, y, z) = (p.x, p.y, p.z);
            let monomials = [
                1.0,
                x,
                y,
                z,
                x * y,
                x * z,
                y * z,
                x * x - y * y,
                3.0 * z * z - 1.0,
                x * x * x,
                y * y * y,
                z * z * z,
                x * y * z,
                x * x * y,
                x * x * z,
                y * y * x,
                y * y * z,
                z * z * x,
                z * z * y,
                x * y * y,
            ];
            (monomials.iter().zip(&c).map(|(m, c)| m * c).sum::<f64>() * 0.5) as f32
        })
        .collect()
}

#[test]
fn kriging_and_harmonic_beat_nearest_on_smooth_fields() {
    let grid = SphereGrid::latlon(31, 60).unwrap();
    let mesh = grid.mesh();
    let mut rng = StdRng::seed_from_u64(99);
    let train: Vec<Vec<f32>> = (0..20).map(|_| smooth_field(&grid, &mut rng)).collect();
    let test: Vec<Vec<f32>> = (0..6).map(|_| smooth_field(&grid, &mut rng)).collect();
    let degradation = Degradation::new(0.5, 0.1).unwrap();

    let harmonic = HarmonicFill::new(mesh, 1.0).unwrap();
    let candidates = log_grid(1e-6, 1e3, 19).unwrap();
    let fit = harmonic
        .fit_alpha(&train, &degradation, 1, &candidates)
        .unwrap();
    assert!(fit.alpha > 1e-6 && fit.alpha < 1e3, "alpha {}", fit.alpha);
    let harmonic = harmonic.with_alpha(fit.alpha).unwrap();

    let gmrf_fit = MaternParams::fit(mesh, &train, &GmrfFitOptions::default()).unwrap();
    let prior = SpdeGmrf::new(mesh, gmrf_fit.params).unwrap();
    let kriging = GmrfKriging::new(prior, degradation.sigma, StdMethod::None).unwrap();

    let methods: Vec<Box<dyn Reconstructor>> = vec![
        Box::new(NearestFill::new(mesh)),
        Box::new(harmonic.clone()),
        Box::new(kriging),
        Box::new(harmonic.with_alpha(1e-6).unwrap()),
        Box::new(harmonic.with_alpha(1e3).unwrap()),
    ];
    let mut sse = vec![0.0; methods.len()];
    let mut count = 0;
    let mut drng = StdRng::seed_from_u64(1234);
    for x in &test {
        let (y, mask) = degradation.apply(x, &mut drng).unwrap();
        for (k, m) in methods.iter().enumerate() {
            let r = m.reconstruct(&y, &mask).unwrap();
            let (s, c) = hidden_sse(&r.mean, x, &mask);
            sse[k] += s;
            if k == 0 {
                count += c;
            }
        }
    }
    let rmse: Vec<f64> = sse.iter().map(|s| (s / count as f64).sqrt()).collect();
    eprintln!(
        "hidden RMSE: nearest {:.4}, harmonic(α={:.2e}) {:.4}, kriging(κ={:.3}, τ={:.3}) {:.4}, \
         harmonic(1e-6) {:.4}, harmonic(1e3) {:.4}",
        rmse[0],
        fit.alpha,
        rmse[1],
        gmrf_fit.params.kappa,
        gmrf_fit.params.tau,
        rmse[2],
        rmse[3],
        rmse[4]
    );
    assert!(rmse[1] < rmse[0], "harmonic vs nearest: {rmse:?}");
    assert!(rmse[2] < rmse[0], "kriging vs nearest: {rmse:?}");
    assert!(
        rmse[1] < rmse[3] && rmse[1] < rmse[4],
        "fitted alpha: {rmse:?}"
    );
}

/// SURE and noisier-to-noisy validation pick heat times without the clean fields; SURE must
/// land next to the oracle time (the candidate with the smallest true MSE): its MSE within 10 %
/// of the oracle's and its time within a factor √10 (two grid steps
/// of the quarter-decade grid either way). Noisier-to-noisy must at least beat not smoothing and the largest time.
#[test]
fn sure_picks_a_heat_time_near_the_oracle() {
    use meshflow_geometry::operators::{cotan_laplacian, vertex_lumped_mass_matrix};
    use rand::RngCore;
    let grid = SphereGrid::latlon(25, 48).unwrap();
    let (l, m) = (
        cotan_laplacian(grid.mesh()),
        vertex_lumped_mass_matrix(grid.mesh()),
    );
    let mut rng = StdRng::seed_from_u64(21);
    let sigma = 0.3;
    let clean: Vec<f32> = (0..4).flat_map(|_| smooth_field(&grid, &mut rng)).collect();
    let noise = |x: &[f32], rng: &mut dyn RngCore| -> Vec<f32> {
        x.iter()
            .map(|v| {
                v + sigma as f32 * rand_distr::Distribution::<f32>::sample(&StandardNormal, rng)
            })
            .collect()
    };
    let noisy = noise(&clean, &mut rng);
    let times = log_grid(1e-4, 1.0, 17).unwrap();
    let sure = sure_heat_time(&l, &m, &noisy, sigma, &times, 8, &mut rng).unwrap();
    let mse = |t: f64| {
        let d = heat_denoise(&l, &m, &noisy, t).unwrap();
        d.iter()
            .zip(&clean)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum::<f64>()
            / d.len() as f64
    };
    let true_mse: Vec<f64> = times.iter().map(|&t| mse(t)).collect();
    let oracle = (0..times.len())
        .min_by(|&a, &b| true_mse[a].total_cmp(&true_mse[b]))
        .unwrap();
    let n2n = noisier_heat_time(&l, &m, &noisy, &noise, &times, &mut rng).unwrap();
    eprintln!(
        "oracle t = {:.2e} (MSE {:.4}); SURE t = {:.2e} (MSE {:.4}, SURE says {:.4}); \
         noisier-to-noisy t = {:.2e} (MSE {:.4}); noisy MSE {:.4}",
        times[oracle],
        true_mse[oracle],
        sure.time,
        mse(sure.time),
        sure.scores[times.iter().position(|t| *t == sure.time).unwrap()],
        n2n.time,
        mse(n2n.time),
        sigma * sigma
    );
    assert!(mse(sure.time) <= 1.1 * true_mse[oracle]);
    assert!((sure.time / times[oracle]).log10().abs() <= 0.5 + 1e-9);
    // SURE is an unbiased MSE estimate: it tracks the true MSE curve.
    for (s, t) in sure.scores.iter().zip(&true_mse) {
        assert!((s - t).abs() < 0.2 * t + 0.005, "SURE {s} vs true {t}");
    }
    assert!(mse(n2n.time) < 0.5 * sigma * sigma && mse(n2n.time) < *true_mse.last().unwrap());
}
