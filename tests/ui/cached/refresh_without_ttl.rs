use cachify::cached;

// A refresh happens before the value expires: it needs a ttl.
#[cached(key = "k", refresh = 5)]
fn no_ttl() -> u32 {
    1
}

#[cached(key = "k", ttl = None, refresh = 5)]
fn never_expires() -> u32 {
    1
}

fn main() {}
