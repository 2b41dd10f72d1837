use cachify::cached;

// Float seconds are accepted (`ttl = 1.5`); a negative literal is not a duration.
#[cached(key = "k", ttl = -1.5)]
fn f() -> u32 {
    1
}

fn main() {}
