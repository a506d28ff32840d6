//! Sealed messages end to end, with data keys from a real `Kms` over the memory store: one-shot,
//! blocking and tokio streams, ranges, reuse, and every way a sealed message can be tampered with.

// Test helpers: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::MemoryStore;
use kesrs_core::{
    Context, DataKey, DataKeys, Envelope, EnvelopeError, Error, KeyName, Kms, PackageSealer,
    Pattern, ReuseLimits,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

/// `Kms` as a blocking data-key source, on a runtime of its own (as the blocking `Keys` will be).
/// Counts `generate` calls, for the reuse tests.
struct Blocking {
    kms: Kms,
    runtime: tokio::runtime::Runtime,
    generated: AtomicUsize,
}

impl DataKeys for Blocking {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.generated.fetch_add(1, Ordering::SeqCst);
        self.runtime.block_on(self.kms.generate_key(key, context))
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.runtime
            .block_on(self.kms.decrypt(key, ciphertext, context))
    }
}

/// A source that ignores the context, as a careless KMS might: the envelope must still bind it.
struct IgnoresContext(Blocking);

impl DataKeys for IgnoresContext {
    fn generate(&self, key: &KeyName, _: &[u8]) -> Result<DataKey, Error> {
        self.0.generate(key, b"")
    }

    fn decrypt(&self, key: &KeyName, ct: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.0.decrypt(key, ct, b"")
    }
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}

async fn kms() -> Kms {
    let kms = Kms::new(Arc::new(MemoryStore::new()), CacheConfig::default());
    for key in ["my-key", "other-key"] {
        kms.create_key(&name(key), None).await.unwrap();
    }
    kms
}

