//! Reconciliation on random data: every split adds up exactly (to 1e-12) whatever the cells —
//! segments new or vanished, empty branches, tiny and huge counts, binomial or ratio sums.
//! The expected totals are computed here directly from the cells (a second method).

mod explain_support;

use baton::explain::{explain_cells, CellTable, Counts, Effect, Explanation, Model, Side};
use explain_support::plain::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const TOL: f64 = 1e-12;

/// One finest cell: keys (indices into each dimension's values) and per-period counts:
/// conversations and the handoffs of each of the four causes (adding up to at most n).
type RawCell = (Vec<usize>, [u32; 5], [u32; 5]);

fn counts_strategy() -> impl Strategy<Value = [u32; 5]> {
    // n, then four cause counts as fractions of what is left.
    (0u32..400, proptest::array::uniform4(0.0f64..1.0)).prop_map(|(n, fr)| {
        let mut left = n;
        let mut out = [n, 0, 0, 0, 0];
        for (i, f) in fr.iter().enumerate() {
            let k = ((left as f64) * f * 0.5).floor() as u32;
            out[i + 1] = k;
            left -= k;
        }
        out
    })
}

fn table_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<RawCell>)> {
    proptest::collection::vec(1usize..5, 1..4).prop_flat_map(|sizes| {
        let keys = sizes.iter().map(|&s| 0..s).collect::<Vec<_>>();
        let cell = (keys, counts_strategy(), counts_strategy());
        (Just(sizes), proptest::collection::vec(cell, 1..25))
    })
}

fn build(sizes: &[usize], raw: &[RawCell]) -> CellTable {
    let dims: Vec<String> = (0..sizes.len()).map(|i| format!("d{i}")).collect();
    let mut t = CellTable::new(dims, 5, Model::Binomial);
    for (keys, b, a) in raw {
        let k: Vec<String> = keys.iter().map(|v| format!("v{v}")).collect();
        let c = |x: &[u32; 5]| {
            let parts: Vec<f64> = x[1..].iter().map(|&v| v as f64).collect();
            let mut num = vec![parts.iter().sum()];
            num.extend(parts);
            Counts::binomial(x[0] as f64, num)
        };
        t.add(k.clone(), Side::Before, &c(b));
        t.add(k, Side::After, &c(a));
    }
    t
}

/// Sum of contributions per (dimension, segment, effect) of a driver list.
fn by_cell(drivers: &[baton::explain::Driver]) -> BTreeMap<(String, String, Effect), f64> {
    let mut m = BTreeMap::new();
    for d in drivers {
        *m.entry((
            d.key.dimensions().to_string(),
            d.key.values().to_string(),
            d.effect,
        ))
        .or_insert(0.0) += d.contribution;
    }
    m
}

fn check_reconciles(e: &Explanation, t: &CellTable) {
    // The change, from the cells directly.
    let (mut h0, mut n0, mut h1, mut n1) = (0.0, 0.0, 0.0, 0.0);
    for l in &t.leaves {
        h0 += l.before.num[0];
        n0 += l.before.den;
        h1 += l.after.num[0];
        n1 += l.after.den;
    }
    let change = h1 / n1 - h0 / n0;
    assert!((e.change - change).abs() < TOL);
    // Every dimension's segments (all shown: max_drivers is large) add up to the change.
    for dim in &t.dimensions {
        let s: f64 = e
            .drivers
            .iter()
            .filter(|d| d.key.is_segment_of(dim))
            .map(|d| d.contribution)
            .sum();
        assert!((s - change).abs() < TOL, "{dim}: {s} vs {change}");
        assert!(e.other[dim].abs() < TOL);
    }
    // Branches add up to the measure, and each branch's segments to the branch.
    let branches = e.branch_list();
    let bsum: f64 = branches.iter().map(|b| b.change).sum();
    assert!((bsum - change).abs() < TOL, "branches {bsum} vs {change}");
    for b in branches {
        for dim in &t.dimensions {
            let s: f64 = b
                .drivers
                .iter()
                .filter(|d| d.key.is_segment_of(dim))
                .map(|d| d.contribution)
                .sum();
            assert!((s - b.change).abs() < TOL);
        }
    }
    // Cells (segment x cause x effect) add up over causes to the measure's cells.
    let total = by_cell(&e.drivers);
    let mut summed: BTreeMap<(String, String, Effect), f64> = BTreeMap::new();
    for b in branches {
        for (k, v) in by_cell(&b.drivers) {
            *summed.entry(k).or_insert(0.0) += v;
        }
    }
    for (k, v) in &total {
        let s = summed.get(k).copied().unwrap_or(0.0);
        assert!((s - v).abs() < TOL, "{k:?}: branches {s} vs measure {v}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn splits_reconcile_exactly((sizes, raw) in table_strategy()) {
        let t = build(&sizes, &raw);
        let (t0, t1) = t.totals();
        prop_assume!(t0.den > 0.0 && t1.den > 0.0);
        let e = explain_cells(&t, &handoff_subject(), &policy(1000)).unwrap();
        check_reconciles(&e, &t);
    }

    #[test]
    fn pruned_rows_plus_everything_else_reconcile((sizes, raw) in table_strategy()) {
        let t = build(&sizes, &raw);
        let (t0, t1) = t.totals();
        prop_assume!(t0.den > 0.0 && t1.den > 0.0);
        let e = explain_cells(&t, &handoff_subject(), &policy(2)).unwrap();
        for b in e.branch_list() {
            for dim in &t.dimensions {
                let rows: Vec<_> = b.drivers.iter().filter(|d| d.key.is_segment_of(dim)).collect();
                prop_assert!(rows.len() <= 2);
                let s: f64 = rows.iter().map(|d| d.contribution).sum::<f64>() + b.other[dim];
                prop_assert!((s - b.change).abs() < TOL);
            }
        }
        // Pushes only carry significant cells.
        prop_assert!(e.pushes().iter().all(|p| p.q < 0.05));
    }

    #[test]
    fn ratio_sums_reconcile_exactly(
        rows in proptest::collection::vec((0usize..4, 0usize..3, 0u8..2, 0.0f64..50.0, 0.01f64..100.0), 2..60)
    ) {
        // Units with any numerator and denominator (time lost / time spent, say).
        let mut t = CellTable::new(vec!["a".into(), "b".into()], 1, Model::Ratio);
        for (a, b, side, y, x) in &rows {
            let c = Counts { units: 1.0, den: *x, num: vec![*y], xx: x * x, yy: vec![y * y], xy: vec![x * y] };
            t.add(vec![format!("a{a}"), format!("b{b}")], if *side == 0 { Side::Before } else { Side::After }, &c);
        }
        let (t0, t1) = t.totals();
        prop_assume!(t0.den > 0.0 && t1.den > 0.0);
        let e = explain_cells(&t, &plain_subject(), &policy(1000)).unwrap();
        let change = t1.num[0] / t1.den - t0.num[0] / t0.den;
        prop_assert!((e.change - change).abs() < TOL * change.abs().max(1.0));
        for dim in ["a", "b"] {
            let s: f64 = e.drivers.iter().filter(|d| d.key.is_segment_of(dim)).map(|d| d.contribution).sum();
            prop_assert!((s - change).abs() < TOL * change.abs().max(1.0), "{} vs {}", s, change);
        }
    }
}
