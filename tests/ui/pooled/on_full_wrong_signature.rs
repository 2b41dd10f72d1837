use cachify::pooled;

fn queue_for_later(user_id: u32) -> String {
    format!("queued {user_id}")
}

#[pooled(key = "api-{user_id}", max_size = 3, on_full = queue_for_later)]
fn call(user_id: u32, payload: &str) -> String {
    format!("{user_id} {payload}")
}

fn main() {}
