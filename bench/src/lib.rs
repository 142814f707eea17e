//! Shared fixtures of the Helmholtz benchmarks: the three grid sizes of the issue (84², 140² and
//! 260² padded) with a smooth heterogeneous model.

use operators::helmholtz::{Geometry, GeometryPreset};

/// The benchmark geometries: `small` (64² + 2·10 = 84²), a middle grid (120² + 2·10 = 140²,
/// the small grid's physical size at finer spacing) and `paper` (200² + 2·30 = 260²).
pub fn geometries() -> Vec<(&'static str, Geometry)> {
    let small = Geometry::preset(GeometryPreset::Small);
    let mut middle = small.clone();
    middle.nx = 120;
    middle.nz = 120;
    middle.h = small.h * 64.0 / 120.0;
    middle.sources = (0..10).map(|k| [2 + k * 115 / 9, 2]).collect();
    middle.receivers = (0..80).map(|k| [2 + k * 115 / 79, 117]).collect();
    vec![
        ("84x84", small),
        ("140x140", middle),
        ("260x260", Geometry::preset(GeometryPreset::Paper)),
    ]
}

/// A smooth squared-slowness model with velocities between 1.5 and 3 km/s.
pub fn model(g: &Geometry) -> Vec<f64> {
    experiments::fwi::smooth_test_model(g.nx, g.nz)
}
