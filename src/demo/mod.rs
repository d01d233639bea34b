//! The demo helpdesk: a seeded synthetic helpdesk in the canonical event table ([`generate`]),
//! with planted changes ([`Injection`]) for `explain` and `verify` to find, and a loopback HTTP
//! server ([`LoopbackServer`]) that serves it, so `baton demo` and the tests run the whole
//! pipeline over real HTTP with nothing installed.
//!
//! The cast (teams and tiers as in `config/baton.toml`, agents, topics, channels) is in
//! [`model`]; business hours (Mon-Fri 08:00-18:00 local) in `hours`.

mod generate;
mod hours;
mod inject;
pub mod model;
mod serve;

pub use generate::{generate, generate_frame, GenerateOptions};
pub use hours::{CLOSE_HOUR, OPEN_HOUR};
pub use inject::{Injection, InjectionError, IntakeShift, Scope};
pub use model::{Channel, Team, Topic};
pub use serve::{LoopbackServer, ServeOptions, ServedFile};
