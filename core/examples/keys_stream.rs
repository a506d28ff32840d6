//! Streams and ranges: seal while writing, open while reading, read a slice without the rest.
//! (README.md, "Use it as a library")

use std::io::{Cursor, Read, Write};

use kesrs_core::{Context, Envelope, KeyName, Keys};

fn main() -> Result<(), kesrs_core::Error> {
    let keys = Keys::in_memory()?.blocking();
    let key = KeyName::new("my-app-key")?;
    keys.create_key(&key)?;
    let envelope = Envelope::new(keys);
    let context = Context::from_bytes(b"backup-2024-06-01".to_vec());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    // Seal: at most one 64 KiB package is held in memory.
    let mut writer = envelope.seal_writer(&key, &context, Vec::new())?;
    writer.write_all(&data)?;
    let sealed = writer.finish()?;

    // Open: each package's plaintext is returned once it is authenticated.
    let mut plaintext = Vec::new();
    envelope
        .open_reader(sealed.as_slice(), &context)?
        .read_to_end(&mut plaintext)?;
    assert_eq!(plaintext, data);

    // A range reads the header and only the packages it covers.
    let mut slice = Vec::new();
    envelope
        .open_range(Cursor::new(&sealed), &context, 150_000, 100)?
        .read_to_end(&mut slice)?;
    assert_eq!(slice, data.get(150_000..150_100).unwrap_or_default());
    println!("streamed {} bytes, read 100 from offset 150000", data.len());
    Ok(())
}
