//! Journal values: sea-orm `Value` <-> JSON.
