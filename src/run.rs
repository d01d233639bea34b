//! One report run, start to end.
