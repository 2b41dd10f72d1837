#[cachify::once(key = "sync-order-{order}")]
fn sync_order(order_id: u32) {
    let _ = order_id;
}

fn main() {}
