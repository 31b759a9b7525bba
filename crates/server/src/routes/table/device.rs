//! The device API: who am I, integrations, sealed records, revocation orders,
//! the API-key proxy, app updates and the change feed (device token).

use super::super::{Access, RouteDoc};
use crate::openapi::Body;
use crate::state::AppState;
use axum::routing::MethodRouter;

pub(in crate::routes) fn routes() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        route!(
            GET,
            "/v1/me",
            "me",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::Me>(),
            "Who am I: the device, its user and org.",
            crate::routes::client::me
        ),
        route!(
            GET,
            "/v1/integrations",
            "listMyIntegrations",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::IntegrationList>(),
            "Integrations enabled for me, with their public configuration.",
            crate::routes::client::integrations
        ),
        route!(
            PUT,
            "/v1/integrations/{id}/values",
            "putMyConnectionValues",
            Device,
            200,
            Body::json::<latchkey_protocol::device::ConnectionValuesInput>(),
            Body::json::<latchkey_protocol::device::IntegrationConfig>(),
            "Gives the values a connection asks at connect (a login host, a subdomain), checked with the catalog's rules; answers the connection as this user now sees it. 409 connection_in_use while the user holds records made with other values.",
            crate::routes::connection_values::put_values
        ),
        route!(
            GET,
            "/v1/integrations/{id}/grants",
            "listMyGrants",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::GrantList>(),
            "Which of my devices hold a live grant of this connection (one per stored record, oldest first), and the provider's cap on them (Salesforce: five approvals per user per app), so a device can say whom a new sign-in would sign out.",
            crate::routes::client::grants
        ),
        route!(
            GET,
            "/v1/records",
            "listMyRecords",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::RecordList>(),
            "My connection records (optionally ?integration=ID).",
            crate::routes::records::list_records
        ),
        route!(
            GET,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "getRecord",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::Record>(),
            "One connection record; ETag is its version.",
            crate::routes::records::get_record
        ),
        route!(
            PUT,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "putRecord",
            Device,
            200,
            Body::json::<latchkey_protocol::device::PutRecordRequest>(),
            Body::json::<latchkey_protocol::device::Record>(),
            "Write a record: If-None-Match: * to create (201), If-Match: <version> to update; stale → 412.",
            crate::routes::records::put_record
        ),
        route!(
            DELETE,
            "/v1/records/{integration}/{environment}/{vault_key_id}",
            "deleteRecord",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::DeletedRecord>(),
            "Delete a record (If-Match: <version> required).",
            crate::routes::records::delete_record
        ),
        route!(
            GET,
            "/v1/revocation-orders",
            "revocationOrders",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::RevocationOrderList>(),
            "The kill switch: orders this device has not answered (revoke a connection at the provider and wipe it), with the integration's public configuration.",
            crate::routes::revocation_orders::revocation_orders
        ),
        route!(
            POST,
            "/v1/revocation-orders/{id}/receipt",
            "revocationReceipt",
            Device,
            200,
            Body::json::<latchkey_protocol::device::RevocationReceipt>(),
            Body::json::<latchkey_protocol::device::ReceiptRecorded>(),
            "The device's receipt for one order: what the provider said and whether the local copy was wiped.",
            crate::routes::revocation_orders::revocation_receipt
        ),
        route!(
            GET,
            "/v1/proxy/{integration}/{*path}",
            "proxyGet",
            Device,
            200,
            Body::Empty,
            Body::Media("*/*"),
            "API-key proxy: GET toward the integration's base URL, key injected; allowed paths only.",
            crate::routes::proxy::forward
        ),
        route!(
            POST,
            "/v1/proxy/{integration}/{*path}",
            "proxyPost",
            Device,
            200,
            Body::Media("*/*"),
            Body::Media("*/*"),
            "API-key proxy: POST (see proxyGet).",
            crate::routes::proxy::forward
        ),
        route!(
            PUT,
            "/v1/proxy/{integration}/{*path}",
            "proxyPut",
            Device,
            200,
            Body::Media("*/*"),
            Body::Media("*/*"),
            "API-key proxy: PUT (see proxyGet).",
            crate::routes::proxy::forward
        ),
        route!(
            DELETE,
            "/v1/proxy/{integration}/{*path}",
            "proxyDelete",
            Device,
            200,
            Body::Empty,
            Body::Media("*/*"),
            "API-key proxy: DELETE (see proxyGet).",
            crate::routes::proxy::forward
        ),
        route!(
            GET,
            "/v1/updates/{target}/{arch}/{current_version}",
            "checkForUpdate",
            Device,
            200,
            Body::Empty,
            Body::json::<latchkey_protocol::device::UpdateManifest>(),
            "Tauri updater (dynamic server): the newest release for this platform on the device's channel when newer than current_version (Tauri's manifest: version, notes, pub_date, url, signature), else 204. Records the reported version for the console.",
            crate::routes::updates::check
        ),
        route!(
            GET,
            "/v1/updates/artifacts/{release_id}",
            "downloadUpdate",
            Device,
            200,
            Body::Empty,
            Body::Media("application/octet-stream"),
            "A live release's artifact (application/octet-stream), the url of the update manifest.",
            crate::routes::updates::artifact
        ),
        route!(
            GET,
            "/v1/events",
            "events",
            Device,
            200,
            Body::Empty,
            Body::Media("text/event-stream"),
            "Change feed (server-sent events); resume with ?since=SEQ or Last-Event-ID.",
            crate::routes::feed::events
        ),
    ]
}