fn blocking() -> Blocking {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let kms = runtime.block_on(kms());
    Blocking {
        kms,
        runtime,
        generated: AtomicUsize::new(0),
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
}

fn ctx() -> Context {
    Context::from_map([("bucket", "bucket/object")])
}

const P: usize = 64 * 1024;
const PACKAGE: usize = P + 32;
const SIZES: [usize; 7] = [0, 1, 1000, P - 1, P, P + 1, 3 * P + 17];

fn envelope_error(result: Result<impl std::fmt::Debug, Error>) -> EnvelopeError {
    match result {
        Err(Error::Envelope(err)) => err,
        other => panic!("expected an envelope error, got {other:?}"),
    }
}

/// Where the DARE stream of `sealed` starts: after the header (its length is in its prefix).
fn header_len(sealed: &[u8]) -> usize {
    9 + sealed[6] as usize + u16::from_le_bytes([sealed[7], sealed[8]]) as usize + 64
}

/// The packages of a sealed message.
fn packages(sealed: &[u8]) -> Vec<Vec<u8>> {
    sealed[header_len(sealed)..]
        .chunks(PACKAGE)
        .map(<[u8]>::to_vec)
        .collect()
}

fn reassemble(sealed: &[u8], packages: &[&Vec<u8>]) -> Vec<u8> {
    let mut out = sealed[..header_len(sealed)].to_vec();
    for p in packages {
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn one_shot_round_trips() {
    let envelope = Envelope::new(blocking());
    for len in SIZES {
        let plaintext = data(len);
        let sealed = envelope.seal(&name("my-key"), &plaintext, &ctx()).unwrap();
        assert_eq!(&sealed[..4], b"KESE");
        assert_eq!(*envelope.open(&sealed, &ctx()).unwrap(), plaintext, "{len}");
    }
}

#[tokio::test]
async fn async_one_shot_round_trips_and_opens_blocking_seals() {
    let kms = kms().await;
    let envelope = Envelope::new(kms.clone());
    for len in SIZES {
        let plaintext = data(len);
        let sealed = envelope
            .seal_async(&name("my-key"), &plaintext, &ctx())
            .await
            .unwrap();
        let opened = envelope.open_async(&sealed, &ctx()).await.unwrap();
        assert_eq!(*opened, plaintext);
    }
}

#[test]
fn streams_and_one_shot_are_the_same_format() {
    let envelope = Envelope::new(blocking());
    for len in SIZES {
        let plaintext = data(len);
        // Written in uneven pieces.
        let mut writer = envelope
            .seal_writer(&name("my-key"), &ctx(), Vec::new())
            .unwrap();
        for piece in plaintext.chunks(7919) {
            writer.write_all(piece).unwrap();
        }
        let streamed = writer.finish().unwrap();
        assert_eq!(
            streamed.len(),
            envelope
                .seal(&name("my-key"), &plaintext, &ctx())
                .unwrap()
                .len()
        );
        assert_eq!(
            *envelope.open(&streamed, &ctx()).unwrap(),
            plaintext,
            "{len}"
        );

        // Read back in uneven pieces.
        let sealed = envelope.seal(&name("my-key"), &plaintext, &ctx()).unwrap();
        let mut reader = envelope.open_reader(&sealed[..], &ctx()).unwrap();
        assert_eq!(reader.key().as_str(), "my-key");
        let mut out = Vec::new();
        let mut buf = [0u8; 4099];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, plaintext, "{len}");
    }
}

/// Seals `plaintext` with a [`PackageSealer`], one package per call into one reused buffer, marking
/// the last package final as a caller that reads ahead would.
fn seal_by_packages(envelope: &Envelope<Blocking>, plaintext: &[u8]) -> Vec<u8> {
    let mut sealer = envelope.package_sealer(&name("my-key"), &ctx()).unwrap();
    let mut out = vec![0u8; PackageSealer::MAX_OUTPUT];
    let mut sealed = Vec::new();
    let mut chunks = plaintext.chunks(P).peekable();
    if chunks.peek().is_none() {
        let n = sealer.seal(&[], true, &mut out).unwrap();
        sealed.extend_from_slice(&out[..n]);
    }
    while let Some(chunk) = chunks.next() {
        let n = sealer
            .seal(chunk, chunks.peek().is_none(), &mut out)
            .unwrap();
        sealed.extend_from_slice(&out[..n]);
    }
    sealed
}

#[test]
fn package_sealers_write_the_stream_format() {
    let envelope = Envelope::new(blocking());
    for len in SIZES {
        let plaintext = data(len);
        let sealed = seal_by_packages(&envelope, &plaintext);
        let one_shot = envelope.seal(&name("my-key"), &plaintext, &ctx()).unwrap();
        assert_eq!(sealed.len(), one_shot.len(), "{len}");
        assert_eq!(*envelope.open(&sealed, &ctx()).unwrap(), plaintext, "{len}");
        let mut reader = envelope.open_reader(&sealed[..], &ctx()).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, plaintext, "{len}");
    }
}

#[test]
fn package_sealers_keep_truncation_and_order_detectable() {
    let envelope = Envelope::new(blocking());
    let plaintext = data(3 * P);
    let sealed = seal_by_packages(&envelope, &plaintext);
    let p = packages(&sealed);
    assert_eq!(p.len(), 3);
    // The last full package was sealed final: dropping it, or swapping two, does not open.
    let dropped = reassemble(&sealed, &[&p[0], &p[1]]);
    assert_eq!(
        envelope_error(envelope.open(&dropped, &ctx())),
        EnvelopeError::Truncated
    );
    let swapped = reassemble(&sealed, &[&p[1], &p[0], &p[2]]);
    assert_eq!(
        envelope_error(envelope.open(&swapped, &ctx())),
        EnvelopeError::PackageAuthentication(0)
    );
    // A caller that never marks a package final leaves a stream that does not open.
    let mut sealer = envelope.package_sealer(&name("my-key"), &ctx()).unwrap();
    let mut out = vec![0u8; PackageSealer::MAX_OUTPUT];
    let mut unfinished = Vec::new();
    for chunk in plaintext.chunks(P) {
        let n = sealer.seal(chunk, false, &mut out).unwrap();
        unfinished.extend_from_slice(&out[..n]);
    }
    assert_eq!(
        envelope_error(envelope.open(&unfinished, &ctx())),
        EnvelopeError::Truncated
    );
}

#[test]
fn package_sealers_refuse_misuse_and_stay_spent() {
    let envelope = Envelope::new(blocking());
    let sealer = || envelope.package_sealer(&name("my-key"), &ctx()).unwrap();
    let mut out = vec![0u8; PackageSealer::MAX_OUTPUT];
    let invalid = |result: Result<usize, Error>| match result {
        Err(Error::InvalidArgument(message)) => message,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };

    // A short package that is not the last: sio's readers would reject the stream.
    let mut short = sealer();
    assert_eq!(
        invalid(short.seal(&data(10), false, &mut out)),
        "a package holds 65536 plaintext bytes, the final one 1 to 65536; got 10 (final: false)"
    );
    assert!(matches!(
        short.seal(&data(P), true, &mut out),
        Err(Error::Encrypt)
    ));
    assert_eq!(
        invalid(sealer().seal(&data(P + 1), true, &mut out)),
        "a package holds 65536 plaintext bytes, the final one 1 to 65536; got 65537 (final: true)"
    );

    // An empty final package after packages: the last full one should have been final.
    let mut late = sealer();
    late.seal(&data(P), false, &mut out).unwrap();
    assert_eq!(
        invalid(late.seal(&[], true, &mut out)),
        "an empty final package is only the whole (empty) message; mark the last full package \
         final instead"
    );

    // Too small an output buffer.
    let mut small = vec![0u8; P];
    assert_eq!(
        invalid(sealer().seal(&data(P), false, &mut small)),
        format!(
            "the output buffer holds {P} bytes; this package needs {}",
            header_len(&envelope.seal(&name("my-key"), b"x", &ctx()).unwrap()) + PACKAGE
        )
    );

    // Nothing after the final package, and the empty message is its header alone.
    let mut empty = sealer();
    let n = empty.seal(&[], true, &mut out).unwrap();
    assert_eq!(n, header_len(&out));
    assert!(envelope.open(&out[..n], &ctx()).unwrap().is_empty());
    assert!(matches!(
        empty.seal(&data(1), true, &mut out),
        Err(Error::Encrypt)
    ));
}

#[tokio::test]
async fn tokio_streams_round_trip() {
    let envelope = Envelope::new(kms().await);
    for len in SIZES {
        let plaintext = data(len);
        let mut writer = envelope
            .seal_writer_async(&name("my-key"), &ctx(), Vec::new())
            .await
            .unwrap();
        for piece in plaintext.chunks(10007) {
            writer.write_all(piece).await.unwrap();
        }
        writer.shutdown().await.unwrap();
        let sealed = writer.into_inner();
        assert_eq!(
            *envelope.open_async(&sealed, &ctx()).await.unwrap(),
            plaintext
        );

        let mut reader = envelope
            .open_reader_async(&sealed[..], &ctx())
            .await
            .unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, plaintext, "{len}");
    }
}

