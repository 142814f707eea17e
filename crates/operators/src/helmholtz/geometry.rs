//! Acquisition geometry of the Helmholtz experiment: grid, PML, frequency, sources, receivers.

use memprior_core::ConfigError;
use serde::{Deserialize, Serialize};

/// Grid, absorbing layer, frequency and acquisition (`FWI.md` §3).
///
/// Lengths are in km, velocities in km/s, frequencies in Hz, so ω² m (m = 1/v² in s²/km²) and the
/// Laplacian are both in km⁻². Source and receiver positions are `[ix, iz]` indices of the interior
/// `nx × nz` grid (axis 0 horizontal, axis 1 depth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geometry {
    /// Interior grid points along x.
    pub nx: usize,
    /// Interior grid points along z (depth).
    pub nz: usize,
    /// Grid spacing in km.
    pub h: f64,
    /// PML thickness in cells on every side.
    pub npml: usize,
    /// Peak PML damping σ_max (s⁻¹).
    pub pml_max: f64,
    /// Frequency in Hz (ω = 2πf).
    pub freq: f64,
    /// Point sources as `[ix, iz]` interior indices.
    pub sources: Vec<[usize; 2]>,
    /// Receivers as `[ix, iz]` interior indices.
    pub receivers: Vec<[usize; 2]>,
}

/// The named geometries of `FWI.md` §3.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum GeometryPreset {
    /// The paper's grid: 200², 10 m, 30 PML cells (σ_max 200), 6 Hz, 15 sources, 196 receivers.
    Paper,
    /// The authors' small grid: 64², 31.25 m, 10 PML cells (σ_max 100), 4 Hz, 5 sources, 40 receivers.
    Small,
}

memprior_core::named_enum!(GeometryPreset, "preset", all);

/// A smooth heterogeneous squared-slowness model (velocities 1.5–3 km/s) for timings and tests
/// that need a model without drawing datasets.
pub fn smooth_test_model(nx: usize, nz: usize) -> Vec<f64> {
    let mut m = Vec::with_capacity(nx * nz);
    for i in 0..nx {
        for j in 0..nz {
            let (x, z) = (i as f64 / nx as f64, j as f64 / nz as f64);
            let v = 2.25 + 0.6 * (3.0 * x + 1.0).sin() * (2.0 * z + 0.5).cos() + 0.1 * z;
            m.push(1.0 / (v * v));
        }
    }
    m
}

/// ⌊linspace(a, b, n)⌋ as grid indices.
fn floor_linspace(a: f64, b: f64, n: usize) -> Vec<usize> {
    if n == 1 {
        return vec![a.floor() as usize];
    }
    (0..n)
        .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).floor() as usize)
        .collect()
}

impl Geometry {
    /// A named preset.
    pub fn preset(preset: GeometryPreset) -> Self {
        match preset {
            GeometryPreset::Paper => Self {
                nx: 200,
                nz: 200,
                h: 0.01,
                npml: 30,
                pml_max: 200.0,
                freq: 6.0,
                sources: floor_linspace(2.0, 197.0, 15)
                    .into_iter()
                    .map(|ix| [ix, 2])
                    .collect(),
                receivers: (2..=197).map(|ix| [ix, 197]).collect(),
            },
            // Sources and receivers sit two cells inside the top and bottom rows, as in the paper
            // preset (the small grid's exact positions are not given in the paper).
            GeometryPreset::Small => Self {
                nx: 64,
                nz: 64,
                h: 0.03125,
                npml: 10,
                pml_max: 100.0,
                freq: 4.0,
                sources: floor_linspace(2.0, 61.0, 5)
                    .into_iter()
                    .map(|ix| [ix, 2])
                    .collect(),
                receivers: floor_linspace(2.0, 61.0, 40)
                    .into_iter()
                    .map(|ix| [ix, 61])
                    .collect(),
            },
        }
    }

