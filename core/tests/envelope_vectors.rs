//! The envelope vectors (`tests/vectors/envelope.json`, specified in docs/envelope.md) through
//! kesrs-core: DARE streams written by MinIO's sio, valid envelopes (sealed again byte for byte from
//! their data key, salt and nonce, and opened), and invalid envelopes with the error each must give.
//!
//! `cargo test -p kesrs-core --test envelope_vectors -- --ignored --nocapture generate` prints the
//! `valid` and `invalid` sections again, with every byte string in full; the file keeps long ones as
//! a hash (valid) or as slices of valid ones (invalid). The `dare` section comes from sio.

// Test helpers: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::io::Read;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use kesrs_core::internal::envelope_vectors as vectors;
use kesrs_core::{Context, DataKey, DataKeys, Envelope, Error, KeyName};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VECTORS: &str = include_str!("../../tests/vectors/envelope.json");

/// What KES would answer for the vector's data key: its plaintext.
struct VectorKeys {
    data_key: Vec<u8>,
}

impl DataKeys for VectorKeys {
    fn generate(&self, _: &KeyName, _: &[u8]) -> Result<DataKey, Error> {
        unreachable!("vectors only open")
    }

    /// Whatever the ciphertext: the vectors check the envelope, whose header tag covers it.
    fn decrypt(&self, _: &KeyName, _: &[u8], _: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(Zeroizing::new(self.data_key.clone()))
    }
}

/// The vectors' plaintexts: byte i is (31 i + seed) mod 256.
fn plaintext(spec: &Value) -> Vec<u8> {
    let len = spec["len"].as_u64().unwrap() as usize;
    let seed = spec["seed"].as_u64().unwrap() as usize;
    (0..len).map(|i| ((31 * i + seed) % 256) as u8).collect()
}

fn hex_field(case: &Value, field: &str) -> Vec<u8> {
    hex::decode(case[field].as_str().unwrap()).unwrap()
}

fn array<const N: usize>(bytes: Vec<u8>) -> [u8; N] {
    bytes.try_into().unwrap()
}

fn context(case: &Value) -> Context {
    match &case["context"] {
        Value::Object(map) => Context::from_map(map.iter().map(|(k, v)| (k, v.as_str().unwrap()))),
        Value::String(hex) => Context::from_bytes(hex::decode(hex).unwrap()),
        other => panic!("context {other}"),
    }
}

fn open_both(
    envelope: &Envelope<VectorKeys>,
    sealed: &[u8],
    ctx: &Context,
) -> Result<Vec<u8>, Error> {
    let one_shot = envelope.open(sealed, ctx);
    let streamed = envelope.open_reader(sealed, ctx).and_then(|mut r| {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    });
    match (one_shot, streamed) {
        (Ok(a), Ok(b)) => {
            assert_eq!(*a, b);
            Ok(b)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            Err(a)
        }
        (a, b) => panic!("one-shot {a:?} and streaming {b:?} disagree"),
    }
}

#[test]
fn dare_streams_match_sio() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["dare"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let key = array::<32>(hex_field(case, "payload_key_hex"));
        let nonce = array::<12>(hex_field(case, "dare_nonce_hex"));
        let plaintext = plaintext(&case["plaintext"]);
        let stream = vectors::dare_seal(&key, &nonce, &plaintext).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&stream)),
            case["dare_stream_sha256_hex"]
        );
        if let Some(b64) = case["dare_stream_b64"].as_str() {
            assert_eq!(B64.decode(b64).unwrap(), stream);
        }
        assert_eq!(*vectors::dare_open(&key, &stream).unwrap(), plaintext);
    }
}

#[test]
fn valid_envelopes_seal_and_open() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["valid"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let what = case["name"].as_str().unwrap();
        let data_key = array::<32>(hex_field(case, "data_key_hex"));
        let ctx = context(case);
        assert_eq!(
            ctx.as_bytes(),
            hex_field(case, "context_bytes_hex"),
            "{what}"
        );
        let salt = array::<32>(hex_field(case, "salt_hex"));
        let (header_key, payload_key) = vectors::keys(&data_key, &salt, &ctx);
        assert_eq!(hex::encode(*header_key), case["header_key_hex"], "{what}");
        assert_eq!(hex::encode(*payload_key), case["payload_key_hex"], "{what}");

        let sealed = seal_valid(case);
        let plaintext = plaintext(&case["plaintext"]);
        let envelope = Envelope::new(VectorKeys {
            data_key: data_key.to_vec(),
        });
        assert_eq!(
            open_both(&envelope, &sealed, &ctx).unwrap(),
            plaintext,
            "{what}"
        );
        // The payload alone is a DARE stream under the payload key, as sio reads it.
        let header_len = case["header_len"].as_u64().unwrap() as usize;
        if plaintext.is_empty() {
            assert_eq!(sealed.len(), header_len);
        } else {
            let payload = &sealed[header_len..];
            assert_eq!(
                *vectors::dare_open(&payload_key, payload).unwrap(),
                plaintext
            );
        }
    }
}

