//! The plain data the explanation works on: for every finest cell (one value of each
//! dimension), the sums of numerator and denominator in each of the two periods.
//!
//! Any segment of any dimension, or any combination of dimension values, is a sum of finest
//! cells, so one aggregation pass gives every table and localisation exact marginals.

use std::collections::HashMap;

/// How the uncertainty of a rate is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Each unit contributes 1 to the denominator and 0 or 1 to each numerator (or counts are
    /// pre-aggregated successes out of trials): Wilson, Newcombe and the pooled z test.
    Binomial,
    /// A ratio of sums over units (`Σy / Σx`): delta-method variances from the second moments.
    Ratio,
}

/// Sums over the units (conversations, table rows) of one cell in one period.
///
/// Series 0 is the metric; series 1.. are its branches (which add up to series 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Number of units.
    pub units: f64,
    /// Σx: the denominator.
    pub den: f64,
    /// Σy per series: the numerators.
    pub num: Vec<f64>,
    /// Σx² (ratio model only; 0 otherwise).
    pub xx: f64,
    /// Σy² per series (ratio model only).
    pub yy: Vec<f64>,
    /// Σxy per series (ratio model only).
    pub xy: Vec<f64>,
}

impl Counts {
    /// Empty sums for `series` numerators.
    pub fn zero(series: usize) -> Counts {
        Counts {
            units: 0.0,
            den: 0.0,
            num: vec![0.0; series],
            xx: 0.0,
            yy: vec![0.0; series],
            xy: vec![0.0; series],
        }
    }

    /// Binomial-style counts: `den` trials and one numerator per series (moments left at 0).
    pub fn binomial(den: f64, num: Vec<f64>) -> Counts {
        let s = num.len();
        Counts {
            units: den,
            den,
            num,
            xx: 0.0,
            yy: vec![0.0; s],
            xy: vec![0.0; s],
        }
    }

    pub fn add(&mut self, o: &Counts) {
        self.units += o.units;
        self.den += o.den;
        self.xx += o.xx;
        for s in 0..self.num.len() {
            self.num[s] += o.num[s];
            self.yy[s] += o.yy[s];
            self.xy[s] += o.xy[s];
        }
    }

    pub fn sub(&mut self, o: &Counts) {
        self.units -= o.units;
        self.den -= o.den;
        self.xx -= o.xx;
        for s in 0..self.num.len() {
            self.num[s] -= o.num[s];
            self.yy[s] -= o.yy[s];
            self.xy[s] -= o.xy[s];
        }
    }

    /// Every sum multiplied by `k` (the cell read `k` times over: rates and shares unchanged).
    pub fn scaled(&self, k: f64) -> Counts {
        Counts {
            units: self.units * k,
            den: self.den * k,
            num: self.num.iter().map(|x| x * k).collect(),
            xx: self.xx * k,
            yy: self.yy.iter().map(|x| x * k).collect(),
            xy: self.xy.iter().map(|x| x * k).collect(),
        }
    }

    /// The rate of series `s`, None without denominator.
    pub fn rate(&self, s: usize) -> Option<f64> {
        (self.den > 0.0).then(|| self.num[s] / self.den)
    }
}

/// One finest cell: its value in each dimension and its sums in each period.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub keys: Vec<String>,
    pub before: Counts,
    pub after: Counts,
}

/// Finest cells of two periods, the input of every computation in `explain`.
#[derive(Debug, Clone)]
pub struct CellTable {
    pub dimensions: Vec<String>,
    /// Number of numerator series (1 + branches).
    pub series: usize,
    pub model: Model,
    pub leaves: Vec<Leaf>,
    index: HashMap<Vec<String>, usize>,
}

/// Which of the two compared periods a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The period compared against (`--vs`, period 0).
    Before,
    /// The period explained (`--period`, period 1).
    After,
}

impl CellTable {
    pub fn new(dimensions: Vec<String>, series: usize, model: Model) -> CellTable {
        CellTable {
            dimensions,
            series,
            model,
            leaves: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds `counts` to the cell `keys` (one value per dimension) of one period.
    ///
    /// Panics when `keys` or `counts` do not have the table's shape (a programming error).
    pub fn add(&mut self, keys: Vec<String>, side: Side, counts: &Counts) {
        assert_eq!(keys.len(), self.dimensions.len(), "one key per dimension");
        assert_eq!(counts.num.len(), self.series, "one numerator per series");
        let series = self.series;
        let i = *self.index.entry(keys.clone()).or_insert_with(|| {
            self.leaves.push(Leaf {
                keys,
                before: Counts::zero(series),
                after: Counts::zero(series),
            });
            self.leaves.len() - 1
        });
        match side {
            Side::Before => self.leaves[i].before.add(counts),
            Side::After => self.leaves[i].after.add(counts),
        }
    }

    /// The same table with every count of the period before multiplied by `k`.
    pub fn scaled_before(&self, k: f64) -> CellTable {
        let mut t = self.clone();
        for l in &mut t.leaves {
            l.before = l.before.scaled(k);
        }
        t
    }

    /// Totals of each period.
    pub fn totals(&self) -> (Counts, Counts) {
        let mut b = Counts::zero(self.series);
        let mut a = Counts::zero(self.series);
        for l in &self.leaves {
            b.add(&l.before);
            a.add(&l.after);
        }
        (b, a)
    }

    /// Sums over the leaves grouped by the values of the dimensions at `dims` (indices), in
    /// first-seen order. `include` filters leaves (by index).
    pub fn marginal(
        &self,
        dims: &[usize],
        include: impl Fn(usize) -> bool,
    ) -> Vec<(Vec<String>, Counts, Counts)> {
        let mut index: HashMap<Vec<&str>, usize> = HashMap::new();
        let mut out: Vec<(Vec<String>, Counts, Counts)> = Vec::new();
        for (li, l) in self.leaves.iter().enumerate() {
            if !include(li) {
                continue;
            }
            let key: Vec<&str> = dims.iter().map(|&d| l.keys[d].as_str()).collect();
            let i = match index.get(&key) {
                Some(&i) => i,
                None => {
                    out.push((
                        key.iter().map(|s| s.to_string()).collect(),
                        Counts::zero(self.series),
                        Counts::zero(self.series),
                    ));
                    index.insert(key, out.len() - 1);
                    out.len() - 1
                }
            };
            out[i].1.add(&l.before);
            out[i].2.add(&l.after);
        }
        out
    }
}
