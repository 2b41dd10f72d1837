use cachify::cached;

#[cached(key = "user-{id")]
fn user(id: u32) -> u32 {
    id
}

fn main() {}
