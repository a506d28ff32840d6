//! kesrs: the KES-compatible server binary. STUB: helper C owns the sidecar.

fn main() {}
