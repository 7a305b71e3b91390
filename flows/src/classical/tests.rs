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
