//! The shared vocabulary of every stage: periods, causes of handoffs, owners, the dimensions
//! conversations are segmented by and the kinds of report.
//! Types here make wrong states unrepresentable: a cause is one of four branches, a period
//! is a half-open interval of instants with the time zone it was cut in.

mod cause;
mod dimension;
mod owner;
mod period;
mod report;

pub use cause::{Cause, UnknownCause};
pub use dimension::{Dimension, UnknownDimension};
pub use owner::{Owner, OwnerId};
pub use period::{Period, PeriodError, PeriodJson};
pub use report::{ReportKind, UnknownReport};
