//! End-to-end tests and benchmarks of the whole suite against external
//! oracles (evo today).
