//! The admin API, used by the console (session cookie + CSRF header) and by
//! automation (admin API token), one module per area: integrations, users and
//! their devices, enrollment codes (including the endpoint devices use to trade
//! a code for a device token), and the audit trail. Admin accounts, sign-in and
//! API tokens live in [`crate::routes::admin_accounts`]; every check on admin
//! input lives in `validate`.

pub mod audit;
pub mod enrollment;
pub mod groups;
pub mod integrations;
pub mod releases;
pub mod scim_tokens;
pub mod users;
mod validate;

pub use crate::routes::admin_accounts::{
    admin_token_for_email, create_admin, issue_admin_token, issue_setup_code,
};
