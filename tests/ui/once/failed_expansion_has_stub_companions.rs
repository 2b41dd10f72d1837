// A bad option is the one error: the calls of the companions below add none.
#[cachify::once("job-{id}", exp = 5, wat = true)]
fn job(id: u32) {
    let _ = id;
}

fn main() {
    let _ = job::is_locked(1);
    let _ = job::release(1);
}
