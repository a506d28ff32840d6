//! Runs the fuzz entry points over the KES vectors and deterministic mutations of them, so that the
//! properties the fuzzers check are exercised by every test run (the fuzzers themselves need nightly).

// Test helpers: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use kesrs_core::internal::fuzzing;

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/vectors/kes-vectors.json")).unwrap()
}

/// Every input with each byte flipped, truncated at each length, and extended by one byte.
fn mutations(input: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let flips = (0..input.len()).map(move |i| {
        let mut v = input.to_vec();
        v[i] ^= 0x5a;
        v
    });
    let cuts = (0..input.len()).map(move |n| input[..n].to_vec());
    let grow = std::iter::once([input, b"\0"].concat());
    flips.chain(cuts).chain(grow)
}

#[test]
fn stored_key_decoder_survives_mutations() {
    let vectors = vectors();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for case in vectors["stored_key_parse"].as_array().unwrap() {
        inputs.push(case["stored_value_text"].as_str().unwrap().into());
    }
    for case in vectors["stored_key_encode"].as_array().unwrap() {
        if let Some(value) = case["expected_stored_value_text"].as_str() {
            inputs.push(value.into());
        }
    }
    for input in &inputs {
        fuzzing::stored_key(input);
        mutations(input).for_each(|m| fuzzing::stored_key(&m));
    }
}

#[test]
fn ciphertext_decoder_survives_mutations() {
    let vectors = vectors();
    for case in vectors["ciphertext_decrypt"].as_array().unwrap() {
        let input: Vec<u8> = match case["ciphertext_json_text"].as_str() {
            Some(text) => text.into(),
            None => {
                use base64::Engine;
                let b64 = case["ciphertext_b64"].as_str().unwrap_or_default();
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap()
            }
        };
        fuzzing::ciphertext(&input);
        mutations(&input).for_each(|m| fuzzing::ciphertext(&m));
    }
}

#[test]
fn config_parser_survives_mutations() {
    let example = include_str!("../../examples/config.yaml");
    fuzzing::config(example.as_bytes());
    // Byte flips of a whole file are slow to parse one by one; cuts cover the structure.
    for n in (0..example.len()).step_by(7) {
        fuzzing::config(&example.as_bytes()[..n]);
    }
}

#[test]
fn envelope_parsers_survive_mutations() {
    use base64::Engine;
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/vectors/envelope.json")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for section in ["valid", "invalid"] {
        for case in vectors[section].as_array().unwrap() {
            if let Some(sealed) = case["sealed_b64"].as_str() {
                inputs.push(b64.decode(sealed).unwrap());
            }
        }
    }
    for case in vectors["dare"].as_array().unwrap() {
        if let Some(stream) = case["dare_stream_b64"].as_str() {
            inputs.push(b64.decode(stream).unwrap());
        }
    }
    assert!(inputs.len() > 20);
    for input in &inputs {
        fuzzing::envelope(input);
        mutations(input).for_each(|m| fuzzing::envelope(&m));
    }
}