#[test]
fn invalid_envelopes_give_their_errors() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let valid: HashMap<&str, Vec<u8>> = vectors["valid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| (case["name"].as_str().unwrap(), seal_valid(case)))
        .collect();
    let cases = vectors["invalid"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let what = case["name"].as_str().unwrap();
        let envelope = Envelope::new(VectorKeys {
            data_key: hex_field(case, "data_key_hex"),
        });
        let sealed = match case["sealed_b64"].as_str() {
            Some(b64) => B64.decode(b64).unwrap(),
            None => sealed_parts(&case["sealed_parts"], &valid),
        };
        let err = open_both(&envelope, &sealed, &context(case)).unwrap_err();
        let Error::Envelope(kind) = &err else {
            panic!("{what}: {err:?}");
        };
        assert_eq!(kind.to_string(), case["error"].as_str().unwrap(), "{what}");
        assert_eq!(
            err.status(),
            case["status"].as_u64().unwrap() as u16,
            "{what}"
        );
        assert_eq!(err.message(), case["message"].as_str().unwrap(), "{what}");
    }
}

/// Seals a valid vector from its inputs and checks the bytes against its hash (and its bytes when
/// given).
fn seal_valid(case: &Value) -> Vec<u8> {
    let what = case["name"].as_str().unwrap();
    let data_key = array::<32>(hex_field(case, "data_key_hex"));
    let dk = DataKey::from_parts(
        Zeroizing::new(data_key),
        hex_field(case, "data_key_ciphertext_hex"),
    );
    let key = KeyName::new(case["key_name"].as_str().unwrap()).unwrap();
    let salt = array::<32>(hex_field(case, "salt_hex"));
    let nonce = array::<12>(hex_field(case, "dare_nonce_hex"));
    let shared = case["shared"].as_bool().unwrap();
    let plaintext = plaintext(&case["plaintext"]);
    let sealed =
        vectors::seal(&dk, shared, &key, &plaintext, &context(case), &salt, &nonce).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&sealed)),
        case["sealed_sha256_hex"],
        "{what}"
    );
    if let Some(b64) = case["sealed_b64"].as_str() {
        assert_eq!(B64.decode(b64).unwrap(), sealed, "{what}");
    }
    sealed
}

fn sealed_parts(parts: &Value, valid: &HashMap<&str, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts.as_array().unwrap() {
        match part["hex"].as_str() {
            Some(hex) => out.extend_from_slice(&hex::decode(hex).unwrap()),
            None => {
                let bytes = &valid[part["valid"].as_str().unwrap()];
                let (from, to) = (part["from"].as_u64().unwrap(), part["to"].as_u64().unwrap());
                out.extend_from_slice(&bytes[from as usize..to as usize]);
            }
        }
    }
    out
}

