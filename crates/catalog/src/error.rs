//! The one error type of the catalog. Each variant has a stable [`code`](CatalogError::code)
//! that the UI, the CLI and the server branch on, and a message that says what to do next.
//!
//! No variant ever carries a secret: the catalog handles endpoints and host names only.

use thiserror::Error;

/// Why loading the catalog or resolving a provider failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A data file is not valid TOML or does not match the format (unknown field, wrong type).
    #[error(
        "provider file {file} cannot be read: {message}. Fix the file; the fields are listed in crates/catalog/README.md"
    )]
    Parse {
        /// The data file, e.g. `salesforce.toml`.
        file: String,
        /// The parser's explanation, with line and column.
        message: String,
    },

    /// A data file parses but breaks a rule of the format.
    #[error("provider {provider}: {field} is invalid: {reason}")]
    Invalid {
        /// The provider id (or the file name if the id itself is bad).
        provider: String,
        /// The field, as a TOML path such as `oauth2.redirect.path`.
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// Two data files declare the same id.
    #[error(
        "provider id {id} is declared twice ({first} and {second}); ids must be unique, rename one"
    )]
    DuplicateId {
        /// The id declared twice.
        id: String,
        /// The first file declaring it.
        first: String,
        /// The second file declaring it.
        second: String,
    },

    /// No provider has this id.
    #[error("there is no integration called {id}; run `latchkey list` to see the available ones")]
    UnknownProvider {
        /// The id asked for.
        id: String,
    },

    /// The provider has no such environment (e.g. a sandbox for Google).
    #[error("{provider} has no {environment} environment; choose one of: {supported}")]
    UnsupportedEnvironment {
        /// The provider id.
        provider: String,
        /// The environment asked for (`production`, `sandbox` or `custom`).
        environment: String,
        /// The environments the provider supports, comma-separated.
        supported: String,
    },

    /// A placeholder has no value: the environment does not fix it, it has no default and no
    /// parameter gave one.
    #[error("{provider} needs a value for {{{name}}} ({description}), for example {example}")]
    MissingParam {
        /// The provider id.
        provider: String,
        /// The placeholder name, without braces.
        name: String,
        /// What the value is, from the data file.
        description: String,
        /// A sample value, from the data file.
        example: String,
    },

    /// A parameter was given that the provider does not use (most often a typo).
    #[error("{provider} has no parameter {name}; it takes: {expected}")]
    UnknownParam {
        /// The provider id.
        provider: String,
        /// The parameter given.
        name: String,
        /// The parameters it takes, comma-separated (may be empty).
        expected: String,
    },

    /// A parameter was given for a placeholder that the chosen environment already fixes,
    /// such as `login_host` with the Salesforce sandbox.
    #[error(
        "{provider}: {{{name}}} is set by the {environment} environment; remove the parameter or choose a custom environment"
    )]
    ParamFixedByEnvironment {
        /// The provider id.
        provider: String,
        /// The placeholder name.
        name: String,
        /// The environment that fixes it.
        environment: String,
    },

    /// A custom host is not a bare host name.
    #[error(
        "{value:?} is not a valid host: {reason}. Give only the host name, such as acme.my.salesforce.com (no https://, path or port)"
    )]
    InvalidHost {
        /// The value given, shortened to 80 characters.
        value: String,
        /// What is wrong.
        reason: String,
    },

    /// A parameter value does not have the expected form.
    #[error("{provider}: {value:?} is not a valid value for {{{name}}}: {reason}")]
    InvalidParam {
        /// The provider id.
        provider: String,
        /// The placeholder name.
        name: String,
        /// The value given, shortened to 80 characters.
        value: String,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// A resolved endpoint is not a valid absolute URL, or still holds a placeholder.
    #[error("{provider}: {field} does not resolve to a valid URL ({reason})")]
    InvalidUrl {
        /// The provider id.
        provider: String,
        /// The endpoint field, such as `oauth2.token_url`.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// A resolved endpoint would send credentials over plain http to a non-loopback host,
    /// or names `localhost`.
    #[error("{provider}: {field} is {url}, which is refused: {reason}")]
    InsecureUrl {
        /// The provider id.
        provider: String,
        /// The endpoint field.
        field: String,
        /// The offending URL (endpoints hold no secrets).
        url: String,
        /// Why: plain http off loopback, or the name `localhost`.
        reason: String,
    },
}

impl CatalogError {
    /// A stable, machine-readable code. Never changes for a variant once released.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse { .. } => "catalog.parse",
            Self::Invalid { .. } => "catalog.invalid",
            Self::DuplicateId { .. } => "catalog.duplicate_id",
            Self::UnknownProvider { .. } => "catalog.unknown_provider",
            Self::UnsupportedEnvironment { .. } => "catalog.unsupported_environment",
            Self::MissingParam { .. } => "catalog.missing_param",
            Self::UnknownParam { .. } => "catalog.unknown_param",
            Self::ParamFixedByEnvironment { .. } => "catalog.param_fixed_by_environment",
            Self::InvalidHost { .. } => "catalog.invalid_host",
            Self::InvalidParam { .. } => "catalog.invalid_param",
            Self::InvalidUrl { .. } => "catalog.invalid_url",
            Self::InsecureUrl { .. } => "catalog.insecure_url",
        }
    }

    pub(crate) fn invalid(provider: &str, field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            provider: provider.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Shortens a user-supplied value before it goes into an error message, so a 10 kB paste
/// does not flood a log line.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
