//! Shared helpers for the Candlefish benchmarks.
