//! The error body every failure carries: a stable code to branch on and a
//! message saying what happened and what to do next.
