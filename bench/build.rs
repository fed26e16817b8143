//! Compiles the QuantCup 2011 winner (`quantcup_c/`, C) that the engine
//! benches and `tests/quantcup.rs` run beside cetx (`src/quantcup_c.rs`).

fn main() {
    println!("cargo:rerun-if-changed=quantcup_c");
    cc::Build::new()
        .file("quantcup_c/feed.c")
        // The contest's own flags (its Makefile), whatever the profile.
        .opt_level(3)
        // The entry is compiled as published; its warnings are not ours.
        .warnings(false)
        .flag_if_supported("-w")
        // As one program, as the contest built it: under -fPIC, GCC would
        // otherwise keep every call to the entry's global functions (limit,
        // cancel, the trade report) out of line, in case another library
        // replaced them.
        .flag_if_supported("-fno-semantic-interposition")
        .compile("quantcup_c");
}
