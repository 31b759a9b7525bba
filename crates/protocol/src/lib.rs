//! The one contract between a Latchkey device, the admin console and the server.
//!
//! Every request body, response body, error body and change-feed event that
//! crosses HTTP is a type here. The server serialises these, `latchkey-client`
//! deserialises them, the OpenAPI document's schemas are generated from them
//! (utoipa), and the console's TypeScript types are generated from that
//! document. A field renamed here is renamed everywhere, or a build fails.
//!
//! Request bodies use `deny_unknown_fields`: a field the server would silently
//! drop is a client bug worth an error.

pub mod admin;
pub mod device;
pub mod error;
pub mod ids;
pub mod secret;