/// A tokio pipe of 1 KiB: the writer and reader make progress in small steps, with back-pressure.
#[tokio::test]
async fn tokio_streams_through_a_small_pipe() {
    let envelope = Arc::new(Envelope::new(kms().await));
    let plaintext = data(5 * P + 3);
    let (a, b) = tokio::io::duplex(1024);
    let writer_envelope = Arc::clone(&envelope);
    let input = plaintext.clone();
    let writer = tokio::spawn(async move {
        let mut writer = writer_envelope
            .seal_writer_async(&name("my-key"), &ctx(), a)
            .await
            .unwrap();
        writer.write_all(&input).await.unwrap();
        writer.shutdown().await.unwrap();
    });
    let mut reader = envelope.open_reader_async(b, &ctx()).await.unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    writer.await.unwrap();
    assert_eq!(out, plaintext);
}

#[test]
fn wrong_context_is_detected() {
    // By KES, which binds the data key to the context.
    let envelope = Envelope::new(blocking());
    let sealed = envelope.seal(&name("my-key"), b"secret", &ctx()).unwrap();
    let other = Context::from_map([("bucket", "bucket/other")]);
    assert!(matches!(
        envelope.open(&sealed, &other),
        Err(Error::Decrypt)
    ));
    assert!(matches!(
        envelope.open_reader(&sealed[..], &other),
        Err(Error::Decrypt)
    ));

    // And by the envelope itself, when the key source does not bind it.
    let careless = Envelope::new(IgnoresContext(blocking()));
    let sealed = careless.seal(&name("my-key"), b"secret", &ctx()).unwrap();
    assert_eq!(
        envelope_error(careless.open(&sealed, &other)),
        EnvelopeError::HeaderAuthentication
    );
    assert_eq!(*careless.open(&sealed, &ctx()).unwrap(), b"secret");
}

