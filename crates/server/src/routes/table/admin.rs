//! The admin API (`/v1/admin/*`): sign-in and setup, admins and their tokens, SCIM
//! tokens, integrations and the catalog, users, devices, releases and the audit log.

use super::super::{Access, RouteDoc};
use crate::openapi::Body;
use crate::state::AppState;
use axum::routing::MethodRouter;
use latchkey_protocol::admin;

pub(in crate::routes) fn routes() -> Vec<(RouteDoc, MethodRouter<AppState>)> {
    vec![
        route!(
            POST,
            "/v1/admin/login",
            "adminLogin",
            Public,
            200,
            Body::json::<admin::Login>(),
            Body::json::<admin::SignedIn>(),
            "Console sign-in: sets the session cookie, returns the CSRF token.",
            crate::routes::admin_accounts::login
        ),
        route!(
            POST,
            "/v1/admin/setup",
            "adminSetup",
            Public,
            201,
            Body::json::<admin::Setup>(),
            Body::json::<admin::AdminCreated>(),
            "Create the first admin with the one-time setup code printed at start (only while there is no admin).",
            crate::routes::admin_accounts::setup
        ),
        route!(
            POST,
            "/v1/admin/logout",
            "adminLogout",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Sign out (ends the session, or revokes the API token used).",
            crate::routes::admin_accounts::logout
        ),
        route!(
            POST,
            "/v1/admin/tokens",
            "createAdminToken",
            Admin,
            201,
            Body::optional_json::<admin::CreateToken>(),
            Body::json::<admin::CreatedToken>(),
            "Create a named admin API token for automation (the body is optional); it expires after admin_token_ttl_days.",
            crate::routes::admin_accounts::create_token
        ),
        route!(
            GET,
            "/v1/admin/tokens",
            "listAdminTokens",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::TokenList>(),
            "My API tokens with their expiry and last use (never the tokens); ?all=true (owner): everyone's.",
            crate::routes::admin_accounts::list_tokens
        ),
        route!(
            DELETE,
            "/v1/admin/tokens/{id}",
            "revokeAdminToken",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Revoke an API token: my own, or (owner) anyone's.",
            crate::routes::admin_accounts::revoke_token
        ),
        route!(
            POST,
            "/v1/admin/scim-tokens",
            "createScimToken",
            Admin,
            201,
            Body::optional_json::<admin::CreateScimToken>(),
            Body::json::<admin::CreatedScimToken>(),
            "Issue a SCIM token for the identity provider (shown once; the body is optional); it expires after ttl_days (default 365).",
            crate::routes::admin::scim_tokens::create
        ),
        route!(
            GET,
            "/v1/admin/scim-tokens",
            "listScimTokens",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::ScimTokenList>(),
            "SCIM tokens with their expiry, last use and revocation (never the tokens), and the SCIM base URL.",
            crate::routes::admin::scim_tokens::list
        ),
        route!(
            DELETE,
            "/v1/admin/scim-tokens/{id}",
            "revokeScimToken",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Revoke a SCIM token: the identity provider's calls with it fail at once.",
            crate::routes::admin::scim_tokens::revoke
        ),
        route!(
            GET,
            "/v1/admin/admins",
            "listAdmins",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::AdminList>(),
            "The organisation's admins and their roles, and who I am.",
            crate::routes::admin_accounts::list_admins
        ),
        route!(
            POST,
            "/v1/admin/admins",
            "addAdmin",
            Admin,
            201,
            Body::json::<admin::NewAdmin>(),
            Body::json::<admin::AdminCreated>(),
            "Add an admin (owner only).",
            crate::routes::admin_accounts::add_admin
        ),
        route!(
            DELETE,
            "/v1/admin/admins/{id}",
            "removeAdmin",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Remove an admin (owner only): their sessions and API tokens end at once.",
            crate::routes::admin_accounts::remove_admin
        ),
        route!(
            POST,
            "/v1/admin/password",
            "changeAdminPassword",
            Admin,
            204,
            Body::json::<admin::PasswordChange>(),
            Body::Empty,
            "Change my password (needs the current one); my other console sessions end.",
            crate::routes::admin_accounts::change_password
        ),
        route!(
            GET,
            "/v1/admin/integrations",
            "listIntegrations",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::ConfiguredIntegrations>(),
            "Configured integrations (secrets shown as set / not set).",
            crate::routes::admin::integrations::list_integrations
        ),
        route!(
            GET,
            "/v1/admin/catalog",
            "listCatalog",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::CatalogList>(),
            "The provider catalog: every integration that can be enabled, with its auth type, environments, default scopes, required parameters and the callback URL to register.",
            crate::routes::admin::integrations::catalog
        ),
        route!(
            GET,
            "/v1/admin/integrations/{id}",
            "getIntegration",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::Integration>(),
            "One integration's configuration.",
            crate::routes::admin::integrations::get_integration
        ),
        route!(
            PUT,
            "/v1/admin/integrations/{id}",
            "putIntegration",
            Admin,
            200,
            Body::json::<admin::IntegrationInput>(),
            Body::json::<admin::Integration>(),
            "Enable, configure or disable an integration; disabling deletes its records and tells the menus.",
            crate::routes::admin::integrations::put_integration
        ),
        route!(
            DELETE,
            "/v1/admin/integrations/{id}",
            "deleteIntegration",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Remove an integration's configuration and records.",
            crate::routes::admin::integrations::delete_integration
        ),
        route!(
            POST,
            "/v1/admin/integrations/{id}/test",
            "testIntegration",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::ConnectionTest>(),
            "Test connection: the API key against the provider, or the OAuth server's metadata (RFC 8414).",
            crate::routes::proxy::test_connection
        ),
        route!(
            POST,
            "/v1/admin/integrations/{id}/authorize",
            "authorizeOrgConnection",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::OrgAuthorizeStart>(),
            "Org connection: start the OAuth flow in this console session; answers the provider's URL to send the browser to (the state travels in an HttpOnly cookie).",
            crate::routes::org_oauth::authorize
        ),
        route!(
            POST,
            "/v1/admin/integrations/{id}/revoke",
            "revokeOrgConnection",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::OrgRevoked>(),
            "Org connection: delete the server's tokens and revoke them at the provider.",
            crate::routes::org_oauth::revoke
        ),
        route!(
            GET,
            "/v1/admin/users",
            "listUsers",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::UserList>(),
            "Users of the org.",
            crate::routes::admin::users::list_users
        ),
        route!(
            GET,
            "/v1/admin/groups",
            "listGroups",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::GroupList>(),
            "SCIM groups of the org (id, display_name, member_count), to name in an integration's allowed_groups.",
            crate::routes::admin::groups::list_groups
        ),
        route!(
            POST,
            "/v1/admin/users",
            "inviteUser",
            Admin,
            201,
            Body::json::<admin::InviteUser>(),
            Body::json::<admin::Invited>(),
            "Invite a user: returns a one-time enrollment code and link.",
            crate::routes::admin::users::invite_user
        ),
        route!(
            GET,
            "/v1/admin/users/{id}",
            "getUser",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::UserDetail>(),
            "One user.",
            crate::routes::admin::users::get_user
        ),
        route!(
            DELETE,
            "/v1/admin/users/{id}",
            "removeUser",
            Admin,
            204,
            Body::Empty,
            Body::Empty,
            "Remove a user with their devices and records.",
            crate::routes::admin::users::remove_user
        ),
        route!(
            POST,
            "/v1/admin/users/{id}/enrollment",
            "newEnrollment",
            Admin,
            201,
            Body::Empty,
            Body::json::<admin::NewEnrollment>(),
            "Issue a new enrollment code for a user.",
            crate::routes::admin::enrollment::new_enrollment
        ),
        route!(
            GET,
            "/v1/admin/users/{id}/connections",
            "userConnections",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::UserConnections>(),
            "A user's connection status (never token material).",
            crate::routes::admin::users::user_connections
        ),
        route!(
            DELETE,
            "/v1/admin/users/{id}/connections/{integration}",
            "disconnectUser",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::Disconnected>(),
            "Disconnect a user from an integration.",
            crate::routes::admin::users::disconnect
        ),
        route!(
            GET,
            "/v1/admin/devices",
            "listDevices",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::DeviceList>(),
            "Devices (optionally ?user_id=ID).",
            crate::routes::admin::users::list_devices
        ),
        route!(
            POST,
            "/v1/admin/devices/{id}/revoke",
            "revokeDevice",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::Device>(),
            "Revoke a device: its token stops working at once.",
            crate::routes::admin::users::revoke_device
        ),
        route!(
            PUT,
            "/v1/admin/devices/{id}/update-channel",
            "setDeviceUpdateChannel",
            Admin,
            200,
            Body::json::<admin::ChannelChange>(),
            Body::json::<admin::Device>(),
            "Put a device on an update channel: it is offered only that channel's releases.",
            crate::routes::admin::releases::set_device_channel
        ),
        route!(
            POST,
            "/v1/admin/releases",
            "uploadRelease",
            Admin,
            201,
            Body::bytes::<admin::ReleaseArtifact>(),
            Body::json::<admin::Release>(),
            "Upload a signed release: the artifact as the body, metadata as query parameters; the signature must verify with updates.public_key.",
            crate::routes::admin::releases::upload
        ),
        route!(
            GET,
            "/v1/admin/releases",
            "listReleases",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::ReleaseList>(),
            "Releases, newest first (size and sha256, never the bytes), withdrawn ones too; and the configured update key.",
            crate::routes::admin::releases::list
        ),
        route!(
            PATCH,
            "/v1/admin/releases/{id}",
            "changeRelease",
            Admin,
            200,
            Body::json::<admin::ChannelChange>(),
            Body::json::<admin::Release>(),
            "Move a release to another channel (promote beta to stable).",
            crate::routes::admin::releases::change
        ),
        route!(
            DELETE,
            "/v1/admin/releases/{id}",
            "withdrawRelease",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::Release>(),
            "Withdraw a release: it is never offered or served again.",
            crate::routes::admin::releases::withdraw
        ),
        route!(
            GET,
            "/v1/admin/audit",
            "audit",
            Admin,
            200,
            Body::Empty,
            Body::json::<admin::AuditPage>(),
            "Audit events, newest first: ?limit=N (at most 1000), before=ID (cursor: the previous page's next_before), action=, user=ID (actor, target or subject), integration=ID, since=/until= (ms since the epoch).",
            crate::routes::admin::audit::audit
        ),
    ]
}
