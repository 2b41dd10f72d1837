use cachify::pooled;

#[pooled(key = "api-{user}")]
fn no_size(user: u32) -> u32 {
    user
}

#[pooled(key = "api", max_size = 3, nowait = false)]
fn foreign_option() -> u32 {
    1
}

fn main() {}
