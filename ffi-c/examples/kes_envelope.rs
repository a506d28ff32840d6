//! Seals and opens envelopes with core's `Envelope` over a KES fs key directory, streaming stdin to
//! stdout: the Rust side of libkes's cross-language test (`test_envelope_remote`), which opens here
//! what C sealed and hands C what Rust sealed.
//!
//!   kes_envelope seal KEY_DIR KEY_NAME CONTEXT < plaintext > sealed
//!   kes_envelope open KEY_DIR CONTEXT < sealed > plaintext
//!
//! CONTEXT is taken as its bytes. Exits 1 with the error on stderr on failure.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use kesrs_core::{Context, Envelope, Error, KeyName, Keys};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kes_envelope: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Error> {
    let (stdin, stdout) = (io::stdin().lock(), io::stdout().lock());
    match args {
        [cmd, dir, name, context] if cmd == "seal" => {
            let keys = Keys::from_fs(Path::new(dir))?.blocking();
            let envelope = Envelope::new(&keys);
            let context = Context::from_bytes(context.as_bytes());
            let mut sealer = envelope.seal_writer(&KeyName::new(name)?, &context, stdout)?;
            io::copy(&mut { stdin }, &mut sealer)?;
            sealer.finish()?.flush()?;
            Ok(())
        }
        [cmd, dir, context] if cmd == "open" => {
            let keys = Keys::from_fs(Path::new(dir))?.blocking();
            let envelope = Envelope::new(&keys);
            let context = Context::from_bytes(context.as_bytes());
            let mut opener = envelope.open_reader(stdin, &context)?;
            let mut stdout = stdout;
            io::copy(&mut opener, &mut stdout)?;
            stdout.flush()?;
            Ok(())
        }
        _ => Err(Error::InvalidArgument(
            "usage: kes_envelope seal KEY_DIR KEY_NAME CONTEXT | open KEY_DIR CONTEXT".into(),
        )),
    }
}
