use cachify::{lock, pooled, Error};

// A lock or slot that expires at once could never be held.
#[lock(key = "k", exp = 0)]
fn locked() -> Result<u32, Error> {
    Ok(1)
}

#[pooled(key = "p", max_size = 2, slot_exp = 0.0)]
fn pooled() -> u32 {
    1
}

fn main() {}
