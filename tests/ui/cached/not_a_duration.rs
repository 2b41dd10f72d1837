use cachify::cached;

const TTL: &str = "300";

#[cached("k", ttl = TTL)]
fn f() -> u32 {
    1
}

fn main() {}
