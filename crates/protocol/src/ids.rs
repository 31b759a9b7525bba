//! Identifier newtypes that cross the wire.
