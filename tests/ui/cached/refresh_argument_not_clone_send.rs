use std::rc::Rc;

use cachify::cached;

// A refresh gets clones of the arguments, on another thread.
struct Query {
    id: u32,
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.id)
    }
}

#[cached(key = "q-{query}", ttl = 60, refresh = 50)]
fn not_clone(query: Query) -> u32 {
    query.id
}

#[cached(key = "rc-{id}", ttl = 60, refresh = 50)]
async fn not_send(id: Rc<u32>) -> u32 {
    *id
}

fn main() {}