#[test]
fn tampered_headers_are_detected_before_the_payload() {
    let envelope = Envelope::new(IgnoresContext(blocking()));
    let sealed = envelope.seal(&name("my-key"), &data(1000), &ctx()).unwrap();
    // The salt and the tag: the header's tag fails.
    for at in [header_len(&sealed) - 64, header_len(&sealed) - 1] {
        let mut bad = sealed.clone();
        bad[at] ^= 1;
        assert_eq!(
            envelope_error(envelope.open(&bad, &ctx())),
            EnvelopeError::HeaderAuthentication
        );
    }
    // The flags: the shared-key flag is authenticated too.
    let mut bad = sealed.clone();
    bad[5] |= 0x01;
    assert_eq!(
        envelope_error(envelope.open(&bad, &ctx())),
        EnvelopeError::HeaderAuthentication
    );
    // The key name: "other-key" has the same length, but KES cannot decrypt under it.
    let envelope = Envelope::new(blocking());
    let sealed = envelope.seal(&name("my-key"), &data(1000), &ctx()).unwrap();
    let mut bad = sealed.clone();
    bad[9..15].copy_from_slice(b"my-kez");
    assert!(matches!(
        envelope.open(&bad, &ctx()),
        Err(Error::KeyNotFound)
    ));
}

#[test]
fn a_swapped_header_is_detected() {
    let envelope = Envelope::new(blocking());
    let a = envelope.seal(&name("my-key"), &data(3000), &ctx()).unwrap();
    let b = envelope.seal(&name("my-key"), &data(3000), &ctx()).unwrap();
    // A's header (valid, same key and context) on B's payload.
    let swapped = [&a[..header_len(&a)], &b[header_len(&b)..]].concat();
    assert_eq!(
        envelope_error(envelope.open(&swapped, &ctx())),
        EnvelopeError::PackageAuthentication(0)
    );
    let mut reader = envelope.open_reader(&swapped[..], &ctx()).unwrap();
    let err = Error::from(reader.read_to_end(&mut Vec::new()).unwrap_err());
    assert!(matches!(
        err,
        Error::Envelope(EnvelopeError::PackageAuthentication(0))
    ));
}

