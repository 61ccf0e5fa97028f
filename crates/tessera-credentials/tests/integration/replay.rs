//! Recorded-world cases: see tests/cases/.
