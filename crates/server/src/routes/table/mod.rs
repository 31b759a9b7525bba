//! The route table, one file per API area. Each entry names its method, path,
//! operation id, who may call it, its success status, its request and response
//! bodies (protocol types, for the OpenAPI schemas), a summary and the handler.

pub(super) mod admin;
pub(super) mod device;
pub(super) mod public;