/// Every stream attack, against the one-shot and the streaming reader alike.
#[test]
fn truncated_reordered_duplicated_and_dropped_packages_are_detected() {
    let envelope = Envelope::new(blocking());
    let sealed = envelope
        .seal(&name("my-key"), &data(3 * P + 10), &ctx())
        .unwrap();
    let p = packages(&sealed);
    assert_eq!(p.len(), 4);
    let cases: Vec<(&str, Vec<u8>, EnvelopeError)> = vec![
        (
            "reordered",
            reassemble(&sealed, &[&p[0], &p[2], &p[1], &p[3]]),
            EnvelopeError::PackageAuthentication(1),
        ),
        (
            "duplicated",
            reassemble(&sealed, &[&p[0], &p[1], &p[1], &p[2], &p[3]]),
            EnvelopeError::PackageAuthentication(2),
        ),
        (
            "dropped",
            reassemble(&sealed, &[&p[0], &p[2], &p[3]]),
            EnvelopeError::PackageAuthentication(1),
        ),
        (
            "final dropped",
            reassemble(&sealed, &[&p[0], &p[1], &p[2]]),
            EnvelopeError::Truncated,
        ),
        (
            "cut in a package",
            sealed[..sealed.len() - 5].to_vec(),
            EnvelopeError::Truncated,
        ),
        (
            "cut in a package header",
            sealed[..header_len(&sealed) + PACKAGE + 7].to_vec(),
            EnvelopeError::Truncated,
        ),
        (
            "only the header",
            sealed[..header_len(&sealed)].to_vec(),
            EnvelopeError::Truncated,
        ),
        (
            "final duplicated",
            reassemble(&sealed, &[&p[0], &p[1], &p[2], &p[3], &p[3]]),
            EnvelopeError::TrailingData,
        ),
        (
            "a trailing byte",
            [&sealed[..], b"x"].concat(),
            EnvelopeError::TrailingData,
        ),
    ];
    for (what, input, expected) in cases {
        assert_eq!(
            envelope_error(envelope.open(&input, &ctx())),
            expected,
            "{what}"
        );
        let mut reader = envelope.open_reader(&input[..], &ctx()).unwrap();
        let err = Error::from(reader.read_to_end(&mut Vec::new()).unwrap_err());
        assert!(
            matches!(err, Error::Envelope(e) if e == expected),
            "{what}: {err:?}"
        );
        // The failure is permanent.
        assert!(reader.read(&mut [0; 16]).is_err(), "{what}");
    }
    // A header cut short.
    for cut in [0, 3, 9, header_len(&sealed) - 1] {
        assert_eq!(
            envelope_error(envelope.open(&sealed[..cut], &ctx())),
            EnvelopeError::TruncatedHeader
        );
        assert_eq!(
            envelope_error(envelope.open_reader(&sealed[..cut], &ctx())),
            EnvelopeError::TruncatedHeader
        );
    }
}

#[test]
fn an_empty_message_cannot_gain_or_lose_packages() {
    let envelope = Envelope::new(blocking());
    let empty = envelope.seal(&name("my-key"), b"", &ctx()).unwrap();
    assert_eq!(empty.len(), header_len(&empty));
    assert_eq!(empty[5] & 0x02, 0x02);
    let full = envelope.seal(&name("my-key"), b"x", &ctx()).unwrap();
    let grown = [&empty[..], &full[header_len(&full)..]].concat();
    assert_eq!(
        envelope_error(envelope.open(&grown, &ctx())),
        EnvelopeError::TrailingData
    );
    // A non-empty message cut after its header is not an empty one.
    assert_eq!(
        envelope_error(envelope.open(&full[..header_len(&full)], &ctx())),
        EnvelopeError::Truncated
    );
}

#[test]
fn accepted_keys_restrict_open() {
    let sealer = Envelope::new(blocking());
    let sealed = sealer.seal(&name("other-key"), b"x", &ctx()).unwrap();
    let strict = Envelope::new(blocking()).accept_keys([Pattern::new("my-*").unwrap()]);
    let err = strict.open(&sealed, &ctx()).unwrap_err();
    assert!(matches!(
        err,
        Error::Envelope(EnvelopeError::KeyNotAccepted)
    ));
    assert_eq!(err.status(), 403);
    assert!(matches!(
        strict.open_reader(&sealed[..], &ctx()),
        Err(Error::Envelope(EnvelopeError::KeyNotAccepted))
    ));
    let mine = sealer.seal(&name("my-key"), b"x", &ctx()).unwrap();
    // (Another Kms, whose "my-key" is another key: it got past the name check, to KES.)
    assert!(matches!(strict.open(&mine, &ctx()), Err(Error::Decrypt)));
}

