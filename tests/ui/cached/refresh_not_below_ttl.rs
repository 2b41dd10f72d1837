use cachify::cached;

// Literals are checked at compile time: refresh and ttl_jitter must be below the ttl.
#[cached(key = "k", ttl = 10, refresh = 10)]
fn refresh_at_expiry() -> u32 {
    1
}

#[cached(key = "k", ttl = 1.5, ttl_jitter = 2)]
fn jitter_above_ttl() -> u32 {
    1
}

fn main() {}
