//! The shared vocabulary of every stage: periods, causes of handoffs and owners.
//! Types here make wrong states unrepresentable: a cause is one of four branches, a period
//! is a half-open interval of instants with the time zone it was cut in.

mod cause;
mod owner;
mod period;

pub use cause::{Cause, UnknownCause};
pub use owner::{Owner, OwnerId};
pub use period::{Period, PeriodError, PeriodJson};
