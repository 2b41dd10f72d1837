/// An application error that has no `From<cachify::Error>`.
#[derive(Debug)]
struct ReportError;

#[cachify::lock(key = "report-{id}")]
fn report(id: u32) -> Result<u32, ReportError> {
    Ok(id)
}

fn main() {}
