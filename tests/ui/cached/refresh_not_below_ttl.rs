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

// A value may live only `ttl - ttl_jitter`: it must be due before that.
#[cached(key = "k", ttl = 60, ttl_jitter = 20, refresh = 50)]
fn refresh_after_the_shortest_lifetime() -> u32 {
    1
}

fn main() {}
