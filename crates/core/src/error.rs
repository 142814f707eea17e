//! Validation errors that name the offending setting and the allowed range.

/// An invalid setting: which field, what was found, what is allowed.
///
/// Displayed as ``invalid `sigma`: must be > 0 (got -0.1)`` so that a user knows what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid `{field}`: {requirement} (got {found})")]
pub struct ConfigError {
    /// Name of the setting as the user wrote it (config key or command-line flag).
    pub field: String,
    /// What the setting must satisfy, e.g. "must be > 0".
    pub requirement: String,
    /// The offending value, rendered for the user.
    pub found: String,
}

impl ConfigError {
    /// Build an error for `field` that must satisfy `requirement` but was `found`.
    pub fn new(
        field: impl Into<String>,
        requirement: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        Self {
            field: field.into(),
            requirement: requirement.into(),
            found: found.to_string(),
        }
    }
}

/// Parse the name of a named enum (derived with strum's `EnumString` and `VariantNames`); the
/// error lists every accepted name.
///
/// # Errors
/// An unknown name, for setting `field`.
pub fn parse_name<E>(field: &str, name: &str) -> Result<E, ConfigError>
where
    E: std::str::FromStr + strum::VariantNames,
{
    name.parse().map_err(|_| {
        ConfigError::new(
            field,
            format!("must be one of: {}", E::VARIANTS.join(", ")),
            format!("`{name}`"),
        )
    })
}

/// The name methods of an enum that derives strum's `EnumString`, `IntoStaticStr` and
/// `VariantNames` (and `VariantArray` with `all`): `name()`, `parse()` whose error names `field` and
/// lists the accepted names, and with `all` the constant `ALL` of every variant in declaration
/// order.
///
/// ```ignore
/// memprior_core::named_enum!(Solver, "solver", all);
/// ```
#[macro_export]
macro_rules! named_enum {
    ($ty:ident, $field:literal, all) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = <$ty as $crate::strum::VariantArray>::VARIANTS;
        }
        $crate::named_enum!($ty, $field);
    };
    ($ty:ident, $field:literal) => {
        impl $ty {
            /// The name in files and on the command line.
            pub fn name(self) -> &'static str {
                self.into()
            }

            /// Parse a name.
            ///
            /// # Errors
            /// An unknown name; the message lists the known ones.
            pub fn parse(name: &str) -> Result<Self, $crate::ConfigError> {
                $crate::error::parse_name($field, name)
            }
        }
    };
}

/// Require `value > 0` and finite.
pub fn positive(field: &str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::new(
            field,
            "must be a finite number > 0",
            value,
        ))
    }
}

/// Require every value finite and > 0.
pub fn all_positive(field: &str, values: &[f64]) -> Result<(), ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::new(
            field,
            "must list at least one value",
            "an empty list",
        ));
    }
    for (i, &v) in values.iter().enumerate() {
        positive(&format!("{field}[{i}]"), v)?;
    }
    Ok(())
}

/// Require every value finite.
pub fn all_finite(field: &str, values: &[f64]) -> Result<(), ConfigError> {
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(ConfigError::new(
                format!("{field}[{i}]"),
                "must be a finite number",
                v,
            ));
        }
    }
    Ok(())
}
