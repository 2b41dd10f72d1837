use cachify::cached;

// The key opens with a placeholder: its values share no text to find them by.
#[cached(key = "{id}-profile")]
fn profile(id: u32) -> String {
    format!("user {id}")
}

// A literal start: `clear` deletes every key starting with `orders-`.
#[cached(key = "orders-{id}")]
fn orders(id: u32) -> u32 {
    id
}

// Stacked over such a layer: a `clear` of the outer layer alone would leave the inner
// one answering, so the stack has none.
#[cached(key = "local-{id}")]
#[cached(key = "{id}-shared")]
fn layered(id: u32) -> u32 {
    id
}

fn main() {
    let _ = orders::clear();
    let _ = profile::clear();
    let _ = layered::clear();
}
