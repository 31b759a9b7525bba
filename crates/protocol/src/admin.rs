//! Bodies of the admin API (`/v1/admin/*`), used by the console and scripts.
