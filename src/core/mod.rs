//! The pure core: token state, expiry arithmetic, single flight and retry decisions, origin
//! matching, the JWT peek and answer parsing. No web APIs, no clock, no IO, so all of it is
//! tested natively and deterministically. (The options object is validated by the driver,
//! `js/options.js`; the core is handed what it decides with.)

pub mod config;
pub mod error;
pub mod grant;
pub mod json;
pub mod jwt;
pub mod machine;
pub mod origin;
pub mod token;

pub use config::Options;
pub use error::{AuthError, Endpoint, ErrorCode};
pub use grant::{Grant, Lifetime, RefreshOutcome};
pub use machine::{
    Action, Bearer, Failure, Machine, Message, RefreshTicket, Replay, RequestId, State,
};
pub use token::Token;
