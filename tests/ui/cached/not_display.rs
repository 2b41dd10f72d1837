use cachify::cached;

struct Point {
    x: i32,
}

#[cached(key = "point-{p}")]
fn norm(p: Point) -> i32 {
    p.x
}

fn main() {}
