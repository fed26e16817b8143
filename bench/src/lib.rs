//! cetx-bench: criterion benches of the engine's hot path (`benches/`) and,
//! later, the `cetx-load` load tester.
