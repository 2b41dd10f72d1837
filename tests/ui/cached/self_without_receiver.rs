use cachify::cached;

#[cached(key = "user-{self.id}")]
fn user(id: u32) -> u32 {
    id
}

fn main() {}
