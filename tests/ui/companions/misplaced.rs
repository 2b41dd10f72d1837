#[cachify::companions]
fn not_an_impl() {}

struct Repo;

#[cachify::companions(inherent)]
impl Repo {}

fn main() {}
