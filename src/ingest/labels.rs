//! Label columns: the text columns with few distinct values (event kinds, teams, agents,
//! channels, reasons, topics), held dictionary-encoded.
//!
//! A few hundred distinct values repeat millions of times, so each row holds a 4-byte code
//! instead of a 16-byte string view, and comparing, filling and shifting work on integers. One
//! shared (global) dictionary, so labels of different columns and exports compare and
//! concatenate without re-encoding.

use super::canonical::CANONICAL_COLUMNS;
use polars::prelude::*;
use rayon::prelude::*;

/// Every text column except `conversation_id`, which is unique per conversation and stays text:
/// the canonical columns after `conversation_id` and `at`, less the last, `sentiment`.
pub const LABEL_COLUMNS: &[&str] = match CANONICAL_COLUMNS.split_at(2).1.split_last() {
    Some((_sentiment, labels)) => labels,
    None => &[],
};

/// Type of the label columns: polars' categorical type on the global dictionary.
pub fn label_dtype() -> DataType {
    DataType::from_categories(Categories::global())
}

/// Whether `e` (text or a label) equals one of `values`; false for null. A chain of equality
/// tests: on a label each compares 4-byte codes, and the lists baton tests against (enumerations,
/// intake teams, reasons of a cause, topics) are short, where `is_in` would hash every row.
pub fn is_one_of<S: AsRef<str>>(e: Expr, values: &[S]) -> Expr {
    values
        .iter()
        .fold(lit(false), |acc, v| acc.or(e.clone().eq(lit(v.as_ref()))))
        .fill_null(lit(false))
}

/// Encodes text as labels.
///
/// Written here because polars' cast (and its Parquet reader, for categorical columns) inserts
/// every value into the shared dictionary, a concurrent hash map: 0.8 s for the 9 label columns
/// of 8 million events. Here each row is looked up by its 16-byte view, which holds a short value
/// itself and, for a long one, where its bytes are (the Parquet reader points every row of a
/// dictionary-encoded page at the same bytes); only unseen views read the text, and the shared
/// dictionary sees each distinct value once.
pub fn encode(text: &StringChunked) -> PolarsResult<Series> {
    // Views recently seen, in a small table indexed by a hash of the view: a lookup is one
    // multiplication and one comparison.
    const SLOTS_LOG2: u32 = 12;
    let slot = |bits: u128| {
        let folded = (bits as u64) ^ ((bits >> 64) as u64);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS_LOG2)) as usize
    };
    let dtype = label_dtype();
    let mapping = dtype.cat_mapping()?.clone();
    // One output chunk whatever the input's (a Parquet file gives one per row group): merging
    // the text first would copy every string.
    let mut codes: Vec<u32> = Vec::with_capacity(text.len());
    let mut by_text: PlHashMap<&str, u32> = PlHashMap::default();
    // Slot -> (view, code); the first entry's view is one no valid row has.
    let mut recent: Vec<(u128, u32)> = vec![(u128::MAX, 0); 1 << SLOTS_LOG2];
    for (arr, validity) in text.downcast_iter().zip(text.iter_validities()) {
        for (i, view) in arr.views().iter().enumerate() {
            if validity.is_some_and(|v| !v.get_bit(i)) {
                codes.push(0); // a null row: its slot is never read
                continue;
            }
            let bits = view.as_u128();
            let s = slot(bits);
            if recent[s].0 == bits {
                codes.push(recent[s].1);
                continue;
            }
            // SAFETY: `i` is below the array's length (it indexes its views).
            let value = unsafe { arr.value_unchecked(i) };
            let code = match by_text.get(value) {
                Some(code) => *code,
                None => {
                    let code = mapping.insert_cat(value)?;
                    by_text.insert(value, code);
                    code
                }
            };
            recent[s] = (bits, code);
            codes.push(code);
        }
    }
    let validity = text.rechunk_validity();
    let physical = UInt32Chunked::from_vec_validity(text.name().clone(), codes, validity);
    // SAFETY: every non-null code came from this dictionary, and the dtype's physical type is
    // u32 (the global dictionary's).
    let labels = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(physical, dtype) };
    Ok(labels.into_series())
}

/// Encodes every label column of `df` that holds text, the columns side by side (rayon, one
/// thread per core).
pub fn encode_text_columns(df: &mut DataFrame) -> PolarsResult<()> {
    let todo: Vec<StringChunked> = LABEL_COLUMNS
        .iter()
        .filter_map(|c| df.column(c).ok())
        .filter(|c| c.dtype() == &DataType::String)
        .map(|c| c.str().cloned())
        .collect::<PolarsResult<_>>()?;
    let encoded: Vec<Series> = todo.par_iter().map(encode).collect::<PolarsResult<_>>()?;
    drop(todo);
    for labels in encoded {
        df.with_column(labels.into_column())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_text_columns_between_at_and_sentiment() {
        assert_eq!(
            LABEL_COLUMNS,
            [
                "event",
                "agent",
                "team",
                "owner_kind",
                "author",
                "channel",
                "actor",
                "reason",
                "topic"
            ]
        );
    }

    #[test]
    fn encoding_matches_polars_cast() {
        // Short (inline) and long values, repeats in and out of runs, nulls, and a value that is
        // also in another column (one dictionary for all).
        let values = [
            Some("billing"),
            Some("billing"),
            None,
            Some("a rather long team name over twelve bytes"),
            Some("a rather long team name over twelve bytes"),
            Some("billing"),
            None,
            Some("é"),
            Some(""),
            Some("a rather long team name over twelve bytes"),
        ];
        let text = StringChunked::new("team".into(), &values);
        let ours = encode(&text).unwrap();
        let theirs = text.into_series().cast(&label_dtype()).unwrap();
        assert_eq!(ours.dtype(), theirs.dtype());
        assert!(ours.equals_missing(&theirs));
        let back = ours.cast(&DataType::String).unwrap();
        let back: Vec<Option<&str>> = back.str().unwrap().iter().collect();
        assert_eq!(back, values);
        let other = encode(&StringChunked::new("topic".into(), &[Some("billing")])).unwrap();
        assert_eq!(
            other.to_physical_repr().u32().unwrap().get(0),
            ours.to_physical_repr().u32().unwrap().get(0)
        );
    }
}
