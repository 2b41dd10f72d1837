use cachify::pooled;

#[pooled(key = "api-{user}", max_size = 3)]
fn call(user_id: u32) -> u32 {
    user_id
}

fn main() {}