/// Prints the `valid` and `invalid` sections (deterministic: every random value is fixed here).
#[test]
#[ignore = "regenerates tests/vectors/envelope.json's envelope sections"]
fn generate() {
    let valid_specs = [
        (
            "empty plaintext, empty context",
            "my-key",
            json!(""),
            0,
            0,
            false,
        ),
        (
            "short, MinIO-style context",
            "my-key",
            json!({"bucket": "bucket/object"}),
            13,
            1,
            false,
        ),
        (
            "binary context, shared data key",
            "k",
            json!("00ff10"),
            1000,
            2,
            true,
        ),
        (
            "one full final package",
            "minio-default-key",
            json!({}),
            65536,
            3,
            false,
        ),
        (
            "two packages",
            "A_key-80",
            json!({"z": "1", "a": "<&>"}),
            65541,
            4,
            false,
        ),
    ];
    let mut valid = Vec::new();
    let mut sealed_by_name = HashMap::new();
    for (i, (name, key, ctx_json, len, seed, shared)) in valid_specs.into_iter().enumerate() {
        let i = i as u8;
        let data_key = [0x10 + i; 32];
        let ciphertext: Vec<u8> = (0..76).map(|j| (j as u8).wrapping_mul(7) ^ i).collect();
        let salt: [u8; 32] = std::array::from_fn(|j| (j as u8).wrapping_mul(3) ^ (0x80 + i));
        let nonce: [u8; 12] = std::array::from_fn(|j| 0xf0 - j as u8 - i);
        let case = json!({"context": ctx_json});
        let ctx = context(&case);
        let spec = json!({"len": len, "seed": seed});
        let plaintext = plaintext(&spec);
        let dk = DataKey::from_parts(Zeroizing::new(data_key), ciphertext.clone());
        let key_name = KeyName::new(key).unwrap();
        let sealed =
            vectors::seal(&dk, shared, &key_name, &plaintext, &ctx, &salt, &nonce).unwrap();
        let (hk, pk) = vectors::keys(&data_key, &salt, &ctx);
        let header_len = 9 + key.len() + 76 + 64;
        valid.push(json!({
            "name": name,
            "key_name": key,
            "context": ctx_json,
            "context_bytes_hex": hex::encode(ctx.as_bytes()),
            "data_key_hex": hex::encode(data_key),
            "data_key_ciphertext_hex": hex::encode(&ciphertext),
            "shared": shared,
            "salt_hex": hex::encode(salt),
            "dare_nonce_hex": hex::encode(nonce),
            "plaintext": spec,
            "header_key_hex": hex::encode(*hk),
            "payload_key_hex": hex::encode(*pk),
            "header_len": header_len,
            "sealed_b64": B64.encode(&sealed),
            "sealed_sha256_hex": hex::encode(Sha256::digest(&sealed)),
        }));
        sealed_by_name.insert(i, (sealed, data_key, ciphertext, ctx_json, header_len));
    }

    // Invalid vectors, each a change to a valid one (index into the list above).
    let mut invalid = Vec::new();
    let mut add = |name: &str,
                   base: u8,
                   change: &dyn Fn(&[u8], usize) -> Vec<u8>,
                   ctx: Option<Value>,
                   dk: Option<Vec<u8>>| {
        let (sealed, data_key, ciphertext, ctx_json, header_len) = &sealed_by_name[&base];
        let bad = change(sealed, *header_len);
        let case = json!({"context": ctx.clone().unwrap_or(ctx_json.clone())});
        let envelope = Envelope::new(VectorKeys {
            data_key: dk.clone().unwrap_or(data_key.to_vec()),
        });
        let err = open_both(&envelope, &bad, &context(&case)).unwrap_err();
        let Error::Envelope(kind) = &err else {
            panic!("{name}: {err:?}")
        };
        invalid.push(json!({
            "name": name,
            "context": case["context"],
            "data_key_hex": hex::encode(dk.unwrap_or(data_key.to_vec())),
            "data_key_ciphertext_hex": hex::encode(ciphertext),
            "sealed_b64": B64.encode(&bad),
            "error": kind.to_string(),
            "status": err.status(),
            "message": err.message(),
        }));
    };
    let set = |at: usize, v: u8| {
        move |s: &[u8], _: usize| {
            let mut b = s.to_vec();
            b[at] = v;
            b
        }
    };
    let flip = |at: usize| {
        move |s: &[u8], _: usize| {
            let mut b = s.to_vec();
            b[at] ^= 1;
            b
        }
    };
    let packages =
        |s: &[u8], h: usize| -> Vec<Vec<u8>> { s[h..].chunks(65568).map(<[u8]>::to_vec).collect() };
    add("bad magic", 1, &set(0, b'k'), None, None);
    add("version 2", 1, &set(4, 2), None, None);
    add("unknown flag 0x04", 1, &set(5, 0x04), None, None);
    add(
        "unknown flag 0x04 beside SHARED_KEY",
        1,
        &set(5, 0x05),
        None,
        None,
    );
    add("key name length 0", 1, &set(6, 0), None, None);
    add("key name length 81", 1, &set(6, 81), None, None);
    add("key name with a space", 1, &set(10, b' '), None, None);
    add("key name starting with '-'", 1, &set(9, b'-'), None, None);
    add(
        "ciphertext length 0",
        1,
        &|s: &[u8], _| {
            let mut b = s.to_vec();
            b[7] = 0;
            b[8] = 0;
            b
        },
        None,
        None,
    );
    add(
        "ciphertext length 1025",
        1,
        &|s: &[u8], _| {
            let mut b = s.to_vec();
            b[7..9].copy_from_slice(&1025u16.to_le_bytes());
            b
        },
        None,
        None,
    );
    add(
        "cut in the prefix",
        1,
        &|s: &[u8], _| s[..5].to_vec(),
        None,
        None,
    );
    add(
        "cut in the salt",
        1,
        &|s: &[u8], h| s[..h - 40].to_vec(),
        None,
        None,
    );
    add(
        "changed tag",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h - 1] ^= 0x80;
            b
        },
        None,
        None,
    );
    add(
        "changed salt",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h - 64] ^= 1;
            b
        },
        None,
        None,
    );
    add(
        "changed data key ciphertext",
        1,
        &flip(9 + 6 + 3),
        None,
        None,
    );
    add("shared flag added", 1, &set(5, 0x01), None, None);
    add("renamed key (same length)", 1, &set(9, b'n'), None, None);
    add(
        "other context",
        1,
        &|s: &[u8], _| s.to_vec(),
        Some(json!({"bucket": "bucket/other"})),
        None,
    );
    add(
        "context as bytes instead of a map",
        1,
        &|s: &[u8], _| s.to_vec(),
        Some(json!(hex::encode("bucket=bucket/object"))),
        None,
    );
    add(
        "other data key",
        1,
        &|s: &[u8], _| s.to_vec(),
        None,
        Some(vec![0x99; 32]),
    );
    add(
        "data key of 31 bytes",
        1,
        &|s: &[u8], _| s.to_vec(),
        None,
        Some(vec![0x11; 31]),
    );
    add(
        "package version 0x10",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h] = 0x10;
            b
        },
        None,
        None,
    );
    add(
        "package cipher ChaCha20-Poly1305",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h + 1] = 0x01;
            b
        },
        None,
        None,
    );
    add(
        "package length changed",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h + 2] ^= 1;
            b
        },
        None,
        None,
    );
    add(
        "final flag cleared on a short package",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h + 4] &= 0x7f;
            b
        },
        None,
        None,
    );
    add(
        "changed ciphertext byte",
        1,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h + 16] ^= 1;
            b
        },
        None,
        None,
    );
    add(
        "changed package tag",
        1,
        &|s: &[u8], _| {
            let mut b = s.to_vec();
            let n = b.len();
            b[n - 1] ^= 1;
            b
        },
        None,
        None,
    );
    add(
        "other nonce in the second package",
        4,
        &|s: &[u8], h| {
            let mut b = s.to_vec();
            b[h + 65568 + 10] ^= 1;
            b
        },
        None,
        None,
    );
    add(
        "packages reordered",
        4,
        &|s: &[u8], h| {
            let p = packages(s, h);
            [&s[..h], &p[1], &p[0]].concat()
        },
        None,
        None,
    );
    add(
        "first package duplicated",
        4,
        &|s: &[u8], h| {
            let p = packages(s, h);
            [&s[..h], &p[0], &p[0], &p[1]].concat()
        },
        None,
        None,
    );
    add(
        "first package dropped",
        4,
        &|s: &[u8], h| {
            let p = packages(s, h);
            [&s[..h], &p[1]].concat()
        },
        None,
        None,
    );
    add(
        "final package dropped",
        4,
        &|s: &[u8], h| {
            let p = packages(s, h);
            [&s[..h], &p[0]].concat()
        },
        None,
        None,
    );
    add(
        "final package duplicated",
        4,
        &|s: &[u8], h| {
            let p = packages(s, h);
            [&s[..h], &p[0], &p[1], &p[1]].concat()
        },
        None,
        None,
    );
    add(
        "cut inside the final package",
        4,
        &|s: &[u8], _| s[..s.len() - 3].to_vec(),
        None,
        None,
    );
    add(
        "cut inside a package header",
        4,
        &|s: &[u8], h| s[..h + 65568 + 8].to_vec(),
        None,
        None,
    );
    add(
        "header only, not flagged empty",
        1,
        &|s: &[u8], h| s[..h].to_vec(),
        None,
        None,
    );
    add(
        "a trailing byte",
        1,
        &|s: &[u8], _| [s, b"\0"].concat(),
        None,
        None,
    );
    add(
        "empty message with a package appended",
        0,
        &|s: &[u8], _| {
            let (other, ..) = &sealed_by_name[&1];
            let h1 = sealed_by_name[&1].4;
            [s, &other[h1..]].concat()
        },
        None,
        None,
    );
    let swapped = {
        let (s3, ..) = &sealed_by_name[&3];
        s3.clone()
    };
    add(
        "payload of another message",
        1,
        &|s: &[u8], h| {
            let h3 = 9 + "minio-default-key".len() + 76 + 64;
            [&s[..h], &swapped[h3..]].concat()
        },
        None,
        None,
    );
    let out = json!({"valid": valid, "invalid": invalid});
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
