//! Result tables as polars data frames, written as CSV and Parquet.

use crate::atomic;
use anyhow::Result;
use polars::prelude::*;
use std::path::Path;

/// A column-oriented table built row by row, in a fixed column order.
#[derive(Default)]
pub struct Table {
    columns: Vec<Column>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a float column.
    pub fn f64(mut self, name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        self.columns.push(Column::new(
            name.into(),
            values.into_iter().collect::<Vec<f64>>(),
        ));
        self
    }

    /// Append an unsigned-integer column.
    pub fn u64(mut self, name: &str, values: impl IntoIterator<Item = u64>) -> Self {
        self.columns.push(Column::new(
            name.into(),
            values.into_iter().collect::<Vec<u64>>(),
        ));
        self
    }

    /// Append a signed-integer column.
    pub fn i64(mut self, name: &str, values: impl IntoIterator<Item = i64>) -> Self {
        self.columns.push(Column::new(
            name.into(),
            values.into_iter().collect::<Vec<i64>>(),
        ));
        self
    }

    /// Append a string column.
    pub fn str(mut self, name: &str, values: impl IntoIterator<Item = String>) -> Self {
        self.columns.push(Column::new(
            name.into(),
            values.into_iter().collect::<Vec<String>>(),
        ));
        self
    }

    /// Build the data frame (all columns must have one length).
    pub fn frame(self) -> Result<DataFrame> {
        Ok(DataFrame::new_infer_height(self.columns)?)
    }
}

/// Write `df` as `dir/name.csv` and `dir/name.parquet`, each atomically.
pub fn write_csv_parquet(df: &mut DataFrame, dir: &Path, name: &str) -> Result<()> {
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv).include_header(true).finish(df)?;
    atomic::write(&dir.join(format!("{name}.csv")), &csv)?;
    let mut pq = Vec::new();
    ParquetWriter::new(&mut pq).finish(df)?;
    atomic::write(&dir.join(format!("{name}.parquet")), &pq)?;
    Ok(())
}