#[test]
fn ranges_read_only_the_packages_they_cover() {
    let envelope = Envelope::new(blocking());
    let len = 4 * P + 100;
    let plaintext = data(len);
    let sealed = envelope.seal(&name("my-key"), &plaintext, &ctx()).unwrap();
    let ranges = [
        (0, 0),
        (0, 1),
        (0, len),
        (P - 1, 2),
        (P, P),
        (2 * P + 5, 100),
        (len - 1, 1),
        (len, 0),
        (3 * P, P + 100),
    ];
    for (offset, n) in ranges {
        let src = Counting::new(&sealed);
        let mut reader = envelope
            .open_range(src, &ctx(), offset as u64, n as u64)
            .unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, &plaintext[offset..offset + n], "{offset}+{n}");
        let covered = if n == 0 {
            0
        } else {
            (offset + n - 1) / P - offset / P + 1
        };
        let read = reader.into_inner().read;
        assert!(
            read <= header_len(&sealed) + covered * PACKAGE,
            "{offset}+{n} read {read}"
        );
    }
    // Out of bounds.
    let err = envelope.open_range(Cursor::new(&sealed), &ctx(), len as u64, 1);
    assert_eq!(envelope_error(err), EnvelopeError::RangeOutOfBounds);
    let err = envelope.open_range(Cursor::new(&sealed), &ctx(), u64::MAX, 2);
    assert_eq!(envelope_error(err), EnvelopeError::RangeOutOfBounds);
}

#[test]
fn ranges_detect_tampering_in_the_packages_they_cover() {
    let envelope = Envelope::new(blocking());
    let sealed = envelope
        .seal(&name("my-key"), &data(3 * P + 10), &ctx())
        .unwrap();
    let p = packages(&sealed);
    let read_range = |input: &[u8], offset: usize, n: usize| -> Result<Vec<u8>, Error> {
        let mut reader =
            envelope.open_range(Cursor::new(input.to_vec()), &ctx(), offset as u64, n as u64)?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    };
    let reordered = reassemble(&sealed, &[&p[0], &p[2], &p[1], &p[3]]);
    assert_eq!(
        envelope_error(read_range(&reordered, P, 10)),
        EnvelopeError::PackageAuthentication(1)
    );
    // Cut at a package boundary: the last package left is not final.
    let cut = reassemble(&sealed, &[&p[0], &p[1], &p[2]]);
    assert_eq!(
        envelope_error(read_range(&cut, 2 * P, 10)),
        EnvelopeError::Truncated
    );
    // Cut inside the last package: found when the range covers it (no other package is read).
    let cut_short = &sealed[..sealed.len() - 5];
    assert_eq!(
        envelope_error(read_range(cut_short, 3 * P, 5)),
        EnvelopeError::Truncated
    );
    assert_eq!(read_range(cut_short, 0, 1).unwrap(), &data(1)[..]);
    // Cut to a length no stream has.
    let odd = &sealed[..header_len(&sealed) + 3 * PACKAGE + 20];
    assert_eq!(
        envelope_error(read_range(odd, 0, 1)),
        EnvelopeError::Truncated
    );
    // A range past the end of a truncated stream.
    assert_eq!(
        envelope_error(read_range(&cut, 3 * P, 5)),
        EnvelopeError::RangeOutOfBounds
    );
    // A changed byte in a covered package.
    let mut bad = sealed.clone();
    bad[header_len(&sealed) + PACKAGE + 100] ^= 1;
    assert_eq!(
        envelope_error(read_range(&bad, P + 3, 1)),
        EnvelopeError::PackageAuthentication(1)
    );
    // ... but not in one outside the range: only covered packages are read.
    assert_eq!(read_range(&bad, 0, 5).unwrap(), &data(5)[..]);
}

#[test]
fn ranges_start_where_the_envelope_starts() {
    let envelope = Envelope::new(blocking());
    let plaintext = data(P + 50);
    let sealed = envelope.seal(&name("my-key"), &plaintext, &ctx()).unwrap();
    let mut file = Cursor::new([&b"prefix"[..], &sealed].concat());
    file.seek(SeekFrom::Start(6)).unwrap();
    let mut out = Vec::new();
    envelope
        .open_range(file, &ctx(), P as u64 + 10, 40)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, &plaintext[P + 10..P + 50]);
}

