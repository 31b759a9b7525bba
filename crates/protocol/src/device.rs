//! Bodies of the device API: enrollment, the integration list, sealed records,
//! the change feed, revocation orders and receipts, the proxy and updates.
