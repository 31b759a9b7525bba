//! Federated search: one query fanned out, in parallel, to each connected app's own
//! search API with the user's own token, the answers merged and ranked as they arrive.
//! Nothing is indexed: results live in memory only (a five-minute cache), never on
//! disk, in logs or on the server.
//!
//! - [`Query`]: the user's text and its `in:` filters.
//! - [`Adapter`]: one provider's search API (request, pagination, parsing), in
//!   [`adapters`], chosen by the catalog's `[search]` section.
//! - [`SearchEngine`]: the fan-out with a deadline per provider, cancellation, the cache,
//!   ranking and opaque result ids; [`ProviderCall`] is how it reaches a provider
//!   (the device session's authenticated call, or the server's proxy).

#![forbid(unsafe_code)]

pub mod adapters;
mod cache;
mod engine;
mod error;
mod hit;
mod opaque;
mod query;
mod rank;
mod time;

pub use adapters::{
    Adapter, AtlassianSite, ProviderCall, adapter, atlassian_sites, encode, json_answer, text,
};
pub use cache::{Clock, SystemClock};
pub use engine::{
    RecordingCall, SearchEngine, SearchEvent, SearchRun, SearchSettings, Target, link_allowed,
};
pub use error::SearchError;
pub use hit::{Hit, ResultView};
pub use opaque::{OpaqueId, OpaqueIds};
pub use query::Query;
pub use rank::{rank, score};
pub use time::{format_timestamp, parse_timestamp};
