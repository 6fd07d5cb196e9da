//! Arrow schemas of each signal's tables.
