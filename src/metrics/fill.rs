//! Fill nulls within groups of consecutive rows, as a lazy expression.
//!
//! The facts carry per-conversation state (the current owner, the work done since a handoff)
//! from row to row with fills that must not cross into the next conversation. polars 0.55 has
//! no such fill: `over` runs the fill group by group (0.3 s per fill at 100k conversations),
//! and masking a whole-column fill at the boundaries took five passes over the column, the
//! largest part of the facts stage. This kernel is the one hand-written pass: it walks the
//! values once and resets at every boundary.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

/// Which way values are carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Down the rows: a null takes the last value above it in its group.
    Forward,
    /// Up the rows: a null takes the next value below it in its group.
    Backward,
}

/// `x` with each null replaced by the nearest non-null value in the fill direction within its
/// group; null where the group has none. `boundary` (boolean, no nulls) marks where groups
/// begin in the fill direction: their first rows for [`Direction::Forward`], their last rows
/// for [`Direction::Backward`]. `x` may be any integer or float column, or a label
/// (categorical): its codes are filled.
pub fn group_fill(x: Expr, boundary: Expr, direction: Direction) -> Expr {
    // `apply_many`, not `map_many`: the fill depends on neighbouring rows, so the optimizer
    // must not treat it as element-wise (split it, or move a filter below it).
    x.apply_many(
        move |c: &mut [Column]| fill_column(&c[0], &c[1], direction),
        &[boundary],
        |_: &Schema, fields: &[Field]| Ok(fields[0].clone()),
    )
}

fn fill_column(x: &Column, boundary: &Column, direction: Direction) -> PolarsResult<Column> {
    let s = x.as_materialized_series();
    let phys = s.to_physical_repr();
    let bounds = boundary.bool()?.rechunk();
    polars_ensure!(
        bounds.len() == s.len(),
        ShapeMismatch: "group_fill: {} values, {} boundaries", s.len(), bounds.len()
    );
    polars_ensure!(
        bounds.null_count() == 0,
        InvalidOperation: "group_fill: the boundary column has nulls"
    );
    let filled = match phys.dtype() {
        DataType::UInt8 => fill_typed(phys.u8()?, &bounds, direction).into_series(),
        DataType::UInt16 => fill_typed(phys.u16()?, &bounds, direction).into_series(),
        DataType::UInt32 => fill_typed(phys.u32()?, &bounds, direction).into_series(),
        DataType::Int32 => fill_typed(phys.i32()?, &bounds, direction).into_series(),
        DataType::Int64 => fill_typed(phys.i64()?, &bounds, direction).into_series(),
        DataType::Float64 => fill_typed(phys.f64()?, &bounds, direction).into_series(),
        dt => polars_bail!(InvalidOperation: "group_fill: unsupported type {dt}"),
    };
    // Safety: `filled` holds the physical values of `s` (or nulls), so it is valid as `s`'s type.
    let out = unsafe { filled.from_physical_unchecked(s.dtype())? };
    Ok(out.with_name(s.name().clone()).into_column())
}

fn fill_typed<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    bounds: &BooleanChunked,
    direction: Direction,
) -> ChunkedArray<T> {
    let Some(validity) = ca.rechunk_validity() else {
        // No nulls: nothing to fill.
        return ca.clone();
    };
    let ca = ca.rechunk();
    let values = ca.downcast_as_array().values().as_slice();
    // One chunk, no nulls (both checked by the caller).
    let bounds = bounds.downcast_as_array().values();
    let n = values.len();
    let mut out = vec![T::Native::default(); n];
    let mut bits = vec![0u8; n.div_ceil(8)];
    let (valid, bound) = (byte_aligned(&validity), byte_aligned(bounds));
    fill_rows(values, &valid, &bound, &mut out, &mut bits, direction);
    ChunkedArray::from_vec_validity(ca.name().clone(), out, Some(Bitmap::from_u8_vec(bits, n)))
}

/// The bitmap's bytes, starting at its first row (copied when it starts inside a byte).
fn byte_aligned(b: &Bitmap) -> std::borrow::Cow<'_, [u8]> {
    let (bytes, offset, _) = b.as_slice();
    if offset % 8 == 0 {
        std::borrow::Cow::Borrowed(&bytes[offset / 8..])
    } else {
        let copy: Bitmap = b.iter().collect();
        std::borrow::Cow::Owned(copy.as_slice().0.to_vec())
    }
}

/// The fill itself, eight rows (one byte of each bitmap) at a time. `valid` and `bound` hold a
/// bit per row of `values`; `bits` receives the output's validity.
fn fill_rows<V: Copy + Default>(
    values: &[V],
    valid: &[u8],
    bound: &[u8],
    out: &mut [V],
    bits: &mut [u8],
    direction: Direction,
) {
    let mut carry = Carry {
        last: V::default(),
        have: false,
    };
    let chunks = out.chunks_mut(8).zip(values.chunks(8)).enumerate();
    match direction {
        Direction::Forward => {
            for (k, (o, x)) in chunks {
                bits[k] = carry.rows(0..x.len(), valid[k], bound[k], x, o);
            }
        }
        Direction::Backward => {
            for (k, (o, x)) in chunks.rev() {
                bits[k] = carry.rows((0..x.len()).rev(), valid[k], bound[k], x, o);
            }
        }
    }
}