#[test]
fn data_keys_are_reused_within_limits_and_messages_still_differ() {
    let limits = ReuseLimits::new(3, 1 << 20, Duration::from_secs(60)).unwrap();
    let envelope = Envelope::new(blocking()).reuse_data_keys(limits);
    let sealed: Vec<Vec<u8>> = (0..7)
        .map(|_| {
            envelope
                .seal(&name("my-key"), b"same plaintext", &ctx())
                .unwrap()
        })
        .collect();
    // 7 messages, 3 per data key.
    assert_eq!(envelope.keys().generated.load(Ordering::SeqCst), 3);
    // The first three share the KES ciphertext, and each has its own salt and so its own keys.
    let hl = header_len(&sealed[0]);
    assert_eq!(sealed[0][..hl - 64], sealed[1][..hl - 64]);
    assert_ne!(sealed[0][hl - 64..hl - 32], sealed[1][hl - 64..hl - 32]);
    assert_ne!(sealed[0][hl..], sealed[1][hl..]);
    for s in &sealed {
        assert_eq!(s[5] & 0x01, 0x01, "shared-key flag");
        assert_eq!(*envelope.open(s, &ctx()).unwrap(), b"same plaintext");
    }
    // Another context is another data key.
    envelope
        .seal(
            &name("my-key"),
            b"x",
            &Context::from_bytes(b"other".to_vec()),
        )
        .unwrap();
    assert_eq!(envelope.keys().generated.load(Ordering::SeqCst), 4);
    // Streams always get a fresh data key.
    envelope
        .seal_writer(&name("my-key"), &ctx(), Vec::new())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(envelope.keys().generated.load(Ordering::SeqCst), 5);

    // Off by default: a key per message, and no shared-key flag.
    let plain = Envelope::new(blocking());
    let s = plain.seal(&name("my-key"), b"x", &ctx()).unwrap();
    plain.seal(&name("my-key"), b"x", &ctx()).unwrap();
    assert_eq!(plain.keys().generated.load(Ordering::SeqCst), 2);
    assert_eq!(s[5], 0);
}

#[test]
fn errors_have_kes_statuses_and_precise_display() {
    let auth = Error::Envelope(EnvelopeError::HeaderAuthentication);
    assert_eq!(auth.status(), 400);
    assert_eq!(
        auth.message(),
        "decryption failed: ciphertext is not authentic"
    );
    assert_eq!(
        auth.to_string(),
        "decryption failed: ciphertext is not authentic: header authentication failed"
    );
    let malformed = Error::Envelope(EnvelopeError::UnsupportedVersion(9));
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.message(),
        "invalid envelope: unsupported version 9"
    );
    let io = Error::from(std::io::Error::from(Error::Envelope(
        EnvelopeError::Truncated,
    )));
    assert!(matches!(io, Error::Envelope(EnvelopeError::Truncated)));
}

#[test]
fn debug_shows_no_key_bytes() {
    let key = Zeroizing::new([0xabu8; 32]);
    let data_key = DataKey::from_parts(key, vec![1, 2, 3]);
    let shown = format!("{data_key:?}");
    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("ab, ab"),
        "{shown}"
    );
    let envelope = Envelope::new(blocking());
    let mut writer = envelope
        .seal_writer(&name("my-key"), &ctx(), Vec::new())
        .unwrap();
    writer.write_all(b"abc").unwrap();
    assert_eq!(format!("{writer:?}"), "SealWriter { .. }");
    let sealed = writer.finish().unwrap();
    let reader = envelope.open_reader(&sealed[..], &ctx()).unwrap();
    assert_eq!(format!("{reader:?}"), "OpenReader { key: \"my-key\", .. }");
}

/// A source that counts the bytes read from it.
struct Counting<'a> {
    inner: Cursor<&'a [u8]>,
    read: usize,
}

impl<'a> Counting<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            inner: Cursor::new(bytes),
            read: 0,
        }
    }
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = Read::read(&mut self.inner, buf)?;
        self.read += n;
        Ok(n)
    }
}

impl Seek for Counting<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
