/// An application error without `From<cachify::Error>`, behind an alias.
#[derive(Debug)]
struct ReportError;

type Outcome<T> = Result<T, ReportError>;

#[cachify::lock("report-{id}")]
fn report(id: u32) -> Outcome<u32> {
    Ok(id)
}

fn main() {}