/// The value being carried, and whether there is one.
struct Carry<V> {
    last: V,
    have: bool,
}

impl<V: Copy> Carry<V> {
    /// Fills up to eight rows `x` into `o`, visiting them in `order`; `valid` and `bound` are
    /// their bits. Returns the output's validity bits.
    #[inline(always)]
    fn rows(
        &mut self,
        order: impl Iterator<Item = usize>,
        valid: u8,
        bound: u8,
        x: &[V],
        o: &mut [V],
    ) -> u8 {
        let mut out_valid = 0u8;
        for j in order {
            self.have &= (bound >> j) & 1 == 0;
            if (valid >> j) & 1 == 1 {
                self.last = x[j];
                self.have = true;
            }
            o[j] = self.last;
            out_valid |= u8::from(self.have) << j;
        }
        out_valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::label_dtype;

    /// The same fill by a second method: polars' whole-column fill, kept only where the value
    /// it carries comes from the row's own group (the masked form the kernel replaced).
    fn masked_fill(x: Expr, group: Expr, direction: Direction) -> Expr {
        let strategy = match direction {
            Direction::Forward => FillNullStrategy::Forward(None),
            Direction::Backward => FillNullStrategy::Backward(None),
        };
        let from = when(x.clone().is_not_null())
            .then(group.clone())
            .otherwise(lit(NULL))
            .fill_null_with_strategy(strategy);
        when(from.eq(group))
            .then(x.fill_null_with_strategy(strategy))
            .otherwise(lit(NULL))
    }

    fn check(df: DataFrame, value: &str) {
        for direction in [Direction::Forward, Direction::Backward] {
            let boundary = match direction {
                Direction::Forward => col("g").neq_missing(col("g").shift(lit(1))),
                Direction::Backward => col("g").neq_missing(col("g").shift(lit(-1))),
            };
            let out = df
                .clone()
                .lazy()
                .select([
                    group_fill(col(value), boundary, direction).alias("kernel"),
                    masked_fill(col(value), col("g"), direction).alias("masked"),
                ])
                .collect()
                .unwrap();
            let (k, m) = (out.column("kernel").unwrap(), out.column("masked").unwrap());
            assert_eq!(k.dtype(), df.column(value).unwrap().dtype());
            assert!(
                k.as_materialized_series()
                    .equals_missing(m.as_materialized_series()),
                "{direction:?} on {value}:\n{out}"
            );
        }
    }

    #[test]
    fn fills_within_groups_only() {
        // Worked by hand for the first group pattern: g = 1 1 1 2 2 3, v = - 5 - - 7 -.
        // Forward: - 5 5 - 7 -; backward: 5 5 - 7 7 -.
        let df = df!(
            "g" => [1i64, 1, 1, 2, 2, 3],
            "v" => [None, Some(5i64), None, None, Some(7), None],
        )
        .unwrap();
        let fwd = df
            .clone()
            .lazy()
            .select([group_fill(
                col("v"),
                col("g").neq_missing(col("g").shift(lit(1))),
                Direction::Forward,
            )])
            .collect()
            .unwrap();
        let got: Vec<Option<i64>> = fwd.column("v").unwrap().i64().unwrap().iter().collect();
        assert_eq!(got, [None, Some(5), Some(5), None, Some(7), None]);
        let bwd = df
            .clone()
            .lazy()
            .select([group_fill(
                col("v"),
                col("g").neq_missing(col("g").shift(lit(-1))),
                Direction::Backward,
            )])
            .collect()
            .unwrap();
        let got: Vec<Option<i64>> = bwd.column("v").unwrap().i64().unwrap().iter().collect();
        assert_eq!(got, [Some(5), Some(5), None, Some(7), Some(7), None]);
        check(df, "v");
    }

    #[test]
    fn matches_the_masked_whole_column_fill() {
        // Pseudo-random groups and nulls (a fixed LCG: reproducible without a dependency),
        // over integers, floats and labels, in several chunks and at an offset.
        let n = 5_000;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let mut g = Vec::with_capacity(n);
        let (mut ints, mut floats, mut texts) = (vec![], vec![], vec![]);
        let mut group = 0i64;
        for _ in 0..n {
            if next() % 5 == 0 {
                group += 1;
            }
            g.push(group);
            let r = next();
            let keep = r % 3 == 0;
            ints.push(keep.then_some((r % 100) as i64));
            floats.push(keep.then_some(f64::from(r % 100) / 10.0));
            texts.push(keep.then(|| format!("t{}", r % 7)));
        }
        let mut df = df!("g" => g, "i" => ints, "f" => floats, "s" => texts).unwrap();
        df = df
            .lazy()
            .with_column(col("s").cast(label_dtype()))
            .collect()
            .unwrap();
        let mut two = df.slice(0, 2_000);
        two.vstack_mut(&df.slice(2_000, 3_000)).unwrap();
        // A slice that starts inside a byte of the validity bitmaps, as facts batches do.
        let inside = df.slice(3, 4_000);
        for c in ["i", "f", "s"] {
            check(two.clone(), c);
            check(inside.clone(), c);
        }
    }
}
