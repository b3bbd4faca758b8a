//! Arbitrary bytes never panic a decoder.
