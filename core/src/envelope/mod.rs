//! Sealed messages: a small authenticated header naming a KES key, then a DARE 2.0 payload.

#![allow(dead_code)] // The envelope itself follows in the next commits.

mod dare;
