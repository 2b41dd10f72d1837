use cachify::cached;

struct UserId(u32);

impl UserId {
    // A tuple field works (`{self.0}`); a malformed one is an error at the key.
    #[cached("user-{self.0x}")]
    fn name(&self) -> String {
        format!("user {}", self.0)
    }
}

#[cached("pair-{pair.-1}")]
fn pair(pair: (u32, u32)) -> u32 {
    pair.0
}

fn main() {}