    /// Parse and validate a geometry from TOML (keys `nx, nz, h, npml, pml_max, freq, sources,
    /// receivers`; unknown keys are rejected).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let geometry: Self = toml::from_str(text).map_err(|e| {
            ConfigError::new(
                "geometry",
                "must be TOML with keys nx, nz, h, npml, pml_max, freq, sources = [[ix, iz], …], receivers = [[ix, iz], …]",
                e.message(),
            )
        })?;
        geometry.validate()?;
        Ok(geometry)
    }

    /// The geometry as TOML (round-trips through [`Geometry::from_toml`]).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a geometry always serialises")
    }

    /// Check every setting; the error names the key and the allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nx < 2 {
            return Err(ConfigError::new("nx", "must be an integer ≥ 2", self.nx));
        }
        if self.nz < 2 {
            return Err(ConfigError::new("nz", "must be an integer ≥ 2", self.nz));
        }
        memprior_core::error::positive("h", self.h)?;
        if self.npml == 0 {
            return Err(ConfigError::new(
                "npml",
                "must be ≥ 1 PML cell (without an absorbing layer the Neumann boundary reflects every wave back)",
                self.npml,
            ));
        }
        if !(self.pml_max.is_finite() && self.pml_max >= 0.0) {
            return Err(ConfigError::new(
                "pml_max",
                "must be a finite number ≥ 0",
                self.pml_max,
            ));
        }
        memprior_core::error::positive("freq", self.freq)?;
        for (field, points) in [("sources", &self.sources), ("receivers", &self.receivers)] {
            if points.is_empty() {
                return Err(ConfigError::new(
                    field,
                    "must list at least one [ix, iz] position",
                    "an empty list",
                ));
            }
            for (k, &[ix, iz]) in points.iter().enumerate() {
                if ix >= self.nx || iz >= self.nz {
                    return Err(ConfigError::new(
                        format!("{field}[{k}]"),
                        format!(
                            "must lie inside the interior grid: 0 ≤ ix < nx = {}, 0 ≤ iz < nz = {}",
                            self.nx, self.nz
                        ),
                        format!("[{ix}, {iz}]"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Angular frequency ω = 2πf (rad/s).
    pub fn omega(&self) -> f64 {
        2.0 * std::f64::consts::PI * self.freq
    }

    /// Padded grid size (N_x, N_z) = (n_x + 2p, n_z + 2p).
    pub fn padded_shape(&self) -> (usize, usize) {
        (self.nx + 2 * self.npml, self.nz + 2 * self.npml)
    }

    /// Number of interior model pixels n_x · n_z.
    pub fn n_pixels(&self) -> usize {
        self.nx * self.nz
    }

    /// Grid points per wavelength at velocity `v` (km/s): v / (f h).
    pub fn points_per_wavelength(&self, v: f64) -> f64 {
        v / (self.freq * self.h)
    }

    /// A warning when the slowest velocity is sampled by fewer than 4 points per wavelength, where
    /// the five-point stencil's dispersion error is large.
    pub fn sampling_warning(&self, v_min: f64) -> Option<String> {
        let ppw = self.points_per_wavelength(v_min);
        (ppw < 4.0).then(|| {
            format!(
                "only {ppw:.2} grid points per wavelength at the slowest velocity {v_min:.3} km/s \
                 (f = {} Hz, h = {} km); the five-point stencil needs about 4 or more — \
                 refine h or lower freq",
                self.freq, self.h
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_spec_table() {
        let p = Geometry::preset(GeometryPreset::Paper);
        assert_eq!(
            (p.nx, p.nz, p.npml, p.padded_shape()),
            (200, 200, 30, (260, 260))
        );
        assert_eq!(p.sources.len(), 15);
        assert_eq!(p.sources[0], [2, 2]);
        assert_eq!(p.sources[14], [197, 2]);
        assert_eq!(p.sources[1], [15, 2]); // ⌊2 + 195/14⌋
        assert_eq!(p.receivers.len(), 196);
        assert_eq!((p.receivers[0], p.receivers[195]), ([2, 197], [197, 197]));
        let s = Geometry::preset(GeometryPreset::Small);
        assert_eq!(
            (s.nx, s.padded_shape(), s.sources.len(), s.receivers.len()),
            (64, (84, 84), 5, 40)
        );
        p.validate().unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn toml_round_trip_and_errors_name_the_key() {
        let s = Geometry::preset(GeometryPreset::Small);
        assert_eq!(Geometry::from_toml(&s.to_toml()).unwrap(), s);
        let mut bad = s.clone();
        bad.npml = 0;
        assert!(
            Geometry::from_toml(&bad.to_toml())
                .unwrap_err()
                .to_string()
                .contains("`npml`")
        );
        let mut bad = s.clone();
        bad.receivers.push([64, 3]);
        let e = Geometry::from_toml(&bad.to_toml()).unwrap_err().to_string();
        assert!(e.contains("receivers[40]") && e.contains("nx = 64"), "{e}");
        let e = Geometry::from_toml(&format!("{}\ncolour = 3\n", s.to_toml()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        assert!(
            GeometryPreset::parse("huge")
                .unwrap_err()
                .to_string()
                .contains("paper, small")
        );
    }

    #[test]
    fn sampling_warning_below_four_points_per_wavelength() {
        let s = Geometry::preset(GeometryPreset::Small);
        assert!(s.sampling_warning(1.5).is_none()); // 1.5 / (4 · 0.03125) = 12 points
        assert!(s.sampling_warning(0.4).unwrap().contains("3.20"));
    }
}
